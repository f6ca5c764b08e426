// A throwaway PostgreSQL cluster for the tests: initdb in a temp dir, one
// postmaster on a free loopback port, fsync on (the store's durability is
// what is under test), stopped by its PID.
//
// PostgreSQL refuses to run as root. As root, initdb and postgres run as the
// `postgres` OS user (Debian's package creates it) through spawn's uid/gid,
// which is what `runuser -u postgres --` does, minus the intermediate process:
// the PID we track and signal is the postmaster's own. As any other user they
// run as that user.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdir, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { exited, terminate, track, trackTempDir } from "./children.ts";
import { freePort } from "./ports.ts";
import { launchServer, serverLifecycle } from "./server-process.ts";
import { waitFor } from "./wait-for.ts";

const HOST = "127.0.0.1";
const USER = "postgres";
const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 30_000; // fast shutdown still writes a checkpoint, with fsync, on a busy disk

export interface Postgres {
  readonly dir: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** The postmaster's PID; changes on restart(). */
  readonly pid: number;
  /** postgres://user:password@127.0.0.1:port/database */
  url(database?: string): string;
  /** A new, empty database; returns its URL. */
  createDatabase(name?: string): Promise<string>;
  /**
   * A new, empty schema in one shared database, as a URL whose connections
   * use only that schema (search_path): as good as an empty database to the
   * store, and far cheaper than CREATE DATABASE with fsync on (a copy of
   * template1 each, and a checkpoint of all of them at shutdown).
   */
  createSchema(name?: string): Promise<string>;
  /** Fast shutdown (SIGINT), then removes the data dir (unless UP_TEST_KEEP is set). */
  stop(): Promise<void>;
  restart(): Promise<void>;
  halt(): Promise<void>;
  /** Starts it again on the same port and data dir; after a crash() it retries until the old backends are gone. */
  resume(): Promise<void>;
  /** `kill -9` of the postmaster (no shutdown, no checkpoint: crash recovery at the next resume()). */
  crash(): Promise<void>;
  logTail(lines?: number): string;
}

/** The server binaries: `pg_config --bindir`, else the newest /usr/lib/postgresql/N/bin. */
export function postgresBinDir(): string {
  const has = (dir: string): boolean => existsSync(join(dir, "initdb")) && existsSync(join(dir, "postgres"));
  try {
    const dir = execFileSync("pg_config", ["--bindir"], { encoding: "utf8" }).trim();
    if (has(dir)) return dir;
  } catch {
    // no pg_config (libpq-dev is not installed): look where Debian puts the server
  }
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (has(join(root, v, "bin"))) return join(root, v, "bin");
  throw new Error("PostgreSQL server binaries not found: run scripts/ensure-postgres.sh (Debian's postgresql package)");
}

/** uid/gid to run the server as: the `postgres` user when we are root, else ourselves. */
function serverIdentity(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string): number => Number(execFileSync("id", [flag, USER], { encoding: "utf8" }).trim());
  return { uid: id("-u"), gid: id("-g") };
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-lines - 1).join("\n");
  } catch {
    return "";
  }
}

async function run(command: string, args: string[], identity: { uid: number; gid: number } | undefined, log: string): Promise<void> {
  const child: ChildProcess = spawn(command, args, { ...identity, stdio: ["ignore", "ignore", "pipe"] });
  track(child);
  child.ref(); // track() unrefs; this short-lived child is awaited right here
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const { code, signal } = await exited(child);
  if (code !== 0) throw new Error(`${log} failed (${code ?? signal}):\n${stderr}`);
}

export async function startPostgres(): Promise<Postgres> {
  const bin = postgresBinDir();
  const identity = serverIdentity();
  const dir = await mkdtemp(join(tmpdir(), "up-postgres-"));
  trackTempDir(dir);
  const data = join(dir, "data");
  const sockets = join(dir, "sock");
  await mkdir(sockets);
  const password = randomBytes(12).toString("hex");
  const pwfile = join(dir, "pwfile");
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (identity) for (const p of [dir, sockets, pwfile]) chownSync(p, identity.uid, identity.gid);
  const port = await freePort();

  // --no-sync only for initdb's own files (seconds on a busy machine); the server below runs with fsync on.
  await run(join(bin, "initdb"), ["-D", data, "-U", USER, "--pwfile", pwfile, "-A", "scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync"], identity, "initdb");

  let child: ChildProcess | undefined;
  const logTail = (lines = 40): string => tail(join(dir, "postgres.stderr"), lines);
  const url = (database = "postgres"): string => `postgres://${USER}:${password}@${HOST}:${port}/${database}`;

  async function launch(): Promise<void> {
    child = await launchServer({
      name: "postgres",
      dir,
      command: join(bin, "postgres"),
      args: [
        "-D", data, "-p", String(port), "-k", sockets,
        "-c", `listen_addresses=${HOST}`,
        "-c", "fsync=on",
        "-c", "synchronous_commit=on",
        "-c", "max_connections=200",
      ],
      options: identity ?? {},
      ports: [port],
      timeoutMs: START_TIMEOUT_MS,
      logTail,
    });
    // The port accepts before recovery ends ("the database system is starting up"): wait for a query.
    await waitFor(async () => {
      const c = new pg.Client({ connectionString: url() });
      c.on("error", () => {});
      try {
        await c.connect();
        await c.query("SELECT 1");
        return true;
      } catch {
        return false;
      } finally {
        await c.end().catch(() => {});
      }
    }, START_TIMEOUT_MS, "postgres to answer queries");
  }

  // SIGINT is PostgreSQL's fast shutdown: clients are disconnected (SIGTERM would wait for them).
  async function halt(): Promise<void> {
    if (child === undefined) return;
    child.ref(); // track() unrefs it: keep the loop alive until it has exited, even after an escalation to SIGKILL
    await terminate(child, "SIGINT", STOP_GRACE_MS);
  }

  async function crash(): Promise<void> {
    if (child === undefined) return;
    child.ref();
    await terminate(child, "SIGKILL", STOP_GRACE_MS);
  }

  // After a crash the orphaned backends notice the postmaster's death within moments, but until they
  // have exited a new postmaster refuses the data dir ("pre-existing shared memory block is still in use").
  async function launchRetrying(): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      try {
        return await launch();
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  let created = 0;
  async function createDatabase(name = `t${process.pid}_${++created}_${randomBytes(3).toString("hex")}`): Promise<string> {
    const c = new pg.Client({ connectionString: url() });
    await c.connect();
    try {
      await c.query(`CREATE DATABASE "${name.replace(/"/g, "")}"`);
    } finally {
      await c.end();
    }
    return url(name);
  }

  let shared: string | undefined;
  async function createSchema(name = `s${process.pid}_${++created}_${randomBytes(3).toString("hex")}`): Promise<string> {
    shared ??= await createDatabase(`schemas_${process.pid}`);
    const schema = name.replace(/[^a-z0-9_]/gi, "");
    const c = new pg.Client({ connectionString: shared });
    await c.connect();
    try {
      await c.query(`CREATE SCHEMA ${schema}`);
    } finally {
      await c.end();
    }
    return `${shared}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  }

  await launch();
  return {
    dir,
    host: HOST,
    port,
    user: USER,
    password,
    get pid() {
      return child?.pid ?? -1;
    },
    url,
    createDatabase,
    createSchema,
    logTail,
    ...serverLifecycle(dir, launchRetrying, halt),
    crash,
  };
}
