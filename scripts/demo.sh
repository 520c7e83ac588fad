#!/usr/bin/env bash
# Runs the gateway locally: setup + build, a loopback origin and JWKS server
# (scripts/demo-servers.mjs, serving fixtures/jwks/), and `wrangler dev` with local KV. Prints
# two curl commands (a valid fixture token -> 200 from the origin; no token -> 401), then shows
# the logs until Ctrl-C or a TERM/HUP (e.g. from a supervisor), which stop everything.
#
# Environment:
#   PORT=8787              gateway port (selftest: a free port unless PORT is set)
#   DEMO_SELFTEST=1        run the two requests, check 200/401, exit 0/1 (used by scripts/test.sh)
#   DEMO_START_TIMEOUT=180 seconds to wait for wrangler dev to answer
#   DEMO_SKIP_BUILD=1      use build/ as it is (no setup, no build)
#   DEMO_KEEP_TMP=1        keep the temp dir (env file, logs, local KV) after exit
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$EG_ROOT"

SELFTEST="${DEMO_SELFTEST:-0}"
START_TIMEOUT="${DEMO_START_TIMEOUT:-180}"
TOKEN_FILE="$EG_ROOT/fixtures/tokens/valid-rs256.jwt"
JWKS_FILE="$EG_ROOT/fixtures/jwks/main.json"
ISSUER="https://issuer.fixtures.test/"
AUDIENCE="api://edgeguard-fixtures"
REQUEST_PATH="/demo/hello?from=edgeguard"

# --- Build ---------------------------------------------------------------------------------
if [ "${DEMO_SKIP_BUILD:-0}" = 1 ]; then
  if [ ! -s build/index.js ] || [ ! -s build/index_bg.wasm ]; then
    eg_die "DEMO_SKIP_BUILD=1 but build/ is empty" "Run scripts/build.sh first."
  fi
else
  eg_section "setup"
  "$EG_ROOT/scripts/setup.sh"
  eg_section "build"
  "$EG_ROOT/scripts/build.sh"
fi
[ -x "$WRANGLER_BIN" ] || eg_die "wrangler not found in node_modules" "Run scripts/setup.sh."
for f in "$TOKEN_FILE" "$JWKS_FILE"; do
  [ -s "$f" ] || eg_die "fixture ${f#"$EG_ROOT"/} is missing" \
    "The fixtures are committed with the project; restore fixtures/ (git checkout -- fixtures)."
done

# --- Processes and cleanup ---------------------------------------------------------------
TMP="$(mktemp -d "${TMPDIR:-/tmp}/edgeguard-demo.XXXXXX")"
PGIDS=()
cleanup() {
  local rc=$? pg i
  trap - EXIT INT TERM HUP
  [ -z "${TAIL_PID:-}" ] || kill -TERM "$TAIL_PID" 2>/dev/null || true
  for pg in "${PGIDS[@]}"; do kill -TERM -- "-$pg" 2>/dev/null || true; done
  for i in $(seq 50); do
    local alive=0
    for pg in "${PGIDS[@]}"; do kill -0 -- "-$pg" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    [ "$i" = 50 ] && for pg in "${PGIDS[@]}"; do kill -KILL -- "-$pg" 2>/dev/null || true; done
    sleep 0.1
  done
  if [ "${DEMO_KEEP_TMP:-0}" = 1 ]; then
    eg_log "kept $TMP"
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# wrangler dev and the demo servers append to one log ([origin]/[jwks] lines are the servers').
LOG="$TMP/demo.log"
show_logs() {
  [ -f "$LOG" ] || return 0
  printf -- '----- last lines of %s -----\n' "$LOG" >&2
  tail -n 60 "$LOG" >&2
}

# Each process gets its own session and process group (setsid), so it can be stopped as a
# whole (wrangler runs workerd as a child) and Ctrl-C reaches only this script.
start_group() {
  setsid "$@" </dev/null >>"$LOG" 2>&1 &
  PGIDS+=("$!")
  eg_log "started ${1##*/} (process group $!)"
}

# --- Loopback origin + JWKS -----------------------------------------------------------------
eg_section "demo"
start_group node "$EG_ROOT/scripts/demo-servers.mjs" \
  --jwks-dir "$EG_ROOT/fixtures/jwks" --ready-file "$TMP/ports"
SERVERS_PID="${PGIDS[-1]}"
for _ in $(seq 100); do
  [ -s "$TMP/ports" ] && break
  kill -0 "$SERVERS_PID" 2>/dev/null || { show_logs; eg_die "demo-servers.mjs exited"; }
  sleep 0.1
done
[ -s "$TMP/ports" ] || { show_logs; eg_die "demo-servers.mjs did not start within 10 s"; }
ORIGIN_PORT="$(sed -n 's/^ORIGIN_PORT=//p' "$TMP/ports")"
JWKS_PORT="$(sed -n 's/^JWKS_PORT=//p' "$TMP/ports")"
ORIGIN_URL="http://127.0.0.1:$ORIGIN_PORT"
JWKS_URL="http://127.0.0.1:$JWKS_PORT/jwks/main.json"
eg_log "origin (echo):  $ORIGIN_URL"
eg_log "JWKS:           $JWKS_URL"

# --- wrangler dev ---------------------------------------------------------------------------
if [ -n "${PORT:-}" ]; then
  eg_port_is_free "$PORT" || eg_die "port $PORT on 127.0.0.1 is in use" \
    "Stop whatever listens there, or choose another port: PORT=8788 $0"
elif [ "$SELFTEST" = 1 ]; then
  PORT="$(eg_free_port)"
else
  PORT=8787
  eg_port_is_free "$PORT" || eg_die "port 8787 on 127.0.0.1 is in use (another wrangler dev?)" \
    "Stop it, or choose another port: PORT=8788 $0"
fi
INSPECTOR_PORT="$(eg_free_port)"
GATEWAY="http://127.0.0.1:$PORT"

# Secrets and vars for wrangler dev (an env file replaces .dev.vars; values override [vars]).
ISSUERS_JSON="[{\"issuer\":\"$ISSUER\",\"jwks_uri\":\"$JWKS_URL\",\"audiences\":[\"$AUDIENCE\"]}]"
cat >"$TMP/demo.env" <<EOF
ISSUERS='$ISSUERS_JSON'
ORIGIN='$ORIGIN_URL'
EOF
eg_log "ISSUERS=$ISSUERS_JSON"
eg_log "ORIGIN=$ORIGIN_URL"

# wrangler dev runs wrangler.toml's [build] command first; it is `scripts/build.sh --if-stale`,
# a no-op here because we just built. Local KV lives in the temp dir, so every run starts cold.
eg_log "starting wrangler dev on $GATEWAY (log: $LOG)"
start_group "$WRANGLER_BIN" dev --local \
  --ip 127.0.0.1 --port "$PORT" --inspector-port "$INSPECTOR_PORT" \
  --env-file "$TMP/demo.env" --persist-to "$TMP/state" \
  --show-interactive-dev-session=false
WRANGLER_PID="${PGIDS[-1]}"

deadline=$((SECONDS + START_TIMEOUT))
until code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$GATEWAY/")" && [ "$code" != 000 ]; do
  if ! kill -0 "$WRANGLER_PID" 2>/dev/null; then
    show_logs
    eg_die "wrangler dev exited before answering (log above)"
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    show_logs
    eg_die "wrangler dev did not answer on $GATEWAY within $START_TIMEOUT s" \
      "Raise DEMO_START_TIMEOUT if this machine is slow."
  fi
  sleep 0.5
done
eg_log "gateway is up on $GATEWAY"

# --- Selftest -------------------------------------------------------------------------------
if [ "$SELFTEST" = 1 ]; then
  failures=0
  check() { # name, expected status, actual status, extra check command...
    local name="$1" want="$2" got="$3"
    shift 3
    if [ "$got" = "$want" ] && "$@"; then
      printf 'ok    %s: HTTP %s\n' "$name" "$got" >&2
    else
      printf 'FAIL  %s: HTTP %s (expected %s)\n' "$name" "$got" "$want" >&2
      failures=$((failures + 1))
    fi
  }
  has_header() { grep -qiE "^$1:" "$2"; } # header name (ERE), header file
  # 1. a valid token: the origin answers, and it received the identity headers.
  got="$(curl -sS -o "$TMP/valid.body" -D "$TMP/valid.headers" -w '%{http_code}' --max-time 30 \
    -H "Authorization: Bearer $(cat "$TOKEN_FILE")" "$GATEWAY$REQUEST_PATH" || true)"
  origin_saw_identity() {
    has_header x-demo-origin "$TMP/valid.headers" || {
      echo "      the answer did not come from the demo origin" >&2
      return 1
    }
    # shellcheck disable=SC2016 # JavaScript, not shell
    node -e '
      const echo = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      const iss = echo.headers["x-auth-issuer"];
      if (iss !== process.argv[2]) {
        console.error(`      origin saw X-Auth-Issuer ${JSON.stringify(iss)}, expected ${process.argv[2]}`);
        process.exit(1);
      }' "$TMP/valid.body" "$ISSUER"
  }
  check "valid fixture token -> origin" 200 "$got" origin_saw_identity
  # 2. no token: answered at the edge with a Bearer challenge, never forwarded.
  got="$(curl -sS -o "$TMP/none.body" -D "$TMP/none.headers" -w '%{http_code}' --max-time 30 \
    "$GATEWAY$REQUEST_PATH" || true)"
  challenged_at_edge() {
    grep -qiE '^www-authenticate: *bearer' "$TMP/none.headers" || {
      echo "      no 'WWW-Authenticate: Bearer ...' header" >&2
      return 1
    }
    ! has_header x-demo-origin "$TMP/none.headers" || {
      echo "      the request reached the origin" >&2
      return 1
    }
  }
  check "no token -> 401" 401 "$got" challenged_at_edge
  if [ "$failures" -gt 0 ]; then
    for f in valid none; do
      printf -- '----- %s: response -----\n' "$f" >&2
      cat "$TMP/$f.headers" "$TMP/$f.body" >&2 2>/dev/null || true
      echo >&2
    done
    show_logs
    eg_die "demo selftest: $failures check(s) failed"
  fi
  eg_log "demo selftest passed"
  exit 0
fi

# --- Interactive ------------------------------------------------------------------------------
cat <<EOF

edgeguard is running on $GATEWAY (origin: $ORIGIN_URL, JWKS: $JWKS_URL).
Try, from any directory:

  # a valid fixture token: 200, the origin's JSON echo with the X-Auth-* headers it received
  curl -i -H "Authorization: Bearer \$(cat $TOKEN_FILE)" '$GATEWAY$REQUEST_PATH'

  # no token: 401 from the gateway, never forwarded
  curl -i '$GATEWAY$REQUEST_PATH'

Logs of wrangler dev and the demo servers follow. Ctrl-C stops everything.

EOF
# In the background, with `wait`: bash runs a trap only once the foreground command ends, so
# a foreground `tail -f` would hold a TERM back until wrangler exits on its own. `wait`
# returns as soon as a signal arrives, and the trap stops everything (tail included).
tail -n 0 --pid="$WRANGLER_PID" -f "$LOG" &
TAIL_PID=$!
wait "$TAIL_PID" || true
eg_die "wrangler dev exited"
