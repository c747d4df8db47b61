#!/usr/bin/env python3
"""A stand-in for GitHub's public-key endpoints on loopback, for `make bench` (no internet).

Serves, for every `<dir>/<user>.keys` file: `/<user>.keys` (the file), `/users/<user>/keys` (its lines as
GitHub's JSON list, ids by line) and `/users/<user>` (a fixed account id). Usage: github_stand_in.py PORT DIR
"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, DIR = int(sys.argv[1]), sys.argv[2]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, body, kind):
        data = body.encode()
        self.send_response(200)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        parts = self.path.strip("/").split("/")
        user = parts[0][: -len(".keys")] if len(parts) == 1 and parts[0].endswith(".keys") else None
        if len(parts) >= 2 and parts[0] == "users":
            user = parts[1]
        path = os.path.join(DIR, f"{user}.keys") if user and user.replace("-", "").isalnum() else None
        if not path or not os.path.exists(path):
            self.send_response(404)
            self.end_headers()
            return
        lines = [l.strip() for l in open(path) if l.strip()]
        if len(parts) == 1:
            self.answer("".join(f"{l}\n" for l in lines), "text/plain")
        elif len(parts) == 3 and parts[2] == "keys":
            self.answer(json.dumps([{"id": i + 1, "key": l} for i, l in enumerate(lines)]), "application/json")
        else:
            self.answer(json.dumps({"login": user, "id": 4242}), "application/json")


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
