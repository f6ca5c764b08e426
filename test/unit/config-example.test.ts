import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "smol-toml";
import { DEFAULTS, loadConfig } from "../../src/config.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const examplePath = `${root}config.example.toml`;

/**
 * The keys parseConfig knows, read from its `known` table in src/config.ts
 * (the table is not exported), as "section.key".
 */
function knownKeys(): string[] {
  const src = readFileSync(`${root}src/config.ts`, "utf8");
  const block = /const known[^=]*=\s*\{([\s\S]*?)\n\s*\};/.exec(src);
  assert.ok(block, "src/config.ts should hold a `known` table of sections and keys");
  const keys: string[] = [];
  for (const m of block[1]!.matchAll(/(\w+):\s*\[([^\]]*)\]/g)) {
    for (const k of m[2]!.matchAll(/"([^"]+)"/g)) keys.push(`${m[1]}.${k[1]}`);
  }
  return keys.sort();
}

/** Keys that exclude one another: the example sets the first and shows the others commented out (`# key = ...`). */
const ALTERNATIVES: Record<string, string[]> = { "database.path": ["database.url"] };

function exampleKeys(): string[] {
  const text = readFileSync(examplePath, "utf8");
  const doc = parse(text) as Record<string, Record<string, unknown>>;
  const set = Object.entries(doc).flatMap(([section, table]) => Object.keys(table).map((k) => `${section}.${k}`));
  const shown = set.flatMap((k) => (ALTERNATIVES[k] ?? []).filter((alt) => new RegExp(`^# ${alt.split(".")[1]} = `, "m").test(text)));
  return [...set, ...shown].sort();
}

test("config.example.toml at the repository root passes loadConfig", () => {
  const c = loadConfig(examplePath);
  assert.equal(c.xmpp.service, "xmpp://127.0.0.1:5347");
  assert.equal(c.xmpp.domain, "up.example.org");
  assert.equal(c.http.port, 8080);
  assert.equal(c.http.publicUrl, "https://up.example.org");
});

test("the known-keys table read from src/config.ts covers all seven sections and the required keys", () => {
  const keys = knownKeys();
  assert.deepEqual([...new Set(keys.map((k) => k.split(".")[0]))].sort(), ["cluster", "database", "http", "limits", "log", "push", "xmpp"]);
  for (const k of ["xmpp.service", "xmpp.domain", "xmpp.secret", "http.listen", "http.public_url", "database.path"]) {
    assert.ok(keys.includes(k), `${k} missing from ${keys.join(", ")}`);
  }
});

test("config.example.toml lists every key the code knows, and no other", () => {
  assert.deepEqual(exampleKeys(), knownKeys());
});

test("config.example.toml shows the default of every optional key except the allowed_domains example", () => {
  const c = loadConfig(examplePath);
  assert.deepEqual(
    {
      pingInterval: c.xmpp.pingInterval,
      reconnectMax: c.xmpp.reconnectMax,
      registrationTtl: c.push.registrationTtl,
      defaultTtl: c.push.defaultTtl,
      maxTtl: c.push.maxTtl,
      maxQueuePerRegistration: c.push.maxQueuePerRegistration,
      pushTimeout: c.push.timeout,
      answerWithin: c.push.answerWithin,
      maxInflight: c.push.maxInflight,
      queueSweepInterval: c.push.queueSweepInterval,
      endpointRate: c.limits.endpointRate,
      endpointBurst: c.limits.endpointBurst,
      maxRegistrationsPerJid: c.limits.maxRegistrationsPerJid,
      logLevel: c.log.level,
    },
    {
      pingInterval: DEFAULTS.pingInterval,
      reconnectMax: DEFAULTS.reconnectMax,
      registrationTtl: DEFAULTS.registrationTtl,
      defaultTtl: DEFAULTS.defaultTtl,
      maxTtl: DEFAULTS.maxTtl,
      maxQueuePerRegistration: DEFAULTS.maxQueuePerRegistration,
      pushTimeout: DEFAULTS.pushTimeout,
      answerWithin: DEFAULTS.answerWithin,
      maxInflight: DEFAULTS.maxInflight,
      queueSweepInterval: DEFAULTS.queueSweepInterval,
      endpointRate: DEFAULTS.endpointRate,
      endpointBurst: DEFAULTS.endpointBurst,
      maxRegistrationsPerJid: DEFAULTS.maxRegistrationsPerJid,
      logLevel: DEFAULTS.logLevel,
    },
  );
});
