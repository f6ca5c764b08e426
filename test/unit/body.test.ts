import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { readBounded, type BodyResult } from "../../src/http/body.ts";

const LIMIT = 4096;
const MB = 1024 * 1024;

/** What the server saw of one request. */
interface Seen {
  result: BodyResult;
  bytesAtAnswer: number; // socket bytes read when readBounded resolved
  bytesLater: number; // and 150 ms later, to show reading stopped
}

interface TestServer {
  port: number;
  next(): Promise<Seen>;
}

const servers: Server[] = [];
after(() => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

async function startServer(): Promise<TestServer> {
  const waiting: ((s: Seen) => void)[] = [];
  const ready: Seen[] = [];
  const server = createServer(async (req, res) => {
    const result = await readBounded(req, LIMIT);
    const bytesAtAnswer = req.socket.bytesRead;
    // Answer at once, as the gateway does, then look at how much more was read.
    if (res.writable) {
      res.writeHead(result.ok ? 200 : result.reason === "too-large" ? 413 : 400, { "content-type": "text/plain" });
      res.end(result.ok ? String(result.body.length) : result.reason);
    }
    await sleep(150);
    const seen: Seen = { result, bytesAtAnswer, bytesLater: req.socket.bytesRead };
    const w = waiting.shift();
    if (w) w(seen);
    else ready.push(seen);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    next: () => {
      const s = ready.shift();
      return s ? Promise.resolve(s) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

/** POSTs the chunks; Content-Length only when given. Resolves with the status, or null if the server cut us off. */
function post(port: number, chunks: Buffer[], headers: Record<string, string> = {}): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method: "POST", path: "/up/x", agent: false, headers });
    let answered = false;
    req.on("response", (res) => {
      answered = true;
      res.resume();
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    req.on("error", (err: NodeJS.ErrnoException) => {
      if (answered) return;
      if (err.code === "ECONNRESET" || err.code === "EPIPE") resolve(null);
      else reject(err);
    });
    let i = 0;
    const pump = (): void => {
      while (!answered && i < chunks.length) {
        if (!req.write(chunks[i++]!)) {
          req.once("drain", pump);
          return;
        }
      }
      if (!answered) req.end();
    };
    pump();
  });
}

test("a body of exactly 4096 bytes with Content-Length is read whole", async () => {
  const s = await startServer();
  const body = randomBytes(LIMIT);
  const status = await post(s.port, [body], { "content-length": String(LIMIT) });
  const seen = await s.next();
  assert.equal(status, 200);
  assert.ok(seen.result.ok);
  assert.deepEqual(seen.result.body, body);
});

test("a body of exactly 4096 bytes sent chunked in pieces is read whole", async () => {
  const s = await startServer();
  const body = randomBytes(LIMIT);
  const pieces = [body.subarray(0, 1000), body.subarray(1000, 1001), body.subarray(1001, 4000), body.subarray(4000)];
  await post(s.port, pieces);
  const seen = await s.next();
  assert.ok(seen.result.ok);
  assert.deepEqual(seen.result.body, body);
});

test("an empty body is read as zero bytes", async () => {
  const s = await startServer();
  await post(s.port, [], { "content-length": "0" });
  const seen = await s.next();
  assert.ok(seen.result.ok);
  assert.equal(seen.result.body.length, 0);
});

test("a Content-Length of 4097 is refused as too-large before any body byte arrives", async () => {
  const s = await startServer();
  const req = request({ host: "127.0.0.1", port: s.port, method: "POST", path: "/up/x", agent: false, headers: { "content-length": "4097" } });
  const status = new Promise<number | undefined>((resolve, reject) => {
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on("error", reject);
  });
  req.flushHeaders(); // headers only: the body is never sent
  const seen = await s.next();
  assert.deepEqual(seen.result, { ok: false, reason: "too-large" });
  assert.ok(seen.bytesLater < LIMIT, `read ${seen.bytesLater} bytes, more than the headers`);
  assert.equal(await status, 413);
  req.destroy();
});

test("a chunked body of 4097 bytes is refused as too-large", async () => {
  const s = await startServer();
  await post(s.port, [randomBytes(4000), randomBytes(97)]);
  const seen = await s.next();
  assert.deepEqual(seen.result, { ok: false, reason: "too-large" });
});

test("a 10 MB chunked upload without Content-Length stops being read early", async () => {
  const s = await startServer();
  const chunk = Buffer.alloc(16 * 1024, 0x61);
  const chunks = Array.from({ length: (10 * MB) / chunk.length }, () => chunk);
  const client = post(s.port, chunks);
  const seen = await s.next();
  assert.deepEqual(seen.result, { ok: false, reason: "too-large" });
  assert.ok(seen.bytesAtAnswer < MB / 4, `${seen.bytesAtAnswer} bytes read before the answer`);
  // After the answer we drop at most about 1 MB more (lingering close), then cut the connection.
  assert.ok(seen.bytesLater < 1.5 * MB, `${seen.bytesLater} bytes read 150 ms after the answer: reading did not stop`);
  const status = await client;
  assert.ok(status === 413 || status === null, `client saw ${status}`);
});

test("a client that disconnects mid-body gives aborted", async () => {
  const s = await startServer();
  const req = request({ host: "127.0.0.1", port: s.port, method: "POST", path: "/up/x", agent: false });
  req.on("error", () => {});
  req.write(randomBytes(100));
  await sleep(50);
  req.destroy();
  const seen = await s.next();
  assert.deepEqual(seen.result, { ok: false, reason: "aborted" });
});
