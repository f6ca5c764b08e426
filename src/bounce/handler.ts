// Dialect 1 has no acknowledgement, but the XMPP server bounces a
// notification it cannot deliver or store as `<message type="error">`.
// Each bounce is tied by its stanza id to the one notification it is for
// (src/bounce/run.ts); those saying the user cannot be reached are counted
// in runs, and a registration whose notifications all bounced for 7 days is
// revoked, so the app server hears 404 instead of 201 for messages that go
// nowhere. A notification that goes unbounced past the grace ends its
// registration's run in the store at once, so a restart keeps that evidence.
import type { Element } from "@xmpp/xml";
import type { Logger } from "../log.ts";
import type { Registration } from "../store/registrations.ts";
import { bareJid } from "../jid.ts";
import { errorCondition } from "../stanzas/errors.ts";
import { DEAD_CONDITIONS, GRACE_MS, judgeBounce, MAX_OUTSTANDING, Outstanding } from "./run.ts";

export interface Bounce {
  id: string | undefined; // the notification's stanza id, which servers keep
  jid: string; // whom the notification was for (the bounce's `from`)
  condition: string;
}

export function parseBounce(message: Element): Bounce | undefined {
  const from = message.attrs.from;
  if (!from) return undefined;
  return { id: message.attrs.id, jid: from, condition: errorCondition(message) };
}

export interface BounceDeps {
  byBare: (bare: string) => Promise<Registration[]>;
  revoke: (endpoint: string) => Promise<boolean>;
  /** Stores when the registration's run of bounces began (null: it ended). */
  setBounceSince: (id: number, since: number | null) => Promise<void>;
  now: () => number; // ms
  log: Logger;
  /** Every bounce, by its stanza error condition (for /metrics). */
  onBounce?: (condition: string) => void;
  graceMs?: number; // GRACE_MS unless a test says otherwise
}

export class BounceHandler {
  bounced = 0;
  revoked = 0;
  private readonly outstanding = new Outstanding();
  // Registrations in a run -> send time of the last notification that bounced dead (-Infinity: the run predates this process)
  private readonly runs = new Map<number, number>();
  private readonly toEnd = new Set<number>(); // runs that ended but whose store write failed: retried by the sweep
  private readonly graceMs: number;

  constructor(private readonly d: BounceDeps) {
    this.graceMs = d.graceMs ?? GRACE_MS;
  }

  /** A notification went out with this stanza id (push.ts relay1). */
  sent = (reg: Registration, id: string): void => {
    this.outstanding.sent(id, { reg: reg.id, jid: reg.jid, at: this.d.now() });
    if (reg.bounce_since !== null && !this.runs.has(reg.id)) this.track(reg.id, -Infinity);
  };

  /** Never rejects: a store that cannot answer loses this bounce's word (the run goes on with the next one). */
  handle = (message: Element): Promise<void> =>
    this.judge(message).catch((err: unknown) => this.d.log.warn({ err }, "could not judge a bounce: the store did not answer"));

  private async judge(message: Element): Promise<void> {
    const b = parseBounce(message);
    if (!b) return;
    this.bounced++;
    this.d.onBounce?.(b.condition);
    // never the payload; the JID only at debug
    this.d.log.debug({ condition: b.condition }, "notification bounced by the XMPP server");
    const now = this.d.now();
    await this.sweep(now); // what went unbounced meanwhile ends runs before this bounce is judged
    const n = b.id === undefined ? undefined : this.outstanding.take(b.id);
    // Only the account it went to may bounce it: ids alone are guessable.
    if (!n || bareJid(n.jid) !== bareJid(b.jid)) return;
    // Settled whatever the condition (ejabberd's resource-constraint too): it was not delivered.
    if (!DEAD_CONDITIONS.has(b.condition)) return;
    const reg = (await this.d.byBare(bareJid(n.jid))).find((r) => r.id === n.reg && r.dialect === 1);
    if (!reg) return;
    this.track(reg.id, Math.max(this.runs.get(reg.id) ?? -Infinity, n.at));
    const run = judgeBounce(reg.bounce_since, now);
    if (run.revoke) {
      this.runs.delete(reg.id);
      if (await this.d.revoke(reg.endpoint)) {
        this.revoked++;
        this.d.log.info({ reg: reg.id, condition: b.condition }, "every notification bounced for 7 days: endpoint revoked");
      }
    } else if (run.since !== reg.bounce_since) {
      await this.d.setBounceSince(reg.id, run.since);
    }
  }

  /** On a timer (app.ts) and before each bounce: notifications past their grace were delivered, and end their runs. */
  sweep = async (now: number = this.d.now()): Promise<void> => {
    for (const n of this.outstanding.expired(now, this.graceMs)) {
      const lastBounced = this.runs.get(n.reg);
      if (lastBounced === undefined || n.at <= lastBounced) continue; // not in a run, or sent before what bounced
      this.runs.delete(n.reg);
      this.toEnd.add(n.reg);
    }
    for (const id of this.toEnd) {
      try {
        await this.d.setBounceSince(id, null);
        this.toEnd.delete(id);
        this.d.log.debug({ reg: id }, "a notification was not bounced: the run of bounces ended");
      } catch (err) {
        this.d.log.warn({ err, reg: id }, "could not store the end of a run of bounces; retried at the next sweep");
      }
    }
  };

  private track(reg: number, lastBounced: number): void {
    this.runs.delete(reg);
    this.runs.set(reg, lastBounced);
    if (this.runs.size > MAX_OUTSTANDING) this.runs.delete(this.runs.keys().next().value!);
  }
}
