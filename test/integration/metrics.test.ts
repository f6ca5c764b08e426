// GET /metrics on the real gateway: Prometheus text that moves as pushes happen.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { connectDistributor, type Distributor } from "../harness/distributor.ts";
import { startGateway, type Gateway } from "../harness/gateway.ts";
import { startProsody, type Prosody } from "../harness/prosody.ts";
import { waitFor } from "../harness/wait-for.ts";
import { parseExposition, type Exposition } from "../unit/metrics-text.ts";

let prosody: Prosody;
let gateway: Gateway;
let dave: Distributor;

before(async () => {
  prosody = await startProsody();
  gateway = await startGateway(prosody, { xmpp: { reconnect_max: 1 } });
  await gateway.waitHealthy(15_000);
  dave = await connectDistributor(prosody, { username: "dave" });
});
after(async () => {
  await dave?.stop();
  await gateway?.cleanup();
  await prosody?.stop();
});

async function scrape(): Promise<Exposition> {
  const res = await fetch(`${gateway.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return parseExposition(await res.text());
}

const n = (e: Exposition, name: string, labels?: Record<string, string>): number => e.get(name, labels) ?? 0;

test("/metrics parses as Prometheus text with every family the operator needs", async () => {
  const e = await scrape();
  for (const [name, type] of [
    ["up_gateway_registrations", "gauge"],
    ["up_gateway_pushes_total", "counter"],
    ["up_gateway_http_responses_total", "counter"],
    ["up_gateway_queue_depth", "gauge"],
    ["up_gateway_component_online", "gauge"],
    ["up_gateway_push_duration_seconds", "histogram"],
    ["process_resident_memory_bytes", "gauge"],
  ]) {
    assert.equal(e.types.get(name!), type, name);
  }
  assert.equal(e.get("up_gateway_component_online"), 1);
});

test("registrations by dialect follow the distributors' registrations", async () => {
  const before = await scrape();
  await dave.endpoint1("metrics-1");
  await dave.register2(dave.hash("m", "app"), dave.hash("m", "1"));
  await dave.register2(dave.hash("m", "app"), dave.hash("m", "2"));
  const after = await scrape();
  assert.equal(n(after, "up_gateway_registrations", { dialect: "unifiedpush" }) - n(before, "up_gateway_registrations", { dialect: "unifiedpush" }), 1);
  assert.equal(n(after, "up_gateway_registrations", { dialect: "conversations" }) - n(before, "up_gateway_registrations", { dialect: "conversations" }), 2);
});

test("pushes by outcome, responses by status and the latency histogram move as pushes happen", async () => {
  const endpoint = (await dave.register2(dave.hash("m", "push"), dave.hash("m", "3"))).endpoint;
  const before = await scrape();
  for (let i = 0; i < 3; i++) assert.equal((await fetch(endpoint, { method: "POST", body: `m${i}` })).status, 201);
  assert.equal((await fetch(`${gateway.url}/up/${"u".repeat(32)}`, { method: "POST", body: "x" })).status, 404);
  assert.equal((await fetch(endpoint, { method: "POST", body: "x", headers: { TTL: "soon", Topic: "no spaces" } })).status, 201);
  assert.equal((await fetch(endpoint, { method: "POST", body: "" })).status, 400);
  const after = await scrape();
  const delta = (name: string, labels: Record<string, string>) => n(after, name, labels) - n(before, name, labels);
  assert.equal(delta("up_gateway_pushes_total", { outcome: "delivered" }), 4);
  assert.equal(delta("up_gateway_header_ignored_total", { header: "ttl" }), 1);
  assert.equal(delta("up_gateway_header_ignored_total", { header: "topic" }), 1);
  assert.equal(delta("up_gateway_pushes_total", { outcome: "gone" }), 1);
  assert.equal(delta("up_gateway_http_responses_total", { status: "201" }), 4);
  assert.equal(delta("up_gateway_http_responses_total", { status: "404" }), 1);
  assert.equal(delta("up_gateway_http_responses_total", { status: "400" }), 1);
  assert.ok(delta("up_gateway_push_duration_seconds_count", { dialect: "conversations" }) >= 4);
  assert.ok(n(after, "up_gateway_push_duration_seconds_bucket", { dialect: "conversations", le: "+Inf" }) >= 3);
});

test("the component link gauge drops to 0 while the XMPP server is away and comes back with it", async () => {
  await prosody.halt();
  await waitFor(async () => (await scrape()).get("up_gateway_component_online") === 0, 10_000, "component_online 0");
  await prosody.resume();
  await waitFor(async () => (await scrape()).get("up_gateway_component_online") === 1, 15_000, "component_online 1");
});

test("metrics never name an endpoint or a JID", async () => {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  assert.ok(!text.includes("/up/"));
  assert.ok(!text.includes("dave@"));
});
