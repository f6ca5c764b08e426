// The Matrix push gateway's pure rules (src/matrix.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { endpointOf, notifyAnswer, parseNotify, payloadFor } from "../../src/matrix.ts";

const BASE = "https://up.example.org";
const TOKEN = "A".repeat(16) + "b".repeat(16);
const body = (o: unknown): Buffer => Buffer.from(JSON.stringify(o));

test("the pushkeys of all devices are found, each once, in order", () => {
  const n = parseNotify(body({ notification: { devices: [{ pushkey: "x" }, { pushkey: "y" }, { pushkey: "x" }] } }));
  assert.ok(!("error" in n));
  assert.deepEqual(n.pushkeys, ["x", "y"]);
});

test("devices without a string pushkey are skipped", () => {
  const n = parseNotify(body({ notification: { devices: [{ app_id: "a" }, { pushkey: 5 }, "str", null, { pushkey: "" }, { pushkey: "ok" }] } }));
  assert.ok(!("error" in n));
  assert.deepEqual(n.pushkeys, ["ok"]);
});

test("a body that is not JSON or has no notification.devices is an error", () => {
  for (const bad of ["", "{", "[]", "null", '"x"', "{}", '{"notification":[]}', '{"notification":{}}', '{"notification":{"devices":{}}}']) {
    assert.ok("error" in parseNotify(Buffer.from(bad)), bad);
  }
});

test("a body that does not parse is M_NOT_JSON; JSON of the wrong shape is M_BAD_JSON", () => {
  const code = (b: string) => {
    const n = parseNotify(Buffer.from(b));
    return "errcode" in n ? n.errcode : "ok";
  };
  assert.deepEqual(["", "{", "nul"].map(code), ["M_NOT_JSON", "M_NOT_JSON", "M_NOT_JSON"]);
  assert.deepEqual(["[]", "null", "{}", '{"notification":{"devices":{}}}'].map(code), ["M_BAD_JSON", "M_BAD_JSON", "M_BAD_JSON", "M_BAD_JSON"]);
});

test("a pushkey is ours only if it is exactly public_url + /up/ + a token", () => {
  assert.equal(endpointOf(`${BASE}/up/${TOKEN}`, BASE), TOKEN);
  for (const foreign of [
    `https://ntfy.sh/up/${TOKEN}`,
    `${BASE}/up/${TOKEN}?up=1`,
    `${BASE}/up/${TOKEN}/x`,
    `${BASE}/up/short`,
    `${BASE}/upX/${TOKEN}`,
    `${BASE}.evil.org/up/${TOKEN}`,
    `http://up.example.org/up/${TOKEN}`,
    TOKEN,
  ]) {
    assert.equal(endpointOf(foreign, BASE), undefined, foreign);
  }
});

test("the payload is the request body byte for byte when it fits in a push", () => {
  const b = Buffer.from('{"notification": {"event_id":"$e","devices":[{"pushkey":"k"}]}}');
  const n = parseNotify(b);
  assert.ok(!("error" in n));
  assert.equal(payloadFor(b, n), b);
});

test("a body over 4096 bytes is cut to the notification without content and devices", () => {
  const notification = { event_id: "$e", room_id: "!r", counts: { unread: 2 }, prio: "high", content: { body: "x".repeat(5000) }, devices: [{ pushkey: "k" }] };
  const b = body({ notification });
  const n = parseNotify(b);
  assert.ok(!("error" in n));
  const p = payloadFor(b, n)!;
  assert.ok(p.length <= 4096);
  assert.deepEqual(JSON.parse(p.toString()), { notification: { event_id: "$e", room_id: "!r", counts: { unread: 2 }, prio: "high" } });
});

test("a notification that does not fit even without its content has no payload", () => {
  const b = body({ notification: { room_name: "n".repeat(5000), devices: [] } });
  const n = parseNotify(b);
  assert.ok(!("error" in n));
  assert.equal(payloadFor(b, n), undefined);
});

test("gone pushkeys are rejected; delivered and queued ones are not", () => {
  assert.deepEqual(
    notifyAnswer([
      { pushkey: "a", outcome: { kind: "delivered" } },
      { pushkey: "b", outcome: { kind: "gone" } },
      { pushkey: "c", outcome: { kind: "queued", ttl: 60 } },
    ]),
    { rejected: ["b"] },
  );
  assert.deepEqual(notifyAnswer([]), { rejected: [] });
});

test("when nothing was delivered and a device failed for now, the homeserver is told to retry", () => {
  const unavailable = { kind: "unavailable", retryAfter: 30 } as const;
  assert.deepEqual(notifyAnswer([{ pushkey: "a", outcome: unavailable }, { pushkey: "b", outcome: { kind: "gone" } }]), { retry: unavailable });
  const limited = { kind: "rate-limited", retryAfter: 3 } as const;
  assert.deepEqual(notifyAnswer([{ pushkey: "a", outcome: limited }]), { retry: limited });
});

test("once one device got it, a temporary failure of another does not make the homeserver resend to all", () => {
  assert.deepEqual(
    notifyAnswer([
      { pushkey: "a", outcome: { kind: "delivered" } },
      { pushkey: "b", outcome: { kind: "unavailable", retryAfter: 30 } },
    ]),
    { rejected: [] },
  );
});
