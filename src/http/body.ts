// Reads a request body without ever holding more than the limit: a 1 GB
// chunked upload is cut off at limit + 1 bytes.
import type { IncomingMessage } from "node:http";

/** After a 413, how much more we read and drop so the sender sees the answer (nginx's lingering close). */
const LINGER_BYTES = 1024 * 1024;
const LINGER_MS = 2000;

export type BodyResult = { ok: true; body: Buffer } | { ok: false; reason: "too-large" | "aborted" };

export function readBounded(req: IncomingMessage, limit: number): Promise<BodyResult> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    linger(req);
    return Promise.resolve({ ok: false, reason: "too-large" });
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (r: BodyResult): void => {
      req.off("data", onData).off("end", onEnd).off("error", onError).off("aborted", onError);
      resolve(r);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        done({ ok: false, reason: "too-large" });
        linger(req);
      } else chunks.push(chunk);
    };
    const onEnd = (): void => done({ ok: true, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size) });
    const onError = (): void => done({ ok: false, reason: "aborted" });
    req.on("data", onData).on("end", onEnd).on("error", onError).on("aborted", onError);
  });
}

/**
 * Closing at once would reset the connection while the sender is still
 * writing, and it might never read our 413. So, like nginx's lingering close:
 * drop what arrives; past LINGER_BYTES end our side (the answer goes out
 * first, then FIN, which tells the sender to stop); cut for good after LINGER_MS.
 */
function linger(req: IncomingMessage): void {
  let dropped = 0;
  const timer = setTimeout(() => req.socket.destroy(), LINGER_MS);
  timer.unref();
  req.on("data", (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > LINGER_BYTES && !req.socket.writableEnded) req.socket.end();
  });
  req.on("end", () => clearTimeout(timer));
  req.resume();
}
