/** Renders the ejabberd.yml and ejabberdctl.cfg used by the tests (pure, no I/O). */
import type { ProsodyComponent } from "./prosody-config.ts";

export interface EjabberdLayout {
  domain: string;
  c2sPort: number;
  componentPort: number;
  httpPort: number;
  components: readonly ProsodyComponent[];
  debug: boolean;
  /** The `listen:` item(s) of the component port, instead of the default one (tests use the block in docs/ejabberd.md). */
  componentListener?: string;
}

export interface EjabberdCtlLayout {
  node: string;
  cookie: string;
  /** Erlang distribution port: fixed, so neither side needs epmd. */
  distPort: number;
}

// A JSON string is a valid YAML double-quoted scalar.
const q = (s: string): string => JSON.stringify(s);

export function renderEjabberdConfig(layout: EjabberdLayout): string {
  const services = layout.components.flatMap((c) => [`      ${q(c.domain)}:`, `        password: ${q(c.secret)}`]);
  return [
    `hosts: [${q(layout.domain)}]`,
    `loglevel: ${layout.debug ? "debug" : "info"}`,
    "log_rotate_count: 0",
    // No certificates: the tests talk plain TCP on loopback, so c2s offers no STARTTLS.
    "certfiles: []",
    "acme:",
    "  auto: false",
    "auth_method: internal",
    "auth_password_format: plain",
    // @xmpp/client computes SCRAM in plain JS (~700 ms a login); PLAIN is instant.
    "disable_sasl_mechanisms: [digest-md5, scram-sha-1, scram-sha-256, scram-sha-512, x-oauth2]",
    "listen:",
    `  - port: ${layout.c2sPort}`,
    '    ip: "127.0.0.1"',
    "    module: ejabberd_c2s",
    "    starttls: false",
    // The component listener (XEP-0114), as docs/ejabberd.md shows it.
    ...(layout.componentListener !== undefined
      ? [layout.componentListener.replace(/\n+$/, "")]
      : [`  - port: ${layout.componentPort}`, '    ip: "127.0.0.1"', "    module: ejabberd_service", "    hosts:", ...services]),
    `  - port: ${layout.httpPort}`,
    '    ip: "127.0.0.1"',
    "    module: ejabberd_http",
    "    request_handlers: {}",
    "acl:",
    "  local:",
    '    user_regexp: ""',
    "access_rules:",
    "  local:",
    "    allow: local",
    "  c2s:",
    "    allow: all",
    "modules:",
    "  mod_admin_extra: {} # ejabberdctl get_offline_count",
    "  mod_disco: {}",
    "  mod_offline: {}",
    "  mod_ping: {}",
    "  mod_roster: {}",
    "",
  ].join("\n");
}

/**
 * Sourced by /usr/sbin/ejabberdctl (--ctl-config). EXEC_CMD is decided before
 * the file is sourced, so setting it here keeps a root caller from `su`-ing to
 * the ejabberd user, who could not read our root-owned temp dir.
 */
export function renderEjabberdctlConfig(layout: EjabberdCtlLayout): string {
  return [
    "EXEC_CMD=as_current_user",
    `ERLANG_NODE=${layout.node}`,
    `ERL_DIST_PORT=${layout.distPort}`,
    `ERL_OPTIONS="-setcookie ${layout.cookie} -kernel inet_dist_use_interface {127,0,0,1}"`,
    "",
  ].join("\n");
}
