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
    const opts: RequestOptions = { timeout: timeoutMs, headers: { "user-agent": "up-gateway-admin doctor" }, ...(lookup && { lookup }) };
    const req = get(u, opts, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ ok: true, status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", (err) => resolve({ ok: false, error: err.message }));
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (err: NodeJS.ErrnoException) => resolve({ ok: false, error: err.code ? `${err.code} ${err.message}` : err.message }));
  });
}

export type Running = { running: false } | { running: true; online: boolean };

/** Is a gateway answering /healthz on [http] listen, and does it hold the component link? */
export async function runningGateway(base: string, timeoutMs = 2000): Promise<Running> {
  const r = await httpGet(`${base}/healthz`, timeoutMs);
  if (!r.ok) return { running: false };
  try {
    const body = JSON.parse(r.body) as { xmpp?: unknown };
    if (body.xmpp === "online" || body.xmpp === "offline") return { running: true, online: r.status === 200 && body.xmpp === "online" };
  } catch {
    // not our JSON: something else listens there
  }
  return { running: false };
}
