// The packaging files say what docs/install.md promises. (No Docker engine
// runs the Dockerfile here; test/integration/build.test.ts runs its build and
// start commands in the same layout.)
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../../src/config.ts";
import { sqlitePath } from "./_config.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const read = (file: string): string => readFileSync(join(ROOT, file), "utf8");

/** `Key=value` lines of a systemd unit, repeated keys collected in order. */
function unit(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const m = /^(\w+)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1]!, [...(out.get(m[1]!) ?? []), m[2]!]);
  }
  return out;
}

test("the systemd unit restarts on failure but not on a bad config, and runs the built JS", () => {
  const u = unit(read("deploy/up-gateway.service"));
  assert.deepEqual(u.get("Restart"), ["on-failure"]);
  assert.deepEqual(u.get("RestartPreventExitStatus"), ["78"]);
  assert.match(u.get("ExecStart")![0]!, /^\/usr\/bin\/node \/opt\/up-gateway\/dist\/main\.js --config \/etc\/up-gateway\/config\.toml$/);
  assert.deepEqual(u.get("EnvironmentFile"), ["-/etc/up-gateway/env"]);
});

test("the systemd unit runs unprivileged, read-only except its state directory, which holds the example's database", () => {
  const u = unit(read("deploy/up-gateway.service"));
  for (const [key, value] of Object.entries({
    DynamicUser: "yes",
    NoNewPrivileges: "yes",
    ProtectSystem: "strict",
    ProtectHome: "yes",
    PrivateTmp: "yes",
    CapabilityBoundingSet: "",
  })) {
    assert.deepEqual(u.get(key), [value], key);
  }
  assert.equal(u.get("MemoryDenyWriteExecute"), undefined, "V8 needs W+X memory");
  const state = `/var/lib/${u.get("StateDirectory")![0]}`;
  assert.equal(dirname(sqlitePath(loadConfig(join(ROOT, "config.example.toml")))), state);
});

/** Dockerfile instructions as [instruction, arguments], continuation lines joined. */
function instructions(text: string): [string, string][] {
  return text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => {
      const [word, ...rest] = l.split(/\s+/);
      return [word!.toUpperCase(), rest.join(" ")];
    });
}

test("the Dockerfile builds in one stage and runs node dist/main.js as a non-root user with the database on a volume", () => {
  const all = instructions(read("Dockerfile"));
  const starts = all.flatMap(([ins], i) => (ins === "FROM" ? [i] : []));
  assert.equal(starts.length, 2, "two stages");
  const build = all.slice(starts[0]!, starts[1]!);
  const runtime = all.slice(starts[1]!);
  assert.match(build[0]![1], / AS build$/);
  const buildRuns = build.filter(([i]) => i === "RUN").map(([, a]) => a).join(" && ");
  assert.match(buildRuns, /npm ci/);
  assert.match(buildRuns, /npm run build/);
  assert.match(buildRuns, /npm prune --omit=dev/);

  assert.ok(runtime.some(([i, a]) => i === "COPY" && a.startsWith("--from=build") && a.includes("/app/dist")));
  assert.ok(!runtime.some(([i, a]) => i === "RUN" && /npm|tsc|tsx/.test(a)), "nothing is built in the runtime stage");
  const users = runtime.filter(([i]) => i === "USER").map(([, a]) => a);
  assert.equal(users.length, 1);
  assert.doesNotMatch(users[0]!, /^(root|0)(:|$)/);
  assert.deepEqual(runtime.filter(([i]) => i === "VOLUME").map(([, a]) => a), ['["/var/lib/up-gateway"]']);
  assert.equal(dirname(sqlitePath(loadConfig(join(ROOT, "config.example.toml")))), "/var/lib/up-gateway");
  const cmd = runtime.filter(([i]) => i === "CMD").map(([, a]) => JSON.parse(a) as string[]);
  assert.deepEqual(cmd, [["node", "dist/main.js", "--config", "/etc/up-gateway/config.toml"]]);
});

test("everything the Dockerfile copies from the context exists and is not excluded by .dockerignore", () => {
  const ignored = read(".dockerignore").split("\n").filter((l) => l.trim() !== "");
  assert.ok(ignored.includes("node_modules") && ignored.includes("dist"), "host builds stay out of the context");
  for (const [ins, args] of instructions(read("Dockerfile"))) {
    if (ins !== "COPY" || args.startsWith("--from")) continue;
    const sources = args.split(/\s+/).slice(0, -1);
    for (const source of sources) {
      assert.ok(existsSync(join(ROOT, source)), `COPY ${source}`);
      assert.ok(!ignored.includes(source), `${source} is in .dockerignore`);
    }
  }
});
