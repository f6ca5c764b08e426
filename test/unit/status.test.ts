import { test } from "node:test";
import assert from "node:assert/strict";
import { cancelAnswer, httpAnswer, problemAnswer } from "../../src/http/status.ts";
import type { PushOutcome } from "../../src/outcomes.ts";

test("a delivered push answers 201 with TTL 0, since nothing was stored", () => {
  assert.deepEqual(httpAnswer({ kind: "delivered" }), { status: 201, headers: { TTL: "0" } });
});

test("a queued push answers 201 with the TTL actually kept", () => {
  assert.deepEqual(httpAnswer({ kind: "queued", ttl: 3600 }), { status: 201, headers: { TTL: "3600" } });
  assert.equal(httpAnswer({ kind: "queued", ttl: 17 }).headers.TTL, "17");
});

test("an unknown, expired or revoked endpoint answers 404 with no Retry-After", () => {
  const a = httpAnswer({ kind: "gone" });
  assert.equal(a.status, 404);
  assert.deepEqual(a.headers, {});
  assert.ok(a.message);
});

test("an unreachable distributor answers 503 with Retry-After", () => {
  const a = httpAnswer({ kind: "unavailable", retryAfter: 30 });
  assert.equal(a.status, 503);
  assert.deepEqual(a.headers, { "Retry-After": "30" });
});

test("a rate-limited endpoint answers 429 with Retry-After", () => {
  const a = httpAnswer({ kind: "rate-limited", retryAfter: 2 });
  assert.equal(a.status, 429);
  assert.deepEqual(a.headers, { "Retry-After": "2" });
});

test("a full queue answers 429 with Retry-After rather than dropping older messages", () => {
  const a = httpAnswer({ kind: "queue-full", retryAfter: 60 });
  assert.equal(a.status, 429);
  assert.deepEqual(a.headers, { "Retry-After": "60" });
});

test("a temporary failure is never answered with a 4xx, whatever its Retry-After", () => {
  for (const retryAfter of [0, 1, 5, 30, 60, 3600]) {
    const { status } = httpAnswer({ kind: "unavailable", retryAfter });
    assert.ok(status >= 500 && status < 600, `retryAfter ${retryAfter} gave ${status}`);
  }
});

test("no outcome is ever answered 202, which senders treat as a dead endpoint", () => {
  const all: PushOutcome[] = [
    { kind: "delivered" },
    { kind: "queued", ttl: 1 },
    { kind: "gone" },
    { kind: "unavailable", retryAfter: 1 },
    { kind: "rate-limited", retryAfter: 1 },
    { kind: "queue-full", retryAfter: 1 },
    { kind: "store-failed", retryAfter: 1 },
  ];
  const statuses = all.map((o) => httpAnswer(o).status);
  assert.deepEqual(statuses, [201, 201, 404, 503, 429, 429, 503]);
});

test("a push that had to be stored when the store cannot write answers 503 with Retry-After, never 500 or 201", () => {
  const a = httpAnswer({ kind: "store-failed", retryAfter: 30 });
  assert.equal(a.status, 503);
  assert.deepEqual(a.headers, { "Retry-After": "30" });
});

test("the only 4xx a request problem gets are 400 (empty, aborted, bad JSON), 408 (too slow) and 413: none that costs a subscription", () => {
  const statuses = (["empty", "too-large", "aborted", "timeout", "bad-json"] as const).map((p) => problemAnswer(p).status);
  assert.deepEqual(statuses, [400, 413, 400, 408, 400]);
});

test("DELETE on a message: 204 cancelled, 410 no longer stored, 404 not an id of ours, 503 + Retry-After while the store cannot write", () => {
  assert.deepEqual(cancelAnswer("cancelled"), { status: 204, headers: {} });
  assert.equal(cancelAnswer("gone").status, 410);
  assert.equal(cancelAnswer("not-ours").status, 404);
  const failed = cancelAnswer("store-failed");
  assert.equal(failed.status, 503);
  assert.ok(Number(failed.headers["Retry-After"]) > 0);
});
