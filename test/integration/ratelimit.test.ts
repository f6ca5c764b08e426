// Per-endpoint token buckets on the real gateway: [limits] endpoint_rate = 1/s, endpoint_burst = 3.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { connectDistributor, type Distributor } from "../harness/distributor.ts";
import { startGateway, type Gateway } from "../harness/gateway.ts";
import { startProsody, type Prosody } from "../harness/prosody.ts";

const BURST = 3;
let prosody: Prosody;
let gateway: Gateway;
let carol: Distributor;
let busy: string;
let quiet: string;

before(async () => {
  prosody = await startProsody();
  gateway = await startGateway(prosody, { limits: { endpoint_rate: 1, endpoint_burst: BURST } });
  await gateway.waitHealthy(15_000);
  carol = await connectDistributor(prosody, { username: "carol" });
  busy = (await carol.register2(carol.hash("a", "busy"), carol.hash("a", "1"))).endpoint;
  quiet = (await carol.register2(carol.hash("a", "quiet"), carol.hash("a", "2"))).endpoint;
});
after(async () => {
  await carol?.stop();
  await gateway?.cleanup();
  await prosody?.stop();
});

const post = (url: string, body = "ping") => fetch(url, { method: "POST", body });

/** Fires `n` POSTs at once, so they all meet the bucket within milliseconds of each other. */
const burst = (url: string, n: number) => Promise.all(Array.from({ length: n }, (_, i) => post(url, `n${i}`)));

test("a burst above the bucket gets 429 with a Retry-After in whole seconds; another endpoint is unaffected; waiting that long gets through", async () => {
  const answers = await burst(busy, BURST + 1);
  assert.deepEqual(answers.map((r) => r.status).sort(), [201, 201, 201, 429]);
  const refused = answers.find((r) => r.status === 429)!;
  const retryAfter = refused.headers.get("retry-after");
  assert.equal(retryAfter, "1", "at 1 token/s one token is back within a second");
  assert.match((await refused.json()).error, /too many/);

  // the same client address, another endpoint: its own bucket
  assert.deepEqual((await burst(quiet, BURST)).map((r) => r.status), [201, 201, 201]);

  await sleep(Number(retryAfter) * 1000);
  assert.equal((await post(busy)).status, 201);
});

test("refused pushes are never delivered", async () => {
  await sleep(BURST * 1000); // the bucket is full again
  const before = carol.pushes.length;
  const answers = await burst(busy, BURST + 2);
  const accepted = answers.flatMap((r, i) => (r.status === 201 ? [`n${i}`] : []));
  assert.equal(accepted.length, BURST);
  assert.equal(answers.filter((r) => r.status === 429).length, 2);
  await sleep(300);
  assert.deepEqual(carol.pushes.slice(before).map((p) => p.payload.toString()).sort(), accepted.sort());
});

test("Matrix notifications draw on the same endpoint's bucket, and the homeserver is told to retry", async () => {
  await sleep(BURST * 1000);
  assert.deepEqual((await burst(busy, BURST)).map((r) => r.status), [201, 201, 201]);
  const body = JSON.stringify({ notification: { event_id: "$e", devices: [{ app_id: "x", pushkey: busy }] } });
  const res = await fetch(`${gateway.url}/_matrix/push/v1/notify`, { method: "POST", body });
  assert.equal(res.status, 429);
  assert.match(res.headers.get("retry-after") ?? "", /^[1-9]\d*$/);
});
