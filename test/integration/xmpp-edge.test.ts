// The component's own XMPP behaviour: service discovery, ping, unknown
// requests, and noticing a link that went silent.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import xml from "@xmpp/xml";
import { StanzaError, connectDistributor, type Distributor } from "../harness/distributor.ts";
import { request } from "../harness/iq.ts";
import { startGateway, type Gateway } from "../harness/gateway.ts";
import { startProsody, type Prosody } from "../harness/prosody.ts";

let prosody: Prosody;
let gateway: Gateway;
let eve: Distributor;
let domain: string;

before(async () => {
  prosody = await startProsody();
  domain = prosody.components[0]!.domain;
  gateway = await startGateway(prosody, { xmpp: { ping_interval: 1 } });
  await gateway.waitHealthy(15_000);
  eve = await connectDistributor(prosody, { username: "eve" });
});
after(async () => {
  await eve?.stop();
  await gateway?.cleanup();
  await prosody?.stop();
});

test("disco#info names a pubsub/push identity and both dialects' features", async () => {
  const reply = await request(eve.client, xml("iq", { type: "get", to: domain }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })));
  const query = reply.getChild("query", "http://jabber.org/protocol/disco#info")!;
  const identity = query.getChild("identity")!;
  assert.equal(identity.attrs.category, "pubsub");
  assert.equal(identity.attrs.type, "push");
  const features = query.getChildren("feature").map((f) => f.attrs.var);
  for (const f of ["unifiedpush.org", "http://gultsch.de/xmpp/drafts/unified-push", "http://jabber.org/protocol/disco#info", "urn:xmpp:ping"]) {
    assert.ok(features.includes(f), f);
  }
});

test("an XEP-0199 ping to the component is answered with a result", async () => {
  const reply = await request(eve.client, xml("iq", { type: "get", to: domain }, xml("ping", { xmlns: "urn:xmpp:ping" })));
  assert.equal(reply.attrs.type, "result");
});

test("a request the component does not know is answered with an error, not silence", async () => {
  await assert.rejects(
    request(eve.client, xml("iq", { type: "get", to: domain }, xml("query", { xmlns: "jabber:iq:version-unknown" }))),
    (e: unknown) => e instanceof StanzaError && ["service-unavailable", "feature-not-implemented"].includes(e.condition),
  );
});

test("a link that stops answering pings is dropped and re-opened by itself", async () => {
  process.kill(prosody.pid, "SIGSTOP"); // the server freezes: TCP stays open, nothing answers
  try {
    await gateway.waitUnhealthy(10_000);
    await gateway.waitForLog((r) => r.msg === "component link does not answer pings: reconnecting", 1000);
  } finally {
    process.kill(prosody.pid, "SIGCONT");
  }
  await gateway.waitHealthy(30_000);
  await eve.reconnect();
  assert.equal((await request(eve.client, xml("iq", { type: "get", to: domain }, xml("ping", { xmlns: "urn:xmpp:ping" })))).attrs.type, "result");
});
