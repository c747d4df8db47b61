# Sourced by bench.sh (BASE, COOKIE, PID, DATA set): the vault's throughput. A BENCH_VAULT_MIB (default 1024)
# file of random bytes is uploaded over the REST API (one streamed PUT over TLS: encryption, hashing, fsync)
# and downloaded again (decryption, authentication), with the MB/s of each and the server's RSS sampled
# throughout (growth over the RSS before); the download's Repr-Digest is checked against the file's SHA-256.
# Then the same file over SFTP with OpenSSH's `sftp` (`bench_sftp`), and the GDPR export of the vault, when the
# server has it: a ZIP of everything, timed from start to ready.

vault_rss() { awk '/VmRSS/ {print $2}' /proc/$PID/status; }

# Runs "$@" in the background while sampling the server's RSS; prints "seconds peak_kib".
timed_with_rss() {
  local peak start end r
  peak=$(vault_rss)
  start=$(date +%s.%N)
  "$@" &
  local job=$!
  while kill -0 $job 2>/dev/null; do
    r=$(vault_rss); [ "$r" -gt "$peak" ] && peak=$r; sleep 0.1
  done
  wait $job
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" -v p="$peak" 'BEGIN { printf "%.3f %d\n", e - s, p }'
}

bench_vault() {
  local mib=${BENCH_VAULT_MIB:-1024}
  echo "== vault: one ${mib} MiB file over REST (TLS, loopback; curl on the same 2 cores)"
  curl -ksS -o /dev/null -H "Cookie: $COOKIE" -H "Origin: $BASE" --data-urlencode "password=$PASSWORD" "$BASE/api/step_up"
  curl -ksS --fail-with-body -o /dev/null -H "Cookie: $COOKIE" -H "Origin: $BASE" --data-urlencode "kind=master" \
    --data-urlencode "description=bench vault" "$BASE/api/create_key"
  local key
  key=$(curl -ksS -X POST -H "Cookie: $COOKIE" -H "Origin: $BASE" "$BASE/api/take_fresh_key" | sed -n 's/.*"secret":"\([^"]*\)".*/\1/p')
  [ -n "$key" ] || { echo "bench: creating a master key failed" >&2; return 1; }
  head -c $((mib << 20)) /dev/urandom >"$DATA/vault.bin"
  local sum
  sum=$(sha256sum "$DATA/vault.bin" | cut -d' ' -f1)
  sync
  local before up down
  before=$(vault_rss)
  up=$(timed_with_rss curl -ksS --fail-with-body -o "$DATA/put.json" -X PUT -H "Authorization: Bearer $key" \
    -H "Content-Type: application/octet-stream" -T "$DATA/vault.bin" "$BASE/api/v1/vault/files?path=bench/big.bin")
  grep -q "\"sha256\":\"$sum\"" "$DATA/put.json" || { echo "bench: upload digest mismatch: $(head -c 300 "$DATA/put.json")" >&2; return 1; }
  local id
  id=$(sed -n 's/.*"id":"\([^"]*\)".*/\1/p' "$DATA/put.json")
  down=$(timed_with_rss curl -ksS --fail-with-body -o /dev/null -D "$DATA/get.headers" -H "Authorization: Bearer $key" \
    "$BASE/api/v1/vault/files/$id/content")
  local digest
  digest=$(python3 -c "import base64,sys; print(base64.b64decode(sys.argv[1]).hex())" \
    "$(tr -d '\r' <"$DATA/get.headers" | sed -n 's/^repr-digest: sha-256=:\(.*\):$/\1/Ip')")
  [ "$digest" = "$sum" ] || echo "bench: download digest mismatch" >&2
  awk -v m="$mib" -v u="$up" -v d="$down" -v b="$before" 'BEGIN {
    split(u, U, " "); split(d, D, " ");
    printf "  upload   %6.1f s  %7.1f MB/s   RSS before %d KiB, peak %d KiB (+%d KiB)\n", U[1], m*1.048576/U[1], b, U[2], U[2]-b;
    printf "  download %6.1f s  %7.1f MB/s   RSS peak %d KiB (+%d KiB)\n", D[1], m*1.048576/D[1], D[2], D[2]-b }'
  [ -n "${RAMPART_SFTP_ADDR:-}" ] && bench_sftp "$mib" "$sum" "$up" "$down"
  rm -f "$DATA/vault.bin"
  if curl -ks "$BASE/api/v1/openapi.json" | grep -q '"/api/v1/exports"'; then
    bench_export "$key" "$mib" "$before"
  else
    echo "  (no data export endpoint in this build)"
  fi
}

bench_sftp() { # MiB, sha256 of the file, the HTTPS upload and download "seconds peak"
  local mib=$1 sum=$2 https_up=$3 https_down=$4
  echo "== vault over SFTP: the same ${mib} MiB file with OpenSSH's sftp (ed25519 key; loopback, same 2 cores)"
  ssh-keygen -q -t ed25519 -N "" -f "$DATA/bench_key"
  curl -ksS --fail-with-body -o /dev/null -H "Cookie: $COOKIE" -H "Origin: $BASE" \
    --data-urlencode "public_key=$(cat "$DATA/bench_key.pub")" "$BASE/api/add_ssh_key"
  local user port
  user=$(curl -ksS -X POST -H "Cookie: $COOKIE" -H "Origin: $BASE" "$BASE/api/get_ssh_keys" | sed -n 's/.*"sftp":{"user":"\([^"]*\)".*/\1/p')
  port=${RAMPART_SFTP_ADDR##*:}
  [ -n "$user" ] || { echo "bench: no SFTP user name" >&2; return 1; }
  local sftp=(sftp -q -P "$port" -i "$DATA/bench_key" -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o "User=$user")
  printf 'put %s bench/sftp.bin\n' "$DATA/vault.bin" >"$DATA/put.batch"
  # Timed into /dev/null like curl's download; a second, untimed get checks the bytes.
  printf 'get bench/sftp.bin /dev/null\n' >"$DATA/get.batch"
  printf 'get bench/sftp.bin %s\n' "$DATA/back.bin" >"$DATA/check.batch"
  quiet() { "$@" >/dev/null 2>&1; }
  local before up down
  before=$(vault_rss)
  up=$(timed_with_rss quiet "${sftp[@]}" -b "$DATA/put.batch" 127.0.0.1)
  down=$(timed_with_rss quiet "${sftp[@]}" -b "$DATA/get.batch" 127.0.0.1)
  quiet "${sftp[@]}" -b "$DATA/check.batch" 127.0.0.1
  [ "$(sha256sum "$DATA/back.bin" | cut -d' ' -f1)" = "$sum" ] || echo "bench: SFTP round trip differs" >&2
  rm -f "$DATA/back.bin"
  awk -v m="$mib" -v u="$up" -v d="$down" -v b="$before" -v hu="$https_up" -v hd="$https_down" 'BEGIN {
    split(u, U, " "); split(d, D, " "); split(hu, HU, " "); split(hd, HD, " ");
    printf "  upload   %6.1f s  %7.1f MB/s (%.0f %% of HTTPS)   RSS peak %d KiB (+%d KiB)\n", U[1], m*1.048576/U[1], 100*HU[1]/U[1], U[2], U[2]-b;
    printf "  download %6.1f s  %7.1f MB/s (%.0f %% of HTTPS)   RSS peak %d KiB (+%d KiB)\n", D[1], m*1.048576/D[1], 100*HD[1]/D[1], D[2], D[2]-b }'
  # A removed key: the live session it opened ends, and the next connection is refused.
  local keyid start end
  keyid=$(curl -ksS -X POST -H "Cookie: $COOKIE" -H "Origin: $BASE" "$BASE/api/get_ssh_keys" | sed -n 's/.*"keys":\[{"id":"\([^"]*\)".*/\1/p')
  sessions() { curl -ksS -X POST -H "Cookie: $COOKIE" -H "Origin: $BASE" "$BASE/api/get_ssh_keys" | grep -c '"sessions":\[{' || true; }
  (sleep 30 | "${sftp[@]}" -b - 127.0.0.1 >/dev/null 2>&1) &
  local live=$!
  while [ "$(sessions)" = 0 ]; do sleep 0.05; done
  start=$(date +%s.%N)
  curl -ksS -o /dev/null -H "Cookie: $COOKIE" -H "Origin: $BASE" --data-urlencode "ssh_key_id=$keyid" "$BASE/api/remove_ssh_key"
  while [ "$(sessions)" != 0 ]; do sleep 0.01; done
  end=$(date +%s.%N)
  kill $live 2>/dev/null || true
  awk -v s="$start" -v e="$end" 'BEGIN { printf "  key removed on the console -> its live SFTP session closed (gone from the page): %.0f ms\n", (e-s)*1000 }'
  [ -n "${GITHUB_STAND_IN_DIR:-}" ] && bench_sftp_github "${sftp[@]}"
}

# A key removed on GitHub (the stand-in) with ssh_sync_seconds=5: the time until a new connection is refused.
bench_sftp_github() { # the sftp command line
  ssh-keygen -q -t ed25519 -N "" -f "$DATA/gh_key"
  cp "$DATA/gh_key.pub" "$GITHUB_STAND_IN_DIR/bench-octo.keys"
  curl -ksS -o /dev/null -H "Cookie: $COOKIE" -H "Origin: $BASE" --data-urlencode "github_user=bench-octo" "$BASE/api/link_github"
  local cmd=("$@") start end
  cmd=("${cmd[@]/$DATA\/bench_key/$DATA/gh_key}")
  echo ls >"$DATA/ls.batch"
  "${cmd[@]}" -b "$DATA/ls.batch" 127.0.0.1 >/dev/null 2>&1 || { echo "bench: the GitHub key does not get in" >&2; return 1; }
  start=$(date +%s.%N)
  : >"$GITHUB_STAND_IN_DIR/bench-octo.keys"
  while "${cmd[@]}" -b "$DATA/ls.batch" 127.0.0.1 >/dev/null 2>&1; do sleep 0.2; done
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" -v i="${RAMPART_SSH_SYNC_SECONDS:-300}" \
    'BEGIN { printf "  key removed on GitHub -> new SFTP connection refused: %.1f s (sync every %d s, jittered)\n", e-s, i }'
}

bench_export() { # key, MiB in the vault, RSS baseline
  local key=$1 mib=$2 before=$3
  echo "== data export of the tenant (the ${mib} MiB vault and everything else) over REST"
  local peak start end r id state
  peak=$(vault_rss)
  start=$(date +%s.%N)
  id=$(curl -ksS -X POST -H "Authorization: Bearer $key" "$BASE/api/v1/exports" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
  [ -n "$id" ] || { echo "bench: starting the export failed" >&2; return 1; }
  while :; do
    state=$(curl -ksS -H "Authorization: Bearer $key" "$BASE/api/v1/exports/$id" | sed -n 's/.*"status":"\([^"]*\)".*/\1/p')
    r=$(vault_rss); [ "$r" -gt "$peak" ] && peak=$r
    case "$state" in ready | failed | expired) break ;; esac
    if awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { exit !(n - s > 900) }'; then state="unfinished after 900 s"; break; fi
    sleep 0.2
  done
  end=$(date +%s.%N)
  awk -v m="$mib" -v s="$start" -v e="$end" -v p="$peak" -v b="$before" -v st="$state" \
    'BEGIN { printf "  build    %6.1f s  %7.1f MB/s (%s)   RSS peak %d KiB (+%d KiB)\n", e-s, m*1.048576/(e-s), st, p, p-b }'
  local dl
  dl=$(timed_with_rss curl -ksS --fail-with-body -o /dev/null -H "Authorization: Bearer $key" "$BASE/api/v1/exports/$id/download")
  awk -v m="$mib" -v d="$dl" -v b="$before" 'BEGIN { split(d, D, " ");
    printf "  download %6.1f s  %7.1f MB/s   RSS peak %d KiB (+%d KiB)\n", D[1], m*1.048576/D[1], D[2], D[2]-b }'
}
