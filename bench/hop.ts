// `node --import tsx bench/hop.ts [--ops N] [--concurrency C]`: what the
// internal hop (src/cluster/hop.ts -> src/http/internal-route.ts) adds to a
// standby's delivered push, on loopback, same process: one at a time
// (latency) and C in flight (throughput), with the client and server CPU per
// hop. The holder's push answers at once, so this is the hop's own cost, not
// a delivery's. Not the gateway benchmark (`npm run bench`).
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import Koa from "koa";
import Router from "@koa/router";
import { HopClient } from "../src/cluster/hop.ts";
import { internalRoutes } from "../src/http/internal-route.ts";
import { createLogger } from "../src/log.ts";
import type { PushMessage } from "../src/push.ts";

const { values } = parseArgs({ options: { ops: { type: "string", default: "5000" }, concurrency: { type: "string", default: "64" } } });
const OPS = Number(values.ops);
const C = Number(values.concurrency);
const SECRET = "bench-secret";
const log = createLogger("silent");

const app = new Koa();
const router = new Router();
internalRoutes(router, { secret: SECRET, push: async () => ({ kind: "delivered" }), log });
app.use(router.routes());
const server = createServer(app.callback());
server.keepAliveTimeout = 65_000;
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
const client = new HopClient({ secret: SECRET, log });
const endpoint = "E".repeat(32);
const msg: PushMessage = { payload: Buffer.alloc(3000, 7), id: "AbCdEfGhIjKlMnOpQrStUv", ttl: 3600, urgency: "normal", contentEncoding: "aes128gcm" };

async function hop(): Promise<void> {
  const o = await client.forward(address, endpoint, msg, 5_000);
  if (o?.kind !== "delivered") throw new Error(`hop failed: ${JSON.stringify(o)}`);
}

for (let i = 0; i < 500; i++) await hop(); // warm-up: JIT, kept connections

const lat: number[] = [];
let cpu = process.cpuUsage();
let t = performance.now();
for (let i = 0; i < OPS; i++) {
  const s = performance.now();
  await hop();
  lat.push(performance.now() - s);
}
const serialMs = performance.now() - t;
const serialCpu = process.cpuUsage(cpu);
lat.sort((a, b) => a - b);
const q = (p: number): string => `${(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]! * 1000).toFixed(0)} µs`;

cpu = process.cpuUsage();
t = performance.now();
let next = 0;
await Promise.all(Array.from({ length: C }, async () => { while (next++ < OPS) await hop(); }));
const parMs = performance.now() - t;
const parCpu = process.cpuUsage(cpu);
const perHop = (u: NodeJS.CpuUsage): string => `${((u.user + u.system) / OPS).toFixed(0)} µs CPU/hop (client + server)`;

console.log(`serial      ${OPS} hops: p50 ${q(0.5)}, p99 ${q(0.99)}, ${Math.round(OPS / (serialMs / 1000))} hops/s, ${perHop(serialCpu)}`);
console.log(`${String(C).padEnd(3)} at once ${OPS} hops: ${Math.round(OPS / (parMs / 1000))} hops/s, ${perHop(parCpu)}`);
client.close();
server.closeAllConnections();
server.close();
