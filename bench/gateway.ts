// Our gateway as the bench runs it: the harness's real process, configured
// for throughput, optionally on a database filled in advance and under
// `node --cpu-prof`; with its startup time and memory read from outside.
import { readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { trackTempDir } from "../test/harness/children.ts";
import { type Gateway, startGateway } from "../test/harness/gateway.ts";
import { hash } from "../test/harness/dialect2.ts";
import { httpStatus } from "../test/harness/http-status.ts";
import type { Prosody } from "../test/harness/prosody.ts";
import { openDb } from "../src/store/db.ts";
import { RegistrationStore } from "../src/store/registrations.ts";
import { mintToken } from "../src/tokens.ts";
import { GATEWAY } from "./setup.ts";

const STARTUP_LIMIT_MS = 20_000;
const WEEK_MS = 7 * 86_400_000;

export interface Startup {
  /** ms from spawning the process to the "http listening" log line. */
  listening: number;
  /** ms from spawning the process to the first GET /healthz answered 200 (component link up). */
  healthy: number;
}

export interface BenchGateway {
  gw: Gateway;
  startup: Startup;
}

/** Creates a database holding `n` dialect-2 registrations, in one transaction; returns its path. */
export async function prefilledDb(n: number): Promise<{ path: string; ms: number }> {
  const dir = await mkdtemp(join(tmpdir(), "up-bench-db-"));
  trackTempDir(dir);
  const path = join(dir, "gateway.db");
  const t0 = performance.now();
  const db = openDb(path);
  const store = new RegistrationStore(db);
  const now = Date.now();
  store.transaction(() => {
    for (let i = 0; i < n; i++) {
      const bare = `filler${i}@localhost`;
      store.insert({
        endpoint: mintToken(),
        dialect: 2,
        jid: `${bare}/Conversations.bench`,
        bare,
        token: null,
        application: hash(bare, "app"),
        instance: hash(bare, "instance"),
        created_at: now,
        renewed_at: now,
        expires_at: now + WEEK_MS,
      });
    }
  });
  db.close();
  return { path, ms: performance.now() - t0 };
}

export interface BenchGatewayOptions {
  /** Node arguments that start the gateway (a build, see build.ts); the harness default (tsx) when absent. */
  entry?: string[];
  dbPath?: string;
  cpuProfDir?: string;
  /** More node options (profilers, flags) before the entry. */
  nodeArgs?: string[];
  /** A PostgreSQL URL ([database] url) instead of SQLite (`--database postgres`, bench/pg.ts). */
  dbUrl?: string;
  /** The Prosody component to be (GATEWAY by default). */
  component?: string;
  /** More config, merged last. */
  overrides?: Record<string, Record<string, unknown>>;
}

export async function startBenchGateway(prosody: Prosody, o: BenchGatewayOptions): Promise<BenchGateway> {
  const overrides: Record<string, Record<string, unknown>> = {
    log: { level: "info" }, // production level: the hot path logs nothing at info
    // The per-endpoint limit stays on the path (its cost counts) but far above the bench's rate.
    limits: { endpoint_rate: 100_000, endpoint_burst: 100_000 },
  };
  if (o.dbPath) overrides.database = { path: o.dbPath };
  if (o.dbUrl) overrides.database = { path: undefined, url: o.dbUrl };
  for (const [k, v] of Object.entries(o.overrides ?? {})) overrides[k] = { ...overrides[k], ...v };
  // --cpu-prof is refused in NODE_OPTIONS, so it goes on the command line.
  const prof = [...(o.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${o.cpuProfDir}`] : []), ...(o.nodeArgs ?? [])];
  const entry = o.entry || prof.length > 0 ? [...prof, ...(o.entry ?? ["--import", "tsx", "src/main.ts"])] : undefined;

  const spawnedAt = Date.now();
  const t0 = performance.now();
  const gw = await startGateway(prosody, overrides, { component: o.component ?? GATEWAY, ...(entry && { entry }) });
  let healthy = NaN;
  while (performance.now() - t0 < STARTUP_LIMIT_MS) {
    if (!gw.running) throw new Error(`gateway exited during startup\n${gw.outputTail()}`);
    if ((await httpStatus(`${gw.url}/healthz`, 500)) === 200) {
      healthy = performance.now() - t0;
      break;
    }
    await sleep(5);
  }
  if (Number.isNaN(healthy)) throw new Error(`gateway not healthy within ${STARTUP_LIMIT_MS} ms\n${gw.outputTail()}`);
  const record = await gw.waitForLog((r) => r.msg === "http listening");
  return { gw, startup: { listening: (record.time as number) - spawnedAt, healthy } };
}

/** Resident and peak resident memory of a process, MB (Linux /proc). */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
}
