// Opens the SQLite database and brings its schema up to date.
import Database from "better-sqlite3";
import { MIGRATIONS } from "./migrations.ts";

export type Db = Database.Database;

/**
 * WAL with synchronous=NORMAL: a commit reaches the WAL file before the HTTP
 * answer is written, so a crash of the process (kill -9) loses nothing that
 * was answered; only a power loss can take the last commits, and FULL would
 * cost an fsync per push on the hot path.
 */
export function openDb(path: string): Db {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  migrate(db);
  return db;
}

export function migrate(db: Db): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`database schema version ${current} is newer than this gateway knows (${MIGRATIONS.length}); upgrade the gateway`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
