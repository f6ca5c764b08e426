import { createHash } from "node:crypto";
import xml, { type Element } from "@xmpp/xml";
import { NS_STANZAS } from "./iq.ts";

/** Dialect 2: Conversations family. */
export const NS_UP2 = "http://gultsch.de/xmpp/drafts/unified-push";

/**
 * What Conversations puts in `application` / `instance`: standard base64
 * (with padding) of SHA-256 over the components joined by NUL,
 * e.g. hash(accountUuid, packageName).
 */
export function hash(...components: string[]): string {
  return createHash("sha256").update(components.join("\0")).digest("base64");
}

export function registerIq2(to: string, attrs: Record<string, string | undefined>): Element {
  return xml("iq", { type: "set", to }, xml("register", { xmlns: NS_UP2, ...attrs }));
}

export interface Registration2 {
  endpoint: string;
  expiration: Date;
}

/**
 * Validates a register result the way Conversations does before it tells an
 * app about the endpoint; throws on anything Conversations would reject.
 */
export function parseRegistered2(reply: Element, now = new Date()): Registration2 {
  const registered = reply.getChild("registered", NS_UP2);
  if (registered === undefined) throw new Error(`no <registered/> in reply: ${reply.toString()}`);
  const endpoint = registered.attrs.endpoint ?? "";
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new Error(`endpoint is not a URL: ${JSON.stringify(endpoint)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`endpoint is not http(s): ${JSON.stringify(endpoint)}`);
  }
  const expiration = new Date(registered.attrs.expiration ?? "");
  if (Number.isNaN(expiration.getTime())) {
    throw new Error(`expiration is not a timestamp: ${JSON.stringify(registered.attrs.expiration)}`);
  }
  if (expiration.getTime() <= now.getTime()) {
    throw new Error(`expiration lies in the past: ${expiration.toISOString()}`);
  }
  return { endpoint, expiration };
}

export interface Push2 {
  application: string | undefined;
  instance: string | undefined;
  /** The base64 text exactly as received. */
  base64: string;
  payload: Buffer;
  from: string | undefined;
  stanza: Element;
}

export function parsePush2(stanza: Element): Push2 {
  const push = stanza.getChild("push", NS_UP2);
  const base64 = push?.getText() ?? "";
  return {
    application: push?.attrs.application,
    instance: push?.attrs.instance,
    base64,
    payload: Buffer.from(base64, "base64"),
    from: stanza.attrs.from,
    stanza,
  };
}

/** How the test distributor answers pushes; "ignore" never answers (timeout tests). */
export type PushAnswer = "result" | "item-not-found" | "feature-not-implemented" | "service-unavailable" | "ignore";

const ERROR_TYPE: Record<Exclude<PushAnswer, "result" | "ignore">, string> = {
  "item-not-found": "cancel",
  "feature-not-implemented": "cancel",
  "service-unavailable": "cancel",
};

/** The iqCallee return value for `answer`: true (empty result), an <error/>, or a promise that never settles. */
export function pushReply(answer: PushAnswer): unknown {
  if (answer === "result") return true;
  if (answer === "ignore") return new Promise(() => {});
  return xml("error", { type: ERROR_TYPE[answer] }, xml(answer, { xmlns: NS_STANZAS }));
}
