// From an accepted POST to a push outcome: look the endpoint up, relay it to
// the distributor in its dialect, keep what may wait, and turn the answer into data.
import type { Element } from "@xmpp/xml";
import type { Logger } from "./log.ts";
import type { Registry } from "./registry.ts";
import type { PresenceBook } from "./presence.ts";
import type { EnqueueResult, Queue, Registration } from "./store/store.ts";
import { classifyAnswer, RETRY_AFTER, type IqAnswer, type PushOutcome, type Verdict } from "./outcomes.ts";
import { afterTemporary, keptTtl, notStored, planPush, queuedMessage, type QueuePolicy } from "./queue.ts";
import { ownJidUnavailable } from "./follow/rule.ts";
import { isStoreFault, tryWriteAsync, type FaultSink } from "./store/faults.ts";
import { notification } from "./stanzas/dialect1.ts";
import { pushIq } from "./stanzas/dialect2.ts";
import type { Copy, Settler } from "./settle.ts";
import { FixedDeadline } from "./deadline.ts";

/** What the push service needs from the XMPP edge. */
export interface Transport {
  readonly online: boolean;
  readonly domain: string;
  nextId(): string;
  send(el: Element): Promise<void>;
  /** Sends an IQ and resolves with how it ended; never rejects. `late` hears what comes after a timeout or a link drop. */
  request(iq: Element, timeoutMs: number, late?: (a: IqAnswer) => void): Promise<IqAnswer>;
}

export interface PushMessage {
  payload: Buffer;
  id?: string; // the public message id in the 201's Location, kept with a stored message so DELETE can cancel it
  ttl?: number; // s, as the sender asked (RFC 8030 §5.2)
  urgency?: string;
  topic?: string;
  contentEncoding?: string;
  vapidKey?: string; // RFC 8292 `k=`: kept with a stored message, not checked (no dialect carries a key to compare)
}

/** One delivery attempt of a dialect-2 push. */
export interface Attempt {
  verdict: Verdict;
  retryAfter: number; // s, for a temporary failure
  unanswered: boolean; // timed out: an answer may still come, to the `late` listener
}

export interface PushServiceDeps {
  registry: Registry;
  presence: PresenceBook;
  transport: Transport;
  queue: Pick<Queue, "enqueue" | "hasWaiting">;
  policy: QueuePolicy;
  now: () => number; // ms
  log: Logger;
  timeoutMs: number;
  answerWithinMs: number;
  settler: Settler;
  /** A message was stored; `failed` when it is there because a delivery attempt just failed. */
  onQueued?: (registration: number, failed: boolean) => void;
  onOutcome?: (o: PushOutcome, dialect: 1 | 2, startedAt: number) => void;
  /** Offers the push to the account's other resources when the registration's own is gone (src/follow/); true if one took it. */
  follow?: (reg: Registration, payload: Buffer, late?: (a: IqAnswer) => void) => Promise<boolean>;
  /** A dialect-1 notification went out (src/bounce/ watches what bounces). */
  onSent1?: (reg: Registration, id: string) => void; // the stanza id: what ties a bounce to this notification
  /** Told of a store fault met on the way (src/store/health.ts). */
  faults?: FaultSink;
}

export class PushService {
  private readonly deadline: FixedDeadline; // answer_within, one timer for every POST (deadline.ts)

  constructor(private readonly d: PushServiceDeps) {
    this.deadline = new FixedDeadline(d.answerWithinMs);
  }

  async push(endpoint: string, msg: PushMessage): Promise<PushOutcome> {
    const started = performance.now();
    let reg: Registration | undefined;
    let outcome: PushOutcome;
    try {
      reg = await this.d.registry.lookup(endpoint);
      outcome = reg ? await this.relay(reg, msg) : { kind: "gone" };
    } catch (err) {
      // a store that cannot be read (I/O error, corruption, a lock held too long) is trouble for now, not a bug: 503
      if (!isStoreFault(err)) throw err;
      this.d.faults?.fault("push", err);
      outcome = { kind: "store-failed", retryAfter: RETRY_AFTER.storeFailed };
    }
    this.d.onOutcome?.(outcome, reg?.dialect ?? 2, started);
    return outcome;
  }

  /** Delivers to a known registration, or keeps the message for later (dialect 2). */
  async relay(reg: Registration, msg: PushMessage): Promise<PushOutcome> {
    if (reg.dialect === 1) return this.relay1(reg, msg);
    const ttl = keptTtl(msg.ttl, this.d.policy);
    const plan = planPush(ttl, await this.d.queue.hasWaiting(reg.id, this.d.now()));
    if (plan === "queue") return this.stored(reg, await this.store(reg, msg, ttl), ttl, false);
    if (plan === "refuse") return { kind: "unavailable", retryAfter: RETRY_AFTER.offline };
    return this.send(reg, msg, ttl);
  }

  /**
   * Sends now and answers within answer_within (PROTOCOL.md, "Answer time and
   * exactly once"). An answer in time decides as before. Without one, the
   * message is stored (TTL > 0) and held for its IQ, which runs on to its
   * timeout and beyond (src/settle.ts). The copy is held as soon as its
   * write returns and before the 201, and the IQ's answer is handed to the
   * settler only then, so whatever it says finds the copy stored.
   */
  private async send(reg: Registration, msg: PushMessage, ttl: number): Promise<PushOutcome> {
    let copy: Copy = { registration: reg.id, endpoint: reg.endpoint };
    // What the IQ hears late while its copy is still being written (a slow store) waits for the copy, then goes to the settler.
    let heard: IqAnswer[] | undefined = [];
    const tried = this.attempt(reg, msg.payload, (a) => (heard ? heard.push(a) : this.d.settler.late(copy, a)));
    const settled = (): void => {
      const waiting = heard ?? [];
      heard = undefined;
      for (const a of waiting) this.d.settler.late(copy, a);
    };
    const early = await this.deadline.race(tried);
    if (early !== undefined && !early.unanswered) {
      if (early.verdict === "delivered" || early.verdict === "gone" || afterTemporary(ttl) === "refuse") {
        settled();
        if (early.verdict === "delivered") return { kind: "delivered" };
        return early.verdict === "gone" ? { kind: "gone" } : { kind: "unavailable", retryAfter: early.retryAfter };
      }
      const r = await this.store(reg, msg, ttl);
      if (r.ok) copy = { ...copy, row: r.id }; // not held; after a link drop the old IQ's late result still deletes it
      settled();
      return this.stored(reg, r, ttl, true);
    }
    let outcome: PushOutcome = { kind: "sent" }; // RFC 8030 §5.2: TTL 0 may not wait; the IQ is out
    if (ttl > 0) {
      const release = this.d.settler.storing(reg.id);
      let r: EnqueueResult;
      try {
        r = await this.store(reg, msg, ttl);
        if (r.ok) copy = this.d.settler.hold({ ...copy, row: r.id });
      } finally {
        release(); // only once held: the flusher must never see the row unheld
      }
      // full: 429 rather than a 201 for a message we could not keep; the sender's retry may duplicate, never lose
      outcome = r.ok ? { kind: "queued", ttl } : notStored(r.reason);
    }
    // Even with nothing stored, a late item-not-found still revokes. settle() never rejects.
    void this.d.settler.settle(copy, tried).finally(settled); // the IQ's own answer first, then what it heard late
    return outcome;
  }

  /** One push IQ to the distributor; also what the queue flusher sends with. Revokes a gone app. */
  async attempt(reg: Registration, payload: Buffer, late?: (a: IqAnswer) => void): Promise<Attempt> {
    const t = this.d.transport;
    if (!t.online) return { verdict: "temporary", retryAfter: RETRY_AFTER.linkDown, unanswered: false };
    if (this.d.presence.isKnownOffline(reg.jid)) {
      return (await this.d.follow?.(reg, payload, late)) ? FOLLOWED : { verdict: "temporary", retryAfter: RETRY_AFTER.offline, unanswered: false };
    }
    const answer = await this.pushTo(reg, reg.jid, payload, this.d.timeoutMs, late);
    const verdict = classifyAnswer(answer);
    if (verdict === "gone") {
      this.d.log.info({ reg: reg.id, condition: (answer as { condition?: string }).condition }, "distributor says the app is gone: endpoint revoked");
      await this.d.registry.revoke(reg.endpoint); // its queue goes with it (ON DELETE CASCADE)
    } else if (verdict === "temporary") {
      this.d.log.debug({ reg: reg.id, answer: answer.kind }, "push failed temporarily");
      if (ownJidUnavailable(answer) && (await this.d.follow?.(reg, payload, late))) return FOLLOWED;
    }
    return { verdict, retryAfter: retryAfterFor(answer), unanswered: answer.kind === "timeout" };
  }

  /**
   * The one push IQ for a registration: to its own full JID, or to another
   * resource of its account that src/follow/ asks. Only the own JID may say
   * the app is gone: another resource's late item-not-found means "not this
   * device" (PROTOCOL.md) and never reaches `late`, which may revoke.
   */
  pushTo = (reg: Registration, jid: string, payload: Buffer, timeoutMs: number, late?: (a: IqAnswer) => void): Promise<IqAnswer> => {
    const t = this.d.transport;
    const heard = late && jid !== reg.jid ? (a: IqAnswer) => classifyAnswer(a) !== "gone" && late(a) : late;
    return t.request(pushIq(t.domain, jid, t.nextId(), { application: reg.application!, instance: reg.instance! }, payload), timeoutMs, heard);
  };

  private stored(reg: Registration, r: EnqueueResult, ttl: number, failed: boolean): PushOutcome {
    if (!r.ok) return notStored(r.reason);
    this.d.onQueued?.(reg.id, failed);
    return { kind: "queued", ttl };
  }

  /**
   * Stores the message; the bound check, the Topic replacement and the insert
   * are one transaction, and its result is the answer. A replacement takes
   * the new place at the back rather than the old one's: the old row may be
   * in flight right now, and the flusher deletes by row id after the IQ
   * result, so rewriting that row in place could lose the new payload.
   * A store that cannot write is `store-failed` (503), never a throw.
   */
  private async store(reg: Registration, msg: PushMessage, ttl: number): Promise<EnqueueResult> {
    const now = this.d.now();
    const r = await tryWriteAsync(this.d.faults, "enqueue", () => this.d.queue.enqueue(queuedMessage(reg.id, msg, ttl, now), this.d.policy.maxPerRegistration));
    return r ?? { ok: false, reason: "store-failed" };
  }

  /** Dialect 1 has no acknowledgement: the XMPP server's offline storage takes over from here. */
  private async relay1(reg: Registration, msg: PushMessage): Promise<PushOutcome> {
    const t = this.d.transport;
    if (!t.online) return { kind: "unavailable", retryAfter: RETRY_AFTER.linkDown };
    try {
      const id = t.nextId();
      const wrote = t.send(notification(t.domain, reg.jid, id, reg.token!, msg.payload)).then(
        () => true,
        (err: unknown) => {
          this.d.log.warn({ err }, "could not write a notification to the component link");
          return false;
        },
      );
      // send() resolves on the socket's write callback: with a frozen server and full buffers that comes only
      // when the link drops, and what still sits in our buffer then is gone. So 201 only once the kernel has
      // the stanza; past answer_within a 503 (the sender retries: at worst a duplicate, never a loss).
      if (!((await this.deadline.race(wrote)) ?? false)) return { kind: "unavailable", retryAfter: RETRY_AFTER.linkDown };
      this.d.onSent1?.(reg, id);
      return { kind: "delivered" };
    } catch (err) {
      this.d.log.warn({ err }, "could not write a notification to the component link");
      return { kind: "unavailable", retryAfter: RETRY_AFTER.linkDown };
    }
  }
}

const FOLLOWED: Attempt = { verdict: "delivered", retryAfter: 0, unanswered: false }; // another resource of the account took it: the registration moved


function retryAfterFor(a: IqAnswer): number {
  if (a.kind === "busy") return RETRY_AFTER.busy;
  if (a.kind === "timeout") return RETRY_AFTER.timeout;
  if (a.kind === "link-lost") return RETRY_AFTER.linkDown;
  return RETRY_AFTER.offline;
}
