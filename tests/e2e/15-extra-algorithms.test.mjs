// ES384 (P-384), ES512 (P-521) and ES256K (secp256k1) end to end: ES384 and ES512 tokens
// minted by node jose, ES256K by node:crypto (OpenSSL; jose 6 no longer offers secp256k1),
// keys served from a loopback JWKS. All three are opt-in twice: per issuer (`algorithms`, never in the default list), and per
// build (the `extra-curves` feature, `EDGEGUARD_FEATURES=extra-curves ./scripts/build.sh`).
// Which build runs is read from its `.edgeguard-features`: with extra-curves the tokens are
// verified; without, configuring any of them is the documented 500 config error.
// scripts/e2e.sh runs this file against build/ (default features), the e2e-extra-curves step
// of scripts/test.sh against an extra-curves build.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { SignJWT, generateKeyPair, exportJWK } from "jose";
import {
  startOrigin, startJwksServer, startGateway, issuerItem, FIX_ISS, FIX_AUD, call, assertForwarded, assertInvalidToken,
  assertEdgeError, notForwarded, waitFor, hasFeature,
} from "./lib/index.mjs";

const EXTRA_CURVES = hasFeature("extra-curves");
const BUILD_COMMAND = "EDGEGUARD_FEATURES=extra-curves ./scripts/build.sh";
const OPT_ISS = "https://curves.fixtures.test/";
let origin, jwks, gwDefault, p384, p521, k256;

async function keyPair(alg, crv) {
  if (alg === "ES256K") {
    const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: "secp256k1" });
    return { alg, privateKey, node: true, jwk: { ...publicKey.export({ format: "jwk" }), kid: `${alg}-key`, use: "sig", alg } };
  }
  const { privateKey, publicKey } = await generateKeyPair(alg, { crv, extractable: true });
  return { alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid: `${alg}-key`, use: "sig", alg } };
}

const mintWith = async (k, iss, claims = {}) => {
  const t = Math.floor(Date.now() / 1000);
  const payload = { sub: "curve-user", aud: FIX_AUD, iat: t, exp: t + 600, ...claims, iss };
  const header = { alg: k.alg, kid: k.jwk.kid, typ: "JWT" };
  if (!k.node) return new SignJWT(payload).setProtectedHeader(header).sign(k.privateKey);
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const input = `${enc(header)}.${enc(payload)}`;
  const sig = crypto.sign("sha256", Buffer.from(input), { key: k.privateKey, dsaEncoding: "ieee-p1363" });
  return `${input}.${sig.toString("base64url")}`;
};

before(async () => {
  origin = await startOrigin();
  jwks = await startJwksServer();
  p384 = await keyPair("ES384", "P-384");
  p521 = await keyPair("ES512", "P-521");
  k256 = await keyPair("ES256K", "secp256k1");
  jwks.set("/curves.json", { json: { keys: [p384.jwk, p521.jwk, k256.jwk] } });
  // An issuer with the default algorithm list: valid configuration in either build.
  gwDefault = await startGateway({ issuers: [issuerItem(OPT_ISS, `${jwks.url}/curves.json`)], origin });
});
after(async () => {
  await gwDefault?.close();
  await origin?.close();
  await jwks?.close();
});

test("not in the default algorithms: an issuer without them listed refuses all three (either build)", async () => {
  for (const k of [p384, p521, k256]) {
    const r = await notForwarded(origin, async () => call(gwDefault.url, "/default", { token: await mintWith(k, OPT_ISS) }));
    assertInvalidToken(r);
    assert.equal(r.json.error_description, "algorithm not allowed");
  }
});

describe("ES384, ES512 and ES256K (a build with extra-curves)", { skip: !EXTRA_CURVES && "this build has no extra-curves; the describe below covers it" }, () => {
  let gw;
  before(async () => {
    gw = await startGateway({
      issuers: [
        issuerItem(FIX_ISS, `${jwks.url}/curves.json`, { algorithms: ["ES384", "ES512", "ES256K"] }),
        issuerItem(OPT_ISS, `${jwks.url}/curves.json`),
      ],
      origin,
    });
  });
  after(async () => {
    await gw?.close();
  });
  test("ES384 token -> forwarded", async () => {
    assertForwarded(await call(gw.url, "/es384", { token: await mintWith(p384, FIX_ISS) }), "/es384");
  });
  test("ES512 token -> forwarded", async () => {
    assertForwarded(await call(gw.url, "/es512", { token: await mintWith(p521, FIX_ISS) }), "/es512");
  });
  test("ES512 token whose kid names the P-384 key -> 401, not forwarded", async () => {
    const token = await new SignJWT({ sub: "curve-user", aud: FIX_AUD, iss: FIX_ISS, exp: Math.floor(Date.now() / 1000) + 600 })
      .setProtectedHeader({ alg: "ES512", kid: p384.jwk.kid })
      .sign(p521.privateKey);
    assertInvalidToken(await notForwarded(origin, () => call(gw.url, "/es512-wrong-kid", { token })));
  });
  test("ES256K token -> forwarded", async () => {
    assertForwarded(await call(gw.url, "/es256k", { token: await mintWith(k256, FIX_ISS) }), "/es256k");
  });
  test("not in the default algorithms: an issuer without them listed refuses all three", async () => {
    const before = origin.count();
    for (const k of [p384, p521, k256]) {
      const r = await call(gw.url, "/default", { token: await mintWith(k, OPT_ISS) });
      assertInvalidToken(r);
      assert.equal(r.json.error_description, "algorithm not allowed");
    }
    assert.equal(origin.count(), before);
  });
  test("tampered ES384 / ES512 / ES256K signatures -> 401, not forwarded", async () => {
    const before = origin.count();
    for (const k of [p384, p521, k256]) {
      const [h, p, s] = (await mintWith(k, FIX_ISS)).split(".");
      const flipped = s.slice(0, 5) + (s[5] === "A" ? "B" : "A") + s.slice(6);
      assertInvalidToken(await call(gw.url, "/tampered", { token: `${h}.${p}.${flipped}` }));
    }
    assert.equal(origin.count(), before);
  });
});

describe("a build without extra-curves: configuring ES384, ES512 or ES256K is a config error", { skip: EXTRA_CURVES && "this build has extra-curves; the describe above covers it" }, () => {
  // [label, issuers for the JWKS URL u, field the body names, algorithm the log line names]
  const cases = [
    ["ES384 alone", (u) => [issuerItem(FIX_ISS, u, { algorithms: ["ES384"] })], "ISSUERS[0].algorithms", "ES384"],
    ["ES256K after ES256", (u) => [issuerItem(FIX_ISS, u, { algorithms: ["ES256", "ES256K"] })], "ISSUERS[0].algorithms", "ES256K"],
    ["ES512 alone", (u) => [issuerItem(FIX_ISS, u, { algorithms: ["ES512"] })], "ISSUERS[0].algorithms", "ES512"],
    ["ES384 in the second issuer", (u) => [issuerItem(OPT_ISS, u), issuerItem(FIX_ISS, u, { algorithms: ["RS256", "ES384"] })], "ISSUERS[1].algorithms", "ES384"],
  ];
  for (const [label, issuersFor, field, alg] of cases) {
    test(`${label} -> 500 server_error naming the field, for every request; the log names the feature and the build command`, async () => {
      const issuers = issuersFor(`${jwks.url}/curves.json`);
      const g = await startGateway({ issuers, origin });
      try {
        const k = { ES384: p384, ES512: p521, ES256K: k256 }[alg];
        for (const token of [await mintWith(k, FIX_ISS), await mintWith(k, OPT_ISS), undefined]) {
          const r = await notForwarded(origin, () => call(g.url, "/cfg", { token }));
          assertEdgeError(r, 500, "server_error");
          assert.equal(r.json.error_description, `invalid configuration: ${field}`);
        }
        const line = await waitFor(() => g.logs.find((l) => l.includes(`${field}: ${alg} needs`)));
        assert.ok(line, `no config error log line for ${field}: ${g.logs.join(" | ")}`);
        assert.ok(line.includes("extra-curves feature"), line);
        assert.ok(line.includes(BUILD_COMMAND), line);
      } finally {
        await g.close();
      }
    });
  }
});
