// Registrations by endpoint token, in memory in front of SQLite: every POST
// looks its endpoint up, and pushes come in bursts to the same endpoints.
//
// The store forgets what it changes itself. Changes by other processes (the
// admin tool revokes in the same SQLite file) show in PRAGMA data_version,
// which changes only when another connection has committed: then everything
// cached is dropped. Asking SQLite costs as much as the lookup itself, so it
// is asked once per turn of the event loop, by the first lookup of the turn:
// a request that arrives after another process's commit is answered from the
// committed state (only requests already read in the same turn may miss it),
// so an admin revoke still takes effect at once.
import type { Registration } from "./registrations.ts";

/** Registrations kept, about 500 bytes each: 5 MB for the endpoints that push most. */
export const ENDPOINT_CACHE_SIZE = 10_000;

export class EndpointCache {
  private readonly rows = new Map<string, Registration>();
  private readonly endpointOf = new Map<number, string>();
  private version: number;
  private checked = false;
  private readonly nextTurn = (): void => {
    this.checked = false;
  };

  constructor(private readonly dataVersion: () => number, private readonly max = ENDPOINT_CACHE_SIZE) {
    this.version = dataVersion();
  }

  get size(): number {
    return this.rows.size;
  }

  /** The cached row, else what `load` finds (kept if found; an unknown endpoint is not). */
  get(endpoint: string, load: (endpoint: string) => Registration | undefined): Registration | undefined {
    if (!this.checked) this.check();
    const hit = this.rows.get(endpoint);
    if (hit) return hit;
    const row = load(endpoint);
    if (row) this.add(Object.freeze(row));
    return row;
  }

  forgetId(id: number): void {
    const endpoint = this.endpointOf.get(id);
    if (endpoint !== undefined) this.forget(endpoint);
  }

  forget(endpoint: string): void {
    const row = this.rows.get(endpoint);
    if (!row) return;
    this.rows.delete(endpoint);
    this.endpointOf.delete(row.id);
  }

  clear(): void {
    this.rows.clear();
    this.endpointOf.clear();
  }

  private check(): void {
    this.checked = true;
    setImmediate(this.nextTurn);
    const v = this.dataVersion();
    if (v !== this.version) {
      this.clear();
      this.version = v;
    }
  }

  private add(row: Registration): void {
    if (this.rows.size >= this.max) this.forget(this.rows.keys().next().value!); // the oldest entry
    this.rows.set(row.endpoint, row);
    this.endpointOf.set(row.id, row.endpoint);
  }
}
