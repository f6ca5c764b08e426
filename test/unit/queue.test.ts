// Store-and-forward rules and the queue table, on real SQLite in a temp dir.
import { afterEach, beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import { afterTemporary, keptTtl, planPush, type QueuePolicy } from "../../src/queue.ts";
import { backoffMs } from "../../src/backoff.ts";
import { QueueStore, type NewMessage } from "../../src/store/queue.ts";
import { openDb } from "../../src/store/db.ts";
import { fixture, type Fixture } from "./_db.ts";

const POLICY: QueuePolicy = { defaultTtl: 86400, maxTtl: 2419200, maxPerRegistration: 1000 };
const APP = "bK3sdmrbtj3bf6XA2S12b8jJUA5TT1dhPEyeoZfVSRM=";
const INSTANCE = (n: number): string => `${String(n).padStart(43, "A")}=`;

test("a sender's TTL is kept as asked", () => assert.equal(keptTtl(3600, POLICY), 3600));
test("a message without TTL is kept for default_ttl", () => assert.equal(keptTtl(undefined, POLICY), 86400));
test("a TTL above max_ttl is cut to max_ttl, never more than asked", () => assert.equal(keptTtl(10 ** 9, POLICY), 2419200));
test("TTL 0 is kept for 0 seconds", () => assert.equal(keptTtl(0, POLICY), 0));
test("a queue bound of 0 turns store and forward off", () => assert.equal(keptTtl(3600, { ...POLICY, maxPerRegistration: 0 }), 0));
test("max_ttl 0 keeps nothing even without a TTL header", () => assert.equal(keptTtl(undefined, { ...POLICY, defaultTtl: 0, maxTtl: 0 }), 0));

test("a push with nothing waiting is sent now", () => {
  assert.equal(planPush(60, false), "send");
  assert.equal(planPush(0, false), "send");
});
test("a push with messages waiting queues behind them", () => assert.equal(planPush(60, true), "queue"));
test("a TTL 0 push never overtakes waiting messages: it is refused", () => assert.equal(planPush(0, true), "refuse"));
test("a temporary failure queues a message that may wait and refuses one that may not", () => {
  assert.equal(afterTemporary(1), "queue");
  assert.equal(afterTemporary(0), "refuse");
});

test("retry delays double from the base up to the ceiling, jittered in the upper half", () => {
  assert.equal(backoffMs(1, 1000, 60_000, () => 1), 1000);
  assert.equal(backoffMs(1, 1000, 60_000, () => 0), 500);
  assert.equal(backoffMs(4, 1000, 60_000, () => 1), 8000);
  assert.equal(backoffMs(20, 1000, 60_000, () => 1), 60_000);
});

let f: Fixture;
let q: QueueStore;
beforeEach(() => {
  f = fixture();
  q = new QueueStore(f.db);
});
afterEach(() => f.close());

async function reg(n = 1): Promise<{ id: number; endpoint: string }> {
  const r = await f.registry.register2(`juliet@example.com/phone`, APP, INSTANCE(n));
  assert.ok(r.ok);
  return r.reg;
}

function msg(registration: number, body: string, extra: Partial<NewMessage> = {}): NewMessage {
  const now = f.clock.t;
  return {
    registration, payload: Buffer.from(body), ttl: 60, topic: null, urgency: null, content_encoding: null, vapid_key: null,
    created_at: now, expires_at: now + 60_000, ...extra,
  };
}

function drain(registration: number): string[] {
  const out: string[] = [];
  for (let h = q.head(registration, f.clock.t); h; h = q.head(registration, f.clock.t)) {
    out.push(h.payload.toString());
    q.remove(h.id);
  }
  return out;
}

test("queued messages come out oldest first, each once", async () => {
  const r = await reg();
  for (const b of ["a", "b", "c"]) assert.ok(q.enqueue(msg(r.id, b), 10).ok);
  assert.equal(q.head(r.id, f.clock.t)!.endpoint, r.endpoint);
  assert.deepEqual(drain(r.id), ["a", "b", "c"]);
  assert.equal(q.hasWaiting(r.id, f.clock.t), false);
});

test("order holds after the queue was emptied and refilled", async () => {
  const r = await reg();
  q.enqueue(msg(r.id, "a"), 10);
  drain(r.id);
  for (const b of ["b", "c"]) q.enqueue(msg(r.id, b), 10);
  assert.deepEqual(drain(r.id), ["b", "c"]);
});

test("a message with the Topic of a queued one replaces it and takes the new place at the back", async () => {
  const r = await reg();
  q.enqueue(msg(r.id, "old", { topic: "weather" }), 10);
  q.enqueue(msg(r.id, "other"), 10);
  const res = q.enqueue(msg(r.id, "new", { topic: "weather" }), 10);
  assert.deepEqual(res.ok && res.replaced, true);
  assert.deepEqual(drain(r.id), ["other", "new"]);
});

test("Topics are per registration: the same Topic elsewhere replaces nothing", async () => {
  const a = await reg(1), b = await reg(2);
  q.enqueue(msg(a.id, "a", { topic: "t" }), 10);
  q.enqueue(msg(b.id, "b", { topic: "t" }), 10);
  assert.deepEqual(drain(a.id), ["a"]);
  assert.deepEqual(drain(b.id), ["b"]);
});

test("a full queue refuses a new message and keeps every accepted one", async () => {
  const r = await reg();
  for (const b of ["1", "2"]) assert.ok(q.enqueue(msg(r.id, b), 2).ok);
  assert.deepEqual(q.enqueue(msg(r.id, "3"), 2), { ok: false, reason: "full" });
  assert.deepEqual(drain(r.id), ["1", "2"]);
});

test("a Topic replacement fits in a full queue: it adds nothing", async () => {
  const r = await reg();
  q.enqueue(msg(r.id, "1", { topic: "t" }), 2);
  q.enqueue(msg(r.id, "2"), 2);
  assert.ok(q.enqueue(msg(r.id, "3", { topic: "t" }), 2).ok);
  assert.deepEqual(drain(r.id), ["2", "3"]);
});

test("expired messages are never handed out, do not count toward the bound, and the sweep drops them", async () => {
  const r = await reg();
  q.enqueue(msg(r.id, "short", { expires_at: f.clock.t + 1000 }), 2);
  q.enqueue(msg(r.id, "long"), 2);
  f.clock.t += 1000;
  assert.equal(q.count(r.id, f.clock.t), 1);
  assert.ok(q.enqueue(msg(r.id, "more"), 2).ok);
  assert.equal(q.expire(f.clock.t), 1);
  assert.deepEqual(drain(r.id), ["long", "more"]);
});

test("revoking a registration drops its queue", async () => {
  const r = await reg();
  q.enqueue(msg(r.id, "a"), 10);
  await f.registry.revoke(r.endpoint);
  assert.equal(q.depth(), 0);
});

test("a message for a registration revoked meanwhile is refused as gone", async () => {
  const r = await reg();
  await f.registry.revoke(r.endpoint);
  assert.deepEqual(q.enqueue(msg(r.id, "late"), 10), { ok: false, reason: "gone" });
});

test("registrations waiting are found in all and by account", async () => {
  const a = await reg(1), b = await reg(2);
  q.enqueue(msg(a.id, "a"), 10);
  assert.deepEqual(q.waiting(f.clock.t), [a.id]);
  assert.deepEqual(q.waitingFor("juliet@example.com", f.clock.t), [a.id]);
  assert.deepEqual(q.waitingFor("romeo@example.com", f.clock.t), []);
  assert.notEqual(a.id, b.id);
});

test("every column of a queued message survives closing and reopening the database", async () => {
  const r = await reg();
  const payload = Buffer.from([0, 255, 1, 254]);
  q.enqueue(msg(r.id, "", { payload, topic: "t", urgency: "high", content_encoding: "aes128gcm", vapid_key: "BKey", ttl: 60 }), 10);
  f.db.close();
  const db = openDb(f.path);
  try {
    const h = new QueueStore(db).head(r.id, f.clock.t)!;
    assert.deepEqual([h.payload, h.topic, h.urgency, h.content_encoding, h.vapid_key, h.ttl], [payload, "t", "high", "aes128gcm", "BKey", 60]);
  } finally {
    db.close();
    f.db = openDb(f.path); // for afterEach
  }
});
