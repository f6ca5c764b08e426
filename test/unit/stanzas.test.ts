import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import xml from "@xmpp/xml";
import { error1, notification, parseToken, registered1, unregistered1 } from "../../src/stanzas/dialect1.ts";
import { parseRegister2, pushIq, registered2 } from "../../src/stanzas/dialect2.ts";
import { errorCondition, stanzaError } from "../../src/stanzas/errors.ts";
import { discoInfo, ping } from "../../src/stanzas/disco.ts";
import { NS_CONV, NS_DISCO_INFO, NS_PING, NS_STANZAS, NS_UP } from "../../src/stanzas/ns.ts";
import { errorParts, overTheWire, parseXml } from "./_xml.ts";

const sha256b64 = (s: string): string => createHash("sha256").update(s).digest("base64");
// Standard base64 with both '+' and '/' in it: the bytes 0xfb 0xff encode to "+/".
const APP = Buffer.concat([Buffer.from([0xfb, 0xff, 0xfb, 0xff]), createHash("sha256").update("app").digest().subarray(4)]).toString("base64");
const INST = sha256b64("instance");

test("the namespaces are the ones both dialects use on the wire", () => {
  assert.equal(NS_UP, "unifiedpush.org");
  assert.equal(NS_CONV, "http://gultsch.de/xmpp/drafts/unified-push");
  assert.equal(NS_STANZAS, "urn:ietf:params:xml:ns:xmpp-stanzas");
});

// dialect 1

const register1 = (...children: Parameters<typeof xml>[2][]) => xml("register", { xmlns: NS_UP }, ...children);

test("dialect 1 parseToken returns the token text", () => {
  assert.deepEqual(parseToken(register1(xml("token", {}, "PUBLIC_TOKEN"))), { token: "PUBLIC_TOKEN" });
});

test("dialect 1 parseToken trims whitespace around the token", () => {
  assert.deepEqual(parseToken(overTheWire(register1(xml("token", {}, "\n  abc \n")))), { token: "abc" });
});

test("dialect 1 parseToken answers 'no token' when the token element is missing", () => {
  assert.deepEqual(parseToken(register1()), { error: "no token" });
});

test("dialect 1 parseToken answers 'no token' when the token is empty", () => {
  assert.deepEqual(parseToken(register1(xml("token"))), { error: "no token" });
});

test("dialect 1 parseToken answers 'no token' when the token is only whitespace", () => {
  assert.deepEqual(parseToken(register1(xml("token", {}, " \t\n "))), { error: "no token" });
});

test("dialect 1 parseToken refuses a token over 1024 characters and accepts one of exactly 1024", () => {
  const tooLong = parseToken(register1(xml("token", {}, "x".repeat(1025))));
  assert.ok("error" in tooLong);
  assert.match(tooLong.error, /too long/);
  assert.deepEqual(parseToken(register1(xml("token", {}, "x".repeat(1024)))), { token: "x".repeat(1024) });
});

test("dialect 1 success carries the endpoint as a child element, not an attribute", () => {
  const url = "https://up.example.org/up/ENDPOINT_TOKEN?x=1&y=<2>";
  const el = overTheWire(registered1(url));
  assert.equal(el.name, "register");
  assert.equal(el.attrs.xmlns, NS_UP);
  assert.equal(el.attrs.endpoint, undefined);
  assert.equal(el.getChildText("endpoint"), url);
  assert.equal(el.getChildElements().length, 1);
});

test("dialect 1 unregister success is <unregister><success/></unregister>", () => {
  const el = overTheWire(unregistered1());
  assert.equal(el.name, "unregister");
  assert.equal(el.attrs.xmlns, NS_UP);
  assert.deepEqual(el.getChildElements().map((c) => c.name), ["success"]);
});

test("dialect 1 error gives the seed's <register><error>text</error></register> and a stanza error", () => {
  const [payload, error] = error1("register", "no token", "modify", "bad-request");
  assert.ok(payload && error);
  const iq = overTheWire(xml("iq", { type: "error", id: "r1" }, payload, error));
  const reg = iq.getChild("register", NS_UP);
  assert.equal(reg?.getChildText("error"), "no token");
  assert.deepEqual(errorParts(iq.getChild("error")!), { type: "modify", condition: "bad-request", conditionNs: NS_STANZAS, text: "no token" });
  assert.equal(errorCondition(iq), "bad-request");
});

test("dialect 1 unregister error wraps the reason in <unregister>", () => {
  const [payload, error] = error1("unregister", "no registration", "cancel", "item-not-found");
  assert.equal(payload?.name, "unregister");
  assert.equal(payload?.getChildText("error"), "no registration");
  assert.equal(error && errorParts(error).condition, "item-not-found");
});

test("a dialect 1 notification has no type attribute and its subject is the public token", () => {
  const el = notification("up.example.org", "user@example.org/device", "m1", "PUBLIC_TOKEN", Buffer.from("title=Hi"));
  assert.doesNotMatch(el.toString(), /\btype=/);
  const msg = overTheWire(el);
  assert.equal(msg.name, "message");
  assert.deepEqual(msg.attrs, { from: "up.example.org", to: "user@example.org/device", id: "m1" });
  assert.equal(msg.getChildText("subject"), "PUBLIC_TOKEN");
  assert.equal(msg.getChildText("body"), "title=Hi");
  assert.equal(msg.getChild("encoding", NS_UP), undefined);
});

test("a dialect 1 notification of binary bytes carries base64 and <encoding xmlns='unifiedpush.org'>base64</encoding>", () => {
  const payload = Buffer.from([0x00, 0xff, 0x10, 0x80, 0x41]);
  const msg = overTheWire(notification("up.example.org", "u@example.org/d", "m2", "T", payload));
  assert.equal(msg.getChildText("body"), payload.toString("base64"));
  const enc = msg.getChild("encoding");
  assert.equal(enc?.attrs.xmlns, NS_UP);
  assert.equal(enc?.getText(), "base64");
});

// dialect 2

const register2 = (attrs: Record<string, string | undefined>) => xml("register", { xmlns: NS_CONV, ...attrs });

test("dialect 2 parseRegister2 accepts the values Conversations sends", () => {
  const application = "bK3sdmrbtj3bf6XA2S12b8jJUA5TT1dhPEyeoZfVSRM=";
  const instance = "EtD/1XPLmoIph7W73CZ/uyv6FAnhEAXY1GySHX17vAw=";
  assert.deepEqual(parseRegister2(register2({ application, instance })), { application, instance });
});

test("dialect 2 parseRegister2 keeps '+' and '/' in the values unchanged", () => {
  assert.match(APP, /\+/);
  assert.match(APP, /\//);
  assert.deepEqual(parseRegister2(overTheWire(register2({ application: APP, instance: INST }))), { application: APP, instance: INST });
});

const base64Of = (n: number): string => randomBytes(n).toString("base64");
const badValues: [string, string | undefined][] = [
  ["missing", undefined],
  ["empty", ""],
  ["not base64", "this is not base64 at all, not even close!="],
  ["base64 of 31 bytes", base64Of(31)],
  ["base64 of 33 bytes", base64Of(33)],
  ["base64url instead of standard base64", Buffer.from(APP, "base64").toString("base64url") + "="],
  ["standard base64 without its padding", INST.replace(/=+$/, "")],
  ["base64 of 32 bytes with surrounding whitespace", ` ${INST}`],
];
for (const attr of ["application", "instance"] as const) {
  for (const [what, value] of badValues) {
    test(`dialect 2 parseRegister2 refuses an ${attr} that is ${what}, naming the attribute`, () => {
      const attrs = { application: APP, instance: INST, [attr]: value };
      const r = parseRegister2(register2(attrs));
      assert.ok("error" in r, `expected a refusal, got ${JSON.stringify(r)}`);
      assert.match(r.error, new RegExp(`\\b${attr}\\b`));
    });
  }
}

test("the test's bad values really are what their names say", () => {
  assert.equal(Buffer.from(base64Of(31), "base64").length, 31);
  assert.equal(Buffer.from(base64Of(33), "base64").length, 33);
  assert.match(Buffer.from(APP, "base64").toString("base64url"), /[-_]/);
  assert.equal(INST.length, 44);
});

test("dialect 2 registered carries endpoint and a UTC expiration ending in Z that parses back to the same instant", () => {
  const expiresAt = Date.UTC(2026, 11, 1, 12, 54, 54, 36);
  const el = overTheWire(registered2("https://up.example.org/up/ENDPOINT_TOKEN", expiresAt));
  assert.equal(el.name, "registered");
  assert.equal(el.attrs.xmlns, NS_CONV);
  assert.equal(el.attrs.endpoint, "https://up.example.org/up/ENDPOINT_TOKEN");
  assert.equal(el.attrs.expiration, "2026-12-01T12:54:54.036Z");
  assert.equal(Date.parse(el.attrs.expiration!), expiresAt);
});

test("a dialect 2 push IQ carries single-line base64 of the exact bytes and echoes the attributes byte for byte", () => {
  const payload = randomBytes(4096);
  const el = pushIq("up.example.org", "juliet@example.com/Conversations.r4nD", "p1", { application: APP, instance: INST }, payload);
  const iq = overTheWire(el);
  assert.deepEqual(iq.attrs, { type: "set", from: "up.example.org", to: "juliet@example.com/Conversations.r4nD", id: "p1" });
  const push = iq.getChild("push", NS_CONV);
  assert.ok(push);
  assert.equal(push.attrs.application, APP);
  assert.equal(push.attrs.instance, INST);
  const text = push.getText();
  assert.doesNotMatch(text, /\s/);
  assert.match(text, /^[A-Za-z0-9+/]+={0,2}$/);
  assert.deepEqual(Buffer.from(text, "base64"), payload);
});

test("a dialect 2 push IQ of text is still base64, with padding", () => {
  const push = pushIq("c", "j", "p2", { application: APP, instance: INST }, Buffer.from("title=Test")).getChild("push");
  assert.equal(push?.getText(), "dGl0bGU9VGVzdA==");
});

// errors

test("errorCondition reads the defined condition from a real error IQ, text after it or before it", () => {
  const a = parseXml(
    `<iq type="error" id="p1" from="j@example.com/r"><push xmlns="${NS_CONV}"/><error type="cancel"><item-not-found xmlns="${NS_STANZAS}"/><text xmlns="${NS_STANZAS}">app uninstalled</text></error></iq>`,
  );
  assert.equal(errorCondition(a), "item-not-found");
  const b = parseXml(
    `<iq type="error" id="p2"><error type="wait"><text xmlns="${NS_STANZAS}">busy</text><resource-constraint xmlns="${NS_STANZAS}"/></error></iq>`,
  );
  assert.equal(errorCondition(b), "resource-constraint");
});

test("errorCondition ignores application-specific conditions in other namespaces", () => {
  const iq = parseXml(
    `<iq type="error" id="p3"><error type="cancel"><gone xmlns="urn:example:app"/><feature-not-implemented xmlns="${NS_STANZAS}"/></error></iq>`,
  );
  assert.equal(errorCondition(iq), "feature-not-implemented");
});

test("errorCondition answers undefined-condition when there is no error or no defined condition", () => {
  assert.equal(errorCondition(parseXml(`<iq type="error" id="p4"/>`)), "undefined-condition");
  assert.equal(errorCondition(parseXml(`<iq type="error" id="p5"><error type="cancel"><oops xmlns="urn:x"/></error></iq>`)), "undefined-condition");
});

test("stanzaError builds an RFC 6120 error with the condition in the stanzas namespace, and text only when given", () => {
  assert.deepEqual(errorParts(overTheWire(stanzaError("wait", "resource-constraint", "at most 3"))), {
    type: "wait", condition: "resource-constraint", conditionNs: NS_STANZAS, text: "at most 3",
  });
  const bare = overTheWire(stanzaError("auth", "forbidden"));
  assert.equal(bare.getChildElements().length, 1);
  assert.equal(errorParts(bare).text, null);
});

// disco

test("disco#info advertises both dialects, ping and disco, with a push identity", () => {
  const q = overTheWire(discoInfo());
  assert.equal(q.name, "query");
  assert.equal(q.attrs.xmlns, NS_DISCO_INFO);
  const features = q.getChildren("feature").map((f) => f.attrs.var).sort();
  assert.deepEqual(features, [NS_CONV, NS_DISCO_INFO, NS_UP, NS_PING].sort());
  const id = q.getChild("identity");
  assert.deepEqual(id?.attrs, { category: "pubsub", type: "push", name: "UnifiedPush" });
});

test("ping builds an XEP-0199 get IQ", () => {
  const iq = overTheWire(ping("up.example.org", "up.example.org", "k1"));
  assert.deepEqual(iq.attrs, { type: "get", to: "up.example.org", from: "up.example.org", id: "k1" });
  assert.equal(iq.getChild("ping")?.attrs.xmlns, NS_PING);
});
