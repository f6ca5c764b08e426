// Homeservers retry a notify on a timeout or an error (Synapse: backoff from
// 1 s for up to 24 h), and a retry carries the same event_id. What we already
// handed over or stored for a pushkey must not ring the phone again, so an
// accepted (pushkey, event_id) is remembered for a while. Badge-only
// notifications have no event_id and always pass. Per process, in memory: a
// restart forgets it, and so do other gateways sharing the database.
import { createHash } from "node:crypto";
import type { PushOutcome } from "./outcomes.ts";
import { isAccepted } from "./matrix.ts";

export const DEDUPE_WINDOW_MS = 10 * 60_000; // longer than Synapse's retries of one notification usually last
export const DEDUPE_MAX_ENTRIES = 100_000; // ~10 MB at most; past it the oldest are forgotten early

interface Entry {
  at: number; // ms, when it was accepted (or started, while pending)
  pending?: Promise<PushOutcome>;
}

export interface DedupeOptions {
  now: () => number; // ms
  windowMs?: number;
  maxEntries?: number;
}

export class NotifyDedupe {
  // Insertion order is acceptance order, so expired entries sit at the front.
  private readonly seen = new Map<string, Entry>();
  private readonly windowMs: number;
  private readonly maxEntries: number;

  constructor(private readonly o: DedupeOptions) {
    this.windowMs = o.windowMs ?? DEDUPE_WINDOW_MS;
    this.maxEntries = o.maxEntries ?? DEDUPE_MAX_ENTRIES;
  }

  get size(): number {
    return this.seen.size;
  }

  /**
   * Runs `deliver` unless this event was accepted for this pushkey within the
   * window; a repeat is answered as delivered. A repeat that arrives while
   * the first is still in flight waits for it: accepted, it is suppressed;
   * failed, it is delivered anew.
   */
  async once(pushkey: string, eventId: string | undefined, deliver: () => Promise<PushOutcome>): Promise<PushOutcome> {
    if (eventId === undefined || eventId === "") return deliver();
    // Hashed: event_id is the sender's text of any length, the key stays 24 characters.
    const key = createHash("sha256").update(pushkey).update("\0").update(eventId).digest("base64").slice(0, 24);
    for (;;) {
      this.prune();
      const e = this.seen.get(key);
      if (!e) break;
      if (!e.pending) return { kind: "delivered" };
      await e.pending.catch(() => undefined);
      // loop: the first one has either left an accepted entry or removed it
    }
    const pending = deliver();
    this.seen.set(key, { at: this.o.now(), pending });
    let outcome: PushOutcome;
    try {
      outcome = await pending;
    } catch (err) {
      this.seen.delete(key);
      throw err;
    }
    this.seen.delete(key);
    if (isAccepted(outcome)) this.seen.set(key, { at: this.o.now() });
    return outcome;
  }

  private prune(): void {
    const oldest = this.o.now() - this.windowMs;
    for (const [key, e] of this.seen) {
      if (this.seen.size <= this.maxEntries && (e.pending || e.at > oldest)) break;
      this.seen.delete(key);
    }
  }
}
