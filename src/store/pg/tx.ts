// One transaction on one pooled connection. A connection that failed during
// the transaction is destroyed rather than returned to the pool.
import type pg from "pg";

export async function inTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  let broken: Error | undefined;
  try {
    await c.query("BEGIN");
    const out = await fn(c);
    await c.query("COMMIT");
    return out;
  } catch (err) {
    await c.query("ROLLBACK").catch((e: Error) => (broken = e));
    throw err;
  } finally {
    c.release(broken);
  }
}

/** SQLSTATE of a PostgreSQL error, if it is one. */
export const sqlState = (err: unknown): string | undefined => (err as { code?: string }).code;
