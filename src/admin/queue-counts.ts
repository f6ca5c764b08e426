// The two queue figures the admin commands show (stats, show), read on any
// schema this version knows: QueueStore prepares every statement of the
// current schema (vapid_key, migration 3), which an older database lacks.
import type { Db } from "../store/db.ts";
import type { AdminDeps } from "./commands.ts";

const QUEUE_SINCE = 2; // the migration that creates the queue table

export function queueCounts(db: Db, version: number): AdminDeps["queue"] {
  // Before the queue existed nothing could be queued.
  if (version < QUEUE_SINCE) return { depth: () => 0, count: () => 0 };
  const depth = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM queue");
  const live = db.prepare<[number, number], { n: number }>("SELECT count(*) AS n FROM queue WHERE registration = ? AND expires_at > ?");
  return { depth: () => depth.get()!.n, count: (registration, now) => live.get(registration, now)!.n };
}
