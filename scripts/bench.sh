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
# Needs node, curl, gzip, nginx and wrk; nginx and wrk are installed with apt-get when missing
# and this runs as root on Debian. Everything binds to 127.0.0.1; every process started here
# is stopped by its process group (the PID we started), and every wait has a deadline.
# Timing is not asserted anywhere: this is not part of scripts/test.sh.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$EG_ROOT"

if [ "${QUICK:-0}" = 1 ]; then
  ROUNDS=${ROUNDS:-1}; DURATION=${DURATION:-3}; WARMUP=${WARMUP:-1}; C1_DURATION=${C1_DURATION:-1}
  HOST_WARMUP=${HOST_WARMUP:-1}
  RESULTS_DIR=${RESULTS_DIR:-$EG_ROOT/.work/bench/quick}
fi
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-7}
WARMUP=${WARMUP:-1}
HOST_WARMUP=${HOST_WARMUP:-3}
C1_DURATION=${C1_DURATION:-1}
CONNS=${CONNS:-50}
THREADS=${THREADS:-1}
COUNT=${COUNT:-1000}
ALGS=${ALGS:-"rs256 es256 eddsa"}
INVALID_ALGS=${INVALID_ALGS-$ALGS}
ORIGIN_PORT=${ORIGIN_PORT:-18080}
PORT_BASE=${PORT_BASE:-18787}
PIN=${PIN:-0}
START_TIMEOUT=${START_TIMEOUT:-60}
EDGEGUARD_ENTRY=${EDGEGUARD_ENTRY:-$EG_ROOT/build/index.js}
RESULTS_DIR=${RESULTS_DIR:-$EG_ROOT/bench/results}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RAW=${RAW_DIR:-$EG_ROOT/.work/bench/$STAMP}
# the exact command: the knobs that came from the environment, then the script
COMMAND_LINE="$(env | { grep -E '^(QUICK|ROUNDS|DURATION|WARMUP|C1_DURATION|CONNS|THREADS|COUNT|ALGS|INVALID_ALGS|PIN|SKIP_BUILD|EDGEGUARD_ENTRY)=' || true; } |
  sort | sed -E "s/^([A-Z0-9_]+)=(.*)$/\1='\2'/" | tr '\n' ' ')./scripts/bench.sh"

# ------------------------------------------------------------------ tools
need_apt=()
command -v nginx >/dev/null || need_apt+=(nginx)
command -v wrk >/dev/null || need_apt+=(wrk)
command -v curl >/dev/null || need_apt+=(curl)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    eg_log "installing missing Debian packages: ${need_apt[*]} (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    eg_die "missing: ${need_apt[*]}" "Install them (Debian: apt-get install -y ${need_apt[*]}) and rerun."
  fi
fi
for tool in node gzip setsid taskset pgrep; do
  command -v "$tool" >/dev/null || eg_die "missing $tool"
done
for pkg in jose esbuild miniflare; do
  [ -d "node_modules/$pkg" ] || eg_die "node_modules/$pkg is missing" "Run npm ci (or scripts/setup.sh), then rerun."
done

if [ -z "${SKIP_BUILD:-}" ] && [ "$EDGEGUARD_ENTRY" = "$EG_ROOT/build/index.js" ]; then
  "$EG_ROOT/scripts/build.sh" --if-stale
fi
EDGEGUARD_ENTRY="$(cd "$(dirname "$EDGEGUARD_ENTRY")" && pwd)/$(basename "$EDGEGUARD_ENTRY")"
EDGEGUARD_WASM="$(dirname "$EDGEGUARD_ENTRY")/index_bg.wasm"
if [ ! -s "$EDGEGUARD_ENTRY" ] || [ ! -s "$EDGEGUARD_WASM" ]; then
  eg_die "no build at $EDGEGUARD_ENTRY" "Run ./scripts/build.sh first."
fi

# ------------------------------------------------------------ work area
mkdir -p "$RAW/logs" "$RESULTS_DIR"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/edgeguard-bench.XXXXXX")"
JS_WORKERS="$TMP/workers"
DATA="$RAW/data"
NGINX_PID=""
declare -A HOST_PID=()
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
now_ns() { date +%s%N; }
stop_group() { # stop the process group led by PID $1 (a process started here with setsid)
  local pid=$1 i
  [ -n "$pid" ] || return 0
  kill -TERM -- "-$pid" 2>/dev/null || return 0
  for i in $(seq 1 100); do
    kill -0 -- "-$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
}
stop_hosts() { # TERM every host first, then wait for each (they shut down in parallel)
  local w
  for w in "${!HOST_PID[@]}"; do kill -TERM -- "-${HOST_PID[$w]}" 2>/dev/null || true; done
  for w in "${!HOST_PID[@]}"; do stop_group "${HOST_PID[$w]}"; done
  HOST_PID=()
}
cleanup() {
  stop_hosts
  stop_group "$NGINX_PID"; NGINX_PID=""
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# the two JavaScript Workers, bundled and minified as they would be deployed (outside the tree)
node bench/build-workers.mjs --out "$JS_WORKERS" >/dev/null

port_in_use "$ORIGIN_PORT" && eg_die "port $ORIGIN_PORT is busy" "Set ORIGIN_PORT."
for i in 0 1 2; do
  port_in_use $((PORT_BASE + i)) && eg_die "port $((PORT_BASE + i)) is busy" "Set PORT_BASE."
done

# keys, JWKS, ISSUERS, valid tokens, then the attack tokens
node bench/mint.mjs --out "$DATA" --jwks-base "http://127.0.0.1:$ORIGIN_PORT" --count "$COUNT" >/dev/null
for alg in $INVALID_ALGS; do
  node bench/corrupt-tokens.mjs "$DATA/tokens/$alg-$COUNT.txt" "$DATA/tokens/$alg-$COUNT-badsig.txt" >/dev/null
done

# ------------------------------------------------------- origin (nginx)
BODY=$(head -c 1024 /dev/zero | tr '\0' 'a')
mkdir -p "$TMP/nginx"
cat >"$TMP/nginx/nginx.conf" <<EOF
user root;
worker_processes 1;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nodelay on;
  keepalive_timeout 120s;
  keepalive_requests 10000000;
  client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;
  types { application/json json; }
  default_type text/plain;
  server {
    listen 127.0.0.1:$ORIGIN_PORT;
    root $DATA/www;
    location /jwks/ { add_header Cache-Control "public, max-age=300"; }
    location = /__nginx_status { stub_status; }
    location / { return 200 "$BODY"; }
  }
}
EOF
PIN_HOST=(); PIN_LOAD=()
if [ "$PIN" = 1 ]; then PIN_HOST=(taskset -c 1); PIN_LOAD=(taskset -c 0); fi
setsid "${PIN_LOAD[@]}" nginx -e "$TMP/nginx/error.log" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" \
  >"$RAW/logs/nginx.out" 2>&1 &
NGINX_PID=$!
for _ in $(seq 1 100); do port_in_use "$ORIGIN_PORT" && break; sleep 0.05; done
port_in_use "$ORIGIN_PORT" || { cat "$TMP/nginx/error.log" >&2; eg_die "nginx did not start"; }
[ -s "$TMP/nginx/nginx.pid" ] && NGINX_PID=$(cat "$TMP/nginx/nginx.pid")
curl -sf "http://127.0.0.1:$ORIGIN_PORT/jwks/rs256.json" >/dev/null || eg_die "nginx does not serve the JWKS"

# Requests nginx has handled so far (every path; reading it counts as one).
origin_requests() {
  curl -sf --max-time 5 "http://127.0.0.1:$ORIGIN_PORT/__nginx_status" | awk 'NR==3{print $3}'
}

# ---------------------------------------------------------------- hosts
WORKERS=(passthrough jose edgeguard)
declare -A ENTRY PORT
ENTRY[passthrough]="$JS_WORKERS/js-passthrough/index.js"
ENTRY[jose]="$JS_WORKERS/jose-worker/index.js"
ENTRY[edgeguard]="$EDGEGUARD_ENTRY"
PORT[passthrough]=$PORT_BASE; PORT[jose]=$((PORT_BASE + 1)); PORT[edgeguard]=$((PORT_BASE + 2))
n_algs=$(wc -w <<<"$ALGS"); n_inv=$(wc -w <<<"$INVALID_ALGS")
ROUND_BUDGET=$(( (n_algs * 5 + n_inv * 2) * (WARMUP + DURATION + 3) + n_algs * 3 * (C1_DURATION + 2) + 3 * START_TIMEOUT ))

workerd_pid() { # the workerd child of host (node) PID $1
  { pgrep -P "$1" -x workerd || true; } | head -n1
}
rss_kb() { # VmRSS and VmHWM (kB) of PID $1 (may be empty), as "rss hwm" ("null null" if unknown)
  if [ -z "$1" ] || [ ! -r "/proc/$1/status" ]; then echo "null null"; return; fi
  awk '/^VmRSS:/{r=$2} /^VmHWM:/{h=$2} END{printf "%s %s\n", (r==""?"null":r), (h==""?"null":h)}' "/proc/$1/status" 2>/dev/null ||
    echo "null null"
}
cpu_ms() { # user + system CPU time (ms) PID $1 has used so far, or "null"
  if [ -z "$1" ] || [ ! -r "/proc/$1/stat" ]; then echo null; return; fi
  # Fields 14 and 15 (utime, stime) in clock ticks; the command name (field 2) may hold
  # spaces, so count from after its closing parenthesis.
  sed 's/^.*) //' "/proc/$1/stat" | awk -v hz="$CLK_TCK" '{ printf "%d\n", ($12 + $13) * 1000 / hz }' ||
    echo null
}
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

# start_host ROUND WORKER: spawn, wait for READY, then for the first 200 (timed)
start_host() {
  local round=$1 w=$2 log="$RAW/logs/host-r$1-$2.log" token t0 t_ready t_first code first_s deadline pid wpid rss hwm
  token=$(head -n1 "$DATA/tokens/rs256-1.txt")
  t0=$(now_ns)
  setsid "${PIN_HOST[@]}" node bench/host.mjs --script "${ENTRY[$w]}" --port "${PORT[$w]}" \
    --issuers-file "$DATA/issuers.json" --origin "http://127.0.0.1:$ORIGIN_PORT" \
    --max-seconds "$ROUND_BUDGET" >"$log" 2>&1 &
  HOST_PID[$w]=$!
  deadline=$(( $(date +%s) + START_TIMEOUT ))
  until grep -q '^READY ' "$log" 2>/dev/null; do
    kill -0 "${HOST_PID[$w]}" 2>/dev/null || { cat "$log" >&2; eg_die "host for $w died"; }
    [ "$(date +%s)" -lt "$deadline" ] || eg_die "host for $w not ready after ${START_TIMEOUT}s"
    sleep 0.005
  done
  t_ready=$(now_ns)
  pid=$(grep -m1 '^READY ' "$log" | sed -E 's/.*"pid":([0-9]+).*/\1/')
  HOST_PID[$w]=$pid
  while :; do
    read -r code first_s < <(curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 10 \
      -H "Authorization: Bearer $token" "http://127.0.0.1:${PORT[$w]}/cold" || echo "000 0")
    [ "$code" = 200 ] && break
    [ "$(date +%s)" -lt "$deadline" ] || { cat "$log" >&2; eg_die "no 200 from $w (last status $code)"; }
    sleep 0.01
  done
  t_first=$(now_ns)
  wpid=$(workerd_pid "$pid")
  read -r rss hwm <<<"$(rss_kb "$wpid")"
  printf '{"round":%d,"worker":"%s","spawn_to_ready_ms":%d,"cold_ms":%d,"first_req_ms":%s,"workerd_pid":%s,"rss_kb_start":%s,"hwm_kb_start":%s}\n' \
    "$round" "$w" $(( (t_ready - t0) / 1000000 )) $(( (t_first - t0) / 1000000 )) \
    "$(awk -v s="$first_s" 'BEGIN{printf "%.2f", s*1000}')" "${wpid:-null}" "$rss" "$hwm" >>"$RAW/starts.jsonl"
  printf '  round %d  start %-12s cold %5d ms (ready %d ms, first request %s ms)\n' "$round" "$w" \
    $(( (t_first - t0) / 1000000 )) $(( (t_ready - t0) / 1000000 )) "$(awk -v s="$first_s" 'BEGIN{printf "%.1f", s*1000}')"
}

wrk_json() { # wrk_json CONNS SECONDS TOKENS_FILE PORT -> the WRKJSON object (or exit 1)
  local out
  out=$("${PIN_LOAD[@]}" wrk -t"$THREADS" -c"$1" -d"$2s" --timeout 5s -s bench/wrk/status.lua \
    "http://127.0.0.1:$4" -- "$3" / 2>&1) || { echo "$out" >&2; return 1; }
  out=$(sed -n 's/^WRKJSON //p' <<<"$out")
  [ -n "$out" ] || return 1
  printf '%s' "$out"
}

wrk_discard() { # wrk_discard SECONDS TOKENS_FILE PORT: load whose figures are thrown away (warm-up)
  wrk -t"$THREADS" -c"$CONNS" -d"$1s" --timeout 5s -s bench/wrk/status.lua \
    "http://127.0.0.1:$3" -- "$2" / >/dev/null 2>&1 || true
}

# run_one ROUND ALG WORKER WORKLOAD TOKENS_FILE WITH_C1
run_one() {
  local round=$1 alg=$2 w=$3 workload=$4 tokfile=$5 with_c1=$6 port json c1=null before after hits wpid rss hwm t_start
  local cpu cpu_before cpu_after
  port=${PORT[$w]}
  t_start=$(date -u +%H:%M:%S)
  wrk_discard "$WARMUP" "$tokfile" "$port"
  wpid=$(workerd_pid "${HOST_PID[$w]}")
  cpu_before=$(cpu_ms "$wpid")
  before=$(origin_requests)
  json=$(wrk_json "$CONNS" "$DURATION" "$tokfile" "$port") || eg_die "no wrk summary for $w/$alg/$workload"
  after=$(origin_requests)
  cpu_after=$(cpu_ms "$wpid")
  cpu=null
  if [ "$cpu_before" != null ] && [ "$cpu_after" != null ]; then cpu=$((cpu_after - cpu_before)); fi
  hits=$(( after - before - 1 ))
  if [ "$with_c1" = 1 ] && [ "$C1_DURATION" != 0 ]; then
    c1=$(THREADS=1 wrk_json 1 "$C1_DURATION" "$tokfile" "$port") || c1=null
  fi
  read -r rss hwm <<<"$(rss_kb "$wpid")"
  printf '{"round":%d,"alg":"%s","worker":"%s","workload":"%s","tokens_file":"%s","started":"%s","origin_hits":%d,"rss_kb":%s,"hwm_kb":%s,"cpu_ms":%s,"wrk":%s,"c1":%s}\n' \
    "$round" "$alg" "$w" "$workload" "$(basename "$tokfile")" "$t_start" "$hits" "$rss" "$hwm" "$cpu" "$json" "$c1" >>"$RAW/runs.jsonl"
  # shellcheck disable=SC2016 # JavaScript, not shell
  node -e '
    const [j, c, hits] = [JSON.parse(process.argv[1]), JSON.parse(process.argv[2]), process.argv[3]];
    const s = j.status;
    const rps = j.requests / (j.duration_us / 1e6);
    const sock = j.connect_errors + j.read_errors + j.write_errors + j.timeouts;
    console.log(`  round ${process.argv[4]}  ${process.argv[5].padEnd(34)} ${rps.toFixed(0).padStart(6)} req/s  p50 ${(j.p50_us/1000).toFixed(2)} ms  p99 ${(j.p99_us/1000).toFixed(2)} ms  2xx ${s["2xx"]} 401 ${s["401"]} other ${s.other_4xx + s["5xx"] + s.other} sock ${sock}  origin ${hits}` +
      (c ? `  | c1 p50 ${(c.p50_us/1000).toFixed(3)} ms` : ""));
  ' "$json" "$c1" "$hits" "$round" "$w/$alg/$workload"
}

# ------------------------------------------------------------ machine note
top_procs() { # the 3 busiest processes right now (noise indicator)
  top -bn2 -d0.5 -w 200 2>/dev/null | awk '/^top -/{n++} n==2 && /^ *[0-9]+ /{printf "%s%s %s%%", (c?", ":""), $12, $9; c++} c==3{exit}' || true
}
json_str() { node -e 'process.stdout.write(JSON.stringify(process.argv[1]))' "$1"; }
{
  printf '{"stamp":"%s","date":"%s","command":%s,"nproc":%s,"cpu":%s,"mem_total_kb":%s,"kernel":%s,' \
    "$STAMP" "$(date -u +%F)" "$(json_str "$COMMAND_LINE")" "$(nproc)" \
    "$(json_str "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')")" \
    "$(awk '/^MemTotal:/{print $2}' /proc/meminfo)" "$(json_str "$(uname -sr)")"
  printf '"edgeguard_entry":%s,"edgeguard_built":"%s",' "$(json_str "${EDGEGUARD_ENTRY#"$EG_ROOT/"}")" \
    "$(date -u -r "$EDGEGUARD_WASM" +%Y-%m-%dT%H:%M:%SZ)"
  printf '"loadavg_start":"%s","top_start":%s,' "$(cut -d' ' -f1-3 /proc/loadavg)" "$(json_str "$(top_procs)")"
  printf '"rounds":%s,"duration_s":%s,"warmup_s":%s,"host_warmup_s":%s,"c1_duration_s":%s,"conns":%s,"threads":%s,"count":%s,"pin":%s,"algs":%s,"invalid_algs":%s,' \
    "$ROUNDS" "$DURATION" "$WARMUP" "$HOST_WARMUP" "$C1_DURATION" "$CONNS" "$THREADS" "$COUNT" "$PIN" \
    "$(json_str "$ALGS")" "$(json_str "$INVALID_ALGS")"
  printf '"versions":{"node":"%s","miniflare":"%s","workerd":"%s","jose":"%s","esbuild":"%s","wrk":"%s","nginx":"%s","edgeguard_commit":"%s"}' \
    "$(node --version)" "$(node -p 'require("miniflare/package.json").version')" \
    "$(node_modules/@cloudflare/workerd-linux-64/bin/workerd --version 2>/dev/null | sed 's/^workerd //' | tr -d '\n')" \
    "$(node -p 'require("jose/package.json").version')" "$(node -p 'require("esbuild/package.json").version')" \
    "$(wrk -v 2>&1 | head -1 | awk '{print $2}')" "$(nginx -v 2>&1 | sed 's/.*nginx\///')" \
    "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src Cargo.toml 2>/dev/null || echo '+dirty')"
} >"$RAW/env.partial"

# deployable sizes: what wrangler uploads (the entry module and what it imports)
{
  printf '['
  sep=""
  for spec in "passthrough:${ENTRY[passthrough]}" "jose:${ENTRY[jose]}" \
    "edgeguard:$EDGEGUARD_ENTRY $EDGEGUARD_WASM"; do
    w=${spec%%:*}; files=${spec#*:}
    raw=0; gz=0; names=""; wasm_raw=0; wasm_gz=0
    for f in $files; do
      r=$(stat -c %s "$f"); g=$(gzip -9c "$f" | wc -c)
      raw=$((raw + r)); gz=$((gz + g)); names="$names $(basename "$f")"
      case "$f" in *.wasm) wasm_raw=$r; wasm_gz=$g ;; esac
    done
    printf '%s{"worker":"%s","files":"%s","raw_bytes":%d,"gzip_bytes":%d,"wasm_raw_bytes":%d,"wasm_gzip_bytes":%d}' \
      "$sep" "$w" "${names# }" "$raw" "$gz" "$wasm_raw" "$wasm_gz"
    sep=","
  done
  printf ']\n'
} >"$RAW/sizes.json"

: >"$RAW/runs.jsonl"; : >"$RAW/starts.jsonl"; : >"$RAW/ends.jsonl"; : >"$RAW/checks.jsonl"
eg_log "bench: rounds=$ROUNDS duration=${DURATION}s warmup=${WARMUP}s host-warmup=${HOST_WARMUP}s c1=${C1_DURATION}s conns=$CONNS algs=[$ALGS] invalid=[$INVALID_ALGS] pin=$PIN"
eg_log "raw results: ${RAW#"$EG_ROOT/"}/"
began=$SECONDS
for round in $(seq 1 "$ROUNDS"); do
  for w in "${WORKERS[@]}"; do start_host "$round" "$w"; done
  # Steady state, not JIT warm-up, is what the runs compare: every fresh host serves
  # HOST_WARMUP s of its reused-token traffic per algorithm first (V8 tiers up the hot path
  # in that time; a 1 s run straight after start measured workers half-warm, e.g. a worker's
  # reused-token rate below its own 1,000-token rate). The distinct and attack tokens are
  # not used here, so no cache is filled with what is measured later.
  if [ "$HOST_WARMUP" != 0 ]; then
    for w in "${WORKERS[@]}"; do
      for alg in $ALGS; do
        wrk_discard "$HOST_WARMUP" "$DATA/tokens/$alg-1.txt" "${PORT[$w]}"
      done
    done
  fi
  if [ "$round" = 1 ]; then
    # what each worker answers to one attack token (status + WWW-Authenticate), for the report
    for alg in $INVALID_ALGS; do
      for w in jose edgeguard; do
        curl -s -o /dev/null --max-time 10 -D "$TMP/h" -H "Authorization: Bearer $(head -n1 "$DATA/tokens/$alg-$COUNT-badsig.txt")" \
          "http://127.0.0.1:${PORT[$w]}/probe" || true
        node -e '
          const h = require("fs").readFileSync(process.argv[1], "utf8");
          const status = Number((h.match(/^HTTP\/\S+ (\d+)/) || [])[1] || 0);
          const www = (h.match(/^www-authenticate: *(.*?)\r?$/im) || [])[1] || null;
          console.log(JSON.stringify({ alg: process.argv[2], worker: process.argv[3], status, www_authenticate: www }));
        ' "$TMP/h" "$alg" "$w" >>"$RAW/checks.jsonl"
      done
    done
  fi
  for alg in $ALGS; do
    run_one "$round" "$alg" passthrough floor "$DATA/tokens/$alg-1.txt" 1
    for w in jose edgeguard; do run_one "$round" "$alg" "$w" reused "$DATA/tokens/$alg-1.txt" 1; done
    for w in jose edgeguard; do run_one "$round" "$alg" "$w" distinct "$DATA/tokens/$alg-$COUNT.txt" 0; done
    if [[ " $INVALID_ALGS " == *" $alg "* ]]; then
      for w in jose edgeguard; do run_one "$round" "$alg" "$w" invalid "$DATA/tokens/$alg-$COUNT-badsig.txt" 0; done
    fi
  done
  for w in "${WORKERS[@]}"; do
    wpid=$(workerd_pid "${HOST_PID[$w]}")
    read -r rss hwm <<<"$(rss_kb "$wpid")"
    printf '{"round":%d,"worker":"%s","rss_kb_end":%s,"hwm_kb_end":%s}\n' "$round" "$w" "$rss" "$hwm" >>"$RAW/ends.jsonl"
  done
  stop_hosts
  for i in 0 1 2; do
    for _ in $(seq 1 100); do port_in_use $((PORT_BASE + i)) || break; sleep 0.05; done
  done
done
{
  cat "$RAW/env.partial"
  printf ',"loadavg_end":"%s","top_end":%s,"elapsed_s":%d}\n' "$(cut -d' ' -f1-3 /proc/loadavg)" \
    "$(json_str "$(top_procs)")" $((SECONDS - began))
} >"$RAW/env.json"
rm -f "$RAW/env.partial"

node bench/report.mjs "$RAW" --out "$RESULTS_DIR"
