// The endpoint URLs, /up/:token: a WebPush push resource (RFC 8030 §5).
import type Router from "@koa/router";
import type { Logger } from "../log.ts";
import type { PushMessage } from "../push.ts";
import { isTokenShaped } from "../tokens.ts";
import { isHeaderProblem, MAX_PAYLOAD, parseWebPushHeaders, type WebPushMeta } from "../webpush.ts";
import { readBounded } from "./body.ts";
import type { Deliver } from "./deliver.ts";
import { reply } from "./reply.ts";
import { httpAnswer, problemAnswer } from "./status.ts";

const CORS = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Methods": "POST, GET, OPTIONS",
  "Access-Control-Allow-Headers": "content-type, content-encoding, ttl, urgency, topic, authorization",
  "Access-Control-Expose-Headers": "location, ttl, retry-after",
  "Access-Control-Max-Age": "86400",
};

export interface PushRouteDeps {
  log: Logger;
  deliver: Deliver;
  isLive: (endpoint: string) => boolean;
  publicUrl: string;
  messageId: () => string;
}

export function pushRoutes(router: Router, d: PushRouteDeps): void {
  router.options("/up/:token", (ctx) => {
    ctx.set(CORS);
    ctx.status = 204;
  });

  router.get("/up/:token", (ctx) => {
    ctx.set(CORS);
    const token = ctx.params.token!;
    if (!isTokenShaped(token) || !d.isLive(token)) return reply(ctx, httpAnswer({ kind: "gone" }));
    ctx.body = { unifiedpush: { version: 1 } };
  });

  router.post("/up/:token", async (ctx) => {
    ctx.set(CORS);
    const token = ctx.params.token!;
    const read = await readBounded(ctx.req, MAX_PAYLOAD);
    if (!read.ok) {
      if (read.reason === "aborted") return reply(ctx, problemAnswer("aborted"));
      return reply(ctx, problemAnswer("too-large", `payload larger than ${MAX_PAYLOAD} bytes`));
    }
    if (read.body.length === 0) return reply(ctx, problemAnswer("empty"));
    if (!isTokenShaped(token)) return reply(ctx, httpAnswer({ kind: "gone" }));
    const meta = parseWebPushHeaders(ctx.headers);
    if (isHeaderProblem(meta)) {
      d.log.debug({ problem: meta.problem, reason: meta.message }, "push refused: bad WebPush header");
      return reply(ctx, problemAnswer(meta.problem, meta.message));
    }
    const answer = httpAnswer(await d.deliver(token, message(read.body, meta)));
    // RFC 8030 §5: a 201 names the push message resource
    if (answer.status === 201) ctx.set("Location", `${d.publicUrl}/message/${d.messageId()}`);
    reply(ctx, answer);
  });
}

/** The body stays the sender's bytes; VAPID has no place to go (neither XMPP dialect carries it). */
function message(payload: Buffer, m: WebPushMeta): PushMessage {
  return {
    payload,
    ...(m.ttl !== undefined && { ttl: m.ttl }),
    ...(m.urgency && { urgency: m.urgency }),
    ...(m.topic && { topic: m.topic }),
    ...(m.contentEncoding && { contentEncoding: m.contentEncoding }),
  };
}
