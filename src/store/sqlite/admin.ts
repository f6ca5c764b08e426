// The SQLite file as the admin tool opens it: at the schema it finds, never
// migrated (../schema.ts says why), with the two queue figures read on any
// schema this version knows: QueueStore prepares every statement of the
// current schema (vapid_key, migration 3), which an older database lacks.
import { existsSync } from "node:fs";
import { openDb, type Db } from "../db.ts";
import { RegistrationStore } from "../registrations.ts";
import { needsNewerSchema, requireKnownSchema, SchemaError } from "../schema.ts";
import { AdminOpenError, type AdminStore } from "../admin.ts";
import { registrationsOver } from "./index.ts";

const QUEUE_SINCE = 2; // the migration that creates the queue table

export function openSqliteAdmin(path: string): AdminStore {
  // openDb would create a missing file: an empty database would only hide a wrong path.
  if (!existsSync(path)) throw new AdminOpenError(`no database at ${path}: check database.path (the gateway creates the file when it first starts)`);
  let db: Db;
  try {
    db = openDb(path, { migrate: false });
  } catch (err) {
    throw new AdminOpenError(`cannot open the database at ${path}: ${(err as Error).message}`);
  }
  let version: number | undefined;
  try {
    version = requireKnownSchema(db);
    const found = version;
    return {
      backend: "sqlite",
      where: path,
      version,
      registrations: registrationsOver(new RegistrationStore(db)),
      queue: queueCounts(db, version),
      // An older schema lacks what a later migration adds: say so, not a SqliteError's stack.
      olderSchema: (err) => (/^no such (table|column)/.test((err as Error).message) ? `${needsNewerSchema(found)} (${(err as Error).message})` : undefined),
      async close() {
        db.close();
      },
    };
  } catch (err) {
    db.close();
    if (err instanceof SchemaError) throw new AdminOpenError(`database ${path}: ${err.message}`);
    if (version !== undefined && /^no such (table|column)/.test((err as Error).message)) {
      throw new AdminOpenError(`database ${path}: ${needsNewerSchema(version)} (${(err as Error).message})`);
    }
    throw err;
  }
}

function queueCounts(db: Db, version: number): AdminStore["queue"] {
  // Before the queue existed nothing could be queued.
  if (version < QUEUE_SINCE) return { depth: async () => 0, count: async () => 0 };
  const depth = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM queue");
  const live = db.prepare<[number, number], { n: number }>("SELECT count(*) AS n FROM queue WHERE registration = ? AND expires_at > ?");
  return { depth: async () => depth.get()!.n, count: async (registration, now) => live.get(registration, now)!.n };
}
