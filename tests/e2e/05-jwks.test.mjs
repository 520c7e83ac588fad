// JWKS fetching and caching: unavailable before the first fetch (503),
// key rotation, unknown-kid refetch cooldown, stale keys while the endpoint
// fails, bad responses never replacing good keys, Cache-Control max-age and
// its clamps, JWKS_MAX_BYTES / JWKS_MAX_KEYS / JWKS_TIMEOUT_MS.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startOrigin, startJwksServer, startGateway, issuerItem, readJson, fixtureKey, freshKey, mint, closedPort, sleep, waitFor, alignToSecond,
  call, assertForwarded, assertInvalidToken, assertUnavailable, notForwarded,
} from "./lib/index.mjs";

const iss = (name) => `https://${name}.jwks.test/`;
let origin, k, attacker;
const closers = [];

before(async () => {
  origin = await startOrigin();
  k = {};
  for (const n of ["rsa2048-a", "rsa2048-b", "p256-a", "p256-b", "ed25519-a"]) k[n] = await fixtureKey(n);
  attacker = await freshKey("ghost", "RS256");
});
after(async () => {
  for (const c of closers.reverse()) await c();
  await origin?.close();
});

async function server() {
  const s = await startJwksServer();
  closers.push(() => s.close());
  return s;
}
async function gateway(opts) {
  const g = await startGateway({ origin, ...opts });
  closers.push(() => g.close());
  return g;
}
const tokenFor = (name, key = k["rsa2048-a"], header = {}) => mint(key, {}, header, { iss: iss(name) });
const ok = async (g, name, key, header) => assertForwarded(await call(g.url, `/${name}`, { token: await tokenFor(name, key, header) }), `/${name}`);

const BAD = {
  s503: { status: 503, body: "maintenance" },
  s500: { status: 500, json: { keys: [] } },
  s404: { status: 404, body: "not found" },
  html: { contentType: "text/html", body: "<!doctype html><html><body>login</body></html>" },
  notjson: { contentType: "application/json", body: '{"keys": [' },
  notjwks: { json: { foo: 1 } },
  keysnotarray: { json: { keys: "nope" } },
  emptybody: { contentType: "application/json", body: "" },
  reset: { reset: true },
  nokeys: { json: { keys: [] } },
  junkonly: { json: { keys: [{ kty: "oct", kid: "junk", k: "c2VjcmV0" }, { kty: "XYZ", kid: "xyz" }] } },
};

describe("keys unobtainable and nothing cached -> 503 + Retry-After, nothing forwarded", () => {
  let g, gDefault, s;
  before(async () => {
    s = await server();
    const issuers = [issuerItem(iss("refused"), `http://127.0.0.1:${await closedPort()}/jwks.json`)];
    for (const [name, b] of Object.entries(BAD)) {
      s.set(`/${name}.json`, b);
      issuers.push(issuerItem(iss(name), `${s.url}/${name}.json`));
    }
    s.set("/slow.json", { delayMs: 3000, json: { keys: [k["rsa2048-a"].jwk()] } });
    issuers.push(issuerItem(iss("slow"), `${s.url}/slow.json`));
    g = await gateway({ issuers, vars: { RETRY_AFTER_SECONDS: "7", JWKS_TIMEOUT_MS: "300" } });
    gDefault = await gateway({ issuers });
  });
  for (const name of ["refused", ...Object.keys(BAD)]) {
    test(`JWKS endpoint: ${name}`, async () => {
      const r = await notForwarded(origin, () => call(g.url, "/x", { token: tokenFor(name) }));
      assertUnavailable(r, "7");
    });
  }
  test("JWKS endpoint slower than JWKS_TIMEOUT_MS=300 -> 503, not the 3 s answer", async () => {
    // The slow endpoint does answer, after 3 s, with the token's key: a gateway that waited
    // for it would forward (200). So the 503 itself shows the fetch was given up, without a
    // clock in the assertion (11-failing-jwks bounds the give-up time itself).
    const r = await notForwarded(origin, () => call(g.url, "/x", { token: tokenFor("slow") }));
    assertUnavailable(r, "7");
    assert.equal(s.hits("/slow.json"), 1, "the slow endpoint was asked once");
  });
  test("default Retry-After is 30", async () => {
    assertUnavailable(await notForwarded(origin, () => call(gDefault.url, "/x", { token: tokenFor("refused") })), "30");
  });
});

describe("key rotation and unknown-kid refetch (JWKS_REFETCH_COOLDOWN_SECONDS=1)", () => {
  let g, s;
  const P = "/rot.json";
  before(async () => {
    s = await server();
    s.set(P, { json: { keys: [k["rsa2048-a"].jwk()] } });
    g = await gateway({ issuers: [issuerItem(iss("rot"), `${s.url}${P}`)], vars: { JWKS_REFETCH_COOLDOWN_SECONDS: "1" } });
  });
  test("first use fetches the JWKS once", async () => {
    await ok(g, "rot");
    await ok(g, "rot");
    assert.equal(s.hits(P), 1);
  });
  test("a newly published kid is accepted after a refetch", async () => {
    s.set(P, { json: { keys: [k["rsa2048-a"].jwk(), k["rsa2048-b"].jwk()] } });
    await sleep(1200);
    await ok(g, "rot", k["rsa2048-b"]);
    assert.equal(s.hits(P), 2);
    await ok(g, "rot", k["rsa2048-a"]);
    assert.equal(s.hits(P), 2, "known kids do not refetch");
  });
  test("5 sequential unknown kids after the cooldown: exactly one refetch", async () => {
    await sleep(1200);
    const tokens = await Promise.all(Array.from({ length: 5 }, (_, i) => mint(attacker, {}, { kid: `ghost-seq-${i}` }, { iss: iss("rot") })));
    await alignToSecond(); // the burst below stays within one wall-clock second
    const t0 = Date.now();
    const before = s.hits(P);
    const n = origin.count();
    const rs = [];
    for (const token of tokens) rs.push(await call(g.url, "/u", { token }));
    const elapsed = Date.now() - t0;
    for (const r of rs) assertInvalidToken(r);
    assert.equal(origin.count(), n, "rejected requests reached the origin");
    assert.ok(elapsed < 900, `burst took ${elapsed} ms`);
    assert.equal(s.hits(P) - before, 1);
  });
  test("5 parallel unknown kids after the cooldown: at most one refetch", async () => {
    await sleep(1200);
    const before = s.hits(P);
    const tokens = await Promise.all(Array.from({ length: 5 }, (_, i) => mint(attacker, {}, { kid: `ghost-par-${i}` }, { iss: iss("rot") })));
    await alignToSecond();
    const n = origin.count();
    const rs = await Promise.all(tokens.map((token) => call(g.url, "/u", { token })));
    for (const r of rs) assertInvalidToken(r);
    assert.equal(origin.count(), n);
    const d = s.hits(P) - before;
    assert.ok(d <= 1, `${d} refetches`);
    assert.ok(d >= 1, "no refetch at all after the cooldown");
  });
  test("a refetch answered with HTML / 500 keeps the good keys", async () => {
    for (const bad of [BAD.html, BAD.s500, BAD.notjwks]) {
      await sleep(1100);
      s.set(P, bad);
      const before = s.hits(P);
      const token = await mint(attacker, {}, { kid: "ghost-bad" }, { iss: iss("rot") });
      assertInvalidToken(await notForwarded(origin, () => call(g.url, "/u", { token })));
      assert.equal(s.hits(P) - before, 1, "the unknown kid triggered a refetch");
      await ok(g, "rot", k["rsa2048-a"]);
      await ok(g, "rot", k["rsa2048-b"]);
    }
    s.set(P, { json: { keys: [k["rsa2048-a"].jwk(), k["rsa2048-b"].jwk()] } });
  });
});

describe("key removal and the verified-token cache", () => {
  test("a removed key stops verifying after the next refresh, including a token already accepted (cached)", async () => {
    const s = await server();
    s.set("/rm.json", { json: { keys: [k["rsa2048-a"].jwk(), k["rsa2048-b"].jwk()] } });
    const g = await gateway({
      issuers: [issuerItem(iss("rm"), `${s.url}/rm.json`)],
      vars: { JWKS_MIN_TTL_SECONDS: "1", JWKS_DEFAULT_TTL_SECONDS: "1", JWKS_REFETCH_COOLDOWN_SECONDS: "1" },
    });
    const tokenA = await tokenFor("rm", k["rsa2048-a"]);
    for (let i = 0; i < 3; i++) assertForwarded(await call(g.url, "/rm", { token: tokenA }), "/rm");
    s.set("/rm.json", { json: { keys: [k["rsa2048-b"].jwk()] } }); // rsa2048-a withdrawn
    const hits = s.hits("/rm.json");
    await sleep(1300);
    // the first request after the freshness ends may still be answered from the
    // stale set while the refresh runs; within a few requests the removal applies
    let r;
    for (let i = 0; i < 20; i++) {
      r = await call(g.url, "/rm", { token: tokenA });
      if (r.status !== 200) break;
      await sleep(100);
    }
    assert.ok(s.hits("/rm.json") > hits, "key set not refreshed");
    assertInvalidToken(r);
    const n = origin.count();
    assertInvalidToken(await call(g.url, "/rm", { token: tokenA }));
    assertInvalidToken(await call(g.url, "/rm", { token: await tokenFor("rm", k["rsa2048-a"]) }));
    assert.equal(origin.count(), n);
    await ok(g, "rm", k["rsa2048-b"]);
  });
});

describe("refused tokens and a changed key set", () => {
  test("a token refused for its signature (kid reused for other key material) verifies once the key set publishes the key that signed it", async () => {
    const s = await server();
    const kid = k["rsa2048-a"].jwk().kid;
    assert.ok(kid, "fixture key has a kid");
    // The published key under that kid is not the one that signs the token.
    s.set("/kid.json", { json: { keys: [{ ...k["rsa2048-b"].jwk(), kid }] } });
    const g = await gateway({
      issuers: [issuerItem(iss("kid"), `${s.url}/kid.json`)],
      vars: { JWKS_MIN_TTL_SECONDS: "1", JWKS_DEFAULT_TTL_SECONDS: "1", JWKS_REFETCH_COOLDOWN_SECONDS: "1" },
    });
    const token = await tokenFor("kid", k["rsa2048-a"]);
    // Refused every time (the second and later answers may come from the verdict cache).
    for (let i = 0; i < 3; i++) {
      const r = await notForwarded(origin, () => call(g.url, "/kid", { token }));
      assertInvalidToken(r);
    }
    s.set("/kid.json", { json: { keys: [k["rsa2048-a"].jwk()] } });
    await sleep(1300);
    let r;
    for (let i = 0; i < 20; i++) {
      r = await call(g.url, "/kid", { token });
      if (r.status === 200) break;
      await sleep(100);
    }
    assertForwarded(r, "/kid");
  });
});

describe("unknown-kid refetch with the default 30 s cooldown", () => {
  test("after the first fetch, unknown kids cause at most one refetch", async () => {
    const s = await server();
    s.set("/cool.json", { json: { keys: [k["rsa2048-a"].jwk()] } });
    const g = await gateway({ issuers: [issuerItem(iss("cool"), `${s.url}/cool.json`)] });
    await ok(g, "cool");
    assert.equal(s.hits("/cool.json"), 1);
    s.set("/cool.json", { json: { keys: [k["rsa2048-a"].jwk(), k["rsa2048-b"].jwk()] } });
    for (let i = 0; i < 6; i++) {
      const token = await mint(attacker, {}, { kid: `ghost-${i}` }, { iss: iss("cool") });
      assertInvalidToken(await notForwarded(origin, () => call(g.url, "/u", { token })));
    }
    const after6 = s.hits("/cool.json");
    assert.ok(after6 - 1 <= 1, `${after6 - 1} refetches within the cooldown`);
    // Whatever happened, no further fetch is allowed now: a brand-new kid is
    // either known from that single refetch or rejected without a fetch.
    const r = await call(g.url, "/b", { token: await tokenFor("cool", k["rsa2048-b"]) });
    assert.ok(r.status === 200 || r.status === 401, `status ${r.status}`);
    assert.ok(s.hits("/cool.json") - 1 <= 1, `${s.hits("/cool.json") - 1} refetches within the cooldown`);
  });
});

describe("stale keys while the endpoint fails (TTL 1 s)", () => {
  test("cached keys keep serving after failures; JWKS_MAX_STALE_SECONDS bounds it", async () => {
    const s = await server();
    const sDown = await server(); // stopped entirely later (connection refused)
    const vars = { JWKS_MIN_TTL_SECONDS: "1", JWKS_DEFAULT_TTL_SECONDS: "1", JWKS_REFETCH_COOLDOWN_SECONDS: "1", JWKS_TIMEOUT_MS: "300" };
    const good = { json: { keys: [k["rsa2048-a"].jwk()] } };
    const names = [...Object.keys(BAD), "slow"];
    const issuers = [issuerItem(iss("refused"), `${sDown.url}/refused.json`)];
    sDown.set("/refused.json", good);
    for (const n of names) {
      s.set(`/${n}.json`, good);
      issuers.push(issuerItem(iss(n), `${s.url}/${n}.json`));
    }
    s.set("/bounded.json", good);
    const g = await gateway({ issuers, vars });
    const gBounded = await gateway({ issuers: [issuerItem(iss("bounded"), `${s.url}/bounded.json`)], vars: { ...vars, JWKS_MAX_STALE_SECONDS: "1" } });
    for (const n of ["refused", ...names]) await ok(g, n);
    await ok(gBounded, "bounded");
    const hits0 = Object.fromEntries(names.map((n) => [n, s.hits(`/${n}.json`)]));
    // break everything
    for (const n of Object.keys(BAD)) s.set(`/${n}.json`, BAD[n]);
    s.set("/slow.json", { delayMs: 3000, ...good });
    s.set("/bounded.json", BAD.s503);
    await sDown.stop();
    await sleep(2600); // past freshness (1 s) and past freshness + JWKS_MAX_STALE_SECONDS=1 for "bounded"
    for (const n of ["refused", ...names]) {
      await ok(g, n);
    }
    for (const n of names) {
      if (n === "reset" || n === "slow") continue; // counted too, but the request may still be in flight
      const got = await waitFor(() => s.hits(`/${n}.json`) > hits0[n], 3000);
      assert.ok(got, `${n}: the stale key set was not refetched (hits ${s.hits(`/${n}.json`)})`);
    }
    // a second round: the bad answers did not replace the keys
    await sleep(1200);
    for (const n of ["refused", ...names]) await ok(g, n);
    // beyond max stale: nothing usable
    assertUnavailable(await notForwarded(origin, () => call(gBounded.url, "/x", { token: tokenFor("bounded") })));
  });
});

describe("Cache-Control max-age (clamped) decides freshness", () => {
  // JWKS_REFETCH_COOLDOWN_SECONDS=1 in the first test so only the TTL rules are
  // measured; the second test checks that the unknown-kid cooldown (default
  // 30 s) does not hold back the refresh of a key set whose freshness ended.
  async function run(extraVars) {
    const s = await server();
    const good = (cacheControl) => ({ json: { keys: [k["rsa2048-a"].jwk()] }, cacheControl });
    s.set("/ma2.json", good("public, max-age=2"));
    s.set("/nocc.json", good(undefined));
    s.set("/big.json", good("max-age=86400"));
    s.set("/def.json", good(undefined));
    s.set("/zero.json", good("max-age=0"));
    s.set("/nostore.json", good("no-store"));
    s.set("/nocache.json", good("no-cache"));
    const it = (n) => issuerItem(iss(n), `${s.url}/${n}.json`);
    const v = (o) => ({ ...o, ...extraVars });
    const g1 = await gateway({ issuers: [it("ma2"), it("nocc")], vars: v({ JWKS_MIN_TTL_SECONDS: "1", JWKS_MAX_TTL_SECONDS: "3600", JWKS_DEFAULT_TTL_SECONDS: "600" }) });
    const g2 = await gateway({ issuers: [it("big")], vars: v({ JWKS_MIN_TTL_SECONDS: "1", JWKS_MAX_TTL_SECONDS: "2", JWKS_DEFAULT_TTL_SECONDS: "600" }) });
    const g3 = await gateway({ issuers: [it("def")], vars: v({ JWKS_MIN_TTL_SECONDS: "1", JWKS_DEFAULT_TTL_SECONDS: "2" }) });
    const g4 = await gateway({ issuers: [it("zero"), it("nostore"), it("nocache")], vars: v({ JWKS_MIN_TTL_SECONDS: "5", JWKS_DEFAULT_TTL_SECONDS: "600" }) });
    const all = [[g1, "ma2"], [g1, "nocc"], [g2, "big"], [g3, "def"], [g4, "zero"], [g4, "nostore"], [g4, "nocache"]];
    const t0 = Date.now();
    for (const [g, n] of all) await ok(g, n);
    for (const [g, n] of all) await ok(g, n);
    for (const [, n] of all) assert.equal(s.hits(`/${n}.json`), 1, `${n}: refetched while fresh`);
    await sleep(Math.max(0, 2700 - (Date.now() - t0)));
    for (const [g, n] of all) await ok(g, n);
    const missing = [];
    for (const n of ["ma2", "big", "def"]) if (!(await waitFor(() => s.hits(`/${n}.json`) >= 2, 1500))) missing.push(n);
    assert.deepEqual(missing, [], `not refetched after their (clamped) 2 s freshness: ${missing.join(", ")} (ma2: max-age=2; big: max-age=86400 clamped by JWKS_MAX_TTL_SECONDS=2; def: no max-age, JWKS_DEFAULT_TTL_SECONDS=2)`);
    assert.ok(Date.now() - t0 < 4800, "test too slow to judge the 5 s lower clamp");
    for (const n of ["nocc", "zero", "nostore", "nocache"]) assert.equal(s.hits(`/${n}.json`), 1, `${n}: refetched before its freshness ended`);
  }
  test("max-age honoured, clamped to JWKS_MAX_TTL_SECONDS / JWKS_MIN_TTL_SECONDS, default without max-age (cooldown 1 s)", async () => {
    await run({ JWKS_REFETCH_COOLDOWN_SECONDS: "1" });
  });
  test("same with the default 30 s unknown-kid cooldown: expiry-driven refreshes are not held back by it", async () => {
    await run({});
  });
});

describe("JWKS_MAX_BYTES / JWKS_MAX_KEYS", () => {
  let g, s;
  before(async () => {
    s = await server();
    const main = readJson("jwks/main.json");
    assert.ok(JSON.stringify(main).length > 1024);
    s.set("/big.json", { json: main });
    s.set("/bigchunked.json", { json: main, chunked: true });
    const small = { keys: [k["p256-a"].jwk()] };
    assert.ok(JSON.stringify(small).length < 1024);
    s.set("/small.json", { json: small });
    const padded = JSON.stringify(small).replace("{", "{" + " ".repeat(1100));
    s.set("/padded.json", { body: padded, contentType: "application/json", chunked: true });
    const three = { keys: [k["p256-a"].jwk(), k["ed25519-a"].jwk(), k["p256-b"].jwk()] };
    assert.ok(JSON.stringify(three).length < 1024);
    s.set("/three.json", { json: three });
    s.set("/two.json", { json: { keys: [k["p256-a"].jwk(), k["ed25519-a"].jwk()] } });
    const it = (n) => issuerItem(iss(n), `${s.url}/${n}.json`);
    g = await gateway({ issuers: ["big", "bigchunked", "small", "padded", "three", "two"].map(it), vars: { JWKS_MAX_BYTES: "1024", JWKS_MAX_KEYS: "2" } });
  });
  test("JWKS over JWKS_MAX_BYTES (Content-Length) -> 503", async () => {
    assertUnavailable(await notForwarded(origin, () => call(g.url, "/x", { token: tokenFor("big") })));
  });
  test("JWKS over JWKS_MAX_BYTES (chunked, no Content-Length) -> 503", async () => {
    assertUnavailable(await notForwarded(origin, () => call(g.url, "/x", { token: tokenFor("bigchunked") })));
  });
  test("small key set padded with whitespace over the limit -> 503", async () => {
    assertUnavailable(await notForwarded(origin, () => call(g.url, "/x", { token: tokenFor("padded", k["p256-a"]) })));
  });
  test("JWKS under the limit -> 200", async () => {
    await ok(g, "small", k["p256-a"]);
  });
  test("more keys than JWKS_MAX_KEYS=2 -> 503; two keys -> 200", async () => {
    assertUnavailable(await notForwarded(origin, () => call(g.url, "/x", { token: tokenFor("three", k["p256-a"]) })));
    await ok(g, "two", k["p256-a"]);
    await ok(g, "two", k["ed25519-a"]);
  });
});
