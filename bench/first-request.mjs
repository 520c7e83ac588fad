// First requests of fresh gateways (build/ in workerd via the e2e harness), to see what the
// first request of an isolate costs and why: an RS256 token whose JWKS must be fetched (KV
// miss), a request without a token (401, no I/O) and a public route (forwarded, no token).
// Each line: status:milliseconds for requests 1..4 of one fresh gateway.
//
//   node bench/first-request.mjs [repetitions=3]
import { startOrigin, startJwksServer, startGateway, issuerItem, fixtureKey, mint, call } from "../tests/e2e/lib/index.mjs";

const reps = Math.min(Math.max(Number(process.argv[2] ?? 3) || 3, 1), 20);
const origin = await startOrigin();
const key = await fixtureKey("rsa2048-a");
const jwks = await startJwksServer();
jwks.set("/j.json", { json: { keys: [key.jwk()] } });
const iss = "https://first.test/";
const token = await mint(key, {}, {}, { iss });
const issuers = [issuerItem(iss, `${jwks.url}/j.json`)];

async function fresh(label, token, vars = {}) {
  const g = await startGateway({ issuers, origin, vars });
  const times = [];
  try {
    for (let i = 0; i < 4; i++) {
      const t0 = performance.now();
      const r = await call(g.url, "/x", { token, timeoutMs: 10000 });
      times.push(`${r.status}:${(performance.now() - t0).toFixed(1)}`);
    }
  } finally {
    await g.close();
  }
  console.log(`${label.padEnd(34)} ${times.join("  ")}`);
}

try {
  for (let i = 0; i < reps; i++) {
    await fresh("RS256, JWKS fetched (KV miss)", token);
    await fresh("no token -> 401 (no I/O)", undefined);
    await fresh("public route -> forwarded", undefined, { DEFAULT_ROUTE: '{"auth":"public"}' });
  }
} finally {
  await jwks.close();
  await origin.close();
}
