// The admin CLI on PostgreSQL ([database] url), as the operator runs it (its
// own process, test/harness/admin-cli.ts): the same output as on SQLite for
// the same data, migrate and doctor, and migrate-store moving a SQLite
// gateway's data onto PostgreSQL with every endpoint kept. A real
// PostgreSQL (test/harness/postgres.ts), real SQLite files in a temp dir.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import Database from "better-sqlite3";
import pg from "pg";
import { runAdmin } from "../../src/admin/cli.ts";
import { postgresChecks } from "../../src/admin/doctor/postgres.ts";
import { openDb } from "../../src/store/db.ts";
import { PG_TYPES, openPgStore } from "../../src/store/pg/index.ts";
import { PG_MIGRATIONS } from "../../src/store/pg/migrations.ts";
import { openSqliteStore } from "../../src/store/sqlite/index.ts";
import type { NewMessage, Registration, Store, UpsertRequest } from "../../src/store/store.ts";
import { admin, type AdminRun } from "../harness/admin-cli.ts";
import { trackTempDir } from "../harness/children.ts";
import { startPostgres, type Postgres } from "../harness/postgres.ts";
import { toToml } from "../harness/toml.ts";
import { waitFor } from "../harness/wait-for.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const APP = "bK3sdmrbtj3bf6XA2S12b8jJUA5TT1dhPEyeoZfVSRM=";
const INSTANCE = (n: number): string => `${String(n).padStart(43, "A")}=`;

let server: Postgres;
let dir: string;
const outputs: string[] = []; // everything any admin run printed: the password must be in none of it

before(async () => {
  server = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), "up-admin-pg-"));
  trackTempDir(dir);
});
after(async () => {
  for (const o of outputs) assert.ok(!o.includes(server.password), `the password appeared in:\n${o}`);
  assert.ok(outputs.length > 0, "the runs above were recorded");
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
/** A gateway config whose [database] is `database` (path or url). */
function config(database: { path: string } | { url: string }): string {
  const file = join(dir, `gateway-${++n}.toml`);
  writeFileSync(
    file,
    toToml({
      xmpp: { service: "xmpp://127.0.0.1:9", domain: "up.example.org", secret: "s3cret" },
      http: { listen: "127.0.0.1:9", public_url: "https://up.example.org" },
      database,
    }),
  );
  return file;
}

async function run(...args: string[]): Promise<AdminRun> {
  const r = await admin(args);
  outputs.push(r.out, r.err);
  return r;
}

async function sql<T extends pg.QueryResultRow>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url, types: PG_TYPES });
  await c.connect();
  try {
    return (await c.query<T>(text, params)).rows;
  } finally {
    await c.end();
  }
}

function request(dialect: 1 | 2, jid: string, i: number, now: number, expiresAt: number | null, mint: () => string): UpsertRequest {
  const key = dialect === 1 ? { token: `pub-${i}`, application: null, instance: null } : { token: null, application: APP, instance: INSTANCE(i) };
  return { dialect, jid, bare: jid.split("/")[0]!, key, now, expiresAt, maxPerAccount: 10_000, mint };
}
async function register(s: Store, r: UpsertRequest): Promise<Registration> {
  const out = await s.registrations.upsert(r);
  assert.ok(out.ok);
  return out.reg;
}
function message(registration: number, now: number, over: Partial<NewMessage> = {}): NewMessage {
  return {
    registration, payload: Buffer.from([0, 1, 2, 254, 255]), ttl: 3600, topic: null, urgency: null, content_encoding: "aes128gcm",
    vapid_key: null, public_id: null, created_at: now, expires_at: now + HOUR, ...over,
  };
}

/** The same registrations and messages, through the store interface, on either backend. */
async function sameData(s: Store, now: number): Promise<{ alice: Registration[]; bob: Registration; carol: Registration }> {
  let minted = 0;
  const mint = (): string => `Tok${String(++minted).padStart(29, "0")}x`;
  const alice = [
    await register(s, request(1, "alice@example.org/phone", 1, now - DAY, null, mint)),
    await register(s, request(2, "alice@example.org/Conversations.a", 2, now - DAY, now + 6 * DAY, mint)),
  ];
  const bob = await register(s, request(2, "bob@example.org/tablet", 3, now - 6 * DAY, now + 2 * HOUR, mint)); // expiring within 24 h
  const carol = await register(s, request(2, "carol@example.org/x", 4, now - 8 * DAY, now - HOUR, mint)); // expired, not purged
  assert.ok((await s.queue.enqueue(message(alice[1]!.id, now, { topic: "t1" }), 100)).ok);
  assert.ok((await s.queue.enqueue(message(alice[1]!.id, now), 100)).ok);
  assert.ok((await s.queue.enqueue(message(bob.id, now - 2 * HOUR), 100)).ok); // expired, still stored
  return { alice, bob, carol };
}

describe("the admin commands on PostgreSQL", () => {
  test("list, show, stats, revoke and purge-expired print exactly what they print on SQLite for the same data; push finds the same targets", async () => {
    const now = Date.now();
    const lite = openSqliteStore(join(dir, "same.db"));
    const data = await sameData(lite, now);
    await lite.close();
    const url = await server.createSchema();
    const pgs = await openPgStore({ url });
    await sameData(pgs, now);
    await pgs.close();
    const files = { sqlite: config({ path: join(dir, "same.db") }), postgres: config({ url }) };
    const bob = data.bob.endpoint;
    const steps: string[][] = [
      ["list"], ["list", "--json"], ["list", "--jid", "alice@example.org/other"], ["stats"], ["stats", "--json"],
      ["show", bob], ["show", bob, "--json"], ["show", "Tok000"],
      ["revoke", `https://up.example.org/up/${bob}`], ["show", bob], ["revoke", "--jid", "alice@example.org", "--json"],
      ["purge-expired"], ["stats", "--json"], ["list"],
    ];
    // push reads its targets from either store, then POSTs to [http] listen (nothing listens there: unreachable, exit 1)
    const pushed = await Promise.all([run("--config", files.sqlite, "push", "--jid", "alice@example.org", "--json"), run("--config", files.postgres, "push", "--jid", "alice@example.org", "--json")]);
    const targets = pushed.map((r) => (JSON.parse(r.out) as { endpoint: string; jid: string; result: string }[]).map(({ endpoint, jid, result }) => ({ endpoint, jid, result })));
    assert.deepEqual(targets[1], targets[0]);
    assert.deepEqual(targets[1], [
      { endpoint: "Tok00000…", jid: "alice@example.org/phone", result: "unreachable" },
      { endpoint: "Tok00000…", jid: "alice@example.org/Conversations.a", result: "unreachable" },
    ]);
    assert.deepEqual(pushed.map((r) => r.code), [1, 1]);
    const seen: Record<string, AdminRun[]> = { sqlite: [], postgres: [] };
    for (const step of steps) {
      // both at once: each step depends only on the previous one on its own backend
      const [onSqlite, onPostgres] = await Promise.all([run("--config", files.sqlite, ...step), run("--config", files.postgres, ...step)]);
      seen.sqlite!.push(onSqlite);
      seen.postgres!.push(onPostgres);
    }
    steps.forEach((step, i) => assert.deepEqual(seen.postgres![i], seen.sqlite![i], `admin ${step.join(" ")}`));
    // and what they print is the data, not two identical failures
    const [list, listJson, , stats, statsJson] = seen.postgres!;
    assert.equal(list!.code, 0, list!.err);
    assert.match(list!.out, /^ENDPOINT\s+DIALECT\s+JID\s+CREATED\s+RENEWED\s+EXPIRES\n/);
    assert.equal(JSON.parse(listJson!.out).length, 4);
    assert.match(stats!.out, /^live registrations\s+3$/m);
    assert.deepEqual(JSON.parse(statsJson!.out), {
      registrations: { unifiedpush: 1, conversations: 2, live: 3, expired: 1, expiringWithin24h: 1 },
      accounts: 3,
      queuedMessages: 3,
    });
    assert.equal(JSON.parse(seen.postgres![6]!.out).queuedMessages, 0);
    assert.match(seen.postgres![7]!.err, /more than one registration/);
    assert.match(seen.postgres![8]!.out, /^revoked Tok00000… \(bob@example\.org\/tablet\)$/m);
    assert.match(seen.postgres![9]!.err, /no registration with endpoint/);
    assert.deepEqual(JSON.parse(seen.postgres![10]!.out), { revoked: 2, account: "alice@example.org" });
    assert.equal(seen.postgres![11]!.out.trim(), "purged 1 expired registration(s)");
    assert.deepEqual(JSON.parse(seen.postgres![12]!.out), {
      registrations: { unifiedpush: 0, conversations: 0, live: 0, expired: 0, expiringWithin24h: 0 },
      accounts: 0,
      queuedMessages: 0,
    });
    assert.equal(seen.postgres![13]!.out.trim(), "no registrations");
  });

  test("a revoke through the admin tool reaches a running gateway's endpoint cache within a second", async (t) => {
    const url = await server.createSchema();
    const gateway = await openPgStore({ url });
    t.after(() => gateway.close());
    const now = Date.now();
    const reg = await register(gateway, request(2, "dave@example.org/r", 1, now, now + DAY, () => "DaveEndpointToken0000000000000000"));
    await waitFor(() => gateway.cache.active, 5_000, "the listener");
    assert.equal((await gateway.registrations.lookup(reg.endpoint, now))?.id, reg.id);
    assert.equal(gateway.cache.size, 1, "the endpoint is cached");
    const r = await run("--config", config({ url }), "revoke", reg.endpoint);
    assert.equal(r.code, 0, r.err);
    const started = Date.now();
    await waitFor(async () => (await gateway.registrations.lookup(reg.endpoint, Date.now())) === undefined, 1_000, "the revoke seen by the gateway");
    t.diagnostic(`seen after ${Date.now() - started} ms`);
  });

  test("a database without the schema, or with a newer one, is refused with what to do; an older one is read as it is; a closed port says it cannot connect", async () => {
    const url = await server.createSchema();
    let r = await run("--config", config({ url }), "stats");
    assert.equal(r.code, 1);
    assert.match(r.err, /^database postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/\S+: no schema yet: the gateway creates it when it first starts \(or run 'up-gateway-admin migrate'\)\n$/);
    await sql(url, "CREATE TABLE schema_migrations (version integer PRIMARY KEY)");
    await sql(url, `INSERT INTO schema_migrations SELECT generate_series(1, ${PG_MIGRATIONS.length + 1})`);
    r = await run("--config", config({ url }), "list");
    assert.equal(r.code, 1);
    assert.match(r.err, new RegExp(`database schema version ${PG_MIGRATIONS.length + 1} is newer than this admin tool knows \\(${PG_MIGRATIONS.length}\\): upgrade the admin tool`));
    // an older schema (before the migration that adds bounce_since): what works works, what needs more says which schema
    const before = PG_MIGRATIONS.findIndex((m) => m.includes("bounce_since"));
    assert.ok(before > 0);
    const older = await server.createSchema();
    await sql(older, "CREATE TABLE schema_migrations (version integer PRIMARY KEY)");
    for (let v = 0; v < before; v++) await sql(older, `${PG_MIGRATIONS[v]}; INSERT INTO schema_migrations VALUES (${v + 1})`);
    r = await run("--config", config({ url: older }), "stats", "--json");
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).registrations.live, 0);
    r = await run("--config", config({ url: older }), "list");
    assert.equal(r.code, 1);
    assert.match(r.err, new RegExp(`: this command needs a newer schema than the database's \\(version ${before}; this admin tool's is ${PG_MIGRATIONS.length}\\): restart a gateway .* \\(column "bounce_since" does not exist\\)\n$`));
    r = await run("--config", config({ url: `postgres://postgres:${server.password}@127.0.0.1:9/nothing` }), "stats");
    assert.equal(r.code, 1);
    assert.match(r.err, /^cannot connect to the database at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:9\/nothing: .*ECONNREFUSED/);
  });

  test("migrate applies the PostgreSQL migrations once (password from the URL or the environment), and refuses while a gateway is connected", async () => {
    const url = await server.createDatabase();
    const file = config({ url });
    let r = await run("--config", file, "migrate");
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.trim(), `schema migrated from version 0 to ${PG_MIGRATIONS.length}`);
    // the password from the environment instead of the URL, as for the gateway
    const noPassword = new URL(url);
    noPassword.password = "";
    r = await admin(["--config", config({ url: noPassword.toString() }), "migrate"], { UP_GATEWAY_DATABASE_PASSWORD: server.password });
    outputs.push(r.out, r.err);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.trim(), `schema already at version ${PG_MIGRATIONS.length}`);
    const gateway = await openPgStore({ url });
    try {
      r = await run("--config", file, "migrate");
      assert.equal(r.code, 1);
      assert.match(r.err, /^not migrated: \d+ gateway connection\(s\) to this database \(pg_stat_activity, application_name up-gateway\*\): stop every gateway first/);
    } finally {
      await gateway.close();
    }
  });

  test("doctor's database checks: connects, schema current, a probe write that leaves nothing; a wrong password FAILs without printing it", async () => {
    const url = await server.createSchema();
    let checks = await postgresChecks(url);
    assert.deepEqual(checks.map((c) => [c.level, c.name]), [["OK", "database"], ["WARN", "database schema"], ["OK", "database writable"]]);
    await (await openPgStore({ url })).close();
    checks = await postgresChecks(url);
    assert.deepEqual(checks.map((c) => c.level), ["OK", "OK", "OK"], JSON.stringify(checks));
    assert.match(checks[0]!.message, /^postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/\S+ connects \(PostgreSQL 1\d/);
    assert.match(checks[1]!.message, new RegExp(`^version ${PG_MIGRATIONS.length}, the one this version uses`));
    assert.deepEqual(await sql(url, "SELECT * FROM registrations"), [], "the probe left nothing");
    // as on a hot standby, or a user whose transactions are read-only
    const readOnly = new URL(url);
    readOnly.searchParams.set("options", `${readOnly.searchParams.get("options")} -c default_transaction_read_only=on`);
    checks = await postgresChecks(readOnly.toString());
    assert.equal(checks[2]!.level, "FAIL");
    assert.match(checks[2]!.message, /read-only transaction/);
    const wrong = url.replace(server.password, "not-the-password");
    checks = await postgresChecks(wrong);
    assert.equal(checks[0]!.level, "FAIL");
    assert.match(checks[0]!.message, /password authentication failed/);
    // the whole doctor through the CLI, on a config whose XMPP server is absent
    const r = await run("--config", config({ url }), "doctor", "--json");
    assert.equal(r.code, 1, "the XMPP port FAILs");
    const db = (JSON.parse(r.out) as { level: string; name: string }[]).filter((c) => c.name.startsWith("database"));
    assert.deepEqual(db.map((c) => c.level), ["OK", "OK", "OK"]);
    outputs.push(JSON.stringify(checks));
  });
});

describe("migrate-store: a SQLite gateway onto PostgreSQL", () => {
  const N = 1_103; // more than two batches of 500
  let file: string;
  let url: string;
  let target: string;
  let now: number;
  let sqliteRows: Registration[];
  let sqliteQueue: Record<string, unknown>[];
  let expected: { registrations: number; messages: number; skippedRegistrations: number; skippedMessages: number; maxReg: number; maxQueue: number };

  before(async () => {
    now = Date.now();
    file = join(dir, "migrate-from.db");
    const s = openSqliteStore(file);
    let minted = 0;
    const mint = (): string => `Mig${String(++minted).padStart(40, "0")}`;
    const regs: Registration[] = [];
    for (let i = 1; i <= N; i++) {
      const d = i % 3 === 0 ? 1 : 2;
      regs.push(await register(s, request(d, `user${i % 50}@example.org/res${i}`, i, now - HOUR, d === 1 ? null : now + 5 * DAY, mint)));
    }
    const expired = await register(s, request(2, "gone@example.org/r", 9_999, now - 9 * DAY, now - DAY, mint));
    assert.ok((await s.queue.enqueue(message(expired.id, now), 100)).ok); // its message goes with it
    for (const r of regs.slice(0, 5)) assert.ok(await s.registrations.revoke(r.endpoint)); // ids with holes
    await s.registrations.setBounceSince(regs[8]!.id, now - 3 * HOUR); // a dialect-1 run of bounces
    let m = 0;
    for (const r of regs.slice(5, 305)) {
      assert.ok((await s.queue.enqueue(message(r.id, now, { public_id: `pub-${++m}`, vapid_key: m % 2 ? "BKey" : null, urgency: "high" }), 100)).ok);
      assert.ok((await s.queue.enqueue(message(r.id, now, { topic: "news", content_encoding: "aesgcm" }), 100)).ok);
    }
    for (const r of regs.slice(5, 105)) {
      const e = await s.queue.enqueue(message(r.id, now + 1, { topic: "news", payload: Buffer.from("newer") }), 100);
      assert.ok(e.ok && e.replaced); // Topic replacement: holes in the queue ids
    }
    assert.ok((await s.queue.enqueue(message(regs[10]!.id, now - 2 * HOUR), 100)).ok); // expired message
    const top = await s.queue.enqueue(message(regs[11]!.id, now), 100);
    assert.ok(top.ok);
    assert.ok(await s.queue.remove(top.id)); // the highest queue id ever, deleted: only sqlite_sequence remembers it
    await s.close();

    const raw = new Database(file, { readonly: true });
    sqliteRows = raw.prepare("SELECT * FROM registrations WHERE expires_at IS NULL OR expires_at > ? ORDER BY id").all(now) as Registration[];
    sqliteQueue = raw.prepare("SELECT q.* FROM queue q WHERE q.expires_at > ? AND q.registration IN (SELECT id FROM registrations WHERE expires_at IS NULL OR expires_at > ?) ORDER BY id").all(now, now) as Record<string, unknown>[];
    const all = (raw.prepare("SELECT count(*) AS n FROM registrations").get() as { n: number }).n;
    const allQ = (raw.prepare("SELECT count(*) AS n FROM queue").get() as { n: number }).n;
    expected = {
      registrations: sqliteRows.length, messages: sqliteQueue.length, skippedRegistrations: all - sqliteRows.length, skippedMessages: allQ - sqliteQueue.length,
      maxReg: (raw.prepare("SELECT max(id) AS n FROM registrations").get() as { n: number }).n,
      maxQueue: top.id,
    };
    raw.close();
    assert.deepEqual([expected.registrations, expected.messages, expected.skippedRegistrations, expected.skippedMessages], [N - 5, 600, 1, 2]);
    url = await server.createDatabase();
    target = config({ url });
  });

  test("refuses while the SQLite file is open in a gateway, or a gateway is connected to the target; nothing is copied", async () => {
    const held = openDb(file); // as a running gateway holds it
    let r: AdminRun;
    try {
      r = await run("migrate-store", "--from-sqlite", file, "--config", target);
    } finally {
      held.close();
    }
    assert.equal(r.code, 1);
    assert.match(r.err, /the SQLite gateway must be stopped/);
    assert.match(r.err, /^not copied: \S+migrate-from\.db is in use by another process \(a running gateway, or an admin command\): stop the gateway first/m);
    const gateway = await openPgStore({ url });
    try {
      r = await run("migrate-store", "--from-sqlite", file, "--config", target);
    } finally {
      await gateway.close();
    }
    assert.equal(r.code, 1);
    assert.match(r.err, /^not copied: database postgres:\/\/postgres:\*\*\*@\S+: \d+ gateway connection\(s\) to this database/m);
    assert.deepEqual(await sql(url, "SELECT count(*) AS n FROM registrations"), [{ n: 0 }]);
    r = await run("migrate-store", "--from-sqlite", file, "--config", config({ path: file }));
    assert.equal(r.code, 2, "a SQLite config is no target");
    r = await run("migrate-store", "--config", target);
    assert.equal(r.code, 2);
  });

  test("copies every live registration and message with its ids, endpoints, Topic, public id, expiry and bounce_since; prints progress and the right summary", async (t) => {
    const r = await run("migrate-store", "--from-sqlite", file, "--config", target);
    t.diagnostic(`\n${r.err}${r.out}`);
    assert.equal(r.code, 0, r.err);
    const batches = Math.ceil(expected.registrations / 500);
    assert.equal(r.err.match(/^registrations: \d+\/\d+$/gm)!.length, batches, "a line per batch");
    assert.match(r.err, new RegExp(`^registrations: ${expected.registrations}/${expected.registrations}$`, "m"));
    assert.match(r.err, new RegExp(`^queued messages: ${expected.messages}/${expected.messages}$`, "m"));
    assert.match(r.out, new RegExp(`^copied \\S+migrate-from\\.db into postgres://postgres:\\*\\*\\*@127\\.0\\.0\\.1:\\d+/\\S+\\n`));
    assert.match(r.out, new RegExp(`^registrations copied\\s+${expected.registrations}$`, "m"));
    assert.match(r.out, new RegExp(`^queued messages copied\\s+${expected.messages}$`, "m"));
    assert.match(r.out, new RegExp(`^expired, skipped\\s+${expected.skippedRegistrations} registration\\(s\\), ${expected.skippedMessages} queued message\\(s\\)$`, "m"));
    assert.match(r.out, new RegExp(`^target schema\\s+version ${PG_MIGRATIONS.length}$`, "m"));
    assert.match(r.out, new RegExp(`^next ids\\s+registration (\\d+), message (\\d+)$`, "m"));
    assert.match(r.out, /^time\s+\d+\.\d s$/m);

    const store = await openPgStore({ url });
    t.after(() => store.close());
    for (const row of sqliteRows) assert.deepEqual(await store.registrations.lookup(row.endpoint, now), row, `endpoint ${row.endpoint}`);
    assert.equal((await store.registrations.all()).length, expected.registrations);
    assert.equal(sqliteRows.find((x) => x.bounce_since !== null)?.bounce_since, now - 3 * HOUR);
    const copied = await sql<Record<string, unknown>>(url, "SELECT id, registration, payload, ttl, topic, urgency, content_encoding, created_at, expires_at, vapid_key, public_id FROM queue ORDER BY id");
    assert.deepEqual(copied, sqliteQueue);
    assert.ok(copied.some((q) => q.topic === "news" && Buffer.from("newer").equals(q.payload as Buffer)));
    assert.ok(copied.some((q) => q.public_id === "pub-1"));
    // the store's own reads see them: the head of a registration with a Topic-replaced message
    const head = await store.queue.head(sqliteRows[0]!.id, now);
    assert.equal(head?.public_id, "pub-1");
    assert.equal(await store.queue.count(sqliteRows[0]!.id, now), 2);

    // the sequences go on past every copied id (and past SQLite's highest queue id ever)
    const fresh = await register(store, request(2, "new@example.org/r", 1, now, now + DAY, () => "BrandNewEndpoint00000000000000000"));
    assert.ok(fresh.id > expected.maxReg, `${fresh.id} > ${expected.maxReg}`);
    const q = await store.queue.enqueue(message(fresh.id, now), 100);
    assert.ok(q.ok && q.id > expected.maxQueue, `${q.ok && q.id} > ${expected.maxQueue}`);
    const [, nextReg, nextMsg] = r.out.match(/^next ids\s+registration (\d+), message (\d+)$/m)!;
    assert.deepEqual([fresh.id, q.ok && q.id], [Number(nextReg), Number(nextMsg)]);

    // the admin tool on the copy: the same stats as on the SQLite file, less what was expired
    const before = JSON.parse((await run("--database", file, "stats", "--json")).out);
    await store.registrations.revoke(fresh.endpoint);
    const afterCopy = JSON.parse((await run("--config", target, "stats", "--json")).out);
    assert.deepEqual(afterCopy, {
      ...before,
      registrations: { ...before.registrations, expired: 0 },
      accounts: before.accounts - 1, // gone@example.org had only the expired one
      queuedMessages: expected.messages,
    });
    t.diagnostic(`\n${(await run("--config", target, "stats")).out}`);
  });

  test("a second run refuses: the target already holds registrations", async () => {
    const r = await run("migrate-store", "--from-sqlite", file, "--config", target, "--json");
    assert.equal(r.code, 1);
    assert.match(r.err, new RegExp(`^not copied: database \\S+ already holds ${expected.registrations} registration\\(s\\) and ${expected.messages} queued message\\(s\\): migrate-store copies only into an empty database, once`, "m"));
    assert.equal(r.out, "");
    assert.deepEqual(await sql(url, "SELECT count(*) AS n FROM registrations"), [{ n: expected.registrations }]);
  });

  test("on a terminal the progress is a bar redrawn in place; --json prints the summary as data", async () => {
    const small = join(dir, "small.db");
    const s = openSqliteStore(small);
    const reg = await register(s, request(1, "solo@example.org/r", 1, now, null, () => "SoloEndpoint000000000000000000000"));
    assert.ok((await s.queue.enqueue(message(reg.id, now, { public_id: "solo-1" }), 10)).ok);
    await s.close();
    const out: string[] = [];
    const bar: string[] = [];
    const err: string[] = [];
    const code = await runAdmin(["migrate-store", "--from-sqlite", small, "--config", config({ url: await server.createSchema() }), "--json"], {
      out: (x) => out.push(x), err: (x) => err.push(x), now: Date.now, tty: { write: (x) => bar.push(x) },
    });
    assert.equal(code, 0, err.join("\n"));
    assert.match(bar.join(""), /^\rregistrations\s+\[-{30}\]\s+0% 0\/1\rregistrations\s+\[#{30}\] 100% 1\/1\n\rqueued messages \[-{30}\]\s+0% 0\/1\rqueued messages \[#{30}\] 100% 1\/1\n$/);
    const summary = JSON.parse(out.join(""));
    assert.deepEqual({ ...summary, ms: 0 }, {
      from: small, to: summary.to, registrations: 1, messages: 1, skipped: { registrations: 0, messages: 0 },
      schema: { from: 0, to: PG_MIGRATIONS.length }, next: { registration: 2, message: 2 }, ms: 0,
    });
    assert.ok(!summary.to.includes(server.password));
    outputs.push(out.join(""), err.join(""), bar.join(""));
  });
});
