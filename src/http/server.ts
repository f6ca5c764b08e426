// The HTTP edge: the only module that imports Koa. It turns requests into
// calls on the push service and outcomes into answers via one table.
import { createServer, type Server } from "node:http";
import Koa from "koa";
import Router from "@koa/router";
import type { Logger } from "../log.ts";
import type { PushMessage, PushService } from "../push.ts";
import type { Registry } from "../registry.ts";
import { isTokenShaped } from "../tokens.ts";
import { readBounded } from "./body.ts";
import { httpAnswer } from "./status.ts";

export const MAX_PAYLOAD = 4096; // bytes: the WebPush/UnifiedPush limit

const CORS = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Methods": "POST, GET, OPTIONS",
  "Access-Control-Allow-Headers": "content-type, content-encoding, ttl, urgency, topic, authorization",
  "Access-Control-Expose-Headers": "location, ttl, retry-after",
  "Access-Control-Max-Age": "86400",
};

export interface HttpDeps {
  log: Logger;
  pushes: PushService;
  registry: Registry;
  isOnline: () => boolean;
  publicUrl: string;
  messageId: () => string;
  parseMessage?: (headers: Record<string, string | string[] | undefined>, body: Buffer) => PushMessage | { error: string };
}

export function createApp(d: HttpDeps): Koa {
  const app = new Koa();
  const router = new Router();
  const fail = (ctx: Koa.Context, status: number, message: string): void => {
    ctx.status = status;
    ctx.body = { error: message };
  };

  router.get("/healthz", (ctx) => {
    const online = d.isOnline();
    ctx.status = online ? 200 : 503;
    ctx.body = { xmpp: online ? "online" : "offline" };
  });

  router.options("/up/:token", (ctx) => {
    ctx.set(CORS);
    ctx.status = 204;
  });

  router.get("/up/:token", (ctx) => {
    ctx.set(CORS);
    if (!isTokenShaped(ctx.params.token!) || !d.registry.lookup(ctx.params.token!)) return fail(ctx, 404, "no such endpoint");
    ctx.body = { unifiedpush: { version: 1 } };
  });

  router.post("/up/:token", async (ctx) => {
    ctx.set(CORS);
    const token = ctx.params.token!;
    const read = await readBounded(ctx.req, MAX_PAYLOAD);
    if (!read.ok) {
      if (read.reason === "aborted") return fail(ctx, 400, "request body aborted");
      ctx.set("Connection", "close"); // stop the sender rather than read what we will not keep
      return fail(ctx, 413, `payload larger than ${MAX_PAYLOAD} bytes`);
    }
    if (read.body.length === 0) return fail(ctx, 400, "empty payload");
    if (!isTokenShaped(token)) return fail(ctx, 404, "no such endpoint");
    const msg = d.parseMessage ? d.parseMessage(ctx.headers, read.body) : { payload: read.body };
    if ("error" in msg) return fail(ctx, 400, msg.error);
    const answer = httpAnswer(await d.pushes.push(token, msg));
    ctx.set(answer.headers);
    if (answer.status === 201) {
      ctx.set("Location", `${d.publicUrl}/message/${d.messageId()}`);
      ctx.status = 201;
      return;
    }
    fail(ctx, answer.status, answer.message ?? "");
  });

  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      d.log.error({ err, method: ctx.method }, "request failed");
      fail(ctx, 500, "internal error");
    }
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

export function createHttpEdge(app: Koa): HttpEdge {
  const server = createServer(app.callback());
  server.keepAliveTimeout = 65_000; // longer than typical proxy idle timeouts
  let closing = false;
  // Once closing, every answer ends its connection, so keep-alive clients do not hold the shutdown.
  server.on("request", (_req, res) => closing && res.setHeader("Connection", "close"));
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
