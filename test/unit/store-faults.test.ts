// Store faults as data, on real SQLite in a temp dir: a second connection
// opened read-only makes every write fail with SQLITE_READONLY, as a
// read-only remount does; the first connection stays writable. Unlike a sick
// disk, the read-only connection refuses even a DELETE that matches no row,
// so the writes here that must fail change rows; a sick disk proper (chattr +i)
// is at the end, and in test/integration/store-fault.test.ts.
import { afterEach, beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import Database from "better-sqlite3";
import { createLogger } from "../../src/log.ts";
import { isStoreFault, tryWrite } from "../../src/store/faults.ts";
import { StoreHealth } from "../../src/store/health.ts";
import { QueueStore, type NewMessage } from "../../src/store/queue.ts";
import { openSqliteStore, type SqliteStore } from "../../src/store/sqlite/index.ts";
import { Registry } from "../../src/registry.ts";
import { iqHandlers } from "../../src/xmpp/handlers.ts";
import { parseRegister2 } from "../../src/stanzas/dialect2.ts";
import xml from "@xmpp/xml";
import { fixture, type Fixture } from "./_db.ts";

const APP = "bK3sdmrbtj3bf6XA2S12b8jJUA5TT1dhPEyeoZfVSRM=";
const INSTANCE = "EtD/1XPLmoIph7W73CZ/uyv6FAnhEAXY1GySHX17vAw=";
const NS_CONV = "http://gultsch.de/xmpp/drafts/unified-push";

let f: Fixture;
let ro: Database.Database;
let roStore: SqliteStore | undefined;
beforeEach(() => {
  f = fixture();
  ro = new Database(f.path, { readonly: true });
});
afterEach(() => {
  ro.close();
  roStore?.db.close();
  roStore = undefined;
  f.close();
});

/**
 * The async store (src/store/sqlite/) over a second connection that cannot
 * write: opened as the gateway opens it, then query_only, so that every write
 * fails SQLITE_READONLY as on the read-only connection above.
 */
function readOnlyRegistrations(): SqliteStore["registrations"] {
  roStore = openSqliteStore(f.path);
  roStore.db.pragma("query_only = ON");
  return roStore.registrations;
}

/** A fault sink that remembers what it was told. */
function sink() {
  const seen = { faults: [] as string[], writes: 0 };
  return { seen, fault: (op: string) => void seen.faults.push(op), wrote: () => void seen.writes++ };
}

function msg(registration: number, extra: Partial<NewMessage> = {}): NewMessage {
  return {
    registration, payload: Buffer.from("x"), ttl: 60, topic: null, urgency: null, content_encoding: null, vapid_key: null,
    created_at: f.clock.t, expires_at: f.clock.t + 60_000, ...extra,
  };
}

const registered = async () => {
  const r = await f.registry.register2("juliet@example.com/phone", APP, INSTANCE);
  assert.ok(r.ok);
  return r.reg;
};

test("a write on a read-only database is a store fault; a constraint violation and a plain Error are not", () => {
  const readonly = (() => {
    try {
      ro.prepare("INSERT INTO store_probe (id, at) VALUES (1, 1)").run();
    } catch (err) {
      return err;
    }
  })();
  assert.equal((readonly as { code?: string }).code, "SQLITE_READONLY");
  assert.ok(isStoreFault(readonly));
  const constraint = (() => {
    try {
      f.db.prepare("INSERT INTO store_probe (id, at) VALUES (2, 1)").run(); // CHECK (id = 1)
    } catch (err) {
      return err;
    }
  })();
  assert.match(String((constraint as { code?: string }).code), /^SQLITE_CONSTRAINT/);
  assert.equal(isStoreFault(constraint), false);
  assert.equal(isStoreFault(new Error("bug")), false);
  for (const code of ["SQLITE_FULL", "SQLITE_IOERR_WRITE", "SQLITE_IOERR_FSYNC", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_READONLY_DBMOVED"]) {
    assert.ok(isStoreFault(Object.assign(new Error(code), { code })), code);
  }
});

test("tryWrite reports a store fault and returns undefined; a bug still throws", () => {
  const s = sink();
  assert.equal(tryWrite(s, "probe", () => ro.prepare("INSERT INTO store_probe (id, at) VALUES (1, 1)").run()), undefined);
  assert.deepEqual(s.seen.faults, ["probe"]);
  assert.throws(() => tryWrite(s, "bug", () => { throw new TypeError("a bug"); }), TypeError);
  assert.equal(tryWrite(s, "ok", () => 42), 42);
  assert.equal(s.seen.writes, 1);
});

test("enqueue on a store that cannot write is refused as store-failed, not thrown; cancel and expire too", async () => {
  const reg = await registered();
  const writer = new QueueStore(f.db);
  assert.ok(writer.enqueue(msg(reg.id, { public_id: "A".repeat(22) }), 10).ok);
  assert.ok(writer.enqueue(msg(reg.id, { expires_at: f.clock.t - 1 }), 10).ok);
  const s = sink();
  const q = new QueueStore(ro, s);
  assert.deepEqual(q.enqueue(msg(reg.id), 10), { ok: false, reason: "store-failed" });
  assert.equal(q.cancel("A".repeat(22), f.clock.t), "store-failed");
  assert.equal(q.expire(f.clock.t), 0);
  assert.deepEqual(s.seen.faults, ["enqueue", "cancel", "expire"]);
});

test("cancel deletes a stored message by its public id once: cancelled, then gone; an expired or unknown one is gone", async () => {
  const reg = await registered();
  const q = new QueueStore(f.db);
  assert.ok(q.enqueue(msg(reg.id, { public_id: "live-message-id-000001" }), 10).ok);
  assert.ok(q.enqueue(msg(reg.id, { public_id: "old-message-id-0000001", expires_at: f.clock.t - 1 }), 10).ok);
  assert.ok(q.enqueue(msg(reg.id, { public_id: "kept-message-id-000001" }), 10).ok);
  assert.equal(q.cancel("live-message-id-000001", f.clock.t), "cancelled");
  assert.equal(q.cancel("live-message-id-000001", f.clock.t), "gone");
  assert.equal(q.cancel("old-message-id-0000001", f.clock.t), "gone");
  assert.equal(q.cancel("never-issued-id-000001", f.clock.t), "gone");
  assert.equal(q.count(reg.id, f.clock.t), 1, "the other message stays");
});

test("a message replaced by a later one of its Topic can no longer be cancelled", async () => {
  const reg = await registered();
  const q = new QueueStore(f.db);
  assert.ok(q.enqueue(msg(reg.id, { public_id: "first-of-topic-000001", topic: "t" }), 10).ok);
  assert.ok(q.enqueue(msg(reg.id, { public_id: "second-of-topic-00001", topic: "t" }), 10).ok);
  assert.equal(q.cancel("first-of-topic-000001", f.clock.t), "gone");
  assert.equal(q.cancel("second-of-topic-00001", f.clock.t), "cancelled");
});

test("a registry on a store that cannot write refuses registrations as unavailable and does not throw on revoke or sweep", async () => {
  const existing = await registered();
  const s = sink();
  const registry = new Registry({
    store: readOnlyRegistrations(),
    now: () => f.clock.t,
    mint: () => "N".repeat(32),
    faults: s,
    options: { registrationTtl: 86400, allowedDomains: [], maxRegistrationsPerJid: 100 },
  });
  const r = await registry.register2("romeo@example.com/phone", APP, INSTANCE);
  assert.deepEqual(r.ok ? "accepted" : r.reason, "unavailable");
  const renew = await registry.register2("juliet@example.com/phone", APP, INSTANCE);
  assert.equal(renew.ok ? "accepted" : renew.reason, "unavailable", "a renewal writes too");
  assert.equal(await registry.revoke(existing.endpoint), false);
  assert.equal((await registry.lookup(existing.endpoint))?.id, existing.id, "reads still work");
  f.clock.t += 86400_000 + 1; // past its expiry: the sweep has a row to delete
  assert.equal(await registry.sweepExpired(), 0);
  assert.deepEqual(s.seen.faults, ["register", "register", "revoke", "sweep"]);
});

/** The IQ handlers over a registry whose store cannot write. */
function handlersOnReadOnlyStore(): ReturnType<typeof iqHandlers> {
  const registry = new Registry({
    store: readOnlyRegistrations(),
    now: () => f.clock.t,
    mint: () => "N".repeat(32),
    options: { registrationTtl: 86400, allowedDomains: [], maxRegistrationsPerJid: 100 },
  });
  return iqHandlers({ registry, endpointUrl: (t) => `https://up.example.org/up/${t}` });
}

test("a Conversations register that cannot be stored is answered with a stanza error of type wait (RFC 6120 §8.3.3.18)", async () => {
  const handlers = handlersOnReadOnlyStore();
  const child = xml("register", { xmlns: NS_CONV, application: APP, instance: INSTANCE });
  assert.ok(!("error" in parseRegister2(child)));
  const reply = await handlers.get(`set ${NS_CONV} register`)!("romeo@example.com/phone", child);
  assert.ok("error" in reply);
  assert.equal(reply.error.attrs.type, "wait");
  assert.ok(reply.error.getChild("resource-constraint", "urn:ietf:params:xml:ns:xmpp-stanzas"));
});

test("a unifiedpush.org register that cannot be stored gets the same wait error, with its reason in register/error", async () => {
  const handlers = handlersOnReadOnlyStore();
  const child = xml("register", { xmlns: "unifiedpush.org" }, xml("token", {}, "public-token"));
  const reply = await handlers.get("set unifiedpush.org register")!("romeo@example.com/phone", child);
  assert.ok("error" in reply);
  assert.equal(reply.error.attrs.type, "wait");
  assert.ok(reply.error.getChild("resource-constraint", "urn:ietf:params:xml:ns:xmpp-stanzas"));
  assert.match(reply.payload!.getChildText("error")!, /try again later/);
});

test("StoreHealth logs a burst of failures once, says why, and recovers only when its probe writes again", async () => {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger("info", { write: (s: string) => void lines.push(JSON.parse(s)) });
  let conn = ro;
  const probe = async () => void conn.prepare("INSERT OR REPLACE INTO store_probe (id, at) VALUES (1, ?)").run(1);
  const counted: string[] = [];
  let recovered = 0;
  let t = 0;
  const health = new StoreHealth({ probe, log, now: () => t, onFault: (op) => counted.push(op), onRecovered: () => void recovered++ });
  assert.equal(await health.check(), false);
  assert.match(health.problem!, /cannot write: .*SQLITE_READONLY/);
  for (let i = 0; i < 5; i++) {
    t += 2000;
    assert.equal(await health.current(), health.problem, "a stale answer is probed again");
  }
  assert.equal(counted.length, 6);
  assert.equal(lines.filter((l) => l.level === 50).length, 1, "one error line for the burst");
  // a write that succeeds is no evidence while the probe fails: on a sick disk a DELETE matching nothing succeeds
  assert.equal(tryWrite(health, "sweep", () => f.db.prepare("DELETE FROM queue WHERE id = -1").run().changes, (n) => n > 0), 0);
  health.wrote();
  assert.match(String(health.problem), /cannot write/);
  t += 500;
  assert.match(String(await health.current()), /cannot write/, "and it does not make the answer fresh");
  assert.equal(recovered, 0);
  conn = f.db;
  t += 2000;
  assert.equal(await health.current(), undefined);
  assert.equal(recovered, 1, "told once");
  const healed = lines.find((l) => l.msg === "the store writes again")!;
  assert.equal(healed.failures, 6);
  // another burst is logged again
  conn = ro;
  assert.equal(await health.check(), false);
  assert.equal(lines.filter((l) => l.level === 50).length, 2);
});

test("a busy probe says nothing either way; a bug in the probe throws from check() but is logged, not thrown, by the timer", async () => {
  const busy = Object.assign(new Error("database is locked"), { code: "SQLITE_BUSY" });
  let fail: Error | undefined = busy;
  const lines: Record<string, unknown>[] = [];
  let t = 0;
  const health = new StoreHealth({
    now: () => t,
    probe: async () => { if (fail) throw fail; },
    log: createLogger("info", { write: (s: string) => void lines.push(JSON.parse(s)) }),
  });
  assert.equal(await health.check(), true);
  assert.equal(health.problem, undefined);
  fail = new TypeError("a bug");
  await assert.rejects(health.check(), TypeError);
  const real = globalThis.setInterval;
  let tick: (() => void) | undefined;
  globalThis.setInterval = ((fn: () => void) => { tick = fn; return real(() => undefined, 1e9); }) as typeof setInterval;
  try {
    health.start();
  } finally {
    globalThis.setInterval = real;
  }
  t += 10_000;
  assert.doesNotThrow(() => tick!());
  await new Promise((r) => setImmediate(r)); // the probe's rejection reaches the timer's catch
  health.stop();
  assert.ok(lines.some((l) => l.msg === "store probe failed" && l.level === 50));
});

test("StoreHealth answers /healthz from a recent write without probing again", async () => {
  let probes = 0;
  let t = 0;
  const health = new StoreHealth({ probe: async () => void probes++, log: createLogger("silent"), now: () => t });
  health.wrote();
  t += 500;
  assert.equal(await health.current(), undefined);
  assert.equal(probes, 0);
  t += 1000;
  await health.current();
  assert.equal(probes, 1);
});

test("while the store cannot write no queued message is handed out for delivery, since its delivery could not be recorded", async () => {
  const reg = await registered();
  const writer = new QueueStore(f.db);
  const stored = writer.enqueue(msg(reg.id), 10);
  assert.ok(stored.ok);
  const s = { ...sink(), problem: "cannot write: attempt to write a readonly database (SQLITE_READONLY)" as string | undefined };
  const q = new QueueStore(ro, s);
  assert.equal(q.head(reg.id, f.clock.t), undefined);
  assert.equal(q.hasWaiting(reg.id, f.clock.t), true, "still waiting: a new push queues behind it");
  s.problem = undefined;
  assert.equal(q.head(reg.id, f.clock.t)?.id, stored.id);
});

test("a message delivered just before the store failed is not handed out again, and its row goes once the store writes", async () => {
  const reg = await registered();
  const s = { ...sink(), problem: undefined as string | undefined };
  const q = new QueueStore(f.db, s);
  const first = q.enqueue(msg(reg.id), 10);
  const second = q.enqueue(msg(reg.id), 10);
  assert.ok(first.ok && second.ok);
  assert.equal(q.head(reg.id, f.clock.t)?.id, first.id, "handed out while healthy; its IQ result comes once writes fail");
  // writes fail: another connection holds the write lock and this one does not wait (SQLITE_BUSY, a store fault)
  f.db.pragma("busy_timeout = 0");
  const other = new Database(f.path);
  other.exec("BEGIN IMMEDIATE");
  try {
    assert.equal(q.remove(first.id), true, "remembered, not thrown");
    assert.deepEqual(s.seen.faults, ["remove"]);
    assert.equal(q.head(reg.id, f.clock.t)?.id, second.id, "the delivered one is skipped");
    q.retryRemovals();
    assert.deepEqual(s.seen.faults, ["remove", "remove"], "still failing: kept for later");
  } finally {
    other.exec("ROLLBACK");
    other.close();
  }
  assert.equal(q.count(reg.id, f.clock.t), 2, "its row is still there");
  q.retryRemovals();
  assert.equal(q.count(reg.id, f.clock.t), 1, "deleted once the store writes");
  assert.equal(q.head(reg.id, f.clock.t)?.id, second.id);
  assert.equal(q.remove(second.id), true);
  assert.equal(q.head(reg.id, f.clock.t), undefined);
});
