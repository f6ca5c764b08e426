import { type ChildProcess, execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { terminate, trackTempDir } from "./children.ts";
import { freePorts } from "./ports.ts";
import { type ProsodyComponent, renderProsodyConfig } from "./prosody-config.ts";
import { launchServer, serverLifecycle } from "./server-process.ts";

export type { ProsodyComponent } from "./prosody-config.ts";

const PROSODY = "/usr/bin/prosody";
const PROSODYCTL = "/usr/bin/prosodyctl";
const DOMAIN = "localhost";
const START_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 5_000;

export interface ProsodyUser {
  name: string;
  password: string;
}

export interface ProsodyOptions {
  /** Defaults to one component `up.localhost` with a random secret. */
  components?: ProsodyComponent[];
  extraGlobal?: string;
  extraHost?: string;
  /** Modules of the harness's default set to leave out (see prosody-config.ts). */
  withoutModules?: string[];
  users?: ProsodyUser[];
}

export interface Prosody {
  readonly dir: string;
  readonly domain: string;
  readonly c2sPort: number;
  readonly componentPort: number;
  readonly httpPort: number;
  readonly components: readonly ProsodyComponent[];
  /** Changes on restart(). */
  readonly pid: number;
  /** Users registered through this harness, name -> password. */
  readonly users: ReadonlyMap<string, string>;
  registerUser(name: string, password: string): Promise<void>;
  /** Stops Prosody and removes its directory (unless UP_TEST_KEEP is set). */
  stop(): Promise<void>;
  /** Stops and starts again on the same ports and data. */
  restart(): Promise<void>;
  /** Stops Prosody but keeps its ports and data for resume(): an outage you can observe. */
  halt(): Promise<void>;
  resume(): Promise<void>;
  logTail(lines?: number): string;
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-lines - 1).join("\n");
  } catch {
    return "";
  }
}

export async function startProsody(opts: ProsodyOptions = {}): Promise<Prosody> {
  const dir = await mkdtemp(join(tmpdir(), "up-prosody-"));
  trackTempDir(dir);
  await mkdir(join(dir, "data"));
  await mkdir(join(dir, "certs"));
  const [c2sPort, componentPort, httpPort] = (await freePorts(3)) as [number, number, number];
  const components = opts.components ?? [
    { domain: `up.${DOMAIN}`, secret: randomBytes(16).toString("hex") },
  ];
  const configPath = join(dir, "prosody.cfg.lua");
  await writeFile(
    configPath,
    renderProsodyConfig({
      dir,
      domain: DOMAIN,
      c2sPort,
      componentPort,
      httpPort,
      components,
      debug: process.env.UP_TEST_DEBUG !== undefined,
      extraGlobal: opts.extraGlobal,
      extraHost: opts.extraHost,
      withoutModules: opts.withoutModules,
    }),
  );

  const users = new Map<string, string>();
  let child: ChildProcess | undefined;
  const logTail = (lines = 40): string =>
    [tail(join(dir, "prosody.log"), lines), tail(join(dir, "prosody.stderr"), 10)]
      .filter((s) => s.trim() !== "")
      .join("\n--- stderr ---\n");

  async function launch(): Promise<void> {
    // -F: foreground (the config option `daemonize` is deprecated in 0.12).
    child = await launchServer({
      name: "prosody",
      dir,
      command: PROSODY,
      args: ["-F", "--config", configPath],
      ports: [c2sPort, componentPort],
      timeoutMs: START_TIMEOUT_MS,
      logTail,
    });
  }

  async function halt(): Promise<void> {
    if (child !== undefined) await terminate(child, "SIGTERM", STOP_GRACE_MS);
  }

  async function registerUser(name: string, password: string): Promise<void> {
    // prosodyctl works on the data dir directly, so it works while Prosody runs.
    await promisify(execFile)(PROSODYCTL, ["--config", configPath, "register", name, DOMAIN, password]);
    users.set(name, password);
  }

  await launch();
  for (const user of opts.users ?? []) await registerUser(user.name, user.password);

  return {
    dir,
    domain: DOMAIN,
    c2sPort,
    componentPort,
    httpPort,
    components,
    get pid() {
      return child?.pid ?? -1;
    },
    users,
    registerUser,
    logTail,
    ...serverLifecycle(dir, launch, halt),
  };
}
