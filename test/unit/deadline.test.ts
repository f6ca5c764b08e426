// One timer for every answer_within race (src/deadline.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { FixedDeadline } from "../../src/deadline.ts";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const later = <T>(v: T, ms: number): Promise<T> => new Promise((r) => setTimeout(() => r(v), ms));

test("a promise that settles in time gives its value; one that does not gives undefined at its own deadline; a rejection is undefined", async () => {
  const d = new FixedDeadline(40);
  const started = performance.now();
  const fast = d.race(later("fast", 5));
  await sleep(15);
  const slow = d.race(later("slow", 200)); // set 15 ms after the first: expires 15 ms after it
  const failed = d.race(Promise.reject(new Error("x")));
  assert.equal(await fast, "fast");
  assert.equal(await failed, undefined);
  assert.equal(await slow, undefined);
  const took = performance.now() - started;
  assert.ok(took >= 15 + 40 - 2, `expired at its own deadline, not the first one's (${took} ms)`);
  await sleep(60);
  assert.equal(d.size, 0, "nothing kept once every deadline passed");
});

test("thousands of races set in one turn all expire, in the order they were set", async () => {
  const d = new FixedDeadline(10);
  const order: number[] = [];
  const never = new Promise<number>(() => {});
  const all = Array.from({ length: 3000 }, (_, i) => d.race(never).then(() => order.push(i)));
  await Promise.all(all);
  assert.equal(order.length, 3000);
  assert.deepEqual(order.slice(0, 5), [0, 1, 2, 3, 4]);
  assert.equal(d.size, 0);
});
