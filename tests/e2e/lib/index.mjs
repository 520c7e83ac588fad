// One import for the tests.
export * from "./servers.mjs";
export * from "./tokens.mjs";
export * from "./gateway.mjs";
export * from "./client.mjs";
import { readJson, fixtureKey, FIX_ISS } from "./tokens.mjs";
import { startJwksServer, startOrigin } from "./servers.mjs";
import { startGateway, tempKvDir } from "./gateway.mjs";

/** An ISSUERS item for the fixtures issuer (or another), with a jwks_uri. */
export function issuerItem(issuer, jwksUri, extra = {}) {
  const item = { issuer, audiences: ["api://edgeguard-fixtures"], ...extra };
  if (jwksUri) item.jwks_uri = jwksUri;
  return item;
}

/**
 * The usual setup of a file that mints its own RS256 tokens: an origin, a JWKS server
 * publishing the fixture keys at /keys.json, the fixture key rsa2048-a to sign with, and the
 * ISSUERS list naming the fixtures issuer there. `close()` stops both servers.
 */
export async function startFixtureIssuer() {
  const origin = await startOrigin();
  const jwks = await startJwksServer();
  jwks.set("/keys.json", { json: readJson("jwks/main.json") });
  const rsa = await fixtureKey("rsa2048-a");
  const issuers = [issuerItem(FIX_ISS, `${jwks.url}/keys.json`)];
  const close = async () => {
    await origin.close();
    await jwks.close();
  };
  return { origin, jwks, rsa, issuers, close };
}

/** The fixture discovery document (fixtures/discovery) naming `issuer` and `jwksUri`. */
export function discoveryDoc(issuer, jwksUri) {
  const tpl = JSON.stringify(readJson("discovery/openid-configuration.json"));
  return JSON.parse(tpl.replace("__ISSUER__", issuer).replace("__JWKS_URI__", jwksUri));
}

/**
 * JWKS servers, gateways and KV directories a test file starts, all released in reverse
 * order by `closeAll()` (call it from `after`).
 */
export function startedHere() {
  const closers = [];
  const keep = (x, close) => (closers.push(close), x);
  return {
    server: async () => {
      const s = await startJwksServer();
      return keep(s, () => s.close());
    },
    gateway: async (opts) => {
      const g = await startGateway(opts);
      return keep(g, () => g.close());
    },
    kvDir: () => {
      const d = tempKvDir();
      return keep(d.dir, () => d.cleanup());
    },
    closeAll: async () => {
      for (const c of closers.reverse()) await c();
    },
  };
}
