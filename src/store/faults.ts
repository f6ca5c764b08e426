// Which SQLite errors mean "the store cannot write now" (a sick disk, a
// read-only remount, a full file system) rather than a bug. Those become
// outcomes (503, a stanza error of type wait), never a 500.
// Result codes: https://www.sqlite.org/rescode.html

const WRITE_FAULTS = [
  "SQLITE_READONLY", // read-only file or remount (and SQLITE_READONLY_*)
  "SQLITE_FULL", // disk or quota full
  "SQLITE_IOERR", // every SQLITE_IOERR_* (write, fsync, truncate, shm...)
  "SQLITE_CANTOPEN", // the journal or WAL cannot be opened
  "SQLITE_PERM",
  "SQLITE_BUSY", // another process held the lock past busy_timeout
  "SQLITE_LOCKED",
  "SQLITE_PROTOCOL",
  "SQLITE_NOLFS",
  "SQLITE_CORRUPT",
  "SQLITE_NOTADB", // the file was replaced under us
];

export function isStoreFault(err: unknown): err is Error & { code: string } {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && WRITE_FAULTS.some((f) => code === f || code.startsWith(`${f}_`));
}

/**
 * Where a store fault is reported: src/store/health.ts. `problem` is set while
 * writes fail. `wrote` hears of writes that changed rows; it keeps /healthz
 * from probing under traffic but never clears a fault: only the probe write
 * may (health.ts), since a DELETE that matches nothing writes no page and
 * succeeds on a disk that refuses every write.
 */
export type FaultSink = { fault(op: string, err: Error & { code: string }): void; wrote(): void; readonly problem?: string | undefined };

/**
 * Runs a write; a store fault is reported and comes back as `undefined`,
 * anything else is a bug and throws. `changed` says whether a result means
 * rows changed (a zero-row DELETE is no word on the store's health).
 */
export function tryWrite<T>(sink: FaultSink | undefined, op: string, write: () => T, changed: (r: T) => boolean = () => true): T | undefined {
  try {
    const r = write();
    if (changed(r)) sink?.wrote();
    return r;
  } catch (err) {
    if (!isStoreFault(err)) throw err;
    sink?.fault(op, err);
    return undefined;
  }
}
