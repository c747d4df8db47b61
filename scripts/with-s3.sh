#!/usr/bin/env bash
# Runs a command against a throwaway S3-compatible server on loopback (moto's server, PyPI `moto[server]`,
# installed by `make test-tools` into ~/.cache/rampart/tools/moto): start it, export RAMPART_TEST_S3_ENDPOINT,
# run "$@", stop it whatever happens. Each test makes its own bucket in it.
set -euo pipefail

TOOLS=${RAMPART_TOOLS:-$HOME/.cache/rampart/tools}
if [ -x "$TOOLS/moto/bin/moto_server" ]; then
  MOTO=("$TOOLS/moto/bin/moto_server"); export PYTHONPATH="$TOOLS/moto${PYTHONPATH:+:$PYTHONPATH}"
elif command -v moto_server >/dev/null 2>&1; then
  MOTO=(moto_server)
else
  echo "with-s3: moto_server not found (make test-tools installs it)" >&2; exit 1
fi

PORT=${RAMPART_TEST_S3_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')}
LOG=$(mktemp /tmp/rampart-moto.XXXXXX.log)
"${MOTO[@]}" -H 127.0.0.1 -p "$PORT" >"$LOG" 2>&1 &
MOTO_PID=$!
cleanup() {
  kill "$MOTO_PID" 2>/dev/null || true
  wait "$MOTO_PID" 2>/dev/null || true
  rm -f "$LOG"
}
trap cleanup EXIT

for _ in $(seq 1 100); do
  if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/moto-api/" 2>/dev/null; then break; fi
  if ! kill -0 "$MOTO_PID" 2>/dev/null; then echo "with-s3: moto_server did not start:" >&2; cat "$LOG" >&2; exit 1; fi
  sleep 0.1
done

export RAMPART_TEST_S3_ENDPOINT="http://127.0.0.1:$PORT"
echo "with-s3: S3-compatible server (moto) on 127.0.0.1:$PORT"
"$@"
