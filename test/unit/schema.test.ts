import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { runAdmin } from "../../src/admin/cli.ts";
import { openDb } from "../../src/store/db.ts";
import { MIGRATIONS } from "../../src/store/migrations.ts";
import { migrateAlone, requireKnownSchema, SCHEMA_VERSION, SchemaError, schemaVersion } from "../../src/store/schema.ts";
import { tempDir } from "./_db.ts";

test("openDb with migrate: false leaves an older schema as it is", () => {
  const dir = tempDir();
  try {
    const path = join(dir, "old.db");
    const raw = new Database(path);
    raw.exec(MIGRATIONS[0]!);
    raw.pragma("user_version = 1");
    raw.close();
    const db = openDb(path, { migrate: false });
    assert.equal(schemaVersion(db), 1);
    assert.equal(requireKnownSchema(db), 1); // older: used as it is
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    assert.throws(() => requireKnownSchema(db), (e: unknown) => e instanceof SchemaError && /newer than this admin tool knows/.test(e.message));
    db.pragma("user_version = 1");
    db.close();
    const migrated = openDb(path);
    assert.equal(schemaVersion(migrated), SCHEMA_VERSION);
    assert.equal(requireKnownSchema(migrated), SCHEMA_VERSION);
    migrated.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("migrateAlone refuses while another connection has the database open, even in this process", () => {
  const dir = tempDir();
  try {
    const path = join(dir, "g.db");
    const held = openDb(path);
    const r = migrateAlone(path);
    assert.equal(r.ok, false);
    held.close();
    assert.deepEqual(migrateAlone(path), { ok: true, from: SCHEMA_VERSION, to: SCHEMA_VERSION });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an admin command that meets a table its schema version should have but lacks says which schema it needs, not a stack", () => {
  const dir = tempDir();
  try {
    // A version-2 database whose queue is missing stands for any command that needs what a later migration adds.
    const path = join(dir, "v2.db");
    const raw = new Database(path);
    raw.exec(MIGRATIONS[0]!);
    raw.pragma("user_version = 2");
    raw.close();
    const err: string[] = [];
    const code = runAdmin(["--database", path, "stats"], { out: () => {}, err: (s) => err.push(s), now: Date.now });
    assert.equal(code, 1);
    assert.match(err.join(), new RegExp(`^database .*v2\\.db: this command needs a newer schema than the database's \\(version 2; this admin tool's is ${SCHEMA_VERSION}\\): restart the gateway .*'up-gateway-admin migrate' \\(no such table: queue\\)$`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
