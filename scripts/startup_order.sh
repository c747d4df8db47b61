#!/usr/bin/env bash
# Writes server/startup-order.txt: the functions `rampart serve` runs from its start on a fresh data directory
# to its first answers of /sign-in and /healthz, as mangled symbol names, for the linker to place together
# (`--symbol-ordering-file`, server/build.rs). The kernel maps a binary's code 64 KiB around each page a
# process first touches; spread over forty crates, the start touched 343 such windows of the 41 MB of code.
# Recorded with valgrind's callgrind (every function that ran, none sampled away). Symbol names change only
# when a function, a dependency's version or the compiler does; a name the binary lacks is skipped by the
# linker, so a stale list costs memory, never correctness. Usage: scripts/startup_order.sh RAMPART_BIN
set -euo pipefail
BIN=${1:?usage: startup_order.sh RAMPART_BIN}
OUT=$(cd "$(dirname "$0")/.." && pwd)/server/startup-order.txt
PORT=${ORDER_PORT:-19843}
DATA=$(mktemp -d /tmp/rampart-order.XXXXXX)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$DATA"' EXIT
RAMPART_DATA_DIR=$DATA RAMPART_DATABASE_URL="sqlite://$DATA/rampart.db" RAMPART_LISTEN_ADDR="127.0.0.1:$PORT" \
  RAMPART_REDIRECT_ADDR="127.0.0.1:$((PORT + 1))" RAMPART_METRICS_ADDR="" RAMPART_SFTP_ADDR=off \
  RAMPART_PUBLIC_URL="https://127.0.0.1:$PORT" RAMPART_LOG=warn \
  valgrind --tool=callgrind --demangle=no --callgrind-out-file="$DATA/cg.out" "$BIN" serve >"$DATA/log" 2>&1 &
PID=$!
for _ in $(seq 1 600); do
  curl -ksf -o /dev/null "https://127.0.0.1:$PORT/sign-in" && break
  kill -0 "$PID" 2>/dev/null || { cat "$DATA/log" >&2; exit 1; }
  sleep 0.5
done
curl -ksf -o /dev/null "https://127.0.0.1:$PORT/sign-in"
curl -ksf -o /dev/null "https://127.0.0.1:$PORT/healthz"
sleep 3
kill -TERM "$PID"
wait "$PID" || true
# Every function that ran (`fn=`), and every one called (`cfn=`), in the order callgrind first met them; only
# Rust's own (mangled) names: the C parts (SQLite, ring's assembly) keep their place.
grep -oE '^c?fn=\([0-9]+\) _ZN[^ ]+|^c?fn=\([0-9]+\) _R[^ ]+' "$DATA/cg.out" | sed 's/^c\?fn=([0-9]*) //' \
  | awk '!seen[$0]++' >"$OUT"
echo "startup_order: $(wc -l <"$OUT") functions written to $OUT"
