// `up-gateway-admin doctor`: every check an operator would otherwise do by
// hand, in the order a broken setup fails, each with what to do about it.
// Safe beside a running gateway: it writes nothing to the database (on
// PostgreSQL its probe write is rolled back), and leaves
// the component link to the gateway (xmpp.ts says why).
import type { LookupFunction } from "node:net";
import { ConfigError, loadConfig } from "../../config.ts";
import { table } from "../format.ts";
import { localBase, runningGateway, type Running } from "../local.ts";
import { fail, ok, warn, type Check } from "./check.ts";
import { databaseChecks, type DiskLimits } from "./database.ts";
import { publicUrlReach } from "./http.ts";
import { postgresChecks } from "./postgres.ts";
import { configRules, publicUrlScheme } from "./rules.ts";
import { xmppChecks } from "./xmpp.ts";

export interface DoctorDeps {
  env: NodeJS.ProcessEnv; // the secret may live in UP_GATEWAY_XMPP_SECRET, as for the gateway
  lookup?: LookupFunction; // where public_url's host resolves (default: DNS)
  noLink?: boolean; // never handshake: another machine's gateway may hold the link
  standIn?: boolean; // with no gateway running, answer public_url's check on [http] listen (http.ts)
  disk?: DiskLimits; // free-space thresholds (tests on a small disk)
}

export async function doctor(configFile: string, d: DoctorDeps): Promise<Check[]> {
  let config;
  try {
    config = loadConfig(configFile, d.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return [fail("config", `${err.message} (nothing else can be checked until the config loads)`)];
  }
  const base = localBase(config.http.host, config.http.port);
  const gateway = await runningGateway(base);
  return [
    ok("config", `${configFile} is valid`),
    gatewayLine(base, gateway),
    ...(config.database.backend === "sqlite" ? databaseChecks(config.database.path, d.disk) : await postgresChecks(config.database.url)),
    ...(await xmppChecks(config.xmpp, gateway, d.noLink === true)),
    ...configRules(config),
    publicUrlScheme(config.http.publicUrl),
    await publicUrlReach(config.http.publicUrl, config.http, gateway, { standIn: d.standIn === true, lookup: d.lookup }),
  ];
}

function gatewayLine(base: string, g: Running): Check {
  const name = "gateway";
  switch (g.kind) {
    case "gateway":
      // A gateway without its link answers 503 to every push: that is the fault the user sees.
      return g.online
        ? ok(name, `a gateway answers at ${base} ([http] listen), component link online`)
        : fail(name, "the gateway runs but its component link is down: see xmpp handshake below and its log");
    case "unsure":
      return warn(name, `something accepts connections at ${base} ([http] listen) but did not answer as a gateway (${g.why}): a gateway may be running, so the doctor makes no handshake; if it is one, see its log`);
    case "none":
      return warn(name, `no gateway answers at ${base} ([http] listen): start it (systemctl start up-gateway); the checks below connect by themselves`);
  }
}

export const failed = (checks: readonly Check[]): boolean => checks.some((c) => c.level === "FAIL");
/** The config did not load: the one check there is, and the exit status is EX_CONFIG. */
export const configFailed = (checks: readonly Check[]): boolean => checks.some((c) => c.name === "config" && c.level === "FAIL");

export function doctorText(checks: readonly Check[]): string {
  const counts = ["OK", "WARN", "FAIL", "SKIP"].map((l) => [l, checks.filter((c) => c.level === l).length] as const).filter(([, n]) => n > 0);
  const lines = table(["", "", ""], checks.map((c) => [c.level, c.name, c.message])).split("\n").slice(1);
  return [...lines, "", counts.map(([l, n]) => `${n} ${l}`).join(", ")].join("\n");
}
