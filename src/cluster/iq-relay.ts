// Several gateway instances on one ejabberd component ([cluster] links =
// "all"): ejabberd spreads what is addressed to the component over all their
// links, so an IQ answer or a distributor's directed presence may reach any
// instance. This relays both through PostgreSQL (docs/high-availability.md,
// "ejabberd: several links at once"):
//
// - An answer whose id wears another instance's tag (the edge's onStray) is
//   published on `up_iq`; every instance LISTENs, and the one whose tag it is
//   settles its IQ exactly as if the answer had come on its own link (the
//   caller's late window included, and only if it comes from the JID asked).
//   An answer for an instance that is gone finds nobody: its stored copy is
//   sent again by a flusher later (at worst a duplicate, never a loss).
// - Directed presence is published on `up_presence`; every other instance
//   puts it into its PresenceBook, so its onAvailable wake-ups fire too.
//
// Publishing goes through a small pool of its own, batched per event-loop
// turn into one statement (NOTIFY in one transaction keeps the order);
// listening is a PgListener (src/store/pg/listener.ts) on its own connection.
// While PostgreSQL is down nothing is relayed: stray answers are lost (their
// IQs time out, their copies are kept and re-sent), presence stays local.
import pg from "pg";
import type { Logger } from "../log.ts";
import type { IqAnswer } from "../outcomes.ts";
import type { PresenceBook } from "../presence.ts";
import { PgListener, type View } from "../store/pg/listener.ts";
import { bareJid } from "../jid.ts";
import {
  IQ_CHANNEL,
  PRESENCE_CHANNEL,
  decodeAnswer,
  decodePresence,
  encodeAnswer,
  encodePresence,
  tagOf,
  type PresenceType,
} from "./wire.ts";

export interface ClusterRelayOptions {
  url: string;
  /** This instance's id, the edge's (XmppEdge.instance). */
  instance: string;
  /** An answer another instance heard for one of our IQs: XmppEdge.settleRelayed. */
  settle: (id: string, from: string, answer: IqAnswer) => boolean;
  /** Where other instances' presence goes; without it presence is not listened to. */
  presence?: PresenceBook;
  log?: Logger;
  connectTimeoutMs?: number;
  /** Notifications waiting to be published at most; past it new ones are dropped (PostgreSQL is slow or down). */
  maxBacklog?: number;
}

export interface RelayCounts {
  published: number; // notifications written
  dropped: number; // not written: PostgreSQL down, backlog full, or not encodable
  answersSettled: number; // relayed answers that settled one of our IQs
  answersIgnored: number; // relayed answers for us that found nothing (late window closed, wrong JID, duplicate)
  presenceApplied: number;
}

const MAX_BACKLOG = 10_000;

/**
 * NOTIFY gives its transaction an id, so its commit would wait for a WAL
 * flush (an fsync) under synchronous_commit = on. A notification is not
 * durable anyway (lost if the server dies before delivering it), so this
 * transaction alone does not wait.
 */
const NOTIFY_ALL =
  "SELECT set_config('synchronous_commit', 'off', true), (SELECT count(pg_notify(c, p)) FROM unnest($1::text[], $2::text[]) AS t(c, p))";

export class ClusterRelay {
  private readonly listener: PgListener;
  private readonly pool: pg.Pool;
  private batch: [string, string][] = [];
  private flushing = false;
  private closed = false;
  readonly counts: RelayCounts = { published: 0, dropped: 0, answersSettled: 0, answersIgnored: 0, presenceApplied: 0 };

  constructor(private readonly o: ClusterRelayOptions) {
    const timeout = o.connectTimeoutMs ?? 2_000;
    this.listener = new PgListener({
      url: o.url,
      channels: o.presence ? [IQ_CHANNEL, PRESENCE_CHANNEL] : [IQ_CHANNEL],
      ...(o.log && { log: o.log }),
    });
    const view: View = { notify: (channel, payload) => this.notify(channel, payload), up: () => {}, down: () => {} };
    this.listener.add(view);
    this.pool = new pg.Pool({
      connectionString: o.url,
      max: 2,
      connectionTimeoutMillis: timeout,
      query_timeout: timeout,
      keepAlive: true,
      application_name: "up-gateway-relay",
    });
    this.pool.on("error", (err) => o.log?.debug({ err: { message: err.message } }, "relay connection lost"));
    this.pool.on("connect", (client) => client.on("error", () => {})); // a checked-out connection's death must not crash us (see src/store/pg/index.ts)
  }

  /** Listening (relayed answers and presence reach us). */
  get up(): boolean {
    return this.listener.up;
  }

  /**
   * Connects the listener, and opens a publishing connection now rather than
   * on the first stray answer (a connect and its authentication take longer
   * than the relay itself). A failure only leaves relaying off until a retry
   * succeeds.
   */
  async start(): Promise<void> {
    await Promise.all([this.listener.start(), this.pool.query("SELECT 1").catch(() => {})]);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.listener.close();
    await this.pool.end().catch(() => {});
  }

  /** The edge's onStray: an answer for another instance's IQ came on our link. */
  publishAnswer = (id: string, answer: IqAnswer, from: string): void => {
    if (answer.kind !== "result" && answer.kind !== "error") return;
    this.publish(IQ_CHANNEL, encodeAnswer({ id, from, answer }));
  };

  /** The edge's onPresence: directed presence came on our link. */
  publishPresence = (type: PresenceType, from: string): void => {
    if (this.o.presence) this.publish(PRESENCE_CHANNEL, encodePresence({ origin: this.o.instance, type, from }));
  };

  private notify(channel: string, payload: string): void {
    if (channel === IQ_CHANNEL) this.answerHeard(payload);
    else if (channel === PRESENCE_CHANNEL) this.presenceHeard(payload);
  }

  private answerHeard(payload: string): void {
    const a = decodeAnswer(payload);
    if (a === undefined || tagOf(a.id) !== this.o.instance) return; // another instance's, or one that is gone
    if (this.o.settle(a.id, a.from, a.answer)) this.counts.answersSettled++;
    else this.counts.answersIgnored++;
  }

  private presenceHeard(payload: string): void {
    const p = decodePresence(payload);
    const book = this.o.presence;
    if (p === undefined || book === undefined) return;
    // Our own took effect when it came; applied again only if a presence relayed
    // meanwhile undid it, so every instance ends in PostgreSQL's order of the two.
    if (p.origin === this.o.instance && !differs(book, p.type, p.from)) return;
    book[p.type](p.from);
    this.counts.presenceApplied++;
  }

  private publish(channel: string, payload: string | undefined): void {
    if (payload === undefined || this.closed || this.batch.length >= (this.o.maxBacklog ?? MAX_BACKLOG)) {
      this.counts.dropped++;
      return;
    }
    this.batch.push([channel, payload]);
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => void this.flush());
    }
  }

  /** One statement for everything published in this turn, then again for what came meanwhile. */
  private async flush(): Promise<void> {
    while (this.batch.length > 0 && !this.closed) {
      const batch = this.batch;
      this.batch = [];
      try {
        await this.pool.query(NOTIFY_ALL, [
          batch.map((b) => b[0]),
          batch.map((b) => b[1]),
        ]);
        this.counts.published += batch.length;
      } catch (err) {
        this.counts.dropped += batch.length;
        this.o.log?.warn({ err: { message: (err as Error).message }, dropped: batch.length }, "cannot relay to the other instances");
      }
    }
    this.flushing = false;
  }
}

/** Would applying this presence change what the book says of the JID? */
function differs(book: PresenceBook, type: PresenceType, jid: string): boolean {
  const available = book.availableResources(bareJid(jid)).includes(jid);
  return type === "available" ? !available : available || !book.isKnownOffline(jid);
}
