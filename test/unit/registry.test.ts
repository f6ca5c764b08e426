import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { migrate, openDb } from "../../src/store/db.ts";
import { MIGRATIONS } from "../../src/store/migrations.ts";
import { RegistrationStore } from "../../src/store/registrations.ts";
import type { RegisterResult, Registered } from "../../src/registry.ts";
import { fixture, T0, tempDir } from "./_db.ts";

const HOUR = 3600_000;
const TTL_MS = 7 * 86400_000;
const APP = "bK3sdmrbtj3bf6XA2S12b8jJUA5TT1dhPEyeoZfVSRM=";
const APP2 = "Y2FmZWJhYmVjYWZlYmFiZWNhZmViYWJlY2FmZWJhYmU=";
const INST = "EtD/1XPLmoIph7W73CZ/uyv6FAnhEAXY1GySHX17vAw=";
const INST2 = "ZGVhZGJlZWZkZWFkYmVlZmRlYWRiZWVmZGVhZGJlZWY=";

function ok(r: RegisterResult): Registered {
  assert.ok(r.ok, `expected success, got ${JSON.stringify(r)}`);
  return r;
}

// store/db.ts

test("opening a new database applies every migration and sets user_version", () => {
  const dir = tempDir();
  try {
    const db = openDb(join(dir, "g.db"));
    assert.equal(db.pragma("user_version", { simple: true }), MIGRATIONS.length);
    assert.ok(MIGRATIONS.length >= 1);
    const table = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'registrations'").get();
    assert.deepEqual(table, { name: "registrations" });
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("reopening a database is idempotent and keeps its rows", async () => {
  const f = fixture();
  try {
    const reg = ok(await f.registry.register2("juliet@example.com/a", APP, INST)).reg;
    f.db.close();
    const again = openDb(f.path);
    assert.equal(again.pragma("user_version", { simple: true }), MIGRATIONS.length);
    migrate(again);
    assert.equal(again.pragma("user_version", { simple: true }), MIGRATIONS.length);
    assert.equal(new RegistrationStore(again).byEndpoint(reg.endpoint)?.id, reg.id);
    again.close();
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test("a database from a newer gateway is refused instead of being used", () => {
  const dir = tempDir();
  try {
    const path = join(dir, "g.db");
    const db = openDb(path);
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    assert.throws(() => openDb(path), /newer than this gateway knows/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the database runs in WAL mode with foreign keys on", async () => {
  const f = fixture();
  try {
    assert.equal(f.db.pragma("journal_mode", { simple: true }), "wal");
    assert.equal(f.db.pragma("foreign_keys", { simple: true }), 1);
    assert.equal(f.db.pragma("synchronous", { simple: true }), 1); // NORMAL
    ok(await f.registry.register1("a@example.org/r", "t"));
    assert.ok(existsSync(`${f.path}-wal`));
  } finally {
    f.close();
  }
});

// dialect 1

test("registering the same dialect 1 token twice gives the same endpoint and updates the full JID", async () => {
  const f = fixture();
  try {
    const first = ok(await f.registry.register1("alice@example.org/phone", "PUBLIC"));
    assert.equal(first.fresh, true);
    assert.equal(first.reg.endpoint, f.minted[0]);
    assert.equal(first.reg.expires_at, null);
    f.clock.t += HOUR;
    const second = ok(await f.registry.register1("alice@example.org/tablet", "PUBLIC"));
    assert.equal(second.fresh, false);
    assert.equal(second.reg.endpoint, first.reg.endpoint);
    assert.equal(f.minted.length, 1);
    const stored = f.store.byEndpoint(first.reg.endpoint);
    assert.equal(stored?.jid, "alice@example.org/tablet");
    assert.equal(stored?.bare, "alice@example.org");
    assert.equal(stored?.renewed_at, T0 + HOUR);
    assert.equal(stored?.created_at, T0);
    assert.equal(stored?.expires_at, null);
  } finally {
    f.close();
  }
});

test("a different dialect 1 token or a different account gets a different endpoint", async () => {
  const f = fixture();
  try {
    const a = ok(await f.registry.register1("alice@example.org/phone", "T1")).reg.endpoint;
    const b = ok(await f.registry.register1("alice@example.org/phone", "T2")).reg.endpoint;
    const c = ok(await f.registry.register1("bob@example.org/phone", "T1")).reg.endpoint;
    assert.equal(new Set([a, b, c]).size, 3);
  } finally {
    f.close();
  }
});

test("a dialect 1 registration never expires", async () => {
  const f = fixture();
  try {
    const reg = ok(await f.registry.register1("alice@example.org/phone", "T")).reg;
    f.clock.t += 10 * 365 * 86400_000;
    assert.equal((await f.registry.lookup(reg.endpoint))?.id, reg.id);
    assert.equal(await f.registry.sweepExpired(), 0);
  } finally {
    f.close();
  }
});

test("unregister1 deletes the registration so its endpoint becomes unknown", async () => {
  const f = fixture();
  try {
    const reg = ok(await f.registry.register1("alice@example.org/phone", "T")).reg;
    const r = await f.registry.unregister1("alice@example.org/other", "T");
    assert.ok(r.ok);
    assert.equal(r.reg.endpoint, reg.endpoint);
    assert.equal(await f.registry.lookup(reg.endpoint), undefined);
    assert.equal(f.store.byEndpoint(reg.endpoint), undefined);
  } finally {
    f.close();
  }
});

test("unregister1 of an unknown token answers not-found", async () => {
  const f = fixture();
  try {
    const r = await f.registry.unregister1("alice@example.org/phone", "never-registered");
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.reason === "not-found");
  } finally {
    f.close();
  }
});

test("unregister1 cannot remove another account's registration with the same token", async () => {
  const f = fixture();
  try {
    const reg = ok(await f.registry.register1("alice@example.org/phone", "T")).reg;
    const r = await f.registry.unregister1("mallory@example.org/x", "T");
    assert.ok(!r.ok && r.reason === "not-found");
    assert.equal((await f.registry.lookup(reg.endpoint))?.id, reg.id);
  } finally {
    f.close();
  }
});

// dialect 2

test("re-registering dialect 2 from a new resource keeps the endpoint, moves the expiration later and updates the full JID", async () => {
  const f = fixture();
  try {
    const first = ok(await f.registry.register2("juliet@example.com/Conversations.aaaa", APP, INST));
    assert.equal(first.fresh, true);
    assert.equal(first.reg.expires_at, T0 + TTL_MS);
    f.clock.t += 6 * 86400_000;
    const second = ok(await f.registry.register2("juliet@example.com/Conversations.bbbb", APP, INST));
    assert.equal(second.fresh, false);
    assert.equal(second.reg.endpoint, first.reg.endpoint);
    assert.equal(second.reg.jid, "juliet@example.com/Conversations.bbbb");
    assert.equal(second.reg.expires_at, T0 + 6 * 86400_000 + TTL_MS);
    assert.ok(second.reg.expires_at! > first.reg.expires_at!);
    const stored = f.store.byEndpoint(first.reg.endpoint);
    assert.equal(stored?.jid, "juliet@example.com/Conversations.bbbb");
    assert.equal(stored?.expires_at, second.reg.expires_at);
    assert.equal(stored?.created_at, T0);
    assert.equal(f.minted.length, 1);
  } finally {
    f.close();
  }
});

test("a different dialect 2 application or instance gets a different endpoint", async () => {
  const f = fixture();
  try {
    const a = ok(await f.registry.register2("juliet@example.com/r", APP, INST)).reg.endpoint;
    const b = ok(await f.registry.register2("juliet@example.com/r", APP2, INST)).reg.endpoint;
    const c = ok(await f.registry.register2("juliet@example.com/r", APP, INST2)).reg.endpoint;
    const d = ok(await f.registry.register2("romeo@example.com/r", APP, INST)).reg.endpoint;
    assert.equal(new Set([a, b, c, d]).size, 4);
  } finally {
    f.close();
  }
});

test("the same application in dialect 1 and dialect 2 are separate registrations", async () => {
  const f = fixture();
  try {
    const d1 = ok(await f.registry.register1("juliet@example.com/r", APP)).reg;
    const d2 = ok(await f.registry.register2("juliet@example.com/r", APP, INST)).reg;
    assert.notEqual(d1.endpoint, d2.endpoint);
    assert.equal(f.store.byEndpoint(d1.endpoint)?.dialect, 1);
    assert.equal(f.store.byEndpoint(d2.endpoint)?.dialect, 2);
  } finally {
    f.close();
  }
});

test("lookup treats an expired registration as unknown, from the exact expiry instant", async () => {
  const f = fixture();
  try {
    const reg = ok(await f.registry.register2("juliet@example.com/r", APP, INST)).reg;
    f.clock.t = reg.expires_at! - 1;
    assert.equal((await f.registry.lookup(reg.endpoint))?.endpoint, reg.endpoint);
    f.clock.t = reg.expires_at!;
    assert.equal(await f.registry.lookup(reg.endpoint), undefined);
    assert.ok(f.store.byEndpoint(reg.endpoint), "still stored until the sweep");
  } finally {
    f.close();
  }
});

test("lookup of an endpoint that never existed is undefined", async () => {
  const f = fixture();
  try {
    assert.equal(await f.registry.lookup("E0000000000000000000000000000099"), undefined);
  } finally {
    f.close();
  }
});

test("re-registering after expiry, even before the sweep, gets a fresh endpoint and the old one stays unknown", async () => {
  const f = fixture();
  try {
    const reg = ok(await f.registry.register2("juliet@example.com/r", APP, INST)).reg;
    f.clock.t = reg.expires_at! + HOUR;
    const again = ok(await f.registry.register2("juliet@example.com/r", APP, INST)).reg;
    assert.notEqual(again.endpoint, reg.endpoint);
    assert.equal(await f.registry.lookup(reg.endpoint), undefined);
    assert.equal((await f.registry.lookup(again.endpoint))?.endpoint, again.endpoint);
  } finally {
    f.close();
  }
});

test("sweepExpired deletes only the expired registrations", async () => {
  const f = fixture();
  try {
    const old = ok(await f.registry.register2("juliet@example.com/r", APP, INST)).reg;
    f.clock.t += 2 * 86400_000;
    const young = ok(await f.registry.register2("juliet@example.com/r", APP2, INST)).reg;
    const d1 = ok(await f.registry.register1("juliet@example.com/r", "T")).reg;
    f.clock.t = old.expires_at!;
    assert.equal(await f.registry.sweepExpired(), 1);
    assert.equal(f.store.byEndpoint(old.endpoint), undefined);
    assert.equal(f.store.byEndpoint(young.endpoint)?.id, young.id);
    assert.equal(f.store.byEndpoint(d1.endpoint)?.id, d1.id);
    assert.equal(await f.registry.sweepExpired(), 0);
  } finally {
    f.close();
  }
});

test("revoke makes the endpoint unknown and reports whether anything went", async () => {
  const f = fixture();
  try {
    const reg = ok(await f.registry.register2("juliet@example.com/r", APP, INST)).reg;
    assert.equal(await f.registry.revoke(reg.endpoint), true);
    assert.equal(await f.registry.lookup(reg.endpoint), undefined);
    assert.equal(await f.registry.revoke(reg.endpoint), false);
  } finally {
    f.close();
  }
});

test("a revoked application re-registering gets a fresh endpoint", async () => {
  const f = fixture();
  try {
    const reg = ok(await f.registry.register2("juliet@example.com/r", APP, INST)).reg;
    await f.registry.revoke(reg.endpoint);
    const again = ok(await f.registry.register2("juliet@example.com/r", APP, INST));
    assert.equal(again.fresh, true);
    assert.notEqual(again.reg.endpoint, reg.endpoint);
    assert.equal(await f.registry.lookup(reg.endpoint), undefined);
    assert.equal((await f.registry.lookup(again.reg.endpoint))?.id, again.reg.id);
  } finally {
    f.close();
  }
});

// access rules

test("allowed_domains refuses other domains with reason forbidden and stores nothing", async () => {
  const f = fixture({ allowedDomains: ["example.org"] });
  try {
    for (const r of [
      await f.registry.register1("mallory@evil.example/x", "T"),
      await f.registry.register2("mallory@evil.example/x", APP, INST),
      await f.registry.register2("mallory@sub.example.org/x", APP, INST),
    ]) {
      assert.equal(r.ok, false);
      assert.ok(!r.ok && r.reason === "forbidden", JSON.stringify(r));
    }
    assert.equal(f.store.countByBare("mallory@evil.example"), 0);
    assert.equal(f.minted.length, 0);
  } finally {
    f.close();
  }
});

test("allowed_domains accepts its own domains whatever the case of the JID's domain", async () => {
  const f = fixture({ allowedDomains: ["example.org"] });
  try {
    ok(await f.registry.register1("alice@example.org/phone", "T"));
    ok(await f.registry.register2("bob@Example.ORG/phone", APP, INST));
  } finally {
    f.close();
  }
});

test("an empty allowed_domains lets any domain register", async () => {
  const f = fixture({ allowedDomains: [] });
  try {
    ok(await f.registry.register1("a@one.example/r", "T"));
    ok(await f.registry.register2("b@two.example/r", APP, INST));
  } finally {
    f.close();
  }
});

test("the per-account cap refuses the next new registration with too-many but still renews existing ones", async () => {
  const f = fixture({ maxRegistrationsPerJid: 2 });
  try {
    const a = ok(await f.registry.register2("juliet@example.com/r1", APP, INST)).reg;
    ok(await f.registry.register1("juliet@example.com/r2", "T"));
    const refused = await f.registry.register2("juliet@example.com/r3", APP2, INST);
    assert.ok(!refused.ok && refused.reason === "too-many", JSON.stringify(refused));
    assert.match(refused.ok ? "" : refused.text, /2/);
    f.clock.t += HOUR;
    const renewed = ok(await f.registry.register2("juliet@example.com/r4", APP, INST));
    assert.equal(renewed.reg.endpoint, a.endpoint);
    assert.equal(renewed.reg.expires_at, T0 + HOUR + TTL_MS);
    ok(await f.registry.register1("juliet@example.com/r2", "T"));
    ok(await f.registry.register2("romeo@example.com/r", APP2, INST));
    assert.equal(f.store.countByBare("juliet@example.com"), 2);
  } finally {
    f.close();
  }
});

test("a registration freed by unregister makes room under the cap", async () => {
  const f = fixture({ maxRegistrationsPerJid: 1 });
  try {
    ok(await f.registry.register1("alice@example.org/r", "T1"));
    assert.equal((await f.registry.register1("alice@example.org/r", "T2")).ok, false);
    assert.ok((await f.registry.unregister1("alice@example.org/r", "T1")).ok);
    ok(await f.registry.register1("alice@example.org/r", "T2"));
  } finally {
    f.close();
  }
});

// store extras

test("countLiveByDialect counts each dialect's registrations", async () => {
  const f = fixture();
  try {
    ok(await f.registry.register1("a@example.org/r", "T1"));
    ok(await f.registry.register1("a@example.org/r", "T2"));
    ok(await f.registry.register2("a@example.org/r", APP, INST));
    assert.deepEqual(f.store.countLiveByDialect(f.clock.t), { 1: 2, 2: 1 });
    assert.equal(f.store.deleteBare("a@example.org"), 3);
    assert.deepEqual(f.store.countLiveByDialect(f.clock.t), { 1: 0, 2: 0 });
  } finally {
    f.close();
  }
});
