// One import for the tests.
export * from "./servers.mjs";
export * from "./tokens.mjs";
export * from "./gateway.mjs";
export * from "./client.mjs";
import { readJson } from "./tokens.mjs";
import { startJwksServer } from "./servers.mjs";
import { startGateway, tempKvDir } from "./gateway.mjs";

/** An ISSUERS item for the fixtures issuer (or another), with a jwks_uri. */
export function issuerItem(issuer, jwksUri, extra = {}) {
  const item = { issuer, audiences: ["api://edgeguard-fixtures"], ...extra };
  if (jwksUri) item.jwks_uri = jwksUri;
  return item;
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
