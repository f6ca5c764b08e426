// RFC 6120 §8.3 stanza errors: build ours, read the ones distributors send back.
import xml, { type Element } from "@xmpp/xml";
import { NS_STANZAS } from "./ns.ts";

export type ErrorType = "auth" | "cancel" | "continue" | "modify" | "wait";

export function stanzaError(type: ErrorType, condition: string, text?: string): Element {
  return xml(
    "error",
    { type },
    xml(condition, { xmlns: NS_STANZAS }),
    text ? xml("text", { xmlns: NS_STANZAS }, text) : null,
  );
}

/** The defined condition of an `<iq type="error">`, or "undefined-condition". */
export function errorCondition(iq: Element): string {
  const error = iq.getChild("error");
  const cond = error?.getChildElements().find((c) => c.attrs.xmlns === NS_STANZAS && c.name !== "text");
  return cond?.name ?? "undefined-condition";
}
