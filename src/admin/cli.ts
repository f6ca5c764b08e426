// `up-gateway-admin`: the operator's view of the gateway's database, on the
// same config file as the gateway. Exit codes: 0 done, 1 the command could
// not be carried out (unknown registration, no database, a schema this
// version does not know, nothing delivered, a doctor FAIL), 2 usage, 78 config
// (doctor too, when the config does not load).
// Only `migrate` (and `migrate-store`, on its PostgreSQL target) changes the
// schema; the others open the database at the schema they find, older ones
// included, and refuse only a newer one. Both backends, one code path
// (src/store/admin.ts): [database] path is SQLite, [database] url PostgreSQL.
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { ConfigError, DB_PASSWORD_ENV, loadConfig, SECRET_ENV, type Config } from "../config.ts";
import { AdminOpenError, type AdminStore } from "../store/admin.ts";
import { openAdminStore } from "../store/admin-open.ts";
import { pgMigrateAlone } from "../store/pg/admin.ts";
import { migrateAlone } from "../store/schema.ts";
import * as cmd from "./commands.ts";
import { pairs, table, when } from "./format.ts";
import { runMigrateStore } from "./migrate-store.ts";
import { runDoctor, runPush } from "./operate.ts";

export const USAGE = `usage: up-gateway-admin (--config FILE | --database PATH) [--json] COMMAND

commands:
  stats                         registrations by dialect, accounts, expiry, queued messages
  list [--jid JID]              registrations, all or one account's (endpoint tokens shortened)
  show ENDPOINT                 one registration in full
  revoke ENDPOINT | --jid JID   delete registrations; their endpoints answer 404 from then on
  purge-expired                 delete registrations past their expiry
  push ENDPOINT [TEXT]          send a test notification through the running gateway ([http] listen)
  push --jid JID [TEXT]           ... to every live registration of the account; [--ttl SECONDS]
  doctor [--no-link] [--stand-in]
                                check config, database, XMPP link, TTLs and public_url (needs --config);
                                --no-link: no component handshake (a gateway elsewhere holds the link);
                                --stand-in: with the gateway stopped, answer public_url's check on
                                [http] listen (a gateway starting meanwhile would find the port taken)
  migrate                       bring the database schema up to date; refuses while a gateway has it open
                                (PostgreSQL: while any gateway is connected to the database)
  migrate-store --from-sqlite FILE
                                copy a SQLite gateway's registrations and queued messages into the
                                PostgreSQL database of --config ([database] url), keeping every endpoint;
                                stop the gateway first; refuses a target that holds any registration

ENDPOINT is an endpoint URL, its token, or at least ${cmd.MIN_PREFIX} characters of the token as 'list' shows it.
The database is the config's [database]: path (SQLite) or url (PostgreSQL), the same commands and output
on both; --database PATH names a SQLite file instead.`;

export interface AdminIo {
  out: (text: string) => void;
  err: (text: string) => void;
  now: () => number;
  /** Whether err is a terminal (migrate-store draws a progress bar there), and how to write without a newline. */
  tty?: { write: (text: string) => void };
}

const EXIT = { ok: 0, failed: 1, usage: 2, config: 78 } as const;
const COMMANDS = ["stats", "list", "show", "revoke", "purge-expired", "push", "doctor", "migrate", "migrate-store"];
const TAKES_ARG = ["show", "revoke", "push"];

export async function runAdmin(argv: readonly string[], io: AdminIo): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        config: { type: "string", short: "c" },
        database: { type: "string", short: "d" },
        json: { type: "boolean" },
        jid: { type: "string" },
        ttl: { type: "string" },
        "no-link": { type: "boolean" },
        "stand-in": { type: "boolean" },
        "from-sqlite": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    return usage(io, (err as Error).message);
  }
  const { values: o, positionals } = args;
  // push takes its TEXT after the ENDPOINT (or alone with --jid)
  const [command, arg, ...extra] = positionals[0] === "push" && o.jid !== undefined ? ["push", undefined, ...positionals.slice(1)] : positionals;
  const text = command === "push" ? extra.shift() : undefined;
  if (o.help) {
    io.out(USAGE);
    return EXIT.ok;
  }
  if (!command) return usage(io, "missing COMMAND");
  if (!COMMANDS.includes(command)) return usage(io, `unknown command ${JSON.stringify(command)}`);
  if (extra.length > 0 || (arg !== undefined && !TAKES_ARG.includes(command))) return usage(io, `unexpected ${JSON.stringify(extra[0] ?? arg)}`);
  if (command === "show" && arg === undefined) return usage(io, "show needs an ENDPOINT");
  if (command === "revoke" && (arg === undefined) === (o.jid === undefined)) return usage(io, "revoke needs an ENDPOINT or --jid JID (one of them)");
  if (command === "push" && arg === undefined && o.jid === undefined) return usage(io, "push needs an ENDPOINT or --jid JID");
  if (o.ttl !== undefined && command !== "push") return usage(io, "--ttl goes with push");
  const ttl = o.ttl === undefined ? undefined : Number(o.ttl);
  if (ttl !== undefined && !(Number.isInteger(ttl) && ttl >= 0)) return usage(io, "--ttl must be a whole number of seconds");
  if ((command === "push" || command === "doctor") && o.config === undefined) return usage(io, `${command} needs --config FILE: it talks to the gateway at its [http] listen`);
  if (o["no-link"] && command !== "doctor") return usage(io, "--no-link goes with doctor");
  if (o["stand-in"] && command !== "doctor") return usage(io, "--stand-in goes with doctor");
  if (command === "doctor" && o.database !== undefined) return usage(io, "doctor reads [database] (path or url) from --config; --database does not go with it");
  if (o.jid !== undefined && !["list", "revoke", "push"].includes(command)) return usage(io, `--jid does not go with ${command}`);
  if (o["from-sqlite"] !== undefined && command !== "migrate-store") return usage(io, "--from-sqlite goes with migrate-store");
  if (command === "migrate-store") {
    if (o["from-sqlite"] === undefined || o.config === undefined) return usage(io, "migrate-store needs --from-sqlite FILE (the SQLite gateway's database) and --config FILE (naming [database] url)");
    if (o.database !== undefined) return usage(io, "migrate-store copies from --from-sqlite FILE into --config's [database] url; --database does not go with it");
  }
  if (command === "doctor") return runDoctor(o.config!, { json: o.json === true, noLink: o["no-link"] === true, standIn: o["stand-in"] === true }, io);

  let database: Config["database"], publicUrl: string | undefined, listen: { host: string; port: number } | undefined;
  if (o.config !== undefined) {
    try {
      const config = loadAdminConfig(o.config);
      database = o.database === undefined ? config.database : { backend: "sqlite", path: o.database };
      publicUrl = config.http.publicUrl;
      listen = config.http;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      io.err(err.message);
      return EXIT.config;
    }
  } else if (o.database !== undefined) database = { backend: "sqlite", path: o.database };
  else return usage(io, "give --config FILE (the gateway's) or --database PATH");

  if (command === "migrate-store") {
    if (database.backend !== "postgres") {
      return usage(io, `migrate-store copies into PostgreSQL: ${o.config} names [database] path (SQLite); give the config whose [database] url is the target`);
    }
    return runMigrateStore(o["from-sqlite"]!, database.url, { json: o.json === true }, io);
  }
  if (command === "migrate") return migrateCommand(database, io);
  let store: AdminStore;
  try {
    store = await openAdminStore(database);
  } catch (err) {
    if (!(err instanceof AdminOpenError)) throw err;
    io.err(err.message);
    return EXIT.failed;
  }
  let closed = false;
  const close = async (): Promise<void> => {
    if (!closed) await store.close();
    closed = true;
  };
  try {
    const deps: cmd.AdminDeps = { store: store.registrations, queue: store.queue, now: io.now, ...(publicUrl && { publicUrl }) };
    if (command !== "push") return await dispatch(command, arg, o, deps, io);
    // runPush reads its targets, then the database closes before the first request.
    return await runPush(deps, { key: arg, jid: o.jid, text, ttl, listen: listen!, json: o.json === true }, io, close);
  } catch (err) {
    const older = store.olderSchema(err);
    if (older === undefined) throw err;
    io.err(`database ${store.where}: ${older}`);
    return EXIT.failed;
  } finally {
    await close();
  }
}

/**
 * None of these commands logs in to the XMPP server, so a secret kept only in the
 * service's environment is not needed (doctor loads the config itself, with the
 * environment); the database password may live there, as for the gateway.
 */
function loadAdminConfig(file: string): Config {
  return loadConfig(file, { [SECRET_ENV]: "unused-by-admin", [DB_PASSWORD_ENV]: process.env[DB_PASSWORD_ENV] });
}

async function migrateCommand(database: Config["database"], io: AdminIo): Promise<number> {
  if (database.backend === "postgres") {
    const r = await pgMigrateAlone(database.url);
    if (!r.ok) {
      io.err(`not migrated: ${r.error}`);
      return EXIT.failed;
    }
    const { from, to } = r.migrated;
    io.out(from === to ? `schema already at version ${to}` : `schema migrated from version ${from} to ${to}`);
    return EXIT.ok;
  }
  const { path } = database;
  // migrateAlone would create a missing file: an empty database would only hide a wrong path.
  if (!existsSync(path)) {
    io.err(`no database at ${path}: check database.path (the gateway creates the file when it first starts)`);
    return EXIT.failed;
  }
  let r;
  try {
    r = migrateAlone(path);
  } catch (err) {
    io.err(`not migrated: ${path}: ${(err as Error).message}`);
    return EXIT.failed;
  }
  if (!r.ok) {
    io.err(`not migrated: ${r.error}`);
    return EXIT.failed;
  }
  io.out(r.from === r.to ? `schema already at version ${r.to}` : `schema migrated from version ${r.from} to ${r.to}`);
  return EXIT.ok;
}

async function dispatch(command: string, arg: string | undefined, o: { json?: boolean; jid?: string }, d: cmd.AdminDeps, io: AdminIo): Promise<number> {
  const print = <T>(value: T, text: (v: T) => string): number => {
    io.out(o.json ? JSON.stringify(value, null, 2) : text(value));
    return EXIT.ok;
  };
  const done = <T>(r: cmd.Result<T>, text: (v: T) => string): number => {
    if (r.ok) return print(r.value, text);
    io.err(r.error);
    return EXIT.failed;
  };
  switch (command) {
    case "stats":
      return print(await cmd.stats(d), statsText);
    case "list":
      return print(await cmd.list(d, o.jid), (rows) => (rows.length === 0 ? "no registrations" : listText(rows)));
    case "show":
      return done(await cmd.show(d, arg!), (v) => pairs(Object.entries(v).map(([k, x]) => [k, x === null ? "never" : String(x)])));
    case "revoke":
      if (o.jid !== undefined) return done(await cmd.revokeJid(d, o.jid), (v) => `revoked ${v.revoked} registration(s) of ${v.account}`);
      return done(await cmd.revoke(d, arg!), (v) => `revoked ${v.endpoint} (${v.jid})`);
    case "purge-expired":
      return print(await cmd.purgeExpired(d), (v) => `purged ${v.purged} expired registration(s)`);
    default:
      throw new Error(`command ${command} has no case`); // COMMANDS and this switch disagree: a bug
  }
}

function statsText(s: Awaited<ReturnType<typeof cmd.stats>>): string {
  return pairs([
    ["live registrations", s.registrations.live],
    ["  unifiedpush (dialect 1)", s.registrations.unifiedpush ?? 0],
    ["  conversations (dialect 2)", s.registrations.conversations ?? 0],
    ["expired, not yet purged", s.registrations.expired],
    ["expiring within 24 h", s.registrations.expiringWithin24h],
    ["accounts", s.accounts],
    ["queued messages", s.queuedMessages],
  ]);
}

function listText(rows: readonly cmd.Listed[]): string {
  const t = (iso: string): string => when(Date.parse(iso));
  return table(
    ["ENDPOINT", "DIALECT", "JID", "CREATED", "RENEWED", "EXPIRES"],
    rows.map((r) => [r.endpoint, r.dialect, r.jid, t(r.created), t(r.renewed), r.expires === null ? "never" : `${t(r.expires)}${r.expired ? " (expired)" : ""}`]),
  );
}

function usage(io: AdminIo, problem: string): number {
  io.err(`${problem}\n\n${USAGE}`);
  return EXIT.usage;
}
