// Only the gateway (at start) and `admin migrate` change the schema; every
// other admin command uses the database as it is, and a schema newer than the
// code is refused by both.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import Database from "better-sqlite3";
import { MIGRATIONS } from "../../src/store/migrations.ts";
import { admin } from "../harness/admin-cli.ts";
import { startGateway, type Gateway } from "../harness/gateway.ts";
import { startProsody, type Prosody } from "../harness/prosody.ts";

const KNOWN = MIGRATIONS.length;
let prosody: Prosody;
let dir: string;

before(async () => {
  prosody = await startProsody();
  dir = mkdtempSync(join(tmpdir(), "up-schema-"));
});
after(async () => {
  await prosody?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const version = (path: string): number => {
  const db = new Database(path, { readonly: true });
  try {
    return db.pragma("user_version", { simple: true }) as number;
  } finally {
    db.close();
  }
};
const setVersion = (path: string, v: number): void => {
  const db = new Database(path);
  db.pragma(`user_version = ${v}`);
  db.close();
};
/** A database as an older gateway left it: the first `v` migrations. */
function olderDb(name: string, v: number): string {
  const path = join(dir, name);
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  for (let i = 0; i < v; i++) db.exec(MIGRATIONS[i]!);
  db.pragma(`user_version = ${v}`);
  db.close();
  return path;
}

async function stoppedGateway(): Promise<Gateway> {
  const g = await startGateway(prosody);
  await g.waitHealthy(15_000);
  await g.stop();
  return g;
}

test("an admin command that finds a newer schema refuses, names both versions and leaves it as it is", async () => {
  const g = await stoppedGateway();
  try {
    const db = join(g.dir, "gateway.db");
    setVersion(db, KNOWN + 1);
    for (const argv of [["stats"], ["list"], ["purge-expired"], ["revoke", "--jid", "x@localhost"], ["push", "--jid", "x@localhost"]]) {
      const r = await admin(["--config", g.configPath, ...argv]);
      assert.equal(r.code, 1, argv.join(" "));
      assert.equal(r.err.trim(), `database ${db}: database schema version ${KNOWN + 1} is newer than this admin tool knows (${KNOWN}): upgrade the admin tool`);
    }
    const doc = await admin(["--config", g.configPath, "doctor"]);
    assert.match(doc.out, new RegExp(`^FAIL\\s+database schema\\s+version ${KNOWN + 1} is newer than this version knows \\(${KNOWN}\\)`, "m"));
    const m = await admin(["--config", g.configPath, "migrate"]);
    assert.equal(m.code, 1);
    assert.match(m.err, /newer than this admin tool knows/);
    assert.equal(version(db), KNOWN + 1);
  } finally {
    await g.cleanup();
  }
});

test("a gateway that finds a newer schema refuses to start: exit 78, both versions named", async () => {
  const g = await stoppedGateway();
  try {
    setVersion(join(g.dir, "gateway.db"), KNOWN + 1);
    await g.restart();
    const exit = await g.waitExit(15_000);
    assert.equal(exit.code, 78);
    const err = g.lines.filter((l) => l.stream === "stderr").map((l) => l.raw).join("\n");
    assert.match(err, new RegExp(`\\[database\\] path = ".*gateway\\.db": database schema version ${KNOWN + 1} is newer than this gateway knows \\(${KNOWN}\\): upgrade the gateway`));
    assert.equal(version(join(g.dir, "gateway.db")), KNOWN + 1);
  } finally {
    await g.cleanup();
  }
});

test("admin commands work on every older schema as they find it, and leave it older", async () => {
  for (let v = 1; v < KNOWN; v++) {
    const path = olderDb(`older-${v}.db`, v);
    const raw = new Database(path);
    raw.prepare("INSERT INTO registrations (endpoint, dialect, jid, bare, token, created_at, renewed_at, expires_at) VALUES (?, 1, ?, ?, ?, ?, ?, NULL)").run("olderendpointtoken", "dora@localhost/r", "dora@localhost", "t", 1, 1);
    raw.close();
    const stats = await admin(["--database", path, "stats", "--json"]);
    assert.equal(stats.code, 0, `v${v}: ${stats.err}`);
    assert.equal(JSON.parse(stats.out).registrations.live, 1);
    assert.equal(JSON.parse(stats.out).queuedMessages, 0);
    const listed = await admin(["--database", path, "list", "--jid", "dora@localhost"]);
    assert.equal(listed.code, 0, listed.err);
    assert.match(listed.out, /dora@localhost\/r/);
    assert.equal((await admin(["--database", path, "show", "olderendpoint"])).code, 0);
    const revoked = await admin(["--database", path, "revoke", "--jid", "dora@localhost"]);
    assert.equal(revoked.code, 0, revoked.err);
    assert.equal(revoked.out.trim(), "revoked 1 registration(s) of dora@localhost");
    assert.equal(version(path), v);
  }
});

test("admin migrate brings an older schema up to date when no gateway has the database open", async () => {
  const path = olderDb("migrate.db", 1);
  const r = await admin(["--database", path, "migrate"]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.trim(), `schema migrated from version 1 to ${KNOWN}`);
  assert.equal(version(path), KNOWN);
  assert.equal((await admin(["--database", path, "migrate"])).out.trim(), `schema already at version ${KNOWN}`);
  assert.equal((await admin(["--database", path, "stats"])).code, 0);
});

test("admin migrate refuses while a gateway has the database open, and works once it stopped", async () => {
  const g = await startGateway(prosody);
  try {
    await g.waitHealthy(15_000);
    const r = await admin(["--config", g.configPath, "migrate"]);
    assert.equal(r.code, 1);
    assert.match(r.err, /^not migrated: another process has the database open \(a running gateway, or an admin command\): stop the gateway first/);
    assert.equal(await g.health(), 200);
    await g.stop();
    const again = await admin(["--config", g.configPath, "migrate"]);
    assert.equal(again.code, 0, again.err);
  } finally {
    await g.cleanup();
  }
});
