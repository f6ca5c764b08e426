// Which registrations may have queued messages, in memory, so that
// hasWaiting (asked on every dialect-2 POST) reads PostgreSQL only for
// those, as the SQLite store's QueueStore does. A superset: a trigger
// (migration 5) sends the registration ids of every insert into the queue on
// channel up_queue, from any instance; ids leave only when the database says
// nothing live is left and nothing was added meanwhile. Trusted only while
// the listener is up (listener.ts): rebuilt from the table on every
// (re)connect, and while it is down every hasWaiting reads the database.
import type pg from "pg";
import type { PgListener, View } from "./listener.ts";

export const QUEUE_CHANNEL = "up_queue";

export class MaybeWaiting implements View {
  /** registration -> how many times it was added (to tell a stale "nothing left" from a fresh one). */
  private readonly ids = new Map<number, number>();
  private readonly heard: ((registration: number) => void)[] = [];

  constructor(private readonly listener: PgListener) {
    listener.add(this);
  }

  /** False only when the registration certainly has nothing queued. */
  mayHave(registration: number): boolean {
    return !this.listener.up || this.ids.has(registration);
  }

  /** Taken before asking the database, for settled(). */
  mark(registration: number): number | undefined {
    return this.ids.get(registration);
  }

  added(registration: number): void {
    this.ids.set(registration, (this.ids.get(registration) ?? 0) + 1);
  }

  /** The database found nothing live: forget it, unless it was added since `mark`. */
  settled(registration: number, mark: number | undefined): void {
    if (this.ids.get(registration) === mark) this.ids.delete(registration);
  }

  get size(): number {
    return this.ids.size;
  }

  /** Told of every registration another writer (or this one) queued a message for: the leader's flusher wakes (app.ts). */
  onQueued(cb: (registration: number) => void): void {
    this.heard.push(cb);
  }

  notify(channel: string, payload: string): void {
    if (channel !== QUEUE_CHANNEL || payload === "") return;
    for (const id of payload.split(",")) {
      this.added(Number(id));
      for (const cb of this.heard) cb(Number(id));
    }
  }

  async up(c: pg.ClientBase): Promise<void> {
    // After LISTEN: an insert committed from now on is notified, one before is in this read.
    const { rows } = await c.query<{ registration: number }>("SELECT DISTINCT registration FROM queue");
    for (const r of rows) this.added(Number(r.registration));
  }

  down(): void {
    this.ids.clear();
  }
}
