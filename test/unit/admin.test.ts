// The admin CLI in-process, on a real SQLite file (test/integration/admin.test.ts runs the real binary).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runAdmin } from "../../src/admin/cli.ts";
import { short, table, when } from "../../src/admin/format.ts";
import { Registry } from "../../src/registry.ts";
import { mintToken } from "../../src/tokens.ts";
import { fixture, T0 } from "./_db.ts";

const APP = "bK3sdmrbtj3bf6XA2S12b8jJUA5TT1dhPEyeoZfVSRM=";
const INST = "EtD/1XPLmoIph7W73CZ/uyv6FAnhEAXY1GySHX17vAw=";

/** Three registrations with real (random) tokens: alice's two live, bob's expired. */
async function filled() {
  const f = fixture();
  const registry = new Registry({
    store: f.sqlite.registrations,
    now: () => f.clock.t,
    mint: mintToken,
    options: { registrationTtl: 3600, allowedDomains: [], maxRegistrationsPerJid: 100 },
  });
  const a = await registry.register1("alice@example.org/phone", "pub-token-1");
  const b = await registry.register2("bob@example.org/Conversations.x", APP, INST);
  f.clock.t += 7200_000; // bob's registration (1 h) is now expired
  const c = await registry.register2("alice@example.org/tablet", APP, INST);
  assert.ok(a.ok && b.ok && c.ok);
  return { f, a: a.reg, b: b.reg, c: c.reg };
}

async function run(f: ReturnType<typeof fixture>, ...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runAdmin(["--database", f.path, ...argv], { out: (s) => out.push(s), err: (s) => err.push(s), now: () => f.clock.t });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

test("stats counts live registrations by dialect, expired ones, accounts and queued messages", async () => {
  const { f } = await filled();
  try {
    const r = await run(f, "stats", "--json");
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out), {
      registrations: { unifiedpush: 1, conversations: 1, live: 2, expired: 1, expiringWithin24h: 1 },
      accounts: 2,
      queuedMessages: 0,
    });
    const text = (await run(f, "stats")).out;
    assert.match(text, /^live registrations\s+2$/m);
    assert.match(text, /^expired, not yet purged\s+1$/m);
  } finally {
    f.close();
  }
});

test("list shows every registration with its endpoint shortened, never whole", async () => {
  const { f, a, b } = await filled();
  try {
    const r = await run(f, "list");
    assert.equal(r.code, 0);
    assert.match(r.out, /^ENDPOINT\s+DIALECT\s+JID\s+CREATED\s+RENEWED\s+EXPIRES$/m);
    assert.ok(r.out.includes(short(a.endpoint)));
    assert.ok(!r.out.includes(a.endpoint) && !r.out.includes(b.endpoint));
    assert.match(r.out, /never/);
    assert.match(r.out, /\(expired\)/);
    const rows = JSON.parse((await run(f, "list", "--json")).out);
    assert.equal(rows.length, 3);
    assert.deepEqual(rows.map((x: { endpoint: string }) => x.endpoint), [a, b].map((x) => short(x.endpoint)).concat(rows[2].endpoint));
  } finally {
    f.close();
  }
});

test("list --jid takes an account, or a full JID counted as its account", async () => {
  const { f } = await filled();
  try {
    assert.equal(JSON.parse((await run(f, "list", "--jid", "alice@example.org", "--json")).out).length, 2);
    assert.equal(JSON.parse((await run(f, "list", "--jid", "alice@example.org/whatever", "--json")).out).length, 2);
    assert.equal((await run(f, "list", "--jid", "nobody@example.org")).out, "no registrations");
  } finally {
    f.close();
  }
});

test("show finds a registration by URL, token or the shortened form list prints", async () => {
  const { f, b } = await filled();
  try {
    for (const key of [`https://up.example.org/up/${b.endpoint}`, b.endpoint, short(b.endpoint), b.endpoint.slice(0, 6)]) {
      const r = await run(f, "show", key, "--json");
      assert.equal(r.code, 0, `${key}: ${r.err}`);
      const v = JSON.parse(r.out);
      assert.equal(v.endpoint, b.endpoint);
      assert.equal(v.application, APP);
      assert.equal(v.expired, true);
    }
    assert.match((await run(f, "show", b.endpoint)).out, /^application\s+bK3s/m);
  } finally {
    f.close();
  }
});

test("show and revoke explain an unknown, ambiguous or too short endpoint with exit code 1", async () => {
  const { f } = await filled();
  try {
    let r = await run(f, "show", "ZZZZZZZZ");
    assert.equal(r.code, 1);
    assert.match(r.err, /no registration with endpoint ZZZZZZZZ/);
    r = await run(f, "revoke", "abcde");
    assert.equal(r.code, 1);
    assert.match(r.err, /at least 6 characters/);
    // the fixture's own registry mints E000…001, E000…002: alike in their first characters
    assert.ok((await f.registry.register1("dave@example.org/a", "t1")).ok && (await f.registry.register1("dave@example.org/a", "t2")).ok);
    r = await run(f, "revoke", "E00000");
    assert.equal(r.code, 1);
    assert.match(r.err, /more than one/);
    assert.equal(f.store.byBare("dave@example.org").length, 2);
    r = await run(f, "show", "not a token!");
    assert.equal(r.code, 1);
    assert.match(r.err, /not an endpoint URL or token/);
  } finally {
    f.close();
  }
});

test("revoke by endpoint deletes that registration only; the endpoint is unknown afterwards", async () => {
  const { f, a, c } = await filled();
  try {
    const r = await run(f, "revoke", a.endpoint);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `revoked ${short(a.endpoint)} (alice@example.org/phone)`);
    assert.equal(await f.registry.lookup(a.endpoint), undefined);
    assert.ok(await f.registry.lookup(c.endpoint));
  } finally {
    f.close();
  }
});

test("revoke --jid deletes every registration of the account", async () => {
  const { f, b } = await filled();
  try {
    const r = await run(f, "revoke", "--jid", "alice@example.org/phone", "--json");
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out), { revoked: 2, account: "alice@example.org" });
    assert.deepEqual(f.store.all().map((x) => x.id), [b.id]);
    const again = await run(f, "revoke", "--jid", "alice@example.org");
    assert.equal(again.code, 1);
    assert.match(again.err, /no registrations for alice@example.org/);
  } finally {
    f.close();
  }
});

test("purge-expired deletes only what has expired", async () => {
  const { f } = await filled();
  try {
    assert.equal((await run(f, "purge-expired")).out, "purged 1 expired registration(s)");
    assert.deepEqual(JSON.parse((await run(f, "purge-expired", "--json")).out), { purged: 0 });
    assert.equal(f.store.all().length, 2);
  } finally {
    f.close();
  }
});

test("usage mistakes exit 2 with the usage text", async () => {
  const { f } = await filled();
  try {
    for (const argv of [[], ["frobnicate"], ["stats", "extra"], ["show"], ["revoke"], ["revoke", "abcdef", "--jid", "a@b"], ["--nope", "stats"]]) {
      const r = await run(f, ...argv);
      assert.equal(r.code, 2, argv.join(" "));
      assert.match(r.err, /usage: up-gateway-admin/);
    }
  } finally {
    f.close();
  }
});

test("a missing database is an error that names the path, and no file is created", async () => {
  const f = fixture();
  try {
    const missing = join(f.dir, "typo.db");
    const err: string[] = [];
    const code = await runAdmin(["--database", missing, "stats"], { out: () => {}, err: (s) => err.push(s), now: Date.now });
    assert.equal(code, 1);
    assert.ok(err.join().startsWith(`no database at ${missing}`));
    assert.equal(existsSync(missing), false);
  } finally {
    f.close();
  }
});

test("a file that is not a database is an error, not a crash", async () => {
  const f = fixture();
  try {
    const junk = join(f.dir, "junk.db");
    writeFileSync(junk, "this is not sqlite, just text that is long enough to have a header".repeat(10));
    const err: string[] = [];
    const code = await runAdmin(["--database", junk, "stats"], { out: () => {}, err: (s) => err.push(s), now: Date.now });
    assert.equal(code, 1);
    assert.match(err.join(), /cannot open the database/);
  } finally {
    f.close();
  }
});

test("a bad config file exits 78 with the config error; the secret is not needed", async () => {
  const f = fixture();
  try {
    const bad = join(f.dir, "bad.toml");
    writeFileSync(bad, "[http]\nlisten = 'nowhere'\n");
    const err: string[] = [];
    assert.equal(await runAdmin(["--config", bad, "stats"], { out: () => {}, err: (s) => err.push(s), now: Date.now }), 78);
    assert.match(err.join(), /config: /);
    const good = join(f.dir, "good.toml");
    writeFileSync(good, `[xmpp]\nservice = "xmpp://127.0.0.1:5347"\ndomain = "up.example.org"\n[http]\nlisten = "127.0.0.1:0"\npublic_url = "https://up.example.org"\n[database]\npath = ${JSON.stringify(f.path)}\n`);
    const a = await f.registry.register1("carol@example.org/x", "t");
    assert.ok(a.ok);
    const out: string[] = [];
    assert.equal(await runAdmin(["--config", good, "show", a.reg.endpoint, "--json"], { out: (s) => out.push(s), err: (s) => err.push(s), now: Date.now }), 0, err.join());
    assert.equal(JSON.parse(out.join()).endpoint, `https://up.example.org/up/${a.reg.endpoint}`);
  } finally {
    f.close();
  }
});

test("tables align columns by their widest cell and times print as UTC minutes", async () => {
  assert.equal(table(["A", "BB"], [["xyz", "1"], ["", "22"]]), "A    BB\nxyz  1\n     22");
  assert.equal(when(T0), "2026-01-15 12:00Z");
  assert.equal(short("abcdefghijkl"), "abcdefgh…");
});

test("push and doctor need the gateway's config; --ttl is a whole number and only for push, --no-link only for doctor", async () => {
  const f = fixture();
  try {
    for (const argv of [["push", "abcdefgh"], ["push", "--jid", "a@b"], ["doctor"], ["push", "abcdefgh", "--ttl", "soon"], ["stats", "--ttl", "5"], ["stats", "--no-link"], ["push"]]) {
      const err: string[] = [];
      const code = await runAdmin(["--database", f.path, ...argv], { out: () => {}, err: (s) => err.push(s), now: Date.now });
      assert.equal(code, 2, argv.join(" "));
      assert.match(err.join(), /usage: up-gateway-admin/);
    }
  } finally {
    f.close();
  }
});

test("doctor takes neither --database nor --jid, and --jid goes only with list, revoke and push: usage errors, not ignored", async () => {
  const f = fixture();
  try {
    const good = join(f.dir, "good.toml");
    writeFileSync(good, `[xmpp]\nservice = "xmpp://127.0.0.1:5347"\ndomain = "up.example.org"\n[http]\nlisten = "127.0.0.1:0"\npublic_url = "https://up.example.org"\n[database]\npath = ${JSON.stringify(f.path)}\n`);
    for (const argv of [["doctor", "--database", f.path], ["doctor", "--jid", "a@b"], ["stats", "--jid", "a@b"], ["purge-expired", "--jid", "a@b"]]) {
      const err: string[] = [];
      const code = await runAdmin(["--config", good, ...argv], { out: () => {}, err: (s) => err.push(s), now: Date.now });
      assert.equal(code, 2, argv.join(" "));
      assert.match(err.join(), /usage: up-gateway-admin/);
    }
  } finally {
    f.close();
  }
});

test("push --json with no live registration says so in JSON on stdout, exit 1", async () => {
  const f = fixture();
  try {
    const good = join(f.dir, "good.toml");
    writeFileSync(good, `[xmpp]\nservice = "xmpp://127.0.0.1:5347"\ndomain = "up.example.org"\n[http]\nlisten = "127.0.0.1:0"\npublic_url = "https://up.example.org"\n[database]\npath = ${JSON.stringify(f.path)}\n`);
    const out: string[] = [];
    const err: string[] = [];
    const code = await runAdmin(["--config", good, "push", "--jid", "nobody@example.org", "--json"], { out: (s) => out.push(s), err: (s) => err.push(s), now: Date.now });
    assert.equal(code, 1);
    assert.deepEqual(JSON.parse(out.join()), { error: "no live registrations for nobody@example.org" });
    assert.deepEqual(err, []);
  } finally {
    f.close();
  }
});
