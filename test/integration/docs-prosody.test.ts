// docs/prosody.md, executed: the Component block and the disco_items snippet
// exactly as the page shows them (names, ports and secret substituted), with
// the gateway started as install.md says. Shows why the page asks for
// component_conflict_resolve = "kick_old".
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { component, type Component } from "@xmpp/component";
import xml from "@xmpp/xml";
import { connectDistributor } from "../harness/distributor.ts";
import { docBlock } from "../harness/doc-snippets.ts";
import { startGateway } from "../harness/gateway.ts";
import { request } from "../harness/iq.ts";
import { type Prosody, type ProsodyComponent, startProsody } from "../harness/prosody.ts";

const NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items";
const DOCUMENTED = "up.localhost"; // gets the documented Component block
const PLAIN = "plain.localhost"; // Prosody's default: component_conflict_resolve = "kick_new"
const ELSEWHERE = "push.example.net"; // listed through disco_items

/** The lines of a documented section after its first line (`Component "..."`, `VirtualHost "..."`). */
function sectionBody(block: string, header: RegExp): string {
  const [first, ...rest] = block.trimEnd().split("\n");
  assert.match(first!, header);
  return rest.join("\n");
}

let prosody: Prosody;
before(async () => {
  const secret = randomBytes(16).toString("hex");
  const componentBlock = docBlock("docs/prosody.md", "lua", 'Component "up.example.org"');
  const body = sectionBody(componentBlock, /^Component "up\.example\.org"$/);
  // The harness writes the component_secret line itself, from the same secret.
  assert.match(body, /^\s+component_secret = "PUT-THE-SECRET-HERE"$/m);
  const extra = body.replace(/^\s+component_secret = .*\n/m, "");
  assert.match(extra, /component_conflict_resolve = "kick_old"/);
  const host = sectionBody(docBlock("docs/prosody.md", "lua", "disco_items"), /^VirtualHost "example\.org"$/);
  const components: ProsodyComponent[] = [
    { domain: DOCUMENTED, secret, extra },
    { domain: PLAIN, secret: randomBytes(16).toString("hex") },
  ];
  assert.ok(host.includes(`"${ELSEWHERE}"`), host);
  prosody = await startProsody({ components, extraHost: host });
});
after(async () => {
  await prosody?.stop();
});

/** A component connection Prosody still counts as connected: what an unclean drop leaves behind. */
async function staleLink(domain: string): Promise<Component> {
  const { secret } = prosody.components.find((c) => c.domain === domain)!;
  const stale = component({ service: `xmpp://127.0.0.1:${prosody.componentPort}`, domain, password: secret });
  stale.on("error", () => {});
  stale.reconnect.stop();
  await stale.start();
  return stale;
}

test("distributors find the component in the server's disco#items: subdomains by themselves, others through disco_items", async (t) => {
  const dist = await connectDistributor(prosody, { username: "finder" });
  t.after(() => dist.stop());
  const items = await request(dist.client, xml("iq", { type: "get", to: prosody.domain }, xml("query", { xmlns: NS_DISCO_ITEMS })));
  const jids = items.getChild("query", NS_DISCO_ITEMS)?.getChildren("item").map((i) => i.attrs.jid) ?? [];
  assert.ok(jids.includes(DOCUMENTED), jids.join(", "));
  assert.ok(jids.includes(ELSEWHERE), jids.join(", "));
});

test("with the documented kick_old a restarted gateway takes over from a stale component connection at once", async (t) => {
  const stale = await staleLink(DOCUMENTED);
  const dropped = new Promise<void>((resolve) => stale.once("disconnect", () => resolve()));
  const gateway = await startGateway(prosody, {}, { component: DOCUMENTED });
  t.after(() => gateway.cleanup());
  await gateway.waitHealthy(10_000);
  await dropped;

  const phone = await connectDistributor(prosody, { username: "kicked", component: DOCUMENTED });
  t.after(() => phone.stop());
  const endpoint = await phone.endpoint1("doc-token");
  assert.equal((await fetch(endpoint, { method: "POST", body: "via the documented block" })).status, 201);
  await phone.waitForMessage((m) => m.getChildText("body") === "via the documented block");
});

test("without kick_old the same gateway is refused with conflict while the stale connection lasts", async (t) => {
  const stale = await staleLink(PLAIN);
  t.after(() => stale.stop().catch(() => {}));
  const gateway = await startGateway(prosody, {}, { component: PLAIN });
  t.after(() => gateway.cleanup());
  const refused = await gateway.waitForLog((r) => r.msg === "cannot connect to the XMPP server's component port" && /conflict/.test(String(r.err)));
  assert.ok(refused);
  assert.notEqual(await gateway.health(), 200);
  assert.equal(stale.status, "online");
});
