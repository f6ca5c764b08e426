// The flusher on real SQLite, with a scripted delivery attempt in place of the
// XMPP edge (the integration tests drive it through a real Prosody).
import { afterEach, beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import { Flusher } from "../../src/queue-flush.ts";
import { Settler } from "../../src/settle.ts";
import { QueueStore } from "../../src/store/queue.ts";
import { createLogger } from "../../src/log.ts";
import type { Attempt } from "../../src/push.ts";
import type { Registration } from "../../src/store/registrations.ts";
import { fixture, type Fixture } from "./_db.ts";

const APP = "bK3sdmrbtj3bf6XA2S12b8jJUA5TT1dhPEyeoZfVSRM=";
const INSTANCE = (n: number): string => `${String(n).padStart(43, "A")}=`;

let f: Fixture;
let q: QueueStore;
let sent: { reg: number; body: string }[];
let answer: (body: string) => Attempt["verdict"];
let inFlight: Map<number, number>;
let maxInFlight: number;
let flusher: Flusher;
let settler: Settler;

beforeEach(() => {
  f = fixture();
  q = f.queue;
  sent = [];
  answer = () => "delivered";
  inFlight = new Map();
  maxInFlight = 0;
  settler = new Settler({
    remove: (row) => void q.remove(row),
    revoke: (e) => void f.registry.revoke(e),
    onFree: (id, failed) => flusher.freed(id, failed),
    log: createLogger("silent"),
  });
  flusher = new Flusher({
    queue: f.sqlite.queue,
    settler,
    async attempt(reg: Registration, payload: Buffer): Promise<Attempt> {
      const n = (inFlight.get(reg.id) ?? 0) + 1;
      inFlight.set(reg.id, n);
      maxInFlight = Math.max(maxInFlight, n);
      await new Promise((r) => setTimeout(r, 2));
      inFlight.set(reg.id, n - 1);
      sent.push({ reg: reg.id, body: payload.toString() });
      const verdict = answer(payload.toString());
      if (verdict === "gone") await f.registry.revoke(reg.endpoint);
      return { verdict, retryAfter: 60, unanswered: false };
    },
    lookup: (e) => f.registry.lookup(e),
    now: () => f.clock.t,
    log: createLogger("silent"),
    sweepMs: 1000,
    random: () => 1,
  });
});
afterEach(async () => {
  await flusher.stop();
  f.close();
});

async function reg(n = 1): Promise<Registration> {
  const r = await f.registry.register2("juliet@example.com/phone", APP, INSTANCE(n));
  assert.ok(r.ok);
  return r.reg;
}

function put(r: Registration, ...bodies: string[]): void {
  for (const body of bodies) {
    const res = q.enqueue(
      { registration: r.id, payload: Buffer.from(body), ttl: 60, topic: null, urgency: null, content_encoding: null, vapid_key: null, created_at: f.clock.t, expires_at: f.clock.t + 60_000 },
      1000,
    );
    assert.ok(res.ok);
  }
}

const settle = async (): Promise<void> => {
  await new Promise((r) => setImmediate(r)); // the store's answer (a Promise now) comes in: wakeJid() calls wake() then
  await new Promise((r) => setImmediate(r)); // wake() starts on the next turn
  while (flusher.flushing > 0) await new Promise((r) => setTimeout(r, 5));
};

test("a woken registration gets its queue in order, one IQ at a time, and each message is deleted after its result", async () => {
  const r = await reg();
  put(r, "1", "2", "3");
  flusher.wake(r.id);
  flusher.wake(r.id); // a second wake while flushing starts no second flush
  await settle();
  assert.deepEqual(sent.map((s) => s.body), ["1", "2", "3"]);
  assert.equal(maxInFlight, 1);
  assert.equal(q.depth(), 0);
});

test("a temporary failure keeps the message and stops the flush until the retry is due", async () => {
  const r = await reg();
  put(r, "1", "2");
  answer = () => "temporary";
  flusher.wake(r.id);
  await settle();
  assert.deepEqual(sent.map((s) => s.body), ["1"]);
  assert.equal(q.count(r.id, f.clock.t), 2);

  answer = () => "delivered";
  await flusher.sweep(); // not due yet: the first retry waits one sweep interval
  await settle();
  assert.equal(sent.length, 1);
  f.clock.t += 1000;
  await flusher.sweep();
  await settle();
  assert.deepEqual(sent.map((s) => s.body), ["1", "1", "2"]);
});

test("a new message behind a backlog in backoff does not bypass the delay, but a wake does", async () => {
  const r = await reg();
  put(r, "1");
  answer = () => "temporary";
  flusher.wake(r.id);
  await settle();
  answer = () => "delivered";
  put(r, "2");
  flusher.queued(r.id, false);
  await settle();
  assert.equal(sent.length, 1);
  flusher.wake(r.id);
  await settle();
  assert.deepEqual(sent.map((s) => s.body), ["1", "1", "2"]);
});

test("a gone app stops the flush and its queue goes with the revoked registration", async () => {
  const r = await reg();
  put(r, "1", "2");
  answer = () => "gone";
  flusher.wake(r.id);
  await settle();
  assert.equal(sent.length, 1);
  assert.equal(q.depth(), 0);
  assert.equal(await f.registry.lookup(r.endpoint), undefined);
});

test("link up flushes every registration that has messages, each in its own order", async () => {
  const a = await reg(1), b = await reg(2);
  put(a, "a1", "a2");
  put(b, "b1", "b2");
  flusher.wakeAll();
  await settle();
  assert.deepEqual(sent.filter((s) => s.reg === a.id).map((s) => s.body), ["a1", "a2"]);
  assert.deepEqual(sent.filter((s) => s.reg === b.id).map((s) => s.body), ["b1", "b2"]);
});

test("directed presence from any resource of the account tries its waiting registrations; other accounts wait", async () => {
  const r = await reg();
  const other = await f.registry.register2("romeo@example.com/phone", APP, INSTANCE(9));
  assert.ok(other.ok);
  put(r, "1");
  put(other.reg, "romeo's");
  flusher.wakeJid("someone@example.com/phone");
  await settle();
  assert.equal(sent.length, 0);
  flusher.wakeJid("juliet@example.com/laptop"); // maybe the same device under a new resource (src/follow/)
  await settle();
  assert.deepEqual(sent, [{ reg: r.id, body: "1" }]);
});

test("the sweep drops expired messages without sending them", async () => {
  const r = await reg();
  put(r, "1");
  f.clock.t += 60_000;
  await flusher.sweep();
  await settle();
  assert.equal(sent.length, 0);
  assert.equal(q.depth(), 0);
});

test("a message whose push IQ may still be answered is not sent again, nor what waits behind it, until that answer settles it", async () => {
  const r = await reg();
  put(r, "held", "behind");
  const row = q.head(r.id, f.clock.t)!.id;
  const c = settler.hold({ registration: r.id, endpoint: r.endpoint, row });
  settler.answered(c, "temporary", true); // the IQ timed out; its late window is open
  flusher.wake(r.id);
  await flusher.sweep();
  await settle();
  assert.equal(sent.length, 0, "held: the flusher stops at it");
  settler.late(c, { kind: "result" }); // the phone answers late: it has the message
  await settle();
  assert.deepEqual(sent.map((s) => s.body), ["behind"], "the held copy is deleted, never sent twice; the next one goes");
  assert.equal(q.count(r.id, f.clock.t), 0);
});

test("a held message released by a dropped link is sent again", async () => {
  const r = await reg();
  put(r, "maybe lost");
  const c = settler.hold({ registration: r.id, endpoint: r.endpoint, row: q.head(r.id, f.clock.t)!.id });
  settler.late(c, { kind: "link-lost" });
  flusher.wakeAll(); // the link is back
  await settle();
  assert.deepEqual(sent.map((s) => s.body), ["maybe lost"]);
});

test("when a held copy is delivered, the queue behind it goes at once, even if an older retry delay is still running", async () => {
  const r = await reg();
  put(r, "held", "behind");
  const c = settler.hold({ registration: r.id, endpoint: r.endpoint, row: q.head(r.id, f.clock.t)!.id });
  settler.answered(c, "temporary", true); // timed out; late window open
  flusher.queued(r.id, true); // meanwhile a concurrent POST's early temporary answer set a retry delay
  await settle();
  assert.equal(sent.length, 0);
  settler.late(c, { kind: "result" });
  await settle();
  assert.deepEqual(sent.map((s) => s.body), ["behind"], "not after the retry delay: the distributor just answered");
});

test("a held copy bounced recipient-unavailable when its hibernated session ends is retried at once, not after a back-off", async () => {
  const r = await reg();
  put(r, "held");
  const c = settler.hold({ registration: r.id, endpoint: r.endpoint, row: q.head(r.id, f.clock.t)!.id });
  settler.answered(c, "temporary", true);
  settler.late(c, { kind: "error", condition: "recipient-unavailable" });
  await settle();
  assert.deepEqual(sent.map((s) => s.body), ["held"], "the attempt runs now (and follows the device from there)");
});
