// The printout of `npm run bench -- --database postgres` (bench/pg.ts): the
// delivered path on both backends, the queue path on both, one gateway
// against several on one PostgreSQL, and issue 12's targets.
import { OTHERS } from "./cpu.ts";
import { type Check, type Run } from "./report.ts";
import { fmt, median } from "./stats.ts";

export const TARGETS_12 = Object.freeze({
  throughput: 0.9, // PostgreSQL's pushes/s at least 90% of SQLite's
  latency: 1.1, // PostgreSQL's p50 and p99 at most 110% of SQLite's
});

/** A timed run, and what was delivered by the end of it and of its settling (a standby's stored pushes go through the leader's queue). */
export type PgRun = Run & { settleSeconds: number };

/** The queue path of one backend: pushes stored while the distributors are away, then drained when they come back. */
export interface QueueRun {
  stored: PgRun;
  drain: { messages: number; seconds: number; perSecond: number; cpu: Record<string, number> };
}

/** Median CPU per successful push of one process (or group), µs. */
export const cpuPer = (runs: readonly Run[], proc: string): number => median(runs.map((r) => (1000 * r.cpu[proc]!) / r.ok));

/** Median CPU per push of everything the bench started (others excluded), µs. */
export const cpuAll = (runs: readonly Run[]): number =>
  median(runs.map((r) => (1000 * Object.entries(r.cpu).reduce((a, [k, v]) => (k === OTHERS || !Number.isFinite(v) ? a : a + v), 0)) / r.ok));

const m = <R extends Run>(runs: readonly R[], f: (r: R) => number): number => median(runs.map(f));
const errorsIn = (runs: readonly Run[]): number => runs.reduce((n, r) => n + Object.values(r.errors).reduce((a, b) => a + b, 0), 0);

function table(head: string[], rows: string[][]): string[] {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join("  ");
  return [line(head), ...rows.map(line)];
}

/** Per-round ratios of PostgreSQL to SQLite, then their median: rounds minutes apart see different background load. */
function roundRatios(pg: readonly Run[], lite: readonly Run[], f: (r: Run) => number): { median: number; rounds: number[] } {
  const rounds = pg.map((r, i) => f(r) / f(lite[i]!));
  return { median: median(rounds), rounds };
}

export function deliveredTable(lite: readonly Run[], pg: readonly Run[], inFlight: number): string[] {
  const row = (name: string, rs: readonly Run[]): string[] => [
    name, fmt(m(rs, (r) => r.perSecond), 0), fmt(m(rs, (r) => r.p50)), fmt(m(rs, (r) => r.p99)),
    fmt(cpuPer(rs, "gateway"), 0), fmt(cpuPer(rs, "postgres"), 0), fmt(cpuPer(rs, "gateway") + cpuPer(rs, "postgres"), 0), fmt(cpuAll(rs), 0), String(errorsIn(rs)),
  ];
  const tp = roundRatios(pg, lite, (r) => r.perSecond), p50 = roundRatios(pg, lite, (r) => r.p50), p99 = roundRatios(pg, lite, (r) => r.p99);
  const cpu = roundRatios(pg, lite, (r) => (r.cpu.gateway! + r.cpu.postgres!) / r.ok);
  return [
    `delivered path (distributors online), ${inFlight} in flight, medians of ${lite.length} alternating rounds; CPU in µs per push`,
    ...table(
      ["backend", "pushes/s", "p50 ms", "p99 ms", "gateway", "postgres", "gw+pg", "all procs", "errors"],
      [row("sqlite", lite), row("postgres", pg), ["postgres/sqlite", fmt(tp.median, 2), fmt(p50.median, 2), fmt(p99.median, 2), "", "", fmt(cpu.median, 2), "", ""]],
    ),
    "  (ratios: median of the per-round ratios)",
  ];
}

export function queueTable(runs: Record<string, QueueRun>, queued: number): string[] {
  const rows = Object.entries(runs).map(([name, q]) => {
    const s = q.stored;
    return [
      name, fmt(s.perSecond, 0), fmt(s.p50), fmt(s.p99), fmt((1000 * s.cpu.gateway!) / s.ok, 0), fmt((1000 * s.cpu.postgres!) / s.ok, 0),
      fmt(q.drain.perSecond, 0), fmt(q.drain.seconds, 2), fmt((1000 * q.drain.cpu.gateway!) / q.drain.messages, 0), fmt((1000 * q.drain.cpu.postgres!) / q.drain.messages, 0),
      `${q.drain.messages}/${s.ok}`, String(errorsIn([s])),
    ];
  });
  return [
    `queue path: distributors offline, ${queued} pushes stored, then they come back (drain: first presence to last message); CPU in µs per message`,
    ...table(["backend", "stored/s", "p50 ms", "p99 ms", "gateway", "postgres", "drain msg/s", "drain s", "gateway", "postgres", "delivered", "errors"], rows),
  ];
}

export function clusterTable(one: readonly PgRun[], many: readonly PgRun[], n: number, inFlight: number): string[] {
  const row = (name: string, rs: readonly PgRun[]): string[] => [
    name, fmt(m(rs, (r) => r.perSecond), 0), fmt(m(rs, (r) => r.p50)), fmt(m(rs, (r) => r.p99)),
    `${rs.reduce((a, r) => a + r.received, 0)}/${rs.reduce((a, r) => a + r.ok, 0)}`, fmt(m(rs, (r) => r.settleSeconds), 2),
    fmt(cpuPer(rs, "gateway"), 0), fmt(cpuPer(rs, "postgres"), 0), fmt(cpuAll(rs), 0), String(errorsIn(rs)),
  ];
  const tp = roundRatios(many, one, (r) => r.perSecond), p50 = roundRatios(many, one, (r) => r.p50), p99 = roundRatios(many, one, (r) => r.p99);
  const cpu = roundRatios(many, one, (r) => r.cpu.gateway! / r.ok);
  return [
    `PostgreSQL: ${n} gateways behind the load generator (connections spread over their ports) against 1, ${inFlight} in flight, medians of ${one.length} alternating rounds;`,
    "  delivered: pushes the distributors received / answered 201; settle: s after the run until the last one arrived; CPU in µs per push, gateways summed",
    ...table(
      ["gateways", "pushes/s", "p50 ms", "p99 ms", "delivered", "settle s", "gateways", "postgres", "all procs", "errors"],
      [row("1", one), row(String(n), many), [`${n}/1`, fmt(tp.median, 2), fmt(p50.median, 2), fmt(p99.median, 2), "", "", fmt(cpu.median, 2), "", "", ""]],
    ),
  ];
}

export function checks12(lite: readonly Run[], pg: readonly Run[], queues: Record<string, QueueRun>, one: readonly PgRun[], many: readonly PgRun[]): Check[] {
  const judge = (what: string, r: { median: number; rounds: number[] }, ok: (x: number) => boolean): Check =>
    lite.length === 0
      ? { what, value: "not run", met: undefined }
      : { what, value: `${fmt(r.median, 2)} (rounds ${r.rounds.map((x) => fmt(x, 2)).join(", ")})`, met: ok(r.median) };
  const lost = (rs: readonly PgRun[]): number => rs.reduce((a, r) => a + Math.max(0, r.ok - r.received), 0);
  const queueLost = Object.values(queues).reduce((a, q) => a + Math.max(0, q.stored.ok - q.drain.messages), 0);
  const clusterRuns = [...one, ...many];
  return [
    judge(`postgres/sqlite pushes/s >= ${TARGETS_12.throughput} (delivered path)`, roundRatios(pg, lite, (r) => r.perSecond), (x) => x >= TARGETS_12.throughput),
    judge(`postgres/sqlite p50 <= ${TARGETS_12.latency}`, roundRatios(pg, lite, (r) => r.p50), (x) => x <= TARGETS_12.latency),
    judge(`postgres/sqlite p99 <= ${TARGETS_12.latency}`, roundRatios(pg, lite, (r) => r.p99), (x) => x <= TARGETS_12.latency),
    judge(
      `postgres/sqlite CPU per push, gateway + PostgreSQL server, <= ${TARGETS_12.latency} (steadier than pushes/s on a shared machine)`,
      roundRatios(pg, lite, (r) => (r.cpu.gateway! + r.cpu.postgres!) / r.ok),
      (x) => x <= TARGETS_12.latency,
    ),
    { what: "no error statuses (every run)", value: `${errorsIn([...lite, ...pg, ...Object.values(queues).map((q) => q.stored), ...clusterRuns])} errors`, met: errorsIn([...lite, ...pg, ...Object.values(queues).map((q) => q.stored), ...clusterRuns]) === 0 },
    { what: "every push answered 201 reached its distributor (queue path and cluster runs)", value: `${queueLost + lost(clusterRuns)} missing`, met: queueLost + lost(clusterRuns) === 0 },
  ];
}
