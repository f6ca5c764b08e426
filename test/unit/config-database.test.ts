// [database]: a SQLite path (the embedded default) or a PostgreSQL url, exactly one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, DB_PASSWORD_ENV, describeDatabase, parseConfig, redactDbUrl } from "../../src/config.ts";
import { assertRejected, minimal, type Doc } from "./_config.ts";

const withDb = (d: Record<string, unknown>): Doc => ({ ...minimal(), database: d });

test("a path is the SQLite backend", () => {
  assert.deepEqual(parseConfig(minimal()).database, { backend: "sqlite", path: "/var/lib/up-gateway/gateway.db" });
});

test("a url is the PostgreSQL backend, kept as given", () => {
  const c = parseConfig(withDb({ url: "postgres://up:pw@db.example.org:5432/up" }));
  assert.deepEqual(c.database, { backend: "postgres", url: "postgres://up:pw@db.example.org:5432/up" });
});

test("both, or neither, are refused naming the section or the key", () => {
  assertRejected(withDb({ path: "/tmp/x.db", url: "postgres://u@h/db" }), "database");
  assertRejected(withDb({}), "database.path");
});

test("a url that is not postgres:// or lacks a host or database is refused without echoing it", () => {
  for (const url of ["mysql://u:secretpw@h/db", "postgres://u:secretpw@h", "postgres:///db", "not a url secretpw"]) {
    assert.throws(
      () => parseConfig(withDb({ url })),
      (err: unknown) => err instanceof ConfigError && err.message.startsWith("config: database.url:") && !err.message.includes("secretpw"),
      url,
    );
  }
});

test("the password from the environment replaces the url's, encoded", () => {
  const c = parseConfig(withDb({ url: "postgres://up@127.0.0.1:5432/up" }), { [DB_PASSWORD_ENV]: "p@ss/w:rd" });
  assert.equal(c.database.backend, "postgres");
  const u = new URL((c.database as { url: string }).url);
  assert.equal(decodeURIComponent(u.password), "p@ss/w:rd");
  assert.equal(u.username, "up");
});

test("what is printed of a url never holds its password", () => {
  assert.equal(redactDbUrl("postgres://up:hunter2@h:5432/up"), "postgres://up:***@h:5432/up");
  const c = parseConfig(withDb({ url: "postgres://up:hunter2@h:5432/up" }));
  assert.ok(!describeDatabase(c.database).includes("hunter2"));
  assert.equal(describeDatabase(parseConfig(minimal()).database), "/var/lib/up-gateway/gateway.db");
});

test("[cluster] links: leader by default; all only with a PostgreSQL url", () => {
  assert.equal(parseConfig(minimal()).cluster.links, "leader");
  assert.equal(parseConfig({ ...withDb({ url: "postgres://u@h/db" }), cluster: { links: "all" } }).cluster.links, "all");
  assertRejected({ ...minimal(), cluster: { links: "all" } }, "cluster.links");
  assertRejected({ ...withDb({ url: "postgres://u@h/db" }), cluster: { links: "some" } }, "cluster.links");
});
