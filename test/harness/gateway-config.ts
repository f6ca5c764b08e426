import { join } from "node:path";
import { type TomlDocument, mergeToml } from "./toml.ts";

export interface GatewayLayout {
  dir: string;
  /** Prosody's component port. */
  componentPort: number;
  domain: string;
  secret: string;
  /** HTTP port picked in advance, so public_url can name it. */
  httpPort: number;
}

/**
 * The config a test gateway starts with: generous limits so only tests that
 * lower them on purpose ever hit them, and debug logs to read after a failure.
 */
export function gatewayConfig(layout: GatewayLayout, overrides?: Record<string, Record<string, unknown>>): TomlDocument {
  const base: TomlDocument = {
    xmpp: {
      service: `xmpp://127.0.0.1:${layout.componentPort}`,
      domain: layout.domain,
      secret: layout.secret,
      allowed_domains: [],
    },
    http: {
      listen: `127.0.0.1:${layout.httpPort}`,
      public_url: `http://127.0.0.1:${layout.httpPort}`,
    },
    database: { path: join(layout.dir, "gateway.db") },
    push: {
      registration_ttl: 604_800,
      default_ttl: 86_400,
      max_ttl: 2_419_200,
      max_queue_per_registration: 1000,
    },
    limits: { endpoint_rate: 1000, endpoint_burst: 1000, max_registrations_per_jid: 1000 },
    log: { level: "debug" },
  };
  return mergeToml(base, overrides);
}
