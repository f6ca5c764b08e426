// `--check-config`, as an operator runs it: a child process on a config file,
// no XMPP server anywhere. Exit codes: 0 valid, 78 (EX_CONFIG) invalid, 2 usage.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SECRET = "s3cret-that-must-not-be-printed";
let dir: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function gateway(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "src/main.ts", ...args],
      { cwd: ROOT, env: { ...process.env, NODE_TEST_CONTEXT: undefined, UP_GATEWAY_XMPP_SECRET: undefined, ...env }, timeout: 20_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function configFile(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

// Port 9 (discard) on loopback: nothing listens, and --check-config must not try.
const TEMPLATE = `[xmpp]
service = "xmpp://127.0.0.1:9"
domain = "up.example.org"
secret = "${SECRET}"
[http]
listen = "127.0.0.1:8080"
public_url = "https://up.example.org/"
[database]
path = "DIR/gateway.db"
`;
let MINIMAL = TEMPLATE;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "up-check-config-"));
  MINIMAL = TEMPLATE.replace("DIR", dir);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("a valid file prints the effective settings with defaults filled in and the secret masked, exits 0, and connects to nothing", async () => {
  const run = await gateway(["--config", await configFile("ok.toml", MINIMAL), "--check-config"]);
  assert.equal(run.code, 0, run.stderr);
  const printed = JSON.parse(run.stdout);
  assert.equal(printed.xmpp.secret, "********");
  assert.ok(!run.stdout.includes(SECRET) && !run.stderr.includes(SECRET));
  assert.equal(printed.xmpp.service, "xmpp://127.0.0.1:9");
  assert.deepEqual({ host: printed.http.host, port: printed.http.port }, { host: "127.0.0.1", port: 8080 });
  assert.equal(printed.http.publicUrl, "https://up.example.org", "trailing slash dropped");
  assert.equal(printed.push.registrationTtl, 604_800, "defaults filled in");
  assert.equal(printed.log.level, "info");
});

test("config.example.toml passes --check-config once its database directory exists", async () => {
  const example = readFileSync(join(ROOT, "config.example.toml"), "utf8").replace(/^path = .*$/m, `path = "${dir}/example.db"`);
  const run = await gateway(["--config", await configFile("example.toml", example), "--check-config"]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(JSON.parse(run.stdout).xmpp.secret, "********");
});

test("a secret from UP_GATEWAY_XMPP_SECRET is accepted without one in the file and is masked too", async () => {
  const file = await configFile("nosecret.toml", MINIMAL.replace(/^secret = .*$/m, ""));
  const missing = await gateway(["--config", file, "--check-config"]);
  assert.equal(missing.code, 78);
  assert.match(missing.stderr, /xmpp\.secret.*UP_GATEWAY_XMPP_SECRET/);
  const run = await gateway(["--config", file, "--check-config"], { UP_GATEWAY_XMPP_SECRET: "from-the-environment" });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(JSON.parse(run.stdout).xmpp.secret, "********");
  assert.ok(!run.stdout.includes("from-the-environment"));
});

test("a bad value exits 78 with a message naming the key, and nothing on stdout", async () => {
  const run = await gateway(["--config", await configFile("bad.toml", MINIMAL.replace("127.0.0.1:8080", "8080")), "--check-config"]);
  assert.equal(run.code, 78);
  assert.match(run.stderr, /http\.listen/);
  assert.equal(run.stdout, "");
});

test("an unknown key, a missing file and invalid TOML exit 78; a missing --config exits 2", async () => {
  const unknown = await gateway(["--config", await configFile("unknown.toml", `${MINIMAL}[log]\nlevle = "debug"\n`), "--check-config"]);
  assert.equal(unknown.code, 78);
  assert.match(unknown.stderr, /log\.levle: unknown key/);
  assert.equal((await gateway(["--config", join(dir, "absent.toml"), "--check-config"])).code, 78);
  assert.equal((await gateway(["--config", await configFile("broken.toml", "[xmpp\n"), "--check-config"])).code, 78);
  const usage = await gateway(["--check-config"]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--config/);
});
