// `npm run bench -- --database postgres` (issue 12): the gateway on PostgreSQL
// against the gateway on SQLite, in one run, on one private Prosody and one
// private PostgreSQL (the test harness's: fsync on, loopback). Three parts:
// 1. the delivered path (distributors online), SQLite and PostgreSQL gateways
//    in alternating rounds, each its own component on the same distributors;
// 2. the queue path: the distributors say they are away (directed
//    unavailable presence, so no push IQ goes out), N pushes are stored, then
//    they come back (available presence) and the queue drains;
// 3. several gateways on one PostgreSQL (one leader holding the link, the
//    others standbys) behind the load generator, its connections spread over
//    their ports, against the one leader alone, in alternating rounds. A
//    standby hands its pushes to the link holder however the code does it
//    today (the shared queue and the leader's flusher): the bench waits until
//    every push answered 201 has reached its distributor, and counts the CPU
//    spent until then.
// Not a test: it prints figures; only ratios within one run mean anything.
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import xml from "@xmpp/xml";
import type { Distributor } from "../test/harness/distributor.ts";
import { type Postgres, startPostgres } from "../test/harness/postgres.ts";
import { type Prosody, startProsody } from "../test/harness/prosody.ts";
import { Helper } from "./child.ts";
import { cpuMeter, cpuMs, treeCpuMs } from "./cpu.ts";
import { type BenchGateway, startBenchGateway } from "./gateway.ts";
import type { LoadRun } from "./loadgen.ts";
import { checks12, clusterTable, deliveredTable, type PgRun, type QueueRun, queueTable } from "./pg-report.ts";
import * as report from "./report.ts";
import { GATEWAY, connectDistributors, receivedCounter, registerAll } from "./setup.ts";
import { fmt, type RunStats } from "./stats.ts";

export const GATEWAY_PG = "uppg.localhost";

export interface PgBenchConfig {
  distributors: number;
  concurrency: number;
  payload: number;
  durationMs: number;
  warmupMs: number;
  rounds: number;
  client: "lean" | "node";
  timeoutMs: number;
  /** Pushes stored per backend in the queue path. */
  queued: number;
  /** Gateways on one PostgreSQL in part 3 (1 to skip it). */
  instances: number;
  /** Which parts to run: delivered, queue, cluster. */
  parts: ReadonlySet<string>;
  /** A control run: the "postgres" gateway of part 1 on SQLite too, so the ratios show the noise alone. */
  control?: boolean;
  entry?: string[];
  nodeArgs?: string[];
}

/** How long the bench waits, after a run, for pushes answered 201 that are still on their way (a standby's, through the queue). */
const SETTLE_LIMIT_MS = 30_000;
const DRAIN_LIMIT_MS = 60_000;

/** The same endpoint paths on another gateway's port (every gateway of a cluster answers every endpoint). */
const onPort = (endpoints: readonly string[], port: number): string[] =>
  endpoints.map((e) => {
    const u = new URL(e);
    u.port = String(port);
    return u.toString();
  });

export async function runPgBench(cfg: PgBenchConfig, log: (s: string) => void): Promise<number> {
  let prosody: Prosody | undefined;
  let pgServer: Postgres | undefined;
  const gateways: BenchGateway[] = [];
  let distributors: Distributor[] = [];
  const helpers: Helper[] = [];
  let stopCounting = (): void => {};
  try {
    log(`bench --database postgres: ${cfg.distributors} distributors, ${cfg.concurrency} in flight, ${cfg.payload}-byte payloads, ${cfg.durationMs / 1000} s runs, ${cfg.rounds} rounds, ${cfg.queued} pushes in the queue path, ${cfg.instances} gateways in the cluster part; ${cfg.client} load generator`);
    const busy = loadavg()[0]!;
    if (busy > 0.5) log(`warning: load average ${busy.toFixed(2)} before the bench starts: other work on this machine makes the figures swing`);
    const secret = (): string => randomBytes(16).toString("hex");
    [prosody, pgServer] = await Promise.all([
      startProsody({ components: [{ domain: GATEWAY, secret: secret() }, { domain: GATEWAY_PG, secret: secret() }] }),
      startPostgres(),
    ]);
    const pgs = pgServer;
    const url = await pgs.createDatabase("up_bench");
    const loadgen = new Helper("./loadgen.ts");
    helpers.push(loadgen);

    // The queue path stores up to `queued` messages over the distributors: the per-registration bound must not refuse them.
    const common = { entry: cfg.entry, nodeArgs: cfg.nodeArgs, overrides: { push: { max_queue_per_registration: Math.max(1000, cfg.queued) } } };
    const lite = await startBenchGateway(prosody, common);
    gateways.push(lite);
    const pg1 = await startBenchGateway(prosody, { ...common, ...(!cfg.control && { dbUrl: url }), component: GATEWAY_PG });
    if (cfg.control) log("control run: the gateway named postgres below runs on SQLite too");
    gateways.push(pg1);
    for (const [name, g] of [["sqlite", lite], ["postgres", pg1]] as const) {
      log(`gateway ${name} pid ${g.gw.pid}: spawn to /healthz 200 ${fmt(g.startup.healthy, 0)} ms`);
    }
    log(`postgres pid ${pgs.pid} (fsync on, loopback port ${pgs.port})`);

    distributors = await connectDistributors(prosody, cfg.distributors);
    const liteEndpoints = await registerAll(distributors, GATEWAY);
    const pgEndpoints = await registerAll(distributors, GATEWAY_PG);
    const received = receivedCounter(distributors);
    stopCounting = received.stop;

    const p = prosody;
    const measure = async (targets: string[], gws: readonly BenchGateway[], o: { inFlight?: number; ms?: number; count?: number } = {}): Promise<PgRun> => {
      received.take();
      const cpu = cpuMeter(
        { prosody: () => p.pid, loadgen: () => loadgen.pid, distributors: () => process.pid },
        {
          gateway: () => gws.reduce((a, g) => a + cpuMs(g.gw.pid), 0),
          // The gateways not under load in this run (the other backend's, a standby not targeted): not in "others".
          idle: () => gateways.filter((g) => !gws.includes(g)).reduce((a, g) => a + cpuMs(g.gw.pid), 0),
          postgres: () => treeCpuMs(pgs.pid),
        },
      );
      const stats = await loadgen.call<RunStats>({
        op: "run", targets, concurrency: o.inFlight ?? cfg.concurrency, durationMs: o.ms ?? cfg.durationMs, payloadSize: cfg.payload, timeoutMs: cfg.timeoutMs, client: cfg.client,
        ...(o.count !== undefined && { count: o.count }),
      } satisfies LoadRun & { op: "run" });
      // Answered 201 but not delivered yet (stored by a standby for the leader's flusher): its cost is part of the push.
      const settleFrom = performance.now();
      let got = received.take();
      while (got < stats.ok && performance.now() - settleFrom < SETTLE_LIMIT_MS && o.count === undefined) {
        await sleep(10);
        got += received.take();
      }
      return { ...stats, cpu: cpu.since(), received: got, settleSeconds: (performance.now() - settleFrom) / 1000 };
    };

    // 1. The delivered path.
    const delivered = { sqlite: [] as PgRun[], postgres: [] as PgRun[] };
    const contenders = [
      { name: "sqlite" as const, targets: liteEndpoints, gws: [lite] },
      { name: "postgres" as const, targets: pgEndpoints, gws: [pg1] },
    ];
    if (cfg.warmupMs > 0 && cfg.parts.has("delivered")) {
      log(`\nwarm-up: ${cfg.warmupMs / 1000} s each, not counted`);
      for (const c of contenders) await measure(c.targets, c.gws, { ms: cfg.warmupMs });
    }
    if (cfg.parts.has("delivered")) {
      log("\n1. delivered path (others: share of the machine's CPU taken by processes outside the bench during the run)");
      log(report.header());
    }
    // Who goes first alternates by round, so neither backend always runs right after the other's load.
    const inTurn = <T>(round: number, xs: readonly T[]): readonly T[] => (round % 2 === 1 ? xs : [...xs].reverse());
    for (let round = 1; round <= cfg.rounds && cfg.parts.has("delivered"); round++) {
      for (const c of inTurn(round, contenders)) {
        const r = await measure(c.targets, c.gws);
        delivered[c.name].push(r);
        log(`${report.runLine(`${round} ${c.name}`, cfg.concurrency, r)}  (gateway ${fmt((1000 * r.cpu.gateway!) / r.ok, 0)} µs/push, the idle one ${fmt((1000 * r.cpu.idle!) / r.ok, 0)})`);
      }
    }

    // 2. The queue path.
    const presence = (component: string, type?: "unavailable"): Promise<unknown> =>
      Promise.all(distributors.map((d) => d.client.send(xml("presence", { to: component, ...(type && { type }) }))));
    const queues: Record<string, QueueRun> = {};
    if (cfg.parts.has("queue")) log(`\n2. queue path: ${cfg.queued} pushes while the distributors are away, then the drain`);
    for (const c of cfg.parts.has("queue") ? contenders : []) {
      const component = c.name === "sqlite" ? GATEWAY : GATEWAY_PG;
      await presence(component, "unavailable");
      await sleep(500); // presence is not acknowledged: give the gateway a moment to read it
      const stored = await measure(c.targets, c.gws, { count: cfg.queued, ms: 120_000 });
      if (stored.received > 0) log(`  warning: ${stored.received} pushes reached a distributor that said it was away`);
      received.take();
      const cpu = cpuMeter({}, { gateway: () => cpuMs(c.gws[0]!.gw.pid), postgres: () => treeCpuMs(pgs.pid) });
      const t0 = performance.now();
      await presence(component);
      let got = 0, last = t0;
      while (got < stored.ok && performance.now() - t0 < DRAIN_LIMIT_MS) {
        await sleep(5);
        const n = received.take();
        if (n > 0) (got += n), (last = performance.now());
      }
      const seconds = (last - t0) / 1000;
      queues[c.name] = { stored, drain: { messages: got, seconds, perSecond: got / seconds, cpu: cpu.since() } };
      log(`  ${c.name.padEnd(8)} stored ${stored.ok} at ${fmt(stored.perSecond, 0)}/s (p50 ${fmt(stored.p50)} ms, p99 ${fmt(stored.p99)} ms, errors ${Object.values(stored.errors).reduce((a, b) => a + b, 0)}); drained ${got} in ${fmt(seconds, 2)} s: ${fmt(got / seconds, 0)}/s`);
    }

    // 3. Several gateways on one PostgreSQL.
    const one: PgRun[] = [], many: PgRun[] = [];
    if (cfg.instances > 1 && cfg.parts.has("cluster")) {
      log(`\n3. ${cfg.instances} gateways on one PostgreSQL against 1 (pg1 leads and holds the link; the others stand by)`);
      const cluster = [pg1];
      for (let i = 1; i < cfg.instances; i++) cluster.push(await startBenchGateway(p, { ...common, dbUrl: url, component: GATEWAY_PG }));
      gateways.push(...cluster.slice(1));
      const holders = await Promise.all(cluster.map(async (g) => ((await (await fetch(`${g.gw.url}/healthz`)).json()) as { link_holder?: boolean }).link_holder));
      log(`  link_holder by gateway: ${holders.map((h, i) => `pid ${cluster[i]!.gw.pid} ${h}`).join(", ")}`);
      const spread = cluster.flatMap((g) => onPort(pgEndpoints, g.gw.port));
      if (cfg.warmupMs > 0) await measure(spread, cluster, { ms: cfg.warmupMs });
      log(report.header());
      const sides = [
        { name: "pg x1", targets: pgEndpoints, runs: one },
        { name: `pg x${cfg.instances}`, targets: spread, runs: many },
      ];
      for (let round = 1; round <= cfg.rounds; round++) {
        for (const side of inTurn(round, sides)) {
          const r = await measure(side.targets, cluster);
          side.runs.push(r);
          log(`${report.runLine(`${round} ${side.name}`, cfg.concurrency, r)}  (delivered ${r.received}, settle ${fmt(r.settleSeconds, 2)} s)`);
        }
      }
    }

    if (delivered.sqlite.length > 0) {
      log("");
      for (const line of deliveredTable(delivered.sqlite, delivered.postgres, cfg.concurrency)) log(line);
    }
    if (Object.keys(queues).length > 0) {
      log("");
      for (const line of queueTable(queues, cfg.queued)) log(line);
    }
    if (one.length > 0) {
      log("");
      for (const line of clusterTable(one, many, cfg.instances, cfg.concurrency)) log(line);
    }
    const checks = checks12(delivered.sqlite, delivered.postgres, queues, one, many);
    log("\ntargets (issue 12):");
    for (const c of checks) log(report.checkLine(c));
    return checks.some((c) => c.met === false) ? 3 : 0;
  } finally {
    stopCounting();
    await Promise.all(distributors.map((d) => d.stop()));
    await Promise.all(helpers.map((h) => h.stop()));
    // The standbys first, then the leader: no takeover on the way out.
    for (const g of [...gateways].reverse()) {
      if (g.gw.running) await g.gw.stop().catch(() => {});
      await g.gw.cleanup();
    }
    await prosody?.stop();
    await pgServer?.stop();
  }
}
