#!/usr/bin/env bash
# Load benchmark: the built gateway (build/) against the JavaScript passthrough Worker (floor,
# bench/js-passthrough) and the JavaScript `jose` Worker of the same contract
# (bench/jose-worker), each hosted by the same workerd (bench/host.mjs: the e2e harness's
# Miniflare setup) in front of the same loopback nginx origin (fixed 1 KiB 200), driven by
# wrk. Everything it needs is in the repository. Results: bench/results/<UTC date>.md, .json
# and .svg (chart).
#
#   ./scripts/bench.sh            # full run: 3 rounds, ~10 min
#   QUICK=1 ./scripts/bench.sh    # smoke run: 1 round, 3 s per run, ~2 min (results in .work/)
#
# This script installs what is missing and builds; bench/load.mjs runs the benchmark.
#
# What one round does (rounds repeat it; every figure is a median over rounds):
#   start the three hosts one after another, each timed from spawn to its first 200
#   (cold start; the first request with the RS256 token also fetches that issuer's JWKS);
#   then HOST_WARMUP s of reused-token load per worker and algorithm (JIT warm-up, discarded);
#   then for each algorithm (RS256-2048, ES256, EdDSA), interleaved worker by worker:
#     passthrough   reused token                     (+ a -c1 run: unloaded latency)
#     jose, edgeguard  reused token (1 token)        (+ a -c1 run each)
#     jose, edgeguard  1,000 distinct valid tokens, rotated
#     jose, edgeguard  1,000 distinct tokens with a corrupted signature (attack traffic)
#   each run: WARMUP s of load (discarded), then DURATION s measured; nginx's request counter
#   and the workerd process's CPU time are read around it (origin hits, CPU per request),
#   and its RSS after it.
#   Finally the hosts are stopped.
#
# Knobs (environment):
#   QUICK=1            ROUNDS=1 DURATION=3 WARMUP=1 HOST_WARMUP=1 C1_DURATION=1, results under .work/bench/
#   ROUNDS=3 DURATION=7 WARMUP=1 HOST_WARMUP=3 C1_DURATION=1 CONNS=50 THREADS=1 COUNT=1000
#   ALGS="rs256 es256 eddsa"  INVALID_ALGS=(= ALGS; "" to skip the attack workload)
#   ORIGIN_PORT=18080 PORT_BASE=18787 (three consecutive ports for the workers)
#   PIN=1              workerd hosts on CPU 1, nginx + wrk on CPU 0 (default: not pinned)
#   SKIP_BUILD=1       use build/ as it is (default: scripts/build.sh --if-stale)
#   EDGEGUARD_ENTRY=path/index.js  benchmark another build of the gateway (no build step)
#   RESULTS_DIR=bench/results (QUICK: .work/bench/quick)  RAW_DIR=.work/bench/<stamp>
#   START_TIMEOUT=60   seconds a host may take to answer its first 200
#
# Needs node, nginx and wrk (and taskset, pgrep, top); nginx and wrk are installed with apt-get when missing
# and this runs as root on Debian. Everything binds to 127.0.0.1; every process started here
# is stopped by its process group (the PID we started), and every wait has a deadline.
# Timing is not asserted anywhere: this is not part of scripts/test.sh.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$EG_ROOT"

need_apt=()
command -v nginx >/dev/null || need_apt+=(nginx)
command -v wrk >/dev/null || need_apt+=(wrk)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    eg_log "installing missing Debian packages: ${need_apt[*]} (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    eg_die "missing: ${need_apt[*]}" "Install them (Debian: apt-get install -y ${need_apt[*]}) and rerun."
  fi
fi
for tool in node taskset pgrep top; do
  command -v "$tool" >/dev/null || eg_die "missing $tool"
done
for pkg in jose esbuild miniflare; do
  [ -d "node_modules/$pkg" ] || eg_die "node_modules/$pkg is missing" "Run npm ci (or scripts/setup.sh), then rerun."
done

if [ -z "${SKIP_BUILD:-}" ] && [ -z "${EDGEGUARD_ENTRY:-}" ]; then
  "$EG_ROOT/scripts/build.sh" --if-stale
fi
exec node bench/load.mjs
