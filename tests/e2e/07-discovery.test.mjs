// OIDC discovery: issuer item without jwks_uri -> <issuer>/.well-known/openid-configuration.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startOrigin, startJwksServer, startGateway, issuerItem, discoveryDoc, fixtureKey, mint,
  call, assertForwarded, notForwarded, assertEdgeError,
} from "./lib/index.mjs";

const WK = "/.well-known/openid-configuration";
let origin, rsa;
const closers = [];

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

before(async () => {
  origin = await startOrigin();
  rsa = await fixtureKey("rsa2048-a");
});
after(async () => {
  for (const c of closers.reverse()) await c();
  await origin?.close();
});

test("discovery document with the configured issuer -> keys from its jwks_uri -> 200", async () => {
  const s = await server();
  const issuer = s.url; // http://127.0.0.1:<port> (loopback http allowed)
  s.set(WK, { json: discoveryDoc(issuer, `${s.url}/keys/jwks.json`) });
  s.set("/keys/jwks.json", { json: { keys: [rsa.jwk()] } });
  const g = await gateway({ issuers: [issuerItem(issuer)] });
  const rec = assertForwarded(await call(g.url, "/d", { token: await mint(rsa, {}, {}, { iss: issuer }) }), "/d");
  assert.equal(rec.headers["x-auth-issuer"], issuer);
  assert.ok(s.hits(WK) >= 1, "discovery document fetched");
  assert.ok(s.hits("/keys/jwks.json") >= 1, "jwks_uri from the document fetched");
});

test("discovery with a base path in the issuer", async () => {
  const s = await server();
  const issuer = `${s.url}/tenant-a`;
  s.set(`/tenant-a${WK}`, { json: discoveryDoc(issuer, `${s.url}/tenant-a/jwks`) });
  s.set("/tenant-a/jwks", { json: { keys: [rsa.jwk()] } });
  const g = await gateway({ issuers: [issuerItem(issuer)] });
  assertForwarded(await call(g.url, "/d", { token: await mint(rsa, {}, {}, { iss: issuer }) }), "/d");
});

test("discovery document naming a different issuer -> not accepted, jwks_uri not used", async () => {
  const s = await server();
  const issuer = s.url;
  s.set(WK, { json: discoveryDoc(`${s.url}/`, `${s.url}/keys/jwks.json`) }); // trailing slash: differs
  s.set("/keys/jwks.json", { json: { keys: [rsa.jwk()] } });
  const g = await gateway({ issuers: [issuerItem(issuer)] });
  const r = await notForwarded(origin, () => call(g.url, "/d", { token: mint(rsa, {}, {}, { iss: issuer }) }));
  assert.ok(r.status === 503 || r.status === 401, `status ${r.status}: ${r.text}`);
  assertEdgeError(r, r.status, r.status === 503 ? "temporarily_unavailable" : "invalid_token");
  assert.equal(s.hits("/keys/jwks.json"), 0, "keys fetched from a mismatching discovery document");
});

test("discovery document unavailable / not JSON -> 503", async () => {
  const s = await server();
  const issuer = s.url;
  s.set(WK, { contentType: "text/html", body: "<html>nope</html>" });
  const g = await gateway({ issuers: [issuerItem(issuer)] });
  const r = await notForwarded(origin, () => call(g.url, "/d", { token: mint(rsa, {}, {}, { iss: issuer }) }));
  assertEdgeError(r, 503, "temporarily_unavailable");
});
