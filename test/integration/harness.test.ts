// Exercises the test harness itself against a real Prosody: if these fail,
// every other integration test would fail for reasons unrelated to the gateway.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { component } from "@xmpp/component";
import xml, { type Element } from "@xmpp/xml";
import { parse } from "smol-toml";
import { NS_UP1, parseMessage1 } from "../harness/dialect1.ts";
import { NS_UP2 } from "../harness/dialect2.ts";
import { StanzaError, connectDistributor } from "../harness/distributor.ts";
import { startGateway } from "../harness/gateway.ts";
import { gatewayConfig } from "../harness/gateway-config.ts";
import { request } from "../harness/iq.ts";
import { type Prosody, startProsody } from "../harness/prosody.ts";
import { toToml } from "../harness/toml.ts";

let prosody: Prosody;
before(async () => {
  prosody = await startProsody();
});
after(async () => {
  await prosody.stop();
});

test("the generated gateway config is TOML that reads back with overrides applied", () => {
  const layout = { dir: "/tmp/x", componentPort: 1, domain: "up.localhost", secret: 's"e\\c', httpPort: 2 };
  const doc = parse(toToml(gatewayConfig(layout, { push: { timeout: 3, max_ttl: undefined }, log: { level: "warn" } })));
  assert.equal((doc.xmpp as Record<string, unknown>).secret, 's"e\\c');
  assert.deepEqual((doc.xmpp as Record<string, unknown>).allowed_domains, []);
  assert.equal((doc.push as Record<string, unknown>).timeout, 3);
  assert.equal("max_ttl" in (doc.push as Record<string, unknown>), false);
  assert.equal((doc.log as Record<string, unknown>).level, "warn");
});

test("a distributor speaks both dialects with a component on the configured secret", async (t) => {
  const { domain, secret } = prosody.components[0]!;
  const fake = component({ service: `xmpp://127.0.0.1:${prosody.componentPort}`, domain, password: secret });
  fake.on("error", () => {});
  fake.iqCallee.set(NS_UP2, "register", () =>
    xml("registered", { xmlns: NS_UP2, endpoint: "https://up.example/up/x", expiration: new Date(Date.now() + 60_000).toISOString() }),
  );
  fake.iqCallee.set(NS_UP1, "register", () => xml("error", { type: "modify" }, xml("bad-request", { xmlns: "urn:ietf:params:xml:ns:xmpp-stanzas" })));
  await fake.start();
  t.after(() => fake.stop());
  const alice = await connectDistributor(prosody, { username: "alice" });
  t.after(() => alice.stop());

  const reg = await alice.register2(alice.hash("uuid", "org.example"), alice.hash("uuid", "instance"));
  assert.equal(reg.endpoint, "https://up.example/up/x");
  await assert.rejects(alice.register1("tok"), (e: unknown) => e instanceof StanzaError && e.condition === "bad-request");

  const push = (id: string): Element =>
    xml("iq", { type: "set", id, to: alice.jid }, xml("push", { xmlns: NS_UP2, application: "a", instance: "i" }, "aGk="));
  await fake.iqCaller.request(push("p1"));
  assert.equal((await alice.waitForPush((p) => p.stanza.attrs.id === "p1")).payload.toString(), "hi");
  alice.pushAnswer = "item-not-found";
  await assert.rejects(fake.iqCaller.request(push("p2")), { condition: "item-not-found" });
  alice.pushAnswer = "ignore";
  await assert.rejects(fake.iqCaller.request(push("p3"), 300), { name: "TimeoutError" });

  await fake.send(xml("message", { to: alice.jid }, xml("subject", {}, "tok"), xml("body", {}, "hello")));
  assert.equal(parseMessage1(await alice.waitForMessage()).payload.toString(), "hello");
});

test("restart() brings Prosody back on the same ports and a distributor logs in again", async (t) => {
  const bob = await connectDistributor(prosody, { username: "bob" });
  t.after(() => bob.stop());
  const before = { pid: prosody.pid, c2s: prosody.c2sPort, component: prosody.componentPort };

  await prosody.restart();
  assert.notEqual(prosody.pid, before.pid);
  assert.deepEqual({ c2s: prosody.c2sPort, component: prosody.componentPort }, { c2s: before.c2s, component: before.component });
  await bob.reconnect("second");
  assert.equal(bob.jid, "bob@localhost/second");
  // The user survived the restart (same data dir), and the session works.
  const pong = await request(bob.client, xml("iq", { type: "get", to: "localhost" }, xml("ping", { xmlns: "urn:xmpp:ping" })));
  assert.equal(pong.attrs.type, "result");
});

test("the gateway starts from the generated config, turns healthy and exits 0 on SIGTERM", async (t) => {
  const gateway = await startGateway(prosody);
  t.after(() => gateway.cleanup());
  await gateway.waitHealthy(20_000);
  assert.equal(await gateway.stop(), 0);
  assert.ok(gateway.lines.some((l) => l.json !== undefined), gateway.outputTail());
});
