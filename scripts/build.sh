#!/usr/bin/env bash
# Builds the Worker -> build/index.js (js/shim.mjs + wasm-bindgen glue, bundled) and
# build/index_bg.wasm: cargo build, wasm-bindgen, wasm-opt and esbuild, each from a local
# copy (WASM_BINDGEN_BIN, WASM_OPT_BIN, ESBUILD_BIN; scripts/setup.sh installs them).
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
#                       Known: extra-curves (ES384, ES512, ES256K). `wrangler deploy` builds with
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
    scripts/build.sh scripts/lib.sh js; do
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
start=$SECONDS
started_at="$(date +%s.%N)"
rm -f "$STAMP" "$FEATURES_FILE"
STAGE="$OUT_DIR/.stage"
rm -rf "$STAGE"
mkdir -p "$STAGE"

# 1. The Rust library for wasm32 (the release profile in Cargo.toml).
eg_log "cargo build --release --target $WASM_TARGET -> $OUT_NAME/, features: ${FEATURES:-none} (a clean build takes a few minutes)"
# shellcheck disable=SC2086 # FEATURE_ARGS is empty or `--features <checked names>`
if ! cargo build --quiet --release --target "$WASM_TARGET" --lib $FEATURE_ARGS "$@"; then
  eg_die "cargo build failed (see the messages above)" "Fix src/ and rerun scripts/build.sh."
fi
WASM_IN="${CARGO_TARGET_DIR:-$EG_ROOT/target}/$WASM_TARGET/release/edgeguard.wasm"

# 2. wasm-bindgen's JS glue (ES module target; the flags worker-build uses, so a trapped
#    instance is re-created on the next call instead of staying broken).
eg_log "wasm-bindgen $(eg_tool_version "$WASM_BINDGEN_BIN")"
"$WASM_BINDGEN_BIN" --target module --out-name index --no-typescript \
  --experimental-reset-state-function --force-enable-abort-handler \
  --out-dir "$STAGE" "$WASM_IN" ||
  eg_die "wasm-bindgen failed" "Rerun scripts/setup.sh (it installs the wasm-bindgen-cli matching Cargo.lock)."
# workerd imports a .wasm module as a compiled module already: no source-phase import.
sed -i 's/^import source /import /' "$STAGE/index.js"

# 3. wasm-opt for size, with workerd's feature set (no newer encodings), names stripped
#    unless EDGEGUARD_KEEP_WASM_NAMES=1 (a panic still logs its message and location).
eg_log "wasm-opt -O"
eg_wasm_opt "$STAGE/index_bg.wasm" -O

# 4. The entry: our shim (js/) bundled with the glue by esbuild; the Wasm stays a module.
#    Minified, except in a profiling build (EDGEGUARD_KEEP_WASM_NAMES=1), whose CPU profile
#    then names the JS lines too.
cp "$EG_ROOT/js/shim.mjs" "$EG_ROOT/js/apply.mjs" "$EG_ROOT/js/pack.mjs" "$EG_ROOT/js/replay.mjs" "$STAGE/"
MINIFY=(--minify)
[ "${EDGEGUARD_KEEP_WASM_NAMES:-0}" = 1 ] && MINIFY=()
"$ESBUILD_BIN" --log-level=warning --bundle --format=esm "${MINIFY[@]}" \
  --external:./index_bg.wasm '--external:cloudflare:*' \
  "$STAGE/shim.mjs" --outfile="$OUT_DIR/index.js" --allow-overwrite ||
  eg_die "esbuild failed" "Rerun scripts/setup.sh (it installs esbuild from npm)."
mv "$STAGE/index_bg.wasm" "$OUT_DIR/index_bg.wasm"
rm -rf "$STAGE" "$OUT_DIR/worker" "$OUT_DIR/package.json"
printf '%s\n' "$FEATURES" >"$FEATURES_FILE"
# The stamp carries the build's start time: an input edited during the build stays "newer".
touch -d "@$started_at" "$STAMP"
eg_log "built in $((SECONDS - start)) s"
report_size
