// Delivers queued messages: per registration, oldest first, one IQ at a time,
// never two flushes of one registration at once. A message is deleted only
// after the distributor's IQ result, so a crash at any point re-sends rather
// than loses. A message whose push IQ may still be answered (in flight, or
// timed out within the late window) is held: the flush of its registration
// stops there until that answer settles it (src/settle.ts), so a late answer
// never meets a second copy. Only a dropped component link or a restart
// releases a copy unanswered; then it is sent again (docs/delivery.md).
import type { Logger } from "./log.ts";
import type { IqAnswer } from "./outcomes.ts";
import type { Attempt } from "./push.ts";
import type { Settler } from "./settle.ts";
import type { Queue, Registration } from "./store/store.ts";
import { isStoreFault } from "./store/faults.ts";
import { bareJid } from "./jid.ts";
import { backoffMs } from "./backoff.ts";
import { MAX_PARALLEL_FLUSHES, RETRY_MAX_MS } from "./queue.ts";

export interface FlusherDeps {
  queue: Pick<Queue, "head" | "expire" | "waiting" | "waitingFor">;
  /** One push IQ; revokes the registration itself when the app is gone. */
  attempt: (reg: Registration, payload: Buffer, late?: (a: IqAnswer) => void) => Promise<Attempt>;
  /** Holds copies whose IQ may still be answered; its onFree should call queued(). */
  settler: Settler;
  /** A live registration by endpoint; expired ones are undefined. */
  lookup: (endpoint: string) => Promise<Registration | undefined>;
  now: () => number; // ms
  log: Logger;
  sweepMs: number; // expiry sweep and retry tick; also the first retry delay
  retryMaxMs?: number; // ceiling of the per-registration retry backoff
  maxParallel?: number;
  random?: () => number;
  /** Whether this gateway runs the queue now: in a cluster only its leader does (src/cluster/role.ts). */
  active?: () => boolean;
}

/** A head whose delete is still on its way to the store is read again after this. */
const SETTLED_RETRY_MS = 5;
const SETTLED_RETRIES = 400; // 2 s: a delete slower than that is a store in trouble

export class Flusher {
  private readonly running = new Map<number, Promise<void>>();
  private readonly again = new Set<number>(); // woken while running: look once more when it ends
  private readonly waiting = new Set<number>(); // over maxParallel: start when a slot frees
  private readonly retry = new Map<number, { attempt: number; dueAt: number }>();
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(private readonly d: FlusherDeps) {}

  start(): void {
    this.timer = setInterval(() => void this.sweep().catch((err: unknown) => this.d.log.error({ err }, "queue sweep failed")), this.d.sweepMs);
    this.timer.unref();
  }

  /** Lets running flushes end (the edge's stop fails their IQs) before the database closes. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    this.waiting.clear();
    await Promise.allSettled([...this.running.values()]);
  }

  /** A message was stored: flush, unless the registration is waiting out a retry delay. */
  queued(registration: number, failed: boolean): void {
    if (failed) this.backoff(registration);
    else this.kick(registration);
  }

  /**
   * A held copy settled (the settler's onFree). Delivered, or its resource
   * gone at the end of a hibernation (`failed` false): the distributor is
   * there or the device is to be followed now, so an older retry delay no
   * longer applies and the queue behind the copy goes at once. A temporary
   * failure backs off.
   */
  freed(registration: number, failed: boolean): void {
    if (failed) return this.backoff(registration);
    this.retry.delete(registration);
    this.begin(registration, false);
  }

  /**
   * The distributor may be back (re-registration, presence): forget its retry
   * delay. Deferred so the register result, sent once the handler returns,
   * reaches the distributor before the first queued push.
   */
  wake(registration: number): void {
    setImmediate(() => {
      this.retry.delete(registration);
      this.begin(registration, true);
    });
  }

  /**
   * Directed available presence from a full JID: every registration of the
   * account with waiting messages is tried, not only those stored for this
   * JID, since a device may be back under a new resource (src/follow/).
   */
  wakeJid(jid: string): void {
    if (this.stopping || this.d.active?.() === false) return; // a standby flushes nothing: no query either
    void this.read("wake", () => this.d.queue.waitingFor(bareJid(jid), this.d.now())).then((ids) => {
      for (const id of ids ?? []) this.wake(id);
    }, (err: unknown) => this.d.log.error({ err }, "waking a returning distributor's queues failed"));
  }

  /** Component link up, which includes gateway start: whoever is online gets their queue. */
  wakeAll(): void {
    this.retry.clear();
    if (this.stopping || this.d.active?.() === false) return;
    void this.read("wake", () => this.d.queue.waiting(this.d.now())).then((ids) => {
      for (const id of ids ?? []) this.begin(id, true);
    }, (err: unknown) => this.d.log.error({ err }, "waking every queue failed"));
  }

  get flushing(): number {
    return this.running.size;
  }

  /** Drops messages past their TTL and retries registrations whose delay is over. */
  async sweep(): Promise<void> {
    if (this.stopping || this.d.active?.() === false) return;
    const now = this.d.now();
    const expired = await this.read("expire", () => this.d.queue.expire(now));
    if ((expired ?? 0) > 0) this.d.log.info({ expired }, "queued messages expired undelivered");
    const waiting = await this.read("sweep", () => this.d.queue.waiting(now));
    if (waiting === undefined || this.stopping) return;
    const live = new Set(waiting);
    for (const id of this.retry.keys()) if (!live.has(id)) this.retry.delete(id);
    for (const id of live) this.kick(id);
  }

  /** A store that cannot answer now: the next sweep tries again (the store's health is told by its own writes and probe). */
  private async read<T>(what: string, q: () => Promise<T>): Promise<T | undefined> {
    try {
      return await q();
    } catch (err) {
      if (!isStoreFault(err)) throw err;
      this.d.log.debug({ what, code: err.code }, "queue: the store cannot answer now; the next sweep retries");
      return undefined;
    }
  }

  private kick(registration: number): void {
    const r = this.retry.get(registration);
    if (r && r.dueAt > this.d.now()) return;
    this.begin(registration, false);
  }

  private begin(registration: number, woken: boolean): void {
    if (this.stopping || this.d.active?.() === false) return;
    if (this.running.has(registration)) {
      // a running flush picks up new messages by itself; a wake may mean its failing IQ went out too early
      if (woken) this.again.add(registration);
      return;
    }
    if (this.running.size >= (this.d.maxParallel ?? MAX_PARALLEL_FLUSHES)) {
      this.waiting.add(registration);
      return;
    }
    const run = this.run(registration)
      .catch((err: unknown) => this.d.log.error({ err, reg: registration }, "queue flush failed"))
      .finally(() => {
        this.running.delete(registration);
        if (this.again.delete(registration)) this.begin(registration, false);
        this.next();
      });
    this.running.set(registration, run);
  }

  private next(): void {
    for (const id of this.waiting) {
      if (this.running.size >= (this.d.maxParallel ?? MAX_PARALLEL_FLUSHES)) return;
      this.waiting.delete(id);
      this.begin(id, false);
    }
  }

  private async run(registration: number): Promise<void> {
    let delivered = 0;
    let waits = 0;
    try {
      for (;;) {
        if (this.stopping || this.d.active?.() === false) return; // no longer the leader: the new one flushes
        const head = await this.read("head", () => this.d.queue.head(registration, this.d.now()));
        if (!head) {
          this.retry.delete(registration);
          return;
        }
        // Settled while the head was read: its delete is on its way; look again shortly.
        if (this.d.settler.settled(head.id)) {
          if (++waits > SETTLED_RETRIES) return; // the next sweep looks again
          await new Promise((r) => setTimeout(r, SETTLED_RETRY_MS));
          continue;
        }
        // Its IQ may still be answered: that answer settles it and frees the queue (onFree).
        if (this.d.settler.held(head.id) || this.d.settler.isStoring(registration)) return;
        const reg = await this.read("lookup", () => this.d.lookup(head.endpoint));
        if (!reg) return; // expired: the registration sweep drops it with its queue
        // the lookup awaited the store: a result may have settled the row, or the lead gone, meanwhile
        if (this.d.settler.settled(head.id) || this.d.settler.held(head.id) || this.d.active?.() === false) return;
        const copy = { registration, endpoint: head.endpoint, row: head.id };
        const t = await this.d.settler.track(copy, (late) => this.d.attempt(reg, head.payload, late));
        // delivered: the row goes; temporary or thrown: released, and onFree backs off; unanswered: still held
        if (t?.verdict !== "delivered") return; // gone: revoked, and the cascade dropped the queue
        this.retry.delete(registration);
        delivered++;
      }
    } finally {
      if (delivered > 0) this.d.log.info({ reg: registration, delivered }, "queued messages delivered");
    }
  }

  private backoff(registration: number): void {
    const attempt = (this.retry.get(registration)?.attempt ?? 0) + 1;
    const delay = backoffMs(attempt, this.d.sweepMs, this.d.retryMaxMs ?? RETRY_MAX_MS, this.d.random);
    this.retry.set(registration, { attempt, dueAt: this.d.now() + delay });
  }
}
