// What a new link holder does first: tell the other instances where to hand
// their pushes (src/store/pg/link-holder.ts), through the lock's own session.
// Retried while it still holds the lock, since a standby that cannot find the
// holder keeps what may wait and 503s the rest: nothing is lost meanwhile,
// but every push goes through the queue until the row is right.
import type { Logger } from "../log.ts";
import { announceSelf } from "../store/pg/link-holder.ts";
import type { Listen } from "./holder-address.ts";
import type { LeaderElector } from "./leader.ts";

export interface AnnounceOptions {
  elector: LeaderElector;
  instanceId: string;
  /** The HTTP server's listen host and the port it is bound to (the real one when the config says port 0). */
  listen: Listen;
  now: () => number; // ms
  log: Logger;
  retryMs?: number;
}

/** Announces on every `gained` of the elector; returns a function that stops it. */
export function announceOnGained(o: AnnounceOptions): () => void {
  let timer: NodeJS.Timeout | undefined;
  const attempt = async (): Promise<void> => {
    if (!o.elector.isLeader) return;
    try {
      const address = await announceSelf(o.elector, o.instanceId, o.listen, o.now());
      if (address !== undefined) o.log.info({ instance: o.instanceId, address }, "announced as the link holder");
      else o.log.warn("the link lock was gone before the announcement: not the holder");
    } catch (err) {
      if (!o.elector.isLeader) return;
      o.log.warn({ err: { message: (err as Error).message } }, "could not announce the link holder; retrying");
      timer = setTimeout(() => void attempt(), o.retryMs ?? 1_000);
      timer.unref();
    }
  };
  const onGained = (): void => void attempt();
  const onLost = (): void => clearTimeout(timer);
  o.elector.on("gained", onGained);
  o.elector.on("lost", onLost);
  return () => {
    clearTimeout(timer);
    o.elector.off("gained", onGained);
    o.elector.off("lost", onLost);
  };
}
