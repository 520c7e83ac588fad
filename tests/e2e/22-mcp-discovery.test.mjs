// edgeguard in front of a remote MCP server (README "Recipe: a remote MCP server"): the
// discovery an MCP client does under the Model Context Protocol's authorization spec, walked
// end to end with RESOURCE_METADATA = "auto". 401 with `resource_metadata` (RFC 9728) ->
// the protected-resource document (resource = the gateway's origin, authorization_servers =
// the configured issuers) -> the authorization server's RFC 8414 metadata -> a token for that
// resource (RFC 8707 `resource`, client credentials) -> 200. The authorization server is a
// loopback HTTP server that signs with jose; a token for another resource is refused.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { SignJWT, generateKeyPair, exportJWK } from "jose";
import {
  startOrigin, startJwksServer, startGateway, call, tcpCall, assertForwarded, assertInvalidToken, notForwarded,
  parseWwwAuthenticate, show,
} from "./lib/index.mjs";

let origin, as, gw, resource, signingKey;

const readBody = (req) =>
  new Promise((resolve) => {
    let b = "";
    req.setEncoding("utf8");
    req.on("data", (d) => (b += d));
    req.on("end", () => resolve(b));
  });

before(async () => {
  origin = await startOrigin();
  as = await startJwksServer();
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  signingKey = privateKey;
  as.set("/jwks.json", { json: { keys: [{ ...(await exportJWK(publicKey)), kid: "as-1", use: "sig", alg: "ES256" }] } });
  as.set("/.well-known/oauth-authorization-server", {
    json: {
      issuer: as.url,
      token_endpoint: `${as.url}/token`,
      jwks_uri: `${as.url}/jwks.json`,
      grant_types_supported: ["client_credentials"],
      token_endpoint_auth_methods_supported: ["none"],
    },
  });
  // Client credentials with RFC 8707's `resource`: the token's audience is that resource.
  as.set("/token", {
    fn: async (req, res) => {
      const form = new URLSearchParams(await readBody(req));
      if (req.method !== "POST" || form.get("grant_type") !== "client_credentials" || !form.get("resource")) {
        res.writeHead(400, { "content-type": "application/json" });
        return res.end(JSON.stringify({ error: "invalid_request" }));
      }
      const t = Math.floor(Date.now() / 1000);
      const access_token = await new SignJWT({ scope: form.get("scope") ?? "", client_id: "mcp-client" })
        .setProtectedHeader({ alg: "ES256", kid: "as-1", typ: "at+jwt" })
        .setIssuer(as.url)
        .setAudience(form.get("resource"))
        .setSubject("mcp-client")
        .setIssuedAt(t)
        .setExpirationTime(t + 300)
        .sign(signingKey);
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(JSON.stringify({ access_token, token_type: "Bearer", expires_in: 300 }));
    },
  });
  // The README recipe's issuer: the audience is the resource the request is for (no fixed
  // `audiences`), so the configuration need not know where the gateway listens.
  gw = await startGateway({
    origin,
    issuers: [{ issuer: as.url, jwks_uri: `${as.url}/jwks.json`, resource_audience: true, require_typ: "at+jwt" }],
    vars: { RESOURCE_METADATA: "auto", DEFAULT_ROUTE: JSON.stringify({ scopes: ["mcp:tools"] }) },
  });
  resource = gw.url;
});
after(async () => {
  await gw?.close();
  await origin?.close();
  await as?.close();
});

test("an MCP client's discovery: 401 -> resource metadata -> authorization server -> token for the resource -> 200", async () => {
  // 1. No token: 401 naming the metadata document.
  const first = await notForwarded(origin, () => call(gw.url, "/mcp", { method: "POST", body: "{}" }));
  assert.equal(first.status, 401, show(first));
  const challenge = parseWwwAuthenticate(first.headers.get("www-authenticate"));
  assert.equal(challenge?.scheme, "Bearer", show(first));
  const metadataUrl = challenge.params.resource_metadata;
  assert.equal(metadataUrl, `${resource}/.well-known/oauth-protected-resource`, show(first));

  // 2. The protected-resource metadata, answered at the edge.
  const at = new URL(metadataUrl);
  const meta = await notForwarded(origin, () => call(at.origin, at.pathname));
  assert.equal(meta.status, 200, show(meta));
  assert.equal(meta.headers.get("content-type"), "application/json");
  assert.deepEqual(meta.json, {
    resource,
    authorization_servers: [as.url],
    bearer_methods_supported: ["header"],
    scopes_supported: ["mcp:tools"],
  });

  // 3. The authorization server's metadata (RFC 8414), found from its issuer.
  const asMeta = await (await fetch(`${meta.json.authorization_servers[0]}/.well-known/oauth-authorization-server`)).json();
  assert.equal(asMeta.issuer, as.url);

  // 4. A token for this resource.
  const tokenResponse = await fetch(asMeta.token_endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", resource: meta.json.resource, scope: "mcp:tools" }),
  });
  assert.equal(tokenResponse.status, 200);
  const { access_token } = await tokenResponse.json();

  // 5. The MCP request with it reaches the server, with the caller's identity.
  const ok = await call(gw.url, "/mcp", { method: "POST", body: "{}", token: access_token });
  const rec = assertForwarded(ok, "/mcp");
  assert.equal(rec.headers["x-auth-subject"], "mcp-client", show(ok));
  assert.equal(rec.headers["x-auth-issuer"], as.url, show(ok));
});

test("a token the authorization server issued for another resource is refused (RFC 8707 audience)", async () => {
  const r = await fetch(`${as.url}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", resource: "https://other-mcp.example.test", scope: "mcp:tools" }),
  });
  const { access_token } = await r.json();
  const refused = await notForwarded(origin, () => call(gw.url, "/mcp", { token: access_token }));
  assertInvalidToken(refused);
  assert.equal(refused.json.error_description, "audience not allowed", show(refused));
  const w = parseWwwAuthenticate(refused.headers.get("www-authenticate"));
  assert.equal(w.params.resource_metadata, `${resource}/.well-known/oauth-protected-resource`, show(refused));
});

test("a token for this resource without the route's scope -> 403 insufficient_scope naming it", async () => {
  const r = await fetch(`${as.url}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", resource, scope: "mcp:other" }),
  });
  const { access_token } = await r.json();
  const refused = await notForwarded(origin, () => call(gw.url, "/mcp", { token: access_token }));
  assert.equal(refused.status, 403, show(refused));
  const w = parseWwwAuthenticate(refused.headers.get("www-authenticate"));
  assert.equal(w.params.error, "insufficient_scope", show(refused));
  assert.equal(w.params.scope, "mcp:tools", show(refused));
});

/** A client-credentials token from the authorization server for `forResource`. */
async function tokenFor(forResource, scope = "mcp:tools") {
  const r = await fetch(`${as.url}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", resource: forResource, scope }),
  });
  assert.equal(r.status, 200);
  return (await r.json()).access_token;
}

test("one gateway under two names: a token is accepted only at the host it was issued for", async () => {
  const port = new URL(gw.url).port;
  const other = `localhost:${port}`; // the same gateway, as another origin
  const here = await tokenFor(resource);
  // Accepted here (and now in the verified-token cache)...
  assertForwarded(await call(gw.url, "/mcp", { token: here }), "/mcp");
  // ...and refused there: its resource is http://localhost:<port>.
  const refused = await notForwarded(origin, () =>
    tcpCall(gw.url, "/mcp", { host: other, headers: { authorization: `Bearer ${here}` } }));
  assert.equal(refused.status, 401, show(refused));
  assert.equal(refused.json.error_description, "audience not allowed", show(refused));
  const w = parseWwwAuthenticate(refused.headers.get("www-authenticate"));
  assert.equal(w.params.resource_metadata, `http://${other}/.well-known/oauth-protected-resource`, show(refused));
  // A token for that name is accepted there, and refused here.
  const there = await tokenFor(`http://${other}`);
  const ok = await tcpCall(gw.url, "/mcp", { host: other, headers: { authorization: `Bearer ${there}` } });
  assert.equal(ok.status, 200, show(ok));
  const back = await notForwarded(origin, () => call(gw.url, "/mcp", { token: there }));
  assertInvalidToken(back);
  // The first token still works where it belongs: the refusal elsewhere was not remembered.
  assertForwarded(await call(gw.url, "/mcp", { token: here }), "/mcp");
});
