// What the admin tool (src/admin) needs of a store: reads and the operator's
// deletes, on the schema it finds (it never migrates, except `migrate`). The
// same methods as the gateway's Store (store.ts), so one code path serves both
// backends: src/store/sqlite/admin.ts and src/store/pg/admin.ts open it
// without migrating, refusing only a schema newer than this version knows.
import type { Queue, Registrations } from "./store.ts";

export type AdminRegistrations = Pick<
  Registrations,
  "all" | "byBare" | "byPrefix" | "revoke" | "revokeAccount" | "sweepExpired" | "countLiveByDialect" | "summary"
>;

export interface AdminStore {
  readonly backend: "sqlite" | "postgres";
  /** Where it is, for messages: the file, or the URL without its password. */
  readonly where: string;
  /** The schema version found (each backend counts its own migrations). */
  readonly version: number;
  readonly registrations: AdminRegistrations;
  readonly queue: Pick<Queue, "depth" | "count">;
  /**
   * The operator's words for an error that means the database's schema is
   * older than a command needs (a missing table or column), else undefined.
   */
  olderSchema(err: unknown): string | undefined;
  close(): Promise<void>;
}

/** The store cannot be opened for the admin tool: the message says what and what to do (exit 1). */
export class AdminOpenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AdminOpenError";
  }
}
