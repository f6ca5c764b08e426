// Registrations by endpoint token, in memory in front of PostgreSQL, kept
// true across instances: a trigger (migration 4) sends the ids of changed or
// deleted registrations on channel up_registrations with every commit, from
// whichever instance or tool wrote. Ids, not endpoint tokens: tokens are
// capabilities. Used only while the listener is up (listener.ts); emptied
// whenever it drops or comes back. A load that raced an invalidation is
// returned but not kept.
import type { Registration } from "../store.ts";
import type { PgListener, View } from "./listener.ts";

export const REGISTRATIONS_CHANNEL = "up_registrations";
export const PG_CACHE_SIZE = 10_000; // as the SQLite store's (../endpoint-cache.ts)

export class PgEndpointCache implements View {
  private readonly rows = new Map<string, Registration>();
  private readonly endpointOf = new Map<number, string>();
  private generation = 0; // bumped by every invalidation

  constructor(private readonly listener: PgListener, private readonly max = PG_CACHE_SIZE) {
    listener.add(this);
  }

  /** Whether lookups are served from memory right now. */
  get active(): boolean {
    return this.listener.up;
  }

  get size(): number {
    return this.rows.size;
  }

  async get(endpoint: string, load: (endpoint: string) => Promise<Registration | undefined>): Promise<Registration | undefined> {
    if (!this.listener.up) return load(endpoint);
    const hit = this.rows.get(endpoint);
    if (hit) return hit;
    const before = this.generation;
    const row = await load(endpoint);
    if (row && this.listener.up && this.generation === before) this.add(Object.freeze(row));
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

  notify(channel: string, payload: string): void {
    if (channel !== REGISTRATIONS_CHANNEL) return;
    if (payload === "" || payload === "*") return this.clear();
    for (const id of payload.split(",")) this.forgetId(Number(id));
  }

  up(): void {
    this.clear(); // whatever changed while nobody listened
  }

  down(): void {
    this.clear();
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
}
