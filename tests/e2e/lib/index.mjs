// One import for the tests.
export * from "./servers.mjs";
export * from "./tokens.mjs";
export * from "./gateway.mjs";
export * from "./client.mjs";

/** An ISSUERS item for the fixtures issuer (or another), with a jwks_uri. */
export function issuerItem(issuer, jwksUri, extra = {}) {
  const item = { issuer, audiences: ["api://edgeguard-fixtures"], ...extra };
  if (jwksUri) item.jwks_uri = jwksUri;
  return item;
}
