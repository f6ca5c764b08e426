// The database as the gateway will need it: there, readable, at a schema this
// version knows, writable by the gateway's user, with room to grow.
//
// It leaves the directory as it found it. A read-only connection cannot
// checkpoint, so it would leave the -wal and -shm it creates behind, and as
// root they would be root's: a gateway running as its own user then cannot
// open its database. A read-write connection that writes nothing removes both
// at its close when it is the last connection (SQLite does), and as root
// SQLite gives the files it creates the database file's owner (os_unix.c), so
// a gateway that opens the database meanwhile finds them its own.
import { accessSync, constants, existsSync, statfsSync, statSync, type Stats } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { SCHEMA_VERSION } from "../../store/schema.ts";
import { fail, ok, warn, type Check } from "./check.ts";

const MiB = 1024 * 1024;

export interface DiskLimits {
  failBelow: number; // bytes: a queue burst or a WAL checkpoint can take this much
  warnBelow: number;
}
export const DISK: DiskLimits = { failBelow: 64 * MiB, warnBelow: 1024 * MiB };

const sidecars = (path: string): string[] => [`${path}-wal`, `${path}-shm`];

export function databaseChecks(path: string, limits: DiskLimits = DISK, euid = process.geteuid?.() ?? -1): Check[] {
  if (!existsSync(dirname(path))) {
    return [fail("database", `the directory ${dirname(path)} does not exist, and the gateway does not create it: create it for the gateway's user, or fix [database] path`)];
  }
  if (!existsSync(path)) {
    return [warn("database", `no database at ${path} yet: the gateway creates it at its first start; if it has started before, [database] path is wrong`), writable(path, euid), ...disk(path, limits)];
  }
  // Judged before the doctor's own connection adds anything.
  const write = writable(path, euid);
  const checks: Check[] = [];
  try {
    const found = readSchema(path);
    checks.push(ok("database", `${path} opens`), schema(found));
  } catch (err) {
    checks.push(fail("database", `cannot open ${path}: ${(err as Error).message}; check [database] path and the file's owner`));
  }
  return [...checks, write, ...disk(path, limits)];
}

function readSchema(path: string): number {
  const db = new Database(path, { fileMustExist: true });
  try {
    const found = db.pragma("user_version", { simple: true }) as number;
    db.prepare("SELECT count(*) FROM sqlite_master").get(); // reads a page: a file that is not a database fails here
    return found;
  } finally {
    db.close();
  }
}

function schema(found: number): Check {
  const name = "database schema";
  if (found === SCHEMA_VERSION) return ok(name, `version ${found}, the one this version uses`);
  if (found > SCHEMA_VERSION) return fail(name, `version ${found} is newer than this version knows (${SCHEMA_VERSION}): a newer gateway has used it; upgrade this installation`);
  return warn(name, `version ${found}, older than this version's ${SCHEMA_VERSION}: the gateway migrates it when it starts (or stop it and run 'up-gateway-admin migrate')`);
}

/**
 * The file, its -wal and -shm (SQLite's, beside the file) and the directory.
 * As root access() says yes to everything but an immutable file or a read-only
 * file system, so there the files are judged against the directory's owner,
 * taken to be the gateway's user (systemd's StateDirectory is made so).
 */
export function writable(path: string, euid: number): Check {
  const name = "database writable";
  const dir = dirname(path);
  const owner = euid === 0 ? statSync(dir).uid : undefined;
  const unwritable = `the gateway answers 503 to every push`;
  for (const p of [path, ...sidecars(path), dir]) {
    if (p !== dir && !existsSync(p)) continue; // not there yet: the directory decides
    try {
      accessSync(p, constants.W_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return fail(name, `${p} is not writable (${code}): ${unwritable}; give the gateway's user write access (chown, chmod u+w${code === "EPERM" ? ", chattr -i" : ""})`);
    }
    if (owner === undefined) continue;
    const st: Stats = statSync(p);
    if (st.uid !== owner) {
      return fail(name, `${p} is owned by uid ${st.uid}, its directory by uid ${owner} (the gateway's user): ${unwritable}; chown ${owner} ${p}`);
    }
    if ((st.mode & 0o200) === 0) return fail(name, `${p} is not writable by its owner (uid ${owner}): ${unwritable}; chmod u+w ${p}`);
  }
  return ok(name, owner === undefined ? "the file and its directory are writable" : `the file and its directory are owned and writable by uid ${owner}, the directory's owner`);
}

function disk(path: string, limits: DiskLimits): Check[] {
  const name = "disk space";
  let free: number;
  try {
    const s = statfsSync(dirname(path));
    free = s.bavail * s.bsize;
  } catch (err) {
    return [warn(name, `cannot tell the free space of ${dirname(path)}: ${(err as NodeJS.ErrnoException).code}`)];
  }
  const text = `${Math.floor(free / MiB)} MiB free in ${dirname(path)}`;
  if (free < limits.failBelow) return [fail(name, `${text}: pushes for offline phones cannot be stored; free some space`)];
  if (free < limits.warnBelow) return [warn(name, `${text}: queued messages and the WAL need room; free some space`)];
  return [ok(name, text)];
}
