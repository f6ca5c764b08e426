// The store-and-forward promise under faults: 500 POSTs at concurrency 20
// while Prosody restarts and the gateway is SIGKILLed and restarted. Every
// message answered 201 must reach its distributor; duplicates are allowed
// (delivery is at least once) but counted and reported.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { startProsody, type Prosody } from "../harness/prosody.ts";
import { startGateway, type Gateway } from "../harness/gateway.ts";
import { connectDistributor, type Distributor } from "../harness/distributor.ts";
import { waitFor } from "../harness/wait-for.ts";

const TOTAL = 500;
const CONCURRENCY = 20;
const DISTRIBUTORS = 5;
const PACE_MS = 300; // per sender between messages: the load lasts long enough for both faults to land inside it
const RETRY_MS = 100; // a sender retries a message that got no 201, as app servers do
const SEND_DEADLINE_MS = 60_000;

let prosody: Prosody;
let gateway: Gateway;
const dists: Distributor[] = [];
const endpoints: string[] = [];

before(async () => {
  prosody = await startProsody();
  gateway = await startGateway(prosody, { push: { queue_sweep_interval: 1 }, log: { level: "info" } });
  await gateway.waitHealthy();
  for (let i = 0; i < DISTRIBUTORS; i++) {
    const d = await connectDistributor(prosody, { username: `fault${i}`, resource: "phone" });
    endpoints.push((await d.register2(d.hash("uuid", `org.example.app${i}`), d.hash("uuid", "i"))).endpoint);
    await d.sendPresence();
    dists.push(d);
  }
});
after(async () => {
  for (const d of dists) await d.stop();
  await gateway?.cleanup();
  await prosody?.stop();
});

test("no message answered 201 is lost while Prosody restarts and the gateway is killed with SIGKILL", { timeout: 180_000 }, async (t) => {
  const accepted = new Set<number>();
  const statuses = new Map<string, number>();
  const count = (k: string): void => void statuses.set(k, (statuses.get(k) ?? 0) + 1);
  let finished = 0;
  let next = 0;
  let killedAt = TOTAL;

  async function send(i: number): Promise<void> {
    const deadline = Date.now() + SEND_DEADLINE_MS;
    while (Date.now() < deadline) {
      try {
        const res = await fetch(endpoints[i % DISTRIBUTORS]!, {
          method: "POST",
          body: `fault-${i}`,
          headers: { TTL: "600" },
          signal: AbortSignal.timeout(20_000),
        });
        await res.arrayBuffer();
        count(res.status === 201 ? `201 ${res.headers.get("ttl") === "0" ? "delivered" : "queued"}` : String(res.status));
        if (res.status === 201) {
          accepted.add(i);
          return;
        }
      } catch {
        count("no answer"); // the gateway was down or died mid-request
      }
      await sleep(RETRY_MS);
    }
  }

  async function worker(): Promise<void> {
    for (let i = next++; i < TOTAL; i = next++) {
      await send(i);
      finished++;
      await sleep(PACE_MS);
    }
  }

  const faults = (async () => {
    await waitFor(() => finished >= 100, 60_000, "100 POSTs");
    t.diagnostic(`restarting Prosody after ${finished} POSTs`);
    await prosody.restart();
    await Promise.all(dists.map(async (d) => {
      await d.reconnect();
      await d.sendPresence();
    }));
    await waitFor(() => finished >= 300, 60_000, "300 POSTs");
    killedAt = finished;
    t.diagnostic(`killing the gateway (SIGKILL) after ${finished} POSTs`);
    await gateway.kill();
    await sleep(300);
    await gateway.restart();
    await gateway.waitHealthy(30_000);
    t.diagnostic(`gateway back after ${finished} POSTs`);
  })();

  await Promise.all([...Array.from({ length: CONCURRENCY }, worker), faults]);
  assert.equal(finished, TOTAL);
  assert.ok(killedAt < TOTAL - CONCURRENCY, "both faults landed while the load was running");

  const received = (): Map<number, number> => {
    const seen = new Map<number, number>();
    for (const d of dists) {
      for (const p of d.pushes) {
        const m = /^fault-(\d+)$/.exec(p.payload.toString());
        if (m) seen.set(Number(m[1]), (seen.get(Number(m[1])) ?? 0) + 1);
      }
    }
    return seen;
  };
  await waitFor(() => [...accepted].every((i) => received().has(i)), 60_000, "every accepted message to arrive").catch(() => {});
  await sleep(1000); // late duplicates still count

  const seen = received();
  const delivered = [...accepted].filter((i) => seen.has(i)).length;
  const lost = [...accepted].filter((i) => !seen.has(i));
  const duplicated = [...seen.values()].reduce((n, c) => n + c - 1, 0);
  const unacknowledged = [...seen.keys()].filter((i) => !accepted.has(i)).length;
  const report = { sent: TOTAL, accepted: accepted.size, delivered, duplicated, lost: lost.length, deliveredWithout201: unacknowledged, statuses: Object.fromEntries(statuses) };
  t.diagnostic(`fault test counts: ${JSON.stringify(report)}`);
  console.log(`fault test counts: ${JSON.stringify(report)}`);
  assert.deepEqual(lost, [], "messages answered 201 that never arrived");
  assert.ok(accepted.size > 0);
});
