// Load for the HA tests (test/integration/ha*.test.ts): POSTs at a steady
// rate, spread round-robin over several gateways' HTTP ports as a load
// balancer would, half of them built by the real `web-push` library
// (aes128gcm body, VAPID Authorization), half plain with a TTL header. Every
// message is told apart by its body's bytes, which reach the phone unchanged
// (base64 in the push), so what the phones saw can be matched to what was
// answered: accepted, refused, lost, duplicated, and the gaps in deliveries.
import { createECDH, randomBytes, type ECDH } from "node:crypto";
import webpush from "web-push";
import ece from "http_ece";
import type { Element } from "@xmpp/xml";
import { NS_UP2 } from "./dialect2.ts";
import type { Distributor } from "./distributor.ts";

const VAPID = webpush.generateVAPIDKeys();
/** Longer than any answer may take (5 s): a POST still open then counts as unanswered. */
const POST_TIMEOUT_MS = 15_000;

/** A phone's subscription: the endpoint's path (the host is whichever gateway the balancer picks) and the app's keys. */
export interface Phone {
  dist: Distributor;
  path: string;
  endpoint: string;
  ecdh: ECDH;
  auth: Buffer;
  /** base64 of each push body, when it arrived (performance.now()), and the edge that sent it (its IQ id's `<instance>.` tag). */
  arrivals: { key: string; at: number; edge: string }[];
}

/** Registers one dialect-2 subscription and records the arrival time of every push this connection receives. */
export async function phone(dist: Distributor, app: string): Promise<Phone> {
  const { endpoint } = await dist.register2(dist.hash("uuid", app), dist.hash("uuid", "i"));
  await dist.sendPresence();
  const ecdh = createECDH("prime256v1");
  ecdh.generateKeys();
  const p: Phone = { dist, path: new URL(endpoint).pathname, endpoint, ecdh, auth: randomBytes(16), arrivals: [] };
  dist.client.on("stanza", (s: Element) => {
    const push = s.is("iq") && s.attrs.type === "set" ? s.getChild("push", NS_UP2) : undefined;
    if (push) p.arrivals.push({ key: push.getText(), at: performance.now(), edge: String(s.attrs.id).split(".")[0]! });
  });
  return p;
}

export type Outcome = number | "tcp" | "timeout";

export interface Sent {
  n: number;
  key: string; // base64 of the body
  text: string; // what the app reads once it has decrypted it
  gateway: number;
  phone: number;
  webpush: boolean;
  ttl: number;
  status: Outcome;
  retryAfter: string | null;
  at: number; // when the POST started (performance.now())
  ms: number;
}

export interface LoadOptions {
  urls: readonly string[]; // the gateways' base URLs, in round-robin order
  phones: readonly Phone[];
  total: number;
  perSecond: number;
  /** TTL of message n (0 = deliver now or refuse). */
  ttl?: (n: number) => number;
  /** Called once message n has been sent off (not answered): where a test kills something. */
  onSent?: (n: number) => void | Promise<void>;
  label: string;
}

/** Builds message n: every second one through web-push's own request builder, the others plain. */
function message(o: LoadOptions, p: Phone, n: number): { body: Buffer; text: string; headers: Record<string, string>; webpush: boolean; ttl: number } {
  const ttl = o.ttl?.(n) ?? 300;
  const text = `${o.label}-${n}`;
  if (n % 2 === 0) {
    const subscription = { endpoint: p.endpoint, keys: { p256dh: p.ecdh.getPublicKey().toString("base64url"), auth: p.auth.toString("base64url") } };
    const d = webpush.generateRequestDetails(subscription, text, {
      TTL: ttl,
      contentEncoding: "aes128gcm",
      vapidDetails: { subject: "mailto:ops@example.org", publicKey: VAPID.publicKey, privateKey: VAPID.privateKey },
    });
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(d.headers)) if (k.toLowerCase() !== "content-length") headers[k] = String(v);
    return { body: d.body as Buffer, text, headers, webpush: true, ttl };
  }
  return { body: Buffer.from(text), text, headers: { TTL: String(ttl), "Content-Type": "text/plain" }, webpush: false, ttl };
}

/** Sends `total` POSTs at `perSecond`, without waiting for answers; resolves once all are answered or failed. */
export async function load(o: LoadOptions): Promise<Sent[]> {
  const posts: Promise<Sent>[] = [];
  const start = performance.now();
  for (let n = 0; n < o.total; n++) {
    const due = start + (n * 1000) / o.perSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const gateway = n % o.urls.length;
    const phoneIndex = Math.floor(n / o.urls.length) % o.phones.length; // each phone gets POSTs through every gateway
    const m = message(o, o.phones[phoneIndex]!, n);
    const base: Omit<Sent, "status" | "retryAfter" | "ms"> = { n, key: m.body.toString("base64"), text: m.text, gateway, phone: phoneIndex, webpush: m.webpush, ttl: m.ttl, at: performance.now() };
    posts.push(
      fetch(`${o.urls[gateway]}${o.phones[phoneIndex]!.path}`, { method: "POST", body: new Uint8Array(m.body), headers: m.headers, signal: AbortSignal.timeout(POST_TIMEOUT_MS) }).then(
        async (res) => {
          await res.arrayBuffer();
          return { ...base, status: res.status, retryAfter: res.headers.get("retry-after"), ms: performance.now() - base.at };
        },
        (err: Error) => ({ ...base, status: err.name === "TimeoutError" ? "timeout" : "tcp", retryAfter: null, ms: performance.now() - base.at }),
      ),
    );
    await o.onSent?.(n);
  }
  return Promise.all(posts);
}

export interface Figures {
  posts: number;
  accepted: number;
  refused: number;
  refusedStatuses: Record<string, number>;
  /** POSTs that failed at the TCP level (a killed gateway's port), per gateway. */
  tcpFailed: number;
  unanswered: number;
  delivered: number;
  /** Answered other than 201 and delivered all the same (a push that ran on past its answer): never a loss, at worst a duplicate after the sender's retry. */
  refusedButDelivered: number;
  lost: number;
  duplicated: number;
  /** The longest time between two deliveries, first to last (ms). */
  gapMs: number;
  answerMaxMs: number;
  answerP99Ms: number;
}

/** Matches the answers to what the phones saw. */
export function figures(sent: readonly Sent[], phones: readonly Phone[]): Figures & { lostKeys: string[]; copies: Map<string, number> } {
  const copies = new Map<string, number>();
  const times: number[] = [];
  const ours = new Set(sent.map((s) => s.key));
  for (const p of phones)
    for (const a of p.arrivals) {
      if (!ours.has(a.key)) continue;
      copies.set(a.key, (copies.get(a.key) ?? 0) + 1);
      times.push(a.at);
    }
  times.sort((a, b) => a - b);
  let gapMs = 0;
  for (let i = 1; i < times.length; i++) gapMs = Math.max(gapMs, times[i]! - times[i - 1]!);
  const answered = sent.filter((s) => typeof s.status === "number");
  const accepted = sent.filter((s) => s.status === 201);
  const refused = answered.filter((s) => s.status !== 201);
  const refusedStatuses: Record<string, number> = {};
  for (const s of refused) refusedStatuses[String(s.status)] = (refusedStatuses[String(s.status)] ?? 0) + 1;
  const lostKeys = accepted.filter((s) => !copies.has(s.key)).map((s) => s.key);
  const ms = answered.map((s) => s.ms).sort((a, b) => a - b);
  return {
    posts: sent.length,
    accepted: accepted.length,
    refused: refused.length,
    refusedStatuses,
    tcpFailed: sent.filter((s) => s.status === "tcp").length,
    unanswered: sent.filter((s) => s.status === "timeout").length,
    delivered: copies.size,
    refusedButDelivered: refused.filter((s) => copies.has(s.key)).length,
    lost: lostKeys.length,
    duplicated: [...copies.values()].reduce((sum, c) => sum + c - 1, 0),
    gapMs: Math.round(gapMs),
    answerMaxMs: Math.round(ms.at(-1) ?? 0),
    answerP99Ms: Math.round(ms[Math.min(ms.length - 1, Math.ceil(0.99 * ms.length) - 1)] ?? 0),
    lostKeys,
    copies,
  };
}

/** Waits until every accepted message has reached its phone (or `ms` passed), then `quietMs` more for late copies. */
export async function settle(sent: readonly Sent[], phones: readonly Phone[], ms: number, quietMs = 2_000): Promise<void> {
  const deadline = performance.now() + ms;
  const want = sent.filter((s) => s.status === 201).map((s) => s.key);
  for (;;) {
    const seen = new Set(phones.flatMap((p) => p.arrivals.map((a) => a.key)));
    if (want.every((k) => seen.has(k)) || performance.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, quietMs));
}

/** The plaintext of a message as the phone's app reads it: web-push bodies decrypted (RFC 8291), plain ones as they are. */
export function plaintext(p: Phone, s: Sent): string {
  const body = Buffer.from(s.key, "base64");
  return s.webpush ? ece.decrypt(body, { version: "aes128gcm", privateKey: p.ecdh, authSecret: p.auth }).toString("utf8") : body.toString("utf8");
}
