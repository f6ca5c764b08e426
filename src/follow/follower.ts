// Asks an account's other resources whether a registration is theirs
// (src/follow/rule.ts says whom and what the answers mean), by sending them
// the push itself: the one that takes it is the device, and the registration
// moves to its full JID. Each is given a short time (CANDIDATE_TIMEOUT_MS);
// one that answers `result` later still gets the registration, and the stored
// copy is settled through the same late listener as the own JID's IQ.
import type { Logger } from "../log.ts";
import type { IqAnswer } from "../outcomes.ts";
import type { PresenceBook } from "../presence.ts";
import type { Registration } from "../store/registrations.ts";
import { CANDIDATE_TIMEOUT_MS, candidates, judgeCandidate } from "./rule.ts";

export type PushTo = (reg: Registration, jid: string, payload: Buffer, timeoutMs: number, late?: (a: IqAnswer) => void) => Promise<IqAnswer>;

export interface FollowerDeps {
  presence: Pick<PresenceBook, "availableResources" | "refused" | "hasRefused" | "silent" | "isSilent" | "unavailable">;
  /** The one push IQ (PushService.pushTo). */
  pushTo: PushTo;
  /** Stores the registration's new full JID if it still has `reg.jid`; false when it changed meanwhile. */
  move: (reg: Registration, jid: string) => Promise<boolean>;
  /** What one follow may take in all (the [push] timeout an IQ to the own JID would have had). */
  budgetMs: number;
  log: Logger;
  /** The registration moved: whatever waits for it may go to its new JID now. */
  onMoved?: (reg: Registration) => void;
  now?: () => number; // ms, monotonic
}

export class DeviceFollower {
  private readonly now: () => number;

  constructor(private readonly d: FollowerDeps) {
    this.now = d.now ?? (() => performance.now());
  }

  /**
   * The push went to another resource of the account, which took it (the
   * registration has moved), or to none. `late` hears a candidate's late `result` only.
   */
  follow = async (reg: Registration, payload: Buffer, late?: (a: IqAnswer) => void): Promise<boolean> => {
    const p = this.d.presence;
    const started = this.now();
    const skip = (jid: string): boolean => p.hasRefused(jid, reg.id) || p.isSilent(jid);
    for (const jid of candidates({ jid: reg.jid, available: p.availableResources(reg.bare), skip })) {
      const left = this.d.budgetMs - (this.now() - started);
      if (left <= 0) break;
      const answer = await this.d.pushTo(reg, jid, payload, Math.min(CANDIDATE_TIMEOUT_MS, left), (a) => this.heardLate(reg, jid, a, late));
      const verdict = judgeCandidate(answer);
      if (verdict === "moved") {
        await this.moved(reg, jid);
        return true;
      }
      if (verdict === "not-this-device") p.refused(jid, reg.id);
      else if (verdict === "offline") p.unavailable(jid);
      else if (answer.kind === "timeout") p.silent(jid);
      if (answer.kind === "link-lost" || answer.kind === "busy") return false; // no point asking the next one now
      this.d.log.debug({ reg: reg.id, answer: answer.kind, verdict }, "another resource of the account did not take the push");
    }
    return false;
  };

  /** After a candidate's timeout: a `result` is the device after all. Nothing else it says may touch the registration or its copy. */
  private heardLate(reg: Registration, jid: string, a: IqAnswer, late: ((a: IqAnswer) => void) | undefined): void {
    if (judgeCandidate(a) !== "moved") return;
    void this.moved(reg, jid).then(
      () => late?.(a),
      (err: unknown) => {
        this.d.log.error({ err, reg: reg.id }, "following the device failed (a bug): the copy is settled anyway");
        late?.(a);
      },
    );
  }

  private async moved(reg: Registration, jid: string): Promise<void> {
    if (!(await this.d.move(reg, jid))) return; // moved meanwhile (another answer, a re-registration): that one stands
    this.d.log.info({ reg: reg.id }, "registration followed its device to a new resource");
    this.d.onMoved?.({ ...reg, jid });
  }
}
