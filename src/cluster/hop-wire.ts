// The internal hop from a standby to the link holder, as bytes on the wire
// (docs/high-availability.md, "How a standby hands a push over"): the path,
// the headers that carry a PushMessage's fields, the token that proves the
// caller is one of ours, and the PushOutcome answered as JSON. Pure: the
// client (hop.ts) and the route (src/http/internal-route.ts) share it.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { PushOutcome } from "../outcomes.ts";
import type { PushMessage } from "../push.ts";

/** Never under /up/: the public push path (server.ts serves /up/<token> POSTs ahead of Koa). */
export const HOP_PREFIX = "/internal/push/";

/**
 * Our own header names rather than WebPush's: the values are already parsed
 * (TTL as the sender asked it, or absent), and a proxy on the way must not
 * act on a Content-Encoding or a TTL meant for the holder's push service.
 */
export const HOP_HEADERS = {
  ttl: "x-up-ttl",
  urgency: "x-up-urgency",
  topic: "x-up-topic",
  contentEncoding: "x-up-content-encoding",
  vapidKey: "x-up-vapid-key",
  id: "x-up-message-id",
} as const;

/**
 * Every instance shares the XMPP component secret, so the hop's credential is
 * derived from it (no new config key): an HMAC over a fixed label, so the
 * secret itself never crosses the wire and a leaked token does not open the
 * component link.
 */
const TOKEN_LABEL = "up-gateway internal push hop v1";

export function hopToken(secret: string): string {
  return createHmac("sha256", secret).update(TOKEN_LABEL).digest("base64url");
}

/** `Authorization: Bearer <token>`, compared in constant time (lengths too: both sides are hashed first). */
export function authorized(header: string | undefined, token: string): boolean {
  const m = /^Bearer ([A-Za-z0-9_-]+)$/.exec(header ?? "");
  const digest = (s: string): Buffer => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(m?.[1] ?? ""), digest(token)) && m !== null;
}

/** The message's fields as headers (the body is the payload, as the sender sent it). */
export function messageHeaders(msg: PushMessage): Record<string, string> {
  const h: Record<string, string> = {};
  if (msg.ttl !== undefined) h[HOP_HEADERS.ttl] = String(msg.ttl);
  if (msg.urgency !== undefined) h[HOP_HEADERS.urgency] = msg.urgency;
  if (msg.topic !== undefined) h[HOP_HEADERS.topic] = msg.topic;
  if (msg.contentEncoding !== undefined) h[HOP_HEADERS.contentEncoding] = msg.contentEncoding;
  if (msg.vapidKey !== undefined) h[HOP_HEADERS.vapidKey] = msg.vapidKey;
  if (msg.id !== undefined) h[HOP_HEADERS.id] = msg.id;
  return h;
}

/** The inverse of messageHeaders; a TTL that is not a whole number is left out (the default TTL), as webpush.ts does. */
export function messageFrom(payload: Buffer, headers: Record<string, string | string[] | undefined>): PushMessage {
  const get = (k: string): string | undefined => {
    const v = headers[k];
    return Array.isArray(v) ? v[0] : v;
  };
  const msg: PushMessage = { payload };
  const ttl = get(HOP_HEADERS.ttl);
  if (ttl !== undefined && /^\d{1,10}$/.test(ttl)) msg.ttl = Number(ttl);
  const urgency = get(HOP_HEADERS.urgency);
  if (urgency !== undefined) msg.urgency = urgency;
  const topic = get(HOP_HEADERS.topic);
  if (topic !== undefined) msg.topic = topic;
  const coding = get(HOP_HEADERS.contentEncoding);
  if (coding !== undefined) msg.contentEncoding = coding;
  const key = get(HOP_HEADERS.vapidKey);
  if (key !== undefined) msg.vapidKey = key;
  const id = get(HOP_HEADERS.id);
  if (id !== undefined) msg.id = id;
  return msg;
}

/** The holder's answer, or undefined for anything that is not exactly a PushOutcome (treated as a failed hop). */
export function parseOutcome(text: string): PushOutcome | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const seconds = (x: unknown): x is number => typeof x === "number" && Number.isInteger(x) && x >= 0;
  switch (o.kind) {
    case "delivered":
    case "sent":
    case "gone":
      return { kind: o.kind };
    case "queued":
      return seconds(o.ttl) ? { kind: "queued", ttl: o.ttl } : undefined;
    case "unavailable":
    case "rate-limited":
    case "queue-full":
    case "store-failed":
      return seconds(o.retryAfter) ? { kind: o.kind, retryAfter: o.retryAfter } : undefined;
    default:
      return undefined;
  }
}
