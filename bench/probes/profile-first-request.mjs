// A probe, not a benchmark: a V8 CPU profile of the first request of a new edgeguard isolate
// in workerd, taken through its inspector: an RS256 token whose keys are neither in memory
// nor in KV (a KV read, then the JWKS fetch from a loopback server), forwarded to a loopback
// origin. Prints self time by part and the busiest functions, to see what the first run of
// the async path costs beyond its I/O (bench/first-request.mjs measures how much that is).
//
//   EDGEGUARD_KEEP_WASM_NAMES=1 EDGEGUARD_OUT_DIR=.work/names scripts/build.sh
//   node --experimental-websocket bench/probes/profile-first-request.mjs .work/names
//
// The profile goes to .work/profile/first-request.cpuprofile (open it in DevTools).
import { Miniflare, Log, LogLevel } from "miniflare";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { printSelfTime } from "./cpu-summary.mjs";
import { startOrigin, startJwksServer, issuerItem, fixtureKey, mint } from "../../tests/e2e/lib/index.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const work = join(root, ".work", "profile");
mkdirSync(work, { recursive: true });
const entryDir = resolve(process.argv[2] || join(root, "build"));
setTimeout(() => {
  console.error("profile-first-request: no result after 120 s");
  process.exit(1);
}, 120_000).unref();

const origin = await startOrigin();
const key = await fixtureKey("rsa2048-a");
const jwks = await startJwksServer();
jwks.set("/j.json", { json: { keys: [key.jwk()] } });
const iss = "https://first.test/";
const token = await mint(key, {}, {}, { iss });
const mf = new Miniflare({
  scriptPath: join(entryDir, "index.js"), modules: true, modulesRoot: entryDir,
  modulesRules: [{ type: "ESModule", include: ["**/*.js"] }, { type: "CompiledWasm", include: ["**/*.wasm"] }],
  compatibilityDate: "2025-09-01",
  bindings: { ISSUERS: JSON.stringify([issuerItem(iss, `${jwks.url}/j.json`)]), ORIGIN: origin.url },
  kvNamespaces: ["JWKS_CACHE"], kvPersist: false, cf: false, liveReload: false, logRequests: false,
  host: "127.0.0.1", port: 0, log: new Log(LogLevel.WARN), inspectorPort: 9341,
  unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
});
try {
  await mf.ready;
  const url = (await mf.unsafeGetDirectURL()).href;
  const targets = await (await fetch("http://127.0.0.1:9341/json")).json();
  const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
  await new Promise((r) => (ws.onopen = r));
  let id = 0;
  const pending = new Map();
  ws.onmessage = (m) => {
    const d = JSON.parse(m.data);
    if (d.id && pending.has(d.id)) (pending.get(d.id)(d), pending.delete(d.id));
  };
  const call = (method, params = {}) => new Promise((r) => { const i = ++id; pending.set(i, r); ws.send(JSON.stringify({ id: i, method, params })); });
  await call("Profiler.enable");
  await call("Profiler.setSamplingInterval", { interval: 50 });
  await call("Profiler.start");
  const t0 = performance.now();
  const r = await fetch(`${url}x`, { headers: { authorization: `Bearer ${token}` } });
  await r.arrayBuffer();
  const ms = performance.now() - t0;
  const { result } = await call("Profiler.stop");
  ws.close();
  const p = result.profile;
  writeFileSync(join(work, "first-request.cpuprofile"), JSON.stringify(p));
  printSelfTime(p, {
    header: `first request: status ${r.status}, ${ms.toFixed(1)} ms; `,
    isOurs: (url) => url.endsWith("index.js"),
    ours: "edgeguard JS (shim, apply, pack, wasm-bindgen glue)",
    top: 25,
  });
} finally {
  await mf.dispose();
  await jwks.close();
  await origin.close();
}
