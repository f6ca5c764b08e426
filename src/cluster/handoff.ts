// A standby's push (docs/high-availability.md, "How a standby hands a push
// over"): it has no component link, so it hands the push to the link holder
// over the internal hop (hop.ts) and answers what the holder answered. When
// there is no holder, or the hop failed (the holder may or may not have sent
// it), a message that may wait is kept in the shared queue, which the
// holder's flusher drains (woken by the queue's NOTIFY up_queue): at worst a
// duplicate, never a loss. One that may not wait gets 503.
import type { Logger } from "../log.ts";
import { RETRY_AFTER, type PushOutcome } from "../outcomes.ts";
import type { PushMessage } from "../push.ts";
import { keptTtl, notStored, queuedMessage, type QueuePolicy } from "../queue.ts";
import type { EnqueueResult, Queue, Registration, Registrations } from "../store/store.ts";
import type { Forward } from "./hop.ts";

/** On top of answer_within, what the hop may take (the holder answers by answer_within; this is the round trip). */
export const HOP_SLACK_MS = 500;

/**
 * After a failed hop, pushes skip that address this long, and then one at a
 * time tries it again: a holder that vanished (no RST, every hop waits for
 * its timeout) would otherwise cost every POST of the failover window
 * answer_within + HOP_SLACK_MS. Skipped pushes are kept as for a failed hop.
 */
export const HOP_BACKOFF_MS = 1_000;

export interface HandoffDeps {
  /** The holder's host:port as the watcher knows it (LinkHolderWatcher.address). */
  holder: () => string | undefined;
  forward: Forward;
  store: { registrations: Pick<Registrations, "lookup">; queue: Pick<Queue, "enqueue"> };
  policy: QueuePolicy;
  answerWithinMs: number;
  now: () => number; // ms
  log: Logger;
  /** A hop failed: the holder may have changed (LinkHolderWatcher.refresh). */
  hopFailed?: () => void;
  /** As PushService's (metrics): every outcome this standby answers, hopped or not. */
  onOutcome?: (o: PushOutcome, dialect: 1 | 2, startedAt: number) => void;
}

export class Handoff {
  /** The address whose last hop failed, until when it is skipped, and whether one push is trying it again. */
  private failing: { address: string; until: number; probing: boolean } | undefined;

  constructor(private readonly d: HandoffDeps) {}

  async push(endpoint: string, msg: PushMessage): Promise<PushOutcome> {
    const started = performance.now();
    const r = await this.decide(endpoint, msg);
    this.d.onOutcome?.(r.outcome, r.reg?.dialect ?? 2, started);
    return r.outcome;
  }

  private async decide(endpoint: string, msg: PushMessage): Promise<{ outcome: PushOutcome; reg?: Registration }> {
    let reg: Registration | undefined;
    try {
      reg = await this.d.store.registrations.lookup(endpoint, this.d.now());
      if (reg === undefined) return { outcome: { kind: "gone" } };
    } catch (err) {
      // The database cannot answer; the holder may (its endpoint cache), and it decides. Without it, nothing is stored.
      this.d.log.warn({ err: { message: (err as Error).message } }, "endpoint lookup failed; handing the push over unchecked");
    }
    const hopped = await this.hop(endpoint, msg);
    if (hopped !== undefined) return { outcome: hopped, ...(reg && { reg }) };
    if (reg === undefined) return { outcome: { kind: "store-failed", retryAfter: RETRY_AFTER.storeFailed } };
    return { outcome: await this.keep(reg, msg), reg };
  }

  /** What a standby does without the holder: keep a message that may wait, else 503. */
  private async keep(reg: Registration, msg: PushMessage): Promise<PushOutcome> {
    const ttl = keptTtl(msg.ttl, this.d.policy);
    // Dialect 1 has no queue: the XMPP server's offline storage is its store (push.ts relay1)
    if (reg.dialect === 1 || ttl === 0) return { kind: "unavailable", retryAfter: RETRY_AFTER.linkDown };
    const now = this.d.now();
    let r: EnqueueResult;
    try {
      r = await this.d.store.queue.enqueue(queuedMessage(reg.id, msg, ttl, now), this.d.policy.maxPerRegistration);
    } catch (err) {
      this.d.log.warn({ err: { message: (err as Error).message } }, "could not keep a push the holder did not take");
      r = { ok: false, reason: "store-failed" };
    }
    // as push.ts: never a 201 for what is not kept
    return r.ok ? { kind: "queued", ttl } : notStored(r.reason);
  }

  private async hop(endpoint: string, msg: PushMessage): Promise<PushOutcome | undefined> {
    const address = this.d.holder();
    if (address === undefined) return undefined;
    const f = this.failing?.address === address ? this.failing : undefined;
    if (f && (f.probing || performance.now() < f.until)) return undefined;
    if (f) f.probing = true;
    const o = await this.d.forward(address, endpoint, msg, this.d.answerWithinMs + HOP_SLACK_MS);
    if (o !== undefined) {
      if (this.failing?.address === address) this.failing = undefined;
      return o;
    }
    this.failing = { address, until: performance.now() + HOP_BACKOFF_MS, probing: false };
    this.d.hopFailed?.();
    return undefined;
  }
}
