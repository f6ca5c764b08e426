// One private Prosody serving the three contenders on the same distributors:
// our gateway's component, a bare relay component, and Prosody's own
// mod_unified_push (Debian prosody-modules) as an internal component.
import { randomBytes } from "node:crypto";
import { type Distributor, connectDistributor, hash } from "../test/harness/distributor.ts";
import { parseRegistered2, registerIq2 } from "../test/harness/dialect2.ts";
import { request } from "../test/harness/iq.ts";
import { type Prosody, startProsody } from "../test/harness/prosody.ts";
import type { RelayTarget } from "./relay.ts";

export const GATEWAY = "up.localhost";
export const RELAY = "relay.localhost";
export const MOD_UP = "push.localhost";

/** internal: Prosody's default file store (one file per registration); sql: SQLite through LuaDBI. */
export type ProsodyStorage = "internal" | "sql";

const secret = (): string => randomBytes(16).toString("hex");

export function startBenchProsody(storage: ProsodyStorage): Promise<Prosody> {
  const modUp = [
    'component_module = "unified_push"',
    // The backend the issue names: a registration is a stored row, looked up per POST
    // (the default, PASETO, needs util.paseto, which 0.12 does not have).
    'unified_push_backend = "storage"',
    "unified_push_registration_ttl = 604800",
    storage === "sql" ? 'storage = "sql"\n  sql = { driver = "SQLite3", database = "unified_push.sqlite" }' : "",
  ].join("\n  ");
  return startProsody({
    components: [
      { domain: GATEWAY, secret: secret() },
      { domain: RELAY, secret: secret() },
      // The secret line is ignored for an internal component.
      { domain: MOD_UP, secret: secret(), extra: `  ${modUp}` },
    ],
  });
}

/** Users are created with prosodyctl, a few at a time: one process each is the slow part of setup. */
export async function connectDistributors(prosody: Prosody, n: number): Promise<Distributor[]> {
  const names = Array.from({ length: n }, (_, i) => `bench${i}`);
  for (let i = 0; i < n; i += 8) await Promise.all(names.slice(i, i + 8).map((u) => prosody.registerUser(u, `pw-${u}`)));
  const out: Distributor[] = [];
  for (let i = 0; i < n; i += 10) {
    out.push(...(await Promise.all(names.slice(i, i + 10).map((username) => connectDistributor(prosody, { username, component: GATEWAY })))));
  }
  return out;
}

export const appOf = (d: Distributor): { application: string; instance: string } => {
  const user = d.jid.split("@")[0]!;
  return { application: hash(user, "org.example.app"), instance: hash(user, "default") };
};

/** One Conversations-dialect registration per distributor with `component`; the endpoint URLs. */
export async function registerAll(ds: readonly Distributor[], component: string): Promise<string[]> {
  return Promise.all(
    ds.map(async (d) => parseRegistered2(await request(d.client, registerIq2(component, appOf(d)))).endpoint),
  );
}

export const relayTargets = (ds: readonly Distributor[]): RelayTarget[] => ds.map((d) => ({ jid: d.jid, ...appOf(d) }));

/**
 * Counts the pushes the distributors receive. The harness keeps every push it
 * gets (tests look at them); at thousands a second that would fill the old
 * generation of the bench's heap, so they are counted and dropped often.
 */
export function receivedCounter(ds: readonly Distributor[]): { take(): number; stop(): void } {
  let n = 0;
  const drain = (): void => {
    for (const d of ds) {
      n += d.pushes.length;
      d.pushes.length = 0;
    }
  };
  const timer = setInterval(drain, 50);
  return {
    /** Pushes received since the last take(). */
    take() {
      drain();
      const got = n;
      n = 0;
      return got;
    },
    stop: () => clearInterval(timer),
  };
}
