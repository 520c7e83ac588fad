// Hosts the worker under Miniflare 4 (real workerd) on a 127.0.0.1 socket
// straight to the worker (unsafeDirectSockets), with the JWKS_CACHE KV
// namespace and ISSUERS / ORIGIN / vars bindings.
//
// EDGEGUARD_SCRIPT overrides the entry module (default: build/index.js).
import { Miniflare, Log, LogLevel } from "miniflare";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { ROOT } from "./tokens.mjs";

export const SCRIPT = resolve(process.env.EDGEGUARD_SCRIPT ?? join(ROOT, "build", "index.js"));
export const scriptExists = () => existsSync(SCRIPT);

/**
 * The opt-in cargo features (EDGEGUARD_FEATURES) the build of `script` has, as
 * scripts/build.sh records them beside it in `.edgeguard-features` (one comma-separated
 * line). Throws when the file is missing: a test must not guess which build it runs against.
 */
export function builtFeatures(script = SCRIPT) {
  const file = join(dirname(script), ".edgeguard-features");
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: build ${dirname(script)} with scripts/build.sh, which records its EDGEGUARD_FEATURES there`);
  }
  return readFileSync(file, "utf8").trim().split(",").filter(Boolean);
}
export const hasFeature = (name, script = SCRIPT) => builtFeatures(script).includes(name);

const MODULE_RULES = [
  { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
  { type: "CompiledWasm", include: ["**/*.wasm"] },
  { type: "Text", include: ["**/*.txt", "**/*.html"] },
  { type: "Data", include: ["**/*.bin"] },
];

/** A temp directory for kvPersist (removed with `cleanup()`). */
export function tempKvDir() {
  const dir = mkdtempSync(join(tmpdir(), "edgeguard-kv-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * @param {object} o
 * @param {object[]|string|undefined} o.issuers  array (JSON-encoded here), raw string, or undefined (binding absent)
 * @param {object} [o.vars]       extra bindings (strings, numbers or booleans, like wrangler [vars])
 * @param {string|{url:string}} [o.origin]  ORIGIN; omitted when falsy (route mode)
 * @param {string} [o.kvPersist]  directory shared between instances; default in-memory
 * @param {number} [o.port]       loopback port of the direct socket; default 0 (any free port)
 * @param {boolean} [o.keepLogs]  collect the worker's output in `logs` (default); false drops
 *                                it, for long runs (bench/host.mjs) where it would only grow
 * @param {string[]|object} [o.kvNamespaces]  more KV bindings besides JWKS_CACHE (e.g. DENY_LIST);
 *                                an object maps bindings to namespace ids (as wrangler.toml does)
 * @param {string[]} [o.r2Buckets]     R2 bindings (a binding of the wrong kind, for tests)
 * @param {"recorder"|"local"} [o.metrics]  a METRICS binding: "local" is Miniflare's own
 *                                Analytics Engine simulator (it drops every point); "recorder"
 *                                a stand-in with the same writeDataPoint that prints each point
 *                                it receives as a `DATAPOINT <json>` line (see `dataPoints`)
 * @returns {Promise<{url, mf, logs: string[], kv: (name?: string) => Promise<KVNamespace>, close}>}
 */
export async function startGateway({ issuers, vars = {}, origin, kvPersist, script = SCRIPT, port = 0, keepLogs = true, kvNamespaces = [], r2Buckets = [], metrics } = {}) {
  const logs = [];
  const worker = gatewayWorker("worker", { issuers, vars, origin, script, port, kvNamespaces, r2Buckets });
  const shared = sharedOptions({ logs, keepLogs, kvPersist });
  let mf;
  if (metrics === "recorder") {
    // A wrapped binding: workerd builds it in the gateway's isolate from this module, as
    // Miniflare builds its own Analytics Engine simulator. Printing is synchronous, so
    // every point the binding receives is in the logs when the response is.
    worker.wrappedBindings = { METRICS: { scriptName: "metrics-recorder" } };
    const recorder = {
      name: "metrics-recorder",
      modules: true,
      script: "export default function () { return { writeDataPoint(point) { console.log('DATAPOINT ' + JSON.stringify(point)); } }; }",
    };
    mf = new Miniflare({ ...shared, workers: [worker, recorder] });
  } else {
    if (metrics === "local") worker.analyticsEngineDatasets = { METRICS: { dataset: "edgeguard" } };
    mf = new Miniflare({ ...shared, ...worker });
  }
  await mf.ready;
  const url = (await mf.unsafeGetDirectURL("worker")).href.replace(/\/$/, "");
  let closed = false;
  return {
    url,
    mf,
    logs,
    kv: (name = "JWKS_CACHE") => mf.getKVNamespace(name),
    /** The data points the "recorder" METRICS binding received so far, in order. */
    dataPoints: () => logs.filter((l) => l.startsWith("DATAPOINT ")).map((l) => JSON.parse(l.slice(10))),
    async close() {
      if (closed) return;
      closed = true;
      await mf.dispose();
    },
  };
}

/** The gateway's Miniflare worker options (its bindings, its direct socket on `port`). */
function gatewayWorker(name, { issuers, vars = {}, origin, script = SCRIPT, port = 0, kvNamespaces = [], r2Buckets = [] }) {
  const bindings = { ...vars };
  if (issuers !== undefined) bindings.ISSUERS = typeof issuers === "string" ? issuers : JSON.stringify(issuers);
  const originUrl = typeof origin === "string" ? origin : origin?.url;
  if (originUrl) bindings.ORIGIN = originUrl;
  return {
    name,
    scriptPath: script,
    modules: true,
    modulesRules: MODULE_RULES,
    modulesRoot: dirname(script),
    compatibilityDate: "2025-09-01",
    bindings,
    kvNamespaces: Array.isArray(kvNamespaces) ? ["JWKS_CACHE", ...kvNamespaces] : { JWKS_CACHE: "JWKS_CACHE", ...kvNamespaces },
    r2Buckets,
    unsafeDirectSockets: [{ host: "127.0.0.1", port }],
    stripCfConnectingIp: false,
  };
}

/** Options every Miniflare here shares: loopback, no extras, the workers' output in `logs`. */
function sharedOptions({ logs, keepLogs = true, kvPersist }) {
  const collect = (stream) => {
    let buf = "";
    stream.setEncoding("utf8");
    stream.on("data", (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (keepLogs) logs.push(line);
        if (process.env.EDGEGUARD_E2E_VERBOSE) process.stderr.write(`[worker] ${line}\n`);
      }
    });
  };
  return {
    kvPersist: kvPersist ? resolve(kvPersist) : false,
    host: "127.0.0.1",
    port: 0,
    cf: false,
    liveReload: false,
    logRequests: false,
    log: new Log(process.env.EDGEGUARD_E2E_VERBOSE ? LogLevel.DEBUG : LogLevel.ERROR),
    handleRuntimeStdio: (stdout, stderr) => {
      collect(stdout);
      collect(stderr);
    },
  };
}

/** Stand-ins for the DPOP_REPLAY Durable Object that never give the gateway its answer. */
const BROKEN_LEDGERS = {
  // Every call throws: the stub's fetch rejects.
  throws: "export class DpopReplay { fetch() { throw new Error('ledger down for the test'); } }",
  // Answers "first" only after 20 s, long past DPOP_REPLAY_TIMEOUT_MS.
  slow: "export class DpopReplay { fetch() { return new Promise((r) => setTimeout(() => r(new Response(null, { status: 201 })), 20000)); } }",
};

/**
 * Several gateway instances (own workers, so own isolates and caches) in one Miniflare,
 * each bound to the same DPOP_REPLAY Durable Object namespace, as a fleet's isolates are:
 * the first instance defines the class (SQLite storage), the others bind it through its
 * `scriptName`. With `ledger: "throws" | "slow"`, every instance binds a stand-in instead.
 * `instanceVars[i]` adds to `vars` for instance i; `durableObjectsPersist`: a directory for
 * the objects' SQLite files (default in memory).
 * @returns {Promise<{urls: string[], logs: string[], mf, close}>}
 */
export async function startFleet({ issuers, vars = {}, instanceVars = [], origin, instances = 2, ledger = "shared", durableObjectsPersist, script = SCRIPT } = {}) {
  const logs = [];
  const names = Array.from({ length: instances }, (_, i) => `gateway-${i}`);
  const workers = names.map((name, i) => gatewayWorker(name, { issuers, vars: { ...vars, ...instanceVars[i] }, origin, script }));
  if (ledger === "shared") {
    workers[0].durableObjects = { DPOP_REPLAY: { className: "DpopReplay", useSQLite: true } };
    for (const w of workers.slice(1)) w.durableObjects = { DPOP_REPLAY: { className: "DpopReplay", scriptName: names[0], useSQLite: true } };
  } else {
    const script = BROKEN_LEDGERS[ledger];
    if (!script) throw new Error(`startFleet: ledger must be shared, ${Object.keys(BROKEN_LEDGERS).join(" or ")}`);
    workers.push({ name: "ledger-stand-in", modules: true, script, durableObjects: { LEDGER: "DpopReplay" } });
    for (const w of workers.slice(0, instances)) w.durableObjects = { DPOP_REPLAY: { className: "DpopReplay", scriptName: "ledger-stand-in" } };
  }
  const mf = new Miniflare({ ...sharedOptions({ logs }), durableObjectsPersist: durableObjectsPersist ? resolve(durableObjectsPersist) : false, workers });
  await mf.ready;
  const urls = [];
  for (const name of names) urls.push((await mf.unsafeGetDirectURL(name)).href.replace(/\/$/, ""));
  let closed = false;
  return {
    urls,
    mf,
    logs,
    async close() {
      if (closed) return;
      closed = true;
      await mf.dispose();
    },
  };
}
