// Registrations by endpoint token, in memory in front of PostgreSQL, kept
// true across instances: a trigger (migration 4) sends the ids of changed or
// deleted registrations on channel up_registrations with every commit, from
// whichever instance or tool wrote, and each instance LISTENs on one
// dedicated connection. Ids, not endpoint tokens: tokens are capabilities.
//
// The cache is used only while that connection is known to be up: it is
// checked every `heartbeatMs` and emptied whenever it drops (notifications
// sent meanwhile are lost), and until it is back every lookup reads the
// database. A load that raced a notification is returned but not kept.
import pg from "pg";
import type { Logger } from "../../log.ts";
import type { Registration } from "../store.ts";

export const CHANGES_CHANNEL = "up_registrations";
export const PG_CACHE_SIZE = 10_000; // as the SQLite store's (../endpoint-cache.ts)

export interface PgCacheOptions {
  url: string;
  log?: Logger;
  max?: number;
  heartbeatMs?: number;
  timeoutMs?: number;
}

export class PgEndpointCache {
  private readonly rows = new Map<string, Registration>();
  private readonly endpointOf = new Map<number, string>();
  private client: pg.Client | undefined;
  private listening = false;
  private generation = 0; // bumped by every invalidation
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly max: number;

  constructor(private readonly o: PgCacheOptions) {
    this.max = o.max ?? PG_CACHE_SIZE;
  }

  /** Whether lookups are served from memory right now. */
  get active(): boolean {
    return this.listening;
  }

  get size(): number {
    return this.rows.size;
  }

  /** Connects the listener; failures only mean lookups read the database until a retry succeeds. */
  async start(): Promise<void> {
    await this.tick();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    const c = this.client;
    this.down();
    if (c) await c.end().catch(() => {});
  }

  async get(endpoint: string, load: (endpoint: string) => Promise<Registration | undefined>): Promise<Registration | undefined> {
    if (!this.listening) return load(endpoint);
    const hit = this.rows.get(endpoint);
    if (hit) return hit;
    const before = this.generation;
    const row = await load(endpoint);
    if (row && this.listening && this.generation === before) this.add(Object.freeze(row));
    return row;
  }

  forgetId(id: number): void {
    this.generation++;
    const endpoint = this.endpointOf.get(id);
    if (endpoint === undefined) return;
    this.rows.delete(endpoint);
    this.endpointOf.delete(id);
  }

  clear(): void {
    this.generation++;
    this.rows.clear();
    this.endpointOf.clear();
  }

  private add(row: Registration): void {
    if (this.rows.size >= this.max) {
      const oldest = this.rows.values().next().value!;
      this.rows.delete(oldest.endpoint);
      this.endpointOf.delete(oldest.id);
    }
    this.rows.set(row.endpoint, row);
    this.endpointOf.set(row.id, row.endpoint);
  }

  private onNotify(payload: string | undefined): void {
    if (payload === undefined || payload === "*") return this.clear();
    for (const id of payload.split(",")) this.forgetId(Number(id));
  }

  /** Connect when down, heartbeat when up; then again after heartbeatMs. */
  private async tick(): Promise<void> {
    try {
      if (this.client) await this.client.query("SELECT 1");
      else await this.connect();
    } catch (err) {
      this.o.log?.debug({ err: { message: (err as Error).message } }, "endpoint cache off: no change notifications");
      this.down();
    }
    if (this.closed) return;
    this.timer = setTimeout(() => void this.tick(), this.o.heartbeatMs ?? 1_000);
    this.timer.unref();
  }

  private async connect(): Promise<void> {
    const timeout = this.o.timeoutMs ?? 2_000;
    const c = new pg.Client({
      connectionString: this.o.url,
      application_name: "up-gateway-cache",
      keepAlive: true,
      keepAliveInitialDelayMillis: 1_000,
      connectionTimeoutMillis: timeout,
      query_timeout: timeout,
    });
    c.on("error", () => this.down(c));
    c.on("end", () => this.down(c));
    c.on("notification", (n) => {
      if (this.client === c) this.onNotify(n.payload);
    });
    this.client = c;
    await c.connect();
    await c.query(`LISTEN ${CHANGES_CHANNEL}`);
    if (this.client !== c || this.closed) return;
    this.clear(); // whatever changed while nobody listened
    this.listening = true;
  }

  private down(which?: pg.Client): void {
    const c = this.client;
    if (which !== undefined && which !== c) return;
    this.client = undefined;
    this.listening = false;
    this.clear();
    if (c) {
      c.removeAllListeners("end");
      c.on("error", () => {});
      if (which !== undefined || !this.closed) c.connection.stream.destroy();
    }
  }
}
