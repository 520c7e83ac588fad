#!/usr/bin/env bash
# The floor of edgeguard's synchronous entry, as the in-isolate benchmark's candidate column:
# this checkout's HEAD with bench/probes/decision-floor.patch, where `decideRequest` replays
# the first forward verdict it returned whenever the same Authorization comes again. A cache
# hit then costs what the entry costs without the decision: reading the headers, the strings
# copied into Wasm and the verdict out, js/apply.mjs and the fetch. "1 RS256 token reused"
# minus edgeguard's is what the Rust decision costs on a cache hit; the other rows run the
# real decision and should match edgeguard's.
#
# A probe, never a deployment: the patched build skips every check on a replay (expiry too).
# It is built from HEAD (commit your edits first) in .work/decision-floor/, with its own target/.
#
# Usage: scripts/bench-decision-floor.sh [bench/in-isolate.mjs options]   ~6 min; writes
#        bench/results/decision-floor/in-isolate-<UTC date>.{md,json,svg}
#   QUICK=1 scripts/bench-decision-floor.sh     ~1 min
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$EG_ROOT"

base="$EG_ROOT/.work/decision-floor"
tree="$base/tree"
rm -rf "$base"
mkdir -p "$base"
eg_log "decision floor: HEAD ($(git rev-parse --short HEAD)) + bench/probes/decision-floor.patch in $tree"
git worktree add --quiet --detach "$tree" HEAD
trap 'git worktree remove --force "$tree" 2>/dev/null || true' EXIT
git -C "$tree" apply "$EG_ROOT/bench/probes/decision-floor.patch" ||
  eg_die "bench/probes/decision-floor.patch no longer applies to src/edge/mod.rs" \
    "Redo the probe's edit in src/edge/mod.rs by hand (the patch's comments say what it does) and refresh the patch."

# Its own target directory: with target/ shared, the probe's edgeguard.wasm would take the
# place of this checkout's in target/<triple>/release/ (one uplifted file for both), and the
# next scripts/build.sh here, finding its own crate fresh, would ship the probe as build/.
# Seeded with copies of the release artifacts, so only the two edited crates' units rebuild.
eg_log "building the probe in $base/target (seeded from target/; the first build of edgeguard-check there takes a minute)"
mkdir -p "$base/target"
for d in release "$WASM_TARGET"; do
  [ -d "$EG_ROOT/target/$d" ] && cp -a --reflink=auto "$EG_ROOT/target/$d" "$base/target/"
done
CARGO_TARGET_DIR="$base/target" ESBUILD_BIN="$ESBUILD_BIN" WASM_OPT_BIN="$WASM_OPT_BIN" \
  EDGEGUARD_OUT_DIR="$base/build" "$tree/scripts/build.sh"
if cmp -s "$base/build/index_bg.wasm" "$EG_ROOT/build/index_bg.wasm"; then
  eg_die "the probe build is byte-identical to build/: the patch did not take effect" \
    "Check that bench/probes/decision-floor.patch still edits decideRequest."
fi

# A full run's report goes to bench/results/decision-floor/ (QUICK: .work/, as bench-isolate.sh).
out=()
if [ -z "${QUICK:-}" ] || [ "$QUICK" = 0 ]; then out=(--out "$EG_ROOT/bench/results/decision-floor"); fi
CANDIDATE="$base/build/index.js" CANDIDATE_LABEL="decision floor" \
  "$EG_ROOT/scripts/bench-isolate.sh" "${out[@]}" "$@"
