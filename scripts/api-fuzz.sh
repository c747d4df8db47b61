#!/usr/bin/env bash
# The REST API under schemathesis: starts the real server (TLS, a fresh SQLite database in a temp dir) on a
# loopback port, makes a tenant and a master key the way an admin does (setup, sign-in, create_key), and runs
# every check of schemathesis against /api/v1/openapi.json. Exit non-zero on any failure (a 5xx, a status or
# body the document does not declare, a schema-valid request refused, ...).
#   scripts/api-fuzz.sh BIN MAX_EXAMPLES   (per operation and phase; ST_SEED fixes the seed, else a random one)
set -euo pipefail
BIN=$1; EXAMPLES=${2:-20}; SEED=${ST_SEED:-$RANDOM}
TOOLS=${TOOLS:-$HOME/.cache/rampart/tools}
ST=$TOOLS/schemathesis/bin/st
export PYTHONPATH=$TOOLS/schemathesis:$(cd "$(dirname "$0")" && pwd)
# How to send media types schemathesis does not know (the machines' CSRs).
export SCHEMATHESIS_HOOKS=st_hooks
DIR=$(mktemp -d /tmp/rampart-fuzz.XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
PORT=$(free_port)
BASE=https://127.0.0.1:$PORT
export RAMPART_DATA_DIR=$DIR RAMPART_DATABASE_URL="sqlite://$DIR/rampart.db" RAMPART_LISTEN_ADDR=127.0.0.1:$PORT \
  RAMPART_PUBLIC_URL=$BASE RAMPART_LOG=warn RAMPART_SITE_ROOT=${RAMPART_SITE_ROOT:-$PWD/target/site}
export RAMPART_REDIRECT_ADDR=127.0.0.1:$(free_port) RAMPART_METRICS_ADDR=off RAMPART_SFTP_ADDR=off
# One address plays every client here, the unauthenticated probes included: the per-address limit on
# unrecognised keys (tested in server/tests/it/rest.rs) would answer them 429 instead of 401.
export RAMPART_API_UNKNOWN_KEYS_PER_MINUTE=1000000
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT

"$BIN" migrate >/dev/null
TOKEN=$("$BIN" tenant create --name Fuzz --owner owner@fuzz.example | grep -o 'setup/[A-Za-z0-9_-]*' | cut -d/ -f2)
"$BIN" serve >"$DIR/server.log" 2>&1 & PID=$!
for _ in $(seq 100); do curl -skf "$BASE/healthz" >/dev/null && break; sleep 0.1; done
JAR=$DIR/cookies
post() { curl -sk -b "$JAR" -c "$JAR" -H "origin: $BASE" -X POST "$BASE/api/$1" "${@:2}"; }
post complete_setup --data-urlencode "token=$TOKEN" --data-urlencode "password=velvet-otter-harbor-71" >/dev/null
post sign_in --data-urlencode "email=owner@fuzz.example" --data-urlencode "password=velvet-otter-harbor-71" >/dev/null
# The longest life an organisation allows, and no guardrails: every request the document calls valid is one
# this key may make (narrower keys are the tenancy and key-power tests' business).
post set_key_policy --data-urlencode "max_age_days=730" >/dev/null
post create_key --data-urlencode "kind=master" --data-urlencode "description=schemathesis" \
  --data-urlencode "expires_in_days=730" >/dev/null
KEY=$(post take_fresh_key | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
(cd "$DIR" && "$ST" run "$BASE/api/v1/openapi.json" --tls-verify false -H "Authorization: Bearer $KEY" \
  --checks all --max-examples "$EXAMPLES" --seed "$SEED" --continue-on-failure --request-timeout 30 \
  --report junit --report-dir "$DIR/report") || { status=$?; tail -n 20 "$DIR/server.log" >&2; exit $status; }
