// `up-gateway-admin`: the operator's view of the gateway's database, on the
// same config file as the gateway. Exit codes: 0 done, 1 the command could
// not be carried out (unknown registration, no database, a schema this
// version does not know, nothing delivered, a doctor FAIL), 2 usage, 78 config
// (doctor too, when the config does not load).
// Only `migrate` changes the schema; the others open the database at the
// schema they find, older ones included, and refuse only a newer one.
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig, SECRET_ENV } from "../config.ts";
import { openDb, type Db } from "../store/db.ts";
import { migrateAlone, needsNewerSchema, requireKnownSchema, SchemaError } from "../store/schema.ts";
import { queueCounts } from "./queue-counts.ts";
import { RegistrationStore } from "../store/registrations.ts";
import * as cmd from "./commands.ts";
import { pairs, table, when } from "./format.ts";
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

ENDPOINT is an endpoint URL, its token, or at least ${cmd.MIN_PREFIX} characters of the token as 'list' shows it.`;

export interface AdminIo {
  out: (text: string) => void;
  err: (text: string) => void;
  now: () => number;
}

const EXIT = { ok: 0, failed: 1, usage: 2, config: 78 } as const;
const COMMANDS = ["stats", "list", "show", "revoke", "purge-expired", "push", "doctor", "migrate"];
const TAKES_ARG = ["show", "revoke", "push"];

/** Database commands finish synchronously; push and doctor talk to the network. */
export function runAdmin(argv: readonly string[], io: AdminIo): number | Promise<number> {
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
  if (command === "doctor" && o.database !== undefined) return usage(io, "doctor reads [database] path from --config; --database does not go with it");
  if (o.jid !== undefined && !["list", "revoke", "push"].includes(command)) return usage(io, `--jid does not go with ${command}`);
  if (command === "doctor") return runDoctor(o.config!, { json: o.json === true, noLink: o["no-link"] === true, standIn: o["stand-in"] === true }, io);

  let path: string, publicUrl: string | undefined, listen: { host: string; port: number } | undefined;
  if (o.config !== undefined) {
    try {
      // None of these commands logs in to the XMPP server, so a secret kept only in the
      // service's environment is not needed (doctor loads the config itself, with the environment).
      const config = loadConfig(o.config, { [SECRET_ENV]: "unused-by-admin" });
      if (o.database === undefined && config.database.backend !== "sqlite") {
        io.err("the admin tool does not yet open a PostgreSQL store ([database] url); give --database PATH for a SQLite file");
        return EXIT.config;
      }
      path = o.database ?? (config.database as { path: string }).path;
      publicUrl = config.http.publicUrl;
      listen = config.http;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      io.err(err.message);
      return EXIT.config;
    }
  } else if (o.database !== undefined) path = o.database;
  else return usage(io, "give --config FILE (the gateway's) or --database PATH");

  // openDb would create a missing file: an empty database would only hide a wrong path.
  if (!existsSync(path)) {
    io.err(`no database at ${path}: check database.path (the gateway creates the file when it first starts)`);
    return EXIT.failed;
  }
  if (command === "migrate") return migrateCommand(path, io);
  let db: Db;
  try {
    db = openDb(path, { migrate: false });
  } catch (err) {
    io.err(`cannot open the database at ${path}: ${(err as Error).message}`);
    return EXIT.failed;
  }
  let found: number | undefined;
  try {
    found = requireKnownSchema(db);
    const deps: cmd.AdminDeps = { store: new RegistrationStore(db), queue: queueCounts(db, found), now: io.now, ...(publicUrl && { publicUrl }) };
    if (command !== "push") return dispatch(command, arg, o, deps, io);
    // runPush reads its targets before it returns: the database closes before the first request.
    return runPush(deps, { key: arg, jid: o.jid, text, ttl, listen: listen!, json: o.json === true }, io);
  } catch (err) {
    if (err instanceof SchemaError) {
      io.err(`database ${path}: ${err.message}`);
      return EXIT.failed;
    }
    // An older schema lacks what a later migration adds: say so, not a SqliteError's stack.
    if (found !== undefined && /^no such (table|column)/.test((err as Error).message)) {
      io.err(`database ${path}: ${needsNewerSchema(found)} (${(err as Error).message})`);
      return EXIT.failed;
    }
    throw err;
  } finally {
    db.close();
  }
}

function migrateCommand(path: string, io: AdminIo): number {
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

function dispatch(command: string, arg: string | undefined, o: { json?: boolean; jid?: string }, d: cmd.AdminDeps, io: AdminIo): number {
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
      return print(cmd.stats(d), statsText);
    case "list":
      return print(cmd.list(d, o.jid), (rows) => (rows.length === 0 ? "no registrations" : listText(rows)));
    case "show":
      return done(cmd.show(d, arg!), (v) => pairs(Object.entries(v).map(([k, x]) => [k, x === null ? "never" : String(x)])));
    case "revoke":
      if (o.jid !== undefined) return done(cmd.revokeJid(d, o.jid), (v) => `revoked ${v.revoked} registration(s) of ${v.account}`);
      return done(cmd.revoke(d, arg!), (v) => `revoked ${v.endpoint} (${v.jid})`);
    case "purge-expired":
      return print(cmd.purgeExpired(d), (v) => `purged ${v.purged} expired registration(s)`);
    default:
      throw new Error(`command ${command} has no case`); // COMMANDS and this switch disagree: a bug
  }
}

function statsText(s: ReturnType<typeof cmd.stats>): string {
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
