// `node --import tsx bench/pg-enqueue.ts [--n 3000] [--concurrency 64]`: why
// the queue path is slower on PostgreSQL (README, "On PostgreSQL"). The
// store's enqueue on the harness's PostgreSQL (fsync on), many at once, with
// the up_queue trigger (migration 5) enabled and then disabled, sampling what
// the busy pooled connections wait for in pg_stat_activity. A transaction
// that NOTIFYs holds a database-wide lock from its pre-commit until its commit
// is flushed ("Lock:object"), so those commits do not share WAL flushes.
// Not a test; the trigger is disabled only in this throwaway database.
import { parseArgs } from "node:util";
import pg from "pg";
import { openPgStore } from "../src/store/pg/index.ts";
import { startPostgres } from "../test/harness/postgres.ts";

const { values } = parseArgs({ options: { n: { type: "string", default: "3000" }, concurrency: { type: "string", default: "64" } } });
const N = Number(values.n), CONCURRENCY = Number(values.concurrency);
const NOW = Date.now();

const server = await startPostgres();
try {
  const url = await server.createDatabase("enqueue");
  const store = await openPgStore({ url });
  const regs: number[] = [];
  for (let i = 0; i < 50; i++) {
    const r = await store.registrations.upsert({
      dialect: 2, jid: `u${i}@x/r`, bare: `u${i}@x`, key: { token: null, application: "a", instance: "i" },
      now: NOW, expiresAt: NOW + 86_400_000, maxPerAccount: 10, mint: () => `E${String(i).padStart(31, "0")}`,
    });
    if (r.ok) regs.push(r.reg.id);
  }
  const payload = Buffer.alloc(200, 7);
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();

  const run = async (label: string): Promise<void> => {
    await admin.query("TRUNCATE queue");
    let next = 0;
    let done = false;
    let samples = 0;
    const waits = new Map<string, number>();
    const sampler = (async () => {
      while (!done) {
        const { rows } = await admin.query<{ w: string }>(
          "SELECT coalesce(wait_event_type, '-') || ':' || coalesce(wait_event, 'on CPU') AS w FROM pg_stat_activity WHERE application_name = 'up-gateway' AND state <> 'idle'",
        );
        for (const r of rows) waits.set(r.w, (waits.get(r.w) ?? 0) + 1);
        samples++;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const t = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < N) {
        const i = next++;
        await store.queue.enqueue({ registration: regs[i % regs.length]!, payload, ttl: 3600, topic: null, urgency: null, content_encoding: null, vapid_key: null, created_at: NOW, expires_at: NOW + 3_600_000 }, 1_000_000);
      }
    }));
    const ms = performance.now() - t;
    done = true;
    await sampler;
    const top = [...waits].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([k, v]) => `${k} ${(v / samples).toFixed(1)}`).join(", ");
    console.log(`${label}: ${N} enqueues, ${CONCURRENCY} at once, ${Math.round((N * 1000) / ms)}/s; busy pooled connections by wait event (mean): ${top}`);
  };

  await run("up_queue trigger on ");
  await admin.query("ALTER TABLE queue DISABLE TRIGGER queue_inserted");
  await run("up_queue trigger off");
  await admin.end();
  await store.close();
} finally {
  await server.stop();
}
