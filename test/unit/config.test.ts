// Config validation (src/config.ts): what is accepted, and the defaults. What is refused: config-rejected.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, DEFAULTS, parseConfig, SECRET_ENV } from "../../src/config.ts";
import { assertRejected, minimal, withKey } from "./_config.ts";

test("a minimal document gets every documented default", () => {
  const c = parseConfig(minimal());
  assert.deepEqual(c, {
    xmpp: {
      service: "xmpp://127.0.0.1:5347",
      domain: "up.example.org",
      secret: "s3cret",
      allowedDomains: [],
      pingInterval: 30,
      reconnectMax: 60,
    },
    http: { host: "127.0.0.1", port: 8080, publicUrl: "https://up.example.org", requestTimeout: 30 },
    database: { backend: "sqlite", path: "/var/lib/up-gateway/gateway.db" },
    push: {
      registrationTtl: 604800,
      defaultTtl: 86400,
      maxTtl: 2419200,
      maxQueuePerRegistration: 1000,
      timeout: 10,
      answerWithin: 2,
      maxInflight: 4096,
      queueSweepInterval: 30,
    },
    limits: { endpointRate: 10, endpointBurst: 100, maxRegistrationsPerJid: 100 },
    log: { level: "info" },
    cluster: { links: "leader" },
  });
});

test("the defaults table keeps Conversations' 24 h renewal window well inside the registration lifetime", () => {
  assert.equal(DEFAULTS.registrationTtl, 7 * 86400);
  assert.ok(DEFAULTS.defaultTtl <= DEFAULTS.maxTtl);
});

test("a registration_ttl under 2 days is refused with the reason: Conversations would re-register every hour", () => {
  assert.throws(
    () => parseConfig(withKey("push.registration_ttl", 86400)),
    (e: unknown) => e instanceof ConfigError && /push\.registration_ttl/.test(e.message) && /172800/.test(e.message) && /every hour/.test(e.message),
  );
  assert.equal(parseConfig(withKey("push.registration_ttl", 172800)).push.registrationTtl, 172800);
});

test("every optional key set explicitly is taken as given", () => {
  const c = parseConfig({
    ...minimal(),
    xmpp: { ...minimal().xmpp, allowed_domains: ["Example.ORG", "chat.example.net"], ping_interval: 5, reconnect_max: 120 },
    push: { registration_ttl: 172800, default_ttl: 0, max_ttl: 0, max_queue_per_registration: 0, timeout: 300, max_inflight: 1, queue_sweep_interval: 1 },
    limits: { endpoint_rate: 0.5, endpoint_burst: 1, max_registrations_per_jid: 1 },
    log: { level: "debug" },
  });
  assert.deepEqual(c.xmpp.allowedDomains, ["example.org", "chat.example.net"]);
  assert.equal(c.xmpp.pingInterval, 5);
  assert.equal(c.xmpp.reconnectMax, 120);
  assert.deepEqual(c.push, { registrationTtl: 172800, defaultTtl: 0, maxTtl: 0, maxQueuePerRegistration: 0, timeout: 300, answerWithin: 2, maxInflight: 1, queueSweepInterval: 1 });
  assert.deepEqual(c.limits, { endpointRate: 0.5, endpointBurst: 1, maxRegistrationsPerJid: 1 });
  assert.equal(c.log.level, "debug");
});

test("integers that TOML hands over as bigint are accepted as numbers", () => {
  const c = parseConfig(withKey("push.timeout", 20n));
  assert.equal(c.push.timeout, 20);
});

test("answer_within takes fractional seconds and both ends of its range", () => {
  for (const v of [0.5, 1.25, 5, 3n]) assert.equal(parseConfig(withKey("push.answer_within", v)).push.answerWithin, Number(v));
});

// One test per value push.answer_within refuses: seconds from 0.5 to 5.
const answerWithinRejected: [string, unknown][] = [
  ["just below 0.5", 0.49],
  ["zero", 0],
  ["negative", -1],
  ["just above 5", 5.01],
  ["the push timeout's default of 10", 10],
  ["given as a string", "2"],
  ["a boolean", true],
  ["infinite", Infinity],
  ["not a number", NaN],
];
for (const [what, value] of answerWithinRejected) {
  test(`push.answer_within ${what} is rejected, naming the key and the range`, () => {
    assertRejected(withKey("push.answer_within", value), "push.answer_within");
    assert.throws(() => parseConfig(withKey("push.answer_within", value)), /from 0\.5 to 5/);
  });
}

test("a service without a scheme is read as xmpp://", () => {
  assert.equal(parseConfig(withKey("xmpp.service", "localhost:5347")).xmpp.service, "xmpp://localhost:5347");
});

test("the component domain is lowercased", () => {
  assert.equal(parseConfig(withKey("xmpp.domain", "UP.Example.ORG")).xmpp.domain, "up.example.org");
});

test("an IPv6 listen address in brackets gives the bare address and the port", () => {
  const c = parseConfig(withKey("http.listen", "[::1]:9000"));
  assert.equal(c.http.host, "::1");
  assert.equal(c.http.port, 9000);
});

test("a trailing slash on public_url is dropped so endpoint URLs have no double slash", () => {
  assert.equal(parseConfig(withKey("http.public_url", "https://example.org/push/")).http.publicUrl, "https://example.org/push");
});

test("the secret comes from UP_GATEWAY_XMPP_SECRET when it is set, over the file", () => {
  assert.equal(SECRET_ENV, "UP_GATEWAY_XMPP_SECRET");
  const c = parseConfig(minimal(), { UP_GATEWAY_XMPP_SECRET: "from-env" });
  assert.equal(c.xmpp.secret, "from-env");
});

test("the secret may be given only in the environment", () => {
  const c = parseConfig(withKey("xmpp.secret", undefined), { UP_GATEWAY_XMPP_SECRET: "only-env" });
  assert.equal(c.xmpp.secret, "only-env");
});

test("an empty UP_GATEWAY_XMPP_SECRET leaves the file's secret in place", () => {
  assert.equal(parseConfig(minimal(), { UP_GATEWAY_XMPP_SECRET: "" }).xmpp.secret, "s3cret");
});

test("the result is deeply frozen", () => {
  const c = parseConfig(withKey("xmpp.allowed_domains", ["example.org"]));
  for (const part of [c, c.xmpp, c.xmpp.allowedDomains, c.http, c.database, c.push, c.limits, c.log]) {
    assert.ok(Object.isFrozen(part));
  }
  assert.throws(() => {
    (c.xmpp as { domain: string }).domain = "evil.example";
  }, TypeError);
  assert.throws(() => {
    (c.xmpp.allowedDomains as string[]).push("evil.example");
  }, TypeError);
  assert.deepEqual(c.xmpp.allowedDomains, ["example.org"]);
});

