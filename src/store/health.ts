// Whether the store can write, as /healthz and /metrics tell it. Every write
// reports here (faults.ts); a probe write keeps the answer true without
// traffic: every PROBE_MS, and on /healthz when the last word is older than
// FRESH_MS. A burst of failures is logged once, with how many it held.
import type { Logger } from "../log.ts";
import type { FaultSink } from "./faults.ts";
import { isStoreFault } from "./faults.ts";

const PROBE_MS = 5000; // a failing store is noticed, and a healed one trusted again, within this
const FRESH_MS = 1000; // /healthz probes unless a write told us this recently

export interface StoreHealthDeps {
  /** One small write (store_probe row); throws what SQLite throws. */
  probe: () => void;
  log: Logger;
  now?: () => number; // ms
  onFault?: (op: string) => void;
}

export class StoreHealth implements FaultSink {
  private failing: { reason: string; since: number; count: number } | undefined;
  private lastWord = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly d: StoreHealthDeps) {
    this.now = d.now ?? Date.now;
  }

  /** Undefined while writes succeed; else why they fail. */
  get problem(): string | undefined {
    return this.failing?.reason;
  }

  fault(op: string, err: Error & { code: string }): void {
    this.lastWord = this.now();
    this.d.onFault?.(op);
    if (this.failing) {
      this.failing.count++;
      return;
    }
    this.failing = { reason: `cannot write: ${err.message} (${err.code})`, since: this.lastWord, count: 1 };
    this.d.log.error({ op, code: err.code, err: err.message }, "the store cannot write: pushes that need storing get 503, registrations wait; logged once until it recovers");
  }

  wrote(): void {
    this.lastWord = this.now();
    if (!this.failing) return;
    const { since, count } = this.failing;
    this.failing = undefined;
    this.d.log.warn({ failedForMs: this.lastWord - since, failures: count }, "the store writes again");
  }

  /** Runs the probe write now; true if the store can write. A fault that is not a store fault is a bug: it throws. */
  check(): boolean {
    try {
      this.d.probe();
      this.wrote();
    } catch (err) {
      if (!isStoreFault(err)) throw err;
      this.fault("probe", err);
    }
    return this.failing === undefined;
  }

  /** For /healthz: the latest word, probing first when it is stale. */
  current(): string | undefined {
    if (this.now() - this.lastWord >= FRESH_MS) this.check();
    return this.problem;
  }

  start(): void {
    this.timer = setInterval(() => {
      if (this.now() - this.lastWord >= PROBE_MS / 2) this.check();
    }, PROBE_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
