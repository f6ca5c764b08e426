// The bare relay: an XEP-0114 component in its own process that sends the
// same push IQs as the gateway (src/stanzas/dialect2.ts) straight to the
// distributors, with no HTTP and no store. What the XMPP server can relay
// is the ceiling any push provider on it can reach.
import { randomBytes } from "node:crypto";
import { component, type Component } from "@xmpp/component";
import type { Element } from "@xmpp/xml";
import { pushIq } from "../src/stanzas/dialect2.ts";
import { serve } from "./child.ts";
import { Recorder, type RunStats } from "./stats.ts";

export interface RelayTarget {
  jid: string;
  application: string;
  instance: string;
}

export type RelayMessage =
  | { op: "connect"; service: string; domain: string; secret: string }
  | { op: "run"; targets: RelayTarget[]; concurrency: number; durationMs: number; payloadSize: number; timeoutMs: number };

let xmpp: Component | undefined;
let domain = "";
const waiting = new Map<string, (answer: string) => void>();

async function connect(m: Extract<RelayMessage, { op: "connect" }>): Promise<void> {
  domain = m.domain;
  xmpp = component({ service: m.service, domain: m.domain, password: m.secret });
  xmpp.reconnect.stop();
  xmpp.on("error", () => {});
  // Straight off the parser: no middleware between the answer and its waiter.
  xmpp.on("stanza", (s: Element) => {
    if (s.name !== "iq" || (s.attrs.type !== "result" && s.attrs.type !== "error")) return;
    const done = waiting.get(s.attrs.id ?? "");
    if (!done) return;
    waiting.delete(s.attrs.id!);
    const condition = s.getChild("error")?.children.find((c) => typeof c !== "string") as Element | undefined;
    done(s.attrs.type === "result" ? "result" : `iq-error:${condition?.name ?? "undefined"}`);
  });
  await xmpp.start();
}

async function run(m: Extract<RelayMessage, { op: "run" }>): Promise<RunStats> {
  const link = xmpp!;
  const payload = randomBytes(m.payloadSize);
  const rec = new Recorder();
  let next = 0;
  let ids = 0;

  const push = (t: RelayTarget): Promise<string> =>
    new Promise((resolve) => {
      const id = `r${(ids++).toString(36)}`;
      const timer = setTimeout(() => waiting.delete(id) && resolve("timeout"), m.timeoutMs);
      waiting.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      link.send(pushIq(domain, t.jid, id, t, payload)).catch(() => {
        waiting.delete(id);
        clearTimeout(timer);
        resolve("link-lost");
      });
    });

  const started = performance.now();
  const end = started + m.durationMs;
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      const t0 = performance.now();
      const answer = await push(m.targets[next++ % m.targets.length]!);
      if (answer === "result") rec.success(performance.now() - t0);
      else rec.failure(answer);
    }
  };
  await Promise.all(Array.from({ length: m.concurrency }, loop));
  return rec.stats((performance.now() - started) / 1000);
}

serve(async (m: RelayMessage) => (m.op === "connect" ? connect(m) : run(m)));
process.on("SIGTERM", () => {
  void (xmpp?.stop().catch(() => {}) ?? Promise.resolve()).finally(() => process.exit(0));
});
