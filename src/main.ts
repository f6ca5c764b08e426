#!/usr/bin/env node
// Command line: `up-gateway --config FILE [--check-config]`.
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "./config.ts";
import { createLogger } from "./log.ts";
import { start } from "./app.ts";
import { SchemaError } from "./store/schema.ts";

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
    console.log(JSON.stringify({ ...config, xmpp: { ...config.xmpp, secret: "********" } }, null, 2));
    return 0;
  }
  const log = createLogger(config.log.level);
  let gateway;
  try {
    gateway = await start(config, log);
  } catch (err) {
    if (!(err instanceof SchemaError)) throw err;
    console.error(`database.path ${config.database.path}: ${err.message}`);
    return 78; // EX_CONFIG: restarting cannot help, so systemd's RestartPreventExitStatus=78 holds it
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
