// Start, stop and survive: the contract external tools rely on.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { connectDistributor, type Distributor } from "../harness/distributor.ts";
import { startGateway, type Gateway } from "../harness/gateway.ts";
import { startProsody, type Prosody } from "../harness/prosody.ts";

let prosody: Prosody;
before(async () => {
  prosody = await startProsody();
});
after(async () => {
  await prosody?.stop();
});

async function withGateway(fn: (g: Gateway) => Promise<void>, overrides?: Record<string, Record<string, unknown>>): Promise<void> {
  const g = await startGateway(prosody, overrides);
  try {
    await fn(g);
  } finally {
    await g.cleanup();
  }
}

async function conversationsEndpoint(d: Distributor, app: string): Promise<string> {
  return (await d.register2(d.hash("uuid", app), d.hash("uuid", app, "instance"))).endpoint;
}

test("SIGTERM during traffic finishes every in-flight push, loses none and exits 0", async () => {
  await withGateway(async (g) => {
    await g.waitHealthy(15_000);
    const phone = await connectDistributor(prosody, { username: "carol" });
    try {
      const endpoint = await conversationsEndpoint(phone, "org.example.sigterm");
      phone.pushDelayMs = 700; // keeps the pushes in flight while the signal arrives
      const bodies = Array.from({ length: 20 }, (_, i) => `in flight ${i}`);
      const answers = Promise.all(bodies.map((b) => fetch(endpoint, { method: "POST", body: b }).then((r) => r.status)));
      await phone.waitForPush(() => phone.pushes.length === bodies.length, 5000);
      const code = await g.stop("SIGTERM", 15_000);
      assert.deepEqual(await answers, bodies.map(() => 201));
      assert.equal(code, 0);
      assert.deepEqual(phone.pushes.map((p) => p.payload.toString()).sort(), [...bodies].sort());
      assert.ok(g.lines.some((l) => l.json?.msg === "stopped"), "logs a clean stop");
    } finally {
      await phone.stop();
    }
  });
});

test("a gateway started while the XMPP server is down connects by itself once it is up", async () => {
  await prosody.halt();
  let resumed = false;
  try {
    await withGateway(async (g) => {
      // answers (a loaded machine may take seconds to start it), and says it cannot deliver
      await g.waitUnhealthy(15_000);
      assert.equal(await g.health(), 503);
      await prosody.resume();
      resumed = true;
      await g.waitHealthy(20_000);
      const reconnects = g.lines.filter((l) => l.json?.msg === "reconnecting to the XMPP server");
      assert.ok(reconnects.length >= 1, "it retried with backoff");
    });
  } finally {
    if (!resumed) await prosody.resume();
  }
});

test("a config with a bad value stops the gateway with a message naming the key", async () => {
  const g = await startGateway(prosody, { http: { listen: "8080" } });
  try {
    const exit = await g.waitExit(10_000);
    assert.equal(exit.code, 78);
    assert.match(g.outputTail(), /http\.listen/);
  } finally {
    await g.cleanup();
  }
});

test("the secret may come from the environment instead of the file", async () => {
  const secret = prosody.components[0]!.secret;
  const g = await startGateway(prosody, { xmpp: { secret: "wrong-secret-in-file" } }, { env: { UP_GATEWAY_XMPP_SECRET: secret } });
  try {
    await g.waitHealthy(15_000);
  } finally {
    await g.cleanup();
  }
});

test("info-level logs never carry the component secret, endpoint tokens or payloads", async () => {
  await withGateway(
    async (g) => {
      await g.waitHealthy(15_000);
      const phone = await connectDistributor(prosody, { username: "dave" });
      try {
        const endpoint = await conversationsEndpoint(phone, "org.example.logs");
        const token = endpoint.slice(endpoint.lastIndexOf("/") + 1);
        const payload = "very-private-payload-1234";
        assert.equal((await fetch(endpoint, { method: "POST", body: payload })).status, 201);
        assert.equal((await fetch(`${g.url}/up/${"B".repeat(32)}`, { method: "POST", body: payload })).status, 404);
        await g.stop("SIGTERM");
        const all = g.lines.map((l) => l.raw).join("\n");
        assert.ok(g.lines.length > 2, "the gateway logged something");
        for (const secretish of [prosody.components[0]!.secret, token, "B".repeat(32), payload]) {
          assert.ok(!all.includes(secretish), `the log contains ${secretish}`);
        }
      } finally {
        await phone.stop();
      }
    },
    { log: { level: "info" } },
  );
});
