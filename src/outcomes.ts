// What can become of a push, and of a push IQ: data that each edge maps to its wire codes in one table.

export type PushOutcome =
  | { kind: "delivered" } // handed to the distributor (dialect 2: IQ result; dialect 1: message sent)
  | { kind: "queued"; ttl: number } // stored for later delivery, kept `ttl` seconds
  | { kind: "sent" } // TTL 0, no answer within answer_within: the IQ is out, nothing is kept
  | { kind: "gone" } // unknown, expired or revoked endpoint
  | { kind: "unavailable"; retryAfter: number } // temporary: try again later
  | { kind: "rate-limited"; retryAfter: number }
  | { kind: "queue-full"; retryAfter: number }
  | { kind: "store-failed"; retryAfter: number }; // had to be stored, and the store cannot write: not kept

/** How a push IQ ended, as seen from the XMPP edge. */
export type IqAnswer =
  | { kind: "result" }
  | { kind: "error"; condition: string }
  | { kind: "timeout" }
  | { kind: "link-lost" } // the component link was down or dropped while waiting
  | { kind: "busy" }; // too many IQs in flight: backpressure

export type Verdict = "delivered" | "gone" | "temporary";

/** PROTOCOL.md, dialect 2 answers: the app is gone only on these two conditions. */
const GONE = new Set(["item-not-found", "feature-not-implemented"]);

export function classifyAnswer(a: IqAnswer): Verdict {
  if (a.kind === "result") return "delivered";
  if (a.kind === "error" && GONE.has(a.condition)) return "gone";
  return "temporary";
}

/** Seconds an app server should wait before retrying after a temporary failure. */
export const RETRY_AFTER = Object.freeze({ linkDown: 30, offline: 60, timeout: 30, busy: 5, storeFailed: 30 });
