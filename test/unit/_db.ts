// Test helpers: a real SQLite file in a fresh temp dir, and a Registry with a hand-driven clock.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Db } from "../../src/store/db.ts";
import type { RegistrationStore } from "../../src/store/registrations.ts";
import type { QueueStore } from "../../src/store/queue.ts";
import { openSqliteStore, type SqliteStore } from "../../src/store/sqlite/index.ts";
import type { FaultSink } from "../../src/store/faults.ts";
import { Registry, type RegistryOptions } from "../../src/registry.ts";

export const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);

export interface Fixture {
  dir: string;
  path: string;
  db: Db;
  /** The async store the gateway's parts take. */
  sqlite: SqliteStore;
  /** Its synchronous classes, for reading back what a step wrote. */
  store: RegistrationStore;
  queue: QueueStore;
  registry: Registry;
  clock: { t: number };
  minted: string[];
  close(): void;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "up-gateway-unit-"));
}

export function fixture(options: Partial<RegistryOptions> = {}, faults?: FaultSink): Fixture {
  const dir = tempDir();
  const path = join(dir, "gateway.db");
  const sqlite = openSqliteStore(path, faults);
  const { db } = sqlite;
  const { registrations: store, queue } = sqlite.sync;
  const clock = { t: T0 };
  const minted: string[] = [];
  const mint = (): string => {
    const token = `E${String(minted.length + 1).padStart(31, "0")}`;
    minted.push(token);
    return token;
  };
  const registry = new Registry({
    store: sqlite.registrations,
    ...(faults && { faults }),
    now: () => clock.t,
    mint,
    options: { registrationTtl: 7 * 86400, allowedDomains: [], maxRegistrationsPerJid: 100, ...options },
  });
  return {
    dir, path, db, sqlite, store, queue, registry, clock, minted,
    close() {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
