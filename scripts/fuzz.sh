#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ (token path, JWKS parser, config parser) one after the
# other, each for a bounded time, and fails if any of them finds a crash (panic, failed
# invariant, sanitizer report, allocation over the limit, out-of-memory or a slow input).
# See fuzz/README.md for long runs and reproducing a crash.
#
# Usage: scripts/fuzz.sh [seconds-per-target] [target...]     (default: 60, all targets)
#
# Environment:
#   FUZZ_ARGS="..."   extra libFuzzer flags for every target (e.g. "-jobs=2 -workers=2")
#
# cargo-fuzz needs nightly-only compiler flags (-Zsanitizer=address, ...). Only stable Rust is
# used here, so this script sets RUSTC_BOOTSTRAP=1 for its own cargo calls (nothing else).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$EG_ROOT"

ALL_TARGETS=(token_pipeline jwks_parser config_parser ec_differential route_match)
SECONDS_PER_TARGET="${1:-60}"
[[ "$SECONDS_PER_TARGET" =~ ^[1-9][0-9]*$ ]] ||
  eg_die "seconds-per-target must be a positive whole number, got '$SECONDS_PER_TARGET'" \
    "Usage: scripts/fuzz.sh [seconds-per-target] [target...]"
shift $(($# > 0 ? 1 : 0))
TARGETS=("$@")
[ "${#TARGETS[@]}" -gt 0 ] || TARGETS=("${ALL_TARGETS[@]}")
for t in "${TARGETS[@]}"; do
  [[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || eg_die "unknown fuzz target '$t'" "Targets: ${ALL_TARGETS[*]}"
done

# Per-input limits, so unbounded allocation or work is a finding, not a slow run:
#   -rss_limit_mb      the whole process; -malloc_limit_mb  any single allocation;
#   -timeout           seconds for one input (timeout_for: 10, and 3 for route_match, whose
#                      matching must stay polynomial and small: a slow input there is the
#                      bug it hunts; its inputs take milliseconds under ASan).
# -max_len: a little over what the gateway accepts (MAX_TOKEN_BYTES 8192 by default, JWKS up
# to JWKS_MAX_BYTES but real ones are a few KiB), so the size checks are exercised too.
LIMITS=(-rss_limit_mb=512 -malloc_limit_mb=256 -print_final_stats=1)
# AddressSanitizer keeps up to 256 MiB of freed memory to catch use-after-free; edgeguard has
# no `unsafe`, so a smaller quarantine keeps the RSS limit about the code, not ASan.
export ASAN_OPTIONS="${ASAN_OPTIONS:-quarantine_size_mb=64}"
max_len() {
  case "$1" in
    token_pipeline) echo 10000 ;;
    jwks_parser) echo 16384 ;;
    config_parser) echo 8192 ;;
    ec_differential) echo 129 ;;
    route_match) echo 12288 ;;
  esac
}
timeout_for() {
  case "$1" in
    route_match) echo 3 ;;
    *) echo 10 ;;
  esac
}

export RUSTC_BOOTSTRAP=1
command -v c++ >/dev/null ||
  eg_die "a C++ compiler is needed (libfuzzer-sys builds libFuzzer from source)" \
    "Install one, e.g.: apt-get install -y g++ (scripts/setup.sh installs build-essential)"

if ! cargo fuzz --version >/dev/null 2>&1; then
  eg_log "installing cargo-fuzz (about 2-4 minutes)"
  cargo install cargo-fuzz --version '^0.13' --locked ||
    cargo install cargo-fuzz --version '^0.13' ||
    eg_die "could not install cargo-fuzz" "Try: cargo install cargo-fuzz"
fi
eg_log "$(cargo fuzz --version)"

# One build for all targets, with AddressSanitizer. `-O`: the release profile of
# fuzz/Cargo.toml decides on debug assertions and overflow checks (on, except in one
# dependency; see there) instead of cargo-fuzz forcing them on everywhere.
eg_log "building the fuzz targets (first build: about 2 minutes)"
cargo fuzz build --fuzz-dir fuzz -O ||
  eg_die "building the fuzz targets failed" "Rerun: RUSTC_BOOTSTRAP=1 cargo fuzz build --fuzz-dir fuzz -O"

./fuzz/seed.sh

mkdir -p fuzz/artifacts
FAILED=()
SUMMARY=()
for t in "${TARGETS[@]}"; do
  log="fuzz/artifacts/$t.log"
  eg_section "fuzz $t for $SECONDS_PER_TARGET s (log: $log)"
  rc=0
  # -max_total_time stops libFuzzer; the outer timeout only guards against a hang around it.
  # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
  timeout -k 20 "$((SECONDS_PER_TARGET + 300))" \
    cargo fuzz run --fuzz-dir fuzz -O "$t" "fuzz/corpus/$t" -- \
    -max_total_time="$SECONDS_PER_TARGET" -max_len="$(max_len "$t")" \
    -dict="fuzz/dict/$t.dict" -timeout="$(timeout_for "$t")" "${LIMITS[@]}" ${FUZZ_ARGS:-} >"$log" 2>&1 || rc=$?
  grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::number_of_executed_units|^Done [0-9]+ runs' "$log" >&2 || true
  done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)"
  if [ "$rc" -ne 0 ]; then
    FAILED+=("$t")
    tail -n 60 "$log" >&2
    if ! grep -q '^INFO: Seed:' "$log"; then
      # cargo fuzz run rebuilds first: a source change since the build above can fail here.
      SUMMARY+=("$(printf '%-15s FAILED to build or start (exit %s): see %s' "$t" "$rc" "$log")")
    else
      SUMMARY+=("$(printf '%-15s FAILED (exit %s): see %s and fuzz/artifacts/%s/' "$t" "$rc" "$log" "$t")")
    fi
  else
    SUMMARY+=("$(printf '%-15s ok  %s' "$t" "${done_line:-(no DONE line)}")")
  fi
done

eg_section "fuzz summary"
printf '%s\n' "${SUMMARY[@]}" >&2
if [ "${#FAILED[@]}" -gt 0 ]; then
  eg_die "fuzzing found a problem in: ${FAILED[*]}" \
    "Reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz -O <target> fuzz/artifacts/<target>/<crash-file>" \
    "Details: fuzz/README.md"
fi
eg_log "no crash in ${TARGETS[*]} ($SECONDS_PER_TARGET s each)"
