// The Conversations dialect end to end, with a distributor that follows
// Conversations' rules (hashing, expiration check, push answers).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { after, before, test } from "node:test";
import Database from "better-sqlite3";
import { StanzaError, connectDistributor, type Distributor } from "../harness/distributor.ts";
import { startGateway, type Gateway } from "../harness/gateway.ts";
import { startProsody, type Prosody } from "../harness/prosody.ts";

let prosody: Prosody;
let gateway: Gateway;
let juliet: Distributor;

// One component per gateway: Prosody lets only one connection serve a component domain.
const COMPONENTS = ["up.localhost", "acl.localhost", "cap.localhost"];

before(async () => {
  prosody = await startProsody({ components: COMPONENTS.map((domain) => ({ domain, secret: randomBytes(12).toString("hex") })) });
  gateway = await startGateway(prosody, { push: { timeout: 2 } });
  await gateway.waitHealthy(15_000);
  juliet = await connectDistributor(prosody, { username: "juliet", resource: "Conversations.r4nD" });
});
after(async () => {
  await juliet?.stop();
  await gateway?.cleanup();
  await prosody?.stop();
});

const app = (d: Distributor, pkg: string): [string, string] => [d.hash("account-uuid", pkg), d.hash("account-uuid", pkg, "instance")];
const post = (url: string, body: BodyInit, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(url, { method: "POST", body, headers });

async function withGateway(component: string, overrides: Record<string, Record<string, unknown>>, fn: (g: Gateway) => Promise<void>): Promise<void> {
  const g = await startGateway(prosody, overrides, { component });
  try {
    await g.waitHealthy(15_000);
    await fn(g);
  } finally {
    await g.cleanup();
  }
}

test("register answers an endpoint and a UTC expiration about seven days ahead", async () => {
  const before = Date.now();
  const reg = await juliet.register2(...app(juliet, "org.example.register"));
  assert.match(reg.endpoint, new RegExp(`^${gateway.url}/up/[A-Za-z0-9_-]{32}$`));
  const ahead = reg.expiration.getTime() - before;
  assert.ok(ahead > 7 * 86400_000 - 60_000 && ahead < 7 * 86400_000 + 60_000, `expires ${ahead} ms ahead`);
  const raw = await juliet.register2Raw({ application: app(juliet, "org.example.register")[0], instance: app(juliet, "org.example.register")[1] });
  assert.match(raw.getChild("registered")?.attrs.expiration ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
});

const good = Buffer.alloc(32, 7).toString("base64");
const badAttributes: [string, Record<string, string | undefined>, RegExp][] = [
  ["a missing application", { instance: good }, /application/],
  ["a missing instance", { application: good }, /instance/],
  ["an application that is not base64", { application: "not base64 at all!!", instance: good }, /application/],
  ["an application of 31 bytes", { application: Buffer.alloc(31).toString("base64"), instance: good }, /application/],
  ["an instance of 33 bytes", { application: good, instance: Buffer.alloc(33).toString("base64") }, /instance/],
  ["an instance in base64url", { application: good, instance: Buffer.alloc(32, 0xfb).toString("base64url") + "=" }, /instance/],
  ["an application without padding", { application: good.replace(/=$/, ""), instance: good }, /application/],
];
for (const [what, attrs, names] of badAttributes) {
  test(`register with ${what} is refused with modify/bad-request saying which`, async () => {
    const err = await juliet.register2Raw(attrs).then(
      () => assert.fail("accepted"),
      (e: unknown) => e as StanzaError,
    );
    assert.ok(err instanceof StanzaError);
    assert.equal(err.condition, "bad-request");
    assert.equal(err.type, "modify");
    assert.match(err.text ?? "", names);
  });
}

test("re-registering gives the same endpoint with a later expiration, also from a new resource", async () => {
  const keys = app(juliet, "org.example.stable");
  const first = await juliet.register2(...keys);
  await new Promise((r) => setTimeout(r, 20));
  const again = await juliet.register2(...keys);
  assert.equal(again.endpoint, first.endpoint);
  assert.ok(again.expiration > first.expiration);
  const other = await connectDistributor(prosody, { username: "juliet", resource: "Conversations.n3w" });
  try {
    const moved = await other.register2(...keys);
    assert.equal(moved.endpoint, first.endpoint);
    assert.equal((await post(first.endpoint, "to the new resource")).status, 201);
    const push = await other.waitForPush((p) => p.payload.toString() === "to the new resource");
    assert.equal(push.from, prosody.components[0]!.domain);
  } finally {
    await other.stop();
  }
});

test("another application of the same account gets its own endpoint", async () => {
  const a = await juliet.register2(...app(juliet, "org.example.one"));
  const b = await juliet.register2(...app(juliet, "org.example.two"));
  assert.notEqual(a.endpoint, b.endpoint);
});

test("a binary push arrives byte-exact as single-line base64 with application and instance echoed", async () => {
  const [application, instance] = app(juliet, "org.example.binary");
  const reg = await juliet.register2(application, instance);
  const bytes = randomBytes(4096);
  const res = await post(reg.endpoint, bytes);
  assert.equal(res.status, 201);
  assert.equal(res.headers.get("ttl"), "0");
  assert.ok(res.headers.get("location"));
  const push = await juliet.waitForPush((p) => p.application === application);
  assert.equal(push.instance, instance);
  assert.doesNotMatch(push.base64, /\s/);
  assert.equal(push.base64, bytes.toString("base64"));
  assert.deepEqual(push.payload, bytes);
});

for (const condition of ["item-not-found", "feature-not-implemented"] as const) {
  test(`a push answered ${condition} revokes the endpoint: 404 now and for every later POST`, async () => {
    const keys = app(juliet, `org.example.revoke.${condition}`);
    const reg = await juliet.register2(...keys);
    juliet.pushAnswer = condition;
    try {
      assert.equal((await post(reg.endpoint, "first")).status, 404);
    } finally {
      juliet.pushAnswer = "result";
    }
    const seen = juliet.pushes.length;
    assert.equal((await post(reg.endpoint, "second")).status, 404);
    assert.equal(juliet.pushes.length, seen, "a revoked endpoint is not pushed to");
    const fresh = await juliet.register2(...keys);
    assert.notEqual(fresh.endpoint, reg.endpoint, "re-registering gets a fresh endpoint");
    assert.equal((await post(fresh.endpoint, "third")).status, 201);
  });
}

test("a TTL-0 push answered service-unavailable is a 503 with Retry-After (never a 4xx)", async () => {
  const reg = await juliet.register2(...app(juliet, "org.example.temporary"));
  juliet.pushAnswer = "service-unavailable";
  try {
    const res = await post(reg.endpoint, "answer service-unavailable", { TTL: "0" });
    assert.equal(res.status, 503);
    assert.ok(Number(res.headers.get("retry-after")) > 0);
  } finally {
    juliet.pushAnswer = "result";
  }
  assert.equal((await post(reg.endpoint, "and back", { TTL: "0" })).status, 201);
});

test("a TTL-0 push the distributor does not answer is answered 201 with TTL 0 within answer_within: the IQ went out, nothing is kept", async () => {
  const reg = await juliet.register2(...app(juliet, "org.example.silent"));
  juliet.pushAnswer = "ignore";
  try {
    const started = performance.now();
    const res = await post(reg.endpoint, "unanswered", { TTL: "0" });
    const ms = performance.now() - started;
    assert.equal(res.status, 201);
    assert.equal(res.headers.get("ttl"), "0");
    assert.ok(ms >= 1900 && ms <= 2500, `answered after answer_within (2 s): ${Math.round(ms)} ms`);
    await juliet.waitForPush((p) => p.payload.toString() === "unanswered");
  } finally {
    juliet.pushAnswer = "result";
  }
});

test("a push to an offline distributor is a 503 with Retry-After when it may not be kept (TTL 0)", async () => {
  const romeo = await connectDistributor(prosody, { username: "romeo" });
  const reg = await romeo.register2(...app(romeo, "org.example.offline"));
  await romeo.sendPresence();
  await romeo.stop();
  const res = await post(reg.endpoint, "nobody home", { TTL: "0" });
  assert.equal(res.status, 503);
  assert.ok(Number(res.headers.get("retry-after")) > 0);
});

test("an expired registration answers 404 and registering again gives a new endpoint", async () => {
  // registration_ttl may not go below 2 days, so the registration's lifetime is
  // run out in the gateway's database, as 2 days without renewal would.
  const d = await connectDistributor(prosody, { username: "mercutio" });
  try {
    const keys = app(d, "org.example.expiry");
    const reg = await d.register2(...keys);
    const db = new Database(join(gateway.dir, "gateway.db"));
    try {
      const token = new URL(reg.endpoint).pathname.split("/").pop();
      assert.equal(db.prepare("UPDATE registrations SET expires_at = ? WHERE endpoint = ?").run(Date.now() - 1000, token).changes, 1);
    } finally {
      db.close();
    }
    assert.equal((await post(reg.endpoint, "too late")).status, 404);
    const again = await d.register2(...keys);
    assert.notEqual(again.endpoint, reg.endpoint);
  } finally {
    await d.stop();
  }
});

test("allowed_domains refuses other domains with auth/forbidden in both dialects", async () => {
  await withGateway("acl.localhost", { xmpp: { allowed_domains: ["example.org"] } }, async () => {
    const d = await connectDistributor(prosody, { username: "tybalt", component: "acl.localhost" });
    try {
      for (const attempt of [() => d.register2(...app(d, "org.example.acl")), () => d.register1("acl-token")]) {
        await assert.rejects(attempt(), (e: unknown) => e instanceof StanzaError && e.condition === "forbidden" && e.type === "auth");
      }
    } finally {
      await d.stop();
    }
  });
});

test("max_registrations_per_jid refuses the next registration with wait/resource-constraint but renews existing ones", async () => {
  await withGateway("cap.localhost", { limits: { max_registrations_per_jid: 2 } }, async () => {
    const d = await connectDistributor(prosody, { username: "benvolio", component: "cap.localhost" });
    try {
      const first = await d.register2(...app(d, "org.example.cap1"));
      await d.register1("cap-token");
      for (const attempt of [() => d.register2(...app(d, "org.example.cap3")), () => d.register1("cap-token-2")]) {
        await assert.rejects(attempt(), (e: unknown) => e instanceof StanzaError && e.condition === "resource-constraint" && e.type === "wait");
      }
      assert.equal((await d.register2(...app(d, "org.example.cap1"))).endpoint, first.endpoint);
    } finally {
      await d.stop();
    }
  });
});

test("200 concurrent POSTs to 50 distributors are all answered 201 and each arrives at its own distributor once", async () => {
  const phones = await Promise.all(Array.from({ length: 50 }, (_, i) => connectDistributor(prosody, { username: `crowd${i}` })));
  try {
    const endpoints = await Promise.all(phones.map((p) => p.register2(...app(p, "org.example.crowd")).then((r) => r.endpoint)));
    const jobs = endpoints.flatMap((e, i) => [0, 1, 2, 3].map((k) => ({ e, body: `phone ${i} message ${k}` })));
    const statuses = await Promise.all(jobs.map((j) => post(j.e, j.body).then((r) => r.status)));
    assert.deepEqual(statuses, jobs.map(() => 201));
    for (const [i, p] of phones.entries()) {
      await p.waitForPush(() => p.pushes.length >= 4, 5000);
      assert.deepEqual(p.pushes.map((x) => x.payload.toString()).sort(), [0, 1, 2, 3].map((k) => `phone ${i} message ${k}`));
    }
  } finally {
    await Promise.all(phones.map((p) => p.stop()));
  }
});
