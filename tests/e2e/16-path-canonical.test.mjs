// Path shapes that origins normalise (issue 11; README "Paths: what is matched and what is
// forwarded"): merged slashes, dot segments, letter case, `;` parameters, encoded `/` and
// `\`, double encoding, HEAD vs GET, method-override headers, ORIGIN with a base path, and a
// glob that a backtracking matcher takes exponential time on.
//
// Every request goes out over a bare TCP socket (tcpCall), so the path is sent exactly as
// written here; fetch and node:http would clean it first. Every refused request asserts the
// status, the body's `error` and that the origin recorded nothing; every forwarded one the
// path the origin received.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startOrigin, startJwksServer, startGateway, issuerItem, readJson, fixtureKey, mint, FIX_ISS,
  tcpCall, assertEdgeError, assertForwarded, notForwarded, show,
} from "./lib/index.mjs";

// Each reached /admin/users at an origin with a valid token lacking `admin` (or with no token
// at all under a public default) before the fix.
const BYPASS_SHAPES = [
  "//admin/users",
  "/.//admin/users",
  "///admin//users",
  "/ADMIN/users",
  "/Admin/users",
  "/admin;x=1/users",
];
// Already refused before the fix; must stay refused.
const ENCODED_SHAPES = ["/%61dmin/users", "/x/..%2Fadmin/users", "/x/%2e%2e/admin/users", "/x/..%5Cadmin/users"];
// Also reach /admin/users at some origin: double encoding, Tomcat's `..;`, an encoded `;`,
// dotless i (a case-insensitive .NET origin reads it as I), and a stray `%` before an escape
// (`%6%31` is `%61` once decoded, `a` twice).
const MORE_SHAPES = ["/x/..%252Fadmin/users", "/x/..;/admin/users", "/admin%3Bx/users", "/adm%C4%B1n/users", "/%6%31dmin/users"];

let origin, jwks, rsa, plainToken, adminToken;
let scoped; // ROUTES /admin/ needs scope admin; default required
let publicDefault; // /admin/ required, /reports/ GET needs a token; default public
let based; // ORIGIN with a base path
let globbed; // a glob rule that backtracking matchers explode on

const bearer = (token) => (token ? { authorization: `Bearer ${token}` } : {});

before(async () => {
  origin = await startOrigin();
  jwks = await startJwksServer();
  jwks.set("/main.json", { json: readJson("jwks/main.json") });
  rsa = await fixtureKey("rsa2048-a");
  plainToken = await mint(rsa, { scope: "read" });
  adminToken = await mint(rsa, { scope: "read admin" });
  const issuers = [issuerItem(FIX_ISS, `${jwks.url}/main.json`)];
  scoped = await startGateway({
    issuers,
    origin,
    vars: { ROUTES: JSON.stringify([{ prefix: "/admin/", scopes: ["admin"] }]), CORS_PREFLIGHT: "true" },
  });
  publicDefault = await startGateway({
    issuers,
    origin,
    vars: {
      ROUTES: JSON.stringify([
        { prefix: "/admin/", auth: "required" },
        { prefix: "/reports/", methods: ["GET"], auth: "required" },
      ]),
      DEFAULT_ROUTE: JSON.stringify({ auth: "public" }),
      RESOURCE_METADATA: JSON.stringify({ resource: "https://api.example.test" }),
    },
  });
  based = await startGateway({ issuers, origin: `${origin.url}/api` });
  globbed = await startGateway({
    issuers,
    origin,
    vars: { ROUTES: JSON.stringify([{ path: "/a/**/b/**/b/**/c", auth: "public" }]) },
  });
});
after(async () => {
  for (const g of [scoped, publicDefault, based, globbed]) await g?.close();
  await origin?.close();
  await jwks?.close();
});

/** The raw request target the origin received for the last forwarded request. */
const lastTarget = () => origin.requests.at(-1).url;

describe("a scoped rule cannot be routed around", () => {
  for (const path of [...BYPASS_SHAPES, ...ENCODED_SHAPES, ...MORE_SHAPES]) {
    test(`${path}: a token without admin gets 403`, async () => {
      const r = await notForwarded(origin, () => tcpCall(scoped.url, path, { headers: bearer(plainToken) }));
      assertEdgeError(r, 403, "insufficient_scope");
    });
  }

  test("the admin token passes, and the origin gets the canonical path", async () => {
    for (const [sent, forwarded] of [
      ["//admin/users", "/admin/users"],
      ["/.//admin/users", "/admin/users"],
      ["///admin//users", "/admin/users"],
      ["/admin/./users/", "/admin/users/"],
      ["/%61dmin/%7Eu", "/admin/~u"],
      // Case and parameters are kept: the rule for every reading was met.
      ["/ADMIN/users", "/ADMIN/users"],
      ["/admin;x=1/users", "/admin;x=1/users"],
      // Encoded reserved characters stay encoded (hex in upper case).
      ["/admin/a%2fb", "/admin/a%2Fb"],
      // A `%` that starts no escape is a percent sign: it goes out as `%25`, so the origin
      // decodes what the client sent (`%6%31dmin` once decoded is `%61dmin`, not `admin`).
      ["/admin/50%", "/admin/50%25"],
      ["/%6%31dmin/users", "/%2561dmin/users"],
    ]) {
      const r = await tcpCall(scoped.url, `${sent}?q=1`, { headers: bearer(adminToken) });
      assertForwarded(r);
      assert.equal(lastTarget(), `${forwarded}?q=1`, `${sent}: ${show(r)}`);
    }
  });

  test("paths outside the rule still pass with the plain token", async () => {
    for (const path of ["/administrator", "/other/admin/users", "/x/..%2Fadministrator"]) {
      assertForwarded(await tcpCall(scoped.url, path, { headers: bearer(plainToken) }));
    }
  });
});

describe("a required rule under a public default cannot be routed around", () => {
  for (const path of [...BYPASS_SHAPES, ...ENCODED_SHAPES, ...MORE_SHAPES]) {
    test(`${path}: no token gets 401`, async () => {
      const r = await notForwarded(origin, () => tcpCall(publicDefault.url, path));
      assertEdgeError(r, 401, "missing_token");
    });
  }

  test("public paths are still forwarded without a token, canonical", async () => {
    const r = await tcpCall(publicDefault.url, "//docs/./a");
    assertForwarded(r);
    assert.equal(lastTarget(), "/docs/a");
  });

  test("the metadata document is found at its canonical path", async () => {
    for (const path of ["/.well-known/oauth-protected-resource", "//.well-known/./oauth-protected-resource"]) {
      const r = await notForwarded(origin, () => tcpCall(publicDefault.url, path));
      assert.equal(r.status, 200, `${path}: ${show(r)}`);
      assert.equal(r.json?.resource, "https://api.example.test", path);
    }
  });

  test("HEAD meets the GET-only rule", async () => {
    for (const method of ["HEAD", "GET"]) {
      const r = await notForwarded(origin, () => tcpCall(publicDefault.url, "/reports/q3", { method }));
      assert.equal(r.status, 401, `${method}: ${show(r)}`);
    }
    // POST is not GET: the public default applies.
    assertForwarded(await tcpCall(publicDefault.url, "/reports/q3", { method: "POST", headers: { "content-length": "0" } }));
  });

  test("a method-override header meets the rule of the method it names", async () => {
    for (const name of ["X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"]) {
      const r = await notForwarded(origin, () =>
        tcpCall(publicDefault.url, "/reports/q3", { method: "POST", headers: { [name]: "get", "content-length": "0" } }),
      );
      assertEdgeError(r, 401, "missing_token");
    }
    // A repeated header arrives joined; a framework may take any part of it.
    const r = await notForwarded(origin, () =>
      tcpCall(publicDefault.url, "/reports/q3", { method: "POST", headers: { "X-HTTP-Method-Override": "PATCH, GET", "content-length": "0" } }),
    );
    assertEdgeError(r, 401, "missing_token");
  });
});

describe("CORS preflight", () => {
  const preflight = { origin: "https://app.example.test", "access-control-request-method": "DELETE" };

  test("a preflight is forwarded without a token", async () => {
    assertForwarded(await tcpCall(scoped.url, "/admin/users", { method: "OPTIONS", headers: preflight }));
  });

  test("a preflight carrying a method override is not one: it needs a token", async () => {
    const r = await notForwarded(origin, () =>
      tcpCall(scoped.url, "/admin/users", { method: "OPTIONS", headers: { ...preflight, "X-HTTP-Method-Override": "DELETE" } }),
    );
    assertEdgeError(r, 401, "missing_token");
  });
});

describe("ORIGIN with a base path", () => {
  for (const path of ["/..%2Fadmin", "/..%5Cadmin", "/..;/admin", "/v1/..%2F..%2Fadmin", "/%2e%2e%2Fadmin", "/..%252Fadmin"]) {
    test(`${path}: refused with 400, since an origin may read it outside /api`, async () => {
      const r = await notForwarded(origin, () => tcpCall(based.url, path, { headers: bearer(plainToken) }));
      assertEdgeError(r, 400, "invalid_request");
      assert.equal(r.headers.get("www-authenticate"), null, "not a token problem: no challenge");
    });
  }

  test("paths that stay inside the base path are forwarded under it", async () => {
    for (const [sent, forwarded] of [
      ["/v1/x", "/api/v1/x"],
      ["/../v1/x", "/api/v1/x"],
      ["//v1//x", "/api/v1/x"],
      ["/v1/..%2Fx", "/api/v1/..%2Fx"],
    ]) {
      assertForwarded(await tcpCall(based.url, sent, { headers: bearer(plainToken) }));
      assert.equal(lastTarget(), forwarded, sent);
    }
  });
});

describe("glob matching is linear", () => {
  test("a 4 KB path against /a/**/b/**/b/**/c is answered, not stuck", async () => {
    const path = `/a/${"b/".repeat(2000)}y`;
    // No token and no public rule matches: 401. A backtracking matcher spends minutes here,
    // and the socket's 15 s bound fails the test.
    const r = await notForwarded(origin, () => tcpCall(globbed.url, path));
    assertEdgeError(r, 401, "missing_token");
    // The worker is still responsive, and the glob still matches what it should.
    assertForwarded(await tcpCall(globbed.url, "/a/x/b/y/b/z/c"));
  });
});
