// Dialect 1 leans on the XMPP server's offline storage; what the server
// bounces back must not vanish silently.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { startProsody, type Prosody } from "../harness/prosody.ts";
import { startGateway, type Gateway } from "../harness/gateway.ts";
import { connectDistributor } from "../harness/distributor.ts";
import { waitFor } from "../harness/wait-for.ts";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { start } from "../../src/app.ts";
import { parseConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log.ts";
import { gatewayConfig } from "../harness/gateway-config.ts";
import { freePort } from "../harness/ports.ts";
import { GRACE_MS } from "../../src/bounce/run.ts";

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

/** Ages the run of bounces of a dialect-1 registration as if it began `days` ago. */
function ageBounceRun(endpoint: string, days: number): number {
  const db = new Database(join(gateway.dir, "gateway.db"));
  try {
    return db.prepare("UPDATE registrations SET bounce_since = ? WHERE endpoint = ? AND bounce_since IS NOT NULL").run(Date.now() - days * 86_400_000, endpoint.split("/up/")[1]).changes;
  } finally {
    db.close();
  }
}

test("a user deleted from the server: one bounce does not revoke, a run of 7 days of bounces does, and only that registration", async () => {
  const gone = await connectDistributor(prosody, { username: "leaver", resource: "phone" });
  const goneEndpoint = await gone.endpoint1("tok-gone");
  await gone.stop();
  const stays = await connectDistributor(prosody, { username: "stayer", resource: "phone" });
  const staysEndpoint = await stays.endpoint1("tok-stays");

  await promisify(execFile)("/usr/bin/prosodyctl", ["--config", join(prosody.dir, "prosody.cfg.lua"), "deluser", `leaver@${prosody.domain}`]);
  assert.equal(await post(goneEndpoint, "into the void"), 201); // no acknowledgement in this dialect: the bounce comes later
  const bounce = await gateway.waitForLog((r) => r.msg === "notification bounced by the XMPP server");
  assert.equal(bounce.payload, undefined);
  const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
  assert.match(metrics, /^up_gateway_bounces_total\{condition="service-unavailable"\} [1-9]/m, "the bounce is counted in /metrics");
  await waitFor(() => ageBounceRun(goneEndpoint, 6) === 1, 5_000, "the run of bounces to be stored");
  assert.equal(await post(goneEndpoint, "six days of bounces"), 201, "not yet revoked");
  const bounces = (): number => gateway.lines.filter((l) => l.json?.msg === "notification bounced by the XMPP server").length;
  await waitFor(() => bounces() >= 2, 5_000, "the second bounce");
  assert.equal(await post(goneEndpoint, "still not revoked"), 201, "six days of bounces keep the endpoint");
  await waitFor(() => bounces() >= 3, 5_000, "the third bounce");

  assert.equal(ageBounceRun(goneEndpoint, 8), 1, "the run of bounces goes on");
  assert.equal(await post(goneEndpoint, "eight days of bounces"), 201);
  await waitFor(async () => (await post(goneEndpoint, "again")) === 404, 5_000, "the registration to be revoked after 7 days of bounces");
  await gateway.waitForLog((r) => r.msg === "every notification bounced for 7 days: endpoint revoked");

  assert.equal(await post(staysEndpoint, "still here"), 201);
  await stays.waitForMessage((x) => x.getChildText("body") === "still here");
  await stays.stop();
});

test("on a server without offline storage an offline user's bounces keep the endpoint, and the user gets the next notification once online", async () => {
  const bare = await startProsody({ withoutModules: ["offline"] });
  const g = await startGateway(bare);
  try {
    await g.waitHealthy();
    const d = await connectDistributor(bare, { username: "offline1", resource: "phone" });
    const endpoint = await d.endpoint1("tok-offline");
    await d.stop();
    for (let i = 0; i < 3; i++) assert.equal(await post(endpoint, `lost ${i}`), 201);
    await g.waitForLog((r) => r.msg === "notification bounced by the XMPP server" && r.condition === "service-unavailable");
    await waitFor(
      () => g.lines.filter((l) => l.json?.msg === "notification bounced by the XMPP server").length >= 3,
      5_000,
      "three bounces",
    );
    assert.equal(await post(endpoint, "still a live endpoint"), 201, "service-unavailable for an offline user never revokes at once");
    await d.reconnect();
    assert.equal(await post(endpoint, "you are back"), 201);
    const m = await d.waitForMessage((x) => x.getChildText("body") === "you are back");
    assert.equal(m.getChildText("subject"), "tok-offline");
    assert.equal(g.lines.some((l) => l.json?.msg === "every notification bounced for 7 days: endpoint revoked"), false);
    await d.stop();
  } finally {
    await g.cleanup();
    await bare.stop();
  }
});

test("a delivery between bounces ends the run, across a restart: bounce day 0, delivered day 3, restart, bounces day 8 keep the endpoint", async () => {
  // In process, with a clock moved on by days (the gateway reads time only through `now`).
  const xmpp = await startProsody({ withoutModules: ["offline"] });
  const dir = await mkdtemp(join(tmpdir(), "up-gateway-run-"));
  const component = xmpp.components[0]!;
  const layout = { dir, componentPort: xmpp.componentPort, domain: component.domain, secret: component.secret, httpPort: await freePort() };
  const config = parseConfig(gatewayConfig(layout) as never);
  let offset = 0;
  const now = (): number => Date.now() + offset;
  const boot = async (): Promise<Awaited<ReturnType<typeof start>>> => {
    const g = await start(config, createLogger("silent"), { now });
    await waitFor(async () => (await fetch(`http://127.0.0.1:${layout.httpPort}/healthz`)).status === 200, 10_000, "the gateway to be healthy");
    return g;
  };
  let g = await boot();
  try {
    const since = (): number | null => {
      const db = new Database(join(dir, "gateway.db"), { readonly: true });
      try {
        return (db.prepare("SELECT bounce_since FROM registrations WHERE endpoint = ?").get(endpoint.split("/up/")[1]) as { bounce_since: number | null }).bounce_since;
      } finally {
        db.close();
      }
    };
    const d = await connectDistributor(xmpp, { username: "runner", resource: "phone" });
    const endpoint = await d.endpoint1("tok-run");
    const other = await d.endpoint1("tok-other"); // a second app on the same device, never notified
    await d.stop();
    assert.equal(await post(endpoint, "day 0, bounced"), 201);
    await waitFor(() => since() !== null, 5_000, "the run to start");
    const day0 = since()!;

    offset += 3 * 86_400_000;
    await d.reconnect();
    assert.equal(await post(endpoint, "day 3, delivered"), 201);
    await d.waitForMessage((m) => m.getChildText("body") === "day 3, delivered");
    offset += GRACE_MS + 1000; // past the grace without a bounce
    await g.stop(); // the sweep at stop writes what the grace proved
    assert.equal(since(), null, "the end of the run is stored, not only remembered");

    g = await boot();
    offset += 5 * 86_400_000;
    await d.stop();
    assert.equal(await post(endpoint, "day 8, bounced"), 201);
    await waitFor(() => since() !== null, 5_000, "a new run to start");
    assert.ok(since()! > day0 + 7 * 86_400_000, "the run starts on day 8, not day 0");
    assert.equal(await post(endpoint, "day 8, again"), 201, "not revoked");
    const otherSince = new Database(join(dir, "gateway.db"), { readonly: true });
    try {
      const row = otherSince.prepare("SELECT bounce_since FROM registrations WHERE endpoint = ?").get(other.split("/up/")[1]) as { bounce_since: number | null };
      assert.equal(row.bounce_since, null, "Prosody's bounces (id kept, no <subject>) never start a run for the other app");
    } finally {
      otherSince.close();
    }
  } finally {
    await g.stop().catch(() => undefined);
    await xmpp.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
