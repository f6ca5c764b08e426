// Directed presence from distributors, per full JID. Only an explicit
// unavailable marks a JID offline: an unknown JID may well be online. The
// available resources of each account are what "following the device"
// (src/follow/) may try when a registration's own full JID is gone; each
// remembers, for its session, the registrations it said are not its own, and
// until its next presence, that it did not answer a push in time.
import { bareJid } from "./jid.ts";

export const PRESENCE_LIMITS = Object.freeze({
  accounts: 100_000, // accounts with available resources; past it the least recently seen go
  resourcesPerAccount: 10, // a phone, a tablet, a desktop client and their stale sessions
  refusalsPerResource: 100, // as many as registrations one account may usually hold
  offline: 200_000, // full JIDs known offline
});

export type PresenceLimits = { readonly [K in keyof typeof PRESENCE_LIMITS]: number };

/** What one resource said; the Set is made at its first refusal (most resources never refuse anything). */
interface Resource {
  refusals?: Set<number>;
  silent?: boolean; // did not answer a push in time: not asked again until its next presence
}

export class PresenceBook {
  private readonly offline = new Set<string>();
  /** bare -> full -> what it said; both maps in order of the last available presence (newest last). */
  private readonly accounts = new Map<string, Map<string, Resource>>();
  private readonly listeners: ((jid: string) => void)[] = [];

  constructor(private readonly limits: PresenceLimits = PRESENCE_LIMITS) {}

  available(jid: string): void {
    this.offline.delete(jid);
    const bare = bareJid(jid);
    const resources = this.accounts.get(bare) ?? new Map<string, Resource>();
    // A repeated presence of one session keeps its refusals (it is a sign of life, so not its silence); the order moves it last.
    const resource = resources.get(jid) ?? {};
    resource.silent = undefined;
    resources.delete(jid);
    resources.set(jid, resource);
    if (resources.size > this.limits.resourcesPerAccount) resources.delete(resources.keys().next().value!);
    this.accounts.delete(bare);
    this.accounts.set(bare, resources);
    if (this.accounts.size > this.limits.accounts) this.accounts.delete(this.accounts.keys().next().value!);
    for (const fn of this.listeners) fn(jid);
  }

  unavailable(jid: string): void {
    this.offline.delete(jid);
    this.offline.add(jid);
    if (this.offline.size > this.limits.offline) this.offline.delete(this.offline.values().next().value!);
    const bare = bareJid(jid);
    const resources = this.accounts.get(bare);
    resources?.delete(jid);
    if (resources?.size === 0) this.accounts.delete(bare);
  }

  isKnownOffline = (jid: string): boolean => this.offline.has(jid);

  /** Full JIDs of this account that sent available presence and are still there, newest first. */
  availableResources(bare: string): string[] {
    return [...(this.accounts.get(bare)?.keys() ?? [])].reverse();
  }

  /** `jid` answered that registration `reg` is not one of its apps: do not ask it again this session. */
  refused(jid: string, reg: number): void {
    const resource = this.accounts.get(bareJid(jid))?.get(jid);
    if (!resource) return;
    const refusals = (resource.refusals ??= new Set<number>());
    refusals.add(reg);
    if (refusals.size > this.limits.refusalsPerResource) refusals.delete(refusals.values().next().value!);
  }

  hasRefused = (jid: string, reg: number): boolean => this.accounts.get(bareJid(jid))?.get(jid)?.refusals?.has(reg) ?? false;

  /** `jid` did not answer a push in time: not asked again until it sends presence. */
  silent(jid: string): void {
    const resource = this.accounts.get(bareJid(jid))?.get(jid);
    if (resource) resource.silent = true;
  }

  isSilent = (jid: string): boolean => this.accounts.get(bareJid(jid))?.get(jid)?.silent === true;

  /** Called with the full JID whenever a distributor says it is available. */
  onAvailable(fn: (jid: string) => void): void {
    this.listeners.push(fn);
  }

  /** After the component link drops, what we knew is stale. */
  clear(): void {
    this.offline.clear();
    this.accounts.clear();
  }
}
