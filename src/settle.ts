// The distributor's answer settles the stored copy of a message, whenever it
// comes (PROTOCOL.md, "Answer time and exactly once"; docs/delivery.md).
//
// The rule that makes a late answer still give exactly one copy: a stored copy
// has at most one push IQ that may still be answered, and while it has one the
// copy is *held*: the flusher does not send it (nor what is queued behind it,
// to keep the order). The IQ's answer decides: `result` deletes the copy,
// item-not-found/feature-not-implemented revokes the endpoint (the copy goes
// with it), a temporary error releases the copy to the flusher. An IQ that
// times out keeps the hold through the caller's late window (600 s after the
// timeout, a hibernating session's lifetime: src/xmpp/caller.ts), so an
// answer minutes late still deletes the copy before anything is sent again. The hold also ends when the component link drops
// (the IQ or its answer may be lost: send again after the reconnect; the only
// case that can give the phone two copies) or when the window closes unanswered.
import type { IqAnswer, Verdict } from "./outcomes.ts";
import { classifyAnswer } from "./outcomes.ts";
import { ownJidUnavailable } from "./follow/rule.ts";
import type { Logger } from "./log.ts";

export type Settle = "delete" | "revoke" | "hold" | "release";

/**
 * What an answer does to the copy. `mayStillAnswer`: the IQ timed out and its
 * late window is open, so an answer may still come.
 */
export function settleRule(verdict: Verdict, mayStillAnswer: boolean): Settle {
  if (verdict === "delivered") return "delete";
  if (verdict === "gone") return "revoke";
  return mayStillAnswer ? "hold" : "release";
}

/** What a late listener hears (src/xmpp/caller.ts): a late answer, `link-lost`, or `timeout` when the window closed. */
export const lateRule = (a: IqAnswer): Settle => settleRule(classifyAnswer(a), false);

/** A message whose push IQ may still be answered; `row` is its queue row, when one was stored. */
export interface Copy {
  registration: number;
  endpoint: string;
  row?: number;
}

/** What a delivery attempt said (push.ts Attempt). `unanswered`: it timed out, a late answer may come. */
export interface Tried {
  verdict: Verdict;
  unanswered: boolean;
}

export interface SettlerDeps {
  /** Deletes the row, only if it is still the registration's; never throws (a store fault is remembered, store/queue.ts). */
  remove: (row: number, registration: number) => void;
  revoke: (endpoint: string) => void;
  /** The registration's queue may move on: `failed` after a temporary failure (back off first); not after a delete, or a late own-JID-unavailable (follow the device now). */
  onFree: (registration: number, failed: boolean) => void;
  log: Logger;
}

/** Rows remembered as settled: far more than can be between a head read and its check. */
const MAX_DELETED = 10_000;

export class Settler {
  // row -> the copy object of the IQ that holds it; identity tells an old IQ's release from a newer one's
  private readonly holds = new Map<number, Copy>();
  private readonly writing = new Map<number, number>(); // registration -> copies being written (storing())
  private readonly deleted = new Set<number>(); // rows whose delete was asked, newest last (settled())

  constructor(private readonly d: SettlerDeps) {}

  /** The row's IQ is out: the flusher leaves it alone until the answer settles it. */
  hold(c: Copy): Copy {
    if (c.row !== undefined) this.holds.set(c.row, c);
    return c;
  }

  held = (row: number): boolean => this.holds.has(row);

  /**
   * A copy of a push whose IQ is out is being written (push.ts send()): until
   * it is held, the flusher leaves the registration's queue alone, since the
   * row is visible before the write returns and hold() can run (the store is
   * asynchronous). Returns the release; the registration's flush is kicked by
   * the hold's settling, or by onQueued when the copy is not held.
   */
  storing(registration: number): () => void {
    this.writing.set(registration, (this.writing.get(registration) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const n = (this.writing.get(registration) ?? 1) - 1;
      if (n > 0) this.writing.set(registration, n);
      else this.writing.delete(registration);
    };
  }

  isStoring = (registration: number): boolean => this.writing.has(registration);

  /**
   * The phone has this row: its delete was asked (it may not have reached the
   * store yet). The flusher reads a head and checks it in two steps, with the
   * store's answer between them; a result settling the row meanwhile must not
   * make it look free to send.
   */
  settled = (row: number): boolean => this.deleted.has(row);

  get holding(): number {
    return this.holds.size;
  }

  /**
   * One delivery attempt of a held copy (the flusher): holds it, runs the
   * attempt with the late listener, and settles it with the attempt's answer.
   * Never rejects: an attempt that throws (a bug) releases the hold
   * (undefined), so the copy is retried rather than held for ever.
   */
  track<T extends Tried>(c: Copy, run: (late: (a: IqAnswer) => void) => Promise<T>): Promise<T | undefined> {
    this.hold(c);
    let tried: Promise<T>;
    try {
      tried = run((a) => this.late(c, a));
    } catch (err) {
      tried = Promise.reject(err);
    }
    return this.settle(c, tried);
  }

  /** Settles the copy with its attempt's own answer when that comes (push.ts send(), track()); never rejects, as track(). */
  async settle<T extends Tried>(c: Copy, tried: Promise<T>): Promise<T | undefined> {
    let t: T;
    try {
      t = await tried;
    } catch (err) {
      this.d.log.error({ err, reg: c.registration }, "push attempt failed: its copy is released to the flusher");
      this.guarded(c, "release", false);
      return undefined;
    }
    this.answered(c, t.verdict, t.unanswered);
    return t;
  }

  /**
   * The IQ's own answer, as PushService.attempt judged it (it has revoked a gone
   * app already). `unanswered`: it timed out, and a late answer may still come.
   */
  answered(c: Copy, verdict: Verdict, unanswered: boolean): void {
    this.guarded(c, settleRule(verdict, unanswered), false);
  }

  /** Heard after the IQ's promise resolved: a late answer, the link dropping, or the window closing. */
  late(c: Copy, a: IqAnswer): void {
    const action = lateRule(a);
    if (a.kind === "result" || a.kind === "error") this.d.log.debug({ reg: c.registration, answer: a.kind, action }, "late answer to a push IQ");
    // The end of a hibernation bounces the unacked IQ (recipient-unavailable): follow the device now, no back-off.
    this.guarded(c, action, true, !ownJidUnavailable(a));
  }

  /**
   * Late answers arrive in the XMPP edge's stanza handler and after a `void`ed
   * promise: a throw there (a bug; store faults are outcomes, store/queue.ts)
   * would end the process. Logged instead, and the hold is let go.
   */
  private guarded(c: Copy, action: Settle, revoke: boolean, backOff = true): void {
    try {
      this.apply(c, action, revoke, backOff);
    } catch (err) {
      this.d.log.error({ err, reg: c.registration, action }, "settling a push failed");
      if (c.row !== undefined && this.holds.get(c.row) === c) this.holds.delete(c.row);
    }
  }

  private apply(c: Copy, action: Settle, revoke: boolean, backOff: boolean): void {
    if (action === "hold") return;
    const mine = c.row !== undefined && this.holds.get(c.row) === c;
    if (mine) this.holds.delete(c.row!);
    if (action === "delete") {
      // Even if another IQ holds the row now (sent after a link drop): the phone has it.
      if (c.row !== undefined) {
        this.deleted.add(c.row);
        if (this.deleted.size > MAX_DELETED) this.deleted.delete(this.deleted.values().next().value!);
        this.d.remove(c.row, c.registration);
      }
      if (mine) this.d.onFree(c.registration, false);
    } else if (action === "revoke") {
      if (revoke) {
        this.d.log.info({ reg: c.registration }, "distributor says the app is gone (late answer): endpoint revoked");
        this.d.revoke(c.endpoint);
      }
    } else if (mine) {
      this.d.onFree(c.registration, backOff);
    }
  }
}
