// /message/:id, the Location of a 201 (RFC 8030 §5: the push message
// resource). DELETE cancels a message that is still stored, as Mozilla's
// autopush lets app servers do; nothing can be read back from it.
import type Router from "@koa/router";
import { isMessageIdShaped } from "../tokens.ts";
import { otherMethods, reply } from "./reply.ts";
import { cancelAnswer, type CancelOutcome } from "./status.ts";

export interface MessageRouteDeps {
  cancel: (id: string) => Promise<Exclude<CancelOutcome, "not-ours">>;
}

export function messageRoutes(router: Router, d: MessageRouteDeps): void {
  router.delete("/message/:id", async (ctx) => {
    const id = ctx.params.id!;
    reply(ctx, cancelAnswer(isMessageIdShaped(id) ? await d.cancel(id) : "not-ours"));
  });

  // Only the distributor ever reads a message; GET says nothing about whether one is stored.
  router.get("/message/:id", (ctx) => {
    reply(ctx, { status: 404, headers: {}, message: "a push message cannot be read back; DELETE cancels one that is still stored" });
  });

  otherMethods(router, "/message/:id", "DELETE, GET, HEAD", "on a push message; DELETE cancels it");
}
