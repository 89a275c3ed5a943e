#!/bin/bash
# Large AS2 messages through edigated with flat memory: a signed+encrypted
# message and a compressed+signed one of AS2_LARGE_MB megabytes (default
# 200) posted with curl from files (Content-Length, then chunked) to a
# listener with stream_bodies = yes; the stored payload's SHA-256 and the
# MIC in the MDN are checked against what openssl computes over the
# files, and edigated's peak RSS (VmHWM) against a bound far below the
# body size. An oversize chunked body gets 413 and a client that stalls
# mid-body is cut off by read_timeout, both without harm.
#
# The peer is openssl cms (-stream: indefinite-length BER, as big
# senders make it) and curl; compression is written by Python's zlib in
# 1 MiB chunks (Debian's openssl cannot compress).
#
# With BENCH=1 it also prints the table of `make bench-as2-large`.
# Under ASan (edigated linked with libasan) the plan is skipped: the
# memory figures mean nothing there and the time is better spent on the
# other tests; the regular build runs it once. Prints TAP.
set -u

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
EDIGATED=${EDIGATED:-$top_builddir/gateway/edigated}
MB=${AS2_LARGE_MB:-200}
PLAN=12
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; [ -n "${2:-}" ] && echo "# $2"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
skip_all() {
	for i in $(seq 1 $PLAN); do echo "ok $i - large AS2 messages # SKIP $1"; done
	exit 0
}

echo "1..$PLAN"
for tool in curl openssl sqlite3 base64 python3 sha256sum; do
	command -v $tool >/dev/null || skip_all "no $tool"
done
if ldd "$EDIGATED" 2>/dev/null | grep -q libasan ||
    nm "$EDIGATED" 2>/dev/null | grep -q __asan_init; then
	skip_all "sanitizer build"
fi
tmpbase=${TMPDIR:-/tmp}
need_kb=$((MB * 1024 * 6))
avail_kb=$(df -Pk "$tmpbase" | awk 'NR == 2 { print $4 }')
[ "${avail_kb:-0}" -gt "$need_kb" ] || skip_all "less than $((need_kb / 1024)) MB free in $tmpbase"

tmp=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	[ -n "${KEEP:-}" ] || rm -rf "$tmp"; [ -n "${KEEP:-}" ] && echo "# kept $tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
chmod 755 "$tmp"
mkdir -p "$tmp/state" "$tmp/partners" "$tmp/peer"
user_line="# not started as root"
if [ "$(id -u)" = 0 ]; then
	user_line="user = nobody"
	chown nobody "$tmp/state"
fi
P=$tmp/peer

gen() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$2" \
		-keyout "$tmp/$1.key" -out "$tmp/$1.pem" >/dev/null 2>&1
}
gen partner "ACME AS2"
gen ours "EDIGATE AS2"
cp "$tmp/partner.pem" "$tmp/ours.pem" "$tmp/ours.key" "$top_srcdir/partners/partner.xsd" "$tmp/partners/"
cat > "$tmp/partners/acme.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<partner id="acme" name="ACME test partner">
  <identity>
    <x12 isa-qualifier="ZZ" isa-id="ACMEBUYER" gs-id="ACMEBUYER"/>
  </identity>
  <messages>
    <message direction="in" standard="x12" version="004010" type="850"/>
  </messages>
  <transport>
    <as2 id="ACME AS2" our-id="EDIGATE">
      <their-certificate file="partner.pem"/>
      <our-certificate file="ours.pem" key="ours.key"/>
    </as2>
  </transport>
</partner>
XML
chmod 644 "$tmp"/partners/*

start_daemon() {
	local try
	for try in 1 2 3 4 5 6 7 8; do
		port=$((20000 + RANDOM % 20000))
		cat > "$tmp/edigate.conf" <<CONF
state_dir = state
partners_dir = partners
maps_dir = $(cd "$top_srcdir" && pwd)/maps
$user_line
workers = 2
[limits]
max_body_size = $((MB * 2 + 64))M
read_timeout = 2s
[as2]
max_decompressed_size = $((MB * 2 + 64))M
[listen.as2]
address = 127.0.0.1:$port
routes = /as2 /healthz
stream_bodies = yes
CONF
		chmod 644 "$tmp/edigate.conf"
		"$EDIGATED" -c "$tmp/edigate.conf" 2>>"$tmp/daemon.log" &
		pid=$!
		for i in $(seq 1 50); do
			curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=
	done
	return 1
}
start_daemon || skip_all "edigated did not start: $(tail -2 "$tmp/daemon.log" | tr '\n' ' ')"
URL="http://127.0.0.1:$port/as2"
DB="$tmp/state/edigate.db"
hwm_kb() { awk '/^VmHWM/ { print $2 }' "/proc/$pid/status"; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; }

# The payload: numbered lines (not EDI, so the inbound pipeline leaves it
# alone and the figures are those of AS2 receive).
seq -f 'large payload line %012.0f' 1 $((MB * 1024 * 1024 / 31)) > "$P/payload"
{ printf 'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="large.bin"\r\n\r\n'; cat "$P/payload"; } > "$P/entity"
size=$(stat -c %s "$P/payload")
want_hash=$(sha256sum < "$P/payload" | cut -c1-64)
want_mic="$(openssl dgst -sha256 -binary "$P/entity" | base64 -w0), sha-256"

# sign IN OUT: multipart/signed around IN (detached, binary, SHA-256).
sign() {
	local b="large-boundary-$RANDOM"
	openssl cms -sign -binary -md sha256 -in "$1" -signer "$tmp/partner.pem" \
		-inkey "$tmp/partner.key" -outform DER -out "$2.sig" 2>/dev/null || return 1
	{
		printf 'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="%s"\r\n\r\n' "$b"
		printf -- '--%s\r\n' "$b"; cat "$1"; printf '\r\n--%s\r\n' "$b"
		printf 'Content-Type: application/pkcs7-signature; name=smime.p7s\r\n'
		printf 'Content-Transfer-Encoding: base64\r\n\r\n'
		base64 -w 76 "$2.sig" | sed 's/$/\r/'
		printf -- '--%s--\r\n' "$b"
	} > "$2"
}
# post NAME BODY CONTENT-TYPE [curl options]: MDN in $P/NAME.mdn
post() {
	local name=$1 body=$2 ct=$3; shift 3
	curl -s -o "$P/$name.mdn" -w '%{http_code}' -X POST \
		-H "AS2-Version: 1.2" -H 'AS2-From: "ACME AS2"' -H "AS2-To: EDIGATE" \
		-H "Message-ID: <$name-$RANDOM@acme.example>" \
		-H "Disposition-Notification-To: mdn@acme.example" \
		-H "Disposition-Notification-Options: signed-receipt-protocol=optional, pkcs7-signature; signed-receipt-micalg=optional, sha-256" \
		-H "Content-Type: $ct" "$@" -T "$body" "$URL" > "$P/$name.code"
}
mic_in() { tr -d '\r' < "$P/$1.mdn" | grep -i '^Received-Content-MIC:' | head -1 | sed 's/^[^:]*: *//'; }
stored() { # stored: the newest message's payload hash and size
	sqlite3 "$DB" "SELECT payload_hash || ' ' || size FROM messages WHERE direction='in' ORDER BY id DESC LIMIT 1;"
}

# 1. Signed, then encrypted (AES-256-CBC, streamed BER), Content-Length.
sign "$P/entity" "$P/signed" || not_ok "openssl signs the entity"
t0=$(date +%s.%N)
openssl cms -encrypt -binary -stream -aes256 -in "$P/signed" -outform DER \
	-out "$P/se.p7m" "$tmp/ours.pem" 2>/dev/null
body=$(stat -c %s "$P/se.p7m")
rm -f "$P/signed"
base_rss=$(rss_kb)
t1=$(date +%s.%N)
post se "$P/se.p7m" "application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m"
t2=$(date +%s.%N)
hwm=$(hwm_kb)
check "signed+encrypted ${MB} MB: HTTP 200 with a processed MDN" \
	bash -c "[ \"\$(cat '$P/se.code')\" = 200 ] && tr -d '\r' < '$P/se.mdn' | grep -q 'processed$'"
check "signed+encrypted ${MB} MB: the MIC is SHA-256 of the signed entity" \
	test "$(mic_in se)" = "$want_mic"
check "signed+encrypted ${MB} MB: the stored payload is the one sent" \
	test "$(stored)" = "$want_hash $size"
limit_kb=$((96 * 1024))
check "signed+encrypted ${MB} MB: edigated's peak RSS ${hwm} KiB stays under $((limit_kb / 1024)) MiB" \
	test "$hwm" -lt "$limit_kb"

# 2. Compressed, then signed, chunked transfer coding.
python3 - "$P/entity" "$P/z" <<'PY'
import sys, zlib
def hdr(tag, n=None):
    if n is None:
        return bytes([tag, 0x80])
    if n < 128:
        return bytes([tag, n])
    b = n.to_bytes((n.bit_length() + 7) // 8, 'big')
    return bytes([tag, 0x80 | len(b)]) + b
def oid(text):
    parts = [int(x) for x in text.split('.')]
    out = bytes([parts[0] * 40 + parts[1]])
    for p in parts[2:]:
        enc = [p & 0x7f]
        p >>= 7
        while p:
            enc.insert(0, 0x80 | (p & 0x7f))
            p >>= 7
        out += bytes(enc)
    return hdr(0x06, len(out)) + out
EOC = b'\0\0'
out = open(sys.argv[2], 'wb')
out.write(b'Content-Type: application/pkcs7-mime; smime-type=compressed-data; name=smime.p7z\r\n'
          b'Content-Transfer-Encoding: binary\r\n\r\n')
alg = oid('1.2.840.113549.1.9.16.3.8')
out.write(hdr(0x30) + oid('1.2.840.113549.1.9.16.1.9') + hdr(0xa0) + hdr(0x30) +
          hdr(0x02, 1) + b'\0' + hdr(0x30, len(alg)) + alg +
          hdr(0x30) + oid('1.2.840.113549.1.7.1') + hdr(0xa0) + hdr(0x24))
z = zlib.compressobj(6)
with open(sys.argv[1], 'rb') as f:
    while True:
        chunk = f.read(1 << 20)
        if not chunk:
            break
        c = z.compress(chunk)
        if c:
            out.write(hdr(0x04, len(c)) + c)
c = z.flush()
out.write(hdr(0x04, len(c)) + c)
out.write(EOC * 6)
PY
sign "$P/z" "$P/zs" || not_ok "openssl signs the compressed entity"
want_zmic="$(openssl dgst -sha256 -binary "$P/z" | base64 -w0), sha-256"
rm -f "$P/z"
zct=$(head -1 "$P/zs" | sed 's/^Content-Type: //; s/\r$//')
tail -n +3 "$P/zs" > "$P/zs.body"
rm -f "$P/zs"
post zs "$P/zs.body" "$zct" -H "Transfer-Encoding: chunked"
check "compressed+signed ${MB} MB, chunked: HTTP 200 with a processed MDN" \
	bash -c "[ \"\$(cat '$P/zs.code')\" = 200 ] && tr -d '\r' < '$P/zs.mdn' | grep -q 'processed$'"
check "compressed+signed: the MIC is SHA-256 of the signed (compressed) entity" \
	test "$(mic_in zs)" = "$want_zmic"
check "compressed+signed: the stored payload is the one sent" \
	test "$(stored)" = "$want_hash $size"
hwm2=$(hwm_kb)
check "compressed+signed: peak RSS ${hwm2} KiB still under $((limit_kb / 1024)) MiB" \
	test "$hwm2" -lt "$limit_kb"

# 3. Oversize: a chunked body that grows past max_body_size is cut off
# with 413 when the limit is crossed, nothing is stored.
before=$(sqlite3 "$DB" "SELECT count(*) FROM messages;")
code=$(head -c $(((MB * 2 + 80) * 1024 * 1024)) /dev/zero | curl -s -o /dev/null -w '%{http_code}' \
	-X POST -H "AS2-From: \"ACME AS2\"" -H "AS2-To: EDIGATE" -H "Message-ID: <big@acme.example>" \
	-H "Content-Type: application/octet-stream" -H "Transfer-Encoding: chunked" -T - "$URL")
check "a chunked body over max_body_size gets 413" test "$code" = 413
check "nothing was stored for it" test "$(sqlite3 "$DB" "SELECT count(*) FROM messages;")" = "$before"

# 4. A client that stops sending in the middle of its body is cut off
# after read_timeout; edigated keeps serving.
python3 - "$port" <<'PY' > "$P/slow.out"
import socket, sys, time
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
s.sendall(b'POST /as2 HTTP/1.1\r\nHost: x\r\nAS2-From: "ACME AS2"\r\nAS2-To: EDIGATE\r\n'
          b'Message-ID: <slow@acme.example>\r\nContent-Type: application/octet-stream\r\n'
          b'Content-Length: 1000000\r\n\r\n' + b'x' * 1000)
s.settimeout(10)
t = time.time()
try:
    data = s.recv(100)
except Exception:
    data = b''
print('closed' if data == b'' and time.time() - t < 8 else 'open')
PY
check "a client stalled mid-body is disconnected after read_timeout" test "$(cat "$P/slow.out")" = closed
check "edigated still answers after the large, oversize and stalled requests" \
	curl -sf "http://127.0.0.1:$port/healthz" -o /dev/null

if [ -n "${BENCH:-}" ]; then
	# Reference in the same run: openssl cms -decrypt of the same file
	# (it holds the structure in memory: d2i_CMS_bio).
	if [ -x "$top_builddir/tests/bench/bench_rusage" ]; then
		"$top_builddir/tests/bench/bench_rusage" "$P/ref.rusage" openssl cms -decrypt -binary \
			-inform DER -in "$P/se.p7m" -recip "$tmp/ours.pem" -inkey "$tmp/ours.key" -out /dev/null 2>/dev/null
		ref_s=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' "$P/ref.rusage")
		ref_kb=$(sed -n 's/.*maxrss_kib=\([0-9]*\).*/\1/p' "$P/ref.rusage")
	else
		ref_s=0; ref_kb=0
	fi
	# The disk's own write rate, same run: what the spool is bound by.
	dd_s=
	if /usr/bin/env time -f %e -o "$P/dd.time" dd if=/dev/zero of="$tmp/state/dd.test" \
		bs=1M count=512 conv=fsync 2>/dev/null; then
		dd_s=$(tail -1 "$P/dd.time")
	fi
	rm -f "$tmp/state/dd.test"
	python3 - "$body" "$t1" "$t2" "$hwm" "$base_rss" "$ref_s" "$ref_kb" "${dd_s:-0}" <<'PY'
import sys
body, t1, t2, hwm, base, ref_s, ref_kb, dd_s = sys.argv[1:]
dd_s = float(dd_s) if dd_s.replace('.', '', 1).isdigit() else 0.0
body = int(body); secs = float(t2) - float(t1); hwm = int(hwm); base = int(base)
ref_s = float(ref_s); ref_kb = int(ref_kb)
mb = body / 1e6
print('# %-44s %10s %9s %14s %12s' % ('input', 'MB', 'MB/s', 'peak RSS MiB', 'ratio'))
print('# %-44s %10.1f %9.1f %14.1f %12s' % ('edigated receive, signed+encrypted (AES-256)', mb,
      mb / secs, hwm / 1024, '%.4f of body' % (hwm * 1024 / body)))
if ref_s > 0:
    print('# %-44s %10.1f %9.1f %14.1f %12s' % ('openssl cms -decrypt, same file (reference)', mb,
          mb / ref_s, ref_kb / 1024, '%.2fx edigated' % ((mb / ref_s) / (mb / secs))))
if dd_s > 0:
    dd = 512 * 1048576 / 1e6 / dd_s
    print('# %-44s %10.1f %9.1f %14s %12s' % ('disk write, dd with fsync (reference)', 536.9, dd,
          '-', '%.2f of dd' % (5 * mb / secs / dd)))
print('# edigated RSS before the request: %.1f MiB; wall time of the POST incl. MDN: %.1f s' % (base / 1024, secs))
print('# the last ratio counts the five writes of the message (body, decrypted and signed')
print('# entities, payload and raw body in the spool) against the disk rate')
PY
fi
