// A standby hands its pushes to the link holder (docs/high-availability.md,
// "How a standby hands a push over"), against a real PostgreSQL and real
// HTTP servers on port 0: the hop carries the message and brings back the
// holder's outcome; without a holder, or when the hop fails or hangs, the
// standby keeps what may wait in the shared queue and answers within
// answer_within + 1 s. Where the holder is: link-holder.test.ts.
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { createServer, type Server } from "node:http";
import { after, before, test, type TestContext } from "node:test";
import Koa from "koa";
import Router from "@koa/router";
import { Handoff } from "../../src/cluster/handoff.ts";
import { HopClient } from "../../src/cluster/hop.ts";
import { hopToken } from "../../src/cluster/hop-wire.ts";
import { internalRoutes } from "../../src/http/internal-route.ts";
import { createLogger, type Logger } from "../../src/log.ts";
import { RETRY_AFTER, type PushOutcome } from "../../src/outcomes.ts";
import type { PushMessage } from "../../src/push.ts";
import { openPgStore, type PgStore } from "../../src/store/pg/index.ts";
import type { Dialect, Registration } from "../../src/store/store.ts";
import { freePort } from "../harness/ports.ts";
import { type Postgres, startPostgres } from "../harness/postgres.ts";

const SECRET = "the-component-secret-every-instance-shares";
const POLICY = { defaultTtl: 3600, maxTtl: 86400, maxPerRegistration: 10 };
const ANSWER_WITHIN_MS = 400;

let server: Postgres;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server.stop();
});

/** A logger whose every line is kept, so a test can say what was never logged. */
function capture(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: createLogger("debug", { write: (s: string) => void lines.push(s) }), lines };
}

async function store(t: TestContext): Promise<{ s: PgStore; url: string }> {
  const url = await server.createSchema();
  const s = await openPgStore({ url });
  t.after(() => s.close());
  return { s, url };
}

let minted = 0;
async function register(s: PgStore, dialect: Dialect = 2): Promise<Registration> {
  const n = ++minted;
  const r = await s.registrations.upsert({
    dialect,
    jid: `u${n}@example.org/phone`,
    bare: `u${n}@example.org`,
    key: dialect === 1 ? { token: "t", application: null, instance: null } : { token: null, application: "app", instance: "i" },
    now: Date.now(),
    expiresAt: dialect === 1 ? null : Date.now() + 3_600_000,
    maxPerAccount: 10,
    mint: () => `E${String(n).padStart(31, "0")}`,
  });
  assert.ok(r.ok);
  return r.reg;
}

/** A holder's HTTP side: Koa with the internal route, its push a plain function the test controls. */
async function holder(
  t: TestContext,
  push: (endpoint: string, msg: PushMessage) => Promise<PushOutcome>,
  o: { secret?: string; isHolder?: () => boolean; log?: Logger } = {},
): Promise<{ address: string; http: Server }> {
  const app = new Koa();
  const router = new Router();
  internalRoutes(router, { secret: o.secret ?? SECRET, push, log: o.log ?? createLogger("silent"), ...(o.isHolder && { isHolder: o.isHolder }) });
  app.use(router.routes()).use(router.allowedMethods());
  const http = createServer(app.callback());
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => (http.closeAllConnections(), http.close(() => r()))));
  return { address: `127.0.0.1:${(http.address() as AddressInfo).port}`, http };
}

function hopClient(t: TestContext, secret = SECRET, log: Logger = createLogger("silent")): HopClient {
  const c = new HopClient({ secret, log });
  t.after(() => c.close());
  return c;
}

function handoff(s: PgStore, address: () => string | undefined, c: HopClient, hopFailed?: () => void): Handoff {
  return new Handoff({
    holder: address,
    forward: c.forward,
    store: s,
    policy: POLICY,
    answerWithinMs: ANSWER_WITHIN_MS,
    now: Date.now,
    log: createLogger("silent"),
    ...(hopFailed && { hopFailed }),
  });
}

const message = (over: Partial<PushMessage> = {}): PushMessage => ({
  payload: Buffer.from("hello"),
  id: "AbCdEfGhIjKlMnOpQrStUv",
  ttl: 60,
  urgency: "high",
  topic: "news",
  contentEncoding: "aes128gcm",
  vapidKey: "BPublicKey_-",
  ...over,
});

test("the hop brings each of the holder's outcomes back to the standby as is, with the message's fields", async (t) => {
  const { s } = await store(t);
  const reg = await register(s);
  const got: { endpoint: string; msg: PushMessage }[] = [];
  let answer: PushOutcome = { kind: "delivered" };
  const h = await holder(t, async (endpoint, msg) => (got.push({ endpoint, msg }), answer));
  const { log, lines } = capture();
  const c = hopClient(t, SECRET, log);
  const standby = handoff(s, () => h.address, c);

  const outcomes: PushOutcome[] = [{ kind: "delivered" }, { kind: "queued", ttl: 60 }, { kind: "gone" }, { kind: "unavailable", retryAfter: 30 }, { kind: "sent" }];
  for (const o of outcomes) {
    answer = o;
    assert.deepEqual(await standby.push(reg.endpoint, message()), o);
  }
  assert.equal(got.length, outcomes.length);
  assert.equal(got[0]!.endpoint, reg.endpoint);
  assert.deepEqual(got[0]!.msg, message());
  const bare = await c.forward(h.address, reg.endpoint, { payload: Buffer.from([0, 255, 1]) }, 2_000);
  assert.deepEqual(bare, { kind: "sent" });
  assert.deepEqual(got.at(-1)!.msg, { payload: Buffer.from([0, 255, 1]) }); // no TTL: the holder applies default_ttl
  assert.equal(await s.queue.count(reg.id, Date.now()), 0, "the holder took every one: nothing kept by the standby");
  assert.ok(!lines.join("").includes(SECRET));
});

test("an unknown endpoint is gone without a hop", async (t) => {
  const { s } = await store(t);
  let called = 0;
  const h = await holder(t, async () => (called++, { kind: "delivered" }));
  const standby = handoff(s, () => h.address, hopClient(t));
  assert.deepEqual(await standby.push("E".repeat(32), message()), { kind: "gone" });
  assert.equal(called, 0);
});

test("a wrong secret gets 403 with no detail, and the hop fails without the holder pushing", async (t) => {
  const { s } = await store(t);
  const reg = await register(s);
  let called = 0;
  const { log, lines } = capture();
  const h = await holder(t, async () => (called++, { kind: "delivered" }), { log });
  const res = await fetch(`http://${h.address}/internal/push/${reg.endpoint}`, {
    method: "POST",
    headers: { authorization: `Bearer ${hopToken("another secret")}` },
    body: "hello",
  });
  assert.equal(res.status, 403);
  assert.deepEqual(await res.json(), { error: "forbidden" });
  const none = await fetch(`http://${h.address}/internal/push/${reg.endpoint}`, { method: "POST", body: "hello" });
  assert.equal(none.status, 403);
  assert.equal(await hopClient(t, "another secret").forward(h.address, reg.endpoint, message(), 2_000), undefined);
  assert.equal(called, 0);
  assert.ok(!lines.join("").includes(SECRET) && !lines.join("").includes(hopToken(SECRET)), "neither the secret nor the token is logged");
  // and the standby with the wrong secret keeps the message itself
  const standby = handoff(s, () => h.address, hopClient(t, "another secret"));
  assert.deepEqual(await standby.push(reg.endpoint, message()), { kind: "queued", ttl: 60 });
});

test("with the holder down, the standby keeps a message with a TTL in the shared queue, and answers 503 for TTL 0", async (t) => {
  const { s } = await store(t);
  const reg = await register(s);
  const closed = `127.0.0.1:${await freePort()}`; // nothing listens there
  let refreshed = 0;
  const standby = handoff(s, () => closed, hopClient(t), () => refreshed++);

  assert.deepEqual(await standby.push(reg.endpoint, message({ ttl: 120 })), { kind: "queued", ttl: 120 });
  assert.equal(refreshed, 1, "a failed hop makes the watcher re-read");
  const head = await s.queue.head(reg.id, Date.now());
  assert.ok(head);
  assert.equal(head.payload.toString(), "hello");
  assert.equal(head.ttl, 120);
  assert.equal(head.topic, "news");
  assert.equal(head.urgency, "high");
  assert.equal(head.content_encoding, "aes128gcm");
  assert.equal(head.vapid_key, "BPublicKey_-");
  assert.equal(head.public_id, "AbCdEfGhIjKlMnOpQrStUv");
  assert.equal(head.endpoint, reg.endpoint);

  assert.deepEqual(await standby.push(reg.endpoint, message({ ttl: 0, topic: "other", id: "BbCdEfGhIjKlMnOpQrStUv" })), { kind: "unavailable", retryAfter: RETRY_AFTER.linkDown });
  assert.equal(await s.queue.count(reg.id, Date.now()), 1, "TTL 0 is never kept");
  // a sender without TTL gets default_ttl, capped by max_ttl
  assert.deepEqual(await standby.push(reg.endpoint, message({ ttl: undefined, topic: undefined, id: "CbCdEfGhIjKlMnOpQrStUv" })), { kind: "queued", ttl: POLICY.defaultTtl });
  assert.deepEqual(await standby.push(reg.endpoint, message({ ttl: 10 ** 9, topic: undefined, id: "DbCdEfGhIjKlMnOpQrStUv" })), { kind: "queued", ttl: POLICY.maxTtl });
});

test("with no holder known the standby keeps the message; a full queue is 429, and a dialect-1 registration is 503", async (t) => {
  const { s } = await store(t);
  const reg = await register(s);
  const standby = handoff(s, () => undefined, hopClient(t));
  for (let i = 0; i < POLICY.maxPerRegistration; i++) {
    assert.deepEqual(await standby.push(reg.endpoint, message({ topic: undefined, id: undefined })), { kind: "queued", ttl: 60 });
  }
  assert.equal((await standby.push(reg.endpoint, message({ topic: undefined, id: undefined }))).kind, "queue-full");
  const d1 = await register(s, 1);
  assert.deepEqual(await standby.push(d1.endpoint, message()), { kind: "unavailable", retryAfter: RETRY_AFTER.linkDown });
  assert.equal(await s.queue.count(d1.id, Date.now()), 0);
});

test("a dialect-1 push is handed over like any other while the holder answers", async (t) => {
  const { s } = await store(t);
  const d1 = await register(s, 1);
  const h = await holder(t, async () => ({ kind: "delivered" }));
  assert.deepEqual(await handoff(s, () => h.address, hopClient(t)).push(d1.endpoint, message()), { kind: "delivered" });
});

test("an instance that is no longer the holder answers 421, and the standby keeps the message itself", async (t) => {
  const { s } = await store(t);
  const reg = await register(s);
  let called = 0;
  const h = await holder(t, async () => (called++, { kind: "delivered" }), { isHolder: () => false });
  assert.deepEqual(await handoff(s, () => h.address, hopClient(t)).push(reg.endpoint, message()), { kind: "queued", ttl: 60 });
  assert.equal(called, 0);
  assert.equal(await s.queue.count(reg.id, Date.now()), 1);
});

/** Resolves only when the test ends: a holder whose push waits on it never answers meanwhile. */
function hanging(t: TestContext): Promise<void> {
  let release!: () => void;
  const hung = new Promise<void>((r) => (release = r));
  t.after(() => release());
  return hung;
}

test("a holder that hangs past the timeout: the standby answers within answer_within + 1 s and keeps the message", async (t) => {
  const { s } = await store(t);
  const reg = await register(s);
  const hung = hanging(t);
  const h = await holder(t, async () => (await hung, { kind: "delivered" }));
  const standby = handoff(s, () => h.address, hopClient(t));
  const started = Date.now();
  assert.deepEqual(await standby.push(reg.endpoint, message()), { kind: "queued", ttl: 60 });
  const took = Date.now() - started;
  assert.ok(took >= ANSWER_WITHIN_MS, `${took} ms: it waited for the holder first`);
  assert.ok(took < ANSWER_WITHIN_MS + 1_000, `${took} ms`);
  t.diagnostic(`answered after ${took} ms (answer_within ${ANSWER_WITHIN_MS} ms)`);
  assert.equal(await s.queue.count(reg.id, Date.now()), 1);
});

test("a holder that dies mid-request fails the hop at once, and the standby keeps the message", async (t) => {
  const { s } = await store(t);
  const reg = await register(s);
  const hung = hanging(t);
  let arrived!: () => void;
  const inFlight = new Promise<void>((r) => (arrived = r));
  const h = await holder(t, async () => (arrived(), await hung, { kind: "delivered" }));
  const standby = handoff(s, () => h.address, hopClient(t));
  const started = Date.now();
  const answer = standby.push(reg.endpoint, message());
  await inFlight;
  h.http.closeAllConnections(); // as a holder's process dying: its sockets close
  assert.deepEqual(await answer, { kind: "queued", ttl: 60 });
  assert.ok(Date.now() - started < ANSWER_WITHIN_MS, "no wait for the timeout");
});

test("when the database cannot answer the lookup, the push is still handed over; without a holder it is not kept (503)", async (t) => {
  const s = await openPgStore({ url: await server.createSchema() }); // closed below, as a database that went away
  const reg = await register(s);
  const h = await holder(t, async () => ({ kind: "delivered" }));
  const c = hopClient(t);
  const outcomes: string[] = [];
  const standby = new Handoff({
    holder: () => h.address,
    forward: c.forward,
    store: s,
    policy: POLICY,
    answerWithinMs: ANSWER_WITHIN_MS,
    now: Date.now,
    log: createLogger("silent"),
    onOutcome: (o) => outcomes.push(o.kind),
  });
  await s.close(); // every query rejects from now on; the listener is off, so no cache answers
  assert.deepEqual(await standby.push(reg.endpoint, message()), { kind: "delivered" });
  const alone = new Handoff({ holder: () => undefined, forward: c.forward, store: s, policy: POLICY, answerWithinMs: ANSWER_WITHIN_MS, now: Date.now, log: createLogger("silent") });
  assert.deepEqual(await alone.push(reg.endpoint, message()), { kind: "store-failed", retryAfter: RETRY_AFTER.storeFailed });
  assert.deepEqual(outcomes, ["delivered"]);
});

test("after a failed hop the standby skips that holder for a second rather than waiting for it on every push, then tries it again", async (t) => {
  const { s } = await store(t);
  const reg = await register(s);
  let calls = 0;
  let hang = true;
  let release!: () => void;
  const hung = new Promise<void>((r) => (release = r));
  t.after(() => release());
  const h = await holder(t, async () => (calls++, hang && (await hung), { kind: "delivered" }));
  const next = await holder(t, async () => ({ kind: "queued", ttl: 7 }));
  let address = h.address;
  const standby = handoff(s, () => address, hopClient(t));
  assert.deepEqual(await standby.push(reg.endpoint, message({ topic: undefined, id: undefined })), { kind: "queued", ttl: 60 });
  const started = Date.now();
  assert.deepEqual(await standby.push(reg.endpoint, message({ topic: undefined, id: undefined })), { kind: "queued", ttl: 60 });
  assert.ok(Date.now() - started < ANSWER_WITHIN_MS, "no second wait for the timeout");
  assert.equal(calls, 1);
  address = next.address; // a new holder announced: no reason to wait
  assert.deepEqual(await standby.push(reg.endpoint, message({ topic: undefined, id: undefined })), { kind: "queued", ttl: 7 });
  address = h.address;
  hang = false;
  await new Promise((r) => setTimeout(r, 1_100));
  assert.deepEqual(await standby.push(reg.endpoint, message({ topic: undefined, id: undefined })), { kind: "delivered" });
  assert.deepEqual(await standby.push(reg.endpoint, message({ topic: undefined, id: undefined })), { kind: "delivered" });
  assert.equal(calls, 3);
  assert.equal(await s.queue.count(reg.id, Date.now()), 2);
});
