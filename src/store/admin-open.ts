// The admin tool's one place that picks the backend, from [database] (or --database PATH).
import type { Config } from "../config.ts";
import type { AdminStore } from "./admin.ts";
import { openPgAdmin } from "./pg/admin.ts";
import { openSqliteAdmin } from "./sqlite/admin.ts";

/** Throws AdminOpenError (admin.ts) when it cannot be used; never migrates. */
export async function openAdminStore(d: Config["database"]): Promise<AdminStore> {
  return d.backend === "sqlite" ? openSqliteAdmin(d.path) : openPgAdmin(d.url);
}
