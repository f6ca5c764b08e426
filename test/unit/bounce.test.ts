// Bounced dialect-1 notifications: which registrations a bounce is about, and when it kills them.
import { afterEach, beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import { BounceHandler, parseBounce } from "../../src/bounce/handler.ts";
import { GRACE_MS, judgeBounce, Outstanding, RUN_MS } from "../../src/bounce/run.ts";
import type { Registration } from "../../src/store/registrations.ts";
import { createLogger } from "../../src/log.ts";
import { parseXml } from "./_xml.ts";
import { fixture, type Fixture } from "./_db.ts";

const bounce = (from: string, condition: string, id = "m1", subject?: string): string =>
  `<message type="error" from="${from}" to="up.example.org" id="${id}">${subject ? `<subject>${subject}</subject>` : ""}` +
  `<error type="cancel"><${condition} xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></message>`;

test("a bounce names the stanza id it was for, the JID and its condition", () => {
  assert.deepEqual(parseBounce(parseXml(bounce("a@example.org/phone", "item-not-found", "n7", "tok"))), {
    id: "n7", jid: "a@example.org/phone", condition: "item-not-found",
  });
});

let f: Fixture;
let handler: BounceHandler;
const newHandler = (): BounceHandler =>
  new BounceHandler({
    byBare: f.sqlite.registrations.byBare,
    revoke: (e) => f.registry.revoke(e),
    setBounceSince: (id, since) => f.sqlite.registrations.setBounceSince(id, since),
    now: () => f.clock.t,
    log: createLogger("silent"),
  });
beforeEach(() => {
  f = fixture();
  handler = newHandler();
});
afterEach(() => f.close());

async function d1(from: string, token: string): Promise<string> {
  const r = await f.registry.register1(from, token);
  assert.ok(r.ok);
  return r.reg.endpoint;
}

const DAY = 86_400_000;
const reg1 = (endpoint: string): Registration => f.store.byEndpoint(endpoint)!;
let ids = 0;
/** A notification goes out to the registration and the server bounces it with `condition` (as Prosody does: id kept, no subject). */
async function bounced(h: BounceHandler, endpoint: string, condition = "service-unavailable"): Promise<void> {
  const id = `n${++ids}`;
  h.sent(reg1(endpoint), id);
  await h.handle(parseXml(bounce(reg1(endpoint).jid, condition, id)));
}
function delivered(h: BounceHandler, endpoint: string): void {
  h.sent(reg1(endpoint), `n${++ids}`);
}

test("the rule: a run starts with a bounce, goes on, and revokes after 7 days", () => {
  assert.deepEqual(judgeBounce(null, 1000), { since: 1000, revoke: false });
  assert.deepEqual(judgeBounce(1000, 1000 + RUN_MS - 1), { since: 1000, revoke: false });
  assert.deepEqual(judgeBounce(1000, 1000 + RUN_MS), { since: 1000, revoke: true });
});

test("outstanding notifications: a bounce takes its own by id; those past the grace come out in send order, once", () => {
  const o = new Outstanding(2);
  o.sent("a", { reg: 1, jid: "x@y/z", at: 0 });
  o.sent("b", { reg: 1, jid: "x@y/z", at: 10 });
  assert.equal(o.take("b")?.at, 10);
  assert.equal(o.take("b"), undefined);
  assert.deepEqual(o.expired(GRACE_MS, GRACE_MS), [], "still within the grace");
  assert.deepEqual(o.expired(GRACE_MS + 1, GRACE_MS).map((n) => n.at), [0]);
  for (const id of ["c", "d", "e"]) o.sent(id, { reg: 2, jid: "x@y/z", at: 0 });
  assert.equal(o.size, 2, "bounded");
});

test("one bounce saying the user cannot be reached does not revoke: RFC 6121 says the same for an offline user without offline storage", async () => {
  const endpoint = await d1("a@example.org/phone", "t1");
  await bounced(handler, endpoint, "remote-server-timeout");
  assert.equal(reg1(endpoint).bounce_since, null, "other conditions only count");
  await bounced(handler, endpoint);
  assert.ok(await f.registry.lookup(endpoint));
  assert.equal(reg1(endpoint).bounce_since, f.clock.t);
  assert.deepEqual([handler.bounced, handler.revoked], [2, 0]);
});

test("two apps on one device: a bounce without <subject> (Prosody) counts only for the app whose notification it was", async () => {
  const notified = await d1("a@example.org/phone", "t1");
  const other = await d1("a@example.org/phone", "t2"); // never notified
  for (let day = 0; day <= 7; day++) {
    await bounced(handler, notified);
    f.clock.t += DAY;
  }
  assert.equal(await f.registry.lookup(notified), undefined, "every notification bounced for 7 days");
  assert.equal(reg1(other).bounce_since, null, "the other app never got a run");
  assert.ok(await f.registry.lookup(other));
});

test("a bounce with no outstanding notification (unknown id, or from another account) starts no run", async () => {
  const endpoint = await d1("a@example.org/phone", "t1");
  await handler.handle(parseXml(bounce("a@example.org/phone", "service-unavailable", "never-sent")));
  handler.sent(reg1(endpoint), "n-forged");
  await handler.handle(parseXml(bounce("mallory@example.org/x", "service-unavailable", "n-forged")));
  assert.equal(reg1(endpoint).bounce_since, null);
});

test("a registration whose every notification bounced for 7 days is revoked", async () => {
  const endpoint = await d1("a@example.org/phone", "t1");
  for (let day = 0; day <= 7; day++) {
    assert.ok(await f.registry.lookup(endpoint), `still live on day ${day}`);
    await bounced(handler, endpoint);
    f.clock.t += DAY;
  }
  assert.equal(await f.registry.lookup(endpoint), undefined);
  assert.equal(handler.revoked, 1);
});

test("a notification that did not bounce ends the run: the next bounce starts a new one", async () => {
  const endpoint = await d1("a@example.org/phone", "t1");
  await bounced(handler, endpoint);
  f.clock.t += 3 * DAY;
  delivered(handler, endpoint); // the user was online
  f.clock.t += 5 * DAY;
  await bounced(handler, endpoint);
  assert.ok(await f.registry.lookup(endpoint), "8 days after the first bounce, but not 7 days of bounces");
  assert.equal(reg1(endpoint).bounce_since, f.clock.t);
});

test("the sweep writes the end of a run once a notification passed the grace unbounced", async () => {
  const endpoint = await d1("a@example.org/phone", "t1");
  await bounced(handler, endpoint);
  f.clock.t += DAY;
  delivered(handler, endpoint);
  await handler.sweep();
  assert.notEqual(reg1(endpoint).bounce_since, null, "within the grace nothing is known yet");
  f.clock.t += GRACE_MS + 1;
  await handler.sweep();
  assert.equal(reg1(endpoint).bounce_since, null);
});

test("restart after a delivery: no revoke (bounce day 0, delivered day 3, restart, bounce day 8)", async () => {
  const endpoint = await d1("a@example.org/phone", "t1");
  await bounced(handler, endpoint);
  f.clock.t += 3 * DAY;
  delivered(handler, endpoint);
  f.clock.t += 2 * GRACE_MS;
  await handler.sweep(); // app.ts runs it every minute
  const restarted = newHandler();
  f.clock.t += 5 * DAY;
  await bounced(restarted, endpoint);
  assert.ok(await f.registry.lookup(endpoint));
  assert.equal(reg1(endpoint).bounce_since, f.clock.t, "a new run starts");
});

test("a run from before a restart goes on, and a later unbounced notification still ends it", async () => {
  const endpoint = await d1("a@example.org/phone", "t1");
  await bounced(handler, endpoint);
  const since = reg1(endpoint).bounce_since;
  const restarted = newHandler();
  f.clock.t += DAY;
  await bounced(restarted, endpoint);
  assert.equal(reg1(endpoint).bounce_since, since);
  f.clock.t += 1000;
  delivered(restarted, endpoint);
  f.clock.t += GRACE_MS + 1;
  await restarted.sweep();
  assert.equal(reg1(endpoint).bounce_since, null);
});

test("a notification bounced for another reason (ejabberd's resource-constraint) does not count as delivered", async () => {
  const endpoint = await d1("a@example.org/phone", "t1");
  await bounced(handler, endpoint);
  f.clock.t += DAY;
  await bounced(handler, endpoint, "resource-constraint");
  f.clock.t += GRACE_MS + 1;
  await handler.sweep();
  assert.notEqual(reg1(endpoint).bounce_since, null, "the run goes on");
});

test("registering again ends the run", async () => {
  const endpoint = await d1("a@example.org/phone", "t1");
  await bounced(handler, endpoint);
  f.clock.t += 6 * DAY;
  await d1("a@example.org/phone", "t1");
  assert.equal(reg1(endpoint).bounce_since, null);
  f.clock.t += 2 * DAY;
  await bounced(handler, endpoint);
  assert.ok(await f.registry.lookup(endpoint));
});

test("a grace given in the deps is the one used", async () => {
  const short = new BounceHandler({
    byBare: f.sqlite.registrations.byBare, revoke: (e) => f.registry.revoke(e), setBounceSince: (id, s) => f.sqlite.registrations.setBounceSince(id, s),
    now: () => f.clock.t, log: createLogger("silent"), graceMs: 10,
  });
  const endpoint = await d1("a@example.org/phone", "t1");
  await bounced(short, endpoint);
  f.clock.t += 1;
  delivered(short, endpoint);
  f.clock.t += 11;
  await short.sweep();
  assert.equal(reg1(endpoint).bounce_since, null);
});

test("a bounce never touches Conversations-dialect registrations of the same JID", async () => {
  const r = await f.registry.register2("a@example.org/phone", "bK3sdmrbtj3bf6XA2S12b8jJUA5TT1dhPEyeoZfVSRM=", "EtD/1XPLmoIph7W73CZ/uyv6FAnhEAXY1GySHX17vAw=");
  assert.ok(r.ok);
  await handler.handle(parseXml(bounce("a@example.org/phone", "item-not-found")));
  assert.ok(await f.registry.lookup(r.reg.endpoint));
});
