// From an accepted POST to a push outcome: look the endpoint up, relay it to
// the distributor in its dialect, and turn the answer into data.
import type { Element } from "@xmpp/xml";
import type { Logger } from "./log.ts";
import type { Registry } from "./registry.ts";
import type { PresenceBook } from "./presence.ts";
import type { Registration } from "./store/registrations.ts";
import { classifyAnswer, RETRY_AFTER, type IqAnswer, type PushOutcome } from "./outcomes.ts";
import { notification } from "./stanzas/dialect1.ts";
import { pushIq } from "./stanzas/dialect2.ts";

/** What the push service needs from the XMPP edge. */
export interface Transport {
  readonly online: boolean;
  readonly domain: string;
  nextId(): string;
  send(el: Element): Promise<void>;
  /** Sends an IQ and resolves with how it ended; never rejects. */
  request(iq: Element, timeoutMs: number): Promise<IqAnswer>;
}

export interface PushMessage {
  payload: Buffer;
  ttl?: number; // s, as the sender asked (RFC 8030 §5.2)
  urgency?: string;
  topic?: string;
  contentEncoding?: string;
}

export interface PushServiceDeps {
  registry: Registry;
  presence: PresenceBook;
  transport: Transport;
  log: Logger;
  timeoutMs: number;
  onOutcome?: (o: PushOutcome, dialect: 1 | 2, startedAt: number) => void;
}

export class PushService {
  constructor(private readonly d: PushServiceDeps) {}

  async push(endpoint: string, msg: PushMessage): Promise<PushOutcome> {
    const started = performance.now();
    const reg = this.d.registry.lookup(endpoint);
    const outcome = reg ? await this.relay(reg, msg) : ({ kind: "gone" } as const);
    this.d.onOutcome?.(outcome, reg?.dialect ?? 2, started);
    return outcome;
  }

  /** Delivers to a known registration; also the entry point of queue flushing. */
  async relay(reg: Registration, msg: PushMessage): Promise<PushOutcome> {
    const t = this.d.transport;
    if (!t.online) return { kind: "unavailable", retryAfter: RETRY_AFTER.linkDown };
    if (reg.dialect === 1) return this.relay1(reg, msg);
    if (this.d.presence.isKnownOffline(reg.jid)) return { kind: "unavailable", retryAfter: RETRY_AFTER.offline };
    const answer = await t.request(pushIq(t.domain, reg.jid, t.nextId(), { application: reg.application!, instance: reg.instance! }, msg.payload), this.d.timeoutMs);
    switch (classifyAnswer(answer)) {
      case "delivered":
        return { kind: "delivered" };
      case "gone":
        this.d.log.info({ reg: reg.id, condition: (answer as { condition?: string }).condition }, "distributor says the app is gone: endpoint revoked");
        this.d.registry.revoke(reg.endpoint);
        return { kind: "gone" };
      default:
        this.d.log.debug({ reg: reg.id, answer: answer.kind }, "push failed temporarily");
        return { kind: "unavailable", retryAfter: retryAfterFor(answer) };
    }
  }

  /** Dialect 1 has no acknowledgement: the XMPP server's offline storage takes over from here. */
  private async relay1(reg: Registration, msg: PushMessage): Promise<PushOutcome> {
    const t = this.d.transport;
    try {
      await t.send(notification(t.domain, reg.jid, t.nextId(), reg.token!, msg.payload));
      return { kind: "delivered" };
    } catch (err) {
      this.d.log.warn({ err }, "could not write a notification to the component link");
      return { kind: "unavailable", retryAfter: RETRY_AFTER.linkDown };
    }
  }
}

function retryAfterFor(a: IqAnswer): number {
  if (a.kind === "busy") return RETRY_AFTER.busy;
  if (a.kind === "timeout") return RETRY_AFTER.timeout;
  if (a.kind === "link-lost") return RETRY_AFTER.linkDown;
  return RETRY_AFTER.offline;
}
