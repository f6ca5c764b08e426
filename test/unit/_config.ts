// Shared by the config tests (config.test.ts: what is accepted; config-rejected.test.ts: what is refused, and loading files).
import assert from "node:assert/strict";
import { type Config, ConfigError, parseConfig } from "../../src/config.ts";

/** The SQLite file of a config that must name one. */
export function sqlitePath(c: Config): string {
  assert.equal(c.database.backend, "sqlite");
  return (c.database as { path: string }).path;
}

export type Doc = Record<string, Record<string, unknown>>;

/** The smallest valid document: only the required keys. */
export const minimal = (): Doc => ({
  xmpp: { service: "xmpp://127.0.0.1:5347", domain: "up.example.org", secret: "s3cret" },
  http: { listen: "127.0.0.1:8080", public_url: "https://up.example.org" },
  database: { path: "/var/lib/up-gateway/gateway.db" },
});

/** The minimal document with one key set (or deleted, for `undefined`). */
export function withKey(dotted: string, value: unknown): Doc {
  const doc = minimal();
  const [section, key] = dotted.split(".") as [string, string];
  const table = (doc[section] ??= {});
  if (value === undefined) delete table[key];
  else table[key] = value;
  return doc;
}

/** Asserts that parsing fails with a ConfigError whose message starts with the key. */
export function assertRejected(doc: Record<string, unknown>, key: string, env: NodeJS.ProcessEnv = {}): void {
  assert.throws(
    () => parseConfig(doc, env),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
      assert.ok(err.message.startsWith(`config: ${key}:`), `message should name ${key}: ${err.message}`);
      return true;
    },
  );
}

