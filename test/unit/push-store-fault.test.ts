// A store that cannot be read on the way of a push (here a damaged file:
// SQLITE_CORRUPT, as an I/O error or a lock held too long would be) is an
// outcome, 503 store-failed, reported to the fault sink, never a 500.
import { pushService } from "./_push.ts";
import { afterEach, beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, openSync, writeSync } from "node:fs";
import Database from "better-sqlite3";
import { PushService } from "../../src/push.ts";
import { openSqliteStore } from "../../src/store/sqlite/index.ts";
import type { Queue } from "../../src/store/store.ts";
import { Registry } from "../../src/registry.ts";
import { httpAnswer } from "../../src/http/status.ts";
import { fixture, type Fixture } from "./_db.ts";

const APP = "bK3sdmrbtj3bf6XA2S12b8jJUA5TT1dhPEyeoZfVSRM=";
const INSTANCE = "EtD/1XPLmoIph7W73CZ/uyv6FAnhEAXY1GySHX17vAw=";

let f: Fixture;
let damaged: Database.Database;
beforeEach(() => {
  f = fixture();
});
afterEach(() => {
  damaged?.close();
  f.close();
});

const transport = {
  online: true,
  domain: "up.example.org",
  nextId: () => "id",
  send: async (): Promise<void> => {},
  request: async () => ({ kind: "result" }) as const,
};

function service(registry: Registry, queue: Pick<Queue, "enqueue" | "hasWaiting">, faults: string[]): PushService {
  return pushService(f, {
    registry,
    transport,
    queue,
    faults: { fault: (op, err) => void faults.push(`${op} ${err.code}`), wrote: () => undefined },
  });
}

test("a push whose lookup meets a damaged database is answered 503 store-failed and reported, not thrown", async () => {
  const r = await f.registry.register2("juliet@example.com/phone", APP, INSTANCE);
  assert.ok(r.ok);
  f.db.pragma("wal_checkpoint(TRUNCATE)");
  const pageSize = f.db.pragma("page_size", { simple: true }) as number;
  // the registrations table and its indexes (small: each one page, its root); the queue stays readable
  const roots = f.db.prepare("SELECT rootpage FROM sqlite_schema WHERE tbl_name = 'registrations' AND rootpage > 0").pluck().all() as number[];
  f.db.close();
  const fd = openSync(f.path, "r+");
  for (const p of roots) writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, (p - 1) * pageSize);
  closeSync(fd);
  const opened = openSqliteStore(f.path);
  damaged = opened.db;
  const registry = new Registry({ store: opened.registrations, now: () => f.clock.t, mint: () => "N".repeat(32), options: { registrationTtl: 86400, allowedDomains: [], maxRegistrationsPerJid: 10 } });
  const faults: string[] = [];
  const outcome = await service(registry, opened.queue, faults).push(r.reg.endpoint, { payload: Buffer.from("x") });
  assert.equal(outcome.kind, "store-failed");
  assert.equal(httpAnswer(outcome).status, 503);
  assert.equal(faults.length, 1);
  assert.match(faults[0]!, /^push SQLITE_CORRUPT/);
});

test("a bug on the way of a push still throws", async () => {
  const registry = { lookup: () => { throw new TypeError("a bug"); } } as unknown as Registry;
  await assert.rejects(service(registry, f.sqlite.queue, []).push("E".repeat(32), { payload: Buffer.from("x") }), TypeError);
});
