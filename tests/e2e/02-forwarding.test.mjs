// Accepted tokens: every supported algorithm, identity headers, spoofing,
// what is forwarded (method, path, query, headers, body), what comes back,
// ORIGIN with a base path, custom header names, STRIP_AUTHORIZATION,
// concurrency.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import {
  startOrigin, startJwksServer, startGateway, issuerItem, readJson, fixtureKey, mint, decodeSegment, base64url,
  hsSecretText, hsSecretBytes, FIX_ISS, call, assertForwarded, assertInvalidToken, notForwarded,
} from "./lib/index.mjs";

const HS_ISS = "https://hs.fixtures.test/";
let origin, jwks, gw, gwCustom, gwBool, keys;

before(async () => {
  origin = await startOrigin();
  jwks = await startJwksServer();
  jwks.set("/main.json", { json: readJson("jwks/main.json") });
  jwks.set("/empty.json", { json: { keys: [] } });
  const issuers = [
    issuerItem(FIX_ISS, `${jwks.url}/main.json`),
    issuerItem(HS_ISS, `${jwks.url}/empty.json`, { algorithms: ["HS256"], secret: hsSecretText() }),
  ];
  gw = await startGateway({ issuers, origin });
  gwCustom = await startGateway({
    issuers,
    origin: `${origin.url}/api`,
    vars: { SUBJECT_HEADER: "X-User", ISSUER_HEADER: "X-Token-Issuer", CLAIMS_HEADER: "X-Token-Claims", STRIP_AUTHORIZATION: "true" },
  });
  gwBool = await startGateway({ issuers, origin, vars: { STRIP_AUTHORIZATION: true, LEEWAY_SECONDS: 60, MAX_TOKEN_BYTES: 8192 } });
  keys = {};
  for (const n of ["rsa2048-a", "rsa3072", "rsa4096", "p256-a", "ed25519-a"]) keys[n] = await fixtureKey(n);
});
after(async () => {
  for (const g of [gw, gwCustom, gwBool]) await g?.close();
  await origin?.close();
  await jwks?.close();
});

function checkIdentity(rec, token, { subject = "X-Auth-Subject", issuer = "X-Auth-Issuer", claims = "X-Auth-Claims" } = {}) {
  const payload = decodeSegment(token.split(".")[1]);
  const h = rec.headers;
  assert.equal(h[subject.toLowerCase()], payload.sub, `${subject}`);
  assert.equal(h[issuer.toLowerCase()], payload.iss, `${issuer}`);
  const c = h[claims.toLowerCase()];
  assert.equal(typeof c, "string", `${claims} present`);
  assert.match(c, /^[A-Za-z0-9_-]+$/, `${claims} is base64url without padding`);
  const decoded = JSON.parse(new TextDecoder().decode(base64url.decode(c)));
  assert.deepStrictEqual(decoded, payload, `${claims} decodes to the payload`);
  for (const n of [subject, issuer, claims]) assert.equal(origin.headerCount(rec, n), 1, `exactly one ${n}`);
}

describe("valid tokens of every supported algorithm -> 200 with identity headers", () => {
  const cases = [
    ["RS256", "rsa2048-a"], ["RS384", "rsa2048-a"], ["RS512", "rsa2048-a"],
    ["PS256", "rsa2048-a"], ["PS384", "rsa2048-a"], ["PS512", "rsa2048-a"],
    ["RS256", "rsa3072"], ["RS256", "rsa4096"], ["PS256", "rsa4096"],
    ["ES256", "p256-a"], ["EdDSA", "ed25519-a"],
  ];
  for (const [alg, name] of cases) {
    test(`${alg} (${name})`, async () => {
      const token = await mint(keys[name], { sub: `user-${alg}`, roles: ["a", "b"], nested: { n: 1, s: "é☃" } }, { alg });
      const r = await call(gw.url, `/alg/${alg}`, { token });
      const rec = assertForwarded(r, `/alg/${alg}`);
      checkIdentity(rec, token);
      assert.equal(rec.headers.authorization, `Bearer ${token}`, "Authorization forwarded unchanged by default");
    });
  }
  test("HS256 with the issuer's secret (algorithms [HS256])", async () => {
    const token = await mint(hsSecretBytes(), { sub: "hs-user" }, { alg: "HS256" }, { iss: HS_ISS });
    const rec = assertForwarded(await call(gw.url, "/hs", { token }), "/hs");
    checkIdentity(rec, token);
  });
  test("HS256 signed with a different secret -> 401", async () => {
    const token = await mint(crypto.randomBytes(64), {}, { alg: "HS256" }, { iss: HS_ISS });
    assertInvalidToken(await notForwarded(origin, () => call(gw.url, "/hs", { token })));
  });
  test("HS384 to an issuer that allows only HS256 -> 401", async () => {
    const token = await mint(hsSecretBytes(), {}, { alg: "HS384" }, { iss: HS_ISS });
    assertInvalidToken(await notForwarded(origin, () => call(gw.url, "/hs", { token })));
  });
  test("HS256 signed with the secret but claiming the RSA issuer -> 401 (secret is per issuer)", async () => {
    const token = await mint(hsSecretBytes(), {}, { alg: "HS256" }, { iss: FIX_ISS });
    assertInvalidToken(await notForwarded(origin, () => call(gw.url, "/hs", { token })));
  });
  test("RS256 token claiming the HS-only issuer -> 401", async () => {
    const token = await mint(keys["rsa2048-a"], {}, {}, { iss: HS_ISS });
    assertInvalidToken(await notForwarded(origin, () => call(gw.url, "/hs", { token })));
  });
});

describe("identity headers", () => {
  test("spoofed X-Auth-* from the client are removed: exactly one copy, the gateway's", async () => {
    const token = await mint(keys["rsa2048-a"], { sub: "alice" });
    const r = await call(gw.url, "/spoof", {
      token,
      headers: { "X-Auth-Subject": "mallory", "x-auth-issuer": "https://evil.test/", "X-AUTH-CLAIMS": "eyJzdWIiOiJtYWxsb3J5In0", "X-Other": "kept" },
    });
    const rec = assertForwarded(r, "/spoof");
    checkIdentity(rec, token);
    assert.equal(rec.headers["x-auth-subject"], "alice");
    assert.equal(rec.headers["x-other"], "kept");
  });
  test("token without sub: no subject header, and a client-sent one is still removed", async () => {
    const token = await mint(keys["rsa2048-a"], { sub: undefined });
    const r = await call(gw.url, "/nosub", { token, headers: { "X-Auth-Subject": "mallory" } });
    const rec = assertForwarded(r, "/nosub");
    assert.equal(origin.headerCount(rec, "x-auth-subject"), 0, JSON.stringify(rec.headers));
    assert.equal(rec.headers["x-auth-issuer"], FIX_ISS);
  });
  test("non-string sub: refused (RFC 7519 StringOrURI, as jose does), never forwarded", async () => {
    const before = origin.count();
    const token = await mint(keys["rsa2048-a"], { sub: 12345 });
    const r = await call(gw.url, "/numsub", { token });
    assertInvalidToken(r);
    assert.equal(r.json.error_description, "invalid claim");
    assert.equal(origin.count(), before, "origin saw the request");
  });
  test("custom names via SUBJECT_HEADER / ISSUER_HEADER / CLAIMS_HEADER, spoofed copies removed", async () => {
    const token = await mint(keys["p256-a"], { sub: "bob" });
    const r = await call(gwCustom.url, "/custom", { token, headers: { "X-User": "mallory", "X-Token-Issuer": "evil", "X-Token-Claims": "e30" } });
    const rec = assertForwarded(r, "/api/custom");
    checkIdentity(rec, token, { subject: "X-User", issuer: "X-Token-Issuer", claims: "X-Token-Claims" });
    assert.equal(rec.headers["x-auth-subject"], undefined, "default subject header not used");
    assert.equal(rec.headers["x-auth-claims"], undefined, "default claims header not used");
  });
});

describe("STRIP_AUTHORIZATION", () => {
  test('"true" (string) removes Authorization before forwarding', async () => {
    const token = await mint(keys["rsa2048-a"]);
    const rec = assertForwarded(await call(gwCustom.url, "/s", { token }), "/api/s");
    assert.equal(origin.headerCount(rec, "authorization"), 0, JSON.stringify(rec.headers));
  });
  test("true (boolean var) removes Authorization; numeric vars accepted", async () => {
    const token = await mint(keys["rsa2048-a"]);
    const rec = assertForwarded(await call(gwBool.url, "/s", { token }), "/s");
    assert.equal(origin.headerCount(rec, "authorization"), 0, JSON.stringify(rec.headers));
    assert.equal(rec.headers["x-auth-subject"], "e2e-user");
  });
});

describe("request forwarding", () => {
  test("method, path, query, headers and body reach the origin", async () => {
    const token = await mint(keys["rsa2048-a"]);
    const body = JSON.stringify({ hello: "world", n: 42 });
    const r = await call(gw.url, "/some/deep/path.json?x=1&y=two&y=3&empty=&enc=a%20b%2Fc", {
      token,
      method: "POST",
      headers: { "content-type": "application/json; charset=utf-8", "x-request-id": "req-123", "accept-language": "de-CH", "user-agent": "e2e-test/1.0" },
      body,
    });
    const rec = assertForwarded(r, "/some/deep/path.json");
    assert.equal(rec.method, "POST");
    assert.equal(rec.query, "?x=1&y=two&y=3&empty=&enc=a%20b%2Fc");
    assert.equal(rec.headers["content-type"], "application/json; charset=utf-8");
    assert.equal(rec.headers["x-request-id"], "req-123");
    assert.equal(rec.headers["accept-language"], "de-CH");
    assert.equal(rec.headers["user-agent"], "e2e-test/1.0");
    assert.equal(rec.bodyText, body);
    assert.equal(rec.sha256, crypto.createHash("sha256").update(body).digest("hex"));
  });
  for (const method of ["PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]) {
    test(`${method} forwarded with its method`, async () => {
      const token = await mint(keys["ed25519-a"]);
      const before = origin.count();
      const r = await call(gw.url, "/m", { token, method, body: method === "PUT" || method === "PATCH" ? "payload" : undefined });
      assert.equal(r.status, 200, r.text);
      assert.equal(origin.count(), before + 1);
      assert.equal(origin.last().method, method);
      if (method === "PUT" || method === "PATCH") assert.equal(origin.last().bodyText, "payload");
    });
  }
  test("percent-encoded path is passed through unchanged", async () => {
    const token = await mint(keys["rsa2048-a"]);
    const rec = assertForwarded(await call(gw.url, "/a%20b/%E2%98%83/c", { token }));
    assert.equal(rec.path, "/a%20b/%E2%98%83/c");
  });
  test("1 MiB POST body arrives intact (sha256)", async () => {
    const token = await mint(keys["rsa2048-a"]);
    const body = crypto.randomBytes(1024 * 1024);
    const r = await call(gw.url, "/upload", { token, method: "POST", headers: { "content-type": "application/octet-stream" }, body });
    const rec = assertForwarded(r, "/upload");
    assert.equal(rec.bodyLength, body.length);
    assert.equal(rec.sha256, crypto.createHash("sha256").update(body).digest("hex"));
  });
  test("ORIGIN with a base path: path and query appended", async () => {
    const token = await mint(keys["rsa2048-a"]);
    const rec = assertForwarded(await call(gwCustom.url, "/v1/x?y", { token }), "/api/v1/x");
    assert.equal(rec.query, "?y");
  });
});

describe("origin response returned as-is", () => {
  before(() => {
    origin.route("/created", (req, res) => {
      res.writeHead(201, [["Content-Type", "text/plain"], ["X-Origin", "yes"], ["Set-Cookie", "a=1; Path=/"], ["Set-Cookie", "b=2; Path=/"], ["Cache-Control", "max-age=5"]]);
      res.end("created!");
    });
    origin.route("/redirect", (req, res) => {
      res.writeHead(302, { location: "/elsewhere", "x-origin": "redirect" });
      res.end();
    });
    origin.route("/teapot", (req, res) => {
      res.writeHead(418, { "content-type": "application/json", "www-authenticate": 'Bearer realm="origin"' });
      res.end('{"error":"from-origin"}');
    });
    origin.route("/fail", (req, res) => {
      res.writeHead(500, { "content-type": "text/html" });
      res.end("<h1>origin broke</h1>");
    });
    origin.route("/binary", (req, res) => {
      const b = Buffer.alloc(300000);
      for (let i = 0; i < b.length; i++) b[i] = (i * 7919) & 0xff;
      res.writeHead(200, { "content-type": "application/octet-stream" });
      res.end(b);
    });
  });
  test("201 with headers, two Set-Cookie and body", async () => {
    const token = await mint(keys["rsa2048-a"]);
    const r = await call(gw.url, "/created", { token });
    assert.equal(r.status, 201);
    assert.equal(r.text, "created!");
    assert.equal(r.headers.get("x-origin"), "yes");
    assert.equal(r.headers.get("cache-control"), "max-age=5");
    assert.deepEqual(r.headers.getSetCookie(), ["a=1; Path=/", "b=2; Path=/"]);
  });
  test("302 returned, not followed", async () => {
    const token = await mint(keys["rsa2048-a"]);
    const before = origin.count();
    const r = await call(gw.url, "/redirect", { token });
    assert.equal(r.status, 302);
    assert.equal(r.headers.get("location"), "/elsewhere");
    assert.equal(origin.count(), before + 1, "the redirect target was not requested");
  });
  test("418 and 500 from the origin are passed through, not rewritten", async () => {
    const token = await mint(keys["rsa2048-a"]);
    const r = await call(gw.url, "/teapot", { token });
    assert.equal(r.status, 418);
    assert.equal(r.text, '{"error":"from-origin"}');
    assert.equal(r.headers.get("www-authenticate"), 'Bearer realm="origin"');
    const r2 = await call(gw.url, "/fail", { token });
    assert.equal(r2.status, 500);
    assert.equal(r2.text, "<h1>origin broke</h1>");
  });
  test("300 kB binary response body intact", async () => {
    const token = await mint(keys["rsa2048-a"]);
    const res = await fetch(`${gw.url}/binary`, { headers: { authorization: `Bearer ${token}` } });
    const got = Buffer.from(await res.arrayBuffer());
    assert.equal(res.status, 200);
    assert.equal(got.length, 300000);
    for (let i = 0; i < got.length; i += 997) assert.equal(got[i], (i * 7919) & 0xff);
  });
});

describe("concurrency", () => {
  test("20 parallel valid requests all 200, each forwarded once", async () => {
    const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => mint(keys[i % 2 ? "p256-a" : "rsa2048-a"], { sub: `u${i}` })));
    const before = origin.count();
    const rs = await Promise.all(tokens.map((token, i) => call(gw.url, `/par/${i}`, { token })));
    rs.forEach((r, i) => {
      const rec = assertForwarded(r, `/par/${i}`);
      assert.equal(rec.headers["x-auth-subject"], `u${i}`);
    });
    assert.equal(origin.count(), before + 20);
  });
});
