// Registrations in PostgreSQL: the same queries as ../registrations.ts, with
// the endpoint cache (cache.ts) in front of the lookup on every POST. Writes
// here forget what they changed once they are committed (so a lookup that
// raced them is not kept either); other writers' changes arrive by NOTIFY.
import type pg from "pg";
import type { Dialect, Registration, Registrations, UpsertRequest, UpsertResult } from "../store.ts";
import type { PgEndpointCache } from "./cache.ts";
import { LOCK_CLASS_ACCOUNT } from "./locks.ts";
import { inTransaction } from "./tx.ts";

const COLUMNS = "id, endpoint, dialect, jid, bare, token, application, instance, created_at, renewed_at, expires_at, bounce_since";

export function pgRegistrations(pool: pg.Pool, cache: PgEndpointCache): Registrations {
  const rows = async (sql: string, params: unknown[] = []): Promise<Registration[]> =>
    (await pool.query<Registration>(sql, params)).rows;
  const one = async (sql: string, params: unknown[]): Promise<Registration | undefined> => (await rows(sql, params))[0];
  const changes = async (sql: string, params: unknown[]): Promise<number> => (await pool.query(sql, params)).rowCount ?? 0;
  const cleared = (n: number): number => {
    if (n > 0) cache.clear();
    return n;
  };
  const load = (endpoint: string) => one(`SELECT ${COLUMNS} FROM registrations WHERE endpoint = $1`, [endpoint]);

  return {
    async lookup(endpoint, now) {
      const reg = await cache.get(endpoint, load);
      return reg && reg.expires_at !== null && reg.expires_at <= now ? undefined : reg;
    },
    byD1: (bare, token) => one(`SELECT ${COLUMNS} FROM registrations WHERE dialect = 1 AND bare = $1 AND token = $2`, [bare, token]),
    byD2: (bare, application, instance) =>
      one(`SELECT ${COLUMNS} FROM registrations WHERE dialect = 2 AND bare = $1 AND application = $2 AND instance = $3`, [bare, application, instance]),
    byBare: (bare) => rows(`SELECT ${COLUMNS} FROM registrations WHERE bare = $1 ORDER BY id`, [bare]),
    async upsert(r) {
      const touched: number[] = [];
      try {
        return await inTransaction(pool, (c) => upsert(c, r, touched));
      } finally {
        for (const id of touched) cache.forgetId(id);
      }
    },
    async move(id, from, to) {
      const n = await changes("UPDATE registrations SET jid = $1 WHERE id = $2 AND jid = $3", [to, id, from]);
      cache.forgetId(id);
      return n > 0;
    },
    async setBounceSince(id, since) {
      await changes("UPDATE registrations SET bounce_since = $1 WHERE id = $2", [since, id]);
      cache.forgetId(id);
    },
    async revoke(endpoint) {
      const { rows: gone } = await pool.query<{ id: number }>("DELETE FROM registrations WHERE endpoint = $1 RETURNING id", [endpoint]);
      for (const { id } of gone) cache.forgetId(id);
      return gone.length > 0;
    },
    revokeAccount: async (bare) => cleared(await changes("DELETE FROM registrations WHERE bare = $1", [bare])),
    sweepExpired: async (now) => cleared(await changes("DELETE FROM registrations WHERE expires_at IS NOT NULL AND expires_at <= $1", [now])),
    all: () => rows(`SELECT ${COLUMNS} FROM registrations ORDER BY id`),
    byPrefix: (prefix, limit) => rows(`SELECT ${COLUMNS} FROM registrations WHERE starts_with(endpoint, $1) ORDER BY id LIMIT $2`, [prefix, limit]),
    async countLiveByDialect(now) {
      const out: Record<Dialect, number> = { 1: 0, 2: 0 };
      const { rows: counts } = await pool.query<{ dialect: Dialect; n: number }>(
        "SELECT dialect, count(*) AS n FROM registrations WHERE expires_at IS NULL OR expires_at > $1 GROUP BY dialect",
        [now],
      );
      for (const row of counts) out[row.dialect] = row.n;
      return out;
    },
    async summary(now, soon) {
      const { rows: s } = await pool.query<{ expired: number; expiring: number; accounts: number }>(
        `SELECT count(*) FILTER (WHERE expires_at <= $1) AS expired,
                count(*) FILTER (WHERE expires_at > $1 AND expires_at <= $2) AS expiring,
                count(DISTINCT bare) AS accounts
         FROM registrations`,
        [now, soon],
      );
      return s[0]!;
    },
  };
}

/**
 * The rules of ../store.ts UpsertResult, atomic across gateways: a
 * transaction-scoped advisory lock per account serializes every register of
 * one account, so find-or-insert cannot race and the bound is exact.
 */
async function upsert(c: pg.PoolClient, r: UpsertRequest, touched: number[]): Promise<UpsertResult> {
  await c.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [LOCK_CLASS_ACCOUNT, r.bare]);
  const found =
    r.dialect === 1
      ? await c.query<Registration>(`SELECT ${COLUMNS} FROM registrations WHERE dialect = 1 AND bare = $1 AND token = $2`, [r.bare, r.key.token])
      : await c.query<Registration>(`SELECT ${COLUMNS} FROM registrations WHERE dialect = 2 AND bare = $1 AND application = $2 AND instance = $3`, [
          r.bare, r.key.application, r.key.instance,
        ]);
  let existing = found.rows[0];
  if (existing && existing.expires_at !== null && existing.expires_at <= r.now) {
    await c.query("DELETE FROM registrations WHERE id = $1", [existing.id]);
    touched.push(existing.id);
    existing = undefined;
  }
  if (existing) {
    await c.query("UPDATE registrations SET jid = $1, renewed_at = $2, expires_at = $3, bounce_since = NULL WHERE id = $4", [r.jid, r.now, r.expiresAt, existing.id]);
    touched.push(existing.id);
    return { ok: true, fresh: false, reg: { ...existing, jid: r.jid, renewed_at: r.now, expires_at: r.expiresAt, bounce_since: null } };
  }
  const { rows: n } = await c.query<{ n: number }>("SELECT count(*) AS n FROM registrations WHERE bare = $1", [r.bare]);
  if (n[0]!.n >= r.maxPerAccount) return { ok: false, reason: "too-many" };
  const { rows: inserted } = await c.query<Registration>(
    `INSERT INTO registrations (endpoint, dialect, jid, bare, token, application, instance, created_at, renewed_at, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9) RETURNING ${COLUMNS}`,
    [r.mint(), r.dialect, r.jid, r.bare, r.key.token, r.key.application, r.key.instance, r.now, r.expiresAt],
  );
  return { ok: true, fresh: true, reg: inserted[0]! };
}
