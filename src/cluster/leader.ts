// Which gateway holds the component link (Prosody takes one connection per
// component; docs/high-availability.md): the one whose session holds a
// PostgreSQL advisory lock. A session lock lives exactly as long as its
// connection, so it needs no lease to renew and no clock to trust: when the
// holder dies or vanishes, the server ends its session and the lock is free.
//
// One dedicated connection (not the store's pool: a pooled session would
// carry the lock to whichever query borrowed it). Not leading, it tries
// pg_try_advisory_lock every `retryMs`; leading, it heartbeats every
// `heartbeatMs`. Any error, a query that takes longer than `timeoutMs`, or
// the connection ending is "lost" at once, and the connection is destroyed.
//
// No two holders at once: the holder gives up by heartbeatMs + timeoutMs
// after its connection stops answering (3 s by default), while the server
// frees the lock only once it has ended the session itself, by TCP keepalive
// (idle connection) or tcp_user_timeout (unacknowledged data), 5 s by default.
// Node 20 cannot set the client's keepalive interval or count, so the client
// side relies on the heartbeat and the server side on the settings below.
import { EventEmitter } from "node:events";
import pg from "pg";
import type { Logger } from "../log.ts";
import { LINK_HOLDER_LOCK, LOCK_CLASS } from "../store/pg/locks.ts";

export interface LeaderOptions {
  url: string;
  log?: Logger;
  /** Lock key (classid, objid); the default is the link holder's. */
  key?: readonly [number, number];
  retryMs?: number;
  heartbeatMs?: number;
  timeoutMs?: number;
  /** Seconds until the server ends a silent session (keepalive idle + interval x count, and tcp_user_timeout). */
  serverDeadSeconds?: number;
}

export const LEADER_DEFAULTS = {
  retryMs: 1_000, // a standby takes over at most this long after the lock is free
  heartbeatMs: 1_000,
  timeoutMs: 2_000,
  serverDeadSeconds: 5,
} as const;

interface Events {
  gained: [];
  lost: [reason: string];
}

export class LeaderElector extends EventEmitter<Events> {
  private client: pg.Client | undefined;
  private leading = false;
  private stopped = true;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly o: Required<Omit<LeaderOptions, "log">> & { log?: Logger };

  constructor(options: LeaderOptions) {
    super();
    this.o = { ...LEADER_DEFAULTS, key: [LOCK_CLASS, LINK_HOLDER_LOCK], ...options };
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** The advisory lock's key (classid, objid), as pg_locks shows it. */
  get lockKey(): readonly [number, number] {
    return this.o.key;
  }

  /**
   * Runs one statement on the session that holds the lock, so what it writes
   * is written by the holder only (src/store/pg/link-holder.ts announces the
   * holder's address this way). Rejects when not leading. A failure here is
   * not "lost": the heartbeat alone decides that.
   */
  async query<T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
    const c = this.client;
    if (!this.leading || c === undefined) throw new Error("not holding the link lock");
    return (await c.query<T>(text, values)).rows;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** Gives up the lock (ending the session frees it) and stops trying; emits `lost` if leading. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    const c = this.client;
    this.client = undefined;
    this.setLost("stopped");
    if (c) await Promise.race([c.end().catch(() => {}), new Promise((r) => setTimeout(r, this.o.timeoutMs).unref())]).finally(() => destroy(c));
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => {
        this.running = undefined;
        this.schedule(this.leading ? this.o.heartbeatMs : this.o.retryMs);
      });
    }, ms);
  }

  private async tick(): Promise<void> {
    try {
      const c = this.client ?? (await this.connect());
      if (this.leading) {
        await c.query("SELECT 1");
        return;
      }
      const { rows } = await c.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1, $2) AS ok", [...this.o.key]);
      if (!rows[0]!.ok) return;
      if (this.stopped || this.client !== c) {
        destroy(c); // stopped or dropped meanwhile: the session, and the lock, go
        return;
      }
      this.leading = true;
      this.o.log?.info("holding the link lock");
      this.emit("gained");
    } catch (err) {
      this.drop(`database: ${(err as Error).message}`);
    }
  }

  private async connect(): Promise<pg.Client> {
    const c = new pg.Client({
      connectionString: this.o.url,
      application_name: "up-gateway-leader",
      keepAlive: true,
      keepAliveInitialDelayMillis: 1_000,
      connectionTimeoutMillis: this.o.timeoutMs,
      query_timeout: this.o.timeoutMs,
    });
    c.on("error", (err) => this.drop(`connection: ${err.message}`, c));
    c.on("end", () => this.drop("connection ended", c));
    this.client = c;
    await c.connect();
    // How soon the server ends this session, and so frees the lock, when we vanish.
    const s = this.o.serverDeadSeconds;
    const idle = Math.max(1, Math.floor(s / 2));
    await c.query(
      `SET tcp_keepalives_idle = ${idle}; SET tcp_keepalives_interval = 1; SET tcp_keepalives_count = ${Math.max(1, s - idle)};` +
        ` SET tcp_user_timeout = ${s * 1000}`,
    );
    return c;
  }

  /** The session is gone or not to be trusted: destroy it and report at once. */
  private drop(reason: string, which?: pg.Client): void {
    const c = this.client;
    if (which !== undefined && which !== c) return; // an old connection's late event
    this.client = undefined;
    if (c) destroy(c);
    if (!this.leading) this.o.log?.debug({ reason }, "link lock: no database session, retrying");
    this.setLost(reason);
  }

  private setLost(reason: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.o.log?.warn({ reason }, "lost the link lock");
    this.emit("lost", reason);
  }
}

function destroy(c: pg.Client): void {
  c.removeAllListeners("end");
  c.removeAllListeners("error");
  c.on("error", () => {});
  c.connection.stream.destroy();
}
