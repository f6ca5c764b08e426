// The Prosody suite's end-to-end cases against Debian's ejabberd: the same
// gateway process and distributors, with ejabberd's ejabberd_service listener
// as the component port. `npm test` installs ejabberd first (pretest), so a
// missing ejabberd fails the suite rather than quietly skipping it.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";
import xml from "@xmpp/xml";
import Database from "better-sqlite3";
import { StanzaError, connectDistributor, parseMessage1 } from "../harness/distributor.ts";
import { type Ejabberd, ejabberdInstalled, startEjabberd } from "../harness/ejabberd.ts";
import { startGateway, type Gateway } from "../harness/gateway.ts";
import { docBlock, substitute } from "../harness/doc-snippets.ts";
import { request } from "../harness/iq.ts";
import { waitFor } from "../harness/wait-for.ts";


const NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items";
const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";

async function post(url: string, body: BodyInit, headers: Record<string, string> = {}): Promise<Response> {
  const res = await fetch(url, { method: "POST", body, headers });
  await res.arrayBuffer();
  return res;
}

describe("against ejabberd", () => {
  let ejabberd: Ejabberd;
  let gateway: Gateway;
  let users = 0;
  const user = (): string => `ej${++users}`;

  before(async () => {
    assert.ok(ejabberdInstalled(), "ejabberd is not installed: run bash scripts/ensure-ejabberd.sh (npm test does, as pretest)");
    // The component listener exactly as docs/ejabberd.md shows it, on a free port.
    const listen = docBlock("docs/ejabberd.md", "yaml", "module: ejabberd_service");
    assert.match(listen, /^listen:\n/);
    ejabberd = await startEjabberd({
      componentListener: (port, [c]) =>
        substitute(listen.replace(/^listen:\n/, ""), { "port: 5347": `port: ${port}`, "up.example.org": c!.domain, "PUT-THE-SECRET-HERE": c!.secret }),
    });
    gateway = await startGateway(ejabberd, { push: { queue_sweep_interval: 1 } });
    await gateway.waitHealthy(20_000);
  });
  after(async () => {
    await gateway?.cleanup();
    await ejabberd?.stop();
  });

  test("the component authenticates on the ejabberd_service listener and ejabberd lists it in disco#items", async () => {
    assert.ok(gateway.lines.some((l) => l.json?.msg === "component online"), gateway.outputTail());
    const dist = await connectDistributor(ejabberd, { username: user() });
    try {
      const items = await request(dist.client, xml("iq", { type: "get", to: ejabberd.domain }, xml("query", { xmlns: NS_DISCO_ITEMS })));
      const jids = items.getChild("query", NS_DISCO_ITEMS)?.getChildren("item").map((i) => i.attrs.jid) ?? [];
      assert.ok(jids.includes(dist.component), `disco#items of ${ejabberd.domain}: ${jids.join(", ")}`);
      const info = await request(dist.client, xml("iq", { type: "get", to: dist.component }, xml("query", { xmlns: NS_DISCO_INFO })));
      const features = info.getChild("query", NS_DISCO_INFO)?.getChildren("feature").map((f) => f.attrs.var) ?? [];
      assert.ok(features.includes("http://gultsch.de/xmpp/drafts/unified-push"), features.join(", "));
      assert.ok(features.includes("unifiedpush.org"), features.join(", "));
    } finally {
      await dist.stop();
    }
  });

  test("dialect 1: a registered endpoint's text and binary payloads arrive as messages with the token as subject and no type", async () => {
    const dist = await connectDistributor(ejabberd, { username: user(), resource: "phone" });
    try {
      const endpoint = await dist.endpoint1("ej-token-text");
      assert.match(endpoint, new RegExp(`^${gateway.url}/up/[A-Za-z0-9_-]{32}$`));
      assert.equal(await dist.endpoint1("ej-token-text"), endpoint);
      const text = "title=<Hello> & \"goodbye\" ü €";
      const res = await post(endpoint, text);
      assert.equal(res.status, 201);
      assert.equal(res.headers.get("ttl"), "0");
      const msg = await dist.waitForMessage((m) => m.getChildText("subject") === "ej-token-text");
      assert.equal(msg.attrs.type, undefined);
      assert.equal(msg.attrs.from, dist.component);
      assert.equal(parseMessage1(msg).body, text);

      const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7) % 256));
      assert.equal((await post(endpoint, bytes)).status, 201);
      const n = parseMessage1(await dist.waitForMessage((m) => m.getChildText("subject") === "ej-token-text" && m !== msg));
      assert.equal(n.base64, true);
      assert.deepEqual(n.payload, bytes);
    } finally {
      await dist.stop();
    }
  });

  test("dialect 1: after unregister the endpoint answers 404 and unregistering again is item-not-found", async () => {
    const dist = await connectDistributor(ejabberd, { username: user() });
    try {
      const endpoint = await dist.endpoint1("ej-token-unregister");
      assert.equal((await fetch(endpoint)).status, 200);
      const reply = await dist.unregister1("ej-token-unregister");
      assert.ok(reply.getChild("unregister", "unifiedpush.org")?.getChild("success"));
      assert.equal((await post(endpoint, "hello")).status, 404);
      assert.equal((await fetch(endpoint)).status, 404);
      await assert.rejects(dist.unregister1("ej-token-unregister"), (e: unknown) => e instanceof StanzaError && e.condition === "item-not-found");
    } finally {
      await dist.stop();
    }
  });

  test("dialect 1: a notification for an offline user is kept by ejabberd's mod_offline and arrives on login", async () => {
    const name = user();
    const dist = await connectDistributor(ejabberd, { username: name, resource: "phone" });
    const endpoint = await dist.endpoint1("ej-token-offline");
    await dist.stop();
    assert.equal((await post(endpoint, "while you were out")).status, 201);
    // mod_offline writes to Mnesia after routing; a login within those milliseconds would not see it yet.
    await waitFor(async () => (await ejabberd.ctl("get_offline_count", name, ejabberd.domain)).trim() === "1", 5_000, "ejabberd to store the message");
    await dist.reconnect();
    try {
      const m = await dist.waitForMessage((x) => x.getChildText("body") === "while you were out");
      assert.equal(m.getChildText("subject"), "ej-token-offline");
    } finally {
      await dist.stop();
    }
  });

  test("dialect 1: ejabberd's bounces for a deleted user start a run that revokes the registration once 7 days old", async () => {
    const name = user();
    const dist = await connectDistributor(ejabberd, { username: name });
    const endpoint = await dist.endpoint1("ej-token-gone");
    await dist.stop();
    await ejabberd.ctl("unregister", name, ejabberd.domain);
    assert.equal((await post(endpoint, "into the void")).status, 201); // no acknowledgement in this dialect
    // The run of bounces is stored; aged to 8 days in the database, the next bounce revokes (src/bounce/run.ts).
    const aged = (): number => {
      const db = new Database(join(gateway.dir, "gateway.db"));
      try {
        return db.prepare("UPDATE registrations SET bounce_since = ? WHERE endpoint = ? AND bounce_since IS NOT NULL").run(Date.now() - 8 * 86_400_000, endpoint.split("/up/")[1]).changes;
      } finally {
        db.close();
      }
    };
    await waitFor(() => aged() === 1, 10_000, "the bounce to start a run");
    assert.equal((await post(endpoint, "one more")).status, 201, "live until a bounce finds the run 7 days old");
    await waitFor(async () => (await post(endpoint, "again")).status === 404, 10_000, "the bounced registration to be revoked");
  });

  test("dialect 2: register, then a POST arrives as a push IQ with application and instance echoed and is answered 201", async () => {
    const dist = await connectDistributor(ejabberd, { username: user(), resource: "Conversations.ej" });
    try {
      const app = dist.hash("uuid", "org.example.ej");
      const instance = dist.hash("uuid", "instance");
      const reg = await dist.register2(app, instance);
      assert.match(reg.endpoint, new RegExp(`^${gateway.url}/up/`));
      assert.ok(reg.expiration.getTime() > Date.now() + 86_400_000, "well above Conversations' 24 h renewal");
      const res = await post(reg.endpoint, "title=Test");
      assert.equal(res.status, 201);
      assert.equal(res.headers.get("ttl"), "0");
      const push = await dist.waitForPush();
      assert.equal(push.payload.toString(), "title=Test");
      assert.equal(push.application, app);
      assert.equal(push.instance, instance);
      assert.equal(push.from, dist.component);
      assert.equal(push.stanza.attrs.to, dist.jid);

      await dist.reconnect("Conversations.other");
      assert.equal((await dist.register2(app, instance)).endpoint, reg.endpoint, "same endpoint from a new resource");
    } finally {
      await dist.stop();
    }
  });

  test("dialect 2: a push answered item-not-found revokes the endpoint and it answers 404 from then on", async () => {
    const dist = await connectDistributor(ejabberd, { username: user() });
    try {
      const { endpoint } = await dist.register2(dist.hash("uuid", "org.example.uninstalled"), dist.hash("uuid", "i"));
      dist.pushAnswer = "item-not-found";
      assert.equal((await post(endpoint, "anyone there?")).status, 404);
      assert.equal((await post(endpoint, "again")).status, 404);
      assert.equal((await fetch(endpoint)).status, 404);
    } finally {
      await dist.stop();
    }
  });

  test("dialect 2, distributor offline: TTL 0 is answered 503 with Retry-After; with a TTL 201, delivered after its directed presence", async () => {
    const dist = await connectDistributor(ejabberd, { username: user(), resource: "phone" });
    const { endpoint } = await dist.register2(dist.hash("uuid", "org.example.away"), dist.hash("uuid", "i"));
    await dist.stop();
    const now = await post(endpoint, "now or never", { TTL: "0" });
    assert.equal(now.status, 503);
    assert.ok(Number(now.headers.get("retry-after")) > 0);
    const kept = await post(endpoint, "kept for you", { TTL: "600" });
    assert.equal(kept.status, 201);
    assert.equal(kept.headers.get("ttl"), "600");
    await dist.reconnect();
    try {
      await dist.sendPresence();
      await dist.waitForPush((p) => p.payload.toString() === "kept for you", 10_000);
      await sleep(300); // a duplicate, or the refused message, would show up by now
      assert.deepEqual(dist.pushes.map((p) => p.payload.toString()), ["kept for you"]);
    } finally {
      await dist.stop();
    }
  });

  test("while ejabberd is down a POST is answered 503 with Retry-After, and the gateway reconnects by itself", async () => {
    const dist = await connectDistributor(ejabberd, { username: user() });
    const endpoint = await dist.endpoint1("ej-token-outage");
    await ejabberd.halt();
    try {
      await gateway.waitUnhealthy(10_000);
      const res = await post(endpoint, "while down");
      assert.equal(res.status, 503);
      assert.ok(Number(res.headers.get("retry-after")) > 0, "Retry-After in seconds");
    } finally {
      await ejabberd.resume();
    }
    await gateway.waitHealthy(20_000);
    await dist.reconnect();
    try {
      assert.equal((await post(endpoint, "after the restart")).status, 201);
      await dist.waitForMessage((m) => m.getChildText("body") === "after the restart");
    } finally {
      await dist.stop();
    }
  });
});
