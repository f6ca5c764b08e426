// What gateway instances on one ejabberd component tell each other, as pure
// functions: push IQ ids that name their sender, and the payloads of the
// `up_iq` and `up_presence` notifications (docs/high-availability.md,
// "ejabberd: several links at once").
//
// ejabberd spreads the stanzas addressed to the component over all its
// connections (domain_balancing, random by default), so the answer to an IQ
// that one instance sent may reach another. The id says whose it is.
import { randomBytes } from "node:crypto";
import type { IqAnswer } from "../outcomes.ts";

export const IQ_CHANNEL = "up_iq";
export const PRESENCE_CHANNEL = "up_presence";

const INSTANCE = /^[a-z0-9]{1,16}$/;
const CONDITION = /^[a-z0-9-]{1,64}$/; // RFC 6120 §8.3.3 names; anything else is undefined-condition
const MAX_ID = 64; // ours are ~15 characters; a longer one is not ours, whoever's tag it wears
/** NOTIFY refuses payloads of 8000 bytes or more; a JID may be 3071. */
const MAX_PAYLOAD = 7_900;

/** A fresh instance id: 8 base-36 characters, lower case (1 in 2.8e12 that two instances collide). */
export function newInstanceId(): string {
  return (randomBytes(6).readUIntBE(0, 6) % 36 ** 8).toString(36).padStart(8, "0");
}

export function validInstanceId(s: string): boolean {
  return INSTANCE.test(s);
}

/** `<instance>.<seq>`, seq in base 36. */
export const taggedId = (instance: string, seq: number): string => `${instance}.${seq.toString(36)}`;

/** The instance that sent the IQ with this id, or undefined for an id that no instance makes. */
export function tagOf(id: string): string | undefined {
  if (id.length > MAX_ID) return undefined;
  const dot = id.indexOf(".");
  if (dot <= 0) return undefined;
  const tag = id.slice(0, dot);
  return INSTANCE.test(tag) ? tag : undefined;
}

/** An answer heard on one instance's link, for the instance that sent the IQ. */
export interface RelayedAnswer {
  id: string;
  /** The answering JID: only the JID the IQ went to may settle it (src/xmpp/caller.ts). */
  from: string;
  answer: Extract<IqAnswer, { kind: "result" } | { kind: "error" }>;
}

/**
 * `<id> result - <from>` or `<id> error <condition> <from>`. The JID goes
 * last since a resource may contain spaces; id and condition never do.
 * Undefined when it cannot be sent (not an id of ours, too long).
 */
export function encodeAnswer(a: RelayedAnswer): string | undefined {
  if (tagOf(a.id) === undefined || a.id.includes(" ")) return undefined;
  const condition = a.answer.kind === "error" ? (CONDITION.test(a.answer.condition) ? a.answer.condition : "undefined-condition") : "-";
  const payload = `${a.id} ${a.answer.kind} ${condition} ${a.from}`;
  return Buffer.byteLength(payload) < MAX_PAYLOAD ? payload : undefined;
}

export function decodeAnswer(payload: string): RelayedAnswer | undefined {
  const m = /^(\S+) (result|error) (\S+) (.+)$/s.exec(payload);
  if (!m) return undefined;
  const [, id, kind, condition, from] = m as unknown as [string, string, string, string, string];
  if (tagOf(id) === undefined) return undefined;
  if (kind === "result") return condition === "-" ? { id, from, answer: { kind: "result" } } : undefined;
  return CONDITION.test(condition) ? { id, from, answer: { kind: "error", condition } } : undefined;
}

export type PresenceType = "available" | "unavailable";

/** Directed presence one instance received, for the others' PresenceBooks. */
export interface RelayedPresence {
  origin: string; // the instance that received it
  type: PresenceType;
  from: string;
}

/** `<origin> <type> <from>`. */
export function encodePresence(p: RelayedPresence): string | undefined {
  if (!INSTANCE.test(p.origin)) return undefined;
  const payload = `${p.origin} ${p.type} ${p.from}`;
  return Buffer.byteLength(payload) < MAX_PAYLOAD ? payload : undefined;
}

export function decodePresence(payload: string): RelayedPresence | undefined {
  const m = /^([a-z0-9]{1,16}) (available|unavailable) (.+)$/s.exec(payload);
  if (!m) return undefined;
  return { origin: m[1]!, type: m[2] as PresenceType, from: m[3]! };
}
