// The load generator, in its own process so its CPU is not the gateway's:
// `concurrency` closed loops POST to the endpoints round robin over
// keep-alive connections until the duration is up, then wait for the
// requests still in flight.
import { Agent, request } from "node:http";
import { randomBytes } from "node:crypto";
import { serve } from "./child.ts";
import { Connection, requestBytes, type Target } from "./http1.ts";
import { Recorder, type RunStats } from "./stats.ts";

export interface LoadRun {
  /** Endpoint URLs; every request goes to 127.0.0.1 on the URL's port, with the URL's Host (several ports: see leanPosts). */
  targets: string[];
  concurrency: number;
  durationMs: number;
  payloadSize: number;
  timeoutMs: number;
  /** lean: http1.ts; node: node:http with a keep-alive Agent. */
  client: "lean" | "node";
  /** Send at most this many requests, then stop (before the duration if need be). */
  count?: number;
}

// What a WebPush sender (Mastodon, a Matrix push gateway) sends along.
const HEADERS = { "Content-Type": "application/octet-stream", "Content-Encoding": "aes128gcm", TTL: "60" };

type Post = (i: number) => Promise<number | string>;

function nodePosts(targets: Target[], body: Buffer, r: LoadRun): { posts: Post[]; close(): void } {
  const agent = new Agent({ keepAlive: true, maxSockets: r.concurrency, maxFreeSockets: r.concurrency });
  const post: Post = (i) =>
    new Promise((resolve) => {
      const t = targets[i % targets.length]!;
      const req = request(
        { host: "127.0.0.1", port: t.port, path: t.path, method: "POST", agent, headers: { ...HEADERS, host: t.host, "content-length": body.length } },
        (res) => {
          res.on("end", () => resolve(res.statusCode ?? 0));
          res.on("error", (e: NodeJS.ErrnoException) => resolve(`net:${e.code ?? e.message}`));
          res.resume();
        },
      );
      req.setTimeout(r.timeoutMs, () => req.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })));
      req.on("error", (e: NodeJS.ErrnoException) => resolve(`net:${e.code ?? e.message}`));
      req.end(body);
    });
  return { posts: Array<Post>(r.concurrency).fill(post), close: () => agent.destroy() };
}

/**
 * One lean connection per loop; a request that outlives the timeout closes its
 * connection. Targets on several ports (several gateways, `--database
 * postgres`): loop k keeps one connection to the k-th port (round robin) and
 * posts to that port's targets, as a load balancer spreads connections.
 */
function leanPosts(targets: Target[], body: Buffer, r: LoadRun): { posts: Post[]; close(): void } {
  const ports = [...new Set(targets.map((t) => t.port))];
  const bytes = ports.map((p) => targets.filter((t) => t.port === p).map((t) => requestBytes(t, body, HEADERS)));
  const conns: Connection[] = [];
  const sweep = setInterval(() => {
    const late = performance.now() - r.timeoutMs;
    for (const c of conns) if (c.busy && c.startedAt < late) c.destroy("net:TIMEOUT");
  }, 250);
  const posts = Array.from({ length: r.concurrency }, (_, k): Post => {
    const port = ports[k % ports.length]!;
    const mine = bytes[k % ports.length]!;
    return (i) => {
      if (!conns[k]?.usable) conns[k] = new Connection(port);
      return conns[k]!.send(mine[i % mine.length]!);
    };
  });
  return { posts, close: () => (clearInterval(sweep), conns.forEach((c) => c.destroy())) };
}

async function run(r: LoadRun): Promise<RunStats> {
  const targets: Target[] = r.targets.map((u) => {
    const url = new URL(u);
    return { port: Number(url.port || 80), path: url.pathname, host: url.host };
  });
  // Random bytes, like the aes128gcm ciphertext real senders post.
  const body = randomBytes(r.payloadSize);
  const client = (r.client === "node" ? nodePosts : leanPosts)(targets, body, r);
  const rec = new Recorder();
  let next = 0;

  const started = performance.now();
  const end = started + r.durationMs;
  const loop = async (k: number): Promise<void> => {
    const post = client.posts[k]!;
    while (performance.now() < end && (r.count === undefined || next < r.count)) {
      const t0 = performance.now();
      const status = await post(next++);
      if (status === 201) rec.success(performance.now() - t0);
      else rec.failure(String(status));
    }
  };
  await Promise.all(Array.from({ length: r.concurrency }, (_, k) => loop(k)));
  const stats = rec.stats((performance.now() - started) / 1000);
  client.close();
  return stats;
}

serve((m: { op: "run" } & LoadRun) => run(m));
