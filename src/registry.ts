// Registration rules of both dialects. Knows neither XMPP nor HTTP: it takes
// JIDs and tokens and answers with outcomes as data.
import type { Dialect, Registration, RegistrationStore } from "./store/registrations.ts";
import type { MintToken } from "./tokens.ts";
import { bareJid, domainOf } from "./jid.ts";
import { tryWrite, type FaultSink } from "./store/faults.ts";

/** `unavailable`: the store cannot write now; the distributor should try again later. */
export type Refusal = { ok: false; reason: "bad-request" | "forbidden" | "too-many" | "not-found" | "unavailable"; text: string };
export type Registered = { ok: true; reg: Registration; fresh: boolean };
export type RegisterResult = Registered | Refusal;

export interface RegistryOptions {
  registrationTtl: number; // s
  allowedDomains: readonly string[];
  maxRegistrationsPerJid: number;
}

export interface RegistryDeps {
  store: RegistrationStore;
  now: () => number; // ms
  mint: MintToken;
  options: RegistryOptions;
  /** Told of every write: store faults become refusals (`unavailable`), never a throw. */
  faults?: FaultSink;
}

/** A DELETE that matched nothing wrote no page: no word on the store's health (faults.ts). */
const changedRows = (n: number): boolean => n > 0;

const UNAVAILABLE: Refusal = { ok: false, reason: "unavailable", text: "the push server cannot store registrations right now; try again later" };

export class Registry {
  constructor(private readonly d: RegistryDeps) {}

  /** Dialect 1: the same bare JID and public token keep their endpoint. */
  register1(from: string, token: string): RegisterResult {
    const bare = bareJid(from);
    return this.upsert(from, 1, () => this.d.store.byD1(bare, token), { token, application: null, instance: null }, null);
  }

  unregister1(from: string, token: string): { ok: true; reg: Registration } | Refusal {
    const reg = this.d.store.byD1(bareJid(from), token);
    if (!reg) return { ok: false, reason: "not-found", text: "no registration for this token" };
    if (tryWrite(this.d.faults, "unregister", () => this.d.store.deleteEndpoint(reg.endpoint), changedRows) === undefined) return UNAVAILABLE;
    return { ok: true, reg };
  }

  /** Dialect 2: the same account + application + instance always get the same endpoint back. */
  register2(from: string, application: string, instance: string): RegisterResult {
    const bare = bareJid(from);
    const expiresAt = this.d.now() + this.d.options.registrationTtl * 1000;
    return this.upsert(from, 2, () => this.d.store.byD2(bare, application, instance), { token: null, application, instance }, expiresAt);
  }

  /** A live registration for an endpoint token; expired ones count as unknown. */
  lookup(endpoint: string): Registration | undefined {
    const reg = this.d.store.byEndpoint(endpoint);
    if (reg && reg.expires_at !== null && reg.expires_at <= this.d.now()) return undefined;
    return reg;
  }

  /**
   * Following the device (src/follow/): another resource of the account took a
   * push for this registration. Only from the JID the follow started from:
   * false when it changed meanwhile (a re-registration, another follow), or
   * when the store cannot write (the next push follows again).
   */
  move(reg: Registration, jid: string): boolean {
    if (bareJid(jid) !== reg.bare) throw new Error("a registration moves only within its account");
    return (tryWrite(this.d.faults, "move", () => this.d.store.moveJid(reg.id, reg.jid, jid), changedRows) ?? 0) > 0;
  }

  /** The distributor said the app is gone: the endpoint answers 404 from now on. */
  revoke(endpoint: string): boolean {
    // While the store cannot write the endpoint stays: the next push asks the distributor again.
    return (tryWrite(this.d.faults, "revoke", () => this.d.store.deleteEndpoint(endpoint), changedRows) ?? 0) > 0;
  }

  sweepExpired(): number {
    return tryWrite(this.d.faults, "sweep", () => this.d.store.deleteExpired(this.d.now()), changedRows) ?? 0;
  }

  private upsert(
    from: string,
    dialect: Dialect,
    find: () => Registration | undefined,
    key: Pick<Registration, "token" | "application" | "instance">,
    expiresAt: number | null,
  ): RegisterResult {
    const refused = this.checkAccess(from);
    if (refused) return refused;
    const bare = bareJid(from);
    const now = this.d.now();
    return tryWrite(this.d.faults, "register", () => this.d.store.transaction((): RegisterResult => {
      let existing = find();
      if (existing && existing.expires_at !== null && existing.expires_at <= now) {
        // Senders were told 404 and dropped it: a new URL makes the distributor tell the app to re-subscribe.
        this.d.store.deleteEndpoint(existing.endpoint);
        existing = undefined;
      }
      if (existing) {
        this.d.store.renew(existing.id, from, now, expiresAt);
        return { ok: true, fresh: false, reg: { ...existing, jid: from, renewed_at: now, expires_at: expiresAt, bounce_since: null } };
      }
      if (this.d.store.countByBare(bare) >= this.d.options.maxRegistrationsPerJid) {
        return { ok: false, reason: "too-many", text: `at most ${this.d.options.maxRegistrationsPerJid} registrations per account` };
      }
      const reg = this.d.store.insert({
        endpoint: this.d.mint(), dialect, jid: from, bare, ...key, created_at: now, renewed_at: now, expires_at: expiresAt,
      });
      return { ok: true, fresh: true, reg };
    })) ?? UNAVAILABLE;
  }

  private checkAccess(from: string): Refusal | undefined {
    const allowed = this.d.options.allowedDomains;
    if (allowed.length > 0 && !allowed.includes(domainOf(from).toLowerCase())) {
      return { ok: false, reason: "forbidden", text: "this push server does not serve your domain" };
    }
    return undefined;
  }
}
