// Leader election through a session advisory lock, against a real PostgreSQL:
// exactly one of several electors leads, and when its session ends (killed
// by the server, the server stopping, or stop()) it learns at once and a
// standby takes over within a few seconds.
import assert from "node:assert/strict";
import { after, before, test, type TestContext } from "node:test";
import pg from "pg";
import { LeaderElector } from "../../src/cluster/leader.ts";
import { LINK_HOLDER_LOCK, LOCK_CLASS } from "../../src/store/pg/locks.ts";
import { type Postgres, startPostgres } from "../harness/postgres.ts";
import { waitFor } from "../harness/wait-for.ts";

let server: Postgres;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server.stop();
});

interface Watched {
  e: LeaderElector;
  events: { kind: "gained" | "lost"; at: number; reason?: string }[];
}

function elector(t: TestContext, url: string): Watched {
  const e = new LeaderElector({ url, retryMs: 200, heartbeatMs: 200 });
  const w: Watched = { e, events: [] };
  e.on("gained", () => w.events.push({ kind: "gained", at: Date.now() }));
  e.on("lost", (reason) => w.events.push({ kind: "lost", at: Date.now(), reason }));
  e.start();
  t.after(() => e.stop());
  return w;
}

const leaders = (ws: Watched[]): Watched[] => ws.filter((w) => w.e.isLeader);

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

/** Backends holding the link lock, as the server sees them. */
const holders = (url: string) =>
  query<{ pid: number; application_name: string }>(
    url,
    `SELECT l.pid, a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'advisory' AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid AND l.granted`,
    [LOCK_CLASS, LINK_HOLDER_LOCK],
  );

test("of two electors exactly one leads, and the server agrees", async (t) => {
  const url = await server.createDatabase();
  const ws = [elector(t, url), elector(t, url)];
  await waitFor(() => leaders(ws).length === 1, 10_000, "a leader");
  await new Promise((r) => setTimeout(r, 1_000)); // several retries of the standby
  assert.equal(leaders(ws).length, 1);
  assert.deepEqual(ws.map((w) => w.events.filter((x) => x.kind === "gained").length).sort(), [0, 1]);
  const h = await holders(url);
  assert.equal(h.length, 1);
  assert.equal(h[0]!.application_name, "up-gateway-leader");
});

test("when the leader's session is terminated it learns at once and the standby leads within seconds", async (t) => {
  const url = await server.createDatabase();
  const ws = [elector(t, url), elector(t, url)];
  await waitFor(() => leaders(ws).length === 1, 10_000, "a leader");
  const first = leaders(ws)[0]!;
  const other = ws.find((w) => w !== first)!;
  const [holder] = await holders(url);
  const killedAt = Date.now();
  const [row] = await query<{ ok: boolean }>(url, "SELECT pg_terminate_backend($1) AS ok", [holder!.pid]);
  assert.equal(row!.ok, true);

  const lost = await waitFor(() => first.events.find((x) => x.kind === "lost"), 2_000, "the old leader to learn it lost");
  assert.match(lost.reason!, /terminat|ended|connection/i);
  const gained = await waitFor(() => other.events.find((x) => x.kind === "gained"), 5_000, "the standby to lead");
  assert.ok(gained.at - killedAt < 5_000, `took over in ${gained.at - killedAt} ms`);
  t.diagnostic(`old leader knew after ${lost.at - killedAt} ms; standby led after ${gained.at - killedAt} ms`);
  await waitFor(() => leaders(ws).length === 1 && other.e.isLeader, 2_000, "one leader, the standby");
  await new Promise((r) => setTimeout(r, 600));
  assert.deepEqual(leaders(ws), [other], "the old leader, back as a standby, does not take it back");
  assert.equal((await holders(url)).length, 1);
});

test("a leader that stops gives the lock up, says so, and the standby takes it", async (t) => {
  const url = await server.createDatabase();
  const ws = [elector(t, url), elector(t, url), elector(t, url)];
  await waitFor(() => leaders(ws).length === 1, 10_000, "a leader");
  const first = leaders(ws)[0]!;
  await first.e.stop();
  assert.equal(first.e.isLeader, false);
  assert.equal(first.events.at(-1)?.kind, "lost");
  await waitFor(() => leaders(ws).length === 1 && !first.e.isLeader, 5_000, "another leader");
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(leaders(ws).length, 1);
});

test("when PostgreSQL goes away the leader gives up at once, and after it returns one elector leads again", async (t) => {
  const url = await server.createDatabase();
  const ws = [elector(t, url), elector(t, url)];
  await waitFor(() => leaders(ws).length === 1, 10_000, "a leader");
  const first = leaders(ws)[0]!;
  await server.halt();
  try {
    await waitFor(() => first.events.find((x) => x.kind === "lost"), 3_000, "the leader to give up");
    assert.equal(leaders(ws).length, 0);
    await new Promise((r) => setTimeout(r, 500)); // retries fail meanwhile, quietly
    assert.equal(leaders(ws).length, 0);
  } finally {
    await server.resume();
  }
  await waitFor(() => leaders(ws).length === 1, 10_000, "a leader after the restart");
  assert.equal((await holders(url)).length, 1);
});
