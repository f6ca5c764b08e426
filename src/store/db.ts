// Opens the SQLite database and brings its schema up to date (schema.ts).
import Database from "better-sqlite3";
import { migrate } from "./schema.ts";

export { migrate } from "./schema.ts";

export type Db = Database.Database;

/**
 * WAL with synchronous=NORMAL: a commit reaches the WAL file before the HTTP
 * answer is written, so a crash of the process (kill -9) loses nothing that
 * was answered; only a power loss can take the last commits, and FULL would
 * cost an fsync per push on the hot path.
 */
export function openDb(path: string, opts: { migrate?: boolean } = {}): Db {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  if (opts.migrate !== false) {
    try {
      migrate(db);
    } catch (err) {
      db.close();
      throw err;
    }
  }
  return db;
}
