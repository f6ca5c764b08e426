// The bench measures what production runs: src/ compiled by tsc
// (tsconfig.build.json), started with plain `node`, not the tsx loader the
// tests use (which adds ~0.3 s of startup and ~25 MB of RSS for transpiling).
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const OUT = join(ROOT, ".tmp", "bench-dist"); // .tmp/ is git-ignored

/** Compiles src/ and returns the node arguments that start it; `warning` when tsc reported type errors but emitted. */
export async function buildGateway(): Promise<{ entry: string[]; warning?: string }> {
  await rm(OUT, { recursive: true, force: true });
  const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
  const main = join(OUT, "main.js");
  try {
    await promisify(execFile)(process.execPath, [tsc, "-p", "tsconfig.build.json", "--outDir", OUT], { cwd: ROOT });
    return { entry: [main] };
  } catch (err) {
    if (!existsSync(main)) throw new Error(`could not build the gateway: ${(err as { stdout?: string }).stdout ?? err}`);
    const first = String((err as { stdout?: string }).stdout ?? "").split("\n")[0];
    return { entry: [main], warning: `tsc reported type errors (built anyway): ${first}` };
  }
}
