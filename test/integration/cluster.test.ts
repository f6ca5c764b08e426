// Two gateways on one PostgreSQL database and one Prosody (which takes one
// component connection): exactly one holds the link, both answer HTTP with
// the same answers, and a push through the standby reaches the phone.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startProsody, type Prosody } from "../harness/prosody.ts";
import { startGateway, type Gateway } from "../harness/gateway.ts";
import { startPostgres, type Postgres } from "../harness/postgres.ts";
import { connectDistributor, type Distributor } from "../harness/distributor.ts";
import { waitFor } from "../harness/wait-for.ts";

let prosody: Prosody;
let pg: Postgres;
let gateways: Gateway[] = [];
let dist: Distributor;

const health = async (g: Gateway): Promise<{ status: number; body: { link_holder: boolean; xmpp: string; store: string } }> => {
  const res = await fetch(`${g.url}/healthz`);
  return { status: res.status, body: (await res.json()) as { link_holder: boolean; xmpp: string; store: string } };
};

before(async () => {
  [prosody, pg] = await Promise.all([startProsody(), startPostgres()]);
  const url = await pg.createSchema();
  // Both at once on an empty database: migrations under the advisory lock.
  gateways = await Promise.all([0, 1].map(() => startGateway(prosody, { database: { path: undefined, url }, push: { queue_sweep_interval: 1 } })));
  await Promise.all(gateways.map((g) => g.waitHealthy(30_000))); // two cold starts at once on a loaded machine
  dist = await connectDistributor(prosody, { username: "cluster1", resource: "phone" });
});
after(async () => {
  await dist?.stop();
  for (const g of gateways) await g.cleanup();
  await prosody?.stop();
  await pg?.stop();
});

test("exactly one gateway holds the link; both answer /healthz 200 and say which they are", async () => {
  const h = await waitFor(async () => {
    const hs = await Promise.all(gateways.map(health));
    return hs.filter((x) => x.body.link_holder && x.body.xmpp === "online").length === 1 ? hs : undefined;
  }, 15_000, "one link holder online");
  assert.deepEqual(h.map((x) => x.status), [200, 200]);
  assert.equal(h.filter((x) => x.body.link_holder).length, 1);
});

test("a push POSTed to either gateway reaches the phone; a revoke through one is 404 on the other", async () => {
  const { endpoint } = await dist.register2(dist.hash("uuid", "org.example.cluster"), dist.hash("uuid", "i"));
  await dist.sendPresence();
  const path = new URL(endpoint).pathname;
  for (const [i, g] of gateways.entries()) {
    const res = await fetch(`${g.url}${path}`, { method: "POST", body: `via-${i}`, headers: { TTL: "60" } });
    assert.equal(res.status, 201, `gateway ${i}`);
    await dist.waitForPush((p) => p.payload.toString() === `via-${i}`, 10_000);
  }
  // unregister is dialect 1 only; revoke the dialect-2 endpoint the way a phone does: item-not-found
  dist.pushAnswer = "item-not-found";
  const holder = (await Promise.all(gateways.map(health))).findIndex((x) => x.body.link_holder);
  const res = await fetch(`${gateways[holder]!.url}${path}`, { method: "POST", body: "gone", headers: { TTL: "60" } });
  assert.equal(res.status, 404);
  const other = gateways[1 - holder]!;
  await waitFor(async () => (await fetch(`${other.url}${path}`, { method: "POST", body: "x", headers: { TTL: "60" } })).status === 404, 1_000, "the other gateway to see the revocation within 1 s");
});
