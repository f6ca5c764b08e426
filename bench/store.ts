// `node --import tsx bench/store.ts [--ops N]`: the store operations of the
// hot paths on both backends, same process, same run (issue 12 stage 1; not
// the gateway benchmark, which is `npm run bench`). Per operation, one at a
// time: lookup (cached after the first), hasWaiting, enqueue (one commit,
// fsync on), head + remove (the drain). PostgreSQL is the harness's own on
// loopback, so this is a floor on its network cost, not a deployment figure.
import { parseArgs } from "node:util";
import type { Registration, Store } from "../src/store/store.ts";
import { postgresBackend, sqliteBackend, type Backend } from "../test/harness/stores.ts";

const { values } = parseArgs({ options: { ops: { type: "string", default: "2000" } } });
const OPS = Number(values.ops);
const NOW = Date.now();

async function time(label: string, n: number, fn: (i: number) => Promise<unknown>): Promise<string> {
  const t = performance.now();
  for (let i = 0; i < n; i++) await fn(i);
  const us = ((performance.now() - t) * 1000) / n;
  return `${label.padEnd(12)} ${us.toFixed(1).padStart(8)} µs/op  ${Math.round(1e6 / us).toString().padStart(7)} ops/s`;
}

async function run(b: Backend): Promise<string[]> {
  const s: Store = await b.open(await b.fresh());
  try {
    const regs: Registration[] = [];
    for (let i = 0; i < 100; i++) {
      const r = await s.registrations.upsert({
        dialect: 2, jid: `u${i}@x/r`, bare: `u${i}@x`, key: { token: null, application: "a", instance: "i" },
        now: NOW, expiresAt: NOW + 86_400_000, maxPerAccount: 10, mint: () => `E${String(i).padStart(31, "0")}`,
      });
      if (r.ok) regs.push(r.reg);
    }
    const payload = Buffer.alloc(200, 7);
    const out = [
      await time("lookup cold", regs.length, (i) => s.registrations.lookup(regs[i]!.endpoint, NOW)),
      await time("lookup warm", OPS, (i) => s.registrations.lookup(regs[i % regs.length]!.endpoint, NOW)),
      await time("hasWaiting", OPS, (i) => s.queue.hasWaiting(regs[i % regs.length]!.id, NOW)),
      await time("enqueue", OPS, (i) =>
        s.queue.enqueue({ registration: regs[i % regs.length]!.id, payload, ttl: 3600, topic: null, urgency: null, content_encoding: null, vapid_key: null, created_at: NOW, expires_at: NOW + 3_600_000 }, 1_000_000)),
      await time("head+remove", OPS, async (i) => {
        const h = await s.queue.head(regs[i % regs.length]!.id, NOW);
        if (h) await s.queue.remove(h.id);
      }),
    ];
    return out;
  } finally {
    await s.close();
  }
}

for (const make of [sqliteBackend, () => postgresBackend()]) {
  const b = await make();
  try {
    console.log(`${b.name}:`);
    for (const line of await run(b)) console.log(`  ${line}`);
  } finally {
    await b.stop();
  }
}
