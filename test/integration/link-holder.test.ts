// Where the link holder is (src/store/pg/link-holder.ts), against a real
// PostgreSQL: the holder announces itself through its lock's own session,
// nobody else can, and every watcher sees a new holder within a second,
// by notification, or by polling while its listener is down.
import assert from "node:assert/strict";
import { after, before, test, type TestContext } from "node:test";
import pg from "pg";
import { announceOnGained } from "../../src/cluster/announce.ts";
import { LeaderElector } from "../../src/cluster/leader.ts";
import { createLogger } from "../../src/log.ts";
import { announce, announceSelf, current, LinkHolderWatcher, type LockSession } from "../../src/store/pg/link-holder.ts";
import { openPgStore, type PgStore } from "../../src/store/pg/index.ts";
import { type Postgres, startPostgres } from "../harness/postgres.ts";
import { waitFor } from "../harness/wait-for.ts";

let server: Postgres;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server.stop();
});

async function store(t: TestContext): Promise<{ s: PgStore; url: string }> {
  const url = await server.createSchema();
  const s = await openPgStore({ url });
  t.after(() => s.close());
  return { s, url };
}

function elector(t: TestContext, url: string): LeaderElector {
  const e = new LeaderElector({ url, retryMs: 100, heartbeatMs: 200 });
  e.start();
  t.after(() => e.stop());
  return e;
}

test("the lock holder announces its address, and a watcher on another connection sees each new holder within 1 s", async (t) => {
  const { s, url } = await store(t);
  const watcher = new LinkHolderWatcher({ url, pool: s.pool });
  await watcher.start();
  t.after(() => watcher.close());
  assert.equal(watcher.current, undefined);

  const first = elector(t, url);
  await waitFor(() => first.isLeader, 10_000, "the first holder");
  // listening on a wildcard: the address PostgreSQL sees this session come from, with the listen port
  const at1 = Date.now();
  assert.equal(await announceSelf(first, "gw-1", { host: "0.0.0.0", port: 8081 }, at1), "127.0.0.1:8081");
  await waitFor(() => watcher.address() === "127.0.0.1:8081", 1_000, "the watcher to see the first holder");
  assert.deepEqual(watcher.current as unknown, { instance: "gw-1", address: "127.0.0.1:8081", since: at1 });

  const second = elector(t, url);
  await new Promise((r) => setTimeout(r, 300)); // it stands by
  assert.equal(second.isLeader, false);
  await first.stop();
  await waitFor(() => second.isLeader, 5_000, "the standby to take the lock");
  const announced = Date.now();
  assert.equal(await announceSelf(second, "gw-2", { host: "127.0.0.2", port: 8082 }, announced), "127.0.0.2:8082");
  await waitFor(() => watcher.address() === "127.0.0.2:8082", 1_000, "the watcher to see the new holder");
  const seenAfter = Date.now() - announced;
  assert.ok(seenAfter < 1_000, `${seenAfter} ms`);
  t.diagnostic(`the new holder was seen ${seenAfter} ms after it announced itself`);
  assert.deepEqual(await current(s.pool), { instance: "gw-2", address: "127.0.0.2:8082", since: announced });
});

test("a session that does not hold the lock cannot announce, and the holder's row stays", async (t) => {
  const { s, url } = await store(t);
  const e = elector(t, url);
  await waitFor(() => e.isLeader, 10_000, "a holder");
  assert.ok(await announce(e, "gw-1", "10.0.0.1:80", 1));

  const c = new pg.Client({ connectionString: url });
  await c.connect();
  t.after(() => c.end());
  const impostor: LockSession = { lockKey: e.lockKey, query: async (q, v) => (await c.query(q, v)).rows };
  assert.equal(await announce(impostor, "gw-2", "10.0.0.2:80", 2), false);
  assert.equal((await current(s.pool))?.instance, "gw-1");
  // and an elector that is not leading refuses to run anything
  await e.stop();
  await assert.rejects(announce(e, "gw-1", "10.0.0.1:80", 3), /not holding the link lock/);
});

test("while its listener cannot connect, the watcher re-reads every second", async (t) => {
  const { s, url } = await store(t);
  const u = new URL(url);
  u.password = "wrong";
  const watcher = new LinkHolderWatcher({ url: u.toString(), pool: s.pool, pollMs: 1_000 });
  await watcher.start();
  t.after(() => watcher.close());
  const e = elector(t, url);
  await waitFor(() => e.isLeader, 10_000, "a holder");
  assert.ok(await announce(e, "gw-1", "10.0.0.1:80", 1));
  await waitFor(() => watcher.address() === "10.0.0.1:80", 2_500, "the polling watcher to see the holder");
});

test("announceOnGained tells the watchers each time an instance gains the lock", async (t) => {
  const { s, url } = await store(t);
  const watcher = new LinkHolderWatcher({ url, pool: s.pool });
  await watcher.start();
  t.after(() => watcher.close());
  const log = createLogger("silent");
  const first = new LeaderElector({ url, retryMs: 100, heartbeatMs: 200 });
  const second = new LeaderElector({ url, retryMs: 100, heartbeatMs: 200 });
  t.after(() => first.stop());
  t.after(() => second.stop());
  t.after(announceOnGained({ elector: first, instanceId: "gw-1", listen: { host: "127.0.0.1", port: 9001 }, now: Date.now, log }));
  t.after(announceOnGained({ elector: second, instanceId: "gw-2", listen: { host: "127.0.0.1", port: 9002 }, now: Date.now, log }));
  first.start();
  await waitFor(() => first.isLeader, 10_000, "the first holder");
  second.start();
  await waitFor(() => watcher.current?.instance === "gw-1", 1_000, "the first announcement");
  assert.equal(watcher.address(), "127.0.0.1:9001");
  await first.stop();
  await waitFor(() => second.isLeader, 5_000, "the standby to take over");
  const gained = Date.now();
  await waitFor(() => watcher.current?.instance === "gw-2", 1_000, "the second announcement");
  assert.equal(watcher.address(), "127.0.0.1:9002");
  t.diagnostic(`seen ${Date.now() - gained} ms after the standby gained the lock`);
});
