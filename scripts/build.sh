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
#               Cargo.lock, build.rs, these scripts) and was built with the same
#               EDGEGUARD_FEATURES. wrangler.toml's [build] command uses it, so
#               `wrangler dev`/`wrangler deploy` right after a build do not build again.
#
# Environment:
#   EDGEGUARD_FEATURES  opt-in cargo features, comma or space separated (default: none).
#                       Known: extra-curves (ES384, ES256K). `wrangler deploy` builds with
#                       it too: `EDGEGUARD_FEATURES=extra-curves npx wrangler deploy`.
#                       The build writes the list to build/.edgeguard-features.
#   EDGEGUARD_OUT_DIR   output directory instead of build/ (a second build for tests;
#                       wrangler.toml deploys build/index.js)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$EG_ROOT"

IF_STALE=0
if [ "${1:-}" = "--if-stale" ]; then
  IF_STALE=1
  shift
fi

# EDGEGUARD_FEATURES, checked (an unknown name stops here), as cargo arguments.
eg_refuse_feature_flags "$@"
FEATURES="$(eg_feature_list)"
FEATURE_ARGS="$(eg_feature_args)"

# Before --if-stale's shortcut: wrangler.toml is not a build input, yet `wrangler deploy`
# ships its vars. A native debug build (it shares target/debug with `cargo test`), with the
# Worker's features so that it accepts exactly the algorithms the Worker will.
eg_log "edgeguard-check: wrangler.toml [vars] (features: ${FEATURES:-none})"
# shellcheck disable=SC2086 # FEATURE_ARGS is empty or `--features <checked names>`
if ! cargo run --quiet -p edgeguard-check $FEATURE_ARGS -- --wrangler wrangler.toml; then
  eg_die "wrangler.toml is not a valid edgeguard configuration (see the messages above); nothing was built" \
    "Fix what they name (README.md, \"Configuration reference\"), then rerun."
fi

OUT_DIR="${EDGEGUARD_OUT_DIR:-$EG_ROOT/build}"
OUT_NAME="${OUT_DIR#"$EG_ROOT"/}"
STAMP="$OUT_DIR/.edgeguard-build-stamp"
# The features the build in OUT_DIR has (eg_feature_list's form; tests/e2e reads it).
FEATURES_FILE="$OUT_DIR/.edgeguard-features"

report_size() {
  local wasm="$OUT_DIR/index_bg.wasm" js="$OUT_DIR/index.js"
  eg_log "$OUT_NAME/index_bg.wasm: $(eg_bytes "$(wc -c <"$wasm")") raw, $(eg_bytes "$(eg_gzip_size "$wasm")") gzip -9 (features: ${FEATURES:-none})"
  eg_log "$OUT_NAME/index.js:      $(eg_bytes "$(wc -c <"$js")") raw, $(eg_bytes "$(eg_gzip_size "$js")") gzip -9"
}

# True when the last successful build is newer than every input and has these features.
build_is_fresh() {
  [ -f "$STAMP" ] && [ -s "$OUT_DIR/index.js" ] && [ -s "$OUT_DIR/index_bg.wasm" ] || return 1
  [ -f "$FEATURES_FILE" ] && [ "$(cat "$FEATURES_FILE")" = "$FEATURES" ] || return 1
  local inputs=() p newer
  for p in src crates Cargo.toml Cargo.lock build.rs rust-toolchain.toml rust-toolchain .cargo \
    scripts/build.sh scripts/lib.sh; do
    [ -e "$p" ] && inputs+=("$p")
  done
  newer="$(find "${inputs[@]}" -newer "$STAMP" -print -quit)"
  [ -z "$newer" ]
}

if [ "$IF_STALE" = 1 ] && build_is_fresh; then
  eg_log "$OUT_NAME/ is up to date with src/, Cargo.toml, Cargo.lock and EDGEGUARD_FEATURES; skipping worker-build"
  report_size
  exit 0
fi

eg_ensure_build_tools
eg_log "worker-build --release -> $OUT_NAME/, features: ${FEATURES:-none} (wasm-bindgen $(eg_tool_version "$WASM_BINDGEN_BIN"), esbuild and wasm-opt from node_modules)"
start=$SECONDS
started_at="$(date +%s.%N)"
rm -f "$STAMP" "$FEATURES_FILE"
# The crate path is given so that no cargo argument can be taken for it.
# shellcheck disable=SC2086 # FEATURE_ARGS is empty or `--features <checked names>`
if ! "$WORKER_BUILD_BIN" --release --out-dir "$OUT_DIR" "$EG_ROOT" $FEATURE_ARGS "$@"; then
  eg_die "worker-build failed (see the messages above)" \
    "Compiler errors: fix src/ and rerun. Tool errors: rerun scripts/setup.sh, then scripts/build.sh."
fi
for f in index.js index_bg.wasm; do
  [ -s "$OUT_DIR/$f" ] || eg_die "worker-build succeeded but $OUT_NAME/$f is missing" \
    "Check that Cargo.toml builds a cdylib and that worker-build wrote to --out-dir $OUT_DIR."
done
# worker-build always keeps the Wasm name section (function names in panic stack traces),
# about 35 KiB of the module's gzip size. It is stripped here (a panic still logs its message
# and source location) unless EDGEGUARD_KEEP_WASM_NAMES=1.
if [ "${EDGEGUARD_KEEP_WASM_NAMES:-0}" != 1 ]; then
  eg_strip_wasm_names "$OUT_DIR/index_bg.wasm"
fi
printf '%s\n' "$FEATURES" >"$FEATURES_FILE"
# The stamp carries the build's start time: an input edited during the build stays "newer".
touch -d "@$started_at" "$STAMP"
eg_log "built in $((SECONDS - start)) s"
report_size
