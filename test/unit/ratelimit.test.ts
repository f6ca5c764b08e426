import { test } from "node:test";
import assert from "node:assert/strict";
import { RateLimiter } from "../../src/ratelimit.ts";

function limiter(rate: number, burst: number, maxBuckets?: number) {
  const clock = { t: 1_000_000 };
  const l = new RateLimiter({ rate, burst, ...(maxBuckets !== undefined && { maxBuckets }) }, () => clock.t);
  return { l, clock };
}

test("a fresh endpoint may send a whole burst at once, and the next push is refused", () => {
  const { l } = limiter(10, 5);
  for (let i = 0; i < 5; i++) assert.deepEqual(l.take("a"), { ok: true });
  assert.equal(l.take("a").ok, false);
});

test("Retry-After is whole seconds, at least 1, and long enough for one token to come back", () => {
  const { l } = limiter(0.25, 1); // one token every 4 s
  l.take("a");
  assert.deepEqual(l.take("a"), { ok: false, retryAfter: 4 });
  const fast = limiter(100, 1).l; // a token every 10 ms still says 1 s, never 0
  fast.take("a");
  assert.deepEqual(fast.take("a"), { ok: false, retryAfter: 1 });
});

test("waiting the Retry-After gets the push through", () => {
  const { l, clock } = limiter(0.5, 2);
  l.take("a");
  l.take("a");
  const refused = l.take("a");
  assert.equal(refused.ok, false);
  clock.t += (refused.ok ? 0 : refused.retryAfter) * 1000;
  assert.equal(l.take("a").ok, true);
});

test("tokens come back at the configured rate, never beyond the burst", () => {
  const { l, clock } = limiter(2, 3);
  for (let i = 0; i < 3; i++) l.take("a");
  clock.t += 1000; // two tokens
  assert.equal(l.take("a").ok, true);
  assert.equal(l.take("a").ok, true);
  assert.equal(l.take("a").ok, false);
  clock.t += 3_600_000; // an hour: still only a burst of 3
  for (let i = 0; i < 3; i++) assert.equal(l.take("a").ok, true);
  assert.equal(l.take("a").ok, false);
});

test("refused pushes do not use tokens up, so a patient sender keeps getting through at the rate", () => {
  const { l, clock } = limiter(1, 1);
  l.take("a");
  for (let i = 0; i < 50; i++) l.take("a");
  clock.t += 1000;
  assert.equal(l.take("a").ok, true);
});

test("each endpoint has its own bucket: one flooding endpoint does not slow another", () => {
  const { l } = limiter(1, 2);
  for (let i = 0; i < 10; i++) l.take("busy");
  assert.equal(l.take("quiet").ok, true);
  assert.equal(l.take("quiet").ok, true);
});

test("a clock stepping backwards refills nothing and breaks nothing", () => {
  const { l, clock } = limiter(1, 1);
  l.take("a");
  clock.t -= 60_000;
  assert.equal(l.take("a").ok, false);
});

test("buckets that have refilled completely are dropped, so idle endpoints cost no memory", () => {
  const { l, clock } = limiter(10, 10);
  for (let i = 0; i < 2000; i++) l.take(`e${i}`);
  clock.t += 2000; // 2 s at 10/s: every bucket is full again
  l.sweep();
  assert.equal(l.size, 0);
});

test("sweeps happen by themselves as the map grows, keeping only buckets still refilling", () => {
  const { l, clock } = limiter(10, 10);
  for (let i = 0; i < 5000; i++) {
    l.take(`e${i}`);
    clock.t += 1; // each bucket needs 100 ms to refill its one token
  }
  assert.ok(l.size <= 2048, `size ${l.size}`);
});

test("past the hard cap the least recently used bucket goes, never a busy one", () => {
  const { l } = limiter(1, 2, 3);
  l.take("busy");
  l.take("busy");
  for (const k of ["a", "b", "c", "d"]) {
    l.take(k);
    assert.equal(l.take("busy").ok, false); // touching "busy" keeps it the most recent
  }
  assert.ok(l.size <= 3);
});

test("a limiter refuses a rate of zero or a burst below one", () => {
  assert.throws(() => new RateLimiter({ rate: 0, burst: 1 }, Date.now), RangeError);
  assert.throws(() => new RateLimiter({ rate: 1, burst: 0 }, Date.now), RangeError);
});
