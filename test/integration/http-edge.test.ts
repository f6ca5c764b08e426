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
  assert.deepEqual(await res.json(), { xmpp: "online" });
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
