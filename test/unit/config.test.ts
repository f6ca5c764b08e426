import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync, rmSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, DEFAULTS, loadConfig, parseConfig, SECRET_ENV } from "../../src/config.ts";

type Doc = Record<string, Record<string, unknown>>;

/** The smallest valid document: only the required keys. */
const minimal = (): Doc => ({
  xmpp: { service: "xmpp://127.0.0.1:5347", domain: "up.example.org", secret: "s3cret" },
  http: { listen: "127.0.0.1:8080", public_url: "https://up.example.org" },
  database: { path: "/var/lib/up-gateway/gateway.db" },
});

/** The minimal document with one key set (or deleted, for `undefined`). */
function withKey(dotted: string, value: unknown): Doc {
  const doc = minimal();
  const [section, key] = dotted.split(".") as [string, string];
  const table = (doc[section] ??= {});
  if (value === undefined) delete table[key];
  else table[key] = value;
  return doc;
}

/** Asserts that parsing fails with a ConfigError whose message starts with the key. */
function assertRejected(doc: Record<string, unknown>, key: string, env: NodeJS.ProcessEnv = {}): void {
  assert.throws(
    () => parseConfig(doc, env),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
      assert.ok(err.message.startsWith(`config: ${key}:`), `message should name ${key}: ${err.message}`);
      return true;
    },
  );
}

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
    database: { path: "/var/lib/up-gateway/gateway.db" },
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

// One test per rejected value; each message must name the key.
const required = ["xmpp.service", "xmpp.domain", "xmpp.secret", "http.listen", "http.public_url", "database.path"];
for (const key of required) {
  test(`a missing ${key} is rejected, naming the key`, () => {
    assertRejected(withKey(key, undefined), key);
  });
}

test("a blank database.path is rejected, naming the key", () => {
  assertRejected(withKey("database.path", "   "), "database.path");
});

test("a secret that is not a string is rejected, naming the key", () => {
  assertRejected(withKey("xmpp.secret", 1234), "xmpp.secret");
});

test("a missing secret's message points at the environment variable", () => {
  assert.throws(() => parseConfig(withKey("xmpp.secret", undefined)), /UP_GATEWAY_XMPP_SECRET/);
});

const rejected: [string, string, unknown][] = [
  ["a service with an http scheme", "xmpp.service", "http://127.0.0.1:5347"],
  ["a service without a port", "xmpp.service", "xmpp://127.0.0.1"],
  ["a service that is not a URL", "xmpp.service", "xmpp://exa mple:5347"],
  ["a domain with an empty label", "xmpp.domain", "up..example.org"],
  ["a domain with an underscore", "xmpp.domain", "up_gw.example.org"],
  ["a domain that is a JID with a resource", "xmpp.domain", "up.example.org/res"],
  ["allowed_domains given as a string instead of a list", "xmpp.allowed_domains", "example.org"],
  ["allowed_domains with a non-string entry", "xmpp.allowed_domains[1]", ["example.org", 42]],
  ["allowed_domains with an entry that is not a domain", "xmpp.allowed_domains[0]", ["user@example.org"]],
  ["a listen value with only a port", "http.listen", "8080"],
  ["a listen value with a port above 65535", "http.listen", "host:99999"],
  ["a listen value with a port but no host", "http.listen", ":8080"],
  ["a public_url with an ftp scheme", "http.public_url", "ftp://up.example.org"],
  ["a public_url that is not absolute", "http.public_url", "up.example.org"],
  ["a public_url with a query", "http.public_url", "https://up.example.org/?a=1"],
  ["a public_url with a fragment", "http.public_url", "https://up.example.org/#top"],
  // new URL() reports search "" for a bare "?" but keeps it in the string: endpoints would become ".../?/up/TOKEN"
  ["a public_url ending in an empty query", "http.public_url", "https://up.example.org/?"],
  ["a public_url ending in an empty fragment", "http.public_url", "https://up.example.org/#"],
  ["an endpoint_rate of zero", "limits.endpoint_rate", 0],
  ["a negative endpoint_rate", "limits.endpoint_rate", -1],
  ["an endpoint_rate given as a string", "limits.endpoint_rate", "10"],
  ["an unknown log level", "log.level", "verbose"],
  ["a log level in capitals", "log.level", "INFO"],
];
for (const [what, key, value] of rejected) {
  test(`${what} is rejected, naming ${key}`, () => {
    assertRejected(withKey(key.replace(/\[\d+\]$/, ""), value), key);
  });
}

test("http.request_timeout of 0 or a negative number is rejected, naming the key: 0 would turn the timeout off", () => {
  assertRejected(withKey("http.request_timeout", 0), "http.request_timeout");
  assertRejected(withKey("http.request_timeout", -30), "http.request_timeout");
  assertRejected(withKey("http.request_timeout", "30s"), "http.request_timeout");
});

test("http.request_timeout is read in seconds", () => {
  assert.equal(parseConfig(withKey("http.request_timeout", 5)).http.requestTimeout, 5);
});

// [key, minimum, maximum if any]
const integers: [string, number, number?][] = [
  ["xmpp.ping_interval", 1, 3600],
  ["xmpp.reconnect_max", 1, 3600],
  ["http.request_timeout", 1, 3600],
  ["push.registration_ttl", 172800],
  ["push.default_ttl", 0],
  ["push.max_ttl", 0],
  ["push.max_queue_per_registration", 0],
  ["push.timeout", 1, 300],
  ["push.max_inflight", 1],
  ["push.queue_sweep_interval", 1, 3600],
  ["limits.endpoint_burst", 1],
  ["limits.max_registrations_per_jid", 1],
];
for (const [key, min, max] of integers) {
  test(`${key} below its minimum of ${min} is rejected, naming the key`, () => {
    assertRejected(withKey(key, min - 1), key);
  });
  test(`${key} that is not a whole number is rejected, naming the key`, () => {
    assertRejected(withKey(key, min + 1.5), key);
  });
  test(`${key} given as a string is rejected, naming the key`, () => {
    assertRejected(withKey(key, String(min + 1)), key);
  });
  if (max !== undefined) {
    test(`${key} above its maximum of ${max} is rejected, naming the key`, () => {
      assertRejected(withKey(key, max + 1), key);
    });
  }
}

test("a default_ttl above max_ttl is rejected, naming push.default_ttl", () => {
  const doc = minimal();
  doc.push = { default_ttl: 7200, max_ttl: 3600 };
  assertRejected(doc, "push.default_ttl");
});

test("a max_ttl below the default default_ttl is rejected, naming push.default_ttl", () => {
  assertRejected(withKey("push.max_ttl", 3600), "push.default_ttl");
});

test("a default_ttl equal to max_ttl is accepted", () => {
  const doc = minimal();
  doc.push = { default_ttl: 3600, max_ttl: 3600 };
  assert.equal(parseConfig(doc).push.defaultTtl, 3600);
});

test("an unknown section is rejected, naming the section", () => {
  assertRejected({ ...minimal(), smtp: { host: "x" } }, "smtp");
});

test("an unknown key is rejected, naming section.key", () => {
  assertRejected(withKey("xmpp.port", 5347), "xmpp.port");
});

test("a section given as a value instead of a table is rejected, naming the section", () => {
  assertRejected({ ...minimal(), log: "debug" }, "log");
});

test("loadConfig reads and validates a TOML file", async () => {
  const dir = await mkdtemp(join(tmpdir(), "up-config-"));
  try {
    const file = join(dir, "config.toml");
    writeFileSync(
      file,
      [
        "[xmpp]",
        'service = "xmpp://localhost:5347"',
        'domain = "up.localhost"',
        'secret = "from-file"',
        "[http]",
        'listen = "127.0.0.1:0"',
        'public_url = "http://127.0.0.1:8080"',
        "[database]",
        `path = ${JSON.stringify(join(dir, "db.sqlite"))}`,
        "[push]",
        "timeout = 3",
      ].join("\n"),
    );
    const c = loadConfig(file, { [SECRET_ENV]: "from-env" });
    assert.equal(c.xmpp.domain, "up.localhost");
    assert.equal(c.xmpp.secret, "from-env");
    assert.equal(c.http.port, 0);
    assert.equal(c.push.timeout, 3);
    assert.equal(c.database.path, join(dir, "db.sqlite"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("loadConfig on a missing file fails naming the file and the cause", async () => {
  const dir = await mkdtemp(join(tmpdir(), "up-config-"));
  try {
    const file = join(dir, "nope.toml");
    assert.throws(
      () => loadConfig(file),
      (err: unknown) => err instanceof ConfigError && err.message.startsWith(`config: ${file}:`) && err.message.includes("ENOENT"),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("loadConfig on invalid TOML fails naming the file", async () => {
  const dir = await mkdtemp(join(tmpdir(), "up-config-"));
  try {
    const file = join(dir, "bad.toml");
    writeFileSync(file, '[xmpp]\nservice = "xmpp://localhost:5347\n');
    assert.throws(
      () => loadConfig(file),
      (err: unknown) => err instanceof ConfigError && err.message.startsWith(`config: ${file}:`) && err.message.includes("not valid TOML"),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("loadConfig on a float where an integer belongs fails naming the key", async () => {
  const dir = await mkdtemp(join(tmpdir(), "up-config-"));
  try {
    const file = join(dir, "float.toml");
    writeFileSync(
      file,
      '[xmpp]\nservice = "xmpp://h:1"\ndomain = "up.h"\nsecret = "s"\nping_interval = 1.5\n[http]\nlisten = "h:1"\npublic_url = "https://h"\n[database]\npath = "x"\n',
    );
    assert.throws(() => loadConfig(file), /^ConfigError: config: xmpp\.ping_interval:/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a push.timeout below push.answer_within is refused, naming both keys", () => {
  const doc = minimal();
  doc.push = { timeout: 1, answer_within: 2 };
  assert.throws(
    () => parseConfig(doc),
    (e: unknown) => e instanceof ConfigError && /push\.timeout/.test(e.message) && /push\.answer_within/.test(e.message),
  );
  doc.push = { timeout: 2, answer_within: 2 };
  assert.equal(parseConfig(doc).push.timeout, 2);
});
