import { test } from "node:test";
import assert from "node:assert/strict";
import xml, { type Element } from "@xmpp/xml";
import { IqCaller, LATE_WINDOW_MS } from "../../src/xmpp/caller.ts";
import { NS_CONV, NS_STANZAS } from "../../src/stanzas/ns.ts";
import { parseXml } from "./_xml.ts";

const pushIq = (id: string): Element => xml("iq", { type: "set", id, to: "j@example.com/r" }, xml("push", { xmlns: NS_CONV }, "AA=="));
const result = (id: string): Element => xml("iq", { type: "result", id, from: "j@example.com/r" });
const errorIq = (id: string, condition: string): Element =>
  xml("iq", { type: "error", id, from: "j@example.com/r" }, xml("error", { type: "cancel" }, xml(condition, { xmlns: NS_STANZAS })));

/** A write that records what went on the wire. */
function recorder(): { written: Element[]; write: (el: Element) => Promise<void> } {
  const written: Element[] = [];
  return { written, write: async (el) => void written.push(el) };
}

test("a result IQ settles the request as result and clears it", async () => {
  const caller = new IqCaller(10);
  const w = recorder();
  const answer = caller.request(pushIq("p1"), 5000, w.write);
  assert.equal(caller.inflight, 1);
  await Promise.resolve();
  assert.deepEqual(w.written.map((e) => e.attrs.id), ["p1"]);
  assert.equal(caller.settle(result("p1")), true);
  assert.deepEqual(await answer, { kind: "result" });
  assert.equal(caller.inflight, 0);
});

test("an error IQ settles the request with its defined condition", async () => {
  const caller = new IqCaller(10);
  const answer = caller.request(pushIq("p2"), 5000, recorder().write);
  assert.equal(caller.settle(errorIq("p2", "item-not-found")), true);
  assert.deepEqual(await answer, { kind: "error", condition: "item-not-found" });
});

test("an error IQ parsed from the wire settles with its condition", async () => {
  const caller = new IqCaller(10);
  const answer = caller.request(pushIq("p3"), 5000, recorder().write);
  caller.settle(parseXml(`<iq type="error" id="p3" from="j@example.com/r"><error type="wait"><recipient-unavailable xmlns="${NS_STANZAS}"/></error></iq>`));
  assert.deepEqual(await answer, { kind: "error", condition: "recipient-unavailable" });
});

test("an unanswered request times out and is forgotten", async () => {
  const caller = new IqCaller(10);
  const started = Date.now();
  const answer = await caller.request(pushIq("p4"), 30, recorder().write);
  assert.deepEqual(answer, { kind: "timeout" });
  assert.ok(Date.now() - started >= 25);
  assert.equal(caller.inflight, 0);
  assert.equal(caller.settle(result("p4")), false, "a late answer is no longer ours");
});

test("a settled request does not time out later", async () => {
  const caller = new IqCaller(10);
  const answers: string[] = [];
  const p = caller.request(pushIq("p5"), 20, recorder().write).then((a) => void answers.push(a.kind));
  caller.settle(result("p5"));
  await p;
  await new Promise((r) => setTimeout(r, 40));
  assert.deepEqual(answers, ["result"]);
});

test("failAll answers every request in flight with link-lost", async () => {
  const caller = new IqCaller(10);
  const w = recorder();
  const a = caller.request(pushIq("p6"), 5000, w.write);
  const b = caller.request(pushIq("p7"), 5000, w.write);
  assert.equal(caller.inflight, 2);
  caller.failAll();
  assert.deepEqual(await Promise.all([a, b]), [{ kind: "link-lost" }, { kind: "link-lost" }]);
  assert.equal(caller.inflight, 0);
});

test("a request past maxInflight answers busy at once without writing", async () => {
  const caller = new IqCaller(2);
  const w = recorder();
  const a = caller.request(pushIq("q1"), 5000, w.write);
  const b = caller.request(pushIq("q2"), 5000, w.write);
  assert.deepEqual(await caller.request(pushIq("q3"), 5000, w.write), { kind: "busy" });
  assert.deepEqual(w.written.map((e) => e.attrs.id), ["q1", "q2"]);
  assert.equal(caller.inflight, 2);
  caller.settle(result("q1"));
  await a;
  const c = caller.request(pushIq("q4"), 5000, w.write);
  assert.equal(caller.inflight, 2, "a slot freed by an answer is usable again");
  caller.failAll();
  await Promise.all([b, c]);
});

test("a write that fails answers link-lost and frees the slot", async () => {
  const caller = new IqCaller(10);
  const answer = await caller.request(pushIq("w1"), 5000, () => Promise.reject(new Error("socket closed")));
  assert.deepEqual(answer, { kind: "link-lost" });
  assert.equal(caller.inflight, 0);
});

test("settle of an IQ that is not ours returns false and leaves pending requests alone", async () => {
  const caller = new IqCaller(10);
  const answer = caller.request(pushIq("mine"), 5000, recorder().write);
  assert.equal(caller.settle(result("someone-else")), false);
  assert.equal(caller.settle(xml("iq", { type: "result" })), false);
  assert.equal(caller.inflight, 1);
  caller.settle(result("mine"));
  assert.deepEqual(await answer, { kind: "result" });
});

test("an answer with the right id from a JID other than the one asked is not taken as the answer", async () => {
  // Push IQ ids are predictable (prefix + counter): without this check any user could
  // answer another user's push with item-not-found and get their endpoint revoked.
  const caller = new IqCaller(10);
  const answer = caller.request(pushIq("p9"), 5000, recorder().write);
  const spoofed = xml("iq", { type: "error", id: "p9", from: "mallory@evil.example/x" }, xml("error", { type: "cancel" }, xml("item-not-found", { xmlns: NS_STANZAS })));
  assert.equal(caller.settle(spoofed), false);
  assert.equal(caller.inflight, 1);
  assert.equal(caller.settle(result("p9")), true);
  assert.deepEqual(await answer, { kind: "result" });
});

/** A request that records what its late listener hears. */
function lateRecorder(): { heard: string[]; late: (a: { kind: string; condition?: string }) => void } {
  const heard: string[] = [];
  return { heard, late: (a) => void heard.push(a.kind === "error" ? `error ${a.condition}` : a.kind) };
}

test("an answer after the timeout still reaches the late listener within the late window", async () => {
  const caller = new IqCaller(10, { lateWindowMs: 5000 });
  const l = lateRecorder();
  assert.deepEqual(await caller.request(pushIq("l1"), 10, recorder().write, l.late), { kind: "timeout" });
  assert.equal(caller.inflight, 0);
  assert.equal(caller.awaitingLate, 1);
  assert.equal(caller.settle(result("l1")), true, "a late answer is still ours");
  assert.deepEqual(l.heard, ["result"]);
  assert.equal(caller.awaitingLate, 0);
  assert.equal(caller.settle(result("l1")), false, "and only once");
  caller.stop();
});

test("a late error is passed on with its condition; a late answer from another JID is not ours", async () => {
  const caller = new IqCaller(10, { lateWindowMs: 5000 });
  const l = lateRecorder();
  await caller.request(pushIq("l2"), 10, recorder().write, l.late);
  const spoofed = xml("iq", { type: "result", id: "l2", from: "mallory@evil.example/x" });
  assert.equal(caller.settle(spoofed), false);
  caller.settle(errorIq("l2", "item-not-found"));
  assert.deepEqual(l.heard, ["error item-not-found"]);
  caller.stop();
});

test("a request without a late listener is forgotten at its timeout", async () => {
  const caller = new IqCaller(10, { lateWindowMs: 5000 });
  await caller.request(pushIq("l3"), 10, recorder().write);
  assert.equal(caller.awaitingLate, 0);
  assert.equal(caller.settle(result("l3")), false);
});

test("the late window closes with a timeout for the listener, and a later answer is not ours", async () => {
  let now = 0;
  const caller = new IqCaller(10, { lateWindowMs: 50, now: () => now });
  const l = lateRecorder();
  await caller.request(pushIq("l4"), 5, recorder().write, l.late);
  now = 49;
  await new Promise((r) => setTimeout(r, 80));
  assert.deepEqual(l.heard, [], "not before the window is over");
  now = 51;
  await new Promise((r) => setTimeout(r, 80));
  assert.deepEqual(l.heard, ["timeout"]);
  assert.equal(caller.awaitingLate, 0);
  assert.equal(caller.settle(result("l4")), false);
});

test("the late window is bounded: past maxLate the oldest closes early with a timeout", async () => {
  const caller = new IqCaller(10, { lateWindowMs: 60_000, maxLate: 2 });
  const ls = [lateRecorder(), lateRecorder(), lateRecorder()];
  for (const [i, l] of ls.entries()) await caller.request(pushIq(`b${i}`), 1, recorder().write, l.late);
  assert.equal(caller.awaitingLate, 2);
  assert.deepEqual(ls.map((l) => l.heard), [["timeout"], [], []]);
  assert.equal(caller.settle(result("b0")), false);
  assert.equal(caller.settle(result("b2")), true);
  caller.stop();
});

test("a link drop tells timed-out requests link-lost and keeps them, and in-flight ones, answerable", async () => {
  const caller = new IqCaller(10, { lateWindowMs: 60_000 });
  const old = lateRecorder();
  const flying = lateRecorder();
  await caller.request(pushIq("d1"), 1, recorder().write, old.late);
  const inFlight = caller.request(pushIq("d2"), 5000, recorder().write, flying.late);
  caller.failAll();
  assert.deepEqual(await inFlight, { kind: "link-lost" });
  assert.deepEqual(old.heard, ["link-lost"]);
  assert.deepEqual(flying.heard, [], "its promise said link-lost already");
  assert.equal(caller.awaitingLate, 2);
  caller.settle(result("d2")); // the phone answers once the link is back
  caller.settle(result("d1"));
  assert.deepEqual(flying.heard, ["result"]);
  assert.deepEqual(old.heard, ["link-lost", "result"]);
  caller.stop();
});

test("stop forgets the late window, telling its listeners the link is lost (their held copies are released)", async () => {
  const caller = new IqCaller(10, { lateWindowMs: 60_000 });
  const l = lateRecorder();
  await caller.request(pushIq("s1"), 1, recorder().write, l.late);
  caller.stop();
  assert.equal(caller.awaitingLate, 0);
  assert.equal(caller.settle(result("s1")), false);
  assert.deepEqual(l.heard, ["link-lost"]);
});

test("the late window outlasts Prosody's default smacks hibernation (600 s)", () => {
  assert.ok(LATE_WINDOW_MS >= 600_000);
});
