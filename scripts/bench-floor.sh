#!/usr/bin/env bash
# The floor of the platform choice: builds bench/rust-passthrough (a workers-rs Worker that
# only forwards, built like edgeguard: worker 0.8, worker-build, same release profile, name
# section stripped) and runs the load benchmark with it in edgeguard's place. In that report
# the column named "edgeguard" is the Rust passthrough: compare it with the JS passthrough to
# see what any Rust/Wasm Worker pays per request before doing any work of its own.
#
# Usage: scripts/bench-floor.sh      (~3 min; results under .work/bench/floor/)
#   Knobs: those of scripts/bench.sh (defaults here: QUICK=1 ROUNDS=2 ALGS=eddsa, no attack workload)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$EG_ROOT"

eg_ensure_worker_build
dir="$EG_ROOT/bench/rust-passthrough"
eg_log "building the Rust passthrough Worker (worker-build --release in bench/rust-passthrough)"
(cd "$dir" && "$WORKER_BUILD_BIN" --release) || eg_die "worker-build failed for bench/rust-passthrough" \
  "Run scripts/build.sh first (it checks the tools), then rerun this script."
wasm="$dir/build/index_bg.wasm"
eg_strip_wasm_names "$wasm"
eg_log "Rust passthrough: $(eg_bytes "$(eg_gzip_size "$wasm")") gzip -9 of Wasm"

export QUICK="${QUICK:-1}" ROUNDS="${ROUNDS:-2}" ALGS="${ALGS:-eddsa}" INVALID_ALGS="${INVALID_ALGS-}"
export RESULTS_DIR="${RESULTS_DIR:-$EG_ROOT/.work/bench/floor}"
EDGEGUARD_ENTRY="$dir/build/index.js" exec "$EG_ROOT/scripts/bench.sh"
