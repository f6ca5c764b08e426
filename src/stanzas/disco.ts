import xml, { type Element } from "@xmpp/xml";
import { NS_CONV, NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING, NS_UP } from "./ns.ts";

const FEATURES = [NS_DISCO_INFO, NS_PING, NS_UP, NS_CONV];

export const discoInfo = (): Element =>
  xml(
    "query",
    { xmlns: NS_DISCO_INFO },
    xml("identity", { category: "pubsub", type: "push", name: "UnifiedPush" }),
    ...FEATURES.map((v) => xml("feature", { var: v })),
  );

export const ping = (to: string, from: string, id: string): Element =>
  xml("iq", { type: "get", to, from, id }, xml("ping", { xmlns: NS_PING }));

/** disco#items of `to`: which components a host lists (the doctor looks for ours). */
export const discoItems = (to: string, from: string, id: string): Element =>
  xml("iq", { type: "get", to, from, id }, xml("query", { xmlns: NS_DISCO_ITEMS }));
