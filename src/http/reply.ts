// Puts an HttpAnswer on a Koa response: headers, status, and the reason as JSON.
import type Router from "@koa/router";
import type { Context } from "koa";
import { notAllowedAnswer, type HttpAnswer } from "./status.ts";

export function reply(ctx: Context, a: HttpAnswer): void {
  ctx.set(a.headers);
  ctx.status = a.status;
  if (a.message !== undefined) ctx.body = { error: a.message };
}

/**
 * After a path's routes: every other method gets 405 with an Allow that names
 * each method the resource supports (RFC 9110 §15.5.6). `hint` says what to
 * do instead; `send` shapes the body (the Matrix route uses its errcodes).
 */
export function otherMethods(router: Router, path: string, allow: string, hint: string, send: (ctx: Context, a: HttpAnswer) => void = reply): void {
  router.all(path, (ctx) => {
    ctx.set("Allow", allow);
    send(ctx, notAllowedAnswer(ctx.method, hint));
  });
}
