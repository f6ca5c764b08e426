// The Matrix push gateway (PROTOCOL.md, "Matrix push gateway"): a homeserver
// posts a notification for devices whose pushkeys are our endpoint URLs.
import type Router from "@koa/router";
import type { Logger } from "../log.ts";
import { DISCOVERY, endpointOf, eventIdOf, MAX_NOTIFY_REQUEST, notifyAnswer, parseNotify, payloadFor, type Delivered } from "../matrix.ts";
import type { NotifyDedupe } from "../matrix-dedupe.ts";
import { readBounded } from "./body.ts";
import type { Deliver } from "./deliver.ts";
import { reply } from "./reply.ts";
import { httpAnswer, problemAnswer } from "./status.ts";

export const NOTIFY_PATH = "/_matrix/push/v1/notify";

export interface MatrixRouteDeps {
  log: Logger;
  deliver: Deliver;
  publicUrl: string;
  /** Suppresses a homeserver's retry of an event already delivered to a pushkey. */
  dedupe?: Pick<NotifyDedupe, "once">;
}

export function matrixRoutes(router: Router, d: MatrixRouteDeps): void {
  router.get(NOTIFY_PATH, (ctx) => {
    ctx.body = DISCOVERY;
  });

  router.post(NOTIFY_PATH, async (ctx) => {
    const read = await readBounded(ctx.req, MAX_NOTIFY_REQUEST);
    if (!read.ok) {
      if (read.reason === "aborted") return reply(ctx, problemAnswer("aborted"));
      return reply(ctx, problemAnswer("too-large", `notify request larger than ${MAX_NOTIFY_REQUEST} bytes`));
    }
    const n = parseNotify(read.body);
    if ("error" in n) return reply(ctx, problemAnswer("bad-json", n.error));
    const payload = payloadFor(read.body, n);
    if (!payload) return reply(ctx, problemAnswer("too-large", "the notification does not fit in a push even without its content"));
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
    if ("retry" in answer) return reply(ctx, httpAnswer(answer.retry));
    if (answer.rejected.length > 0) d.log.debug({ devices: results.length, rejected: answer.rejected.length }, "matrix notify: pushkeys rejected");
    ctx.body = { rejected: answer.rejected };
  });
}
