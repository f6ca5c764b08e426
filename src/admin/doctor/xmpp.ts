// The component link, checked the way the gateway uses it: the port, the
// handshake, a ping to ourselves through the server, and the component listed
// in disco#items of each allowed domain. While a running gateway holds the
// link none of this connects: a second handshake would take the link away
// (Prosody's kick_old) or, on ejabberd, share the stanzas, so that a phone's
// answer to one of the gateway's pushes could reach the doctor and be lost.
// Beside a gateway whose link is down the handshake alone is tried (it names a
// wrong secret), and the component is given back at once.
import { connect } from "node:net";
import type { Config } from "../../config.ts";
import { discoItems, ping } from "../../stanzas/disco.ts";
import { NS_DISCO_ITEMS } from "../../stanzas/ns.ts";
import { probeComponent } from "../../xmpp/probe.ts";
import type { Running } from "../local.ts";
import { fail, ok, skip, warn, type Check } from "./check.ts";

const TIMEOUT_MS = 5000;

export async function xmppChecks(x: Config["xmpp"], gateway: Running, noLink: boolean): Promise<Check[]> {
  const { hostname, port } = new URL(x.service);
  const reach = await portAnswers(hostname, Number(port));
  if (reach !== true) {
    return [fail("xmpp port", `nothing answers at ${hostname}:${port} (${reach}): start the XMPP server, or set [xmpp] service to its component port (Prosody: component_ports; ejabberd: the ejabberd_service listener)`)];
  }
  const checks = [ok("xmpp port", `${hostname}:${port} accepts connections`)];
  const skipLink = (why: string): Check[] => [skip("xmpp route", why), ...x.allowedDomains.map((host) => skip(`disco#items ${host}`, why))];
  if (gateway.kind === "gateway" && gateway.online) {
    // The gateway is online only after the server accepted its handshake, and it
    // pings itself through the server every ping_interval: its /healthz says both.
    return [
      ...checks,
      ok("xmpp handshake", `the running gateway is online as ${x.domain} (its /healthz): the server accepted the secret; not repeated, so the gateway keeps its link`),
      ok("xmpp route", `the running gateway pings itself through the server every ${x.pingInterval} s and is online`),
      ...x.allowedDomains.map((host) => skip(`disco#items ${host}`, "not asked while the running gateway holds the component link; stop it to check this")),
    ];
  }
  if (gateway.kind === "unsure") {
    const why = "not tried: something at [http] listen may be a running gateway, and a second handshake could take its link";
    return [...checks, skip("xmpp handshake", why), ...skipLink(why)];
  }
  if (noLink) {
    const why = "not tried (--no-link)";
    return [...checks, skip("xmpp handshake", why), ...skipLink(why)];
  }
  const probe = await probeComponent(x, TIMEOUT_MS);
  if (probe.kind === "refused") return [...checks, handshakeRefused(x.domain, probe.condition)];
  if (probe.kind === "failed") return [...checks, fail("xmpp handshake", `no handshake with ${hostname}:${port} (${probe.error}): is it the component port, not the client port (5222)?`)];
  checks.push(ok("xmpp handshake", `the XMPP server accepted the secret for ${x.domain}`));
  if (gateway.kind === "gateway") {
    // Its link is down and it is reconnecting: the doctor holds the component
    // only for the handshake, so the gateway's next attempt finds it free.
    await probe.close();
    return [...checks, ...skipLink("not asked beside a running gateway: the doctor held the component only for the handshake; see the gateway's log for why its link is down")];
  }
  try {
    const pong = await probe.request(ping(x.domain, x.domain, "doctor-ping"), TIMEOUT_MS);
    checks.push(
      pong.kind === "result"
        ? ok("xmpp route", `a ping from ${x.domain} to itself came back through the server`)
        : fail("xmpp route", `a ping from ${x.domain} to itself did not come back (${pong.kind === "error" ? pong.condition : pong.kind}): the server does not route to the component; check its log`),
    );
    for (const host of x.allowedDomains) {
      const a = await probe.request(discoItems(host, x.domain, `doctor-items-${host}`), TIMEOUT_MS);
      const listed = a.reply?.getChild("query", NS_DISCO_ITEMS)?.getChildren("item").some((i) => i.attrs.jid === x.domain);
      const name = `disco#items ${host}`;
      if (a.kind !== "result") checks.push(warn(name, `${host} did not answer disco#items (${a.kind === "error" ? a.condition : a.kind}); clients that look for a push service there will not find ${x.domain}`));
      else if (listed) checks.push(ok(name, `${host} lists ${x.domain}`));
      else checks.push(warn(name, `${host} does not list ${x.domain}: clients that look for a push service there miss it; Prosody lists a Component that is a subdomain of the host, otherwise add disco_items = { { "${x.domain}" } } to the VirtualHost`));
    }
  } finally {
    await probe.close();
  }
  return checks;
}

function handshakeRefused(domain: string, condition: string): Check {
  const name = "xmpp handshake";
  switch (condition) {
    case "not-authorized":
      return fail(name, "the XMPP server refused the secret: compare [xmpp] secret with component_secret of the Component block (ejabberd: the listener's password)");
    case "host-unknown":
      return fail(name, `the XMPP server has no component ${domain}: add Component "${domain}" (Prosody) or list it in the ejabberd_service listener's hosts, or fix [xmpp] domain`);
    case "conflict":
      return warn(name, `another connection holds ${domain} (a gateway whose /healthz is not at [http] listen, or a stale link): the doctor leaves it alone; stop it to check the handshake`);
    default:
      return fail(name, `the XMPP server closed the stream: ${condition}`);
  }
}

function portAnswers(host: string, port: number): Promise<true | string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: TIMEOUT_MS });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve("timeout");
    });
    socket.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}
