// `up-gateway-admin doctor` against a real Prosody: a healthy setup, the
// usual mistakes, and a running gateway it must leave alone.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { LookupFunction } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { doctor } from "../../src/admin/doctor/index.ts";
import { openDb } from "../../src/store/db.ts";
import { probeComponent } from "../../src/xmpp/probe.ts";
import { admin } from "../harness/admin-cli.ts";
import { connectDistributor } from "../harness/distributor.ts";
import { startGateway } from "../harness/gateway.ts";
import { gatewayConfig } from "../harness/gateway-config.ts";
import { freePort } from "../harness/ports.ts";
import { startProsody, type Prosody } from "../harness/prosody.ts";
import { toToml } from "../harness/toml.ts";

let prosody: Prosody;
let dir: string;

before(async () => {
  prosody = await startProsody();
  dir = mkdtempSync(join(tmpdir(), "up-doctor-"));
});
after(async () => {
  await prosody?.stop();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
/** A config for the first component of `p`, with a database the gateway would have created. */
async function setup(overrides: Record<string, Record<string, unknown>> = {}, p = prosody): Promise<{ config: string; db: string; port: number }> {
  const sub = join(dir, String(++n));
  const port = await freePort();
  const c = p.components[0]!;
  const doc = gatewayConfig({ dir: sub, componentPort: p.componentPort, domain: c.domain, secret: c.secret, httpPort: port }, { xmpp: { allowed_domains: ["localhost"] }, ...overrides });
  spawnSync("mkdir", ["-p", sub]);
  const config = join(sub, "gateway.toml");
  writeFileSync(config, toToml(doc));
  const db = join(sub, "gateway.db");
  openDb(db).close();
  return { config, db, port };
}

const line = (out: string, name: string): string => out.split("\n").find((l) => new RegExp(`^\\S+\\s+${name.replace(/[#/]/g, "\\$&")}\\s`).test(l)) ?? `(no line for ${name})\n${out}`;

test("a healthy setup: every check OK, exit 0", async (t) => {
  const { config } = await setup();
  const r = await admin(["--config", config, "doctor"]);
  t.diagnostic(`\n${r.out}`);
  assert.equal(r.code, 0, r.out + r.err);
  const lines = r.out.trimEnd().split("\n");
  const checks = lines.slice(0, -2);
  assert.ok(checks.length >= 14, r.out);
  for (const l of checks) assert.match(l, /^OK\s/, l);
  assert.match(line(r.out, "xmpp handshake"), /the XMPP server accepted the secret for up\.localhost/);
  assert.match(line(r.out, "xmpp route"), /a ping from up\.localhost to itself came back/);
  assert.match(line(r.out, "disco#items localhost"), /localhost lists up\.localhost/);
  assert.match(line(r.out, "public_url reachable"), /reaches the gateway \(404 with its JSON body\)/);
  assert.match(lines.at(-1)!, /^\d+ OK$/);
  const json = JSON.parse((await admin(["--config", config, "doctor", "--json"])).out);
  assert.ok(json.every((c: { level: string }) => c.level === "OK"));
});

test("a wrong secret is named as such, with where to compare it", async (t) => {
  const { config } = await setup({ xmpp: { secret: "not-the-secret" } });
  const r = await admin(["--config", config, "doctor"]);
  t.diagnostic(`\n${r.out}`);
  assert.equal(r.code, 1);
  assert.match(line(r.out, "xmpp handshake"), /^FAIL\s+xmpp handshake\s+the XMPP server refused the secret: compare \[xmpp\] secret with component_secret of the Component block/);
});

test("the secret from UP_GATEWAY_XMPP_SECRET counts, as for the gateway", async () => {
  const { config } = await setup({ xmpp: { secret: "not-the-secret" } });
  const r = await admin(["--config", config, "doctor"], { UP_GATEWAY_XMPP_SECRET: prosody.components[0]!.secret });
  assert.match(line(r.out, "xmpp handshake"), /^OK/);
});

test("--no-link makes no handshake: the link checks are SKIPped", async () => {
  const { config } = await setup({ xmpp: { secret: "not-the-secret" } });
  const r = await admin(["--config", config, "doctor", "--no-link"]);
  assert.equal(r.code, 0, r.out);
  assert.match(line(r.out, "xmpp handshake"), /^SKIP\s+xmpp handshake\s+not tried \(--no-link\)/);
  assert.match(line(r.out, "xmpp port"), /^OK/);
});

test("a stopped XMPP server: the component port does not answer", async (t) => {
  const own = await startProsody();
  try {
    const { config } = await setup({}, own);
    await own.halt();
    const r = await admin(["--config", config, "doctor"]);
    t.diagnostic(`\n${r.out}`);
    assert.equal(r.code, 1);
    assert.match(line(r.out, "xmpp port"), /^FAIL\s+xmpp port\s+nothing answers at 127\.0\.0\.1:\d+ \(ECONNREFUSED\): start the XMPP server/);
  } finally {
    await own.stop();
  }
});

test("an unwritable database fails the writable check", async (t) => {
  const { config, db } = await setup();
  // As root chmod does not stop a write; the immutable flag does. Elsewhere chmod does.
  const immutable = spawnSync("chattr", ["+i", db]).status === 0;
  if (!immutable) chmodSync(db, 0o444);
  try {
    const r = await admin(["--config", config, "doctor"]);
    t.diagnostic(`\n${r.out}`);
    assert.equal(r.code, 1);
    assert.match(line(r.out, "database writable"), new RegExp(`^FAIL\\s+database writable\\s+${db.replace(/[.]/g, "\\.")} is not writable \\((EPERM|EACCES)\\)`));
    assert.match(line(r.out, "database schema"), /^OK/);
  } finally {
    if (immutable) spawnSync("chattr", ["-i", db]);
    else chmodSync(db, 0o644);
  }
});

test("an http public_url on a public host is a WARN; the check still reaches the gateway through it", async () => {
  const port = await freePort();
  const { config } = await setup({ http: { listen: `127.0.0.1:${port}`, public_url: `http://up.example.org:${port}` } });
  // up.example.org resolves to loopback here: tests reach nothing else.
  const lookup = ((_host: string, opts: { all?: boolean }, cb: (...a: unknown[]) => void) =>
    opts.all ? cb(null, [{ address: "127.0.0.1", family: 4 }]) : cb(null, "127.0.0.1", 4)) as unknown as LookupFunction;
  const checks = await doctor(config, { env: {}, lookup });
  const get = (name: string) => checks.find((c) => c.name === name)!;
  assert.equal(get("public_url").level, "WARN");
  assert.match(get("public_url").message, /plain http on a public host: .*TLS reverse proxy/);
  assert.equal(get("public_url reachable").level, "OK", get("public_url reachable").message);
  assert.equal(checks.filter((c) => c.level !== "OK").length, 1);
});

test("a registration_ttl inside the 24 h renewal window fails with the reason and the fix", async (t) => {
  const { config } = await setup({ push: { registration_ttl: 43_200 } });
  const r = await admin(["--config", config, "doctor"]);
  t.diagnostic(`\n${line(r.out, "registration_ttl")}`);
  assert.equal(r.code, 1);
  assert.match(line(r.out, "registration_ttl"), /^FAIL\s+registration_ttl\s+43200 s is inside Conversations' 24 h renewal window: .*set \[push\] registration_ttl well above 86400/);
});

test("a config error is the one FAIL, nothing else is tried, and the exit status is 78 as for every command", async () => {
  const bad = join(dir, "bad.toml");
  writeFileSync(bad, "[http]\nlisten = 'nowhere'\n");
  const r = await admin(["--config", bad, "doctor"]);
  assert.equal(r.code, 78);
  assert.match(r.out, /^FAIL\s+config\s+config: /);
  assert.equal(r.out.trimEnd().split("\n").length, 3);
});

test("doctor beside a running gateway (kick_old) leaves it its link: pushes keep flowing during the run", async (t) => {
  const kick = await startProsody({ components: [{ domain: "up.localhost", secret: "kick-old-secret", extra: '  component_conflict_resolve = "kick_old"' }] });
  const gateway = await startGateway(kick, { xmpp: { allowed_domains: ["localhost"] } });
  const phone = await connectDistributor(kick, { username: "dora" });
  try {
    await gateway.waitHealthy(15_000);
    const { endpoint } = await phone.register2(phone.hash("d", "app"), phone.hash("d", "1"));
    let pushing = true;
    const statuses: string[] = [];
    const loop = (async () => {
      for (let i = 0; pushing; i++) {
        const res = await fetch(endpoint, { method: "POST", body: `during-${i}`, headers: { ttl: "0" } });
        statuses.push(`${res.status}/${res.headers.get("ttl")}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const r = await admin(["--config", gateway.configPath, "doctor"]);
    pushing = false;
    await loop;
    t.diagnostic(`\n${r.out}`);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(line(r.out, "gateway"), /a gateway answers at http:\/\/127\.0\.0\.1:\d+ \(\[http\] listen\), component link online/);
    assert.match(line(r.out, "xmpp handshake"), /^OK\s+xmpp handshake\s+the running gateway is online as up\.localhost \(its \/healthz\): the server accepted the secret; not repeated/);
    assert.match(line(r.out, "disco#items localhost"), /^SKIP/);
    assert.match(line(r.out, "public_url reachable"), /^OK/);
    assert.ok(statuses.length >= 3, `pushes during the run: ${statuses.length}`);
    assert.deepEqual(new Set(statuses), new Set(["201/0"]));
    for (let i = 0; i < statuses.length; i++) await phone.waitForPush((p) => p.payload.toString() === `during-${i}`);
    assert.equal(gateway.lines.filter((l) => l.json?.msg === "component link lost").length, 0);
    assert.equal(await gateway.health(), 200);
    // The premise: on this server a second handshake, which the doctor skipped, takes the link away.
    const probe = await probeComponent({ service: `xmpp://127.0.0.1:${kick.componentPort}`, domain: "up.localhost", secret: "kick-old-secret" }, 5000);
    assert.equal(probe.kind, "online");
    await gateway.waitForLog((l) => l.msg === "component link lost");
    if (probe.kind === "online") await probe.close();
  } finally {
    await phone.stop();
    await gateway.cleanup();
    await kick.stop();
  }
});
