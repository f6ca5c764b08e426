// Opening the PostgreSQL store at gateway start. A server that is not up yet
// (every instance of a cluster may start before it, or during its restart)
// is waited for; what no wait can fix (a wrong password, a database or role
// that does not exist, a newer schema) ends the start with one line naming
// [database] url, without its password.
import { redactDbUrl } from "../../config.ts";
import type { Logger } from "../../log.ts";
import { isStoreFault } from "../faults.ts";
import { openPgStore, type PgStore } from "./index.ts";
import { sqlState } from "./tx.ts";

export class PgOpenError extends Error {
  constructor(url: string, problem: string) {
    super(`[database] url = ${redactDbUrl(url)}: ${problem}`);
    this.name = "PgOpenError";
  }
}

/** SQLSTATEs a retry cannot fix, with what to tell the operator. */
const FATAL: Record<string, string> = {
  "28P01": "the password was refused; check the url or UP_GATEWAY_DATABASE_PASSWORD",
  "28000": "the server refused this role (pg_hba.conf or the user name)",
  "3D000": "the database does not exist; create it (createdb -O USER DB)",
  "42501": "the role may not create the schema; grant it CREATE on the database, or run as its owner",
};

const RETRY_MS = 2_000;

export async function openPgStoreWaiting(url: string, log: Logger, stopped: () => boolean = () => false): Promise<PgStore> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await openPgStore({ url, log });
    } catch (err) {
      const state = sqlState(err);
      if (state !== undefined && FATAL[state]) throw new PgOpenError(url, FATAL[state]);
      if (err instanceof Error && /newer schema|schema version/i.test(err.message)) throw new PgOpenError(url, err.message);
      if (!isStoreFault(err) || stopped()) throw err;
      if (attempt === 1 || attempt % 15 === 0) {
        log.warn({ url: redactDbUrl(url), code: err.code, attempt }, `PostgreSQL is not reachable: waiting for it (retrying every ${RETRY_MS / 1000} s)`);
      }
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }
}
