// The running gateway's own HTTP port, from `[http] listen`: the admin tool
// talks to it there, on the machine, not through public_url (that goes out
// through the reverse proxy, and may not even resolve on this host).
import { get as httpGetRaw, type RequestOptions } from "node:http";
import { get as httpsGetRaw } from "node:https";
import type { LookupFunction } from "node:net";

/** A wildcard listen address is reached on loopback. */
export function localBase(host: string, port: number): string {
  const h = host === "0.0.0.0" || host === "" ? "127.0.0.1" : host === "::" ? "::1" : host;
  return `http://${h.includes(":") ? `[${h}]` : h}:${port}`;
}

export type Got = { ok: true; status: number; body: string } | { ok: false; error: string };

/** GET with a deadline; never rejects. `lookup` lets a caller pick where names resolve. */
export function httpGet(url: string, timeoutMs: number, lookup?: LookupFunction): Promise<Got> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const get = u.protocol === "https:" ? httpsGetRaw : httpGetRaw;
    const opts: RequestOptions = { agent: false, timeout: timeoutMs, headers: { "user-agent": "up-gateway-admin doctor" }, ...(lookup && { lookup }) };
    const req = get(u, opts, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ ok: true, status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", (err) => resolve({ ok: false, error: err.message }));
    });
    let late = false; // destroying the request reports a socket hang up: the deadline is the reason
    req.on("timeout", () => {
      late = true;
      req.destroy();
    });
    req.on("error", (err: NodeJS.ErrnoException) =>
      resolve({ ok: false, error: late ? `no answer within ${timeoutMs} ms` : err.code ? `${err.code} ${err.message}` : err.message }),
    );
  });
}

/**
 * What is at [http] listen. Only a refused connection proves no gateway runs
 * there: one whose /healthz is slow (a busy event loop, a store that cannot
 * write) still runs, and a doctor that took it for absent would handshake and
 * take its component link (Prosody's kick_old).
 */
export type Running =
  | { kind: "none" } // nothing accepts connections there
  | { kind: "gateway"; online: boolean; status: number } // our /healthz JSON, whatever its status (503 while the store cannot write)
  | { kind: "unsure"; why: string }; // something accepts connections but did not answer as a gateway: one may be running

const NOTHING_THERE = new Set(["ECONNREFUSED", "EADDRNOTAVAIL", "ENETUNREACH", "EHOSTUNREACH"]);

/** Is a gateway answering /healthz on [http] listen, and does it hold the component link? */
export async function runningGateway(base: string, timeoutMs = 5000): Promise<Running> {
  const r = await httpGet(`${base}/healthz`, timeoutMs);
  if (!r.ok) return NOTHING_THERE.has(r.error.split(" ")[0]!) ? { kind: "none" } : { kind: "unsure", why: r.error };
  try {
    const body = JSON.parse(r.body) as { xmpp?: unknown };
    if (body.xmpp === "online" || body.xmpp === "offline") return { kind: "gateway", online: body.xmpp === "online", status: r.status };
  } catch {
    // not our JSON: something else listens there, or a gateway of another version
  }
  return { kind: "unsure", why: `GET /healthz answered ${r.status} without the gateway's JSON` };
}
