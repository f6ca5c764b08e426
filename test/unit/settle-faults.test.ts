// A late answer may come while the store cannot write, and a delivery attempt
// may throw (a bug): neither may end the process or keep a copy held for ever.
// The store fault here is real: another connection holds SQLite's write lock
// (an admin command, a backup), so our writes fail SQLITE_BUSY after busy_timeout.
import { pushService } from "./_push.ts";
import { afterEach, beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import Database from "better-sqlite3";
import { PushService, type Attempt, type Transport } from "../../src/push.ts";
import { Settler } from "../../src/settle.ts";
import { Flusher } from "../../src/queue-flush.ts";
import { QueueStore } from "../../src/store/queue.ts";
import { Registry } from "../../src/registry.ts";
import { httpAnswer } from "../../src/http/status.ts";
import { createLogger } from "../../src/log.ts";
import type { FaultSink } from "../../src/store/faults.ts";
import type { IqAnswer } from "../../src/outcomes.ts";
import type { Registration } from "../../src/store/registrations.ts";
import { fixture, type Fixture } from "./_db.ts";

const APP = "bK3sdmrbtj3bf6XA2S12b8jJUA5TT1dhPEyeoZfVSRM=";
const INSTANCE = "EtD/1XPLmoIph7W73CZ/uyv6FAnhEAXY1GySHX17vAw=";

let f: Fixture;
let q: QueueStore;
let faults: string[];
let sink: FaultSink & { problem?: string };
let iqs: { answer: (a: IqAnswer) => void; late?: (a: IqAnswer) => void }[];
let request: Transport["request"];
let settler: Settler;
let freed: [number, boolean][];
let pushes: PushService;
let registry: Registry;
let reg: Registration;
let locker: Database.Database | undefined;
let rejections: unknown[];
const onRejection = (err: unknown): void => void rejections.push(err);

beforeEach(async () => {
  faults = [];
  rejections = [];
  process.on("unhandledRejection", onRejection);
  sink = {
    fault(op, err) {
      faults.push(`${op} ${err.code}`);
      this.problem = err.code;
    },
    wrote: () => undefined,
  };
  f = fixture({}, sink);
  q = f.queue;
  registry = new Registry({ store: f.sqlite.registrations, now: () => f.clock.t, mint: ((n = 0) => () => `E${String(++n).padStart(31, "0")}`)(), faults: sink, options: { registrationTtl: 7 * 86400, allowedDomains: [], maxRegistrationsPerJid: 10 } });
  iqs = [];
  request = (_iq, _ms, late) => new Promise<IqAnswer>((resolve) => void iqs.push({ answer: resolve, ...(late && { late }) }));
  freed = [];
  settler = new Settler({
    remove: (row, registration) => void q.remove(row, registration),
    revoke: (e) => void registry.revoke(e),
    onFree: (id, failed) => void freed.push([id, failed]),
    log: createLogger("silent"),
  });
  pushes = pushService(f, {
    registry,
    transport: { online: true, domain: "up.example.org", nextId: () => "id", send: async () => {}, request: (iq, ms, late) => request(iq, ms, late) },
    queue: f.sqlite.queue,
    answerWithinMs: 10,
    settler,
    faults: sink,
  });
  const r = await registry.register2("juliet@example.com/phone", APP, INSTANCE);
  assert.ok(r.ok);
  reg = r.reg;
});
afterEach(() => {
  process.off("unhandledRejection", onRejection);
  locker?.close();
  locker = undefined;
  f.close();
});

const turn = (ms = 5): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Another process's write transaction: ours wait busy_timeout, then fail SQLITE_BUSY. */
function lockTheStore(): void {
  locker = new Database(f.path);
  locker.exec("BEGIN IMMEDIATE");
}
function unlockTheStore(): void {
  locker!.exec("ROLLBACK");
}

async function heldCopy(): Promise<void> {
  const outcome = await pushes.push(reg.endpoint, { payload: Buffer.from("one"), ttl: 60 });
  assert.equal(outcome.kind, "queued");
  assert.equal(settler.holding, 1);
  iqs[0]!.answer({ kind: "timeout" });
  await turn();
}

test("a late result while another process holds the store's lock is a store fault, not a crash, and the copy is never sent again", async () => {
  await heldCopy();
  lockTheStore();
  assert.doesNotThrow(() => iqs[0]!.late!({ kind: "result" }));
  await turn();
  assert.deepEqual(faults, ["remove SQLITE_BUSY"]);
  assert.equal(settler.holding, 0);
  assert.deepEqual(freed, [[reg.id, false]]);
  unlockTheStore();
  sink.problem = undefined; // the health probe would say so
  assert.equal(q.head(reg.id, f.clock.t), undefined, "delivered: not handed out again though its row is still there");
  q.retryRemovals();
  assert.equal(q.count(reg.id, f.clock.t), 0, "deleted once the store writes again");
  assert.deepEqual(rejections, []);
});

test("a late item-not-found while the store is locked neither throws nor revokes; the endpoint stays for the next push to ask again", async () => {
  await heldCopy();
  lockTheStore();
  assert.doesNotThrow(() => iqs[0]!.late!({ kind: "error", condition: "item-not-found" }));
  await turn();
  assert.deepEqual(faults, ["revoke SQLITE_BUSY"]);
  unlockTheStore();
  assert.ok(await registry.lookup(reg.endpoint));
  assert.deepEqual(rejections, []);
});

test("a registration move while the store is locked is a store fault and returns false", async () => {
  lockTheStore();
  assert.equal(await registry.move(reg, "juliet@example.com/tablet"), false);
  assert.deepEqual(faults, ["move SQLITE_BUSY"]);
  unlockTheStore();
  assert.equal((await registry.lookup(reg.endpoint))?.jid, "juliet@example.com/phone");
});

test("a POST whose push attempt throws is kept and answered 201, and its copy is released, not held for ever", async () => {
  request = () => Promise.reject(new Error("a bug in the edge"));
  const outcome = await pushes.push(reg.endpoint, { payload: Buffer.from("one"), ttl: 60 });
  assert.equal(httpAnswer(outcome).status, 201);
  await turn();
  assert.equal(settler.holding, 0);
  assert.deepEqual(freed, [[reg.id, true]], "released to the flusher, after a back-off");
  assert.equal(q.count(reg.id, f.clock.t), 1);
  assert.deepEqual(rejections, []);
});

test("a flush whose attempt throws releases the hold, and the queue is retried", async () => {
  const r = q.enqueue({ registration: reg.id, payload: Buffer.from("x"), ttl: 60, topic: null, urgency: null, content_encoding: null, vapid_key: null, created_at: f.clock.t, expires_at: f.clock.t + 60_000 }, 10);
  assert.ok(r.ok);
  let calls = 0;
  const flusher = new Flusher({
    queue: f.sqlite.queue,
    settler,
    attempt: async (): Promise<Attempt> => {
      calls++;
      throw new Error("a bug in the attempt");
    },
    lookup: (e) => registry.lookup(e),
    now: () => f.clock.t,
    log: createLogger("silent"),
    sweepMs: 60_000,
  });
  flusher.wake(reg.id);
  await turn(20);
  assert.equal(calls, 1);
  assert.equal(settler.held(r.id), false);
  assert.deepEqual(freed, [[reg.id, true]]);
  await flusher.stop();
  assert.deepEqual(rejections, []);
});

test("a POST that must be stored while another process holds the lock is answered 503 with Retry-After, never 500", async () => {
  lockTheStore();
  const outcome = await pushes.push(reg.endpoint, { payload: Buffer.from("one"), ttl: 60 });
  const a = httpAnswer(outcome);
  assert.equal(a.status, 503);
  assert.deepEqual(faults, ["enqueue SQLITE_BUSY"]);
  unlockTheStore();
  assert.deepEqual(rejections, []);
});

test("a dialect-1 notification whose socket write does not complete by answer_within (a frozen server, full buffers) is answered 503, never a 201 for what may be lost", async () => {
  const r1 = await registry.register1("romeo@example.com/phone", "pub-token-1");
  assert.ok(r1.ok);
  let written: (() => void) | undefined;
  const d1 = pushService(f, {
    registry,
    transport: { online: true, domain: "up.example.org", nextId: () => "n1", send: () => new Promise<void>((res) => (written = res)), request },
    queue: f.sqlite.queue,
    answerWithinMs: 30,
    settler,
  });
  const started = performance.now();
  const outcome = await d1.push(r1.reg.endpoint, { payload: Buffer.from("one") });
  assert.ok(performance.now() - started < 1000);
  assert.equal(httpAnswer(outcome).status, 503);
  assert.ok(httpAnswer(outcome).headers["Retry-After"]);
  written!();
  const failing = pushService(f, { registry, transport: { online: true, domain: "up.example.org", nextId: () => "n2", send: () => Promise.reject(new Error("link lost")), request }, queue: f.sqlite.queue, answerWithinMs: 30, settler });
  assert.equal(httpAnswer(await failing.push(r1.reg.endpoint, { payload: Buffer.from("two") })).status, 503, "a write that fails in time is still 503");
  assert.deepEqual(rejections, []);
});
