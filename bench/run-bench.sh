#!/usr/bin/env bash
# Herald vs nginx+nchan, side by side on this machine: fan-out rate and latency over WebSocket and SSE, server
# memory per idle connection, time to accept many simultaneous connections, and REST publish throughput (wrk).
# Prints one markdown table; raw JSON lines stay in the work directory. See bench/README.md.
#
# Environment (all optional):
#   SUBS="1000 5000 10000"  subscriber counts for the fan-out rows
#   TRANSPORTS="ws sse"     subscriber protocols
#   MSGS=100 PAYLOAD=100    messages per fan-out run and their text size in bytes
#   ROUNDS=1                repeat every fan-out cell; the table shows the median
#   PACED_SUBS=<max SUBS>   subscriber count for the paced-latency rows ("" = skip)
#   PACED_MSGS=20 PACED_INTERVAL_MS=200
#   RSS_N=10000             idle connections for the memory rows ("" = skip)
#   CONNECT_N=15000         simultaneous connections for the connect rows ("" = skip)
#   WRK_DURATION=10 WRK_CONNS=32 WRK_THREADS=1   REST publish rows (WRK_DURATION=0 = skip)
#   HERALD_WORKERS=         herald-server --workers (empty: its default, one per core)
#   HERALD_WINDOW=          herald-server --publish-window (empty: its default, 0 = answer at once)
#   BUILD_DIR=<repo>/build/release   SKIP_BUILD=1 to use what is there   SKIP_INSTALL=1
#   KEEP_WORK=1             keep the temporary directory (logs, JSON) after the run
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build/release}
SUBS=${SUBS:-"1000 5000 10000"}
TRANSPORTS=${TRANSPORTS:-"ws sse"}
MSGS=${MSGS:-100}
PAYLOAD=${PAYLOAD:-100}
ROUNDS=${ROUNDS:-1}
max_subs=0
for n in $SUBS; do if ((n > max_subs)); then max_subs=$n; fi; done
PACED_SUBS=${PACED_SUBS-$max_subs}
PACED_MSGS=${PACED_MSGS:-20}
PACED_INTERVAL_MS=${PACED_INTERVAL_MS:-200}
RSS_N=${RSS_N-10000}
CONNECT_N=${CONNECT_N-15000}
WRK_DURATION=${WRK_DURATION:-10}
WRK_CONNS=${WRK_CONNS:-32}
WRK_THREADS=${WRK_THREADS:-1}
HERALD_WORKERS=${HERALD_WORKERS:-}
HERALD_WINDOW=${HERALD_WINDOW:-}

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# --- what the run needs ------------------------------------------------------------------------------------
find_nchan_module() {
    local m
    for m in /usr/lib/nginx/modules/ngx_nchan_module.so /usr/share/nginx/modules/ngx_nchan_module.so; do
        [[ -f $m ]] && { echo "$m"; return 0; }
    done
    return 1
}

install_missing() {
    local pkgs=()
    command -v nginx > /dev/null || pkgs+=(nginx-light)
    find_nchan_module > /dev/null || pkgs+=(libnginx-mod-nchan)
    command -v wrk > /dev/null || pkgs+=(wrk)
    command -v python3 > /dev/null || pkgs+=(python3)
    command -v cmake > /dev/null || pkgs+=(cmake)
    command -v ninja > /dev/null || pkgs+=(ninja-build)
    ((${#pkgs[@]} == 0)) && return 0
    [[ ${SKIP_INSTALL:-0} == 1 ]] && { log "missing: ${pkgs[*]} (SKIP_INSTALL=1)"; exit 1; }
    ((EUID == 0)) || { log "missing: ${pkgs[*]}; run as root or install them"; exit 1; }
    log "installing ${pkgs[*]}"
    apt-get update -qq
    # nginx-light is enough for nchan; fall back to nginx-core where -light is not packaged.
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" > /dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]/nginx-light/nginx-core}" > /dev/null
    fi
    # The Debian package starts a system nginx on port 80 where an init system runs; it is not ours to keep.
    if command -v systemctl > /dev/null && systemctl is-active --quiet nginx 2> /dev/null; then
        log "note: the packaged nginx service is running on port 80 (not used by this benchmark)"
    fi
}

install_missing
NCHAN_MODULE=$(find_nchan_module)
NGINX_VERSION=$(nginx -v 2>&1 | sed 's/.*nginx\///')
NCHAN_VERSION=$(dpkg-query -W -f='${Version}' libnginx-mod-nchan 2> /dev/null || echo '?')

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    log "building herald-server and herald-loadgen (Release) in $BUILD_DIR"
    cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DHERALD_BUILD_TESTS=OFF \
        -DHERALD_BUILD_DASHBOARD=OFF -DHERALD_BUILD_BENCH=ON > /dev/null
    cmake --build "$BUILD_DIR" -j2 --target herald-server herald-loadgen > /dev/null
fi
SERVER=$BUILD_DIR/server/herald-server
LOADGEN=$BUILD_DIR/bench/herald-loadgen
[[ -x $SERVER && -x $LOADGEN ]] || { log "missing $SERVER or $LOADGEN"; exit 1; }

# Every process below inherits this; the loadgen and both servers hold one descriptor per connection.
ulimit -n "$(ulimit -Hn)" 2> /dev/null || true
NOFILE=$(ulimit -n)
need=$((max_subs > ${CONNECT_N:-0} ? max_subs : ${CONNECT_N:-0}))
((NOFILE > need + 100)) || log "warning: ulimit -n is $NOFILE, $need connections need more"

WORK=$(mktemp -d /tmp/herald-bench.XXXXXX)
RESULTS=$WORK/results.jsonl
meta='{"test":"meta","date":"%s","cores":%s,"kernel":"%s","nginx":"%s","nchan":"%s","herald_workers":"%s","herald_window":"%s",'
meta+='"msgs":%s,"payload":%s,"rounds":%s,"paced_interval_ms":%s,"wrk_conns":%s,"wrk_duration":%s}\n'
# shellcheck disable=SC2059 # the format is ours
printf "$meta" "$(date -u +%Y-%m-%d)" "$(nproc)" "$(uname -r)" "$NGINX_VERSION" "$NCHAN_VERSION" \
    "$HERALD_WORKERS" "$HERALD_WINDOW" "$MSGS" "$PAYLOAD" "$ROUNDS" "$PACED_INTERVAL_MS" "$WRK_CONNS" "$WRK_DURATION" > "$RESULTS"

# --- process control: every pid started here is stopped on exit ---------------------------------------------
HERALD_PID=
NGINX_PID=
NGINX_WORKER=
HOLD_PID=

stop_pid() {
    local pid=$1 i
    [[ -n $pid ]] && kill -0 "$pid" 2> /dev/null || return 0
    kill -TERM "$pid" 2> /dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2> /dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2> /dev/null && kill -KILL "$pid" 2> /dev/null
    wait "$pid" 2> /dev/null || true
}

stop_servers() {
    stop_pid "$HERALD_PID"
    HERALD_PID=
    stop_pid "$NGINX_PID"
    NGINX_PID=
    NGINX_WORKER=
}

cleanup() {
    local rc=$?
    stop_pid "$HOLD_PID"
    stop_servers
    if [[ ${KEEP_WORK:-0} == 1 || $rc != 0 ]]; then
        log "work directory kept: $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {
    local port=$1 i
    for ((i = 0; i < 100; i++)); do
        (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null && return 0
        sleep 0.1
    done
    return 1
}

child_of() {
    local parent=$1 p
    for p in /proc/[0-9]*; do
        [[ -r $p/stat ]] || continue
        read -r -a st < "$p/stat" 2> /dev/null || continue
        # Field 4 is the parent pid (the command name in field 2 has no spaces for nginx).
        [[ ${st[3]:-} == "$parent" ]] && { echo "${p#/proc/}"; return 0; }
    done
    return 1
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

start_herald() {
    HERALD_PORT=$(free_port)
    rm -rf "$WORK/herald-data"
    local args=(--port "$HERALD_PORT" --bind 127.0.0.1 --data-dir "$WORK/herald-data" --log-level warning)
    [[ -n $HERALD_WORKERS ]] && args+=(--workers "$HERALD_WORKERS")
    [[ -n $HERALD_WINDOW ]] && args+=(--publish-window "$HERALD_WINDOW")
    "$SERVER" "${args[@]}" >> "$WORK/herald.log" 2>&1 &
    HERALD_PID=$!
    wait_port "$HERALD_PORT" || { log "herald-server did not start; see $WORK/herald.log"; exit 1; }
}

start_nchan() {
    NCHAN_PORT=$(free_port)
    local prefix=$WORK/nchan user_line=''
    mkdir -p "$prefix"
    # As root nginx would drop its worker to 'nobody'; keep it as the user running the benchmark.
    ((EUID == 0)) && user_line="user $(id -un) $(id -gn);"
    sed -e "s|@PREFIX@|$prefix|g" -e "s|@PORT@|$NCHAN_PORT|g" -e "s|@USER_LINE@|$user_line|" \
        -e "s|@NOFILE@|$NOFILE|" -e "s|@WORKER_CONNECTIONS@|$((NOFILE - 200))|" \
        -e "s|@NCHAN_MODULE@|$NCHAN_MODULE|" "$ROOT/bench/nchan.conf.in" > "$prefix/nginx.conf"
    nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" >> "$prefix/stdout.log" 2>&1 &
    NGINX_PID=$!
    wait_port "$NCHAN_PORT" || { log "nginx did not start; see $prefix/error.log"; exit 1; }
    NGINX_WORKER=$(child_of "$NGINX_PID") || { log "no nginx worker process"; exit 1; }
}

# Fresh servers for every measurement: a server that already served a run keeps freed memory in its allocator,
# which would flatter the next run's per-connection figure.
fresh_servers() {
    stop_servers
    start_herald
    start_nchan
}

CHANNEL_SEQ=0
next_channel() {
    CHANNEL_SEQ=$((CHANNEL_SEQ + 1))
    CHANNEL="bench$CHANNEL_SEQ"
}

# loadgen_args SERVER TRANSPORT: the subscriber/publisher options for one server.
loadgen_args() {
    local server=$1 transport=$2
    if [[ $server == herald ]]; then
        local route='/ws'
        [[ $transport == sse ]] && route='/events'
        ARGS=(--port "$HERALD_PORT" --path "$route?channels=$CHANNEL" --ready-on-data
            --pub-url "http://127.0.0.1:$HERALD_PORT/api/publish" --pub-channel "$CHANNEL"
            --server-pid "$HERALD_PID")
    else
        ARGS=(--port "$NCHAN_PORT" --path "/sub/$CHANNEL" --pub-url "http://127.0.0.1:$NCHAN_PORT/pub/$CHANNEL"
            --server-pid "$NGINX_WORKER")
    fi
    ARGS+=(--transport "$transport" --payload "$PAYLOAD")
}

record() { # test server round json
    printf '{"test":"%s","server":"%s","round":%s,"r":%s}\n' "$1" "$2" "$3" "$4" >> "$RESULTS"
}

run_loadgen() { # test server transport subs round [extra loadgen args...]
    local test=$1 server=$2 transport=$3 subs=$4 round=$5
    shift 5
    next_channel
    loadgen_args "$server" "$transport"
    local out
    out=$("$LOADGEN" "${ARGS[@]}" --subs "$subs" --label "$server" "$@" 2>> "$WORK/loadgen.err")
    printf '%s\n' "$out" | grep '^# ' >&2 || true
    local json
    json=$(printf '%s\n' "$out" | grep '^{' | tail -1)
    [[ -n $json ]] || { log "loadgen printed no result for $test $server $transport $subs"; return 0; }
    record "$test" "$server" "$round" "$json"
}

order() { # alternate which server goes first, so neither always runs on a machine the other just heated
    if (($1 % 2 == 0)); then echo "herald nchan"; else echo "nchan herald"; fi
}

log "work directory $WORK; nginx $NGINX_VERSION, nchan $NCHAN_VERSION; ulimit -n $NOFILE"

# --- fan-out: M messages back to back to N subscribers ------------------------------------------------------
cell=0
for ((round = 1; round <= ROUNDS; round++)); do
    for n in $SUBS; do
        for t in $TRANSPORTS; do
            fresh_servers
            for s in $(order $cell); do
                run_loadgen fanout "$s" "$t" "$n" "$round" --msgs "$MSGS" --timeout 180
            done
            cell=$((cell + 1))
        done
    done
done

# --- paced: one message at a time, so latency is one fan-out and not a queue ---------------------------------
if [[ -n $PACED_SUBS ]]; then
    for t in $TRANSPORTS; do
        fresh_servers
        for s in $(order $cell); do
            run_loadgen paced "$s" "$t" "$PACED_SUBS" 1 --msgs "$PACED_MSGS" \
                --pub-interval-ms "$PACED_INTERVAL_MS" --timeout 120
        done
        cell=$((cell + 1))
    done
fi

# --- memory per idle connection: VmRSS before and after RSS_N subscribers sit idle ---------------------------
if [[ -n $RSS_N ]]; then
    for t in $TRANSPORTS; do
        fresh_servers
        for s in $(order $cell); do
            next_channel
            loadgen_args "$s" "$t"
            pid=$HERALD_PID
            [[ $s == nchan ]] && pid=$NGINX_WORKER
            sleep 1
            before=$(rss_kb "$pid")
            hold_out=$WORK/hold-$s-$t.out
            "$LOADGEN" "${ARGS[@]}" --subs "$RSS_N" --hold 0 --label "$s" > "$hold_out" 2>> "$WORK/loadgen.err" &
            HOLD_PID=$!
            for ((i = 0; i < 600; i++)); do
                grep -q '^READY' "$hold_out" 2> /dev/null && break
                kill -0 "$HOLD_PID" 2> /dev/null || break
                sleep 0.1
            done
            sleep 2 # idle: let handshakes and timers settle
            after=$(rss_kb "$pid")
            json=$(grep '^{' "$hold_out" | tail -1)
            stop_pid "$HOLD_PID"
            HOLD_PID=
            grep '^# ' "$hold_out" >&2 || true
            [[ -n $json ]] || { log "idle run printed nothing for $s $t"; continue; }
            record idle "$s" 1 "${json%\}},\"idle_before_kb\":$before,\"idle_after_kb\":$after}"
        done
        cell=$((cell + 1))
    done
fi

# --- simultaneous connects: CONNECT_N connections opened at once ---------------------------------------------
if [[ -n $CONNECT_N ]]; then
    for t in $TRANSPORTS; do
        fresh_servers
        for s in $(order $cell); do
            run_loadgen connect "$s" "$t" "$CONNECT_N" 1 --msgs 0 --connect-timeout 30
        done
        cell=$((cell + 1))
    done
fi

# --- REST publish path: wrk POSTing to a channel nobody listens to --------------------------------------------
if ((WRK_DURATION > 0)); then
    fresh_servers
    body=$(printf 'x%.0s' $(seq 1 "$PAYLOAD"))
    cat > "$WORK/herald.lua" << EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"channel":"wrk","message":"$body"}'
EOF
    # The same on client:wrk, a channel Herald never stores: what the HTTP path costs without a commit.
    sed 's/"channel":"wrk"/"channel":"client:wrk"/' "$WORK/herald.lua" > "$WORK/herald-ephemeral.lua"
    cat > "$WORK/nchan.lua" << EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/plain"
wrk.body = "$body"
EOF
    for s in $(order $cell) herald-ephemeral; do
        if [[ $s == herald* ]]; then
            url="http://127.0.0.1:$HERALD_PORT/api/publish"
            pid=$HERALD_PID
        else
            url="http://127.0.0.1:$NCHAN_PORT/pub/wrk"
            pid=$NGINX_WORKER
        fi
        out=$(wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"${WRK_DURATION}s" --latency -s "$WORK/$s.lua" "$url" 2>&1)
        printf '%s\n' "$out" > "$WORK/wrk-$s.out"
        rps=$(awk '/^Requests\/sec:/ {print $2}' <<< "$out")
        p50=$(awk '$1 == "50%" {print $2}' <<< "$out")
        p99=$(awk '$1 == "99%" {print $2}' <<< "$out")
        non2xx=$(awk '/Non-2xx/ {print $NF}' <<< "$out")
        errors=$(awk '/Socket errors/ {print}' <<< "$out")
        timeouts=$(awk '/Socket errors/ {gsub(",", ""); print $NF}' <<< "$out")
        log "wrk $s: ${rps:-?} req/s, p50 ${p50:-?}, p99 ${p99:-?}, non-2xx ${non2xx:-0} ${errors}"
        test=wrk
        [[ $s == herald-ephemeral ]] && test=wrk_ephemeral
        record "$test" "${s%-ephemeral}" 1 "{\"rps\":${rps:-0},\"p50\":\"${p50:-}\",\"p99\":\"${p99:-}\",\"non2xx\":${non2xx:-0},\"timeouts\":${timeouts:-0},\"rss_kb\":$(rss_kb "$pid")}"
    done
fi
stop_servers

# --- the table ---------------------------------------------------------------------------------------------------
python3 "$ROOT/bench/report.py" "$RESULTS"
log "raw results: $RESULTS"
mkdir -p "$BUILD_DIR/bench-results"
cp "$RESULTS" "$BUILD_DIR/bench-results/results-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
log "copied to $BUILD_DIR/bench-results/ (bench/report.py FILE prints the table again)"
