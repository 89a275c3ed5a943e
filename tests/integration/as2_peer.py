#!/usr/bin/env python3
"""A tiny AS2 receiving peer for tests: Python's http.server plus the
openssl command line, nothing from edigate.

It takes every POST, saves it, decrypts it with `openssl cms -decrypt`,
checks a multipart/signed body with `openssl cms -verify` against the
sender's certificate, computes the MIC itself with hashlib and answers an
MDN (RFC 4130 section 7) signed with `openssl cms -sign`. How it answers
depends on the AS2-To it is addressed as:

  ...-UNSIGNED   an unsigned MDN
  ...-BADMIC     a signed MDN with a wrong Received-content-MIC
  ...-NEG        a signed MDN with processed/error: decryption-failed
  ...-ASYNC      200 at once, the signed MDN posted later to the
                 Receipt-Delivery-Option URL
  ...-LATE       like -ASYNC, but the MDN is posted after 6 seconds
  ...-SILENT     200 at once, and no MDN ever
  anything else  a signed MDN with the right MIC

Every request leaves DIR/req-N.json: the headers, what openssl said, the
MIC and the SHA-256 of the payload it found.

usage: as2_peer.py --dir DIR --cert PEM --key PEM --sender-cert PEM
                   --port-file FILE [--port N] [--tls-cert PEM --tls-key PEM]
"""
import argparse
import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARGS = None
COUNTER = [0]
LOCK = threading.Lock()

DIGESTS = {"sha1": "sha1", "sha-1": "sha1", "sha256": "sha256",
           "sha-256": "sha256", "sha384": "sha384", "sha-384": "sha384",
           "sha512": "sha512", "sha-512": "sha512"}


def run(cmd, stdin=None):
    p = subprocess.run(cmd, input=stdin, capture_output=True)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def split_entity(data):
    """Headers (dict, lower-case names) and body of a MIME entity."""
    i = data.find(b"\r\n\r\n")
    sep = 4
    if i < 0:
        i = data.find(b"\n\n")
        sep = 2
    head, body = data[:i], data[i + sep:]
    headers = {}
    for line in re.split(rb"\r?\n(?![ \t])", head):
        if b":" in line:
            k, v = line.split(b":", 1)
            headers[k.strip().lower().decode()] = re.sub(
                rb"\s+", b" ", v).strip().decode()
    return headers, body


def param(value, name):
    m = re.search(name + r'\s*=\s*("([^"]*)"|[^;\s]+)', value, re.I)
    if not m:
        return None
    return m.group(2) if m.group(2) is not None else m.group(1)


def split_multipart(body, boundary):
    """Parts of a multipart body by RFC 2046: the CRLF before a delimiter
    belongs to the delimiter."""
    delim = b"--" + boundary.encode()
    parts = []
    start = body.find(delim)
    if start < 0:
        return parts
    pos = body.find(b"\n", start) + 1
    while True:
        nxt = body.find(b"\r\n" + delim, pos)
        if nxt < 0:
            break
        parts.append(body[pos:nxt])
        after = nxt + 2 + len(delim)
        if body[after:after + 2] == b"--":
            break
        pos = body.find(b"\n", after) + 1
    return parts


def mic_of(data, alg):
    h = hashlib.new(DIGESTS.get(alg.lower(), "sha256"), data).digest()
    return base64.b64encode(h).decode() + ", " + alg


def build_mdn(orig_id, to_name, mic, disposition):
    boundary = "mdn-" + hashlib.sha1(orig_id.encode()).hexdigest()[:16]
    report = (
        "--%s\r\nContent-Type: text/plain\r\n\r\n"
        "The message was received by the test peer.\r\n"
        "--%s\r\nContent-Type: message/disposition-notification\r\n\r\n"
        "Reporting-UA: as2-test-peer\r\n"
        "Original-Recipient: rfc822; %s\r\n"
        "Final-Recipient: rfc822; %s\r\n"
        "Original-Message-ID: %s\r\n"
        "Disposition: automatic-action/MDN-sent-automatically; %s\r\n"
        "Received-content-MIC: %s\r\n"
        "\r\n--%s--\r\n" % (boundary, boundary, to_name, to_name, orig_id,
                            disposition, mic, boundary)).encode()
    ctype = ('multipart/report; report-type=disposition-notification; '
             'boundary="%s"' % boundary)
    return ctype, report


def sign_mdn(ctype, report, workdir, n):
    entity = ("Content-Type: %s\r\n\r\n" % ctype).encode() + report
    ent_path = os.path.join(workdir, "mdn-%d.entity" % n)
    sig_path = os.path.join(workdir, "mdn-%d.p7s" % n)
    with open(ent_path, "wb") as f:
        f.write(entity)
    rc, _, err = run(["openssl", "cms", "-sign", "-binary", "-md", "sha256",
                      "-signer", ARGS.cert, "-inkey", ARGS.key,
                      "-outform", "DER", "-in", ent_path, "-out", sig_path])
    if rc != 0:
        raise RuntimeError("openssl cms -sign: " + err)
    sig = base64.encodebytes(open(sig_path, "rb").read()).replace(
        b"\n", b"\r\n")
    b = "sig-%d" % n
    body = (("--%s\r\n" % b).encode() + entity +
            ("\r\n--%s\r\nContent-Type: application/pkcs7-signature; "
             "name=smime.p7s\r\nContent-Transfer-Encoding: base64\r\n\r\n"
             % b).encode() + sig + ("\r\n--%s--\r\n" % b).encode())
    return ('multipart/signed; protocol="application/pkcs7-signature"; '
            'micalg=sha-256; boundary="%s"' % b), body


def uncompress(der, path):
    """CMS CompressedData (RFC 3274) opened without edigate: openssl
    asn1parse lists the OCTET STRING pieces of the eContent, Python's zlib
    inflates them (Debian's `openssl cms -uncompress` has no zlib)."""
    with open(path, "wb") as f:
        f.write(der)
    rc, out, err = run(["openssl", "asn1parse", "-inform", "DER", "-in", path])
    if rc != 0:
        raise RuntimeError("asn1parse: " + err)
    stream = b""
    seen_oid = False
    for line in out.decode().splitlines():
        if "id-smime-ct-compressedData" in line or "compressedData" in line:
            seen_oid = True
        m = re.match(r"\s*(\d+):d=\s*\d+\s+hl=(\d+)\s+l=\s*(\d+)\s+prim:\s+OCTET STRING", line)
        if m and seen_oid:
            off, hl, ln = int(m.group(1)), int(m.group(2)), int(m.group(3))
            stream += der[off + hl:off + hl + ln]
    import zlib
    return zlib.decompress(stream)


def examine(headers, body, n):
    """Decrypts and verifies like an AS2 product would; returns the
    record and the MIC."""
    rec = {"n": n, "headers": headers, "decrypted": None, "verified": None}
    d = ARGS.dir
    ctype = headers.get("content-type", "")
    if "pkcs7-mime" in ctype.lower() and "enveloped" in ctype.lower():
        src = os.path.join(d, "req-%d.p7m" % n)
        out = os.path.join(d, "req-%d.dec" % n)
        with open(src, "wb") as f:
            f.write(body)
        rc, _, err = run(["openssl", "cms", "-decrypt", "-binary",
                          "-inform", "DER", "-in", src, "-recip", ARGS.cert,
                          "-inkey", ARGS.key, "-out", out])
        rec["decrypted"] = rc == 0
        rec["decrypt_error"] = err.strip()[:300]
        if rc != 0:
            return rec, None
        entity = open(out, "rb").read()
        rc, info, _ = run(["openssl", "cms", "-cmsout", "-print", "-inform",
                           "DER", "-in", src])
        m = re.search(rb"contentEncryptionAlgorithm:\s*\n\s*algorithm:\s*(\S+)",
                      info)
        rec["cipher"] = m.group(1).decode() if m else None
    else:
        entity = ("Content-Type: %s\r\n\r\n" % ctype).encode() + body
    ehead, ebody = split_entity(entity)
    dno = headers.get("disposition-notification-options", "")
    m = re.search(r"signed-receipt-micalg\s*=\s*[^,;]*,\s*([A-Za-z0-9-]+)",
                  dno)
    micalg = m.group(1) if m else "sha-256"
    ect = ehead.get("content-type", "")
    if ect.lower().startswith("multipart/signed"):
        parts = split_multipart(ebody, param(ect, "boundary"))
        signed, sigpart = parts[0], parts[1]
        _, sigb64 = split_entity(sigpart)
        sig = base64.b64decode(sigb64)
        cpath = os.path.join(d, "req-%d.content" % n)
        spath = os.path.join(d, "req-%d.p7s" % n)
        open(cpath, "wb").write(signed)
        open(spath, "wb").write(sig)
        rc, _, err = run(["openssl", "cms", "-verify", "-binary", "-inform",
                          "DER", "-in", spath, "-content", cpath,
                          "-CAfile", ARGS.sender_cert, "-purpose", "any",
                          "-out", os.devnull])
        rec["verified"] = rc == 0
        rec["verify_error"] = err.strip()[:300]
        rc, info, _ = run(["openssl", "cms", "-cmsout", "-print", "-inform",
                           "DER", "-in", spath])
        m = re.search(rb"digestAlgorithm:\s*\n\s*algorithm:\s*(\S+)", info)
        rec["digest"] = m.group(1).decode() if m else None
        mic = mic_of(signed, micalg)
        phead, payload = split_entity(signed)
        inner_ct = phead.get("content-type", "")
    elif "pkcs7-mime" in headers.get("content-type", "").lower():
        mic = mic_of(entity, micalg)   # encrypted or compressed, unsigned
        payload = ebody
        inner_ct = ect
    else:
        mic = mic_of(body, micalg)     # neither: the content alone
        payload = body
        inner_ct = ""
    rec["compressed"] = "compressed-data" in inner_ct.lower()
    if rec["compressed"]:
        _, payload = split_entity(uncompress(
            payload, os.path.join(d, "req-%d.p7z" % n)))
    rec["mic"] = mic
    rec["payload_sha256"] = hashlib.sha256(payload).hexdigest()
    return rec, mic


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("as2_peer: " + fmt % args + "\n")

    def do_POST(self):
        with LOCK:
            COUNTER[0] += 1
            n = COUNTER[0]
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        to_name = headers.get("as2-to", "").strip('"')
        from_name = headers.get("as2-from", "").strip('"')
        try:
            rec, mic = examine(headers, body, n)
        except Exception as e:  # report, never die
            rec, mic = {"n": n, "headers": headers, "error": repr(e)}, None
        with open(os.path.join(ARGS.dir, "req-%d.json" % n), "w") as f:
            json.dump(rec, f)
        orig = headers.get("message-id", "")
        disposition = "processed"
        if mic is None:
            mic = "AAAA, sha-256"
            disposition = "processed/error: decryption-failed"
        if to_name.endswith("-BADMIC"):
            mic = base64.b64encode(b"\0" * 32).decode() + ", sha-256"
        if to_name.endswith("-NEG"):
            disposition = "processed/error: decryption-failed"
        ctype, report = build_mdn(orig, to_name, mic, disposition)
        if not to_name.endswith("-UNSIGNED"):
            ctype, report = sign_mdn(ctype, report, ARGS.dir, n)
        if to_name.endswith("-SILENT"):
            self.reply(200, "text/plain", b"OK\r\n", {})
            return
        if to_name.endswith("-ASYNC") or to_name.endswith("-LATE"):
            url = headers.get("receipt-delivery-option", "")
            self.reply(200, "text/plain", b"OK\r\n", {})
            delay = 6.0 if to_name.endswith("-LATE") else 0.3
            threading.Thread(target=post_async, args=(
                url, ctype, report, to_name, from_name, n, delay)).start()
            return
        self.reply(200, ctype, report, {"AS2-Version": "1.2",
                                        "AS2-From": to_name,
                                        "AS2-To": from_name,
                                        "Message-ID": "<peer-%d@test>" % n})

    def reply(self, status, ctype, body, extra):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


def post_async(url, ctype, body, to_name, from_name, n, delay=0.3):
    time.sleep(delay)
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": ctype, "AS2-Version": "1.2", "AS2-From": to_name,
        "AS2-To": from_name, "Message-ID": "<peer-mdn-%d@test>" % n})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    except Exception as e:
        status = repr(e)
    with open(os.path.join(ARGS.dir, "async-%d.json" % n), "w") as f:
        json.dump({"url": url, "status": status}, f)


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--sender-cert", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tls-cert", help="serve HTTPS with this certificate")
    ap.add_argument("--tls-key")
    ARGS = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    if ARGS.tls_cert:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.tls_cert, ARGS.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, ARGS.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
