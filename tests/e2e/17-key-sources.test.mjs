// Key sources and fetch back-off (issue 11, items 3 and 4).
//
// * A KV record is bound to the source it came from: a new isolate whose issuer has another
//   jwks_uri, or that finds a record of an older version (no source fields), ignores it,
//   even while the configured endpoint fails.
// * A jwks_uri found by discovery is resolved again once its freshness (the discovery
//   response's Cache-Control, clamped like a JWKS response's) has run out.
// * A failing endpoint with nothing cached starts a back-off per issuer: 30 requests make a
//   few fetches, not 30, each answered 503 + Retry-After; discovery is covered too; once the
//   back-off has run out, a recovered endpoint is used again.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startOrigin, startedHere, issuerItem, discoveryDoc, fixtureKey, mint, now, sleep, waitFor,
  maxFetchesWithBackoff, call, assertForwarded, assertInvalidToken, assertUnavailable, notForwarded,
} from "./lib/index.mjs";

const WK = "/.well-known/openid-configuration";
const iss = (name) => `https://${name}.key-sources.test/`;
let origin, rsaA, rsaB;
const started = startedHere();
const { server, kvDir } = started;
const gateway = (opts) => started.gateway({ origin, ...opts });

before(async () => {
  origin = await startOrigin();
  rsaA = await fixtureKey("rsa2048-a");
  rsaB = await fixtureKey("rsa2048-b");
});
after(async () => {
  await started.closeAll();
  await origin?.close();
});

const keysOf = (...keys) => ({ json: { keys: keys.map((k) => k.jwk()) } });
const DOWN = { status: 503, body: "down" };

/** Waits (bounded) until the gateway has written the issuer's KV record; returns it parsed. */
async function kvRecord(g, issuer, pred = () => true) {
  const kv = await g.kv();
  let record;
  await waitFor(async () => {
    const text = await kv.get(`jwks:v1:${issuer}`);
    record = text ? JSON.parse(text) : undefined;
    return record && pred(record);
  }, 3000);
  return record;
}

describe("a KV record serves only the source it came from", () => {
  test("jwks_uri changed: a new isolate ignores the old record, even while the new endpoint fails", async () => {
    const s = await server();
    const dir = kvDir();
    const ISS = iss("moved");
    s.set("/a.json", { ...keysOf(rsaA), cacheControl: "max-age=600" });
    s.set("/b.json", DOWN);
    const g1 = await gateway({ issuers: [issuerItem(ISS, `${s.url}/a.json`)], kvPersist: dir });
    assertForwarded(await call(g1.url, "/a", { token: await mint(rsaA, {}, {}, { iss: ISS }) }), "/a");
    const written = await kvRecord(g1, ISS);
    assert.equal(written?.jwks_uri, `${s.url}/a.json`, "KV record of the first isolate");
    await g1.close();

    // The operator points the issuer at /b.json; /b.json is down. The old record is fresh.
    const g2 = await gateway({ issuers: [issuerItem(ISS, `${s.url}/b.json`)], kvPersist: dir });
    const r = await notForwarded(origin, () => call(g2.url, "/old", { token: mint(rsaA, {}, {}, { iss: ISS }) }));
    assertUnavailable(r);
    assert.equal(s.hits("/b.json"), 1, "the configured endpoint was tried");
    await g2.close();

    // Once /b.json serves keys, a new isolate uses them and only them, and records their source.
    s.set("/b.json", keysOf(rsaB));
    const g3 = await gateway({ issuers: [issuerItem(ISS, `${s.url}/b.json`)], kvPersist: dir });
    assertForwarded(await call(g3.url, "/new", { token: await mint(rsaB, {}, {}, { iss: ISS }) }), "/new");
    assertInvalidToken(await notForwarded(origin, () => call(g3.url, "/old", { token: mint(rsaA, {}, {}, { iss: ISS }) })));
    const rewritten = await kvRecord(g3, ISS, (x) => x.jwks_uri === `${s.url}/b.json`);
    assert.equal(rewritten?.jwks_uri, `${s.url}/b.json`, "KV record rewritten for the new source");
    assert.equal(s.hits("/a.json"), 1, "the old endpoint was not used again");
  });

  test("a record without source fields (older version) is not used", async () => {
    const s = await server();
    const ISS = iss("old-record");
    s.set("/keys.json", DOWN);
    const g = await gateway({ issuers: [issuerItem(ISS, `${s.url}/keys.json`)] });
    const kv = await g.kv();
    // The record format before sources were recorded, for the very same jwks_uri, fresh.
    await kv.put(`jwks:v1:${ISS}`, JSON.stringify({
      fetched_at: now(), fresh_until: now() + 600, jwks_uri: `${s.url}/keys.json`, jwks: JSON.stringify(keysOf(rsaA).json),
    }));
    const r = await notForwarded(origin, () => call(g.url, "/x", { token: mint(rsaA, {}, {}, { iss: ISS }) }));
    assertUnavailable(r);
    assert.equal(s.hits("/keys.json"), 1, "the endpoint was tried instead");
  });

  test("discovery: the record names the discovery URL and the jwks_uri it resolved to", async () => {
    const s = await server();
    const dir = kvDir();
    const issuer = `${s.url}/tenant-kv`;
    s.set(`/tenant-kv${WK}`, { json: discoveryDoc(issuer, `${s.url}/tenant-kv/jwks`), cacheControl: "max-age=600" });
    s.set("/tenant-kv/jwks", keysOf(rsaA));
    const g1 = await gateway({ issuers: [issuerItem(issuer)], kvPersist: dir });
    assertForwarded(await call(g1.url, "/d", { token: await mint(rsaA, {}, {}, { iss: issuer }) }), "/d");
    const record = await kvRecord(g1, issuer);
    assert.equal(record?.jwks_uri, `${s.url}/tenant-kv/jwks`);
    await g1.close();
    // A new isolate serves from the record without discovering or fetching again...
    s.set(`/tenant-kv${WK}`, DOWN);
    s.set("/tenant-kv/jwks", DOWN);
    const g2 = await gateway({ issuers: [issuerItem(issuer)], kvPersist: dir });
    assertForwarded(await call(g2.url, "/d2", { token: await mint(rsaA, {}, {}, { iss: issuer }) }), "/d2");
    assert.equal(s.hits(`/tenant-kv${WK}`), 1);
    assert.equal(s.hits("/tenant-kv/jwks"), 1);
    await g2.close();
    // ...but not for the same issuer configured with that jwks_uri: another source.
    const g3 = await gateway({ issuers: [issuerItem(issuer, `${s.url}/tenant-kv/jwks`)], kvPersist: dir });
    assertUnavailable(await notForwarded(origin, () => call(g3.url, "/d3", { token: mint(rsaA, {}, {}, { iss: issuer }) })));
    assert.equal(s.hits("/tenant-kv/jwks"), 2, "the configured endpoint was tried");
  });
});

describe("a discovered jwks_uri is resolved again when its freshness runs out", () => {
  // Keys and the discovered jwks_uri fresh for 1 s (no Cache-Control: the default TTL).
  const vars = { JWKS_MIN_TTL_SECONDS: "1", JWKS_DEFAULT_TTL_SECONDS: "1", JWKS_REFETCH_COOLDOWN_SECONDS: "1" };
  test("discovery moves jwks_uri: after the (1 s) freshness the new one is used, the old keys go", async () => {
    const s = await server();
    const issuer = `${s.url}/tenant-moves`;
    s.set(`/tenant-moves${WK}`, { json: discoveryDoc(issuer, `${s.url}/old/jwks`) });
    s.set("/old/jwks", keysOf(rsaA));
    s.set("/new/jwks", keysOf(rsaB));
    const g = await gateway({ issuers: [issuerItem(issuer)], vars });
    assertForwarded(await call(g.url, "/a", { token: await mint(rsaA, {}, {}, { iss: issuer }) }), "/a");
    assert.equal(s.hits(`/tenant-moves${WK}`), 1);

    s.set(`/tenant-moves${WK}`, { json: discoveryDoc(issuer, `${s.url}/new/jwks`) });
    await sleep(1100); // past the 1 s freshness of the keys and of the discovered jwks_uri
    assertForwarded(await call(g.url, "/b", { token: await mint(rsaB, {}, {}, { iss: issuer }) }), "/b");
    assert.equal(s.hits(`/tenant-moves${WK}`), 2, "discovery ran again");
    assert.equal(s.hits("/new/jwks"), 1, "keys from the new jwks_uri");
    const oldHits = s.hits("/old/jwks");
    assertInvalidToken(await notForwarded(origin, () => call(g.url, "/a", { token: mint(rsaA, {}, {}, { iss: issuer }) })));
    assert.equal(s.hits("/old/jwks"), oldHits, "the old jwks_uri is not used any more");
  });

  test("a new isolate with the same KV: the discovered jwks_uri in the record is resolved again too", async () => {
    const s = await server();
    const dir = kvDir();
    const issuer = `${s.url}/tenant-kv-moves`;
    s.set(`/tenant-kv-moves${WK}`, { json: discoveryDoc(issuer, `${s.url}/kv-old/jwks`) });
    s.set("/kv-old/jwks", keysOf(rsaA));
    s.set("/kv-new/jwks", keysOf(rsaB));
    const g1 = await gateway({ issuers: [issuerItem(issuer)], vars, kvPersist: dir });
    assertForwarded(await call(g1.url, "/a", { token: await mint(rsaA, {}, {}, { iss: issuer }) }), "/a");
    assert.ok(await kvRecord(g1, issuer), "KV record written");
    await g1.close();

    s.set(`/tenant-kv-moves${WK}`, { json: discoveryDoc(issuer, `${s.url}/kv-new/jwks`) });
    await sleep(1100);
    const g2 = await gateway({ issuers: [issuerItem(issuer)], vars, kvPersist: dir });
    assertForwarded(await call(g2.url, "/b", { token: await mint(rsaB, {}, {}, { iss: issuer }) }), "/b");
    assert.equal(s.hits(`/tenant-kv-moves${WK}`), 2, "discovery ran again in the new isolate");
    const record = await kvRecord(g2, issuer, (x) => x.jwks_uri === `${s.url}/kv-new/jwks`);
    assert.equal(record?.jwks_uri, `${s.url}/kv-new/jwks`, "KV record names the new jwks_uri");
  });

  test("rediscovery failing: the last jwks_uri keeps serving within the stale window", async () => {
    const s = await server();
    const issuer = `${s.url}/tenant-flaky`;
    s.set(`/tenant-flaky${WK}`, { json: discoveryDoc(issuer, `${s.url}/flaky/jwks`) });
    s.set("/flaky/jwks", keysOf(rsaA));
    const g = await gateway({ issuers: [issuerItem(issuer)], vars });
    assertForwarded(await call(g.url, "/a", { token: await mint(rsaA, {}, {}, { iss: issuer }) }), "/a");
    s.set(`/tenant-flaky${WK}`, DOWN);
    s.set("/flaky/jwks", keysOf(rsaA, rsaB));
    await sleep(1100);
    assertForwarded(await call(g.url, "/b", { token: await mint(rsaB, {}, {}, { iss: issuer }) }), "/b");
    assert.equal(s.hits(`/tenant-flaky${WK}`), 2, "rediscovery attempted");
    assert.equal(s.hits("/flaky/jwks"), 2, "keys refreshed from the last jwks_uri");
    const line = await waitFor(() => g.logs.find((l) => l.includes('"discovery_failed"')), 2000);
    assert.ok(line, "discovery failure logged");
  });
});

describe("a failing endpoint with nothing cached is not fetched once per request", () => {
  const vars = { RETRY_AFTER_SECONDS: "9" };
  /** 30 sequential requests, each 503 + Retry-After 9, none forwarded; returns the elapsed ms. */
  async function thirty(g, issuer) {
    const token = await mint(rsaA, {}, {}, { iss: issuer });
    const t0 = Date.now();
    for (let i = 0; i < 30; i++) assertUnavailable(await notForwarded(origin, () => call(g.url, "/x", { token })), "9");
    return Date.now() - t0;
  }
  const atMost = (hits, ms, what) =>
    assert.ok(hits <= maxFetchesWithBackoff(ms), `${hits} ${what} fetches for 30 requests in ${ms} ms (back-off allows ${maxFetchesWithBackoff(ms)})`);

  test("jwks_uri answering 503: a few fetches (back-off), not 30", async () => {
    const s = await server();
    s.set("/down.json", DOWN);
    const g = await gateway({ issuers: [issuerItem(iss("down"), `${s.url}/down.json`)], vars });
    const ms = await thirty(g, iss("down"));
    assert.ok(s.hits("/down.json") >= 1, "the endpoint was tried");
    atMost(s.hits("/down.json"), ms, "JWKS");
  });

  test("discovery answering 503: a few discovery fetches, not 30", async () => {
    const s = await server();
    const issuer = `${s.url}/tenant-down`;
    s.set(`/tenant-down${WK}`, DOWN);
    const g = await gateway({ issuers: [issuerItem(issuer)], vars });
    const ms = await thirty(g, issuer);
    assert.ok(s.hits(`/tenant-down${WK}`) >= 1);
    atMost(s.hits(`/tenant-down${WK}`), ms, "discovery");
  });

  test("discovery fine, its jwks_uri answering 503: neither is fetched per request", async () => {
    const s = await server();
    const issuer = `${s.url}/tenant-keys-down`;
    s.set(`/tenant-keys-down${WK}`, { json: discoveryDoc(issuer, `${s.url}/keys-down/jwks`) });
    s.set("/keys-down/jwks", DOWN);
    const g = await gateway({ issuers: [issuerItem(issuer)], vars });
    const ms = await thirty(g, issuer);
    assert.ok(s.hits("/keys-down/jwks") >= 1);
    atMost(s.hits("/keys-down/jwks"), ms, "JWKS");
    atMost(s.hits(`/tenant-keys-down${WK}`), ms, "discovery");
  });

  test("the back-off is per issuer: another issuer's failure does not hold this one back", async () => {
    const s = await server();
    s.set("/broken.json", DOWN);
    s.set("/fine.json", keysOf(rsaA));
    const g = await gateway({ issuers: [issuerItem(iss("broken"), `${s.url}/broken.json`), issuerItem(iss("fine"), `${s.url}/fine.json`)], vars });
    assertUnavailable(await notForwarded(origin, () => call(g.url, "/x", { token: mint(rsaA, {}, {}, { iss: iss("broken") }) })), "9");
    assertForwarded(await call(g.url, "/fine", { token: await mint(rsaA, {}, {}, { iss: iss("fine") }) }), "/fine");
  });

  test("after the back-off (1 s after one failure) a recovered endpoint is fetched again", async () => {
    const s = await server();
    s.set("/recovers.json", DOWN);
    const g = await gateway({ issuers: [issuerItem(iss("recovers"), `${s.url}/recovers.json`)], vars });
    assertUnavailable(await notForwarded(origin, () => call(g.url, "/x", { token: mint(rsaA, {}, {}, { iss: iss("recovers") }) })), "9");
    assert.equal(s.hits("/recovers.json"), 1);
    s.set("/recovers.json", keysOf(rsaA));
    await sleep(1100); // one failure: 1 s back-off (the worker counts whole seconds)
    assertForwarded(await call(g.url, "/ok", { token: await mint(rsaA, {}, {}, { iss: iss("recovers") }) }), "/ok");
    assert.equal(s.hits("/recovers.json"), 2);
  });
});
