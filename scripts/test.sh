#!/usr/bin/env bash
# Sets up and runs every check, in order, stopping at the first failure. CI runs this
# (.ci/run). Each step has its own timeout, and the whole run is bounded by TEST_TIMEOUT.
#
# Environment:
#   TEST_TIMEOUT=5100     seconds for the whole run, setup included (CI allows 90 minutes)
#   SKIP_STEPS="a b"      step names to skip (e.g. SKIP_STEPS="clippy-wasm demo")
#   ONLY_STEPS="a b"      run only these steps (setup always runs unless skipped explicitly)
#   FUZZ_SECONDS=60       seconds per fuzz target in the fuzz step (scripts/fuzz.sh)
# List the steps: scripts/test.sh --list
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$EG_ROOT"

# --- The steps --------------------------------------------------------------------------------
# One per line: name | timeout in seconds | command (run with bash -c in the repo root).
# To add a check, add a line here.
STEPS=(
  "setup           | 2400 | ./scripts/setup.sh"
  "standalone      |   60 | ./scripts/check-standalone.sh --self-test"
  "fmt             |  300 | cargo fmt --all -- --check"
  "js              |  120 | node --test js/"
  "probes          |   60 | git apply --check bench/probes/decision-floor.patch"
  "clippy          | 1200 | cargo clippy --workspace --all-targets -- -D warnings"
  "clippy-wasm     | 1200 | cargo clippy --workspace --target $WASM_TARGET --lib -- -D warnings"
  "cargo-test      | 1200 | cargo test --workspace"
  "extra-curves    | 1500 | cargo clippy --workspace --all-targets --all-features -- -D warnings && cargo clippy --workspace --target $WASM_TARGET --lib --all-features -- -D warnings && cargo test --workspace --all-features"
  "wycheproof-wasm |  900 | ./scripts/wasm-wycheproof.sh"
  "fuzz            | 1800 | ./scripts/fuzz.sh \"\${FUZZ_SECONDS:-60}\""
  "build           | 1200 | ./scripts/build.sh"
  "deploy-dry-run  |  300 | ./scripts/deploy-dry-run.sh"
  "e2e             | 1500 | ./scripts/e2e.sh"
  "e2e-extra-curves |  900 | ./scripts/e2e-extra-curves.sh"
  "soak            |  400 | ./scripts/soak.sh 100 20"
  "demo            |  600 | DEMO_SELFTEST=1 ./scripts/demo.sh"
  "demo-term       |  400 | ./tests/demo/stops-on-term.sh"
)

TEST_TIMEOUT="${TEST_TIMEOUT:-5100}"
SKIP_STEPS=" ${SKIP_STEPS:-} "
ONLY_STEPS="${ONLY_STEPS:-}"

trim() { sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' <<<"$1"; }
NAMES=() TIMEOUTS=() COMMANDS=()
for line in "${STEPS[@]}"; do
  IFS='|' read -r name seconds command <<<"$line"
  NAMES+=("$(trim "$name")")
  TIMEOUTS+=("$(trim "$seconds")")
  COMMANDS+=("$(trim "$command")")
done

if [ "${1:-}" = "--list" ]; then
  for i in "${!NAMES[@]}"; do printf '%-16s %5ss  %s\n' "${NAMES[$i]}" "${TIMEOUTS[$i]}" "${COMMANDS[$i]}"; done
  exit 0
fi
[ $# -eq 0 ] || eg_die "unknown argument '$1'" "Usage: scripts/test.sh [--list]"

selected() {
  local name="$1"
  [[ "$SKIP_STEPS" == *" $name "* ]] && return 1
  [ -z "$ONLY_STEPS" ] || [ "$name" = setup ] || [[ " $ONLY_STEPS " == *" $name "* ]]
}

# --- Runner -------------------------------------------------------------------------------------
# Each step runs under `timeout` in its own process group; a Ctrl-C or TERM to this script is
# passed on to it. timeout sends TERM, then KILL 20 s later.
STEP_PID=""
on_signal() {
  if [ -n "$STEP_PID" ]; then kill -TERM "$STEP_PID" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  eg_die "interrupted"
}
trap on_signal INT TERM

deadline=$((SECONDS + TEST_TIMEOUT))
SUMMARY=()
total="${#NAMES[@]}"
for i in "${!NAMES[@]}"; do
  name="${NAMES[$i]}"
  limit="${TIMEOUTS[$i]}"
  command="${COMMANDS[$i]}"
  if ! selected "$name"; then
    SUMMARY+=("$(printf '%-16s skipped' "$name")")
    continue
  fi
  left=$((deadline - SECONDS))
  [ "$left" -gt 0 ] || eg_die "TEST_TIMEOUT ($TEST_TIMEOUT s) used up before step '$name'"
  [ "$limit" -le "$left" ] || limit="$left"

  eg_section "[$((i + 1))/$total] $name: $command"
  start=$SECONDS
  timeout -k 20 "$limit" bash -c "$command" &
  STEP_PID=$!
  rc=0
  wait "$STEP_PID" || rc=$?
  STEP_PID=""
  took=$((SECONDS - start))
  if [ "$rc" -ne 0 ]; then
    printf '%s\n' "${SUMMARY[@]}" >&2
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
      eg_die "step '$name' timed out after $limit s" "Command: $command"
    fi
    eg_die "step '$name' failed (exit $rc, after $took s)" "Command: $command" \
      "Rerun only this step: ONLY_STEPS=$name scripts/test.sh"
  fi
  SUMMARY+=("$(printf '%-16s ok  %4d s' "$name" "$took")")
done

eg_section "summary"
printf '%s\n' "${SUMMARY[@]}" >&2
eg_log "all steps passed in $SECONDS s"
