// The endpoint URLs, /up/:token: a WebPush push resource (RFC 8030 §5).
// GET and the CORS preflight; the POST is the hot path, in push-post.ts.
import type Router from "@koa/router";
import { isTokenShaped } from "../tokens.ts";
import { otherMethods, reply } from "./reply.ts";
import { httpAnswer } from "./status.ts";

export const CORS = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Methods": "POST, GET, OPTIONS",
  "Access-Control-Allow-Headers": "content-type, content-encoding, ttl, urgency, topic, authorization",
  "Access-Control-Expose-Headers": "location, ttl, retry-after",
  "Access-Control-Max-Age": "86400",
};

const ALLOW = "POST, GET, HEAD, OPTIONS";

export interface PushRouteDeps {
  /** Never rejects: a store that cannot answer counts as live (a 404 would make the sender drop a subscription that may be fine). */
  isLive: (endpoint: string) => Promise<boolean>;
}

export function pushRoutes(router: Router, d: PushRouteDeps): void {
  router.options("/up/:token", (ctx) => {
    ctx.set(CORS);
    ctx.status = 204;
  });

  router.get("/up/:token", async (ctx) => {
    ctx.set(CORS);
    const token = ctx.params.token!;
    if (!isTokenShaped(token) || !(await d.isLive(token))) return reply(ctx, httpAnswer({ kind: "gone" }));
    ctx.body = { unifiedpush: { version: 1 } };
  });

  // POST is served ahead of Koa (push-post.ts); RFC 9110 §15.5.6: Allow names every method the resource supports.
  otherMethods(router, "/up/:token", ALLOW, "on an endpoint; POST a message");
}
