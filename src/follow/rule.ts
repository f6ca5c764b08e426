// Following the device (PROTOCOL.md): a registration belongs to account +
// application + instance, not to a resource. Conversations re-registers only
// what expires within 24 h, so a new resource (bind conflict, reinstall) shows
// only as an unavailable old full JID and a directed presence from the new
// one. The rules, pure: when to look elsewhere, whom to ask, what an answer means.
import { classifyAnswer, type IqAnswer } from "../outcomes.ts";

/** At most this many other resources are asked per attempt: each costs an IQ round trip. */
export const MAX_CANDIDATES = 3;

/**
 * How long one candidate may take. It sent directed presence, so it is
 * online, and a live session answers within a second; the POST and the
 * queue flusher wait on this, so a silent candidate costs 2 s once (it is
 * not asked again until its next presence), never the full [push] timeout.
 * A right device that answers later still takes the message (the late listener).
 */
export const CANDIDATE_TIMEOUT_MS = 2000;

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
  skip: (jid: string) => boolean; // it already said "not this device" in its session, or did not answer since its last presence
}

/** Whom to ask, in order: the account's other available resources, newest first, never one to skip. */
export function candidates(f: FollowFacts): string[] {
  return f.available.filter((jid) => jid !== f.jid && !f.skip(jid)).slice(0, MAX_CANDIDATES);
}

/**
 * What another resource's answer means, from the one reading of answers
 * (src/outcomes.ts). Delivered: it is this device, the registration moves
 * there. Gone (item-not-found / feature-not-implemented): it does not know
 * this application and instance, so it is another device; never a reason to
 * revoke. service-unavailable / recipient-unavailable: that resource is gone
 * too. Anything else: no answer for now.
 */
export type CandidateVerdict = "moved" | "not-this-device" | "offline" | "no-answer";

export function judgeCandidate(answer: IqAnswer): CandidateVerdict {
  const verdict = classifyAnswer(answer);
  if (verdict === "delivered") return "moved";
  if (verdict === "gone") return "not-this-device";
  return ownJidUnavailable(answer) ? "offline" : "no-answer";
}
