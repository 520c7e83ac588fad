#!/usr/bin/env bash
# Starts scripts/demo.sh as a supervisor would (in the background, interactive mode), sends
# it one TERM once the gateway is up, and checks that it exits promptly (status 143) and that
# no process of the demo (wrangler, workerd, the demo servers, the log tail) is left.
# Needs build/ (run scripts/build.sh first). Usage: tests/demo/stops-on-term.sh
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
cd "$EG_ROOT"

[ -s build/index.js ] || eg_die "build/ is empty" "Run scripts/build.sh first."
OUT="$(mktemp "${TMPDIR:-/tmp}/edgeguard-demo-term.XXXXXX")"
DEMO_PID=""
GROUPS_STARTED=""
finish() {
  # If a check failed with the demo still running, do not leave it behind either.
  [ -z "$DEMO_PID" ] || kill -KILL "$DEMO_PID" 2>/dev/null || true
  local pg
  for pg in $GROUPS_STARTED; do kill -KILL -- "-$pg" 2>/dev/null || true; done
  rm -f "$OUT"
}
trap finish EXIT

PORT="$(eg_free_port)" DEMO_SKIP_BUILD=1 setsid ./scripts/demo.sh >"$OUT" 2>&1 </dev/null &
DEMO_PID=$!

# Up when the interactive banner is printed (after wrangler dev answered).
for _ in $(seq 360); do
  grep -q "Ctrl-C stops everything" "$OUT" && break
  kill -0 "$DEMO_PID" 2>/dev/null || { cat "$OUT" >&2; eg_die "demo.sh exited before it was up"; }
  sleep 0.5
done
grep -q "Ctrl-C stops everything" "$OUT" || { cat "$OUT" >&2; eg_die "demo.sh was not up within 180 s"; }
GROUPS_STARTED="$(sed -n 's/.*(process group \([0-9]*\)).*/\1/p' "$OUT" | tr '\n' ' ')"
[ -n "$GROUPS_STARTED" ] || { cat "$OUT" >&2; eg_die "demo.sh did not log its process groups"; }
# Each started group is a session of its own (setsid): its leader and every child share it.
left_in_sessions() {
  local sid
  for sid in $GROUPS_STARTED; do ps -eo pid=,sid=,args= | awk -v s="$sid" '$2 == s'; done
}
[ -n "$(left_in_sessions)" ] || eg_die "no demo process found before the TERM (groups: $GROUPS_STARTED)"

eg_log "demo is up (process groups: $GROUPS_STARTED); sending TERM to demo.sh ($DEMO_PID)"
kill -TERM "$DEMO_PID"
rc=""
for _ in $(seq 100); do
  if ! kill -0 "$DEMO_PID" 2>/dev/null; then
    wait "$DEMO_PID" && rc=0 || rc=$?
    break
  fi
  sleep 0.1
done
if [ -z "$rc" ]; then
  cat "$OUT" >&2
  eg_die "demo.sh still running 10 s after TERM" "A foreground command is holding the TERM trap back."
fi
DEMO_PID=""
[ "$rc" = 143 ] || { cat "$OUT" >&2; eg_die "demo.sh exited with $rc after TERM, expected 143"; }
# Cleanup waits for its groups before it exits; anything left now was left behind for good.
left="$(left_in_sessions)"
if [ -n "$left" ]; then
  printf '%s\n' "$left" >&2
  eg_die "processes of the demo are still running after demo.sh exited"
fi
eg_log "demo.sh stopped on TERM (exit 143) and left no process behind"
