import { test } from "node:test";
import assert from "node:assert/strict";
import { authorized, hopToken, messageFrom, messageHeaders, parseOutcome } from "../../src/cluster/hop-wire.ts";
import type { PushOutcome } from "../../src/outcomes.ts";

const SECRET = "component-secret-shared-by-all";

test("every instance derives the same hop token from the shared secret, and another secret gives another token", () => {
  assert.equal(hopToken(SECRET), hopToken(SECRET));
  assert.notEqual(hopToken(SECRET), hopToken(`${SECRET}x`));
  assert.match(hopToken(SECRET), /^[A-Za-z0-9_-]{43}$/); // 32 bytes of HMAC-SHA256, base64url
});

test("the token never contains the secret", () => {
  assert.ok(!hopToken(SECRET).includes(SECRET));
  assert.ok(!Buffer.from(hopToken(SECRET), "base64url").toString("latin1").includes(SECRET));
});

test("only a bearer header with the right token is authorized", () => {
  const t = hopToken(SECRET);
  assert.equal(authorized(`Bearer ${t}`, t), true);
  assert.equal(authorized(`Bearer ${hopToken("other")}`, t), false);
  assert.equal(authorized(`Bearer ${t.slice(0, -1)}`, t), false);
  assert.equal(authorized(t, t), false);
  assert.equal(authorized(`Basic ${t}`, t), false);
  assert.equal(authorized(undefined, t), false);
  assert.equal(authorized("Bearer ", t), false);
});

test("a message's fields survive the trip through headers", () => {
  const msg = { payload: Buffer.from("x"), id: "AbCdEfGhIjKlMnOpQrStUv", ttl: 3600, urgency: "high", topic: "t1", contentEncoding: "aes128gcm", vapidKey: "BKey_-" };
  assert.deepEqual(messageFrom(msg.payload, messageHeaders(msg)), msg);
  assert.deepEqual(messageFrom(Buffer.from("y"), messageHeaders({ payload: Buffer.from("y") })), { payload: Buffer.from("y") });
  assert.deepEqual(messageFrom(Buffer.from("y"), messageHeaders({ payload: Buffer.from("y"), ttl: 0 })), { payload: Buffer.from("y"), ttl: 0 });
});

test("a TTL header that is not a whole number is left out (the default TTL applies)", () => {
  assert.equal(messageFrom(Buffer.from("y"), { "x-up-ttl": "-5" }).ttl, undefined);
  assert.equal(messageFrom(Buffer.from("y"), { "x-up-ttl": "1e3" }).ttl, undefined);
});

test("every push outcome parses back as itself", () => {
  const all: PushOutcome[] = [
    { kind: "delivered" },
    { kind: "queued", ttl: 86400 },
    { kind: "sent" },
    { kind: "gone" },
    { kind: "unavailable", retryAfter: 30 },
    { kind: "rate-limited", retryAfter: 1 },
    { kind: "queue-full", retryAfter: 60 },
    { kind: "store-failed", retryAfter: 30 },
  ];
  for (const o of all) assert.deepEqual(parseOutcome(JSON.stringify(o)), o);
});

test("anything else is no outcome (a failed hop)", () => {
  for (const text of ["", "not json", "null", "[]", '{"kind":"delivered!"}', '{"kind":"queued"}', '{"kind":"queued","ttl":-1}', '{"kind":"unavailable","retryAfter":"30"}']) {
    assert.equal(parseOutcome(text), undefined, text);
  }
});
