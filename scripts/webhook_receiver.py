#!/usr/bin/env python3
"""A webhook receiver on loopback for the delivery bench (scripts/bench_webhooks.sh): answers 200 to every POST,
keeps HTTP/1.1 connections open, and counts the deliveries of one event type (by default `key.create`) per
distinct `webhook-id`, so a retry is not counted twice. Signatures are not checked (the tests do that).

GET /count?prefix=/a/path answers {"count": n, "last": t, "total": all POSTs}: the deliveries counted to paths
that start with the prefix (all of them without one) and the Unix time (float) of the latest of those.
Binds an ephemeral port and writes it to PORT_FILE once it listens; exits when the process PARENT_PID is gone,
so an interrupted bench leaves nothing behind.
    webhook_receiver.py PORT_FILE PARENT_PID [TYPE]"""
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT_FILE, PARENT = sys.argv[1], int(sys.argv[2])
TYPE = sys.argv[3] if len(sys.argv) > 3 else "key.create"

lock = threading.Lock()
seen = set()
paths = {}  # path: [count, time of the latest]
total = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, data):
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        global total
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        now = time.time()
        try:
            kind = json.loads(body).get("type")
        except ValueError:
            kind = None
        with lock:
            total += 1
            key = (self.path, self.headers.get("webhook-id"))
            if kind == TYPE and key not in seen:
                seen.add(key)
                counted = paths.setdefault(self.path, [0, 0.0])
                counted[0] += 1
                counted[1] = now
        self.answer(b"")

    def do_GET(self):
        prefix = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("prefix", [""])[0]
        with lock:
            mine = [c for p, c in paths.items() if p.startswith(prefix)]
            data = {"count": sum(c[0] for c in mine), "last": max((c[1] for c in mine), default=0.0), "total": total}
        self.answer(json.dumps(data).encode())


def watch_parent():
    while True:
        try:
            os.kill(PARENT, 0)
        except ProcessLookupError:
            os._exit(0)
        time.sleep(1)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
threading.Thread(target=watch_parent, daemon=True).start()
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()
