// Route policy and identity mapping (README "Route policy and identity mapping"):
// ROUTES (first match, prefix vs glob, methods, auth required/optional/public,
// encoded-path fall-through, scopes all/any from `scope` and `scp`, claims
// equals/contains with dotted paths, issuers), DEFAULT_ROUTE, CLAIM_HEADERS,
// TOKEN_COOKIE, TOKEN_QUERY_PARAM, a token in several places, CORS_PREFLIGHT,
// DENY_JTI / DENY_SUB, per-issuer require_typ / max_token_age /
// required_claims (RFC 9068), RESOURCE_METADATA (RFC 9728), structured vars as
// JSON strings and as JSON bindings (TOML tables/arrays), invalid configs.
//
// Every refused request asserts the status, the JSON body `error`, the
// WWW-Authenticate parameters and that the origin recorded nothing. Requests
// go through node:http (rawCall) so paths are sent byte for byte (`%2F`,
// `%2E`) and Cookie / Origin / Access-Control-Request-Method can be set.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startOrigin, startJwksServer, startGateway, issuerItem, readJson, fixtureKey, mint, now, FIX_ISS,
  rawCall, assertEdgeError, assertForwarded, parseWwwAuthenticate, notForwarded, show,
} from "./lib/index.mjs";

const OTHER_ISS = "https://other.fixtures.test/"; // same keys, another issuer
const TYP_ISS = "https://typ.fixtures.test/"; // require_typ at+jwt
const AGE_ISS = "https://age.fixtures.test/"; // max_token_age 120
const REQ_ISS = "https://req.fixtures.test/"; // required_claims sub, client_id, jti

const RESOURCE = {
  resource: "https://api.example.test",
  authorization_servers: [FIX_ISS],
  scopes_supported: ["read", "write", "admin"],
};

const ROUTES = [
  /* 0 */ { path: "/health", methods: ["GET"], auth: "public" },
  /* 1 */ { prefix: "/public/", auth: "public" },
  /* 2 */ { prefix: "/beta/", auth: "optional" },
  /* 3 */ { prefix: "/order/first/", scopes: ["first"] },
  /* 4 */ { prefix: "/order/", auth: "public" },
  /* 5 */ { prefix: "/rev/", auth: "public" },
  /* 6 */ { prefix: "/rev/private/", scopes: ["never"] },
  /* 7 */ { path: "/glob/*/one", auth: "public" },
  /* 8 */ { path: "/files/*.txt", auth: "public" },
  /* 9 */ { path: "/deep/**", auth: "public" },
  /* 10 */ { path: "/char/?", auth: "public" },
  /* 11 */ { prefix: "/writes/", methods: ["post", "Put"], scopes: ["write"] },
  /* 12 */ { prefix: "/writes/", auth: "public" },
  /* 13 */ { prefix: "/pub2/", auth: "public" },
  /* 14 */ { prefix: "/pub2/", scopes: ["pub2"] },
  /* 15 */ { prefix: "/admin/", scopes: ["admin"], claims: [{ claim: "org.tier", equals: ["gold", "platinum"] }] },
  /* 16 */ { prefix: "/reports/", scopes: ["reports:read", "reports:all"], scopes_match: "any" },
  /* 17 */ { prefix: "/all/", scopes: ["read", "write"] },
  /* 18 */ { prefix: "/allx/", scopes: ["read", "write"], scopes_match: "all" },
  /* 19 */ { prefix: "/num/", claims: [{ claim: "org.level", equals: [3, 4] }] },
  /* 20 */ { prefix: "/bool/", claims: [{ claim: "email_verified", equals: [true] }] },
  /* 21 */ { prefix: "/groups/", claims: [{ claim: "groups", contains: "staff" }] },
  /* 22 */ { prefix: "/roles/", claims: [{ claim: "realm.roles", contains: "editor" }] },
  /* 23 */ { prefix: "/lucky/", claims: [{ claim: "nums", contains: 7 }] },
  /* 24 */ { prefix: "/multi/", claims: [{ claim: "org.tier", equals: ["gold"] }, { claim: "email_verified", equals: [true] }] },
  /* 25 */ { prefix: "/other-only/", issuers: [OTHER_ISS] },
];

const CLAIM_HEADERS = {
  "X-User-Email": "email",
  "X-Org": "org.id",
  "X-Region": "org.meta.region",
  "X-Groups": "groups",
  "X-Level": "org.level",
  "X-Verified": "email_verified",
  "X-Org-Meta": "org.meta",
  "X-Name": "name",
  "X-Missing": "no.such.claim",
};
const IDENTITY = ["x-auth-subject", "x-auth-issuer", "x-auth-claims", ...Object.keys(CLAIM_HEADERS).map((h) => h.toLowerCase())];
const SPOOF = {
  "X-Auth-Subject": "mallory",
  "x-auth-issuer": "https://evil.test/",
  "X-AUTH-CLAIMS": "eyJzdWIiOiJtYWxsb3J5In0",
  "x-user-email": "mallory@evil.test",
  "X-Groups": "admins",
  "X-Missing": "spoofed",
};

let origin, jwks, rsa;
let gw; // everything configured, as JSON strings
let plain; // nothing of this section configured
let toml; // structured vars as JSON bindings (TOML tables / arrays), DEFAULT_ROUTE with scopes
let defPublic; // DEFAULT_ROUTE public, a rule without `auth`

const issuers = (url) => [
  issuerItem(FIX_ISS, url),
  issuerItem(OTHER_ISS, url),
  issuerItem(TYP_ISS, url, { require_typ: "at+jwt" }),
  issuerItem(AGE_ISS, url, { max_token_age: 120 }),
  issuerItem(REQ_ISS, url, { required_claims: ["sub", "client_id", "jti"] }),
];

before(async () => {
  origin = await startOrigin();
  jwks = await startJwksServer();
  jwks.set("/main.json", { json: readJson("jwks/main.json") });
  rsa = await fixtureKey("rsa2048-a");
  const url = `${jwks.url}/main.json`;
  gw = await startGateway({
    issuers: issuers(url),
    origin,
    vars: {
      ROUTES: JSON.stringify(ROUTES),
      CLAIM_HEADERS: JSON.stringify(CLAIM_HEADERS),
      TOKEN_COOKIE: "eg_at",
      TOKEN_QUERY_PARAM: "tok",
      CORS_PREFLIGHT: "true",
      DENY_JTI: JSON.stringify(["revoked-jti"]),
      DENY_SUB: JSON.stringify(["banned-user"]),
      RESOURCE_METADATA: JSON.stringify(RESOURCE),
    },
  });
  plain = await startGateway({ issuers: [issuerItem(FIX_ISS, url)], origin });
  toml = await startGateway({
    issuers: [issuerItem(FIX_ISS, url)],
    origin,
    vars: {
      ROUTES: [{ prefix: "/open/", auth: "public" }],
      DEFAULT_ROUTE: { scopes: ["base"] },
      CLAIM_HEADERS: { "X-Email": "email" },
      DENY_SUB: ["banned-user"],
      CORS_PREFLIGHT: true,
      RESOURCE_METADATA: { resource: "https://toml.example.test", bearer_methods_supported: ["header"] },
    },
  });
  defPublic = await startGateway({
    issuers: [issuerItem(FIX_ISS, url)],
    origin,
    vars: { ROUTES: JSON.stringify([{ prefix: "/secure/" }]), DEFAULT_ROUTE: JSON.stringify({ auth: "public" }) },
  });
});
after(async () => {
  for (const g of [gw, plain, toml, defPublic]) await g?.close();
  await origin?.close();
  await jwks?.close();
});

// ---------------------------------------------------------------- helpers

/** A request through node:http: path sent as-is; opts {token, method, headers}. */
async function req(g, path, { token, method = "GET", headers = {} } = {}) {
  const h = { ...headers };
  const t = await token;
  if (t !== undefined) h.authorization = `Bearer ${t}`;
  return rawCall(g.url, path, h, { method });
}

const rmUrl = (g) => `${g.url}/.well-known/oauth-protected-resource`;
/** The resource_metadata value a gateway's 401/403 must carry (null: none configured). */
const rmFor = (g) => (g === gw || g === toml ? rmUrl(g) : null);

/**
 * Asserts a refusal made at the edge: status, body error, WWW-Authenticate
 * (scheme, realm, error, error_description, scope for 403, resource_metadata
 * for 401/403), and that the origin recorded nothing.
 * scope: array of required scopes, or null for a rule without scopes (then
 * `scope` is absent or empty).
 */
async function refused(g, path, opts, status, error, { scope } = {}) {
  const r = await notForwarded(origin, () => req(g, path, opts));
  assertEdgeError(r, status, error);
  const w = parseWwwAuthenticate(r.headers.get("www-authenticate"));
  assert.ok(w, `WWW-Authenticate present: ${show(r)}`);
  assert.equal(w.scheme, "Bearer", show(r));
  assert.equal(w.params.realm, "edgeguard", show(r));
  if (error === "missing_token") {
    assert.ok(!("error" in w.params) && !/error\s*=/.test(w.raw), `no error= attribute: ${show(r)}`);
  } else {
    assert.equal(w.params.error, error, show(r));
    assert.equal(typeof w.params.error_description, "string", show(r));
  }
  if (status === 403) {
    if (scope === null) {
      assert.ok(!("scope" in w.params) || w.params.scope === "", `no required scopes: ${show(r)}`);
    } else {
      assert.ok("scope" in w.params, `scope= present: ${show(r)}`);
      const got = w.params.scope.split(" ").filter(Boolean).sort();
      assert.deepEqual(got, [...scope].sort(), `scope= lists the required scopes: ${show(r)}`);
    }
  }
  if (status === 401 || status === 403) {
    const rm = rmFor(g);
    if (rm) assert.equal(w.params.resource_metadata, rm, `resource_metadata: ${show(r)}`);
    else assert.ok(!("resource_metadata" in w.params), `no resource_metadata without RESOURCE_METADATA: ${show(r)}`);
  }
  return r;
}

/** The request reached the echo origin (200); returns the origin's record. */
async function passes(g, path, opts = {}) {
  const before = origin.count();
  const r = await req(g, path, opts);
  const rec = assertForwarded(r);
  assert.equal(origin.count(), before + 1, "exactly one request reached the origin");
  assert.equal(rec.method, opts.method ?? "GET");
  return rec;
}

function assertNoIdentity(rec, names = IDENTITY) {
  for (const n of names) assert.equal(origin.headerCount(rec, n), 0, `${n} must not reach the origin: ${JSON.stringify(rec.headers)}`);
}
function assertIdentity(rec, sub, iss = FIX_ISS) {
  assert.equal(rec.headers["x-auth-subject"], sub);
  assert.equal(rec.headers["x-auth-issuer"], iss);
  assert.match(rec.headers["x-auth-claims"] ?? "", /^[A-Za-z0-9_-]+$/);
  for (const n of ["x-auth-subject", "x-auth-issuer", "x-auth-claims"]) assert.equal(origin.headerCount(rec, n), 1, `exactly one ${n}`);
}

const tok = (claims = {}, header = {}, opts = {}) => mint(rsa, claims, header, opts);
const tampered = async (claims) => {
  const t = await tok(claims);
  const tail = t.slice(-6);
  return t.slice(0, -6) + (tail === "AAAAAA" ? "BBBBBB" : "AAAAAA");
};
const expired = () => tok({ iat: now() - 1000, exp: now() - 500 });

// ---------------------------------------------------------------- ROUTES matching

describe("ROUTES: first match, prefix, glob, methods", () => {
  test("first matching rule decides: a narrower required rule listed before a broader public one", async () => {
    await refused(gw, "/order/first/x", {}, 401, "missing_token");
    await refused(gw, "/order/first/x", { token: tok({ scope: "other" }) }, 403, "insufficient_scope", { scope: ["first"] });
    await passes(gw, "/order/first/x", { token: tok({ scope: "first" }) });
    const rec = await passes(gw, "/order/other");
    assert.equal(rec.path, "/order/other");
  });
  test("first matching rule decides: a broader public rule listed first shadows a later narrower one", async () => {
    const rec = await passes(gw, "/rev/private/x");
    assert.equal(rec.path, "/rev/private/x");
  });
  test("prefix matches paths starting with it, nothing else", async () => {
    await passes(gw, "/public/x");
    await passes(gw, "/public/a/b/c.json");
    const rec = await passes(gw, "/public/q?x=1&y=2");
    assert.equal(rec.query, "?x=1&y=2");
    await refused(gw, "/public", {}, 401, "missing_token");
    await refused(gw, "/publicity", {}, 401, "missing_token");
    await refused(gw, "/x/public/y", {}, 401, "missing_token");
  });
  test("path without wildcards is an exact match (query ignored)", async () => {
    await passes(gw, "/health");
    await passes(gw, "/health?probe=1");
    await refused(gw, "/health/x", {}, 401, "missing_token");
    await refused(gw, "/healthz", {}, 401, "missing_token");
  });
  test("`*` matches within one segment", async () => {
    await passes(gw, "/glob/abc/one");
    await refused(gw, "/glob/a/b/one", {}, 401, "missing_token");
    await refused(gw, "/glob/abc/one/more", {}, 401, "missing_token");
    await refused(gw, "/glob/one", {}, 401, "missing_token");
    await passes(gw, "/files/report.txt");
    await refused(gw, "/files/a/report.txt", {}, 401, "missing_token");
    await refused(gw, "/files/report.txt.bak", {}, 401, "missing_token");
  });
  test("`**` matches across segments", async () => {
    await passes(gw, "/deep/a");
    await passes(gw, "/deep/a/b/c/d.json");
    await refused(gw, "/deeper/a", {}, 401, "missing_token");
  });
  test("`?` matches exactly one character", async () => {
    await passes(gw, "/char/a");
    await refused(gw, "/char/ab", {}, 401, "missing_token");
    await refused(gw, "/char/", {}, 401, "missing_token");
  });
  test("methods filter (case-insensitive): a rule for other methods is skipped", async () => {
    // rule 11: POST/PUT need scope write; rule 12: everything else on /writes/ is public
    await passes(gw, "/writes/x");
    await passes(gw, "/writes/x", { method: "DELETE" });
    await refused(gw, "/writes/x", { method: "POST" }, 401, "missing_token");
    await refused(gw, "/writes/x", { method: "PUT", token: tok({ scope: "read" }) }, 403, "insufficient_scope", { scope: ["write"] });
    await passes(gw, "/writes/x", { method: "POST", token: tok({ scope: "write" }) });
    await passes(gw, "/writes/x", { method: "PUT", token: tok({ scope: "write" }) });
    // rule 0 is GET-only: POST /health falls to the default (required)
    await refused(gw, "/health", { method: "POST" }, 401, "missing_token");
  });
  test("no rule matches: default is required (missing, invalid, valid token)", async () => {
    await refused(gw, "/unmatched", {}, 401, "missing_token");
    await refused(gw, "/unmatched", { token: tampered() }, 401, "invalid_token");
    await refused(gw, "/unmatched", { token: expired() }, 401, "invalid_token");
    const rec = await passes(gw, "/unmatched", { token: tok({ sub: "alice" }) });
    assertIdentity(rec, "alice");
  });
});

describe("DEFAULT_ROUTE", () => {
  test("DEFAULT_ROUTE {auth: public}: unmatched paths need no token; a rule without `auth` is required", async () => {
    const rec = await passes(defPublic, "/anything/here", { headers: { "X-Auth-Subject": "mallory", "X-Auth-Claims": "e30" } });
    assertNoIdentity(rec, ["x-auth-subject", "x-auth-issuer", "x-auth-claims"]);
    await refused(defPublic, "/secure/x", {}, 401, "missing_token");
    await refused(defPublic, "/secure/x", { token: tampered() }, 401, "invalid_token");
    assertIdentity(await passes(defPublic, "/secure/x", { token: tok({ sub: "bob" }) }), "bob");
  });
  test("DEFAULT_ROUTE {auth: public} is a public rule: never matches an encoded `/`, `\\` or `.` (no unauthenticated /x/..%2Fsecure/)", async () => {
    for (const p of ["/x/..%2Fsecure/y", "/x/..%5Csecure/y", "/secure%2Fy", "/x/%2E%2E%2Fsecure/y"]) {
      await refused(defPublic, p, {}, 401, "missing_token");
    }
    await passes(defPublic, "/x/a%20b");
  });
  test("DEFAULT_ROUTE with scopes (JSON binding) applies to unmatched paths", async () => {
    await refused(toml, "/x", {}, 401, "missing_token");
    await refused(toml, "/x", { token: tok({ scope: "read" }) }, 403, "insufficient_scope", { scope: ["base"] });
    await passes(toml, "/x", { token: tok({ scope: "read base" }) });
    await passes(toml, "/open/x"); // ROUTES as a JSON array binding
  });
  test("without ROUTES every request needs a valid token", async () => {
    await refused(plain, "/public/x", {}, 401, "missing_token");
    await refused(plain, "/health", {}, 401, "missing_token");
    await refused(plain, "/x", { token: tampered() }, 401, "invalid_token");
    await passes(plain, "/x", { token: tok() });
  });
});

// ---------------------------------------------------------------- auth modes

describe("auth: public", () => {
  test("no token: forwarded; spoofed X-Auth-* and CLAIM_HEADERS copies removed, other headers kept", async () => {
    const rec = await passes(gw, "/public/spoof", { headers: { ...SPOOF, "X-Other": "kept" } });
    assertNoIdentity(rec);
    assert.equal(rec.headers["x-other"], "kept");
  });
  test("invalid / expired / garbage token: still forwarded (public checks nothing), no identity", async () => {
    for (const token of [tampered(), expired(), "not-a-jwt"]) {
      const rec = await passes(gw, "/public/bad", { token, headers: SPOOF });
      assertNoIdentity(rec);
    }
  });
  test("encoded traversal out of a public rule needs what the decoded path needs", async () => {
    // Both readings apply (README): /public/..%2Fadmin/x is /admin/x to a decoding origin.
    for (const p of ["/public/..%2Fadmin/x", "/public/..%2fadmin/x", "/public/..%5Cadmin/x", "/public/%2E%2E/admin/x", "/health%2F"]) {
      await refused(gw, p, {}, 401, "missing_token");
    }
    // A valid token still has to meet the admin rule's scopes.
    await refused(gw, "/public/..%2Fadmin/x", { token: tok({ scope: "read" }) }, 403, "insufficient_scope", { scope: ["admin"] });
    // Encoding that stays inside the public prefix changes nothing.
    await passes(gw, "/public/a%20b");
    await passes(gw, "/public/a%2Eb");
  });
  test("a token in the query on a public route is still removed from the forwarded URL", async () => {
    const t = await tok();
    const rec = await passes(gw, `/public/q?tok=${t}&a=1`);
    assert.ok(!rec.url.includes(t), rec.url);
    assert.deepEqual([...new URLSearchParams(rec.query)], [["a", "1"]]);
  });
  test("an encoded path whose decoded form stays under the same rule is forwarded as sent", async () => {
    // rule 13 (public /pub2/) applies to both readings of /pub2/a%2Fb.
    await passes(gw, "/pub2/a");
    const rec = await passes(gw, "/pub2/a%2Fb");
    assert.match(rec.url, /^\/pub2\/a%2Fb/i);
  });
});

describe("auth: optional", () => {
  test("no token: forwarded without identity headers (spoofed copies removed)", async () => {
    const rec = await passes(gw, "/beta/x", { headers: SPOOF });
    assertNoIdentity(rec);
  });
  test("present but invalid token: 401 invalid_token", async () => {
    await refused(gw, "/beta/x", { token: tampered() }, 401, "invalid_token");
    await refused(gw, "/beta/x", { token: expired() }, 401, "invalid_token");
    await refused(gw, "/beta/x", { token: "not-a-jwt" }, 401, "invalid_token");
  });
  test("valid token: identity headers and CLAIM_HEADERS", async () => {
    const rec = await passes(gw, "/beta/x", { token: tok({ sub: "carol", email: "carol@example.test" }), headers: SPOOF });
    assertIdentity(rec, "carol");
    assert.equal(rec.headers["x-user-email"], "carol@example.test");
    assert.equal(origin.headerCount(rec, "x-user-email"), 1);
    assert.equal(origin.headerCount(rec, "x-groups"), 0, "spoofed copy removed, claim absent");
  });
  test("another scheme (Basic) is no bearer token: anonymous, forwarded without identity", async () => {
    const rec = await passes(gw, "/beta/basic", { headers: { authorization: "Basic dXNlcjpwYXNz", ...SPOOF } });
    assertNoIdentity(rec);
  });
  test("encoded traversal out of an optional rule needs what the decoded path needs", async () => {
    await refused(gw, "/beta/..%2Fadmin", {}, 401, "missing_token");
    await refused(gw, "/beta/%2e%2e%5Cadmin", {}, 401, "missing_token");
  });
});

// ---------------------------------------------------------------- scopes, claims, issuers

describe("scopes", () => {
  test("all (default): every scope needed, from `scope` (string) or `scp` (array or string)", async () => {
    for (const claims of [{ scope: "read write" }, { scope: "write other read" }, { scp: ["write", "read"] }, { scp: "read write" }]) {
      await passes(gw, "/all/x", { token: tok(claims) });
    }
    for (const claims of [{ scope: "read" }, { scp: ["read"] }, { scope: "readwrite" }, { scope: "read,write" }, { scp: ["read write"] }, {}]) {
      await refused(gw, "/all/x", { token: tok(claims) }, 403, "insufficient_scope", { scope: ["read", "write"] });
    }
  });
  test('scopes_match "all" written out', async () => {
    await passes(gw, "/allx/x", { token: tok({ scope: "read write" }) });
    await refused(gw, "/allx/x", { token: tok({ scp: ["write"] }) }, 403, "insufficient_scope", { scope: ["read", "write"] });
  });
  test('scopes_match "any": one of them is enough', async () => {
    for (const claims of [{ scope: "reports:all" }, { scp: ["reports:read"] }, { scp: "x reports:read" }, { scope: "reports:read reports:all" }]) {
      await passes(gw, "/reports/q", { token: tok(claims) });
    }
    for (const claims of [{ scope: "reports:write" }, { scope: "reports:readonly" }, { scp: [] }, {}]) {
      await refused(gw, "/reports/q", { token: tok(claims) }, 403, "insufficient_scope", { scope: ["reports:read", "reports:all"] });
    }
  });
  test("no token / invalid token on a scoped route: 401, not 403", async () => {
    await refused(gw, "/admin/x", {}, 401, "missing_token");
    await refused(gw, "/admin/x", { token: tok({ scope: "admin", org: { tier: "gold" }, exp: now() - 500, iat: now() - 1000 }) }, 401, "invalid_token");
  });
});

describe("claims", () => {
  test("scopes plus equals on a nested string claim (org.tier)", async () => {
    await passes(gw, "/admin/x", { token: tok({ scope: "admin", org: { tier: "gold" } }) });
    await passes(gw, "/admin/x", { token: tok({ scope: "admin", org: { tier: "platinum" } }) });
    for (const claims of [
      { scope: "admin", org: { tier: "silver" } },
      { scope: "admin", org: { tier: "Gold" } },
      { scope: "admin" },
      { scope: "admin", org: "gold" },
      { scope: "admin", "org.tier": "gold" }, // a flat claim named "org.tier" is not the path org -> tier
      { scope: "read", org: { tier: "gold" } },
      { scope: "administrator", org: { tier: "gold" } },
    ]) {
      await refused(gw, "/admin/x", { token: tok(claims) }, 403, "insufficient_scope", { scope: ["admin"] });
    }
  });
  test("equals with numbers", async () => {
    await passes(gw, "/num/x", { token: tok({ org: { level: 3 } }) });
    await passes(gw, "/num/x", { token: tok({ org: { level: 4 } }) });
    for (const org of [{ level: 5 }, { level: "3" }, { level: [3] }, {}]) {
      await refused(gw, "/num/x", { token: tok({ org }) }, 403, "insufficient_scope", { scope: null });
    }
  });
  test("equals with booleans", async () => {
    await passes(gw, "/bool/x", { token: tok({ email_verified: true }) });
    for (const claims of [{ email_verified: false }, { email_verified: "true" }, { email_verified: 1 }, {}]) {
      await refused(gw, "/bool/x", { token: tok(claims) }, 403, "insufficient_scope", { scope: null });
    }
  });
  test("contains: array element or space-delimited word", async () => {
    for (const groups of [["dev", "staff"], ["staff"], "dev staff", "staff"]) {
      await passes(gw, "/groups/x", { token: tok({ groups }) });
    }
    for (const groups of [["staffing"], ["dev staff"], "staffing", "dev,staff", [], undefined]) {
      await refused(gw, "/groups/x", { token: tok({ groups }) }, 403, "insufficient_scope", { scope: null });
    }
  });
  test("contains on a dotted path (realm.roles), string or array", async () => {
    for (const realm of [{ roles: "viewer editor" }, { roles: ["editor", "viewer"] }]) {
      await passes(gw, "/roles/x", { token: tok({ realm }) });
    }
    for (const realm of [{ roles: "viewer" }, { roles: ["editors"] }, "editor", {}]) {
      await refused(gw, "/roles/x", { token: tok({ realm }) }, 403, "insufficient_scope", { scope: null });
    }
  });
  test("contains with a number value", async () => {
    await passes(gw, "/lucky/x", { token: tok({ nums: [1, 7] }) });
    await refused(gw, "/lucky/x", { token: tok({ nums: [1, 8] }) }, 403, "insufficient_scope", { scope: null });
    await refused(gw, "/lucky/x", { token: tok({ nums: ["7"] }) }, 403, "insufficient_scope", { scope: null });
  });
  test("several conditions: all must hold", async () => {
    await passes(gw, "/multi/x", { token: tok({ org: { tier: "gold" }, email_verified: true }) });
    await refused(gw, "/multi/x", { token: tok({ org: { tier: "gold" } }) }, 403, "insufficient_scope", { scope: null });
    await refused(gw, "/multi/x", { token: tok({ email_verified: true }) }, 403, "insufficient_scope", { scope: null });
  });
});

describe("issuers", () => {
  test("a valid token of another configured issuer: 403", async () => {
    await refused(gw, "/other-only/x", { token: tok() }, 403, "insufficient_scope", { scope: null });
    await refused(gw, "/other-only/x", {}, 401, "missing_token");
    const rec = await passes(gw, "/other-only/x", { token: tok({ sub: "o-user" }, {}, { iss: OTHER_ISS }) });
    assertIdentity(rec, "o-user", OTHER_ISS);
    // the other issuer is fine elsewhere
    await passes(gw, "/unmatched", { token: tok({}, {}, { iss: OTHER_ISS }) });
  });
});

// ---------------------------------------------------------------- identity to the origin

describe("CLAIM_HEADERS", () => {
  const name = "Zoë\r\nX-Injected: 1\tend\u007f";
  test("strings, nested paths, arrays joined, numbers/booleans/objects as JSON, encoding, missing, spoofing", async () => {
    const token = tok({
      sub: "alice",
      email: "alice@example.test",
      org: { id: "org-42", level: 3, meta: { region: "eu-west" } },
      groups: ["a", "b", "c"],
      email_verified: true,
      name,
    });
    const rec = await passes(gw, "/id", { token, headers: SPOOF });
    const h = rec.headers;
    assertIdentity(rec, "alice");
    assert.equal(h["x-user-email"], "alice@example.test");
    assert.equal(h["x-org"], "org-42");
    assert.equal(h["x-region"], "eu-west");
    assert.equal(h["x-groups"], "a,b,c");
    assert.equal(h["x-level"], "3");
    assert.equal(h["x-verified"], "true");
    assert.deepEqual(JSON.parse(h["x-org-meta"]), { region: "eu-west" });
    for (const n of ["x-user-email", "x-org", "x-region", "x-groups", "x-level", "x-verified", "x-org-meta", "x-name"]) {
      assert.equal(origin.headerCount(rec, n), 1, `exactly one ${n}`);
    }
    // CR, LF, TAB, DEL and non-ASCII percent-encoded: printable ASCII only, decodes back
    const v = h["x-name"];
    assert.match(v, /^[\x20-\x7e]*$/, `printable ASCII: ${JSON.stringify(v)}`);
    assert.ok(!v.includes("\r") && !v.includes("\n"));
    assert.match(v, /%0D%0A/i);
    assert.match(v, /%C3%AB/i);
    assert.equal(decodeURIComponent(v), name);
    assert.equal(h["x-injected"], undefined, "no header injection");
    // missing claim: no header, and the client's copy is gone
    assert.equal(origin.headerCount(rec, "x-missing"), 0);
  });
  test("claims absent: no mapped headers at all (client copies removed)", async () => {
    const rec = await passes(gw, "/id", { token: tok({ sub: "dave" }), headers: SPOOF });
    assertIdentity(rec, "dave");
    assertNoIdentity(rec, Object.keys(CLAIM_HEADERS).map((x) => x.toLowerCase()));
  });
  test("as a JSON binding (TOML table)", async () => {
    const rec = await passes(toml, "/x", { token: tok({ scope: "base", email: "e@x.test" }), headers: { "X-Email": "spoof" } });
    assert.equal(rec.headers["x-email"], "e@x.test");
    assert.equal(origin.headerCount(rec, "x-email"), 1);
  });
});

describe("TOKEN_COOKIE / TOKEN_QUERY_PARAM / several places", () => {
  test("token from the cookie is accepted", async () => {
    const t = await tok({ sub: "cookie-user" });
    const rec = await passes(gw, "/c", { headers: { cookie: `theme=dark; eg_at=${t}; lang=en` } });
    assertIdentity(rec, "cookie-user");
    const rec2 = await passes(gw, "/c", { headers: { cookie: `eg_at=${t}` } });
    assertIdentity(rec2, "cookie-user");
  });
  test("invalid token in the cookie: 401 invalid_token; another cookie name: missing_token", async () => {
    await refused(gw, "/c", { headers: { cookie: `eg_at=${await tampered()}` } }, 401, "invalid_token");
    await refused(gw, "/c", { headers: { cookie: `xeg_at=${await tok()}; eg_atx=${await tok()}` } }, 401, "missing_token");
  });
  test("token from the query parameter is accepted and removed from the forwarded URL; other params kept", async () => {
    const t = await tok({ sub: "query-user" });
    const rec = await passes(gw, `/q/path?a=1&tok=${t}&x=a%20b&b=2`);
    assertIdentity(rec, "query-user");
    assert.equal(rec.path, "/q/path");
    assert.ok(!rec.url.includes(t) && !/[?&]tok=/.test(rec.url), `token removed: ${rec.url}`);
    assert.deepEqual([...new URLSearchParams(rec.query)], [["a", "1"], ["x", "a b"], ["b", "2"]]);
    const only = await passes(gw, `/q/only?tok=${t}`);
    assert.equal(only.path, "/q/only");
    assert.equal(only.query, "");
    assert.ok(!only.url.includes(t), only.url);
  });
  test("invalid token in the query: 401; a similarly named param is not the token", async () => {
    await refused(gw, `/q?tok=${await tampered()}`, {}, 401, "invalid_token");
    await refused(gw, `/q?xtok=${await tok()}&tokx=${await tok()}`, {}, 401, "missing_token");
  });
  test("token in header and cookie (even the same token): 400 invalid_request", async () => {
    const t = await tok();
    await refused(gw, "/m", { token: t, headers: { cookie: `eg_at=${t}` } }, 400, "invalid_request");
  });
  test("the token cookie twice, or the query parameter twice: 400 invalid_request", async () => {
    const t = await tok();
    await refused(gw, "/m", { headers: { cookie: `eg_at=${t}; other=1; eg_at=${t}` } }, 400, "invalid_request");
    await refused(gw, `/m?tok=${t}&a=1&tok=${t}`, {}, 400, "invalid_request");
  });
  test("token in header and query / cookie and query: 400 invalid_request", async () => {
    const t = await tok();
    await refused(gw, `/m?tok=${t}`, { token: t }, 400, "invalid_request");
    await refused(gw, `/m?tok=${t}`, { headers: { cookie: `eg_at=${t}` } }, 400, "invalid_request");
  });
  test("without TOKEN_COOKIE / TOKEN_QUERY_PARAM those places are ignored", async () => {
    const t = await tok();
    await refused(plain, "/c", { headers: { cookie: `eg_at=${t}` } }, 401, "missing_token");
    await refused(plain, `/q?tok=${t}`, {}, 401, "missing_token");
  });
});

describe("CORS_PREFLIGHT", () => {
  const preflight = { origin: "https://app.example.test", "access-control-request-method": "POST" };
  test("true: OPTIONS with Origin + Access-Control-Request-Method forwarded without a token, identity removed", async () => {
    const rec = await passes(gw, "/api/cors", { method: "OPTIONS", headers: { ...preflight, ...SPOOF } });
    assert.equal(rec.path, "/api/cors");
    assertNoIdentity(rec);
    // boolean binding (TOML true)
    await passes(toml, "/api/cors", { method: "OPTIONS", headers: preflight });
  });
  test("true: OPTIONS lacking either header, or another method with both, still needs a token", async () => {
    await refused(gw, "/api/cors", { method: "OPTIONS", headers: { origin: preflight.origin } }, 401, "missing_token");
    await refused(gw, "/api/cors", { method: "OPTIONS", headers: { "access-control-request-method": "POST" } }, 401, "missing_token");
    await refused(gw, "/api/cors", { method: "GET", headers: preflight }, 401, "missing_token");
  });
  test("unset: a preflight without a token is 401", async () => {
    await refused(plain, "/api/cors", { method: "OPTIONS", headers: preflight }, 401, "missing_token");
  });
});

describe("DENY_JTI / DENY_SUB", () => {
  const revoked = async (g, path, token) => {
    const r = await refused(g, path, { token }, 401, "invalid_token");
    assert.match(r.json.error_description, /revoked/i);
  };
  test("a denied jti: 401 invalid_token (token revoked); other jti pass", async () => {
    await revoked(gw, "/d", tok({ jti: "revoked-jti" }));
    await passes(gw, "/d", { token: tok({ jti: "fine-jti" }) });
  });
  test("a denied sub: 401 invalid_token; also on an optional route; as a JSON binding", async () => {
    await revoked(gw, "/d", tok({ sub: "banned-user" }));
    await revoked(gw, "/beta/d", tok({ sub: "banned-user" }));
    await revoked(toml, "/d", tok({ sub: "banned-user", scope: "base" }));
    await passes(gw, "/d", { token: tok({ sub: "banned-user-2" }) });
  });
});

describe("the verified-token cache never bypasses route policy, deny lists or max_token_age", () => {
  test("a token accepted on one route is still checked against another route's scopes, claims and issuers", async () => {
    const token = await tok({ scope: "read", org: { tier: "silver" } });
    await passes(gw, "/unmatched", { token });
    await passes(gw, "/unmatched", { token });
    await refused(gw, "/all/x", { token }, 403, "insufficient_scope", { scope: ["read", "write"] });
    await refused(gw, "/admin/x", { token }, 403, "insufficient_scope", { scope: ["admin"] });
    await refused(gw, "/other-only/x", { token }, 403, "insufficient_scope", { scope: null });
    await refused(gw, "/all/x", { token }, 403, "insufficient_scope", { scope: ["read", "write"] });
  });
  test("a denied token stays denied on every request", async () => {
    const token = await tok({ jti: "revoked-jti" });
    for (let i = 0; i < 3; i++) await refused(gw, "/d", { token }, 401, "invalid_token");
  });
  test("max_token_age is enforced on later requests with the same token (LEEWAY_SECONDS 0)", async () => {
    const g = await startGateway({
      issuers: [issuerItem(AGE_ISS, `${jwks.url}/main.json`, { max_token_age: 2 })],
      origin,
      vars: { LEEWAY_SECONDS: "0" },
    });
    try {
      const token = await tok({ iat: now() }, {}, { iss: AGE_ISS });
      await passes(g, "/aged", { token });
      await new Promise((res) => setTimeout(res, 3500));
      const r = await notForwarded(origin, () => req(g, "/aged", { token }));
      assertEdgeError(r, 401, "invalid_token");
      assert.equal(parseWwwAuthenticate(r.headers.get("www-authenticate")).params.error, "invalid_token");
    } finally {
      await g.close();
    }
  });
});

// ---------------------------------------------------------------- RFC 9068 per issuer

describe("per-issuer require_typ / max_token_age / required_claims", () => {
  test('require_typ at+jwt: "at+jwt" and "application/at+jwt" pass', async () => {
    for (const typ of ["at+jwt", "application/at+jwt"]) {
      await passes(gw, "/at", { token: tok({}, { typ }, { iss: TYP_ISS }) });
    }
  });
  test('require_typ at+jwt: "JWT", missing typ, other types: 401', async () => {
    for (const typ of ["JWT", undefined, "jwt", "at+jwt2", "application/jwt"]) {
      await refused(gw, "/at", { token: tok({}, { typ }, { iss: TYP_ISS }) }, 401, "invalid_token");
    }
    // issuers without require_typ are unaffected
    await passes(gw, "/at", { token: tok({}, { typ: "JWT" }) });
  });
  test("max_token_age: recent iat passes, old or missing iat is 401", async () => {
    await passes(gw, "/age", { token: tok({ iat: now() - 30 }, {}, { iss: AGE_ISS }) });
    await refused(gw, "/age", { token: tok({ iat: now() - 400 }, {}, { iss: AGE_ISS }) }, 401, "invalid_token");
    await refused(gw, "/age", { token: tok({ iat: undefined }, {}, { iss: AGE_ISS }) }, 401, "invalid_token");
    // issuers without max_token_age accept both
    await passes(gw, "/age", { token: tok({ iat: now() - 400 }) });
    await passes(gw, "/age", { token: tok({ iat: undefined }) });
  });
  test("required_claims: all present passes, any missing is 401", async () => {
    const full = { sub: "svc", client_id: "cli-1", jti: "j-1" };
    await passes(gw, "/req", { token: tok(full, {}, { iss: REQ_ISS }) });
    for (const missing of ["sub", "client_id", "jti"]) {
      await refused(gw, "/req", { token: tok({ ...full, [missing]: undefined }, {}, { iss: REQ_ISS }) }, 401, "invalid_token");
    }
    await passes(gw, "/req", { token: tok({ client_id: undefined, jti: undefined }) });
  });
});

// ---------------------------------------------------------------- RFC 9728

describe("RESOURCE_METADATA", () => {
  test("GET /.well-known/oauth-protected-resource answered by the gateway, not forwarded", async () => {
    const r = await notForwarded(origin, () => req(gw, "/.well-known/oauth-protected-resource"));
    assert.equal(r.status, 200, show(r));
    assert.match(r.headers.get("content-type") ?? "", /^application\/json\b/i);
    assert.ok(r.json && typeof r.json === "object", show(r));
    for (const [k, v] of Object.entries(RESOURCE)) assert.deepEqual(r.json[k], v, `${k}: ${r.text}`);
    const m = r.json.bearer_methods_supported;
    assert.ok(Array.isArray(m) && m.length > 0 && m.every((x) => typeof x === "string"), `bearer_methods_supported added: ${r.text}`);
    assert.ok(m.includes("header"), r.text);
  });
  test("bearer_methods_supported given in the document is kept (JSON binding)", async () => {
    const r = await notForwarded(origin, () => req(toml, "/.well-known/oauth-protected-resource"));
    assert.equal(r.status, 200, show(r));
    assert.deepEqual(r.json, { resource: "https://toml.example.test", bearer_methods_supported: ["header"] });
  });
  test("401 and 403 carry resource_metadata (checked by every refusal above as well)", async () => {
    const r = await refused(gw, "/x", {}, 401, "missing_token");
    assert.equal(parseWwwAuthenticate(r.headers.get("www-authenticate")).params.resource_metadata, `http://127.0.0.1:${new URL(gw.url).port}/.well-known/oauth-protected-resource`);
    await refused(gw, "/x", { token: "a.b.c" }, 401, "invalid_token");
    await refused(gw, "/all/x", { token: tok() }, 403, "insufficient_scope", { scope: ["read", "write"] });
  });
  test("unset: the path is an ordinary (required) path and 401s carry no resource_metadata", async () => {
    await refused(plain, "/.well-known/oauth-protected-resource", {}, 401, "missing_token");
    await passes(plain, "/.well-known/oauth-protected-resource", { token: tok() });
  });
});

// A percent-encoded unreserved character (RFC 3986 6.2.2.2: `%61` is `a`) must not make a
// path miss a rule that an origin normalising the path would apply.
describe("percent-encoded unreserved characters", () => {
  test("/%61dmin/x with a token lacking `admin` must not reach the origin", async () => {
    await refused(gw, "/%61dmin/x", { token: tok({ scope: "read", org: { tier: "gold" } }) }, 403, "insufficient_scope", { scope: ["admin"] });
  });
  test("/%73ecure/x without a token must not reach the origin under DEFAULT_ROUTE public", async () => {
    await refused(defPublic, "/%73ecure/x", {}, 401, "missing_token");
  });
});

// ---------------------------------------------------------------- invalid configuration

describe("invalid route / identity configuration -> 500 server_error naming the field", () => {
  const ok = { prefix: "/ok/" };
  // [label, vars, issuer extra, texts the error_description must contain]
  const cases = [
    ["ROUTES not JSON", { ROUTES: "[{prefix:" }, {}, ["ROUTES"]],
    ["ROUTES an object", { ROUTES: JSON.stringify(ok) }, {}, ["ROUTES"]],
    ["both prefix and path", { ROUTES: JSON.stringify([ok, { prefix: "/a/", path: "/a/*" }]) }, {}, ["ROUTES[1]"]],
    ["neither prefix nor path", { ROUTES: JSON.stringify([{ auth: "public" }]) }, {}, ["ROUTES[0]"]],
    ["unknown auth value", { ROUTES: JSON.stringify([ok, ok, { prefix: "/b/", auth: "anonymous" }]) }, {}, ["ROUTES[2].auth"]],
    ["unknown field", { ROUTES: JSON.stringify([{ prefix: "/a/", prefx: "/b/" }]) }, {}, ["ROUTES[0]", "prefx"]],
    ["scopes not strings", { ROUTES: JSON.stringify([ok, ok, { prefix: "/c/", scopes: ["read", 7] }]) }, {}, ["ROUTES[2].scopes"]],
    ["scopes_match unknown", { ROUTES: JSON.stringify([{ prefix: "/a/", scopes: ["x"], scopes_match: "some" }]) }, {}, ["ROUTES[0].scopes_match"]],
    ["methods not an array", { ROUTES: JSON.stringify([{ prefix: "/a/", methods: "GET" }]) }, {}, ["ROUTES[0].methods"]],
    ["claim condition without equals/contains", { ROUTES: JSON.stringify([ok, { prefix: "/a/", claims: [{ claim: "x" }] }]) }, {}, ["ROUTES[1].claims"]],
    ["DEFAULT_ROUTE with a prefix", { DEFAULT_ROUTE: JSON.stringify({ prefix: "/a/" }) }, {}, ["DEFAULT_ROUTE"]],
    ["CLAIM_HEADERS not an object", { CLAIM_HEADERS: JSON.stringify(["email"]) }, {}, ["CLAIM_HEADERS"]],
    ["DENY_JTI not an array", { DENY_JTI: "revoked" }, {}, ["DENY_JTI"]],
    ["DENY_SUB not JSON", { DENY_SUB: "[" }, {}, ["DENY_SUB"]],
    ['CORS_PREFLIGHT = "maybe"', { CORS_PREFLIGHT: "maybe" }, {}, ["CORS_PREFLIGHT"]],
    ["RESOURCE_METADATA without resource", { RESOURCE_METADATA: JSON.stringify({ scopes_supported: ["a"] }) }, {}, ["RESOURCE_METADATA"]],
    ["max_token_age not a number", {}, { max_token_age: "soon" }, ["ISSUERS[0].max_token_age"]],
    ["required_claims not an array", {}, { required_claims: "sub" }, ["ISSUERS[0].required_claims"]],
  ];
  for (const [label, vars, extra, texts] of cases) {
    test(label, async () => {
      const g = await startGateway({ issuers: [issuerItem(FIX_ISS, `${jwks.url}/main.json`, extra)], origin, vars });
      try {
        for (const path of ["/ok/x", "/a/x", "/x"]) {
          for (const token of [tok(), undefined]) {
            const r = await notForwarded(origin, () => req(g, path, { token }));
            assertEdgeError(r, 500, "server_error");
            for (const t of texts) assert.ok(r.json.error_description.includes(t), `error_description should name ${t}: ${r.text}`);
          }
        }
      } finally {
        await g.close();
      }
    });
  }
});
