// Metrics (README "Metrics"): with a METRICS binding (Workers Analytics Engine), one data point
// per request: outcome, reason, issuer, algorithm, verified-token cache hit or miss, and
// where the keys came from (memory, KV, network). Miniflare's own local Analytics Engine
// drops every point, so the points are read from a stand-in with the same writeDataPoint,
// built by workerd as a wrapped binding in the gateway's isolate (startGateway's
// metrics: "recorder"); Miniflare's simulator is used too, to show a real local binding
// changes nothing else. Both paths write: the first request of an isolate (keys fetched, the
// async Rust path) and the ones after it (the JS entry, from the verdict). Tokens are minted
// by jose.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startFixtureIssuer, startGateway, mint, FIX_ISS,
  call, assertForwarded, assertInvalidToken, assertMissingToken, notForwarded, waitFor, tempKvDir,
} from "./lib/index.mjs";

let fixture, origin, rsa, kvDir, issuers;
const started = [];

before(async () => {
  fixture = await startFixtureIssuer();
  ({ origin, rsa, issuers } = fixture);
  kvDir = tempKvDir();
});
after(async () => {
  for (const g of started.reverse()) await g.close();
  await fixture?.close();
  kvDir?.cleanup();
});

async function gateway(opts) {
  const g = await startGateway({ issuers, origin, kvPersist: kvDir.dir, ...opts });
  started.push(g);
  return g;
}

/** The points `g` received after the first `since`, once there are `count` of them. */
async function pointsAfter(g, since, count) {
  await waitFor(() => g.dataPoints().length >= since + count, 3000);
  return g.dataPoints().slice(since);
}

const point = (blobs, status = 0) => ({
  indexes: [blobs[2] || "-"],
  blobs,
  doubles: [status],
});

test("one data point per request, from both paths, naming outcome, reason, issuer, alg, cache and key source", async () => {
  const g = await gateway({ metrics: "recorder" });
  const t1 = await mint(rsa, { sub: "m-1" });
  const t2 = await mint(rsa, { sub: "m-2" });
  // One signature character changed, well inside the segment (so it stays canonical base64url).
  const at = t2.lastIndexOf(".") + 10;
  const tampered = t2.slice(0, at) + (t2[at] === "A" ? "B" : "A") + t2.slice(at + 1);

  assertForwarded(await call(g.url, "/a", { token: t1 }), "/a"); // keys from the issuer
  assertForwarded(await call(g.url, "/a", { token: t1 }), "/a"); // cached
  assertForwarded(await call(g.url, "/a", { token: t2 }), "/a"); // keys in memory
  for (let i = 0; i < 2; i++) {
    const r = await notForwarded(origin, () => call(g.url, "/a", { token: tampered }));
    assertInvalidToken(r);
  }
  assertMissingToken(await notForwarded(origin, () => call(g.url, "/a")));

  const points = await pointsAfter(g, 0, 6);
  assert.deepEqual(points, [
    point(["forwarded", "ok", FIX_ISS, "RS256", "miss", "network"]),
    point(["forwarded", "ok", FIX_ISS, "RS256", "hit", ""]),
    point(["forwarded", "ok", FIX_ISS, "RS256", "miss", "memory"]),
    point(["rejected", "bad_signature", FIX_ISS, "RS256", "miss", "memory"], 401),
    point(["rejected", "bad_signature", FIX_ISS, "RS256", "hit", ""], 401),
    point(["rejected", "missing_token", "", "", "", ""], 401),
  ], JSON.stringify(points));
  // The token itself is in no point, nor in anything the binding received.
  assert.ok(!JSON.stringify(points).includes(t1.split(".")[2]));
});

test("an isolate that finds the keys in KV says so", async () => {
  // The gateway above stored the issuer's keys in the shared KV directory after its fetch.
  const first = started[0];
  assert.ok(await waitFor(async () => (await (await first.kv()).list()).keys.length > 0, 5000), "the keys reached KV");
  const g = await gateway({ metrics: "recorder" });
  const t = await mint(rsa, { sub: "m-kv" });
  assertForwarded(await call(g.url, "/b", { token: t }), "/b");
  assert.deepEqual(await pointsAfter(g, 0, 1), [point(["forwarded", "ok", FIX_ISS, "RS256", "miss", "kv"])]);
});

test("an unknown issuer is not named: only configured issuers become an index or a blob", async () => {
  const g = await gateway({ metrics: "recorder" });
  const stranger = await mint(rsa, { iss: "https://attacker.example/", sub: "x" });
  assertInvalidToken(await notForwarded(origin, () => call(g.url, "/c", { token: stranger })));
  assert.deepEqual(await pointsAfter(g, 0, 1), [point(["rejected", "unknown_issuer", "", "", "", ""], 401)]);
});

test("Miniflare's own Analytics Engine binding: requests are answered as without it, nothing fails", async () => {
  const g = await gateway({ metrics: "local" });
  const t = await mint(rsa, { sub: "m-local" });
  assertForwarded(await call(g.url, "/d", { token: t }), "/d");
  assertForwarded(await call(g.url, "/d", { token: t }), "/d");
  assertMissingToken(await notForwarded(origin, () => call(g.url, "/d")));
  assert.ok(!g.logs.some((l) => l.includes("metrics_write_failed")), g.logs.join("\n"));
});
