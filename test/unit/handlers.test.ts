import { test } from "node:test";
import assert from "node:assert/strict";
import xml, { type Element } from "@xmpp/xml";
import { iqHandlers, type IqHandler, type IqReply } from "../../src/xmpp/handlers.ts";
import type { RegisterResult } from "../../src/registry.ts";
import { NS_CONV, NS_DISCO_INFO, NS_PING, NS_STANZAS, NS_UP } from "../../src/stanzas/ns.ts";
import { fixture, T0, type Fixture } from "./_db.ts";
import { errorParts, overTheWire } from "./_xml.ts";

const APP = "bK3sdmrbtj3bf6XA2S12b8jJUA5TT1dhPEyeoZfVSRM=";
const APP2 = "Y2FmZWJhYmVjYWZlYmFiZWNhZmViYWJlY2FmZWJhYmU=";
const INST = "EtD/1XPLmoIph7W73CZ/uyv6FAnhEAXY1GySHX17vAw=";
const BASE = "https://up.example.org/up/";

function setup(options: Parameters<typeof fixture>[0] = {}): {
  f: Fixture;
  h: (key: string) => IqHandler;
  registered: (RegisterResult & { ok: true })[];
} {
  const f = fixture(options);
  const registered: (RegisterResult & { ok: true })[] = [];
  const map = iqHandlers({ registry: f.registry, endpointUrl: (t) => `${BASE}${t}`, onRegistered: (r) => registered.push(r) });
  const h = (key: string): IqHandler => {
    const handler = map.get(key);
    assert.ok(handler, `no handler for ${key}`);
    return handler;
  };
  return { f, h, registered };
}

const d1 = (name: "register" | "unregister", token?: string): Element =>
  xml(name, { xmlns: NS_UP }, token === undefined ? null : xml("token", {}, token));
const d2 = (attrs: Record<string, string | undefined>): Element => xml("register", { xmlns: NS_CONV, ...attrs });

function resultOf(reply: IqReply): Element | null {
  assert.ok("result" in reply, `expected a result, got ${JSON.stringify(reply, (_, v) => (v?.name ? v.toString() : v))}`);
  return reply.result;
}

function errorOf(reply: IqReply): { error: Element; payload?: Element } {
  assert.ok("error" in reply, "expected an error reply");
  return reply;
}

test("the handler table answers exactly the six IQs the gateway serves", () => {
  const { f } = setup();
  try {
    const map = iqHandlers({ registry: f.registry, endpointUrl: (t) => t });
    assert.deepEqual([...map.keys()].sort(), [
      `get ${NS_DISCO_INFO} query`,
      `get ${NS_PING} ping`,
      `get ${NS_UP} register`,
      `set ${NS_CONV} register`,
      `set ${NS_UP} register`,
      `set ${NS_UP} unregister`,
    ].sort());
  } finally {
    f.close();
  }
});

test("dialect 1 register answers with the endpoint URL in <register><endpoint>", async () => {
  const { f, h, registered } = setup();
  try {
    const el = overTheWire(resultOf(await h(`set ${NS_UP} register`)("alice@example.org/phone", d1("register", "PUB")))!);
    assert.equal(el.name, "register");
    assert.equal(el.attrs.xmlns, NS_UP);
    assert.equal(el.getChildText("endpoint"), `${BASE}${f.minted[0]}`);
    assert.equal(registered.length, 1);
    assert.equal(registered[0]!.reg.token, "PUB");
  } finally {
    f.close();
  }
});

test("dialect 1 register sent as get, as the seed distributor does, gets the same endpoint", async () => {
  const { f, h } = setup();
  try {
    const a = resultOf(await h(`set ${NS_UP} register`)("alice@example.org/phone", d1("register", "PUB")))!;
    const b = resultOf(await h(`get ${NS_UP} register`)("alice@example.org/phone", d1("register", "PUB")))!;
    assert.equal(b.getChildText("endpoint"), a.getChildText("endpoint"));
  } finally {
    f.close();
  }
});

test("dialect 1 register without a token carries both <register><error>no token</error></register> and modify/bad-request", async () => {
  const { f, h, registered } = setup();
  try {
    const { error, payload } = errorOf(await h(`set ${NS_UP} register`)("alice@example.org/phone", d1("register")));
    assert.ok(payload);
    const p = overTheWire(payload);
    assert.equal(p.name, "register");
    assert.equal(p.attrs.xmlns, NS_UP);
    assert.equal(p.getChildText("error"), "no token");
    assert.deepEqual(errorParts(overTheWire(error)), { type: "modify", condition: "bad-request", conditionNs: NS_STANZAS, text: "no token" });
    assert.equal(registered.length, 0);
  } finally {
    f.close();
  }
});

test("dialect 1 register from a domain not allowed answers auth/forbidden with the reason in both places", async () => {
  const { f, h } = setup({ allowedDomains: ["example.org"] });
  try {
    const { error, payload } = errorOf(await h(`set ${NS_UP} register`)("mallory@evil.example/x", d1("register", "PUB")));
    const parts = errorParts(error);
    assert.equal(parts.type, "auth");
    assert.equal(parts.condition, "forbidden");
    assert.ok(parts.text);
    assert.equal(payload?.getChildText("error"), parts.text);
  } finally {
    f.close();
  }
});

test("dialect 1 register past the per-account cap answers wait/resource-constraint", async () => {
  const { f, h } = setup({ maxRegistrationsPerJid: 1 });
  try {
    resultOf(await h(`set ${NS_UP} register`)("alice@example.org/phone", d1("register", "A")));
    const { error, payload } = errorOf(await h(`set ${NS_UP} register`)("alice@example.org/phone", d1("register", "B")));
    assert.deepEqual([errorParts(error).type, errorParts(error).condition], ["wait", "resource-constraint"]);
    assert.equal(payload?.name, "register");
    assert.match(payload?.getChildText("error") ?? "", /at most 1/);
  } finally {
    f.close();
  }
});

test("dialect 1 unregister answers <unregister><success/></unregister> and the endpoint is gone", async () => {
  const { f, h } = setup();
  try {
    resultOf(await h(`set ${NS_UP} register`)("alice@example.org/phone", d1("register", "PUB")));
    const endpoint = f.minted[0]!;
    const el = resultOf(await h(`set ${NS_UP} unregister`)("alice@example.org/phone", d1("unregister", "PUB")))!;
    assert.equal(el.name, "unregister");
    assert.equal(el.attrs.xmlns, NS_UP);
    assert.deepEqual(el.getChildElements().map((c) => c.name), ["success"]);
    assert.equal(await f.registry.lookup(endpoint), undefined);
  } finally {
    f.close();
  }
});

test("dialect 1 unregister of an unknown token answers cancel/item-not-found inside <unregister><error>", async () => {
  const { f, h } = setup();
  try {
    const { error, payload } = errorOf(await h(`set ${NS_UP} unregister`)("alice@example.org/phone", d1("unregister", "NOPE")));
    assert.deepEqual([errorParts(error).type, errorParts(error).condition], ["cancel", "item-not-found"]);
    assert.equal(payload?.name, "unregister");
    assert.equal(payload?.getChildText("error"), "no registration for this token");
  } finally {
    f.close();
  }
});

test("dialect 1 unregister without a token answers modify/bad-request inside <unregister><error>", async () => {
  const { f, h } = setup();
  try {
    const { error, payload } = errorOf(await h(`set ${NS_UP} unregister`)("alice@example.org/phone", d1("unregister", "  ")));
    assert.equal(errorParts(error).condition, "bad-request");
    assert.equal(payload?.name, "unregister");
    assert.equal(payload?.getChildText("error"), "no token");
  } finally {
    f.close();
  }
});

test("dialect 2 register answers <registered> with the endpoint URL and the expiration as ISO UTC", async () => {
  const { f, h, registered } = setup({ registrationTtl: 86400 * 3 });
  try {
    const el = overTheWire(resultOf(await h(`set ${NS_CONV} register`)("juliet@example.com/c", d2({ application: APP, instance: INST })))!);
    assert.equal(el.name, "registered");
    assert.equal(el.attrs.xmlns, NS_CONV);
    assert.equal(el.attrs.endpoint, `${BASE}${f.minted[0]}`);
    assert.equal(el.attrs.expiration, new Date(T0 + 3 * 86400_000).toISOString());
    assert.match(el.attrs.expiration!, /Z$/);
    assert.equal(registered.length, 1);
    assert.equal(registered[0]!.fresh, true);
  } finally {
    f.close();
  }
});

test("dialect 2 renewal from a new resource answers the same endpoint with a later expiration", async () => {
  const { f, h, registered } = setup();
  try {
    const a = resultOf(await h(`set ${NS_CONV} register`)("juliet@example.com/c1", d2({ application: APP, instance: INST })))!;
    f.clock.t += 3600_000;
    const b = resultOf(await h(`set ${NS_CONV} register`)("juliet@example.com/c2", d2({ application: APP, instance: INST })))!;
    assert.equal(b.attrs.endpoint, a.attrs.endpoint);
    assert.ok(Date.parse(b.attrs.expiration!) > Date.parse(a.attrs.expiration!));
    assert.deepEqual(registered.map((r) => r.fresh), [true, false]);
  } finally {
    f.close();
  }
});

for (const attr of ["application", "instance"] as const) {
  test(`dialect 2 register with a bad ${attr} answers modify/bad-request whose text names ${attr}`, async () => {
    const { f, h } = setup();
    try {
      for (const value of [undefined, "not-base64", APP.replace("=", "")]) {
        const reply = errorOf(await h(`set ${NS_CONV} register`)("juliet@example.com/c", d2({ application: APP, instance: INST, [attr]: value })));
        const parts = errorParts(reply.error);
        assert.equal(parts.type, "modify");
        assert.equal(parts.condition, "bad-request");
        assert.match(parts.text ?? "", new RegExp(attr));
        assert.equal(reply.payload, undefined, "dialect 2 has no payload in errors");
      }
      assert.equal(f.minted.length, 0);
    } finally {
      f.close();
    }
  });
}

test("dialect 2 register from a domain not allowed answers auth/forbidden", async () => {
  const { f, h } = setup({ allowedDomains: ["example.com"] });
  try {
    const { error } = errorOf(await h(`set ${NS_CONV} register`)("mallory@evil.example/c", d2({ application: APP, instance: INST })));
    assert.deepEqual([errorParts(error).type, errorParts(error).condition], ["auth", "forbidden"]);
  } finally {
    f.close();
  }
});

test("dialect 2 register past the per-account cap answers wait/resource-constraint", async () => {
  const { f, h } = setup({ maxRegistrationsPerJid: 1 });
  try {
    resultOf(await h(`set ${NS_CONV} register`)("juliet@example.com/c", d2({ application: APP, instance: INST })));
    const { error } = errorOf(await h(`set ${NS_CONV} register`)("juliet@example.com/c", d2({ application: APP2, instance: INST })));
    const parts = errorParts(error);
    assert.deepEqual([parts.type, parts.condition], ["wait", "resource-constraint"]);
    assert.match(parts.text ?? "", /at most 1/);
  } finally {
    f.close();
  }
});

test("disco#info answers a query listing both dialects", async () => {
  const { f, h } = setup();
  try {
    const q = resultOf(await h(`get ${NS_DISCO_INFO} query`)("a@example.org/r", xml("query", { xmlns: NS_DISCO_INFO })))!;
    const features = q.getChildren("feature").map((e) => e.attrs.var);
    assert.ok(features.includes(NS_UP) && features.includes(NS_CONV), features.join(" "));
  } finally {
    f.close();
  }
});

test("ping answers an empty result", async () => {
  const { f, h } = setup();
  try {
    assert.deepEqual(await h(`get ${NS_PING} ping`)("a@example.org/r", xml("ping", { xmlns: NS_PING })), { result: null });
  } finally {
    f.close();
  }
});
