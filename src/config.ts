// Reads the TOML config once, validates every key and returns a frozen object.
// Nothing else in the gateway reads TOML or process.env.
import { readFileSync } from "node:fs";
import { parse } from "smol-toml";
import { splitHostPort } from "./hostport.ts";

/** Defaults, with their units and why. */
export const DEFAULTS = Object.freeze({
  allowedDomains: [] as string[], // empty: anyone may register
  pingInterval: 30, // s: notice a dead component link within a minute
  reconnectMax: 60, // s: ceiling of the reconnect backoff
  registrationTtl: 7 * 86400, // s: Conversations renews below 24 h left, so well above that
  minRegistrationTtl: 2 * 86400, // s: below this, Conversations' hourly "less than 24 h left" check renews every hour
  defaultTtl: 86400, // s: kept when a sender gives no TTL header
  maxTtl: 28 * 86400, // s: upper bound of what we keep
  maxQueuePerRegistration: 1000, // messages
  pushTimeout: 10, // s: wait for a distributor's push IQ result
  answerWithin: 2, // s: every POST is answered by then (common-proxies gives allow-listed hosts 2 s)
  maxInflight: 4096, // push IQs awaiting an answer before we answer 503
  queueSweepInterval: 30, // s: expired queued messages go, and queues of silent distributors are retried, this often
  endpointRate: 10, // tokens/s per endpoint
  endpointBurst: 100, // bucket size per endpoint
  maxRegistrationsPerJid: 100, // per bare JID
  logLevel: "info",
  requestTimeout: 30, // s: a request's headers and body must have arrived by then (408); Node's own default is 300
});

export const SECRET_ENV = "UP_GATEWAY_XMPP_SECRET";
/** The PostgreSQL password, when it should not sit in the config file: it replaces the URL's. */
export const DB_PASSWORD_ENV = "UP_GATEWAY_DATABASE_PASSWORD";
const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  readonly xmpp: {
    readonly service: string; // xmpp://host:port of the server's component listener
    readonly domain: string; // the component JID
    readonly secret: string;
    readonly allowedDomains: readonly string[];
    readonly pingInterval: number; // s
    readonly reconnectMax: number; // s
  };
  readonly http: { readonly host: string; readonly port: number; readonly publicUrl: string; readonly requestTimeout: number /* s */ };
  /** Exactly one backend: a SQLite file (the embedded default) or a PostgreSQL URL (several gateways, docs/high-availability.md). */
  readonly database: { readonly backend: "sqlite"; readonly path: string } | { readonly backend: "postgres"; readonly url: string };
  readonly push: {
    readonly registrationTtl: number; // s
    readonly defaultTtl: number; // s
    readonly maxTtl: number; // s
    readonly maxQueuePerRegistration: number;
    readonly timeout: number; // s
    readonly answerWithin: number; // s, may be fractional
    readonly maxInflight: number;
    readonly queueSweepInterval: number; // s
  };
  readonly limits: {
    readonly endpointRate: number; // per s
    readonly endpointBurst: number;
    readonly maxRegistrationsPerJid: number;
  };
  readonly log: { readonly level: LogLevel };
  /**
   * Several gateways on one PostgreSQL database (docs/high-availability.md):
   * `leader`, only the elected link holder connects the component (Prosody,
   * which takes one connection); `all`, every gateway connects (ejabberd,
   * which balances several).
   */
  readonly cluster: { readonly links: "leader" | "all" };
}

export class ConfigError extends Error {
  constructor(key: string, message: string) {
    super(`config: ${key}: ${message}`);
    this.name = "ConfigError";
  }
}

type Table = Record<string, unknown>;

/** Reads and validates FILE; `env` supplies the secret override. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = {}): Config {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(file, `cannot read the file (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  let doc: Table;
  try {
    doc = parse(text) as Table;
  } catch (err) {
    throw new ConfigError(file, `not valid TOML: ${(err as Error).message.split("\n")[0]}`);
  }
  return parseConfig(doc, env);
}

/** Pure validation of an already parsed TOML document. */
export function parseConfig(doc: Table, env: NodeJS.ProcessEnv = {}): Config {
  const known: Record<string, readonly string[]> = {
    xmpp: ["service", "domain", "secret", "allowed_domains", "ping_interval", "reconnect_max"],
    http: ["listen", "public_url", "request_timeout"],
    database: ["path", "url"],
    push: ["registration_ttl", "default_ttl", "max_ttl", "max_queue_per_registration", "timeout", "answer_within", "max_inflight", "queue_sweep_interval"],
    limits: ["endpoint_rate", "endpoint_burst", "max_registrations_per_jid"],
    log: ["level"],
    cluster: ["links"],
  };
  for (const [section, value] of Object.entries(doc)) {
    if (!(section in known)) throw new ConfigError(section, `unknown section; allowed: ${Object.keys(known).join(", ")}`);
    if (!isTable(value)) throw new ConfigError(section, "must be a table ([section])");
    for (const key of Object.keys(value)) {
      if (!known[section]!.includes(key)) {
        throw new ConfigError(`${section}.${key}`, `unknown key; allowed: ${known[section]!.join(", ")}`);
      }
    }
  }
  const t = (name: string): Table => (isTable(doc[name]) ? (doc[name] as Table) : {});
  const x = t("xmpp"), h = t("http"), d = t("database"), p = t("push"), l = t("limits"), g = t("log"), c = t("cluster");

  const secret = env[SECRET_ENV] !== undefined && env[SECRET_ENV] !== "" ? env[SECRET_ENV]! : x.secret;
  const listen = parseListen(requireString("http.listen", h.listen));
  const push = {
    registrationTtl: registrationTtl(p.registration_ttl),
    defaultTtl: int("push.default_ttl", p.default_ttl, DEFAULTS.defaultTtl, 0),
    maxTtl: int("push.max_ttl", p.max_ttl, DEFAULTS.maxTtl, 0),
    maxQueuePerRegistration: int("push.max_queue_per_registration", p.max_queue_per_registration, DEFAULTS.maxQueuePerRegistration, 0),
    timeout: int("push.timeout", p.timeout, DEFAULTS.pushTimeout, 1, 300),
    // Below 0.5 s a distributor on a mobile link rarely answers in time, so nearly
    // every push is stored; above 5 s Mastodon's and common-proxies' clients give up first.
    answerWithin: num("push.answer_within", p.answer_within, DEFAULTS.answerWithin, 0.5, 5),
    maxInflight: int("push.max_inflight", p.max_inflight, DEFAULTS.maxInflight, 1),
    queueSweepInterval: int("push.queue_sweep_interval", p.queue_sweep_interval, DEFAULTS.queueSweepInterval, 1, 3600),
  };
  if (push.defaultTtl > push.maxTtl) throw new ConfigError("push.default_ttl", `must not exceed push.max_ttl (${push.maxTtl})`);
  // The IQ runs on after the POST's answer: a timeout before answer_within would answer every slow push 503 or queued, never delivered.
  if (push.timeout < push.answerWithin) {
    throw new ConfigError("push.timeout", `must be at least push.answer_within (${push.answerWithin} s): the push IQ keeps running after the POST is answered, so it cannot end before it; raise push.timeout or lower push.answer_within`);
  }

  return deepFreeze({
    xmpp: {
      service: parseService(requireString("xmpp.service", x.service)),
      domain: parseDomain("xmpp.domain", requireString("xmpp.domain", x.domain)),
      secret: requireSecret(secret),
      allowedDomains: domainList("xmpp.allowed_domains", x.allowed_domains),
      pingInterval: int("xmpp.ping_interval", x.ping_interval, DEFAULTS.pingInterval, 1, 3600),
      reconnectMax: int("xmpp.reconnect_max", x.reconnect_max, DEFAULTS.reconnectMax, 1, 3600),
    },
    http: {
      ...listen,
      publicUrl: parsePublicUrl(requireString("http.public_url", h.public_url)),
      requestTimeout: int("http.request_timeout", h.request_timeout, DEFAULTS.requestTimeout, 1, 3600),
    },
    database: database(d, env),
    push,
    limits: {
      endpointRate: num("limits.endpoint_rate", l.endpoint_rate, DEFAULTS.endpointRate, 0),
      endpointBurst: int("limits.endpoint_burst", l.endpoint_burst, DEFAULTS.endpointBurst, 1),
      maxRegistrationsPerJid: int("limits.max_registrations_per_jid", l.max_registrations_per_jid, DEFAULTS.maxRegistrationsPerJid, 1),
    },
    log: { level: logLevel(g.level) },
    cluster: { links: clusterLinks(c.links, d.url !== undefined) },
  });
}

/** `[database]`: exactly one of `path` and `url`. */
function database(d: Table, env: NodeJS.ProcessEnv): Config["database"] {
  if (d.path !== undefined && d.url !== undefined) {
    throw new ConfigError("database", "set either path (SQLite) or url (PostgreSQL), not both");
  }
  if (d.url === undefined) return { backend: "sqlite", path: requireString("database.path", d.path) };
  return { backend: "postgres", url: postgresUrl(requireString("database.url", d.url), env[DB_PASSWORD_ENV]) };
}

/** postgres://USER[:PASSWORD]@HOST[:PORT]/DB; the environment's password wins over the URL's. Errors never echo the URL (it may hold the password). */
function postgresUrl(v: string, password: string | undefined): string {
  const shape = "must be postgres://USER:PASSWORD@HOST:PORT/DATABASE";
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ConfigError("database.url", shape);
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") throw new ConfigError("database.url", `${shape} (it starts with ${u.protocol}//)`);
  if (!u.hostname) throw new ConfigError("database.url", `${shape}: the host is missing`);
  if (u.pathname.replace(/^\/+/, "") === "") throw new ConfigError("database.url", `${shape}: the database name is missing`);
  if (password !== undefined && password !== "") u.password = encodeURIComponent(password);
  return u.toString();
}

/** The URL as it may be logged or printed: without its password. */
export function redactDbUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "postgres://(unparsable url)";
  }
}

/** Where the store is, for messages: the file, or the URL without its password. */
export function describeDatabase(d: Config["database"]): string {
  return d.backend === "sqlite" ? d.path : redactDbUrl(d.url);
}

function clusterLinks(v: unknown, postgres: boolean): Config["cluster"]["links"] {
  if (v === undefined) return "leader";
  if (v !== "leader" && v !== "all") throw new ConfigError("cluster.links", `must be "leader" (Prosody) or "all" (ejabberd), got ${JSON.stringify(String(v))}`);
  if (v === "all" && !postgres) throw new ConfigError("cluster.links", `"all" needs [database] url: gateways share their work through PostgreSQL`);
  return v;
}

const isTable = (v: unknown): v is Table => typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);

function requireString(key: string, v: unknown): string {
  if (v === undefined) throw new ConfigError(key, "missing; it is required");
  if (typeof v !== "string" || v.trim() === "") throw new ConfigError(key, "must be a non-empty string");
  return v.trim();
}

function requireSecret(v: unknown): string {
  if (v === undefined || v === "") {
    throw new ConfigError("xmpp.secret", `missing; set it in the file or in the environment variable ${SECRET_ENV}`);
  }
  if (typeof v !== "string") throw new ConfigError("xmpp.secret", "must be a string");
  return v;
}

function int(key: string, v: unknown, dflt: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return dflt;
  const n = typeof v === "bigint" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(key, `must be a whole number from ${min} to ${max}, got ${JSON.stringify(String(v))}`);
  }
  return n;
}

/**
 * Conversations renews every registration with less than 24 h left, hourly
 * and on each reconnect: a lifetime near or under a day makes it re-register
 * every hour, and its apps wait for an endpoint meanwhile.
 */
function registrationTtl(v: unknown): number {
  const key = "push.registration_ttl";
  const n = int(key, v, DEFAULTS.registrationTtl, 1);
  if (n < DEFAULTS.minRegistrationTtl) {
    throw new ConfigError(
      key,
      `must be at least ${DEFAULTS.minRegistrationTtl} (2 days), got ${n}: Conversations renews a registration hourly once less than 24 h are left, so a shorter lifetime makes it re-register every hour and apps wait for their endpoint`,
    );
  }
  return n;
}

/** A number above `above`, or from `min` to `max` when a range is given. */
function num(key: string, v: unknown, dflt: number, above: number, max?: number): number {
  if (v === undefined) return dflt;
  const n = typeof v === "bigint" ? Number(v) : v;
  const ok = typeof n === "number" && Number.isFinite(n) && (max === undefined ? n > above : n >= above && n <= max);
  if (!ok) {
    const allowed = max === undefined ? `a number above ${above}` : `a number of seconds from ${above} to ${max}`;
    throw new ConfigError(key, `must be ${allowed}, got ${JSON.stringify(String(v))}`);
  }
  return n as number;
}

const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

function parseDomain(key: string, v: string): string {
  if (!DOMAIN.test(v)) throw new ConfigError(key, `must be a domain name such as up.example.org, got ${JSON.stringify(v)}`);
  return v.toLowerCase();
}

function domainList(key: string, v: unknown): string[] {
  if (v === undefined) return [...DEFAULTS.allowedDomains];
  if (!Array.isArray(v)) throw new ConfigError(key, 'must be a list of domains, e.g. ["example.org"] ([] allows anyone)');
  return v.map((d, i) => {
    if (typeof d !== "string") throw new ConfigError(`${key}[${i}]`, "must be a string");
    return parseDomain(`${key}[${i}]`, d);
  });
}

function parseService(v: string): string {
  const url = v.includes("://") ? v : `xmpp://${v}`;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError("xmpp.service", `must be xmpp://host:port (the server's component port), got ${JSON.stringify(v)}`);
  }
  if (u.protocol !== "xmpp:" || !u.hostname || !u.port) {
    throw new ConfigError("xmpp.service", `must be xmpp://host:port (the server's component port), got ${JSON.stringify(v)}`);
  }
  return `xmpp://${u.hostname}:${u.port}`;
}

function parseListen(v: string): { host: string; port: number } {
  const hp = splitHostPort(v);
  if (!hp) throw new ConfigError("http.listen", `must be "host:port" (e.g. "127.0.0.1:8080" or "[::1]:8080"), got ${JSON.stringify(v)}`);
  return hp;
}

function parsePublicUrl(v: string): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ConfigError("http.public_url", `must be an absolute http(s) URL, got ${JSON.stringify(v)}`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new ConfigError("http.public_url", `must start with https:// (or http:// for local tests), got ${JSON.stringify(v)}`);
  }
  if (/[?#]/.test(v)) throw new ConfigError("http.public_url", "must not have a query or fragment");
  return u.toString().replace(/\/+$/, "");
}

function logLevel(v: unknown): LogLevel {
  if (v === undefined) return DEFAULTS.logLevel as LogLevel;
  if (typeof v !== "string" || !(LOG_LEVELS as readonly string[]).includes(v)) {
    throw new ConfigError("log.level", `must be one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(String(v))}`);
  }
  return v as LogLevel;
}

function deepFreeze<T>(o: T): T {
  if (typeof o === "object" && o !== null) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
