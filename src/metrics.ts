// Prometheus metrics, one registry per gateway. Counters move as things
// happen; gauges read the store or the XMPP edge when scraped, so they are
// never stale and cost nothing between scrapes. Labels never carry an
// endpoint, a JID or a payload.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { PushOutcome } from "./outcomes.ts";
import type { Dialect } from "./store/store.ts";
import { isStoreFault } from "./store/faults.ts";

export const DIALECT_LABEL: Record<Dialect, string> = { 1: "unifiedpush", 2: "conversations" };

/** s: from a same-host distributor (milliseconds) up past the longest push timeout (300 s). */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export interface MetricsDeps {
  /** Live registrations per dialect at `now` (ms since the epoch). */
  registrations: (now: number) => Promise<Record<Dialect, number>>;
  isOnline: () => boolean;
  /** Whether this gateway holds the component link (several gateways: only one does with Prosody). */
  linkHolder?: () => boolean;
  /** Messages waiting in the store-and-forward queue; absent until a queue is wired. */
  queueDepth?: () => Promise<number>;
  /** Why the store cannot write, undefined while it can (src/store/health.ts). */
  storeProblem?: () => string | undefined;
  now?: () => number; // ms since the epoch, for expiry
  monotonic?: () => number; // ms, the clock PushService's `startedAt` comes from
  processMetrics?: boolean; // process_* and nodejs_* (default true)
}

export class Metrics {
  readonly registry = new Registry();
  private readonly pushes: Counter<"outcome">;
  private readonly responses: Counter<"status">;
  private readonly bounces: Counter<"condition">;
  private readonly ignoredHeaders: Counter<"header">;
  private readonly storeFaults: Counter<"op">;
  private readonly latency: Histogram<"dialect">;
  private readonly monotonic: () => number;

  constructor(d: MetricsDeps) {
    const registers = [this.registry];
    const now = d.now ?? Date.now;
    this.monotonic = d.monotonic ?? (() => performance.now());
    this.pushes = new Counter({ name: "up_gateway_pushes_total", help: "Pushes by how they ended", labelNames: ["outcome"], registers });
    this.responses = new Counter({ name: "up_gateway_http_responses_total", help: "HTTP responses by status code", labelNames: ["status"], registers });
    this.bounces = new Counter({
      name: "up_gateway_bounces_total",
      help: "Dialect-1 notifications the XMPP server sent back, by error condition",
      labelNames: ["condition"],
      registers,
    });
    this.ignoredHeaders = new Counter({
      name: "up_gateway_header_ignored_total",
      help: "Malformed WebPush headers ignored (the push was still accepted), by header: a sender to look at",
      labelNames: ["header"],
      registers,
    });
    this.storeFaults = new Counter({
      name: "up_gateway_store_write_failures_total",
      help: "Writes the store refused (read-only, full, I/O error), by operation",
      labelNames: ["op"],
      registers,
    });
    new Gauge({
      name: "up_gateway_store_writable",
      help: "1 while the store can write, else 0",
      registers,
      collect() {
        this.set(d.storeProblem?.() === undefined ? 1 : 0);
      },
    });
    this.latency = new Histogram({
      name: "up_gateway_push_duration_seconds",
      help: "Time from an accepted push to its outcome (delivered, queued or failed for now) for a known endpoint",
      labelNames: ["dialect"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    new Gauge({
      name: "up_gateway_registrations",
      help: "Live registrations by dialect",
      labelNames: ["dialect"],
      registers,
      async collect() {
        const counts = await lastKnown(d.registrations(now()));
        if (counts) for (const dialect of [1, 2] as const) this.set({ dialect: DIALECT_LABEL[dialect] }, counts[dialect]);
      },
    });
    new Gauge({
      name: "up_gateway_queue_depth",
      help: "Messages stored for distributors that are away",
      registers,
      async collect() {
        const depth = d.queueDepth ? await lastKnown(d.queueDepth()) : 0;
        if (depth !== undefined) this.set(depth);
      },
    });
    new Gauge({
      name: "up_gateway_link_holder",
      help: "1 while this gateway holds (or is opening) the component link, 0 while it stands by (docs/high-availability.md)",
      registers,
      collect() {
        this.set((d.linkHolder?.() ?? true) ? 1 : 0);
      },
    });
    new Gauge({
      name: "up_gateway_component_online",
      help: "1 while the XMPP component link is up, else 0",
      registers,
      collect() {
        this.set(d.isOnline() ? 1 : 0);
      },
    });
    if (d.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /**
   * PushService's hook: every push that reached it. A gone endpoint is
   * counted but not timed: it is mostly an unknown token, which has no
   * dialect and no distributor to measure.
   */
  onOutcome = (o: PushOutcome, dialect: Dialect, startedAt: number): void => {
    this.pushes.inc({ outcome: o.kind });
    if (o.kind !== "gone") this.latency.observe({ dialect: DIALECT_LABEL[dialect] }, Math.max(0, this.monotonic() - startedAt) / 1000);
  };

  /** Outcomes decided before the push service, such as the rate limit. */
  countOutcome = (o: PushOutcome): void => {
    this.pushes.inc({ outcome: o.kind });
  };

  countBounce = (condition: string): void => {
    this.bounces.inc({ condition });
  };

  countIgnoredHeader = (header: string): void => {
    this.ignoredHeaders.inc({ header });
  };

  countStoreFault = (op: string): void => {
    this.storeFaults.inc({ op });
  };

  countResponse = (status: number): void => {
    this.responses.inc({ status: String(status) });
  };

  /** The Prometheus text exposition. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** A gauge read from a store that cannot answer now keeps its last value (up_gateway_store_writable says why). */
async function lastKnown<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (isStoreFault(err)) return undefined;
    throw err;
  }
}
