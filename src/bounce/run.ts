// When dialect-1 bounces mean the registration is dead. RFC 6121 §8.5.2.2.1
// and §8.5.3: a server without offline storage answers a message to an
// existing account with no session by service-unavailable, the same error
// Prosody gives for an account that does not exist. So one bounce proves
// nothing. **Rule**: a registration is revoked only when every notification
// sent to it for RUN_MS bounced (item-not-found or service-unavailable) and
// it did not register again meanwhile. A notification that has not bounced
// within the grace was delivered or stored, and ends the run.

export const RUN_MS = 7 * 86_400_000; // as long as a Conversations registration lives unrenewed
export const GRACE_MS = 60_000; // bounces come from the user's own server, within seconds

/** RFC 6120 §8.3.3: what a server says about a user it cannot deliver to. */
export const DEAD_CONDITIONS: ReadonlySet<string> = new Set(["item-not-found", "service-unavailable"]);

/**
 * A dead bounce arrived at `now`. `since` is the stored start of the run
 * (null: none, or it ended because a notification went unbounced).
 */
export function judgeBounce(since: number | null, now: number): { since: number; revoke: boolean } {
  const start = since ?? now;
  return { since: start, revoke: now - start >= RUN_MS };
}

/** Notifications remembered until they bounce or their grace ends; past it the oldest are forgotten early. */
export const MAX_OUTSTANDING = 100_000;

export interface Notification {
  reg: number;
  jid: string; // the full JID it went to: only that account's server may bounce it
  at: number; // ms, when it went out
}

/**
 * Notifications not bounced yet, by stanza id. Prosody's bounce keeps the
 * message id but drops `<subject>`, so the id is what ties a bounce to
 * exactly one notification and its registration. Insertion order is send
 * order, so those past their grace sit at the front.
 */
export class Outstanding {
  private readonly byId = new Map<string, Notification>();

  constructor(private readonly max = MAX_OUTSTANDING) {}

  sent(id: string, n: Notification): void {
    this.byId.set(id, n);
    if (this.byId.size > this.max) this.byId.delete(this.byId.keys().next().value!);
  }

  /** The notification a bounce is for (and forgets it), if it is still outstanding. */
  take(id: string): Notification | undefined {
    const n = this.byId.get(id);
    this.byId.delete(id);
    return n;
  }

  /** Takes the notifications that went unbounced past `graceMs`: they were delivered or stored. */
  expired(now: number, graceMs: number): Notification[] {
    const out: Notification[] = [];
    for (const [id, n] of this.byId) {
      if (now - n.at <= graceMs) break;
      this.byId.delete(id);
      out.push(n);
    }
    return out;
  }

  get size(): number {
    return this.byId.size;
  }
}
