#!/usr/bin/env bash
# Builds the Worker: `worker-build --release` -> build/index.js + build/index_bg.wasm.
# worker-build's own downloads of wasm-bindgen, esbuild and wasm-opt cannot work without
# internet, so it is pointed at local copies (WASM_BINDGEN_BIN, ESBUILD_BIN, WASM_OPT_BIN).
# Runs scripts/setup.sh first if a tool is missing or at the wrong version. Before anything,
# edgeguard-check validates wrangler.toml's [vars]: a bad var stops the build (and so
# `wrangler deploy`) with the check's messages.
#
# Usage: scripts/build.sh [--if-stale] [extra cargo build args...]
#   --if-stale  do nothing when build/ is newer than every input (src/, crates/, Cargo.toml,
#               Cargo.lock, build.rs, these scripts). wrangler.toml's [build] command uses it,
#               so `wrangler dev`/`wrangler deploy` right after a build do not build again.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$EG_ROOT"

IF_STALE=0
if [ "${1:-}" = "--if-stale" ]; then
  IF_STALE=1
  shift
fi

# Before --if-stale's shortcut: wrangler.toml is not a build input, yet `wrangler deploy`
# ships its vars. A native debug build (it shares target/debug with `cargo test`).
eg_log "edgeguard-check: wrangler.toml [vars]"
if ! cargo run --quiet -p edgeguard-check -- --wrangler wrangler.toml; then
  eg_die "wrangler.toml is not a valid edgeguard configuration (see the messages above); nothing was built" \
    "Fix what they name (README.md, \"Configuration reference\"), then rerun."
fi

OUT_DIR="$EG_ROOT/build"
STAMP="$OUT_DIR/.edgeguard-build-stamp"

report_size() {
  local wasm="$OUT_DIR/index_bg.wasm" js="$OUT_DIR/index.js"
  eg_log "build/index_bg.wasm: $(eg_bytes "$(wc -c <"$wasm")") raw, $(eg_bytes "$(eg_gzip_size "$wasm")") gzip -9"
  eg_log "build/index.js:      $(eg_bytes "$(wc -c <"$js")") raw, $(eg_bytes "$(eg_gzip_size "$js")") gzip -9"
}

# True when the last successful build is newer than every input.
build_is_fresh() {
  [ -f "$STAMP" ] && [ -s "$OUT_DIR/index.js" ] && [ -s "$OUT_DIR/index_bg.wasm" ] || return 1
  local inputs=() p newer
  for p in src crates Cargo.toml Cargo.lock build.rs rust-toolchain.toml rust-toolchain .cargo \
    scripts/build.sh scripts/lib.sh; do
    [ -e "$p" ] && inputs+=("$p")
  done
  newer="$(find "${inputs[@]}" -newer "$STAMP" -print -quit)"
  [ -z "$newer" ]
}

if [ "$IF_STALE" = 1 ] && build_is_fresh; then
  eg_log "build/ is up to date with src/, Cargo.toml and Cargo.lock; skipping worker-build"
  report_size
  exit 0
fi

eg_ensure_build_tools
eg_log "worker-build --release (wasm-bindgen $(eg_tool_version "$WASM_BINDGEN_BIN"), esbuild and wasm-opt from node_modules)"
start=$SECONDS
started_at="$(date +%s.%N)"
rm -f "$STAMP"
if ! "$WORKER_BUILD_BIN" --release "$@"; then
  eg_die "worker-build failed (see the messages above)" \
    "Compiler errors: fix src/ and rerun. Tool errors: rerun scripts/setup.sh, then scripts/build.sh."
fi
for f in index.js index_bg.wasm; do
  [ -s "$OUT_DIR/$f" ] || eg_die "worker-build succeeded but build/$f is missing" \
    "Check that Cargo.toml builds a cdylib and that worker-build's --out-dir is the default (build)."
done
# worker-build always keeps the Wasm name section (function names in panic stack traces),
# about 35 KiB of the module's gzip size. It is stripped here (a panic still logs its message
# and source location) unless EDGEGUARD_KEEP_WASM_NAMES=1.
if [ "${EDGEGUARD_KEEP_WASM_NAMES:-0}" != 1 ]; then
  eg_strip_wasm_names "$OUT_DIR/index_bg.wasm"
fi
# The stamp carries the build's start time: an input edited during the build stays "newer".
touch -d "@$started_at" "$STAMP"
eg_log "built in $((SECONDS - start)) s"
report_size
