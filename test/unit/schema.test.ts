import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { openDb } from "../../src/store/db.ts";
import { MIGRATIONS } from "../../src/store/migrations.ts";
import { migrateAlone, requireCurrentSchema, SCHEMA_VERSION, SchemaError, schemaVersion } from "../../src/store/schema.ts";
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
    assert.throws(() => requireCurrentSchema(db), (e: unknown) => e instanceof SchemaError && /older than this admin tool's/.test(e.message));
    db.close();
    const migrated = openDb(path);
    assert.equal(schemaVersion(migrated), SCHEMA_VERSION);
    assert.doesNotThrow(() => requireCurrentSchema(migrated));
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
