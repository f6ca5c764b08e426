// `up-gateway-admin doctor` against a real Prosody: a healthy setup, the
// usual mistakes, and a running gateway it must leave alone.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as createNetServer, type LookupFunction } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
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

/** Where the doctor may not say OK on a healthy setup: no gateway is running, and a CI disk may be small. */
const notOk = (lines: readonly string[]): string[] =>
  lines.filter((l) => !/^OK\s/.test(l) && !/^WARN\s+gateway\s+no gateway answers at /.test(l) && !/^WARN\s+disk space\s/.test(l));

test("a healthy setup with the gateway stopped: every check OK but the gateway line (WARN), exit 0", async (t) => {
  const { config } = await setup();
  const r = await admin(["--config", config, "doctor", "--stand-in"]);
  t.diagnostic(`\n${r.out}`);
  assert.equal(r.code, 0, r.out + r.err);
  const lines = r.out.trimEnd().split("\n");
  const checks = lines.slice(0, -2);
  assert.ok(checks.length >= 14, r.out);
  assert.deepEqual(notOk(checks), []);
  assert.match(line(r.out, "gateway"), /^WARN\s+gateway\s+no gateway answers at http:\/\/127\.0\.0\.1:\d+ \(\[http\] listen\): start it/);
  assert.match(line(r.out, "xmpp handshake"), /the XMPP server accepted the secret for up\.localhost/);
  assert.match(line(r.out, "xmpp route"), /a ping from up\.localhost to itself came back/);
  assert.match(line(r.out, "disco#items localhost"), /localhost lists up\.localhost/);
  assert.match(line(r.out, "public_url reachable"), /reaches the gateway \(404 with its JSON body\)/);
  assert.match(lines.at(-1)!, /^\d+ OK, [12] WARN$/);
  const json = JSON.parse((await admin(["--config", config, "doctor", "--json", "--stand-in"])).out);
  assert.ok(json.every((c: { level: string; name: string }) => c.level === "OK" || (c.level === "WARN" && (c.name === "gateway" || c.name === "disk space"))));
});

test("without --stand-in and with no gateway, public_url's check is SKIPped: nothing takes [http] listen", async () => {
  const { config } = await setup();
  const r = await admin(["--config", config, "doctor"]);
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(line(r.out, "public_url reachable"), /^SKIP\s+public_url reachable\s+no gateway runs to answer it: .*'doctor --stand-in'/);
});

/** Name, owner, group and mode of each entry: what a gateway of another user depends on. */
const listing = (d: string): string[] => readdirSync(d).sort().map((f) => {
  const st = statSync(join(d, f));
  return `${f} ${st.uid}:${st.gid} ${(st.mode & 0o7777).toString(8)}`;
});

test("doctor leaves the database directory as it found it (gateway stopped): no -wal or -shm behind, none of root's", async (t) => {
  const { config, db } = await setup();
  const sub = dirname(db);
  const root = process.geteuid?.() === 0;
  // As root, the directory is the gateway's user's as systemd makes it: a root-owned -shm would lock that user out.
  if (root) spawnSync("chown", ["-R", "65534:65534", sub]);
  const before = listing(sub);
  const r = await admin(["--config", config, "doctor", "--no-link"]);
  t.diagnostic(`\n${before.join("\n")}`);
  assert.match(line(r.out, "database schema"), /^OK/);
  assert.match(line(r.out, "database writable"), /^OK/, r.out);
  assert.deepEqual(listing(sub), before);
  if (root) spawnSync("chown", ["-R", "0:0", sub]);
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
  const root = process.geteuid?.() === 0;
  // As root every file is writable to access(): what counts is that the gateway's user
  // (the directory's owner) owns it. Without root, a read-only file is refused by access().
  if (root) spawnSync("chown", ["65534:65534", db]);
  else chmodSync(db, 0o444);
  try {
    const r = await admin(["--config", config, "doctor", "--no-link"]);
    t.diagnostic(`\n${line(r.out, "database writable")}`);
    assert.equal(r.code, 1);
    const file = db.replace(/[.]/g, "\\.");
    assert.match(line(r.out, "database writable"), root ? new RegExp(`^FAIL\\s+database writable\\s+${file} is owned by uid 65534, its directory by uid 0 \\(the gateway's user\\): the gateway answers 503`) : new RegExp(`^FAIL\\s+database writable\\s+${file} is not writable \\(EACCES\\)`));
    assert.match(line(r.out, "database schema"), /^OK/);
  } finally {
    if (root) spawnSync("chown", ["0:0", db]);
    else chmodSync(db, 0o644);
  }
});

test("as root: a file without u+w, a -shm of another user, and an immutable file each FAIL the writable check", { skip: process.geteuid?.() !== 0 && "needs root" }, async () => {
  const { config, db } = await setup();
  const writableLine = async () => line((await admin(["--config", config, "doctor", "--no-link"])).out, "database writable");
  chmodSync(db, 0o444);
  assert.match(await writableLine(), /^FAIL\s+database writable\s+\S+gateway\.db is not writable by its owner \(uid 0\): .*chmod u\+w/);
  chmodSync(db, 0o644);
  spawnSync("chown", ["-R", "65534:65534", dirname(db)]);
  writeFileSync(`${db}-shm`, ""); // root's, as a read-only connection run as root used to leave it
  try {
    assert.match(await writableLine(), /^FAIL\s+database writable\s+\S+gateway\.db-shm is owned by uid 0, its directory by uid 65534/);
  } finally {
    rmSync(`${db}-shm`, { force: true });
    spawnSync("chown", ["-R", "0:0", dirname(db)]);
  }
  if (spawnSync("chattr", ["+i", db]).status !== 0) return; // no chattr, or a file system without the flag
  try {
    assert.match(await writableLine(), /^FAIL\s+database writable\s+\S+gateway\.db is not writable \(EPERM\): .*chattr -i/);
  } finally {
    spawnSync("chattr", ["-i", db]);
  }
});

test("an http public_url on a public host is a WARN; the check still reaches the gateway through it", async () => {
  const port = await freePort();
  const { config } = await setup({ http: { listen: `127.0.0.1:${port}`, public_url: `http://up.example.org:${port}` } });
  // up.example.org resolves to loopback here: tests reach nothing else.
  const lookup = ((_host: string, opts: { all?: boolean }, cb: (...a: unknown[]) => void) =>
    opts.all ? cb(null, [{ address: "127.0.0.1", family: 4 }]) : cb(null, "127.0.0.1", 4)) as unknown as LookupFunction;
  const checks = await doctor(config, { env: {}, lookup, standIn: true, disk: { failBelow: 0, warnBelow: 0 } });
  const get = (name: string) => checks.find((c) => c.name === name)!;
  assert.equal(get("public_url").level, "WARN");
  assert.match(get("public_url").message, /plain http on a public host: .*TLS reverse proxy/);
  assert.equal(get("public_url reachable").level, "OK", get("public_url reachable").message);
  assert.deepEqual(checks.filter((c) => c.level !== "OK").map((c) => c.name).sort(), ["gateway", "public_url"]); // no gateway runs: WARN
});

test("a registration_ttl inside the 24 h renewal window fails with the reason and the fix", async (t) => {
  const { config } = await setup({ push: { registration_ttl: 43_200 } });
  const r = await admin(["--config", config, "doctor"]);
  t.diagnostic(`\n${line(r.out, "config")}`);
  assert.equal(r.code, 78);
  // the config itself refuses a lifetime under 2 days, so the doctor says so on its config line, naming the key and the reason
  assert.match(line(r.out, "config"), /^FAIL\s+config\s+config: push\.registration_ttl: must be at least 172800 \(2 days\), got 43200: Conversations renews a registration hourly/);
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

test("a gateway that runs without its component link is a FAIL; the doctor only handshakes and SKIPs route and disco (no ping or disco#items on the component meanwhile)", async (t) => {
  // A wrong secret keeps the gateway's link down; the doctor gets the right one from the environment.
  const gateway = await startGateway(prosody, { xmpp: { secret: "not-the-secret", allowed_domains: ["localhost"] } });
  try {
    await gateway.waitUnhealthy(15_000);
    const r = await admin(["--config", gateway.configPath, "doctor"], { UP_GATEWAY_XMPP_SECRET: prosody.components[0]!.secret });
    t.diagnostic(`\n${r.out}`);
    assert.equal(r.code, 1);
    assert.match(line(r.out, "gateway"), /^FAIL\s+gateway\s+the gateway runs but its component link is down: see xmpp handshake below and its log$/);
    assert.match(line(r.out, "xmpp handshake"), /^OK\s+xmpp handshake\s+the XMPP server accepted the secret for up\.localhost/);
    assert.match(line(r.out, "xmpp route"), /^SKIP\s+xmpp route\s+not asked beside a running gateway/);
    assert.match(line(r.out, "disco#items localhost"), /^SKIP/);
  } finally {
    await gateway.cleanup();
  }
});

test("whatever answers /healthz with the gateway's JSON counts by its body (503 while its store cannot write); anything else on [http] listen means no handshake", async () => {
  const { config, port } = await setup();
  const env = {};
  // A gateway online but answering 503 (its store cannot write): online, so no second handshake.
  const busy = createServer((_req, res) => res.writeHead(503, { "content-type": "application/json" }).end(JSON.stringify({ xmpp: "online" })));
  await new Promise<void>((r) => busy.listen(port, "127.0.0.1", r));
  try {
    const checks = await doctor(config, { env });
    const get = (name: string) => checks.find((c) => c.name === name)!;
    assert.equal(get("gateway").level, "OK", get("gateway").message);
    assert.match(get("xmpp handshake").message, /^the running gateway is online as up\.localhost \(its \/healthz\)/);
  } finally {
    await new Promise((r) => busy.close(r));
  }
  // Something that accepts connections and never answers in time: a gateway may be running.
  const silent = createNetServer(() => {});
  await new Promise<void>((r) => silent.listen(port, "127.0.0.1", r));
  try {
    const checks = await doctor(config, { env });
    const get = (name: string) => checks.find((c) => c.name === name)!;
    assert.equal(get("gateway").level, "WARN");
    assert.match(get("gateway").message, /did not answer as a gateway \(no answer within 5000 ms\): a gateway may be running, so the doctor makes no handshake/);
    assert.equal(get("xmpp handshake").level, "SKIP");
    assert.equal(get("xmpp route").level, "SKIP");
  } finally {
    silent.close();
  }
});
