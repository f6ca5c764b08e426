// The HTTP edge: Koa is imported only under src/http. This file wires the
// routes (push-post.ts, push-route.ts, matrix-route.ts) and the operator's
// endpoints, and owns the server's lifecycle.
import { createServer, type Server } from "node:http";
import Koa from "koa";
import Router from "@koa/router";
import type { Logger } from "../log.ts";
import type { PushOutcome } from "../outcomes.ts";
import type { Take } from "../ratelimit.ts";
import type { Registration } from "../store/registrations.ts";
import { deliverer, type DeliverDeps } from "./deliver.ts";
import { matrixRoutes, type MatrixRouteDeps } from "./matrix-route.ts";
import { pushRoutes } from "./push-route.ts";
import { pushPost, type PushPost } from "./push-post.ts";

/** What the edge needs of the metrics (src/metrics.ts), so it does not import prom-client. */
export interface HttpMetrics {
  countOutcome(o: PushOutcome): void;
  countResponse(status: number): void;
  render(): Promise<{ contentType: string; body: string }>;
}

export interface HttpDeps {
  log: Logger;
  pushes: DeliverDeps["pushes"];
  registry: { lookup(endpoint: string): Registration | undefined };
  isOnline: () => boolean;
  publicUrl: string;
  messageId: () => string;
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
    ctx.status = online ? 200 : 503;
    ctx.body = { xmpp: online ? "online" : "offline" };
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

/** POST /up/<token> (an optional trailing slash or query is tolerated, as the router did). */
const PUSH_POST = /^\/up\/([^/?#]+)\/?(?:\?.*)?$/;

export function createHttpEdge(d: HttpDeps): HttpEdge {
  const deliver = deliverer({ pushes: d.pushes, limiter: d.limiter, countOutcome: d.metrics?.countOutcome });
  const koa = createApp(d, deliver).callback();
  const post: PushPost = pushPost({ log: d.log, deliver, publicUrl: d.publicUrl, messageId: d.messageId, countResponse: d.metrics?.countResponse });
  let closing = false;
  const server = createServer((req, res) => {
    // Once closing, every answer ends its connection, so keep-alive clients do not hold the shutdown.
    if (closing) res.setHeader("Connection", "close");
    const push = req.method === "POST" ? PUSH_POST.exec(req.url ?? "") : null;
    if (push) void post(req, res, push[1]!);
    else void koa(req, res);
  });
  server.keepAliveTimeout = 65_000; // longer than typical proxy idle timeouts
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
