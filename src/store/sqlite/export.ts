// A SQLite file read for `admin migrate-store` (../migrate-store.ts): held
// exclusively for the whole copy, so no gateway runs on it meanwhile (one
// running now makes the open fail; one starting later cannot open it), and
// read in id order, in batches, live rows only.
import { existsSync } from "node:fs";
import Database from "better-sqlite3";
import type { QueuedMessage } from "../queue.ts";
import type { Registration } from "../registrations.ts";
import { SCHEMA_VERSION, schemaVersion } from "../schema.ts";
import { AdminOpenError } from "../admin.ts";

export interface SourceCounts {
  registrations: number; // live: to copy
  expiredRegistrations: number;
  messages: number; // live, of live registrations: to copy
  expiredMessages: number; // past their own expiry or their registration's
}

export interface SqliteSource {
  readonly path: string;
  counts(now: number): SourceCounts;
  registrations(now: number, batch: number): Generator<Registration[]>;
  messages(now: number, batch: number): Generator<QueuedMessage[]>;
  /** The highest ids ever handed out (the queue's from sqlite_sequence: AUTOINCREMENT never reuses one). */
  maxIds(): { registrations: number; queue: number };
  close(): void;
}

const LIVE_REG = "(expires_at IS NULL OR expires_at > @now)";

export function openSqliteSource(path: string): SqliteSource {
  if (!existsSync(path)) throw new AdminOpenError(`no database at ${path}: give the gateway's [database] path`);
  let db: Database.Database;
  try {
    db = new Database(path, { fileMustExist: true, timeout: 0 });
  } catch (err) {
    throw new AdminOpenError(`cannot open the database at ${path}: ${(err as Error).message}`);
  }
  try {
    const found = schemaVersion(db);
    if (found > SCHEMA_VERSION) throw new AdminOpenError(`database ${path}: schema version ${found} is newer than this admin tool knows (${SCHEMA_VERSION}): upgrade the admin tool`);
    if (found < SCHEMA_VERSION) {
      throw new AdminOpenError(`database ${path}: schema version ${found}, older than this version's ${SCHEMA_VERSION}: run 'up-gateway-admin --database ${path} migrate' first`);
    }
    // As `migrate` (../schema.ts migrateAlone): granted only while no other connection has the file open.
    db.pragma("locking_mode = EXCLUSIVE");
    try {
      db.exec("BEGIN EXCLUSIVE");
    } catch (err) {
      if ((err as { code?: string }).code !== "SQLITE_BUSY") throw err;
      throw new AdminOpenError(`${path} is in use by another process (a running gateway, or an admin command): stop the gateway first, then run migrate-store again; nothing was copied`);
    }
    db.exec("COMMIT"); // the lock stays with the connection (locking_mode EXCLUSIVE) until close
  } catch (err) {
    db.close();
    if (err instanceof AdminOpenError) throw err;
    throw new AdminOpenError(`cannot read the database at ${path}: ${(err as Error).message}`);
  }
  const n = (sql: string, now: number): number => db.prepare<{ now: number }, { n: number }>(sql).get({ now })!.n;
  return {
    path,
    counts(now) {
      const live = n(`SELECT count(*) AS n FROM registrations WHERE ${LIVE_REG}`, now);
      const all = n("SELECT count(*) AS n FROM registrations", now);
      const liveMessages = n(
        `SELECT count(*) AS n FROM queue q JOIN registrations r ON r.id = q.registration
         WHERE q.expires_at > @now AND (r.expires_at IS NULL OR r.expires_at > @now)`,
        now,
      );
      const allMessages = n("SELECT count(*) AS n FROM queue", now);
      return { registrations: live, expiredRegistrations: all - live, messages: liveMessages, expiredMessages: allMessages - liveMessages };
    },
    *registrations(now, batch) {
      const page = db.prepare<{ now: number; after: number; batch: number }, Registration>(
        `SELECT * FROM registrations WHERE ${LIVE_REG} AND id > @after ORDER BY id LIMIT @batch`,
      );
      for (let after = 0; ; ) {
        const rows = page.all({ now, after, batch });
        if (rows.length === 0) return;
        yield rows;
        after = rows.at(-1)!.id;
      }
    },
    *messages(now, batch) {
      const page = db.prepare<{ now: number; after: number; batch: number }, QueuedMessage>(
        `SELECT q.* FROM queue q JOIN registrations r ON r.id = q.registration
         WHERE q.expires_at > @now AND (r.expires_at IS NULL OR r.expires_at > @now) AND q.id > @after
         ORDER BY q.id LIMIT @batch`,
      );
      for (let after = 0; ; ) {
        const rows = page.all({ now, after, batch });
        if (rows.length === 0) return;
        yield rows;
        after = rows.at(-1)!.id;
      }
    },
    maxIds() {
      const max = (sql: string): number => db.prepare<[], { n: number | null }>(sql).get()?.n ?? 0;
      return {
        registrations: max("SELECT max(id) AS n FROM registrations"),
        queue: Math.max(max("SELECT max(id) AS n FROM queue"), max("SELECT seq AS n FROM sqlite_sequence WHERE name = 'queue'")),
      };
    },
    close: () => db.close(),
  };
}
