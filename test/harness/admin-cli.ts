import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const run = promisify(execFile);

export interface AdminRun {
  code: number;
  out: string;
  err: string;
}

/** Runs `up-gateway-admin ARGS` as its own process; resolves with exit code and output, never rejects. */
export async function admin(args: string[], env: Record<string, string | undefined> = {}): Promise<AdminRun> {
  const e = { ...process.env, NODE_TEST_CONTEXT: undefined, UP_GATEWAY_XMPP_SECRET: undefined, ...env };
  try {
    const r = await run(process.execPath, ["--import", "tsx", "src/admin/main.ts", ...args], { cwd: ROOT, env: e, timeout: 60_000 });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (x) {
    const f = x as { code: number; stdout: string; stderr: string };
    return { code: f.code, out: f.stdout, err: f.stderr };
  }
}
