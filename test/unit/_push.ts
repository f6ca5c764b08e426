// A PushService over a fixture's real SQLite, with the settings the unit tests
// share; each test hands in what it is about (transport, queue, settler, ...).
import { PresenceBook } from "../../src/presence.ts";
import { PushService, type PushServiceDeps } from "../../src/push.ts";
import { Settler } from "../../src/settle.ts";
import { createLogger } from "../../src/log.ts";
import type { Fixture } from "./_db.ts";

export const POLICY = Object.freeze({ defaultTtl: 60, maxTtl: 600, maxPerRegistration: 10 });

type Given = Pick<PushServiceDeps, "transport" | "queue"> & Partial<PushServiceDeps>;

export function pushService(f: Fixture, d: Given): PushService {
  const log = createLogger("silent");
  return new PushService({
    registry: f.registry,
    presence: new PresenceBook(),
    policy: POLICY,
    now: () => f.clock.t,
    log,
    timeoutMs: 1000,
    answerWithinMs: 2000,
    settler: new Settler({ remove: () => {}, revoke: (e) => void f.registry.revoke(e), onFree: () => {}, log }),
    ...d,
  });
}
