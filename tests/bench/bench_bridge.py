#!/usr/bin/env python3
"""bench_bridge.py - the ERP/WMS bridge under load, on loopback.

Starts edigated (SQLite store, one listener for AS2 and the API) and the
test webhook receiver, then measures in the same run:

  api->edi   canonical invoices POSTed to /api/v1/documents until each is
             answered 202: schema, idempotency, spool, store, routing and
             the 810 written for the partner (queued for AS2)
  edi->hook  850 interchanges POSTed by AS2 (unsigned, sync MDN) until the
             canonical order reached the ERP's webhook (receiver's clock)
  reference  bare HTTP round trips: GET /healthz on the same edigated, and
             a POST to the same webhook receiver

Each row: documents, docs/s, latency p50/p95/p99 in ms, ratio of the p50
to the reference's p50 (how many bare round trips one document costs).
Then edigated's peak RSS, and /healthz latency while the API burst runs
(is the event loop still answering while documents are stored?).

    bench_bridge.py --builddir DIR --srcdir DIR [--count N] [--clients C]
Not a timed test: it prints a table and never fails on a number.
"""
import argparse
import hashlib
import http.client
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * (len(v) - 1)))))
    return v[k]


def wait_port_file(path, seconds=10):
    end = time.time() + seconds
    while time.time() < end:
        if os.path.exists(path) and open(path).read().strip():
            return int(open(path).read())
        time.sleep(0.05)
    raise SystemExit("bench_bridge: %s did not appear" % path)


def request(port, method, path, body=None, headers=None, conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    return c, r.status, data


def run_clients(n, clients, job):
    """job(i, conn_holder) -> latency seconds; n jobs over clients threads."""
    lat = []
    lock = threading.Lock()
    nxt = [0]

    def worker():
        holder = {}
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= n:
                return
            t = job(i, holder)
            with lock:
                lat.append(t)

    ts = [threading.Thread(target=worker) for _ in range(clients)]
    t0 = time.time()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return lat, time.time() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--builddir", default=".")
    ap.add_argument("--srcdir", default=".")
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--clients", type=int, default=4)
    a = ap.parse_args()
    src = os.path.abspath(a.srcdir)
    edigated = os.path.join(os.path.abspath(a.builddir), "gateway", "edigated")
    tmp = tempfile.mkdtemp(prefix="edigate-benchbridge-")
    os.chmod(tmp, 0o755)
    procs = []
    try:
        return bench(a, src, edigated, tmp, procs)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if not os.environ.get("KEEP_TMP"):
            shutil.rmtree(tmp, ignore_errors=True)


def bench(a, src, edigated, tmp, procs):
    state, hooks, partners = (os.path.join(tmp, d) for d in ("state", "hooks", "partners"))
    for d in (state, hooks, partners):
        os.mkdir(d)
    for f in os.listdir(os.path.join(src, "partners")):
        if f.endswith(".xml") or f.endswith(".xsd"):
            shutil.copy(os.path.join(src, "partners", f), partners)
    os.symlink(os.path.join(src, "maps"), os.path.join(tmp, "maps"))
    subprocess.run(["sh", os.path.join(src, "deploy", "demo_keys.sh"), partners],
                   stdout=subprocess.DEVNULL, check=True)
    # No AS2 URL for the retailer: its 997s and 810s stay queued and the
    # benchmark measures the bridge, not a peer's MDNs.
    prof = os.path.join(partners, "acme-retail.xml")
    text = open(prof).read()
    import re
    open(prof, "w").write(re.sub(r'\s+url="[^"]*"', "", text))
    user = ""
    if os.getuid() == 0:
        user = "user = nobody"
        subprocess.run(["chown", "-R", "nobody", state], check=True)
        subprocess.run(["chmod", "-R", "a+rX", partners], check=True)
    secret = "whsec_bench_0123456789"
    with open(os.path.join(hooks, "mode.json"), "w") as f:
        f.write("{}")
    procs.append(subprocess.Popen(
        [sys.executable, os.path.join(src, "tests", "integration", "webhook_receiver.py"),
         hooks, secret], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    hook_port = wait_port_file(os.path.join(hooks, "port"))
    token = "bench-token-%d" % random.randrange(1 << 30)
    port = None
    for _ in range(8):
        port = random.randrange(20000, 40000)
        conf = os.path.join(tmp, "edigate.conf")
        with open(conf, "w") as f:
            f.write("""state_dir = state
%s
maps_dir = %s/maps
partners_dir = %s
workers = 2

[listen.main]
address = 127.0.0.1:%d

[route]
isa_id = EDIGATEDEMO

[webhook.erp]
url = http://127.0.0.1:%d/erp
secret = %s

[delivery]
poll = 50ms

[token.erp]
hash = sha256:%s
systems = erp
partners = acme-retail
access = read write
rate = 100000
burst = 100000
""" % (user, src, partners, port, hook_port, secret,
                hashlib.sha256(token.encode()).hexdigest()))
        os.chmod(conf, 0o644)
        log = open(os.path.join(tmp, "log"), "ab")
        p = subprocess.Popen([edigated, "-f", "-c", conf], stdout=subprocess.DEVNULL,
                             stderr=log, cwd=tmp)
        ok = False
        for _ in range(100):
            try:
                request(port, "GET", "/healthz")
                ok = True
                break
            except OSError:
                if p.poll() is not None:
                    break
                time.sleep(0.05)
        if ok:
            procs.insert(0, p)
            break
        p.kill()
        p.wait()
    else:
        raise SystemExit("bench_bridge: edigated did not start (see %s/log)" % tmp)

    n, clients = a.count, a.clients
    rows = []

    # Reference 1: bare round trip to edigated.
    def healthz(i, h):
        t = time.time()
        h["c"], st, _ = request(port, "GET", "/healthz", conn=h.get("c"))
        return time.time() - t
    lat, wall = run_clients(n, clients, healthz)
    ref_edigated = pct(lat, 50)
    rows.append(("ref: GET /healthz", n, n / wall, lat, ref_edigated))

    # Reference 2: bare POST to the webhook receiver.
    body = json.dumps({"bench": True}).encode()

    def bare(i, h):
        t = time.time()
        h["c"], st, _ = request(hook_port, "POST", "/bare", body=body,
                                headers={"Content-Type": "application/json"},
                                conn=h.get("c"))
        return time.time() - t
    lat, wall = run_clients(n, clients, bare)
    ref_hook = pct(lat, 50)
    rows.append(("ref: POST to the receiver", n, n / wall, lat, ref_hook))

    # The loop's responsiveness while the API burst runs.
    probe = []
    stop = threading.Event()

    def prober():
        c = None
        while not stop.is_set():
            t = time.time()
            c, _, _ = request(port, "GET", "/healthz", conn=c)
            probe.append(time.time() - t)
            time.sleep(0.01)

    # api->edi: invoices to the retailer as 810.
    inv = json.load(open(os.path.join(src, "tests", "fixtures", "maps", "invoice_pair.json")))
    inv["meta"] = {"partner": "acme-retail", "standard": "x12", "version": "004010",
                   "message": "810", "interchange": "", "set": ""}
    fails = [0]

    def post(i, h):
        d = dict(inv)
        d["invoice_number"] = "INV-B%06d" % i
        b = json.dumps(d).encode()
        t = time.time()
        h["c"], st, data = request(port, "POST", "/api/v1/documents", body=b, headers={
            "Authorization": "Bearer " + token, "Idempotency-Key": "bench-%d" % i,
            "Content-Type": "application/json"}, conn=h.get("c"))
        if st != 202:
            fails[0] += 1
        return time.time() - t
    pt = threading.Thread(target=prober)
    pt.start()
    lat, wall = run_clients(n, clients, post)
    stop.set()
    pt.join()
    rows.append(("api->edi (POST invoice -> 810 queued)", n, n / wall, lat, ref_edigated))
    api_fails = fails[0]

    # edi->hook: 850s by AS2 until their order reaches the ERP webhook.
    base = open(os.path.join(src, "tests", "fixtures", "demo", "x12_850_order.edi")).read()
    sent = {}

    def as2(i, h):
        ctl = 800000 + i
        edi = (base.replace("*000000101*0*T", "*%09d*0*T" % ctl)
               .replace("IEA*1*000000101", "IEA*1*%09d" % ctl)
               .replace("*101*X*004010", "*%d*X*004010" % ctl)
               .replace("GE*1*101", "GE*1*%d" % ctl)
               .replace("PO12345", "PO-B%06d" % i))
        t = time.time()
        sent["PO-B%06d" % i] = t
        h["c"], st, _ = request(port, "POST", "/as2", body=edi.encode(), headers={
            "AS2-Version": "1.2", "AS2-From": "ACMERETAIL", "AS2-To": "EDIGATEDEMO",
            "Message-ID": "<bench-%d-%d@acme.example>" % (os.getpid(), i),
            "Content-Type": "application/edi-x12"}, conn=h.get("c"))
        return time.time() - t
    t0 = time.time()
    mdn_lat, _ = run_clients(n, clients, as2)
    got = {}
    deadline = time.time() + 120
    reqs = os.path.join(hooks, "requests.jsonl")
    while time.time() < deadline and len(got) < n:
        time.sleep(0.2)
        got = {}
        with open(reqs) as f:
            for line in f:
                r = json.loads(line)
                if r["path"] != "/erp" or r["status"] >= 300:
                    continue
                on = json.loads(r["body"]).get("data", {}).get("order_number", "")
                if on in sent and on not in got:
                    got[on] = r["time"]
    lat = [got[k] - sent[k] for k in got]
    wall = (max(got.values()) - t0) if got else float("nan")
    rows.append(("edi->hook (AS2 850 -> order at the ERP)", len(got), len(got) / wall, lat, ref_hook))
    rows.append(("  of which the AS2 answer (MDN)", n, float("nan"), mdn_lat, ref_edigated))

    rss = "?"
    try:
        for line in open("/proc/%d/status" % procs[0].pid):
            if line.startswith("VmHWM"):
                rss = line.split(":")[1].strip()
    except OSError:
        pass

    print("edigated bridge benchmark: %d documents per row, %d clients, %d cores" %
          (n, clients, os.cpu_count() or 0))
    print("%-42s %6s %9s %8s %8s %8s %9s" % ("what", "docs", "docs/s", "p50 ms", "p95 ms",
                                              "p99 ms", "p50/ref"))
    for name, cnt, rate, l, ref in rows:
        print("%-42s %6d %9.1f %8.2f %8.2f %8.2f %9.1f" % (
            name, cnt, rate, pct(l, 50) * 1e3, pct(l, 95) * 1e3, pct(l, 99) * 1e3,
            pct(l, 50) / ref if ref else float("nan")))
    print("edigated peak RSS: %s" % rss)
    print("GET /healthz during the API burst: %d probes, p50 %.2f ms, p95 %.2f ms, max %.2f ms" % (
        len(probe), pct(probe, 50) * 1e3, pct(probe, 95) * 1e3, (max(probe) if probe else 0) * 1e3))
    if api_fails:
        print("warning: %d API posts were not answered 202" % api_fails)
    if len(got) < n:
        print("warning: %d of %d orders reached the webhook" % (len(got), n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
