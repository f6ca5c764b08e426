// The tables from push outcomes and from request problems to HTTP answers
// (PROTOCOL.md, HTTP edge). No other module picks a status code for a push.
import { RETRY_AFTER, type PushOutcome } from "../outcomes.ts";

export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  message?: string;
}

export function httpAnswer(o: PushOutcome): HttpAnswer {
  switch (o.kind) {
    case "delivered":
    case "sent": // RFC 8030 §5.2: TTL 0, not stored
      return { status: 201, headers: { TTL: "0" } };
    case "queued":
      return { status: 201, headers: { TTL: String(o.ttl) } };
    case "gone":
      return { status: 404, headers: {}, message: "no such endpoint: unknown, expired or revoked" };
    case "unavailable":
      // never a 4xx here: Mastodon deletes subscriptions on most 4xx
      return { status: 503, headers: { "Retry-After": String(o.retryAfter) }, message: "the distributor cannot be reached now; retry later" };
    case "rate-limited":
      return { status: 429, headers: { "Retry-After": String(o.retryAfter) }, message: "too many messages for this endpoint" };
    case "queue-full":
      return { status: 429, headers: { "Retry-After": String(o.retryAfter) }, message: "too many messages waiting for this endpoint" };
    case "store-failed":
      // never 500 and never 201: the message is not kept, and a 5xx keeps the subscription
      return { status: 503, headers: { "Retry-After": String(o.retryAfter) }, message: "the message cannot be stored now; retry later" };
  }
}

/**
 * What can be wrong with a request before any push is tried. Malformed
 * WebPush headers are not here: they are ignored (webpush.ts), since a 4xx
 * to a live endpoint makes Mastodon delete the subscription.
 */
export type RequestProblem = "empty" | "too-large" | "aborted" | "timeout" | "bad-json" | "headers-too-large" | "not-http";

const PROBLEMS: Record<RequestProblem, { status: number; message: string }> = {
  empty: { status: 400, message: "empty payload" },
  "too-large": { status: 413, message: "request body too large" },
  aborted: { status: 400, message: "request body aborted" },
  // RFC 9110 §15.5.9; Mastodon keeps the subscription on 408 and retries
  timeout: { status: 408, message: "the request did not arrive in time" },
  "bad-json": { status: 400, message: "malformed JSON" },
  // Answered by server.ts before any endpoint is known (node:http's clientError): no live endpoint is named.
  // RFC 6585 §5; headers over MAX_HEADER_BYTES, far above what any WebPush sender sends (VAPID is under 1 KiB)
  "headers-too-large": { status: 431, message: "request headers too large" },
  // bytes that do not parse as HTTP/1.1: no request to answer otherwise
  "not-http": { status: 400, message: "malformed HTTP request" },
};

export function problemAnswer(p: RequestProblem, message?: string): HttpAnswer {
  const { status, message: dflt } = PROBLEMS[p];
  return { status, headers: {}, message: message ?? dflt };
}

/** A method the resource does not support (RFC 9110 §15.5.6; the route sets Allow). */
export function notAllowedAnswer(method: string, hint: string): HttpAnswer {
  return { status: 405, headers: {}, message: `${method} is not supported ${hint}` };
}

/** DELETE on the Location of a 201 (RFC 8030 §5: the push message resource). */
export type CancelOutcome = "cancelled" | "gone" | "not-ours" | "store-failed";

export function cancelAnswer(c: CancelOutcome): HttpAnswer {
  switch (c) {
    case "cancelled":
      return { status: 204, headers: {} };
    case "gone":
      // delivered, expired, replaced by a later message of its Topic, or cancelled before
      return { status: 410, headers: {}, message: "this message is no longer stored: delivered, expired or cancelled" };
    case "not-ours":
      return { status: 404, headers: {}, message: "no such message" };
    case "store-failed":
      return { status: 503, headers: { "Retry-After": String(RETRY_AFTER.storeFailed) }, message: "the store cannot write now; retry later" };
  }
}
