// Store and forward against a real Prosody and the gateway as a real process:
// what a distributor that is away misses, it gets when it is back, in order, once.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { join } from "node:path";
import { startProsody, type Prosody } from "../harness/prosody.ts";
import { startGateway, type Gateway } from "../harness/gateway.ts";
import { connectDistributor, type Distributor } from "../harness/distributor.ts";
import { waitFor } from "../harness/wait-for.ts";

const MAX_QUEUE = 20;
let prosody: Prosody;
let gateway: Gateway;
let users = 0;

before(async () => {
  prosody = await startProsody();
  gateway = await startGateway(prosody, { push: { max_queue_per_registration: MAX_QUEUE, queue_sweep_interval: 1, default_ttl: 1800, max_ttl: 3600 } });
  await gateway.waitHealthy();
});
after(async () => {
  await gateway?.cleanup();
  await prosody?.stop();
});

interface Away {
  dist: Distributor;
  endpoint: string;
  app: string;
  instance: string;
}

/** A registered distributor that has gone offline without telling the gateway. */
async function awayDistributor(): Promise<Away> {
  const dist = await connectDistributor(prosody, { username: `sf${++users}`, resource: "phone" });
  const app = dist.hash("uuid", `org.example.app${users}`);
  const instance = dist.hash("uuid", "instance");
  const { endpoint } = await dist.register2(app, instance);
  await dist.stop();
  return { dist, endpoint, app, instance };
}

async function post(endpoint: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  const res = await fetch(endpoint, { method: "POST", body, headers });
  await res.arrayBuffer();
  return res;
}

/** Back online the way Conversations comes back: log in, then directed presence to the component. */
async function comeBack(dist: Distributor): Promise<void> {
  await dist.reconnect();
  await dist.sendPresence();
}

const bodies = (dist: Distributor): string[] => dist.pushes.map((p) => p.payload.toString());

/** Rows in the gateway's queue table holding this payload. */
function queueRows(payload: string): number {
  const db = new Database(join(gateway.dir, "gateway.db"), { readonly: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM queue WHERE payload = ?").get(Buffer.from(payload)) as { n: number }).n;
  } finally {
    db.close();
  }
}

test("messages for an offline distributor are answered 201 with their TTL and arrive in order, once, after its directed presence", async () => {
  const { dist, endpoint } = await awayDistributor();
  const sent = Array.from({ length: 10 }, (_, i) => `message ${i} <&>`);
  for (const body of sent) {
    const res = await post(endpoint, body, { TTL: "600" });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get("ttl"), "600");
    assert.ok(res.headers.get("location"));
  }
  assert.equal(dist.pushes.length, 0);
  await comeBack(dist);
  await waitFor(() => dist.pushes.length >= sent.length, 10_000, "the queued pushes");
  await sleep(300); // a duplicate would show up by now
  assert.deepEqual(bodies(dist), sent);
  await dist.stop();
});

test("a distributor that re-registers from a new resource gets the queue at its new full JID", async () => {
  const { dist, endpoint, app, instance } = await awayDistributor();
  for (const body of ["a", "b", "c"]) assert.equal((await post(endpoint, body, { TTL: "600" })).status, 201);
  await dist.reconnect("laptop");
  const again = await dist.register2(app, instance);
  assert.equal(again.endpoint, endpoint);
  await waitFor(() => dist.pushes.length >= 3, 10_000, "the queued pushes");
  assert.deepEqual(bodies(dist), ["a", "b", "c"]);
  assert.ok(dist.pushes.every((p) => p.stanza.attrs.to?.endsWith("/laptop")));
  await dist.stop();
});

test("TTL 0 is never queued: 503 while the distributor is away, 201 with TTL 0 once delivered", async () => {
  const { dist, endpoint } = await awayDistributor();
  const refused = await post(endpoint, "now or never", { TTL: "0" });
  assert.equal(refused.status, 503);
  assert.ok(Number(refused.headers.get("retry-after")) > 0);
  await comeBack(dist);
  const res = await post(endpoint, "now", { TTL: "0" });
  assert.equal(res.status, 201);
  assert.equal(res.headers.get("ttl"), "0");
  await sleep(300);
  assert.deepEqual(bodies(dist), ["now"]);
  await dist.stop();
});

test("the TTL kept is the default without a TTL header and never more than max_ttl", async () => {
  const { dist, endpoint } = await awayDistributor();
  assert.equal((await post(endpoint, "no ttl")).headers.get("ttl"), "1800");
  assert.equal((await post(endpoint, "long ttl", { TTL: "999999999" })).headers.get("ttl"), "3600");
  await comeBack(dist);
  await waitFor(() => dist.pushes.length >= 2, 10_000, "the queued pushes");
  await dist.stop();
});

test("a queued message with the same Topic is replaced by the newer one", async () => {
  const { dist, endpoint } = await awayDistributor();
  assert.equal((await post(endpoint, "inbox: 1 unread", { TTL: "600", Topic: "inbox" })).status, 201);
  assert.equal((await post(endpoint, "mention", { TTL: "600" })).status, 201);
  assert.equal((await post(endpoint, "inbox: 2 unread", { TTL: "600", Topic: "inbox" })).status, 201);
  await comeBack(dist);
  await waitFor(() => dist.pushes.length >= 2, 10_000, "the queued pushes");
  await sleep(300);
  assert.deepEqual(bodies(dist), ["mention", "inbox: 2 unread"]);
  await dist.stop();
});

test("a queued message keeps its WebPush headers: Topic, Urgency, Content-Encoding and the VAPID key", async () => {
  const { dist, endpoint } = await awayDistributor();
  const key = "BOr-VAPID-public-key_for-the-test";
  const headers = { TTL: "600", Topic: "kept", Urgency: "high", "Content-Encoding": "aes128gcm", Authorization: `vapid t=eyJ0eXAiOiJKV1QifQ.e30.c2ln, k=${key}` };
  assert.equal((await post(endpoint, "with headers", headers)).status, 201);
  const db = new Database(join(gateway.dir, "gateway.db"), { readonly: true });
  try {
    const row = db.prepare("SELECT topic, urgency, content_encoding, vapid_key, ttl FROM queue WHERE payload = ?").get(Buffer.from("with headers"));
    assert.deepEqual({ ...(row as object) }, { topic: "kept", urgency: "high", content_encoding: "aes128gcm", vapid_key: key, ttl: 600 });
  } finally {
    db.close();
  }
  await comeBack(dist);
  await dist.waitForPush((p) => p.payload.toString() === "with headers", 10_000);
  await dist.stop();
});

test("a message past its TTL is never delivered and the sweep drops it", async () => {
  const { dist, endpoint } = await awayDistributor();
  assert.equal((await post(endpoint, "short-lived", { TTL: "1" })).headers.get("ttl"), "1");
  assert.equal(queueRows("short-lived"), 1);
  await waitFor(() => queueRows("short-lived") === 0, 5_000, "the expiry sweep");
  assert.equal((await post(endpoint, "long-lived", { TTL: "600" })).status, 201);
  await comeBack(dist);
  await waitFor(() => dist.pushes.length >= 1, 10_000, "the queued push");
  await sleep(300);
  assert.deepEqual(bodies(dist), ["long-lived"]);
  await dist.stop();
});

test("a full queue answers 429 with Retry-After and keeps every message it accepted", async () => {
  const { dist, endpoint } = await awayDistributor();
  for (let i = 0; i < MAX_QUEUE; i++) assert.equal((await post(endpoint, `m${i}`, { TTL: "600" })).status, 201);
  const full = await post(endpoint, "one too many", { TTL: "600" });
  assert.equal(full.status, 429);
  assert.ok(Number(full.headers.get("retry-after")) > 0);
  await comeBack(dist);
  await waitFor(() => dist.pushes.length >= MAX_QUEUE, 10_000, "the queued pushes");
  assert.deepEqual(bodies(dist), Array.from({ length: MAX_QUEUE }, (_, i) => `m${i}`));
  await dist.stop();
});

test("a push while messages wait is queued behind them, and the retry sweep delivers all in order without presence", async () => {
  const { dist, endpoint } = await awayDistributor();
  for (const body of ["1", "2", "3"]) assert.equal((await post(endpoint, body, { TTL: "600" })).status, 201);
  await dist.reconnect(); // back, but silent towards the gateway
  const res = await post(endpoint, "4", { TTL: "600" });
  assert.equal(res.status, 201);
  assert.equal(res.headers.get("ttl"), "600");
  await waitFor(() => dist.pushes.length >= 4, 15_000, "the retry sweep");
  assert.deepEqual(bodies(dist), ["1", "2", "3", "4"]);
  await dist.stop();
});

test("an app that turns out gone while its queue flushes is revoked and its queue dropped", async () => {
  const { dist, endpoint } = await awayDistributor();
  for (const body of ["1", "2"]) assert.equal((await post(endpoint, body, { TTL: "600" })).status, 201);
  await dist.reconnect();
  dist.pushAnswer = "item-not-found";
  await dist.sendPresence();
  await waitFor(() => dist.pushes.length >= 1, 10_000, "the first queued push");
  await waitFor(async () => (await post(endpoint, "after", { TTL: "600" })).status === 404, 5_000, "the endpoint to be revoked");
  await sleep(300);
  assert.equal(dist.pushes.length, 1);
  await dist.stop();
});
