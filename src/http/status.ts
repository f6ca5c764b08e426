// The tables from push outcomes and from request problems to HTTP answers
// (PROTOCOL.md, HTTP edge). No other module picks a status code for a push.
import type { PushOutcome } from "../outcomes.ts";

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
  }
}

/** What can be wrong with a request before any push is tried. */
export type RequestProblem = "empty" | "too-large" | "aborted" | "bad-header" | "unsupported-encoding" | "bad-json";

const PROBLEMS: Record<RequestProblem, { status: number; message: string }> = {
  empty: { status: 400, message: "empty payload" },
  "too-large": { status: 413, message: "request body too large" },
  aborted: { status: 400, message: "request body aborted" },
  "bad-header": { status: 400, message: "malformed header" },
  // RFC 9110 §15.5.16: 415 is the answer to a content coding the server does not accept
  "unsupported-encoding": { status: 415, message: "unsupported Content-Encoding" },
  "bad-json": { status: 400, message: "malformed JSON" },
};

export function problemAnswer(p: RequestProblem, message?: string): HttpAnswer {
  const { status, message: dflt } = PROBLEMS[p];
  return { status, headers: {}, message: message ?? dflt };
}
