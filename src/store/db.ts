// Opens the SQLite database and brings its schema up to date (schema.ts).
import { accessSync, constants, existsSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { migrate, newer, SCHEMA_VERSION, SchemaError, schemaVersion } from "./schema.ts";

export { migrate } from "./schema.ts";

export type Db = Database.Database;

/** The database cannot be used: a message for the operator, naming the file, the key and what to do. */
export class DbOpenError extends Error {
  constructor(readonly file: string, problem: string, fix: string) {
    super(`[database] path = ${JSON.stringify(file)}: ${problem}; ${fix}`);
    this.name = "DbOpenError";
  }
}

/**
 * How long a statement waits for another connection's lock (an admin command,
 * a backup). better-sqlite3 is synchronous: the wait blocks the event loop,
 * every POST and every IQ answer with it, so it stays well below
 * [push] answer_within (0.5 s at least). Past it SQLITE_BUSY is a store fault
 * (faults.ts): the POST is answered 503 with Retry-After, never 500, and the
 * health probe clears the fault once the lock is gone. Admin commands hold
 * their write locks for milliseconds.
 */
export const BUSY_MS = 250;
/** At start (migrations, the first probe) nothing is answered yet: wait longer for an admin command to finish. */
const START_BUSY_MS = 5000;
/**
 * The probe's own wait: it runs on the gateway's one connection in the event
 * loop's turn (/healthz, the health timer), so a lock held by another process
 * must not freeze every request for BUSY_MS. A busy probe says nothing (health.ts).
 */
const PROBE_BUSY_MS = 100;

const FIX_ACCESS = "give the gateway's user read and write access to the file and its directory (and check the file system is mounted read-write)";

/**
 * One small write that surely writes a page (it changes the one store_probe
 * row): the only proof that a failing store writes again (health.ts).
 */
export function writeProbe(db: Db, at = Date.now(), busyMs = PROBE_BUSY_MS): void {
  db.pragma(`busy_timeout = ${busyMs}`);
  try {
    db.prepare("INSERT OR REPLACE INTO store_probe (id, at) VALUES (1, ?)").run(at);
  } finally {
    db.pragma(`busy_timeout = ${BUSY_MS}`);
  }
}

/**
 * WAL with synchronous=NORMAL: a commit reaches the WAL file before the HTTP
 * answer is written, so a crash of the process (kill -9) loses nothing that
 * was answered; only a power loss can take the last commits, and FULL would
 * cost an fsync per push on the hot path.
 */
export function openDb(path: string, opts: { migrate?: boolean } = {}): Db {
  let db: Db | undefined;
  try {
    db = new Database(path);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("foreign_keys = ON");
    db.pragma(`busy_timeout = ${BUSY_MS}`);
    // admin commands open the schema as they find it and write nothing to it (schema.ts)
    if (opts.migrate === false) return db;
    db.pragma(`busy_timeout = ${START_BUSY_MS}`);
    migrate(db);
    // SQLite falls back to read-only when it cannot open the file for writing: find out now, not on the first push.
    writeProbe(db, Date.now(), START_BUSY_MS); // and sets BUSY_MS back
    return db;
  } catch (err) {
    db?.close();
    throw classifyOpenError(path, err);
  }
}

/** Why a database cannot be opened, in the operator's words (the original error as its cause); a bug stays itself. */
export function classifyOpenError(path: string, err: unknown): Error {
  const e = describeOpenError(path, err);
  if (e instanceof DbOpenError) e.cause = err;
  return e;
}

function describeOpenError(path: string, err: unknown): Error {
  const code = (err as { code?: unknown }).code;
  const message = (err as Error).message ?? String(err);
  if (!existsSync(dirname(path))) {
    return new DbOpenError(path, `the directory ${JSON.stringify(dirname(path))} does not exist`, "create it (owned by the gateway's user) or fix [database] path");
  }
  // migrate()'s refusals (a schema newer than this version knows) carry their reason in the message
  if (err instanceof SchemaError) return new DbOpenError(path, message, "or point [database] path at a database of this version");
  if (typeof code !== "string" || !code.startsWith("SQLITE_")) return err instanceof Error ? err : new Error(message);
  if (code === "SQLITE_NOTADB") return new DbOpenError(path, "this file is not an SQLite database", "point [database] path at the gateway's database, or move the file away to start with an empty one");
  if (code.startsWith("SQLITE_CORRUPT")) return new DbOpenError(path, "the database is damaged", "restore it from a backup (sqlite3 FILE .recover may save what is left)");
  if (code === "SQLITE_FULL") return new DbOpenError(path, "the disk is full", "free space on its file system");
  if (code.startsWith("SQLITE_BUSY")) return new DbOpenError(path, "another process holds the database locked", "stop it (another gateway on the same file?) and start again");
  if (code.startsWith("SQLITE_READONLY") || code.startsWith("SQLITE_CANTOPEN") || code === "SQLITE_PERM" || code.startsWith("SQLITE_IOERR")) {
    return new DbOpenError(path, `the gateway cannot read and write it (${message})`, FIX_ACCESS);
  }
  return new DbOpenError(path, message, "fix the file or point [database] path elsewhere");
}

/**
 * What `--check-config` can tell without changing anything: the problems
 * openDb() would hit, found by looking. The directory must be writable even
 * when the file exists: WAL mode creates the -wal and -shm files beside it.
 */
export function checkDb(path: string): void {
  const dir = dirname(path);
  const access = (p: string, what: string): void => {
    try {
      accessSync(p, constants.R_OK | constants.W_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new DbOpenError(path, `the gateway cannot ${what} (${code})`, FIX_ACCESS);
    }
  };
  if (!existsSync(dir)) throw classifyOpenError(path, new Error("no directory"));
  if (!existsSync(path)) return access(dir, "create the file in its directory");
  access(path, "read and write it");
  access(dir, `create the -wal and -shm files beside it in ${JSON.stringify(dir)}`);
  let db: Db | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    const version = schemaVersion(db);
    if (version > SCHEMA_VERSION) throw newer(version, "gateway");
  } catch (err) {
    throw err instanceof DbOpenError ? err : classifyOpenError(path, err);
  } finally {
    db?.close();
  }
}
