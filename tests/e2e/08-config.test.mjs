// Invalid configuration -> every request 500 server_error JSON naming the bad
// field, nothing forwarded.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startOrigin, startJwksServer, startGateway, issuerItem, readJson, fixtureKey, mint, hsSecretText, FIX_ISS,
  call, assertEdgeError, assertForwarded, notForwarded,
} from "./lib/index.mjs";

let origin, jwks, rsa, good;
before(async () => {
  origin = await startOrigin();
  jwks = await startJwksServer();
  JWKS_URL = jwks.url;
  jwks.set("/main.json", { json: readJson("jwks/main.json") });
  rsa = await fixtureKey("rsa2048-a");
  good = await mint(rsa);
});
after(async () => {
  await origin?.close();
  await jwks?.close();
});

// Evaluated at definition time (labels) and again inside each test (with the real JWKS URL).
let JWKS_URL = "http://127.0.0.1:1";
const okItem = () => issuerItem(FIX_ISS, `${JWKS_URL}/main.json`);
const AUD = ["api://edgeguard-fixtures"];

// [label, issuers (array | string | undefined), vars, text the error must name]
const cases = () => [
  ["ISSUERS missing", undefined, {}, "ISSUERS"],
  ["ISSUERS not JSON", "not json", {}, "ISSUERS"],
  ["ISSUERS empty array", "[]", {}, "ISSUERS"],
  ["ISSUERS an object", JSON.stringify(okItem()), {}, "ISSUERS"],
  ["algorithms contains none", [{ ...okItem(), algorithms: ["none"] }], {}, "ISSUERS[0].algorithms"],
  ["second item's algorithms contains none", [okItem(), { issuer: "https://b.test/", jwks_uri: `${JWKS_URL}/main.json`, audiences: AUD, algorithms: ["RS256", "none"] }], {}, "ISSUERS[1].algorithms"],
  ["algorithms unknown value", [{ ...okItem(), algorithms: ["XS256"] }], {}, "ISSUERS[0].algorithms"],
  ["audiences empty", [{ ...okItem(), audiences: [] }], {}, "ISSUERS[0].audiences"],
  ["audiences missing", [{ issuer: FIX_ISS, jwks_uri: `${JWKS_URL}/main.json` }], {}, "ISSUERS[0].audiences"],
  ["audiences a string", [{ ...okItem(), audiences: "api://edgeguard-fixtures" }], {}, "ISSUERS[0].audiences"],
  ["issuer missing", [{ jwks_uri: `${JWKS_URL}/main.json`, audiences: AUD }], {}, "ISSUERS[0].issuer"],
  ["http jwks_uri to a non-loopback host", [{ ...okItem(), jwks_uri: "http://example.com/jwks.json" }], {}, "ISSUERS[0].jwks_uri"],
  ["jwks_uri not http(s)", [{ ...okItem(), jwks_uri: "ftp://127.0.0.1/jwks.json" }], {}, "ISSUERS[0].jwks_uri"],
  ["jwks_uri not a URL", [{ ...okItem(), jwks_uri: "jwks.json" }], {}, "ISSUERS[0].jwks_uri"],
  ["discovery for a non-loopback http issuer", [{ issuer: "http://issuer.example.com", audiences: AUD }], {}, "ISSUERS[0]"],
  ["unknown field", [{ ...okItem(), audience: "typo" }], {}, "audience"],
  ["duplicate issuers", [okItem(), okItem()], {}, "ISSUERS[1]"],
  ["secret without an HS algorithm", [{ ...okItem(), secret: hsSecretText() }], {}, "ISSUERS[0].secret"],
  ["HS256 without a secret", [{ ...okItem(), algorithms: ["HS256"] }], {}, "ISSUERS[0]"],
  ["secret shorter than HS512 needs", [{ ...okItem(), algorithms: ["HS512"], secret: Buffer.alloc(32, 7).toString("base64url") }], {}, "ISSUERS[0].secret"],
  ["secret not base64url", [{ ...okItem(), algorithms: ["HS256"], secret: "!!!! not base64 !!!!".repeat(3) }], {}, "ISSUERS[0].secret"],
  ['LEEWAY_SECONDS = "abc"', [okItem()], { LEEWAY_SECONDS: "abc" }, "LEEWAY_SECONDS"],
  ["LEEWAY_SECONDS = 601", [okItem()], { LEEWAY_SECONDS: 601 }, "LEEWAY_SECONDS"],
  ["LEEWAY_SECONDS = -1", [okItem()], { LEEWAY_SECONDS: "-1" }, "LEEWAY_SECONDS"],
  ["MAX_TOKEN_BYTES = 100", [okItem()], { MAX_TOKEN_BYTES: "100" }, "MAX_TOKEN_BYTES"],
  ["JWKS_TIMEOUT_MS = 50", [okItem()], { JWKS_TIMEOUT_MS: "50" }, "JWKS_TIMEOUT_MS"],
  ["JWKS_MAX_BYTES = 5000000", [okItem()], { JWKS_MAX_BYTES: "5000000" }, "JWKS_MAX_BYTES"],
  ["JWKS_MAX_KEYS = 0", [okItem()], { JWKS_MAX_KEYS: 0 }, "JWKS_MAX_KEYS"],
  ['STRIP_AUTHORIZATION = "maybe"', [okItem()], { STRIP_AUTHORIZATION: "maybe" }, "STRIP_AUTHORIZATION"],
  ['RETRY_AFTER_SECONDS = "soon"', [okItem()], { RETRY_AFTER_SECONDS: "soon" }, "RETRY_AFTER_SECONDS"],
  ['ORIGIN = "not a url"', [okItem()], { ORIGIN: "not a url" }, "ORIGIN"],
  ["TOKEN_CACHE_ENTRIES = 100001", [okItem()], { TOKEN_CACHE_ENTRIES: 100001 }, "TOKEN_CACHE_ENTRIES"],
  ['TOKEN_CACHE_ENTRIES = "many"', [okItem()], { TOKEN_CACHE_ENTRIES: "many" }, "TOKEN_CACHE_ENTRIES"],
  ["MAX_ISSUERS = 0", [okItem()], { MAX_ISSUERS: "0" }, "MAX_ISSUERS"],
  ["more ISSUERS entries than MAX_ISSUERS", [okItem(), { ...okItem(), issuer: "https://second.test/" }], { MAX_ISSUERS: "1" }, "ISSUERS"],
  ['JWKS_MIN_TTL_SECONDS = "x"', [okItem()], { JWKS_MIN_TTL_SECONDS: "x" }, "JWKS_MIN_TTL_SECONDS"],
  ['JWKS_REFETCH_COOLDOWN_SECONDS = "-5"', [okItem()], { JWKS_REFETCH_COOLDOWN_SECONDS: "-5" }, "JWKS_REFETCH_COOLDOWN_SECONDS"],
];

describe("invalid configuration -> 500 server_error naming the field", () => {
  cases().forEach(([label], i) => {
    test(label, async () => {
      JWKS_URL = jwks.url;
      const [, issuers, vars, field] = cases()[i];
      const g = await startGateway({ issuers, vars, origin: vars.ORIGIN ? undefined : origin });
      try {
        for (const auth of [`Bearer ${good}`, undefined]) {
          const r = await notForwarded(origin, () => call(g.url, "/cfg", { auth }));
          assertEdgeError(r, 500, "server_error");
          assert.ok(r.json.error_description.includes(field), `error_description should name ${field}: ${JSON.stringify(r.json)}`);
        }
        if (label === "ISSUERS missing") {
          await new Promise((res) => setTimeout(res, 100));
          assert.ok(g.logs.some((l) => l.includes("ISSUERS")), `config error not logged: ${g.logs.join(" | ")}`);
        }
      } finally {
        await g.close();
      }
    });
  });
});

describe("valid configuration variants are accepted", () => {
  test("vars as numbers/booleans and in-range edge values", async () => {
    const g = await startGateway({
      issuers: [okItem(), { issuer: "https://hs.test/", audiences: AUD, algorithms: ["HS256", "HS512"], secret: hsSecretText() }],
      origin,
      vars: { TOKEN_CACHE_ENTRIES: 0, MAX_ISSUERS: 2, LEEWAY_SECONDS: 600, MAX_TOKEN_BYTES: 256, JWKS_TIMEOUT_MS: 100, JWKS_MAX_BYTES: 1024, JWKS_MAX_KEYS: 1000, STRIP_AUTHORIZATION: false, RETRY_AFTER_SECONDS: 30 },
    });
    try {
      // MAX_TOKEN_BYTES 256 is valid config: a normal token is just too long (401, not 500)
      const r = await notForwarded(origin, () => call(g.url, "/v", { token: good }));
      assertEdgeError(r, 401, "invalid_token");
    } finally {
      await g.close();
    }
  });
  test("http jwks_uri on loopback hosts (localhost, 127.0.0.0/8, ::1) is valid configuration", async () => {
    for (const host of ["localhost:9", "127.0.0.1:9", "127.1.2.3:9", "[::1]:9"]) {
      const g = await startGateway({ issuers: [{ ...okItem(), jwks_uri: `http://${host}/jwks.json` }], origin });
      try {
        // a config error would answer 500 to every request; a valid one says missing_token
        const r = await notForwarded(origin, () => call(g.url, "/v"));
        assertEdgeError(r, 401, "missing_token");
      } finally {
        await g.close();
      }
    }
  });
  test("secret with padding and issuer with only HS algorithms", async () => {
    const { hsSecretBytes } = await import("./lib/index.mjs");
    const padded = Buffer.from(hsSecretBytes()).toString("base64"); // 64 bytes -> ends in "=="
    const b64url = padded.replace(/\+/g, "-").replace(/\//g, "_");
    const g = await startGateway({ issuers: [{ issuer: "https://hs.test/", audiences: AUD, algorithms: ["HS256"], secret: b64url, jwks_uri: `${jwks.url}/main.json` }], origin });
    try {
      const token = await mint(hsSecretBytes(), {}, { alg: "HS256" }, { iss: "https://hs.test/" });
      assertForwarded(await call(g.url, "/hs", { token }), "/hs");
    } finally {
      await g.close();
    }
  });
});
