// IQ requests the component answers. Each handler returns its reply as data;
// the router puts it on the wire, so no request goes unanswered.
import type { Element } from "@xmpp/xml";
import type { Refusal, RegisterResult, Registry } from "../registry.ts";
import { error1, parseToken, registered1, unregistered1 } from "../stanzas/dialect1.ts";
import { parseRegister2, registered2 } from "../stanzas/dialect2.ts";
import { discoInfo } from "../stanzas/disco.ts";
import { stanzaError, type ErrorType } from "../stanzas/errors.ts";
import { NS_CONV, NS_DISCO_INFO, NS_PING, NS_UP } from "../stanzas/ns.ts";

/** A result (with an optional payload) or an error: the error's siblings go into the reply too. */
export type IqReply = { result: Element | null } | { error: Element; payload?: Element };

/** May answer later (the store is asynchronous); xmpp.js awaits the reply. */
export type IqHandler = (from: string, child: Element) => IqReply | Promise<IqReply>;

/** Registry refusals on the wire (RFC 6120 §8.3.3). */
const REFUSAL: Record<Refusal["reason"], [ErrorType, string]> = {
  "bad-request": ["modify", "bad-request"],
  forbidden: ["auth", "forbidden"],
  "too-many": ["wait", "resource-constraint"],
  "not-found": ["cancel", "item-not-found"],
  // §8.3.3.18: the server "lacks the system resources necessary to service the request"; type wait: retry later
  unavailable: ["wait", "resource-constraint"],
};

export interface HandlerDeps {
  registry: Registry;
  endpointUrl: (token: string) => string;
  onRegistered?: (r: RegisterResult & { ok: true }) => void;
}

/** Keyed by `${type} ${namespace} ${element}`. */
export function iqHandlers(d: HandlerDeps): Map<string, IqHandler> {
  const refuse1 = (name: "register" | "unregister", r: Refusal): IqReply => {
    const [payload, error] = error1(name, r.text, ...REFUSAL[r.reason]);
    return { error: error!, payload };
  };

  const register1: IqHandler = async (from, child) => {
    const t = parseToken(child);
    if ("error" in t) return refuse1("register", { ok: false, reason: "bad-request", text: t.error });
    const r = await d.registry.register1(from, t.token);
    if (!r.ok) return refuse1("register", r);
    d.onRegistered?.(r);
    return { result: registered1(d.endpointUrl(r.reg.endpoint)) };
  };

  const unregister1: IqHandler = async (from, child) => {
    const t = parseToken(child);
    if ("error" in t) return refuse1("unregister", { ok: false, reason: "bad-request", text: t.error });
    const r = await d.registry.unregister1(from, t.token);
    return r.ok ? { result: unregistered1() } : refuse1("unregister", r);
  };

  const register2: IqHandler = async (from, child) => {
    const p = parseRegister2(child);
    if ("error" in p) return { error: stanzaError("modify", "bad-request", p.error) };
    const r = await d.registry.register2(from, p.application, p.instance);
    if (!r.ok) return { error: stanzaError(...REFUSAL[r.reason], r.text) };
    d.onRegistered?.(r);
    return { result: registered2(d.endpointUrl(r.reg.endpoint), r.reg.expires_at!) };
  };

  return new Map<string, IqHandler>([
    [`set ${NS_UP} register`, register1],
    [`get ${NS_UP} register`, register1], // the seed distributor sends get
    [`set ${NS_UP} unregister`, unregister1],
    [`set ${NS_CONV} register`, register2],
    [`get ${NS_DISCO_INFO} query`, () => ({ result: discoInfo() })],
    [`get ${NS_PING} ping`, () => ({ result: null })],
  ]);
}
