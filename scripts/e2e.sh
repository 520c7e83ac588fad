#!/usr/bin/env bash
# Runs the end-to-end suite (tests/e2e, the built Worker in workerd), once: a failure is a
# failure. (Until 2026-12-01 a failed run was repeated, for a 1 MB upload that raced the
# gateway's early 502; those tests now upload with tests/e2e/lib's tcpUpload, which never
# writes into a connection the gateway is closing.)
#
# Usage: scripts/e2e.sh [test files...]   (default: every tests/e2e/*.test.mjs)
# EDGEGUARD_SCRIPT=<dir>/index.js runs them against another build than build/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# The shell expands the file list: Node 21+ no longer searches a directory given to --test.
if [ $# -gt 0 ]; then FILES=("$@"); else FILES=(tests/e2e/*.test.mjs); fi
exec node --test --test-concurrency=1 "${FILES[@]}"
