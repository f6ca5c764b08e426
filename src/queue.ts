// Store-and-forward rules that need no I/O: what TTL a message is kept for,
// whether a push is sent now, queued or refused, and when to try again.
import type { PushMessage } from "./push.ts";
import type { EnqueueResult, NewMessage } from "./store/store.ts";
import { RETRY_AFTER, type PushOutcome } from "./outcomes.ts";

export interface QueuePolicy {
  defaultTtl: number; // s, for a sender that gave no TTL
  maxTtl: number; // s
  maxPerRegistration: number; // 0 turns store and forward off
}

/** Seconds a sender should wait after 429 for a full queue: it drains only as fast as the distributor comes back. */
export const QUEUE_FULL_RETRY_AFTER = 60;

/** A distributor that never says it is back is still retried this often at least (ms). */
export const RETRY_MAX_MS = 10 * 60_000;

/** Registrations flushing at once: after a restart with many queues, one IQ each keeps the link from flooding. */
export const MAX_PARALLEL_FLUSHES = 256;

/**
 * The TTL we keep, and answer in the TTL header: what the sender asked, or
 * default_ttl when it gave none, never more than max_ttl (RFC 8030 §5.2: the
 * server may keep less than asked, never more).
 */
export function keptTtl(asked: number | undefined, p: QueuePolicy): number {
  if (p.maxPerRegistration === 0) return 0;
  const want = asked === undefined || !Number.isFinite(asked) ? p.defaultTtl : Math.max(0, Math.floor(asked));
  return Math.min(want, p.maxTtl);
}

export type Plan = "send" | "queue" | "refuse";

/**
 * What to do with a new push before trying it. Messages already waiting for
 * this registration go first, so a new one with a TTL queues behind them;
 * one with TTL 0 cannot wait (RFC 8030 §5.2: deliver now or drop) and may not
 * overtake them either, so it is refused as temporarily undeliverable.
 */
export function planPush(ttl: number, backlog: boolean): Plan {
  if (!backlog) return "send";
  return ttl > 0 ? "queue" : "refuse";
}

/** After a temporary failure: keep it if it may wait, else the sender hears 503. */
export const afterTemporary = (ttl: number): Exclude<Plan, "send"> => (ttl > 0 ? "queue" : "refuse");

/** The row a push is kept as: its fields as the sender gave them, its expiry from the TTL it is kept for. */
export function queuedMessage(registration: number, msg: PushMessage, ttl: number, now: number): NewMessage {
  return {
    registration,
    payload: msg.payload,
    ttl,
    topic: msg.topic ?? null,
    urgency: msg.urgency ?? null,
    content_encoding: msg.contentEncoding ?? null,
    vapid_key: msg.vapidKey ?? null,
    public_id: msg.id ?? null,
    created_at: now,
    expires_at: now + ttl * 1000,
  };
}

/** A message that could not be kept: never a 201 (store-failed is 503, full is 429). */
export function notStored(reason: Exclude<EnqueueResult, { ok: true }>["reason"]): PushOutcome {
  if (reason === "store-failed") return { kind: "store-failed", retryAfter: RETRY_AFTER.storeFailed };
  return reason === "full" ? { kind: "queue-full", retryAfter: QUEUE_FULL_RETRY_AFTER } : { kind: "gone" };
}
