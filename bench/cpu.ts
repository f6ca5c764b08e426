// CPU time of the processes in a run, from /proc (Linux). On a 2-core machine
// every process competes for the same cores, so CPU per push says more about
// one contender's cost than pushes/s alone.
import { readdirSync, readFileSync } from "node:fs";

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
 * `readers` give CPU ms directly (a sum over processes, a process tree).
 */
export const OTHERS = "other processes";

export function cpuMeter(pids: Record<string, () => number>, readers: Record<string, () => number> = {}): { since(): Record<string, number> } {
  const read = (): Record<string, number> => ({
    ...Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMs(pid())])),
    ...Object.fromEntries(Object.entries(readers).map(([k, ms]) => [k, ms()])),
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

/**
 * CPU of a process and all its descendants, ms: PostgreSQL's postmaster and
 * its backends (one process per connection). A descendant that exited and
 * was waited for is in its parent's cutime/cstime, so it still counts.
 */
export function treeCpuMs(root: number): number {
  const parent = new Map<number, number>();
  const own = new Map<number, number>();
  let reaped = 0;
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const pid = Number(name);
      parent.set(pid, Number(f[1])); // ppid: field 4
      own.set(pid, Number(f[11]) + Number(f[12]));
      if (pid === root) reaped = Number(f[13]) + Number(f[14]); // cutime, cstime: fields 16 and 17
    } catch {
      // gone meanwhile
    }
  }
  if (!own.has(root)) return NaN;
  const inTree = (pid: number): boolean => {
    for (let p: number | undefined = pid, hops = 0; p !== undefined && p > 1 && hops < 64; p = parent.get(p), hops++) if (p === root) return true;
    return false;
  };
  let ticks = reaped;
  for (const [pid, t] of own) if (inTree(pid)) ticks += t;
  return (ticks * 1000) / TICKS_PER_S;
}
