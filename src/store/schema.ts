// Which schema a database has, and who may change it. Only the gateway at
// start (openDb) and `up-gateway-admin migrate` run migrations; every other
// admin command opens the database at the schema it finds (refusing only a
// newer one), so an admin tool newer than the running gateway cannot upgrade
// the schema under it.
import Database from "better-sqlite3";
import type { Db } from "./db.ts";
import { MIGRATIONS } from "./migrations.ts";

/** The schema this version of the code reads and writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** The database's schema is not one this code can use; the gateway exits 78 on it. */
export class SchemaError extends Error {
  constructor(message: string, readonly found: number) {
    super(message);
    this.name = "SchemaError";
  }
}

export const schemaVersion = (db: Db): number => db.pragma("user_version", { simple: true }) as number;

/** The refusal of a schema newer than this code, in the words every caller uses (db.ts checkDb too). */
export const newer = (found: number, who: string): SchemaError =>
  new SchemaError(`database schema version ${found} is newer than this ${who} knows (${SCHEMA_VERSION}): upgrade the ${who}`, found);

/**
 * Brings the schema up to SCHEMA_VERSION, one transaction per step; refuses a
 * newer one. Foreign keys are off meanwhile and checked before each commit:
 * SQLite's documented way to rebuild a table (lang_altertable.html#otheralter,
 * migration 6), as the pragma cannot change inside a transaction.
 */
export function migrate(db: Db): void {
  const current = schemaVersion(db);
  if (current > SCHEMA_VERSION) throw newer(current, "gateway");
  if (current === SCHEMA_VERSION) return;
  const fk = db.pragma("foreign_keys", { simple: true }) as number;
  db.pragma("foreign_keys = OFF");
  try {
    for (let v = current; v < SCHEMA_VERSION; v++) {
      db.transaction(() => {
        db.exec(MIGRATIONS[v]!);
        const broken = db.pragma("foreign_key_check") as unknown[];
        if (broken.length > 0) throw new Error(`migration ${v + 1} leaves ${broken.length} rows whose foreign key points nowhere`);
        db.pragma(`user_version = ${v + 1}`);
      })();
    }
  } finally {
    db.pragma(`foreign_keys = ${fk ? "ON" : "OFF"}`);
  }
}

/**
 * For admin commands: the schema as found, which they never write. A newer one
 * is refused (its meaning is unknown here); an older one is used as it is, so
 * the tool works between an upgrade and the gateway's restart. Returns it.
 */
export function requireKnownSchema(db: Db): number {
  const found = schemaVersion(db);
  if (found > SCHEMA_VERSION) throw newer(found, "admin tool");
  return found;
}

/** Said when a command needs a table or column that a newer migration adds. */
export const needsNewerSchema = (found: number): string =>
  `this command needs a newer schema than the database's (version ${found}; this admin tool's is ${SCHEMA_VERSION}): restart the gateway (it migrates when it starts), or stop it and run 'up-gateway-admin migrate'`;

export type MigrateResult = { ok: true; from: number; to: number } | { ok: false; error: string };

/**
 * `admin migrate`: migrates only while no other process has the database open.
 * A WAL connection holds a shared lock on the database file for as long as it
 * is open (SQLite's own test for "last connection" on close), and the gateway
 * keeps its connection open from start to stop. So an exclusive lock, taken
 * without waiting, is granted only when no gateway (and no other admin
 * command) is connected; holding it, no gateway can start meanwhile.
 */
export function migrateAlone(path: string): MigrateResult {
  const db = new Database(path, { fileMustExist: true, timeout: 0 });
  try {
    const from = schemaVersion(db);
    if (from > SCHEMA_VERSION) return { ok: false, error: newer(from, "admin tool").message };
    db.pragma("locking_mode = EXCLUSIVE");
    try {
      db.exec("BEGIN EXCLUSIVE");
      db.exec("COMMIT");
    } catch (err) {
      if ((err as { code?: string }).code !== "SQLITE_BUSY") throw err;
      return { ok: false, error: "another process has the database open (a running gateway, or an admin command): stop the gateway first; it also migrates by itself when it starts" };
    }
    db.pragma("journal_mode = WAL");
    db.pragma("foreign_keys = ON");
    migrate(db);
    return { ok: true, from, to: schemaVersion(db) };
  } finally {
    db.close();
  }
}
