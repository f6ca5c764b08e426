// The bench's printout: one line per run, the medians, the ratios and the
// issue's targets (issue 6), each marked met or missed.
import { availableParallelism } from "node:os";
import { OTHERS } from "./cpu.ts";
import { errorCount, fmt, fmtErrors, median, type RunStats } from "./stats.ts";

const CORES = availableParallelism();

/** `cpu`: ms of CPU each process spent during the run (cpu.ts). */
export type Run = RunStats & { received: number; cpu: Record<string, number> };

export const OURS = "ours";
export const MOD_UP = "mod_unified_push";
export const BARE = "bare relay";

export const TARGETS = Object.freeze({
  vsModUp: 2.0, // ours/mod_unified_push pushes/s
  vsBare: 0.75, // ours/bare relay pushes/s
  rssMb: 150, // with 100,000 registrations
  startupMs: 1000, // with 100,000 registrations
});

const COLS = ["contender", "in flight", "pushes/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "received", "others", "errors"];
const WIDTH = [18, 9, 9, 8, 8, 8, 8, 9, 7, 0];

const row = (cells: string[]): string => cells.map((c, i) => (WIDTH[i] ? c.padStart(i === 0 ? 0 : WIDTH[i]!).padEnd(WIDTH[i]!) : c)).join(" ");

export const header = (): string => row(COLS);

/** Percent of the machine's cores that processes outside the bench took during a run ("others" column). */
const foreignShare = (r: Run): number => r.cpu[OTHERS]! / (r.seconds * 10 * CORES);

export function runLine(name: string, inFlight: number, r: Run): string {
  return row([name, String(inFlight), fmt(r.perSecond, 0), fmt(r.p50), fmt(r.p90), fmt(r.p99), fmt(r.max), String(r.received), `${fmt(foreignShare(r), 0)}%`, fmtErrors(r.errors)]);
}

export interface Medians {
  perSecond: number;
  p50: number;
  p90: number;
  p99: number;
  errors: number;
}

export function medians(runs: readonly Run[]): Medians {
  return {
    perSecond: median(runs.map((r) => r.perSecond)),
    p50: median(runs.map((r) => r.p50)),
    p90: median(runs.map((r) => r.p90)),
    p99: median(runs.map((r) => r.p99)),
    errors: runs.reduce((n, r) => n + errorCount(r), 0),
  };
}

export function medianLine(name: string, inFlight: number, m: Medians): string {
  return row([name, String(inFlight), fmt(m.perSecond, 0), fmt(m.p50), fmt(m.p90), fmt(m.p99), "", "", "", m.errors === 0 ? "none" : `${m.errors} in all`]);
}

/** Median CPU per successful push, µs, by process; a process that did nothing in these runs is left out. */
export function cpuLine(name: string, runs: readonly Run[]): string {
  const procs = Object.keys(runs[0]?.cpu ?? {});
  const per = (p: string): number => median(runs.map((r) => (1000 * r.cpu[p]!) / r.ok));
  const parts = procs.filter((p) => p !== OTHERS).map((p) => [p, per(p)] as const).filter(([, us]) => us >= 1);
  const total = parts.reduce((a, [, us]) => a + us, 0);
  // Share of the machine's cores that processes outside the bench took during these runs.
  return `  ${name.padEnd(18)} ${parts.map(([p, us]) => `${p} ${fmt(us, 0)}`).join(", ")}; all ${fmt(total, 0)}`;
}

export interface Check {
  what: string;
  value: string;
  met: boolean | undefined; // undefined: not measured in this run
}

export const checkLine = (c: Check): string =>
  `  ${c.met === undefined ? "n/a   " : c.met ? "met   " : "MISSED"}  ${c.what}: ${c.value}`;

/**
 * The ratios are taken within each round (runs minutes apart see the same
 * background load) and the median over rounds is judged; the ratio of the
 * medians is shown beside it.
 */
export function throughputChecks(runs: ReadonlyMap<string, readonly Run[]>, errorsAt: Record<number, number | undefined>): Check[] {
  const ours = runs.get(OURS), mod = runs.get(MOD_UP), bare = runs.get(BARE);
  const ratio = (what: string, target: number, other: readonly Run[] | undefined): Check => {
    if (!ours || !other) return { what: `${what} >= ${target}`, value: "not run", met: undefined };
    const per = ours.map((r, i) => r.perSecond / other[i]!.perSecond);
    const m = median(per);
    const ofMedians = medians(ours).perSecond / medians(other).perSecond;
    return { what: `${what} >= ${target}`, value: `${fmt(m, 2)} (rounds ${per.map((x) => fmt(x, 2)).join(", ")}; ratio of medians ${fmt(ofMedians, 2)})`, met: m >= target };
  };
  const p99 = (rs?: readonly Run[]): number => (rs ? medians(rs).p99 : NaN);
  const checks: Check[] = [
    ratio("ours/mod_unified_push", TARGETS.vsModUp, mod),
    ratio("ours/bare relay", TARGETS.vsBare, bare),
    {
      what: "our p99 <= mod_unified_push's p99 (medians)",
      value: `${fmt(p99(ours))} ms vs ${fmt(p99(mod))} ms`,
      met: ours && mod ? p99(ours) <= p99(mod) : undefined,
    },
  ];
  for (const [inFlight, n] of Object.entries(errorsAt)) {
    checks.push({ what: `no error statuses from ours at ${inFlight} in flight`, value: n === undefined ? "not run" : `${n} errors`, met: n === undefined ? undefined : n === 0 });
  }
  return checks;
}

export function resourceChecks(registrations: number, startupMs: number, rssMb: number): Check[] {
  // The issue states both targets for 100,000 registrations; with fewer they are shown, not judged.
  const judged = registrations >= 100_000;
  const note = judged ? "" : ` (judged only with --registrations 100000; this run has ${registrations})`;
  return [
    { what: `startup < ${TARGETS.startupMs} ms, spawn to /healthz 200`, value: `${fmt(startupMs, 0)} ms${note}`, met: judged ? startupMs < TARGETS.startupMs : undefined },
    { what: `RSS < ${TARGETS.rssMb} MB`, value: `${fmt(rssMb)} MB${note}`, met: judged ? rssMb < TARGETS.rssMb : undefined },
  ];
}
