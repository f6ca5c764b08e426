import type { ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";

/**
 * Crash safety: a test that throws, times out or is interrupted must not leave
 * a Prosody or gateway behind holding ports and temp dirs. Every child the
 * harness spawns is tracked here and SIGKILLed when this process goes away.
 */

const alive = new Set<ChildProcess>();
const tempDirs = new Set<string>();

export const keepTempDirs = process.env.UP_TEST_KEEP !== undefined;

function killAll(): void {
  for (const child of alive) child.kill("SIGKILL");
  alive.clear();
  if (!keepTempDirs) {
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  }
  tempDirs.clear();
}

let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  process.on("exit", killAll);
  // 'exit' does not run when a signal kills us (the test runner sends SIGTERM
  // on timeout, Ctrl-C sends SIGINT). Clean up, then re-raise so the default
  // action still ends the process with the right status.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      killAll();
      process.kill(process.pid, signal);
    });
  }
}

/** Tracks `child` until it exits; killed with SIGKILL if we exit first. */
export function track(child: ChildProcess): void {
  install();
  // Unref'd: a test that forgets stop() then ends (and the 'exit' handler
  // kills the child) instead of hanging the test run without a message.
  // Every wait on a child holds a timer, which keeps the loop alive meanwhile.
  child.unref();
  alive.add(child);
  child.once("exit", () => alive.delete(child));
}

/** Removes `dir` when this process exits (unless UP_TEST_KEEP is set). */
export function trackTempDir(dir: string): void {
  install();
  tempDirs.add(dir);
}

export function untrackTempDir(dir: string): void {
  tempDirs.delete(dir);
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Resolves when `child` has exited (immediately if it already has). */
export function exited(child: ChildProcess): Promise<Exit> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
}

/**
 * Sends `signal`, waits for the exit, and escalates to SIGKILL after
 * `graceMs`. Returns how the child ended and whether it had to be killed.
 */
export async function terminate(
  child: ChildProcess,
  signal: NodeJS.Signals,
  graceMs: number,
): Promise<Exit & { killed: boolean }> {
  const done = exited(child);
  if (child.exitCode !== null || child.signalCode !== null) {
    return { ...(await done), killed: false };
  }
  child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), graceMs);
  });
  const first = await Promise.race([done, late]);
  clearTimeout(timer);
  if (first !== "late") return { ...first, killed: false };
  child.kill("SIGKILL");
  return { ...(await done), killed: true };
}
