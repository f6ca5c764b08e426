// Every row of PROTOCOL.md's HTTP status table, against the gateway process.
import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, test } from "node:test";
import { connectDistributor, type Distributor } from "../harness/distributor.ts";
import { startGateway, type Gateway } from "../harness/gateway.ts";
import { startProsody, type Prosody } from "../harness/prosody.ts";

let prosody: Prosody;
let gateway: Gateway;
let bob: Distributor;
let endpoint: string;

before(async () => {
  prosody = await startProsody();
  gateway = await startGateway(prosody);
  await gateway.waitHealthy(15_000);
  bob = await connectDistributor(prosody, { username: "bob" });
  endpoint = await bob.endpoint1("http-edge");
});
after(async () => {
  await bob?.stop();
  await gateway?.cleanup();
  await prosody?.stop();
});

const post = (url: string, body: BodyInit, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(url, { method: "POST", body, headers });

test("/healthz answers 200 while the component is online", async () => {
  const res = await fetch(`${gateway.url}/healthz`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { xmpp: "online", store: "ok", link_holder: true });
});

test("a POST of 1 byte and of exactly 4096 bytes is answered 201 with Location and TTL", async () => {
  for (const size of [1, 4096]) {
    const res = await post(endpoint, Buffer.alloc(size, 0x61));
    assert.equal(res.status, 201, `size ${size}`);
    assert.ok(res.headers.get("location"), "Location header");
    assert.equal(res.headers.get("ttl"), "0");
  }
});

test("every 201 carries its own message Location", async () => {
  const a = (await post(endpoint, "one")).headers.get("location");
  const b = (await post(endpoint, "two")).headers.get("location");
  assert.ok(a && b);
  assert.notEqual(a, b);
});

test("an empty POST is answered 400 with a message", async () => {
  const res = await post(endpoint, "");
  assert.equal(res.status, 400);
  assert.match((await res.json()).error, /empty/);
});

test("a POST of 4097 bytes is answered 413", async () => {
  const res = await post(endpoint, Buffer.alloc(4097, 0x61));
  assert.equal(res.status, 413);
  assert.match((await res.json()).error, /4096/);
});

test("a chunked upload without Content-Length is cut off with 413 long before 1 GB is read", async () => {
  const { status, sent } = await new Promise<{ status: number; sent: number }>((resolve, reject) => {
    const req = request(endpoint, { method: "POST", headers: { "Transfer-Encoding": "chunked" } });
    const chunk = Buffer.alloc(64 * 1024, 0x62);
    let sent = 0;
    let answered = false;
    req.on("response", (res) => {
      answered = true;
      res.resume();
      resolve({ status: res.statusCode!, sent });
      req.destroy();
    });
    req.on("error", (err) => (answered ? undefined : reject(err)));
    const pump = (): void => {
      while (!answered && sent < 1024 ** 3) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once("drain", pump);
      }
      if (!answered) req.end();
    };
    pump();
  });
  assert.equal(status, 413);
  assert.ok(sent < 64 * 1024 * 1024, `the sender could push ${sent} bytes before the answer`);
});

test("a well-formed but unknown token and a malformed token are answered 404", async () => {
  assert.equal((await post(`${gateway.url}/up/${"A".repeat(32)}`, "x")).status, 404);
  assert.equal((await post(`${gateway.url}/up/not-a-token`, "x")).status, 404);
  assert.equal((await fetch(`${gateway.url}/up/${"A".repeat(32)}`)).status, 404);
});

test("GET on an endpoint answers the UnifiedPush discovery document", async () => {
  const res = await fetch(endpoint);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { unifiedpush: { version: 1 } });
});

test("PUT, DELETE and PATCH on an endpoint are answered 405 with an Allow that names POST (RFC 9110 §15.5.6)", async () => {
  for (const method of ["PUT", "DELETE", "PATCH"]) {
    const res = await fetch(endpoint, { method, body: method === "DELETE" ? undefined : "x" });
    assert.equal(res.status, 405, method);
    const allow = (res.headers.get("allow") ?? "").split(",").map((m) => m.trim());
    for (const m of ["POST", "GET", "HEAD", "OPTIONS"]) assert.ok(allow.includes(m), `${method}: Allow ${allow.join(", ")} lacks ${m}`);
    assert.match((await res.json()).error, /POST/);
  }
});

test("HEAD on an endpoint answers like GET, without a body", async () => {
  const get = await fetch(endpoint);
  const getBody = await get.text();
  const head = await new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const req = request(endpoint, { method: "HEAD" }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
  assert.equal(head.status, get.status);
  assert.equal(head.body, "");
  assert.equal(head.headers["content-type"], get.headers.get("content-type"));
  assert.equal(Number(head.headers["content-length"]), Buffer.byteLength(getBody));
  assert.equal((await fetch(`${gateway.url}/up/${"A".repeat(32)}`, { method: "HEAD" })).status, 404);
});

/** One request on node:http, whose `path` may be a whole URL (absolute form). */
function raw(method: string, path: string, body?: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: gateway.port, method, path }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

test("a POST in absolute form (RFC 9112 §3.2.2: POST http://host/up/<token>) is a push like any other", async () => {
  const res = await raw("POST", endpoint, "in absolute form");
  assert.equal(res.status, 201, res.body);
  assert.equal(res.headers.ttl, "0");
  await bob.waitForMessage((m) => m.getChildText("body") === "in absolute form");
  const unknown = await raw("POST", `${gateway.url}/up/${"A".repeat(32)}`, "x");
  assert.equal(unknown.status, 404, unknown.body);
});

test("bytes that are not HTTP are answered 400 with a JSON reason, and the connection is closed", async () => {
  const { connect } = await import("node:net");
  const socket = connect({ port: gateway.port, host: "127.0.0.1", allowHalfOpen: true });
  let response = "";
  socket.on("data", (c: Buffer) => (response += c.toString("latin1")));
  socket.on("error", () => undefined);
  socket.write("\x16\x03\x01 this is a TLS hello, not HTTP\r\n\r\n");
  // A half-open client learns that the gateway really closed (not just ended its side) when its next writes fail.
  const poke = setInterval(() => socket.writable && socket.write("x"), 100);
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`still open; got ${JSON.stringify(response)}`)), 5000);
      socket.on("close", () => (clearTimeout(t), resolve()));
    });
  } finally {
    clearInterval(poke);
    socket.destroy();
  }
  assert.match(response, /^HTTP\/1\.1 400 /);
  assert.match(response, /\{"error":"malformed HTTP request"\}$/);
});

test("headers over 16 KiB are answered 431 with a JSON reason; 15 KiB of headers are a push as usual", async () => {
  const ok = await post(endpoint, "big headers", { "X-Padding": "p".repeat(15 * 1024) });
  assert.equal(ok.status, 201);
  const big = await post(endpoint, "too big headers", { "X-Padding": "p".repeat(17 * 1024) });
  assert.equal(big.status, 431);
  assert.deepEqual(await big.json(), { error: "request headers too large" });
});

test("the Location of a delivered message answers DELETE with 410, GET with 404, and its id is 22 random URL-safe characters", async () => {
  const res = await post(endpoint, "delivered at once");
  assert.equal(res.status, 201);
  assert.equal(res.headers.get("ttl"), "0");
  const location = res.headers.get("location")!;
  assert.match(location, new RegExp(`^${gateway.url}/message/[A-Za-z0-9_-]{22}$`));
  assert.equal((await fetch(location, { method: "DELETE" })).status, 410);
  assert.equal((await fetch(location)).status, 404);
  assert.equal((await fetch(location, { method: "PUT", body: "x" })).status, 405);
  // an id we could never have issued is not a message at all
  assert.equal((await fetch(`${gateway.url}/message/short`, { method: "DELETE" })).status, 404);
});

test("DELETE on the Location of a stored message cancels it: 204, then 410, and the distributor never gets it", async () => {
  const away = await connectDistributor(prosody, { username: "carol", resource: "phone" });
  const app = away.hash("uuid", "org.example.cancel");
  const { endpoint: e2 } = await away.register2(app, away.hash("uuid", "i"));
  await away.stop();
  const kept = await post(e2, "cancel me", { TTL: "600" });
  const stays = await post(e2, "keep me", { TTL: "600" });
  assert.equal(kept.status, 201);
  assert.equal(kept.headers.get("ttl"), "600");
  assert.equal(stays.status, 201);
  const location = kept.headers.get("location")!;
  assert.equal((await fetch(location, { method: "DELETE" })).status, 204);
  assert.equal((await fetch(location, { method: "DELETE" })).status, 410);
  await away.reconnect();
  await away.sendPresence();
  await away.waitForPush((p) => p.payload.toString() === "keep me", 10_000);
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(away.pushes.map((p) => p.payload.toString()), ["keep me"]);
  // delivered now: its Location is gone too
  assert.equal((await fetch(stays.headers.get("location")!, { method: "DELETE" })).status, 410);
  await away.stop();
});

test("an OPTIONS preflight allows any origin and the WebPush headers", async () => {
  const res = await fetch(endpoint, {
    method: "OPTIONS",
    headers: { Origin: "https://app.example", "Access-Control-Request-Method": "POST" },
  });
  assert.ok(res.status === 204 || res.status === 200, `status ${res.status}`);
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  const allowed = (res.headers.get("access-control-allow-headers") ?? "").toLowerCase();
  for (const h of ["content-type", "content-encoding", "ttl", "urgency", "topic", "authorization"]) assert.ok(allowed.includes(h), h);
});

test("while the component link is down a POST is answered 503 with Retry-After, and all recovers by itself", async () => {
  await prosody.halt();
  try {
    await gateway.waitUnhealthy(10_000);
    assert.equal((await fetch(`${gateway.url}/healthz`)).status, 503);
    const res = await post(endpoint, "while down");
    assert.equal(res.status, 503);
    assert.ok(Number(res.headers.get("retry-after")) > 0, "Retry-After in seconds");
  } finally {
    await prosody.resume();
  }
  // The gateway reconnects on its own (backoff starts at 1 s); the distributor is reconnected by the test.
  await gateway.waitHealthy(20_000);
  await bob.reconnect();
  assert.equal((await post(endpoint, "after the restart")).status, 201);
  await bob.waitForMessage((m) => m.getChildText("body") === "after the restart");
});
