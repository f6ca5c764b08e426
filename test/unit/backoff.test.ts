import { test } from "node:test";
import assert from "node:assert/strict";
import { backoffMs } from "../../src/backoff.ts";

// The reconnect schedule of the XMPP edge: from 1 s up to reconnect_max seconds.
const reconnect = (attempt: number, maxSeconds: number, random?: () => number): number => backoffMs(attempt, 1000, maxSeconds * 1000, random);

const top = (): number => 1; // the ceiling itself
const bottom = (): number => 0; // half the ceiling

test("the delay doubles with each attempt from 1 s", () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => reconnect(n, 3600, top)), [1000, 2000, 4000, 8000, 16000, 32000]);
});

test("the delay is capped at the configured maximum", () => {
  assert.equal(reconnect(7, 60, top), 60000);
  assert.equal(reconnect(20, 60, top), 60000);
  assert.equal(reconnect(10_000, 60, top), 60000);
  assert.equal(reconnect(3, 2, top), 2000);
});

test("an attempt of 0 or below waits like the first", () => {
  assert.equal(reconnect(0, 60, top), 1000);
  assert.equal(reconnect(-3, 60, top), 1000);
});

test("jitter keeps the delay between half the ceiling and the ceiling", () => {
  assert.equal(reconnect(4, 60, bottom), 4000);
  assert.equal(reconnect(4, 60, () => 0.5), 6000);
  assert.equal(reconnect(4, 60, top), 8000);
  assert.equal(reconnect(100, 60, bottom), 30000);
});

test("with the real random source every delay stays within [ceiling/2, ceiling]", () => {
  for (let attempt = 1; attempt <= 12; attempt++) {
    const ceiling = Math.min(60000, 1000 * 2 ** (attempt - 1));
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const d = reconnect(attempt, 60);
      assert.ok(d >= ceiling / 2 && d <= ceiling, `attempt ${attempt}: ${d} outside [${ceiling / 2}, ${ceiling}]`);
      seen.add(d);
    }
    assert.ok(seen.size > 10, `attempt ${attempt}: no jitter (${seen.size} distinct values)`);
  }
});
