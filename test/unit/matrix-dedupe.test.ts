// Matrix notify retries (src/matrix-dedupe.ts): one event rings a pushkey once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { NotifyDedupe } from "../../src/matrix-dedupe.ts";
import { isAccepted } from "../../src/matrix.ts";
import type { PushOutcome } from "../../src/outcomes.ts";

function setup(opts: { windowMs?: number; maxEntries?: number } = {}) {
  const clock = { t: 1_000_000 };
  const dedupe = new NotifyDedupe({ now: () => clock.t, ...opts });
  const calls: string[] = [];
  const deliver = (what: string, outcome: PushOutcome = { kind: "delivered" }) => async (): Promise<PushOutcome> => {
    calls.push(what);
    return outcome;
  };
  return { clock, dedupe, calls, deliver };
}

test("a repeated event_id for the same pushkey is not delivered again and is answered as delivered", async () => {
  const { dedupe, calls, deliver } = setup();
  assert.deepEqual(await dedupe.once("k", "$e", deliver("first")), { kind: "delivered" });
  assert.deepEqual(await dedupe.once("k", "$e", deliver("retry")), { kind: "delivered" });
  assert.deepEqual(calls, ["first"]);
});

test("the same event for another pushkey, or another event for the same pushkey, is delivered", async () => {
  const { dedupe, calls, deliver } = setup();
  await dedupe.once("k1", "$e", deliver("k1 e"));
  await dedupe.once("k2", "$e", deliver("k2 e"));
  await dedupe.once("k1", "$f", deliver("k1 f"));
  assert.deepEqual(calls, ["k1 e", "k2 e", "k1 f"]);
});

test("badge-only notifications (no event_id) always pass", async () => {
  const { dedupe, calls, deliver } = setup();
  await dedupe.once("k", undefined, deliver("a"));
  await dedupe.once("k", undefined, deliver("b"));
  assert.deepEqual(calls, ["a", "b"]);
  assert.equal(dedupe.size, 0);
});

test("a queued message counts as accepted; a temporary failure does not, so the retry is delivered", async () => {
  const { dedupe, calls, deliver } = setup();
  await dedupe.once("k", "$q", deliver("queued", { kind: "queued", ttl: 60 }));
  await dedupe.once("k", "$q", deliver("again"));
  await dedupe.once("k", "$u", deliver("unavailable", { kind: "unavailable", retryAfter: 30 }));
  await dedupe.once("k", "$u", deliver("retried"));
  assert.deepEqual(calls, ["queued", "unavailable", "retried"]);
});

test("after the window the same event is delivered again", async () => {
  const { dedupe, calls, deliver, clock } = setup({ windowMs: 600_000 });
  await dedupe.once("k", "$e", deliver("first"));
  clock.t += 599_000;
  await dedupe.once("k", "$e", deliver("inside"));
  clock.t += 2_000;
  await dedupe.once("k", "$e", deliver("after"));
  assert.deepEqual(calls, ["first", "after"]);
});

test("a retry that arrives while the first is in flight waits for it and is suppressed if it was accepted", async () => {
  const { dedupe, calls } = setup();
  let finish!: (o: PushOutcome) => void;
  const first = dedupe.once("k", "$e", () => {
    calls.push("first");
    return new Promise<PushOutcome>((r) => (finish = r));
  });
  const retry = dedupe.once("k", "$e", async () => {
    calls.push("retry");
    return { kind: "delivered" };
  });
  await new Promise((r) => setImmediate(r));
  finish({ kind: "delivered" });
  assert.deepEqual(await Promise.all([first, retry]), [{ kind: "delivered" }, { kind: "delivered" }]);
  assert.deepEqual(calls, ["first"]);
});

test("memory stays bounded: past maxEntries the oldest are forgotten", async () => {
  const { dedupe, deliver } = setup({ maxEntries: 100 });
  for (let i = 0; i < 500; i++) await dedupe.once("k", `$${i}`, deliver(String(i)));
  assert.ok(dedupe.size <= 101, `size ${dedupe.size}`);
});

test("expired entries are dropped as new ones come", async () => {
  const { dedupe, deliver, clock } = setup({ windowMs: 1000 });
  for (let i = 0; i < 50; i++) await dedupe.once("k", `$${i}`, deliver(String(i)));
  clock.t += 2000;
  await dedupe.once("k", "$new", deliver("new"));
  assert.equal(dedupe.size, 1);
});

test("a TTL 0 notify that went out unanswered (sent) counts as accepted, as in the 200 answer: its retry is suppressed", async () => {
  const { dedupe, calls, deliver } = setup();
  await dedupe.once("k", "$s", deliver("first", { kind: "sent" }));
  await dedupe.once("k", "$s", deliver("retry"));
  assert.deepEqual(calls, ["first"]);
  for (const kind of ["delivered", "queued", "sent"] as const) assert.ok(isAccepted(kind === "queued" ? { kind, ttl: 1 } : { kind }), kind);
  assert.equal(isAccepted({ kind: "unavailable", retryAfter: 1 }), false);
});
