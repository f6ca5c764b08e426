// A TLS-terminating reverse proxy on loopback, in front of the gateway as in
// production. web-push always speaks TLS (it calls https.request whatever the
// endpoint's scheme), so without this it cannot reach a plain-HTTP gateway.
// The certificate is made by openssl (Prosody's Debian package depends on it)
// for 127.0.0.1 only, and the returned agent trusts that certificate alone.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request, type IncomingHttpHeaders } from "node:http";
import { Agent, createServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TlsFront {
  readonly url: string; // https://127.0.0.1:port, to use as the gateway's public_url
  readonly agent: Agent;
  /** Headers of every request that came through, as the gateway got them. */
  readonly seen: IncomingHttpHeaders[];
  /** The gateway's plain-HTTP port, set once it is known. */
  target: number;
  close(): Promise<void>;
}

export async function startTlsFront(): Promise<TlsFront> {
  const dir = mkdtempSync(join(tmpdir(), "up-tls-"));
  try {
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
      "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
      "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
    ], { stdio: "ignore" });
  } catch (err) {
    throw new Error(`openssl could not make a test certificate (is Debian's openssl installed?): ${(err as Error).message}`);
  }
  const key = readFileSync(join(dir, "key.pem"));
  const cert = readFileSync(join(dir, "cert.pem"));
  rmSync(dir, { recursive: true, force: true });

  const seen: IncomingHttpHeaders[] = [];
  const front = { target: 0 };
  const server = createServer({ key, cert }, (req, res) => {
    seen.push(req.headers);
    const upstream = request(
      { host: "127.0.0.1", port: front.target, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.headersSent || res.writeHead(502).end());
    req.pipe(upstream);
  });
  const port = await new Promise<number>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)),
  );
  const agent = new Agent({ ca: cert });
  return {
    url: `https://127.0.0.1:${port}`,
    agent,
    seen,
    get target() {
      return front.target;
    },
    set target(p: number) {
      front.target = p;
    },
    close: () =>
      new Promise((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
