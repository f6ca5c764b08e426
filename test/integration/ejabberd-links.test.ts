// Three gateway instances, each with its own link to one ejabberd component
// ([cluster] links = "all"), and ejabberd's default domain_balancing (random):
// what is addressed to the component reaches any of the three, so an IQ
// answer often comes on another link than the one its IQ left on. The
// relay (src/cluster/iq-relay.ts) hands it, through a real PostgreSQL, to the
// instance that sent the IQ; directed presence goes to all of them the same way.
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { ClusterRelay } from "../../src/cluster/iq-relay.ts";
import { createLogger } from "../../src/log.ts";
import type { IqAnswer } from "../../src/outcomes.ts";
import { PresenceBook } from "../../src/presence.ts";
import { pushIq } from "../../src/stanzas/dialect2.ts";
import { NS_PING } from "../../src/stanzas/ns.ts";
import { XmppEdge } from "../../src/xmpp/edge.ts";
import { bareJid } from "../../src/jid.ts";
import { connectDistributor, type Distributor } from "../harness/distributor.ts";
import { type Ejabberd, ejabberdInstalled, startEjabberd } from "../harness/ejabberd.ts";
import { type Postgres, startPostgres } from "../harness/postgres.ts";
import { waitFor } from "../harness/wait-for.ts";

const PING_INTERVAL_S = 3;

interface Instance {
  name: string;
  edge: XmppEdge;
  relay: ClusterRelay;
  presence: PresenceBook;
  woken: Map<string, number>; // onAvailable wake-ups: full JID -> when (performance.now)
}

describe("three instances on one ejabberd component, default balancing", () => {
  let ejabberd: Ejabberd;
  let postgres: Postgres;
  let nodes: Instance[] = [];
  let relayOn = true; // the test switch: off, a stray answer is dropped as before this change
  const strays = new Map<string, number>(); // id -> when a wrong link heard it (performance.now)
  const everStray = new Set<string>();
  const pushIds = new Set<string>();
  let linksUpAt = 0;
  const relayMs: number[] = [];
  const warnings: string[] = [];
  let dist: Distributor;
  const reg = { application: "A".repeat(43) + "=", instance: "B".repeat(43) + "=" };

  before(async () => {
    assert.ok(ejabberdInstalled(), "ejabberd is not installed: run bash scripts/ensure-ejabberd.sh");
    [ejabberd, postgres] = await Promise.all([startEjabberd(), startPostgres()]);
    const url = await postgres.createSchema();
    const [component] = ejabberd.components;
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split("\n").filter(Boolean)) warnings.push(JSON.parse(line).msg);
        done();
      },
    });
    const log = createLogger("warn", sink);
    for (const name of ["ia", "ib", "ic"]) {
      const presence = new PresenceBook();
      const woken = new Map<string, number>();
      presence.onAvailable((jid) => woken.set(jid, performance.now()));
      const node = { name, presence, woken } as Instance;
      node.relay = new ClusterRelay({
        url,
        instance: name,
        presence,
        log,
        settle: (id, from, answer) => {
          const settled = node.edge.settleRelayed(id, from, answer);
          const heard = strays.get(id);
          if (settled && heard !== undefined) relayMs.push(performance.now() - heard);
          return settled;
        },
      });
      node.edge = new XmppEdge(
        {
          service: `xmpp://127.0.0.1:${ejabberd.componentPort}`,
          domain: component!.domain,
          secret: component!.secret,
          pingInterval: PING_INTERVAL_S,
          reconnectMax: 5,
          maxInflight: 200,
          instance: name,
        },
        {
          log,
          presence,
          handlers: new Map([[`get ${NS_PING} ping`, () => ({ result: null })]]),
          onStray: (id, answer, from) => {
            strays.set(id, performance.now());
            everStray.add(id);
            if (relayOn) node.relay.publishAnswer(id, answer, from);
          },
          onPresence: (type, from) => node.relay.publishPresence(type, from),
        },
      );
      nodes.push(node);
    }
    await Promise.all(nodes.map((n) => n.relay.start()));
    for (const n of nodes) n.edge.start();
    await waitFor(() => nodes.every((n) => n.edge.online && n.relay.up), 20_000, "three links and three relays");
    linksUpAt = performance.now();
    dist = await connectDistributor(ejabberd, { username: "links", resource: "phone", component: component!.domain });
  });
  after(async () => {
    await dist?.stop();
    for (const n of nodes) await n.edge.stop();
    for (const n of nodes) await n.relay.close();
    nodes = [];
    await ejabberd?.stop();
    await postgres?.stop();
  });

  /** `count` push IQs, spread over the instances in turn, all at once; the answer each sender heard. */
  async function pushes(count: number, timeoutMs: number, late?: (i: number) => (a: IqAnswer) => void, first = 0): Promise<{ id: string; answer: IqAnswer }[]> {
    return Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const edge = nodes[(first + i) % nodes.length]!.edge;
        const id = edge.nextId();
        pushIds.add(id);
        const answer = await edge.request(pushIq(edge.domain, dist.jid, id, reg, Buffer.from(`push ${i}`)), timeoutMs, late?.(i));
        return { id, answer };
      }),
    );
  }

  test("30 push IQs spread over the three instances: every one resolves as result on the instance that sent it", async (t) => {
    strays.clear();
    relayMs.length = 0;
    const before = dist.pushes.length;
    const answers = await pushes(30, 5_000);
    const relayed = answers.filter((a) => strays.has(a.id)).length;
    t.diagnostic(`results ${answers.filter((a) => a.answer.kind === "result").length}/30, ${relayed} answered on another instance's link and relayed`);
    assert.deepEqual(answers.map((a) => a.answer.kind), Array(30).fill("result"));
    assert.equal(dist.pushes.length - before, 30, "each push reached the distributor once");
    assert.ok(relayed > 0, "random balancing put some answers on another link (else this test shows nothing)");
    const sorted = [...relayMs].sort((a, b) => a - b);
    const q = (p: number): string => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!.toFixed(1);
    t.diagnostic(`relay latency in the burst (stray heard -> sender settled) over ${sorted.length}: median ${q(0.5)} ms, p90 ${q(0.9)} ms, max ${q(1)} ms`);
  });

  test("one push at a time: the relay adds a few milliseconds to an answer that came on another link", async (t) => {
    relayMs.length = 0;
    const direct: number[] = [];
    const relayed: number[] = [];
    for (let i = 0; i < 30; i++) {
      strays.clear();
      const started = performance.now();
      const [a] = await pushes(1, 5_000, undefined, i);
      assert.equal(a!.answer.kind, "result");
      (strays.has(a!.id) ? relayed : direct).push(performance.now() - started);
    }
    const median = (xs: number[]): string => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!.toFixed(1) : "-");
    t.diagnostic(`relay latency one at a time over ${relayMs.length}: median ${median(relayMs)} ms, max ${Math.max(...relayMs).toFixed(1)} ms`);
    t.diagnostic(`push round trip: answered on its own link ${median(direct)} ms (${direct.length}), relayed ${median(relayed)} ms (${relayed.length})`);
    assert.ok(relayed.length > 0);
  });

  test("a late answer relayed from another link still reaches the timed-out IQ's late listener", async (t) => {
    strays.clear();
    dist.pushDelayMs = 1_200;
    t.after(() => void (dist.pushDelayMs = 0));
    const heard: (IqAnswer | undefined)[] = Array(9).fill(undefined);
    const answers = await pushes(9, 300, (i) => (a) => void (heard[i] = a));
    assert.deepEqual(answers.map((a) => a.answer.kind), Array(9).fill("timeout"));
    await waitFor(() => heard.every((h) => h !== undefined), 5_000, "every late answer");
    assert.deepEqual(heard, Array(9).fill({ kind: "result" }));
    const relayed = answers.filter((a) => strays.has(a.id)).length;
    t.diagnostic(`${relayed} of 9 late answers came on another link`);
    assert.ok(relayed > 0, "some late answers came on another link");
  });

  test("directed presence reaching one instance is in every instance's PresenceBook within 1 s, and wakes each one", async (t) => {
    const others: Distributor[] = [];
    t.after(() => Promise.all(others.map((d) => d.stop())));
    for (let i = 0; i < 4; i++) others.push(await connectDistributor(ejabberd, { username: `pres${i}`, resource: "phone", component: dist.component }));
    for (const d of others) {
      const started = performance.now();
      await d.sendPresence();
      await waitFor(() => nodes.every((n) => n.presence.availableResources(bareJid(d.jid)).includes(d.jid) && n.woken.has(d.jid)), 1_000, `${d.jid} available everywhere`);
      const availableMs = Math.max(...nodes.map((n) => n.woken.get(d.jid)!)) - started; // the last wake-up, not the poll
      const unavailableAt = performance.now();
      await d.sendPresence("unavailable");
      await waitFor(() => nodes.every((n) => n.presence.isKnownOffline(d.jid) && n.presence.availableResources(bareJid(d.jid)).length === 0), 1_000, `${d.jid} offline everywhere`);
      t.diagnostic(`${d.jid}: the last instance woken ${availableMs.toFixed(1)} ms after it sent presence; unavailable everywhere within ${(performance.now() - unavailableAt).toFixed(1)} ms (polled every 25 ms)`);
    }
    assert.ok(nodes.every((n) => n.relay.counts.presenceApplied > 0), "each instance took some presence from another");
  });

  test("self-pings are balanced too: their answers are relayed, and no link is dropped for want of one", async () => {
    // Each edge pings itself every PING_INTERVAL_S through ejabberd: request and result each land on a random link.
    await waitFor(() => performance.now() - linksUpAt > 3 * PING_INTERVAL_S * 1000, 4 * PING_INTERVAL_S * 1000, "a few ping rounds");
    assert.ok([...everStray].some((id) => !pushIds.has(id)), "some ping answers came on another link");
    assert.deepEqual(warnings.filter((w) => /ping|link lost/.test(w)), []);
    assert.ok(nodes.every((n) => n.edge.online));
  });

  test("an answer for an instance that is gone is ignored by all", async () => {
    const counts = () => nodes.map((n) => n.relay.counts.answersSettled + n.relay.counts.answersIgnored);
    const before = counts();
    nodes[0]!.relay.publishAnswer("gone0.1", { kind: "result" }, dist.jid);
    await waitFor(() => nodes[0]!.relay.counts.published > 0, 1_000, "the notification");
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(counts(), before);
  });

  test("with the relay switched off, the answers ejabberd balances onto another link are lost and those IQs time out", async (t) => {
    relayOn = false;
    t.after(() => void (relayOn = true));
    strays.clear();
    const answers = await pushes(30, 1_500);
    const results = answers.filter((a) => a.answer.kind === "result").length;
    const lost = answers.filter((a) => strays.has(a.id));
    t.diagnostic(`without the relay: ${results}/30 results, ${lost.length} answers on another link`);
    assert.ok(lost.length > 0);
    assert.ok(lost.every((a) => a.answer.kind === "timeout"), "an answer on another link never settles its IQ");
    assert.equal(results, 30 - lost.length);
  });
});

