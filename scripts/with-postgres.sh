#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL cluster on loopback: initdb in a temp dir, start, export
# RAMPART_TEST_POSTGRES_URL, run "$@", stop and delete the cluster whatever happens.
# PostgreSQL refuses to run as root: as root, the cluster runs as the `postgres` user.
set -euo pipefail

find_bin() {
  local name=$1
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
  local p; p=$(ls -d /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$p" ] && echo "$p"
}
INITDB=$(find_bin initdb); PG_CTL=$(find_bin pg_ctl)
if [ -z "$INITDB" ] || [ -z "$PG_CTL" ]; then
  echo "with-postgres: initdb/pg_ctl not found (make test-tools installs PostgreSQL)" >&2; exit 1
fi

DIR=$(mktemp -d /tmp/rampart-pg.XXXXXX)
PORT=${RAMPART_TEST_PG_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')}
as_pg=()
if [ "$(id -u)" = 0 ]; then chown postgres "$DIR"; as_pg=(runuser -u postgres --); fi

cleanup() {
  "${as_pg[@]}" "$PG_CTL" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT

"${as_pg[@]}" "$INITDB" -D "$DIR/data" -U postgres -A trust --no-sync >/dev/null
"${as_pg[@]}" "$PG_CTL" -D "$DIR/data" -o "-k $DIR -h 127.0.0.1 -p $PORT -c fsync=off -c max_connections=300" -l "$DIR/log" -w start >/dev/null

export RAMPART_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PORT/postgres"
echo "with-postgres: PostgreSQL on 127.0.0.1:$PORT"
"$@"
