// `admin migrate-store`: a SQLite gateway's registrations and queued messages
// into PostgreSQL, row for row (sqlite/export.ts reads, pg/import.ts writes),
// so every endpoint URL, and every message's public id, stays what it was:
// app servers and phones notice nothing. Only live rows go: an expired
// registration already answers 404 (and the sweep would delete it), an
// expired message would never be delivered. No SQL here.
import { beginPgImport } from "./pg/import.ts";
import { openSqliteSource } from "./sqlite/export.ts";

export interface CopyProgress {
  phase: "registrations" | "messages";
  done: number;
  total: number;
}

export interface CopySummary {
  from: string;
  to: string; // without the password
  registrations: number;
  messages: number;
  skipped: { registrations: number; messages: number }; // expired
  schema: { from: number; to: number }; // the target's, migrated first
  next: { registration: number; message: number }; // ids the sequences hand out next
  ms: number;
}

export const BATCH = { registrations: 500, messages: 200 } as const; // 12 and 11 parameters per row, far below PostgreSQL's 65535

/** Throws AdminOpenError (admin.ts) for every refusal; then nothing was copied. */
export async function copySqliteToPg(o: {
  from: string;
  url: string;
  now: number;
  batch?: { registrations: number; messages: number };
  progress?: (p: CopyProgress) => void;
  clock?: () => number;
}): Promise<CopySummary> {
  const clock = o.clock ?? (() => performance.now());
  const started = clock();
  const batch = o.batch ?? BATCH;
  const source = openSqliteSource(o.from); // first: refuses while a gateway has the file open
  try {
    const counts = source.counts(o.now);
    const target = await beginPgImport(o.url);
    try {
      let done = 0;
      o.progress?.({ phase: "registrations", done, total: counts.registrations });
      for (const rows of source.registrations(o.now, batch.registrations)) {
        await target.registrations(rows);
        o.progress?.({ phase: "registrations", done: (done += rows.length), total: counts.registrations });
      }
      const registrations = done;
      done = 0;
      o.progress?.({ phase: "messages", done, total: counts.messages });
      for (const rows of source.messages(o.now, batch.messages)) {
        await target.messages(rows);
        o.progress?.({ phase: "messages", done: (done += rows.length), total: counts.messages });
      }
      const next = await target.commit(source.maxIds());
      return {
        from: o.from,
        to: target.where,
        registrations,
        messages: done,
        skipped: { registrations: counts.expiredRegistrations, messages: counts.expiredMessages },
        schema: target.migrated,
        next,
        ms: Math.round(clock() - started),
      };
    } catch (err) {
      await target.abort();
      throw err;
    }
  } finally {
    source.close();
  }
}
