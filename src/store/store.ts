// The store as its callers use it (registry.ts, push.ts, queue-flush.ts,
// src/bounce/, src/follow/, metrics.ts, src/admin): one async interface, two
// implementations (src/store/sqlite/, src/store/pg/), one contract test
// (test/integration/store-contract.test.ts). Only the composition root
// picks one. No SQL outside the implementations.
//
// Async because PostgreSQL is a network peer; the SQLite adapter answers in
// the same turn, so the embedded default keeps its speed. Rules that must be
// atomic across gateways sharing one database (register-or-renew with the
// per-account bound, enqueue with the queue bound and Topic replacement) are
// single methods, so each implementation can make them one transaction.
//
// Several stores on one database: every write is seen by the others' lookups
// within a second (both keep an endpoint cache; SQLite learns of other
// connections' commits by PRAGMA data_version, PostgreSQL by NOTIFY). Only
// PostgreSQL serves several gateways: a SQLite file has one gateway process
// (plus the admin tool, which does not enqueue), and its hasWaiting knows
// only that process's enqueues.
import type { Dialect, Registration } from "./registrations.ts";
import type { EnqueueResult, Head, NewMessage } from "./queue.ts";

export type { Dialect, NewRegistration, Registration } from "./registrations.ts";
export type { EnqueueResult, Head, NewMessage, QueuedMessage } from "./queue.ts";

/** What identifies a device's registration besides its account: dialect 1 `token`, dialect 2 `application` + `instance`. */
export type RegistrationKey = Pick<Registration, "token" | "application" | "instance">;

export interface UpsertRequest {
  dialect: Dialect;
  jid: string; // full JID that pushes go to from now on
  bare: string;
  key: RegistrationKey;
  now: number; // ms
  expiresAt: number | null; // ms; null for dialect 1
  maxPerAccount: number;
  /** A new endpoint token, called only when a registration is created. */
  mint: () => string;
}

/**
 * Register or renew, in one transaction: the same account + key keep their
 * endpoint (renewed, the full JID updated); one past its expiry is replaced by
 * a new endpoint (its senders were told 404 and dropped it, so a new URL makes
 * the distributor tell the app to subscribe again); a new one counts against
 * the account's bound.
 */
export type UpsertResult = { ok: true; reg: Registration; fresh: boolean } | { ok: false; reason: "too-many" };

export interface RegistrationSummary {
  expired: number; // past expiry, not yet purged
  expiring: number; // live, expiring by `soon`
  accounts: number; // distinct bare JIDs
}

export interface Registrations {
  /** The lookup on every POST: a live registration, or undefined (unknown, revoked, or expired at `now`). */
  lookup(endpoint: string, now: number): Promise<Registration | undefined>;
  /** Dialect 1 by account and public token, expired or not (unregister). */
  byD1(bare: string, token: string): Promise<Registration | undefined>;
  /** Dialect 2 by account, application and instance, expired or not. */
  byD2(bare: string, application: string, instance: string): Promise<Registration | undefined>;
  /** Every registration of an account, oldest first (bounces, admin list). */
  byBare(bare: string): Promise<Registration[]>;
  upsert(r: UpsertRequest): Promise<UpsertResult>;
  /**
   * Following the device (src/follow/): the full JID becomes `to`, only while
   * it is still `from` (the JID the follow started from); false when it
   * changed meanwhile (a re-registration, another follow) or the row is gone.
   */
  move(id: number, from: string, to: string): Promise<boolean>;
  /** Dialect 1 (src/bounce/): when the current run of bounces began, null when it ended. Registering again also clears it. */
  setBounceSince(id: number, since: number | null): Promise<void>;
  /** The endpoint answers 404 from now on; its queue goes with it. False when there was none. */
  revoke(endpoint: string): Promise<boolean>;
  /** Every registration of the account; returns how many went. */
  revokeAccount(bare: string): Promise<number>;
  /** Deletes registrations whose expiry is at or before `now`, with their queues; returns how many. */
  sweepExpired(now: number): Promise<number>;
  /** Admin and metrics. */
  all(): Promise<Registration[]>;
  /** Registrations whose endpoint token starts with `prefix`, oldest first, at most `limit`. */
  byPrefix(prefix: string, limit: number): Promise<Registration[]>;
  /** Live at `now`, per dialect (expires_at NULL or after `now`). */
  countLiveByDialect(now: number): Promise<Record<Dialect, number>>;
  summary(now: number, soon: number): Promise<RegistrationSummary>;
}

export interface Queue {
  /**
   * Adds a message behind the registration's others, in one transaction with
   * the bound check. RFC 8030 §5.4: a message with the Topic of one still
   * queued replaces it and takes a new place at the back. `gone` when the
   * registration no longer exists.
   */
  enqueue(m: NewMessage, maxPerRegistration: number): Promise<EnqueueResult>;
  /** Whether the registration has messages live at `now` (asked on every dialect-2 POST). */
  hasWaiting(registration: number, now: number): Promise<boolean>;
  /** Live messages of one registration. */
  count(registration: number, now: number): Promise<number>;
  /** The oldest live message (lowest id) with its registration's endpoint. */
  head(registration: number, now: number): Promise<Head | undefined>;
  /**
   * After the distributor's IQ result, and only then. False when it was
   * already gone. With `registration`, only a row of that registration goes.
   * While the store cannot write: true and remembered (head skips it, the
   * delete is retried once the store writes: queue.ts, pg/queue.ts).
   */
  remove(id: number, registration?: number): Promise<boolean>;
  /** DELETE on a 201's Location (RFC 8030 §6.2): `gone` when not stored (any more). */
  cancel(publicId: string, now: number): Promise<"cancelled" | "gone" | "store-failed">;
  /** Deletes what was delivered while the store could not write (after the store heals). */
  retryRemovals(): Promise<void>;
  /** Drops messages whose expiry is at or before `now`; returns how many. */
  expire(now: number): Promise<number>;
  /** Registrations with live messages (no order promised). */
  waiting(now: number): Promise<number[]>;
  /** Registrations of this account (bare JID) with live messages (no order promised). */
  waitingFor(bare: string, now: number): Promise<number[]>;
  /** Messages stored, expired or not (metrics, admin stats). */
  depth(): Promise<number>;
}

export interface Store {
  readonly backend: "sqlite" | "postgres";
  readonly registrations: Registrations;
  readonly queue: Queue;
  /** One small write that proves the store writes (src/store/health.ts); throws what the store throws. */
  probe(now: number): Promise<void>;
  /** Ends every connection; nothing may be called afterwards. */
  close(): Promise<void>;
}
