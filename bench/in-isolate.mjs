#!/usr/bin/env node
// The in-isolate benchmark (issue 13): workerd CPU per request of each Worker, measured
// inside one workerd isolate per Worker, with no socket, no network and no origin in the
// figure. Run it with scripts/bench-isolate.sh (which builds what is missing); directly:
//   node bench/in-isolate.mjs --rust-passthrough bench/rust-passthrough/build/index.js
//        [--candidate other/build/index.js [--candidate-label NAME] [--candidate-metrics]]
//        [--quick] [--rounds N]
//        [--n-fast N] [--n-fresh N] [--out DIR]
//
// Per Worker one Miniflare (so one workerd process, whose /proc CPU is that Worker's alone)
// runs bench/in-isolate/driver.mjs as its main module, which imports the Worker's entry and
// calls its fetch handler `n` times per POST /batch. The host reads workerd's utime+stime
// (/proc/<pid>/stat) before and after each batch: CPU per request = delta / n. Rounds are
// interleaved (round r runs every Worker x every workload) and the figure is the best round:
// on a shared machine noise only ever adds CPU.
import { Miniflare, Log, LogLevel } from "miniflare";
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { bundleWorker, WORKERS } from "./build-workers.mjs";
import { schedUs, workerdChildren } from "./procfs.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const { values: o } = parseArgs({
  options: {
    "rust-passthrough": { type: "string", default: join(here, "rust-passthrough", "build", "index.js") },
    edgeguard: { type: "string", default: join(root, "build", "index.js") },
    candidate: { type: "string", default: process.env.CANDIDATE || undefined },
    "candidate-label": { type: "string", default: process.env.CANDIDATE_LABEL || "candidate" },
    // The candidate runs with a METRICS binding (Miniflare's local Analytics Engine, which
    // takes each point and drops it): with CANDIDATE = edgeguard's own build, the A/B is what
    // writing one data point per request costs inside the isolate.
    "candidate-metrics": { type: "boolean", default: process.env.CANDIDATE_METRICS === "1" },
    quick: { type: "boolean", default: false },
    rounds: { type: "string" },
    "n-fast": { type: "string" },
    "n-fresh": { type: "string" },
    out: { type: "string" },
    // Comma-separated workload ids (see WORKLOADS; "reused" always runs, the passthroughs'
    // row): fewer workloads leave time for more rounds, for a small A/B.
    workloads: { type: "string" },
    // Each Worker's rounds are spread over this many workerd processes, started afresh in
    // turn: a process keeps a speed of its own for its lifetime (an A/A run of one build
    // against itself, one process each, differed by a median 5.5 µs on the 401 row, 28 of
    // 30 rounds one way), so one process per build would mistake that for the builds'.
    processes: { type: "string" },
  },
});
const QUICK = o.quick;
// Sized so a batch is ~0.2-2 s of CPU and a full run takes ~6 min on 2 shared cores, QUICK
// ~1 min (with a candidate); more rounds give noise more chances to miss one.
const ROUNDS = Number(o.rounds ?? (QUICK ? 6 : 15));
const N_FAST = Number(o["n-fast"] ?? (QUICK ? 5000 : 12000)); // reused / none / bad: cheap requests
const N_FRESH = Number(o["n-fresh"] ?? (QUICK ? 700 : 2000)); // never-seen tokens: a signature check each
const PROCESSES = Math.min(ROUNDS, Number(o.processes ?? (QUICK ? 2 : 3)));
const BATCH_TIMEOUT_MS = 120_000;
const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const date = new Date().toISOString().slice(0, 10);
const work = join(root, ".work", "bench", `in-isolate-${stamp}`);
const outDir = resolve(o.out ?? (QUICK ? join(root, ".work", "bench", "in-isolate-quick") : join(here, "results")));
const log = (...a) => console.error("==>", ...a);
function die(msg, next, w) {
  if (w?.tail) console.error(`--- last output of ${w.label}'s workerd:\n${w.tail}\n---`);
  console.error(`in-isolate: ${msg}${next ? `\n  ${next}` : ""}`);
  process.exit(1);
}
for (const [k, v] of Object.entries({ ROUNDS, N_FAST, N_FRESH, PROCESSES }))
  if (!Number.isInteger(v) || v < 1) die(`${k} must be a positive integer, got ${v}`);

// ------------------------------------------------------------------ workloads and Workers
// An unreachable port: if anything escaped the driver's fetch it would fail, not pass.
const DEAD = "http://127.0.0.1:9";
const ALL_WORKLOADS = [
  { id: "reused", label: "1 RS256 token reused", status: 200, n: N_FAST },
  { id: "none", label: "no token (401)", status: 401, n: N_FAST },
  { id: "fresh-rs256", label: "never-seen RS256 (2048)", status: 200, n: N_FRESH, fresh: "rs256" },
  { id: "fresh-es256", label: "never-seen ES256", status: 200, n: N_FRESH, fresh: "es256" },
  { id: "fresh-eddsa", label: "never-seen EdDSA", status: 200, n: N_FRESH, fresh: "eddsa" },
  { id: "bad", label: "bad RS256 signature, replayed (401)", status: 401, n: N_FAST },
];
const PASSTHROUGH_WORKLOADS = ["reused"]; // they ignore tokens: every other row would repeat it
const chosen = o.workloads?.split(",").map((w) => w.trim()).filter(Boolean);
for (const id of chosen ?? [])
  if (!ALL_WORKLOADS.some((l) => l.id === id)) die(`unknown workload ${id}`, `Known: ${ALL_WORKLOADS.map((l) => l.id).join(", ")}.`);
const WORKLOADS = ALL_WORKLOADS.filter((l) => !chosen || l.id === "reused" || chosen.includes(l.id));

const need = (file, what) => existsSync(file) || die(`${what}: ${file} not found`, "Run scripts/bench-isolate.sh (it builds it), or pass its path.");
need(resolve(o["rust-passthrough"]), "the Rust passthrough");
need(resolve(o.edgeguard), "edgeguard's build");
if (o.candidate) need(resolve(o.candidate), "the candidate build");

mkdirSync(work, { recursive: true });
log(`bundling the JavaScript Workers into ${work}`);
const jsPass = await bundleWorker(WORKERS["js-passthrough"], join(work, "bundles", "js-passthrough", "index.js"));
const jose = await bundleWorker(WORKERS["jose-worker"], join(work, "bundles", "jose-worker", "index.js"));
const jsReject = await bundleWorker(WORKERS["js-reject-log"], join(work, "bundles", "js-reject-log", "index.js"));
const jsRejectQuiet = await bundleWorker(WORKERS["js-reject"], join(work, "bundles", "js-reject", "index.js"));
const workers = [
  { id: "js", label: "JS passthrough", entry: jsPass, workloads: PASSTHROUGH_WORKLOADS, passthrough: true },
  // What a 401 built in JS with one console.log costs: the floor of the 401 rows. It ignores
  // tokens, so on the bad-signature row it shows what a request carrying one costs the driver
  // and the runtime before any Worker reads it.
  { id: "js401", label: "JS 401 + log line", entry: jsReject, workloads: ["none", "bad"] },
  // The same without the console.log: the difference is what the runtime charges for the line.
  { id: "js401q", label: "JS 401, no log line", entry: jsRejectQuiet, workloads: ["none", "bad"] },
  { id: "rust", label: "Rust passthrough", entry: resolve(o["rust-passthrough"]), workloads: PASSTHROUGH_WORKLOADS, passthrough: true },
  { id: "jose", label: "jose", entry: jose },
  { id: "edgeguard", label: "edgeguard", entry: resolve(o.edgeguard) },
];
if (o.candidate) workers.push({ id: "candidate", label: o["candidate-label"], entry: resolve(o.candidate), metrics: o["candidate-metrics"] });
for (const w of workers) w.workloads = (w.workloads ?? WORKLOADS.map((l) => l.id)).filter((id) => WORKLOADS.some((l) => l.id === id));
for (let i = workers.length - 1; i >= 0; i--) if (!workers[i].workloads.length) workers.splice(i, 1);

// ------------------------------------------------------------------ keys and tokens
// One slice for the warm-up, one per round (just one token when no never-seen workload runs).
const freshCount = WORKLOADS.some((l) => l.fresh) ? (ROUNDS + 1) * N_FRESH : 1;
log(`minting keys and ${freshCount} tokens per algorithm (bench/mint.mjs; RSA signing takes a while)`);
execFileSync(process.execPath, [join(here, "mint.mjs"), "--out", join(work, "mint"), "--jwks-base", DEAD, "--count", String(freshCount)], { stdio: ["ignore", "ignore", "inherit"] });
const readTokens = (f) => readFileSync(join(work, "mint", "tokens", f), "utf8").split("\n").filter(Boolean);
execFileSync(process.execPath, [join(here, "corrupt-tokens.mjs"), join(work, "mint", "tokens", "rs256-1.txt"), join(work, "bad.txt")], { stdio: "ignore" });
const issuers = readFileSync(join(work, "mint", "issuers.json"), "utf8");
const jwks = {};
// the driver answers each issuer's jwks_uri with the file mint.mjs wrote for it
for (const { jwks_uri } of JSON.parse(issuers)) jwks[jwks_uri] = readFileSync(join(work, "mint", "www", new URL(jwks_uri).pathname), "utf8");
const tokens = {
  reused: readTokens("rs256-1.txt"),
  bad: readFileSync(join(work, "bad.txt"), "utf8").split("\n").filter(Boolean),
};
for (const l of WORKLOADS) if (l.fresh) tokens[l.id] = readTokens(`${l.fresh}-${freshCount}.txt`);

// ------------------------------------------------------------------ workerd processes
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
/** utime + stime of a process (all its threads), in µs; clock-tick resolution. */
function cpuUs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // f[0] is field 3 (state)
  return ((Number(f[11]) + Number(f[12])) * 1e6) / CLK_TCK;
}


const MODULE_RULES = [
  { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
  { type: "CompiledWasm", include: ["**/*.wasm"] },
];
async function start(w) {
  w.tail = "";
  // driver.mjs imports ./target/index.js: the Worker's entry and its Wasm, copied beside it
  const dir = join(work, "isolates", w.id);
  mkdirSync(join(dir, "target"), { recursive: true });
  copyFileSync(join(here, "in-isolate", "driver.mjs"), join(dir, "driver.mjs"));
  for (const f of readdirSync(dirname(w.entry)))
    if (f === basename(w.entry) || f.endsWith(".wasm")) copyFileSync(join(dirname(w.entry), f), join(dir, "target", f === basename(w.entry) ? "index.js" : f));
  const before = new Set(workerdChildren());
  const mf = new Miniflare({
    name: "driver",
    scriptPath: join(dir, "driver.mjs"),
    modules: true,
    modulesRules: MODULE_RULES,
    modulesRoot: dir,
    compatibilityDate: "2025-09-01",
    bindings: { ISSUERS: issuers, ORIGIN: `${DEAD}/origin` },
    kvNamespaces: ["JWKS_CACHE"],
    ...(w.metrics ? { analyticsEngineDatasets: { METRICS: { dataset: "bench" } } } : {}),
    kvPersist: false,
    host: "127.0.0.1",
    port: 0,
    cf: false,
    liveReload: false,
    logRequests: false,
    log: new Log(LogLevel.WARN),
    // The Workers' own logging (edgeguard logs every refusal) is CPU they spend, so it stays;
    // its output is kept only as a tail, printed if something fails.
    handleRuntimeStdio: (...streams) => {
      for (const st of streams) {
        st.setEncoding("utf8");
        st.on("data", (d) => (w.tail = (w.tail + d).slice(-4000)));
      }
    },
  });
  await mf.ready;
  const pids = workerdChildren().filter((p) => !before.has(p));
  if (pids.length !== 1) die(`expected one new workerd process for ${w.label}, found ${pids.length}`);
  w.mf = mf;
  w.pid = pids[0];
  const r = await post(w, "/load", JSON.stringify({ jwks, tokens: { reused: tokens.reused, bad: tokens.bad } }));
  w.isClass = r.isClass;
  log(`${w.label}: workerd pid ${w.pid}, default export is ${w.isClass ? "a class (constructed per request)" : "an object"}`);
}
async function post(w, path, body) {
  const res = await w.mf.dispatchFetch(`http://driver.bench${path}`, { method: "POST", body, signal: AbortSignal.timeout(BATCH_TIMEOUT_MS) });
  const text = await res.text();
  if (res.status !== 200) die(`${w.label} ${path}: ${res.status} ${text.slice(0, 500)}`, undefined, w);
  return JSON.parse(text);
}

/** One batch, checked: the expected status every time, every 200 answered by the origin. */
async function batch(w, wl, slice) {
  // never-seen tokens: this batch's slice goes in first, outside the measurement
  if (wl.fresh) await post(w, "/load", JSON.stringify({ tokens: { [wl.id]: tokens[wl.id].slice(slice * wl.n, (slice + 1) * wl.n) } }));
  const c0 = cpuUs(w.pid), s0 = schedUs(w.pid);
  const r = await post(w, `/batch?workload=${wl.id}&n=${wl.n}&offset=0`);
  const c1 = cpuUs(w.pid), s1 = schedUs(w.pid);
  const what = `${w.label} / ${wl.label}`;
  if (r.n !== wl.n) die(`${what}: ${r.n} of ${wl.n} requests done (the driver's time bound cut the batch)`);
  const expected = w.passthrough ? 200 : wl.status;
  if (r.status[expected] !== wl.n) die(`${what}: statuses ${JSON.stringify(r.status)}, expected ${wl.n} x ${expected}`, "The Worker's last output is above.", w);
  const origin = expected === 200 ? wl.n : 0;
  if (r.origin !== origin) die(`${what}: the origin saw ${r.origin} requests, expected ${origin}`);
  if (w.isClass && r.constructed !== wl.n) die(`${what}: ${r.constructed} entrypoints constructed for ${wl.n} requests`);
  // per-batch figure from the scheduler's ns counter; /proc/<pid>/stat's 10 ms ticks would
  // quantize a 0.3 s batch by ±3 %, so they are kept as the run-wide cross-check (report)
  return { us: (s1 - s0) / wl.n, sched_us: s1 - s0, stat_us: c1 - c0, jwks: r.jwks, origin: r.origin, constructed: r.constructed };
}

const runs = [];
/** Starts a workerd for every Worker and warms it up (JWKS fetched and cached, V8 tiered up). */
async function startAll(generation) {
  for (const w of workers) {
    log(`starting workerd ${generation + 1}/${PROCESSES} for ${w.label} (${w.entry})`);
    await start(w);
  }
  // Fresh workloads warm up on their slice 0.
  for (const w of workers)
    for (const wl of WORKLOADS.filter((l) => w.workloads.includes(l.id))) {
      const r = await batch(w, wl, 0);
      log(`warm-up ${w.label} / ${wl.label}: ${r.us.toFixed(1)} µs per request, ${r.jwks} JWKS fetches`);
    }
}
const stopAll = () => Promise.all(workers.map((w) => w.mf?.dispose().catch(() => {})));
try {
  for (let round = 1; round <= ROUNDS; round++) {
    // Process generation g serves rounds (g*ROUNDS/PROCESSES, (g+1)*ROUNDS/PROCESSES].
    const generation = Math.floor(((round - 1) * PROCESSES) / ROUNDS);
    if (round === 1 || generation !== Math.floor(((round - 2) * PROCESSES) / ROUNDS)) {
      await stopAll();
      await startAll(generation);
    }
    log(`round ${round}/${ROUNDS}`);
    // rotate the order so no Worker always runs first (or right after the same neighbour)
    const order = workers.map((_, i) => workers[(i + round) % workers.length]);
    for (const wl of WORKLOADS)
      for (const w of order) {
        if (!w.workloads.includes(wl.id)) continue;
        const r = await batch(w, wl, round);
        runs.push({ round, process: generation + 1, worker: w.id, workload: wl.id, n: wl.n, ...r });
      }
  }
} finally {
  await stopAll();
}

// ------------------------------------------------------------------ report
const best = (w, l) => {
  const v = runs.filter((r) => r.worker === w && r.workload === l).map((r) => r.us);
  return v.length ? Math.min(...v) : null;
};
const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length ? (v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2) : null;
};
const floor = best("js", "reused");
// the two clocks over each Worker's whole run: they measure the same thing, so ~1.00
const clockRatio = Object.fromEntries(
  workers.map((w) => {
    const rs = runs.filter((r) => r.worker === w.id);
    return [w.id, rs.reduce((a, r) => a + r.stat_us, 0) / rs.reduce((a, r) => a + r.sched_us, 0)];
  }),
);
const fmt = (x) => (x === null ? "-" : x.toFixed(1));
const diff = (x) => (x === null ? "-" : `${x >= floor ? "+" : ""}${(x - floor).toFixed(1)}`);
const versions = { node: process.version, workerd: JSON.parse(readFileSync(join(root, "node_modules", "workerd", "package.json"), "utf8")).version, miniflare: JSON.parse(readFileSync(join(root, "node_modules", "miniflare", "package.json"), "utf8")).version };
const git = (...a) => {
  try {
    return execFileSync("git", ["-C", root, ...a], { encoding: "utf8" }).trim();
  } catch {
    return "?";
  }
};
const table = (f) => {
  const L = [`| workload | ${workers.map((w) => w.label).join(" | ")} |`, `| --- |${workers.map(() => " ---: |").join("")}`];
  for (const l of WORKLOADS) L.push(`| ${l.label} | ${workers.map((w) => (w.workloads.includes(l.id) ? f(best(w.id, l.id)) : "-")).join(" | ")} |`);
  return L;
};
const L = [
  `# In-isolate benchmark, ${date}`,
  "",
  `workerd CPU per request (all its threads, user + system), µs, best of ${ROUNDS} interleaved rounds; each Worker in its own workerd isolate (${PROCESSES} workerd processes in turn, started afresh), called by bench/in-isolate/driver.mjs; fetch replaced by in-memory JWKS and a canned 1 KiB 200. Batches: ${N_FAST} requests (reused, no token, bad signature), ${N_FRESH} never-seen tokens (fresh ones every round). Lower is better.`,
  "",
  ...table(fmt),
  "",
  `vs JS passthrough (µs per request above its ${fmt(floor)} µs):`,
  "",
  ...table(diff),
  "",
  `Commit ${git("rev-parse", "--short", "HEAD")}${git("status", "--porcelain", "--", "src", "crates", "bench") ? " (with uncommitted changes)" : ""}; ${QUICK ? "QUICK; " : ""}node ${versions.node}, workerd ${versions.workerd}, Miniflare ${versions.miniflare}; ${execFileSync("nproc", { encoding: "utf8" }).trim()} shared cores, load average at the end ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}; CPU from /proc/<pid>/task/*/schedstat (ns); /proc/<pid>/stat utime+stime (${1000 / CLK_TCK} ms ticks) over each Worker's whole run is ${workers.map((w) => clockRatio[w.id].toFixed(3)).join(", ")} times that (same column order).`,
  ...(o.candidate ? [`Candidate: ${o.candidate}${o["candidate-metrics"] ? ", with a METRICS binding (Miniflare's local Analytics Engine)" : ""}.`] : []),
  "Passthroughs ignore tokens, so they run only the reused-token workload. Only differences and ratios within one run mean anything.",
];
/**
 * The A/B: candidate minus edgeguard, best against best, per round (the two ran in the same
 * round) and per process pair (median of each one's rounds in that process generation): a
 * process's own speed moves all its rounds together, so the count of process pairs is the one
 * that an A/A run keeps near half.
 */
function abTable() {
  const head = [
    `A/B, ${o["candidate-label"]} minus edgeguard, µs per request (negative: the candidate is cheaper):`,
    "",
    "| workload | best vs best | median of per-round differences | rounds the candidate was cheaper | process pairs the candidate was cheaper |",
    "| --- | ---: | ---: | ---: | ---: |",
  ];
  return head.concat(
    WORKLOADS.map((l) => {
      const at = (w, round) => runs.find((r) => r.worker === w && r.workload === l.id && r.round === round)?.us;
      const d = [];
      for (let round = 1; round <= ROUNDS; round++) d.push(at("candidate", round) - at("edgeguard", round));
      const inProcess = (w, g) => median(runs.filter((r) => r.worker === w && r.workload === l.id && r.process === g).map((r) => r.us));
      const p = [];
      for (let g = 1; g <= PROCESSES; g++) p.push(inProcess("candidate", g) - inProcess("edgeguard", g));
      const sign = (x) => `${x >= 0 ? "+" : ""}${x.toFixed(1)}`;
      return `| ${l.label} | ${sign(best("candidate", l.id) - best("edgeguard", l.id))} | ${sign(median(d))} | ${d.filter((x) => x < 0).length} of ${d.length} | ${p.filter((x) => x < 0).length} of ${p.length} (median ${sign(median(p))}) |`;
    }),
  );
}
if (o.candidate) L.push("", ...abTable());
const md = L.join("\n") + "\n";

function svg() {
  const COLORS = { js: "#9e9e9e", rust: "#6b6b6b", jose: "#e8a33d", edgeguard: "#2b6cb0", candidate: "#68a0d8" };
  const cats = WORKLOADS.map((l) => ({ l, bars: workers.filter((w) => w.workloads.includes(l.id)).map((w) => ({ w, v: best(w.id, l.id) })) }));
  const W = 1200, H = 540, left = 70, right = 20, top = 70, bottom = 100;
  const plotW = W - left - right, plotH = H - top - bottom;
  const maxV = Math.max(...cats.flatMap((c) => c.bars.map((b) => b.v))) * 1.12;
  const step = (() => {
    const raw = maxV / 6, p = 10 ** Math.floor(Math.log10(raw));
    return [1, 2, 2.5, 5, 10].map((m) => m * p).find((s) => s >= raw);
  })();
  const y = (v) => top + plotH - (v / maxV) * plotH;
  const catW = plotW / cats.length, barW = Math.min(34, (catW - 16) / workers.length);
  const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const s = [];
  s.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`);
  s.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  s.push(`<text x="${left}" y="28" font-size="18" font-weight="bold">In-isolate: workerd CPU per request, µs (lower is better)</text>`);
  s.push(`<text x="${left}" y="48" font-size="12" fill="#444">${esc(`${date}, ${execFileSync("nproc", { encoding: "utf8" }).trim()} shared cores, workerd ${versions.workerd}, best of ${ROUNDS} rounds, no network (canned origin); dashed line: JS passthrough`)}</text>`);
  for (let v = 0; v <= maxV; v += step) {
    s.push(`<line x1="${left}" x2="${W - right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e5e5e5"/>`);
    s.push(`<text x="${left - 8}" y="${(y(v) + 4).toFixed(1)}" font-size="11" text-anchor="end" fill="#555">${+v.toFixed(3)}</text>`);
  }
  s.push(`<text x="18" y="${top + plotH / 2}" font-size="12" transform="rotate(-90 18 ${top + plotH / 2})" text-anchor="middle" fill="#333">µs per request</text>`);
  cats.forEach((c, i) => {
    const x0 = left + i * catW, n = c.bars.length;
    const gx = x0 + (catW - n * barW - (n - 1) * 4) / 2;
    c.bars.forEach((b, j) => {
      const x = gx + j * (barW + 4), yy = y(b.v);
      s.push(`<rect x="${x.toFixed(1)}" y="${yy.toFixed(1)}" width="${barW.toFixed(1)}" height="${(top + plotH - yy).toFixed(1)}" fill="${COLORS[b.w.id]}"/>`);
      s.push(`<text x="${(x + barW / 2).toFixed(1)}" y="${(yy - 6).toFixed(1)}" font-size="10" text-anchor="middle">${b.v < 100 ? b.v.toFixed(1) : Math.round(b.v)}</text>`);
    });
    s.push(`<text x="${(x0 + catW / 2).toFixed(1)}" y="${top + plotH + 18}" font-size="11.5" text-anchor="middle">${esc(c.l.label)}</text>`);
  });
  s.push(`<line x1="${left}" x2="${W - right}" y1="${y(floor).toFixed(1)}" y2="${y(floor).toFixed(1)}" stroke="#777" stroke-dasharray="5,4"/>`);
  s.push(`<line x1="${left}" x2="${W - right}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`);
  workers.forEach((w, i) => {
    const lx = left + i * 200;
    s.push(`<rect x="${lx}" y="${H - 26}" width="14" height="14" fill="${COLORS[w.id]}"/>`);
    s.push(`<text x="${lx + 20}" y="${H - 14}" font-size="12.5">${esc(w.label)}</text>`);
  });
  s.push("</svg>");
  return s.join("\n") + "\n";
}

mkdirSync(outDir, { recursive: true });
const name = join(outDir, `in-isolate-${date}`);
const summary = Object.fromEntries(
  workers.map((w) => [w.id, Object.fromEntries(w.workloads.map((l) => [l, { best_us: best(w.id, l), median_us: median(runs.filter((r) => r.worker === w.id && r.workload === l).map((r) => r.us)) }]))]),
);
const json = { date, quick: QUICK, stat_over_schedstat: clockRatio, rounds: ROUNDS, processes: PROCESSES, n_fast: N_FAST, n_fresh: N_FRESH, clk_tck: CLK_TCK, versions, commit: git("rev-parse", "HEAD"), workers: workers.map(({ id, label, entry, isClass }) => ({ id, label, entry: entry.startsWith(root) ? entry.slice(root.length + 1) : entry, is_class: isClass })), workloads: WORKLOADS, summary, runs };
writeFileSync(`${name}.md`, md);
writeFileSync(`${name}.json`, JSON.stringify(json, null, 2) + "\n");
writeFileSync(`${name}.svg`, svg());
process.stdout.write(md);
log(`wrote ${name}.{md,json,svg}; raw inputs in ${work}`);
