// The admin CLI as the operator runs it: a separate process on the gateway's
// own config and database, while the gateway is running.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, test } from "node:test";
import { connectDistributor, type Distributor } from "../harness/distributor.ts";
import { startGateway, type Gateway } from "../harness/gateway.ts";
import { startProsody, type Prosody } from "../harness/prosody.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const run = promisify(execFile);

let prosody: Prosody;
let gateway: Gateway;
let erin: Distributor;
let frank: Distributor;
let e1: string; // erin, unifiedpush.org dialect
let e2: string; // erin, Conversations dialect
let f2: string; // frank, Conversations dialect

before(async () => {
  prosody = await startProsody();
  gateway = await startGateway(prosody);
  await gateway.waitHealthy(15_000);
  erin = await connectDistributor(prosody, { username: "erin" });
  frank = await connectDistributor(prosody, { username: "frank" });
  e1 = await erin.endpoint1("admin-app");
  e2 = (await erin.register2(erin.hash("e", "app"), erin.hash("e", "1"))).endpoint;
  f2 = (await frank.register2(frank.hash("f", "app"), frank.hash("f", "1"))).endpoint;
});
after(async () => {
  await erin?.stop();
  await frank?.stop();
  await gateway?.cleanup();
  await prosody?.stop();
});

/** Runs `up-gateway-admin ARGS` as its own process; resolves with exit code and output, never rejects. */
async function admin(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const env = { ...process.env, NODE_TEST_CONTEXT: undefined };
  try {
    const r = await run(process.execPath, ["--import", "tsx", "src/admin/main.ts", ...args], { cwd: ROOT, env });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

const tokenOf = (endpoint: string): string => endpoint.split("/up/")[1]!;

test("stats on the gateway's config counts what the distributors registered", async () => {
  const r = await admin("--config", gateway.configPath, "stats", "--json");
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out);
  assert.deepEqual(s.registrations, { unifiedpush: 1, conversations: 2, live: 3, expired: 0, expiringWithin24h: 0 });
  assert.equal(s.accounts, 2);
  const table = await admin("--config", gateway.configPath, "stats");
  assert.match(table.out, /^live registrations\s+3$/m);
});

test("list prints a table with shortened endpoints; --jid narrows it to one account", async () => {
  const r = await admin("--config", gateway.configPath, "list");
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trimEnd().split("\n");
  assert.match(lines[0]!, /^ENDPOINT\s+DIALECT\s+JID/);
  assert.equal(lines.length, 4);
  for (const e of [e1, e2, f2]) {
    assert.ok(!r.out.includes(tokenOf(e)), "no whole endpoint token in a listing");
    assert.ok(r.out.includes(`${tokenOf(e).slice(0, 8)}…`));
  }
  const erins = JSON.parse((await admin("--config", gateway.configPath, "list", "--jid", "erin@localhost", "--json")).out);
  assert.deepEqual(erins.map((x: { dialect: string }) => x.dialect).sort(), ["conversations", "unifiedpush"]);
});

test("show gives one registration in full, with its endpoint URL", async () => {
  const r = await admin("--config", gateway.configPath, "show", `${tokenOf(e2).slice(0, 8)}…`, "--json");
  assert.equal(r.code, 0, r.err);
  const v = JSON.parse(r.out);
  assert.equal(v.endpoint, e2);
  assert.equal(v.account, "erin@localhost");
  assert.equal(v.application, erin.hash("e", "app"));
});

test("revoke by endpoint takes effect on the running gateway at once: the endpoint answers 404", async () => {
  assert.equal((await fetch(f2, { method: "POST", body: "before" })).status, 201);
  const r = await admin("--config", gateway.configPath, "revoke", f2);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^revoked \S+… \(frank@localhost\//);
  assert.equal((await fetch(f2, { method: "POST", body: "after" })).status, 404);
});

test("revoke --jid removes every registration of the account", async () => {
  const r = await admin("--config", gateway.configPath, "revoke", "--jid", "erin@localhost", "--json");
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(JSON.parse(r.out), { revoked: 2, account: "erin@localhost" });
  for (const e of [e1, e2]) assert.equal((await fetch(e, { method: "POST", body: "x" })).status, 404);
});

test("purge-expired through npm run admin", async () => {
  const r = await run("npm", ["run", "-s", "admin", "--", "--config", gateway.configPath, "purge-expired"], { cwd: ROOT, env: { ...process.env, NODE_TEST_CONTEXT: undefined } });
  assert.equal(r.stdout.trim(), "purged 0 expired registration(s)");
});

test("an unknown registration, a missing database and a wrong command each fail with a clear message", async () => {
  let r = await admin("--config", gateway.configPath, "show", tokenOf(f2));
  assert.equal(r.code, 1);
  assert.match(r.err, /no registration with endpoint/);
  r = await admin("--config", gateway.configPath, "revoke", "--jid", "nobody@localhost");
  assert.equal(r.code, 1);
  assert.match(r.err, /no registrations for nobody@localhost/);
  const missing = join(gateway.dir, "not-there.db");
  r = await admin("--database", missing, "stats");
  assert.equal(r.code, 1);
  assert.match(r.err, new RegExp(`no database at ${missing.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
  r = await admin("--config", gateway.configPath, "stat");
  assert.equal(r.code, 2);
  assert.match(r.err, /unknown command "stat"[\s\S]*usage: up-gateway-admin/);
  r = await admin("--config", join(gateway.dir, "nope.toml"), "stats");
  assert.equal(r.code, 78);
  assert.match(r.err, /cannot read the file/);
});
