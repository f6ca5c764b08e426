import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { databaseChecks, writable } from "../../src/admin/doctor/database.ts";
import { DEFAULTS, parseConfig, type Config } from "../../src/config.ts";
import { configRules, publicUrlScheme, RENEWAL_WINDOW } from "../../src/admin/doctor/rules.ts";
import { classify } from "../../src/admin/push.ts";
import { localBase } from "../../src/admin/local.ts";

const config = (push: Record<string, unknown> = {}, limits: Record<string, unknown> = {}, publicUrl = "https://up.example.org"): Config =>
  parseConfig({
    xmpp: { service: "xmpp://127.0.0.1:5347", domain: "up.example.org", secret: "s" },
    http: { listen: "127.0.0.1:8080", public_url: publicUrl },
    database: { path: "/tmp/x.db" },
    push,
    limits,
  });
const level = (c: Config, name: string): string => configRules(c).find((x) => x.name === name)?.level ?? "none";

const withAnswer = (s: number, c = config()): Config => ({ ...c, push: { ...c.push, answerWithin: s } });

test("the defaults pass every rule (answer_within defaults to 2 s)", () => {
  assert.deepEqual(configRules(config()).map((c) => [c.name, c.level]), [["registration_ttl", "OK"], ["default_ttl / max_ttl", "OK"], ["rate limits", "OK"], ["answer_within", "OK"]]);
});

// The config parser refuses a registration_ttl under 2 days; the rule still judges any value it is handed.
const withTtl = (registrationTtl: number): Config => {
  const c = config();
  return { ...c, push: { ...c.push, registrationTtl } };
};

test("registration_ttl: below the 2 days the config allows fails, under 3 days warns, above is fine", () => {
  assert.equal(level(withTtl(RENEWAL_WINDOW), "registration_ttl"), "FAIL");
  assert.equal(level(withTtl(DEFAULTS.minRegistrationTtl - 1), "registration_ttl"), "FAIL", "the same threshold as the config's");
  assert.equal(level(withTtl(DEFAULTS.minRegistrationTtl), "registration_ttl"), "WARN");
  assert.equal(level(config({ registration_ttl: 2 * 86400 }), "registration_ttl"), "WARN");
  assert.equal(level(config({ registration_ttl: 3 * 86400 }), "registration_ttl"), "OK");
});

test("nothing kept for offline phones warns, naming which key", () => {
  const zeroMax = configRules(config({ default_ttl: 0, max_ttl: 0 })).find((c) => c.name === "default_ttl / max_ttl")!;
  assert.equal(zeroMax.level, "WARN");
  assert.match(zeroMax.message, /^max_ttl is 0/);
  assert.match(configRules(config({ default_ttl: 0 })).find((c) => c.name === "default_ttl / max_ttl")!.message, /^default_ttl is 0/);
  assert.equal(level(config({ default_ttl: 600 }), "default_ttl / max_ttl"), "WARN");
});

test("small bursts and very low rates warn", () => {
  assert.equal(level(config({}, { endpoint_burst: 5 }), "rate limits"), "WARN");
  assert.equal(level(config({}, { endpoint_rate: 0.05 }), "rate limits"), "WARN");
});

test("answer_within: at most 2 s is OK, above warns, 10 s fails", () => {
  assert.equal(level(withAnswer(2), "answer_within"), "OK");
  assert.equal(level(withAnswer(5), "answer_within"), "WARN");
  assert.equal(level(withAnswer(10), "answer_within"), "FAIL");
});

test("public_url: https OK, http on loopback OK, http on a public host WARN", () => {
  assert.equal(publicUrlScheme("https://up.example.org").level, "OK");
  assert.equal(publicUrlScheme("http://127.0.0.1:8080").level, "OK");
  assert.equal(publicUrlScheme("http://localhost:8080").level, "OK");
  assert.equal(publicUrlScheme("http://[::1]:8080").level, "OK");
  assert.equal(publicUrlScheme("http://up.example.org").level, "WARN");
});

test("admin push reads the gateway's answers as its status table writes them", () => {
  const h = (ttl: string | null, retryAfter: string | null = null) => ({ ttl, retryAfter });
  assert.deepEqual(classify(201, h("0"), ""), { result: "delivered" });
  assert.deepEqual(classify(201, h("3600"), ""), { result: "queued", ttl: 3600 });
  assert.equal(classify(404, h(null), "").result, "gone");
  assert.deepEqual(classify(429, h(null, "5"), '{"error":"too many messages for this endpoint"}'), { result: "refused", retryAfter: 5, reason: "too many messages for this endpoint" });
  assert.deepEqual(classify(502, h(null), "<html>"), { result: "refused" });
});

test("a wildcard [http] listen is reached on loopback", () => {
  assert.equal(localBase("0.0.0.0", 8080), "http://127.0.0.1:8080");
  assert.equal(localBase("::", 8080), "http://[::1]:8080");
  assert.equal(localBase("::1", 8080), "http://[::1]:8080");
  assert.equal(localBase("10.0.0.5", 80), "http://10.0.0.5:80");
});

test("database checks: a missing directory fails, a missing file only warns, a file that is not a database fails", () => {
  const dir = mkdtempSync(join(tmpdir(), "up-doctor-unit-"));
  try {
    const [noDir] = databaseChecks(join(dir, "nope", "g.db"));
    assert.equal(noDir!.level, "FAIL");
    assert.match(noDir!.message, /does not exist, and the gateway does not create it/);
    const missing = databaseChecks(join(dir, "g.db"), { failBelow: 0, warnBelow: 0 }); // whatever the test disk's size
    assert.deepEqual(missing.map((c) => [c.name, c.level]), [["database", "WARN"], ["database writable", "OK"], ["disk space", "OK"]]);
    const junk = join(dir, "junk.db");
    writeFileSync(junk, "not a database ".repeat(100));
    const checks = databaseChecks(junk);
    assert.equal(checks[0]!.level, "FAIL");
    assert.match(checks[0]!.message, /^cannot open .*junk\.db: file is not a database/);
    assert.deepEqual(readdirSync(dir).sort(), ["junk.db"]); // the doctor's connection left nothing beside it
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("database writable, judged as root: against the directory's owner, for the file, its -wal and its -shm", () => {
  const dir = mkdtempSync(join(tmpdir(), "up-doctor-unit-"));
  try {
    const db = join(dir, "g.db");
    writeFileSync(db, "");
    const me = statSync(dir).uid;
    // euid 0 is passed in: the rule is the same whoever runs the test, only chown needs root.
    assert.equal(writable(db, 0).level, "OK");
    writeFileSync(`${db}-shm`, "");
    chmodSync(`${db}-shm`, 0o444);
    const shm = writable(db, 0);
    assert.equal(shm.level, "FAIL");
    assert.match(shm.message, process.geteuid?.() === 0 ? new RegExp(`g\\.db-shm is not writable by its owner \\(uid ${me}\\)`) : /g\.db-shm is not writable \(EACCES\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
