// One dedicated connection that LISTENs to the store's change channels, for
// the in-memory views that must stay true across instances (cache.ts,
// waiting.ts). Heartbeated every `heartbeatMs`; a view may trust memory only
// while `up`, since notifications sent while nobody listened are lost: on
// every (re)connect, after LISTEN, each view resynchronizes (onUp) before the
// listener counts as up; on every drop each view is told at once (onDown).
import pg from "pg";
import type { Logger } from "../../log.ts";

export interface PgListenerOptions {
  url: string;
  channels: readonly string[];
  log?: Logger;
  heartbeatMs?: number;
  timeoutMs?: number;
}

export interface View {
  notify(channel: string, payload: string): void;
  /** Connected and listening: rebuild from the database (with `c`). */
  up(c: pg.ClientBase): Promise<void> | void;
  down(): void;
}

export class PgListener {
  private client: pg.Client | undefined;
  private listening = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly views: View[] = [];

  constructor(private readonly o: PgListenerOptions) {}

  get up(): boolean {
    return this.listening;
  }

  add(view: View): void {
    this.views.push(view);
  }

  /** Connects; a failure only leaves the views off until a retry succeeds. */
  start(): Promise<void> {
    return this.tick();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    const c = this.client;
    this.drop();
    if (c) await c.end().catch(() => {});
  }

  /** Connect when down, heartbeat when up; then again after heartbeatMs. */
  private async tick(): Promise<void> {
    try {
      if (this.client) await this.client.query("SELECT 1");
      else await this.connect();
    } catch (err) {
      this.o.log?.debug({ err: { message: (err as Error).message } }, "store change notifications off");
      this.drop(undefined, true);
    }
    if (this.closed) return;
    this.timer = setTimeout(() => void this.tick(), this.o.heartbeatMs ?? 1_000);
    this.timer.unref();
  }

  private async connect(): Promise<void> {
    const timeout = this.o.timeoutMs ?? 2_000;
    const c = new pg.Client({
      connectionString: this.o.url,
      application_name: "up-gateway-listen",
      keepAlive: true,
      keepAliveInitialDelayMillis: 1_000,
      connectionTimeoutMillis: timeout,
      query_timeout: timeout,
    });
    c.on("error", () => this.drop(c, true));
    c.on("end", () => this.drop(c, true));
    c.on("notification", (n) => {
      if (this.client === c) for (const v of this.views) v.notify(n.channel, n.payload ?? "");
    });
    this.client = c;
    await c.connect();
    for (const channel of this.o.channels) await c.query(`LISTEN ${channel}`);
    for (const v of this.views) await v.up(c);
    if (this.client !== c || this.closed) return;
    this.listening = true;
  }

  private drop(which?: pg.Client, destroy = false): void {
    const c = this.client;
    if (which !== undefined && which !== c) return; // an old connection's late event
    this.client = undefined;
    this.listening = false;
    for (const v of this.views) v.down();
    if (c) {
      c.removeAllListeners("end");
      c.on("error", () => {});
      if (destroy) c.connection.stream.destroy();
    }
  }
}
