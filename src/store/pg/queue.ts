// The store-and-forward queue in PostgreSQL: the same queries as ../queue.ts.
import type pg from "pg";
import type { EnqueueResult, Head, Queue } from "../store.ts";
import { isStoreFault } from "../faults.ts";
import { inTransaction, sqlState } from "./tx.ts";
import type { MaybeWaiting } from "./waiting.ts";

const FOREIGN_KEY_VIOLATION = "23503";
/**
 * Live messages of one registration. The expiry test is a FILTER, not a
 * WHERE condition: with both in WHERE the planner ANDs a bitmap of
 * queue_order with one of queue_expiry, and nearly every queued row is
 * unexpired, so each count read the expiry index of the whole queue: an
 * enqueue cost grew with the queue of every registration (5,000 queued:
 * 7.5 ms instead of 0.1 ms). Read through queue_order only, it costs what
 * this registration holds, as on SQLite.
 */
const LIVE_COUNT = "SELECT count(*) FILTER (WHERE expires_at > $2) AS n FROM queue WHERE registration = $1";
/** Delivered messages whose delete waits for the database to come back, at most (as ../queue.ts). */
const MAX_UNDELETED = 100_000;

export function pgQueue(pool: pg.Pool, waiting: MaybeWaiting): Queue {
  const ids = async (sql: string, params: unknown[]): Promise<number[]> =>
    (await pool.query<{ id: number }>(sql, params)).rows.map((r) => r.id);
  const count = async (sql: string, params: unknown[]): Promise<number> => (await pool.query<{ n: number }>(sql, params)).rows[0]!.n;
  // Rows delivered (IQ result) whose delete failed while the database was
  // unreachable: never handed out again by this gateway, deleted once it
  // answers. Another gateway may still hand one out: at least once, as after a crash.
  const undeleted = new Set<number>();
  const del = async (id: number, registration?: number): Promise<boolean> =>
    ((await (registration === undefined
      ? pool.query("DELETE FROM queue WHERE id = $1", [id])
      : pool.query("DELETE FROM queue WHERE id = $1 AND registration = $2", [id, registration]))).rowCount ?? 0) > 0;
  const retryRemovals = async (): Promise<void> => {
    for (const id of undeleted) {
      await del(id);
      undeleted.delete(id);
    }
  };

  return {
    async enqueue(m, max) {
      try {
        const r = await inTransaction(pool, async (c): Promise<EnqueueResult> => {
          // Locking the registration row serializes the enqueues of one
          // registration across gateways (so its ids are drawn and committed
          // in delivery order, and the bound holds) and holds off a revoke
          // until this commits; a revoked registration has no row to lock.
          const reg = await c.query("SELECT 1 FROM registrations WHERE id = $1 FOR NO KEY UPDATE", [m.registration]);
          if (reg.rowCount === 0) return { ok: false, reason: "gone" };
          const old =
            m.topic === null
              ? undefined
              : (await c.query<{ id: number; expires_at: number }>("SELECT id, expires_at FROM queue WHERE registration = $1 AND topic = $2", [m.registration, m.topic])).rows[0];
          const oldLive = old !== undefined && old.expires_at > m.created_at ? 1 : 0;
          const live = (await c.query<{ n: number }>(LIVE_COUNT, [m.registration, m.created_at])).rows[0]!.n;
          if (live - oldLive >= max) return { ok: false, reason: "full" };
          if (old) await c.query("DELETE FROM queue WHERE id = $1", [old.id]);
          const { rows } = await c.query<{ id: number }>(
            `INSERT INTO queue (registration, payload, ttl, topic, urgency, content_encoding, vapid_key, public_id, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
            [m.registration, m.payload, m.ttl, m.topic, m.urgency, m.content_encoding, m.vapid_key, m.public_id ?? null, m.created_at, m.expires_at],
          );
          return { ok: true, id: rows[0]!.id, replaced: old !== undefined };
        });
        if (r.ok) waiting.added(m.registration); // at once; the trigger's notification follows
        return r;
      } catch (err) {
        if (sqlState(err) === FOREIGN_KEY_VIOLATION) return { ok: false, reason: "gone" };
        throw err;
      }
    },
    async hasWaiting(registration, now) {
      if (!waiting.mayHave(registration)) return false;
      const mark = waiting.mark(registration);
      const live = (await pool.query("SELECT 1 FROM queue WHERE registration = $1 AND expires_at > $2 LIMIT 1", [registration, now])).rowCount! > 0;
      if (!live) waiting.settled(registration, mark);
      return live;
    },
    count: (registration, now) => count(LIVE_COUNT, [registration, now]),
    head: async (registration, now) =>
      (
        await pool.query<Head>(
          `SELECT q.id, q.registration, q.payload, q.ttl, q.topic, q.urgency, q.content_encoding, q.vapid_key, q.public_id, q.created_at, q.expires_at, r.endpoint
           FROM queue q JOIN registrations r ON r.id = q.registration
           WHERE q.registration = $1 AND q.expires_at > $2 AND NOT (q.id = ANY($3::bigint[])) ORDER BY q.id LIMIT 1`,
          [registration, now, [...undeleted]],
        )
      ).rows[0],
    async remove(id, registration) {
      try {
        return await del(id, registration);
      } catch (err) {
        if (!isStoreFault(err)) throw err;
        undeleted.add(id);
        if (undeleted.size > MAX_UNDELETED) undeleted.delete(undeleted.values().next().value!);
        return true;
      }
    },
    async cancel(publicId, now) {
      const { rows } = await pool.query<{ id: number; expires_at: number }>("DELETE FROM queue WHERE public_id = $1 RETURNING id, expires_at", [publicId]);
      const row = rows[0];
      if (row !== undefined && undeleted.delete(row.id)) return "gone"; // delivered while the database was away
      return row !== undefined && row.expires_at > now ? "cancelled" : "gone";
    },
    retryRemovals,
    async expire(now) {
      if (undeleted.size > 0) await retryRemovals();
      return (await pool.query("DELETE FROM queue WHERE expires_at <= $1", [now])).rowCount ?? 0;
    },
    waiting: (now) => ids("SELECT DISTINCT registration AS id FROM queue WHERE expires_at > $1", [now]),
    waitingFor: (bare, now) =>
      ids(
        `SELECT DISTINCT r.id FROM registrations r JOIN queue q ON q.registration = r.id
         WHERE r.bare = $1 AND q.expires_at > $2`,
        [bare, now],
      ),
    depth: () => count("SELECT count(*) AS n FROM queue", []),
  };
}
