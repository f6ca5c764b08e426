// The settle rules: what the distributor's answer, whenever it comes, does to
// the stored copy of a message, and when the flusher may send that copy again.
import { test } from "node:test";
import assert from "node:assert/strict";
import { lateRule, settleRule, Settler, type Copy } from "../../src/settle.ts";
import { createLogger } from "../../src/log.ts";

test("a result deletes the copy, however late", () => {
  assert.equal(settleRule("delivered", false), "delete");
  assert.equal(settleRule("delivered", true), "delete");
  assert.equal(lateRule({ kind: "result" }), "delete");
});

test("item-not-found and feature-not-implemented revoke, in time or late", () => {
  assert.equal(settleRule("gone", false), "revoke");
  assert.equal(lateRule({ kind: "error", condition: "item-not-found" }), "revoke");
  assert.equal(lateRule({ kind: "error", condition: "feature-not-implemented" }), "revoke");
});

test("a timeout keeps the copy held while a late answer may still come", () => {
  assert.equal(settleRule("temporary", true), "hold");
});

test("a temporary error, a dropped link or a closed late window leave the copy to the flusher", () => {
  assert.equal(settleRule("temporary", false), "release");
  for (const condition of ["service-unavailable", "recipient-unavailable", "remote-server-timeout"]) {
    assert.equal(lateRule({ kind: "error", condition }), "release", condition);
  }
  assert.equal(lateRule({ kind: "link-lost" }), "release");
  assert.equal(lateRule({ kind: "timeout" }), "release", "the late window closed unanswered");
});

function settler() {
  const removed: number[] = [];
  const revoked: string[] = [];
  const freed: [number, boolean][] = [];
  const s = new Settler({
    remove: (row) => void removed.push(row),
    revoke: (e) => void revoked.push(e),
    onFree: (id, failed) => void freed.push([id, failed]),
    log: createLogger("silent"),
  });
  return { s, removed, revoked, freed };
}

const copy = (row?: number): Copy => ({ registration: 7, endpoint: "tok", ...(row !== undefined && { row }) });

test("a held copy is not free until its IQ is settled, and a result 60 s after the timeout deletes it", () => {
  const { s, removed, freed } = settler();
  const c = s.hold(copy(1));
  assert.equal(s.held(1), true);
  s.answered(c, "temporary", true); // timed out: the late window is open
  assert.equal(s.held(1), true);
  assert.deepEqual(freed, []);
  s.late(c, { kind: "result" });
  assert.equal(s.held(1), false);
  assert.deepEqual(removed, [1]);
  assert.deepEqual(freed, [[7, false]], "the queue behind it may move on");
});

test("a temporary error releases the copy so the flusher retries it after a back-off", () => {
  const { s, removed, freed } = settler();
  const c = s.hold(copy(2));
  s.answered(c, "temporary", false);
  assert.equal(s.held(2), false);
  assert.deepEqual(removed, []);
  assert.deepEqual(freed, [[7, true]]);
});

test("a late item-not-found revokes; an in-time one was revoked by the push service already", () => {
  const { s, revoked } = settler();
  s.answered(s.hold(copy(3)), "gone", false);
  assert.deepEqual(revoked, []);
  const c = s.hold(copy(4));
  s.answered(c, "temporary", true);
  s.late(c, { kind: "error", condition: "item-not-found" });
  assert.deepEqual(revoked, ["tok"]);
  assert.equal(s.held(4), false);
});

test("a late item-not-found revokes even when nothing was stored (TTL 0)", () => {
  const { s, revoked, freed } = settler();
  s.late(copy(), { kind: "error", condition: "item-not-found" });
  assert.deepEqual(revoked, ["tok"]);
  assert.deepEqual(freed, []);
});

test("after a link drop released a copy and the flusher sent it again, the old IQ's answer leaves the new hold alone", () => {
  const { s, removed, freed } = settler();
  const old = s.hold(copy(5));
  s.answered(old, "temporary", true);
  s.late(old, { kind: "link-lost" });
  assert.equal(s.held(5), false, "released: stanzas may be lost");
  const again = s.hold(copy(5)); // the flusher's new IQ
  s.late(old, { kind: "error", condition: "service-unavailable" });
  assert.equal(s.held(5), true, "the old IQ's error does not release the new IQ's hold");
  s.late(old, { kind: "timeout" });
  assert.equal(s.held(5), true);
  assert.deepEqual(freed, [[7, true]], "freed once, by the link drop");
  s.late(old, { kind: "result" });
  assert.deepEqual(removed, [5], "the phone has it: the copy goes even though another IQ carries it");
  s.answered(again, "delivered", false);
  assert.equal(s.held(5), false);
  assert.equal(s.holding, 0);
});

test("a late own-JID-unavailable releases the copy without back-off; a late remote-server-timeout backs off", () => {
  const { s, freed } = settler();
  const a = s.hold(copy(8));
  s.answered(a, "temporary", true);
  s.late(a, { kind: "error", condition: "recipient-unavailable" });
  const b = s.hold(copy(9));
  s.answered(b, "temporary", true);
  s.late(b, { kind: "error", condition: "remote-server-timeout" });
  assert.deepEqual(freed, [[7, false], [7, true]]);
});
