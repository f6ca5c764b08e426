// The XMPP edge: the only module that talks to @xmpp/component. It keeps the
// component link up, answers IQ requests through the handler table, tracks
// presence and relays push IQs for the push service.
import { component, type Component, type IncomingContext } from "@xmpp/component";
import type { Element } from "@xmpp/xml";
import type { Logger } from "../log.ts";
import type { IqAnswer } from "../outcomes.ts";
import type { PresenceBook } from "../presence.ts";
import type { Transport } from "../push.ts";
import { ping } from "../stanzas/disco.ts";
import { backoffMs } from "../backoff.ts";
import { IqCaller, answerOf, type LateListener } from "./caller.ts";
import { newInstanceId, tagOf, taggedId, validInstanceId, type PresenceType } from "../cluster/wire.ts";
import type { IqHandler } from "./handlers.ts";

const RECONNECT_BASE_MS = 1000; // first retry after about a second, then doubling

const DRAIN_POLL_MS = 20;

export interface EdgeOptions {
  service: string;
  domain: string;
  secret: string;
  pingInterval: number; // s
  reconnectMax: number; // s
  maxInflight: number;
  /**
   * This gateway instance among those sharing one ejabberd component; the
   * ids of the IQs it sends carry it (`<instance>.<seq>`), so whichever
   * instance receives an answer can tell whose it is. Random by default.
   */
  instance?: string;
}

export interface EdgeDeps {
  log: Logger;
  presence: PresenceBook;
  handlers: Map<string, IqHandler>;
  onLink?: (online: boolean) => void;
  onBounce?: (message: Element) => void;
  /**
   * A result or error for an IQ another instance sent (its id wears another
   * instance's tag): ejabberd balanced it onto our link. Without this hook it
   * is dropped, and the sender's IQ times out.
   */
  onStray?: (id: string, answer: IqAnswer, from: string) => void;
  /** Directed presence arrived on our link (after our PresenceBook took it), for the other instances. */
  onPresence?: (type: PresenceType, from: string) => void;
}

export class XmppEdge implements Transport {
  private readonly xmpp: Component;
  private readonly caller: IqCaller;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private idCounter = 0;
  readonly instance: string;

  constructor(private readonly o: EdgeOptions, private readonly d: EdgeDeps) {
    this.instance = o.instance ?? newInstanceId();
    if (!validInstanceId(this.instance)) throw new Error(`instance id must be 1 to 16 of a-z, 0-9: ${JSON.stringify(this.instance)}`);
    this.caller = new IqCaller(o.maxInflight);
    this.xmpp = component({ service: o.service, domain: o.domain, password: o.secret });
    this.xmpp.reconnect.stop(); // its fixed 1 s retry forever is replaced by our backoff
    this.xmpp.middleware.use((ctx) => this.route(ctx));
    this.xmpp.on("error", (err: Error) => this.d.log.warn({ err: err.message }, "component link error"));
    this.xmpp.on("online", () => this.linkUp());
    this.xmpp.on("disconnect", () => this.linkDown());
  }

  get online(): boolean {
    return this.xmpp.status === "online";
  }

  get domain(): string {
    return this.o.domain;
  }

  nextId(): string {
    return taggedId(this.instance, this.idCounter++);
  }

  send(el: Element): Promise<void> {
    const socket = this.xmpp.socket;
    // Stanzas sent in one turn of the event loop leave in one write: under load that
    // saves a syscall per push here and a read per push in the XMPP server.
    if (socket && socket.writableCorked === 0) {
      socket.cork();
      setImmediate(() => socket.uncork());
    }
    return this.xmpp.send(el);
  }

  request(iq: Element, timeoutMs: number, late?: LateListener): Promise<IqAnswer> {
    if (!this.online) return Promise.resolve({ kind: "link-lost" });
    return this.caller.request(iq, timeoutMs, (el) => this.send(el), late);
  }

  /**
   * An answer another instance heard for an IQ we sent (src/cluster/iq-relay.ts):
   * settles it as if it had come on our link, late window included. False if
   * nothing of ours awaits it (answered already, window closed, wrong JID).
   */
  settleRelayed(id: string, from: string, answer: IqAnswer): boolean {
    return this.caller.settleAnswer(id, from, answer);
  }

  /** Push IQs awaiting their answer now. */
  get inflight(): number {
    return this.caller.inflight;
  }

  /**
   * Waits (at most maxMs) until no push IQ awaits its answer; true if none
   * does. Before stop(): an answer that arrives after it is lost, and its
   * stored copy is sent again after the restart.
   */
  async drain(maxMs: number): Promise<boolean> {
    const until = performance.now() + maxMs;
    while (this.caller.inflight > 0 && this.online && performance.now() < until) await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
    return this.caller.inflight === 0;
  }

  /** Starts connecting; never rejects: a down server is retried with backoff. */
  start(): void {
    this.connect(true);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    this.caller.stop();
    try {
      await this.xmpp.stop();
    } catch (err) {
      this.d.log.debug({ err }, "component stop");
    }
  }

  private connect(first: boolean): void {
    if (this.stopping) return;
    const attempt = first ? this.xmpp.start() : this.xmpp.reconnect.reconnect();
    attempt.catch((err: Error) => {
      this.d.log.warn({ err: err.message, service: this.o.service }, "cannot connect to the XMPP server's component port");
      this.scheduleRetry();
    });
  }

  private scheduleRetry(): void {
    if (this.stopping || this.retryTimer) return;
    const delay = backoffMs(++this.attempt, RECONNECT_BASE_MS, this.o.reconnectMax * 1000);
    this.d.log.info({ attempt: this.attempt, delayMs: delay }, "reconnecting to the XMPP server");
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.xmpp.status === "online" || this.xmpp.status === "connecting" || this.xmpp.status === "opening") return;
      this.connect(this.xmpp.status === "offline");
    }, delay);
  }

  private linkUp(): void {
    this.attempt = 0;
    this.d.log.info({ domain: this.o.domain }, "component online");
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => void this.checkLink(), this.o.pingInterval * 1000);
    this.pingTimer.unref();
    this.d.onLink?.(true);
  }

  private linkDown(): void {
    clearInterval(this.pingTimer);
    this.caller.failAll();
    this.d.presence.clear();
    if (this.stopping) return;
    this.d.log.warn("component link lost");
    this.d.onLink?.(false);
    this.scheduleRetry();
  }

  /**
   * XEP-0199 ping to ourselves: the server routes it back, proving the link works
   * both ways. The ping waits a whole ping_interval before the link is dropped,
   * on purpose: a server that is only frozen (overloaded, paused, SIGSTOP) keeps
   * the TCP connection and handles what we wrote when it wakes, and the answers
   * then settle the stored copies. Dropping the link turns every IQ in flight
   * into one whose stanzas may be lost, so its copy is sent again after the
   * reconnect and the phone may see it twice (docs/delivery.md).
   */
  private async checkLink(): Promise<void> {
    if (!this.online) return;
    const answer = await this.request(ping(this.o.domain, this.o.domain, this.nextId()), this.o.pingInterval * 1000);
    if (answer.kind === "timeout") {
      this.d.log.warn("component link does not answer pings: reconnecting");
      this.xmpp.socket?.destroy();
    }
  }

  private route(ctx: IncomingContext): unknown {
    const { stanza } = ctx;
    if (ctx.name === "iq") {
      if (ctx.type === "result" || ctx.type === "error") return void this.answer(stanza);
      const handler = this.d.handlers.get(`${ctx.type} ${ctx.element.attrs.xmlns} ${ctx.element.name}`);
      if (!handler) return undefined; // xmpp.js answers service-unavailable
      // xmpp.js awaits a returned promise before it answers
      return Promise.resolve(handler(stanza.attrs.from!, ctx.element)).then((reply) => toLibraryReply(ctx.element, reply));
    }
    if (ctx.name === "presence") {
      const from = stanza.attrs.from!;
      if (ctx.type === "available" || ctx.type === "unavailable") {
        this.d.presence[ctx.type](from);
        this.d.onPresence?.(ctx.type, from);
      }
    } else if (ctx.name === "message" && ctx.type === "error") {
      this.d.onBounce?.(stanza);
    }
    return undefined;
  }

  /** An IQ result or error: ours settles here; another instance's goes to onStray. */
  private answer(iq: Element): void {
    const { id, from } = iq.attrs;
    if (id === undefined) return;
    const tag = tagOf(id);
    if (tag === undefined || tag === this.instance) {
      this.caller.settle(iq);
      return;
    }
    if (from !== undefined) this.d.onStray?.(id, answerOf(iq), from);
  }
}

/**
 * xmpp.js's IQ callee turns a returned element into a result and an <error/> into
 * an error reply that echoes the request child. Dialect 1 wants its own child
 * (`<register><error>text</error></register>`) next to the error, so we rewrite
 * the echoed child in place.
 */
function toLibraryReply(request: Element, reply: Awaited<ReturnType<IqHandler>>): unknown {
  if ("result" in reply) return reply.result ?? true;
  if (reply.payload) {
    request.attrs = { ...reply.payload.attrs };
    request.children = reply.payload.children;
  }
  return reply.error;
}
