// POST /up/:token, the hot path, on plain node:http. Koa's context, router and
// header helpers were about a quarter of the gateway's CPU per push in the
// bench profile (bench/), so the one route every push takes skips them; every
// other route stays in Koa. Same steps, same tables (status.ts) as before.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../log.ts";
import type { PushMessage } from "../push.ts";
import { isTokenShaped } from "../tokens.ts";
import { MAX_PAYLOAD, parseWebPushHeaders, type IgnoredHeader, type WebPushMeta } from "../webpush.ts";
import { readBounded } from "./body.ts";
import type { Deliver } from "./deliver.ts";
import { CORS } from "./push-route.ts";
import { httpAnswer, problemAnswer, type HttpAnswer } from "./status.ts";

export interface PushPostDeps {
  log: Logger;
  deliver: Deliver;
  publicUrl: string;
  /** The id in a 201's Location: unguessable, since whoever holds it may cancel the message. */
  messageId: () => string;
  countResponse?: (status: number) => void;
  countIgnoredHeader?: (header: IgnoredHeader["header"]) => void;
}

export type PushPost = (req: IncomingMessage, res: ServerResponse, token: string) => Promise<void>;

export function pushPost(d: PushPostDeps): PushPost {
  /** The answer, and the message id when the push got as far as needing one (minted only then: it costs a random draw). */
  const answer = async (req: IncomingMessage, token: string): Promise<{ a: HttpAnswer; id?: string }> => {
    const read = await readBounded(req, MAX_PAYLOAD);
    if (!read.ok) {
      return { a: read.reason === "aborted" ? problemAnswer("aborted") : problemAnswer("too-large", `payload larger than ${MAX_PAYLOAD} bytes`) };
    }
    if (read.body.length === 0) return { a: problemAnswer("empty") };
    if (!isTokenShaped(token)) return { a: httpAnswer({ kind: "gone" }) };
    const { meta, ignored } = parseWebPushHeaders(req.headers);
    for (const i of ignored) {
      d.log.debug({ header: i.header, reason: i.reason }, "malformed WebPush header ignored");
      d.countIgnoredHeader?.(i.header);
    }
    const id = d.messageId();
    return { a: httpAnswer(await d.deliver(token, message(read.body, meta, id))), id };
  };

  return async (req, res, token) => {
    let a: HttpAnswer;
    let id: string | undefined;
    try {
      ({ a, id } = await answer(req, token));
    } catch (err) {
      // a bug, not an outcome: storage faults and every temporary trouble are outcomes (503)
      d.log.error({ err, method: req.method }, "request failed");
      a = { status: 500, headers: {}, message: "internal error" };
    }
    // The sender went away, or the request timed out and node:http already answered 408 (server.ts).
    if (res.headersSent || res.writableEnded || req.socket.destroyed) return;
    if (req.headers.origin !== undefined) for (const [k, v] of Object.entries(CORS)) res.setHeader(k, v);
    // RFC 8030 §5: a 201 names the push message resource; DELETE on it cancels a stored message
    if (a.status === 201 && id !== undefined) res.setHeader("Location", `${d.publicUrl}/message/${id}`);
    write(res, a);
    d.countResponse?.(a.status);
  };
}

function write(res: ServerResponse, a: HttpAnswer): void {
  res.statusCode = a.status;
  for (const [k, v] of Object.entries(a.headers)) res.setHeader(k, v);
  if (a.message === undefined) return void res.end();
  const body = JSON.stringify({ error: a.message });
  res.setHeader("Content-Type", "application/json; charset=utf-8");
  res.setHeader("Content-Length", Buffer.byteLength(body));
  res.end(body);
}

/** The body stays the sender's bytes; the headers ride along for store-and-forward. */
function message(payload: Buffer, m: WebPushMeta, id: string): PushMessage {
  return {
    payload,
    id,
    ...(m.ttl !== undefined && { ttl: m.ttl }),
    ...(m.urgency && { urgency: m.urgency }),
    ...(m.topic && { topic: m.topic }),
    ...(m.contentEncoding && { contentEncoding: m.contentEncoding }),
    ...(m.vapid?.key && { vapidKey: m.vapid.key }),
  };
}
