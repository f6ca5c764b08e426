// This gateway's part in a cluster on PostgreSQL (docs/high-availability.md).
// The leader, elected by a session advisory lock (leader.ts), runs the queue
// flusher (one flusher per cluster: two would send one message twice) and,
// with `links = "leader"` (Prosody), alone holds the component link. With
// `links = "all"` (ejabberd) every gateway holds its own link from the start.
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

export class Role {
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
    if (this.d.links === "all") this.d.link.open();
    this.elector.start();
  }

  /** Gives the lead up (a standby takes over within a second) once the link is closed. */
  async stop(): Promise<void> {
    await this.d.link.close();
    this.alone = false;
    await this.elector?.stop();
  }
}
