// The component link as the push service sees it, whether or not this
// gateway holds it now. With SQLite it is opened once at start. With
// PostgreSQL and Prosody only the elected link holder opens it
// (src/cluster/leader.ts): a term of leadership gets its own XmppEdge, and
// losing the lead closes it at once, which fails its IQs in flight as a lost
// link (temporary: their messages are kept, or answered 503). Between terms
// this slot is a link that is down.
import type { Element } from "@xmpp/xml";
import type { IqAnswer } from "../outcomes.ts";
import type { Transport } from "../push.ts";
import type { XmppEdge } from "../xmpp/edge.ts";

export class LinkSlot implements Transport {
  private edge: XmppEdge | undefined;
  private closing: Promise<void> = Promise.resolve();

  constructor(
    readonly domain: string,
    private readonly make: () => XmppEdge,
  ) {}

  /** Whether this gateway has been told to hold the link (it may still be connecting). */
  get held(): boolean {
    return this.edge !== undefined;
  }

  get online(): boolean {
    return this.edge?.online ?? false;
  }

  get inflight(): number {
    return this.edge?.inflight ?? 0;
  }

  /** Connects a new edge once the previous one has stopped (Prosody refuses a second link of one component). */
  open(): void {
    if (this.edge) return;
    const edge = this.make();
    this.edge = edge;
    void this.closing.then(() => {
      if (this.edge === edge) edge.start();
    });
  }

  /** Drops the link now; what was in flight fails as a lost link. */
  close(): Promise<void> {
    const edge = this.edge;
    this.edge = undefined;
    if (edge) this.closing = this.closing.then(() => edge.stop());
    return this.closing;
  }

  nextId(): string {
    return this.edge?.nextId() ?? `x${Math.random().toString(36).slice(2)}`;
  }

  send(el: Element): Promise<void> {
    return this.edge ? this.edge.send(el) : Promise.reject(new Error("this gateway does not hold the component link"));
  }

  request(iq: Element, timeoutMs: number, late?: (a: IqAnswer) => void): Promise<IqAnswer> {
    return this.edge ? this.edge.request(iq, timeoutMs, late) : Promise.resolve({ kind: "link-lost" });
  }

  /** An answer another gateway heard for one of this link's IQs (src/cluster/iq-relay.ts). */
  settleRelayed(id: string, from: string, answer: IqAnswer): boolean {
    return this.edge?.settleRelayed(id, from, answer) ?? false;
  }

  drain(maxMs: number): Promise<boolean> {
    return this.edge ? this.edge.drain(maxMs) : Promise.resolve(true);
  }
}
