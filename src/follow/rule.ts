// Following the device (PROTOCOL.md): a registration belongs to account +
// application + instance, not to a resource. Conversations re-registers only
// what expires within 24 h, so a new resource (bind conflict, reinstall) shows
// only as an unavailable old full JID and a directed presence from the new
// one. The rules, pure: when to look elsewhere, whom to ask, what an answer means.
import type { IqAnswer } from "../outcomes.ts";

/** At most this many other resources are asked per attempt: each costs an IQ round trip. */
export const MAX_CANDIDATES = 3;

/**
 * RFC 6121 §8.5.3.1: an IQ to a full JID with no such session is answered
 * service-unavailable; a server may also say recipient-unavailable. Both
 * mean "that resource is gone", not "the app is gone".
 */
const OWN_JID_GONE = new Set(["service-unavailable", "recipient-unavailable"]);

export function ownJidUnavailable(answer: IqAnswer): boolean {
  return answer.kind === "error" && OWN_JID_GONE.has(answer.condition);
}

export interface FollowFacts {
  jid: string; // the registration's stored full JID
  available: readonly string[]; // the account's resources that sent directed presence, newest first
  refused: (jid: string) => boolean; // this resource already said "not this device" in its session
}

/** Whom to ask, in order: the account's other available resources, newest first, never one that refused. */
export function candidates(f: FollowFacts): string[] {
  return f.available.filter((jid) => jid !== f.jid && !f.refused(jid)).slice(0, MAX_CANDIDATES);
}

/**
 * What another resource's answer means. `result`: it is this device, the
 * registration moves there. item-not-found / feature-not-implemented: that
 * is another device (it does not know this application and instance), never
 * a reason to revoke. Anything else: no answer for now, ask the next one.
 */
export type CandidateVerdict = "moved" | "not-this-device" | "no-answer";

const NOT_MINE = new Set(["item-not-found", "feature-not-implemented"]);

export function judgeCandidate(answer: IqAnswer): CandidateVerdict {
  if (answer.kind === "result") return "moved";
  if (answer.kind === "error" && NOT_MINE.has(answer.condition)) return "not-this-device";
  return "no-answer";
}
