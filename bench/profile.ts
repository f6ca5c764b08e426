// Reads a V8 .cpuprofile (node --cpu-prof) and says where the time went:
// self time by function and by module (a source file, a package, or node itself).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** The newest profile in `dir`. */
export function newestProfile(dir: string): string | undefined {
  const files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile")).map((f) => join(dir, f));
  return files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

function moduleOf(url: string, name: string): string {
  if (url === "") return name.startsWith("(") ? name : "(native)";
  const path = url.startsWith("file://") ? relative(ROOT, fileURLToPath(url)) : url;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (pkg) return pkg[1]!;
  if (path.startsWith("node:")) return `node:${path.slice(5).split("/")[0] === "internal" ? path.slice(14).split("/")[0] : path.slice(5)}`;
  return path;
}

export function summarize(file: string, top = 25): string {
  const p = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const idle = [...self].filter(([id]) => byId.get(id)!.callFrame.functionName === "(idle)").reduce((a, [, t]) => a + t, 0);
  const busy = total - idle;

  const fns = new Map<string, number>();
  const mods = new Map<string, number>();
  for (const [id, t] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === "(idle)") continue;
    const mod = moduleOf(url, functionName);
    const key = `${functionName || "(anonymous)"}  ${mod}${url ? `:${lineNumber + 1}` : ""}`;
    fns.set(key, (fns.get(key) ?? 0) + t);
    mods.set(mod, (mods.get(mod) ?? 0) + t);
  }
  const pct = (t: number): string => `${((100 * t) / busy).toFixed(1).padStart(5)}%`;
  const list = (m: Map<string, number>): string[] =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, t]) => `  ${pct(t)}  ${k}`);
  return [
    `profile ${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (percentages of busy time, self time)`,
    // V8 samples wall time: on 2 busy cores a write that wakes the reader is often preempted, and all of that counts as the write.
    "note: samples are wall-clock; a syscall during which the process was preempted counts in full (writev of HTTP answers)",
    "by module:",
    ...list(mods),
    "by function:",
    ...list(fns),
  ].join("\n");
}

// `node --import tsx bench/profile.ts FILE|DIR` prints the summary of a profile taken earlier.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = process.argv[2] ?? ".";
  const file = statSync(arg).isDirectory() ? newestProfile(arg) : arg;
  if (!file) throw new Error(`no .cpuprofile in ${arg}`);
  console.log(summarize(file, Number(process.argv[3] ?? 25)));
}
