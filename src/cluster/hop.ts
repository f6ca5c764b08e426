// The standby's side of the internal hop: POST a push to the link holder's
// /internal/push/<endpoint> and read back its PushOutcome (hop-wire.ts).
// One keep-alive agent, so a busy standby reuses its connections to the
// holder instead of paying a TCP handshake per push. Undefined means the hop
// failed (refused, timed out, the holder died mid-request, refused our
// token, answered something else): the caller cannot know whether the push
// went out, and decides (handoff.ts).
import { Agent, request, type ClientRequest } from "node:http";
import type { Logger } from "../log.ts";
import type { PushOutcome } from "../outcomes.ts";
import type { PushMessage } from "../push.ts";
import { HOP_PREFIX, hopToken, messageHeaders, parseOutcome } from "./hop-wire.ts";
import { splitHostPort } from "../hostport.ts";

export type Forward = (address: string, endpoint: string, msg: PushMessage, timeoutMs: number) => Promise<PushOutcome | undefined>;

export interface HopClientOptions {
  /** The XMPP component secret, shared by every instance; only its HMAC is sent (hop-wire.ts). Never logged. */
  secret: string;
  log: Logger;
  /** Connections kept open to the holder. */
  maxSockets?: number;
}

/**
 * Idle kept connections are closed before the holder's server closes them
 * (server.ts keepAliveTimeout, 65 s): a push written on a connection the
 * server is closing fails, and would be kept rather than delivered at once.
 */
const IDLE_MS = 30_000;

/** An outcome is a few dozen bytes; more is not a holder of ours. */
const MAX_ANSWER_BYTES = 1024;

export class HopClient {
  private readonly auth: string;
  private readonly agent: Agent;

  constructor(private readonly o: HopClientOptions) {
    this.auth = `Bearer ${hopToken(o.secret)}`;
    this.agent = new Agent({ keepAlive: true, maxSockets: o.maxSockets ?? 64, scheduling: "lifo", timeout: IDLE_MS });
  }

  forward: Forward = (address, endpoint, msg, timeoutMs) =>
    new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      const done = (o: PushOutcome | undefined, why?: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (why !== undefined) this.o.log.warn({ holder: address, reason: why }, "hop to the link holder failed");
        resolve(o);
      };
      let req: ClientRequest;
      try {
        req = this.send(address, endpoint, msg, done);
      } catch (err) {
        return done(undefined, (err as Error).message); // an address or a header value node:http refuses
      }
      timer = setTimeout(() => {
        done(undefined, `no answer within ${timeoutMs} ms`);
        req.destroy(); // a socket that hangs is not given back to the agent
      }, timeoutMs);
      req.on("error", (err) => done(undefined, err.message));
      req.end(msg.payload);
    });

  private send(address: string, endpoint: string, msg: PushMessage, done: (o: PushOutcome | undefined, why?: string) => void): ClientRequest {
    const to = splitHostPort(address);
    if (!to) throw new Error("not a host:port address");
    const req = request(
      {
        agent: this.agent,
        method: "POST",
        host: to.host,
        port: to.port,
        path: HOP_PREFIX + encodeURIComponent(endpoint),
        headers: { authorization: this.auth, "content-type": "application/octet-stream", "content-length": msg.payload.length, ...messageHeaders(msg) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > MAX_ANSWER_BYTES) req.destroy(new Error("answer too large"));
          else chunks.push(c);
        });
        res.on("end", () => {
          if (res.statusCode !== 200) return done(undefined, `status ${res.statusCode}`);
          const o = parseOutcome(Buffer.concat(chunks).toString("utf8"));
          done(o, o === undefined ? "not an outcome" : undefined);
        });
        res.on("error", (err) => done(undefined, err.message));
        res.on("close", () => done(undefined, "the holder closed the connection mid-answer")); // after "end" a no-op
      },
    );
    return req;
  }

  /** Ends the kept connections. */
  close(): void {
    this.agent.destroy();
  }
}
