import { test } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import assert from "node:assert/strict";
import { openDb } from "../../src/store/db.ts";
import { EndpointCache } from "../../src/store/endpoint-cache.ts";
import { type Registration, RegistrationStore } from "../../src/store/registrations.ts";
import { fixture, T0 } from "./_db.ts";

const APP = "bK3sdmrbtj3bf6XA2S12b8jJUA5TT1dhPEyeoZfVSRM=";
const INST = "EtD/1XPLmoIph7W73CZ/uyv6FAnhEAXY1GySHX17vAw=";

const row = (id: number, endpoint: string): Registration => ({
  id, endpoint, dialect: 2, jid: "a@x/r", bare: "a@x", token: null, application: APP, instance: INST,
  created_at: T0, renewed_at: T0, expires_at: T0 + 1000, bounce_since: null,
});

test("a cached endpoint is served without asking the database again", () => {
  let loads = 0;
  const cache = new EndpointCache(() => 0);
  const load = (e: string): Registration => (loads++, row(1, e));
  cache.get("E1", load);
  cache.get("E1", load);
  assert.equal(loads, 1);
});

test("an unknown endpoint is asked for every time, so a registration made later is found", () => {
  let known = false;
  const cache = new EndpointCache(() => 0);
  const load = (e: string): Registration | undefined => (known ? row(1, e) : undefined);
  assert.equal(cache.get("E1", load), undefined);
  known = true;
  assert.equal(cache.get("E1", load)?.id, 1);
});

test("the cache holds at most its size, dropping the oldest entry", () => {
  const cache = new EndpointCache(() => 0, 2);
  let loads = 0;
  const load = (e: string): Registration => (loads++, row(Number(e.slice(1)), e));
  for (const e of ["E1", "E2", "E3"]) cache.get(e, load);
  assert.equal(cache.size, 2);
  cache.get("E3", load);
  assert.equal(loads, 3);
  cache.get("E1", load);
  assert.equal(loads, 4);
});

test("a change of data_version (another connection committed) empties the cache on the next turn of the event loop", async () => {
  let version = 0, loads = 0, asked = 0;
  const cache = new EndpointCache(() => (asked++, version));
  const load = (e: string): Registration => (loads++, row(1, e));
  cache.get("E1", load);
  cache.get("E1", load);
  assert.equal(asked, 2, "once at construction, once for the first lookup of the turn");
  version = 1;
  await nextTurn();
  cache.get("E1", load);
  assert.equal(loads, 2);
});

test("the store's lookup sees its own renewals and revocations at once", () => {
  const f = fixture();
  try {
    const { id: _, ...fresh } = row(0, "E".repeat(32));
    const r = f.store.insert(fresh);
    assert.equal(f.store.byEndpoint(r.endpoint)?.jid, "a@x/r");
    f.store.renew(r.id, "a@x/other", T0 + 1, T0 + 5000);
    assert.deepEqual([f.store.byEndpoint(r.endpoint)?.jid, f.store.byEndpoint(r.endpoint)?.expires_at], ["a@x/other", T0 + 5000]);
    f.store.deleteEndpoint(r.endpoint);
    assert.equal(f.store.byEndpoint(r.endpoint), undefined);
  } finally {
    f.close();
  }
});

test("a revoke by another process on the same file (the admin tool) takes effect at the next lookup", async () => {
  const f = fixture();
  try {
    const r = await f.registry.register2("a@x/r", APP, INST);
    assert.ok(r.ok);
    const endpoint = r.reg.endpoint;
    assert.ok(f.store.byEndpoint(endpoint));
    const admin = openDb(f.path);
    new RegistrationStore(admin).deleteEndpoint(endpoint);
    admin.close();
    await nextTurn(); // another process's commit reaches us through I/O, so in a later turn
    assert.equal(f.store.byEndpoint(endpoint), undefined);
    assert.equal(await f.registry.lookup(endpoint), undefined);
  } finally {
    f.close();
  }
});

test("purging expired registrations and revoking an account drop them from the cache", async () => {
  const f = fixture();
  try {
    const a = await f.registry.register2("a@x/r", APP, INST);
    const b = await f.registry.register2("b@x/r", APP, INST);
    assert.ok(a.ok && b.ok);
    assert.ok(f.store.byEndpoint(a.reg.endpoint) && f.store.byEndpoint(b.reg.endpoint));
    f.store.deleteBare("a@x");
    assert.equal(f.store.byEndpoint(a.reg.endpoint), undefined);
    f.store.deleteExpired(b.reg.expires_at!);
    assert.equal(f.store.byEndpoint(b.reg.endpoint), undefined);
  } finally {
    f.close();
  }
});
