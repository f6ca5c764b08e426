// This gateway's part in a cluster on PostgreSQL (docs/high-availability.md).
// The leader, elected by a session advisory lock (leader.ts), sends every
// push: the others hand theirs to it (handoff.ts), and it runs the queue
// flusher, so one process holds every copy whose answer is awaited and no
// message goes out twice. With `links = "leader"` (Prosody) it alone holds
// the component link. With `links = "all"` (ejabberd) every gateway holds a
// link, so that answers ejabberd hands to any of them are relayed to the
// leader (iq-relay.ts); a gateway stands for election only while its own
// link is up, and gives the lead up when its link stays down, so a leader
// that cannot send does not hold the cluster's queue.
// SQLite has no cluster: the one gateway leads and holds the link.
import type { Logger } from "../log.ts";
import type { LinkSlot } from "./link.ts";
import { LeaderElector } from "./leader.ts";

export interface RoleDeps {
  link: LinkSlot;
  links: "leader" | "all";
  /** The PostgreSQL url; none for SQLite. */
  url?: string;
  log: Logger;
  /** Became leader: what waits in the queue goes now. */
  onLead: () => void;
  /** Leadership changed (metrics, the link holder's announcement). */
  onChange?: (leading: boolean) => void;
}

/** links = "all": how long a leader's link may be down before it gives the lead to a gateway whose link is up. */
export const RESIGN_AFTER_MS = 5_000;

export class Role {
  private electing: Promise<void> = Promise.resolve(); // start and stop of the elector, in order
  private standing = false;
  private resignTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** PostgreSQL only: the election itself (the link holder's announcement listens to it). */
  readonly elector: LeaderElector | undefined;
  private alone = false; // SQLite: leads from start to stop

  constructor(private readonly d: RoleDeps) {
    if (d.url === undefined) return;
    this.elector = new LeaderElector({ url: d.url, log: d.log });
    this.elector.on("gained", () => {
      d.log.info({ links: d.links }, "this gateway leads the cluster now: it runs the queue" + (d.links === "leader" ? " and holds the component link" : ""));
      if (d.links === "leader") d.link.open();
      d.onChange?.(true);
      d.onLead();
    });
    this.elector.on("lost", (reason) => {
      d.log.warn({ reason }, "this gateway no longer leads the cluster" + (d.links === "leader" ? ": component link dropped" : ""));
      if (d.links === "leader") void d.link.close();
      d.onChange?.(false);
    });
  }

  /** Whether this gateway runs the queue now. */
  get leading(): boolean {
    return this.elector ? this.elector.isLeader : this.alone;
  }

  /** Whether this gateway holds (or is opening) a component link now. */
  get linkHolder(): boolean {
    return this.d.link.held;
  }

  start(): void {
    if (!this.elector) {
      this.alone = true;
      this.d.link.open();
      this.d.onChange?.(true);
      return;
    }
    if (this.d.links === "all") this.d.link.open(); // stands for election once the link is up (linkChanged)
    else this.elector.start();
  }

  /** links = "all": this gateway's own link went up or down (the edge's onLink). */
  linkChanged(up: boolean): void {
    if (!this.elector || this.d.links !== "all" || this.stopped) return;
    clearTimeout(this.resignTimer);
    if (up) return this.stand(true);
    this.resignTimer = setTimeout(() => {
      if (this.d.link.online) return;
      this.d.log.warn({ afterMs: RESIGN_AFTER_MS }, "the component link stays down: giving the lead to a gateway whose link is up");
      this.stand(false);
    }, RESIGN_AFTER_MS);
    this.resignTimer.unref();
  }

  private stand(on: boolean): void {
    if (this.standing === on) return;
    this.standing = on;
    const e = this.elector!;
    this.electing = this.electing.then(() => (on ? e.start() : e.stop())).catch((err: unknown) => this.d.log.error({ err }, "election start/stop failed"));
  }

  /** Gives the lead up (a standby takes over within a second) once the link is closed. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.resignTimer);
    await this.d.link.close();
    this.alone = false;
    await this.electing;
    await this.elector?.stop();
  }
}
