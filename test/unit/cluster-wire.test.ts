// What instances on one ejabberd component tell each other (src/cluster/wire.ts),
// and how a relayed answer settles an IQ (IqCaller.settleAnswer).
import assert from "node:assert/strict";
import { test } from "node:test";
import xml from "@xmpp/xml";
import {
  decodeAnswer,
  decodePresence,
  encodeAnswer,
  encodePresence,
  newInstanceId,
  tagOf,
  taggedId,
  validInstanceId,
} from "../../src/cluster/wire.ts";
import type { IqAnswer } from "../../src/outcomes.ts";
import { IqCaller } from "../../src/xmpp/caller.ts";

test("instance ids are short, lower-case base 36 and differ", () => {
  const ids = new Set(Array.from({ length: 1000 }, newInstanceId));
  assert.equal(ids.size, 1000);
  for (const id of ids) {
    assert.match(id, /^[a-z0-9]{8}$/);
    assert.ok(validInstanceId(id));
  }
  for (const bad of ["", "A1", "a.b", "a b", "x".repeat(17)]) assert.equal(validInstanceId(bad), false, bad);
});

test("an IQ id names its instance; ids no instance makes name none", () => {
  assert.equal(taggedId("k3x9", 0), "k3x9.0");
  assert.equal(taggedId("k3x9", 1295), "k3x9.zz");
  assert.equal(tagOf(taggedId("k3x9", 123456)), "k3x9");
  for (const id of ["", ".5", "k3x9", "K3X9.1", "a b.1", "ab12c3", `${"a".repeat(17)}.1`, `k3x9.${"1".repeat(70)}`]) {
    assert.equal(tagOf(id), undefined, JSON.stringify(id));
  }
});

test("an answer round-trips through its payload, the JID last and whole (a resource may hold spaces)", () => {
  const result = { id: "k3x9.1a", from: "alice@example.org/Conversations.a b", answer: { kind: "result" as const } };
  assert.equal(encodeAnswer(result), "k3x9.1a result - alice@example.org/Conversations.a b");
  assert.deepEqual(decodeAnswer(encodeAnswer(result)!), result);
  const error = { id: "k3x9.1b", from: "bob@example.org/phone", answer: { kind: "error" as const, condition: "item-not-found" } };
  assert.equal(encodeAnswer(error), "k3x9.1b error item-not-found bob@example.org/phone");
  assert.deepEqual(decodeAnswer(encodeAnswer(error)!), error);
});

test("what cannot be an answer of ours is neither sent nor taken", () => {
  const from = "a@b/c";
  assert.equal(encodeAnswer({ id: "untagged", from, answer: { kind: "result" } }), undefined);
  assert.equal(encodeAnswer({ id: "k3x9.1", from: "a@b/" + "x".repeat(8000), answer: { kind: "result" } }), undefined, "NOTIFY refuses 8000 bytes");
  // A condition that is not an RFC 6120 name (from a peer we do not control) travels as undefined-condition.
  assert.equal(encodeAnswer({ id: "k3x9.1", from, answer: { kind: "error", condition: "<bad>" } }), "k3x9.1 error undefined-condition a@b/c");
  for (const p of ["", "k3x9.1 result - ", "k3x9.1 result x a@b/c", "k3x9.1 timeout - a@b/c", "nope result - a@b/c", "k3x9.1 error <x> a@b/c", "k3x9.1  result - a@b/c"]) {
    assert.equal(decodeAnswer(p), undefined, JSON.stringify(p));
  }
});

test("presence round-trips with the instance that received it", () => {
  const p = { origin: "k3x9", type: "unavailable" as const, from: "alice@example.org/phone two" };
  assert.equal(encodePresence(p), "k3x9 unavailable alice@example.org/phone two");
  assert.deepEqual(decodePresence(encodePresence(p)!), p);
  assert.deepEqual(decodePresence("k3x9 available a@b/c"), { origin: "k3x9", type: "available", from: "a@b/c" });
  for (const bad of ["", "k3x9 away a@b/c", "K3X9 available a@b/c", "k3x9 available "]) assert.equal(decodePresence(bad), undefined, bad);
  assert.equal(encodePresence({ origin: "BAD", type: "available", from: "a@b/c" }), undefined);
});

const push = (id: string) => xml("iq", { type: "set", id, to: "j@example.com/r" });
const write = async (): Promise<void> => {};

test("a relayed answer settles the pending IQ, only from the JID it went to", async () => {
  const caller = new IqCaller(10);
  const answer = caller.request(push("k3x9.1"), 5000, write);
  assert.equal(caller.settleAnswer("k3x9.1", "mallory@example.com/r", { kind: "error", condition: "item-not-found" }), false, "a stranger cannot settle it");
  assert.equal(caller.settleAnswer("k3x9.1", "j@example.com/r", { kind: "result" }), true);
  assert.deepEqual(await answer, { kind: "result" });
  assert.equal(caller.settleAnswer("k3x9.1", "j@example.com/r", { kind: "result" }), false, "settled once");
});

test("a relayed answer for a timed-out IQ goes to its late listener", async () => {
  const caller = new IqCaller(10, { lateWindowMs: 5000 });
  const heard: IqAnswer[] = [];
  assert.deepEqual(await caller.request(push("k3x9.2"), 10, write, (a) => heard.push(a)), { kind: "timeout" });
  assert.equal(caller.settleAnswer("k3x9.2", "j@example.com/r", { kind: "error", condition: "item-not-found" }), true);
  assert.deepEqual(heard, [{ kind: "error", condition: "item-not-found" }]);
  caller.stop();
});
