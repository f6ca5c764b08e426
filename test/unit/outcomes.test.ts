import { test } from "node:test";
import assert from "node:assert/strict";
import { classifyAnswer, RETRY_AFTER, type IqAnswer } from "../../src/outcomes.ts";

test("an IQ result means the push was delivered", () => {
  assert.equal(classifyAnswer({ kind: "result" }), "delivered");
});

for (const condition of ["item-not-found", "feature-not-implemented"]) {
  test(`an error with ${condition} means the app is gone`, () => {
    assert.equal(classifyAnswer({ kind: "error", condition }), "gone");
  });
}

for (const condition of [
  "service-unavailable",
  "recipient-unavailable",
  "remote-server-timeout",
  "remote-server-not-found",
  "internal-server-error",
  "resource-constraint",
  "undefined-condition",
]) {
  test(`an error with ${condition} is a temporary failure`, () => {
    assert.equal(classifyAnswer({ kind: "error", condition }), "temporary");
  });
}

for (const kind of ["timeout", "link-lost", "busy"] as const) {
  test(`an IQ that ended in ${kind} is a temporary failure`, () => {
    const a: IqAnswer = { kind };
    assert.equal(classifyAnswer(a), "temporary");
  });
}

test("every Retry-After hint is a positive number of seconds and the table is frozen", () => {
  for (const [k, v] of Object.entries(RETRY_AFTER)) assert.ok(Number.isInteger(v) && v > 0, `${k}=${v}`);
  assert.ok(Object.isFrozen(RETRY_AFTER));
});
