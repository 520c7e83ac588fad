#!/usr/bin/env node
// Keys, JWKS, ISSUERS and tokens for scripts/bench.sh, fresh for every run (nothing secret is
// kept in the repository): one issuer per algorithm, so each Worker has to pick the JWKS by
// `iss`, and two keys in each JWKS (the signing key listed second), so it has to pick by `kid`.
//   node bench/mint.mjs --out DIR --jwks-base http://127.0.0.1:PORT [--count 1000]
// Writes:
//   DIR/www/jwks/<alg>.json      the public JWKS (nginx serves DIR/www)
//   DIR/issuers.json             the ISSUERS secret
//   DIR/tokens/<alg>-1.txt       one valid token (the reused-token workload)
//   DIR/tokens/<alg>-<count>.txt <count> distinct valid tokens (one `sub` each)
// with <alg> one of rs256 (RSA 2048), es256 (P-256), eddsa (Ed25519). Tokens live 12 h.
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair } from "jose";
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const { values: o } = parseArgs({
  options: { out: { type: "string" }, "jwks-base": { type: "string" }, count: { type: "string", default: "1000" } },
});
const count = Number(o.count);
if (!o.out || !o["jwks-base"] || !Number.isInteger(count) || count < 1) {
  console.error("usage: node bench/mint.mjs --out DIR --jwks-base http://127.0.0.1:PORT [--count N]");
  process.exit(2);
}
const out = resolve(o.out);
const jwksBase = o["jwks-base"].replace(/\/+$/, "");
const AUDIENCE = "bench-api";
const LIFETIME_S = 12 * 3600;
const ALGS = [
  { name: "rs256", alg: "RS256", options: { modulusLength: 2048 } },
  { name: "es256", alg: "ES256", options: {} },
  { name: "eddsa", alg: "EdDSA", options: { crv: "Ed25519" } },
];

/** A key pair and its public JWK, `kid` = the start of its RFC 7638 thumbprint. */
async function newKey(alg, options) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { ...options, extractable: true });
  const jwk = await exportJWK(publicKey);
  const kid = (await calculateJwkThumbprint(jwk)).slice(0, 16);
  return { privateKey, kid, publicJwk: { ...jwk, kid, alg, use: "sig" } };
}

await Promise.all(["www/jwks", "tokens"].map((d) => mkdir(join(out, d), { recursive: true })));
const now = Math.floor(Date.now() / 1000);
const issuers = [];
for (const { name, alg, options } of ALGS) {
  const [signing, other] = [await newKey(alg, options), await newKey(alg, options)];
  const issuer = `https://${name}.issuer.bench.test/`;
  await writeFile(join(out, "www/jwks", `${name}.json`), JSON.stringify({ keys: [other.publicJwk, signing.publicJwk] }));
  issuers.push({ issuer, jwks_uri: `${jwksBase}/jwks/${name}.json`, audiences: [AUDIENCE], algorithms: [alg] });
  // a payload the size of a typical access token's
  const token = (sub, n) =>
    new SignJWT({ scope: "read:items write:items", email: `${sub}@example.test`, roles: ["user"], n })
      .setProtectedHeader({ alg, kid: signing.kid, typ: "JWT" })
      .setIssuer(issuer)
      .setSubject(sub)
      .setAudience(AUDIENCE)
      .setIssuedAt(now)
      .setNotBefore(now - 5)
      .setExpirationTime(now + LIFETIME_S)
      .setJti(`${name}-${n}`)
      .sign(signing.privateKey);
  await writeFile(join(out, "tokens", `${name}-1.txt`), (await token("bench-user", 0)) + "\n");
  const many = [];
  for (let n = 1; n <= count; n++) many.push(await token(`bench-user-${n}`, n));
  await writeFile(join(out, "tokens", `${name}-${count}.txt`), many.join("\n") + "\n");
}
await writeFile(join(out, "issuers.json"), JSON.stringify(issuers));
console.log(`${out}: ${ALGS.length} issuers, 1 and ${count} tokens each`);
