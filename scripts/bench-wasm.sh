#!/usr/bin/env bash
# Per-algorithm signature verification cost, inside Wasm (V8, via node) and natively, from
# the same source (bench/wasm-verify). Prints a Markdown table. Timings are medians of
# batches on this (shared, noisy) machine: compare the columns of one run, not runs.
#
# Usage: scripts/bench-wasm.sh
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$EG_ROOT/bench/wasm-verify"

eg_log "building the Wasm micro-benchmark (release, same profile as the Worker)"
cargo build --quiet --release --lib --target wasm32-unknown-unknown
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
wasm_bindgen="${WASM_BINDGEN_BIN:-$HOME/.cargo/bin/wasm-bindgen}"
"$wasm_bindgen" --target nodejs --out-dir "$out" \
  target/wasm32-unknown-unknown/release/edgeguard_wasm_verify.wasm
eg_log "building the native micro-benchmark"
cargo build --quiet --release --bin edgeguard-wasm-verify

eg_log "measuring (about a minute)"
# --wasm-inlining: on by default in workerd's (newer) V8, off in node 20's; without it node
# overstates ES256 by ~1.45x (measured side by side in workerd and node, 2026-12-01).
node --wasm-inlining run.mjs "$out" >"$out/wasm.tsv"
target/release/edgeguard-wasm-verify >"$out/native.tsv"
node webcrypto.mjs >"$out/webcrypto.tsv"
node --wasm-inlining run.mjs "$out" decisions >"$out/wasm-decisions.tsv"
target/release/edgeguard-wasm-verify decisions >"$out/native-decisions.tsv"

echo
echo "| algorithm | edgeguard in Wasm (V8), µs | same code native, µs | Wasm / native | WebCrypto in node (awaited), µs |"
echo "| --- | ---: | ---: | ---: | ---: |"
paste "$out/wasm.tsv" "$out/native.tsv" "$out/webcrypto.tsv" |
  awk -F'\t' '{ printf "| %s | %s | %s | %.1fx | %s |\n", $1, $2, $4, $2 / $4, $6 }'
echo
echo "| the whole decision (decide + wire::encode, keys in memory) | in Wasm (V8), µs | native, µs | Wasm / native |"
echo "| --- | ---: | ---: | ---: |"
paste "$out/wasm-decisions.tsv" "$out/native-decisions.tsv" |
  awk -F'\t' '{ printf "| %s | %s | %s | %.1fx |\n", $1, $2, $4, $2 / $4 }'
echo
echo "Measured $(date -u +%Y-%m-%d) with scripts/bench-wasm.sh on $(nproc) cores. edgeguard columns: the full"
echo "pipeline per token (parse, key selection, signature, claims); WebCrypto: the signature check only."
