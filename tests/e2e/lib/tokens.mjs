// Token minting at test time with jose (current clock), using fixtures/ keys.
import { CompactSign, importJWK, generateKeyPair, exportJWK, base64url } from "jose";
import { readFileSync } from "node:fs";
import crypto from "node:crypto";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(here, "..", "..", "..");
export const FIXTURES = join(ROOT, "fixtures");

export const FIX_ISS = "https://issuer.fixtures.test/";
export const FIX_AUD = "api://edgeguard-fixtures";

export const now = () => Math.floor(Date.now() / 1000);

export function readJson(rel) {
  return JSON.parse(readFileSync(join(FIXTURES, rel), "utf8"));
}
export function fixtureToken(name) {
  return readFileSync(join(FIXTURES, "tokens", `${name}.jwt`), "utf8");
}
export const fixtureIndex = () => readJson("tokens/index.json");
export const hsSecretText = () => readFileSync(join(FIXTURES, "keys", "hs-secret.txt"), "utf8").trim();
export const hsSecretBytes = () => base64url.decode(hsSecretText());

const DEFAULT_ALG = { RSA: "RS256", EC: "ES256", OKP: "EdDSA" };
const PUBLIC_FIELDS = { RSA: ["kty", "n", "e"], EC: ["kty", "crv", "x", "y"], OKP: ["kty", "crv", "x"] };

/** A signing key: { name, kid, jwkPrivate, jwkPublic (bare), defaultAlg }; forAlg(alg) -> jose key */
export class Key {
  constructor(name, jwkPrivate) {
    this.name = name;
    this.kid = name;
    this.jwkPrivate = jwkPrivate;
    this.defaultAlg = DEFAULT_ALG[jwkPrivate.kty];
    this.imported = new Map();
    const pub = {};
    for (const f of PUBLIC_FIELDS[jwkPrivate.kty]) pub[f] = jwkPrivate[f];
    this.jwkPublic = pub;
  }
  /** jose needs one imported key per algorithm (WebCrypto binds the hash / padding). */
  async forAlg(alg) {
    if (!this.imported.has(alg)) this.imported.set(alg, await importJWK(this.jwkPrivate, alg));
    return this.imported.get(alg);
  }
  /** node:crypto KeyObject (for hand-built tokens jose refuses to sign). */
  keyObject() {
    return crypto.createPrivateKey({ key: this.jwkPrivate, format: "jwk" });
  }
  /** Public JWK as published in a JWKS (kid, use sig; pass extra fields e.g. {alg}, undefined deletes). */
  jwk(extra = {}) {
    const out = { ...this.jwkPublic, kid: this.kid, use: "sig" };
    if (this.jwkPrivate.kty === "EC") out.alg = "ES256";
    if (this.jwkPrivate.kty === "OKP") out.alg = "EdDSA";
    for (const [k, v] of Object.entries(extra)) {
      if (v === undefined) delete out[k];
      else out[k] = v;
    }
    return out;
  }
}

const keyCache = new Map();
/** Loads fixtures/keys/<name>.private.jwk.json. */
export async function fixtureKey(name) {
  if (!keyCache.has(name)) keyCache.set(name, new Key(name, readJson(`keys/${name}.private.jwk.json`)));
  return keyCache.get(name);
}

/** A fresh random key (e.g. an attacker's, or one published only later). */
export async function freshKey(name, alg = "RS256") {
  const opts = alg === "EdDSA" ? { crv: "Ed25519" } : alg.startsWith("RS") || alg.startsWith("PS") ? { modulusLength: 2048 } : {};
  const { privateKey } = await generateKeyPair(alg, { ...opts, extractable: true });
  return new Key(name, await exportJWK(privateKey));
}

/**
 * Builds a JWS by hand with node:crypto (for what jose refuses: unknown crit,
 * RSA-1024, alg/key mismatch).  header/payload: objects or raw strings.
 * sigAlg: RS256 | ES256 (the signature actually computed).
 */
export function handSign(key, header, payload, sigAlg = "RS256") {
  const enc = (x) => Buffer.from(typeof x === "string" ? x : JSON.stringify(x)).toString("base64url");
  const input = `${enc(header)}.${enc(payload)}`;
  const ko = key.keyObject();
  const sig =
    sigAlg === "RS256"
      ? crypto.sign("sha256", Buffer.from(input), ko)
      : sigAlg === "ES256"
        ? crypto.sign("sha256", Buffer.from(input), { key: ko, dsaEncoding: "ieee-p1363" })
        : null;
  if (!sig) throw new Error(`handSign: ${sigAlg}`);
  return `${input}.${sig.toString("base64url")}`;
}

/** Standard claims at the current time (same defaults as mint). */
export function claimsNow(claims = {}, opts = {}) {
  const t = now();
  const payload = { iss: opts.iss ?? FIX_ISS, aud: opts.aud ?? FIX_AUD, sub: "e2e-user", iat: t, exp: t + 600, ...claims };
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
  return payload;
}

/**
 * Signs a JWT with jose at the current time.
 *   claims: merged over {iss, aud, sub, iat: now, exp: now+600}; undefined deletes
 *   header: merged over {alg: key default, kid: key.kid, typ: "JWT"}; undefined deletes
 *   opts.iss / opts.aud: defaults for the issuer under test
 *   opts.rawPayload: string payload bytes instead of claims JSON
 * key may be a Key or {secret: Uint8Array} for HS*.
 */
export async function mint(key, claims = {}, header = {}, opts = {}) {
  const payload = claimsNow(claims, opts);
  const isSecret = key instanceof Uint8Array;
  const h = { alg: isSecret ? "HS256" : key.defaultAlg, ...(isSecret ? {} : { kid: key.kid }), typ: "JWT", ...header };
  for (const [k, v] of Object.entries(h)) if (v === undefined) delete h[k];
  const bytes = new TextEncoder().encode(opts.rawPayload ?? JSON.stringify(payload));
  return new CompactSign(bytes).setProtectedHeader(h).sign(isSecret ? key : await key.forAlg(h.alg));
}

/** Decodes a base64url (no padding) JSON segment. */
export function decodeSegment(seg) {
  return JSON.parse(new TextDecoder().decode(base64url.decode(seg)));
}

export { base64url };
