#!/usr/bin/env python3
"""`make bench`, cold start: starts `rampart serve` on a fresh data directory (migrations included), polls
/sign-in over TLS every 2 ms, prints the time from the process start to the first 200, and the resident memory
once the server has been idle for two seconds. Usage: cold_start.py RAMPART_BIN PORT"""
import http.client
import os
import ssl
import subprocess
import sys
import tempfile
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    binary, port = sys.argv[1], int(sys.argv[2])
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with tempfile.TemporaryDirectory() as data:
        env = dict(
            os.environ,
            RAMPART_DATA_DIR=data,
            RAMPART_DATABASE_URL=f"sqlite://{data}/rampart.db",
            RAMPART_LISTEN_ADDR=f"127.0.0.1:{port}",
            RAMPART_REDIRECT_ADDR=f"127.0.0.1:{port + 1}",
            RAMPART_METRICS_ADDR="",
            # The bench's own server holds the SFTP address exported to us: this one serves none.
            RAMPART_SFTP_ADDR="off",
            RAMPART_PUBLIC_URL=f"https://127.0.0.1:{port}",
            RAMPART_LOG="warn",
        )
        started = time.monotonic()
        proc = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            first = None
            while time.monotonic() - started < 30:
                try:
                    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=2)
                    conn.request("GET", "/sign-in")
                    if conn.getresponse().status == 200:
                        first = time.monotonic() - started
                        break
                except OSError:
                    pass
                time.sleep(0.002)
            if first is None:
                sys.exit("cold start: no 200 within 30 s")
            time.sleep(2)
            print(
                f"  cold start to the first 200 of /sign-in: {first * 1000:.0f} ms (target <= 120 ms); "
                f"idle RSS {rss_kib(proc.pid) / 1024:.1f} MiB (target <= 30 MB)"
            )
        finally:
            proc.terminate()
            proc.wait()


main()
