#!/usr/bin/env python3
"""A stand-in for the ERP and the WMS in tests: an HTTP server on 127.0.0.1
that records every webhook it receives and checks its signature with
Python's own hmac, independently of edigate.

    webhook_receiver.py DIR SECRET

It binds a free port and writes it to DIR/port. Every request is appended
to DIR/requests.jsonl as one JSON object: path, headers, body, whether the
X-Edigate-Signature verified, whether its Idempotency-Key was seen before
with a 2xx answer, and the status it answered. Behaviour per path comes
from DIR/mode.json, read on every request, e.g.
    {"/wms": {"fail": 2, "status": 503}}   fail the next 2 with 503
    {"/wms": {"status": 400}}              always 400
    {"/erp": {"hang": 5}}                  read the request, answer nothing
                                           for 5 s, then close (recorded
                                           with status 0)
and defaults to 200. Stop it with SIGTERM.
"""
import hashlib
import hmac
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DIR = sys.argv[1]
SECRET = sys.argv[2].encode()
LOCK = threading.Lock()
DELIVERED = set()
FAILED = {}


def verify(header, body):
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        t = int(parts["t"])
        mac = hmac.new(SECRET, str(t).encode() + b"." + body,
                       hashlib.sha256).hexdigest()
        return hmac.compare_digest(mac, parts["v1"]) and abs(time.time() - t) < 300
    except Exception:
        return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without TCP_NODELAY each
    # answer waits for the client's delayed ACK (about 40 ms).
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        with LOCK:
            try:
                with open(os.path.join(DIR, "mode.json")) as f:
                    mode = json.load(f).get(self.path, {})
            except (OSError, ValueError):
                mode = {}
            status = 200
            if "hang" in mode:
                status = 0
            elif "fail" in mode:
                done = FAILED.get(self.path, 0)
                if done < mode["fail"]:
                    FAILED[self.path] = done + 1
                    status = mode.get("status", 503)
            elif "status" in mode:
                status = mode["status"]
            key = self.headers.get("Idempotency-Key", "")
            repeat = key in DELIVERED
            if 200 <= status < 300:
                DELIVERED.add(key)
            rec = {
                "path": self.path,
                "time": time.time(),
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("utf-8", "replace"),
                "signature_ok": verify(self.headers.get("X-Edigate-Signature", ""), body),
                "repeat": repeat,
                "status": status,
            }
            with open(os.path.join(DIR, "requests.jsonl"), "a") as f:
                f.write(json.dumps(rec) + "\n")
        if status == 0:
            # An ERP that took the connection and never answers: the
            # sender's timeout, not ours, ends the request.
            time.sleep(mode["hang"])
            self.close_connection = True
            return
        answer = b'{"ok":true}' if status < 300 else b'{"error":"test"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    signal.signal(signal.SIGTERM, lambda *a: threading.Thread(
        target=server.shutdown).start())
    tmp = os.path.join(DIR, "port.tmp")
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, os.path.join(DIR, "port"))
    server.serve_forever()


if __name__ == "__main__":
    main()
