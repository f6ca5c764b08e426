// The PostgreSQL store as the admin tool opens it: at the schema it finds,
// never migrated except by `migrate` (which, like SQLite's, refuses while a
// gateway is connected), without the change listener: the tool keeps no
// cache, and its writes (revoke, purge-expired) reach every gateway's cache
// through the database's own trigger (migration 4).
import pg from "pg";
import { redactDbUrl } from "../../config.ts";
import { AdminOpenError, type AdminStore } from "../admin.ts";
import { PgEndpointCache } from "./cache.ts";
import { PG_TYPES } from "./index.ts";
import { PgListener } from "./listener.ts";
import { migrate, type Migrated } from "./migrate.ts";
import { PG_MIGRATIONS } from "./migrations.ts";
import { pgQueue } from "./queue.ts";
import { pgRegistrations } from "./registrations.ts";
import { sqlState } from "./tx.ts";
import { MaybeWaiting } from "./waiting.ts";

export const PG_SCHEMA_VERSION = PG_MIGRATIONS.length;
/** Every connection of the admin tool says so: gatewaySessions() does not count them. */
export const ADMIN_APPLICATION = "up-gateway-admin";
const CONNECT_TIMEOUT_MS = 5_000;

const UNDEFINED_TABLE = "42P01";
const UNDEFINED_COLUMN = "42703";

/** An error's message, never with the URL's password in it (pg does not put it there; this makes sure). */
export function pgErrorText(err: unknown, url: string): string {
  const code = (err as { code?: string }).code;
  const message = (err as Error).message || code || String(err); // a refused connect on several addresses is an AggregateError without a message
  let password = "";
  try {
    password = decodeURIComponent(new URL(url).password);
  } catch {
    // an unparsable URL was refused by the config already
  }
  // A system error's code (ECONNREFUSED) says more than some of their messages; a SQLSTATE is left out.
  const text = code?.startsWith("E") && !message.includes(code) ? `${code} ${message}` : message;
  return password ? text.split(password).join("***") : text;
}

export function adminClient(url: string): pg.Client {
  const c = new pg.Client({ connectionString: url, types: PG_TYPES, application_name: ADMIN_APPLICATION, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  c.on("error", () => {}); // a failure rejects the query in progress, handled by the caller
  return c;
}

/** The applied schema version, or null when the database has no schema yet. */
export async function pgSchemaVersion(c: pg.ClientBase | pg.Pool): Promise<number | null> {
  const { rows } = await c.query<{ has: boolean }>("SELECT to_regclass('schema_migrations') IS NOT NULL AS has");
  if (!rows[0]!.has) return null;
  return (await c.query<{ v: number }>("SELECT coalesce(max(version), 0)::int AS v FROM schema_migrations")).rows[0]!.v;
}

export const noSchemaYet = "no schema yet: the gateway creates it when it first starts (or run 'up-gateway-admin migrate')";
export const newerPgSchema = (found: number): string =>
  `database schema version ${found} is newer than this admin tool knows (${PG_SCHEMA_VERSION}): upgrade the admin tool`;

export async function openPgAdmin(url: string): Promise<AdminStore> {
  const where = redactDbUrl(url);
  const pool = new pg.Pool({ connectionString: url, types: PG_TYPES, max: 2, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, application_name: ADMIN_APPLICATION });
  pool.on("error", () => {}); // an idle connection died: the next query says so
  let version: number | null;
  try {
    version = await pgSchemaVersion(pool);
  } catch (err) {
    await pool.end().catch(() => {});
    throw new AdminOpenError(`cannot connect to the database at ${where}: ${pgErrorText(err, url)}`);
  }
  const refuse = async (why: string): Promise<never> => {
    await pool.end().catch(() => {});
    throw new AdminOpenError(`database ${where}: ${why}`);
  };
  if (version === null) return refuse(noSchemaYet);
  if (version > PG_SCHEMA_VERSION) return refuse(newerPgSchema(version));
  const found = version;
  // Never started: lookups would bypass the cache, and the tool does none.
  const listener = new PgListener({ url, channels: [] });
  const queue = pgQueue(pool, new MaybeWaiting(listener));
  return {
    backend: "postgres",
    where,
    version: found,
    registrations: pgRegistrations(pool, new PgEndpointCache(listener)),
    queue: { depth: queue.depth, count: queue.count },
    olderSchema(err) {
      const code = sqlState(err);
      if (code !== UNDEFINED_TABLE && code !== UNDEFINED_COLUMN) return undefined;
      return `this command needs a newer schema than the database's (version ${found}; this admin tool's is ${PG_SCHEMA_VERSION}): restart a gateway (it migrates when it starts), or stop them all and run 'up-gateway-admin migrate' (${pgErrorText(err, url)})`;
    },
    close: () => pool.end(),
  };
}

/** Gateways connected to this database now (pool, listener, link holder, migrating), by application_name; never the admin tool. */
export async function gatewaySessions(c: pg.ClientBase): Promise<number> {
  const { rows } = await c.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity
     WHERE datname = current_database() AND pid <> pg_backend_pid()
       AND application_name LIKE 'up-gateway%' AND application_name NOT LIKE $1`,
    [`${ADMIN_APPLICATION}%`],
  );
  return rows[0]!.n;
}

export const GATEWAYS_CONNECTED = (n: number): string =>
  `${n} gateway connection(s) to this database (pg_stat_activity, application_name up-gateway*): stop every gateway first`;

export type PgMigrateResult = { ok: true; migrated: Migrated } | { ok: false; error: string };

/** `admin migrate` on PostgreSQL: only while no gateway is connected, under the migrations' advisory lock (migrate.ts). */
export async function pgMigrateAlone(url: string): Promise<PgMigrateResult> {
  const c = adminClient(url);
  try {
    await c.connect();
  } catch (err) {
    return { ok: false, error: `cannot connect to the database at ${redactDbUrl(url)}: ${pgErrorText(err, url)}` };
  }
  try {
    const found = await pgSchemaVersion(c);
    if (found !== null && found > PG_SCHEMA_VERSION) return { ok: false, error: newerPgSchema(found) };
    const n = await gatewaySessions(c);
    if (n > 0) return { ok: false, error: `${GATEWAYS_CONNECTED(n)}; a gateway also migrates by itself when it starts` };
    return { ok: true, migrated: await migrate(c) };
  } catch (err) {
    return { ok: false, error: `${redactDbUrl(url)}: ${pgErrorText(err, url)}` };
  } finally {
    await c.end().catch(() => {});
  }
}
