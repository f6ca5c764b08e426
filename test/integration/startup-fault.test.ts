// A database the gateway cannot use, found at start: the gateway process and
// `--check-config` both exit 78 with one line on stderr that names
// `[database] path`, the file and what to do, and print no stack trace at the
// default log level. No XMPP server is needed: the database is opened first.
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { chattrWorks } from "../harness/chattr.ts";

const AS_ROOT = process.getuid?.() === 0;
const CAN_CHATTR = AS_ROOT && chattrWorks();

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
let dir: string;
const immutable: string[] = [];
const closedDirs: string[] = [];

before(() => {
  dir = mkdtempSync(join(tmpdir(), "up-startup-fault-"));
});
after(() => {
  for (const f of immutable) execFileSync("chattr", ["-i", f]);
  for (const d of closedDirs) chmodSync(d, 0o700);
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The gateway as an operator starts it, on a config whose database is `dbPath`; default log level. */
function run(name: string, dbPath: string, extra: string[] = []): Promise<Run> {
  const config = join(dir, `${name}.toml`);
  writeFileSync(
    config,
    `[xmpp]\nservice = "xmpp://127.0.0.1:9"\ndomain = "up.example.org"\nsecret = "s"\n` +
      `[http]\nlisten = "127.0.0.1:0"\npublic_url = "https://up.example.org"\n[database]\npath = ${JSON.stringify(dbPath)}\n`,
  );
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "src/main.ts", "--config", config, ...extra],
      { cwd: ROOT, env: { ...process.env, NODE_TEST_CONTEXT: undefined, UP_GATEWAY_XMPP_SECRET: undefined }, timeout: 20_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Both ways in refuse the file alike: exit 78, one line naming the key, the file and `fix`, no stack. */
async function assertRefused(name: string, dbPath: string, problem: RegExp, fix: RegExp): Promise<void> {
  for (const extra of [[], ["--check-config"]]) {
    const r = await run(name, dbPath, extra);
    const how = extra.length ? "--check-config" : "start";
    assert.equal(r.code, 78, `${how}: ${r.stderr}${r.stdout}`);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, `${how}: one line on stderr, got:\n${r.stderr}`);
    const line = lines[0]!;
    assert.ok(line.includes("[database] path"), `${how}: ${line}`);
    assert.ok(line.includes(dbPath), `${how}: names the file: ${line}`);
    assert.match(line, problem, how);
    assert.match(line, fix, how);
    assert.doesNotMatch(r.stderr + r.stdout, /\n\s+at |SqliteError|TypeError/, `${how}: no stack or raw error`);
  }
}

test("a database path in a directory that does not exist", async () => {
  await assertRefused("nodir", join(dir, "missing", "gateway.db"), /does not exist/, /create it/);
  assert.equal(existsSync(join(dir, "missing")), false);
});

test("a file that is not an SQLite database", async () => {
  const file = join(dir, "notes.txt");
  writeFileSync(file, "these are my notes, not a database\n".repeat(20));
  await assertRefused("notadb", file, /not an SQLite database/, /point \[database\] path at the gateway's database/);
});

test("a database the gateway cannot write (immutable as root, mode 000 otherwise)", async (t) => {
  if (AS_ROOT && !CAN_CHATTR) return t.skip("root without the immutable flag here (no chattr, or a file system without it): root writes any mode");
  const file = join(dir, "locked.db");
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.close();
  if (AS_ROOT) {
    execFileSync("chattr", ["+i", file]); // root ignores mode bits, not the immutable flag
    immutable.push(file);
  } else chmodSync(file, 0o000);
  await assertRefused("locked", file, /cannot (read and write|write)/, /read and write access/);
});

test("a database whose directory the gateway cannot write (WAL creates its -wal and -shm files there)", async (t) => {
  if (AS_ROOT && !CAN_CHATTR) return t.skip("root without the immutable flag here (no chattr, or a file system without it): root writes any mode");
  const sub = mkdtempSync(join(dir, "ro-dir-"));
  const file = join(sub, "gateway.db");
  // as restored from a copy: still in rollback-journal mode, so a read-only look at it needs no -shm file
  const db = new Database(file);
  db.exec("CREATE TABLE restored (x)");
  db.close();
  if (AS_ROOT) {
    execFileSync("chattr", ["+i", sub]);
    immutable.push(sub);
  } else {
    chmodSync(sub, 0o500);
    closedDirs.push(sub);
  }
  await assertRefused("rodir", file, /cannot (read and write|create the -wal)/, /read and write access to the file and its directory/);
});

test("a schema newer than this version knows names both versions", async () => {
  const file = join(dir, "future.db");
  const db = new Database(file);
  db.pragma("user_version = 999");
  db.close();
  await assertRefused("future", file, /999.*newer than this gateway knows \(\d+\)/, /upgrade the gateway/);
});

test("--check-config leaves a database that does not exist yet uncreated, and a usable one untouched", async () => {
  const fresh = join(dir, "fresh.db");
  const r = await run("fresh", fresh, ["--check-config"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(existsSync(fresh), false);
});
