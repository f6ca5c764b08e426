import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Socket } from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { type Exit, exited, keepTempDirs, terminate, track, trackTempDir, untrackTempDir } from "./children.ts";
import { gatewayConfig } from "./gateway-config.ts";
import { httpStatus } from "./http-status.ts";
import { freePort } from "./ports.ts";
import type { Prosody } from "./prosody.ts";
import { toToml } from "./toml.ts";
import { waitFor } from "./wait-for.ts";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const STOP_TIMEOUT_MS = 10_000;
const DEFAULT_WAIT_MS = 10_000;
const DRAIN_MS = 2_000;

export interface LogLine {
  stream: "stdout" | "stderr";
  raw: string;
  /** The pino record, when the line is JSON. */
  json: Record<string, unknown> | undefined;
}

export interface GatewayOptions {
  /** Which Prosody component to be; defaults to the first. */
  component?: string;
  /** Extra environment (undefined deletes a variable). */
  env?: Record<string, string | undefined>;
  /** Use this config text verbatim instead of the generated TOML (bad-config tests). */
  configText?: string;
  /** Node arguments that run the gateway, before `--config`; defaults to src/main.ts through tsx (the bench runs a build). */
  entry?: string[];
}

export interface Gateway {
  readonly url: string;
  readonly port: number;
  /** Changes on restart(). */
  readonly pid: number;
  readonly configPath: string;
  readonly dir: string;
  /** Every output line of every run, in order. */
  readonly lines: LogLine[];
  readonly running: boolean;
  waitForLog(pred: (record: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** GET /healthz status, undefined when nothing answers. */
  health(): Promise<number | undefined>;
  waitHealthy(timeoutMs?: number): Promise<void>;
  waitUnhealthy(timeoutMs?: number): Promise<void>;
  waitExit(timeoutMs?: number): Promise<Exit>;
  /** Sends `signal` and resolves with the exit code; SIGKILLs and throws if it hangs. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  kill(): Promise<Exit>;
  /** Stops (SIGTERM) if running, then starts again with the same config and database. */
  restart(): Promise<void>;
  outputTail(lines?: number): string;
  /** Kills if still running and removes the directory (unless UP_TEST_KEEP). */
  cleanup(): Promise<void>;
}

export async function startGateway(
  prosody: Prosody,
  overrides?: Record<string, Record<string, unknown>>,
  options: GatewayOptions = {},
): Promise<Gateway> {
  const component = prosody.components.find((c) => options.component === undefined || c.domain === options.component);
  if (component === undefined) throw new Error(`prosody has no component ${options.component}`);
  const dir = await mkdtemp(join(tmpdir(), "up-gateway-"));
  trackTempDir(dir);
  const port = await freePort();
  const configPath = join(dir, "gateway.toml");
  const layout = { dir, componentPort: prosody.componentPort, domain: component.domain, secret: component.secret, httpPort: port };
  await writeFile(configPath, options.configText ?? toToml(gatewayConfig(layout, overrides)));

  const url = `http://127.0.0.1:${port}`;
  const lines: LogLine[] = [];
  const outputTail = (n = 30): string => lines.slice(-n).map((l) => l.raw).join("\n");
  let closed = Promise.resolve();
  let child: ChildProcess = launch();

  function launch(): ChildProcess {
    // One process, no npm/tsx wrapper, so signals and SIGKILL reach the gateway itself.
    const proc = spawn(process.execPath, [...(options.entry ?? ["--import", "tsx", "src/main.ts"]), "--config", configPath], {
      cwd: REPO_ROOT,
      // Set by `node --test` for its workers; meaningless to the gateway. The
      // secret variable would silently override the config under test.
      env: { ...process.env, NODE_TEST_CONTEXT: undefined, UP_GATEWAY_XMPP_SECRET: undefined, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    track(proc);
    // 'exit' can come before the last output lines; 'close' means all are read.
    closed = new Promise((resolve) => proc.once("close", () => resolve()));
    for (const stream of ["stdout", "stderr"] as const) {
      (proc[stream] as Socket).unref(); // see track()
      createInterface({ input: proc[stream] }).on("line", (raw) => {
        lines.push({ stream, raw, json: parseJson(raw) });
        appendFileSync(join(dir, `gateway.${stream}`), `${raw}\n`);
      });
    }
    return proc;
  }

  /** Waits for the output of an exited child to be read, within DRAIN_MS. */
  async function drained(): Promise<void> {
    // The timer also keeps this process alive meanwhile (the pipes are unref'd).
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise((resolve) => (timer = setTimeout(resolve, DRAIN_MS)))]);
    clearTimeout(timer);
  }

  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  const failure = (message: string): Error => new Error(`${message}\n--- gateway output (${dir}) ---\n${outputTail()}`);

  async function waitHealth(wanted: (status: number | undefined) => boolean, what: string, timeoutMs: number): Promise<void> {
    try {
      await waitFor(
        async () => {
          if (!running()) throw new Error(`gateway exited (${child.exitCode ?? child.signalCode}) while waiting to be ${what}`);
          return wanted(await httpStatus(`${url}/healthz`));
        },
        timeoutMs,
        `gateway to be ${what}`,
      );
    } catch (error) {
      throw failure((error as Error).message);
    }
  }

  async function end(signal: NodeJS.Signals, timeoutMs: number): Promise<Exit & { killed: boolean }> {
    const exit = await terminate(child, signal, timeoutMs);
    await drained();
    return exit;
  }

  async function stop(signal: NodeJS.Signals = "SIGTERM", timeoutMs = STOP_TIMEOUT_MS): Promise<number | null> {
    const exit = await end(signal, timeoutMs);
    if (exit.killed) throw failure(`gateway ignored ${signal} for ${timeoutMs} ms and was SIGKILLed`);
    return exit.code;
  }

  return {
    url,
    port,
    get pid() {
      return child.pid ?? -1;
    },
    configPath,
    dir,
    lines,
    get running() {
      return running();
    },
    waitForLog: (pred, timeoutMs = DEFAULT_WAIT_MS) =>
      waitFor(() => lines.find((l) => l.json !== undefined && pred(l.json))?.json, timeoutMs, "a gateway log line"),
    health: () => httpStatus(`${url}/healthz`),
    waitHealthy: (timeoutMs = DEFAULT_WAIT_MS) => waitHealth((s) => s === 200, "healthy", timeoutMs),
    // Unhealthy means the gateway answers, with a status other than 200.
    waitUnhealthy: (timeoutMs = DEFAULT_WAIT_MS) =>
      waitHealth((s) => s !== undefined && s !== 200, "unhealthy", timeoutMs),
    async waitExit(timeoutMs = DEFAULT_WAIT_MS) {
      const proc = child;
      const exit = await waitFor(() => (running() ? undefined : exited(proc)), timeoutMs, "the gateway to exit").catch(
        (error: Error) => {
          throw failure(error.message);
        },
      );
      await drained();
      return exit;
    },
    stop,
    kill: () => end("SIGKILL", STOP_TIMEOUT_MS),
    async restart() {
      if (running()) await stop();
      child = launch();
    },
    outputTail,
    async cleanup() {
      await end("SIGKILL", STOP_TIMEOUT_MS);
      if (!keepTempDirs) {
        await rm(dir, { recursive: true, force: true });
        untrackTempDir(dir);
      }
    },
  };
}

function parseJson(raw: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
