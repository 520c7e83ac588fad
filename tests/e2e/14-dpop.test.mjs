// RFC 9449 (DPoP) end to end: access tokens bound with cnf.jkt, proofs minted by node jose.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { SignJWT, generateKeyPair, exportJWK, calculateJwkThumbprint } from "jose";
import {
  startOrigin, startJwksServer, startGateway, issuerItem, readJson, fixtureKey, mint, FIX_ISS, call,
  assertForwarded, assertInvalidToken, parseWwwAuthenticate,
} from "./lib/index.mjs";

let origin, jwks, gw, key, clientKey, clientJwk, jkt;

before(async () => {
  origin = await startOrigin();
  jwks = await startJwksServer();
  jwks.set("/main.json", { json: readJson("jwks/main.json") });
  gw = await startGateway({ issuers: [issuerItem(FIX_ISS, `${jwks.url}/main.json`)], origin });
  key = await fixtureKey("rsa2048-a");
  const pair = await generateKeyPair("ES256", { extractable: true });
  clientKey = pair.privateKey;
  clientJwk = await exportJWK(pair.publicKey);
  jkt = await calculateJwkThumbprint(clientJwk);
});
after(async () => {
  await gw?.close?.();
  await gw?.dispose?.();
  origin?.close?.();
  jwks?.close?.();
});

const ath = (token) => crypto.createHash("sha256").update(token).digest("base64url");
async function proof({ htm = "GET", htu, token, iat = Math.floor(Date.now() / 1000), jti = crypto.randomUUID(), signer = clientKey, jwk = clientJwk, typ = "dpop+jwt" } = {}) {
  return new SignJWT({ htm, htu, iat, jti, ...(token ? { ath: ath(token) } : {}) })
    .setProtectedHeader({ alg: "ES256", typ, jwk })
    .sign(signer);
}
const dpopCall = (path, token, dpop, method = "GET") =>
  call(gw.url, path, { method, auth: `DPoP ${token}`, headers: dpop === undefined ? {} : { DPoP: dpop } });

function assertDpopError(r, error = "invalid_dpop_proof") {
  assert.equal(r.status, 401, r.text);
  assert.equal(r.json?.error, error, r.text);
  const www = r.headers.get("www-authenticate") ?? "";
  assert.match(www, /^DPoP /, www);
  const p = parseWwwAuthenticate(www);
  assert.equal(p.params?.error ?? p.error ?? (www.match(/error="([^"]+)"/) || [])[1], error, www);
  assert.match(www, /algs="[^"]*ES256[^"]*"/, www);
}

describe("DPoP-bound access tokens (RFC 9449)", () => {
  test("valid proof with Authorization: DPoP -> forwarded", async () => {
    const token = await mint(key, { cnf: { jkt } });
    const r = await dpopCall("/dpop/ok?x=1", token, await proof({ htu: `${gw.url}/dpop/ok`, token }));
    const rec = assertForwarded(r, "/dpop/ok");
    assert.equal(rec.headers["x-auth-subject"], "e2e-user");
  });

  test("bound token sent as Bearer -> 401 invalid_token, not forwarded", async () => {
    const before = origin.count();
    const token = await mint(key, { cnf: { jkt } });
    const r = await call(gw.url, "/dpop/bearer", { token });
    assertInvalidToken(r);
    assert.equal(r.json.error_description, "token is DPoP-bound");
    assert.equal(origin.count(), before);
  });

  test("DPoP scheme with an unbound token -> 401", async () => {
    const before = origin.count();
    const token = await mint(key);
    const r = await dpopCall("/dpop/unbound", token, await proof({ htu: `${gw.url}/dpop/unbound`, token }));
    assertInvalidToken(r);
    assert.equal(origin.count(), before);
  });

  for (const [name, make, error] of [
    ["missing proof", async () => undefined],
    ["wrong htm", async (t, u) => proof({ htm: "POST", htu: u, token: t })],
    ["wrong htu", async (t) => proof({ htu: `${gw.url}/elsewhere`, token: t })],
    ["stale iat", async (t, u) => proof({ htu: u, token: t, iat: Math.floor(Date.now() / 1000) - 3600 })],
    ["future iat", async (t, u) => proof({ htu: u, token: t, iat: Math.floor(Date.now() / 1000) + 3600 })],
    ["ath of another token", async (t, u) => proof({ htu: u, token: t + "x" })],
    ["wrong typ", async (t, u) => proof({ htu: u, token: t, typ: "JWT" })],
    ["proof from another key", async (t, u) => {
      const other = await generateKeyPair("ES256", { extractable: true });
      return proof({ htu: u, token: t, signer: other.privateKey, jwk: await exportJWK(other.publicKey) });
    }, "invalid_token"],
  ]) {
    test(`${name} -> 401 with a DPoP challenge, not forwarded`, async () => {
      const before = origin.count();
      const token = await mint(key, { cnf: { jkt } });
      const path = `/dpop/${name.replace(/\W+/g, "-")}`;
      const r = await dpopCall(path, token, await make(token, `${gw.url}${path}`));
      assertDpopError(r, error);
      assert.equal(origin.count(), before, "origin saw the request");
    });
  }

  test("a replayed proof (same jti) is refused the second time", async () => {
    const token = await mint(key, { cnf: { jkt } });
    const p = await proof({ htu: `${gw.url}/dpop/replay`, token, jti: "fixed-jti-1" });
    assertForwarded(await dpopCall("/dpop/replay", token, p), "/dpop/replay");
    const before = origin.count();
    assertDpopError(await dpopCall("/dpop/replay", token, p));
    assert.equal(origin.count(), before);
  });
});
