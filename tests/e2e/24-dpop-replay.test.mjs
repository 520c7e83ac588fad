// Fleet-wide DPoP replay detection (README "DPoP replay across the fleet"): gateway
// instances in their own isolates, bound to one DPOP_REPLAY Durable Object namespace (SQLite
// storage, run by Miniflare's workerd), refuse a proof another instance accepted; rows expire
// after the proof window and a 60 s margin (the object's alarm deletes them), and a jti
// reused after its window is a new proof; a ledger that throws or answers
// too late refuses DPoP requests by default, or leaves them to the isolate with
// DPOP_REPLAY_FALLBACK=isolate. Every instance serves one Host, as a fleet's isolates do, so a
// proof's htu names them all. Tokens and proofs are minted by jose.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { SignJWT, generateKeyPair, exportJWK, calculateJwkThumbprint } from "jose";
import { startFixtureIssuer, startFleet, mint, tcpCall, assertForwarded, tempKvDir, waitFor, alignToSecond, sleep } from "./lib/index.mjs";

const HOST = "api.fleet.test";
const HTU = `http://${HOST}/orders`;

let fixture, client;

async function clientKey() {
  const pair = await generateKeyPair("ES256", { extractable: true });
  const jwk = await exportJWK(pair.publicKey);
  return { key: pair.privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) };
}

before(async () => {
  fixture = await startFixtureIssuer();
  client = await clientKey();
});
after(async () => {
  await fixture?.close();
});

const boundToken = (c = client) => mint(fixture.rsa, { cnf: { jkt: c.jkt } });
const ath = (token) => crypto.createHash("sha256").update(token).digest("base64url");
const proof = (token, { jti = crypto.randomUUID(), c = client, iat = Math.floor(Date.now() / 1000) } = {}) =>
  new SignJWT({ htm: "GET", htu: HTU, iat, jti, ath: ath(token) })
    .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk: c.jwk })
    .sign(c.key);
const send = (url, token, dpop) =>
  tcpCall(url, "/orders", { host: HOST, headers: { authorization: `DPoP ${token}`, dpop } });

function assertRefused(r, description) {
  assert.equal(r.status, 401, r.text);
  assert.equal(r.json?.error, "invalid_dpop_proof", r.text);
  assert.equal(r.json?.error_description, description, r.text);
  assert.match(r.headers.get("www-authenticate") ?? "", /^DPoP error="invalid_dpop_proof"/);
}

/** Runs `sql` on every object's SQLite file under `dir` (workerd's, read-only): one output each. */
function ledgerQuery(dir, sql) {
  const files = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      // One file per object, named by its id (metadata.sqlite is workerd's own).
      else if (/^[0-9a-f]{64}\.sqlite$/.test(e.name)) files.push(join(d, e.name));
    }
  };
  walk(dir);
  return files.map((f) => execFileSync("sqlite3", ["-readonly", f, sql], { encoding: "utf8" }).trim());
}

/** Rows the ledger's objects hold, and how many objects hold any table. */
function ledgerRows(dir) {
  const counts = ledgerQuery(dir, "SELECT count(*) FROM proofs").map(Number);
  return { files: counts.length, rows: counts.reduce((a, b) => a + b, 0) };
}

/** A describe's fleet of two sharing one namespace, its objects' files in a temp directory. */
function sharedFleet(vars = {}) {
  const shared = {};
  before(async () => {
    shared.persist = tempKvDir();
    shared.fleet = await startFleet({ issuers: fixture.issuers, origin: fixture.origin, durableObjectsPersist: shared.persist.dir, vars });
  });
  after(async () => {
    await shared.fleet?.close();
    shared.persist?.cleanup();
  });
  return shared;
}

describe("two instances sharing one DPOP_REPLAY namespace", () => {
  const shared = sharedFleet();

  test("a proof accepted by one instance is refused by the other, and by itself", async () => {
    const [a, b] = shared.fleet.urls;
    const token = await boundToken();
    const p = await proof(token);
    const before = fixture.origin.count();
    assertForwarded(await send(a, token, p), "/orders");
    assertRefused(await send(b, token, p), "DPoP proof replayed");
    assertRefused(await send(a, token, p), "DPoP proof replayed");
    assert.equal(fixture.origin.count(), before + 1, "the origin saw the proof once");
    assert.ok(shared.fleet.logs.some((l) => l.includes('"reason":"dpop_replayed"')), shared.fleet.logs.join("\n"));
  });

  test("proofs spread over the shards, each accepted once wherever it lands first", async () => {
    const token = await boundToken();
    for (let i = 0; i < 24; i++) {
      const p = await proof(token);
      const [first, second] = i % 2 ? shared.fleet.urls : [...shared.fleet.urls].reverse();
      assertForwarded(await send(first, token, p), "/orders");
      assertRefused(await send(second, token, p), "DPoP proof replayed");
    }
    const held = ledgerRows(shared.persist.dir);
    assert.ok(held.files >= 8, `24 random keys over 16 shards reach more than 8 objects: ${JSON.stringify(held)}`);
  });

  test("the same jti from another client key is another proof", async () => {
    const other = await clientKey();
    const jti = `shared-${crypto.randomUUID()}`;
    const [a, b] = shared.fleet.urls;
    const mine = await boundToken();
    const theirs = await boundToken(other);
    assertForwarded(await send(a, mine, await proof(mine, { jti })), "/orders");
    assertForwarded(await send(b, theirs, await proof(theirs, { jti, c: other })), "/orders");
  });
});

describe("rows and the proof window (DPOP_MAX_AGE_SECONDS=2, no leeway)", () => {
  const shared = sharedFleet({ DPOP_MAX_AGE_SECONDS: "2", LEEWAY_SECONDS: "0" });

  test("a jti reused after its window is a new proof; the alarm deletes the row after the window and a 60 s margin", async () => {
    const [a, b] = shared.fleet.urls;
    const token = await boundToken();
    const jti = `reused-${crypto.randomUUID()}`;
    await alignToSecond();
    const iat1 = Math.floor(Date.now() / 1000);
    assertForwarded(await send(a, token, await proof(token, { jti, iat: iat1 })), "/orders");
    // One row, and the alarm noted for the first millisecond after the window (iat + 2) and
    // the margin.
    assert.deepEqual(ledgerRows(shared.persist.dir).rows, 1);
    assert.deepEqual(ledgerQuery(shared.persist.dir, "SELECT at FROM alarm").filter(Boolean), [String((iat1 + 2 + 60 + 1) * 1000)]);

    // Past the first window by the gateways' clock: the same key in a new proof is first
    // again (the row is still held, within the margin, and updated in place).
    await sleep(Math.max(0, (iat1 + 3) * 1000 + 50 - Date.now()));
    const iat2 = Math.floor(Date.now() / 1000);
    const second = await proof(token, { jti, iat: iat2 });
    assertForwarded(await send(b, token, second), "/orders");
    assert.equal(ledgerRows(shared.persist.dir).rows, 1);
    // And that proof is now used: refused at the instance that saw the first one.
    assertRefused(await send(a, token, second), "DPoP proof replayed");

    // The alarm runs at iat1 + 63 s, keeps the second row (its window ends at iat2 + 2),
    // and runs again for it at iat2 + 63 s.
    await sleep(Math.max(0, (iat2 + 2 + 60 + 1) * 1000 - Date.now()));
    assert.ok(await waitFor(() => ledgerRows(shared.persist.dir).rows === 0, 10_000), `rows left: ${JSON.stringify(ledgerRows(shared.persist.dir))}`);
    assert.ok(!shared.fleet.logs.some((l) => /uncaught|exception/i.test(l)), shared.fleet.logs.join("\n"));
  });
});

describe("a ledger that gives no answer", () => {
  test("throws: refused by default (nothing forwarded), left to the isolate with fallback=isolate", async () => {
    const fleet = await startFleet({
      issuers: fixture.issuers,
      origin: fixture.origin,
      ledger: "throws",
      instanceVars: [{}, { DPOP_REPLAY_FALLBACK: "isolate" }],
    });
    try {
      const [closed, isolate] = fleet.urls;
      const token = await boundToken();
      const before = fixture.origin.count();
      assertRefused(await send(closed, token, await proof(token)), "DPoP replay check unavailable");
      assert.equal(fixture.origin.count(), before);
      assert.ok(fleet.logs.some((l) => l.includes('"reason":"dpop_replay_unavailable: DPOP_REPLAY:')), fleet.logs.join("\n"));

      const p = await proof(token);
      assertForwarded(await send(isolate, token, p), "/orders");
      assert.ok(fleet.logs.some((l) => l.includes('"event":"dpop_replay_unavailable"') && l.includes('"fallback":"isolate"')), fleet.logs.join("\n"));
      // The isolate alone still catches a replay to itself.
      assertRefused(await send(isolate, token, p), "DPoP proof replayed");
      // Bearer tokens are not affected by the ledger at all.
      const bearer = await mint(fixture.rsa);
      assertForwarded(await tcpCall(closed, "/orders", { host: HOST, headers: { authorization: `Bearer ${bearer}` } }), "/orders");
    } finally {
      await fleet.close();
    }
  });

  test("answers too late: refused once DPOP_REPLAY_TIMEOUT_MS has passed", async () => {
    const fleet = await startFleet({
      issuers: fixture.issuers,
      origin: fixture.origin,
      ledger: "slow",
      instances: 1,
      vars: { DPOP_REPLAY_TIMEOUT_MS: "300" },
    });
    try {
      const token = await boundToken();
      const before = fixture.origin.count();
      const p = await proof(token);
      const started = Date.now();
      assertRefused(await send(fleet.urls[0], token, p), "DPoP replay check unavailable");
      const took = Date.now() - started;
      assert.ok(took >= 290 && took < 10000, `waited the timeout, not the stand-in's 20 s: ${took} ms`);
      assert.equal(fixture.origin.count(), before);
      assert.ok(fleet.logs.some((l) => l.includes("dpop_replay_unavailable: no answer within 300 ms")), fleet.logs.join("\n"));
    } finally {
      await fleet.close();
    }
  });
});
