// The Matrix push gateway (PROTOCOL.md, "Matrix push gateway"): a homeserver
// posts a notification for devices whose pushkeys are our endpoint URLs.
// Every error is a Matrix standard error body: {"errcode": ..., "error": ...}.
import type Router from "@koa/router";
import type { Context, Next } from "koa";
import type { Logger } from "../log.ts";
import { DISCOVERY, endpointOf, eventIdOf, MAX_NOTIFY_REQUEST, notifyAnswer, parseNotify, payloadFor, type Delivered } from "../matrix.ts";
import type { NotifyDedupe } from "../matrix-dedupe.ts";
import { readBounded } from "./body.ts";
import { otherMethods } from "./reply.ts";
import type { Deliver } from "./deliver.ts";
import { httpAnswer, problemAnswer, type HttpAnswer } from "./status.ts";

export const NOTIFY_PATH = "/_matrix/push/v1/notify";

export interface MatrixRouteDeps {
  log: Logger;
  deliver: Deliver;
  publicUrl: string;
  /** Suppresses a homeserver's retry of an event already delivered to a pushkey. */
  dedupe?: Pick<NotifyDedupe, "once">;
}

/** Matrix errcodes for the statuses this route answers (Matrix API standards, "Common error codes"). */
const ERRCODE: Record<number, string> = { 400: "M_BAD_JSON", 404: "M_UNRECOGNIZED", 405: "M_UNRECOGNIZED", 413: "M_TOO_LARGE", 429: "M_LIMIT_EXCEEDED" };

function matrixReply(ctx: Context, a: HttpAnswer, errcode = ERRCODE[a.status] ?? "M_UNKNOWN"): void {
  ctx.set(a.headers);
  ctx.status = a.status;
  const retry = Number(a.headers["Retry-After"]);
  ctx.body = { errcode, error: a.message ?? "", ...(a.status === 429 && retry > 0 && { retry_after_ms: retry * 1000 }) };
}

export function matrixRoutes(router: Router, d: MatrixRouteDeps): void {
  router.get(NOTIFY_PATH, (ctx) => {
    ctx.body = DISCOVERY;
  });

  router.post(NOTIFY_PATH, async (ctx) => {
    const read = await readBounded(ctx.req, MAX_NOTIFY_REQUEST);
    if (!read.ok) {
      if (read.reason === "aborted") return matrixReply(ctx, problemAnswer("aborted"), "M_UNKNOWN");
      return matrixReply(ctx, problemAnswer("too-large", `notify request larger than ${MAX_NOTIFY_REQUEST} bytes`));
    }
    const n = parseNotify(read.body);
    if ("error" in n) return matrixReply(ctx, problemAnswer("bad-json", n.error), n.errcode);
    const payload = payloadFor(read.body, n);
    if (!payload) return matrixReply(ctx, problemAnswer("too-large", "the notification does not fit in a push even without its content"));
    const eventId = eventIdOf(n);
    const send = (endpoint: string, pushkey: string) =>
      d.dedupe ? d.dedupe.once(pushkey, eventId, () => d.deliver(endpoint, { payload })) : d.deliver(endpoint, { payload });
    const results = await Promise.all(
      n.pushkeys.map(async (pushkey): Promise<Delivered> => {
        const endpoint = endpointOf(pushkey, d.publicUrl);
        return { pushkey, outcome: endpoint ? await send(endpoint, pushkey) : { kind: "gone" } };
      }),
    );
    const answer = notifyAnswer(results);
    if ("retry" in answer) return matrixReply(ctx, httpAnswer(answer.retry));
    if (answer.rejected.length > 0) d.log.debug({ devices: results.length, rejected: answer.rejected.length }, "matrix notify: pushkeys rejected");
    ctx.body = { rejected: answer.rejected };
  });

  otherMethods(router, NOTIFY_PATH, "GET, HEAD, POST", "here; POST a notification", (ctx, a) => matrixReply(ctx, a));
}

/** After the router: any other path under /_matrix/ is a Matrix 404, not Koa's plain-text one. */
export async function matrixNotFound(ctx: Context, next: Next): Promise<void> {
  await next();
  if (ctx.path.startsWith("/_matrix/") && ctx.status === 404 && ctx.body == null) {
    matrixReply(ctx, { status: 404, headers: {}, message: "unknown Matrix endpoint; this gateway serves POST /_matrix/push/v1/notify" });
  }
}
