// The real web-push library as the application server, a real Prosody, the
// real gateway process, and a test distributor that owns the subscription's
// keys and decrypts what it receives with http_ece (RFC 8291).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createECDH, randomBytes, type ECDH } from "node:crypto";
import webpush, { type PushSubscription, type RequestOptions } from "web-push";
import ece from "http_ece";
import { connectDistributor, parseMessage1, type Distributor } from "../harness/distributor.ts";
import { startGateway, type Gateway } from "../harness/gateway.ts";
import { startProsody, type Prosody } from "../harness/prosody.ts";
import { startTlsFront, type TlsFront } from "./webpush-tls.ts";

let prosody: Prosody;
let front: TlsFront;
let gateway: Gateway;
let alice: Distributor;
const vapid = webpush.generateVAPIDKeys();

/** What the distributor's app holds: the subscription's private key and auth secret. */
interface AppKeys {
  ecdh: ECDH;
  auth: Buffer;
  subscription: PushSubscription;
}

function subscribe(endpoint: string): AppKeys {
  const ecdh = createECDH("prime256v1");
  ecdh.generateKeys();
  const auth = randomBytes(16);
  return { ecdh, auth, subscription: { endpoint, keys: { p256dh: ecdh.getPublicKey().toString("base64url"), auth: auth.toString("base64url") } } };
}

const send = (keys: AppKeys, payload: string | Buffer, options: RequestOptions = {}) =>
  webpush.sendNotification(keys.subscription, payload, {
    vapidDetails: { subject: "mailto:ops@example.org", publicKey: vapid.publicKey, privateKey: vapid.privateKey },
    agent: front.agent,
    ...options,
  });

/** The Crypto-Key/Encryption parameters aesgcm needs; neither XMPP dialect carries them, so they are read at the TLS front. */
function aesgcmParams(): { salt: string; dh: string } {
  const h = front.seen.at(-1)!;
  const salt = /salt=([^;,\s]+)/.exec(String(h.encryption))?.[1];
  const dh = /dh=([^;,\s]+)/.exec(String(h["crypto-key"]))?.[1];
  assert.ok(salt && dh, "aesgcm request carries Encryption salt= and Crypto-Key dh=");
  return { salt, dh };
}

function decrypt(keys: AppKeys, body: Buffer, version: "aes128gcm" | "aesgcm"): string {
  const extra = version === "aesgcm" ? aesgcmParams() : {};
  return ece.decrypt(body, { version, privateKey: keys.ecdh, authSecret: keys.auth, ...extra }).toString("utf8");
}

let d1: AppKeys; // unifiedpush.org dialect
let d2: AppKeys; // Conversations dialect

before(async () => {
  prosody = await startProsody();
  front = await startTlsFront();
  gateway = await startGateway(prosody, { http: { public_url: front.url } });
  front.target = gateway.port;
  await gateway.waitHealthy(15_000);
  alice = await connectDistributor(prosody, { username: "alice" });
  d1 = subscribe(await alice.endpoint1("webpush-app"));
  d2 = subscribe((await alice.register2(alice.hash("acct", "org.example.app"), alice.hash("acct", "instance"))).endpoint);
  assert.ok(d1.subscription.endpoint.startsWith(`${front.url}/up/`));
});
after(async () => {
  await alice?.stop();
  await gateway?.cleanup();
  await front?.close();
  await prosody?.stop();
});

async function roundTrip(keys: AppKeys, dialect: 1 | 2, plaintext: string, options: RequestOptions = {}) {
  const before = dialect === 1 ? alice.messages.length : alice.pushes.length;
  const res = await send(keys, plaintext, options);
  const body =
    dialect === 1
      ? parseMessage1(await alice.waitForMessage((m) => alice.messages.indexOf(m) >= before)).payload
      : (await alice.waitForPush((p) => alice.pushes.indexOf(p) >= before)).payload;
  return { res, body };
}

test("web-push speaks TLS even to an http:// endpoint, which is why these tests put a TLS front before the gateway", async () => {
  const plain = { ...d1.subscription, endpoint: d1.subscription.endpoint.replace(front.url, gateway.url) };
  await assert.rejects(webpush.sendNotification(plain, "x", { vapidDetails: { subject: "mailto:ops@example.org", ...vapid } }), (err: Error) => !("statusCode" in err));
});

for (const dialect of [1, 2] as const) {
  test(`dialect ${dialect}: an aes128gcm push from web-push arrives byte for byte and the distributor decrypts the plaintext`, async () => {
    const keys = dialect === 1 ? d1 : d2;
    const plaintext = JSON.stringify({ title: "Hello", body: `from web-push to dialect ${dialect} ✓` });
    const { res, body } = await roundTrip(keys, dialect, plaintext, { TTL: 60, urgency: "high", topic: "greeting" });
    assert.equal(res.statusCode, 201);
    assert.match(res.headers.location ?? "", new RegExp(`^${front.url}/message/\\S+$`));
    assert.equal(res.headers.ttl, "0");
    assert.equal(decrypt(keys, body, "aes128gcm"), plaintext);
    const seen = front.seen.at(-1)!;
    assert.equal(seen["content-encoding"], "aes128gcm");
    assert.match(String(seen.authorization), new RegExp(`^vapid t=[\\w-]+\\.[\\w-]+\\.[\\w-]+, k=${vapid.publicKey}$`));
  });

  test(`dialect ${dialect}: an aesgcm push (as Mastodon before 4.4 sends) arrives unaltered and decrypts with the salt and dh its headers carried`, async () => {
    const keys = dialect === 1 ? d1 : d2;
    const plaintext = `legacy aesgcm for dialect ${dialect}`;
    const { res, body } = await roundTrip(keys, dialect, plaintext, { contentEncoding: "aesgcm" });
    assert.equal(res.statusCode, 201);
    assert.match(String(front.seen.at(-1)!.authorization), /^WebPush /);
    assert.equal(decrypt(keys, body, "aesgcm"), plaintext);
  });

  test(`dialect ${dialect}: a 4096-byte ciphertext, the largest allowed, goes through; one byte more is refused with 413`, async () => {
    const keys = dialect === 1 ? d1 : d2;
    // aes128gcm: 86-byte header + plaintext + 1 delimiter + 16-byte tag
    const plaintext = "p".repeat(4096 - 86 - 1 - 16);
    const { res, body } = await roundTrip(keys, dialect, plaintext);
    assert.equal(res.statusCode, 201);
    assert.equal(body.length, 4096);
    assert.equal(decrypt(keys, body, "aes128gcm"), plaintext);
    await assert.rejects(send(keys, `${plaintext}p`), (err: { statusCode?: number }) => err.statusCode === 413);
  });
}

test("a sender without VAPID is accepted: no subscription here is bound to a key", async () => {
  const { res, body } = await roundTrip(d2, 2, "no vapid", { vapidDetails: undefined });
  assert.equal(res.statusCode, 201);
  assert.equal(front.seen.at(-1)!.authorization, undefined);
  assert.equal(decrypt(d2, body, "aes128gcm"), "no vapid");
});

/** Each odd-but-real header a sender may get wrong; none may cost the subscription. */
const ODD_HEADERS: [string, Record<string, string>][] = [
  ["TTL abc", { TTL: "abc" }],
  ["TTL -5", { TTL: "-5" }],
  ["TTL 1.5", { TTL: "1.5" }],
  ["Topic with spaces", { Topic: "no spaces allowed" }],
  ["Topic of 33 characters", { Topic: "t".repeat(33) }],
  ["Content-Encoding br", { "Content-Encoding": "br" }],
  ["Content-Encoding gzip", { "Content-Encoding": "gzip" }],
  ["Urgency whenever", { Urgency: "whenever" }],
  ["Authorization Bearer", { Authorization: "Bearer something" }],
  ["Authorization vapid without t=", { Authorization: "vapid k=only-a-key" }],
];

test("each malformed optional header is ignored: 201, and the body reaches the distributor byte for byte", async () => {
  const endpoint = d2.subscription.endpoint.replace(front.url, gateway.url);
  for (const [what, headers] of ODD_HEADERS) {
    const body = Buffer.concat([randomBytes(64), Buffer.from(what)]); // binary, like ciphertext
    const before = alice.pushes.length;
    const res = await fetch(endpoint, { method: "POST", body, headers });
    assert.equal(res.status, 201, what);
    assert.ok(res.headers.get("location"), what);
    const push = await alice.waitForPush((p) => alice.pushes.indexOf(p) >= before);
    assert.ok(push.payload.equals(body), `${what}: payload differs`);
  }
});

test("a malformed TTL means the default TTL for a message that is kept", async () => {
  const away = await connectDistributor(prosody, { username: "odd-ttl", resource: "phone" });
  const { endpoint } = await away.register2(away.hash("a", "ttl"), away.hash("a", "i"));
  await away.stop();
  for (const ttl of ["abc", "-5"]) {
    const res = await fetch(endpoint.replace(front.url, gateway.url), { method: "POST", body: "x", headers: { TTL: ttl } });
    assert.equal(res.status, 201, ttl);
    assert.equal(res.headers.get("ttl"), "86400", `${ttl}: the gateway's default_ttl`);
  }
});
