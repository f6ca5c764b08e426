// Puts an HttpAnswer on a Koa response: headers, status, and the reason as JSON.
import type { Context } from "koa";
import type { HttpAnswer } from "./status.ts";

export function reply(ctx: Context, a: HttpAnswer): void {
  ctx.set(a.headers);
  ctx.status = a.status;
  if (a.message !== undefined) ctx.body = { error: a.message };
}
