// A one-shot component connection for `up-gateway-admin doctor`: connect,
// authenticate, ask a few IQs, leave. No reconnects, no handlers: it must
// never linger or answer stanzas meant for a running gateway.
import { component } from "@xmpp/component";
import type { Element } from "@xmpp/xml";
import type { IqAnswer } from "../outcomes.ts";
import { NS_PING } from "../stanzas/ns.ts";
import { IqCaller } from "./caller.ts";

export type Probe =
  | { kind: "online"; request(iq: Element, timeoutMs: number): Promise<IqAnswer & { reply?: Element }>; close(): Promise<void> }
  | { kind: "refused"; condition: string } // the server closed the stream with this error: not-authorized, host-unknown, conflict, ...
  | { kind: "failed"; error: string } // socket trouble or no answer in time
  ;

export async function probeComponent(o: { service: string; domain: string; secret: string }, timeoutMs: number): Promise<Probe> {
  const xmpp = component({ service: o.service, domain: o.domain, password: o.secret });
  xmpp.reconnect.stop();
  // Our own ping comes back through the server; answering it makes the round trip a result.
  xmpp.iqCallee.get(NS_PING, "ping", () => true);
  const caller = new IqCaller(64);
  const replies = new Map<string, Element>();
  xmpp.middleware.use((ctx) => {
    if (ctx.name === "iq" && (ctx.type === "result" || ctx.type === "error")) {
      replies.set(ctx.stanza.attrs.id ?? "", ctx.stanza);
      caller.settle(ctx.stanza);
    }
    return undefined;
  });
  let streamError: string | undefined;
  xmpp.on("error", (err: Error & { condition?: string }) => {
    if (err.condition) streamError ??= err.condition;
  });
  const close = async (): Promise<void> => {
    caller.failAll();
    await Promise.race([xmpp.stop().catch(() => {}), new Promise((r) => setTimeout(r, 2000).unref())]);
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      xmpp.start(),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs))),
    ]);
  } catch (err) {
    await close();
    const e = err as Error & { condition?: string };
    const condition = e.condition ?? streamError;
    return condition ? { kind: "refused", condition } : { kind: "failed", error: e.message };
  } finally {
    clearTimeout(timer);
  }
  return {
    kind: "online",
    request: async (iq, ms) => {
      const answer = await caller.request(iq, ms, (el) => xmpp.send(el));
      return { ...answer, reply: replies.get(iq.attrs.id ?? "") };
    },
    close,
  };
}
