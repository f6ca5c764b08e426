// The database as the gateway will need it: there, readable, at a schema this
// version knows, writable, with room to grow. Opened read-only: the doctor
// changes nothing, not even the journal mode.
import { accessSync, constants, existsSync, statfsSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { SCHEMA_VERSION } from "../../store/schema.ts";
import { fail, ok, warn, type Check } from "./check.ts";

const MiB = 1024 * 1024;
const FAIL_BELOW = 64 * MiB; // a queue burst or a WAL checkpoint can take this much
const WARN_BELOW = 1024 * MiB;

export function databaseChecks(path: string): Check[] {
  if (!existsSync(dirname(path))) {
    return [fail("database", `the directory ${dirname(path)} does not exist, and the gateway does not create it: create it for the gateway's user, or fix [database] path`)];
  }
  if (!existsSync(path)) {
    return [warn("database", `no database at ${path} yet: the gateway creates it at its first start; if it has started before, [database] path is wrong`), writable(path), ...disk(path)];
  }
  const checks: Check[] = [];
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      const found = db.pragma("user_version", { simple: true }) as number;
      db.prepare("SELECT count(*) FROM sqlite_master").get(); // reads a page: a file that is not a database fails here
      checks.push(ok("database", `${path} opens`), schema(found));
    } finally {
      db.close();
    }
  } catch (err) {
    checks.push(fail("database", `cannot open ${path}: ${(err as Error).message}; check [database] path and the file's owner`));
  }
  return [...checks, writable(path), ...disk(path)];
}

function schema(found: number): Check {
  const name = "database schema";
  if (found === SCHEMA_VERSION) return ok(name, `version ${found}, the one this version uses`);
  if (found > SCHEMA_VERSION) return fail(name, `version ${found} is newer than this version knows (${SCHEMA_VERSION}): a newer gateway has used it; upgrade this installation`);
  return warn(name, `version ${found}, older than this version's ${SCHEMA_VERSION}: the gateway migrates it when it starts (or stop it and run 'up-gateway-admin migrate')`);
}

/** The file, its WAL and its directory (SQLite creates -wal and -shm beside the file). */
function writable(path: string): Check {
  const name = "database writable";
  for (const p of [path, `${path}-wal`, dirname(path)]) {
    if (p !== dirname(path) && !existsSync(p)) continue; // not there yet: the directory decides
    try {
      accessSync(p, constants.W_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return fail(name, `${p} is not writable (${code}): the gateway answers 503 to every push; give the gateway's user write access (chown, chmod u+w${code === "EPERM" ? ", chattr -i" : ""})`);
    }
  }
  return ok(name, "the file and its directory are writable");
}

function disk(path: string): Check[] {
  const name = "disk space";
  let free: number;
  try {
    const s = statfsSync(dirname(path));
    free = s.bavail * s.bsize;
  } catch (err) {
    return [warn(name, `cannot tell the free space of ${dirname(path)}: ${(err as NodeJS.ErrnoException).code}`)];
  }
  const text = `${Math.floor(free / MiB)} MiB free in ${dirname(path)}`;
  if (free < FAIL_BELOW) return [fail(name, `${text}: pushes for offline phones cannot be stored; free some space`)];
  if (free < WARN_BELOW) return [warn(name, `${text}: queued messages and the WAL need room; free some space`)];
  return [ok(name, text)];
}
