// public_url from here: does GET <public_url>/up/doctor-check come back from
// this gateway? A running gateway answers it (404 with its JSON body). When
// none runs, `doctor --stand-in` answers in its place on [http] listen for the
// moment of the check, so the reverse proxy's path can be tested before the
// first start. Opt-in, because while the stand-in holds the port (up to the
// GET's 5 s) a gateway starting then (systemd's restart, an operator's start)
// fails with EADDRINUSE: the doctor must not break what it examines.
import { createServer, type Server } from "node:http";
import type { LookupFunction } from "node:net";
import { httpAnswer } from "../../http/status.ts";
import { httpGet, type Running } from "../local.ts";
import { ok, skip, warn, type Check } from "./check.ts";

export const CHECK_PATH = "/up/doctor-check";
const GONE = httpAnswer({ kind: "gone" });
const GONE_BODY = JSON.stringify({ error: GONE.message });
const SECTION = "docs/reverse-proxy.md, section \"Check it from outside\"";

export async function publicUrlReach(
  publicUrl: string,
  listen: { host: string; port: number },
  gateway: Running,
  o: { standIn: boolean; lookup?: LookupFunction },
): Promise<Check> {
  const name = "public_url reachable";
  let stand: Server | undefined;
  if (gateway.kind === "none") {
    if (!o.standIn) return skip(name, "no gateway runs to answer it: start the gateway and run doctor again, or run 'doctor --stand-in' while it is stopped (it answers on [http] listen for the moment of the check)");
    try {
      stand = await standIn(listen.host, listen.port);
    } catch (err) {
      return warn(name, `no gateway runs and [http] listen ${listen.host}:${listen.port} cannot be opened (${(err as NodeJS.ErrnoException).code}): something else holds the port, or it needs privileges`);
    }
  }
  try {
    const url = `${publicUrl}${CHECK_PATH}`;
    const r = await httpGet(url, 5000, o.lookup);
    if (!r.ok) return warn(name, `GET ${url} failed from here (${r.error}); if app servers cannot reach it either, see ${SECTION}`);
    if (r.status === GONE.status && isGoneBody(r.body)) return ok(name, `GET ${url} reaches the gateway (404 with its JSON body)`);
    return warn(name, `GET ${url} answered ${r.status}, not the gateway's 404 JSON: the reverse proxy does not pass /up/ to [http] listen; see ${SECTION}`);
  } finally {
    if (stand) await new Promise((r) => stand!.close(r));
  }
}

function isGoneBody(body: string): boolean {
  try {
    return (JSON.parse(body) as { error?: unknown }).error === GONE.message;
  } catch {
    return false;
  }
}

function standIn(host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    res.setHeader("Connection", "close");
    if (req.method === "GET" && req.url === CHECK_PATH) {
      res.writeHead(GONE.status, { "Content-Type": "application/json; charset=utf-8" });
      res.end(GONE_BODY);
    } else {
      res.writeHead(503).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}
