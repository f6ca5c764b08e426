#!/usr/bin/env node
// `up-gateway-admin` (npm run admin -- ...): see cli.ts.
import { runAdmin } from "./cli.ts";

const code = await runAdmin(process.argv.slice(2), {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  now: Date.now,
  ...(process.stderr.isTTY && { tty: { write: (text: string) => process.stderr.write(text) } }),
});
process.exitCode = code;
