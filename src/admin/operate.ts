// The admin commands that talk to the network rather than only the database:
// `push` (through the running gateway) and `doctor`.
import { bareJid } from "../jid.ts";
import { isTokenShaped } from "../tokens.ts";
import type { AdminIo } from "./cli.ts";
import { find, type AdminDeps } from "./commands.ts";
import { configFailed, doctor, doctorText, failed } from "./doctor/index.ts";
import { localBase } from "./local.ts";
import { anyTaken, pushAll, sentText, type Target } from "./push.ts";

const PUSH_TIMEOUT_MS = 15_000; // above the gateway's own answer time, so its answer is what we report

export interface PushArgs {
  key?: string; // ENDPOINT as `show` takes it
  jid?: string;
  text?: string;
  ttl?: number;
  listen: { host: string; port: number };
  json: boolean;
}

/** Reads the targets from the database (read-only), then pushes to each; `loaded` is called in between (the CLI closes the database there). */
export async function runPush(d: AdminDeps, a: PushArgs, io: AdminIo, loaded: () => Promise<void> = async () => {}): Promise<number> {
  let targets: Target[] | string;
  try {
    targets = await pushTargets(d, a);
  } finally {
    await loaded();
  }
  if (typeof targets === "string") {
    // --json: a script reads stdout, so the reason is JSON there too
    if (a.json) io.out(JSON.stringify({ error: targets }, null, 2));
    else io.err(targets);
    return 1;
  }
  const text = a.text ?? `Test notification from up-gateway-admin, ${new Date(d.now()).toISOString()}`;
  const base = localBase(a.listen.host, a.listen.port);
  const sent = await pushAll(targets, { base, text, ttl: a.ttl, timeoutMs: PUSH_TIMEOUT_MS });
  io.out(a.json ? JSON.stringify(sent, null, 2) : sentText(sent));
  return anyTaken(sent) ? 0 : 1;
}

async function pushTargets(d: AdminDeps, a: PushArgs): Promise<Target[] | string> {
  const now = d.now();
  if (a.jid !== undefined) {
    const account = bareJid(a.jid);
    const live = (await d.store.byBare(account)).filter((r) => r.expires_at === null || r.expires_at > now);
    return live.length > 0 ? live.map((r) => ({ token: r.endpoint, jid: r.jid })) : `no live registrations for ${account}`;
  }
  const found = await find(d, a.key!);
  if (found.ok) return [{ token: found.value.endpoint, jid: found.value.jid }];
  // A whole endpoint that is not (or no longer) in the database still goes to
  // the gateway: its answer is what an app server would get.
  const token = a.key!.trim().split("/up/").pop()!;
  return isTokenShaped(token) ? [{ token, jid: null }] : found.error;
}

export async function runDoctor(configFile: string, o: { json: boolean; noLink: boolean; standIn: boolean }, io: AdminIo): Promise<number> {
  const checks = await doctor(configFile, { env: process.env, noLink: o.noLink, standIn: o.standIn });
  io.out(o.json ? JSON.stringify(checks, null, 2) : doctorText(checks));
  if (configFailed(checks)) return 78; // as every command on a bad config (cli.ts)
  return failed(checks) ? 1 : 0;
}
