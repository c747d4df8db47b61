# Sourced by bench.sh (BASE, COOKIE, PASSWORD, DATA set; the server started with
# RAMPART_WEBHOOK_ALLOW_LOOPBACK=true): webhook delivery. The events are API keys made with the server function
# create_key (one `key.create` each, not rate-limited), over keep-alive TLS connections; the receiver is
# scripts/webhook_receiver.py on loopback (plain HTTP, Python, on the same cores as the server), and its
# endpoints want the `key` family only. Prints figures, no pass/fail:
#   1. events/s delivered: BENCH_WEBHOOK_EVENTS (default 2000) events made as fast as BENCH_WEBHOOK_CONNECTIONS
#      (default 8) connections allow, timed from the first request to the receiver's last counted delivery,
#      with 1 endpoint and again with 4 (4 deliveries per event);
#   2. the latency the endpoints add to the request that records the event: p50 and p99 of
#      BENCH_WEBHOOK_REQUESTS (default 500) sequential create_key requests with no endpoint and with 4
#      (the goal is no difference: delivery is off the request path).
# The endpoints are removed at the end, so later benches record events without queuing deliveries.

# A server function with name=value form fields, as the signed-in owner; its answer goes to stdout.
webhooks_call() { # name, name=value...
  local fn=$1 fields=()
  shift
  for f in "$@"; do fields+=(--data-urlencode "$f"); done
  curl -ksS --fail-with-body -X POST -H "Cookie: $COOKIE" -H "Origin: $BASE" "${fields[@]}" "$BASE/api/$fn"
}

# Makes N events with create_key over C connections; prints "start seconds p50_ms p99_ms failed", start being
# the Unix time just before the first request (the receiver's clock) and the latencies per request.
webhooks_fire() { # N, C, description
  python3 - "$BASE" "$COOKIE" "$1" "$2" "$3" <<'PY'
import http.client, ssl, sys, threading, time, urllib.parse

base, cookie, n, conc, label = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
url = urllib.parse.urlsplit(base)
context = ssl._create_unverified_context()  # the development certificate; loopback only
headers = {"Cookie": cookie, "Origin": base, "Content-Type": "application/x-www-form-urlencoded"}
lock = threading.Lock()
todo = iter(range(n))
times, failed = [], []
ready = threading.Barrier(conc + 1, timeout=30)


def worker():
    conn = http.client.HTTPSConnection(url.hostname, url.port, context=context, timeout=30)
    conn.connect()  # the TLS handshake before the clock starts
    ready.wait()
    while True:
        with lock:
            i = next(todo, None)
        if i is None:
            return
        body = urllib.parse.urlencode({"kind": "read", "description": f"{label} {i}"})
        t = time.perf_counter()
        try:
            conn.request("POST", "/api/create_key", body, headers)
            r = conn.getresponse()
            r.read()
            status = r.status
        except (OSError, http.client.HTTPException) as err:
            conn.close()
            status = repr(err)
        dt = time.perf_counter() - t
        with lock:
            times.append(dt)
            if not isinstance(status, int) or status >= 400:
                failed.append(status)


threads = [threading.Thread(target=worker) for _ in range(conc)]
for t in threads:
    t.start()
ready.wait()
start, t0 = time.time(), time.perf_counter()
for t in threads:
    t.join()
elapsed = time.perf_counter() - t0
times.sort()
pick = lambda q: times[max(0, -(-len(times) * q // 100) - 1)] * 1000
if failed:
    print(f"bench: {len(failed)} create_key requests failed, e.g. {failed[:3]}", file=sys.stderr)
print(f"{start:.6f} {elapsed:.3f} {pick(50):.2f} {pick(99):.2f} {len(failed)}")
PY
}

# Waits until the receiver has counted TARGET deliveries to the paths under PREFIX or the Unix time DEADLINE has
# passed; prints "count last", last being the Unix time of the latest of them (0 before any).
webhooks_wait() { # receiver URL, prefix, target, deadline
  python3 - "$@" <<'PY'
import json, sys, time, urllib.request

url, prefix, target, deadline = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
while True:
    got = json.load(urllib.request.urlopen(f"{url}/count?prefix={prefix}", timeout=10))
    if got["count"] >= target or time.time() > deadline:
        break
    time.sleep(0.05)
print(got["count"], got["last"])
PY
}

# The bench's endpoints, by id.
webhooks_ours() { # receiver URL
  webhooks_call list_webhooks | python3 -c '
import json, sys
for e in json.load(sys.stdin)["endpoints"]:
    if e["url"].startswith(sys.argv[1] + "/"):
        print(e["id"])' "$1"
}

# Removes the bench's endpoints (and with them what they still have waiting).
webhooks_clear() { # receiver URL
  local id
  webhooks_call step_up "password=$PASSWORD" >/dev/null
  for id in $(webhooks_ours "$1"); do webhooks_call delete_webhook "webhook_id=$id" >/dev/null; done
  [ -z "$(webhooks_ours "$1")" ] || echo "bench: webhook endpoints left behind (an approval pending?)" >&2
}

# Adds E endpoints (at paths of their own), makes N events over C connections and prints the rate at which
# their deliveries arrive, waiting at most BENCH_WEBHOOK_WAIT seconds (default 60) from the first event.
webhooks_round() { # receiver URL, E, N, C
  local hook=$1 e=$2 n=$3 c=$4 patience=${BENCH_WEBHOOK_WAIT:-60} i out start made p50 p99 failed deadline count last
  webhooks_call step_up "password=$PASSWORD" >/dev/null
  for i in $(seq 1 "$e"); do
    webhooks_call create_webhook "url=$hook/of-$e/$i" "description=bench $i of $e" "events=key" >/dev/null
  done
  out=$(webhooks_fire "$n" "$c" "webhook bench, $e endpoints")
  read -r start made p50 p99 failed <<<"$out"
  deadline=$(awk -v s="$start" -v p="$patience" 'BEGIN { printf "%.3f", s + p }')
  out=$(webhooks_wait "$hook" "/of-$e/" $((n * e)) "$deadline")
  read -r count last <<<"$out"
  awk -v n="$n" -v e="$e" -v d="$count" -v s="$start" -v l="$last" -v m="$made" -v c="$c" \
    -v f="$failed" -v p="$patience" 'BEGIN {
      made = sprintf("made in %.1f s over %d connections%s", m, c, (f > 0 ? ", " f " requests failed" : ""))
      if (d == 0) { printf "webhooks: none of %d deliveries arrived within %d s (%s)\n", n * e, p, made; exit }
      t = l - s; ends = (e > 1 ? "s" : "")
      if (d < n * e) printf "webhooks: only %d of %d deliveries to %d endpoint%s within the %d s wait, the last at %.1f s = %.1f events/s%s (%s)\n",
        d, n * e, e, ends, p, t, d / e / t, (e > 1 ? sprintf(", %.1f deliveries/s", d / t) : ""), made
      else printf "webhooks: %d events delivered to %d endpoint%s%s in %.1f s = %.0f events/s%s (%s)\n", n, e, ends,
        (e > 1 ? " (" d " deliveries)" : ""), t, n / t, (e > 1 ? sprintf(", %.0f deliveries/s", d / t) : ""), made }'
}

bench_webhooks() {
  local n=${BENCH_WEBHOOK_EVENTS:-2000} m=${BENCH_WEBHOOK_REQUESTS:-500} c=${BENCH_WEBHOOK_CONNECTIONS:-8}
  echo "== webhooks: key.create events to a Python receiver on loopback (plain HTTP, same cores as the server)"
  rm -f "$DATA/receiver.port"
  python3 "$(dirname "${BASH_SOURCE[0]}")/webhook_receiver.py" "$DATA/receiver.port" $$ >"$DATA/receiver.log" 2>&1 &
  local receiver=$!
  for _ in $(seq 1 100); do [ -s "$DATA/receiver.port" ] && break; sleep 0.1; done
  [ -s "$DATA/receiver.port" ] || { echo "bench: the webhook receiver did not start" >&2; kill $receiver; return 1; }
  local hook
  hook="http://127.0.0.1:$(cat "$DATA/receiver.port")"
  webhooks_fire 50 1 "webhook bench warm-up" >/dev/null

  # The request's latency with no endpoint; then events/s with 1 endpoint and with 4 (new ones, the first
  # removed with what it still had waiting); then the latency again with those 4 (their deliveries going out).
  local without with
  without=$(webhooks_fire "$m" 1 "webhook bench, no endpoint")
  webhooks_round "$hook" 1 "$n" "$c"
  webhooks_clear "$hook"
  webhooks_round "$hook" 4 "$n" "$c"
  with=$(webhooks_fire "$m" 1 "webhook bench, 4 endpoints")
  awk -v a="$without" -v b="$with" -v m="$m" 'BEGIN { split(a, A, " "); split(b, B, " ");
    printf "webhooks: create_key p50 %.1f ms / p99 %.1f ms without endpoints, %.1f / %.1f ms with 4 (%+.1f / %+.1f ms; %d sequential requests each)\n",
      A[3], A[4], B[3], B[4], B[3] - A[3], B[4] - A[4], m }'

  # The endpoints go, so later benches queue no deliveries.
  webhooks_clear "$hook"
  kill $receiver 2>/dev/null || true
  wait $receiver 2>/dev/null || true
}
