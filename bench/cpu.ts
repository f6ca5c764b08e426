// CPU time of the processes in a run, from /proc (Linux). On a 2-core machine
// every process competes for the same cores, so CPU per push says more about
// one contender's cost than pushes/s alone.
import { readFileSync } from "node:fs";

const TICKS_PER_S = 100; // USER_HZ: 100 on every Linux architecture Node runs on

/** User + system CPU of a process, ms; NaN when it is gone. */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may hold spaces.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(f[11]) + Number(f[12])) * 1000) / TICKS_PER_S; // utime, stime: fields 14 and 15
  } catch {
    return NaN;
  }
}

/** CPU the whole machine spent (all cores, all processes), ms. */
function machineBusyMs(): number {
  const f = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f as [number, number, number, number, number, number, number, number];
  return ((user + nice + system + irq + softirq + steal) * 1000) / TICKS_PER_S;
}

/**
 * Snapshots the CPU of named processes; `since()` gives each one's ms spent
 * since, and under OTHERS what the rest of the machine spent meanwhile: other
 * people's work on a shared machine, which makes throughput figures swing.
 */
export const OTHERS = "other processes";

export function cpuMeter(pids: Record<string, () => number>): { since(): Record<string, number> } {
  const read = (): Record<string, number> => ({
    ...Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMs(pid())])),
    [OTHERS]: machineBusyMs(),
  });
  const start = read();
  return {
    since: () => {
      const now = read();
      const d = Object.fromEntries(Object.keys(now).map((k) => [k, now[k]! - start[k]!]));
      d[OTHERS] = Math.max(0, d[OTHERS]! - Object.entries(d).reduce((a, [k, v]) => (k === OTHERS || Number.isNaN(v) ? a : a + v), 0));
      return d;
    },
  };
}
