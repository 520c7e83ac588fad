// A failing JWKS endpoint (issue 3): slow past JWKS_TIMEOUT_MS, 5xx, 404, HTML,
// invalid JSON, JSON that is not a JWKS, 10 MB bodies (honest, chunked,
// close-delimited, lying Content-Length, gzip bomb) cut off while streaming, a
// redirect loop (not followed), a body that trickles past the timeout.
//
// Each case runs twice:
//   * with nothing cached: 503 + Retry-After, answered within the timeout + slack,
//     nothing forwarded;
//   * after a good first fetch, with JWKS_MIN_TTL_SECONDS=1 / JWKS_DEFAULT_TTL_SECONDS=1
//     so the gateway tries to refresh: the good cached key set keeps serving (200).
// Both times a `jwks_fetch_failed` log line names the cause; 503s are logged as
// `rejected` with a reason; no log line contains token text. Also: a JWKS with keys
// of unknown types among good ones (the good ones work).
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import {
  startOrigin, startJwksServer, startGateway, issuerItem, fixtureKey, freshKey, mint, sleep, waitFor, maxFetchesWithBackoff,
  call, assertForwarded, assertInvalidToken, assertUnavailable, notForwarded, show,
} from "./lib/index.mjs";

const TIMEOUT_MS = 500;
const SLACK_MS = 1000; // scheduling, workerd start-up of the subrequest, a loaded CI machine
const MB10 = 10 * 1024 * 1024;
const iss = (name) => `https://${name}.failing-jwks.test/`;

let origin, jwks, k, good;
const tokensUsed = [];
const closers = [];
const logArrays = []; // the log lines of every gateway started here

before(async () => {
  origin = await startOrigin();
  jwks = await startJwksServer();
  k = {};
  for (const n of ["rsa2048-a", "p256-a", "ed25519-a"]) k[n] = await fixtureKey(n);
  good = { json: { keys: [k["rsa2048-a"].jwk(), k["p256-a"].jwk()] } };
});
after(async () => {
  for (const c of closers.reverse()) await c();
  await jwks?.close();
  await origin?.close();
});

async function gateway(issuers, vars = {}) {
  const g = await startGateway({ issuers, origin, vars: { JWKS_TIMEOUT_MS: String(TIMEOUT_MS), RETRY_AFTER_SECONDS: "9", ...vars } });
  closers.push(() => g.close());
  logArrays.push(g.logs);
  return g;
}
async function tokenFor(name, key = k["rsa2048-a"], claims = {}) {
  const t = await mint(key, { sub: `user-${name}`, ...claims }, {}, { iss: iss(name) });
  tokensUsed.push(t);
  return t;
}
const jsonLines = (g) => g.logs.map((l) => { try { return JSON.parse(l); } catch { return null; } }).filter((x) => x && typeof x === "object");
/** Waits (bounded) for a JSON log line matching `pred`; returns it or undefined. */
async function logLine(g, pred, timeoutMs = 2000) {
  let hit;
  await waitFor(() => (hit = jsonLines(g).find(pred)), timeoutMs);
  return hit;
}

// --- 10 MB bodies, written with backpressure, recording how far the writer got ----------------

/** Stats per path: bytes the server managed to write, and whether the peer hung up first. */
const streams = new Map();
function streamStats(path) {
  if (!streams.has(path)) streams.set(path, []);
  const s = { written: 0, closedEarly: false, finished: false };
  streams.get(path).push(s);
  return s;
}

/**
 * A 10 MB body that starts like a JWKS (`{"keys":[` + spaces): 64 KiB every 5 ms, so the
 * whole body takes > 800 ms to send. `mode`: "honest" (Content-Length), "chunked",
 * "close" (no length, ends with the connection), "lie-small" (Content-Length: 50, then the rest),
 * "lie-big" (Content-Length 10 MB, then a small valid JWKS and silence).
 */
function bigBody(path, mode) {
  return {
    fn: async (req, res) => {
      const stats = streamStats(path);
      const sock = res.socket;
      if (!sock) return; // the gateway already hung up
      sock.on("close", () => {
        if (!stats.finished) stats.closedEarly = true;
      });
      const head = (lines) => sock.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n${lines.map((l) => `${l}\r\n`).join("")}\r\n`);
      if (mode === "lie-big") {
        head([`Content-Length: ${MB10}`]);
        sock.write(JSON.stringify(good.json));
        await sleep(3000);
        if (!sock.destroyed) sock.destroy();
        return;
      }
      if (mode === "honest") head([`Content-Length: ${MB10}`]);
      else if (mode === "chunked") head(["Transfer-Encoding: chunked"]);
      else if (mode === "close") head(["Connection: close"]);
      // Connection: close, so the runtime does not reuse a connection that still carries
      // the rest of the 10 MB (that would poison the next fetch to this host, not the gateway)
      else if (mode === "lie-small") head(["Content-Length: 50", "Connection: close"]);
      const chunk = Buffer.alloc(65536, 0x20);
      chunk.write('{"keys":[');
      const write = (buf) => (mode === "chunked" ? sock.write(`${buf.length.toString(16)}\r\n`) && sock.write(buf) && sock.write("\r\n") : sock.write(buf));
      for (let sent = 0; sent < MB10 && !sock.destroyed; sent += chunk.length) {
        if (!write(chunk)) await new Promise((r) => { sock.once("drain", r); sock.once("close", r); });
        if (sock.destroyed) break;
        stats.written += chunk.length;
        await sleep(5);
      }
      if (!sock.destroyed) {
        stats.finished = true;
        sock.end(mode === "chunked" ? "0\r\n\r\n" : undefined);
      }
    },
  };
}

// --- the cases ---------------------------------------------------------------------------------

const gzipBomb = zlib.gzipSync(Buffer.concat([Buffer.from('{"keys":['), Buffer.alloc(MB10, 0x20)]), { level: 9 }); // ~10 KB on the wire, 10 MB inflated
const CASES = [
  // [name, behaviour (function of the path), cause regex, extra checks]
  ["slow", () => ({ delayMs: 3000, ...good }), /timed out after 500 ms/],
  ["trickle", () => ({ fn: trickle }), /timed out after 500 ms/],
  ["s500", () => ({ status: 500, json: good.json }), /HTTP 500/],
  ["s502", () => ({ status: 502, body: "bad gateway" }), /HTTP 502/],
  ["s503", () => ({ status: 503, body: "maintenance", headers: { "retry-after": "3600" } }), /HTTP 503/],
  ["s404", () => ({ status: 404, body: "not found" }), /HTTP 404/],
  ["s204", () => ({ status: 204, body: "" }), /not streamable|not JSON/],
  ["html", () => ({ contentType: "text/html", body: "<!doctype html><html><body>Sign in</body></html>" }), /not JSON/],
  ["badjson", () => ({ contentType: "application/json", body: '{"keys": [{"kty": "RSA",' }), /not JSON/],
  ["notjwks", () => ({ json: { issuer: "x", jwks_uri: "y" } }), /no "keys" array/],
  ["keysobject", () => ({ json: { keys: { 0: k["rsa2048-a"].jwk() } } }), /no "keys" array/],
  ["arrayjson", () => ({ json: [k["rsa2048-a"].jwk()] }), /no "keys" array/],
  ["junkonly", () => ({ json: { keys: [{ kty: "oct", k: "c2VjcmV0" }, "x", 5, null] } }), /no usable signing key/],
  ["big-honest", (p) => bigBody(p, "honest"), /too large/],
  ["big-chunked", (p) => bigBody(p, "chunked"), /too large/],
  ["big-close", (p) => bigBody(p, "close"), /too large/],
  ["lie-small", (p) => bigBody(p, "lie-small"), /not JSON|fetch failed/],
  ["lie-big", (p) => bigBody(p, "lie-big"), /too large/],
  ["gzip-bomb", () => ({ body: gzipBomb, contentType: "application/json", headers: { "content-encoding": "gzip" } }), /too large/],
  ["redirect-loop", (p) => ({ status: 302, headers: { location: p }, body: "" }), /HTTP 302/],
  ["redirect-good", () => ({ status: 302, headers: { location: "/redirect-target.json" }, body: "" }), /HTTP 302/],
];
const STREAMED = new Set(["big-honest", "big-chunked", "big-close", "lie-small"]);

/** Headers at once, then one byte of a valid JWKS every 100 ms: only a total deadline stops it. */
async function trickle(req, res) {
  const body = JSON.stringify(good.json);
  res.writeHead(200, { "content-type": "application/json", "content-length": String(body.length) });
  for (let i = 0; i < body.length && !res.socket?.destroyed; i++) {
    res.write(body[i]);
    await sleep(100);
  }
  res.end();
}

const pathOf = (name) => `/${name}.json`;

// -----------------------------------------------------------------------------------------------

describe("nothing cached: each failure -> 503 + Retry-After within the timeout, logged with its cause", () => {
  let g;
  before(async () => {
    for (const [name, behaviour] of CASES) jwks.set(pathOf(name), behaviour(pathOf(name)));
    jwks.set("/redirect-target.json", good);
    g = await gateway(CASES.map(([name]) => issuerItem(iss(name), `${jwks.url}${pathOf(name)}`)));
  });
  for (const [name, , cause] of CASES) {
    test(`${name} -> 503`, async () => {
      const hits = jwks.hits(pathOf(name));
      const token = await tokenFor(name);
      const r = await notForwarded(origin, () => call(g.url, "/x", { token }));
      assertUnavailable(r, "9");
      assert.ok(r.ms < TIMEOUT_MS + SLACK_MS, `answered after ${r.ms} ms (JWKS_TIMEOUT_MS=${TIMEOUT_MS})`);
      if (name === "slow" || name === "trickle") assert.ok(r.ms >= TIMEOUT_MS - 50, `gave up after ${r.ms} ms, before the timeout`);
      assert.equal(jwks.hits(pathOf(name)) - hits, 1, "one fetch per attempt (a redirect is not followed)");
      const failed = await logLine(g, (x) => x.event === "jwks_fetch_failed" && x.iss === iss(name));
      assert.ok(failed, `no jwks_fetch_failed line for ${name}: ${g.logs.slice(-4).join(" | ")}`);
      assert.match(failed.cause, cause);
      const rejected = await logLine(g, (x) => x.event === "rejected" && x.iss === iss(name));
      assert.ok(rejected, `no rejected line for ${name}`);
      assert.equal(rejected.status, 503);
      assert.match(rejected.reason, /^jwks_unavailable: /);
      assert.match(rejected.reason, cause);
      assert.equal(rejected.kid, "rsa2048-a");
    });
  }
  test("redirects were not followed: the redirect target was never fetched", () => {
    assert.equal(jwks.hits("/redirect-target.json"), 0);
  });
  test("10 MB bodies were cut off while streaming, not buffered", async () => assertCutOff(pathOf));
});

async function assertCutOff(pathFor) {
  for (const name of STREAMED) {
    const all = streams.get(pathFor(name)) ?? [];
    assert.ok(all.length >= 1, `${name}: not fetched`);
    const ok = await waitFor(() => all.every((s) => s.closedEarly), 3000);
    assert.ok(ok, `${name}: the gateway did not hang up early: ${JSON.stringify(all)}`);
    for (const s of all) assert.ok(s.written < MB10 / 2, `${name}: ${s.written} bytes written before the gateway hung up`);
  }
}

describe("after a good first fetch (TTL 1 s): the good key set keeps serving while refreshes fail", () => {
  let g;
  before(async () => {
    for (const [name] of CASES) jwks.set(`/stale-${name}.json`, good);
    g = await gateway(
      CASES.map(([name]) => issuerItem(iss(`stale-${name}`), `${jwks.url}/stale-${name}.json`)),
      { JWKS_MIN_TTL_SECONDS: "1", JWKS_DEFAULT_TTL_SECONDS: "1", JWKS_REFETCH_COOLDOWN_SECONDS: "1" },
    );
    for (const [name] of CASES) assertForwarded(await call(g.url, "/warm", { token: await tokenFor(`stale-${name}`) }), "/warm");
    for (const [name, behaviour] of CASES) jwks.set(`/stale-${name}.json`, behaviour(`/stale-${name}.json`));
    await sleep(1100); // past the 1 s freshness
  });
  for (const [name, , cause] of CASES) {
    test(`${name}: 200 from the stale key set, refresh attempted and logged`, async () => {
      const p = `/stale-${name}.json`;
      const hits = jwks.hits(p);
      const r = await call(g.url, `/stale-${name}`, { token: await tokenFor(`stale-${name}`, k["p256-a"]) });
      assertForwarded(r, `/stale-${name}`);
      assert.ok(r.ms < TIMEOUT_MS + SLACK_MS, `answered after ${r.ms} ms`);
      assert.ok(await waitFor(() => jwks.hits(p) > hits, 2000), "no refresh attempted");
      const failed = await logLine(g, (x) => x.event === "jwks_fetch_failed" && x.iss === iss(`stale-${name}`));
      assert.ok(failed, `no jwks_fetch_failed line for ${name}: ${g.logs.slice(-4).join(" | ")}`);
      assert.match(failed.cause, cause);
    });
  }
  test("a second round a second later: still served (the bad answers replaced nothing)", async () => {
    await sleep(1100);
    for (const [name] of CASES) {
      const r = await call(g.url, "/again", { token: await tokenFor(`stale-${name}`, k["rsa2048-a"], { round: 2 }) });
      assert.equal(r.status, 200, `${name}: ${show(r)}`);
    }
  });
  test("the 10 MB refresh bodies were cut off while streaming too", async () => assertCutOff((name) => `/stale-${name}.json`));
  test("an unknown kid during the outage is 401 (not 503, not forwarded)", async () => {
    const ghost = await freshKey("ghost", "RS256");
    for (const name of ["s500", "slow", "big-chunked"]) {
      const t = await mint(ghost, {}, {}, { iss: iss(`stale-${name}`) });
      tokensUsed.push(t);
      assertInvalidToken(await notForwarded(origin, () => call(g.url, "/ghost", { token: t })));
    }
  });
  test("after recovery the endpoint is used again (a new key is picked up)", async () => {
    const fresh = await freshKey("recovered", "ES256");
    jwks.set("/stale-s500.json", { json: { keys: [k["rsa2048-a"].jwk(), fresh.jwk()] } });
    await sleep(1100);
    const t = await mint(fresh, {}, {}, { iss: iss("stale-s500") });
    tokensUsed.push(t);
    let r;
    for (let i = 0; i < 20; i++) {
      r = await call(g.url, "/recovered", { token: t });
      if (r.status === 200) break;
      await sleep(150);
    }
    assertForwarded(r, "/recovered");
  });
});

describe("nothing cached and the endpoint failing: how often is it fetched?", () => {
  // Concurrent requests share one fetch, and a failed fetch starts a back-off per issuer
  // (1 s, doubling, up to JWKS_REFETCH_COOLDOWN_SECONDS) during which requests get 503
  // without any fetch: unsigned tokens naming the issuer cannot make the gateway call a
  // failing issuer once per request.
  test("20 requests (sequential and parallel) while the endpoint answers 503 -> a few fetches (the back-off), not 20", async () => {
    const s = await startJwksServer();
    closers.push(() => s.close());
    s.set("/down.json", { status: 503, body: "down" });
    s.set("/slowdown.json", { status: 503, body: "down", delayMs: 2000 });
    const g = await gateway([issuerItem(iss("down"), `${s.url}/down.json`), issuerItem(iss("slowdown"), `${s.url}/slowdown.json`)]);
    const t = await tokenFor("down");
    const t0 = Date.now();
    for (let i = 0; i < 20; i++) assertUnavailable(await notForwarded(origin, () => call(g.url, "/down", { token: t })), "9");
    const ms = Date.now() - t0;
    const t2 = await tokenFor("slowdown");
    const rs = await notForwarded(origin, () => Promise.all(Array.from({ length: 20 }, () => call(g.url, "/slowdown", { token: t2 }))));
    for (const r of rs) assertUnavailable(r, "9");
    assert.ok(s.hits("/down.json") >= 1, "the endpoint was tried");
    assert.ok(s.hits("/down.json") <= maxFetchesWithBackoff(ms), `${s.hits("/down.json")} fetches for 20 sequential requests in ${ms} ms`);
    assert.ok(s.hits("/slowdown.json") <= 2, `${s.hits("/slowdown.json")} concurrent fetches for 20 parallel requests`);
  });
});

describe("a JWKS with keys of unknown or unusable types among good ones", () => {
  let g, s;
  before(async () => {
    s = await startJwksServer();
    closers.push(() => s.close());
    const other = await freshKey("p384", "ES384");
    const junk = [
      { kty: "oct", kid: "oct", k: "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0", alg: "HS256" },
      { kty: "XYZ", kid: "xyz" },
      { kty: "EC", kid: "p384", crv: "P-384", x: other.jwkPublic.x, y: other.jwkPublic.y },
      { kty: "EC", kid: "k1", crv: "secp256k1", x: k["p256-a"].jwkPublic.x, y: k["p256-a"].jwkPublic.y },
      { kty: "OKP", kid: "x25519", crv: "X25519", x: k["ed25519-a"].jwkPublic.x },
      { kty: "OKP", kid: "ed448", crv: "Ed448", x: "AAAA" },
      { kty: "RSA", kid: "rsa-no-n", e: "AQAB" },
      { kty: "RSA", kid: "rsa-bad-n", n: "!!!", e: "AQAB" },
      { ...k["p256-a"].jwk(), kid: "enc-only", use: "enc" },
      { ...k["p256-a"].jwk(), kid: "encrypt-ops", key_ops: ["encrypt"] },
      { ...k["rsa2048-a"].jwk(), kid: "oaep", alg: "RSA-OAEP" },
      { kty: 5, kid: "kty-number" },
      { kid: "no-kty" },
      "a string",
      42,
      null,
      [],
      {},
    ];
    s.set("/mixed.json", { json: { keys: [...junk.slice(0, 9), k["rsa2048-a"].jwk(), ...junk.slice(9), k["p256-a"].jwk(), k["ed25519-a"].jwk()] } });
    g = await gateway([issuerItem(iss("mixed"), `${s.url}/mixed.json`)], { JWKS_MAX_KEYS: "100" });
  });
  test("RS256, PS256, ES256 and EdDSA with the good keys -> 200 (with and without kid where unambiguous)", async () => {
    for (const [key, header] of [[k["rsa2048-a"], {}], [k["rsa2048-a"], { alg: "PS256" }], [k["p256-a"], {}], [k["ed25519-a"], {}], [k["ed25519-a"], { kid: undefined }], [k["p256-a"], { kid: undefined }]]) {
      const t = await mint(key, {}, header, { iss: iss("mixed") });
      tokensUsed.push(t);
      assertForwarded(await call(g.url, "/mixed", { token: t }), "/mixed");
    }
  });
  test("tokens naming the junk keys' kids -> 401, not forwarded", async () => {
    for (const [kid, key, alg] of [["oct", k["rsa2048-a"], "RS256"], ["p384", k["p256-a"], "ES256"], ["k1", k["p256-a"], "ES256"], ["x25519", k["ed25519-a"], "EdDSA"], ["enc-only", k["p256-a"], "ES256"], ["encrypt-ops", k["p256-a"], "ES256"], ["oaep", k["rsa2048-a"], "RS256"], ["rsa-no-n", k["rsa2048-a"], "RS256"]]) {
      const t = await mint(key, {}, { kid, alg }, { iss: iss("mixed") });
      tokensUsed.push(t);
      assertInvalidToken(await notForwarded(origin, () => call(g.url, "/junk", { token: t })));
    }
  });
});

describe("logging", () => {
  test("no log line of any gateway contains token text", async () => {
    await sleep(200);
    assert.ok(tokensUsed.length > 40);
    const all = logArrays.flat();
    assert.ok(all.length > 0);
    for (const t of tokensUsed) {
      const [h, p, s] = t.split(".");
      for (const line of all) {
        assert.ok(!line.includes(p) && !line.includes(s) && !line.includes(`${h}.`), `token text in a log line: ${line.slice(0, 200)}`);
      }
    }
  });
});

