// The PostgreSQL store: several gateways share one database (docs/high-availability.md).
//
// Client library: `pg` (node-postgres) 8.23.1, chosen over `postgres`
// (porsager) 3.4.9. Both support Node 20 (engines >=16 and >=12) and are
// maintained (releases in 2026); pg is by far the most used, with its pool
// (pg-pool) in the same repository and types on DefinitelyTyped.
// - Pooling: pg's Pool hands out one connection explicitly (pool.connect()),
//   so a transaction's statements are visibly on one session; a dedicated
//   pg.Client outside the pool holds what lives in a session (the link
//   holder's advisory lock, LISTEN). postgres.js pools implicitly
//   (sql.begin / sql.reserve).
// - A dropped connection: pg says so. A query in flight rejects; an idle
//   pooled client that dies is dropped and the pool emits 'error' (handled
//   below, else the process would crash); a Client emits 'error' and 'end'.
//   postgres.js reconnects by itself, good for queries but it hides what the
//   leader must know at once: its session, and so its lock, is gone.
// - LISTEN/NOTIFY: both (pg: 'notification' events on a dedicated client we
//   reconnect ourselves, listener.ts, so the in-memory views know exactly
//   when they may have missed some).
// - TCP keepalives: both set only the idle delay (keepAlive,
//   keepAliveInitialDelayMillis here; keep_alive there): Node 20 cannot set
//   the probe interval or count, so the leader also heartbeats and sets the
//   server's tcp_keepalives_* for its session (src/cluster/leader.ts).
// - Bounded waits when the server vanishes: connectionTimeoutMillis and
//   query_timeout, so every POST is still answered within its budget.
import pg from "pg";
import type { Logger } from "../../log.ts";
import type { Store } from "../store.ts";
import { PgEndpointCache, REGISTRATIONS_CHANNEL } from "./cache.ts";
import { PgListener } from "./listener.ts";
import { MaybeWaiting, QUEUE_CHANNEL } from "./waiting.ts";
import { migrate, type Migrated } from "./migrate.ts";
import { pgQueue } from "./queue.ts";
import { pgRegistrations } from "./registrations.ts";

const INT8 = 20;
/**
 * bigint columns (ids, ms timestamps, count(*)) as numbers, as SQLite gives
 * them: every value we store is below 2^53 (ms timestamps until year 287396).
 */
export const PG_TYPES = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as "text")) as pg.CustomTypesConfig["getTypeParser"],
};

export interface PgStoreOptions {
  url: string;
  log?: Logger;
  poolSize?: number;
  connectTimeoutMs?: number;
  queryTimeoutMs?: number;
}

export const PG_DEFAULTS = {
  poolSize: 10,
  connectTimeoutMs: 2_000, // a POST waits at most this for a connection
  queryTimeoutMs: 3_000, // and this for its query, when the server stops answering
  keepAliveDelayMs: 10_000,
} as const;

export interface PgStore extends Store {
  readonly backend: "postgres";
  readonly pool: pg.Pool;
  readonly migrated: Migrated;
  readonly cache: PgEndpointCache;
  readonly waiting: MaybeWaiting;
}

/** Connects, migrates (safe when several instances do it at once) and returns the store. */
export async function openPgStore(o: PgStoreOptions): Promise<PgStore> {
  const migrated = await migrateUrl(o.url);
  const pool = new pg.Pool({
    connectionString: o.url,
    types: PG_TYPES,
    max: o.poolSize ?? PG_DEFAULTS.poolSize,
    connectionTimeoutMillis: o.connectTimeoutMs ?? PG_DEFAULTS.connectTimeoutMs,
    query_timeout: o.queryTimeoutMs ?? PG_DEFAULTS.queryTimeoutMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: PG_DEFAULTS.keepAliveDelayMs,
    application_name: "up-gateway",
  });
  // An idle connection died (server restart, network): the pool drops it and
  // opens a new one on the next query. Unhandled, this event would crash us.
  pool.on("error", (err) => o.log?.warn({ err: { message: err.message, code: (err as { code?: string }).code } }, "postgres connection lost"));
  // A connection that dies while checked out (in a transaction between two queries, or pool.query's
  // once-only listener already spent) emits 'error' on the client itself, where the pool listens no
  // more: unhandled, one server restart would crash every gateway. The query in progress, or the next
  // one, fails on its own and the connection is dropped on release (tx.ts).
  pool.on("connect", (client) => client.on("error", () => {}));
  const listener = new PgListener({ url: o.url, channels: [REGISTRATIONS_CHANNEL, QUEUE_CHANNEL], ...(o.log && { log: o.log }) });
  const cache = new PgEndpointCache(listener);
  const waiting = new MaybeWaiting(listener);
  await listener.start();
  return {
    backend: "postgres",
    pool,
    migrated,
    cache,
    waiting,
    registrations: pgRegistrations(pool, cache),
    queue: pgQueue(pool, waiting),
    // txid_current() needs a transaction id: it fails on a read-only server (a standby in recovery, default_transaction_read_only).
    probe: async () => void (await pool.query("SELECT txid_current()")),
    async close() {
      await listener.close();
      await pool.end();
    },
  };
}

/** Migrations on their own connection, with no query timeout (a migration may take long). */
export async function migrateUrl(url: string): Promise<Migrated> {
  const client = new pg.Client({ connectionString: url, types: PG_TYPES, application_name: "up-gateway-migrate" });
  client.on("error", () => {}); // a failure rejects the query in progress, handled by the caller
  await client.connect();
  try {
    return await migrate(client);
  } finally {
    await client.end().catch(() => {});
  }
}
