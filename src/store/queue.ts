// SQL for the store-and-forward queue; the rules live in queue.ts and push.ts.
import type { Db } from "./db.ts";
import { tryWrite, type FaultSink } from "./faults.ts";

export interface QueuedMessage {
  id: number;
  registration: number;
  payload: Buffer;
  ttl: number; // s
  topic: string | null;
  urgency: string | null;
  content_encoding: string | null;
  vapid_key: string | null;
  public_id: string | null; // the id in the 201's Location
  created_at: number; // ms
  expires_at: number; // ms
}

export type NewMessage = Omit<QueuedMessage, "id" | "public_id"> & { public_id?: string | null };

/** The oldest live message of a registration, with the endpoint to look the registration up by. */
export type Head = QueuedMessage & { endpoint: string };

/** Delivered messages whose delete waits for the store to heal, at most; each is a row id (a few dozen bytes). */
const MAX_UNDELETED = 100_000;

export type EnqueueResult = { ok: true; id: number; replaced: boolean } | { ok: false; reason: "full" | "gone" | "store-failed" };

export class QueueStore {
  private readonly q;
  private readonly enqueueTx: (m: NewMessage, max: number) => EnqueueResult;
  /**
   * Registrations that may have messages: a superset, so hasWaiting, asked on
   * every POST, reads SQLite only for those. Filled at start, added to on every
   * enqueue, pruned when SQLite says a registration has nothing left.
   */
  private readonly maybeWaiting = new Set<number>();
  /** Rows delivered (IQ result) whose delete failed: never handed out again, deleted once the store writes. */
  private readonly undeleted = new Set<number>();

  constructor(db: Db, private readonly faults?: FaultSink) {
    this.q = {
      insert: db.prepare(
        `INSERT INTO queue (registration, payload, ttl, topic, urgency, content_encoding, vapid_key, public_id, created_at, expires_at)
         VALUES (@registration, @payload, @ttl, @topic, @urgency, @content_encoding, @vapid_key, @public_id, @created_at, @expires_at)`,
      ),
      cancel: db.prepare<[string], { id: number; expires_at: number }>("DELETE FROM queue WHERE public_id = ? RETURNING id, expires_at"),
      live: db.prepare<[number, number], { n: number }>("SELECT count(*) AS n FROM queue WHERE registration = ? AND expires_at > ?"),
      hasLive: db.prepare<[number, number], { x: number }>("SELECT 1 AS x FROM queue WHERE registration = ? AND expires_at > ? LIMIT 1"),
      byTopic: db.prepare<[number, string], { id: number; expires_at: number }>(
        "SELECT id, expires_at FROM queue WHERE registration = ? AND topic = ?",
      ),
      head: db.prepare<[number, number, number], Head>(
        `SELECT q.*, r.endpoint FROM queue q JOIN registrations r ON r.id = q.registration
         WHERE q.registration = ? AND q.expires_at > ? AND q.id > ? ORDER BY q.id LIMIT 1`,
      ),
      remove: db.prepare<[number]>("DELETE FROM queue WHERE id = ?"),
      removeOf: db.prepare<[number, number]>("DELETE FROM queue WHERE id = ? AND registration = ?"),
      expire: db.prepare<[number]>("DELETE FROM queue WHERE expires_at <= ?"),
      waiting: db.prepare<[number], { registration: number }>("SELECT DISTINCT registration FROM queue WHERE expires_at > ?"),
      waitingFor: db.prepare<[string, number], { id: number }>(
        `SELECT DISTINCT r.id FROM registrations r JOIN queue q ON q.registration = r.id
         WHERE r.bare = ? AND q.expires_at > ?`,
      ),
      depth: db.prepare<[], { n: number }>("SELECT count(*) AS n FROM queue"),
      registrations: db.prepare<[], { registration: number }>("SELECT DISTINCT registration FROM queue"),
    };
    for (const r of this.q.registrations.all()) this.maybeWaiting.add(r.registration);
    this.enqueueTx = db.transaction((m: NewMessage, max: number): EnqueueResult => {
      const old = m.topic === null ? undefined : this.q.byTopic.get(m.registration, m.topic);
      const oldLive = old !== undefined && old.expires_at > m.created_at ? 1 : 0;
      if (this.q.live.get(m.registration, m.created_at)!.n - oldLive >= max) return { ok: false, reason: "full" };
      if (old) this.q.remove.run(old.id);
      const id = Number(this.q.insert.run({ public_id: null, ...m }).lastInsertRowid);
      this.maybeWaiting.add(m.registration);
      return { ok: true, id, replaced: old !== undefined };
    });
  }

  /**
   * Adds a message behind the registration's others, in one transaction with
   * the bound check. RFC 8030 §5.4: a message with the Topic of one still
   * queued replaces it, and takes the new place at the back (see push.ts).
   */
  enqueue(m: NewMessage, maxPerRegistration: number): EnqueueResult {
    try {
      return tryWrite(this.faults, "enqueue", () => this.enqueueTx(m, maxPerRegistration)) ?? { ok: false, reason: "store-failed" };
    } catch (err) {
      // revoked while its push was in flight: nothing to keep it for
      if ((err as { code?: string }).code === "SQLITE_CONSTRAINT_FOREIGNKEY") return { ok: false, reason: "gone" };
      throw err;
    }
  }

  /**
   * DELETE on a 201's Location. "gone" for an id that is not stored (any more):
   * ids are 128 random bits, so one not found was delivered, expired,
   * replaced by its Topic, cancelled, or never ours; none can be cancelled.
   */
  cancel(publicId: string, now: number): "cancelled" | "gone" | "store-failed" {
    const row = tryWrite(this.faults, "cancel", () => this.q.cancel.get(publicId) ?? null, (r) => r !== null);
    if (row === undefined) return "store-failed";
    if (row !== null && this.undeleted.delete(row.id)) return "gone"; // delivered while the store could not write
    return row !== null && row.expires_at > now ? "cancelled" : "gone";
  }

  /** Whether the registration has messages that are still to be delivered. */
  hasWaiting = (registration: number, now: number): boolean => {
    if (!this.maybeWaiting.has(registration)) return false;
    const live = this.q.hasLive.get(registration, now) !== undefined;
    if (!live) this.maybeWaiting.delete(registration);
    return live;
  };
  count = (registration: number, now: number): number => this.q.live.get(registration, now)!.n;
  /**
   * None while the store cannot write: a message delivered now could not be
   * deleted, and would be sent again on every retry. The sweep after the
   * store heals hands them out again. Never one delivered whose delete failed
   * (`undeleted`), though its row is still there.
   */
  head = (registration: number, now: number): Head | undefined => {
    if (this.faults?.problem !== undefined) return undefined;
    let after = 0;
    for (;;) {
      const h = this.q.head.get(registration, now, after);
      if (h === undefined || !this.undeleted.has(h.id)) return h;
      after = h.id;
    }
  };

  /**
   * After the distributor's IQ result, and only then. True once the message
   * will not be handed out again: deleted now, or, while the store cannot
   * write, remembered (in memory, bounded) and deleted when it can
   * (retryRemovals). False when it was already gone. With `registration`,
   * only a row of that registration goes (the settler's defence in depth:
   * ids are never reused since migration 6, but a wrong id must not take a
   * stranger's message).
   */
  remove = (id: number, registration?: number): boolean => {
    const del = (): boolean => (registration === undefined ? this.q.remove.run(id) : this.q.removeOf.run(id, registration)).changes > 0;
    const r = tryWrite(this.faults, "remove", del, (gone) => gone);
    if (r !== undefined) return r;
    this.undeleted.add(id);
    // Past the bound the oldest is forgotten: it may be delivered once more (at least once, as after a crash).
    if (this.undeleted.size > MAX_UNDELETED) this.undeleted.delete(this.undeleted.values().next().value!);
    return true;
  };

  /** Deletes what was delivered while the store could not write (health.ts onRecovered, and every expiry sweep). */
  retryRemovals = (): void => {
    for (const id of this.undeleted) {
      if (tryWrite(this.faults, "remove", () => this.q.remove.run(id).changes, (n) => n > 0) === undefined) return;
      this.undeleted.delete(id);
    }
  };

  /** Drops messages whose TTL has run out; returns how many went (0 while the store cannot write: they are dropped later). */
  expire = (now: number): number => {
    if (this.undeleted.size > 0 && this.faults?.problem === undefined) this.retryRemovals();
    return tryWrite(this.faults, "expire", () => this.q.expire.run(now).changes, (n) => n > 0) ?? 0;
  };

  /** Registrations with live messages. */
  waiting = (now: number): number[] => this.q.waiting.all(now).map((r) => r.registration);

  /** Registrations of this account (bare JID) with live messages. */
  waitingFor = (bare: string, now: number): number[] => this.q.waitingFor.all(bare, now).map((r) => r.id);

  /** Messages stored, expired or not (for metrics). */
  depth = (): number => this.q.depth.get()!.n;
}
