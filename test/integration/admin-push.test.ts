// `up-gateway-admin push`: a test notification through the running gateway's
// HTTP port, reported per registration: delivered, queued, gone, refused.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { admin } from "../harness/admin-cli.ts";
import { connectDistributor, type Distributor } from "../harness/distributor.ts";
import { startGateway, type Gateway } from "../harness/gateway.ts";
import { freePort } from "../harness/ports.ts";
import { startProsody, type Prosody } from "../harness/prosody.ts";

let prosody: Prosody;
let gateway: Gateway;
let alice: Distributor; // online, two registrations
let bob: Distributor; // registered, then offline
let bobJid: string;
let carol: Distributor; // registered, then revoked
const ep: Record<string, string> = {};

before(async () => {
  prosody = await startProsody();
  gateway = await startGateway(prosody);
  await gateway.waitHealthy(15_000);
  alice = await connectDistributor(prosody, { username: "alice" });
  bob = await connectDistributor(prosody, { username: "bob" });
  carol = await connectDistributor(prosody, { username: "carol" });
  ep.a1 = (await alice.register2(alice.hash("a", "app1"), alice.hash("a", "1"))).endpoint;
  ep.a2 = (await alice.register2(alice.hash("a", "app2"), alice.hash("a", "2"))).endpoint;
  ep.b = (await bob.register2(bob.hash("b", "app"), bob.hash("b", "1"))).endpoint;
  bobJid = bob.jid;
  ep.c = (await carol.register2(carol.hash("c", "app"), carol.hash("c", "1"))).endpoint;
  await bob.stop();
});
after(async () => {
  await alice?.stop();
  await carol?.stop();
  await gateway?.cleanup();
  await prosody?.stop();
});

const push = (...args: string[]) => admin(["--config", gateway.configPath, "push", ...args]);

test("a push to an online phone is delivered: the phone gets the text, the CLI says delivered with 201 and the time", async (t) => {
  const r = await push(ep.a1!, "hello from the operator");
  t.diagnostic(`\n${r.out}`);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^ENDPOINT\s+JID\s+HTTP\s+TIME\s+RESULT$/m);
  assert.match(r.out, /alice@localhost\/\S+\s+201\s+\d+ ms\s+delivered$/m);
  assert.ok(!r.out.includes(ep.a1!.split("/up/")[1]!), "the whole endpoint token is not printed");
  const got = await alice.waitForPush((p) => p.payload.toString() === "hello from the operator");
  assert.equal(got.application, alice.hash("a", "app1"));
});

test("a push to an offline phone is queued with the TTL the gateway keeps it, and the phone gets it when it is back", async (t) => {
  const r = await push(ep.b!, "kept for bob", "--json");
  assert.equal(r.code, 0, r.err);
  const [s] = JSON.parse(r.out);
  assert.equal(s.result, "queued");
  assert.equal(s.status, 201);
  assert.equal(s.ttl, 86_400);
  assert.equal(typeof s.ms, "number");
  const text = await push(ep.b!, "kept for bob, again");
  t.diagnostic(`\n${text.out}`);
  assert.match(text.out, /bob@localhost\/\S+\s+201\s+\d+ ms\s+queued, kept 86400 s/);
  // Back on the same resource, with the presence Conversations sends: the kept messages are delivered.
  const back = await connectDistributor(prosody, { username: "bob", resource: bobJid.split("/")[1]! });
  try {
    await back.sendPresence();
    await back.waitForPush((p) => p.payload.toString() === "kept for bob", 15_000);
    await back.waitForPush((p) => p.payload.toString() === "kept for bob, again", 15_000);
  } finally {
    await back.stop();
  }
});

test("a revoked endpoint is gone (404), and the exit status says nothing was delivered", async (t) => {
  assert.equal((await admin(["--config", gateway.configPath, "revoke", ep.c!])).code, 0);
  const r = await push(ep.c!);
  t.diagnostic(`\n${r.out}`);
  assert.equal(r.code, 1);
  assert.match(r.out, /-\s+404\s+\d+ ms\s+gone: unknown, expired or revoked$/m);
});

test("an endpoint the gateway never issued is gone (404) as well", async (t) => {
  const unknown = `${gateway.url}/up/${randomBytes(24).toString("base64url")}`;
  const r = await push(unknown, "--json");
  t.diagnostic(`\n${(await push(unknown)).out}`);
  assert.equal(r.code, 1);
  assert.deepEqual(JSON.parse(r.out).map((s: { result: string; status: number }) => [s.result, s.status]), [["gone", 404]]);
});

test("push --jid reaches every live registration of the account, one line each", async (t) => {
  const before = alice.pushes.length;
  const r = await admin(["--config", gateway.configPath, "push", "--jid", "alice@localhost", "for both apps"]);
  t.diagnostic(`\n${r.out}`);
  assert.equal(r.code, 0, r.err);
  const rows = r.out.trimEnd().split("\n").slice(1);
  assert.equal(rows.length, 2);
  for (const row of rows) assert.match(row, /201\s+\d+ ms\s+delivered$/);
  await alice.waitForPush((p) => p.application === alice.hash("a", "app2") && p.payload.toString() === "for both apps");
  assert.equal(alice.pushes.slice(before).filter((p) => p.payload.toString() === "for both apps").length, 2);
});

test("a refused push is reported with its status, reason and Retry-After (a gateway whose link is down: 503)", async (t) => {
  // A second gateway on the same database: Prosody keeps the component with the first, so this one stays offline.
  const offline = await startGateway(prosody, { database: { path: join(gateway.dir, "gateway.db") } });
  try {
    await offline.waitUnhealthy(15_000);
    const r = await admin(["--config", offline.configPath, "push", ep.a1!, "--ttl", "0"]);
    t.diagnostic(`\n${r.out}`);
    assert.equal(r.code, 1);
    assert.match(r.out, /alice@localhost\/\S+\s+503\s+\d+ ms\s+refused: the distributor cannot be reached now; retry later, retry after \d+ s$/m);
  } finally {
    await offline.cleanup();
  }
});

test("without a gateway at [http] listen, push says so and fails", async () => {
  const dir = await mkdtemp(join(tmpdir(), "up-admin-push-"));
  try {
    const config = join(dir, "gateway.toml");
    const port = await freePort();
    await writeFile(config, (await readFile(gateway.configPath, "utf8")).replace(/listen = "127\.0\.0\.1:\d+"/, `listen = "127.0.0.1:${port}"`));
    const r = await admin(["--config", config, "push", ep.a1!]);
    assert.equal(r.code, 1);
    assert.match(r.out, new RegExp(`no answer from the gateway at http://127\\.0\\.0\\.1:${port} \\(\\[http\\] listen\\): ECONNREFUSED`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
