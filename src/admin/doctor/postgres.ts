// The PostgreSQL store as the gateway will need it ([database] url): it
// connects, its schema is one this version knows, and the gateway's user can
// write (a probe, rolled back: src/store/pg/probe.ts). Never prints the
// password: the URL is shown redacted, errors are scrubbed.
import { redactDbUrl } from "../../config.ts";
import { PG_SCHEMA_VERSION } from "../../store/pg/admin.ts";
import { probePg } from "../../store/pg/probe.ts";
import { fail, ok, skip, warn, type Check } from "./check.ts";

export async function postgresChecks(url: string): Promise<Check[]> {
  const where = redactDbUrl(url);
  const p = await probePg(url);
  if (!p.connected) {
    const why = "not checked: no connection";
    return [
      fail("database", `cannot connect to ${where}: ${p.error}; check [database] url (host, port, user, database), the password (or UP_GATEWAY_DATABASE_PASSWORD) and pg_hba.conf`),
      skip("database schema", why),
      skip("database writable", why),
    ];
  }
  return [ok("database", `${where} connects (PostgreSQL ${p.server})`), schema(p.version), writable(p.write, p.version === null)];
}

function schema(found: number | null): Check {
  const name = "database schema";
  if (found === null) return warn(name, "no schema yet: the gateway creates it at its first start (or run 'up-gateway-admin migrate')");
  if (found === PG_SCHEMA_VERSION) return ok(name, `version ${found}, the one this version uses`);
  if (found > PG_SCHEMA_VERSION) return fail(name, `version ${found} is newer than this version knows (${PG_SCHEMA_VERSION}): a newer gateway has used it; upgrade this installation`);
  return warn(name, `version ${found}, older than this version's ${PG_SCHEMA_VERSION}: the gateway migrates it when it starts (or stop every gateway and run 'up-gateway-admin migrate')`);
}

function writable(w: { ok: true } | { ok: false; error: string }, noSchema: boolean): Check {
  const name = "database writable";
  const what = noSchema ? "CREATE TABLE, as the first start needs" : "INSERT into registrations";
  if (w.ok) return ok(name, `a probe write succeeds (${what}; rolled back)`);
  return fail(name, `a probe write (${what}; rolled back) fails: ${w.error}: the gateway answers 503 to every push; grant the user write access (or connect to the primary, not a read-only standby)`);
}
