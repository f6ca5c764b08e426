import xml, { type Element } from "@xmpp/xml";

/** Dialect 1: genofire/unified-push-xmpp, namespace `unifiedpush.org`. */
export const NS_UP1 = "unifiedpush.org";

export function registerIq1(to: string, token: string, type: "set" | "get"): Element {
  return xml("iq", { type, to }, xml("register", { xmlns: NS_UP1 }, xml("token", {}, token)));
}

export function unregisterIq1(to: string, token: string): Element {
  return xml("iq", { type: "set", to }, xml("unregister", { xmlns: NS_UP1 }, xml("token", {}, token)));
}

/** The `<endpoint>` text of a register result (a child element, not an attribute). */
export function endpointOf1(reply: Element): string | undefined {
  return reply.getChild("register", NS_UP1)?.getChildText("endpoint") ?? undefined;
}

export interface Notification1 {
  token: string | undefined;
  body: string;
  /** The bytes as posted: base64-decoded when `<encoding>base64</encoding>` is present. */
  payload: Buffer;
  base64: boolean;
}

/** Reads a dialect-1 notification `<message>` (token in subject, payload in body). */
export function parseMessage1(message: Element): Notification1 {
  const body = message.getChildText("body") ?? "";
  const base64 = message.getChildText("encoding", NS_UP1) === "base64";
  return {
    token: message.getChildText("subject") ?? undefined,
    body,
    payload: base64 ? Buffer.from(body, "base64") : Buffer.from(body, "utf8"),
    base64,
  };
}
