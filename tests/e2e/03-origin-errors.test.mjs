// Origin unreachable -> 502 JSON bad_gateway.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startJwksServer, startGateway, issuerItem, readJson, fixtureKey, mint, FIX_ISS, closedPort,
  call, assertEdgeError, assertMissingToken,
} from "./lib/index.mjs";

let jwks, gw;
before(async () => {
  jwks = await startJwksServer();
  jwks.set("/main.json", { json: readJson("jwks/main.json") });
  gw = await startGateway({ issuers: [issuerItem(FIX_ISS, `${jwks.url}/main.json`)], origin: `http://127.0.0.1:${await closedPort()}` });
});
after(async () => {
  await gw?.close();
  await jwks?.close();
});

test("valid token, origin refuses connections -> 502 bad_gateway JSON", async () => {
  const token = await mint(await fixtureKey("rsa2048-a"));
  const r = await call(gw.url, "/x", { token });
  assertEdgeError(r, 502, "bad_gateway");
  assert.equal(r.headers.get("www-authenticate"), null);
});

test("no token with origin down is still 401 missing_token (checked before forwarding)", async () => {
  assertMissingToken(await call(gw.url, "/x"));
});
