// A probe, not a benchmark: workerd's CPU time (every thread's /proc schedstat, ns
// resolution) for a new gateway's start-up, its first request and its second, a request
// without a token (401, no I/O). Without an inspector, so nothing changes how V8 compiles.
// Rows:
// * the build (build/ or DIR), and OTHER_DIR if given (an A/B of a start-up change);
// * the same build with its entry cut short by a canned 401 + log line: at the entry's start
//   (module loaded and started, no call into it), after the fields are packed, after
//   `decideRequest` returned: where the first request's extra CPU goes;
// * the JS 401 + log line Worker (bench/js-reject-log): the platform's floor.
//
//   node bench/probes/first-request-cpu.mjs [DIR=build] [OTHER_DIR] [--gateways N=7]
//
// The cut copies live in .work/first-request-cpu/; they are patched from the bundled entry
// and refuse to run when its shape changed (the patch names what it did not find).
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startOrigin, startGateway, call, issuerItem, sleep } from "../../tests/e2e/lib/index.mjs";
import { WORKERS, bundleWorker } from "../build-workers.mjs";
import { schedUs, workerdChildren } from "../procfs.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const work = join(root, ".work", "first-request-cpu");
const args = process.argv.slice(2);
const flag = args.indexOf("--gateways");
const gateways = Math.min(Math.max(flag >= 0 ? Number(args.splice(flag, 2)[1]) || 7 : 7, 1), 30);
const [dir = join(root, "build"), otherDir] = args.map((a) => resolve(a));
setTimeout(() => {
  console.error("first-request-cpu: no result after 15 min");
  process.exit(1);
}, 15 * 60_000).unref();

const CANNED = `console.log('{"event":"rejected","status":401}');return new Response("no",{status:401,headers:{"www-authenticate":"Bearer"}});`;
// Where each cut goes in the bundled entry (js/shim.mjs after esbuild): a regex and whether
// the canned answer goes before or after the match.
const CUTS = {
  "cut at the entry's start": [/fetch\(\w+,\w+,\w+\)\{(?=\w+<0&&)/, "after"],
  "cut after packing": [/\w+\.write\(\w+,\w+\);(?=let \w+=\w+\()/, "after"],
  "cut after decideRequest": [/let \w+=\w+\([^;]*Date\.now\(\)\);/, "after"],
};

function cutCopy(label, [re, where]) {
  const out = join(work, label.replace(/\W+/g, "-"));
  rmSync(out, { recursive: true, force: true });
  cpSync(dir, out, { recursive: true });
  const file = join(out, "index.js");
  const text = readFileSync(file, "utf8");
  const m = text.match(re);
  if (!m) throw new Error(`${label}: ${re} not found in ${dir}/index.js (the shim changed: update CUTS)`);
  const at = m.index + (where === "after" ? m[0].length : 0);
  writeFileSync(file, text.slice(0, at) + CANNED + text.slice(at));
  return join(out, "index.js");
}

mkdirSync(work, { recursive: true });
const scripts = { build: join(dir, "index.js") };
if (otherDir) scripts.other = join(otherDir, "index.js");
for (const [label, cut] of Object.entries(CUTS)) scripts[label] = cutCopy(label, cut);
scripts["JS 401 + log line"] = await bundleWorker(WORKERS["js-reject-log"], join(work, "js-reject-log", "index.js"), {});

const cpuMs = (pid) => schedUs(pid) / 1000;

const origin = await startOrigin();
const issuers = [issuerItem("https://first.test/", "https://first.test/jwks")];
const rows = Object.fromEntries(Object.keys(scripts).map((label) => [label, []]));
try {
  for (let i = 0; i < gateways; i++) {
    // Rotated each round: the first gateway of a round pays more (caches the previous close
    // left cold), so no row may always be first.
    const order = Object.entries(scripts);
    for (const [label, script] of [...order.slice(i % order.length), ...order.slice(0, i % order.length)]) {
      const before = new Set(workerdChildren());
      const g = await startGateway({ issuers, origin, script });
      try {
        const started = workerdChildren().filter((p) => !before.has(p));
        if (started.length !== 1) throw new Error(`expected one new workerd process, found ${started.length}`);
        const pid = started[0];
        await sleep(200); // let start-up's stragglers finish outside the first request
        const c0 = cpuMs(pid);
        const first = await call(g.url, "/x", {});
        const c1 = cpuMs(pid);
        const second = await call(g.url, "/x", {});
        const c2 = cpuMs(pid);
        if (first.status !== 401 || second.status !== 401) throw new Error(`${label}: ${first.status}, ${second.status} (expected 401s)`);
        rows[label].push([c0, c1 - c0, c2 - c1]);
      } finally {
        await g.close();
      }
    }
  }
} finally {
  await origin.close();
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
console.log(`workerd CPU, ms, median of ${gateways} fresh gateways (start-up includes Miniflare's own workers)`);
console.log(`${"".padEnd(28)} ${"start-up".padStart(9)} ${"1st req".padStart(8)} ${"2nd req".padStart(8)}`);
for (const [label, r] of Object.entries(rows)) {
  const cols = [0, 1, 2].map((k) => median(r.map((x) => x[k])).toFixed(2));
  console.log(`${label.padEnd(28)} ${cols[0].padStart(9)} ${cols[1].padStart(8)} ${cols[2].padStart(8)}`);
}
