// `up-gateway-admin migrate-store --from-sqlite FILE --config PG_CONFIG`:
// moving a SQLite gateway onto PostgreSQL (src/store/migrate-store.ts does the
// copy). Progress on stderr: a bar on a terminal, a plain line per batch
// otherwise (a log, a pipe); the summary on stdout (JSON with --json).
import { redactDbUrl } from "../config.ts";
import { AdminOpenError } from "../store/admin.ts";
import { copySqliteToPg, type CopyProgress, type CopySummary } from "../store/migrate-store.ts";
import type { AdminIo } from "./cli.ts";
import { pairs } from "./format.ts";

const BAR = 30;

/** Exit status 0 when copied, 1 when refused (nothing copied then). */
export async function runMigrateStore(from: string, url: string, o: { json: boolean }, io: AdminIo): Promise<number> {
  io.err(`copying ${from} into ${redactDbUrl(url)} (the SQLite gateway must be stopped: the file is held exclusively meanwhile)`);
  let summary: CopySummary;
  try {
    summary = await copySqliteToPg({ from, url, now: io.now(), progress: progress(io) });
  } catch (err) {
    if (!(err instanceof AdminOpenError)) throw err;
    io.err(`not copied: ${err.message}`);
    return 1;
  }
  io.out(o.json ? JSON.stringify(summary, null, 2) : summaryText(summary));
  return 0;
}

function progress(io: AdminIo): (p: CopyProgress) => void {
  const tty = io.tty;
  return (p) => {
    const label = p.phase === "registrations" ? "registrations" : "queued messages";
    if (!tty) {
      if (p.done > 0 || p.total === 0) io.err(`${label}: ${p.done}/${p.total}`);
      return;
    }
    const full = p.total === 0 ? BAR : Math.round((p.done / p.total) * BAR);
    const pct = p.total === 0 ? 100 : Math.floor((p.done / p.total) * 100);
    tty.write(`\r${label.padEnd(15)} [${"#".repeat(full)}${"-".repeat(BAR - full)}] ${String(pct).padStart(3)}% ${p.done}/${p.total}`);
    if (p.done === p.total) tty.write("\n");
  };
}

function summaryText(s: CopySummary): string {
  return [
    `copied ${s.from} into ${s.to}`,
    pairs([
      ["registrations copied", s.registrations],
      ["queued messages copied", s.messages],
      ["expired, skipped", `${s.skipped.registrations} registration(s), ${s.skipped.messages} queued message(s)`],
      ["target schema", s.schema.from === s.schema.to ? `version ${s.schema.to}` : `migrated from version ${s.schema.from} to ${s.schema.to}`],
      ["next ids", `registration ${s.next.registration}, message ${s.next.message}`],
      ["time", `${(s.ms / 1000).toFixed(1)} s`],
    ]),
    "",
    "Endpoints are unchanged. Next: set [database] url in the gateway's config (instead of path) and start the gateway.",
  ].join("\n");
}
