// PushService.attempt with following the device wired in: when it looks
// elsewhere, and that the registration's own item-not-found still revokes.
import { pushService } from "./_push.ts";
import { afterEach, beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import type { Element } from "@xmpp/xml";
import { DeviceFollower } from "../../src/follow/follower.ts";
import { CANDIDATE_TIMEOUT_MS } from "../../src/follow/rule.ts";
import { PresenceBook } from "../../src/presence.ts";
import { Settler } from "../../src/settle.ts";
import { PushService } from "../../src/push.ts";
import { createLogger } from "../../src/log.ts";
import type { IqAnswer } from "../../src/outcomes.ts";
import type { Registration } from "../../src/store/registrations.ts";
import { fixture, type Fixture } from "./_db.ts";

const APP = "bK3sdmrbtj3bf6XA2S12b8jJUA5TT1dhPEyeoZfVSRM=";
const INSTANCE = "EtD/1XPLmoIph7W73CZ/uyv6FAnhEAXY1GySHX17vAw=";
const OLD = "juliet@example.com/old";
const NEW = "juliet@example.com/new";

let f: Fixture;
let presence: PresenceBook;
let sent: string[];
let answers: Record<string, IqAnswer>;
let pushes: PushService;
let reg: Registration;
let timeouts: number[];
let lates: Map<string, (a: IqAnswer) => void>;
let removed: number[];
let settler: Settler;

beforeEach(async () => {
  f = fixture();
  presence = new PresenceBook();
  sent = [];
  answers = {};
  timeouts = [];
  lates = new Map();
  removed = [];
  const transport = {
    online: true,
    domain: "up.example.org",
    nextId: () => `id${sent.length}`,
    send: async (): Promise<void> => {},
    async request(iq: Element, timeoutMs: number, late?: (a: IqAnswer) => void): Promise<IqAnswer> {
      sent.push(iq.attrs.to!);
      timeouts.push(timeoutMs);
      const answer = answers[iq.attrs.to!] ?? { kind: "timeout" };
      if (answer.kind === "timeout" && late) lates.set(iq.attrs.to!, late);
      return answer;
    },
  };
  const log = createLogger("silent");
  settler = new Settler({ remove: (row) => void removed.push(row), revoke: (e) => void f.registry.revoke(e), onFree: () => {}, log });
  const follower = new DeviceFollower({
    presence,
    pushTo: (r, jid, payload, ms, late) => pushes.pushTo(r, jid, payload, ms, late),
    move: (r, jid) => f.registry.move(r, jid),
    budgetMs: 10_000,
    log,
  });
  pushes = pushService(f, { presence, transport, queue: f.sqlite.queue, timeoutMs: 10_000, settler, follow: follower.follow });
  const r = await f.registry.register2(OLD, APP, INSTANCE);
  assert.ok(r.ok);
  reg = r.reg;
  presence.available(NEW);
});
afterEach(() => f.close());

test("a registration whose JID is known offline is offered to the account's other resource without an IQ to the old one", async () => {
  presence.unavailable(OLD);
  answers = { [NEW]: { kind: "result" } };
  assert.equal((await pushes.attempt(reg, Buffer.from("x"))).verdict, "delivered");
  assert.deepEqual(sent, [NEW]);
  assert.equal((await f.registry.lookup(reg.endpoint))!.jid, NEW);
});

test("service-unavailable from the registration's own JID sends the push on to the other resource", async () => {
  answers = { [OLD]: { kind: "error", condition: "service-unavailable" }, [NEW]: { kind: "result" } };
  assert.equal((await pushes.attempt(reg, Buffer.from("x"))).verdict, "delivered");
  assert.deepEqual(sent, [OLD, NEW]);
});

test("a timeout from the registration's own JID does not go looking elsewhere", async () => {
  answers = { [NEW]: { kind: "result" } };
  assert.equal((await pushes.attempt(reg, Buffer.from("x"))).verdict, "temporary");
  assert.deepEqual(sent, [OLD]);
});

test("item-not-found from the registration's own JID revokes; from another resource it is a temporary failure", async () => {
  presence.unavailable(OLD);
  answers = { [NEW]: { kind: "error", condition: "item-not-found" } };
  assert.equal((await pushes.attempt(reg, Buffer.from("x"))).verdict, "temporary");
  assert.ok(await f.registry.lookup(reg.endpoint), "another device's answer never revokes");
  presence.available(OLD);
  answers = { [OLD]: { kind: "error", condition: "item-not-found" } };
  assert.equal((await pushes.attempt(reg, Buffer.from("x"))).verdict, "gone");
  assert.equal(await f.registry.lookup(reg.endpoint), undefined);
});

test("a candidate gets a short timeout, and one that stayed silent is not asked again until its next presence", async () => {
  presence.unavailable(OLD);
  assert.equal((await pushes.attempt(reg, Buffer.from("x"))).verdict, "temporary");
  assert.deepEqual(timeouts, [CANDIDATE_TIMEOUT_MS], "not the 10 s [push] timeout");
  assert.equal((await pushes.attempt(reg, Buffer.from("y"))).verdict, "temporary");
  assert.deepEqual(sent, [NEW], "the silent resource is not asked again");
  presence.available(NEW);
  await pushes.attempt(reg, Buffer.from("z"));
  assert.deepEqual(sent, [NEW, NEW], "its next presence makes it a candidate again");
});

test("a candidate that is the device but answers after its timeout gets the registration, and the stored copy is settled", async () => {
  presence.unavailable(OLD);
  const copy = { registration: reg.id, endpoint: reg.endpoint, row: 42 };
  assert.equal((await pushes.attempt(reg, Buffer.from("x"), (a) => settler.late(copy, a))).verdict, "temporary");
  lates.get(NEW)!({ kind: "result" });
  await new Promise((r) => setImmediate(r)); // the move is a store write now: the copy is settled once it is done
  assert.equal((await f.registry.lookup(reg.endpoint))!.jid, NEW, "the registration moved");
  assert.deepEqual(removed, [42], "the copy is deleted: it is not sent again");
});

test("a candidate's late item-not-found never revokes nor settles the copy", async () => {
  presence.unavailable(OLD);
  const copy = { registration: reg.id, endpoint: reg.endpoint, row: 42 };
  await pushes.attempt(reg, Buffer.from("x"), (a) => settler.late(copy, a));
  presence.available(NEW); // its presence again: no longer silent
  lates.get(NEW)!({ kind: "error", condition: "item-not-found" });
  await new Promise((r) => setImmediate(r)); // whatever it would write has been written
  assert.ok(await f.registry.lookup(reg.endpoint), "the endpoint survives");
  assert.equal((await f.registry.lookup(reg.endpoint))!.jid, OLD);
  assert.deepEqual(removed, []);
});

test("a candidate answering service-unavailable is marked offline", async () => {
  presence.unavailable(OLD);
  answers = { [NEW]: { kind: "error", condition: "service-unavailable" } };
  await pushes.attempt(reg, Buffer.from("x"));
  assert.ok(presence.isKnownOffline(NEW));
  assert.deepEqual(presence.availableResources("juliet@example.com"), []);
});

test("a move from a JID the registration no longer has changes nothing", async () => {
  assert.equal(await f.registry.move(reg, NEW), true);
  assert.equal(await f.registry.move(reg, "juliet@example.com/third"), false, "reg.jid is OLD, the row says NEW");
  assert.equal((await f.registry.lookup(reg.endpoint))!.jid, NEW);
});
