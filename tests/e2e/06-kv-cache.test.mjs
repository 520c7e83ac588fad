// JWKS_CACHE KV: entry jwks:v1:<issuer> with an expiration; a fresh isolate
// (new Miniflare instance) sharing the persisted KV serves valid tokens while
// the JWKS endpoint is down.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startOrigin, startJwksServer, startGateway, issuerItem, fixtureKey, mint, now, sleep, waitFor, tempKvDir,
  call, assertForwarded, assertUnavailable, notForwarded,
} from "./lib/index.mjs";

const ISS = "https://kv.fixtures.test/";
const ISS2 = "https://kv-stale.fixtures.test/";
let origin, kvDir, kvDir2;
const closers = [];

before(async () => {
  origin = await startOrigin();
  kvDir = tempKvDir();
  kvDir2 = tempKvDir();
});
after(async () => {
  for (const c of closers.reverse()) await c();
  await origin?.close();
  kvDir?.cleanup();
  kvDir2?.cleanup();
});

test("after the first fetch, a new isolate with the same KV serves valid tokens while JWKS is down", async () => {
  const rsa = await fixtureKey("rsa2048-a");
  const jwks = await startJwksServer();
  closers.push(() => jwks.close());
  jwks.set("/kv.json", { json: { keys: [rsa.jwk()] }, cacheControl: "max-age=600" });
  const issuers = [issuerItem(ISS, `${jwks.url}/kv.json`)];

  const g1 = await startGateway({ issuers, origin, kvPersist: kvDir.dir });
  closers.push(() => g1.close());
  assertForwarded(await call(g1.url, "/one", { token: await mint(rsa, {}, {}, { iss: ISS }) }), "/one");
  assert.equal(jwks.hits("/kv.json"), 1);

  const kv = await g1.kv();
  const key = `jwks:v1:${ISS}`;
  const listed = await waitFor(async () => (await kv.list()).keys.find((x) => x.name === key), 3000);
  assert.ok(listed, `KV key ${key} not found; keys: ${JSON.stringify((await kv.list()).keys)}`);
  assert.equal(typeof listed.expiration, "number", `KV entry without expiration: ${JSON.stringify(listed)}`);
  assert.ok(listed.expiration > now(), `expiration ${listed.expiration} is in the past`);
  const value = await kv.get(key);
  assert.ok(value && value.includes(rsa.jwkPublic.n.slice(0, 40)), "KV value holds the key material");
  await g1.close();

  await jwks.stop(); // connection refused from now on

  // Control: a new isolate WITHOUT the persisted KV cannot get keys.
  const gCold = await startGateway({ issuers, origin });
  closers.push(() => gCold.close());
  assertUnavailable(await notForwarded(origin, () => call(gCold.url, "/cold", { token: mint(rsa, {}, {}, { iss: ISS }) })));
  await gCold.close();

  const g2 = await startGateway({ issuers, origin, kvPersist: kvDir.dir });
  closers.push(() => g2.close());
  const before = origin.count();
  const rec = assertForwarded(await call(g2.url, "/two", { token: await mint(rsa, { sub: "from-kv" }, {}, { iss: ISS }) }), "/two");
  assert.equal(rec.headers["x-auth-subject"], "from-kv");
  assert.equal(origin.count(), before + 1);
});

test("a stale KV entry still serves in a new isolate while the endpoint fails, and a refetch is attempted", async () => {
  const ed = await fixtureKey("ed25519-a");
  const jwks = await startJwksServer();
  closers.push(() => jwks.close());
  jwks.set("/stale.json", { json: { keys: [ed.jwk()] } });
  const issuers = [issuerItem(ISS2, `${jwks.url}/stale.json`)];
  // cooldown 1 s too: the refetch of a stale set must not be held back by it here (05 tests that separately)
  const vars = { JWKS_MIN_TTL_SECONDS: "1", JWKS_DEFAULT_TTL_SECONDS: "1", JWKS_REFETCH_COOLDOWN_SECONDS: "1" };
  const g1 = await startGateway({ issuers, origin, vars, kvPersist: kvDir2.dir });
  closers.push(() => g1.close());
  assertForwarded(await call(g1.url, "/a", { token: await mint(ed, {}, {}, { iss: ISS2 }) }), "/a");
  const kv = await g1.kv();
  assert.ok(await waitFor(async () => (await kv.list()).keys.some((x) => x.name === `jwks:v1:${ISS2}`), 3000), "KV entry written");
  await g1.close();

  jwks.set("/stale.json", { status: 503, body: "down" });
  await sleep(1500); // past the 1 s freshness
  const hits = jwks.hits("/stale.json");
  const g2 = await startGateway({ issuers, origin, vars, kvPersist: kvDir2.dir });
  closers.push(() => g2.close());
  assertForwarded(await call(g2.url, "/b", { token: await mint(ed, {}, {}, { iss: ISS2 }) }), "/b");
  assert.ok(await waitFor(() => jwks.hits("/stale.json") > hits, 3000), "no refetch attempt for the stale key set");
});
