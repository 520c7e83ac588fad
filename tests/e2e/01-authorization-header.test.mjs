// Authorization header handling: missing token, other schemes, empty Bearer,
// scheme case, several tokens / several headers, AUTH_REALM, MAX_TOKEN_BYTES.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startOrigin, startJwksServer, startGateway, issuerItem, readJson, fixtureKey, mint, FIX_ISS,
  call, rawCall, assertMissingToken, assertInvalidRequest, assertInvalidToken, assertForwarded, notForwarded,
} from "./lib/index.mjs";

let origin, jwks, gw, gwRealm, gwBig, rsa, good;

before(async () => {
  origin = await startOrigin();
  jwks = await startJwksServer();
  jwks.set("/main.json", { json: readJson("jwks/main.json") });
  const issuers = [issuerItem(FIX_ISS, `${jwks.url}/main.json`)];
  gw = await startGateway({ issuers, origin });
  gwRealm = await startGateway({ issuers, origin, vars: { AUTH_REALM: "orders-api" } });
  gwBig = await startGateway({ issuers, origin, vars: { MAX_TOKEN_BYTES: "16384" } });
  rsa = await fixtureKey("rsa2048-a");
  good = await mint(rsa);
});
after(async () => {
  await gw?.close();
  await gwRealm?.close();
  await gwBig?.close();
  await origin?.close();
  await jwks?.close();
});

describe("missing token -> 401 Bearer realm, no error attribute", () => {
  test("no Authorization header", async () => {
    const r = await notForwarded(origin, () => call(gw.url, "/p"));
    assertMissingToken(r);
  });
  test("Basic scheme", async () => {
    const r = await notForwarded(origin, () => call(gw.url, "/p", { auth: "Basic dXNlcjpwYXNz" }));
    assertMissingToken(r);
  });
  test("another scheme carrying a real JWT (Token <jwt>)", async () => {
    const r = await notForwarded(origin, () => call(gw.url, "/p", { auth: `Token ${good}` }));
    assertMissingToken(r);
  });
  test('"Bearer " with nothing after it', async () => {
    const r = await notForwarded(origin, () => rawCall(gw.url, "/p", { authorization: "Bearer " }));
    assertMissingToken(r);
  });
  test('"Bearer" alone', async () => {
    const r = await notForwarded(origin, () => call(gw.url, "/p", { auth: "Bearer" }));
    assertMissingToken(r);
  });
  test("empty Authorization header", async () => {
    const r = await notForwarded(origin, () => rawCall(gw.url, "/p", { authorization: "" }));
    assertMissingToken(r);
  });
  test("AUTH_REALM var changes the realm", async () => {
    const r = await notForwarded(origin, () => call(gwRealm.url, "/p"));
    assertMissingToken(r, "orders-api");
    const r2 = await notForwarded(origin, () => call(gwRealm.url, "/p", { token: "not.a.token" }));
    assertInvalidToken(r2, "orders-api");
  });
});

describe("Bearer scheme is case-insensitive", () => {
  for (const scheme of ["Bearer", "bearer", "BEARER", "bEaReR"]) {
    test(`"${scheme} <jwt>" -> 200`, async () => {
      const before = origin.count();
      const r = await call(gw.url, "/case", { auth: `${scheme} ${good}` });
      assertForwarded(r, "/case");
      assert.equal(origin.count(), before + 1);
    });
  }
});

describe("several tokens -> 400 invalid_request", () => {
  test("two tokens separated by a space", async () => {
    const r = await notForwarded(origin, () => call(gw.url, "/p", { auth: `Bearer ${good} ${good}` }));
    assertInvalidRequest(r);
  });
  test("two Bearer credentials joined by a comma in one header", async () => {
    const r = await notForwarded(origin, () => call(gw.url, "/p", { auth: `Bearer ${good}, Bearer ${good}` }));
    assertInvalidRequest(r);
  });
  test("two Authorization header lines", async () => {
    const r = await notForwarded(origin, () => rawCall(gw.url, "/p", { authorization: [`Bearer ${good}`, `Bearer ${good}`] }));
    assertInvalidRequest(r);
  });
  test("an invalid token next to a valid one is still 400, not forwarded", async () => {
    const r = await notForwarded(origin, () => call(gw.url, "/p", { auth: `Bearer ${good} garbage` }));
    assertInvalidRequest(r);
  });
});

describe("MAX_TOKEN_BYTES", () => {
  test("a validly signed token longer than 8192 bytes -> 401 with the default", async () => {
    const big = await mint(rsa, { pad: "x".repeat(9000) });
    assert.ok(big.length > 8192 && big.length < 16384, `token length ${big.length}`);
    const r = await notForwarded(origin, () => call(gw.url, "/p", { token: big }));
    assertInvalidToken(r);
    // Control: the same token is fine when the limit is raised.
    const r2 = await call(gwBig.url, "/p", { token: big });
    assertForwarded(r2, "/p");
  });
  test("a token just under the limit is accepted", async () => {
    // ~8000 bytes: under the 8192 default.
    let pad = 5500;
    let t = await mint(rsa, { pad: "y".repeat(pad) });
    for (let i = 0; i < 20 && t.length > 8150; i++) t = await mint(rsa, { pad: "y".repeat((pad -= 50)) });
    assert.ok(t.length <= 8192 && t.length > 7000, `token length ${t.length}`);
    assertForwarded(await call(gw.url, "/p", { token: t }), "/p");
  });
});
