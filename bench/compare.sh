#!/usr/bin/env bash
# Herald against Herald: two builds of herald-server side by side, for "structural changes keep the bench
# figures". Each cell starts both servers fresh and runs the same fan-out against each, alternating which goes
# first; the table shows medians over ROUNDS and the ratio B/A. See bench/README.md.
#
#   bench/compare.sh A_BUILD_DIR B_BUILD_DIR
#
# Both directories must hold a Release server/herald-server (bench/run-bench.sh's configure line, or any
# Release build); the loadgen is taken from B. Environment (all optional):
#   SUBS="1000 5000"  TRANSPORTS="ws sse"  MSGS=100  PAYLOAD=100  ROUNDS=3
set -euo pipefail

[[ $# == 2 ]] || { sed -n '2,11p' "$0" >&2; exit 2; }
A_SERVER=$1/server/herald-server
B_SERVER=$2/server/herald-server
LOADGEN=$2/bench/herald-loadgen
for f in "$A_SERVER" "$B_SERVER" "$LOADGEN"; do [[ -x $f ]] || { echo "missing $f" >&2; exit 1; }; done
SUBS=${SUBS:-"1000 5000"}
TRANSPORTS=${TRANSPORTS:-"ws sse"}
MSGS=${MSGS:-100}
PAYLOAD=${PAYLOAD:-100}
ROUNDS=${ROUNDS:-3}

log() { printf '[compare %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
ulimit -n "$(ulimit -Hn)" 2> /dev/null || true

WORK=$(mktemp -d /tmp/herald-compare.XXXXXX)
RESULTS=$WORK/results.jsonl
declare -A PID PORT
cleanup() {
    local s
    for s in "${!PID[@]}"; do kill "${PID[$s]}" 2> /dev/null || true; done
    wait 2> /dev/null || true
    log "results: $RESULTS"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start() { # name binary
    local name=$1 bin=$2 i
    PORT[$name]=$(free_port)
    rm -rf "$WORK/data-$name"
    "$bin" --port "${PORT[$name]}" --bind 127.0.0.1 --data-dir "$WORK/data-$name" --log-level warning \
        >> "$WORK/$name.log" 2>&1 &
    PID[$name]=$!
    for ((i = 0; i < 100; i++)); do
        (exec 3<> "/dev/tcp/127.0.0.1/${PORT[$name]}") 2> /dev/null && return 0
        sleep 0.1
    done
    log "$name did not start"
    exit 1
}

stop() {
    local s
    for s in "${!PID[@]}"; do
        kill "${PID[$s]}" 2> /dev/null || true
        wait "${PID[$s]}" 2> /dev/null || true
    done
    PID=()
}

seq_no=0
run() { # test name transport subs [loadgen args...]
    local test=$1 name=$2 transport=$3 subs=$4 route=/ws out json
    shift 4
    seq_no=$((seq_no + 1))
    [[ $transport == sse ]] && route=/events
    local channel=bench$seq_no
    out=$("$LOADGEN" --port "${PORT[$name]}" --path "$route?channels=$channel" --ready-on-data \
        --pub-url "http://127.0.0.1:${PORT[$name]}/api/publish" --pub-channel "$channel" \
        --server-pid "${PID[$name]}" --transport "$transport" --payload "$PAYLOAD" --subs "$subs" --label "$name" \
        "$@" 2>> "$WORK/loadgen.err")
    json=$(printf '%s\n' "$out" | grep '^{' | tail -1)
    [[ -n $json ]] || { log "no result for $test $name $transport $subs"; return 0; }
    printf '{"test":"%s","server":"%s","r":%s}\n' "$test" "$name" "$json" >> "$RESULTS"
    log "$test $name $transport $subs: $(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["rate"], "msg/s, missing", d["missing"], "p50", d["p50_ms"])' "$json")"
}

order() { if (($1 % 2 == 0)); then echo "A B"; else echo "B A"; fi; }

cell=0
for ((round = 1; round <= ROUNDS; round++)); do
    for n in $SUBS; do
        for t in $TRANSPORTS; do
            stop
            start A "$A_SERVER"
            start B "$B_SERVER"
            for s in $(order $cell); do run fanout "$s" "$t" "$n" --msgs "$MSGS" --timeout 180; done
            cell=$((cell + 1))
        done
    done
done

stop

python3 - "$RESULTS" << 'EOF'
import json, statistics, sys
from collections import defaultdict
by = defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line)
    by[(r["test"], r["r"]["transport"], r["r"]["subs"], r["server"])].append(r["r"])
keys = sorted({k[:3] for k in by if k[0] != "fanout-fill"})
def med(k, s, f):
    v = [d[f] for d in by.get(k + (s,), []) if f in d]
    return statistics.median(v) if v else None
print("\n| test | transport | subs | A msg/s | B msg/s | B/A | A p50/p99 ms | B p50/p99 ms | missing A·B |")
print("|---|---|---:|---:|---:|---:|---:|---:|---|")
for k in keys:
    a, b = med(k, "A", "rate"), med(k, "B", "rate")
    lat = lambda s: "—" if med(k, s, "p50_ms") is None else f"{med(k, s, 'p50_ms'):.1f} / {med(k, s, 'p99_ms'):.1f}"
    miss = lambda s: sum(d.get("missing", 0) for d in by.get(k + (s,), []))
    ratio = "—" if not a or b is None else f"{b / a:.2f}"
    print(f"| {k[0]} | {k[1]} | {k[2]:,} | {a or 0:,.0f} | {b or 0:,.0f} | {ratio} | {lat('A')} | {lat('B')} | {miss('A')}·{miss('B')} |")
EOF
