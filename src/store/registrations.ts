// SQL for the registrations table; no rules here, only storage.
import type { Db } from "./db.ts";
import { EndpointCache } from "./endpoint-cache.ts";

export type Dialect = 1 | 2;

export interface Registration {
  id: number;
  endpoint: string;
  dialect: Dialect;
  jid: string;
  bare: string;
  token: string | null;
  application: string | null;
  instance: string | null;
  created_at: number;
  renewed_at: number;
  expires_at: number | null;
  bounce_since: number | null; // dialect 1: start of the current run of bounced notifications (src/bounce/)
}

export type NewRegistration = Omit<Registration, "id" | "bounce_since">;

/** A value built on first call, then kept. */
function later<T>(build: () => T): () => T {
  let v: T | undefined;
  return () => (v ??= build());
}

export class RegistrationStore {
  private readonly q;
  private readonly cache: EndpointCache;

  constructor(private readonly db: Db) {
    const dataVersion = db.prepare<[], number>("PRAGMA data_version").pluck();
    this.cache = new EndpointCache(() => dataVersion.get()!);
    this.q = {
      byEndpoint: db.prepare<[string], Registration>("SELECT * FROM registrations WHERE endpoint = ?"),
      byD1: db.prepare<[string, string], Registration>("SELECT * FROM registrations WHERE dialect = 1 AND bare = ? AND token = ?"),
      byD2: db.prepare<[string, string, string], Registration>(
        "SELECT * FROM registrations WHERE dialect = 2 AND bare = ? AND application = ? AND instance = ?",
      ),
      byBare: db.prepare<[string], Registration>("SELECT * FROM registrations WHERE bare = ? ORDER BY id"),
      countByBare: db.prepare<[string], { n: number }>("SELECT count(*) AS n FROM registrations WHERE bare = ?"),
      insert: db.prepare(
        `INSERT INTO registrations (endpoint, dialect, jid, bare, token, application, instance, created_at, renewed_at, expires_at)
         VALUES (@endpoint, @dialect, @jid, @bare, @token, @application, @instance, @created_at, @renewed_at, @expires_at)`,
      ),
      // Prepared on first use: admin commands open older schemas as they find them
      // (schema.ts), where bounce_since (migration 5) does not exist; only a
      // migrated gateway writes it.
      renew: later(() =>
        db.prepare<[string, number, number | null, number]>(
          // registering again is a sign of life: a run of bounces ends (src/bounce/)
          "UPDATE registrations SET jid = ?, renewed_at = ?, expires_at = ?, bounce_since = NULL WHERE id = ?",
        ),
      ),
      bounceSince: later(() => db.prepare<[number | null, number]>("UPDATE registrations SET bounce_since = ? WHERE id = ?")),
      moveJid: db.prepare<[string, number, string]>("UPDATE registrations SET jid = ? WHERE id = ? AND jid = ?"),
      deleteEndpoint: db.prepare<[string]>("DELETE FROM registrations WHERE endpoint = ?"),
      deleteBare: db.prepare<[string]>("DELETE FROM registrations WHERE bare = ?"),
      deleteExpired: db.prepare<[number]>("DELETE FROM registrations WHERE expires_at IS NOT NULL AND expires_at <= ?"),
      // For the operator's tools and metrics (src/admin, src/metrics.ts).
      all: db.prepare<[], Registration>("SELECT * FROM registrations ORDER BY id"),
      byPrefix: db.prepare<{ prefix: string; limit: number }, Registration>(
        "SELECT * FROM registrations WHERE substr(endpoint, 1, length(@prefix)) = @prefix ORDER BY id LIMIT @limit",
      ),
      countLive: db.prepare<[number], { dialect: Dialect; n: number }>(
        "SELECT dialect, count(*) AS n FROM registrations WHERE expires_at IS NULL OR expires_at > ? GROUP BY dialect",
      ),
      summary: db.prepare<{ now: number; soon: number }, { expired: number; expiring: number; accounts: number }>(
        `SELECT count(*) FILTER (WHERE expires_at <= @now) AS expired,
                count(*) FILTER (WHERE expires_at > @now AND expires_at <= @soon) AS expiring,
                count(DISTINCT bare) AS accounts
         FROM registrations`,
      ),
    };
  }

  /** The one lookup on every POST: served from the cache (endpoint-cache.ts) when it can. */
  byEndpoint = (endpoint: string): Registration | undefined => this.cache.get(endpoint, (e) => this.q.byEndpoint.get(e));
  byD1 = (bare: string, token: string): Registration | undefined => this.q.byD1.get(bare, token);
  byD2 = (bare: string, application: string, instance: string): Registration | undefined =>
    this.q.byD2.get(bare, application, instance);
  byBare = (bare: string): Registration[] => this.q.byBare.all(bare);
  countByBare = (bare: string): number => this.q.countByBare.get(bare)!.n;

  insert(r: NewRegistration): Registration {
    const info = this.q.insert.run(r);
    return { ...r, id: Number(info.lastInsertRowid), bounce_since: null };
  }

  renew(id: number, jid: string, now: number, expiresAt: number | null): void {
    this.cache.forgetId(id);
    this.q.renew().run(jid, now, expiresAt, id);
  }

  /** Dialect 1: when the current run of bounces began, or null when it ended. */
  setBounceSince(id: number, since: number | null): void {
    this.cache.forgetId(id);
    this.q.bounceSince().run(since, id);
  }

  /** The device answered from another resource: pushes go there now (the lifetime is unchanged). Only if it is still at `from`; returns rows changed. */
  moveJid(id: number, from: string, to: string): number {
    this.cache.forgetId(id);
    return this.q.moveJid.run(to, id, from).changes;
  }

  /** Returns how many rows went. */
  deleteEndpoint = (endpoint: string): number => {
    this.cache.forget(endpoint);
    return this.q.deleteEndpoint.run(endpoint).changes;
  };
  deleteBare = (bare: string): number => this.cleared(this.q.deleteBare.run(bare).changes);
  deleteExpired = (now: number): number => this.cleared(this.q.deleteExpired.run(now).changes);

  /** After a delete of several rows: rarer than pushes, so the whole cache goes. */
  private cleared(changes: number): number {
    if (changes > 0) this.cache.clear();
    return changes;
  }

  all = (): Registration[] => this.q.all.all();
  /** Registrations whose endpoint token starts with `prefix`, at most `limit` of them. */
  byPrefix = (prefix: string, limit: number): Registration[] => this.q.byPrefix.all({ prefix, limit });

  /** Registrations per dialect, without those past their expiry that the sweep has not removed yet. */
  countLiveByDialect = (now: number): Record<Dialect, number> => {
    const out: Record<Dialect, number> = { 1: 0, 2: 0 };
    for (const row of this.q.countLive.all(now)) out[row.dialect] = row.n;
    return out;
  };

  /** Expired (not yet purged), expiring by `soon`, and distinct accounts (bare JIDs). */
  summary = (now: number, soon: number): { expired: number; expiring: number; accounts: number } => this.q.summary.get({ now, soon })!;

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }
}
