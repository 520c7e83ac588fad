// Fleet-wide DPoP replay detection (README "DPoP replay across the fleet"): gateway
// instances in their own isolates, bound to one DPOP_REPLAY Durable Object namespace (SQLite
// storage, run by Miniflare's workerd), refuse a proof another instance accepted; rows expire
// with the proof window (the object's alarm deletes them); a ledger that throws or answers
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
import { startFixtureIssuer, startFleet, mint, tcpCall, assertForwarded, tempKvDir, waitFor } from "./lib/index.mjs";

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

/** Rows the ledger's objects hold, read from the SQLite files workerd persists them in. */
function ledgerRows(dir) {
  const files = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      // One file per object, named by its id (metadata.sqlite is workerd's own).
      else if (/^[0-9a-f]{64}\.sqlite$/.test(e.name)) files.push(join(d, e.name));
    }
  };
  walk(dir);
  let rows = 0;
  for (const f of files) {
    const out = execFileSync("sqlite3", ["-readonly", f, "SELECT count(*) FROM proofs"], { encoding: "utf8" });
    rows += Number(out.trim());
  }
  return { files: files.length, rows };
}

describe("two instances sharing one DPOP_REPLAY namespace", () => {
  let fleet, persist;
  before(async () => {
    persist = tempKvDir();
    fleet = await startFleet({
      issuers: fixture.issuers,
      origin: fixture.origin,
      durableObjectsPersist: persist.dir,
      // A 1 s window (no leeway), so the expiry test need not wait minutes.
      vars: { DPOP_MAX_AGE_SECONDS: "1", LEEWAY_SECONDS: "0" },
    });
  });
  after(async () => {
    await fleet?.close();
    persist?.cleanup();
  });

  test("a proof accepted by one instance is refused by the other, and by itself", async () => {
    const [a, b] = fleet.urls;
    const token = await boundToken();
    const p = await proof(token);
    const before = fixture.origin.count();
    assertForwarded(await send(a, token, p), "/orders");
    assertRefused(await send(b, token, p), "DPoP proof replayed");
    assertRefused(await send(a, token, p), "DPoP proof replayed");
    assert.equal(fixture.origin.count(), before + 1, "the origin saw the proof once");
    assert.ok(fleet.logs.some((l) => l.includes('"reason":"dpop_replayed"')), fleet.logs.join("\n"));
  });

  test("proofs spread over the shards, each accepted once wherever it lands first", async () => {
    const token = await boundToken();
    for (let i = 0; i < 24; i++) {
      const p = await proof(token);
      const [first, second] = i % 2 ? fleet.urls : [...fleet.urls].reverse();
      assertForwarded(await send(first, token, p), "/orders");
      assertRefused(await send(second, token, p), "DPoP proof replayed");
    }
    const held = ledgerRows(persist.dir);
    assert.ok(held.files >= 8, `24 random keys over 16 shards reach more than 8 objects: ${JSON.stringify(held)}`);
  });

  test("the same jti from another client key is another proof", async () => {
    const other = await clientKey();
    const jti = `shared-${crypto.randomUUID()}`;
    const [a, b] = fleet.urls;
    const mine = await boundToken();
    const theirs = await boundToken(other);
    assertForwarded(await send(a, mine, await proof(mine, { jti })), "/orders");
    assertForwarded(await send(b, theirs, await proof(theirs, { jti, c: other })), "/orders");
  });

  test("rows expire with the window: the alarm deletes them, and the jti is free again", async () => {
    const [a, b] = fleet.urls;
    const token = await boundToken();
    const jti = `expiring-${crypto.randomUUID()}`;
    assertForwarded(await send(a, token, await proof(token, { jti })), "/orders");
    assert.ok(ledgerRows(persist.dir).rows >= 1);
    // Window: iat + 1 s; the alarm runs after its last second. Every row here is as old.
    assert.ok(await waitFor(() => ledgerRows(persist.dir).rows === 0, 8000), "the alarm deleted every row");
    // A new proof reusing the jti, at the instance that has not seen it: no row holds it.
    assertForwarded(await send(b, token, await proof(token, { jti })), "/orders");
    assert.ok(!fleet.logs.some((l) => /uncaught|exception/i.test(l)), fleet.logs.join("\n"));
  });

  test("a Bearer token never asks the ledger", async () => {
    const token = await mint(fixture.rsa);
    const r = await tcpCall(fleet.urls[1], "/orders", { host: HOST, headers: { authorization: `Bearer ${token}` } });
    assertForwarded(r, "/orders");
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
      const started = Date.now();
      assertRefused(await send(fleet.urls[0], token, await proof(token)), "DPoP replay check unavailable");
      assert.ok(Date.now() - started < 10000, "answered long before the stand-in's 20 s");
      assert.equal(fixture.origin.count(), before);
      assert.ok(fleet.logs.some((l) => l.includes("dpop_replay_unavailable: no answer within 300 ms")), fleet.logs.join("\n"));
    } finally {
      await fleet.close();
    }
  });
});
