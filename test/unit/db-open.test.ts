// How a database that cannot be opened is described to the operator (db.ts),
// and the probe write that alone may declare a failing store healed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import Database from "better-sqlite3";
import { BUSY_MS, classifyOpenError, DbOpenError, writeProbe } from "../../src/store/db.ts";
import { newer } from "../../src/store/schema.ts";
import { isStoreFault } from "../../src/store/faults.ts";
import { fixture, tempDir } from "./_db.ts";

test("a schema refusal becomes an operator's message; a plain Error or a TypeError stays a bug", () => {
  const path = join(tempDir(), "gateway.db");
  const schema = classifyOpenError(path, newer(999, "gateway"));
  assert.ok(schema instanceof DbOpenError);
  assert.match(schema.message, /\[database\] path = .*999 is newer than this gateway knows/);
  for (const bug of [new Error("undefined is not a function"), new TypeError("x is undefined"), new RangeError("r")]) {
    assert.equal(classifyOpenError(path, bug), bug, bug.name);
  }
});

test("the probe changes the probe row and leaves the connection's busy timeout as it was", () => {
  const f = fixture();
  try {
    writeProbe(f.db, 1234);
    assert.equal((f.db.prepare("SELECT at FROM store_probe WHERE id = 1").get() as { at: number }).at, 1234);
    assert.equal(f.db.pragma("busy_timeout", { simple: true }), BUSY_MS);
  } finally {
    f.close();
  }
});

test("a probe while another connection holds the write lock gives up within its short busy timeout", () => {
  const f = fixture();
  const other = new Database(f.path);
  try {
    other.exec("BEGIN IMMEDIATE");
    const t0 = performance.now();
    assert.throws(() => writeProbe(f.db), (e: unknown) => (e as { code?: string }).code === "SQLITE_BUSY");
    const ms = performance.now() - t0;
    assert.ok(ms < 2000, `waited ${ms.toFixed(0)} ms, not the writes' 5 s`);
    assert.equal(f.db.pragma("busy_timeout", { simple: true }), BUSY_MS, "restored after a failure too");
  } finally {
    other.exec("ROLLBACK");
    other.close();
    f.close();
  }
});

test("a write waits for another process's lock well below answer_within, then fails as a store fault (503), not a 500", () => {
  const f = fixture();
  const other = new Database(f.path);
  try {
    assert.ok(BUSY_MS <= 500, "below the smallest answer_within: the wait blocks the event loop");
    other.exec("BEGIN IMMEDIATE");
    const started = performance.now();
    let code: string | undefined;
    try {
      f.db.prepare("INSERT OR REPLACE INTO store_probe (id, at) VALUES (1, 2)").run();
    } catch (err) {
      code = (err as { code?: string }).code;
    }
    const waited = performance.now() - started;
    assert.equal(code, "SQLITE_BUSY");
    assert.ok(isStoreFault(Object.assign(new Error("busy"), { code })));
    assert.ok(waited >= BUSY_MS * 0.8, `waited ${waited} ms`);
    other.exec("ROLLBACK");
  } finally {
    other.close();
    f.close();
  }
});
