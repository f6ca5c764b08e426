// The HTTP edge: Koa is imported only under src/http. This file wires the
// routes (push-post.ts, push-route.ts, matrix-route.ts) and the operator's
// endpoints, and owns the server's lifecycle.
import { createServer, STATUS_CODES, type Server } from "node:http";
import type { Duplex } from "node:stream";
import Koa from "koa";
import Router from "@koa/router";
import type { Logger } from "../log.ts";
import type { PushOutcome } from "../outcomes.ts";
import type { Take } from "../ratelimit.ts";
import type { Registration } from "../store/registrations.ts";
import { deliverer, type DeliverDeps } from "./deliver.ts";
import { matrixNotFound, matrixRoutes, type MatrixRouteDeps } from "./matrix-route.ts";
import { messageRoutes, type MessageRouteDeps } from "./message-route.ts";
import { pushRoutes } from "./push-route.ts";
import { pushPost, type PushPost } from "./push-post.ts";

/** What the edge needs of the metrics (src/metrics.ts), so it does not import prom-client. */
export interface HttpMetrics {
  countOutcome(o: PushOutcome): void;
  countResponse(status: number): void;
  countIgnoredHeader(header: string): void;
  render(): Promise<{ contentType: string; body: string }>;
}

export interface HttpDeps {
  log: Logger;
  pushes: DeliverDeps["pushes"];
  registry: { lookup(endpoint: string): Registration | undefined };
  isOnline: () => boolean;
  publicUrl: string;
  messageId: () => string;
  /** DELETE on a 201's Location. */
  cancel: MessageRouteDeps["cancel"];
  /** Why the store cannot write now (probing if it has not heard lately); undefined while it can. */
  storeProblem: () => string | undefined;
  /** ms within which a request's headers and body must have arrived, else 408 ([http] request_timeout). */
  requestTimeoutMs: number;
  limiter?: { take(key: string): Take };
  metrics?: HttpMetrics;
  /** Matrix notify retries (src/matrix-dedupe.ts); without it every notify is delivered. */
  matrixDedupe?: MatrixRouteDeps["dedupe"];
}

function createApp(d: HttpDeps, deliver: ReturnType<typeof deliverer>): Koa {
  const app = new Koa();
  const router = new Router();
  const isLive = (endpoint: string): boolean => d.registry.lookup(endpoint) !== undefined;

  router.get("/healthz", (ctx) => {
    const online = d.isOnline();
    const store = d.storeProblem();
    ctx.status = online && store === undefined ? 200 : 503;
    ctx.body = { xmpp: online ? "online" : "offline", store: store ?? "ok" };
  });

  const metrics = d.metrics;
  if (metrics) {
    router.get("/metrics", async (ctx) => {
      const { contentType, body } = await metrics.render();
      ctx.type = contentType;
      ctx.body = body;
    });
  }

  pushRoutes(router, { isLive });
  messageRoutes(router, { cancel: d.cancel });
  matrixRoutes(router, { log: d.log, deliver, publicUrl: d.publicUrl, dedupe: d.matrixDedupe });

  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      d.log.error({ err, method: ctx.method }, "request failed");
      ctx.status = 500;
      ctx.body = { error: "internal error" };
    }
    metrics?.countResponse(ctx.status);
  });
  app.use(matrixNotFound);
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}

export interface HttpEdge {
  server: Server;
  listen(host: string, port: number): Promise<number>;
  /** Stops accepting, lets in-flight requests finish (at most graceMs), then closes. */
  close(graceMs: number): Promise<void>;
}

/**
 * What node:http's own clientError handler would answer, undefined for a
 * connection to just drop. A timeout ends as 408 (Mastodon keeps the
 * subscription and retries), never as the request held open.
 */
function clientErrorStatus(err: NodeJS.ErrnoException): number | undefined {
  if (err.code === "ECONNRESET") return undefined;
  if (err.code === "ERR_HTTP_REQUEST_TIMEOUT") return 408;
  if (err.code === "HPE_HEADER_OVERFLOW") return 431;
  return 400; // not HTTP: no request to answer otherwise
}

/** POST /up/<token> (an optional trailing slash or query is tolerated, as the router did). */
const PUSH_POST = /^\/up\/([^/?#]+)\/?(?:\?.*)?$/;

export function createHttpEdge(d: HttpDeps): HttpEdge {
  const deliver = deliverer({ pushes: d.pushes, limiter: d.limiter, countOutcome: d.metrics?.countOutcome });
  const koa = createApp(d, deliver).callback();
  const post: PushPost = pushPost({
    log: d.log,
    deliver,
    publicUrl: d.publicUrl,
    messageId: d.messageId,
    countResponse: d.metrics?.countResponse,
    countIgnoredHeader: d.metrics?.countIgnoredHeader,
  });
  let closing = false;
  const server = createServer({
    // A body dripped at 1 byte/s would otherwise hold its request for Node's default 300 s.
    requestTimeout: d.requestTimeoutMs,
    headersTimeout: d.requestTimeoutMs,
    // How often node:http looks for requests past their timeout (its default, 30 s, would be most of the timeout).
    connectionsCheckingInterval: Math.min(1000, d.requestTimeoutMs / 2),
  }, (req, res) => {
    // Once closing, every answer ends its connection, so keep-alive clients do not hold the shutdown.
    if (closing) res.setHeader("Connection", "close");
    const push = req.method === "POST" ? PUSH_POST.exec(req.url ?? "") : null;
    if (push) void post(req, res, push[1]!);
    else void koa(req, res);
  });
  server.keepAliveTimeout = 65_000; // longer than typical proxy idle timeouts
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    const status = clientErrorStatus(err);
    const answering = (socket as Duplex & { _httpMessage?: { headersSent: boolean } })._httpMessage;
    if (status === undefined || !socket.writable || answering?.headersSent) return void socket.destroy();
    const body = status === 408 ? JSON.stringify({ error: `the request did not arrive within ${d.requestTimeoutMs / 1000} s` }) : "";
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n` +
        (body ? `Content-Type: application/json; charset=utf-8\r\n` : "") +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    d.metrics?.countResponse(status);
  });
  return {
    server,
    listen: (host, port) =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          const addr = server.address();
          resolve(typeof addr === "object" && addr ? addr.port : port);
        });
      }),
    close: (graceMs) =>
      new Promise((resolve) => {
        closing = true;
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
