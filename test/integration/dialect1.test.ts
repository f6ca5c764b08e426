// Dialect 1 (`unifiedpush.org`) end to end: a real Prosody, the gateway as a
// process, a distributor on @xmpp/client, and app-server POSTs over HTTP.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { StanzaError, connectDistributor, endpointOf1, parseMessage1, type Distributor } from "../harness/distributor.ts";
import { startGateway, type Gateway } from "../harness/gateway.ts";
import { startProsody, type Prosody } from "../harness/prosody.ts";

let prosody: Prosody;
let gateway: Gateway;
let alice: Distributor;

before(async () => {
  prosody = await startProsody();
  gateway = await startGateway(prosody);
  await gateway.waitHealthy(15_000);
  alice = await connectDistributor(prosody, { username: "alice", resource: "phone" });
});
after(async () => {
  await alice?.stop();
  await gateway?.cleanup();
  await prosody?.stop();
});

const post = (url: string, body: BodyInit): Promise<Response> => fetch(url, { method: "POST", body });

test("register returns an endpoint under the public URL with an unguessable token", async () => {
  const endpoint = await alice.endpoint1("token-register");
  assert.match(endpoint, new RegExp(`^${gateway.url}/up/[A-Za-z0-9_-]{32}$`));
});

test("the seed distributor's register of type get works like set", async () => {
  const reply = await alice.register1("token-get", { type: "get" });
  assert.match(endpointOf1(reply) ?? "", /\/up\/[A-Za-z0-9_-]{32}$/);
});

test("re-registering the same public token returns the same endpoint, a new token a new one", async () => {
  const first = await alice.endpoint1("token-same");
  assert.equal(await alice.endpoint1("token-same"), first);
  assert.notEqual(await alice.endpoint1("token-other"), first);
});

test("a register without a token fails with the seed's error text and a bad-request stanza error", async () => {
  const err = await alice.register1("").then(
    () => assert.fail("an empty token was accepted"),
    (e: unknown) => e as StanzaError,
  );
  assert.ok(err instanceof StanzaError);
  assert.equal(err.condition, "bad-request");
  assert.equal(err.type, "modify");
  assert.equal(err.stanza.getChild("register", "unifiedpush.org")?.getChildText("error"), "no token");
});

test("a text payload with <&> arrives verbatim with the public token as subject and no message type", async () => {
  const endpoint = await alice.endpoint1("token-text");
  const text = "title=<Hello> & \"goodbye\" 'now' ü €";
  const res = await post(endpoint, text);
  assert.equal(res.status, 201);
  assert.equal(res.headers.get("ttl"), "0");
  assert.match(res.headers.get("location") ?? "", new RegExp(`^${gateway.url}/`));
  const msg = await alice.waitForMessage((m) => m.getChildText("subject") === "token-text");
  assert.equal(msg.attrs.type, undefined);
  assert.equal(msg.attrs.from, prosody.components[0]!.domain);
  const n = parseMessage1(msg);
  assert.equal(n.base64, false);
  assert.equal(n.body, text);
});

test("a binary payload arrives base64-encoded with the encoding marker and decodes byte for byte", async () => {
  const endpoint = await alice.endpoint1("token-binary");
  const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7) % 256));
  assert.equal((await post(endpoint, bytes)).status, 201);
  const n = parseMessage1(await alice.waitForMessage((m) => m.getChildText("subject") === "token-binary"));
  assert.equal(n.base64, true);
  assert.deepEqual(n.payload, bytes);
});

test("a payload with a carriage return is sent as base64 so it arrives byte-exact", async () => {
  const endpoint = await alice.endpoint1("token-cr");
  const bytes = Buffer.from("line one\r\nline two", "utf8");
  assert.equal((await post(endpoint, bytes)).status, 201);
  const n = parseMessage1(await alice.waitForMessage((m) => m.getChildText("subject") === "token-cr"));
  assert.deepEqual(n.payload, bytes);
});

test("after unregister the endpoint answers 404 and unregistering again is item-not-found", async () => {
  const endpoint = await alice.endpoint1("token-unregister");
  assert.equal((await fetch(endpoint)).status, 200);
  const reply = await alice.unregister1("token-unregister");
  assert.ok(reply.getChild("unregister", "unifiedpush.org")?.getChild("success"));
  assert.equal((await post(endpoint, "hello")).status, 404);
  assert.equal((await fetch(endpoint)).status, 404);
  await assert.rejects(alice.unregister1("token-unregister"), (e: unknown) => e instanceof StanzaError && e.condition === "item-not-found");
});

test("a push to a registration from another resource goes to the resource that registered last", async () => {
  const tablet = await connectDistributor(prosody, { username: "alice", resource: "tablet" });
  try {
    const endpoint = await alice.endpoint1("token-moved");
    assert.equal(await tablet.endpoint1("token-moved"), endpoint);
    assert.equal((await post(endpoint, "to the tablet")).status, 201);
    const msg = await tablet.waitForMessage((m) => m.getChildText("subject") === "token-moved");
    assert.equal(msg.attrs.to, tablet.jid);
  } finally {
    await tablet.stop();
  }
});
