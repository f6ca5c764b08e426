// Bounced dialect-1 notifications: which registrations a bounce is about, and when it kills them.
import { afterEach, beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import { BounceHandler, bounceTargets, parseBounce } from "../../src/bounce/handler.ts";
import { GRACE_MS, judgeBounce, Outstanding, RUN_MS } from "../../src/bounce/run.ts";
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
  handler = new BounceHandler({
    byBare: f.store.byBare,
    revoke: (e) => f.registry.revoke(e),
    setBounceSince: (id, since) => f.store.setBounceSince(id, since),
    now: () => f.clock.t,
    log: createLogger("silent"),
  });
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

const DAY = 86_400_000;
const reg1 = (endpoint: string) => f.store.byEndpoint(endpoint)!;

test("the rule: a run starts with a bounce, goes on while nothing went unbounced, and revokes after 7 days", () => {
  assert.deepEqual(judgeBounce(null, false, 1000), { since: 1000, revoke: false });
  assert.deepEqual(judgeBounce(1000, false, 1000 + RUN_MS - 1), { since: 1000, revoke: false });
  assert.deepEqual(judgeBounce(1000, false, 1000 + RUN_MS), { since: 1000, revoke: true });
  assert.deepEqual(judgeBounce(1000, true, 1000 + RUN_MS), { since: 1000 + RUN_MS, revoke: false }, "an unbounced notification ended the old run");
});

test("outstanding notifications: a bounce takes the oldest; one left unbounced past the grace counts as delivered", () => {
  const o = new Outstanding({ registrations: 2, perRegistration: 3 });
  o.sent(1, 0);
  o.sent(1, 10);
  o.bounced(1);
  assert.equal(o.settle(1, 10 + GRACE_MS), false, "the second is still within the grace");
  assert.equal(o.settle(1, 11 + GRACE_MS), true);
  assert.equal(o.size, 0);
  for (const r of [1, 2, 3]) o.sent(r, 0);
  assert.equal(o.size, 2, "bounded");
});

test("one bounce saying the user cannot be reached does not revoke: RFC 6121 says the same for an offline user without offline storage", () => {
  const endpoint = d1("a@example.org/phone", "t1");
  handler.handle(parseXml(bounce("a@example.org/phone", "remote-server-timeout")));
  assert.equal(reg1(endpoint).bounce_since, null, "other conditions only count");
  handler.handle(parseXml(bounce("a@example.org/phone", "service-unavailable", "t1")));
  assert.ok(f.registry.lookup(endpoint));
  assert.equal(reg1(endpoint).bounce_since, f.clock.t);
  assert.deepEqual([handler.bounced, handler.revoked], [2, 0]);
});

test("a registration whose every notification bounced for 7 days is revoked", () => {
  const endpoint = d1("a@example.org/phone", "t1");
  for (let day = 0; day <= 7; day++) {
    assert.ok(f.registry.lookup(endpoint), `still live on day ${day}`);
    handler.sent(reg1(endpoint));
    handler.handle(parseXml(bounce("a@example.org/phone", "service-unavailable", "t1")));
    f.clock.t += DAY;
  }
  assert.equal(f.registry.lookup(endpoint), undefined);
  assert.equal(handler.revoked, 1);
});

test("a notification that did not bounce ends the run: the next bounce starts a new one", () => {
  const endpoint = d1("a@example.org/phone", "t1");
  handler.sent(reg1(endpoint));
  handler.handle(parseXml(bounce("a@example.org/phone", "service-unavailable", "t1")));
  const start = f.clock.t;
  f.clock.t += 3 * DAY;
  handler.sent(reg1(endpoint)); // delivered: the user was online
  f.clock.t += 5 * DAY;
  handler.sent(reg1(endpoint)); // the previous one never bounced: the run ends here
  assert.equal(reg1(endpoint).bounce_since, null);
  handler.handle(parseXml(bounce("a@example.org/phone", "service-unavailable", "t1")));
  assert.ok(f.registry.lookup(endpoint), `8 days after ${start}, but not 7 days of bounces`);
  assert.equal(reg1(endpoint).bounce_since, f.clock.t);
});

test("an unbounced notification ends the run even when the next thing heard is a bounce", () => {
  const endpoint = d1("a@example.org/phone", "t1");
  handler.sent(reg1(endpoint));
  handler.handle(parseXml(bounce("a@example.org/phone", "service-unavailable", "t1")));
  f.clock.t += DAY;
  handler.sent(reg1(endpoint)); // delivered
  f.clock.t += 7 * DAY;
  handler.handle(parseXml(bounce("a@example.org/phone", "service-unavailable", "t1"))); // say, for one sent before a restart
  assert.ok(f.registry.lookup(endpoint));
  assert.equal(reg1(endpoint).bounce_since, f.clock.t, "a new run starts");
});

test("registering again ends the run", () => {
  const endpoint = d1("a@example.org/phone", "t1");
  handler.handle(parseXml(bounce("a@example.org/phone", "service-unavailable", "t1")));
  f.clock.t += 6 * DAY;
  d1("a@example.org/phone", "t1");
  assert.equal(reg1(endpoint).bounce_since, null);
  f.clock.t += 2 * DAY;
  handler.handle(parseXml(bounce("a@example.org/phone", "service-unavailable", "t1")));
  assert.ok(f.registry.lookup(endpoint));
});

test("a bounce never touches Conversations-dialect registrations of the same JID", () => {
  const r = f.registry.register2("a@example.org/phone", "bK3sdmrbtj3bf6XA2S12b8jJUA5TT1dhPEyeoZfVSRM=", "EtD/1XPLmoIph7W73CZ/uyv6FAnhEAXY1GySHX17vAw=");
  assert.ok(r.ok);
  handler.handle(parseXml(bounce("a@example.org/phone", "item-not-found")));
  assert.ok(f.registry.lookup(r.reg.endpoint));
});
