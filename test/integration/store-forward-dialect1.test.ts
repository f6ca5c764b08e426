// Dialect 1 leans on the XMPP server's offline storage; what the server
// bounces back must not vanish silently.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { startProsody, type Prosody } from "../harness/prosody.ts";
import { startGateway, type Gateway } from "../harness/gateway.ts";
import { connectDistributor } from "../harness/distributor.ts";
import { waitFor } from "../harness/wait-for.ts";

let prosody: Prosody;
let gateway: Gateway;

before(async () => {
  prosody = await startProsody();
  gateway = await startGateway(prosody);
  await gateway.waitHealthy();
});
after(async () => {
  await gateway?.cleanup();
  await prosody?.stop();
});

async function post(endpoint: string, body: string): Promise<number> {
  const res = await fetch(endpoint, { method: "POST", body });
  await res.arrayBuffer();
  return res.status;
}

test("a notification for an offline user is kept by the server's offline storage and arrives on login", async () => {
  const dist = await connectDistributor(prosody, { username: "away1", resource: "phone" });
  const endpoint = await dist.endpoint1("public-token-1");
  await dist.stop();
  assert.equal(await post(endpoint, "while you were out"), 201);
  await dist.reconnect();
  const m = await dist.waitForMessage((x) => x.getChildText("body") === "while you were out");
  assert.equal(m.getChildText("subject"), "public-token-1");
  await dist.stop();
});

test("a notification bounced because the user no longer exists revokes that registration only", async () => {
  const gone = await connectDistributor(prosody, { username: "leaver", resource: "phone" });
  const goneEndpoint = await gone.endpoint1("tok-gone");
  await gone.stop();
  const stays = await connectDistributor(prosody, { username: "stayer", resource: "phone" });
  const staysEndpoint = await stays.endpoint1("tok-stays");

  await promisify(execFile)("/usr/bin/prosodyctl", ["--config", join(prosody.dir, "prosody.cfg.lua"), "deluser", `leaver@${prosody.domain}`]);
  assert.equal(await post(goneEndpoint, "into the void"), 201); // no acknowledgement in this dialect: the bounce comes later
  const bounce = await gateway.waitForLog((r) => r.msg === "notification bounced by the XMPP server");
  assert.equal(bounce.payload, undefined);
  await waitFor(async () => (await post(goneEndpoint, "again")) === 404, 5_000, "the bounced registration to be revoked");
  const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
  assert.match(metrics, /^up_gateway_bounces_total\{condition="service-unavailable"\} [1-9]/m, "the bounce is counted in /metrics");

  assert.equal(await post(staysEndpoint, "still here"), 201);
  await stays.waitForMessage((x) => x.getChildText("body") === "still here");
  await stays.stop();
});
