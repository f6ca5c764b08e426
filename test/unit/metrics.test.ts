import { test } from "node:test";
import assert from "node:assert/strict";
import { Metrics, type MetricsDeps } from "../../src/metrics.ts";
import { parseExposition } from "./metrics-text.ts";

function metrics(over: Partial<MetricsDeps> = {}) {
  const state = { online: true, registrations: { 1: 2, 2: 5 } as Record<1 | 2, number>, depth: 7, mono: 1000, asked: [] as number[] };
  const m = new Metrics({
    registrations: async (now) => (state.asked.push(now), state.registrations),
    isOnline: () => state.online,
    queueDepth: async () => state.depth,
    now: () => 42_000,
    monotonic: () => state.mono,
    processMetrics: false,
    ...over,
  });
  const scrape = async () => {
    const r = await m.render();
    assert.match(r.contentType, /^text\/plain; version=0\.0\.4/);
    return parseExposition(r.body);
  };
  return { m, state, scrape };
}

test("the exposition parses as Prometheus text and declares every family with its type", async () => {
  const { scrape } = metrics();
  const e = await scrape();
  assert.equal(e.types.get("up_gateway_pushes_total"), "counter");
  assert.equal(e.types.get("up_gateway_http_responses_total"), "counter");
  assert.equal(e.types.get("up_gateway_push_duration_seconds"), "histogram");
  assert.equal(e.types.get("up_gateway_registrations"), "gauge");
  assert.equal(e.types.get("up_gateway_queue_depth"), "gauge");
  assert.equal(e.types.get("up_gateway_component_online"), "gauge");
});

test("registrations are read from the store at scrape time, by dialect, with the wall clock handed in", async () => {
  const { scrape, state } = metrics();
  let e = await scrape();
  assert.equal(e.get("up_gateway_registrations", { dialect: "unifiedpush" }), 2);
  assert.equal(e.get("up_gateway_registrations", { dialect: "conversations" }), 5);
  assert.deepEqual(state.asked, [42_000]);
  state.registrations = { 1: 0, 2: 9 };
  e = await scrape();
  assert.equal(e.get("up_gateway_registrations", { dialect: "unifiedpush" }), 0);
  assert.equal(e.get("up_gateway_registrations", { dialect: "conversations" }), 9);
});

test("the component link state and the queue depth follow their sources", async () => {
  const { scrape, state } = metrics();
  assert.equal((await scrape()).get("up_gateway_component_online"), 1);
  assert.equal((await scrape()).get("up_gateway_queue_depth"), 7);
  state.online = false;
  state.depth = 0;
  assert.equal((await scrape()).get("up_gateway_component_online"), 0);
  assert.equal((await scrape()).get("up_gateway_queue_depth"), 0);
});

test("without a queue wired, the queue depth is 0", async () => {
  const { scrape } = metrics({ queueDepth: undefined });
  assert.equal((await scrape()).get("up_gateway_queue_depth"), 0);
});

test("push outcomes count by kind and their latency lands in the dialect's histogram", async () => {
  const { m, scrape, state } = metrics();
  state.mono = 1030;
  m.onOutcome({ kind: "delivered" }, 2, 1000); // 30 ms
  m.onOutcome({ kind: "delivered" }, 2, 1000);
  m.onOutcome({ kind: "unavailable", retryAfter: 30 }, 1, 1000);
  m.countOutcome({ kind: "rate-limited", retryAfter: 1 });
  const e = await scrape();
  assert.equal(e.get("up_gateway_pushes_total", { outcome: "delivered" }), 2);
  assert.equal(e.get("up_gateway_pushes_total", { outcome: "unavailable" }), 1);
  assert.equal(e.get("up_gateway_pushes_total", { outcome: "rate-limited" }), 1);
  assert.equal(e.get("up_gateway_push_duration_seconds_count", { dialect: "conversations" }), 2);
  assert.equal(e.get("up_gateway_push_duration_seconds_bucket", { dialect: "conversations", le: "0.025" }), 0);
  assert.equal(e.get("up_gateway_push_duration_seconds_bucket", { dialect: "conversations", le: "0.05" }), 2);
  assert.ok(Math.abs(e.get("up_gateway_push_duration_seconds_sum", { dialect: "conversations" })! - 0.06) < 1e-9);
  assert.equal(e.get("up_gateway_push_duration_seconds_count", { dialect: "unifiedpush" }), 1);
});

test("a push to a gone endpoint is counted but not timed: an unknown token has no dialect", async () => {
  const { m, scrape } = metrics();
  m.onOutcome({ kind: "gone" }, 2, 1000);
  const e = await scrape();
  assert.equal(e.get("up_gateway_pushes_total", { outcome: "gone" }), 1);
  assert.equal(e.get("up_gateway_push_duration_seconds_count", { dialect: "conversations" }), undefined);
});

test("HTTP responses count by status code", async () => {
  const { m, scrape } = metrics();
  m.countResponse(201);
  m.countResponse(201);
  m.countResponse(429);
  const e = await scrape();
  assert.equal(e.get("up_gateway_http_responses_total", { status: "201" }), 2);
  assert.equal(e.get("up_gateway_http_responses_total", { status: "429" }), 1);
});

test("process metrics are there by default, and two gateways in one process do not share a registry", async () => {
  const a = new Metrics({ registrations: async () => ({ 1: 0, 2: 0 }), isOnline: () => true });
  const b = new Metrics({ registrations: async () => ({ 1: 0, 2: 0 }), isOnline: () => true });
  a.countResponse(200);
  const ea = parseExposition((await a.render()).body);
  const eb = parseExposition((await b.render()).body);
  assert.ok(ea.types.has("process_cpu_user_seconds_total"));
  assert.equal(ea.get("up_gateway_http_responses_total", { status: "200" }), 1);
  assert.equal(eb.get("up_gateway_http_responses_total", { status: "200" }), undefined);
});

test("the metrics reader refuses text that is not Prometheus exposition", () => {
  assert.throws(() => parseExposition("foo 1\n"), /undeclared/);
  assert.throws(() => parseExposition("# TYPE foo counter\nfoo{a=b} 1\n"), /bad/);
  assert.throws(() => parseExposition("<html>\n"), /bad sample/);
});
