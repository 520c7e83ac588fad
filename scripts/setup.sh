#!/usr/bin/env bash
# Installs what building and testing edgeguard needs, skipping everything already in place:
#   - the wasm32-unknown-unknown target, clippy and rustfmt (rustup)
#   - wasm-bindgen-cli =<Cargo.lock wasm-bindgen> (cargo install into $CARGO_HOME/bin, default
#     ~/.cargo/bin, so a warm machine skips it); with --with-worker-build also worker-build
#     ^<worker minor>, which only the benchmarks' workers-rs passthrough (bench/rust-passthrough)
#     is built with: edgeguard's own build (scripts/build.sh) does not use it
#   - the npm tools (wrangler, miniflare/workerd, esbuild, binaryen, jose) with `npm ci`
#   - missing Debian packages (C toolchain, pkg-config/libssl-dev, curl) when run as root
# A cold run takes about 8 minutes on two cores (15 with --with-worker-build); a warm run
# about a second.
# Usage: scripts/setup.sh [--check] [--with-worker-build]
#   --check  report what is missing, install nothing
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$EG_ROOT"

CHECK_ONLY=0
WITH_WORKER_BUILD=0
for arg in "$@"; do
  case "$arg" in
    --check) CHECK_ONLY=1 ;;
    --with-worker-build) WITH_WORKER_BUILD=1 ;;
    *) eg_die "unknown argument '$arg'" "Usage: scripts/setup.sh [--check] [--with-worker-build]" ;;
  esac
done

MISSING=()
# In --check mode, record a missing piece and go on; otherwise run the install.
need() {
  local what="$1"
  shift
  if [ "$CHECK_ONLY" = 1 ]; then
    MISSING+=("$what")
    return 0
  fi
  "$@"
}

# --- Commands that must already be there -------------------------------------------------
for cmd in rustup cargo rustc; do
  command -v "$cmd" >/dev/null || eg_die "'$cmd' not found (PATH=$PATH)" \
    "Install Rust with rustup (https://rustup.rs), then open a new shell or run '. \$HOME/.cargo/env'."
done
for cmd in node npm; do
  command -v "$cmd" >/dev/null || eg_die "'$cmd' not found" \
    "Install Node.js 20 or newer with npm (e.g. from nodesource or 'apt-get install nodejs npm')."
done
NODE_MAJOR="$(node -p 'process.versions.node.split(".")[0]')"
[ "$NODE_MAJOR" -ge 20 ] || eg_die "Node.js $(node --version) is too old; 20 or newer is needed" \
  "wrangler 4 and miniflare 4 require Node.js 20+."

# --- Debian packages -------------------------------------------------------------------------
# cc links native Rust code (cargo test, cargo install); pkg-config + libssl-dev are needed to
# compile worker-build; curl drives the demo; setsid/timeout/flock come from util-linux/coreutils;
# sqlite3 reads the DPoP replay ledger's files in e2e 24.
APT_UPDATED=0
apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    eg_die "missing system packages: $*" "Install them, e.g.: sudo apt-get install -y $*"
  fi
  if [ "$APT_UPDATED" = 0 ]; then
    eg_log "apt-get update (for: $*)..."
    DEBIAN_FRONTEND=noninteractive apt-get update -qq ||
      eg_die "apt-get update failed" "Check that the Debian package mirror is reachable."
    APT_UPDATED=1
  fi
  eg_log "installing Debian packages: $* ..."
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" ||
    eg_die "apt-get install $* failed" "Install them by hand and rerun scripts/setup.sh."
}
PKGS=()
have_cmd() { command -v "$1" >/dev/null; }
have_cmd cc || PKGS+=(build-essential)
have_cmd curl || PKGS+=(curl ca-certificates)
have_cmd gzip || PKGS+=(gzip)
{ have_cmd setsid && have_cmd flock; } || PKGS+=(util-linux)
have_cmd timeout || PKGS+=(coreutils)
have_cmd sqlite3 || PKGS+=(sqlite3)
if [ "${#PKGS[@]}" -gt 0 ]; then need "Debian packages: ${PKGS[*]}" apt_install "${PKGS[@]}"; fi

# One setup at a time per machine (wrangler's build command may call us from a second shell).
if [ "$CHECK_ONLY" = 0 ] && command -v flock >/dev/null; then
  mkdir -p "$CARGO_HOME"
  exec 9>"$CARGO_HOME/.edgeguard-setup.lock"
  if ! flock -n 9; then
    eg_log "another scripts/setup.sh is running; waiting for it..."
    flock 9
  fi
fi

# --- Installers (each runs only when its check below fails) --------------------------------
install_target() {
  eg_log "rustup target add $1 ..."
  rustup target add "$1" || eg_die "rustup target add $1 failed" \
    "Check access to static.rust-lang.org (or your rustup mirror) and rerun scripts/setup.sh."
}

install_components() {
  eg_log "rustup component add $* ..."
  rustup component add "$@" || eg_die "rustup component add $* failed" \
    "Check access to static.rust-lang.org (or your rustup mirror) and rerun scripts/setup.sh."
}

cargo_install() {
  local crate="$1" version="$2" minutes="$3"
  eg_log "installing $crate $version into $CARGO_HOME/bin (about $minutes minutes on 2 cores)..."
  # No --locked: a version pinned in the tools' own lockfiles is missing from some registry
  # mirrors, and the latest compatible dependencies build fine.
  if ! cargo install --root "$CARGO_HOME" --force "$crate" --version "$version"; then
    eg_die "cargo install $crate --version '$version' failed" \
      "Check that crates.io (or your registry mirror) is reachable and the disk is not full." \
      "A C toolchain, pkg-config and libssl-dev are needed (apt-get install build-essential pkg-config libssl-dev)." \
      "Then rerun scripts/setup.sh; tools already installed are skipped."
  fi
}

install_worker_build() {
  # worker-build links OpenSSL.
  if ! pkg-config --exists openssl 2>/dev/null; then apt_install pkg-config libssl-dev; fi
  cargo_install worker-build "^$WANT_WORKER_BUILD_MINOR" 7
  eg_worker_build_ok || eg_die "$WORKER_BUILD_BIN does not report version $WANT_WORKER_BUILD_MINOR.x after the install" \
    "Is WORKER_BUILD_BIN set to another binary? Unset it or point it at $CARGO_HOME/bin/worker-build."
}

install_wasm_bindgen() {
  cargo_install wasm-bindgen-cli "=$WANT_WASM_BINDGEN" 6
  eg_wasm_bindgen_ok || eg_die "$WASM_BINDGEN_BIN does not report version $WANT_WASM_BINDGEN after the install" \
    "Is WASM_BINDGEN_BIN set to another binary? Unset it or point it at $CARGO_HOME/bin/wasm-bindgen."
}

install_node_modules() {
  eg_log "installing npm tools with npm ci: wrangler, miniflare/workerd, esbuild, binaryen, jose (about 1 minute)..."
  npm ci --no-audit --no-fund || eg_die "npm ci failed" \
    "Check that the npm registry is reachable (npm config get registry), then rerun scripts/setup.sh."
  eg_node_modules_ok || eg_die "npm ci finished but esbuild, wasm-opt or wrangler is missing from node_modules" \
    "Their binaries come from platform optional dependencies (@esbuild/linux-x64, @cloudflare/workerd-linux-64);" \
    "make sure npm does not omit optional dependencies (npm config get omit), then rerun scripts/setup.sh."
}

# --- Checks ---------------------------------------------------------------------------------
# (`if !` rather than `||`, so that `set -e` stays in force inside the installers.)
for target in "$WASM_TARGET" "$WASI_TARGET"; do
  if ! eg_have_rust_target "$target"; then need "rust target $target" install_target "$target"; fi
done

COMPONENTS=()
for c in clippy rustfmt; do
  if ! eg_have_rust_component "$c"; then COMPONENTS+=("$c"); fi
done
if [ "${#COMPONENTS[@]}" -gt 0 ]; then
  need "rustup components: ${COMPONENTS[*]}" install_components "${COMPONENTS[@]}"
fi

eg_wanted_versions # sets WANT_WASM_BINDGEN and WANT_WORKER_BUILD_MINOR from Cargo.lock
if [ "$WITH_WORKER_BUILD" = 1 ] && ! eg_worker_build_ok; then
  have="$(eg_tool_version "$WORKER_BUILD_BIN")"
  need "worker-build ^$WANT_WORKER_BUILD_MINOR (have: ${have:-none})" install_worker_build
fi
if ! eg_wasm_bindgen_ok; then
  have="$(eg_tool_version "$WASM_BINDGEN_BIN")"
  need "wasm-bindgen-cli =$WANT_WASM_BINDGEN (have: ${have:-none})" install_wasm_bindgen
fi
if ! eg_node_modules_ok; then need "node_modules (npm ci)" install_node_modules; fi

if [ "${#MISSING[@]}" -gt 0 ]; then
  printf 'setup --check: missing: %s\n' "${MISSING[@]}" >&2
  eg_die "the toolchain is incomplete" "Run scripts/setup.sh to install what is missing."
fi

eg_log "setup ok: $(rustc --version | cut -d' ' -f1-2), node $(node --version), worker-build $(eg_tool_version "$WORKER_BUILD_BIN") (benchmarks only), wasm-bindgen $(eg_tool_version "$WASM_BINDGEN_BIN"), wasm-opt $("$WASM_OPT_BIN" --version | grep -oE '[0-9]+' | head -n 1), esbuild $("$ESBUILD_BIN" --version)"
