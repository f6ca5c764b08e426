// Asks an account's other resources whether a registration is theirs
// (src/follow/rule.ts says whom and what the answers mean), by sending them
// the push itself: the one that takes it is the device, and the registration
// moves to its full JID.
import type { Logger } from "../log.ts";
import type { PresenceBook } from "../presence.ts";
import type { Transport } from "../push.ts";
import type { Registration } from "../store/registrations.ts";
import { pushIq } from "../stanzas/dialect2.ts";
import { candidates, judgeCandidate } from "./rule.ts";

export interface FollowerDeps {
  presence: Pick<PresenceBook, "availableResources" | "refused" | "hasRefused">;
  transport: Pick<Transport, "domain" | "nextId" | "request">;
  /** Stores the registration's new full JID. */
  move: (reg: Registration, jid: string) => void;
  timeoutMs: number;
  log: Logger;
  /** The registration moved: whatever waits for it may go to its new JID now. */
  onMoved?: (reg: Registration) => void;
}

export class DeviceFollower {
  constructor(private readonly d: FollowerDeps) {}

  /** The push went to another resource of the account, which took it (the registration has moved), or to none. */
  follow = async (reg: Registration, payload: Buffer): Promise<boolean> => {
    const p = this.d.presence;
    const t = this.d.transport;
    const keys = { application: reg.application!, instance: reg.instance! };
    for (const jid of candidates({ jid: reg.jid, available: p.availableResources(reg.bare), refused: (j) => p.hasRefused(j, reg.id) })) {
      const answer = await t.request(pushIq(t.domain, jid, t.nextId(), keys, payload), this.d.timeoutMs);
      const verdict = judgeCandidate(answer);
      if (verdict === "moved") {
        this.d.move(reg, jid);
        this.d.log.info({ reg: reg.id }, "registration followed its device to a new resource");
        this.d.onMoved?.({ ...reg, jid });
        return true;
      }
      if (verdict === "not-this-device") p.refused(jid, reg.id);
      else this.d.log.debug({ reg: reg.id, answer: answer.kind }, "another resource of the account did not answer the push");
      if (answer.kind === "link-lost" || answer.kind === "busy") return false; // no point asking the next one now
    }
    return false;
  };
}
