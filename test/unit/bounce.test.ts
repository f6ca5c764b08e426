// Bounced dialect-1 notifications: which registrations a bounce is about, and when it kills them.
import { afterEach, beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import { BounceHandler, bounceTargets, parseBounce } from "../../src/bounce.ts";
import { createLogger } from "../../src/log.ts";
import { parseXml } from "./_xml.ts";
import { fixture, type Fixture } from "./_db.ts";

const bounce = (from: string, condition: string, subject?: string): string =>
  `<message type="error" from="${from}" to="up.example.org" id="m1">${subject ? `<subject>${subject}</subject>` : ""}` +
  `<error type="cancel"><${condition} xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></message>`;

test("a bounce names the JID it was for, its condition and the echoed token", () => {
  assert.deepEqual(parseBounce(parseXml(bounce("a@example.org/phone", "item-not-found", "tok"))), {
    jid: "a@example.org/phone", condition: "item-not-found", token: "tok",
  });
  assert.equal(parseBounce(parseXml(bounce("a@example.org/phone", "service-unavailable")))!.token, undefined);
});

let f: Fixture;
let handler: BounceHandler;
beforeEach(() => {
  f = fixture();
  handler = new BounceHandler({ byBare: f.store.byBare, revoke: (e) => f.registry.revoke(e), log: createLogger("silent") });
});
afterEach(() => f.close());

function d1(from: string, token: string): string {
  const r = f.registry.register1(from, token);
  assert.ok(r.ok);
  return r.reg.endpoint;
}

test("without an echoed token, a bounce matches the dialect-1 registrations pushed to that JID only", () => {
  const phone = d1("a@example.org/phone", "t1");
  d1("a@example.org/laptop", "t2");
  const targets = bounceTargets({ jid: "a@example.org/phone", condition: "service-unavailable", token: undefined }, f.store.byBare("a@example.org"));
  assert.deepEqual(targets.map((r) => r.endpoint), [phone]);
});

test("a bounce saying the user does not exist revokes the registration; another condition only counts", () => {
  const endpoint = d1("a@example.org/phone", "t1");
  handler.handle(parseXml(bounce("a@example.org/phone", "remote-server-timeout")));
  assert.ok(f.registry.lookup(endpoint));
  handler.handle(parseXml(bounce("a@example.org/phone", "service-unavailable", "t1")));
  assert.equal(f.registry.lookup(endpoint), undefined);
  assert.deepEqual([handler.bounced, handler.revoked], [2, 1]);
});

test("a bounce never touches Conversations-dialect registrations of the same JID", () => {
  const r = f.registry.register2("a@example.org/phone", "bK3sdmrbtj3bf6XA2S12b8jJUA5TT1dhPEyeoZfVSRM=", "EtD/1XPLmoIph7W73CZ/uyv6FAnhEAXY1GySHX17vAw=");
  assert.ok(r.ok);
  handler.handle(parseXml(bounce("a@example.org/phone", "item-not-found")));
  assert.ok(f.registry.lookup(r.reg.endpoint));
});
