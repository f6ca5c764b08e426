// One transaction on one pooled connection. A connection that failed during
// the transaction is destroyed rather than returned to the pool.
import type pg from "pg";

export async function inTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  let broken: Error | undefined;
  // A checked-out client has no 'error' listener of the pool's: a server that
  // ends the connection between two statements (a restart, kill -9) would
  // otherwise be an unhandled 'error' event, which ends the process. The
  // statement in progress rejects by itself; this only keeps the news.
  const onError = (err: Error): void => {
    broken = err;
  };
  c.on("error", onError);
  try {
    await c.query("BEGIN");
    const out = await fn(c);
    await c.query("COMMIT");
    return out;
  } catch (err) {
    await c.query("ROLLBACK").catch((e: Error) => (broken = e));
    throw err;
  } finally {
    c.off("error", onError);
    c.release(broken);
  }
}

/** SQLSTATE of a PostgreSQL error, if it is one. */
export const sqlState = (err: unknown): string | undefined => (err as { code?: string }).code;
