// What `admin doctor` asks of a PostgreSQL store: does it connect, at which
// schema, and can this user write? The write is a probe, rolled back: an
// insert into registrations (or, before the schema exists, the CREATE TABLE
// the gateway's first start needs), so a read-only server (a hot standby,
// default_transaction_read_only) or a user without the privilege shows here,
// and nothing stays behind. The password never reaches a message (pgErrorText).
import { adminClient, pgErrorText, pgSchemaVersion } from "./admin.ts";

export type PgProbe =
  | { connected: false; error: string }
  | { connected: true; server: string; version: number | null; write: { ok: true } | { ok: false; error: string } };

export async function probePg(url: string): Promise<PgProbe> {
  const c = adminClient(url);
  try {
    await c.connect();
  } catch (err) {
    await c.end().catch(() => {});
    return { connected: false, error: pgErrorText(err, url) };
  }
  try {
    const server = (await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v;
    const version = await pgSchemaVersion(c);
    let write: { ok: true } | { ok: false; error: string } = { ok: true };
    await c.query("BEGIN");
    try {
      if (version === null) await c.query("CREATE TABLE up_gateway_doctor_probe (id integer)");
      else {
        await c.query(
          `INSERT INTO registrations (id, endpoint, dialect, jid, bare, created_at, renewed_at)
           VALUES (-1, 'up-gateway-doctor-probe', 1, 'doctor@probe.invalid', 'doctor@probe.invalid', 0, 0)`,
        );
      }
    } catch (err) {
      write = { ok: false, error: pgErrorText(err, url) };
    } finally {
      await c.query("ROLLBACK");
    }
    return { connected: true, server, version, write };
  } catch (err) {
    return { connected: false, error: pgErrorText(err, url) };
  } finally {
    await c.end().catch(() => {});
  }
}
