import { test } from "node:test";
import assert from "node:assert/strict";
import { isMessageIdShaped, isTokenShaped, MESSAGE_ID_LENGTH, mintMessageId, mintToken, TOKEN_LENGTH } from "../../src/tokens.ts";

const URL_SAFE = /^[A-Za-z0-9_-]+$/;

test("a minted token is 32 characters of the URL-safe alphabet", () => {
  assert.equal(TOKEN_LENGTH, 32);
  for (let i = 0; i < 100; i++) {
    const t = mintToken();
    assert.equal(t.length, 32);
    assert.match(t, URL_SAFE);
    assert.equal(encodeURIComponent(t), t);
  }
});

test("minted tokens use all 64 symbols after the first character, so a token carries well over 160 bits", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) for (const ch of mintToken().slice(1)) seen.add(ch);
  assert.equal(seen.size, 64);
  const bits = Math.log2(63) + (TOKEN_LENGTH - 1) * Math.log2(seen.size);
  assert.ok(bits > 191, `${bits} bits`);
});

test("no minted token starts with '-', so every token can be given on a command line", () => {
  for (let i = 0; i < 5000; i++) assert.notEqual(mintToken()[0], "-");
});

test("10,000 minted tokens are all distinct", () => {
  const tokens = new Set<string>();
  for (let i = 0; i < 10_000; i++) tokens.add(mintToken());
  assert.equal(tokens.size, 10_000);
});

test("isTokenShaped accepts minted tokens", () => {
  for (let i = 0; i < 100; i++) assert.equal(isTokenShaped(mintToken()), true);
  assert.equal(isTokenShaped("A".repeat(16) + "z9_-".repeat(4)), true);
});

test("isTokenShaped refuses wrong lengths, other alphabets and trailing newlines", () => {
  const t = mintToken();
  for (const bad of ["", t.slice(1), `${t}A`, `${t.slice(1)}+`, `${t.slice(1)}/`, `${t.slice(1)}=`, `${t.slice(1)} `, `${t.slice(1)}é`, `${t}\n`, `../${t.slice(3)}`]) {
    assert.equal(isTokenShaped(bad), false, JSON.stringify(bad));
  }
});

test("a message id is 22 characters of all 64 URL-safe symbols: 132 bits, at least the 128 a cancel capability needs", () => {
  assert.equal(MESSAGE_ID_LENGTH, 22);
  assert.ok(MESSAGE_ID_LENGTH * Math.log2(64) >= 128);
  const seen = new Set<string>();
  const ids = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const id = mintMessageId();
    assert.ok(isMessageIdShaped(id), id);
    ids.add(id);
    for (const ch of id) seen.add(ch);
  }
  assert.equal(seen.size, 64);
  assert.equal(ids.size, 2000);
  assert.equal(isMessageIdShaped("x".repeat(21)), false);
  assert.equal(isMessageIdShaped(`${"x".repeat(21)}/`), false);
});
