import { type ChildProcess, execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { terminate, trackTempDir } from "./children.ts";
import { renderEjabberdConfig, renderEjabberdctlConfig } from "./ejabberd-config.ts";
import { freePorts } from "./ports.ts";
import type { Prosody, ProsodyComponent, ProsodyUser } from "./prosody.ts";
import { launchServer, serverLifecycle } from "./server-process.ts";

/**
 * Debian's ejabberd in a temp dir, the way startProsody() runs Prosody: its
 * own config, Mnesia database and logs in the dir, every listener on a free
 * loopback port. The result has the Prosody harness's shape, so
 * connectDistributor() and startGateway() take it unchanged.
 *
 * The VM is started with `erl` directly (the command `ejabberdctl foreground`
 * would run), not through ejabberdctl: that script keeps a shell between us
 * and the VM, and killing the shell would leave the VM holding the ports.
 * Erlang distribution uses a fixed loopback port (-erl_epmd_port, as
 * ejabberdctl does with ERL_DIST_PORT), so no epmd is ever started.
 */

export const EJABBERDCTL = "/usr/sbin/ejabberdctl";
const ERL = "/usr/bin/erl";
const DOMAIN = "localhost";
const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;

export interface EjabberdOptions {
  /** Defaults to one component `up.localhost` with a random secret. */
  components?: ProsodyComponent[];
  users?: ProsodyUser[];
  /** Renders the component port's `listen:` item(s) from the chosen port, instead of the harness's own. */
  componentListener?: (port: number, components: readonly ProsodyComponent[]) => string;
}

export interface Ejabberd extends Prosody {
  /** The Erlang node name, e.g. `uptest3f9a1c@localhost`. */
  readonly node: string;
  /** Runs `ejabberdctl COMMAND ...` against this node; resolves with its stdout. */
  ctl(...args: string[]): Promise<string>;
}

export const ejabberdInstalled = (): boolean => existsSync(EJABBERDCTL) && existsSync(ERL);

/** Debian puts ejabberd's code outside Erlang's lib dir; ejabberdctl knows where. */
function erlLibs(): string {
  const m = /^ERL_LIBS='([^']+)'/m.exec(readFileSync(EJABBERDCTL, "utf8"));
  return m?.[1] ?? "/usr/lib/x86_64-linux-gnu";
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-lines - 1).join("\n");
  } catch {
    return "";
  }
}

export async function startEjabberd(opts: EjabberdOptions = {}): Promise<Ejabberd> {
  const dir = await mkdtemp(join(tmpdir(), "up-ejabberd-"));
  trackTempDir(dir);
  const dbDir = join(dir, "db");
  await mkdir(dbDir);
  const [c2sPort, componentPort, httpPort, distPort] = (await freePorts(4)) as [number, number, number, number];
  const components = opts.components ?? [{ domain: `up.${DOMAIN}`, secret: randomBytes(16).toString("hex") }];
  // Mnesia ties its files to the node name: it stays the same across restart().
  const node = `uptest${randomBytes(3).toString("hex")}@localhost`;
  const cookie = randomBytes(16).toString("hex");
  const configPath = join(dir, "ejabberd.yml");
  const ctlConfigPath = join(dir, "ejabberdctl.cfg");
  const logPath = join(dir, "ejabberd.log");
  const debug = process.env.UP_TEST_DEBUG !== undefined;
  const componentListener = opts.componentListener?.(componentPort, components);
  await writeFile(
    configPath,
    renderEjabberdConfig({ domain: DOMAIN, c2sPort, componentPort, httpPort, components, debug, componentListener }),
  );
  await writeFile(ctlConfigPath, renderEjabberdctlConfig({ node, cookie, distPort }));
  // Resolve localhost from this file only, as Debian's /etc/ejabberd/inetrc does.
  await writeFile(join(dir, "inetrc"), '{lookup,["file","native"]}.\n{host,{127,0,0,1},["localhost"]}.\n');

  const env = {
    ...process.env,
    HOME: dir, // Erlang and ejabberd read dotfiles from $HOME; keep root's untouched
    EJABBERD_CONFIG_PATH: configPath,
    EJABBERD_LOG_PATH: logPath,
    ERL_LIBS: erlLibs(),
    ERL_INETRC: join(dir, "inetrc"),
    ERL_CRASH_DUMP: join(dir, "erl_crash.dump"),
    ERL_CRASH_DUMP_BYTES: "0",
  };
  const users = new Map<string, string>();
  let child: ChildProcess | undefined;
  const logTail = (lines = 40): string =>
    [tail(logPath, lines), tail(join(dir, "ejabberd.stderr"), 10), tail(join(dir, "ejabberd.stdout"), 10)]
      .filter((s) => s.trim() !== "")
      .join("\n--- stdout/stderr ---\n");

  async function launch(): Promise<void> {
    // `erl` execs the VM, so this pid is beam.smp itself and signals reach it.
    child = await launchServer({
      name: "ejabberd",
      dir,
      command: ERL,
      args: [
        "-sname", node, "-noinput", "+K", "true", "+P", "250000",
        "-setcookie", cookie,
        "-erl_epmd_port", String(distPort), "-start_epmd", "false",
        "-kernel", "inet_dist_use_interface", "{127,0,0,1}",
        "-mnesia", "dir", JSON.stringify(dbDir),
        "-s", "ejabberd",
      ],
      options: { cwd: dir, env },
      ports: [c2sPort, componentPort],
      timeoutMs: START_TIMEOUT_MS,
      logTail,
    });
  }

  async function halt(): Promise<void> {
    // The VM takes SIGTERM as init:stop(): listeners close, Mnesia is synced.
    if (child !== undefined) await terminate(child, "SIGTERM", STOP_GRACE_MS);
  }

  async function ctl(...args: string[]): Promise<string> {
    const { stdout } = await promisify(execFile)(
      EJABBERDCTL,
      ["--ctl-config", ctlConfigPath, "--config", configPath, "--spool", dbDir, "--logs", dir, ...args],
      { env, cwd: dir },
    );
    return stdout;
  }

  async function registerUser(name: string, password: string): Promise<void> {
    try {
      await ctl("register", name, DOMAIN, password);
    } catch (error) {
      // prosodyctl register overwrites; ejabberdctl says "conflict" instead.
      if (!/conflict/.test(String((error as { stdout?: string }).stdout ?? error))) throw error;
      await ctl("change_password", name, DOMAIN, password);
    }
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
    node,
    get pid() {
      return child?.pid ?? -1;
    },
    users,
    registerUser,
    ctl,
    logTail,
    ...serverLifecycle(dir, launch, halt),
  };
}
