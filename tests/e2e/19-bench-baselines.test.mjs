// The benchmark's JavaScript baselines (bench/js-passthrough, bench/jose-worker), bundled as
// scripts/bench.sh bundles them: a baseline that answered 401 to valid tokens, or fetched
// the JWKS on every isolate, would make every ratio in a benchmark report meaningless.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WORKERS, bundleWorker } from "../../bench/build-workers.mjs";
import { startOrigin, startJwksServer, startGateway, tempKvDir, fixtureKey, mint, call } from "./lib/index.mjs";

const ISS = "https://bench-baseline.test/";
const AUD = "bench-api";
let dir, passthroughJs, joseJs, origin, jwks, kv, rsa, jose, passthrough;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "edgeguard-baselines-"));
  passthroughJs = await bundleWorker(WORKERS["js-passthrough"], join(dir, "js-passthrough", "index.js"));
  joseJs = await bundleWorker(WORKERS["jose-worker"], join(dir, "jose-worker", "index.js"));
  origin = await startOrigin();
  jwks = await startJwksServer();
  rsa = await fixtureKey("rsa2048-a");
  jwks.set("/j.json", { json: { keys: [rsa.jwk()] } });
  kv = tempKvDir();
  const issuers = [
    { issuer: ISS, jwks_uri: `${jwks.url}/j.json`, audiences: [AUD] },
    { issuer: "https://down.test/", jwks_uri: `${jwks.url}/missing.json`, audiences: [AUD] },
  ];
  jose = await startGateway({ script: joseJs, issuers, origin, kvPersist: kv.dir, vars: { REQUIRED_SCOPE: "read" } });
  passthrough = await startGateway({ script: passthroughJs, origin });
});
after(async () => {
  await jose?.close();
  await passthrough?.close();
  await origin?.close();
  await jwks?.close();
  kv?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const token = (claims = {}, opts = {}) => mint(rsa, { aud: AUD, scope: "read write", ...claims }, {}, { iss: ISS, ...opts });

describe("js-passthrough", () => {
  test("forwards path and query to ORIGIN, answers what the origin answers", async () => {
    const r = await call(passthrough.url, "/a/b?c=1");
    assert.equal(r.status, 200);
    assert.equal(origin.last().url, "/a/b?c=1");
  });
});

describe("js-reject-log", () => {
  test("answers edgeguard's missing-token 401 without forwarding", async () => {
    const script = await bundleWorker(WORKERS["js-reject-log"], join(dir, "js-reject-log", "index.js"));
    const gw = await startGateway({ script, origin });
    try {
      const before = origin.count();
      const r = await call(gw.url, "/items");
      assert.equal(r.status, 401);
      assert.equal(r.headers.get("www-authenticate"), 'Bearer realm="edgeguard"');
      assert.equal(r.json.error, "missing_token");
      assert.equal(origin.count(), before);
    } finally {
      await gw.close();
    }
  });
});

describe("jose-worker", () => {
  test("a valid token is forwarded with the identity headers (client copies replaced)", async () => {
    const t = await token({ sub: "alice" });
    const r = await call(jose.url, "/items?x=1", { token: t, headers: { "x-auth-subject": "mallory" } });
    assert.equal(r.status, 200);
    const seen = origin.last();
    assert.equal(seen.url, "/items?x=1");
    assert.equal(seen.headers["x-auth-subject"], "alice");
    assert.equal(seen.headers["x-auth-issuer"], ISS);
    assert.equal(seen.headers["x-auth-claims"], t.split(".")[1]);
  });
  test("no token: 401 missing_token, challenge without error", async () => {
    const r = await call(jose.url, "/");
    assert.equal(r.status, 401);
    assert.equal(r.json.error, "missing_token");
    assert.equal(r.headers.get("www-authenticate"), "Bearer");
    assert.equal(r.headers.get("cache-control"), "no-store");
  });
  for (const [name, make] of [
    ["bad signature", async () => (await token()).slice(0, -4) + "AAAA"],
    ["wrong audience", () => token({ aud: "other" })],
    ["expired", () => token({ exp: Math.floor(Date.now() / 1000) - 3600 })],
    ["unknown issuer", () => token({}, { iss: "https://nobody.test/" })],
  ]) {
    test(`${name}: 401 invalid_token`, async () => {
      const r = await call(jose.url, "/", { token: await make() });
      assert.equal(r.status, 401);
      assert.equal(r.json.error, "invalid_token");
      assert.match(r.headers.get("www-authenticate"), /^Bearer error="invalid_token", error_description="[^"]+"$/);
    });
  }
  test("a token without the required scope: 403 insufficient_scope", async () => {
    const r = await call(jose.url, "/", { token: await token({ scope: "write" }) });
    assert.equal(r.status, 403);
    assert.equal(r.json.error, "insufficient_scope");
    assert.match(r.headers.get("www-authenticate"), /error="insufficient_scope".*scope="read"/);
  });
  test("keys that cannot be fetched: 503 temporarily_unavailable with Retry-After", async () => {
    const r = await call(jose.url, "/", { token: await token({}, { iss: "https://down.test/" }) });
    assert.equal(r.status, 503);
    assert.equal(r.json.error, "temporarily_unavailable");
    assert.ok(r.headers.get("retry-after"));
  });
  test("a fresh isolate starts from the JWKS in KV instead of fetching it", async () => {
    await call(jose.url, "/", { token: await token() }); // this isolate has fetched and stored it
    const fetched = jwks.hits("/j.json");
    assert.ok(fetched >= 1);
    const again = await startGateway({
      script: joseJs,
      issuers: [{ issuer: ISS, jwks_uri: `${jwks.url}/j.json`, audiences: [AUD] }],
      origin,
      kvPersist: kv.dir,
    });
    try {
      const r = await call(again.url, "/", { token: await token() });
      assert.equal(r.status, 200);
      assert.equal(jwks.hits("/j.json"), fetched, "the second gateway fetched the JWKS although KV had it");
    } finally {
      await again.close();
    }
  });
});
