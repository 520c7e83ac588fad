// Wasm side of the comparison: loads the wasm-bindgen (nodejs target) output from the
// directory given as argv[2] and prints `name<TAB>microseconds per verification` (median of
// 15 batches of ~20 ms each) for every case (or, with `decisions`, every DECISIONS row).
// V8 here is node's; scripts/bench-wasm.sh runs it with --wasm-inlining, which workerd's
// V8 has on by default. Measured side by side (same Wasm, same session): workerd tiers the
// hot functions up to TurboFan within ~10 verifications, and its steady state is within
// ~10 % of node's with that flag, so these per-verification figures carry over.
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import { join, resolve } from "node:path";

const require = createRequire(import.meta.url);
const wasm = require(join(resolve(process.argv[2]), "edgeguard_wasm_verify.js"));
// `node run.mjs DIR decisions`: the whole-decision rows instead of the verification ones.
const decisions = process.argv[3] === "decisions";
const count = decisions ? wasm.decision_count() : wasm.case_count();
const name = (i) => (decisions ? wasm.decision_name(i) : wasm.case_name(i));
const run = (i, n) => (decisions ? wasm.decide_n(i, n) : wasm.verify_n(i, n));
for (let i = 0; i < count; i++) {
  const label = name(i);
  if (!run(i, 3)) throw new Error(`${label}: the fixture does not give the expected outcome in Wasm`);
  let t = performance.now();
  run(i, 10);
  const per = (performance.now() - t) / 10;
  const batch = Math.max(1, Math.min(100000, Math.round(20 / per)));
  const samples = [];
  for (let k = 0; k < 15; k++) {
    t = performance.now();
    run(i, batch);
    samples.push(((performance.now() - t) * 1000) / batch);
  }
  samples.sort((a, b) => a - b);
  console.log(`${label}\t${samples[7].toFixed(1)}`);
}
