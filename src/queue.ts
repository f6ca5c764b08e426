// Store-and-forward rules that need no I/O: what TTL a message is kept for,
// whether a push is sent now, queued or refused, and when to try again.

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
