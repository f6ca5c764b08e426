import { test } from "node:test";
import assert from "node:assert/strict";
import { holderAddress } from "../../src/cluster/holder-address.ts";

test("a specific listen host is the holder's address, whatever the database sees", () => {
  assert.equal(holderAddress({ host: "10.0.0.5", port: 8080 }, "10.0.0.9"), "10.0.0.5:8080");
  assert.equal(holderAddress({ host: "gw1.internal", port: 80 }, null), "gw1.internal:80");
});

test("a specific IPv6 listen host is put in brackets", () => {
  assert.equal(holderAddress({ host: "fd00::5", port: 8080 }, null), "[fd00::5]:8080");
});

test("a wildcard listen takes the address PostgreSQL sees the holder connect from, with the listen port", () => {
  assert.equal(holderAddress({ host: "0.0.0.0", port: 8080 }, "192.168.1.20"), "192.168.1.20:8080");
  assert.equal(holderAddress({ host: "::", port: 8443 }, "2001:db8::7"), "[2001:db8::7]:8443");
});

test("an inet with a mask, or an IPv4 client seen through a dual-stack server, is cut to the plain IPv4 address", () => {
  assert.equal(holderAddress({ host: "0.0.0.0", port: 1 }, "10.1.2.3/32"), "10.1.2.3:1");
  assert.equal(holderAddress({ host: "::", port: 2 }, "::ffff:10.1.2.3"), "10.1.2.3:2");
});

test("a wildcard listen over a Unix socket (nothing seen) falls back to loopback of the listen's family", () => {
  assert.equal(holderAddress({ host: "0.0.0.0", port: 8080 }, null), "127.0.0.1:8080");
  assert.equal(holderAddress({ host: "::", port: 8080 }, null), "[::1]:8080");
});
