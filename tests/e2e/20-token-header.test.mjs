// TOKEN_HEADER (README "Where the token comes from"): the token read from a header the
// operator names, bare (Cloudflare Access's Cf-Access-Jwt-Assertion, keys at
// /cdn-cgi/access/certs, `aud` the application's AUD tag) or after a prefix
// (`X-Api-Token: Token <jwt>`). The same rules as every other source: one token, a token in
// several places (or the header twice) is 400, a bad one 401, nothing reaches the origin.
// Tokens are minted by jose; requests go through node:http so headers are sent as written.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startOrigin, startJwksServer, startGateway, issuerItem, readJson, fixtureKey, mint,
  rawCall, assertEdgeError, assertForwarded, notForwarded, parseWwwAuthenticate, show,
} from "./lib/index.mjs";

// Cloudflare Access: the team domain is the issuer, the AUD tag the audience.
const ACCESS_ISS = "https://fixtures-team.cloudflareaccess.com";
const ACCESS_AUD = "4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2";

let origin, jwks, rsa, access, api;

before(async () => {
  origin = await startOrigin();
  jwks = await startJwksServer();
  jwks.set("/cdn-cgi/access/certs", { json: readJson("jwks/main.json") });
  rsa = await fixtureKey("rsa2048-a");
  const issuers = [issuerItem(ACCESS_ISS, `${jwks.url}/cdn-cgi/access/certs`, { audiences: [ACCESS_AUD] })];
  access = await startGateway({ issuers, origin, vars: { TOKEN_HEADER: "Cf-Access-Jwt-Assertion" } });
  api = await startGateway({
    issuers,
    origin,
    vars: { TOKEN_HEADER: "X-Api-Token: Token", TOKEN_COOKIE: "at", STRIP_AUTHORIZATION: "true" },
  });
});
after(async () => {
  for (const g of [access, api]) await g?.close();
  await origin?.close();
  await jwks?.close();
});

const tok = (claims = {}) => mint(rsa, { sub: "access-user", email: "a@fixtures.test", ...claims }, {}, { iss: ACCESS_ISS, aud: ACCESS_AUD });

async function passes(g, path, headers) {
  const before = origin.count();
  const r = await rawCall(g.url, path, headers);
  const rec = assertForwarded(r, path);
  assert.equal(origin.count(), before + 1, "exactly one request reached the origin");
  assert.equal(rec.headers["x-auth-subject"], "access-user", show(r));
  assert.equal(rec.headers["x-auth-issuer"], ACCESS_ISS, show(r));
  return rec;
}

async function refused(g, path, headers, status, error) {
  const r = await notForwarded(origin, () => rawCall(g.url, path, headers));
  assertEdgeError(r, status, error);
  const w = parseWwwAuthenticate(r.headers.get("www-authenticate"));
  assert.equal(w?.scheme, "Bearer", show(r));
  return r;
}

describe("TOKEN_HEADER", () => {
  test("Cloudflare Access: the bare JWT in Cf-Access-Jwt-Assertion is verified and forwarded, header kept", async () => {
    const t = await tok();
    const rec = await passes(access, "/app/page", { "cf-access-jwt-assertion": t });
    assert.equal(rec.headers["cf-access-jwt-assertion"], t, "the origin may verify it again");
    // Any case of the header name.
    await passes(access, "/app/page", { "CF-ACCESS-JWT-ASSERTION": t });
  });

  test("a bad, expired or wrong-audience token in the header: 401 invalid_token", async () => {
    const t = await tok();
    await refused(access, "/x", { "cf-access-jwt-assertion": t.slice(0, -4) + (t.endsWith("AAAA") ? "BBBB" : "AAAA") }, 401, "invalid_token");
    await refused(access, "/x", { "cf-access-jwt-assertion": await tok({ exp: 1000, iat: 900 }) }, 401, "invalid_token");
    await refused(access, "/x", { "cf-access-jwt-assertion": await mint(rsa, {}, {}, { iss: ACCESS_ISS, aud: "another-app" }) }, 401, "invalid_token");
  });

  test("no header: 401 missing_token; Authorization still works alone", async () => {
    await refused(access, "/x", {}, 401, "missing_token");
    await passes(access, "/x", { authorization: `Bearer ${await tok()}` });
  });

  test("the header twice, two values, or beside Authorization: 400 invalid_request", async () => {
    const t = await tok();
    await refused(access, "/x", { "cf-access-jwt-assertion": [t, t] }, 400, "invalid_request");
    await refused(access, "/x", { "cf-access-jwt-assertion": `${t}, ${t}` }, 400, "invalid_request");
    await refused(access, "/x", { "cf-access-jwt-assertion": t, authorization: `Bearer ${t}` }, 400, "invalid_request");
  });

  test("with a prefix: `Token <jwt>` (any case) passes; bare or another scheme is no token", async () => {
    const t = await tok();
    await passes(api, "/v1", { "x-api-token": `Token ${t}` });
    await passes(api, "/v1", { "x-api-token": `token  ${t}` });
    await refused(api, "/v1", { "x-api-token": t }, 401, "missing_token");
    await refused(api, "/v1", { "x-api-token": `Bearer ${t}` }, 401, "missing_token");
    // Beside the cookie source: several places.
    await refused(api, "/v1", { "x-api-token": `Token ${t}`, cookie: `at=${t}` }, 400, "invalid_request");
  });

  test("STRIP_AUTHORIZATION also removes the named header before forwarding", async () => {
    const rec = await passes(api, "/v1", { "x-api-token": `Token ${await tok()}` });
    assert.equal(rec.headers["x-api-token"], undefined, JSON.stringify(rec.headers));
  });

  test("an invalid TOKEN_HEADER is a configuration error, answered 500 for every request", async () => {
    const bad = await startGateway({
      issuers: [issuerItem(ACCESS_ISS, `${jwks.url}/cdn-cgi/access/certs`, { audiences: [ACCESS_AUD] })],
      origin,
      vars: { TOKEN_HEADER: "Authorization" },
    });
    try {
      const r = await notForwarded(origin, () => rawCall(bad.url, "/x", { "cf-access-jwt-assertion": "a.b.c" }));
      assert.equal(r.status, 500, show(r));
      assert.ok(bad.logs.some((l) => l.includes("TOKEN_HEADER")), `the log names the var: ${bad.logs.join("\n")}`);
    } finally {
      await bad.close();
    }
  });
});
