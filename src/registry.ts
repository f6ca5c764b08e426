// Registration rules of both dialects. Knows neither XMPP nor HTTP: it takes
// JIDs and tokens and answers with outcomes as data. The compound rule
// (register or renew, with the per-account bound) is one store method, so
// each backend makes it one transaction (src/store/store.ts).
import type { Dialect, Registration, Registrations } from "./store/store.ts";
import type { MintToken } from "./tokens.ts";
import { bareJid, domainOf } from "./jid.ts";
import { tryWriteAsync, type FaultSink } from "./store/faults.ts";

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
  store: Registrations;
  now: () => number; // ms
  mint: MintToken;
  options: RegistryOptions;
  /** Told of every write: store faults become refusals (`unavailable`), never a throw. */
  faults?: FaultSink;
}

/** A DELETE that matched nothing wrote no page: no word on the store's health (faults.ts). */
const changed = (b: boolean): boolean => b;

const UNAVAILABLE: Refusal = { ok: false, reason: "unavailable", text: "the push server cannot store registrations right now; try again later" };

export class Registry {
  constructor(private readonly d: RegistryDeps) {}

  /** Dialect 1: the same bare JID and public token keep their endpoint. */
  register1(from: string, token: string): Promise<RegisterResult> {
    return this.upsert(from, 1, { token, application: null, instance: null }, null);
  }

  async unregister1(from: string, token: string): Promise<{ ok: true; reg: Registration } | Refusal> {
    const found = await tryWriteAsync(this.d.faults, "unregister", async () => ({ reg: await this.d.store.byD1(bareJid(from), token) }), () => false);
    if (found === undefined) return UNAVAILABLE;
    const reg = found.reg;
    if (reg === undefined) return { ok: false, reason: "not-found", text: "no registration for this token" };
    if ((await tryWriteAsync(this.d.faults, "unregister", () => this.d.store.revoke(reg.endpoint), changed)) === undefined) return UNAVAILABLE;
    return { ok: true, reg };
  }

  /** Dialect 2: the same account + application + instance always get the same endpoint back. */
  register2(from: string, application: string, instance: string): Promise<RegisterResult> {
    const expiresAt = this.d.now() + this.d.options.registrationTtl * 1000;
    return this.upsert(from, 2, { token: null, application, instance }, expiresAt);
  }

  /** A live registration for an endpoint token; expired ones count as unknown. Throws a store fault (push.ts answers 503). */
  lookup(endpoint: string): Promise<Registration | undefined> {
    return this.d.store.lookup(endpoint, this.d.now());
  }

  /**
   * Following the device (src/follow/): another resource of the account took a
   * push for this registration. Only from the JID the follow started from:
   * false when it changed meanwhile (a re-registration, another follow), or
   * when the store cannot write (the next push follows again).
   */
  async move(reg: Registration, jid: string): Promise<boolean> {
    if (bareJid(jid) !== reg.bare) throw new Error("a registration moves only within its account");
    return (await tryWriteAsync(this.d.faults, "move", () => this.d.store.move(reg.id, reg.jid, jid), changed)) ?? false;
  }

  /** The distributor said the app is gone: the endpoint answers 404 from now on. */
  async revoke(endpoint: string): Promise<boolean> {
    // While the store cannot write the endpoint stays: the next push asks the distributor again.
    return (await tryWriteAsync(this.d.faults, "revoke", () => this.d.store.revoke(endpoint), changed)) ?? false;
  }

  async sweepExpired(): Promise<number> {
    return (await tryWriteAsync(this.d.faults, "sweep", () => this.d.store.sweepExpired(this.d.now()), (n) => n > 0)) ?? 0;
  }

  private async upsert(from: string, dialect: Dialect, key: Pick<Registration, "token" | "application" | "instance">, expiresAt: number | null): Promise<RegisterResult> {
    const refused = this.checkAccess(from);
    if (refused) return refused;
    const max = this.d.options.maxRegistrationsPerJid;
    const r = await tryWriteAsync(this.d.faults, "register", () =>
      this.d.store.upsert({ dialect, jid: from, bare: bareJid(from), key, now: this.d.now(), expiresAt, maxPerAccount: max, mint: this.d.mint }),
    );
    if (r === undefined) return UNAVAILABLE;
    return r.ok ? r : { ok: false, reason: "too-many", text: `at most ${max} registrations per account` };
  }

  private checkAccess(from: string): Refusal | undefined {
    const allowed = this.d.options.allowedDomains;
    if (allowed.length > 0 && !allowed.includes(domainOf(from).toLowerCase())) {
      return { ok: false, reason: "forbidden", text: "this push server does not serve your domain" };
    }
    return undefined;
  }
}
