// The one table from push outcomes to HTTP answers (PROTOCOL.md, HTTP edge).
import type { PushOutcome } from "../outcomes.ts";

export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  message?: string;
}

export function httpAnswer(o: PushOutcome): HttpAnswer {
  switch (o.kind) {
    case "delivered":
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
