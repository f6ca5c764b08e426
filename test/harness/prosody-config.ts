/** Renders the prosody.cfg.lua used by the tests (pure, no I/O). */

export interface ProsodyComponent {
  domain: string;
  secret: string;
  /** Extra Lua lines placed inside this Component section. */
  extra?: string;
}

export interface ProsodyLayout {
  dir: string;
  domain: string;
  c2sPort: number;
  componentPort: number;
  httpPort: number;
  components: readonly ProsodyComponent[];
  debug: boolean;
  extraGlobal?: string;
  extraHost?: string;
  /** Modules of the default set to leave out, e.g. "offline" for a server that stores no messages. */
  withoutModules?: readonly string[];
}

/** Lua long strings would be simpler, but a quoted string is safe for any path. */
export function luaString(value: string): string {
  const escaped = value
    .replaceAll("\\", "\\\\")
    .replaceAll('"', '\\"')
    .replaceAll("\n", "\\n")
    .replaceAll("\r", "\\r");
  return `"${escaped}"`;
}

const MODULES = ["roster", "saslauth", "disco", "ping", "presence", "offline", "http"] as const;

export function renderProsodyConfig(layout: ProsodyLayout): string {
  const { dir } = layout;
  const level = layout.debug ? "debug" : "info";
  const components = layout.components.map((c) =>
    [
      `Component ${luaString(c.domain)}`,
      `  component_secret = ${luaString(c.secret)}`,
      c.extra ?? "",
    ].join("\n"),
  );
  return [
    // The test suite runs as root in CI containers; Prosody refuses otherwise.
    "run_as_root = true",
    `pidfile = ${luaString(`${dir}/prosody.pid`)}`,
    `data_path = ${luaString(`${dir}/data`)}`,
    // An empty certs dir keeps Prosody from probing /etc/prosody/certs.
    `certificates = ${luaString(`${dir}/certs`)}`,
    'interfaces = { "127.0.0.1" }',
    'local_interfaces = { "127.0.0.1" }',
    `c2s_ports = { ${layout.c2sPort} }`,
    `component_ports = { ${layout.componentPort} }`,
    "s2s_ports = { }",
    `http_ports = { ${layout.httpPort} }`,
    "https_ports = { }",
    'http_interfaces = { "127.0.0.1" }',
    `modules_enabled = { ${MODULES.filter((m) => !layout.withoutModules?.includes(m)).map((m) => `"${m}"`).join("; ")} }`,
    // Prosody loads some modules (offline among them) even when not enabled: disabling is what leaves them out.
    `modules_disabled = { ${["s2s", "tls", ...(layout.withoutModules ?? [])].map((m) => `"${m}"`).join("; ")} }`,
    'authentication = "internal_plain"',
    // Tests talk plain TCP on loopback; no TLS means PLAIN must be allowed.
    "allow_unencrypted_plain_auth = true",
    // @xmpp/client computes SCRAM's PBKDF2 in plain JS: ~700 ms per login.
    // PLAIN logs in within milliseconds; authentication is not under test.
    'disable_sasl_mechanisms = { "DIGEST-MD5"; "SCRAM-SHA-1"; "SCRAM-SHA-256" }',
    "c2s_require_encryption = false",
    `log = { ${level} = ${luaString(`${dir}/prosody.log`)} }`,
    layout.extraGlobal ?? "",
    "",
    `VirtualHost ${luaString(layout.domain)}`,
    layout.extraHost ?? "",
    "",
    ...components,
    "",
  ].join("\n");
}
