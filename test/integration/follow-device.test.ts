// Following the device (PROTOCOL.md) against a real Prosody and the gateway as
// a real process: a registration belongs to account + application + instance,
// and its pushes find the device when it comes back under a new resource
// without re-registering, as Conversations does. Distributors answer
// item-not-found for apps they do not know, as Conversations does.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { startProsody, type Prosody } from "../harness/prosody.ts";
import { startGateway, type Gateway } from "../harness/gateway.ts";
import { connectDistributor, type Distributor } from "../harness/distributor.ts";
import { waitFor } from "../harness/wait-for.ts";

let prosody: Prosody;
let gateway: Gateway;

before(async () => {
  prosody = await startProsody();
  gateway = await startGateway(prosody, { push: { queue_sweep_interval: 1, timeout: 3 } });
  await gateway.waitHealthy();
});
after(async () => {
  await gateway?.cleanup();
  await prosody?.stop();
});

async function post(endpoint: string, body: string, ttl: number): Promise<Response> {
  const res = await fetch(endpoint, { method: "POST", body, headers: { TTL: String(ttl) } });
  await res.arrayBuffer();
  return res;
}

/** The full JID the gateway has stored for an endpoint. */
function storedJid(endpoint: string): string | undefined {
  const db = new Database(join(gateway.dir, "gateway.db"), { readonly: true });
  try {
    const row = db.prepare("SELECT jid FROM registrations WHERE endpoint = ?").get(endpoint.split("/up/")[1]) as { jid: string } | undefined;
    return row?.jid;
  } finally {
    db.close();
  }
}

async function phone(username: string, resource: string, presence = true): Promise<{ d: Distributor; endpoint: string }> {
  const d = await connectDistributor(prosody, { username, resource, knownAppsOnly: true });
  const { endpoint } = await d.register2(d.hash(`${username}-${resource}-uuid`, "org.example.chat"), d.hash(`${username}-${resource}-uuid`, "instance"));
  if (presence) await d.sendPresence();
  return { d, endpoint };
}

const bodies = (d: Distributor): string[] => d.pushes.map((p) => p.payload.toString());

test("a device back under a new resource without re-registering gets the next POST, and its registration moves there", async () => {
  const { d, endpoint } = await phone("nomad", "Conversations.old");
  await d.reconnect("Conversations.new"); // bind conflict or reinstall: no re-registration (it expires in 7 days)
  await d.sendPresence();
  const res = await post(endpoint, "found you", 0);
  assert.equal(res.status, 201);
  assert.equal(res.headers.get("ttl"), "0", "delivered, not queued");
  assert.deepEqual(bodies(d), ["found you"]);
  assert.ok(d.pushes[0]!.stanza.attrs.to!.endsWith("/Conversations.new"));
  assert.equal(storedJid(endpoint), d.jid, "the registration's JID moved");
  assert.equal((await post(endpoint, "and again", 0)).status, 201);
  assert.deepEqual(bodies(d), ["found you", "and again"]);
  assert.deepEqual(d.refused, []);
  await d.stop();
});

test("without an unavailable presence for the old resource, its service-unavailable answer sends the push to the new one", async () => {
  // No directed presence from the first session, so the gateway hears nothing when it ends.
  const { d, endpoint } = await phone("silent", "first", false);
  await d.reconnect("second");
  await d.sendPresence();
  const res = await post(endpoint, "via the new resource", 0);
  assert.equal(res.status, 201);
  assert.deepEqual(bodies(d), ["via the new resource"]);
  assert.equal(storedJid(endpoint), d.jid);
  await d.stop();
});

test("two devices of one account, one away: its endpoint survives, its queued message reaches it when it is back, the other device never gets it", async () => {
  const a = await phone("twin", "phone");
  const b = await phone("twin", "tablet");
  await a.d.stop(); // unavailable presence from twin@localhost/phone
  await waitFor(async () => (await post(b.endpoint, "for the tablet", 0)).status === 201, 5_000, "the tablet's push");

  const queued = await post(a.endpoint, "for the phone 1", 600);
  assert.equal(queued.status, 201);
  assert.equal(queued.headers.get("ttl"), "600", "kept for the phone, not delivered elsewhere");
  await waitFor(() => b.d.refused.length >= 1, 5_000, "the tablet to be asked and say item-not-found");
  assert.equal((await post(a.endpoint, "for the phone 2", 600)).status, 201, "the endpoint survives the other device's item-not-found");
  await sleep(2500); // a few queue retries (queue_sweep_interval 1 s) while the phone is away
  assert.equal(b.d.refused.length, 1, "the tablet is not asked again in its session");
  assert.deepEqual(bodies(b.d), ["for the tablet"], "the tablet's app never gets the phone's messages");
  assert.equal(storedJid(a.endpoint), `twin@${prosody.domain}/phone`);

  await a.d.reconnect("phone.reinstalled"); // back under a new resource, again without re-registering
  await a.d.sendPresence();
  await waitFor(() => a.d.pushes.length >= 2, 10_000, "the phone's queued messages");
  await sleep(300); // a duplicate would show up by now
  assert.deepEqual(bodies(a.d), ["for the phone 1", "for the phone 2"]);
  assert.equal(storedJid(a.endpoint), a.d.jid);
  assert.equal(storedJid(b.endpoint), b.d.jid, "the tablet keeps its own registration");
  assert.deepEqual(bodies(b.d), ["for the tablet"]);
  assert.equal((await post(b.endpoint, "tablet still", 0)).status, 201);
  assert.deepEqual(a.d.refused.length, 0);
  await a.d.stop();
  await b.d.stop();
});

test("own JID known offline and a silent second resource: the POST is answered within answer_within + 0.5 s, stored, and reaches the device when it is back", async () => {
  const a = await phone("hush", "phone");
  const silent = await connectDistributor(prosody, { username: "hush", resource: "desktop" });
  silent.pushAnswer = "ignore"; // a half-dead session: it never answers
  await silent.sendPresence();
  await a.d.stop(); // unavailable presence: the own JID is known offline
  await sleep(200);
  for (const body of ["first", "second"]) {
    const started = performance.now();
    const res = await post(a.endpoint, body, 600);
    const ms = performance.now() - started;
    assert.equal(res.status, 201);
    assert.equal(res.headers.get("ttl"), "600", "stored, not lost");
    assert.ok(ms < 2000 + 500, `answered in ${Math.round(ms)} ms`);
  }
  await waitFor(() => silent.pushes.length >= 1, 5_000, "the silent resource to be asked");
  await sleep(2500); // the flusher retries meanwhile; the silent one is not asked again until its next presence
  assert.equal(silent.pushes.length, 1, "asked once, not on every POST and retry");
  await a.d.reconnect("phone");
  await a.d.sendPresence();
  await waitFor(() => a.d.pushes.length >= 2, 10_000, "the stored messages");
  await sleep(300);
  assert.deepEqual(bodies(a.d), ["first", "second"]);
  await a.d.stop();
  await silent.stop();
});
