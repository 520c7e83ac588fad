// A probe, not a benchmark: a V8 CPU profile of edgeguard's cache hit inside workerd,
// taken through the isolate's inspector while bench/in-isolate/driver.mjs runs 20,000
// reused-token requests (the in-isolate benchmark's setup: JWKS from memory, a canned origin).
// Prints self time by part (Rust/Wasm, edgeguard's JS, the driver, runtime natives) and the
// busiest functions; writes the profile for DevTools.
//
//   EDGEGUARD_KEEP_WASM_NAMES=1 EDGEGUARD_OUT_DIR=.work/names scripts/build.sh
//   node --experimental-websocket bench/probes/profile-cache-hit.mjs .work/names [none]
//
// A second argument names another of the driver's workloads (`none`: the 401 for a missing
// token; `bad`: a bad signature replayed, the remembered refusal).
// Names need a build that keeps them (above); the profile goes to .work/profile/.
import { Miniflare, Log, LogLevel } from "miniflare";
import { printSelfTime } from "./cpu-summary.mjs";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
const here = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const root = resolve(here, "..");
const work = join(root, ".work", "profile");
const DEAD = "http://127.0.0.1:9";
mkdirSync(join(work, "iso", "target"), { recursive: true });
execFileSync(process.execPath, [join(here, "mint.mjs"), "--out", join(work, "mint"), "--jwks-base", DEAD, "--count", "10"], { stdio: ["ignore", "ignore", "inherit"] });
const issuers = readFileSync(join(work, "mint", "issuers.json"), "utf8");
const jwks = {};
for (const { jwks_uri } of JSON.parse(issuers)) jwks[jwks_uri] = readFileSync(join(work, "mint", "www", new URL(jwks_uri).pathname), "utf8");
const reused = readFileSync(join(work, "mint", "tokens", "rs256-1.txt"), "utf8").split("\n").filter(Boolean);
execFileSync(process.execPath, [join(here, "corrupt-tokens.mjs"), join(work, "mint", "tokens", "rs256-1.txt"), join(work, "bad.txt")], { stdio: "ignore" });
const bad = readFileSync(join(work, "bad.txt"), "utf8").split("\n").filter(Boolean);
const entryDir = resolve(process.argv[2] || join(root, "build"));
const workload = process.argv[3] || "reused";
copyFileSync(join(here, "in-isolate", "driver.mjs"), join(work, "iso", "driver.mjs"));
for (const f of readdirSync(entryDir)) if (f === "index.js" || f.endsWith(".wasm")) copyFileSync(join(entryDir, f), join(work, "iso", "target", f));
const mf = new Miniflare({
  name: "driver", scriptPath: join(work, "iso", "driver.mjs"), modules: true,
  modulesRules: [{ type: "ESModule", include: ["**/*.js", "**/*.mjs"] }, { type: "CompiledWasm", include: ["**/*.wasm"] }],
  modulesRoot: join(work, "iso"), compatibilityDate: "2025-09-01",
  bindings: { ISSUERS: issuers, ORIGIN: `${DEAD}/origin` }, kvNamespaces: ["JWKS_CACHE"], kvPersist: false,
  host: "127.0.0.1", port: 0, cf: false, liveReload: false, logRequests: false, log: new Log(LogLevel.WARN),
  inspectorPort: 9339,
});
await mf.ready;
setTimeout(() => {
  console.error("profile-cache-hit: no result after 240 s");
  process.exit(1);
}, 240_000).unref();
const post = async (path, body) => JSON.parse(await (await mf.dispatchFetch(`http://driver.bench${path}`, { method: "POST", body })).text());
await post("/load", JSON.stringify({ jwks, tokens: { reused, bad } }));
for (let i = 0; i < 3; i++) await post(`/batch?workload=${workload}&n=5000&offset=0`);
const targets = await (await fetch("http://127.0.0.1:9339/json")).json();
const t = targets.find((x) => /driver/.test(x.title ?? x.id)) ?? targets[0];
const ws = new WebSocket(t.webSocketDebuggerUrl);
await new Promise((r) => (ws.onopen = r));
let id = 0; const pending = new Map();
ws.onmessage = (m) => { const d = JSON.parse(m.data); if (d.id && pending.has(d.id)) { pending.get(d.id)(d); pending.delete(d.id); } };
const call = (method, params = {}) => new Promise((r) => { const i = ++id; pending.set(i, r); ws.send(JSON.stringify({ id: i, method, params })); });
await call("Profiler.enable");
await call("Profiler.setSamplingInterval", { interval: 50 });
await call("Profiler.start");
const N = 20000;
await post(`/batch?workload=${workload}&n=${N}&offset=0`);
const { result } = await call("Profiler.stop");
ws.close();
await mf.dispose();
const p = result.profile;
writeFileSync(join(work, `${workload}.cpuprofile`), JSON.stringify(p));
printSelfTime(p, {
  header: "",
  isOurs: (url) => url.includes("target/index.js"),
  ours: "edgeguard JS (js/shim.mjs, js/apply.mjs, wasm-bindgen glue)",
  extra: (f) => (f.url.includes("driver.mjs") ? "the driver" : undefined),
});
console.log(`profile: ${join(work, `${workload}.cpuprofile`)}`);
