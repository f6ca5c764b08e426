// One pino root logger; every module gets a child with its own `module` field.
import { pino, type Logger } from "pino";
import type { LogLevel } from "./config.ts";

export type { Logger };

/** Fields that may carry a capability or a secret, masked wherever they appear. */
const REDACT = ["secret", "password", "token", "endpoint", "url", "payload", "*.secret", "*.token", "*.endpoint", "*.payload"];

export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  return pino({ level, base: undefined, redact: { paths: REDACT, censor: "[redacted]" } }, destination);
}
