// The PostgreSQL store's in-memory views, beyond the contract: the endpoint
// cache and the set of registrations that may have queued messages learn of
// writes from anyone (triggers notify, so plain SQL counts too), and they are
// off, never stale, while their notification connection is down.
import assert from "node:assert/strict";
import { after, before, test, type TestContext } from "node:test";
import pg from "pg";
import { openPgStore, type PgStore } from "../../src/store/pg/index.ts";
import type { Registration } from "../../src/store/store.ts";
import { type Postgres, startPostgres } from "../harness/postgres.ts";
import { waitFor } from "../harness/wait-for.ts";

const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);
let server: Postgres;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server.stop();
});

async function open(t: TestContext): Promise<{ s: PgStore; url: string; sql: (q: string, p?: unknown[]) => Promise<pg.QueryResult> }> {
  const url = await server.createSchema();
  const s = await openPgStore({ url });
  t.after(() => s.close());
  // Another writer, on its own connection each time (a server restart would end a kept one).
  const sql = async (q: string, p: unknown[] = []): Promise<pg.QueryResult> => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return await c.query(q, p);
    } finally {
      await c.end();
    }
  };
  return { s, url, sql };
}

async function register(s: PgStore, n: number): Promise<Registration> {
  const r = await s.registrations.upsert({
    dialect: 1, jid: `u${n}@x/r`, bare: `u${n}@x`, key: { token: "t", application: null, instance: null },
    now: T0, expiresAt: null, maxPerAccount: 10, mint: () => `E${String(n).padStart(31, "0")}`,
  });
  assert.ok(r.ok);
  return r.reg;
}

test("a change by plain SQL, one row or hundreds, is seen through the cache within a second", async (t) => {
  const { s, sql } = await open(t);
  assert.equal(s.cache.active, true);
  const regs: Registration[] = [];
  for (let i = 0; i < 5; i++) regs.push(await register(s, i));
  for (const r of regs) assert.equal((await s.registrations.lookup(r.endpoint, T0))?.id, r.id);
  assert.equal(s.cache.size, 5, "lookups are kept");

  await sql("UPDATE registrations SET jid = 'moved@x/r' WHERE id = $1", [regs[0]!.id]);
  await waitFor(async () => (await s.registrations.lookup(regs[0]!.endpoint, T0))?.jid === "moved@x/r", 1_000, "the update");
  await sql("DELETE FROM registrations WHERE id = $1", [regs[1]!.id]);
  await waitFor(async () => (await s.registrations.lookup(regs[1]!.endpoint, T0)) === undefined, 1_000, "the delete");

  // Past 300 rows the trigger says "forget everything".
  await sql(`INSERT INTO registrations (endpoint, dialect, jid, bare, token, created_at, renewed_at)
             SELECT 'bulk' || g, 1, 'b@x/r', 'b' || g || '@x', 't', 0, 0 FROM generate_series(1, 400) g`);
  assert.equal((await s.registrations.lookup(regs[2]!.endpoint, T0))?.jid, regs[2]!.jid);
  await sql("UPDATE registrations SET jid = jid || '2'");
  await waitFor(async () => (await s.registrations.lookup(regs[2]!.endpoint, T0))?.jid === `${regs[2]!.jid}2`, 1_000, "the bulk update");
});

test("while its notification connection is down the cache is off, lookups stay true, and it comes back", async (t) => {
  const { s, sql } = await open(t);
  const reg = await register(s, 1);
  await s.registrations.lookup(reg.endpoint, T0);
  assert.equal(s.cache.size, 1);
  const killed = await sql("SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'up-gateway-listen' AND datname = current_database()");
  assert.ok(killed.rows.length >= 1);
  await waitFor(() => !s.cache.active, 2_000, "the cache to turn off");
  assert.equal(s.cache.size, 0);
  await sql("UPDATE registrations SET jid = 'elsewhere@x/r'");
  assert.equal((await s.registrations.lookup(reg.endpoint, T0))?.jid, "elsewhere@x/r", "read from the database");
  assert.equal(s.cache.size, 0, "nothing kept while off");
  await waitFor(() => s.cache.active, 5_000, "the cache to come back");
  await s.registrations.lookup(reg.endpoint, T0);
  assert.equal(s.cache.size, 1);
});

test("while PostgreSQL is down every call fails within the pool's timeouts, and after it returns the store and its cache work again", async (t) => {
  const { s } = await open(t);
  const reg = await register(s, 1);
  await s.registrations.lookup(reg.endpoint, T0);
  await server.halt();
  try {
    await waitFor(() => !s.cache.active, 3_000, "the cache to turn off");
    for (const call of [() => s.registrations.lookup(reg.endpoint, T0), () => s.queue.hasWaiting(reg.id, T0)]) {
      const started = Date.now();
      await assert.rejects(call());
      const ms = Date.now() - started;
      assert.ok(ms < 5_000, `failed after ${ms} ms`);
      t.diagnostic(`a call while PostgreSQL is down failed after ${ms} ms`);
    }
  } finally {
    await server.resume();
  }
  assert.equal((await s.registrations.lookup(reg.endpoint, T0))?.id, reg.id, "the pool reconnects by itself");
  await waitFor(() => s.cache.active, 5_000, "the cache to come back");
});

test("a message queued by another instance or by plain SQL is seen by hasWaiting within a second; an empty queue is answered from memory", async (t) => {
  const { s, url, sql } = await open(t);
  const other = await openPgStore({ url });
  t.after(() => other.close());
  const regs: Registration[] = [];
  for (let i = 0; i < 3; i++) regs.push(await register(s, i));
  assert.equal(await s.queue.hasWaiting(regs[0]!.id, T0), false);
  assert.equal(s.waiting.mayHave(regs[0]!.id), false, "nothing queued: no query needed");

  const m = { payload: Buffer.from("x"), ttl: 60, topic: null, urgency: null, content_encoding: null, vapid_key: null, created_at: T0, expires_at: T0 + 60_000 };
  const queued = await other.queue.enqueue({ ...m, registration: regs[0]!.id }, 10);
  assert.ok(queued.ok);
  await waitFor(() => s.queue.hasWaiting(regs[0]!.id, T0), 1_000, "the other instance's message");
  await sql(`INSERT INTO queue (registration, payload, ttl, created_at, expires_at) VALUES ($1, 'y', 60, $2, $3)`, [regs[1]!.id, T0, T0 + 60_000]);
  await waitFor(() => s.queue.hasWaiting(regs[1]!.id, T0), 1_000, "the message inserted by plain SQL");

  assert.equal(await s.queue.remove(queued.id), true);
  assert.equal(await s.queue.hasWaiting(regs[0]!.id, T0), false);
  assert.equal(s.waiting.mayHave(regs[0]!.id), false, "forgotten once the database said nothing is left");
  assert.equal(await s.queue.hasWaiting(regs[2]!.id, T0), false);

  // One statement queueing for 700 registrations: notified in chunks, none missed.
  await sql(`INSERT INTO registrations (endpoint, dialect, jid, bare, token, created_at, renewed_at)
             SELECT 'bulk' || g, 1, 'b@x/r', 'b' || g || '@x', 't', 0, 0 FROM generate_series(1, 700) g`);
  await sql(`INSERT INTO queue (registration, payload, ttl, created_at, expires_at)
             SELECT id, 'z', 60, $1, $2 FROM registrations WHERE endpoint LIKE 'bulk%'`, [T0, T0 + 60_000]);
  const bulk = (await sql("SELECT id FROM registrations WHERE endpoint LIKE 'bulk%'")).rows.map((r) => Number(r.id));
  await waitFor(() => bulk.every((id) => s.waiting.mayHave(id)), 1_000, "all 700 registrations");
  for (const id of bulk.slice(0, 5)) assert.equal(await s.queue.hasWaiting(id, T0), true);
});
