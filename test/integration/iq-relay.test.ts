// The relay between gateway instances (src/cluster/iq-relay.ts) on a real
// PostgreSQL, without XMPP: what a stray answer and a presence become on the
// other instances, the order of two presences that crossed, and a PostgreSQL
// outage (nothing relayed, nothing thrown, back by itself).
import assert from "node:assert/strict";
import { after, before, test, type TestContext } from "node:test";
import { ClusterRelay } from "../../src/cluster/iq-relay.ts";
import type { IqAnswer } from "../../src/outcomes.ts";
import { PresenceBook } from "../../src/presence.ts";
import { type Postgres, startPostgres } from "../harness/postgres.ts";
import { waitFor } from "../harness/wait-for.ts";

let server: Postgres;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server.stop();
});

interface Node {
  relay: ClusterRelay;
  presence: PresenceBook;
  settled: { id: string; from: string; answer: IqAnswer }[];
}

async function nodes(t: TestContext, ...names: string[]): Promise<Node[]> {
  const url = await server.createSchema();
  const out: Node[] = [];
  for (const instance of names) {
    const presence = new PresenceBook();
    const settled: Node["settled"] = [];
    const relay = new ClusterRelay({ url, instance, presence, settle: (id, from, answer) => settled.push({ id, from, answer }) > 0 });
    t.after(() => relay.close());
    await relay.start();
    out.push({ relay, presence, settled });
  }
  await waitFor(() => out.every((n) => n.relay.up), 5_000, "every relay listening");
  return out;
}

test("a stray answer reaches only the instance whose tag its id carries, with its JID and condition", async (t) => {
  const [a, b, c] = await nodes(t, "ia", "ib", "ic");
  b!.relay.publishAnswer("ia.7", { kind: "error", condition: "item-not-found" }, "alice@example.org/Conversations.x y");
  c!.relay.publishAnswer("ia.8", { kind: "result" }, "alice@example.org/phone");
  c!.relay.publishAnswer("ia.9", { kind: "timeout" }, "alice@example.org/phone"); // not an answer from the wire: not relayed
  await waitFor(() => a!.settled.length === 2, 1_000, "both answers at ia");
  // From two instances, two sessions: either may commit first.
  assert.deepEqual([...a!.settled].sort((x, y) => x.id.localeCompare(y.id)), [
    { id: "ia.7", from: "alice@example.org/Conversations.x y", answer: { kind: "error", condition: "item-not-found" } },
    { id: "ia.8", from: "alice@example.org/phone", answer: { kind: "result" } },
  ]);
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual([b!.settled.length, c!.settled.length, a!.settled.length], [0, 0, 2]);
});

test("two presences of one JID that crossed on two instances end in the same state everywhere", async (t) => {
  const [a, b] = await nodes(t, "ia", "ib");
  const jid = "bob@example.org/phone";
  // ia takes an unavailable off its link; before it publishes, ib's earlier available is committed and arrives.
  a!.presence.unavailable(jid);
  b!.presence.available(jid);
  b!.relay.publishPresence("available", jid);
  await waitFor(() => a!.presence.availableResources("bob@example.org").includes(jid), 1_000, "ib's available at ia");
  a!.relay.publishPresence("unavailable", jid);
  // PostgreSQL's order is available, then unavailable: both must end unavailable, ia by applying its own again.
  await waitFor(() => b!.presence.isKnownOffline(jid), 1_000, "ia's unavailable at ib");
  await waitFor(() => a!.presence.isKnownOffline(jid), 1_000, "ia back to unavailable");
  assert.deepEqual(a!.presence.availableResources("bob@example.org"), []);
  assert.deepEqual(b!.presence.availableResources("bob@example.org"), []);
  // The usual case, no crossing: its own echo changes nothing and is not applied twice (no second wake-up).
  let woken = 0;
  a!.presence.onAvailable(() => woken++);
  a!.presence.available("carol@example.org/pc");
  a!.relay.publishPresence("available", "carol@example.org/pc");
  await waitFor(() => b!.presence.availableResources("carol@example.org").length === 1, 1_000, "carol at ib");
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(woken, 1);
});

test("while PostgreSQL is down nothing is relayed and nothing throws; afterwards the relay works again by itself", async (t) => {
  const [a, b] = await nodes(t, "ia", "ib");
  await server.halt();
  try {
    await waitFor(() => !a!.relay.up && !b!.relay.up, 3_000, "the listeners to notice");
    const dropped = b!.relay.counts.dropped;
    const started = performance.now();
    b!.relay.publishAnswer("ia.1", { kind: "result" }, "x@y/z");
    await waitFor(() => b!.relay.counts.dropped > dropped, 5_000, "the publish to give up");
    t.diagnostic(`a publish while PostgreSQL was down gave up after ${(performance.now() - started).toFixed(0)} ms`);
  } finally {
    await server.resume();
  }
  await waitFor(() => a!.relay.up && b!.relay.up, 15_000, "the listeners back");
  b!.relay.publishAnswer("ia.2", { kind: "result" }, "x@y/z");
  await waitFor(() => a!.settled.some((s) => s.id === "ia.2"), 5_000, "an answer relayed after the outage");
  assert.deepEqual(a!.settled.map((s) => s.id), ["ia.2"]);
});
