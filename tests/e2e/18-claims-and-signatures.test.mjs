// Claim values and signature edge cases (issue 11, item 5): CLAIM_HEADERS arrays and edge
// spaces arrive distinguishable at the origin; max_token_age is bounded at config load;
// Ed25519 is verified strictly (the identity-point key with R = identity, S = 0 verifies no
// DPoP proof and no access token); ECDSA high-S signatures (s' = n - s) are accepted for
// ES256, ES384, ES512 and ES256K alike (SECURITY.md). Tokens are minted with jose, except where it
// cannot: ES256K (node:crypto) and the identity-point signatures (bytes by hand).
// ES384, ES512 and ES256K need a build with extra-curves (read from the build's .edgeguard-features):
// scripts/e2e.sh runs this file against build/ (default features, where their high-S tests
// are skipped and 15-extra-algorithms asserts the config error instead), the
// e2e-extra-curves step of scripts/test.sh against an extra-curves build.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { SignJWT, generateKeyPair, exportJWK, calculateJwkThumbprint } from "jose";
import {
  startOrigin, startJwksServer, startGateway, issuerItem, readJson, fixtureKey, mint, claimsNow, FIX_ISS,
  call, assertEdgeError, assertForwarded, assertInvalidToken, notForwarded, base64url, hasFeature,
} from "./lib/index.mjs";

const EXTRA_CURVES = hasFeature("extra-curves");
const NEEDS_EXTRA_CURVES = new Set(["ES384", "ES512", "ES256K"]);

const b64 = (bytes) => Buffer.from(bytes).toString("base64url");
const enc = (obj) => b64(JSON.stringify(obj));
const ath = (token) => crypto.createHash("sha256").update(token).digest("base64url");

// Ed25519 identity point (y = 1) and the signature R = identity, S = 0: under cofactorless
// verification [S]B = R + [k]A holds for every message when A is the identity.
const IDENTITY = Buffer.concat([Buffer.from([1]), Buffer.alloc(31)]);
const IDENTITY_SIG = b64(Buffer.concat([IDENTITY, Buffer.alloc(32)]));
const identityJwk = () => ({ kty: "OKP", crv: "Ed25519", x: b64(IDENTITY) });

// Group orders (big-endian hex) for s' = n - s.
const ORDER = {
  ES256: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  ES384: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  ES512: 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
  ES256K: 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n,
};

/** The token with its signature's s replaced by n - s; also says which of the two is high-S. */
function twinOf(token, alg) {
  const [h, p, s] = token.split(".");
  const sig = Buffer.from(base64url.decode(s));
  const half = sig.length / 2;
  const n = ORDER[alg];
  const sOld = BigInt(`0x${sig.subarray(half).toString("hex")}`);
  const sNew = n - sOld;
  const out = Buffer.concat([sig.subarray(0, half), Buffer.from(sNew.toString(16).padStart(half * 2, "0"), "hex")]);
  return { twin: `${h}.${p}.${b64(out)}`, originalIsHigh: sOld > n / 2n, twinIsHigh: sNew > n / 2n };
}

const CLAIM_HEADERS = { "X-Groups": "groups", "X-Role": "role", "X-Meta": "meta" };
/** The documented decoding: split on ",", percent-decode each element. */
const decode = (header) => header.split(",").map(decodeURIComponent);

let origin, jwks, gw, rsa, p256, p384, p521, k256;

before(async () => {
  origin = await startOrigin();
  jwks = await startJwksServer();
  rsa = await fixtureKey("rsa2048-a");
  p256 = await fixtureKey("p256-a");
  const es384 = await generateKeyPair("ES384", { extractable: true });
  p384 = { privateKey: es384.privateKey, jwk: { ...(await exportJWK(es384.publicKey)), kid: "p384-e2e", use: "sig", alg: "ES384" } };
  const es512 = await generateKeyPair("ES512", { extractable: true });
  p521 = { privateKey: es512.privateKey, jwk: { ...(await exportJWK(es512.publicKey)), kid: "p521-e2e", use: "sig", alg: "ES512" } };
  const es256k = crypto.generateKeyPairSync("ec", { namedCurve: "secp256k1" });
  k256 = { privateKey: es256k.privateKey, jwk: { ...es256k.publicKey.export({ format: "jwk" }), kid: "k256-e2e", use: "sig", alg: "ES256K" } };
  const keys = [
    ...readJson("jwks/main.json").keys,
    { ...identityJwk(), kid: "identity-point", use: "sig", alg: "EdDSA" },
    p384.jwk,
    p521.jwk,
    k256.jwk,
  ];
  jwks.set("/keys.json", { json: { keys } });
  gw = await startGateway({
    issuers: [issuerItem(FIX_ISS, `${jwks.url}/keys.json`, { algorithms: ["RS256", "ES256", "EdDSA", ...(EXTRA_CURVES ? ["ES384", "ES512", "ES256K"] : [])] })],
    origin,
    vars: { CLAIM_HEADERS: JSON.stringify(CLAIM_HEADERS) },
  });
});
after(async () => {
  await gw?.close();
  await origin?.close();
  await jwks?.close();
});

describe("claim headers: arrays and edge spaces arrive distinguishable", () => {
  const headersFor = async (claims, path) => {
    const rec = assertForwarded(await call(gw.url, path, { token: await mint(rsa, claims) }), path);
    return rec.headers;
  };

  test('["a,b"] and ["a","b"] arrive differently and decode back', async () => {
    const one = await headersFor({ groups: ["a,b"] }, "/claims/one");
    const two = await headersFor({ groups: ["a", "b"] }, "/claims/two");
    assert.equal(one["x-groups"], "a%2Cb");
    assert.equal(two["x-groups"], "a,b");
    assert.deepEqual(decode(one["x-groups"]), ["a,b"]);
    assert.deepEqual(decode(two["x-groups"]), ["a", "b"]);
  });

  test('" admin", "admin " and "admin" arrive differently (Fetch would strip the spaces)', async () => {
    const seen = [];
    for (const [role, path] of [[" admin", "/claims/lead"], ["admin ", "/claims/trail"], ["admin", "/claims/plain"]]) {
      const h = await headersFor({ role, sub: role }, path);
      assert.deepEqual(decode(h["x-role"]), [role], JSON.stringify(h["x-role"]));
      assert.equal(decodeURIComponent(h["x-auth-subject"]), role, "the subject header follows the same rule");
      seen.push(h["x-role"]);
    }
    assert.deepEqual(seen, ["%20admin", "admin%20", "admin"]);
  });

  test("elements that are not strings are JSON text, commas encoded; a top-level object stays JSON", async () => {
    const h = await headersFor({ groups: [{ a: 1, b: 2 }, 3, " x"], meta: { id: 7, ok: true } }, "/claims/json");
    assert.deepEqual(decode(h["x-groups"]).slice(0, 2).map((e) => JSON.parse(e)), [{ a: 1, b: 2 }, 3]);
    assert.deepEqual(decode(h["x-groups"])[2], " x");
    assert.equal(h["x-meta"], '{"id":7,"ok":true}');
  });
});

describe("max_token_age is bounded at config load (one year)", () => {
  const itemWithAge = (age) =>
    `[{"issuer":${JSON.stringify(FIX_ISS)},"jwks_uri":${JSON.stringify(`${jwks.url}/keys.json`)},"audiences":["api://edgeguard-fixtures"],"max_token_age":${age}}]`;

  for (const age of ["18446744073709551615", "31536001"]) {
    test(`max_token_age ${age} -> 500 naming ISSUERS[0].max_token_age, nothing forwarded`, async () => {
      const g = await startGateway({ issuers: itemWithAge(age), origin });
      try {
        const token = await mint(rsa);
        for (const auth of [`Bearer ${token}`, undefined]) {
          const r = await notForwarded(origin, () => call(g.url, "/age", { auth }));
          assertEdgeError(r, 500, "server_error");
          assert.ok(r.json.error_description.includes("ISSUERS[0].max_token_age"), r.text);
        }
      } finally {
        await g.close();
      }
    });
  }

  test("max_token_age 31536000 (one year) is accepted and enforced", async () => {
    const g = await startGateway({ issuers: itemWithAge("31536000"), origin });
    try {
      assertForwarded(await call(g.url, "/age/ok", { token: await mint(rsa) }), "/age/ok");
      const old = await mint(rsa, { iat: claimsNow().iat - 31536000 - 120 });
      const r = await notForwarded(origin, () => call(g.url, "/age/old", { token: old }));
      assertInvalidToken(r);
      assert.equal(r.json.error_description, "token too old");
    } finally {
      await g.close();
    }
  });
});

describe("Ed25519 is verified strictly", () => {
  const dpopCall = (path, token, proof) => call(gw.url, path, { auth: `DPoP ${token}`, headers: { DPoP: proof } });
  const claimsFor = (path, token) => ({ htm: "GET", htu: `${gw.url}${path}`, iat: Math.floor(Date.now() / 1000), jti: crypto.randomUUID(), ath: ath(token) });

  test("a DPoP proof with the identity-point key and R = identity, S = 0 -> 401 invalid_dpop_proof, not forwarded", async () => {
    const token = await mint(rsa, { cnf: { jkt: await calculateJwkThumbprint(identityJwk()) } });
    const path = "/ed25519/identity-proof";
    const proof = `${enc({ typ: "dpop+jwt", alg: "EdDSA", jwk: identityJwk() })}.${enc(claimsFor(path, token))}.${IDENTITY_SIG}`;
    const r = await notForwarded(origin, () => dpopCall(path, token, proof));
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json?.error, "invalid_dpop_proof", r.text);
    assert.match(r.headers.get("www-authenticate") ?? "", /^DPoP .*error="invalid_dpop_proof"/);
  });

  test("a real Ed25519 DPoP proof (jose) is still accepted", async () => {
    const pair = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    const jwk = await exportJWK(pair.publicKey);
    const token = await mint(rsa, { cnf: { jkt: await calculateJwkThumbprint(jwk) } });
    const path = "/ed25519/real-proof";
    const proof = await new SignJWT(claimsFor(path, token)).setProtectedHeader({ typ: "dpop+jwt", alg: "EdDSA", jwk }).sign(pair.privateKey);
    assertForwarded(await dpopCall(path, token, proof), path);
  });

  test("an access token 'signed' (R = identity, S = 0) for an identity-point JWKS key -> 401, not forwarded", async () => {
    const token = `${enc({ alg: "EdDSA", kid: "identity-point", typ: "JWT" })}.${enc(claimsNow())}.${IDENTITY_SIG}`;
    const r = await notForwarded(origin, () => call(gw.url, "/ed25519/identity-token", { token }));
    assertInvalidToken(r);
  });

  test("EdDSA tokens of a good key (jose) still pass", async () => {
    const ed = await fixtureKey("ed25519-a");
    assertForwarded(await call(gw.url, "/ed25519/good", { token: await mint(ed) }), "/ed25519/good");
  });
});

describe("ECDSA high-S (s' = n - s) is accepted for every curve, as JOSE allows", () => {
  const signed = {
    ES256: () => mint(p256),
    ES384: () => mint({ defaultAlg: "ES384", kid: p384.jwk.kid, forAlg: async () => p384.privateKey }),
    ES512: () => mint({ defaultAlg: "ES512", kid: p521.jwk.kid, forAlg: async () => p521.privateKey }),
    ES256K: async () => {
      const input = `${enc({ alg: "ES256K", kid: k256.jwk.kid, typ: "JWT" })}.${enc(claimsNow())}`;
      const sig = crypto.sign("sha256", Buffer.from(input), { key: k256.privateKey, dsaEncoding: "ieee-p1363" });
      return `${input}.${b64(sig)}`;
    },
  };
  for (const alg of Object.keys(signed)) {
    const skip = !EXTRA_CURVES && NEEDS_EXTRA_CURVES.has(alg) && `${alg} needs a build with extra-curves (the e2e-extra-curves step runs it)`;
    test(`${alg}: the token and its (r, n - s) twin are both forwarded; a tampered twin is not`, { skip }, async () => {
      const token = await signed[alg]();
      const { twin, originalIsHigh, twinIsHigh } = twinOf(token, alg);
      assert.notEqual(originalIsHigh, twinIsHigh, "exactly one of the two is high-S");
      assertForwarded(await call(gw.url, `/high-s/${alg}/original`, { token }), `/high-s/${alg}/original`);
      assertForwarded(await call(gw.url, `/high-s/${alg}/twin`, { token: twin }), `/high-s/${alg}/twin`);
      const [h, p, s] = twin.split(".");
      const bytes = Buffer.from(base64url.decode(s));
      bytes[bytes.length - 1] ^= 1;
      assertInvalidToken(await notForwarded(origin, () => call(gw.url, `/high-s/${alg}/tampered`, { token: `${h}.${p}.${b64(bytes)}` })));
    });
  }
});
