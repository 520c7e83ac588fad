// First requests of fresh gateways (build/ in workerd via the e2e harness), to see what the
// first request of an isolate costs and why:
// * an RS256 token whose JWKS must be fetched (KV miss: a KV read, then the network);
// * the same with the keys already in KV (a new isolate after another wrote them: one KV
//   read, no fetch);
// * the jose Worker of the benchmark with the same token (no KV: the network only);
// * in a gateway whose first request (keys in KV) is done, a second issuer's first request
//   (keys in KV too): the same I/O with the code already run once;
// * a request without a token (401, no I/O) and a public route (forwarded, no token);
// * the platform's floors for those two: the JS passthrough and the JS 401 + log line Workers.
// Each line: status:milliseconds for requests 1..4 of one fresh gateway; then the median
// first request per row.
//
//   node bench/first-request.mjs [repetitions=3]
//   BASELINE=.work/base/index.js node bench/first-request.mjs 5     # A/B against another build
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startOrigin, startJwksServer, startGateway, issuerItem, fixtureKey, mint, call, tempKvDir, sleep } from "../tests/e2e/lib/index.mjs";
import { WORKERS, bundleWorker } from "./build-workers.mjs";

// BASELINE=<another build's index.js>: every edgeguard row also runs that build, interleaved
// with build/, its rows marked "(baseline)": an A/B of a start-up change.
const builds = [["", undefined], ...(process.env.BASELINE ? [[" (baseline)", process.env.BASELINE]] : [])];
const reps = Math.min(Math.max(Number(process.argv[2] ?? 3) || 3, 1), 20);
const origin = await startOrigin();
const key = await fixtureKey("rsa2048-a");
const jwks = await startJwksServer();
jwks.set("/j.json", { json: { keys: [key.jwk()] } });
const iss = "https://first.test/";
const token = await mint(key, {}, {}, { iss });
const iss2 = "https://second.test/";
const token2 = await mint(key, {}, {}, { iss: iss2 });
const issuers = [issuerItem(iss, `${jwks.url}/j.json`), issuerItem(iss2, `${jwks.url}/j.json`)];
const scratchDir = mkdtempSync(join(tmpdir(), "edgeguard-first-"));
const bundled = async (name) => bundleWorker(WORKERS[name], join(scratchDir, name, "index.js"), {});
const jose = await bundled("jose-worker");
// The platform's own first request: JS Workers that only forward, or only refuse (and log).
const passthrough = await bundled("js-passthrough");
const rejectLog = await bundled("js-reject-log");
const kv = tempKvDir();
const firsts = {};

async function fresh(label, token, { vars = {}, script, kvPersist, then, thenLabel } = {}) {
  const g = await startGateway({ issuers, origin, vars, script, kvPersist });
  const times = [];
  try {
    for (let i = 0; i < 4; i++) {
      const t0 = performance.now();
      // `then`: every request after the first carries that token instead.
      const r = await call(g.url, "/x", { token: i > 0 && then ? then : token, timeoutMs: 10000 });
      const ms = performance.now() - t0;
      if (i === 0) (firsts[label] ??= []).push(ms);
      if (i === 1 && then) (firsts[thenLabel] ??= []).push(ms);
      times.push(`${r.status}:${ms.toFixed(1)}`);
    }
    // The KV write is the runtime's after the response (waitUntil): let it land.
    if (kvPersist) await sleep(300);
  } finally {
    await g.close();
  }
  console.log(`${label.padEnd(40)} ${times.join("  ")}`);
}

try {
  // One gateway writes the keys into the persisted KV the "keys in KV" row reads.
  await fresh("(writes the keys into KV)", token, { kvPersist: kv.dir });
  await fresh("(writes the second issuer's keys into KV)", token2, { kvPersist: kv.dir });
  for (let i = 0; i < reps; i++) {
    for (const [tag, script] of builds) {
      await fresh(`RS256, JWKS fetched (KV miss)${tag}`, token, { script });
      await fresh(`RS256, keys in KV (no fetch)${tag}`, token, { script, kvPersist: kv.dir, then: token2, thenLabel: `  then the second issuer's first${tag}` });
      await fresh(`no token -> 401 (no I/O)${tag}`, undefined, { script });
      await fresh(`public route -> forwarded${tag}`, undefined, { script, vars: { DEFAULT_ROUTE: '{"auth":"public"}' } });
    }
    await fresh("jose Worker, JWKS fetched", token, { script: jose });
    await fresh("JS passthrough (the floor of a forward)", undefined, { script: passthrough });
    await fresh("JS 401 + log line (the floor of a 401)", undefined, { script: rejectLog });
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
  console.log("\nmedian first request (ms):");
  for (const [label, xs] of Object.entries(firsts)) {
    if (!label.startsWith("(")) console.log(`  ${label.padEnd(40)} ${median(xs).toFixed(1)}  (${xs.length} gateways)`);
  }
} finally {
  kv.cleanup();
  await jwks.close();
  await origin.close();
}
