#!/usr/bin/env node
// Command line: `up-gateway --config FILE [--check-config]`.
import { parseArgs } from "node:util";
import { type Config, ConfigError, describeDatabase, loadConfig } from "./config.ts";
import { createLogger } from "./log.ts";
import { start } from "./app.ts";
import { checkDb, DbOpenError } from "./store/db.ts";
import { PgOpenError } from "./store/pg/open.ts";

const USAGE = "usage: up-gateway --config FILE [--check-config]";

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({ options: { config: { type: "string", short: "c" }, "check-config": { type: "boolean" }, help: { type: "boolean", short: "h" } } });
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (args.values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!args.values.config) {
    console.error(`missing --config FILE\n${USAGE}`);
    return 2;
  }
  let config;
  try {
    config = loadConfig(args.values.config, process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      return 78; // EX_CONFIG
    }
    throw err;
  }
  if (args.values["check-config"]) {
    try {
      if (config.database.backend === "sqlite") checkDb(config.database.path);
    } catch (err) {
      if (!(err instanceof DbOpenError) && !(err instanceof PgOpenError)) throw err;
      console.error(err.message);
      return 78;
    }
    console.log(JSON.stringify({ ...config, xmpp: { ...config.xmpp, secret: "********" }, database: redactedDatabase(config) }, null, 2));
    return 0;
  }
  const log = createLogger(config.log.level);
  // A promise nobody awaits (a late answer's settle, a flush) that rejects is a
  // bug: logged loudly, but it must not end the process and with it every
  // in-flight push and held copy (Node's default is to exit).
  process.on("unhandledRejection", (err) => log.error({ err }, "unhandled promise rejection (a bug): carrying on"));
  let gateway;
  try {
    gateway = await start(config, log);
  } catch (err) {
    if (!(err instanceof DbOpenError) && !(err instanceof PgOpenError)) throw err;
    // one line for the operator; the stack only helps us, at debug
    log.debug({ err: err.cause }, "database open failed");
    console.error(err.message);
    return 78; // EX_CONFIG
  }
  return new Promise((resolve) => {
    let stopping = false;
    const shutdown = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, "stopping: finishing in-flight requests");
      gateway.stop().then(
        () => resolve(0),
        (err) => {
          log.error({ err }, "unclean stop");
          resolve(1);
        },
      );
    };
    process.on("SIGTERM", () => shutdown("SIGTERM"));
    process.on("SIGINT", () => shutdown("SIGINT"));
  });
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

/** --check-config prints the config; a PostgreSQL URL without its password. */
function redactedDatabase(config: Config): Config["database"] {
  return config.database.backend === "sqlite" ? config.database : { backend: "postgres", url: describeDatabase(config.database) };
}
