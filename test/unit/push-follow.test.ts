// PushService.attempt with following the device wired in: when it looks
// elsewhere, and that the registration's own item-not-found still revokes.
import { afterEach, beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import type { Element } from "@xmpp/xml";
import { DeviceFollower } from "../../src/follow/follower.ts";
import { PresenceBook } from "../../src/presence.ts";
import { Settler } from "../../src/settle.ts";
import { PushService } from "../../src/push.ts";
import { QueueStore } from "../../src/store/queue.ts";
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

beforeEach(() => {
  f = fixture();
  presence = new PresenceBook();
  sent = [];
  answers = {};
  const transport = {
    online: true,
    domain: "up.example.org",
    nextId: () => `id${sent.length}`,
    send: async (): Promise<void> => {},
    async request(iq: Element): Promise<IqAnswer> {
      sent.push(iq.attrs.to!);
      return answers[iq.attrs.to!] ?? { kind: "timeout" };
    },
  };
  const log = createLogger("silent");
  const follower = new DeviceFollower({ presence, transport, move: (r, jid) => f.registry.move(r, jid), timeoutMs: 1000, log });
  pushes = new PushService({
    registry: f.registry,
    presence,
    transport,
    queue: new QueueStore(f.db),
    policy: { defaultTtl: 60, maxTtl: 600, maxPerRegistration: 10 },
    now: () => f.clock.t,
    log,
    timeoutMs: 1000,
    answerWithinMs: 2000,
    settler: new Settler({ remove: () => {}, revoke: (e) => void f.registry.revoke(e), onFree: () => {}, log }),
    follow: follower.follow,
  });
  const r = f.registry.register2(OLD, APP, INSTANCE);
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
  assert.equal(f.registry.lookup(reg.endpoint)!.jid, NEW);
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
  assert.ok(f.registry.lookup(reg.endpoint), "another device's answer never revokes");
  presence.available(OLD);
  answers = { [OLD]: { kind: "error", condition: "item-not-found" } };
  assert.equal((await pushes.attempt(reg, Buffer.from("x"))).verdict, "gone");
  assert.equal(f.registry.lookup(reg.endpoint), undefined);
});
