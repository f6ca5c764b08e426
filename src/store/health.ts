// Whether the store can write, as /healthz and /metrics tell it. Writes report
// here (faults.ts), but only the probe write, which surely writes a page,
// may declare a failing store healed: on a disk that refuses writes a DELETE
// matching no row still succeeds, and trusting it would hand queued messages
// out that cannot be deleted once delivered. The probe runs every PROBE_MS
// (always while failing), and on /healthz when the last word is older than
// FRESH_MS. A burst of failures is logged once, with how many it held.
import type { Logger } from "../log.ts";
import type { FaultSink } from "./faults.ts";
import { isStoreFault } from "./faults.ts";

const PROBE_MS = 5000; // a failing store is noticed, and a healed one trusted again, within this
const FRESH_MS = 1000; // /healthz probes unless it heard this recently

export interface StoreHealthDeps {
  /** One small write that changes a row (Store.probe); throws what the store throws. */
  probe: () => Promise<void>;
  log: Logger;
  now?: () => number; // ms
  onFault?: (op: string) => void;
  /** The probe wrote after a failure: what waited for the store may go on (app.ts wakes the flusher). */
  onRecovered?: () => void;
}

export class StoreHealth implements FaultSink {
  private failing: { reason: string; since: number; count: number } | undefined;
  private lastWord = 0;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<boolean> | undefined; // one probe at a time, however many /healthz requests wait on it
  private readonly now: () => number;

  constructor(private readonly d: StoreHealthDeps) {
    this.now = d.now ?? Date.now;
  }

  /** Undefined while writes succeed; else why they fail. */
  get problem(): string | undefined {
    return this.failing?.reason;
  }

  fault(op: string, err: Error & { code: string }): void {
    this.d.onFault?.(op);
    if (this.failing) {
      this.failing.count++;
      return;
    }
    this.lastWord = this.now();
    this.failing = { reason: `cannot write: ${err.message} (${err.code})`, since: this.lastWord, count: 1 };
    this.d.log.error({ op, code: err.code, err: err.message }, "the store cannot write: pushes that need storing get 503, registrations wait; logged once until it recovers");
  }

  /** A write changed rows. Fresh news while healthy; while failing only the probe counts (see the top). */
  wrote(): void {
    if (!this.failing) this.lastWord = this.now();
  }

  /**
   * Runs the probe write now; true if the store can write. SQLITE_BUSY (another
   * process holds the lock past the probe's short busy timeout) says nothing
   * either way. A fault that is not a store fault is a bug: it throws.
   */
  async check(): Promise<boolean> {
    try {
      await this.d.probe();
    } catch (err) {
      if (!isStoreFault(err)) throw err;
      if (err.code.startsWith("SQLITE_BUSY")) {
        this.lastWord = this.now();
        return this.failing === undefined;
      }
      this.fault("probe", err);
      this.lastWord = this.now();
      return false;
    }
    this.lastWord = this.now();
    if (this.failing) this.healed();
    return true;
  }

  /** For /healthz: the latest word, probing first when it is stale. */
  async current(): Promise<string | undefined> {
    if (this.now() - this.lastWord >= FRESH_MS) await (this.checking ??= this.check().finally(() => (this.checking = undefined)));
    return this.problem;
  }

  start(): void {
    this.timer = setInterval(() => {
      if (!this.failing && this.now() - this.lastWord < PROBE_MS / 2) return;
      // a bug in the probe must not kill the process from a timer
      void this.check().catch((err: unknown) => this.d.log.error({ err }, "store probe failed"));
    }, PROBE_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private healed(): void {
    const { since, count } = this.failing!;
    this.failing = undefined;
    this.d.log.warn({ failedForMs: this.lastWord - since, failures: count }, "the store writes again");
    try {
      this.d.onRecovered?.();
    } catch (err) {
      this.d.log.error({ err }, "after the store healed: a bug");
    }
  }
}
