#!/usr/bin/env bash
# The end-to-end tests that depend on the opt-in extra-curves feature (ES384, ES512, ES256K), run
# against a Worker built with it: `EDGEGUARD_FEATURES=extra-curves scripts/build.sh` into
# target/build-extra-curves (EDGEGUARD_OUT_DIR; build/ keeps the default build), then
# scripts/e2e.sh on the files that ask for the feature (`hasFeature("extra-curves")`).
# scripts/e2e.sh runs the same files against build/, where they assert the config error
# instead. About one release build (3-5 min on two cores) plus a few seconds of tests.
#
# Usage: scripts/e2e-extra-curves.sh [--if-stale]   (--if-stale: as scripts/build.sh's)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$EG_ROOT"

OUT="target/build-extra-curves"
mapfile -t files < <(grep -l 'hasFeature("extra-curves")' tests/e2e/*.test.mjs)
[ "${#files[@]}" -gt 0 ] || eg_die "no tests/e2e file asks for hasFeature(\"extra-curves\")" \
  "The ES384/ES512/ES256K e2e tests (15-extra-algorithms, 18-claims-and-signatures) read the build's features with it; restore them."
EDGEGUARD_FEATURES=extra-curves EDGEGUARD_OUT_DIR="$OUT" ./scripts/build.sh "$@"
[ "$(cat "$OUT/.edgeguard-features")" = extra-curves ] ||
  eg_die "$OUT/.edgeguard-features does not say extra-curves" "Rerun: scripts/e2e-extra-curves.sh"
eg_log "e2e against $OUT (extra-curves): ${files[*]}"
EDGEGUARD_SCRIPT="$OUT/index.js" ./scripts/e2e.sh "${files[@]}"
