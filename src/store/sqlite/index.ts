// The Store interface over the synchronous SQLite classes (../registrations.ts,
// ../queue.ts, ../db.ts), unchanged: every method answers in the same turn,
// so the embedded default keeps its speed and its endpoint cache. The two
// compound operations run as one better-sqlite3 transaction, as registry.ts
// and queue.ts do today.
import { openDb, writeProbe, type Db } from "../db.ts";
import type { FaultSink } from "../faults.ts";
import { QueueStore } from "../queue.ts";
import { RegistrationStore } from "../registrations.ts";
import type { Queue, Registrations, Store, UpsertRequest, UpsertResult } from "../store.ts";

export interface SqliteStore extends Store {
  readonly backend: "sqlite";
  /** For what still needs the handle (the admin tool's checks, tests). */
  readonly db: Db;
  /** The synchronous classes underneath, sharing this store's caches (tests that read what a step wrote). */
  readonly sync: { readonly registrations: RegistrationStore; readonly queue: QueueStore };
}

/**
 * Opens (creating when missing) and migrates the SQLite file. `faults` hears
 * of failed queue writes, which the queue then handles as ../queue.ts says
 * (no head while failing, delivered rows remembered until they can go).
 */
export function openSqliteStore(path: string, faults?: FaultSink): SqliteStore {
  const db = openDb(path);
  const regs = new RegistrationStore(db);
  const queue = new QueueStore(db, faults);
  return {
    backend: "sqlite",
    db,
    sync: { registrations: regs, queue },
    registrations: registrationsOver(regs),
    queue: queueOver(queue),
    probe: async (now) => writeProbe(db, now),
    async close() {
      db.close();
    },
  };
}

export function registrationsOver(s: RegistrationStore): Registrations {
  return {
    async lookup(endpoint, now) {
      const reg = s.byEndpoint(endpoint);
      return reg && reg.expires_at !== null && reg.expires_at <= now ? undefined : reg;
    },
    byD1: async (bare, token) => s.byD1(bare, token),
    byD2: async (bare, application, instance) => s.byD2(bare, application, instance),
    byBare: async (bare) => s.byBare(bare),
    upsert: async (r) => s.transaction(() => upsert(s, r)),
    move: async (id, from, to) => s.moveJid(id, from, to) > 0,
    setBounceSince: async (id, since) => s.setBounceSince(id, since),
    revoke: async (endpoint) => s.deleteEndpoint(endpoint) > 0,
    revokeAccount: async (bare) => s.deleteBare(bare),
    sweepExpired: async (now) => s.deleteExpired(now),
    all: async () => s.all(),
    byPrefix: async (prefix, limit) => s.byPrefix(prefix, limit),
    countLiveByDialect: async (now) => s.countLiveByDialect(now),
    summary: async (now, soon) => s.summary(now, soon),
  };
}

function upsert(s: RegistrationStore, r: UpsertRequest): UpsertResult {
  const find = () => (r.dialect === 1 ? s.byD1(r.bare, r.key.token!) : s.byD2(r.bare, r.key.application!, r.key.instance!));
  let existing = find();
  if (existing && existing.expires_at !== null && existing.expires_at <= r.now) {
    s.deleteEndpoint(existing.endpoint);
    existing = undefined;
  }
  if (existing) {
    s.renew(existing.id, r.jid, r.now, r.expiresAt);
    return { ok: true, fresh: false, reg: { ...existing, jid: r.jid, renewed_at: r.now, expires_at: r.expiresAt, bounce_since: null } };
  }
  if (s.countByBare(r.bare) >= r.maxPerAccount) return { ok: false, reason: "too-many" };
  const reg = s.insert({
    endpoint: r.mint(), dialect: r.dialect, jid: r.jid, bare: r.bare, ...r.key,
    created_at: r.now, renewed_at: r.now, expires_at: r.expiresAt,
  });
  return { ok: true, fresh: true, reg };
}

function queueOver(q: QueueStore): Queue {
  return {
    enqueue: async (m, max) => q.enqueue(m, max),
    hasWaiting: async (registration, now) => q.hasWaiting(registration, now),
    count: async (registration, now) => q.count(registration, now),
    head: async (registration, now) => q.head(registration, now),
    remove: async (id, registration) => q.remove(id, registration),
    cancel: async (publicId, now) => q.cancel(publicId, now),
    retryRemovals: async () => q.retryRemovals(),
    expire: async (now) => q.expire(now),
    waiting: async (now) => q.waiting(now),
    waitingFor: async (bare, now) => q.waitingFor(bare, now),
    depth: async () => q.depth(),
  };
}
