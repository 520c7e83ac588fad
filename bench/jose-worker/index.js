// The benchmark's JavaScript baseline: the part of edgeguard's contract (README.md) that the
// load benchmark exercises, written the way a Worker author would with `jose`
// (createRemoteJWKSet + jwtVerify, WebCrypto underneath). Bundled by bench/build-workers.mjs.
//
//   ISSUERS (secret)  JSON array of {issuer, jwks_uri, audiences, algorithms?}
//   JWKS_CACHE (KV)   keys shared between isolates: read before the first fetch, written after
//   ORIGIN (var)      where accepted requests go (path and query appended); unset: route mode
//   REQUIRED_SCOPE    optional: a scope every token must carry (else 403 insufficient_scope)
//
// Not here (edgeguard has them; the benchmark does not use them): OIDC discovery, HS*,
// routes, DPoP, claim headers, serving stale keys when the issuer is down.
import { createRemoteJWKSet, decodeJwt, errors, jwksCache, jwtVerify } from "jose";

const LEEWAY_S = 60;
const KEYS_FRESH_MS = 10 * 60 * 1000; // jose's cacheMaxAge, and how long a KV copy is trusted
const REFETCH_COOLDOWN_MS = 30 * 1000; // an unknown kid refetches at most this often
const FETCH_TIMEOUT_MS = 5000;
const KV_KEY = (issuer) => `jwks:v1:${issuer}`;
const DEFAULT_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "EdDSA"];
const IDENTITY_HEADERS = ["x-auth-subject", "x-auth-issuer", "x-auth-claims"];
// Defined by bundleWorker's `realm` option (bench/build-workers.mjs): bundle-peer.mjs --realm
// sets it so the e2e harness's realm checks can pass; the benchmark builds without a realm.
/* global JOSE_WORKER_REALM */
const REALM = typeof JOSE_WORKER_REALM === "string" ? JOSE_WORKER_REALM : null;

// ------------------------------------------------------------------ answers (RFC 6750)
function answer(status, error, description, headers = {}) {
  return new Response(JSON.stringify({ error, error_description: description }), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store", ...headers },
  });
}
function challenge(params) {
  const parts = Object.entries(params).map(([k, v]) => `${k}="${v}"`);
  if (REALM) parts.push(`realm="${REALM}"`);
  return parts.length ? `Bearer ${parts.join(", ")}` : "Bearer";
}
const missingToken = () =>
  answer(401, "missing_token", "a Bearer token is required", { "www-authenticate": challenge({}) });
const invalidToken = (why) =>
  answer(401, "invalid_token", why, {
    "www-authenticate": challenge({ error: "invalid_token", error_description: why }),
  });
const insufficientScope = (scope) =>
  answer(403, "insufficient_scope", "the token lacks a required scope", {
    "www-authenticate": challenge({ error: "insufficient_scope", error_description: "scope required", scope }),
  });
const keysUnavailable = () =>
  answer(503, "temporarily_unavailable", "the issuer's keys cannot be obtained", { "retry-after": "30" });
const badConfig = (why) => answer(500, "server_error", why);

// ------------------------------------------------------------------ configuration
class ConfigError extends Error {}
let parsed = { raw: undefined, issuers: null };

/** ISSUERS as a Map issuer -> settings, parsed once per isolate (again if the secret changes). */
function issuers(raw) {
  if (parsed.raw === raw && parsed.issuers) return parsed.issuers;
  let list;
  try {
    list = JSON.parse(raw ?? "");
  } catch {
    throw new ConfigError("ISSUERS: not JSON");
  }
  if (!Array.isArray(list) || list.length === 0) throw new ConfigError("ISSUERS: not a non-empty array");
  const byIssuer = new Map();
  list.forEach((item, i) => {
    const where = `ISSUERS[${i}]`;
    const strings = (v) => Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === "string" && s !== "");
    if (typeof item?.issuer !== "string" || item.issuer === "") throw new ConfigError(`${where}.issuer: not a string`);
    if (byIssuer.has(item.issuer)) throw new ConfigError(`${where}.issuer: duplicate`);
    let jwksUrl;
    try {
      jwksUrl = new URL(item.jwks_uri);
    } catch {
      throw new ConfigError(`${where}.jwks_uri: not a URL`);
    }
    if (!strings(item.audiences)) throw new ConfigError(`${where}.audiences: not a non-empty array of strings`);
    const algorithms = item.algorithms ?? DEFAULT_ALGORITHMS;
    if (!strings(algorithms) || algorithms.some((a) => a.toLowerCase() === "none" || a.startsWith("HS")))
      throw new ConfigError(`${where}.algorithms: only asymmetric algorithms are supported here`);
    byIssuer.set(item.issuer, { issuer: item.issuer, jwksUrl, audiences: item.audiences, algorithms, keys: null, making: null });
  });
  parsed = { raw, issuers: byIssuer };
  return byIssuer;
}

// ------------------------------------------------------------------ keys
class KeysUnavailable extends Error {}

/**
 * The issuer's key resolver, made once per isolate (requests arriving meanwhile wait for the
 * same one). Making it looks in KV first: another isolate may have fetched the JWKS already,
 * and jose then starts from that copy (its `jwksCache` hook) instead of fetching.
 * `cache.uat` tells afterwards whether jose fetched.
 */
function keysFor(cfg, env) {
  cfg.making ??= makeKeys(cfg, env).then((keys) => (cfg.keys = keys));
  return cfg.making;
}

async function makeKeys(cfg, env) {
  const cache = {};
  try {
    const stored = await env.JWKS_CACHE.get(KV_KEY(cfg.issuer), { type: "json" });
    if (typeof stored?.uat === "number" && Array.isArray(stored.jwks?.keys) && Date.now() - stored.uat < KEYS_FRESH_MS) {
      Object.assign(cache, stored);
    }
  } catch {
    // KV unreadable: fetch from the issuer instead
  }
  const remote = createRemoteJWKSet(cfg.jwksUrl, {
    cacheMaxAge: KEYS_FRESH_MS,
    cooldownDuration: REFETCH_COOLDOWN_MS,
    timeoutDuration: FETCH_TIMEOUT_MS,
    [jwksCache]: cache,
  });
  // Key-selection errors are the token's fault (401); anything else while getting the
  // keys (network, timeout, a non-200 or non-JWKS answer) is the issuer's (503).
  const resolve = async (header, token) => {
    try {
      return await remote(header, token);
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) throw err;
      if (err instanceof errors.JOSENotSupported || err instanceof errors.JOSEAlgNotAllowed) throw err;
      throw new KeysUnavailable(String(err));
    }
  };
  return { cache, resolve, savedUat: cache.uat };
}

/** After a fetch by jose, shares the new JWKS with other isolates (not awaited by the request). */
function shareKeys(cfg, env, ctx) {
  const k = cfg.keys;
  if (!k || k.cache.uat === undefined || k.cache.uat === k.savedUat) return;
  k.savedUat = k.cache.uat;
  const put = env.JWKS_CACHE.put(KV_KEY(cfg.issuer), JSON.stringify({ uat: k.cache.uat, jwks: k.cache.jwks }), {
    expirationTtl: KEYS_FRESH_MS / 1000,
  }).catch(() => {});
  ctx.waitUntil(put);
}

// ------------------------------------------------------------------ the request
const REASONS = {
  ERR_JWT_EXPIRED: "token expired",
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: "bad signature",
  ERR_JWKS_NO_MATCHING_KEY: "unknown kid",
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: "ambiguous kid",
  ERR_JOSE_ALG_NOT_ALLOWED: "algorithm not allowed",
  ERR_JOSE_NOT_SUPPORTED: "algorithm not supported",
};
function reason(err) {
  if (err.code === "ERR_JWT_CLAIM_VALIDATION_FAILED") return `${err.claim} claim rejected`;
  return REASONS[err.code] ?? "malformed token";
}

function bearer(request) {
  const m = /^Bearer[ ]+([A-Za-z0-9._~+/-]+=*)[ ]*$/i.exec(request.headers.get("authorization") ?? "");
  return m ? m[1] : null;
}

async function handle(request, env, ctx) {
  let byIssuer;
  try {
    byIssuer = issuers(env.ISSUERS);
  } catch (err) {
    if (err instanceof ConfigError) return badConfig(err.message);
    throw err;
  }
  const token = bearer(request);
  if (!token) return missingToken();

  // The unverified `iss` only picks whose keys to try; jwtVerify checks it again.
  let iss;
  try {
    iss = decodeJwt(token).iss;
  } catch {
    return invalidToken("malformed token");
  }
  const cfg = typeof iss === "string" ? byIssuer.get(iss) : undefined;
  if (!cfg) return invalidToken("unknown issuer");

  let payload;
  try {
    const keys = await keysFor(cfg, env);
    ({ payload } = await jwtVerify(token, keys.resolve, {
      issuer: cfg.issuer,
      audience: cfg.audiences,
      algorithms: cfg.algorithms,
      clockTolerance: LEEWAY_S,
      requiredClaims: ["exp"],
    }));
  } catch (err) {
    if (err instanceof KeysUnavailable) return keysUnavailable();
    if (err instanceof errors.JOSEError) return invalidToken(reason(err));
    throw err;
  } finally {
    shareKeys(cfg, env, ctx);
  }

  if (env.REQUIRED_SCOPE && !String(payload.scope ?? "").split(" ").includes(env.REQUIRED_SCOPE)) {
    return insufficientScope(env.REQUIRED_SCOPE);
  }

  const headers = new Headers(request.headers);
  for (const name of IDENTITY_HEADERS) headers.delete(name);
  if (typeof payload.sub === "string") headers.set("x-auth-subject", payload.sub);
  headers.set("x-auth-issuer", cfg.issuer);
  headers.set("x-auth-claims", token.split(".")[1]); // the signed payload segment: base64url JSON

  let target = request.url;
  if (env.ORIGIN) {
    const { pathname, search } = new URL(request.url);
    target = env.ORIGIN.replace(/\/+$/, "") + pathname + search;
  }
  try {
    return await fetch(target, { method: request.method, headers, body: request.body, redirect: "manual" });
  } catch {
    return answer(502, "bad_gateway", "the origin cannot be reached");
  }
}

export default {
  async fetch(request, env, ctx) {
    try {
      return await handle(request, env, ctx);
    } catch {
      return answer(500, "server_error", "internal error"); // never forward after a surprise
    }
  },
};
