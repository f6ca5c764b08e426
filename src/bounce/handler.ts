// Dialect 1 has no acknowledgement, but the XMPP server bounces a
// notification it cannot deliver or store as `<message type="error">`.
// Bounces that say the user cannot be reached are counted in runs
// (src/bounce/run.ts); a registration whose notifications all bounced for
// 7 days is revoked, so the app server hears 404 instead of 201 for
// messages that go nowhere.
import type { Element } from "@xmpp/xml";
import type { Logger } from "../log.ts";
import type { Registration } from "../store/registrations.ts";
import { bareJid } from "../jid.ts";
import { errorCondition } from "../stanzas/errors.ts";
import { DEAD_CONDITIONS, judgeBounce, Outstanding } from "./run.ts";

export interface Bounce {
  jid: string; // whom the notification was for (the bounce's `from`)
  condition: string;
  token: string | undefined; // the public token, when the server echoed the <subject>
}

export function parseBounce(message: Element): Bounce | undefined {
  const from = message.attrs.from;
  if (!from) return undefined;
  const token = message.getChildText("subject")?.trim();
  return { jid: from, condition: errorCondition(message), token: token === "" ? undefined : token };
}

/** The dialect-1 registrations a bounce is about: by token when echoed, else by the JID it went to. */
export function bounceTargets(b: Bounce, sameAccount: readonly Registration[]): Registration[] {
  return sameAccount.filter(
    (r) => r.dialect === 1 && (b.token !== undefined ? r.token === b.token : r.jid === b.jid || r.bare === b.jid),
  );
}

export interface BounceDeps {
  byBare: (bare: string) => Registration[];
  revoke: (endpoint: string) => boolean;
  /** Stores when the registration's run of bounces began (null: it ended). */
  setBounceSince: (id: number, since: number | null) => void;
  now: () => number; // ms
  log: Logger;
  /** Every bounce, by its stanza error condition (for /metrics). */
  onBounce?: (condition: string) => void;
}

export class BounceHandler {
  bounced = 0;
  revoked = 0;
  private readonly outstanding = new Outstanding();

  constructor(private readonly d: BounceDeps) {}

  /** A notification went out to this registration (push.ts): a run ends if an earlier one never bounced. */
  sent = (reg: Registration): void => {
    const now = this.d.now();
    if (this.outstanding.settle(reg.id, now) && reg.bounce_since !== null) {
      this.d.setBounceSince(reg.id, null);
      this.d.log.debug({ reg: reg.id }, "a notification was not bounced: the run of bounces ended");
    }
    this.outstanding.sent(reg.id, now);
  };

  handle = (message: Element): void => {
    const b = parseBounce(message);
    if (!b) return;
    this.bounced++;
    this.d.onBounce?.(b.condition);
    // never the payload; the JID and token only at debug
    this.d.log.debug({ condition: b.condition }, "notification bounced by the XMPP server");
    if (!DEAD_CONDITIONS.has(b.condition)) return;
    const now = this.d.now();
    for (const reg of bounceTargets(b, this.d.byBare(bareJid(b.jid)))) {
      const unbounced = this.outstanding.settle(reg.id, now);
      this.outstanding.bounced(reg.id);
      const run = judgeBounce(reg.bounce_since, unbounced, now);
      if (run.revoke) {
        if (this.d.revoke(reg.endpoint)) {
          this.revoked++;
          this.d.log.info({ reg: reg.id, condition: b.condition }, "every notification bounced for 7 days: endpoint revoked");
        }
      } else if (run.since !== reg.bounce_since) {
        this.d.setBounceSince(reg.id, run.since);
      }
    }
  };
}
