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

test("an admin command that meets a table its schema version should have but lacks says which schema it needs, not a stack", async () => {
  const dir = tempDir();
  try {
    // A version-2 database whose queue is missing stands for any command that needs what a later migration adds.
    const path = join(dir, "v2.db");
    const raw = new Database(path);
    raw.exec(MIGRATIONS[0]!);
    raw.pragma("user_version = 2");
    raw.close();
    const err: string[] = [];
    const code = await runAdmin(["--database", path, "stats"], { out: () => {}, err: (s) => err.push(s), now: Date.now });
    assert.equal(code, 1);
    assert.match(err.join(), new RegExp(`^database .*v2\\.db: this command needs a newer schema than the database's \\(version 2; this admin tool's is ${SCHEMA_VERSION}\\): restart the gateway .*'up-gateway-admin migrate' \\(no such table: queue\\)$`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("migration 6 rebuilds the queue with ids that are never reused, keeping its rows, indexes and cascade", () => {
  const dir = tempDir();
  try {
    const path = join(dir, "v5.db");
    const raw = new Database(path);
    for (let i = 0; i < 5; i++) raw.exec(MIGRATIONS[i]!);
    raw.pragma("user_version = 5");
    raw.prepare("INSERT INTO registrations (id, endpoint, dialect, jid, bare, application, instance, created_at, renewed_at, expires_at) VALUES (1, 'E1', 2, 'j@x/r', 'j@x', 'a', 'i', 0, 0, 9)").run();
    for (const [id, topic] of [[1, "T"], [2, null], [3, null]] as const) {
      raw.prepare("INSERT INTO queue (id, registration, payload, ttl, topic, created_at, expires_at, public_id) VALUES (?, 1, x'00', 60, ?, 0, 9, ?)").run(id, topic, `p${id}`);
    }
    raw.prepare("DELETE FROM queue WHERE id = 3").run();
    raw.close();
    const db = openDb(path);
    assert.equal(schemaVersion(db), SCHEMA_VERSION);
    assert.deepEqual(db.prepare("SELECT id, topic, public_id FROM queue ORDER BY id").all(), [
      { id: 1, topic: "T", public_id: "p1" },
      { id: 2, topic: null, public_id: "p2" },
    ]);
    const indexes = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'queue' AND sql IS NOT NULL ORDER BY name").pluck().all();
    assert.deepEqual(indexes, ["queue_expiry", "queue_order", "queue_public_id", "queue_topic"]);
    assert.match(db.prepare("SELECT sql FROM sqlite_schema WHERE name = 'queue'").pluck().get() as string, /AUTOINCREMENT/);
    assert.equal(db.pragma("foreign_keys", { simple: true }), 1, "foreign keys are on again after the rebuild");
    db.prepare("DELETE FROM queue WHERE id = 2").run();
    const next = db.prepare("INSERT INTO queue (registration, payload, ttl, created_at, expires_at) VALUES (1, x'00', 60, 0, 9)").run().lastInsertRowid;
    assert.equal(Number(next), 3, "the deleted top id 2 does not come back");
    db.prepare("DELETE FROM registrations WHERE id = 1").run();
    assert.equal(db.prepare("SELECT count(*) FROM queue").pluck().get(), 0, "ON DELETE CASCADE still drops the queue");
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
