// When dialect-1 bounces mean the registration is dead. RFC 6121 §8.5.2.2.1
// and §8.5.3: a server without offline storage answers a message to an
// existing account with no session by service-unavailable, the same error
// Prosody gives for an account that does not exist. So one bounce proves
// nothing. **Rule**: a registration is revoked only when every notification
// sent to it for RUN_MS bounced (item-not-found or service-unavailable) and
// it did not register again meanwhile. A notification that has not bounced
// within GRACE_MS was delivered or stored, and ends the run.

export const RUN_MS = 7 * 86_400_000; // as long as a Conversations registration lives unrenewed
export const GRACE_MS = 60_000; // bounces come from the user's own server, within seconds

/** RFC 6120 §8.3.3: what a server says about a user it cannot deliver to. */
export const DEAD_CONDITIONS: ReadonlySet<string> = new Set(["item-not-found", "service-unavailable"]);

/**
 * A bounce arrived at `now`. `since` is the stored start of the run (null:
 * none); `unbounced` says a notification sent before it went unbounced past
 * the grace, so the run before it ended and a new one starts with this bounce.
 */
export function judgeBounce(since: number | null, unbounced: boolean, now: number): { since: number; revoke: boolean } {
  const start = since === null || unbounced ? now : since;
  return { since: start, revoke: now - start >= RUN_MS };
}

export const OUTSTANDING_LIMITS = Object.freeze({ registrations: 10_000, perRegistration: 64 });

/**
 * Send times of notifications not bounced yet, per registration, oldest
 * first. A server answers one stream in order, so a bounce is taken to be
 * for the oldest one. In memory: after a restart a run simply goes on.
 */
export class Outstanding {
  private readonly byReg = new Map<number, number[]>();

  constructor(private readonly limits: { registrations: number; perRegistration: number } = OUTSTANDING_LIMITS) {}

  sent(reg: number, now: number): void {
    const times = this.byReg.get(reg) ?? [];
    times.push(now);
    if (times.length > this.limits.perRegistration) times.shift();
    this.byReg.delete(reg);
    this.byReg.set(reg, times);
    if (this.byReg.size > this.limits.registrations) this.byReg.delete(this.byReg.keys().next().value!);
  }

  /** Drops what has gone unbounced past the grace; true if anything had (it was delivered or stored). */
  settle(reg: number, now: number): boolean {
    const times = this.byReg.get(reg);
    if (!times) return false;
    let n = 0;
    while (n < times.length && now - times[n]! > GRACE_MS) n++;
    times.splice(0, n);
    if (times.length === 0) this.byReg.delete(reg);
    return n > 0;
  }

  /** A bounce for this registration: its oldest outstanding notification. */
  bounced(reg: number): void {
    const times = this.byReg.get(reg);
    times?.shift();
    if (times?.length === 0) this.byReg.delete(reg);
  }

  get size(): number {
    return this.byReg.size;
  }
}
