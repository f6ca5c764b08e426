// Starting an XMPP server under test (Prosody, ejabberd): one process whose
// output goes to files, tracked so a failed run never leaves it behind, and
// ready once its client and component ports accept connections.
import { type ChildProcess, spawn, type SpawnOptions } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { keepTempDirs, terminate, track, untrackTempDir } from "./children.ts";
import { acceptsConnections } from "./ports.ts";
import { waitFor } from "./wait-for.ts";

export interface ServerLaunch {
  name: string; // for messages and the output files' names
  dir: string;
  command: string;
  args: string[];
  options?: Omit<SpawnOptions, "stdio">;
  ports: number[]; // ready when all accept connections
  timeoutMs: number;
  logTail: () => string;
}

export async function launchServer(l: ServerLaunch): Promise<ChildProcess> {
  // Files, not pipes: nobody reads a pipe after a test fails, and a full pipe would block the server.
  const out = openSync(join(l.dir, `${l.name}.stdout`), "a");
  const err = openSync(join(l.dir, `${l.name}.stderr`), "a");
  let child: ChildProcess;
  try {
    child = spawn(l.command, l.args, { ...l.options, stdio: ["ignore", out, err] });
  } finally {
    closeSync(out);
    closeSync(err);
  }
  track(child);
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`${l.name} exited during startup (${child.exitCode ?? child.signalCode})`);
        }
        for (const port of l.ports) if (!(await acceptsConnections(port))) return false;
        return true;
      },
      l.timeoutMs,
      `${l.name} to accept connections on ${l.ports.join(" and ")}`,
    );
  } catch (error) {
    await terminate(child, "SIGKILL", 5_000);
    throw new Error(`${(error as Error).message}\n--- ${l.name} log tail (${l.dir}) ---\n${l.logTail()}`);
  }
  return child;
}

/** stop/restart/halt/resume of a server under test, from its launch and halt. */
export function serverLifecycle(dir: string, launch: () => Promise<void>, halt: () => Promise<void>) {
  return {
    async stop(): Promise<void> {
      await halt();
      if (!keepTempDirs) {
        await rm(dir, { recursive: true, force: true });
        untrackTempDir(dir);
      }
    },
    async restart(): Promise<void> {
      await halt();
      await launch();
    },
    halt,
    resume: launch,
  };
}
