// The operator docs are checked against what they describe: the config
// reference against config.example.toml and the config parser, the log lines
// and metrics against src/, links against the tree.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { parse } from "smol-toml";
import { loadConfig, parseConfig } from "../../src/config.ts";
import { codeBlocks } from "../harness/doc-snippets.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const read = (file: string): string => readFileSync(join(ROOT, file), "utf8");
type Doc = Record<string, Record<string, unknown>>;

interface Row {
  key: string; // "section.key"
  dflt: string; // "required" or a TOML literal
}

/** The rows of configuration.md's tables, one table per `## [section]`. */
function referenceRows(): Row[] {
  const rows: Row[] = [];
  let section: string | undefined;
  for (const line of read("docs/configuration.md").split("\n")) {
    const heading = /^## \[(\w+)\]$/.exec(line);
    if (heading) section = heading[1];
    else if (/^## /.test(line)) section = undefined;
    const row = /^\| `(\w+)` \| (required|`[^|]+`) \|/.exec(line);
    if (section && row) rows.push({ key: `${section}.${row[1]}`, dflt: row[2]!.replace(/^`|`$/g, "") });
  }
  return rows;
}

const example = (): Doc => parse(read("config.example.toml")) as Doc;
const camel = (s: string): string => s.replace(/_(\w)/g, (_, c: string) => c.toUpperCase());

test("the config reference lists exactly the keys of config.example.toml, section by section", () => {
  const documented = referenceRows().map((r) => r.key);
  const inExample = Object.entries(example()).flatMap(([s, t]) => Object.keys(t).map((k) => `${s}.${k}`));
  assert.deepEqual([...documented].sort(), [...inExample].sort());
  assert.equal(new Set(documented).size, documented.length, "a key documented twice");
});

test("every key the reference calls required is required by the parser, and no other", () => {
  for (const { key } of referenceRows()) {
    const [section, name] = key.split(".") as [string, string];
    const doc = structuredClone(example());
    delete doc[section]![name];
    const parsesWithout = (() => {
      try {
        parseConfig(doc);
        return true;
      } catch (err) {
        assert.match((err as Error).message, new RegExp(`^config: ${key.replace(".", "\\.")}: missing`), key);
        return false;
      }
    })();
    const row = referenceRows().find((r) => r.key === key)!;
    assert.equal(row.dflt === "required", !parsesWithout, `${key}: documented ${row.dflt}`);
  }
});

test("every documented default is the value the gateway uses when the key is left out", () => {
  const required = referenceRows().filter((r) => r.dflt === "required");
  const minimal: Doc = {};
  for (const { key } of required) {
    const [section, name] = key.split(".") as [string, string];
    (minimal[section] ??= {})[name] = example()[section]![name];
  }
  const effective = parseConfig(minimal) as unknown as Record<string, Record<string, unknown>>;
  for (const { key, dflt } of referenceRows().filter((r) => r.dflt !== "required")) {
    const [section, name] = key.split(".") as [string, string];
    const value = (parse(`v = ${dflt}`) as { v: unknown }).v;
    assert.deepEqual(effective[section]![camel(name)], value, `${key}: documented default ${dflt}`);
  }
});

test("the TOML files shown in the docs are valid configs", () => {
  for (const file of ["docs/configuration.md", "docs/install.md"]) {
    const blocks = codeBlocks(file, "toml");
    assert.ok(blocks.length > 0, file);
    for (const block of blocks) {
      // A file without `secret` takes it from the environment, as install.md says.
      const config = parseConfig(parse(block) as Doc, { UP_GATEWAY_XMPP_SECRET: "from-the-env" });
      assert.equal(config.xmpp.domain, "up.example.org", file);
    }
  }
  assert.ok(loadConfig(join(ROOT, "config.example.toml")));
});

test("the HA guide's TOML files are valid configs for a gateway on PostgreSQL", () => {
  const blocks = codeBlocks("docs/high-availability.md", "toml");
  assert.ok(blocks.length > 0);
  for (const block of blocks) {
    // Both secrets from the environment file, as the guide says.
    const config = parseConfig(parse(block) as Doc, { UP_GATEWAY_XMPP_SECRET: "from-the-env", UP_GATEWAY_DATABASE_PASSWORD: "from-the-env" });
    assert.equal(config.database.backend, "postgres");
    assert.equal(config.xmpp.domain, "up.example.org");
    assert.equal(config.http.publicUrl, "https://up.example.org");
  }
});

/** Every double-quoted string literal in src/, where the log messages live. */
function sourceStrings(): Set<string> {
  const out = new Set<string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.name.endsWith(".ts")) for (const m of readFileSync(path, "utf8").matchAll(/"((?:[^"\\\n]|\\.)*)"/g)) out.add(m[1]!);
    }
  };
  walk(join(ROOT, "src"));
  return out;
}

/** Every template literal in src/ without a line break, as a pattern where each `${...}` matches anything. */
function sourceTemplates(): RegExp[] {
  const out: RegExp[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.name.endsWith(".ts")) {
        for (const m of readFileSync(path, "utf8").matchAll(/`([^`\n]*)`/g)) {
          const parts = m[1]!.split(/\$\{[^}]*\}/).map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
          // Only templates that start with words of their own: `${a}${b}` would match any line.
          if (parts.length > 1 && parts[0]!.length >= 8) out.push(new RegExp(`^${parts.join(".+")}$`));
        }
      }
    }
  };
  walk(join(ROOT, "src"));
  return out;
}

/** Whether the gateway writes `msg`: a string literal, two literals joined (a message with an optional tail), or a template literal. */
function written(msg: string, strings: Set<string>, templates: RegExp[]): boolean {
  if (strings.has(msg)) return true;
  for (let i = 8; i <= msg.length - 8; i++) if (strings.has(msg.slice(0, i)) && strings.has(msg.slice(i))) return true;
  return templates.some((t) => t.test(msg));
}

test("every log line the troubleshooting page explains is one the gateway writes", () => {
  const text = read("docs/troubleshooting.md");
  const logSection = text.slice(text.indexOf("## Reading the log"), text.indexOf("## What app servers"));
  const messages = [...logSection.matchAll(/^\| `([^`]+)` \| (?:info|warn|error|debug) \|/gm)].map((m) => m[1]!);
  assert.ok(messages.length >= 15, `found only ${messages.length} log lines`);
  const strings = sourceStrings();
  for (const msg of messages) assert.ok(strings.has(msg), `no log line ${JSON.stringify(msg)} in src/`);
});

test("every log line the HA guide explains is one the gateway writes, and every metric it names is registered", () => {
  const text = read("docs/high-availability.md");
  const logs = text.slice(text.indexOf("### Logs"), text.indexOf("### The link holder is killed"));
  const messages = [...logs.matchAll(/^\| `([^`]+)` \| (?:info|warn|error|debug) \|/gm)].map((m) => m[1]!);
  assert.ok(messages.length >= 8, `found only ${messages.length} log lines`);
  const strings = sourceStrings();
  const templates = sourceTemplates();
  for (const msg of messages) assert.ok(written(msg, strings, templates), `no log line ${JSON.stringify(msg)} in src/`);
  const registered = new Set([...read("src/metrics.ts").matchAll(/name: "(up_gateway_\w+)"/g)].map((m) => m[1]!));
  for (const [, name] of text.matchAll(/`(up_gateway_\w+)/g)) assert.ok(registered.has(name!), `no metric ${name} in src/metrics.ts`);
});

test("the metrics table matches the metrics src/metrics.ts registers, and the outcomes src/outcomes.ts defines", () => {
  const text = read("docs/troubleshooting.md");
  const documented = [...text.matchAll(/^\| `(up_gateway_\w+)(?:\{\w+\})?` \|/gm)].map((m) => m[1]!);
  const registered = [...read("src/metrics.ts").matchAll(/name: "(up_gateway_\w+)"/g)].map((m) => m[1]!);
  assert.deepEqual([...documented].sort(), [...registered].sort());
  const kinds = [...read("src/outcomes.ts").split("export type IqAnswer")[0]!.matchAll(/kind: "([\w-]+)"/g)].map((m) => m[1]!);
  const row = /^\| `up_gateway_pushes_total\{outcome\}` \|[^\n]*/m.exec(text)![0];
  for (const kind of kinds) assert.ok(row.includes(`\`${kind}\``), `outcome ${kind} not explained`);
});

test("the overview has the Mermaid diagram from app server through gateway and XMPP server to the phone", () => {
  const [diagram] = codeBlocks("docs/README.md", "mermaid");
  assert.ok(diagram, "a ```mermaid block");
  assert.match(diagram, /^flowchart LR$/m);
  const order = ["app", "proxy", "gw", "xmpp", "phone"].map((node) => diagram.indexOf(`    ${node}[`));
  assert.ok(order.every((i) => i >= 0), "every node is declared");
  for (const edge of [/app -- .* --> proxy/, /proxy -- .* --> gw/, /gw -- .* --> xmpp/, /xmpp -- .* --> phone/]) assert.match(diagram, edge);
});

/** The anchors GitHub gives a Markdown file's headings: lower case, punctuation dropped, spaces as hyphens. */
function anchors(file: string): Set<string> {
  const text = read(file).replace(/^```[\s\S]*?^```$/gm, "");
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => m[1]!.toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, "").replace(/ /g, "-")));
}

test("relative links in the docs and the README lead to files that exist, and to headings that exist", () => {
  const pages = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
  for (const page of pages) {
    for (const m of read(page).matchAll(/\]\(([^)#\s]*)(?:#([^)\s]*))?\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/.test(target)) continue;
      const file = target === "" ? page : join(dirname(page), target);
      assert.ok(existsSync(join(ROOT, file)), `${page} links to ${target}`);
      if (m[2] !== undefined && file.endsWith(".md")) assert.ok(anchors(file).has(m[2]), `${page} links to ${target}#${m[2]}: no such heading`);
    }
  }
});

test("troubleshooting starts with admin doctor and admin push, each with sample output (the long ones on their own page)", () => {
  const main = read("docs/troubleshooting.md");
  const headings = [...main.matchAll(/^## (.+)$/gm)].map((m) => m[1]!);
  assert.deepEqual(headings.slice(0, 2), ["`up-gateway-admin doctor`", "`up-gateway-admin push`"]);
  assert.match(main, /\]\(troubleshooting-samples\.md/);
  assert.match(main, /^OK\s+xmpp handshake\s+the XMPP server accepted the secret/m);
  const text = `${main}\n${read("docs/troubleshooting-samples.md")}`;
  assert.match(text, /^OK\s+xmpp handshake\s+the XMPP server accepted the secret/m);
  assert.match(text, /^FAIL\s+xmpp handshake\s+the XMPP server refused the secret/m);
  for (const result of ["delivered", "queued, kept", "gone: unknown, expired or revoked"]) assert.match(text, new RegExp(`^\\S+…\\s+\\S+\\s+\\d{3}\\s+\\d+ ms\\s+${result}`, "m"));
});
