#!/usr/bin/env python3
"""Does a password-reset request tell an account that exists from one that does not? Interleaves N requests
for a known address with N for unknown ones (a fresh one each time, as a prober would), over one keep-alive TLS
connection, and prints both medians and how far apart they are (finding 9 of the attack review: < 5 %). Each
request comes from its own address (X-Forwarded-For from 198.18.0.0/15; the server must trust 127.0.0.1 as a
proxy, as the bench's does): one address gets 10 reset requests per 15 minutes.
    reset_timing.py BASE KNOWN_EMAIL [N]"""
import http.client
import ssl
import statistics
import sys
import time
import urllib.parse
import uuid

base, known = sys.argv[1], sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 200
host, port = urllib.parse.urlsplit(base).hostname, urllib.parse.urlsplit(base).port
context = ssl._create_unverified_context()  # the development certificate; loopback only
conn = http.client.HTTPSConnection(host, port, context=context)
headers = {"Origin": base, "Content-Type": "application/x-www-form-urlencoded"}


sent = 0


def ask(email):
    global sent
    sent += 1
    body = urllib.parse.urlencode({"email": email})
    forwarded = dict(headers, **{"X-Forwarded-For": f"198.18.{sent // 250}.{sent % 250 + 1}"})
    start = time.perf_counter()
    conn.request("POST", "/api/request_password_reset", body=body, headers=forwarded)
    res = conn.getresponse()
    res.read()
    elapsed = time.perf_counter() - start
    if res.status >= 400:
        sys.exit(f"reset request for {email} answered {res.status}")
    return elapsed, res.status


def unknown():
    return f"nobody-{uuid.uuid4().hex[:12]}@bench.example"


for _ in range(20):  # warm-up: connection, caches, the queue's first rows
    ask(known), ask(unknown())
times = {"known": [], "unknown": []}
statuses = set()
for i in range(n):
    order = [("known", known), ("unknown", unknown())]
    if i % 2:
        order.reverse()
    for label, email in order:
        elapsed, status = ask(email)
        times[label].append(elapsed)
        statuses.add(status)
k, u = statistics.median(times["known"]), statistics.median(times["unknown"])
diff = abs(k - u) / min(k, u) * 100
print(f"password reset, {n} requests each (interleaved, one connection): median known {k * 1000:.3f} ms, "
      f"unknown {u * 1000:.3f} ms, difference {diff:.1f} % (goal < 5 %); statuses {sorted(statuses)}")
