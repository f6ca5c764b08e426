// Dialect 1, `unifiedpush.org` (PROTOCOL.md): register/unregister IQs and <message> notifications.
import xml, { type Element } from "@xmpp/xml";
import { encodeBody } from "../payload.ts";
import { NS_UP } from "./ns.ts";
import { stanzaError, type ErrorType } from "./errors.ts";

/** The public token of a register or unregister IQ child, or why it is unusable. */
export function parseToken(child: Element): { token: string } | { error: string } {
  const token = child.getChildText("token")?.trim() ?? "";
  if (token === "") return { error: "no token" };
  if (token.length > 1024) return { error: "token too long (1024 characters at most)" };
  return { token };
}

export const registered1 = (endpoint: string): Element =>
  xml("register", { xmlns: NS_UP }, xml("endpoint", {}, endpoint));

export const unregistered1 = (): Element => xml("unregister", { xmlns: NS_UP }, xml("success"));

/** The seed distributor reads `<name><error>text</error></name>`; we add a standard stanza error too. */
export function error1(name: "register" | "unregister", text: string, type: ErrorType, condition: string): Element[] {
  return [xml(name, { xmlns: NS_UP }, xml("error", {}, text)), stanzaError(type, condition, text)];
}

/** The notification: no `type` attribute, so the server's offline storage applies. */
export function notification(from: string, to: string, id: string, publicToken: string, payload: Uint8Array): Element {
  const body = encodeBody(payload);
  return xml(
    "message",
    { from, to, id },
    xml("subject", {}, publicToken),
    xml("body", {}, body.text),
    body.base64 ? xml("encoding", { xmlns: NS_UP }, "base64") : null,
  );
}
