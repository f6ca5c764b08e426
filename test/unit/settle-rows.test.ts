// A held copy is known by its queue row id, maybe for minutes (src/settle.ts).
// On real SQLite: a message stored while an older copy's IQ is still out must
// survive that IQ's answer, whatever happened to the older row meanwhile
// (Topic replacement, DELETE /message). Migration 6: ids are never reused.
import { pushService } from "./_push.ts";
import { afterEach, beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import { PushService, type Transport } from "../../src/push.ts";
import { Settler } from "../../src/settle.ts";
import { Flusher } from "../../src/queue-flush.ts";
import { QueueStore } from "../../src/store/queue.ts";
import { createLogger } from "../../src/log.ts";
import type { IqAnswer } from "../../src/outcomes.ts";
import type { Registration } from "../../src/store/registrations.ts";
import { fixture, type Fixture } from "./_db.ts";

const APP = "bK3sdmrbtj3bf6XA2S12b8jJUA5TT1dhPEyeoZfVSRM=";
const INSTANCE = "EtD/1XPLmoIph7W73CZ/uyv6FAnhEAXY1GySHX17vAw=";

/** An IQ the test answers by hand: first its own answer (timeout), then a late one. */
interface Iq {
  payload: string;
  answer: (a: IqAnswer) => void;
  late?: (a: IqAnswer) => void;
}

let f: Fixture;
let q: QueueStore;
let iqs: Iq[];
let settler: Settler;
let flusher: Flusher;
let pushes: PushService;
let reg: Registration;

beforeEach(async () => {
  f = fixture();
  q = f.queue;
  iqs = [];
  const transport: Transport = {
    online: true,
    domain: "up.example.org",
    nextId: () => `id${iqs.length}`,
    send: async () => {},
    request: (iq, _timeoutMs, late) =>
      new Promise<IqAnswer>((resolve) => {
        iqs.push({ payload: Buffer.from(iq.getChild("push")!.text(), "base64").toString(), answer: resolve, ...(late && { late }) });
      }),
  };
  settler = new Settler({
    remove: (row, registration) => void q.remove(row, registration),
    revoke: (e) => void f.registry.revoke(e),
    onFree: (id, failed) => flusher.freed(id, failed),
    log: createLogger("silent"),
  });
  pushes = pushService(f, {
    transport,
    queue: f.sqlite.queue,
    answerWithinMs: 10,
    settler,
    onQueued: (id, failed) => flusher.queued(id, failed),
  });
  flusher = new Flusher({
    queue: f.sqlite.queue,
    settler,
    attempt: (r, payload, late) => pushes.attempt(r, payload, late),
    lookup: (e) => f.registry.lookup(e),
    now: () => f.clock.t,
    log: createLogger("silent"),
    sweepMs: 60_000,
  });
  const r = await f.registry.register2("juliet@example.com/phone", APP, INSTANCE);
  assert.ok(r.ok);
  reg = r.reg;
});
afterEach(async () => {
  await flusher.stop();
  f.close();
});

const turn = (): Promise<void> => new Promise((r) => setTimeout(r, 5));
const flushed = async (): Promise<void> => {
  await turn();
  while (flusher.flushing > 0) await turn();
};

/** The first IQ times out unanswered (its copy stays held), then its late result comes. */
async function timeOutThenLateResult(iq: Iq): Promise<void> {
  iq.answer({ kind: "timeout" });
  await turn();
  iq.late!({ kind: "result" });
  await turn();
}

test("a message that replaces a held copy by its Topic survives the first IQ's late result and is delivered", async () => {
  const first = await pushes.push(reg.endpoint, { payload: Buffer.from("one"), topic: "T", ttl: 60 });
  assert.equal(first.kind, "queued", "not answered within answer_within: stored, held for its IQ");
  assert.equal(settler.holding, 1);
  const second = await pushes.push(reg.endpoint, { payload: Buffer.from("two"), topic: "T", ttl: 60 });
  assert.equal(second.kind, "queued", "stored behind the held copy, replacing it (same Topic)");
  assert.equal(q.count(reg.id, f.clock.t), 1);
  await timeOutThenLateResult(iqs[0]!);
  assert.equal(q.count(reg.id, f.clock.t), 1, "the phone had \"one\": \"two\" is still kept");
  await turn();
  assert.deepEqual(iqs.map((i) => i.payload), ["one", "two"], "the flusher sends the replacement");
  iqs[1]!.answer({ kind: "result" });
  await flushed();
  assert.equal(q.count(reg.id, f.clock.t), 0, "delivered, then deleted");
  assert.equal(settler.holding, 0);
});

test("after DELETE /message cancels a held copy, a new message survives the cancelled IQ's late result", async () => {
  await pushes.push(reg.endpoint, { payload: Buffer.from("one"), id: "m1", ttl: 60 });
  assert.equal(q.cancel("m1", f.clock.t), "cancelled");
  const second = await pushes.push(reg.endpoint, { payload: Buffer.from("two"), id: "m2", ttl: 60 });
  assert.equal(second.kind, "queued");
  await timeOutThenLateResult(iqs[0]!); // the phone had "one": it says nothing about "two"
  assert.equal(q.count(reg.id, f.clock.t), 1, "the second message is still kept");
  assert.equal(q.head(reg.id, f.clock.t)?.payload.toString(), "two");
});

test("the settler's delete takes only a row of the copy's own registration", async () => {
  const other = await f.registry.register2("romeo@example.com/phone", APP, INSTANCE);
  assert.ok(other.ok);
  const r = q.enqueue({ registration: other.reg.id, payload: Buffer.from("x"), ttl: 60, topic: null, urgency: null, content_encoding: null, vapid_key: null, created_at: f.clock.t, expires_at: f.clock.t + 60_000 }, 10);
  assert.ok(r.ok);
  settler.late({ registration: reg.id, endpoint: reg.endpoint, row: r.id }, { kind: "result" });
  assert.equal(q.count(other.reg.id, f.clock.t), 1);
});

test("queue ids are never reused, even after the top row is deleted", () => {
  const put = (): number => {
    const r = q.enqueue({ registration: reg.id, payload: Buffer.from("x"), ttl: 60, topic: null, urgency: null, content_encoding: null, vapid_key: null, created_at: f.clock.t, expires_at: f.clock.t + 60_000 }, 10);
    assert.ok(r.ok);
    return r.id;
  };
  const a = put();
  assert.equal(q.remove(a), true);
  assert.ok(put() > a);
});
