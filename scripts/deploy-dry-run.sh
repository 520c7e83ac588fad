#!/usr/bin/env bash
# Builds the deploy bundle exactly as `wrangler deploy` would (wrangler.toml's [build] command,
# then wrangler's own bundling), without uploading anything or needing an account:
# `wrangler deploy --dry-run --outdir <tmp>`. Proves the bundle builds offline, checks that it
# holds the module and the Wasm, and prints its size. Usage: scripts/deploy-dry-run.sh
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$EG_ROOT"

[ -x "$WRANGLER_BIN" ] || eg_die "wrangler not found in node_modules" "Run scripts/setup.sh."
OUT="$(mktemp -d "${TMPDIR:-/tmp}/edgeguard-dry-run.XXXXXX")"
trap 'rm -rf "$OUT"' EXIT

eg_log "wrangler deploy --dry-run --outdir $OUT (runs scripts/build.sh --if-stale first)"
if ! "$WRANGLER_BIN" deploy --dry-run --outdir "$OUT" >"$OUT.log" 2>&1; then
  cat "$OUT.log" >&2
  rm -f "$OUT.log"
  eg_die "wrangler deploy --dry-run failed (output above)" \
    "Build errors: fix them and rerun scripts/build.sh. wrangler.toml errors: see README, Deploying."
fi
total="$(grep -E '^Total Upload:' "$OUT.log" || true)"
rm -f "$OUT.log"
[ -s "$OUT/index.js" ] || eg_die "the dry-run bundle has no index.js ($OUT)"
wasm="$(find "$OUT" -maxdepth 1 -name '*.wasm' -print -quit)"
[ -n "$wasm" ] && [ -s "$wasm" ] || eg_die "the dry-run bundle has no Wasm module ($OUT)"
# The class a DPOP_REPLAY binding names (README, "DPoP replay across the fleet").
tr -d '\n' <"$OUT/index.js" | grep -Eq 'export *\{[^}]*\bDpopReplay\b' ||
  eg_die "the dry-run bundle does not export the DpopReplay class ($OUT/index.js)" \
    "js/shim.mjs must export it: check the build (scripts/build.sh)."
eg_log "deploy bundle: index.js $(eg_bytes "$(wc -c <"$OUT/index.js")"), ${wasm##*/} $(eg_bytes "$(wc -c <"$wasm")") raw, $(eg_bytes "$(eg_gzip_size "$wasm")") gzip -9"
eg_log "wrangler: ${total:-no 'Total Upload' line printed}"
