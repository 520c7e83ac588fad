# shellcheck shell=bash
# Shared by scripts/*.sh: repository paths, tool locations, logging and the quick toolchain
# checks. Source it (`. "$(dirname "$0")/lib.sh"`); it defines functions and variables only.
#
# Tool locations can be overridden from the environment (worker-build reads the last three):
#   WORKER_BUILD_BIN  default $CARGO_HOME/bin/worker-build
#   WASM_BINDGEN_BIN  default $CARGO_HOME/bin/wasm-bindgen
#   ESBUILD_BIN       default node_modules/.bin/esbuild
#   WASM_OPT_BIN      default node_modules/binaryen/bin/wasm-opt

EG_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
case ":$PATH:" in
  *":$CARGO_HOME/bin:"*) ;;
  *) PATH="$CARGO_HOME/bin:$PATH" ;;
esac
export PATH

WASM_TARGET="wasm32-unknown-unknown"
# The Wycheproof vectors also run as a WASI test binary in node's V8 (scripts/wasm-wycheproof.sh).
WASI_TARGET="wasm32-wasip1"
WORKER_BUILD_BIN="${WORKER_BUILD_BIN:-$CARGO_HOME/bin/worker-build}"
WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$CARGO_HOME/bin/wasm-bindgen}"
ESBUILD_BIN="${ESBUILD_BIN:-$EG_ROOT/node_modules/.bin/esbuild}"
WASM_OPT_BIN="${WASM_OPT_BIN:-$EG_ROOT/node_modules/binaryen/bin/wasm-opt}"
WRANGLER_BIN="$EG_ROOT/node_modules/.bin/wrangler"

# Keep wrangler/miniflare off the network: no telemetry or error reports, no download of the
# `Request.cf` object (a local placeholder is used instead).
export WRANGLER_SEND_METRICS="${WRANGLER_SEND_METRICS:-false}"
export WRANGLER_SEND_ERROR_REPORTS="${WRANGLER_SEND_ERROR_REPORTS:-false}"
export CLOUDFLARE_CF_FETCH_ENABLED="${CLOUDFLARE_CF_FETCH_ENABLED:-false}"

eg_log() { printf '==> %s\n' "$*" >&2; }
eg_warn() { printf 'warning: %s\n' "$*" >&2; }
eg_die() {
  printf 'error: %s\n' "$1" >&2
  shift
  local line
  for line in "$@"; do printf '       %s\n' "$line" >&2; done
  exit 1
}
eg_section() {
  printf '\n==================== %s ====================\n' "$*" >&2
}

# First x.y.z found in a tool's `--version` output (empty if the tool is missing or fails).
eg_tool_version() {
  local out
  out="$("$@" --version 2>/dev/null)" || return 0
  grep -oE '[0-9]+\.[0-9]+\.[0-9]+' <<<"$out" | head -n 1 || true
}

# The version of a package in Cargo.lock. Fails if it is absent or locked at several versions.
eg_lock_version() {
  local name="$1" versions count
  versions="$(awk -v want="$name" '
    /^\[\[package\]\]/ { n = ""; next }
    /^name = / { n = $3; gsub(/"/, "", n); next }
    /^version = / && n == want { v = $3; gsub(/"/, "", v); print v }
  ' "$EG_ROOT/Cargo.lock")"
  count="$(grep -c . <<<"$versions" || true)"
  if [ "$count" != 1 ]; then
    eg_die "Cargo.lock locks '$name' at ${count} versions (${versions//$'\n'/, }); expected exactly one" \
      "Run 'cargo update -p $name' or fix Cargo.toml so a single version is used."
  fi
  printf '%s\n' "$versions"
}

# Versions the toolchain must match, from Cargo.lock.
eg_wanted_versions() {
  [ -f "$EG_ROOT/Cargo.lock" ] || eg_die "Cargo.lock is missing in $EG_ROOT" \
    "It is committed with the project; restore it (or run 'cargo generate-lockfile')."
  WANT_WASM_BINDGEN="$(eg_lock_version wasm-bindgen)"
  local worker
  worker="$(eg_lock_version worker)"
  WANT_WORKER_BUILD_MINOR="${worker%.*}"   # 0.8.7 -> 0.8: worker-build ^0.8
}

eg_have_rust_target() {
  rustup target list --installed 2>/dev/null | grep -qx "$1"
}
eg_have_rust_component() {
  rustup component list --installed 2>/dev/null | grep -q "^$1\(-\|$\)"
}
eg_worker_build_ok() {
  local v
  v="$(eg_tool_version "$WORKER_BUILD_BIN")"
  [ -n "$v" ] && [ "${v%.*}" = "$WANT_WORKER_BUILD_MINOR" ]
}
eg_wasm_bindgen_ok() {
  [ "$(eg_tool_version "$WASM_BINDGEN_BIN")" = "$WANT_WASM_BINDGEN" ]
}
# node_modules present, not older than package-lock.json, and the binaries we call are there.
eg_node_modules_ok() {
  local stamp="$EG_ROOT/node_modules/.package-lock.json"
  [ -f "$stamp" ] || return 1
  [ "$EG_ROOT/package-lock.json" -nt "$stamp" ] && return 1
  [ -x "$ESBUILD_BIN" ] && [ -x "$WASM_OPT_BIN" ] && [ -x "$WRANGLER_BIN" ]
}

# Quick (well under a second) check that everything a build needs is in place.
eg_build_tools_ready() {
  eg_wanted_versions
  command -v cargo >/dev/null && command -v rustup >/dev/null && command -v node >/dev/null &&
    eg_have_rust_target "$WASM_TARGET" && eg_wasm_bindgen_ok && eg_node_modules_ok
}

# Runs scripts/setup.sh when a build tool is missing or at the wrong version, then exports
# the tool paths (worker-build, for bench/rust-passthrough, reads the same variables).
# worker-build, for the benchmarks' workers-rs passthrough only (installed on demand).
eg_ensure_worker_build() {
  eg_ensure_build_tools
  eg_wanted_versions
  if ! eg_worker_build_ok; then
    eg_log "worker-build missing (the benchmarks' Rust passthrough is built with it); installing, ~7 min"
    "$EG_ROOT/scripts/setup.sh" --with-worker-build
  fi
}

eg_ensure_build_tools() {
  if ! eg_build_tools_ready; then
    eg_log "toolchain incomplete; running scripts/setup.sh"
    "$EG_ROOT/scripts/setup.sh"
  fi
  export WASM_BINDGEN_BIN ESBUILD_BIN WASM_OPT_BIN
}

# Runs wasm-opt in place on a Wasm file with extra options ("$@", e.g. -Oz), enabling only
# the features workerd supports (the list worker-build uses), so no newer encoding is
# emitted, plus simd (V8 has it; crates/edgeguard-rsa's RSA kernel uses it). Drops the name
# section and producers unless EDGEGUARD_KEEP_WASM_NAMES=1.
eg_wasm_opt() {
  local wasm="$1" features=() f
  shift
  for f in mutable-globals sign-ext nontrapping-float-to-int bulk-memory multivalue \
    reference-types exception-handling simd; do
    features+=("--enable-$f")
  done
  if [ "${EDGEGUARD_KEEP_WASM_NAMES:-0}" = 1 ]; then
    features+=(--debuginfo)
  else
    features+=(--strip-debug --strip-producers)
  fi
  "$WASM_OPT_BIN" "${features[@]}" "$@" "$wasm" -o "$wasm.opt" ||
    eg_die "wasm-opt failed on $wasm" \
      "Rerun scripts/setup.sh (it reinstalls wasm-opt from npm), or build with EDGEGUARD_KEEP_WASM_NAMES=1."
  mv "$wasm.opt" "$wasm"
}

# Strips the name section (and producers) from a Wasm file in place.
eg_strip_wasm_names() { EDGEGUARD_KEEP_WASM_NAMES=0 eg_wasm_opt "$1"; }

# The opt-in cargo features of the Worker (Cargo.toml [features], off by default), selected
# for scripts/build.sh by EDGEGUARD_FEATURES: comma or space separated names, e.g.
# `EDGEGUARD_FEATURES=extra-curves ./scripts/build.sh` (ES384, ES512 and ES256K).
EG_OPTIONAL_FEATURES=(extra-curves)

# The features EDGEGUARD_FEATURES names, checked, deduplicated and in EG_OPTIONAL_FEATURES'
# order, comma separated (empty for none). Dies naming the known ones on an unknown name.
eg_feature_list() {
  local words=() word f known out=()
  IFS=$', \t\n' read -r -a words <<<"${EDGEGUARD_FEATURES:-}"
  for word in "${words[@]}"; do
    [ -n "$word" ] || continue
    known=0
    for f in "${EG_OPTIONAL_FEATURES[@]}"; do [ "$word" = "$f" ] && known=1; done
    [ "$known" = 1 ] || eg_die "EDGEGUARD_FEATURES names '$word', which is not an optional feature" \
      "Known: ${EG_OPTIONAL_FEATURES[*]} (comma or space separated, e.g. EDGEGUARD_FEATURES=extra-curves ./scripts/build.sh)."
  done
  for f in "${EG_OPTIONAL_FEATURES[@]}"; do
    for word in "${words[@]}"; do
      if [ "$word" = "$f" ]; then
        out+=("$f")
        break
      fi
    done
  done
  local IFS=,
  printf '%s\n' "${out[*]}"
}

# The cargo arguments for EDGEGUARD_FEATURES: `--features a,b`, or nothing. Dies like
# eg_feature_list on an unknown name. Use as `args="$(eg_feature_args)"` (a failure in a
# command substitution only stops the script where it is assigned), then $args unquoted.
eg_feature_args() {
  local list
  list="$(eg_feature_list)" || exit 1
  [ -z "$list" ] || printf -- '--features %s\n' "$list"
}

# Dies when cargo arguments (scripts/build.sh's extra ones) choose features themselves: the
# build would then differ from what EDGEGUARD_FEATURES says, and from what the check and
# the build's .edgeguard-features record.
eg_refuse_feature_flags() {
  local arg
  for arg in "$@"; do
    case "$arg" in
      --features | --features=* | -F | -F?* | --all-features | --no-default-features)
        eg_die "'$arg': choose optional features with EDGEGUARD_FEATURES, not cargo flags" \
          "E.g. EDGEGUARD_FEATURES=extra-curves ./scripts/build.sh (known: ${EG_OPTIONAL_FEATURES[*]})." ;;
    esac
  done
}

# `gzip -9` size of a file in bytes.
eg_gzip_size() { gzip -9 -c "$1" | wc -c | tr -d ' '; }

# Human-readable byte count, e.g. "151234 B (147.7 KiB)".
eg_bytes() { awk -v b="$1" 'BEGIN { printf "%d B (%.1f KiB)", b, b / 1024 }'; }

# A free TCP port on 127.0.0.1 (the kernel's choice; there is a small race until it is used).
eg_free_port() {
  node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# Succeeds if nothing listens on 127.0.0.1:$1.
eg_port_is_free() {
  node -e 'const s = require("net").createServer(); s.once("error", () => process.exit(1)); s.listen(Number(process.argv[1]), "127.0.0.1", () => s.close(() => process.exit(0)));' "$1"
}
