// Brings a PostgreSQL schema up to date, safely when several gateways start
// at once on an empty database: a session advisory lock lets one migrate
// while the others wait, then they find nothing left to do. Each migration
// commits with its schema_migrations row, so a crash between two leaves a
// consistent version; the session lock goes with a dead connection.
import type pg from "pg";
import { LOCK_CLASS, MIGRATION_LOCK } from "./locks.ts";
import { PG_MIGRATIONS } from "./migrations.ts";

export interface Migrated {
  from: number;
  to: number;
}

export async function migrate(client: pg.ClientBase, migrations: readonly string[] = PG_MIGRATIONS): Promise<Migrated> {
  await client.query("SELECT pg_advisory_lock($1, $2)", [LOCK_CLASS, MIGRATION_LOCK]);
  try {
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         version    integer PRIMARY KEY,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await client.query<{ v: number }>("SELECT coalesce(max(version), 0)::int AS v FROM schema_migrations");
    const from = rows[0]!.v;
    if (from > migrations.length) {
      throw new Error(`database schema version ${from} is newer than this gateway knows (${migrations.length}); upgrade the gateway`);
    }
    for (let v = from; v < migrations.length; v++) {
      await client.query("BEGIN");
      try {
        await client.query(migrations[v]!);
        await client.query("INSERT INTO schema_migrations (version) VALUES ($1)", [v + 1]);
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK").catch(() => {});
        throw err;
      }
    }
    return { from, to: migrations.length };
  } finally {
    await client.query("SELECT pg_advisory_unlock($1, $2)", [LOCK_CLASS, MIGRATION_LOCK]).catch(() => {});
  }
}
