#!/usr/bin/env bash
# Writes server/startup-order.txt: the functions `rampart serve` runs, as mangled symbol names, the start's
# before the rest, for the linker to place together (`--symbol-ordering-file`, server/build.rs). The kernel maps a
# binary's code 64 KiB around each page a process first touches: spread over forty crates, the start touched
# 343 such windows of the 41 MB of code, and a signed-in load (every console page, the keyed API, sign-ins)
# left 37 MB of it resident. Recorded: the start on a fresh data directory to its first answers of /sign-in and
# /healthz (first in the list, so the idle process maps least), then what the bench's loads run — an owner
# setting a password and signing in, every console page twice (rendered, then served kept) as a browser asks
# and as a client without compression, the keyed member list plain and gzipped, a wrong password, the front's
# files. Recorded with valgrind's callgrind (every function that ran, none sampled away). Record it from a build
# of the code it ships with: names go stale with a dependency, the compiler, or thin LTO's `.llvm.<hash>`
# renames when a neighbouring function changes (scripts/startup_order_check.sh); a name the binary lacks is
# skipped by the linker, so a stale list costs memory, never correctness. Usage: scripts/startup_order.sh RAMPART_BIN
# (RAMPART_SITE_ROOT: the front's files, as for `rampart serve`).
set -euo pipefail
BIN=${1:?usage: startup_order.sh RAMPART_BIN}
OUT=$(cd "$(dirname "$0")/.." && pwd)/server/startup-order.txt
PORT=${ORDER_PORT:-19843}
DATA=$(mktemp -d /tmp/rampart-order.XXXXXX)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$DATA"' EXIT
RAMPART_DATA_DIR=$DATA RAMPART_DATABASE_URL="sqlite://$DATA/rampart.db" RAMPART_LISTEN_ADDR="127.0.0.1:$PORT" \
  RAMPART_REDIRECT_ADDR="127.0.0.1:$((PORT + 1))" RAMPART_METRICS_ADDR="" RAMPART_SFTP_ADDR=off \
  RAMPART_PUBLIC_URL="https://127.0.0.1:$PORT" RAMPART_LOG=warn RAMPART_TRUSTED_PROXIES='[127.0.0.1/32]' \
  valgrind --tool=callgrind --demangle=no --callgrind-out-file="$DATA/cg.out" "$BIN" serve >"$DATA/log" 2>&1 &
PID=$!
for _ in $(seq 1 600); do
  curl -ksf -o /dev/null "https://127.0.0.1:$PORT/sign-in" && break
  kill -0 "$PID" 2>/dev/null || { cat "$DATA/log" >&2; exit 1; }
  sleep 0.5
done
BASE="https://127.0.0.1:$PORT"
curl -ksf -o /dev/null "$BASE/sign-in"
curl -ksf -o /dev/null "$BASE/healthz"
sleep 3
# The start's costs so far into a file of their own (cg.out.1): its functions go first.
callgrind_control --dump=start "$PID" >/dev/null 2>&1
# What the bench's loads run, after the start (server functions only: the CLI runs in processes of its own).
EMAIL=owner@order.example
PASSWORD=copper-lantern-meadow-73
env RAMPART_DATA_DIR="$DATA" RAMPART_DATABASE_URL="sqlite://$DATA/rampart.db" \
  "$BIN" tenant create --name Order --owner "$EMAIL" | grep '/setup/' | tr -d ' ' >"$DATA/link"
curl -ksS --fail-with-body -o /dev/null -H "Origin: $BASE" --data-urlencode "token=$(sed 's|.*/||' "$DATA/link")" \
  --data-urlencode "password=$PASSWORD" "$BASE/api/complete_setup"
curl -ks -o /dev/null -H "Origin: $BASE" --data-urlencode "email=$EMAIL" --data-urlencode "password=wrong-$PASSWORD" \
  "$BASE/api/sign_in"
curl -ks -o /dev/null -H "Origin: $BASE" --data-urlencode "email=nobody@order.example" --data-urlencode "password=$PASSWORD" \
  "$BASE/api/sign_in"
COOKIE=$(curl -ks -o /dev/null -D - -H "Origin: $BASE" --data-urlencode "email=$EMAIL" --data-urlencode "password=$PASSWORD" \
  "$BASE/api/sign_in" | tr -d '\r' | sed -n 's/^set-cookie: \(__Host-rampart=[^;]*\).*/\1/Ip')
[ -n "$COOKIE" ] || { echo "startup_order: sign-in failed" >&2; exit 1; }
for i in 1 2 3; do
  env RAMPART_DATA_DIR="$DATA" RAMPART_DATABASE_URL="sqlite://$DATA/rampart.db" \
    "$BIN" tenant add-member --tenant Order --email "member-$i@order.example" >/dev/null
done
curl -ksS --fail-with-body -o /dev/null -H "Cookie: $COOKIE" -H "Origin: $BASE" --data-urlencode "kind=read" \
  --data-urlencode "description=order" "$BASE/api/create_key"
KEY=$(curl -ksS -X POST -H "Cookie: $COOKIE" -H "Origin: $BASE" "$BASE/api/take_fresh_key" | sed -n 's/.*"secret":"\([^"]*\)".*/\1/p')
[ -n "$KEY" ] || { echo "startup_order: creating an API key failed" >&2; exit 1; }
for enc in identity gzip identity gzip; do
  curl -ksf -o /dev/null -H "Authorization: Bearer $KEY" -H "Accept-Encoding: $enc" "$BASE/api/v1/members"
done
MEMBER=$(curl -ksf -H "Authorization: Bearer $KEY" "$BASE/api/v1/members" | python3 -c 'import json,sys; print(json.load(sys.stdin)["members"][1]["id"])')
for page in /overview /access-history /access-history/chain-key /security /security/network /security/emergency \
  /confirm-access /members "/members/$MEMBER" "/members/$MEMBER/sessions" /sessions /organisations /keys \
  /api-reference /data-export /vault /vault/key; do
  for enc in "gzip, deflate, br" identity "gzip, deflate, br" identity; do
    curl -ksf -o /dev/null -H "Cookie: $COOKIE" -H "Accept: text/html" -H "Accept-Encoding: $enc" "$BASE$page"
  done
done
curl -ksf -o /dev/null -H "Cookie: $COOKIE" -H "Accept: text/html" "$BASE/overview?fresh=1"
for f in $(curl -ksf "$BASE/sign-in" | grep -oE '/pkg/[^"]+' | sort -u); do
  curl -ksf -o /dev/null -H "Accept-Encoding: gzip, deflate, br" "$BASE$f"
done
sleep 3
kill -TERM "$PID"
wait "$PID" || true
# Every function that ran (`fn=`), and every one called (`cfn=`): the start's first, then the loads' not already
# listed; only Rust's own (mangled) names: the C parts (SQLite, ring's assembly) keep their place.
names() { grep -oE '^c?fn=\([0-9]+\) _ZN[^ ]+|^c?fn=\([0-9]+\) _R[^ ]+' "$1" | sed 's/^c\?fn=([0-9]*) //'; }
START=$(ls "$DATA"/cg.out.1* 2>/dev/null | head -n1)
[ -n "$START" ] || { echo "startup_order: callgrind wrote no dump of the start" >&2; exit 1; }
{ names "$START"; names "$DATA/cg.out"; } | awk '!seen[$0]++' >"$OUT"
echo "startup_order: $(names "$START" | sort -u | wc -l) functions of the start and $(wc -l <"$OUT") in all written to $OUT"
