// A sick disk during a run: the database files are made immutable
// (`chattr +i`, root on ext4/tmpfs-like file systems; the -shm file is left
// alone, SQLite dies with SIGBUS otherwise), then writable again. Whatever
// must be stored is refused for now (503, stanza error of type wait), what
// needs no write keeps working, /healthz says why, and all recovers by itself.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { StanzaError, connectDistributor, type Distributor } from "../harness/distributor.ts";
import { startGateway, type Gateway } from "../harness/gateway.ts";
import { startProsody, type Prosody } from "../harness/prosody.ts";
import { waitFor } from "../harness/wait-for.ts";
import { chattrWorks } from "../harness/chattr.ts";
import { parseExposition } from "../unit/metrics-text.ts";

const CAN_CHATTR = chattrWorks();

let prosody: Prosody;
let gateway: Gateway;
let online: Distributor; // answers pushes: delivered at once, nothing stored
let away: Distributor; // registered, then gone: its pushes must be stored
let late: Distributor; // has a message queued before the fault, and comes back while the disk is sick
let lateEndpoint: string;
const SWEEP_S = 1; // [push] queue_sweep_interval: several sweeps run while the files are immutable
let onlineEndpoint: string;
let awayEndpoint: string;
let d1Endpoint: string;

const files = (): string[] => ["gateway.db", "gateway.db-wal"].map((f) => join(gateway.dir, f));
const immutable = (on: boolean): void => void execFileSync("chattr", [on ? "+i" : "-i", ...files()]);

before(async () => {
  if (!CAN_CHATTR) return;
  prosody = await startProsody();
  gateway = await startGateway(prosody, { push: { queue_sweep_interval: SWEEP_S } });
  await gateway.waitHealthy(15_000);
  online = await connectDistributor(prosody, { username: "online" });
  onlineEndpoint = (await online.register2(online.hash("a", "app"), online.hash("a", "i"))).endpoint;
  d1Endpoint = await online.endpoint1("d1-app");
  away = await connectDistributor(prosody, { username: "away", resource: "phone" });
  awayEndpoint = (await away.register2(away.hash("b", "app"), away.hash("b", "i"))).endpoint;
  await away.stop();
  late = await connectDistributor(prosody, { username: "late", resource: "phone" });
  lateEndpoint = (await late.register2(late.hash("l", "app"), late.hash("l", "i"))).endpoint;
  await late.stop();
  const queued = await post(lateEndpoint, "queued before the fault", { TTL: "600" });
  assert.equal(queued.status, 201, queued.body);
  assert.equal(queued.headers.get("ttl"), "600");
});
after(async () => {
  if (gateway) for (const f of files()) if (existsSync(f)) execFileSync("chattr", ["-i", f]);
  await online?.stop();
  await late?.stop();
  await gateway?.cleanup();
  await prosody?.stop();
});

const scrape = async () => parseExposition(await (await fetch(`${gateway.url}/metrics`)).text());
const post = async (url: string, body: string, headers: Record<string, string> = {}) => {
  const res = await fetch(url, { method: "POST", body, headers });
  return { status: res.status, headers: res.headers, body: await res.text() };
};

test("with the database files immutable and then writable again, nothing is answered 201 that is not kept and all recovers by itself", { skip: !CAN_CHATTR && "needs root and a file system with chattr +i" }, async () => {
  assert.ok(existsSync(files()[1]!), "the WAL file exists while the gateway runs");
  assert.equal(await gateway.health(), 200);
  immutable(true);
  try {
    // /healthz probes a write when it has not heard of one lately
    await gateway.waitUnhealthy(8_000);
    const health = await fetch(`${gateway.url}/healthz`);
    assert.equal(health.status, 503);
    const h = await health.json();
    assert.equal(h.xmpp, "online");
    assert.match(h.store, /cannot write/);

    // must be stored: 503 + Retry-After, never 500, never 201
    for (let i = 0; i < 3; i++) {
      const kept = await post(awayEndpoint, `must be kept ${i}`, { TTL: "600" });
      assert.equal(kept.status, 503, kept.body);
      assert.ok(Number(kept.headers.get("retry-after")) > 0);
      assert.match(JSON.parse(kept.body).error, /stored/);
    }
    // needs no write: delivered at once, both dialects
    const now = await post(onlineEndpoint, "delivered while the disk is sick");
    assert.equal(now.status, 201, now.body);
    assert.equal(now.headers.get("ttl"), "0");
    await online.waitForPush((p) => p.payload.toString() === "delivered while the disk is sick");
    assert.equal((await post(d1Endpoint, "dialect 1 too")).status, 201);
    await online.waitForMessage((m) => m.getChildText("body") === "dialect 1 too");

    // a register must write: a stanza error of type wait
    const err = await online.register2(online.hash("c", "new"), online.hash("c", "i")).then(
      () => assert.fail("a registration was accepted that could not be stored"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof StanzaError, String(err));
    assert.equal(err.type, "wait");
    assert.equal(err.condition, "resource-constraint");

    // The phone comes back while the disk is sick. Every sweep deletes nothing (a zero-row DELETE succeeds on
    // such a disk) and no such write may declare the store healed: /healthz stays 503, and the queued message
    // is not handed out, since once delivered it could not be deleted and would go again at every sweep.
    await late.reconnect();
    await late.sendPresence();
    const sick = Date.now();
    while (Date.now() - sick < 3.5 * SWEEP_S * 1000) {
      assert.equal(await gateway.health(), 503, `healthz while the files are immutable, ${Date.now() - sick} ms in`);
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual(late.pushes.map((p) => p.payload.toString()), [], "nothing handed out while its delete would fail");

    const m = await scrape();
    assert.equal(m.get("up_gateway_store_writable"), 0);
    assert.ok((m.get("up_gateway_store_write_failures_total", { op: "enqueue" }) ?? 0) >= 3);
    assert.ok((m.get("up_gateway_store_write_failures_total", { op: "register" }) ?? 0) >= 1);
    assert.equal(m.get("up_gateway_pushes_total", { outcome: "store-failed" }), 3);
    assert.equal(m.get("up_gateway_http_responses_total", { status: "500" }), undefined);
  } finally {
    immutable(false);
  }

  // no traffic at all: the periodic probe alone notices (a scrape does not probe)
  await waitFor(async () => (await scrape()).get("up_gateway_store_writable") === 1, 15_000, "the store writable again");
  await gateway.waitHealthy(2_000);
  assert.equal((await (await fetch(`${gateway.url}/healthz`)).json()).store, "ok");

  // delivered once the probe writes again, without waiting for a sweep, and only once
  await late.waitForPush((p) => p.payload.toString() === "queued before the fault", 5_000);
  await new Promise((r) => setTimeout(r, 3 * SWEEP_S * 1000));
  assert.deepEqual(late.pushes.map((p) => p.payload.toString()), ["queued before the fault"], "exactly once");

  const kept = await post(awayEndpoint, "kept after the disk healed", { TTL: "600" });
  assert.equal(kept.status, 201, kept.body);
  assert.equal(kept.headers.get("ttl"), "600");
  await online.register2(online.hash("c", "new"), online.hash("c", "i"));

  const faults = gateway.lines.filter((l) => l.json?.msg?.toString().startsWith("the store cannot write"));
  assert.equal(faults.length, 1, "one log line for the whole burst");
  assert.equal(faults[0]!.json!.level, 50);
  const healed = gateway.lines.find((l) => l.json?.msg === "the store writes again");
  assert.ok(healed, "the recovery is logged");
  assert.ok(Number(healed.json!.failures) >= 5);
});
