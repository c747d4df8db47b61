#!/usr/bin/env bash
# What busy cores do to a server's tail latency on this machine, without Rampart: bench/bare under wrk -t1 -c32
# alone, then beside one and two shell loops at nice 19, then beside two at SCHED_IDLE. The sign-in storm's
# hashing keeps the cores busy the same way; `make bench` prints bare's p99 before and during the storm.
# Usage: BARE_BIN=target/release/bare scripts/bench_machine.sh [seconds per run, default 8]
set -euo pipefail
BARE_BIN=${BARE_BIN:?path of the bench/bare binary}
DUR=${1:-8}
ADDR=127.0.0.1:$((30000 + RANDOM % 10000))
"$BARE_BIN" "$ADDR" >/dev/null 2>&1 &
BARE=$!
LOOPS=()
stop_loops() { for p in "${LOOPS[@]}"; do kill "$p" 2>/dev/null || true; done; LOOPS=(); }
trap 'stop_loops; kill $BARE 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -ksf "https://$ADDR/" >/dev/null && break; sleep 0.1; done
run() { # label, then the command that starts each loop (run once per loop)
  local label=$1 n=$2; shift 2
  for _ in $(seq 1 "$n"); do "$@" sh -c 'while :; do :; done' & LOOPS+=($!); done
  sleep 0.5
  wrk -t1 -c32 -d"${DUR}s" --latency "https://$ADDR/" |
    awk -v l="$label" '$1=="50%" {p50=$2} $1=="99%" {p99=$2} /Requests\/sec/ {r=$2} END {printf "%-34s %10.0f req/s  p50 %s  p99 %s\n", l, r, p50, p99}'
  stop_loops
}
run "bare alone" 0 true
run "beside one loop at nice 19" 1 nice -n 19
run "beside two loops at nice 19" 2 nice -n 19
run "beside two loops at SCHED_IDLE" 2 chrt --idle 0
run "bare alone again" 0 true
