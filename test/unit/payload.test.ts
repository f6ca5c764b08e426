import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { encodeBody, type EncodedBody } from "../../src/payload.ts";
import { notification } from "../../src/stanzas/dialect1.ts";
import { overTheWire } from "./_xml.ts";

const bytes = (s: string): Buffer => Buffer.from(s, "utf8");
const decode = (e: EncodedBody): Buffer => (e.base64 ? Buffer.from(e.text, "base64") : Buffer.from(e.text, "utf8"));

function assertVerbatim(input: Buffer, expectedText: string): void {
  const e = encodeBody(input);
  assert.deepEqual(e, { text: expectedText, base64: false });
}

function assertBase64(input: Buffer): void {
  const e = encodeBody(input);
  assert.deepEqual(e, { text: input.toString("base64"), base64: true });
}

test("ASCII text goes verbatim", () => {
  assertVerbatim(bytes("title=Test&body=hello"), "title=Test&body=hello");
});

test("XML special characters go verbatim, escaping is the serializer's job", () => {
  assertVerbatim(bytes('<a href="x">&amp;</a> > \''), '<a href="x">&amp;</a> > \'');
});

test("emoji and other multi-byte UTF-8 go verbatim", () => {
  assertVerbatim(bytes("héllo 🎉 日本語 ∑"), "héllo 🎉 日本語 ∑");
});

test("JSON payloads such as Matrix notifications go verbatim", () => {
  const json = JSON.stringify({ notification: { event_id: "$abc", counts: { unread: 2 } } });
  assertVerbatim(bytes(json), json);
});

test("a lone invalid byte makes the body base64", () => {
  assertBase64(Buffer.from([0x68, 0x69, 0xff]));
});

test("a truncated multi-byte sequence makes the body base64", () => {
  assertBase64(Buffer.from([0x61, 0xe6, 0x97]));
});

test("an overlong encoding makes the body base64", () => {
  assertBase64(Buffer.from([0xc0, 0xaf]));
});

test("an encoded UTF-16 surrogate makes the body base64", () => {
  assertBase64(Buffer.from([0xed, 0xa0, 0x80]));
});

test("aes128gcm ciphertext-like random bytes become base64", () => {
  // a record header as RFC 8188 lays it out, then bytes that are not UTF-8
  const body = Buffer.concat([randomBytes(16), Buffer.from([0, 0, 16, 0, 65]), Buffer.from([0xfe, 0xff, 0x80])]);
  assertBase64(body);
});

test("a NUL byte makes the body base64", () => {
  assertBase64(bytes("a\u0000b"));
});

test("every C0 control other than tab and LF makes the body base64", () => {
  for (let c = 0; c < 0x20; c++) {
    if (c === 0x09 || c === 0x0a) continue;
    const e = encodeBody(Buffer.from([0x61, c, 0x62]));
    assert.equal(e.base64, true, `control 0x${c.toString(16)} should force base64`);
  }
});

test("a CR makes the body base64 because XML parsers turn it into LF", () => {
  assertBase64(bytes("line1\rline2"));
  assertBase64(bytes("line1\r\nline2"));
});

test("tab and LF go verbatim", () => {
  assertVerbatim(bytes("a\tb\nc\n"), "a\tb\nc\n");
});

test("U+FFFE and U+FFFF, which XML cannot carry, make the body base64", () => {
  assertBase64(bytes("x\uFFFE"));
  assertBase64(bytes("x\uFFFF"));
});

test("DEL and C1 controls, which XML 1.0 allows, go verbatim", () => {
  assertVerbatim(bytes("a\u007Fb\u0085c"), "a\u007Fb\u0085c");
});

test("a leading byte order mark stays in the text", () => {
  const input = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes("hi")]);
  const e = encodeBody(input);
  assert.equal(e.base64, false);
  assert.equal(e.text, "\uFEFFhi");
  assert.deepEqual(decode(e), input);
});

test("an empty body goes verbatim as empty text", () => {
  assertVerbatim(Buffer.alloc(0), "");
});

test("decoding the output gives the exact input bytes, for text and binary alike", () => {
  const inputs = [
    bytes("plain"),
    bytes("<&>\t\n🎉"),
    Buffer.from([0xef, 0xbb, 0xbf, 0x41]),
    bytes("cr\r\n"),
    Buffer.from([0, 1, 2, 255]),
    Buffer.from([0xf0, 0x9f, 0x8e]),
  ];
  for (let i = 0; i < 200; i++) inputs.push(randomBytes(1 + (i % 64)));
  for (const input of inputs) assert.deepEqual(decode(encodeBody(input)), input);
});

test("a notification serialized to XML and parsed back gives the exact payload bytes", () => {
  const inputs = [bytes("a<b>&c\"d'e"), bytes("tab\tlf\n"), bytes("🎉"), Buffer.from([0xef, 0xbb, 0xbf, 0x41]), bytes("cr\r"), Buffer.from([0, 0xff])];
  for (const input of inputs) {
    const msg = overTheWire(notification("up.example.org", "a@example.org/r", "n1", "T", input));
    const body = msg.getChildText("body") ?? "";
    const isB64 = msg.getChild("encoding", "unifiedpush.org")?.getText() === "base64";
    const out = isB64 ? Buffer.from(body, "base64") : Buffer.from(body, "utf8");
    assert.deepEqual(out, input, `payload ${JSON.stringify(input.toString("latin1"))}`);
  }
});
