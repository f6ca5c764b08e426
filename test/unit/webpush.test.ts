import { test } from "node:test";
import assert from "node:assert/strict";
import { parseVapid, parseWebPushHeaders, TTL_CEILING, type IgnoredHeader, type WebPushMeta } from "../../src/webpush.ts";

/** The meta of headers that are all well-formed. */
const ok = (h: Record<string, string | string[]>): WebPushMeta => {
  const r = parseWebPushHeaders(h);
  assert.deepEqual(r.ignored, [], JSON.stringify(h));
  return r.meta;
};
/** Headers with exactly one malformed: what is kept, and which header was ignored. */
const ignoring = (h: Record<string, string | string[]>): { meta: WebPushMeta; ignored: IgnoredHeader } => {
  const r = parseWebPushHeaders(h);
  assert.equal(r.ignored.length, 1, `expected one ignored header for ${JSON.stringify(h)}: ${JSON.stringify(r.ignored)}`);
  return { meta: r.meta, ignored: r.ignored[0]! };
};

test("a request without any WebPush header is accepted: TTL is never required", () => {
  assert.deepEqual(ok({}), {});
});

test("TTL is a whole number of seconds, kept as a number", () => {
  assert.equal(ok({ ttl: "0" }).ttl, 0);
  assert.equal(ok({ ttl: "86400" }).ttl, 86400);
  assert.equal(ok({ ttl: " 60 " }).ttl, 60);
  assert.equal(ok({ ttl: "007" }).ttl, 7);
});

test("a TTL too large to represent counts as 2^31 seconds (RFC 9111 delta-seconds)", () => {
  assert.equal(ok({ ttl: "99999999999999999999999" }).ttl, TTL_CEILING);
});

test("a malformed TTL is ignored, so the default TTL applies, and reported as ignored", () => {
  for (const bad of ["-1", "-5", "1.5", "abc", "1e3", "60, 60", "+5", "0x10"]) {
    const r = ignoring({ ttl: bad, topic: "kept" });
    assert.equal(r.ignored.header, "ttl");
    assert.deepEqual(r.meta, { topic: "kept" }, bad);
  }
});

test("repeated TTL headers (joined by Node) are ignored rather than guessed", () => {
  assert.equal(ignoring({ ttl: ["60", "120"] }).meta.ttl, undefined);
});

test("an empty TTL header counts as absent", () => {
  assert.deepEqual(ok({ ttl: "  " }), {});
});

test("the four RFC 8030 urgencies are kept, case-insensitively", () => {
  for (const u of ["very-low", "low", "normal", "high"]) assert.equal(ok({ urgency: u }).urgency, u);
  assert.equal(ok({ urgency: "HIGH" }).urgency, "high");
});

test("an unknown Urgency is ignored, not refused", () => {
  const r = ignoring({ urgency: "urgent" });
  assert.deepEqual(r.meta, {});
  assert.equal(r.ignored.header, "urgency");
});

test("a Topic of up to 32 URL-safe base64 characters is kept", () => {
  assert.equal(ok({ topic: "new-mail_42" }).topic, "new-mail_42");
  assert.equal(ok({ topic: "A".repeat(32) }).topic, "A".repeat(32));
});

test("a Topic that is too long or leaves the URL-safe alphabet means no Topic, reported as ignored", () => {
  for (const bad of ["A".repeat(33), "with space", "plus+", "slash/", "pad=", "é"]) {
    const r = ignoring({ topic: bad, ttl: "60" });
    assert.equal(r.ignored.header, "topic");
    assert.deepEqual(r.meta, { ttl: 60 }, bad);
  }
});

test("aes128gcm and aesgcm are accepted whatever their case; identity means none", () => {
  assert.equal(ok({ "content-encoding": "aes128gcm" }).contentEncoding, "aes128gcm");
  assert.equal(ok({ "content-encoding": "AESGCM" }).contentEncoding, "aesgcm");
  assert.deepEqual(ok({ "content-encoding": "identity" }), {});
});

test("another Content-Encoding is not kept, reported as ignored, and refuses nothing", () => {
  for (const bad of ["gzip", "br", "aes128gcm, gzip", "aesgcm128"]) {
    const r = ignoring({ "content-encoding": bad });
    assert.equal(r.ignored.header, "content-encoding");
    assert.deepEqual(r.meta, {});
  }
});

test("RFC 8292 vapid credentials are parsed with or without spaces and quotes", () => {
  assert.deepEqual(parseVapid("vapid t=eyJ0.eyJh.sig, k=BKey_-", undefined), { jwt: "eyJ0.eyJh.sig", key: "BKey_-" });
  assert.deepEqual(parseVapid('vapid t="a.b.c",k="K="', undefined), { jwt: "a.b.c", key: "K=" });
  assert.deepEqual(parseVapid("VAPID k=K, t=a.b.c", undefined), { jwt: "a.b.c", key: "K" });
});

test("the draft WebPush scheme takes its key from Crypto-Key p256ecdsa, as Mastodon sends it with aesgcm", () => {
  assert.deepEqual(parseVapid("WebPush a.b.c", "dh=BDH;p256ecdsa=BKey"), { jwt: "a.b.c", key: "BKey" });
  assert.deepEqual(parseVapid("WebPush a.b.c", undefined), { jwt: "a.b.c" });
});

test("an Authorization header that is not VAPID is ignored, never refused", () => {
  assert.equal(parseVapid("key=AIza", undefined), undefined);
  assert.equal(parseVapid("Bearer x", undefined), undefined);
  assert.equal(parseVapid("vapid k=only-a-key", undefined), undefined);
  const r = ignoring({ authorization: "garbage" });
  assert.deepEqual([r.meta, r.ignored.header], [{}, "authorization"]);
  assert.deepEqual(ok({ authorization: "vapid t=a.b.c, k=K" }).vapid, { jwt: "a.b.c", key: "K" });
});

test("all headers together, as the web-push library sends them", () => {
  assert.deepEqual(
    ok({ ttl: "60", urgency: "high", topic: "chat", "content-encoding": "aes128gcm", authorization: "vapid t=a.b.c, k=K" }),
    { ttl: 60, urgency: "high", topic: "chat", contentEncoding: "aes128gcm", vapid: { jwt: "a.b.c", key: "K" } },
  );
});
