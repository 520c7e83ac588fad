// Route mode (ORIGIN unset): an accepted request goes on to its own URL.
// The request reaches the worker's socket with a Host header naming the
// loopback origin, which is how a zone route delivers it: request.url is
// built from Host, so the worker's subrequest lands on the origin.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startOrigin, startJwksServer, startGateway, issuerItem, readJson, fixtureKey, mint, FIX_ISS,
  rawCall, assertMissingToken, assertInvalidToken,
} from "./lib/index.mjs";

let origin, jwks, gw, rsa;
before(async () => {
  origin = await startOrigin();
  jwks = await startJwksServer();
  jwks.set("/main.json", { json: readJson("jwks/main.json") });
  gw = await startGateway({ issuers: [issuerItem(FIX_ISS, `${jwks.url}/main.json`)] }); // no ORIGIN
  rsa = await fixtureKey("rsa2048-a");
});
after(async () => {
  await gw?.close();
  await origin?.close();
  await jwks?.close();
});

const host = () => `127.0.0.1:${origin.port}`;

test("valid token: forwarded to the request's own URL with identity headers", async () => {
  const token = await mint(rsa, { sub: "route-user" });
  const before = origin.count();
  const r = await rawCall(gw.url, "/route/path?q=1", { host: host(), authorization: `Bearer ${token}` });
  assert.equal(r.status, 200, r.text);
  assert.equal(origin.count(), before + 1);
  const rec = origin.last();
  assert.equal(rec.path, "/route/path");
  assert.equal(rec.query, "?q=1");
  assert.equal(rec.headers["x-auth-subject"], "route-user");
  assert.equal(rec.headers["x-auth-issuer"], FIX_ISS);
});

test("missing / invalid token in route mode: answered at the edge", async () => {
  const before = origin.count();
  assertMissingToken(await rawCall(gw.url, "/route", { host: host() }));
  assertInvalidToken(await rawCall(gw.url, "/route", { host: host(), authorization: "Bearer a.b.c" }));
  assert.equal(origin.count(), before);
});

test("Miniflare dispatchFetch with the origin URL behaves the same", async () => {
  const token = await mint(rsa, { sub: "dispatch-user" });
  const before = origin.count();
  const res = await gw.mf.dispatchFetch(`http://${host()}/dispatched?x=y`, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  assert.equal(res.status, 200);
  assert.equal(origin.count(), before + 1);
  assert.equal(origin.last().path, "/dispatched");
  assert.equal(origin.last().headers["x-auth-subject"], "dispatch-user");
});

test("ORIGIN set to an empty string is route mode too", async () => {
  const g = await startGateway({ issuers: [issuerItem(FIX_ISS, `${jwks.url}/main.json`)], vars: { ORIGIN: "" } });
  try {
    const token = await mint(rsa, { sub: "empty-origin" });
    const before = origin.count();
    const r = await rawCall(g.url, "/empty-origin?z=9", { host: host(), authorization: `Bearer ${token}` });
    assert.equal(r.status, 200, r.text);
    assert.equal(origin.count(), before + 1);
    assert.equal(origin.last().path, "/empty-origin");
    assert.equal(origin.last().query, "?z=9");
    assert.equal(origin.last().headers["x-auth-subject"], "empty-origin");
  } finally {
    await g.close();
  }
});
