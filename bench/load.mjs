// The load benchmark's driver (scripts/bench.sh installs nginx and wrk, builds, then runs
// this): the built gateway against the JS passthrough and the jose Worker, each hosted by
// bench/host.mjs (the e2e harness's Miniflare setup) in front of one loopback nginx origin
// (a fixed 1 KiB 200), driven by wrk. Writes the raw data (env.json, sizes.json, runs.jsonl,
// starts.jsonl, ends.jsonl, checks.jsonl) to RAW_DIR and the report (bench/report.mjs) to
// RESULTS_DIR. scripts/bench.sh's header lists the knobs (environment variables).
//
// One round (rounds repeat it; every figure is a median over rounds): start the three hosts
// one after another, each timed from spawn to its first 200 (cold start; the first request
// with the RS256 token also fetches that issuer's JWKS); HOST_WARMUP s of reused-token load
// per worker and algorithm (JIT warm-up, discarded); then per algorithm, worker by worker:
// passthrough reused (+ a -c1 run), jose and edgeguard reused (+ -c1), 1,000 distinct valid
// tokens, 1,000 corrupted signatures. Each run: WARMUP s discarded, DURATION s measured,
// nginx's request counter and workerd's CPU time read around it, its RSS after it.
//
// Every process started here is in its own process group and stopped with it; every wait
// has a deadline; everything binds to 127.0.0.1. Nothing is asserted: it measures.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);
const E = process.env;
const QUICK = E.QUICK === "1";
const num = (name, full, quick) => {
  const v = Number(E[name] ?? (QUICK ? quick : full));
  if (!Number.isInteger(v) || v < 0) die(`${name} must be a whole number, got ${E[name]}`);
  return v;
};
const K = {
  rounds: num("ROUNDS", 3, 1),
  duration: num("DURATION", 7, 3),
  warmup: num("WARMUP", 1, 1),
  hostWarmup: num("HOST_WARMUP", 3, 1),
  c1: num("C1_DURATION", 1, 1),
  conns: num("CONNS", 50, 50),
  threads: num("THREADS", 1, 1),
  count: num("COUNT", 1000, 1000),
  originPort: num("ORIGIN_PORT", 18080, 18080),
  portBase: num("PORT_BASE", 18787, 18787),
  startTimeout: num("START_TIMEOUT", 60, 60),
  pin: E.PIN === "1",
  algs: (E.ALGS ?? "rs256 es256 eddsa").split(/\s+/).filter(Boolean),
};
K.invalid = (E.INVALID_ALGS ?? K.algs.join(" ")).split(/\s+/).filter(Boolean);
const ENTRY = resolve(E.EDGEGUARD_ENTRY || join(root, "build", "index.js"));
const WASM = join(dirname(ENTRY), "index_bg.wasm");
const RESULTS = resolve(E.RESULTS_DIR || (QUICK ? join(root, ".work/bench/quick") : join(root, "bench/results")));
const STAMP = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
const RAW = resolve(E.RAW_DIR || join(root, ".work/bench", STAMP));
const COMMAND =
  ["QUICK", "ROUNDS", "DURATION", "WARMUP", "C1_DURATION", "CONNS", "THREADS", "COUNT", "ALGS", "INVALID_ALGS", "PIN", "SKIP_BUILD", "EDGEGUARD_ENTRY"]
    .filter((k) => E[k] !== undefined)
    .sort()
    .map((k) => `${k}='${E[k]}' `)
    .join("") + "./scripts/bench.sh";

function log(...a) {
  console.error("==>", ...a);
}
function die(msg, next) {
  console.error(`error: ${msg}${next ? `\n       ${next}` : ""}`);
  cleanup();
  process.exit(1);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...opts });

if (!existsSync(ENTRY) || !existsSync(WASM)) die(`no build at ${ENTRY}`, "Run ./scripts/build.sh first.");

// ------------------------------------------------------------------ processes
const groups = new Set(); // pids of process-group leaders started here
/** Starts `cmd` as the leader of its own process group; its stdout and stderr go to `output`.
 *  With PIN=1, nginx and wrk run on CPU 0 and the hosts on CPU 1. */
function startGroup(cmd, args, output) {
  const pin = K.pin ? ["taskset", ["-c", cmd === "nginx" || cmd === "wrk" ? "0" : "1", cmd, ...args]] : [cmd, args];
  const child = spawn(pin[0], pin[1], { detached: true, stdio: ["ignore", "pipe", "pipe"] });
  groups.add(child.pid);
  child.stdout.on("data", output);
  child.stderr.on("data", output);
  child.on("exit", () => groups.delete(child.pid));
  return child;
}
const toFile = (file) => (d) => appendFileSync(file, d);
function killGroup(pid, signal = "SIGTERM") {
  try {
    process.kill(-pid, signal);
  } catch {}
}
async function stopGroup(pid) {
  killGroup(pid);
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(-pid, 0);
    } catch {
      return;
    }
    await sleep(100);
  }
  killGroup(pid, "SIGKILL");
}
let tmp = "";
function cleanup() {
  for (const pid of groups) killGroup(pid, "SIGKILL");
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}
process.on("exit", cleanup);
for (const s of ["SIGINT", "SIGTERM"]) process.on(s, () => process.exit(130));

const portInUse = (port) =>
  new Promise((res) => {
    const s = net.connect({ host: "127.0.0.1", port }, () => (s.destroy(), res(true)));
    s.on("error", () => res(false));
    s.setTimeout(1000, () => (s.destroy(), res(false)));
  });

// /proc: the workerd child of a host, its RSS/HWM and CPU time.
const CLK_TCK = Number(sh("getconf", ["CLK_TCK"]).trim()) || 100;
function workerdPid(hostPid) {
  try {
    return Number(sh("pgrep", ["-P", String(hostPid), "-x", "workerd"]).split("\n")[0]) || null;
  } catch {
    return null;
  }
}
function rssKb(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (k) => Number((s.match(new RegExp(`^${k}:\\s+(\\d+)`, "m")) || [])[1]) || null;
    return [kb("VmRSS"), kb("VmHWM")];
  } catch {
    return [null, null];
  }
}
function cpuMs(pid) {
  try {
    // utime, stime: fields 14 and 15, counted after the command name's closing parenthesis.
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "").split(" ");
    return Math.floor(((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK);
  } catch {
    return null;
  }
}

// ------------------------------------------------------------------ data and origin
mkdirSync(join(RAW, "logs"), { recursive: true });
mkdirSync(RESULTS, { recursive: true });
tmp = mkdtempSync(join(os.tmpdir(), "edgeguard-bench."));
const DATA = join(RAW, "data");
const nodeRun = (script, args) => sh(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "inherit"] });
nodeRun("bench/build-workers.mjs", ["--out", join(tmp, "workers")]);
if (await portInUse(K.originPort)) die(`port ${K.originPort} is busy`, "Set ORIGIN_PORT.");
for (let i = 0; i < 3; i++) if (await portInUse(K.portBase + i)) die(`port ${K.portBase + i} is busy`, "Set PORT_BASE.");
nodeRun("bench/mint.mjs", ["--out", DATA, "--jwks-base", `http://127.0.0.1:${K.originPort}`, "--count", String(K.count)]);
for (const alg of K.invalid)
  nodeRun("bench/corrupt-tokens.mjs", [join(DATA, `tokens/${alg}-${K.count}.txt`), join(DATA, `tokens/${alg}-${K.count}-badsig.txt`)]);

const ng = join(tmp, "nginx");
mkdirSync(ng);
writeFileSync(
  join(ng, "nginx.conf"),
  `user root;
worker_processes 1;
daemon off;
pid ${ng}/nginx.pid;
error_log ${ng}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nodelay on;
  keepalive_timeout 120s;
  keepalive_requests 10000000;
  client_body_temp_path ${ng}/body;
  proxy_temp_path ${ng}/proxy;
  fastcgi_temp_path ${ng}/fastcgi;
  uwsgi_temp_path ${ng}/uwsgi;
  scgi_temp_path ${ng}/scgi;
  types { application/json json; }
  default_type text/plain;
  server {
    listen 127.0.0.1:${K.originPort};
    root ${DATA}/www;
    location /jwks/ { add_header Cache-Control "public, max-age=300"; }
    location = /__nginx_status { stub_status; }
    location / { return 200 "${"a".repeat(1024)}"; }
  }
}
`,
);
startGroup("nginx", ["-e", join(ng, "error.log"), "-p", ng, "-c", join(ng, "nginx.conf")], toFile(join(RAW, "logs/nginx.out")));
for (let i = 0; i < 100 && !(await portInUse(K.originPort)); i++) await sleep(50);
if (!(await portInUse(K.originPort))) die(`nginx did not start: ${readFileSync(join(ng, "error.log"), "utf8")}`);
if (!(await fetch(`http://127.0.0.1:${K.originPort}/jwks/rs256.json`)).ok) die("nginx does not serve the JWKS");
/** Requests nginx has handled so far (every path; reading it counts as one). */
async function originRequests() {
  const text = await (await fetch(`http://127.0.0.1:${K.originPort}/__nginx_status`, { signal: AbortSignal.timeout(5000) })).text();
  return Number(text.split("\n")[2].trim().split(/\s+/)[2]);
}

// ------------------------------------------------------------------ hosts and wrk
const WORKERS = ["passthrough", "jose", "edgeguard"];
const ENTRIES = {
  passthrough: join(tmp, "workers/js-passthrough/index.js"),
  jose: join(tmp, "workers/jose-worker/index.js"),
  edgeguard: ENTRY,
};
const PORT = { passthrough: K.portBase, jose: K.portBase + 1, edgeguard: K.portBase + 2 };
const ROUND_BUDGET =
  (K.algs.length * 5 + K.invalid.length * 2) * (K.warmup + K.duration + 3) + K.algs.length * 3 * (K.c1 + 2) + 3 * K.startTimeout;
const hostPid = {};
const jsonl = (file, obj) => appendFileSync(join(RAW, file), JSON.stringify(obj) + "\n");
const tokens = (name) => join(DATA, "tokens", name);

async function startHost(round, w) {
  const logFile = join(RAW, `logs/host-r${round}-${w}.log`);
  writeFileSync(logFile, "");
  const token = readFileSync(tokens("rs256-1.txt"), "utf8").split("\n")[0];
  const t0 = performance.now();
  const deadline = Date.now() + K.startTimeout * 1000;
  const child = startGroup(process.execPath, [
    "bench/host.mjs", "--script", ENTRIES[w], "--port", String(PORT[w]), "--issuers-file", join(DATA, "issuers.json"),
    "--origin", `http://127.0.0.1:${K.originPort}`, "--max-seconds", String(ROUND_BUDGET),
  ], toFile(logFile));
  let ready;
  while (!(ready = /^READY .*"pid":(\d+)/m.exec(readFileSync(logFile, "utf8")))) {
    if (child.exitCode !== null) die(`host for ${w} died:\n${readFileSync(logFile, "utf8")}`);
    if (Date.now() > deadline) die(`host for ${w} not ready after ${K.startTimeout} s`);
    await sleep(5);
  }
  const tReady = performance.now();
  hostPid[w] = { group: child.pid, pid: Number(ready[1]) };
  let firstMs;
  for (;;) {
    const t = performance.now();
    const status = await fetch(`http://127.0.0.1:${PORT[w]}/cold`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(10000),
    }).then(async (r) => (await r.arrayBuffer(), r.status), () => 0);
    firstMs = performance.now() - t;
    if (status === 200) break;
    if (Date.now() > deadline) die(`no 200 from ${w} (last status ${status}):\n${readFileSync(logFile, "utf8")}`);
    await sleep(10);
  }
  const tFirst = performance.now();
  const wpid = workerdPid(hostPid[w].pid);
  const [rss, hwm] = wpid ? rssKb(wpid) : [null, null];
  jsonl("starts.jsonl", {
    round, worker: w, spawn_to_ready_ms: Math.floor(tReady - t0), cold_ms: Math.floor(tFirst - t0),
    first_req_ms: Number(firstMs.toFixed(2)), workerd_pid: wpid, rss_kb_start: rss, hwm_kb_start: hwm,
  });
  console.log(`  round ${round}  start ${w.padEnd(12)} cold ${String(Math.floor(tFirst - t0)).padStart(5)} ms (ready ${Math.floor(tReady - t0)} ms, first request ${firstMs.toFixed(1)} ms)`);
}

/** One wrk run (in its own process group, bounded in time): its WRKJSON summary, or null. */
function wrk(conns, seconds, tokenFile, port, threads = K.threads) {
  const args = [`-t${threads}`, `-c${conns}`, `-d${seconds}s`, "--timeout", "5s", "-s", "bench/wrk/status.lua", `http://127.0.0.1:${port}`, "--", tokenFile, "/"];
  return new Promise((res) => {
    let out = "";
    const child = startGroup("wrk", args, (d) => (out += d));
    const timer = setTimeout(() => killGroup(child.pid, "SIGKILL"), (seconds + 30) * 1000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      const line = out.split("\n").find((l) => l.startsWith("WRKJSON "));
      res(code === 0 && line ? JSON.parse(line.slice(8)) : null);
    });
  });
}

async function runOne(round, alg, w, workload, tokenFile, withC1) {
  const port = PORT[w];
  const started = new Date().toISOString().slice(11, 19);
  await wrk(K.conns, K.warmup, tokenFile, port); // discarded
  const wpid = workerdPid(hostPid[w].pid);
  const cpuBefore = wpid ? cpuMs(wpid) : null;
  const before = await originRequests();
  const j = await wrk(K.conns, K.duration, tokenFile, port);
  if (!j) die(`no wrk summary for ${w}/${alg}/${workload}`);
  const after = await originRequests();
  const cpuAfter = wpid ? cpuMs(wpid) : null;
  const c1 = withC1 && K.c1 > 0 ? await wrk(1, K.c1, tokenFile, port, 1) : null;
  const [rss, hwm] = wpid ? rssKb(wpid) : [null, null];
  const hits = after - before - 1;
  jsonl("runs.jsonl", {
    round, alg, worker: w, workload, tokens_file: basename(tokenFile), started, origin_hits: hits, rss_kb: rss, hwm_kb: hwm,
    cpu_ms: cpuBefore !== null && cpuAfter !== null ? cpuAfter - cpuBefore : null, wrk: j, c1,
  });
  const s = j.status;
  const rps = j.requests / (j.duration_us / 1e6);
  const sock = j.connect_errors + j.read_errors + j.write_errors + j.timeouts;
  console.log(
    `  round ${round}  ${`${w}/${alg}/${workload}`.padEnd(34)} ${rps.toFixed(0).padStart(6)} req/s  p50 ${(j.p50_us / 1000).toFixed(2)} ms  p99 ${(j.p99_us / 1000).toFixed(2)} ms  2xx ${s["2xx"]} 401 ${s["401"]} other ${s.other_4xx + s["5xx"] + s.other} sock ${sock}  origin ${hits}` +
      (c1 ? `  | c1 p50 ${(c1.p50_us / 1000).toFixed(3)} ms` : ""),
  );
}

async function stopHosts() {
  for (const w of Object.keys(hostPid)) killGroup(hostPid[w].group);
  for (const w of Object.keys(hostPid)) await stopGroup(hostPid[w].group);
  for (const w of Object.keys(hostPid)) delete hostPid[w];
}

// ------------------------------------------------------------------ the machine, the sizes
const version = (f) => {
  try {
    return f();
  } catch {
    return "unknown";
  }
};
const topProcs = () =>
  version(() =>
    sh("top", ["-bn2", "-d0.5", "-w", "200"])
      .split(/^top -/m)[2]
      .split("\n")
      .filter((l) => /^ *\d+ /.test(l))
      .slice(0, 3)
      .map((l) => {
        const f = l.trim().split(/\s+/);
        return `${f[11]} ${f[8]}%`;
      })
      .join(", "),
  );
const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
// `git diff --quiet` exits 1 when src/ or Cargo.toml differ from HEAD.
const dirty = spawnSync("git", ["diff", "--quiet", "HEAD", "--", "src", "Cargo.toml"]).status === 0 ? "" : "+dirty";
const env = {
  stamp: STAMP, date: new Date().toISOString().slice(0, 10), command: COMMAND, nproc: os.cpus().length,
  cpu: os.cpus()[0]?.model ?? "unknown", mem_total_kb: Math.floor(os.totalmem() / 1024), kernel: `${os.type()} ${os.release()}`,
  edgeguard_entry: ENTRY.startsWith(root + "/") ? ENTRY.slice(root.length + 1) : ENTRY,
  edgeguard_built: statSync(WASM).mtime.toISOString().replace(/\.\d+Z$/, "Z"),
  loadavg_start: loadavg(), top_start: topProcs(),
  rounds: K.rounds, duration_s: K.duration, warmup_s: K.warmup, host_warmup_s: K.hostWarmup, c1_duration_s: K.c1,
  conns: K.conns, threads: K.threads, count: K.count, pin: K.pin ? 1 : 0, algs: K.algs.join(" "), invalid_algs: K.invalid.join(" "),
  versions: {
    node: process.version,
    miniflare: version(() => JSON.parse(readFileSync("node_modules/miniflare/package.json", "utf8")).version),
    workerd: version(() => sh("node_modules/@cloudflare/workerd-linux-64/bin/workerd", ["--version"]).replace(/^workerd /, "").trim()),
    jose: version(() => JSON.parse(readFileSync("node_modules/jose/package.json", "utf8")).version),
    esbuild: version(() => JSON.parse(readFileSync("node_modules/esbuild/package.json", "utf8")).version),
    // `wrk -v` prints its version and exits 1.
    wrk: (() => {
      const r = spawnSync("wrk", ["-v"], { encoding: "utf8" });
      return `${r.stdout}${r.stderr}`.split("\n")[0].split(" ")[1] ?? "unknown";
    })(),
    // nginx prints its version on stderr.
    nginx: (/nginx\/(\S+)/.exec(spawnSync("nginx", ["-v"], { encoding: "utf8" }).stderr ?? "") || [])[1] ?? "unknown",
    edgeguard_commit: version(() => sh("git", ["rev-parse", "--short", "HEAD"]).trim()) + dirty,
  },
};
const sizes = [
  ["passthrough", [ENTRIES.passthrough]],
  ["jose", [ENTRIES.jose]],
  ["edgeguard", [ENTRY, WASM]],
].map(([worker, files]) => {
  const o = { worker, files: files.map((f) => basename(f)).join(" "), raw_bytes: 0, gzip_bytes: 0, wasm_raw_bytes: 0, wasm_gzip_bytes: 0 };
  for (const f of files) {
    const b = readFileSync(f);
    const g = gzipSync(b, { level: 9 }).length;
    o.raw_bytes += b.length;
    o.gzip_bytes += g;
    if (f.endsWith(".wasm")) Object.assign(o, { wasm_raw_bytes: b.length, wasm_gzip_bytes: g });
  }
  return o;
});
writeFileSync(join(RAW, "sizes.json"), JSON.stringify(sizes) + "\n");
for (const f of ["runs.jsonl", "starts.jsonl", "ends.jsonl", "checks.jsonl"]) writeFileSync(join(RAW, f), "");

// ------------------------------------------------------------------ the rounds
log(`bench: rounds=${K.rounds} duration=${K.duration}s warmup=${K.warmup}s host-warmup=${K.hostWarmup}s c1=${K.c1}s conns=${K.conns} algs=[${K.algs.join(" ")}] invalid=[${K.invalid.join(" ")}] pin=${K.pin ? 1 : 0}`);
log(`raw results: ${RAW.startsWith(root + "/") ? RAW.slice(root.length + 1) : RAW}/`);
const began = Date.now();
for (let round = 1; round <= K.rounds; round++) {
  for (const w of WORKERS) await startHost(round, w);
  // Steady state, not JIT warm-up, is what the runs compare: every fresh host serves
  // HOST_WARMUP s of its reused-token traffic per algorithm first (a 1 s run straight after
  // start measured workers half-warm). The distinct and attack tokens are not used here, so
  // no cache is filled with what is measured later.
  if (K.hostWarmup > 0)
    for (const w of WORKERS) for (const alg of K.algs) await wrk(K.conns, K.hostWarmup, tokens(`${alg}-1.txt`), PORT[w]);
  if (round === 1) {
    // What each worker answers to one attack token (status + WWW-Authenticate), for the report.
    for (const alg of K.invalid)
      for (const w of ["jose", "edgeguard"]) {
        const bad = readFileSync(tokens(`${alg}-${K.count}-badsig.txt`), "utf8").split("\n")[0];
        const r = await fetch(`http://127.0.0.1:${PORT[w]}/probe`, { headers: { authorization: `Bearer ${bad}` }, signal: AbortSignal.timeout(10000) }).catch(() => null);
        if (r) await r.arrayBuffer();
        jsonl("checks.jsonl", { alg, worker: w, status: r?.status ?? 0, www_authenticate: r?.headers.get("www-authenticate") ?? null });
      }
  }
  for (const alg of K.algs) {
    await runOne(round, alg, "passthrough", "floor", tokens(`${alg}-1.txt`), true);
    for (const w of ["jose", "edgeguard"]) await runOne(round, alg, w, "reused", tokens(`${alg}-1.txt`), true);
    for (const w of ["jose", "edgeguard"]) await runOne(round, alg, w, "distinct", tokens(`${alg}-${K.count}.txt`), false);
    if (K.invalid.includes(alg))
      for (const w of ["jose", "edgeguard"]) await runOne(round, alg, w, "invalid", tokens(`${alg}-${K.count}-badsig.txt`), false);
  }
  for (const w of WORKERS) {
    const wpid = workerdPid(hostPid[w].pid);
    const [rss, hwm] = wpid ? rssKb(wpid) : [null, null];
    jsonl("ends.jsonl", { round, worker: w, rss_kb_end: rss, hwm_kb_end: hwm });
  }
  await stopHosts();
  for (let i = 0; i < 3; i++) for (let k = 0; k < 100 && (await portInUse(K.portBase + i)); k++) await sleep(50);
}
writeFileSync(join(RAW, "env.json"), JSON.stringify({ ...env, loadavg_end: loadavg(), top_end: topProcs(), elapsed_s: Math.floor((Date.now() - began) / 1000) }) + "\n");
for (const pid of [...groups]) await stopGroup(pid);
execFileSync(process.execPath, ["bench/report.mjs", RAW, "--out", RESULTS], { stdio: "inherit" });
