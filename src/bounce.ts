// Dialect 1 has no acknowledgement, but the XMPP server bounces a
// notification it cannot store as `<message type="error">`. A bounce saying
// the user does not exist means the registration is dead: revoke it, so the
// app server hears 404 instead of 201 for messages that go nowhere.
import type { Element } from "@xmpp/xml";
import type { Logger } from "./log.ts";
import type { Registration } from "./store/registrations.ts";
import { bareJid } from "./jid.ts";
import { errorCondition } from "./stanzas/errors.ts";

export interface Bounce {
  jid: string; // whom the notification was for (the bounce's `from`)
  condition: string;
  token: string | undefined; // the public token, when the server echoed the <subject>
}

/** RFC 6120 §8.3.3: what the server says about a user that does not exist. */
const DEAD = new Set(["item-not-found", "service-unavailable"]);

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
  log: Logger;
  /** Every bounce, by its stanza error condition (for /metrics). */
  onBounce?: (condition: string) => void;
}

export class BounceHandler {
  bounced = 0;
  revoked = 0;

  constructor(private readonly d: BounceDeps) {}

  handle = (message: Element): void => {
    const b = parseBounce(message);
    if (!b) return;
    this.bounced++;
    this.d.onBounce?.(b.condition);
    // never the payload; the JID and token only at debug
    this.d.log.debug({ condition: b.condition }, "notification bounced by the XMPP server");
    if (!DEAD.has(b.condition)) return;
    for (const reg of bounceTargets(b, this.d.byBare(bareJid(b.jid)))) {
      if (this.d.revoke(reg.endpoint)) {
        this.revoked++;
        this.d.log.info({ reg: reg.id, condition: b.condition }, "notification bounced: the user is gone, endpoint revoked");
      }
    }
  };
}
