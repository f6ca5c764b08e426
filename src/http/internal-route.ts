// POST /internal/push/<endpoint>: the link holder's side of the hop from a
// standby (src/cluster/hop.ts, docs/high-availability.md). Only the other
// instances call it, with a token derived from the shared component secret;
// anyone else gets 403 and nothing more. Never a public push endpoint: the
// hot path in server.ts serves POST /up/<token> only, and this answers with
// the outcome as data (JSON), never with a push's HTTP status, so the
// standby maps it with the same table (status.ts) as a single gateway would.
import type Router from "@koa/router";
import type { Logger } from "../log.ts";
import type { PushOutcome } from "../outcomes.ts";
import type { PushMessage } from "../push.ts";
import { HOP_PREFIX, authorized, hopToken, messageFrom } from "../cluster/hop-wire.ts";
import { isTokenShaped } from "../tokens.ts";
import { MAX_PAYLOAD } from "../webpush.ts";
import { readBounded } from "./body.ts";

export interface InternalRouteDeps {
  /** The XMPP component secret, shared by every instance. Never logged. */
  secret: string;
  /** The holder's own push (PushService.push, without the rate limit: the standby took it already). */
  push: (endpoint: string, msg: PushMessage) => Promise<PushOutcome>;
  /**
   * False on an instance that is not (or no longer) the link holder: it
   * answers 421 and the standby falls back as for a failed hop, rather than
   * hopping on or pushing without a link. Without it, always the holder.
   */
  isHolder?: () => boolean;
  log: Logger;
}

export function internalRoutes(router: Router, d: InternalRouteDeps): void {
  const token = hopToken(d.secret);
  router.post(`${HOP_PREFIX}:endpoint`, async (ctx) => {
    if (!authorized(ctx.get("authorization") || undefined, token)) {
      // debug: anyone on the internet may knock; an instance of ours with another secret is told 403 and warns (hop.ts)
      d.log.debug({ from: ctx.ip }, "internal push refused: bad or missing hop token");
      ctx.status = 403;
      ctx.body = { error: "forbidden" };
      return;
    }
    if (d.isHolder && !d.isHolder()) {
      ctx.status = 421; // RFC 9110 §15.5.20 Misdirected Request: not the holder
      ctx.body = { error: "not the link holder" };
      return;
    }
    const read = await readBounded(ctx.req, MAX_PAYLOAD);
    if (!read.ok) {
      ctx.status = read.reason === "too-large" ? 413 : 400;
      ctx.body = { error: read.reason };
      return;
    }
    const endpoint = ctx.params.endpoint!;
    const outcome: PushOutcome = isTokenShaped(endpoint) ? await d.push(endpoint, messageFrom(read.body, ctx.headers)) : { kind: "gone" };
    ctx.status = 200;
    ctx.body = outcome;
  });
}
