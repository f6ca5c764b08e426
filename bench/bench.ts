// `npm run bench [-- --quick | --registrations 100000 | --cpu-prof DIR | --database postgres | --help]`
//
// Issue 6: our gateway against Prosody's mod_unified_push and a bare relay
// component, on one private Prosody, with the same distributors, in
// alternating rounds. Not a test: it prints figures and whether the targets
// hold; only ratios taken within one run mean anything on a shared machine.
import { mkdirSync } from "node:fs";
import { loadavg } from "node:os";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Distributor } from "../test/harness/distributor.ts";
import type { Prosody } from "../test/harness/prosody.ts";
import { buildGateway } from "./build.ts";
import { runPgBench } from "./pg.ts";
import { cpuMeter } from "./cpu.ts";
import { Helper } from "./child.ts";
import { type BenchGateway, memoryOf, prefilledDb, startBenchGateway } from "./gateway.ts";
import type { LoadRun } from "./loadgen.ts";
import { newestProfile, summarize } from "./profile.ts";
import type { RelayMessage } from "./relay.ts";
import * as report from "./report.ts";
import { BARE, MOD_UP, OURS, type Run } from "./report.ts";
import { GATEWAY, MOD_UP as MOD_UP_JID, RELAY, type ProsodyStorage, connectDistributors, registerAll, receivedCounter, relayTargets, startBenchProsody } from "./setup.ts";
import { fmt, type RunStats } from "./stats.ts";

const USAGE = `usage: npm run bench -- [options]
  --distributors N     distributors, one endpoint each (50)
  --concurrency N      requests in flight in the alternating rounds (64)
  --high N             in flight for the extra error check round, 0 to skip (256)
  --payload BYTES      push body size (200)
  --duration S         seconds per run (10)
  --warmup S           seconds of unmeasured load per contender first (2)
  --rounds N           alternating rounds (3)
  --registrations N    fill the gateway's database with N registrations first (0)
  --contenders LIST    any of ours,mod,bare (all)
  --prosody-storage S  mod_unified_push's store: internal (files, Prosody's default) or sql (SQLite)
  --cpu-prof DIR       run the gateway under node --cpu-prof and summarize the profile
  --loadgen C          lean (a minimal keep-alive HTTP/1.1 client, bench/http1.ts) or node (node:http Agent)
  --node-args=ARGS     extra node options for the gateway, e.g. --node-args="--heap-prof --heap-prof-dir=/tmp/h"
  --gateway-entry F    run this built main.js instead of building src/ (A/B of two builds)
  --tsx                run the gateway from src/ through tsx, as the tests do (default: a tsc build)
  --quick              --duration 2 --warmup 1
  --database D         sqlite (this bench) or postgres: SQLite against PostgreSQL (delivered path,
                       queue path, several gateways on one PostgreSQL; bench/pg.ts), which takes
                       --distributors, --concurrency, --payload, --duration, --warmup, --rounds,
                       --loadgen, --gateway-entry, --tsx, --node-args, --quick (there
                       --duration 3 and --rounds 10 by default) and:
  --queued N           pushes stored per backend in the queue path (5000)
  --instances N        gateways on one PostgreSQL in the cluster part, 1 to skip it (3)
  --parts LIST         any of delivered,queue,cluster (all)
  --control            part 1's "postgres" gateway on SQLite too: how far the ratios swing on their own
exit status: 0 targets met, 3 a target missed, 1 the bench failed`;

const options = {
  distributors: { type: "string", default: "50" },
  concurrency: { type: "string", default: "64" },
  high: { type: "string", default: "256" },
  payload: { type: "string", default: "200" },
  duration: { type: "string", default: "10" },
  warmup: { type: "string", default: "2" },
  rounds: { type: "string", default: "3" },
  registrations: { type: "string", default: "0" },
  contenders: { type: "string", default: "ours,mod,bare" },
  "prosody-storage": { type: "string", default: "internal" },
  "cpu-prof": { type: "string" },
  loadgen: { type: "string", default: "lean" },
  "gateway-entry": { type: "string" },
  "node-args": { type: "string" },
  tsx: { type: "boolean", default: false },
  quick: { type: "boolean", default: false },
  database: { type: "string", default: "sqlite" },
  queued: { type: "string", default: "5000" },
  instances: { type: "string", default: "3" },
  parts: { type: "string", default: "delivered,queue,cluster" },
  control: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

function count(name: string, v: string, min = 0): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be a whole number >= ${min}, got ${JSON.stringify(v)}\n${USAGE}`);
  return n;
}

const { values: a } = parseArgs({ options, strict: true });
if (a.help) {
  console.log(USAGE);
  process.exit(0);
}
const cfg = {
  distributors: count("distributors", a.distributors, 1),
  concurrency: count("concurrency", a.concurrency, 1),
  high: count("high", a.high),
  payload: count("payload", a.payload, 1),
  durationMs: 1000 * (a.quick ? 2 : count("duration", a.duration, 1)),
  warmupMs: 1000 * (a.quick ? 1 : count("warmup", a.warmup)),
  rounds: count("rounds", a.rounds, 1),
  registrations: count("registrations", a.registrations),
  contenders: new Set(a.contenders.split(",").map((s) => s.trim())),
  storage: a["prosody-storage"] as ProsodyStorage,
  cpuProf: a["cpu-prof"] ? resolve(a["cpu-prof"]) : undefined,
  client: a.loadgen as "lean" | "node",
  timeoutMs: 15_000,
};
if (!["lean", "node"].includes(cfg.client)) throw new Error(`--loadgen must be lean or node\n${USAGE}`);
if (!["internal", "sql"].includes(cfg.storage)) throw new Error(`--prosody-storage must be internal or sql\n${USAGE}`);
for (const c of cfg.contenders) if (!["ours", "mod", "bare"].includes(c)) throw new Error(`--contenders: unknown ${c}\n${USAGE}`);
if (!["sqlite", "postgres"].includes(a.database)) throw new Error(`--database must be sqlite or postgres\n${USAGE}`);
const given = (name: string): boolean => process.argv.some((x) => x === `--${name}` || x.startsWith(`--${name}=`));
if (a.database === "postgres") {
  for (const n of ["high", "registrations", "contenders", "prosody-storage", "cpu-prof"]) if (given(n)) throw new Error(`--${n} is not used with --database postgres\n${USAGE}`);
} else for (const n of ["queued", "instances", "parts", "control"]) if (given(n)) throw new Error(`--${n} needs --database postgres\n${USAGE}`);

type Contender = { name: string; run: (inFlight: number, ms: number) => Promise<RunStats> };

async function main(): Promise<number> {
  let prosody: Prosody | undefined;
  let ours: BenchGateway | undefined;
  let distributors: Distributor[] = [];
  const helpers: Helper[] = [];
  let stopCounting = (): void => {};
  try {
    const log = (s: string): void => console.log(s);
    log(`bench: ${cfg.distributors} distributors, ${cfg.concurrency} in flight (then ${cfg.high}), ${cfg.payload}-byte payloads, ${cfg.durationMs / 1000} s runs, ${cfg.rounds} rounds; ${cfg.client} load generator; mod_unified_push storage ${cfg.storage}`);
    let entry: string[] | undefined;
    if (a["gateway-entry"]) entry = [resolve(a["gateway-entry"])];
    else if (!a.tsx) {
      const built = await buildGateway();
      entry = built.entry;
      if (built.warning) log(`warning: ${built.warning}`);
    }
    const busy = loadavg()[0]!;
    if (busy > 0.5) log(`warning: load average ${busy.toFixed(2)} before the bench starts: other work on this machine makes the figures swing`);
    prosody = await startBenchProsody(cfg.storage);
    const loadgen = new Helper("./loadgen.ts");
    const relay = new Helper("./relay.ts");
    helpers.push(loadgen, relay);

    let db: string | undefined;
    if (cfg.registrations > 0) {
      const filled = await prefilledDb(cfg.registrations);
      db = filled.path;
      log(`database: ${cfg.registrations} registrations written in ${fmt(filled.ms, 0)} ms`);
    }
    if (cfg.cpuProf) mkdirSync(cfg.cpuProf, { recursive: true });
    ours = await startBenchGateway(prosody, { entry, dbPath: db, cpuProfDir: cfg.cpuProf, nodeArgs: a["node-args"]?.split(" ").filter(Boolean) });
    const idle = memoryOf(ours.gw.pid);
    log(`gateway pid ${ours.gw.pid} (${entry ? "tsc build" : "tsx"}): spawn to "http listening" ${fmt(ours.startup.listening, 0)} ms, to /healthz 200 ${fmt(ours.startup.healthy, 0)} ms; RSS ${fmt(idle.rss)} MB`);

    distributors = await connectDistributors(prosody, cfg.distributors);
    const ourEndpoints = await registerAll(distributors, GATEWAY);
    const modEndpoints = cfg.contenders.has("mod") ? await registerAll(distributors, MOD_UP_JID) : [];
    const comp = prosody.components.find((c) => c.domain === RELAY)!;
    await relay.call<void>({ op: "connect", service: `xmpp://127.0.0.1:${prosody.componentPort}`, domain: RELAY, secret: comp.secret } satisfies RelayMessage);
    log(`endpoints: ours ${ourEndpoints[0]?.replace(/[^/]+$/, "…")}, mod_unified_push ${modEndpoints[0]?.replace(/[^/]+$/, "…") ?? "-"}`);

    const load = (targets: string[]) => (inFlight: number, ms: number) =>
      loadgen.call<RunStats>({ op: "run", targets, concurrency: inFlight, durationMs: ms, payloadSize: cfg.payload, timeoutMs: cfg.timeoutMs, client: cfg.client } satisfies LoadRun & { op: "run" });
    const all: Array<Contender & { key: string }> = [
      { key: "ours", name: OURS, run: load(ourEndpoints) },
      { key: "mod", name: MOD_UP, run: load(modEndpoints) },
      {
        key: "bare",
        name: BARE,
        run: (inFlight, ms) =>
          relay.call<RunStats>({ op: "run", targets: relayTargets(distributors), concurrency: inFlight, durationMs: ms, payloadSize: cfg.payload, timeoutMs: cfg.timeoutMs } satisfies RelayMessage),
      },
    ];
    const contenders = all.filter((c) => cfg.contenders.has(c.key));
    const gwPid = ours.gw.pid;
    const received = receivedCounter(distributors);
    stopCounting = received.stop;
    const measure = async (c: Contender, inFlight: number, ms: number): Promise<Run> => {
      received.take();
      const cpu = cpuMeter({ gateway: () => gwPid, relay: () => relay.pid, prosody: () => prosody!.pid, loadgen: () => loadgen.pid, distributors: () => process.pid });
      const stats = await c.run(inFlight, ms);
      return { ...stats, cpu: cpu.since(), received: received.take() };
    };

    if (cfg.warmupMs > 0) {
      log(`warm-up: ${cfg.warmupMs / 1000} s each, not counted`);
      for (const c of contenders) await measure(c, cfg.concurrency, cfg.warmupMs);
    }
    const runs = new Map<string, Run[]>(contenders.map((c) => [c.name, []]));
    log("\nothers: share of the machine's CPU taken by processes outside the bench during the run; high values mean a disturbed run");
    log(report.header());
    for (let round = 1; round <= cfg.rounds; round++) {
      for (const c of contenders) {
        const r = await measure(c, cfg.concurrency, cfg.durationMs);
        runs.get(c.name)!.push(r);
        log(report.runLine(`${round} ${c.name}`, cfg.concurrency, r));
      }
    }
    const high = new Map<string, Run>();
    if (cfg.high > 0) {
      for (const c of contenders) {
        const r = await measure(c, cfg.high, cfg.durationMs);
        high.set(c.name, r);
        log(report.runLine(`H ${c.name}`, cfg.high, r));
      }
    }
    const loaded = memoryOf(ours.gw.pid);

    const med = Object.fromEntries([...runs].map(([name, rs]) => [name, report.medians(rs)]));
    log(`\nmedians of ${cfg.rounds} alternating rounds`);
    log(report.header());
    for (const [name, m] of Object.entries(med)) log(report.medianLine(name, cfg.concurrency, m));
    log("\nCPU per push by process, µs (median of rounds; the distributors run in the bench process)");
    for (const [name, rs] of runs) log(report.cpuLine(name, rs));
    const errorsAt: Record<number, number | undefined> = { [cfg.concurrency]: med[OURS]?.errors };
    if (cfg.high > 0) errorsAt[cfg.high] = high.get(OURS) ? report.medians([high.get(OURS)!]).errors : undefined;
    const checks = [
      ...report.throughputChecks(runs, errorsAt),
      ...report.resourceChecks(cfg.registrations, ours.startup.healthy, Math.max(idle.rss, loaded.rss)),
    ];
    log(`\ngateway memory: RSS ${fmt(idle.rss)} MB after startup, ${fmt(loaded.rss)} MB after the load, peak ${fmt(loaded.peak)} MB`);
    log("targets (issue 6):");
    for (const c of checks) log(report.checkLine(c));

    if (cfg.cpuProf) {
      await ours.gw.stop(); // the profile is written when the process exits
      const file = newestProfile(cfg.cpuProf);
      log(file ? `\n${summarize(file)}` : `\nno profile written in ${cfg.cpuProf}`);
    }
    return checks.some((c) => c.met === false) ? 3 : 0;
  } finally {
    stopCounting();
    await Promise.all(distributors.map((d) => d.stop()));
    await Promise.all(helpers.map((h) => h.stop()));
    // SIGTERM first: profiles asked for with --node-args are written on a clean exit.
    if (ours?.gw.running) await ours.gw.stop().catch(() => {});
    await ours?.gw.cleanup();
    await prosody?.stop();
  }
}

/** `--database postgres`: bench/pg.ts, on the same build and load generator. */
async function postgres(): Promise<number> {
  let entry: string[] | undefined;
  if (a["gateway-entry"]) entry = [resolve(a["gateway-entry"])];
  else if (!a.tsx) {
    const built = await buildGateway();
    entry = built.entry;
    if (built.warning) console.log(`warning: ${built.warning}`);
  }
  for (const p of a.parts.split(",")) if (!["delivered", "queue", "cluster"].includes(p.trim())) throw new Error(`--parts: unknown ${p}\n${USAGE}`);
  // More, shorter rounds than the default mode for the same time: the targets are ratios within a round, and their median over more rounds swings less.
  const durationMs = a.quick || given("duration") ? cfg.durationMs : 3000;
  const rounds = given("rounds") ? cfg.rounds : 10;
  return runPgBench(
    {
      ...cfg,
      durationMs,
      rounds,
      queued: count("queued", a.queued, 1),
      instances: count("instances", a.instances, 1),
      parts: new Set(a.parts.split(",").map((s) => s.trim())),
      control: a.control,
      ...(entry && { entry }),
      ...(a["node-args"] && { nodeArgs: a["node-args"].split(" ").filter(Boolean) }),
    },
    (s) => console.log(s),
  );
}

(a.database === "postgres" ? postgres() : main()).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`bench failed: ${err.stack ?? err}`);
    process.exit(1); // the harness kills what is still running on exit
  },
);
