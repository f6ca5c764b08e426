// Push IQs awaiting their answer. Bounded, so a slow XMPP server makes us
// answer 503 instead of growing memory without limit. An IQ that timed out is
// remembered for a while longer (the late window), so an answer that comes
// after [push] timeout still settles what the IQ carried (src/settle.ts).
import type { Element } from "@xmpp/xml";
import type { IqAnswer } from "../outcomes.ts";
import { errorCondition } from "../stanzas/errors.ts";

/** Told of what a request hears after its promise resolved: a late answer, `link-lost`, or `timeout` when the window closes. */
export type LateListener = (a: IqAnswer) => void;

/**
 * How long after its timeout an IQ may still be answered (ms), so up to
 * [push] timeout + 600 s after it was sent. A phone whose link died keeps a
 * hibernating XEP-0198 session on its server; Prosody's mod_smacks keeps it
 * smacks_hibernation_time = 600 s by default (ejabberd's resume_timeout is
 * 300 s). A phone resuming then answers the IQ it finds: were the window
 * shorter, the copy would be sent again into the same session, and the phone
 * would show it twice. Memory stays bounded by maxLate.
 */
export const SMACKS_HIBERNATION_MS = 600_000;
export const LATE_WINDOW_MS = SMACKS_HIBERNATION_MS;
const LATE_SWEEP_MS = 1000;

interface Pending {
  to: string;
  resolve: (a: IqAnswer) => void;
  timer: NodeJS.Timeout;
  late: LateListener | undefined;
}

interface Late {
  to: string;
  late: LateListener;
  until: number; // ms, monotonic
}

export interface CallerOptions {
  lateWindowMs?: number;
  /** Timed-out IQs remembered at once; past it the oldest's window closes early. */
  maxLate?: number;
  now?: () => number; // ms, monotonic
}

export class IqCaller {
  private readonly pending = new Map<string, Pending>();
  // Insertion order is expiry order: every entry gets the same window from the moment it enters.
  private readonly late = new Map<string, Late>();
  private sweeper: NodeJS.Timeout | undefined;
  private readonly windowMs: number;
  private readonly maxLate: number;
  private readonly now: () => number;

  constructor(private readonly maxInflight: number, o: CallerOptions = {}) {
    this.windowMs = o.lateWindowMs ?? LATE_WINDOW_MS;
    this.maxLate = o.maxLate ?? maxInflight * 8;
    this.now = o.now ?? (() => performance.now());
  }

  get inflight(): number {
    return this.pending.size;
  }

  /** Timed-out IQs whose late answer would still be taken. */
  get awaitingLate(): number {
    return this.late.size;
  }

  /**
   * `write` puts the stanza on the wire; the answer arrives through `settle`.
   * With `late`, an IQ that times out or whose link drops is remembered for the
   * late window, and what is heard of it afterwards goes to `late`.
   */
  request(iq: Element, timeoutMs: number, write: (el: Element) => Promise<void>, late?: LateListener): Promise<IqAnswer> {
    if (this.pending.size >= this.maxInflight) return Promise.resolve({ kind: "busy" });
    const id = iq.attrs.id!;
    return new Promise<IqAnswer>((resolve) => {
      const timer = setTimeout(() => this.finish(id, { kind: "timeout" }, true), timeoutMs);
      this.pending.set(id, { to: iq.attrs.to!, resolve, timer, late });
      write(iq).catch(() => this.finish(id, { kind: "link-lost" }, false));
    });
  }

  /**
   * Takes an incoming `<iq type="result|error">`; false if it was not ours. Only
   * the JID we asked may answer: ids are guessable, and a forged item-not-found
   * from someone else would revoke a stranger's endpoint.
   */
  settle(iq: Element): boolean {
    const id = iq.attrs.id;
    if (id === undefined) return false;
    return this.settleAnswer(id, iq.attrs.from, answerOf(iq));
  }

  /**
   * The same for an answer heard elsewhere: another gateway instance took it
   * off its own link and relayed it (src/cluster/iq-relay.ts). Same rules: only
   * the JID we asked may answer, and a timed-out IQ's late listener hears it.
   */
  settleAnswer(id: string, from: string | undefined, answer: IqAnswer): boolean {
    if (this.pending.get(id)?.to === from) {
      this.finish(id, answer, false);
      return true;
    }
    const l = this.late.get(id);
    if (l === undefined || l.to !== from) return false;
    this.late.delete(id);
    l.late(answer);
    return true;
  }

  /**
   * The link dropped: nothing in flight will be answered on it. Those IQs, and
   * the timed-out ones, may still be answered once it is back (the phone held
   * the IQ, answers after we reconnected), so they stay in the late window;
   * the timed-out ones hear `link-lost` now, as their stanzas may be lost.
   */
  failAll(): void {
    const before = [...this.late.values()];
    for (const id of [...this.pending.keys()]) this.finish(id, { kind: "link-lost" }, true);
    for (const l of before) l.late({ kind: "link-lost" });
  }

  /**
   * Shutting down, or this gateway gave the link up (src/cluster/link.ts):
   * fail what is in flight, and tell the late window's listeners that no
   * answer will come here any more, so their held copies are released
   * (a gateway that leads again must not find them held for ever).
   */
  stop(): void {
    const before = [...this.late.values()];
    for (const id of [...this.pending.keys()]) this.finish(id, { kind: "link-lost" }, false);
    this.late.clear();
    for (const l of before) l.late({ kind: "link-lost" });
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  private finish(id: string, answer: IqAnswer, remember: boolean): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (remember && p.late) this.remember(id, p.to, p.late);
    p.resolve(answer);
  }

  private remember(id: string, to: string, late: LateListener): void {
    while (this.late.size >= this.maxLate) this.close(this.late.keys().next().value!);
    this.late.set(id, { to, late, until: this.now() + this.windowMs });
    this.sweeper ??= setInterval(() => this.sweep(), Math.min(LATE_SWEEP_MS, this.windowMs)).unref();
  }

  /** Closes the windows that are over (oldest first). */
  private sweep(): void {
    const now = this.now();
    for (const [id, l] of this.late) {
      if (l.until > now) break;
      this.close(id);
    }
    if (this.late.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  private close(id: string): void {
    const l = this.late.get(id)!;
    this.late.delete(id);
    l.late({ kind: "timeout" });
  }
}

/** What an incoming `<iq type="result|error">` says. */
export const answerOf = (iq: Element): IqAnswer =>
  iq.attrs.type === "result" ? { kind: "result" } : { kind: "error", condition: errorCondition(iq) };
