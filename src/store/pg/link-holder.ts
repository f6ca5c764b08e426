// Where the link holder is (docs/high-availability.md, "How a standby hands a
// push over"): one row in `link_holder` (migration 8), written by the new
// holder right after it gained the lock, and a watcher that keeps it in
// memory on every instance, so a standby's POST costs no read to find it.
//
// Only the lock holder writes: announce() runs on the elector's own session
// (LeaderElector.query), and its INSERT carries a WHERE that pg_locks shows
// this very backend holding the advisory lock. A holder that lost its
// session cannot write, and one that lost the lock without knowing yet finds
// its write refused. Nobody clears the row: the next holder overwrites it,
// and a standby whose hop fails re-reads it (refresh()).
import type pg from "pg";
import type { Logger } from "../../log.ts";
import { holderAddress, type Listen } from "../../cluster/holder-address.ts";
import { PgListener, type View } from "./listener.ts";

export const LINK_CHANNEL = "up_link";

export interface LinkHolder {
  instance: string;
  address: string; // host:port of its HTTP server
  since: number; // ms
}

/** The session that holds the lock: LeaderElector satisfies it. */
export interface LockSession {
  readonly lockKey: readonly [number, number];
  query<T extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<T[]>;
}

type Queryable = Pick<pg.ClientBase, "query">;

/** The address to announce: the listen host, or where PostgreSQL sees this session come from (holder-address.ts). */
export async function addressFor(session: LockSession, listen: Listen): Promise<string> {
  const [row] = await session.query<{ addr: string | null }>("SELECT host(inet_client_addr()) AS addr");
  return holderAddress(listen, row?.addr ?? null);
}

/** Writes the row, only if this session holds the lock; false when it does not (any more). */
export async function announce(session: LockSession, instanceId: string, address: string, now: number): Promise<boolean> {
  const [classid, objid] = session.lockKey;
  const rows = await session.query(
    `INSERT INTO link_holder (one, instance, address, since)
     SELECT true, $3, $4, $5
     WHERE EXISTS (
       SELECT 1 FROM pg_locks
       WHERE locktype = 'advisory' AND classid = $1::bigint::oid AND objid = $2::bigint::oid AND objsubid = 2
         AND pid = pg_backend_pid() AND granted)
     ON CONFLICT (one) DO UPDATE SET instance = EXCLUDED.instance, address = EXCLUDED.address, since = EXCLUDED.since
     RETURNING instance`,
    [classid, objid, instanceId, address, now],
  );
  return rows.length === 1;
}

/** What to call on `gained`: finds this holder's address and announces it. Undefined when the lock was gone meanwhile. */
export async function announceSelf(session: LockSession, instanceId: string, listen: Listen, now: number): Promise<string | undefined> {
  const address = await addressFor(session, listen);
  return (await announce(session, instanceId, address, now)) ? address : undefined;
}

export async function current(q: Queryable): Promise<LinkHolder | undefined> {
  const { rows } = await q.query<{ instance: string; address: string; since: string | number }>("SELECT instance, address, since FROM link_holder");
  const r = rows[0];
  return r && { instance: r.instance, address: r.address, since: Number(r.since) };
}

export interface WatcherOptions {
  url: string;
  /** Reads outside the listener's connection (the store's pool). */
  pool: Queryable;
  log?: Logger;
  /** While the listener is down, re-read this often. */
  pollMs?: number;
}

/**
 * The current holder in memory: read at start (and on every reconnect of
 * its listener, after LISTEN), re-read on every `up_link` notification, and
 * every pollMs while the listener is down (notifications are lost then).
 * A failed read keeps what it knew: the hop itself does not need the
 * database, so a stale address is still worth a try.
 */
export class LinkHolderWatcher implements View {
  private holder: LinkHolder | undefined;
  private started = 0; // reads begun; only the latest one's answer is kept
  private applied = 0;
  private reading: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly listener: PgListener;

  constructor(private readonly o: WatcherOptions) {
    this.listener = new PgListener({ url: o.url, channels: [LINK_CHANNEL], ...(o.log && { log: o.log }) });
    this.listener.add(this);
  }

  get current(): LinkHolder | undefined {
    return this.holder;
  }

  /** The holder's host:port, or undefined when none was ever announced. */
  address = (): string | undefined => this.holder?.address;

  async start(): Promise<void> {
    await this.listener.start();
    if (!this.listener.up) await this.refresh();
    this.timer = setInterval(() => {
      if (!this.listener.up) void this.refresh();
    }, this.o.pollMs ?? 1_000);
    this.timer.unref();
  }

  /**
   * Reads the row now (on a notification, after a failed hop). Calls while
   * a read is out share it plus one more read after it, so a burst of failed
   * hops costs two reads, not one each. Never rejects.
   */
  refresh = (): Promise<void> => {
    if (this.reading) {
      this.again = true;
      return this.reading;
    }
    this.reading = (async () => {
      do {
        this.again = false;
        try {
          await this.read(this.o.pool);
        } catch (err) {
          this.o.log?.debug({ err: { message: (err as Error).message } }, "could not read the link holder");
        }
      } while (this.again);
    })().finally(() => (this.reading = undefined));
    return this.reading;
  };

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.listener.close();
  }

  notify(channel: string): void {
    if (channel === LINK_CHANNEL) void this.refresh();
  }

  async up(c: pg.ClientBase): Promise<void> {
    await this.read(c); // after LISTEN: a change from now on is notified, one before is in this read
  }

  down(): void {} // keep the last known holder; start()'s timer polls meanwhile

  private async read(q: Queryable): Promise<void> {
    const n = ++this.started;
    const h = await current(q);
    if (n < this.applied) return; // a later read already answered
    this.applied = n;
    const before = this.holder;
    this.holder = h;
    if (h && (before?.instance !== h.instance || before.address !== h.address || before.since !== h.since)) {
      this.o.log?.info({ instance: h.instance, address: h.address }, "link holder");
    }
  }
}
