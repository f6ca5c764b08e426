// The admin commands: each reads or changes the store and returns data; the
// CLI prints it as a table or as JSON. One code path for both backends
// (src/store/admin.ts). Works beside a running gateway: it looks every push up
// in the same SQLite file (WAL), or is told by PostgreSQL's trigger, so a
// revoke takes effect at once.
import { bareJid } from "../jid.ts";
import { DIALECT_LABEL } from "../metrics.ts";
import type { AdminStore } from "../store/admin.ts";
import type { Registration } from "../store/store.ts";
import { short } from "./format.ts";

export interface AdminDeps {
  store: AdminStore["registrations"];
  queue: AdminStore["queue"];
  now: () => number;
  publicUrl?: string; // known when the tool was given the config
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: string };

const DAY_MS = 86_400_000;
export const MIN_PREFIX = 6; // characters of an endpoint token that name it on the command line

export async function stats(d: AdminDeps) {
  const now = d.now();
  const live = await d.store.countLiveByDialect(now);
  const s = await d.store.summary(now, now + DAY_MS);
  return {
    registrations: { [DIALECT_LABEL[1]]: live[1], [DIALECT_LABEL[2]]: live[2], live: live[1] + live[2], expired: s.expired, expiringWithin24h: s.expiring },
    accounts: s.accounts,
    queuedMessages: await d.queue.depth(),
  };
}

export type Listed = ReturnType<typeof listed>;

/** A registration as listings show it: the endpoint shortened. */
export function listed(r: Registration, now: number) {
  return {
    id: r.id,
    endpoint: short(r.endpoint),
    dialect: DIALECT_LABEL[r.dialect],
    jid: r.jid,
    created: new Date(r.created_at).toISOString(),
    renewed: new Date(r.renewed_at).toISOString(),
    expires: r.expires_at === null ? null : new Date(r.expires_at).toISOString(),
    expired: r.expires_at !== null && r.expires_at <= now,
  };
}

export async function list(d: AdminDeps, jid?: string): Promise<Listed[]> {
  const rows = await (jid === undefined ? d.store.all() : d.store.byBare(bareJid(jid)));
  return rows.map((r) => listed(r, d.now()));
}

/** One registration in full: the operator asked for this one, so the endpoint is shown whole. */
export async function show(d: AdminDeps, key: string) {
  const found = await find(d, key);
  if (!found.ok) return found;
  const r = found.value;
  const now = d.now();
  return {
    ok: true as const,
    value: {
      ...listed(r, now),
      endpoint: d.publicUrl ? `${d.publicUrl}/up/${r.endpoint}` : r.endpoint,
      account: r.bare,
      ...(r.dialect === 1 ? { token: short(r.token ?? "") } : { application: r.application, instance: r.instance }),
      queuedMessages: await d.queue.count(r.id, now),
    },
  };
}

export async function revoke(d: AdminDeps, key: string): Promise<Result<{ revoked: number; endpoint: string; jid: string }>> {
  const found = await find(d, key);
  if (!found.ok) return found;
  await d.store.revoke(found.value.endpoint);
  return { ok: true, value: { revoked: 1, endpoint: short(found.value.endpoint), jid: found.value.jid } };
}

/** Every registration of the account: a full JID counts as its bare JID, since registrations follow the account across resources. */
export async function revokeJid(d: AdminDeps, jid: string): Promise<Result<{ revoked: number; account: string }>> {
  const account = bareJid(jid);
  const revoked = await d.store.revokeAccount(account);
  return revoked > 0 ? { ok: true, value: { revoked, account } } : { ok: false, error: `no registrations for ${account}` };
}

export const purgeExpired = async (d: AdminDeps): Promise<{ purged: number }> => ({ purged: await d.store.sweepExpired(d.now()) });

/** An endpoint named by its URL, its token, or a unique prefix of the token (as `list` shows it). */
export async function find(d: AdminDeps, key: string): Promise<Result<Registration>> {
  let token = key.trim().replace(/…$/, "");
  const at = token.lastIndexOf("/up/");
  if (at >= 0) token = token.slice(at + "/up/".length);
  if (!/^[A-Za-z0-9_-]+$/.test(token)) return { ok: false, error: `${JSON.stringify(short(key))} is not an endpoint URL or token` };
  if (token.length < MIN_PREFIX) return { ok: false, error: `give at least ${MIN_PREFIX} characters of the endpoint token` };
  const matches = await d.store.byPrefix(token, 2);
  if (matches.length === 0) return { ok: false, error: `no registration with endpoint ${short(token)}` };
  if (matches.length > 1) return { ok: false, error: `${short(token)} matches more than one registration: give more of the token` };
  return { ok: true, value: matches[0]! };
}
