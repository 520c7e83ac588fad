// Hostile tokens and requests (issue 3): every spelling of alg "none",
// algorithm confusion (HS* keyed with RSA / EC public keys in every encoding),
// attacker keys and URLs in jwk / jku / x5u / x5c, hostile kid values (with the
// refetch bound), ECDSA r = s = 0 and DER signatures, signatures from another
// key with the same kid, tampering after signing, stripped / truncated / padded
// signatures, malformed shapes, strict JSON (duplicate keys, wrong types,
// numbers out of range), token and header sizes, several credentials, cty and
// crit. Each rejection asserts the status, the JSON error body and that the
// origin recorded nothing; the last test checks the gateway still serves.
//
// Tokens start from jose (`mint`); what jose refuses to produce (duplicate
// keys, non-JSON segments, b64:false, ...) is signed here with node:crypto so
// the signature is valid and only the property under test is wrong.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import net from "node:net";
import { execFileSync } from "node:child_process";
import {
  startOrigin, startJwksServer, startGateway, issuerItem, readJson, fixtureKey, freshKey, mint, claimsNow, hsSecretText, hsSecretBytes,
  FIX_ISS, sleep, call, rawCall, assertForwarded, assertInvalidToken, assertInvalidRequest, assertMissingToken, assertEdgeError, notForwarded, show,
} from "./lib/index.mjs";

const HS_ISS = "https://hs-mixed.attacks.test/"; // RS256, ES256 and HS256 with its own secret
const KID_ISS = "https://kid.attacks.test/"; // its own JWKS path, so fetches can be counted

let origin, jwks, recorder, gw, k, attacker, attackerEc, attackerEd, x5cChain;
let good; // a valid RS256 token

before(async () => {
  origin = await startOrigin();
  recorder = await startOrigin(); // the attacker's URL: must never be contacted
  jwks = await startJwksServer();
  k = {};
  for (const n of ["rsa2048-a", "rsa3072", "p256-a", "ed25519-a"]) k[n] = await fixtureKey(n);
  good = await mint(k["rsa2048-a"], { sub: "alice" });
  attacker = await freshKey("attacker", "RS256");
  attackerEc = await freshKey("attacker-ec", "ES256");
  attackerEd = await freshKey("attacker-ed", "EdDSA");
  jwks.set("/main.json", { json: readJson("jwks/main.json") });
  jwks.set("/kid.json", { json: { keys: [k["rsa2048-a"].jwk(), k["p256-a"].jwk()] } });
  // Same host as the real JWKS, but not a configured URL: a jku pointing here must not be used.
  jwks.set("/attacker-jwks.json", { json: { keys: [attacker.jwk(), attackerEc.jwk()] } });
  gw = await startGateway({
    issuers: [
      issuerItem(FIX_ISS, `${jwks.url}/main.json`),
      issuerItem(HS_ISS, `${jwks.url}/main.json`, { algorithms: ["RS256", "ES256", "HS256"], secret: hsSecretText() }),
      issuerItem(KID_ISS, `${jwks.url}/kid.json`),
    ],
    origin,
  });
  try {
    const pem = attacker.keyObject().export({ type: "pkcs8", format: "pem" });
    const der = execFileSync("openssl", ["req", "-new", "-x509", "-key", "/dev/stdin", "-subj", "/CN=attacker", "-days", "2", "-outform", "DER"], { input: pem, timeout: 10000, stdio: ["pipe", "pipe", "ignore"] });
    x5cChain = [der.toString("base64")];
  } catch {
    x5cChain = [Buffer.from("not a certificate").toString("base64")];
  }
});

after(async () => {
  await gw?.close();
  for (const s of [origin, recorder, jwks]) await s?.close();
});

// --- helpers -----------------------------------------------------------------------------------

const b64 = (x) => Buffer.from(typeof x === "string" ? x : JSON.stringify(x)).toString("base64url");
const HASH = { 256: "sha256", 384: "sha384", 512: "sha512" };

/** Signs `input` (the "header.payload" string) as `alg` with a fixture Key or secret bytes. */
function signInput(input, alg, key) {
  const data = Buffer.from(input);
  const bits = alg.slice(2);
  if (alg.startsWith("HS")) return crypto.createHmac(HASH[bits], key).update(data).digest();
  const ko = key.keyObject();
  if (alg.startsWith("RS")) return crypto.sign(HASH[bits], data, ko);
  if (alg.startsWith("PS")) return crypto.sign(HASH[bits], data, { key: ko, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(bits) / 8 });
  if (alg === "ES256") return crypto.sign("sha256", data, { key: ko, dsaEncoding: "ieee-p1363" });
  if (alg === "EdDSA") return crypto.sign(null, data, ko);
  throw new Error(`signInput: ${alg}`);
}

/**
 * A JWS over exactly these header / payload bytes (objects are JSON-encoded, strings
 * used as is), with a valid signature: only the property under test is wrong.
 */
function rawJws(header, payload, alg = "RS256", key = k["rsa2048-a"]) {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${signInput(input, alg, key).toString("base64url")}`;
}

const claimsJson = (extra = {}, opts = {}) => JSON.stringify(claimsNow(extra, opts));
const hdr = (extra = {}) => ({ alg: "RS256", kid: "rsa2048-a", typ: "JWT", ...extra });

async function accept(token, path = "/ok") {
  return assertForwarded(await call(gw.url, path, { token }), path);
}

/** 401 invalid_token, not forwarded; `why` (regex) is matched against error_description. */
async function reject(token, why, label = "") {
  const r = await notForwarded(origin, () => call(gw.url, "/no", { token }));
  try {
    assertInvalidToken(r);
    if (why) assert.match(r.json.error_description, why, `error_description for ${label}: ${show(r)}`);
  } catch (e) {
    e.message = `${label ? `[${label}] ` : ""}${e.message}\n  token: ${String(token).slice(0, 160)}${String(token).length > 160 ? "..." : ""}`;
    throw e;
  }
  return r;
}

/**
 * One HTTP/1.1 request written byte for byte on a socket (header shapes node:http and
 * fetch refuse to send). Resolves as soon as one whole response has arrived (the runtime
 * may keep the connection open despite `Connection: close`), or when the socket closes.
 * Returns {status, headers, text, json}; status 0 if no response came.
 */
function rawHttp(base, head, { timeoutMs = 10000 } = {}) {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(u.port), u.hostname);
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (final) => {
      if (done) return;
      const all = buf.toString("latin1");
      const split = all.indexOf("\r\n\r\n");
      if (split < 0) {
        if (!final) return;
        done = true;
        return resolve({ status: 0, headers: new Headers(), text: all, json: null });
      }
      const [statusLine, ...lines] = all.slice(0, split).split("\r\n");
      const headers = new Headers();
      for (const l of lines) {
        const i = l.indexOf(":");
        if (i > 0) headers.append(l.slice(0, i).trim(), l.slice(i + 1).trim());
      }
      let body = all.slice(split + 4);
      const cl = headers.get("content-length");
      if (/chunked/i.test(headers.get("transfer-encoding") ?? "")) {
        if (!final && !body.includes("0\r\n\r\n")) return;
        let out = "";
        for (let rest = body; rest.length; ) {
          const nl = rest.indexOf("\r\n");
          const n = parseInt(rest.slice(0, nl), 16);
          if (!n) break;
          out += rest.slice(nl + 2, nl + 2 + n);
          rest = rest.slice(nl + 2 + n + 2);
        }
        body = out;
      } else if (cl !== null) {
        if (!final && Buffer.byteLength(body, "latin1") < Number(cl)) return;
        body = body.slice(0, Number(cl));
      } else if (!final) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      let json = null;
      try {
        json = JSON.parse(body);
      } catch {}
      resolve({ status: Number(statusLine.split(" ")[1]), headers, text: body, json });
    };
    const timer = setTimeout(() => {
      if (!done) sock.destroy(new Error("rawHttp timeout"));
    }, timeoutMs);
    sock.on("connect", () => sock.write(head, "latin1"));
    sock.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      finish(false);
    });
    sock.on("error", (e) => {
      clearTimeout(timer);
      if (!done) {
        done = true;
        reject(e);
      }
    });
    sock.on("close", () => {
      clearTimeout(timer);
      finish(true);
    });
  });
}

/** {"alg":"RS256","kid":...} with "RS256" and "kid" written with \\u escapes. */
const escapedHeader = (h) => h.replace('"RS256"', '"RS\\u0032\\u0035\\u0036"').replace('"kid"', '"k\\u0069d"');

const reqHead = (path, headerLines) => `GET ${path} HTTP/1.1\r\nHost: gateway.test\r\n${headerLines.map((l) => `${l}\r\n`).join("")}Connection: close\r\n\r\n`;


// --- alg none ----------------------------------------------------------------------------------

describe('alg "none" in every case spelling, with and without a signature', () => {
  for (const spelling of ["none", "None", "NONE", "nOnE"]) {
    test(`"${spelling}": empty, absent, real RS256 and junk signatures; with and without kid; both issuers -> 401`, async () => {
      for (const iss of [FIX_ISS, HS_ISS]) {
        for (const kid of ["rsa2048-a", undefined]) {
          const header = { alg: spelling, typ: "JWT", ...(kid ? { kid } : {}) };
          const input = `${b64(header)}.${b64(claimsJson({}, { iss }))}`;
          const rsSig = signInput(input, "RS256", k["rsa2048-a"]).toString("base64url");
          const hsSig = signInput(input, "HS256", hsSecretBytes()).toString("base64url");
          const label = `${spelling} ${iss} kid=${kid}`;
          await reject(`${input}.`, /algorithm not allowed/, `${label} empty sig`);
          await reject(input, undefined, `${label} two segments`);
          await reject(`${input}.${rsSig}`, /algorithm not allowed/, `${label} RS256 sig`);
          await reject(`${input}.${hsSig}`, /algorithm not allowed/, `${label} HS256 sig with the real secret`);
          await reject(`${input}.AAAA`, /algorithm not allowed/, `${label} junk sig`);
        }
      }
    });
  }
  test('"none" with whitespace / NUL variants and as a non-string -> 401', async () => {
    for (const alg of ["none ", " none", "none\u0000", "NONE\t", "", "nonE", ["none"], null, { none: true }]) {
      const input = `${b64({ alg, kid: "rsa2048-a" })}.${b64(claimsJson())}`;
      await reject(`${input}.`, undefined, JSON.stringify(alg));
      await reject(`${input}.${signInput(input, "RS256", k["rsa2048-a"]).toString("base64url")}`, undefined, JSON.stringify(alg));
    }
  });
});

// --- algorithm confusion -----------------------------------------------------------------------

describe("algorithm confusion: HS* keyed with a published public key", () => {
  // Every encoding an attacker might guess an HMAC-with-the-public-key implementation uses.
  function materials() {
    const published = readJson("jwks/main.json").keys;
    const rsaJwk = published.find((x) => x.kid === "rsa2048-a");
    const ecJwk = published.find((x) => x.kid === "p256-a");
    const rsa = crypto.createPublicKey({ key: rsaJwk, format: "jwk" });
    const ec = crypto.createPublicKey({ key: ecJwk, format: "jwk" });
    const ecPoint = Buffer.concat([Buffer.from([4]), Buffer.from(ecJwk.x, "base64url"), Buffer.from(ecJwk.y, "base64url")]);
    return [
      ["RSA JWK JSON as published", "rsa2048-a", Buffer.from(JSON.stringify(rsaJwk))],
      ["RSA JWK JSON {kty,n,e}", "rsa2048-a", Buffer.from(JSON.stringify({ kty: "RSA", n: rsaJwk.n, e: rsaJwk.e }))],
      ["RSA PEM SPKI", "rsa2048-a", Buffer.from(rsa.export({ type: "spki", format: "pem" }))],
      ["RSA PEM PKCS#1", "rsa2048-a", Buffer.from(rsa.export({ type: "pkcs1", format: "pem" }))],
      ["RSA DER SPKI", "rsa2048-a", rsa.export({ type: "spki", format: "der" })],
      ["RSA DER PKCS#1", "rsa2048-a", rsa.export({ type: "pkcs1", format: "der" })],
      ["RSA modulus bytes", "rsa2048-a", Buffer.from(rsaJwk.n, "base64url")],
      ["EC JWK JSON as published", "p256-a", Buffer.from(JSON.stringify(ecJwk))],
      ["EC PEM SPKI", "p256-a", Buffer.from(ec.export({ type: "spki", format: "pem" }))],
      ["EC DER SPKI", "p256-a", ec.export({ type: "spki", format: "der" })],
      ["EC uncompressed point", "p256-a", ecPoint],
    ];
  }
  const expected = (iss, alg) => (iss === HS_ISS && alg === "HS256" ? /signature verification failed/ : /algorithm not allowed/);
  test("controls: RS256 / ES256 -> 200 on both issuers; HS256 with the real secret -> 200 on the HS issuer, 401 on the RS/ES-only one", async () => {
    for (const iss of [FIX_ISS, HS_ISS]) {
      await accept(await mint(k["rsa2048-a"], {}, {}, { iss }));
      await accept(await mint(k["p256-a"], {}, {}, { iss }));
    }
    await accept(await mint(hsSecretBytes(), {}, {}, { iss: HS_ISS }));
    await reject(await mint(hsSecretBytes(), {}, {}, { iss: FIX_ISS }), /algorithm not allowed/);
  });
  for (const alg of ["HS256", "HS384", "HS512"]) {
    for (const iss of [FIX_ISS, HS_ISS]) {
      test(`${alg} against ${iss === HS_ISS ? "the issuer that also allows HS256 (own secret)" : "the RS/ES-only issuer"} -> 401 for every encoding, with and without kid`, async () => {
        for (const [name, kid, secret] of materials()) {
          for (const header of [{ alg, kid }, { alg, kid: undefined }]) {
            const token = await mint(new Uint8Array(secret), {}, header, { iss });
            await reject(token, expected(iss, alg), `${alg} ${name} kid=${header.kid}`);
          }
        }
      });
    }
  }
});

// --- attacker keys and URLs in the header ------------------------------------------------------

describe("attacker keys in jwk / jku / x5u / x5c are never used or fetched", () => {
  const evil = () => `${recorder.url}/.well-known/jwks.json`;
  const sameHost = () => `${jwks.url}/attacker-jwks.json`;
  const cases = () => [
    // [name, signing key, alg, header extras, issuer]
    ["ES256 with the attacker's EC jwk embedded, kid of the real EC key", attackerEc, "ES256", { kid: "p256-a", jwk: attackerEc.jwkPublic }, FIX_ISS],
    ["ES256 with the attacker's EC jwk embedded, no kid", attackerEc, "ES256", { kid: undefined, jwk: attackerEc.jwkPublic }, FIX_ISS],
    ["EdDSA with the attacker's OKP jwk embedded", attackerEd, "EdDSA", { kid: undefined, jwk: attackerEd.jwkPublic }, FIX_ISS],
    ["RS256 jku on the attacker host, unknown kid", attacker, "RS256", { kid: "attacker", jku: evil() }, KID_ISS],
    ["RS256 jku on the JWKS host (unconfigured path), unknown kid", attacker, "RS256", { kid: "attacker", jku: sameHost() }, FIX_ISS],
    ["ES256 x5u on the attacker host", attackerEc, "ES256", { kid: "attacker-ec", x5u: evil() }, HS_ISS],
    ["RS256 x5c self-signed by the attacker, no kid", attacker, "RS256", { kid: undefined, x5c: x5cChain }, HS_ISS],
    ["RS256 x5c + x5u + jku + jwk all at once", attacker, "RS256", { kid: "rsa2048-a", x5c: x5cChain, x5u: evil(), jku: evil(), jwk: attacker.jwkPublic }, FIX_ISS],
  ];
  test("each -> 401; the attacker URL and the unconfigured JWKS path get no request", async () => {
    for (const [name, key, alg, header, iss] of cases()) {
      const token = await mint(key, {}, { alg, ...header }, { iss });
      await reject(token, undefined, name);
    }
    await sleep(100);
    assert.equal(recorder.count(), 0, `the gateway contacted the attacker URL: ${recorder.requests.map((r) => r.url).join(", ")}`);
    assert.equal(jwks.hits("/attacker-jwks.json"), 0, "the gateway fetched a jku on the JWKS host");
  });
  test("HS256 with an embedded oct jwk holding the attacker's secret (signed with it) -> 401", async () => {
    const secret = crypto.randomBytes(32);
    const token = await mint(new Uint8Array(secret), {}, { alg: "HS256", jwk: { kty: "oct", k: secret.toString("base64url") } }, { iss: HS_ISS });
    await reject(token, /signature verification failed/);
    const token2 = await mint(new Uint8Array(secret), {}, { alg: "HS256", jku: evil(), kid: "attacker-hs" }, { iss: HS_ISS });
    await reject(token2, /signature verification failed/);
    await sleep(50);
    assert.equal(recorder.count(), 0);
  });
});

// --- hostile kid values ------------------------------------------------------------------------

describe("hostile kid values (unknown, huge, path / quote / control characters)", () => {
  test("valid control on the kid issuer -> 200 (first JWKS fetch)", async () => {
    await accept(await mint(k["rsa2048-a"], {}, {}, { iss: KID_ISS }));
    await accept(await mint(k["p256-a"], {}, {}, { iss: KID_ISS }));
    assert.equal(jwks.hits("/kid.json"), 1);
  });

  const weird = [
    "unknown-kid",
    "../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "/etc/passwd",
    "kid.json",
    "../kid.json",
    "?kid=rsa2048-a",
    "#rsa2048-a",
    "%2e%2e%2fetc%2fpasswd",
    '"',
    '"rsa2048-a"',
    "'",
    "\\",
    "\\\\\"\\'",
    "%00",
    "rsa2048-a%00",
    "\u0000",
    "rsa2048-a\u0000",
    "rsa2048-a\u0000junk",
    "rsa2048-a ",
    " rsa2048-a",
    "RSA2048-A",
    "rsa2048-a\n",
    "\n",
    "\r\n",
    "x\r\nX-Auth-Subject: admin",
    "\\n\\r\\u0000",
    "rsa2048-\u0430", // Cyrillic a
    "${jndi:ldap://127.0.0.1/x}",
    "<script>alert(1)</script>",
    "' OR '1'='1",
    "\ud83d\ude00",
    "",
  ];
  test("kids that are not exactly a published kid -> 401, even with a signature by the real key", async () => {
    for (const kid of weird) {
      // signed by the real rsa2048-a key: a lax kid match (trim, case, NUL, decoding) would let it through
      await reject(await mint(k["rsa2048-a"], {}, { kid }, { iss: KID_ISS }), undefined, `kid ${JSON.stringify(kid)}`);
      await reject(await mint(attacker, {}, { kid }, { iss: KID_ISS }), undefined, `attacker kid ${JSON.stringify(kid)}`);
    }
  });
  test("kid that is not a string (number, null, bool, array, object) -> 401", async () => {
    for (const kid of [1, 0, null, true, ["rsa2048-a"], { kid: "rsa2048-a" }]) {
      const token = rawJws({ alg: "RS256", kid, typ: "JWT" }, claimsJson({}, { iss: KID_ISS }));
      await reject(token, /malformed/, `kid ${JSON.stringify(kid)}`);
    }
  });
  test("huge kid, token just under MAX_TOKEN_BYTES (8192) -> 401; log line stays bounded", async () => {
    const pick = async (key, ch) => {
      let n = 5600;
      let t = await mint(key, {}, { kid: ch.repeat(n) }, { iss: KID_ISS });
      while (t.length > 8192) t = await mint(key, {}, { kid: ch.repeat((n -= 30)) }, { iss: KID_ISS });
      return t;
    };
    for (const [key, ch] of [[k["rsa2048-a"], "A"], [attacker, "/"], [attacker, '"'], [k["rsa2048-a"], "\\"]]) {
      const t = await pick(key, ch);
      assert.ok(t.length > 7500 && t.length <= 8192, `token length ${t.length}`);
      await reject(t, /unknown key id/, `huge kid of ${JSON.stringify(ch)}`);
    }
  });
  test("all of the above caused at most one JWKS refetch (30 s cooldown), only ever of the configured URL", async () => {
    await sleep(100);
    const fetches = jwks.requests.filter((r) => r.path === "/kid.json");
    assert.ok(fetches.length <= 2, `${fetches.length - 1} refetches of the kid issuer's JWKS within the cooldown`);
    for (const r of jwks.requests) {
      assert.ok(["/main.json", "/kid.json"].includes(r.path) && r.query === "", `unexpected JWKS request ${r.path}${r.query}`);
    }
    // still serving, without another fetch
    const before = jwks.hits("/kid.json");
    await accept(await mint(k["rsa2048-a"], {}, {}, { iss: KID_ISS }));
    assert.equal(jwks.hits("/kid.json"), before);
  });
  test("log lines for hostile kids are JSON, bounded, kid truncated to 128 bytes, no token text", async () => {
    await sleep(100);
    const lines = gw.logs.filter((l) => l.includes(KID_ISS));
    assert.ok(lines.length > 0, "no log line names the kid issuer");
    for (const l of lines) {
      const x = JSON.parse(l); // every line is one JSON object, even with newlines / quotes in the kid
      assert.ok(l.length < 1024, `log line of ${l.length} bytes`);
      if (x.kid != null) assert.ok(Buffer.byteLength(x.kid) <= 128, `kid of ${Buffer.byteLength(x.kid)} bytes in the log`);
      assert.ok(!/eyJ[A-Za-z0-9_-]{20,}/.test(l), `token-like text in a log line: ${l.slice(0, 200)}`);
    }
  });
});

// --- ECDSA / EdDSA signature encodings -----------------------------------------------------------

describe("ECDSA r = s = 0, DER and other bad encodings; EdDSA zero signature", () => {
  const N = Buffer.from("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", "hex");
  test("ES256 control -> 200", async () => accept(await mint(k["p256-a"])));
  test("each bad signature -> 401 (kid and no kid)", async () => {
    for (const kid of ["p256-a", undefined]) {
      const token = await mint(k["p256-a"], { sub: `ecdsa-${kid}` }, { kid });
      const [h, p, s] = token.split(".");
      const raw = Buffer.from(s, "base64url");
      const r = raw.subarray(0, 32);
      const sPart = raw.subarray(32);
      const input = `${h}.${p}`;
      const der = crypto.sign("sha256", Buffer.from(input), { key: k["p256-a"].keyObject(), dsaEncoding: "der" });
      const cases = [
        ["r = s = 0 (64 zero bytes)", Buffer.alloc(64)],
        ["r = 0", Buffer.concat([Buffer.alloc(32), sPart])],
        ["s = 0", Buffer.concat([r, Buffer.alloc(32)])],
        ["r = s = n", Buffer.concat([N, N])],
        ["r = n", Buffer.concat([N, sPart])],
        ["s = 2^256 - 1 (> n)", Buffer.concat([r, Buffer.alloc(32, 0xff)])],
        ["DER-encoded valid signature", der],
        ["0x00-prefixed (65 bytes)", Buffer.concat([Buffer.alloc(1), raw])],
        ["63 bytes", raw.subarray(1)],
        ["128 bytes (ES512 length)", Buffer.concat([raw, raw])],
        ["one zero byte", Buffer.alloc(1)],
      ];
      for (const [name, sig] of cases) await reject(`${input}.${sig.toString("base64url")}`, undefined, `${name} kid=${kid}`);
    }
  });
  test("EdDSA zero signature / identity-like values -> 401", async () => {
    const [h, p] = (await mint(k["ed25519-a"])).split(".");
    const identity = Buffer.concat([Buffer.from([1]), Buffer.alloc(31), Buffer.alloc(32)]);
    for (const sig of [Buffer.alloc(64), identity, Buffer.alloc(64, 0xff)]) await reject(`${h}.${p}.${sig.toString("base64url")}`);
  });
});

// --- another key, same kid -----------------------------------------------------------------------

describe("signature by another key carrying a published kid", () => {
  test("attacker EC / Ed25519 / RSA (RS256, PS256) keys and another published key -> 401", async () => {
    await reject(await mint(attackerEc, {}, { alg: "ES256", kid: "p256-a" }), /signature verification failed/);
    await reject(await mint(attackerEd, {}, { alg: "EdDSA", kid: "ed25519-a" }), /signature verification failed/);
    await reject(await mint(attacker, {}, { alg: "RS256", kid: "rsa2048-a" }), /signature verification failed/);
    await reject(await mint(attacker, {}, { alg: "PS256", kid: "rsa2048-a" }), /signature verification failed/);
    await reject(await mint(k["rsa3072"], {}, { alg: "RS512", kid: "rsa2048-a" }), /signature verification failed/);
    await reject(await mint(k["rsa2048-a"], {}, { alg: "RS256", kid: "rsa4096" }), /signature verification failed/);
  });
});

// --- tampering after signing ---------------------------------------------------------------------

describe("header or payload changed after signing", () => {
  test("payload edits (sub, exp, aud, iss, extra claim, whitespace-only re-encoding) -> 401", async () => {
    for (const key of [k["rsa2048-a"], k["p256-a"], k["ed25519-a"]]) {
      const t = await mint(key, { sub: "alice" });
      await accept(t);
      const [h, p, s] = t.split(".");
      const claims = JSON.parse(Buffer.from(p, "base64url"));
      const edits = [
        { ...claims, sub: "admin" },
        { ...claims, exp: claims.exp + 86400 * 365 },
        { ...claims, aud: ["api://edgeguard-fixtures", "api://other"] },
        { ...claims, admin: true },
      ];
      for (const e of edits) await reject(`${h}.${b64(e)}.${s}`, /signature verification failed/, `edit ${JSON.stringify(e).slice(0, 80)}`);
      // another configured issuer that publishes the same keys (EdDSA is not allowed there)
      await reject(`${h}.${b64({ ...claims, iss: HS_ISS })}.${s}`, /signature verification failed|algorithm not allowed/, "iss edit");
      await reject(`${h}.${b64(JSON.stringify(claims, null, 1))}.${s}`, /signature verification failed/, "re-encoded payload");
    }
  });
  test("header edits (alg RS256 -> RS384 / PS256, kid to another key, typ dropped) and signature swaps -> 401", async () => {
    const t = await mint(k["rsa2048-a"]);
    const [h, p, s] = t.split(".");
    const header = JSON.parse(Buffer.from(h, "base64url"));
    for (const e of [{ ...header, alg: "RS384" }, { ...header, alg: "PS256" }, { ...header, kid: "rsa3072" }, { alg: "RS256", kid: "rsa2048-a" }]) {
      await reject(`${b64(e)}.${p}.${s}`, undefined, JSON.stringify(e));
    }
    const other = (await mint(k["rsa2048-a"], { sub: "mallory" })).split(".");
    await reject(`${h}.${p}.${other[2]}`, /signature verification failed/, "signature of another token");
    await reject(`${other[0]}.${p}.${other[2]}`, /signature verification failed/, "payload of one token, header+signature of another");
  });
});

// --- signature stripped, truncated, padded ------------------------------------------------------

describe("signature stripped, truncated or padded", () => {
  test("RS256 / PS256 / ES256 / EdDSA: each variant -> 401", async () => {
    for (const [key, alg] of [[k["rsa2048-a"], "RS256"], [k["rsa2048-a"], "PS256"], [k["p256-a"], "ES256"], [k["ed25519-a"], "EdDSA"]]) {
      const t = await mint(key, {}, { alg });
      await accept(t);
      const [h, p, s] = t.split(".");
      const raw = Buffer.from(s, "base64url");
      const flip = Buffer.from(raw);
      flip[Math.floor(raw.length / 2)] ^= 1;
      const variants = [
        ["stripped (h.p.)", `${h}.${p}.`],
        ["stripped (h.p)", `${h}.${p}`],
        ["last char dropped", `${h}.${p}.${s.slice(0, -1)}`],
        ["last 4 chars dropped", `${h}.${p}.${s.slice(0, -4)}`],
        ["half", `${h}.${p}.${s.slice(0, Math.floor(s.length / 2))}`],
        ["first char only", `${h}.${p}.${s[0]}`],
        ["padded =", `${h}.${p}.${s}=`],
        ["padded ==", `${h}.${p}.${s}==`],
        ["padded to a multiple of 4", `${h}.${p}.${s}${"=".repeat((4 - (s.length % 4)) % 4 || 4)}`],
        ["one extra byte", `${h}.${p}.${Buffer.concat([raw, Buffer.alloc(1)]).toString("base64url")}`],
        ["one byte short", `${h}.${p}.${raw.subarray(0, -1).toString("base64url")}`],
        ["one bit flipped", `${h}.${p}.${flip.toString("base64url")}`],
        ["trailing A", `${h}.${p}.${s}A`],
        ["standard alphabet", `${h}.${p}.${raw.toString("base64")}`],
      ];
      for (const [name, token] of variants) if (token !== t) await reject(token, undefined, `${alg} ${name}`);
    }
  });
});

// --- malformed shapes ----------------------------------------------------------------------------

describe("malformed shapes", () => {
  test("1, 2, 4, 5 segments and empty segments -> 401", async () => {
    const [h, p, s] = good.split(".");
    const jweHeader = b64({ alg: "RSA-OAEP", enc: "A256GCM", kid: "rsa2048-a" });
    const shapes = [
      h, `${h}${p}${s}`, p, s,
      `${h}.${p}`, `${p}.${s}`, `${h}.${s}`,
      `${h}.${p}.${s}.${s}`, `${h}.${p}.${s}.`, `.${h}.${p}.${s}`,
      `${h}.${p}.${s}.${s}.${s}`, `${jweHeader}.${s}.${b64("iv")}.${p}.${b64("tag")}`, `${h}.${p}.${s}..`,
      `.${p}.${s}`, `${h}..${s}`, `..${s}`, "..", ".", "...", "....", `${h}..`,
    ];
    for (const t of shapes) await reject(t, /malformed/, `shape ${t.split(".").length} segments`);
  });
  test("standard base64 alphabet and padding in header / payload (validly signed) -> 401; url-safe control -> 200", async () => {
    // find a header and a payload whose base64url spelling contains '-' or '_'
    let header, payload;
    for (let i = 0; !header; i++) {
      const hh = hdr({ x: "?>".repeat(i % 7) + "~".repeat(i) });
      if (/[-_]/.test(b64(hh))) header = hh;
    }
    for (let i = 0; !payload; i++) {
      const pp = claimsJson({ note: "?>~".repeat(i + 1) });
      if (/[-_]/.test(b64(pp)) && b64(pp).length % 4 !== 0) payload = pp;
    }
    const t = rawJws(header, payload);
    await accept(t);
    const [h, p, s] = t.split(".");
    const std = (x) => x.replace(/-/g, "+").replace(/_/g, "/");
    const pad = (x) => x + "=".repeat((4 - (x.length % 4)) % 4);
    for (const bad of [`${std(h)}.${p}.${s}`, `${h}.${std(p)}.${s}`, `${h}.${p}.${std(s)}`, `${std(h)}.${std(p)}.${std(s)}`]) {
      if (bad !== t) await reject(bad, /malformed/, "standard alphabet");
    }
    for (const bad of [`${pad(h)}.${p}.${s}`, `${h}.${pad(p)}.${s}`, `${h}=.${p}.${s}`, `${h}.${p}=.${s}`, `${pad(h)}.${pad(p)}.${pad(s)}`]) {
      if (bad !== t) await reject(bad, /malformed/, "padding");
    }
    // non-canonical trailing bits in the payload (same bytes, another spelling)
    const last = p[p.length - 1];
    const idx = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".indexOf(last);
    const alt = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[idx + 1];
    // The payload's length is not a multiple of 4, so its last character has unused low
    // bits (zero when canonical) and the next character of the alphabet sets one: the same
    // bytes. Asserted rather than assumed, so this case can never be skipped silently.
    assert.ok(alt && Buffer.from(p.slice(0, -1) + alt, "base64url").equals(Buffer.from(p, "base64url")), `no non-canonical spelling of ${p.slice(-4)}`);
    await reject(`${h}.${p.slice(0, -1)}${alt}.${s}`, /malformed/, "non-canonical trailing bits");
  });
  test("whitespace inside the token: space / tab -> 400 (two tokens); form feed, vertical tab, \\x01, non-ASCII, %20, %0A -> 401", async () => {
    const [h, p, s] = good.split(".");
    for (const t of [`${h}. ${p}.${s}`, `${h}.${p} .${s}`, `${h}.${p}.${s.slice(0, 10)} ${s.slice(10)}`, `${h}.${p}.\t${s}`]) {
      assertInvalidRequest(await notForwarded(origin, () => rawCall(gw.url, "/ws", { authorization: `Bearer ${t}` })));
    }
    for (const t of [`${h}.${p}%20.${s}`, `${h}.${p}.${s}%0A`, `${h}.%0A${p}.${s}`]) {
      await reject(t, /malformed/, JSON.stringify(t.slice(0, 20)));
    }
    // control and non-ASCII characters node:http and fetch refuse to send: on the wire
    for (const t of [`${h}.${p}.${s.slice(0, 10)}\f${s.slice(10)}`, `${h}\v.${p}.${s}`, `${h}.${p}.${s}\u0001`, `${h}.${p}.${s}\u00e9`, `${h}.${p}.\u00ff${s}`]) {
      const r = await notForwarded(origin, () => rawHttp(gw.url, reqHead("/ws", [`Authorization: Bearer ${t}`])));
      assertInvalidToken(r);
    }
  });
  test("newlines inside the Authorization header on the wire (obs-fold, bare LF, CR) -> 4xx, not forwarded", async () => {
    const [h, p, s] = good.split(".");
    const heads = [
      reqHead("/nl", [`Authorization: Bearer ${h}.${p}`, ` .${s}`]), // obs-fold: continuation line
      reqHead("/nl", [`Authorization: Bearer ${h}.${p}`, `\t.${s}`]),
      `GET /nl HTTP/1.1\r\nHost: gateway.test\r\nAuthorization: Bearer ${h}.${p}\n.${s}\r\nConnection: close\r\n\r\n`,
      `GET /nl HTTP/1.1\r\nHost: gateway.test\r\nAuthorization: Bearer ${h}.${p}\r.${s}\r\nConnection: close\r\n\r\n`,
      `GET /nl HTTP/1.1\r\nHost: gateway.test\r\nAuthorization: Bearer ${h}.${p}.${s}\u0000\r\nConnection: close\r\n\r\n`,
    ];
    for (const head of heads) {
      // obs-fold reaches the worker as "h.p .s" (two tokens: 400 JSON); bare CR / LF / NUL
      // are refused by the runtime's HTTP parser (400, plain text) before the worker runs
      const r = await notForwarded(origin, () => rawHttp(gw.url, head));
      assert.ok(r.status === 400 || r.status === 401, `status ${r.status} for ${JSON.stringify(head.slice(0, 60))}: ${r.text.slice(0, 200)}`);
      if (r.json) assertEdgeError(r, r.status, r.status === 400 ? "invalid_request" : "invalid_token");
    }
  });
  test("header / payload not JSON, or JSON with junk (validly signed) -> 401", async () => {
    const c = claimsJson();
    const h = JSON.stringify(hdr());
    const cases = [
      ["not json", c], ["{", c], ["{'alg':'RS256','kid':'rsa2048-a'}", c], [`${h.slice(0, -1)},}`, c],
      [`${h}x`, c], [`${h}${h}`, c], [`\uFEFF${h}`, c], [`/*c*/${h}`, c], [`${h}\u0000`, c], [escapedHeader(h) + "\u0000", c],
      [h, "not json"], [h, "{"], [h, `${c}x`], [h, `${c}${c}`], [h, `\uFEFF${c}`], [h, c.replace("{", "{,")], [h, c.slice(0, -1) + ',}'],
      [h, c.replace(/"sub":"e2e-user"/, '"sub":"e2e-user\u0000"').replace("{", "{ /* */ ")], [h, Buffer.from([0xff, 0xfe, 0x7b, 0x7d]).toString("latin1")],
    ];
    for (const [hh, pp] of cases) await reject(rawJws(hh, pp), /malformed/, `${JSON.stringify(hh).slice(0, 40)} / ${JSON.stringify(pp).slice(0, 40)}`);
  });
  test("control: the same header spelled with JSON \\u escapes (alg, kid) is the same JSON -> 200", async () => {
    await accept(rawJws(escapedHeader(JSON.stringify(hdr())), claimsJson()));
  });
  test("header or payload of the wrong JSON type (array, string, number, null, bool) -> 401", async () => {
    const h = JSON.stringify(hdr());
    const c = claimsJson();
    for (const v of [`[${h}]`, JSON.stringify(h), "42", "null", "true", "[]", '""']) {
      await reject(rawJws(v, c), /malformed/, `header ${v.slice(0, 30)}`);
      await reject(rawJws(h, v === JSON.stringify(h) ? JSON.stringify(c) : v.replace(h, c)), /malformed/, `payload ${v.slice(0, 30)}`);
    }
  });
  test("payload not UTF-8 JSON (UTF-16, Latin-1 bytes) -> 401", async () => {
    const h = JSON.stringify(hdr());
    const c = claimsJson({ name: "J\u00f6rg" });
    for (const bytes of [Buffer.from(c, "utf16le"), Buffer.from(c, "latin1")]) {
      const input = `${b64(h)}.${bytes.toString("base64url")}`;
      await reject(`${input}.${signInput(input, "RS256", k["rsa2048-a"]).toString("base64url")}`, /malformed/);
    }
  });
});

// --- strict JSON: duplicate keys, numbers -------------------------------------------------------

describe("duplicate keys and numbers out of range (validly signed)", () => {
  const c = () => claimsNow();
  test("control: hand-signed without duplicates -> 200", async () => accept(rawJws(hdr(), JSON.stringify(c()))));
  test("duplicate keys in the header (alg twice, kid twice, typ twice) -> 401", async () => {
    const p = JSON.stringify(c());
    for (const h of [
      '{"alg":"RS256","alg":"RS256","kid":"rsa2048-a"}',
      '{"alg":"none","alg":"RS256","kid":"rsa2048-a"}',
      '{"alg":"RS256","alg":"none","kid":"rsa2048-a"}',
      '{"alg":"RS256","kid":"rsa2048-a","kid":"rsa2048-a"}',
      '{"alg":"RS256","kid":"unknown","kid":"rsa2048-a"}',
      '{"alg":"RS256","kid":"rsa2048-a","typ":"JWT","typ":"JWT"}',
      '{"alg":"RS256","kid":"rsa2048-a","x":{"a":1,"a":2}}',
    ]) {
      await reject(rawJws(h, p), /malformed/, h);
    }
  });
  test("duplicate keys in the payload (iss twice, exp twice, aud twice, sub twice, nested) -> 401", async () => {
    const t = c();
    const other = "https://someone-else.test/";
    const body = (dup) => `{"aud":"${t.aud}","sub":"u","iat":${t.iat},${dup}}`;
    for (const p of [
      body(`"iss":"${FIX_ISS}","iss":"${FIX_ISS}","exp":${t.exp}`),
      body(`"iss":"${other}","iss":"${FIX_ISS}","exp":${t.exp}`),
      body(`"iss":"${FIX_ISS}","iss":"${other}","exp":${t.exp}`),
      body(`"iss":"${FIX_ISS}","exp":${t.exp},"exp":${t.exp}`),
      body(`"iss":"${FIX_ISS}","exp":${t.iat - 7200},"exp":${t.exp}`),
      body(`"iss":"${FIX_ISS}","exp":${t.exp},"exp":${t.iat - 7200}`),
      body(`"iss":"${FIX_ISS}","exp":${t.exp},"aud":"api://other"`),
      body(`"iss":"${FIX_ISS}","exp":${t.exp},"sub":"admin"`),
      body(`"iss":"${FIX_ISS}","exp":${t.exp},"ctx":{"role":"user","role":"admin"}`),
      body(`"iss":"${FIX_ISS}","exp":${t.exp},"list":[{"a":1,"a":1}]`),
    ]) {
      await reject(rawJws(hdr(), p), /malformed/, p);
    }
  });
  test("exp / nbf / iat out of range or of the wrong type -> 401", async () => {
    const t = c();
    const base = (time) => `{"iss":"${FIX_ISS}","aud":"${t.aud}","sub":"u",${time}}`;
    const cases = [
      `"exp":1e400`, `"exp":-1e400`, `"exp":-1`, `"exp":0`, `"exp":-0.0`, `"exp":1e-400`,
      `"exp":"${t.exp}"`, `"exp":true`, `"exp":false`, `"exp":null`, `"exp":[${t.exp}]`, `"exp":{"v":${t.exp}}`,
      `"exp":NaN`, `"exp":Infinity`, `"exp":0x7fffffff`, `"exp":+${t.exp}`, `"exp":${t.exp}.`, `"exp":0${t.exp}`,
      `"exp":${t.exp},"nbf":1e400`, `"exp":${t.exp},"iat":1e400`, `"exp":${t.exp},"nbf":"0"`, `"exp":${t.exp},"iat":null`,
      `"exp":${t.exp},"nbf":1e20`, `"exp":${t.exp},"iat":1e20`,
    ];
    for (const time of cases) await reject(rawJws(hdr(), base(time)), undefined, time);
  });
  test("exp far in the future but a finite number (1e20, 2^63, 1e300) -> 200 (a valid NumericDate, as jose accepts)", async () => {
    const t = c();
    for (const exp of ["1e20", "9223372036854775808", "1e300"]) {
      await accept(rawJws(hdr(), `{"iss":"${FIX_ISS}","aud":"${t.aud}","sub":"far-${exp}","iat":${t.iat},"exp":${exp}}`));
    }
  });
});

// --- sizes ---------------------------------------------------------------------------------------

describe("token and header sizes (MAX_TOKEN_BYTES = 8192)", () => {
  const b64len = (n) => Math.ceil((n * 4) / 3);
  /** A validly signed RS256 token of exactly `len` bytes. */
  async function sized(len) {
    const fixed = claimsNow({ sub: "sized" });
    for (let m = 0; m < 4; m++) {
      const header = { alg: "RS256", kid: "rsa2048-a", typ: "JWT", ...(m ? { x: "y".repeat(m) } : {}) };
      const hLen = b64len(JSON.stringify(header).length);
      for (let n = 0; n < len; n++) {
        const total = hLen + b64len(JSON.stringify({ ...fixed, pad: "p".repeat(n) }).length) + 2 + 342;
        if (total === len) {
          const t = await mint(k["rsa2048-a"], { ...fixed, pad: "p".repeat(n) }, header);
          assert.equal(t.length, len);
          return t;
        }
        if (total > len) break;
      }
    }
    throw new Error(`no token of length ${len}`);
  }
  test("exactly 8192 bytes -> 200; 8193 and 8196 bytes -> 401 token too large", async () => {
    await accept(await sized(8192));
    await reject(await sized(8193), /too large/);
    await reject(await sized(8196), /too large/);
  });
  test("64 KiB Authorization header -> 401 token too large (JSON), not forwarded", async () => {
    for (const t of ["a".repeat(65536), `${good}.${"A".repeat(65536)}`, ".".repeat(65000), `${good.split(".")[0]}.${"A".repeat(65000)}.${good.split(".")[2]}`]) {
      const r = await notForwarded(origin, () => rawCall(gw.url, "/big", { authorization: `Bearer ${t}` }));
      assertInvalidToken(r);
      assert.match(r.json.error_description, /too large/);
    }
  });
  test("Authorization of 256 KiB -> some 4xx (431 from the runtime is fine), not forwarded, no crash", async () => {
    const r = await notForwarded(origin, () => rawCall(gw.url, "/huge", { authorization: `Bearer ${"a".repeat(262144)}` }));
    assert.ok(r.status >= 400 && r.status < 500, `status ${r.status}: ${r.text.slice(0, 200)}`);
    if (r.json) assertEdgeError(r, r.status, r.json.error);
  });
  test("64 KiB of other headers next to a bad token -> 4xx, not forwarded", async () => {
    const headers = { authorization: "Bearer a.b.c" };
    for (let i = 0; i < 16; i++) headers[`x-filler-${i}`] = "f".repeat(4000);
    const r = await notForwarded(origin, () => rawCall(gw.url, "/filler", headers));
    assert.ok(r.status >= 400 && r.status < 500, `status ${r.status}`);
    if (r.status === 401) assertInvalidToken(r);
  });
});

// --- several credentials -------------------------------------------------------------------------

describe("several Authorization headers or tokens from several sources", () => {
  test("two or three Authorization lines in any combination -> 400 invalid_request", async () => {
    const combos = [
      [`Bearer ${good}`, "Bearer garbage"],
      ["Bearer garbage", `Bearer ${good}`],
      ["Basic dXNlcjpwYXNz", `Bearer ${good}`],
      [`Bearer ${good}`, "Basic dXNlcjpwYXNz"],
      [`Bearer ${good}`, `Bearer ${good}`, `Bearer ${good}`],
      [`Bearer ${good}`, "Bearer"],
    ];
    for (const values of combos) {
      assertInvalidRequest(await notForwarded(origin, () => rawCall(gw.url, "/multi", { authorization: values })));
    }
  });
  test("Authorization and authorization (different case) on the wire -> 400", async () => {
    const r = await notForwarded(origin, () => rawHttp(gw.url, reqHead("/multi", [`Authorization: Bearer ${good}`, `authorization: Bearer ${good}`])));
    assertInvalidRequest(r);
    const r2 = await notForwarded(origin, () => rawHttp(gw.url, reqHead("/multi", [`AUTHORIZATION: Bearer ${good}`, "Authorization: Bearer x.y.z"])));
    assertInvalidRequest(r2);
  });
  test("valid header token + access_token query parameter -> 400 invalid_request", async () => {
    for (const q of [`?access_token=${good}`, "?access_token=x", "?a=1&access_token=", "?access_token", `?x=1&access_token=${good}&y=2`]) {
      assertInvalidRequest(await notForwarded(origin, () => call(gw.url, `/q${q}`, { token: good })));
    }
  });
  test("access_token in the query alone is not accepted -> 401 missing_token", async () => {
    assertMissingToken(await notForwarded(origin, () => call(gw.url, `/q?access_token=${good}`)));
  });
  test("control: a query parameter merely named like it is not a token source -> 200", async () => {
    await accept(good, "/q");
    const r = await call(gw.url, "/q?my_access_token=1", { token: good });
    assert.equal(r.status, 200, show(r));
  });
});

// --- cty and crit --------------------------------------------------------------------------------

describe("cty and crit headers (validly signed)", () => {
  test("cty (JWT, jwt, application/json, empty) -> 401", async () => {
    for (const cty of ["JWT", "jwt", "application/json", "", "application/jwt"]) {
      await reject(rawJws(hdr({ cty }), claimsJson()), /malformed/, `cty ${cty}`);
    }
  });
  test("nested JWT: a valid token as the payload of an outer one with cty JWT -> 401", async () => {
    await reject(rawJws(hdr({ cty: "JWT" }), good), /malformed/);
  });
  test("crit variations -> 401", async () => {
    const c = claimsJson();
    const cases = [
      hdr({ crit: ["exp"], exp: 1 }),
      hdr({ crit: ["alg"] }),
      hdr({ crit: ["kid"] }),
      hdr({ crit: ["b64"], b64: true }),
      hdr({ crit: [] }),
      hdr({ crit: null }),
      hdr({ crit: "x-ext" }),
      hdr({ crit: ["x-ext", "x-ext"], "x-ext": 1 }),
      hdr({ crit: ["x-missing"] }),
      hdr({ crit: [1] }),
      hdr({ crit: {} }),
    ];
    for (const h of cases) await reject(rawJws(h, c), /critical|malformed/, JSON.stringify(h.crit));
  });
  test("RFC 7797 b64:false with crit (unencoded payload, attached and detached) -> 401", async () => {
    const header = hdr({ b64: false, crit: ["b64"] });
    const payload = claimsJson();
    const input = `${b64(header)}.${payload}`;
    const sig = signInput(input, "RS256", k["rsa2048-a"]).toString("base64url");
    await reject(`${b64(header)}..${sig}`, undefined, "detached");
    // the raw JSON carries commas: the extractor already sees several credentials (400)
    const r = await notForwarded(origin, () => call(gw.url, "/no", { token: `${b64(header)}.${payload}.${sig}` }));
    if (r.status === 400) assertInvalidRequest(r);
    else assertInvalidToken(r);
    await reject(`${b64(header)}.${b64(payload)}.${sig}`, undefined, "payload re-encoded");
  });
});

// --- still alive ---------------------------------------------------------------------------------

describe("after all of the above", () => {
  test("the gateway still answers valid tokens of every algorithm with 200; nothing reached the attacker", async () => {
    await accept(good, "/alive");
    for (const [key, alg] of [[k["rsa2048-a"], "RS256"], [k["rsa2048-a"], "PS384"], [k["rsa3072"], "RS512"], [k["p256-a"], "ES256"], [k["ed25519-a"], "EdDSA"]]) {
      await accept(await mint(key, { sub: `alive-${alg}` }, { alg }), "/alive");
    }
    await accept(await mint(hsSecretBytes(), { sub: "alive-hs" }, {}, { iss: HS_ISS }), "/alive");
    const r = await call(gw.url, "/alive", { token: await mint(k["p256-a"], {}, {}, { iss: KID_ISS }) });
    assertForwarded(r, "/alive");
    assert.equal(recorder.count(), 0, "the attacker URL was contacted");
    assert.ok(!gw.logs.some((l) => /panicked|RuntimeError/i.test(l)), `panic in the logs: ${gw.logs.filter((l) => /panicked|RuntimeError/i.test(l)).join("\n").slice(0, 500)}`);
  });
});
