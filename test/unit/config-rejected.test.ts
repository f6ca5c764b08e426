// Config validation (src/config.ts): what is refused, each message naming the key, and loading TOML files.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync, rmSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig, parseConfig, SECRET_ENV } from "../../src/config.ts";
import { assertRejected, minimal, sqlitePath, withKey } from "./_config.ts";

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
    assert.equal(sqlitePath(c), join(dir, "db.sqlite"));
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
