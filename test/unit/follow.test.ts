// Following the device (src/follow/, src/presence.ts): whom a push is offered
// to when the registration's own resource is gone, and what their answers mean.
import { afterEach, beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import { CANDIDATE_TIMEOUT_MS, candidates, judgeCandidate, MAX_CANDIDATES, ownJidUnavailable } from "../../src/follow/rule.ts";
import { DeviceFollower } from "../../src/follow/follower.ts";
import { PresenceBook } from "../../src/presence.ts";
import { createLogger } from "../../src/log.ts";
import type { IqAnswer } from "../../src/outcomes.ts";
import type { Registration } from "../../src/store/registrations.ts";
import { fixture, type Fixture } from "./_db.ts";

const APP = "bK3sdmrbtj3bf6XA2S12b8jJUA5TT1dhPEyeoZfVSRM=";
const INSTANCE = "EtD/1XPLmoIph7W73CZ/uyv6FAnhEAXY1GySHX17vAw=";
const J = (r: string): string => `juliet@example.com/${r}`;

test("only service-unavailable and recipient-unavailable say the registration's own resource is gone", () => {
  assert.ok(ownJidUnavailable({ kind: "error", condition: "service-unavailable" }));
  assert.ok(ownJidUnavailable({ kind: "error", condition: "recipient-unavailable" }));
  for (const a of [{ kind: "result" }, { kind: "timeout" }, { kind: "link-lost" }, { kind: "busy" }, { kind: "error", condition: "item-not-found" }] as IqAnswer[]) {
    assert.equal(ownJidUnavailable(a), false, JSON.stringify(a));
  }
});

test("candidates are the account's other available resources, newest first, without those that refused, at most MAX_CANDIDATES", () => {
  const available = [J("e"), J("d"), J("old"), J("c"), J("b"), J("a")];
  assert.deepEqual(candidates({ jid: J("old"), available, skip: (j) => j === J("d") }), [J("e"), J("c"), J("b")].slice(0, MAX_CANDIDATES));
  assert.deepEqual(candidates({ jid: J("old"), available: [J("old")], skip: () => false }), []);
});

test("a result moves the registration; item-not-found and feature-not-implemented mean another device; the rest is no answer", () => {
  assert.equal(judgeCandidate({ kind: "result" }), "moved");
  assert.equal(judgeCandidate({ kind: "error", condition: "item-not-found" }), "not-this-device");
  assert.equal(judgeCandidate({ kind: "error", condition: "feature-not-implemented" }), "not-this-device");
  assert.equal(judgeCandidate({ kind: "error", condition: "service-unavailable" }), "offline");
  assert.equal(judgeCandidate({ kind: "error", condition: "recipient-unavailable" }), "offline");
  for (const a of [{ kind: "timeout" }, { kind: "link-lost" }, { kind: "busy" }, { kind: "error", condition: "remote-server-timeout" }] as IqAnswer[]) {
    assert.equal(judgeCandidate(a), "no-answer");
  }
});

test("the presence book lists an account's available resources newest first and forgets one that leaves", () => {
  const p = new PresenceBook();
  p.available(J("a"));
  p.available(J("b"));
  p.available("romeo@example.com/x");
  p.available(J("a")); // again: newest now
  assert.deepEqual(p.availableResources("juliet@example.com"), [J("a"), J("b")]);
  p.unavailable(J("a"));
  assert.deepEqual(p.availableResources("juliet@example.com"), [J("b")]);
  assert.ok(p.isKnownOffline(J("a")));
  p.clear();
  assert.deepEqual(p.availableResources("juliet@example.com"), []);
  assert.equal(p.isKnownOffline(J("a")), false);
});

test("a refusal lasts as long as the resource's session: a repeated presence keeps it, a new session forgets it", () => {
  const p = new PresenceBook();
  p.available(J("b"));
  p.refused(J("b"), 7);
  p.available(J("b"));
  assert.ok(p.hasRefused(J("b"), 7));
  assert.equal(p.hasRefused(J("b"), 8), false);
  p.unavailable(J("b"));
  p.available(J("b"));
  assert.equal(p.hasRefused(J("b"), 7), false);
});

test("the presence book stays bounded: resources per account, accounts, refusals and offline JIDs", () => {
  const p = new PresenceBook({ accounts: 3, resourcesPerAccount: 2, refusalsPerResource: 2, offline: 2 });
  for (const r of ["a", "b", "c"]) p.available(J(r));
  assert.deepEqual(p.availableResources("juliet@example.com"), [J("c"), J("b")]);
  for (const u of ["u1", "u2", "u3", "u4"]) p.available(`${u}@example.com/x`);
  assert.deepEqual(p.availableResources("juliet@example.com"), [], "the least recently seen account went");
  p.available(J("z"));
  for (const id of [1, 2, 3]) p.refused(J("z"), id);
  assert.deepEqual([1, 2, 3].map((id) => p.hasRefused(J("z"), id)), [false, true, true]);
  for (const r of ["o1", "o2", "o3"]) p.unavailable(J(r));
  assert.deepEqual([J("o1"), J("o2"), J("o3")].map(p.isKnownOffline), [false, true, true]);
});

// The follower with a scripted transport (the integration tests drive it through a real Prosody).
let f: Fixture;
let presence: PresenceBook;
let sent: string[];
let answers: Record<string, IqAnswer>;
let moved: Registration[];
let follower: DeviceFollower;
let reg: Registration;

beforeEach(async () => {
  f = fixture();
  presence = new PresenceBook();
  sent = [];
  answers = {};
  moved = [];
  follower = new DeviceFollower({
    presence,
    async pushTo(_r, to): Promise<IqAnswer> {
      sent.push(to);
      return answers[to] ?? { kind: "timeout" };
    },
    move: (r, jid) => f.registry.move(r, jid),
    budgetMs: 10_000,
    log: createLogger("silent"),
    onMoved: (r) => moved.push(r),
  });
  const r = await f.registry.register2(J("old"), APP, INSTANCE);
  assert.ok(r.ok);
  reg = r.reg;
});
afterEach(() => f.close());

test("the resource that takes the push gets the registration: its new full JID is stored", async () => {
  presence.available(J("new"));
  presence.available(J("other")); // newest, asked first
  answers = { [J("other")]: { kind: "error", condition: "item-not-found" }, [J("new")]: { kind: "result" } };
  assert.equal(await follower.follow(reg, Buffer.from("x")), true);
  assert.deepEqual(sent, [J("other"), J("new")]);
  assert.equal((await f.registry.lookup(reg.endpoint))!.jid, J("new"));
  assert.deepEqual(moved.map((r) => r.jid), [J("new")]);
});

test("another device's item-not-found never revokes, and it is not asked again in its session", async () => {
  presence.available(J("laptop"));
  answers = { [J("laptop")]: { kind: "error", condition: "item-not-found" } };
  assert.equal(await follower.follow(reg, Buffer.from("x")), false);
  assert.equal(await follower.follow(reg, Buffer.from("y")), false);
  assert.deepEqual(sent, [J("laptop")]);
  const still = await f.registry.lookup(reg.endpoint);
  assert.ok(still, "the endpoint survives");
  assert.equal(still.jid, J("old"));
  assert.deepEqual(moved, []);
});

test("no other resource: nothing is sent", async () => {
  presence.available(J("old"));
  assert.equal(await follower.follow(reg, Buffer.from("x")), false);
  assert.deepEqual(sent, []);
});

test("a lost link stops the round: the next resource is not asked", async () => {
  presence.available(J("b"));
  presence.available(J("a"));
  answers = { [J("a")]: { kind: "link-lost" }, [J("b")]: { kind: "result" } };
  assert.equal(await follower.follow(reg, Buffer.from("x")), false);
  assert.deepEqual(sent, [J("a")]);
});

test("each candidate gets min(2 s, what is left of the budget), and none once it is spent", async () => {
  let t = 0;
  const timeouts: number[] = [];
  const budgeted = new DeviceFollower({
    presence,
    async pushTo(_r, _to, _p, ms): Promise<IqAnswer> {
      timeouts.push(ms);
      t += ms; // it stays silent for all of its time
      return { kind: "timeout" };
    },
    move: (r, jid) => f.registry.move(r, jid),
    budgetMs: 3000,
    log: createLogger("silent"),
    now: () => t,
  });
  for (const r of ["c", "b", "a"]) presence.available(J(r));
  assert.equal(await budgeted.follow(reg, Buffer.from("x")), false);
  assert.deepEqual(timeouts, [CANDIDATE_TIMEOUT_MS, 3000 - CANDIDATE_TIMEOUT_MS], "the third is not asked: the budget is spent");
  assert.deepEqual([J("a"), J("b"), J("c")].map(presence.isSilent), [true, true, false]);
  presence.available(J("a"));
  assert.equal(presence.isSilent(J("a")), false, "its next presence ends the silence");
});

test("a move that finds the registration moved meanwhile does not call onMoved", async () => {
  presence.available(J("new"));
  answers = { [J("new")]: { kind: "result" } };
  assert.equal(await f.registry.move(reg, J("elsewhere")), true); // say, a re-registration from another resource
  assert.equal(await follower.follow(reg, Buffer.from("x")), true, "the device took the push");
  assert.equal((await f.registry.lookup(reg.endpoint))!.jid, J("elsewhere"), "the newer JID stands");
  assert.deepEqual(moved, []);
});
