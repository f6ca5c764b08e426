// Test helpers: parse serialized stanzas back into elements with @xmpp/xml's own parser.
import xml, { type Element } from "@xmpp/xml";

/** Parses one serialized element (a stanza or a payload child). */
export function parseXml(s: string): Element {
  const p = new xml.Parser();
  let out: Element | undefined;
  let err: unknown;
  p.on("element", (el: Element) => {
    out = el;
  });
  p.on("error", (e: unknown) => {
    err = e;
  });
  p.write(`<wrap>${s}</wrap>`);
  if (err) throw err;
  if (!out) throw new Error(`no element in ${JSON.stringify(s)}`);
  return out;
}

/** Serializes and parses back, as a peer on the wire would see it. */
export const overTheWire = (el: Element): Element => parseXml(el.toString());

export type ErrorParts = { type: string | undefined; condition: string | undefined; conditionNs: string | undefined; text: string | null };

/** The RFC 6120 parts of an `<error/>` element. */
export function errorParts(error: Element): ErrorParts {
  assertName(error, "error");
  const cond = error.getChildElements().find((c) => c.name !== "text");
  return {
    type: error.attrs.type,
    condition: cond?.name,
    conditionNs: cond?.attrs.xmlns,
    text: error.getChildText("text", "urn:ietf:params:xml:ns:xmpp-stanzas"),
  };
}

function assertName(el: Element, name: string): void {
  if (el.name !== name) throw new Error(`expected <${name}>, got <${el.name}>`);
}
