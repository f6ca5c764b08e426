import { randomUUID } from "node:crypto";
import type { Client } from "@xmpp/client";
import type { Element } from "@xmpp/xml";

export const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * An IQ error reply. Unlike @xmpp/client's StanzaError it keeps the whole
 * reply: dialect 1 puts its reason in `<register><error>` beside the
 * RFC 6120 `<error/>`, and tests check both.
 */
export class StanzaError extends Error {
  override readonly name = "StanzaError";
  constructor(
    readonly condition: string,
    readonly type: string | undefined,
    readonly text: string | undefined,
    readonly stanza: Element,
  ) {
    super(condition + (text ? ` - ${text}` : ""));
  }

  static fromReply(stanza: Element): StanzaError {
    const error = stanza.getChild("error");
    const condition = error?.getChildElements().find((c: Element) => c.attrs.xmlns === NS_STANZAS);
    const text = error?.getChildText("text", NS_STANZAS) ?? undefined;
    return new StanzaError(condition?.name ?? "undefined-condition", error?.attrs.type, text, stanza);
  }
}

/**
 * Sends an IQ get/set and resolves with the `result` stanza, or rejects with
 * StanzaError for an `error` reply. Listens for the reply itself instead of
 * using iqCaller so the error reply is not reduced to its <error/> child.
 */
export function request(client: Client, iq: Element, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Element> {
  const id = iq.attrs.id ?? randomUUID();
  iq.attrs.id = id;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off("stanza", onStanza);
      reject(new Error(`no reply to IQ ${id} within ${timeoutMs} ms: ${iq.toString()}`));
    }, timeoutMs);
    function onStanza(stanza: Element): void {
      if (!stanza.is("iq") || stanza.attrs.id !== id) return;
      if (stanza.attrs.type !== "result" && stanza.attrs.type !== "error") return;
      clearTimeout(timer);
      client.off("stanza", onStanza);
      if (stanza.attrs.type === "result") resolve(stanza);
      else reject(StanzaError.fromReply(stanza));
    }
    client.on("stanza", onStanza);
    client.send(iq).catch((error: unknown) => {
      clearTimeout(timer);
      client.off("stanza", onStanza);
      reject(error);
    });
  });
}
