// Dialect 2, `http://gultsch.de/xmpp/drafts/unified-push` (Conversations family).
import xml, { type Element } from "@xmpp/xml";
import { NS_CONV } from "./ns.ts";

const B64_32 = /^[A-Za-z0-9+/]{43}=$/; // standard base64 of exactly 32 bytes

export type Register2 = { application: string; instance: string };

/** Both attributes must be standard base64 of 32 bytes, as `up` and Prosody require. */
export function parseRegister2(child: Element): Register2 | { error: string } {
  for (const attr of ["application", "instance"] as const) {
    const v = child.attrs[attr];
    if (v === undefined || v === "") return { error: `missing ${attr} attribute` };
    if (!B64_32.test(v)) return { error: `${attr} must be standard base64 of 32 bytes` };
  }
  return { application: child.attrs.application!, instance: child.attrs.instance! };
}

export const registered2 = (endpoint: string, expiresAt: number): Element =>
  xml("registered", { xmlns: NS_CONV, endpoint, expiration: new Date(expiresAt).toISOString() });

/** The push IQ: single-line standard base64 with padding, attributes echoed byte for byte. */
export function pushIq(from: string, to: string, id: string, reg: Register2, payload: Uint8Array): Element {
  return xml(
    "iq",
    { type: "set", from, to, id },
    // A view on the payload's bytes, not a copy (Buffer.from(buffer) would copy).
    xml("push", { xmlns: NS_CONV, application: reg.application, instance: reg.instance }, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString("base64")),
  );
}
