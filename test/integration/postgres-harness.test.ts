// The PostgreSQL the store tests run on: if these fail, the store contract
// and leader tests would fail for reasons unrelated to the gateway.
import assert from "node:assert/strict";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import pg from "pg";
import { acceptsConnections } from "../harness/ports.ts";
import { startPostgres } from "../harness/postgres.ts";

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test("the harness runs a private PostgreSQL with fsync on, not as root, and stops it by PID", async () => {
  const server = await startPostgres();
  const pid = server.pid;
  try {
    const url = await server.createDatabase("harness_check");
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const row = (await c.query("SELECT current_setting('fsync') AS fsync, current_setting('port') AS port, current_database() AS db, current_setting('data_directory') AS data")).rows[0];
      assert.deepEqual({ fsync: row.fsync, port: Number(row.port), db: row.db }, { fsync: "on", port: server.port, db: "harness_check" });
      assert.ok(row.data.startsWith(server.dir), "the data dir is in the harness's temp dir");
      if (process.getuid?.() === 0) assert.notEqual(statSync(row.data).uid, 0, "the cluster belongs to the postgres user");
    } finally {
      await c.end();
    }
    assert.ok(readdirSync(join(server.dir, "sock")).some((f) => f.startsWith(".s.PGSQL.")), "the unix socket is in the temp dir");
    const wrong = new pg.Client({ connectionString: server.url().replace(server.password, "wrong") });
    await assert.rejects(wrong.connect(), /password authentication failed/);
  } finally {
    await server.stop();
  }
  assert.equal(alive(pid), false, "the postmaster is gone");
  assert.equal(await acceptsConnections(server.port), false);
  assert.equal(existsSync(server.dir), false, "its temp dir is removed");
});

test("a restarted PostgreSQL keeps what was committed", async () => {
  const server = await startPostgres();
  try {
    const url = await server.createDatabase();
    const c1 = new pg.Client({ connectionString: url });
    await c1.connect();
    await c1.query("CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)");
    await c1.end();
    const before = server.pid;
    await server.restart();
    assert.notEqual(server.pid, before);
    const c2 = new pg.Client({ connectionString: url });
    await c2.connect();
    assert.deepEqual((await c2.query("SELECT v FROM kept")).rows, [{ v: 42 }]);
    await c2.end();
  } finally {
    await server.stop();
  }
});
