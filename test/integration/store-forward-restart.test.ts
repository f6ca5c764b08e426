// The queue across gateway restarts: SIGKILL loses nothing answered 201,
// SIGTERM lets a push in flight end as delivered or kept, and a started
// gateway flushes to whoever is online.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startProsody, type Prosody } from "../harness/prosody.ts";
import { startGateway, type Gateway } from "../harness/gateway.ts";
import { connectDistributor, type Distributor } from "../harness/distributor.ts";
import { waitFor } from "../harness/wait-for.ts";

let prosody: Prosody;
let gateway: Gateway;
let users = 0;

before(async () => {
  prosody = await startProsody();
  // timeout 2 s: the SIGTERM test waits for one push IQ to time out; answer_within 0.5 s leaves a phone time to answer after the 201
  gateway = await startGateway(prosody, { push: { queue_sweep_interval: 1, timeout: 2, answer_within: 0.5 } });
  await gateway.waitHealthy();
});
after(async () => {
  await gateway?.cleanup();
  await prosody?.stop();
});

async function registered(): Promise<{ dist: Distributor; endpoint: string }> {
  const dist = await connectDistributor(prosody, { username: `rs${++users}`, resource: "phone" });
  const { endpoint } = await dist.register2(dist.hash("uuid", `org.example.app${users}`), dist.hash("uuid", "i"));
  return { dist, endpoint };
}

async function post(endpoint: string, body: string): Promise<Response> {
  const res = await fetch(endpoint, { method: "POST", body, headers: { TTL: "600" } });
  await res.arrayBuffer();
  return res;
}

async function restart(how: "SIGKILL" | "SIGTERM"): Promise<void> {
  if (how === "SIGKILL") await gateway.kill();
  else assert.equal(await gateway.stop("SIGTERM"), 0);
  await gateway.restart();
  await gateway.waitHealthy();
}

test("messages answered 201 survive a SIGKILL of the gateway and arrive in order after its restart", async () => {
  const { dist, endpoint } = await registered();
  await dist.stop();
  const sent = ["1", "2", "3", "4", "5"];
  for (const body of sent) assert.equal((await post(endpoint, body)).status, 201);
  await restart("SIGKILL");
  await dist.reconnect();
  await dist.sendPresence();
  await waitFor(() => dist.pushes.length >= sent.length, 10_000, "the queued pushes");
  assert.deepEqual(dist.pushes.map((p) => p.payload.toString()), sent);
  await dist.stop();
});

test("a gateway that starts with a queue flushes it to a distributor that is online, without waiting for presence", async () => {
  const { dist, endpoint } = await registered();
  dist.pushAnswer = "service-unavailable";
  for (const body of ["a", "b", "c"]) {
    const res = await post(endpoint, body);
    assert.equal(res.status, 201);
    assert.equal(res.headers.get("ttl"), "600");
  }
  await gateway.kill();
  dist.pushAnswer = "result";
  const seen = dist.pushes.length;
  await gateway.restart();
  await waitFor(() => dist.pushes.length >= seen + 3, 15_000, "the queue to be flushed on start");
  assert.deepEqual(dist.pushes.slice(seen).map((p) => p.payload.toString()), ["a", "b", "c"]);
  await dist.stop();
});

test("SIGTERM lets a push in flight finish: it is answered 201 and kept, and delivered after the restart", async () => {
  const { dist, endpoint } = await registered();
  dist.pushAnswer = "ignore"; // the IQ stays unanswered until the push timeout
  const answer = post(endpoint, "in flight");
  await waitFor(() => dist.pushes.length >= 1, 5_000, "the push IQ");
  const stopped = gateway.stop("SIGTERM");
  const res = await answer;
  assert.equal(res.status, 201);
  assert.equal(res.headers.get("ttl"), "600");
  assert.equal(await stopped, 0);
  dist.pushAnswer = "result";
  await gateway.restart();
  await gateway.waitHealthy();
  await waitFor(() => dist.pushes.length >= 2, 15_000, "the kept push");
  assert.deepEqual(dist.pushes.map((p) => p.payload.toString()), ["in flight", "in flight"]);
  await dist.stop();
});

test("SIGTERM waits for the answer to a push IQ still out, so a copy the phone acknowledges moments later is not sent again after the restart", async () => {
  const { dist, endpoint } = await registered();
  dist.pushDelayMs = 1200; // answers after the 201 (answer_within 0.5 s), before the IQ's timeout
  const res = await post(endpoint, "once");
  assert.equal(res.status, 201);
  assert.equal(res.headers.get("ttl"), "600", "stored: not acknowledged within answer_within");
  assert.equal(await gateway.stop("SIGTERM"), 0);
  dist.pushDelayMs = 0;
  await gateway.restart();
  await gateway.waitHealthy();
  await new Promise((r) => setTimeout(r, 2500)); // a start flush and two sweeps would have re-sent it
  assert.deepEqual(dist.pushes.map((p) => p.payload.toString()), ["once"], "the phone got it once");
  await dist.stop();
});
