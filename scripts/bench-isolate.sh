#!/usr/bin/env bash
# The in-isolate benchmark (issue 13's instrument): workerd CPU per request of the JS
# passthrough, the Rust passthrough, the jose Worker and edgeguard (plus an optional candidate
# edgeguard build), each called thousands of times from a driver inside its own workerd
# isolate with the network replaced by a canned answer. See bench/README.md.
#
# Usage: scripts/bench-isolate.sh            full run, ~6 min; writes bench/results/in-isolate-<UTC date>.{md,json,svg}
#        QUICK=1 scripts/bench-isolate.sh    ~1-2 min; writes .work/bench/in-isolate-quick/
#   CANDIDATE=/path/to/build/index.js        an A/B column (another edgeguard build; its index_bg.wasm beside it)
#   CANDIDATE_LABEL=aef019f                  that column's heading (default "candidate")
#   CANDIDATE_METRICS=1                      the candidate gets a METRICS binding (Miniflare's local
#                                            Analytics Engine): with CANDIDATE=build/index.js, the cost
#                                            of one data point per request
#   Other knobs (ROUNDS, BATCH_MS, ...) are bench/in-isolate.mjs options: pass them after --.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$EG_ROOT"

eg_log "edgeguard: scripts/build.sh --if-stale"
"$EG_ROOT/scripts/build.sh" --if-stale

rust="$EG_ROOT/bench/rust-passthrough/build/index.js"
if [ ! -f "$rust" ] || [ ! -f "${rust%index.js}index_bg.wasm" ]; then
  eg_ensure_worker_build
  eg_log "building the Rust passthrough Worker (worker-build --release in bench/rust-passthrough, ~1 min)"
  (cd "$EG_ROOT/bench/rust-passthrough" && "$WORKER_BUILD_BIN" --release) ||
    eg_die "worker-build failed for bench/rust-passthrough" \
      "Run scripts/build.sh first (it checks the tools), then rerun this script."
  eg_strip_wasm_names "${rust%index.js}index_bg.wasm"
fi

args=(--rust-passthrough "$rust")
[ -n "${CANDIDATE:-}" ] && args+=(--candidate "$CANDIDATE")
[ -n "${QUICK:-}" ] && [ "${QUICK}" != 0 ] && args+=(--quick)
exec node "$EG_ROOT/bench/in-isolate.mjs" "${args[@]}" "$@"
