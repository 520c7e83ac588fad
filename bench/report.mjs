#!/usr/bin/env node
// Turns a scripts/bench.sh raw directory (env.json, sizes.json, runs.jsonl, starts.jsonl,
// ends.jsonl, checks.jsonl) into <out>/<UTC date>.md, .json and .svg, and prints the Markdown.
//   node bench/report.mjs .work/bench/<stamp> [--out bench/results]
// Every figure is a median over rounds; every ratio is the median of per-round ratios
// (runs of the same round and algorithm, which ran next to each other).
import { readFileSync, writeFileSync, existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";

const argv = process.argv.slice(2);
const raw = argv.find((a, i) => !a.startsWith("--") && argv[i - 1] !== "--out");
const outIdx = argv.indexOf("--out");
const outDir = resolve(outIdx >= 0 ? argv[outIdx + 1] : "bench/results");
if (!raw) {
  console.error("usage: node bench/report.mjs RAW_DIR [--out DIR]");
  process.exit(2);
}
const readJsonl = (f) =>
  existsSync(join(raw, f))
    ? readFileSync(join(raw, f), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l))
    : [];
const env = JSON.parse(readFileSync(join(raw, "env.json"), "utf8"));
const sizes = JSON.parse(readFileSync(join(raw, "sizes.json"), "utf8"));
const runs = readJsonl("runs.jsonl");
const starts = readJsonl("starts.jsonl");
const ends = readJsonl("ends.jsonl");
const checks = readJsonl("checks.jsonl");

// ------------------------------------------------------------------ helpers
const median = (xs) => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const sum = (xs) => xs.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
const rps = (w) => w.requests / (w.duration_us / 1e6);
const sockErr = (w) => w.connect_errors + w.read_errors + w.write_errors;
const nonOk = (w) => w.status.other_4xx + w.status["5xx"] + w.status.other + w.status["401"];
const fmt = (x, d = 0) => (x === null || x === undefined || !Number.isFinite(x) ? "–" : x.toFixed(d));
const fmtInt = (x) => (x === null || !Number.isFinite(x) ? "–" : Math.round(x).toLocaleString("en-US"));
const kib = (b) => (b / 1024).toFixed(1);
const ALG_NAME = { rs256: "RS256 (2048)", es256: "ES256", eddsa: "EdDSA" };
const WL_NAME = { floor: "passthrough", reused: "1 token reused", distinct: "1,000 distinct", invalid: "1,000 bad signature" };
const algs = [...new Set(runs.map((r) => r.alg))];
const rounds = [...new Set(runs.map((r) => r.round))].sort((a, b) => a - b);

const find = (round, alg, worker, workload) =>
  runs.find((r) => r.round === round && r.alg === alg && r.worker === worker && r.workload === workload);
// median over rounds of f(run, floorRun, joseRun) for one (alg, worker, workload)
const perRound = (alg, worker, workload, f) =>
  median(
    rounds.map((n) => {
      const r = find(n, alg, worker, workload);
      if (!r) return NaN;
      const v = f(r, find(n, alg, "passthrough", "floor"), find(n, alg, "jose", workload), n);
      return v === null || v === undefined ? NaN : v;
    }),
  );

// ------------------------------------------------------------------ groups
const groups = [];
for (const alg of algs) {
  for (const [worker, workload] of [
    ["passthrough", "floor"],
    ["jose", "reused"],
    ["edgeguard", "reused"],
    ["jose", "distinct"],
    ["edgeguard", "distinct"],
    ["jose", "invalid"],
    ["edgeguard", "invalid"],
  ]) {
    const rs = runs.filter((r) => r.alg === alg && r.worker === worker && r.workload === workload);
    if (!rs.length) continue;
    const c1 = rs.filter((r) => r.c1);
    groups.push({
      alg,
      worker,
      workload,
      rounds: rs.length,
      rps: median(rs.map((r) => rps(r.wrk))),
      rps_vs_passthrough: perRound(alg, worker, workload, (r, f) => (f ? rps(r.wrk) / rps(f.wrk) : NaN)),
      rps_vs_jose: worker === "edgeguard" ? perRound(alg, worker, workload, (r, f, j) => (j ? rps(r.wrk) / rps(j.wrk) : NaN)) : null,
      p50_ms: median(rs.map((r) => r.wrk.p50_us / 1000)),
      p99_ms: median(rs.map((r) => r.wrk.p99_us / 1000)),
      p50_vs_passthrough: perRound(alg, worker, workload, (r, f) => (f ? r.wrk.p50_us / f.wrk.p50_us : NaN)),
      p50_vs_jose: worker === "edgeguard" ? perRound(alg, worker, workload, (r, f, j) => (j ? r.wrk.p50_us / j.wrk.p50_us : NaN)) : null,
      requests: sum(rs.map((r) => r.wrk.requests)),
      status_2xx: sum(rs.map((r) => r.wrk.status["2xx"])),
      status_401: sum(rs.map((r) => r.wrk.status["401"])),
      status_other: sum(rs.map((r) => r.wrk.status.other_4xx + r.wrk.status["5xx"] + r.wrk.status.other)),
      non_2xx: sum(rs.map((r) => nonOk(r.wrk))),
      socket_errors: sum(rs.map((r) => sockErr(r.wrk))),
      timeouts: sum(rs.map((r) => r.wrk.timeouts)),
      origin_hits: sum(rs.map((r) => r.origin_hits)),
      c1_p50_us: median(c1.map((r) => r.c1.p50_us)),
      c1_p99_us: median(c1.map((r) => r.c1.p99_us)),
      c1_added_us:
        worker === "passthrough" ? 0 : c1.length ? perRound(alg, worker, workload, (r, f) => (r.c1 && f?.c1 ? r.c1.p50_us - f.c1.p50_us : NaN)) : null,
      c1_errors: sum(c1.map((r) => sockErr(r.c1) + r.c1.timeouts + nonOk(r.c1))),
      invalid_vs_distinct:
        workload === "invalid"
          ? median(rounds.map((n) => {
              const r = find(n, alg, worker, "invalid");
              const d = find(n, alg, worker, "distinct");
              return r && d ? rps(r.wrk) / rps(d.wrk) : NaN;
            }))
          : null,
      per_round_rps: Object.fromEntries(rs.map((r) => [r.round, Math.round(rps(r.wrk))])),
      rss_kb_after: median(rs.map((r) => r.rss_kb)),
      // workerd's own CPU time (user + system) over the measured part, per request answered:
      // unlike req/s, it does not depend on how the two shared cores were scheduled.
      cpu_us_per_req: median(rs.map((r) => (Number.isFinite(r.cpu_ms) && r.wrk.requests ? (r.cpu_ms * 1000) / r.wrk.requests : NaN))),
      cpu_vs_passthrough: perRound(alg, worker, workload, (r, f) =>
        f && Number.isFinite(r.cpu_ms) && Number.isFinite(f.cpu_ms) && f.cpu_ms > 0
          ? r.cpu_ms / r.wrk.requests / (f.cpu_ms / f.wrk.requests)
          : NaN,
      ),
    });
  }
}
const G = (alg, worker, workload) => groups.find((g) => g.alg === alg && g.worker === worker && g.workload === workload);

// ------------------------------------------------------------- cold start
const workers = ["passthrough", "jose", "edgeguard"];
const cold = workers.map((w) => {
  const ss = starts.filter((s) => s.worker === w);
  const es = ends.filter((s) => s.worker === w);
  return {
    worker: w,
    samples: ss.length,
    spawn_to_ready_ms: median(ss.map((s) => s.spawn_to_ready_ms)),
    cold_ms: median(ss.map((s) => s.cold_ms)),
    cold_vs_passthrough:
      w === "passthrough"
        ? 1
        : median(ss.map((s) => {
            const p = starts.find((x) => x.worker === "passthrough" && x.round === s.round);
            return p ? s.cold_ms / p.cold_ms : NaN;
          })),
    first_req_ms: median(ss.map((s) => s.first_req_ms)),
    rss_mb_start: median(ss.map((s) => s.rss_kb_start / 1024)),
    rss_mb_end: median(es.map((s) => s.rss_kb_end / 1024)),
    hwm_mb_end: es.some((s) => Number.isFinite(s.hwm_kb_end)) ? Math.max(...es.map((s) => s.hwm_kb_end / 1024).filter(Number.isFinite)) : null,
  };
});
const C = (w) => cold.find((c) => c.worker === w);
const size = (w) => sizes.find((s) => s.worker === w);

// ---------------------------------------------------------------- targets
const targets = [];
const verdict = (ok) => (ok === null ? "n/a" : ok ? "met" : "**missed**");
const push = (target, measured, ok) => targets.push({ target, measured, ok });
for (const alg of algs) {
  const g = G(alg, "edgeguard", "reused");
  if (!g) continue;
  push(`${ALG_NAME[alg]}, reused token: req/s ≥ 0.9× passthrough`, `${fmt(g.rps_vs_passthrough, 2)}×`, g.rps_vs_passthrough >= 0.9);
  push(`${ALG_NAME[alg]}, reused token: p50 ≤ 1.1× passthrough`, `${fmt(g.p50_vs_passthrough, 2)}×`, g.p50_vs_passthrough <= 1.1);
  if (g.c1_added_us !== null)
    push(`${ALG_NAME[alg]}, reused token: one-connection p50 ≤ passthrough + 50 µs`, `+${fmt(g.c1_added_us)} µs`, g.c1_added_us <= 50);
}
for (const alg of algs) {
  const g = G(alg, "edgeguard", "distinct");
  if (g) push(`${ALG_NAME[alg]}, 1,000 distinct tokens: req/s ≥ 1.5× jose`, `${fmt(g.rps_vs_jose, 2)}×`, g.rps_vs_jose >= 1.5);
}
for (const alg of algs) {
  const g = G(alg, "edgeguard", "invalid");
  if (!g) continue;
  const up = g.socket_errors === 0 && g.timeouts === 0 && g.status_2xx === 0 && g.status_other === 0 && g.status_401 === g.requests;
  push(
    `${ALG_NAME[alg]}, bad-signature flood: all 401, no errors`,
    `${fmtInt(g.status_401)} of ${fmtInt(g.requests)} answered 401; ${g.status_other} other, ${g.socket_errors} socket errors, ${g.timeouts} timeouts`,
    up,
  );
  push(`${ALG_NAME[alg]}, bad-signature flood: origin sees nothing`, `${g.origin_hits} origin requests`, g.origin_hits === 0);
  push(`${ALG_NAME[alg]}, bad-signature flood: req/s ≥ distinct-token req/s`, `${fmt(g.invalid_vs_distinct, 2)}×`, g.invalid_vs_distinct >= 1);
}
const eg = size("edgeguard");
push(
  "deployable Wasm + JS ≤ 150 KB gzip -9",
  `${kib(eg.gzip_bytes)} KiB (${fmtInt(eg.gzip_bytes)} B; Wasm alone ${kib(eg.wasm_gzip_bytes)} KiB) = ${fmt(eg.gzip_bytes / 150000, 2)}× 150 KB`,
  eg.gzip_bytes <= 150000,
);
push(
  "first request no slower than jose's",
  `${fmt(C("edgeguard").first_req_ms, 1)} ms vs ${fmt(C("jose").first_req_ms, 1)} ms`,
  C("edgeguard").first_req_ms <= C("jose").first_req_ms,
);
push(
  "process start to first 200 within 5% of passthrough",
  `${fmt(C("edgeguard").cold_ms)} ms vs ${fmt(C("passthrough").cold_ms)} ms (${fmt(C("edgeguard").cold_vs_passthrough, 3)}×)`,
  C("edgeguard").cold_vs_passthrough <= 1.05,
);

// ---------------------------------------------------------------- markdown
const L = [];
const date = env.date;
L.push(`# edgeguard load benchmark, ${date}`);
L.push("");
L.push("```sh");
L.push(env.command);
L.push("```");
L.push("");
L.push(
  `**Machine:** ${env.nproc} cores (${env.cpu}), ${(env.mem_total_kb / 1048576).toFixed(0)} GiB RAM, ${env.kernel}; shared with other work ` +
    `(load average ${env.loadavg_start} at start, ${env.loadavg_end} at end; busiest processes at start: ${env.top_start || "?"}; at end: ${env.top_end || "?"}). ` +
    `${env.pin ? "Hosts pinned to CPU 1, nginx + wrk to CPU 0." : "Nothing pinned: workerd, nginx and wrk share both cores."} ` +
    `Run took ${Math.round(env.elapsed_s / 60)} min.`,
);
L.push("");
L.push(
  `**What is measured:** three Workers, each in its own workerd (Miniflare ${env.versions.miniflare}, workerd ${env.versions.workerd}, started by \`bench/host.mjs\`, direct socket, in-memory KV), ` +
    `in front of one loopback nginx ${env.versions.nginx} returning a fixed 1 KiB 200: \`passthrough\` (\`bench/js-passthrough\`: forwards, no auth: the floor), \`jose\` (\`bench/jose-worker\`, the same contract in JavaScript, jose ${env.versions.jose}, WebCrypto) and \`edgeguard\` (this repo's \`${env.edgeguard_entry ?? "build/index.js"}\`, built ${env.edgeguard_built ?? "?"} from commit ${env.versions.edgeguard_commit}). ` +
    `Load: wrk ${env.versions.wrk}, ${env.threads} thread, ${env.conns} connections, ${env.warmup_s} s warm-up (discarded) + ${env.duration_s} s measured per run, after ${env.host_warmup_s ?? 0} s of reused-token load per algorithm on each freshly started host (JIT warm-up, discarded); ` +
    `${env.rounds} round(s), each running every workload worker after worker (A B C A B C), so every ratio compares runs a few seconds apart. ` +
    `Workloads per algorithm: one token reused; ${env.count} distinct valid tokens rotated; ${env.count} distinct tokens with one signature character changed (attack traffic). ` +
    `All tokens are minted by \`bench/mint.mjs\` (RSA 2048, P-256, Ed25519; one issuer each). The gateway runs with its defaults, including its verified-token cache (\`TOKEN_CACHE_ENTRIES\` 4096); jose has no such cache.`,
);
L.push("");
L.push(
  "**Read with care:** load generator, origin and Worker share two cores, so absolute numbers are small and noisy and say little about Cloudflare's edge; " +
    "only ratios between runs of the same run (same machine, same minute) mean anything.",
);
L.push("");
L.push(`## Throughput and latency under load (${env.conns} connections, medians over ${rounds.length} round(s))`);
L.push("");
L.push("| Workload | Worker | req/s | vs passthrough | vs jose | p50 ms | p99 ms | p50 vs passthrough | 2xx | 401 | other status | socket errors / timeouts | origin requests |");
L.push("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const g of groups) {
  L.push(
    `| ${ALG_NAME[g.alg]}, ${WL_NAME[g.workload]} | ${g.worker} | ${fmtInt(g.rps)} | ${fmt(g.rps_vs_passthrough, 2)} | ${g.rps_vs_jose === null ? "" : fmt(g.rps_vs_jose, 2)} | ` +
      `${fmt(g.p50_ms, 2)} | ${fmt(g.p99_ms, 2)} | ${fmt(g.p50_vs_passthrough, 2)} | ${fmtInt(g.status_2xx)} | ${fmtInt(g.status_401)} | ${g.status_other} | ${g.socket_errors} / ${g.timeouts} | ${fmtInt(g.origin_hits)} |`,
  );
}
L.push("");
L.push(
  "Status and origin counts are totals over all rounds (measured part only). Origin requests = nginx's request counter read before and after the measured part (a few dozen more than 2xx: requests still in flight when wrk stopped counting); for the bad-signature rows it must be 0.",
);
L.push("");
L.push(`## One connection (wrk -c1, ${env.c1_duration_s} s, reused token)`);
L.push("");
L.push("| Algorithm | Worker | p50 µs | p99 µs | p50 added vs passthrough µs |");
L.push("|---|---|---:|---:|---:|");
for (const g of groups.filter((g) => g.c1_p50_us !== null))
  L.push(`| ${ALG_NAME[g.alg]} | ${g.worker} | ${fmt(g.c1_p50_us)} | ${fmt(g.c1_p99_us)} | ${g.worker === "passthrough" ? "0" : "+" + fmt(g.c1_added_us)} |`);
L.push("");
L.push("## Cold start, size, memory");
L.push("");
L.push("| Worker | spawn → READY ms | spawn → first 200 ms | vs passthrough | first request ms | deployable gzip -9 | workerd RSS after first 200 | RSS at end of round | peak RSS |");
L.push("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const c of cold) {
  const s = size(c.worker);
  L.push(
    `| ${c.worker} | ${fmt(c.spawn_to_ready_ms)} | ${fmt(c.cold_ms)} | ${fmt(c.cold_vs_passthrough, 3)} | ${fmt(c.first_req_ms, 1)} | ` +
      `${kib(s.gzip_bytes)} KiB (${s.files}) | ${fmt(c.rss_mb_start, 1)} MiB | ${fmt(c.rss_mb_end, 1)} MiB | ${fmt(c.hwm_mb_end, 1)} MiB |`,
  );
}
L.push("");
L.push(
  `Cold start = spawn of the host process (node + Miniflare + workerd) until the first 200 through the Worker, with the RS256 token (for jose and edgeguard that request also fetches the RS256 JWKS from nginx); ` +
    `first request = curl's time for that request. Sizes: raw ${kib(eg.raw_bytes)} KiB, of which Wasm ${kib(eg.wasm_raw_bytes)} KiB raw / ${kib(eg.wasm_gzip_bytes)} KiB gzip -9. ` +
    "Memory: workerd has no per-isolate Wasm memory counter reachable from outside, so this is the RSS (VmRSS, VmHWM for the peak) of each Worker's whole workerd process from /proc/<pid>/status, " +
    "read after the first 200 and after the round's last workload: it includes V8, the runtime and the JS heap, not only the Wasm linear memory.",
);
if (checks.length) {
  L.push("");
  L.push("Answer to one attack token, before the load: " + checks.map((c) => `${c.worker}/${c.alg} ${c.status} \`${c.www_authenticate ?? "-"}\``).join("; ") + ".");
}
L.push("");
L.push("## Targets (issue 4)");
L.push("");
L.push("| Target | Measured | |");
L.push("|---|---|---|");
for (const t of targets) L.push(`| ${t.target} | ${t.measured} | ${verdict(t.ok)} |`);
L.push("");
L.push("## workerd CPU per request");
L.push("");
L.push(
  "CPU time (user + system, from /proc/<pid>/stat) the Worker's workerd process used during the measured part, divided by the requests answered; " +
    "median over rounds. It counts everything workerd does for a request (HTTP in and out, the fetch to the origin, the Worker's code, GC), " +
    "and is less sensitive than req/s to how the shared cores were scheduled.",
);
L.push("");
L.push("| Workload | Worker | CPU µs / request | vs passthrough |");
L.push("|---|---|---:|---:|");
for (const g of groups) {
  if (g.cpu_us_per_req === null) continue;
  L.push(`| ${ALG_NAME[g.alg]}, ${WL_NAME[g.workload]} | ${g.worker} | ${fmt(g.cpu_us_per_req)} | ${fmt(g.cpu_vs_passthrough, 2)}× |`);
}
L.push("");
L.push("## Per-round req/s");
L.push("");
L.push(`| Workload | Worker | ${rounds.map((n) => `round ${n}`).join(" | ")} |`);
L.push(`|---|---|${rounds.map(() => "---:").join("|")}|`);
for (const g of groups) L.push(`| ${ALG_NAME[g.alg]}, ${WL_NAME[g.workload]} | ${g.worker} | ${rounds.map((n) => fmtInt(g.per_round_rps[n] ?? NaN)).join(" | ")} |`);
L.push("");
L.push(`![req/s per workload](${date}.svg)`);
L.push("");
L.push(`Versions: ${Object.entries(env.versions).map(([k, v]) => `${k} ${v}`).join(", ")}. Raw data (runs.jsonl, logs) was in \`${raw.replace(/^.*?(\.work\/)/, "$1")}\` (git-ignored).`);
const md = L.join("\n") + "\n";

// -------------------------------------------------------------------- svg
function svg() {
  const COLORS = { passthrough: "#9e9e9e", jose: "#e8a33d", edgeguard: "#2b6cb0" };
  const cats = [];
  for (const alg of algs)
    for (const wl of ["reused", "distinct", "invalid"]) {
      const bars = [];
      if (wl === "reused" && G(alg, "passthrough", "floor")) bars.push(G(alg, "passthrough", "floor"));
      for (const w of ["jose", "edgeguard"]) if (G(alg, w, wl)) bars.push(G(alg, w, wl));
      if (bars.length) cats.push({ alg, wl, bars });
    }
  const W = 1200, H = 560, left = 70, right = 20, top = 70, bottom = 110;
  const plotW = W - left - right, plotH = H - top - bottom;
  const maxV = Math.max(...groups.map((g) => g.rps)) * 1.18;
  const step = (() => {
    const raw = maxV / 6, p = 10 ** Math.floor(Math.log10(raw));
    return [1, 2, 2.5, 5, 10].map((m) => m * p).find((s) => s >= raw);
  })();
  const y = (v) => top + plotH - (v / maxV) * plotH;
  const catW = plotW / cats.length, barW = Math.min(34, (catW - 16) / 3);
  const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const o = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`);
  o.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  o.push(`<text x="${left}" y="28" font-size="18" font-weight="bold">edgeguard vs jose vs passthrough: requests/s (higher is better), p50 latency above each bar</text>`);
  o.push(
    `<text x="${left}" y="48" font-size="12" fill="#444">${esc(`${date}, ${env.nproc} shared cores, workerd ${env.versions.workerd}, wrk ${env.conns} connections, ${env.duration_s} s x ${rounds.length} round(s), medians; dashed line: passthrough floor for that algorithm`)}</text>`,
  );
  for (let v = 0; v <= maxV; v += step) {
    o.push(`<line x1="${left}" x2="${W - right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e5e5e5"/>`);
    o.push(`<text x="${left - 8}" y="${(y(v) + 4).toFixed(1)}" font-size="11" text-anchor="end" fill="#555">${v >= 1000 ? v / 1000 + "k" : v}</text>`);
  }
  o.push(`<text x="18" y="${top + plotH / 2}" font-size="12" transform="rotate(-90 18 ${top + plotH / 2})" text-anchor="middle" fill="#333">requests/s</text>`);
  cats.forEach((c, i) => {
    const x0 = left + i * catW;
    const n = c.bars.length;
    const gx = x0 + (catW - n * barW - (n - 1) * 4) / 2;
    c.bars.forEach((g, j) => {
      const x = gx + j * (barW + 4), yy = y(g.rps);
      o.push(`<rect x="${x.toFixed(1)}" y="${yy.toFixed(1)}" width="${barW.toFixed(1)}" height="${(top + plotH - yy).toFixed(1)}" fill="${COLORS[g.worker]}"/>`);
      const cx = (x + barW / 2).toFixed(1);
      const k = g.rps >= 1000 ? (g.rps / 1000).toFixed(1) + "k" : Math.round(g.rps);
      o.push(`<text x="${cx}" y="${(yy - 18).toFixed(1)}" font-size="10.5" font-weight="bold" text-anchor="middle">${k}</text>`);
      o.push(`<text x="${cx}" y="${(yy - 6).toFixed(1)}" font-size="9.5" text-anchor="middle" fill="#444">${g.p50_ms.toFixed(1)}ms</text>`);
    });
    const [l1, l2] = c.wl === "reused" ? ["1 token", "reused"] : c.wl === "distinct" ? ["1,000", "distinct"] : ["1,000 bad", "signature"];
    o.push(`<text x="${(x0 + catW / 2).toFixed(1)}" y="${top + plotH + 18}" font-size="11.5" text-anchor="middle">${l1}</text>`);
    o.push(`<text x="${(x0 + catW / 2).toFixed(1)}" y="${top + plotH + 32}" font-size="11.5" text-anchor="middle">${l2}</text>`);
  });
  // algorithm labels and the passthrough floor across each algorithm's categories
  for (const alg of algs) {
    const idx = cats.map((c, i) => (c.alg === alg ? i : -1)).filter((i) => i >= 0);
    if (!idx.length) continue;
    const xa = left + idx[0] * catW, xb = left + (idx[idx.length - 1] + 1) * catW;
    o.push(`<line x1="${(xa + 6).toFixed(1)}" x2="${(xb - 6).toFixed(1)}" y1="${top + plotH + 44}" y2="${top + plotH + 44}" stroke="#888"/>`);
    o.push(`<text x="${((xa + xb) / 2).toFixed(1)}" y="${top + plotH + 62}" font-size="13" font-weight="bold" text-anchor="middle">${ALG_NAME[alg]}</text>`);
    const f = G(alg, "passthrough", "floor");
    if (f) o.push(`<line x1="${(xa + 4).toFixed(1)}" x2="${(xb - 4).toFixed(1)}" y1="${y(f.rps).toFixed(1)}" y2="${y(f.rps).toFixed(1)}" stroke="#777" stroke-dasharray="5,4"/>`);
    if (idx[0] > 0) o.push(`<line x1="${xa.toFixed(1)}" x2="${xa.toFixed(1)}" y1="${top}" y2="${top + plotH + 50}" stroke="#ccc"/>`);
  }
  o.push(`<line x1="${left}" x2="${W - right}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`);
  let lx = left;
  for (const w of workers) {
    o.push(`<rect x="${lx}" y="${H - 26}" width="14" height="14" fill="${COLORS[w]}"/>`);
    o.push(`<text x="${lx + 20}" y="${H - 14}" font-size="12.5">${w === "passthrough" ? "passthrough (no auth, floor)" : w === "jose" ? "jose (JavaScript peer)" : "edgeguard (this repo, Wasm)"}</text>`);
    lx += 230;
  }
  const inv = groups.filter((g) => g.workload === "invalid");
  const clean = inv.length && inv.every((g) => g.status_401 === g.requests && g.origin_hits === 0);
  if (inv.length)
    o.push(
      `<text x="${W - right}" y="${H - 14}" font-size="11" text-anchor="end" fill="#555">${
        clean ? "bad-signature rows: every answer a 401, nothing reached the origin" : "bad-signature rows: see the report for non-401 answers / origin hits"
      }</text>`,
    );
  o.push("</svg>");
  return o.join("\n") + "\n";
}

// ------------------------------------------------------------------ output
mkdirSync(outDir, { recursive: true });
const json = { env, sizes, groups, cold_start: cold, checks, starts, ends, runs, targets: targets.map((t) => ({ ...t, status: verdict(t.ok).replace(/\*/g, "") })) };
writeFileSync(join(outDir, `${date}.md`), md);
writeFileSync(join(outDir, `${date}.json`), JSON.stringify(json, null, 2) + "\n");
writeFileSync(join(outDir, `${date}.svg`), svg());
process.stdout.write(md);
console.error(`\nwrote ${join(outDir, date)}.{md,json,svg}`);
