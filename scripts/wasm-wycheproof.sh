#!/usr/bin/env bash
# Runs the Wycheproof known-answer tests (tests/wycheproof.rs) compiled to Wasm with the
# deployable module's release profile, inside V8 (node's WASI), the engine workerd runs.
# `cargo test` runs the same file natively; together they check every verifier in both.
# Then crates/edgeguard-ec's own tests, in Wasm too.
#
# Usage: scripts/wasm-wycheproof.sh [test name filter]
# Needs the wasm32-wasip1 target (scripts/setup.sh adds it) and node.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$EG_ROOT"

eg_have_rust_target "$WASI_TARGET" || eg_die "the Rust target $WASI_TARGET is missing" \
  "Run scripts/setup.sh (or: rustup target add $WASI_TARGET)."
vectors="${WYCHEPROOF_DIR:-$EG_ROOT/tests/vectors/wycheproof}"
[ -d "$vectors" ] || eg_die "Wycheproof vectors not found at $vectors" \
  "Restore tests/vectors/wycheproof (git checkout -- tests/vectors), or set WYCHEPROOF_DIR to another copy."

eg_log "building tests/wycheproof.rs for $WASI_TARGET (release profile) and running it in node's V8"
# worker-glue needs the Workers runtime; the verifiers do not.
WYCHEPROOF_DIR="$vectors" \
  CARGO_TARGET_WASM32_WASIP1_RUNNER="node --no-warnings $EG_ROOT/tests/wasi/run.mjs" \
  cargo test --release --target "$WASI_TARGET" --no-default-features --features extra-curves \
  --test wycheproof -- --nocapture "$@"

eg_log "running crates/edgeguard-ec's own tests (field and group arithmetic) in node's V8"
CARGO_TARGET_WASM32_WASIP1_RUNNER="node --no-warnings $EG_ROOT/tests/wasi/run.mjs" \
  cargo test --release --target "$WASI_TARGET" -p edgeguard-ec
