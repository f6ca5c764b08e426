// The HTTP edge: Koa is imported only under src/http. This file wires the
// routes (push-post.ts, push-route.ts, matrix-route.ts) and the operator's
// endpoints, and owns the server's lifecycle.
import { createServer, STATUS_CODES, type IncomingMessage, type Server } from "node:http";
import type { Duplex } from "node:stream";
import Koa from "koa";
import Router from "@koa/router";
import type { Logger } from "../log.ts";
import type { PushOutcome } from "../outcomes.ts";
import type { Take } from "../ratelimit.ts";
import type { Registration } from "../store/store.ts";
import { isStoreFault } from "../store/faults.ts";
import { deliverer, type DeliverDeps } from "./deliver.ts";
import { matrixNotFound, matrixRoutes, type MatrixRouteDeps } from "./matrix-route.ts";
import { messageRoutes, type MessageRouteDeps } from "./message-route.ts";
import { pushRoutes } from "./push-route.ts";
import { internalRoutes, type InternalRouteDeps } from "./internal-route.ts";
import { pushPost, type PushPost } from "./push-post.ts";
import { problemAnswer, type RequestProblem } from "./status.ts";

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
  registry: { lookup(endpoint: string): Promise<Registration | undefined> };
  isOnline: () => boolean;
  publicUrl: string;
  messageId: () => string;
  /** DELETE on a 201's Location. */
  cancel: MessageRouteDeps["cancel"];
  /** Why the store cannot write now (probing if it has not heard lately); undefined while it can. */
  storeProblem: () => Promise<string | undefined>;
  /** Whether this gateway holds the component link; a standby (false) hands its pushes on and is healthy while the store is. */
  linkHolder?: () => boolean;
  /** A standby can hand pushes on: a link holder has been announced (src/store/pg/link-holder.ts). */
  standbyReady?: () => boolean;
  /** The hop a standby hands its pushes to this gateway through (src/http/internal-route.ts); several gateways only. */
  internal?: InternalRouteDeps;
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
  const isLive = (endpoint: string): Promise<boolean> =>
    d.registry.lookup(endpoint).then(
      (reg) => reg !== undefined,
      (err: unknown) => {
        if (isStoreFault(err)) return true;
        throw err;
      },
    );

  router.get("/healthz", async (ctx) => {
    const online = d.isOnline();
    const holder = d.linkHolder?.() ?? true;
    const store = await d.storeProblem();
    // a standby delivers through the link holder, or keeps the message in the shared store for it
    ctx.status = (online || (!holder && (d.standbyReady?.() ?? true))) && store === undefined ? 200 : 503;
    ctx.body = { xmpp: online ? "online" : "offline", store: store ?? "ok", link_holder: holder };
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
  if (d.internal) internalRoutes(router, d.internal);
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
function clientErrorProblem(err: NodeJS.ErrnoException): RequestProblem | undefined {
  if (err.code === "ECONNRESET") return undefined;
  if (err.code === "ERR_HTTP_REQUEST_TIMEOUT") return "timeout";
  if (err.code === "HPE_HEADER_OVERFLOW") return "headers-too-large";
  return "not-http";
}

/** Node's default, fixed here so a Node upgrade cannot change what a sender may send (docs: README, status.ts). */
const MAX_HEADER_BYTES = 16 * 1024;

/** POST /up/<token> (an optional trailing slash or query is tolerated, as the router did). */
const PUSH_POST = /^\/up\/([^/?#]+)\/?(?:\?.*)?$/;

/** The token of a push POST, also in absolute form (`POST http://host/up/<token>`, RFC 9112 §3.2.2). */
function pushToken(req: IncomingMessage): string | undefined {
  if (req.method !== "POST") return undefined;
  const url = req.url ?? "";
  if (url.startsWith("/")) return PUSH_POST.exec(url)?.[1];
  if (!/^https?:\/\//i.test(url)) return undefined;
  try {
    return PUSH_POST.exec(new URL(url).pathname)?.[1];
  } catch {
    return undefined;
  }
}

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
    maxHeaderSize: MAX_HEADER_BYTES,
  }, (req, res) => {
    // Once closing, every answer ends its connection, so keep-alive clients do not hold the shutdown.
    if (closing) res.setHeader("Connection", "close");
    const token = pushToken(req);
    if (token !== undefined) void post(req, res, token);
    else void koa(req, res);
  });
  server.keepAliveTimeout = 65_000; // longer than typical proxy idle timeouts
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    const problem = clientErrorProblem(err);
    const answering = (socket as Duplex & { _httpMessage?: { headersSent: boolean } })._httpMessage;
    if (problem === undefined || !socket.writable || answering?.headersSent) return void socket.destroy();
    const a = problem === "timeout" ? problemAnswer(problem, `the request did not arrive within ${d.requestTimeoutMs / 1000} s`) : problemAnswer(problem);
    const body = JSON.stringify({ error: a.message });
    // The server's sockets are half-open (allowHalfOpen): end() alone would leave a sender that never
    // ends its side holding the connection, so it is destroyed once the answer is written.
    socket.end(
      `HTTP/1.1 ${a.status} ${STATUS_CODES[a.status]}\r\nConnection: close\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      () => socket.destroy(),
    );
    d.metrics?.countResponse(a.status);
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
