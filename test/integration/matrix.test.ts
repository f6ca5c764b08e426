// The Matrix push gateway against the real gateway process, a real Prosody
// and distributors of both dialects; requests shaped as Synapse sends them.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";
import Database from "better-sqlite3";
import { connectDistributor, parseMessage1, type Distributor } from "../harness/distributor.ts";
import { startGateway, type Gateway } from "../harness/gateway.ts";
import { startProsody, type Prosody } from "../harness/prosody.ts";

let prosody: Prosody;
let gateway: Gateway;
let bob: Distributor;
let ours: string; // Conversations dialect, live
let ours1: string; // unifiedpush.org dialect, live
let revoked: string;
let expired: string;
let notify: string;

before(async () => {
  prosody = await startProsody();
  gateway = await startGateway(prosody);
  await gateway.waitHealthy(15_000);
  notify = `${gateway.url}/_matrix/push/v1/notify`;
  bob = await connectDistributor(prosody, { username: "bob" });
  ours = (await bob.register2(bob.hash("acct", "im.vector.app"), bob.hash("acct", "1"))).endpoint;
  ours1 = await bob.endpoint1("matrix-d1");
  revoked = await bob.endpoint1("gone-app");
  await bob.unregister1("gone-app");
  expired = (await bob.register2(bob.hash("acct", "old.app"), bob.hash("acct", "2"))).endpoint;
  // Past its expiry as a phone that stopped renewing leaves it (the sweep has not run yet).
  const db = new Database(join(gateway.dir, "gateway.db"));
  db.prepare("UPDATE registrations SET expires_at = 1 WHERE endpoint = ?").run(expired.split("/up/")[1]);
  db.close();
});
after(async () => {
  await bob?.stop();
  await gateway?.cleanup();
  await prosody?.stop();
});

let events = 0;
/** What Synapse's HttpPusher posts (push gateway API, POST /_matrix/push/v1/notify); each call is a new event. */
function synapseBody(pushkeys: string[], extra: Record<string, unknown> = {}) {
  return {
    notification: {
      event_id: `$3957tyerfgewrf384-${++events}`,
      room_id: "!slw48wfj34rtnrf:example.com",
      type: "m.room.message",
      sender: "@exampleuser:matrix.org",
      sender_display_name: "Major Tom",
      room_name: "Mission Control",
      prio: "high",
      counts: { unread: 2, missed_calls: 1 },
      devices: pushkeys.map((pushkey) => ({ app_id: "org.matrix.matrixConsole.ios", pushkey, pushkey_ts: 12345678, data: {}, tweaks: { sound: "bing" } })),
      ...extra,
    },
  };
}

const post = (body: string) => fetch(notify, { method: "POST", body, headers: { "Content-Type": "application/json" } });

test("GET on the notify URL answers the UnifiedPush gateway discovery document", async () => {
  const res = await fetch(notify);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { unifiedpush: { gateway: "matrix" } });
});

test("one of ours, one foreign, one revoked and one expired pushkey: exactly the three others are rejected and one push is delivered", async () => {
  const foreign = "https://ntfy.example.net/upAbCdEf?up=1";
  const body = JSON.stringify(synapseBody([ours, foreign, revoked, expired, ours]));
  const before = bob.pushes.length;
  const res = await post(body);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { rejected: [foreign, revoked, expired] });
  const push = await bob.waitForPush((p) => bob.pushes.indexOf(p) >= before);
  assert.equal(push.payload.toString("utf8"), body, "the distributor gets the homeserver's JSON byte for byte");
  await sleep(300);
  assert.equal(bob.pushes.length, before + 1, "the device listed twice is served once");
});

test("a pushkey of the other dialect gets the notification JSON as its message body", async () => {
  const body = JSON.stringify(synapseBody([ours1]));
  const before = bob.messages.length;
  const res = await post(body);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { rejected: [] });
  const m = parseMessage1(await bob.waitForMessage((x) => bob.messages.indexOf(x) >= before));
  assert.equal(m.payload.toString("utf8"), body);
  assert.equal(m.base64, false);
});

test("a notification over 4096 bytes reaches the device without its content; over 80 KiB the request is refused with 413", async () => {
  const bigBody = synapseBody([ours], { content: { msgtype: "m.text", body: "x".repeat(6000) } });
  const big = JSON.stringify(bigBody);
  const before = bob.pushes.length;
  const res = await post(big);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { rejected: [] });
  const push = await bob.waitForPush((p) => bob.pushes.indexOf(p) >= before);
  const got = JSON.parse(push.payload.toString("utf8"));
  assert.equal(got.notification.event_id, bigBody.notification.event_id);
  assert.equal(got.notification.content, undefined);
  assert.equal(got.notification.devices, undefined);
  const huge = await post(JSON.stringify(synapseBody([ours], { content: { body: "x".repeat(90_000) } })));
  assert.equal(huge.status, 413);
});

test("a body that is not JSON is answered 400 M_NOT_JSON, JSON of the wrong shape 400 M_BAD_JSON", async () => {
  for (const [bad, errcode] of [
    ["{not json", "M_NOT_JSON"],
    ["", "M_NOT_JSON"],
    ["[]", "M_BAD_JSON"],
    [JSON.stringify({ notification: {} }), "M_BAD_JSON"],
    [JSON.stringify({ devices: [] }), "M_BAD_JSON"],
  ]) {
    const res = await post(bad!);
    assert.equal(res.status, 400, bad);
    const body = await res.json();
    assert.equal(body.errcode, errcode, bad);
    assert.equal(typeof body.error, "string");
    assert.match(res.headers.get("content-type") ?? "", /application\/json/);
  }
});

test("a notify request over 80 KiB is answered 413 M_TOO_LARGE", async () => {
  const res = await post(JSON.stringify(synapseBody([ours], { content: { body: "x".repeat(90_000) } })));
  assert.equal(res.status, 413);
  assert.equal((await res.json()).errcode, "M_TOO_LARGE");
});

test("PUT, DELETE and PATCH on the notify path are answered 405 M_UNRECOGNIZED in JSON", async () => {
  for (const method of ["PUT", "DELETE", "PATCH"]) {
    const res = await fetch(notify, { method, body: method === "DELETE" ? undefined : "{}" });
    assert.equal(res.status, 405, method);
    assert.match(res.headers.get("content-type") ?? "", /application\/json/, method);
    assert.equal((await res.json()).errcode, "M_UNRECOGNIZED", method);
    assert.match(res.headers.get("allow") ?? "", /POST/);
  }
});

test("an unknown path under /_matrix/ is answered 404 M_UNRECOGNIZED in JSON", async () => {
  for (const path of ["/_matrix/push/v2/notify", "/_matrix/client/versions", "/_matrix/"]) {
    const res = await fetch(`${gateway.url}${path}`, { method: path.endsWith("notify") ? "POST" : "GET", body: path.endsWith("notify") ? "{}" : undefined });
    assert.equal(res.status, 404, path);
    assert.equal((await res.json()).errcode, "M_UNRECOGNIZED", path);
  }
});

test("a notification for no device of ours delivers nothing and rejects every pushkey", async () => {
  const before = bob.pushes.length + bob.messages.length;
  const res = await post(JSON.stringify(synapseBody([`${gateway.url}/up/${"x".repeat(32)}`, `${gateway.url}/up/short`])));
  assert.equal(res.status, 200);
  assert.equal((await res.json()).rejected.length, 2);
  await sleep(200);
  assert.equal(bob.pushes.length + bob.messages.length, before);
});

test("a notify retried with the same event_id rings the phone once and is answered 200 both times", async () => {
  const body = JSON.stringify(synapseBody([ours, revoked]));
  const before = bob.pushes.length;
  for (let i = 0; i < 2; i++) {
    const res = await post(body);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { rejected: [revoked] }, "the dead pushkey is still rejected on the retry");
  }
  await bob.waitForPush((p) => bob.pushes.indexOf(p) >= before);
  await sleep(300);
  assert.equal(bob.pushes.length, before + 1, "one push for one event");
  const badge = JSON.stringify({ notification: { counts: { unread: 0 }, devices: [{ app_id: "x", pushkey: ours }] } });
  for (let i = 0; i < 2; i++) assert.equal((await post(badge)).status, 200);
  await bob.waitForPush(() => bob.pushes.length >= before + 3);
  assert.equal(bob.pushes.length, before + 3, "badge-only notifications have no event_id and each one passes");
});

test("a retry that arrives while the first notify is still in flight waits for it and does not ring the phone again", async () => {
  const body = JSON.stringify(synapseBody([ours]));
  const before = bob.pushes.length;
  bob.pushDelayMs = 800; // the phone answers late, still within answer_within: the first notify is in flight when the retry comes
  try {
    const first = post(body);
    await sleep(200);
    const retry = post(body);
    const answers = await Promise.all([first, retry]);
    assert.deepEqual(answers.map((r) => r.status), [200, 200]);
    assert.deepEqual(await Promise.all(answers.map((r) => r.json())), [{ rejected: [] }, { rejected: [] }]);
  } finally {
    bob.pushDelayMs = 0;
  }
  await bob.waitForPush((p) => bob.pushes.indexOf(p) >= before);
  await sleep(1200); // a second push would have arrived by now
  assert.equal(bob.pushes.length, before + 1, "one push for one event");
});
