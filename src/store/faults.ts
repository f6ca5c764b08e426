// Which store errors mean "the store cannot write now" rather than a bug:
// for SQLite a sick disk, a read-only remount, a full file system; for
// PostgreSQL a server that is down, restarting, unreachable or out of
// resources. Those become outcomes (503, a stanza error of type wait), never
// a 500, and never a crash.
// SQLite result codes: https://www.sqlite.org/rescode.html
// PostgreSQL SQLSTATE classes: https://www.postgresql.org/docs/15/errcodes-appendix.html

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

/** SQLSTATE classes and codes: connection exception, insufficient resources, operator intervention (shutdown, restart), read-only transaction, disk full. */
const PG_FAULT_STATES = /^(08|53|57P0[1-4]|57014|25006|58030)/;
/** The network under a PostgreSQL connection. */
const NET_FAULTS = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);
/** What node-postgres throws without a code when the server vanishes or stops answering. */
const PG_CLIENT_FAULTS = /Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Connection ended|connection is not open/i;

export function isStoreFault(err: unknown): err is Error & { code: string } {
  if (!(err instanceof Error)) return false;
  const e = err as Error & { code?: unknown };
  let code = e.code;
  if (typeof code !== "string" && PG_CLIENT_FAULTS.test(e.message)) {
    e.code = code = "PG_UNREACHABLE"; // so every fault carries a code to log and count
  }
  if (typeof code !== "string") return false;
  return WRITE_FAULTS.some((f) => code === f || code.startsWith(`${f}_`)) || PG_FAULT_STATES.test(code) || NET_FAULTS.has(code) || code === "PG_UNREACHABLE";
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
    return heard(sink, write(), changed);
  } catch (err) {
    return reported(sink, op, err);
  }
}

/** tryWrite for an asynchronous store (src/store/store.ts). */
export async function tryWriteAsync<T>(sink: FaultSink | undefined, op: string, write: () => Promise<T>, changed: (r: T) => boolean = () => true): Promise<T | undefined> {
  try {
    return heard(sink, await write(), changed);
  } catch (err) {
    return reported(sink, op, err);
  }
}

function heard<T>(sink: FaultSink | undefined, r: T, changed: (r: T) => boolean): T {
  if (changed(r)) sink?.wrote();
  return r;
}

/** A store fault is told and becomes undefined; anything else is a bug and goes on up. */
function reported(sink: FaultSink | undefined, op: string, err: unknown): undefined {
  if (!isStoreFault(err)) throw err;
  sink?.fault(op, err);
  return undefined;
}
