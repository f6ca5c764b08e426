// Slow senders against the gateway process: [http] request_timeout bounds how
// long a request may take to arrive (408, connection closed), and a crowd of
// half-open connections does not slow the pushes on other connections.
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, test } from "node:test";
import { connectDistributor, type Distributor } from "../harness/distributor.ts";
import { startGateway, type Gateway } from "../harness/gateway.ts";
import { startProsody, type Prosody } from "../harness/prosody.ts";

const REQUEST_TIMEOUT = 3; // s, short so the test is
let prosody: Prosody;
let gateway: Gateway;
let bob: Distributor;
let endpoint: string;

before(async () => {
  prosody = await startProsody();
  gateway = await startGateway(prosody, { http: { request_timeout: REQUEST_TIMEOUT } });
  await gateway.waitHealthy(15_000);
  bob = await connectDistributor(prosody, { username: "bob" });
  endpoint = await bob.endpoint1("slow");
});
after(async () => {
  await bob?.stop();
  await gateway?.cleanup();
  await prosody?.stop();
});

interface Ended {
  ms: number;
  response: string;
}

/** How long a dripper waits for the gateway to close its connection before it gives up (and the test fails). */
const GIVE_UP_MS = (REQUEST_TIMEOUT + 10) * 1000;

/**
 * A raw connection that sends `head` now and then one byte of `drip` per
 * second until the gateway closes it. Half-open, as a slowloris client is: it
 * never ends its own side, so only the gateway can close the connection.
 */
function dripper(head: string, drip: string): { socket: Socket; ended: Promise<Ended> } {
  const started = performance.now();
  const socket = connect({ port: gateway.port, host: "127.0.0.1", allowHalfOpen: true });
  const giveUp = setTimeout(() => socket.destroy(), GIVE_UP_MS);
  let response = "";
  let i = 0;
  const timer = setInterval(() => {
    if (i < drip.length && socket.writable) socket.write(drip[i++]!);
  }, 1000);
  socket.on("connect", () => socket.write(head));
  socket.on("data", (c: Buffer) => (response += c.toString("latin1")));
  const ended = new Promise<Ended>((resolve) => {
    socket.on("close", () => {
      clearInterval(timer);
      clearTimeout(giveUp);
      resolve({ ms: performance.now() - started, response });
    });
    socket.on("error", () => undefined);
  });
  return { socket, ended };
}

const path = (): string => new URL(endpoint).pathname;

test("a body dripped at 1 byte/s is answered 408 within request_timeout + 5 s, and its connection closed", async (t) => {
  const body = "x".repeat(100);
  const { ended } = dripper(`POST ${path()} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${body.length}\r\n\r\n`, body);
  const { ms, response } = await ended;
  t.diagnostic(`408 after ${ms.toFixed(0)} ms (request_timeout ${REQUEST_TIMEOUT} s)`);
  assert.match(response, /^HTTP\/1\.1 408 /, response);
  assert.ok(ms < (REQUEST_TIMEOUT + 5) * 1000, `answered after ${ms} ms`);
  assert.ok(ms >= REQUEST_TIMEOUT * 1000 - 500, `answered after ${ms} ms: before the timeout`);
  assert.match(response, /"error":"the request did not arrive within 3 s"/);
  const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
  assert.match(metrics, /up_gateway_http_responses_total\{status="408"\} [1-9]/);
});

test("headers dripped at 1 byte/s are answered 408 within request_timeout + 5 s", async () => {
  const { ended } = dripper("POST ", `${path()} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\n\r\nx`);
  const { ms, response } = await ended;
  assert.match(response, /^HTTP\/1\.1 408 /, response);
  assert.ok(ms < (REQUEST_TIMEOUT + 5) * 1000, `answered after ${ms} ms`);
});

test("a request that arrives in time is answered as usual on a gateway with a short request_timeout", async () => {
  const res = await fetch(endpoint, { method: "POST", body: "in time" });
  assert.equal(res.status, 201);
  await bob.waitForMessage((m) => m.getChildText("body") === "in time");
});

test("300 half-open connections leave pushes on other connections answered in milliseconds, and are closed by the timeout", async (t) => {
  const crowd = Array.from({ length: 300 }, (_, i) =>
    dripper(`POST ${path()} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow-${i}: `, "a".repeat(60)),
  );
  await new Promise((r) => setTimeout(r, 500)); // all connected and half-way through their headers
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    const res = await fetch(endpoint, { method: "POST", body: `beside the crowd ${i}` });
    times.push(performance.now() - t0);
    assert.equal(res.status, 201);
  }
  times.sort((a, b) => a - b);
  const median = times[10]!;
  t.diagnostic(`20 pushes beside 300 half-open connections: median ${median.toFixed(1)} ms, slowest ${times.at(-1)!.toFixed(1)} ms`);
  // milliseconds on an idle machine; the bounds leave room for a loaded CI box
  assert.ok(median < 250, `median ${median.toFixed(1)} ms (all: ${times.map((t) => t.toFixed(0)).join(", ")})`);
  assert.ok(times.at(-1)! < 2000, `slowest ${times.at(-1)!.toFixed(1)} ms`);
  const ends = await Promise.all(crowd.map((c) => c.ended));
  const late = ends.filter((e) => e.ms > (REQUEST_TIMEOUT + 5) * 1000);
  assert.equal(late.length, 0, `${late.length} of 300 still open after request_timeout + 5 s`);
  assert.ok(ends.every((e) => /^HTTP\/1\.1 408 /.test(e.response)), "each was answered 408");
});
