// `npm run build` is what production runs (Dockerfile, deploy/): plain JS in
// dist/ that starts with `node dist/main.js` and no TypeScript runtime. Built
// here into a temp dir laid out like the runtime image: package.json,
// node_modules and dist/ side by side.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { copyFile, mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { connectDistributor } from "../harness/distributor.ts";
import { startGateway } from "../harness/gateway.ts";
import { type Prosody, startProsody } from "../harness/prosody.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const run = promisify(execFile);
let app: string;
let dist: string;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
}

/** Runs plain node, without tsx: `node --import tsx` is what must not be needed. */
function node(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: app, env: { ...process.env, NODE_TEST_CONTEXT: undefined, NODE_OPTIONS: undefined, ...env } }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

before(async () => {
  app = await mkdtemp(join(tmpdir(), "up-build-"));
  dist = join(app, "dist");
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: { build: string } };
  // The same compiler invocation as `npm run build`, with the output redirected.
  assert.match(pkg.scripts.build, /^tsc -p tsconfig\.build\.json$/);
  await run(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json", "--outDir", dist], { cwd: ROOT });
  await copyFile(join(ROOT, "package.json"), join(app, "package.json"));
  await symlink(join(ROOT, "node_modules"), join(app, "node_modules"));
});
after(async () => {
  await rm(app, { recursive: true, force: true });
});

test("the build emits JavaScript only, whose relative imports name .js files", () => {
  const emitted = files(dist);
  assert.ok(emitted.length > 10);
  const kinds = new Set(emitted.map((f) => f.replace(/^.*?(\.js\.map|\.[a-z]+)$/, "$1")));
  assert.deepEqual([...kinds].sort(), [".js", ".js.map"]);
  for (const file of emitted.filter((f) => f.endsWith(".js"))) {
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
      assert.match(m[1]!, /\.js$/, `${relative(dist, file)} imports ${m[1]}`);
    }
  }
});

test("every bin in package.json exists in the build", () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { bin: Record<string, string> };
  const built = new Set(files(dist).map((f) => relative(app, f)));
  for (const [name, path] of Object.entries(pkg.bin)) assert.ok(built.has(path), `${name} -> ${path}`);
});

test("node dist/main.js --check-config runs without a TypeScript runtime: 0 and the secret masked, 78 for a bad file", async () => {
  // the example's /var/lib/up-gateway need not exist here: point the database at a temp dir
  const scratch = mkdtempSync(join(tmpdir(), "up-build-check-"));
  const config = join(scratch, "config.toml");
  writeFileSync(config, readFileSync(join(ROOT, "config.example.toml"), "utf8").replace(/^path = .*$/m, `path = "${scratch}/gateway.db"`));
  const ok = await node(["dist/main.js", "--config", config, "--check-config"]);
  rmSync(scratch, { recursive: true, force: true });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(JSON.parse(ok.stdout).xmpp.secret, "********");
  const bad = await node(["dist/main.js", "--config", join(ROOT, "package.json"), "--check-config"]);
  assert.equal(bad.code, 78, bad.stderr);
});

test("the built gateway registers a distributor and delivers a push through a real Prosody", async (t) => {
  const prosody: Prosody = await startProsody();
  t.after(() => prosody.stop());
  const gateway = await startGateway(prosody, {}, { entry: [join(dist, "main.js")] });
  t.after(() => gateway.cleanup());
  await gateway.waitHealthy(15_000);
  const phone = await connectDistributor(prosody, { username: "built" });
  t.after(() => phone.stop());
  const endpoint = await phone.endpoint1("built-token");
  const res = await fetch(endpoint, { method: "POST", body: "from the build" });
  assert.equal(res.status, 201);
  await phone.waitForMessage((m) => m.getChildText("body") === "from the build");
  assert.equal(await gateway.stop(), 0);
});
