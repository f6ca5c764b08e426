// Push IQs awaiting their answer. Bounded, so a slow XMPP server makes us
// answer 503 instead of growing memory without limit.
import type { Element } from "@xmpp/xml";
import type { IqAnswer } from "../outcomes.ts";
import { errorCondition } from "../stanzas/errors.ts";

interface Pending {
  to: string;
  resolve: (a: IqAnswer) => void;
  timer: NodeJS.Timeout;
}

export class IqCaller {
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly maxInflight: number) {}

  get inflight(): number {
    return this.pending.size;
  }

  /** `write` puts the stanza on the wire; the answer arrives through `settle`. */
  request(iq: Element, timeoutMs: number, write: (el: Element) => Promise<void>): Promise<IqAnswer> {
    if (this.pending.size >= this.maxInflight) return Promise.resolve({ kind: "busy" });
    const id = iq.attrs.id!;
    return new Promise<IqAnswer>((resolve) => {
      const timer = setTimeout(() => this.finish(id, { kind: "timeout" }), timeoutMs);
      this.pending.set(id, { to: iq.attrs.to!, resolve, timer });
      write(iq).catch(() => this.finish(id, { kind: "link-lost" }));
    });
  }

  /**
   * Takes an incoming `<iq type="result|error">`; false if it was not ours. Only
   * the JID we asked may answer: ids are guessable, and a forged item-not-found
   * from someone else would revoke a stranger's endpoint.
   */
  settle(iq: Element): boolean {
    const id = iq.attrs.id;
    if (id === undefined || this.pending.get(id)?.to !== iq.attrs.from) return false;
    this.finish(id, iq.attrs.type === "result" ? { kind: "result" } : { kind: "error", condition: errorCondition(iq) });
    return true;
  }

  /** The link dropped: nothing in flight will be answered now. */
  failAll(): void {
    for (const id of [...this.pending.keys()]) this.finish(id, { kind: "link-lost" });
  }

  private finish(id: string, answer: IqAnswer): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.resolve(answer);
  }
}
