#!/bin/bash
# AS2 receive against an independent peer made of `openssl cms` and `curl`:
# edigated on a free loopback port with a temporary SQLite store and two
# partners whose keys are generated here. Plain, signed (SHA-256, SHA-1),
# encrypted (AES-128, AES-256, 3DES), signed+encrypted; the MDN's
# signature is checked with openssl and its Received-Content-MIC against a
# digest openssl computes over the right bytes; the store is checked with
# sqlite3; duplicates, a wrong signer, garbage, an unknown AS2-To and an
# oversize body get their documented answers. Prints TAP. Everything it
# starts is stopped by the trap; it only talks to 127.0.0.1.
set -u

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
EDIGATED=${EDIGATED:-$top_builddir/gateway/edigated}
PLAN=62
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; [ -n "${2:-}" ] && echo "# $2"; }
skip_one() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
check() { # check DESCRIPTION COMMAND...
	local d=$1; shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}

echo "1..$PLAN"
for tool in curl openssl sqlite3 base64; do
	if ! command -v $tool >/dev/null; then
		for i in $(seq 1 $PLAN); do echo "ok $i - as2 receive # SKIP no $tool"; done
		exit 0
	fi
done

tmp=$(mktemp -d)
pid=
rpids=
cleanup() {
	for p in $rpids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
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

# Keys: the partner's (it signs, we encrypt to it), ours (we decrypt and
# sign MDNs), and a stranger's that signs as if it were the partner.
gen() { # gen NAME CN
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$2" \
		-keyout "$tmp/$1.key" -out "$tmp/$1.pem" >/dev/null 2>&1
}
gen partner "ACME AS2"
gen ours "EDIGATE AS2"
gen stranger "ACME AS2"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$tmp/tls.key" -out "$tmp/tls.pem" >/dev/null 2>&1
cp "$tmp/partner.pem" "$tmp/ours.pem" "$tmp/ours.key" "$tmp/partners/"
chmod 644 "$tmp"/partners/*

cp "$top_srcdir/partners/partner.xsd" "$tmp/partners/"
cat > "$tmp/partners/acme.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<partner id="acme" name="ACME test partner">
  <identity>
    <x12 isa-qualifier="ZZ" isa-id="ACMEBUYER" gs-id="ACMEBUYER"/>
  </identity>
  <messages>
    <message direction="in" standard="x12" version="004010" type="850"/>
  </messages>
  <acknowledgment type="997"/>
  <transport>
    <as2 id="ACME AS2" our-id="EDIGATE" require-signed="false">
      <their-certificate file="partner.pem"/>
      <our-certificate file="ours.pem" key="ours.key"/>
    </as2>
  </transport>
</partner>
XML
cat > "$tmp/partners/strict.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<partner id="strict" name="Partner that must sign and encrypt">
  <identity>
    <x12 isa-qualifier="ZZ" isa-id="STRICT" gs-id="STRICT"/>
  </identity>
  <messages>
    <message direction="in" standard="x12" version="004010" type="850"/>
  </messages>
  <transport>
    <as2 id="STRICT" require-signed="true" require-encrypted="true">
      <their-certificate file="partner.pem"/>
      <our-certificate file="ours.pem" key="ours.key"/>
    </as2>
  </transport>
</partner>
XML
chmod 644 "$tmp"/partners/*.xml

start_daemon() {
	local try
	for try in 1 2 3 4 5 6 7 8; do
		port=$((20000 + RANDOM % 20000))
		tport=$((port + 1))
		cat > "$tmp/edigate.conf" <<CONF
state_dir = state
partners_dir = partners
maps_dir = $(cd "$top_srcdir" && pwd)/maps
$user_line
workers = 2
[limits]
max_body_size = 512K
${AS2_STREAM_BODIES:+body_in_memory = 0}
[as2]
${AS2_UNWRAP_IN_MEMORY:+unwrap_in_memory = $AS2_UNWRAP_IN_MEMORY}
async_mdn_retry = 300ms
async_mdn_attempts = 10
[tls]
certificate = tls.pem
key = tls.key
[listen.as2-plain]
address = 127.0.0.1:$port
routes = /as2 /healthz /metrics
${AS2_STREAM_BODIES:+stream_bodies = yes}
[listen.as2]
address = 127.0.0.1:$tport
protocol = https
routes = /as2 /healthz
${AS2_STREAM_BODIES:+stream_bodies = yes}
CONF
		chmod 644 "$tmp/edigate.conf"
		"$EDIGATED" -c "$tmp/edigate.conf" 2>>"$tmp/daemon.log" &
		pid=$!
		for i in $(seq 1 50); do
			if curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
				return 0
			fi
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=
	done
	return 1
}

if ! start_daemon; then
	not_ok "edigated starts with two AS2 partners" "$(tail -5 "$tmp/daemon.log")"
	for i in $(seq $((n + 1)) $PLAN); do echo "ok $i - # SKIP daemon did not start"; done
	exit 0
fi
ok "edigated starts with two AS2 partners"
check "edigated -t loads the AS2 partners and their keys" \
	bash -c "'$EDIGATED' -t -c '$tmp/edigate.conf' >/dev/null 2>&1"
URL="http://127.0.0.1:$port/as2"
DB="$tmp/state/edigate.db"
P="$tmp/peer"

# The payload: the demo 850, addressed to us.
cp "$top_srcdir/tests/fixtures/demo/x12_850_order.edi" "$P/order.edi"
# The MIME entity a peer signs or encrypts: headers, blank line, payload.
{ printf 'Content-Type: application/edi-x12\r\nContent-Disposition: attachment; filename="order.edi"\r\nContent-Transfer-Encoding: binary\r\n\r\n'; cat "$P/order.edi"; } > "$P/entity"

mic_of() { # mic_of FILE ALG -> base64 digest
	openssl dgst -"$2" -binary "$1" | base64 -w0
}
# sign_entity IN OUT MD: a multipart/signed body with CRLF delimiters, the
# Content-Type header in OUT.ct
sign_entity() {
	local b="sig-boundary-$RANDOM"
	openssl cms -sign -binary -md "$3" -in "$1" -signer "${4:-$tmp/partner.pem}" \
		-inkey "${5:-$tmp/partner.key}" -outform DER -out "$2.sig" 2>/dev/null || return 1
	{
		printf -- '--%s\r\n' "$b"; cat "$1"; printf '\r\n--%s\r\n' "$b"
		printf 'Content-Type: application/pkcs7-signature; name=smime.p7s\r\n'
		printf 'Content-Transfer-Encoding: base64\r\n\r\n'
		base64 -w 76 "$2.sig" | sed 's/$/\r/'
		printf -- '--%s--\r\n' "$b"
	} > "$2"
	local md=$3; case $md in sha256) md=sha-256;; sha1) md=sha1;; esac
	printf 'multipart/signed; protocol="application/pkcs7-signature"; micalg=%s; boundary="%s"' "$md" "$b" > "$2.ct"
}
encrypt_entity() { # encrypt_entity IN OUT CIPHER
	openssl cms -encrypt -binary -"$3" -in "$1" -outform DER -out "$2" "$tmp/ours.pem" 2>/dev/null
	printf 'application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m' > "$2.ct"
}
# post NAME BODY CONTENT-TYPE MESSAGE-ID [FROM] [TO] [DNO] -> $P/NAME.hdr, $P/NAME.body
SIGNED_DNO='signed-receipt-protocol=optional, pkcs7-signature; signed-receipt-micalg=optional, sha-256, sha1'
post() {
	local name=$1 body=$2 ct=$3 mid=$4 from=${5:-ACME AS2} to=${6:-EDIGATE} dno=${7-$SIGNED_DNO}
	local dno_args=()
	[ -n "$dno" ] && dno_args=(-H "Disposition-Notification-Options: $dno")
	curl -s -o "$P/$name.body" -D "$P/$name.hdr" -w '%{http_code}' \
		-H "AS2-Version: 1.2" -H "AS2-From: \"$from\"" -H "AS2-To: $to" \
		-H "Message-ID: $mid" -H "Disposition-Notification-To: mdn@acme.example" \
		"${dno_args[@]}" -H "Content-Type: $ct" -H "Expect:" \
		--data-binary "@$body" "$URL" > "$P/$name.code"
}
hdr() { # hdr NAME HEADER
	grep -i "^$2:" "$P/$1.hdr" | head -1 | sed 's/^[^:]*: *//; s/\r$//'
}
# The MDN's report part, whether the MDN is signed or not.
mdn_field() { # mdn_field NAME FIELD
	tr -d '\r' < "$P/$1.body" | grep -i "^$2:" | head -1 | sed 's/^[^:]*: *//'
}
# Verifies a signed MDN with openssl against our certificate: the first
# part is the signed entity (the CRLF before the delimiter belongs to the
# delimiter, RFC 2046), the second the base64 signature.
verify_mdn() { # verify_mdn NAME
	local ct b
	if ! command -v python3 >/dev/null; then
		echo "# SKIP-like: no python3 to split the MDN; checked its type only"
		case $(hdr "$1" Content-Type) in multipart/signed*) return 0;; *) return 1;; esac
	fi
	ct=$(hdr "$1" Content-Type)
	case $ct in multipart/signed*) ;; *) return 1;; esac
	b=$(printf '%s' "$ct" | sed -n 's/.*boundary="\{0,1\}\([^";]*\)"\{0,1\}.*/\1/p')
	python3 - "$P/$1.body" "$b" "$P/$1.part" "$P/$1.sig64" <<'PY' || return 1
import sys
data = open(sys.argv[1], 'rb').read()
d = b'--' + sys.argv[2].encode()
parts = data.split(b'\r\n' + d)
first = parts[0]
first = first[first.index(d) + len(d) + 2:]
open(sys.argv[3], 'wb').write(first)
sig = parts[1]
sig = sig[sig.index(b'\r\n\r\n') + 4:]
open(sys.argv[4], 'wb').write(sig)
PY
	tr -d '\r' < "$P/$1.sig64" | base64 -d > "$P/$1.sigder" 2>/dev/null || return 1
	openssl cms -verify -binary -inform DER -in "$P/$1.sigder" \
		-content "$P/$1.part" -CAfile "$tmp/ours.pem" -purpose any \
		-out /dev/null 2>/dev/null
}
msgs() { sqlite3 "$DB" "SELECT count(*) FROM messages WHERE direction='in' AND transport='as2' $1;"; }
mic_is() { # mic_is NAME EXPECTED
	local got; got=$(mdn_field "$1" Received-Content-MIC)
	[ "$got" = "$2" ] || { echo "# MIC $got, expected $2"; return 1; }
}

# 1. Plain: no signature, no encryption, unsigned MDN (no options):
# the MIC is SHA-1 over the content as sent.
post plain "$P/order.edi" "application/edi-x12" "<plain-1@acme.example>" "ACME AS2" EDIGATE ""
check "plain message: HTTP 200 with an MDN" test "$(cat "$P/plain.code")" = 200
check "plain message: disposition processed" \
	bash -c "[ \"\$(tr -d '\r' < '$P/plain.body' | grep -i '^Disposition:' | sed 's/.*; *//')\" = processed ]"
check "plain message: MIC is SHA-1 over the payload" mic_is plain "$(mic_of "$P/order.edi" sha1), sha1"
check "plain message: stored once, state received or later, payload byte-exact" \
	bash -c "[ \"\$(sqlite3 '$DB' \"SELECT payload_hash FROM messages WHERE direction='in' AND transport='as2' ORDER BY id LIMIT 1;\")\" = \"\$(openssl dgst -sha256 -r '$P/order.edi' | cut -d' ' -f1)\" ]"
check "the MDN answers with our AS2 name and theirs" \
	bash -c "[ \"\$(grep -i '^AS2-From:' '$P/plain.hdr' | tr -d '\r' | sed 's/^[^:]*: *//')\" = EDIGATE ] && grep -qi '^AS2-To: \"ACME AS2\"' '$P/plain.hdr'"

# 2. Signed with SHA-256 and SHA-1: the MIC covers the signed entity with
# its headers, in the algorithm asked for; the MDN is signed by us.
sign_entity "$P/entity" "$P/signed256" sha256
post signed256 "$P/signed256" "$(cat "$P/signed256.ct")" "<signed-256@acme.example>"
check "signed (sha256): processed" bash -c "mdn=\$(tr -d '\r' < '$P/signed256.body'); case \$mdn in *'automatic-action/MDN-sent-automatically; processed'*) true;; *) false;; esac"
check "signed (sha256): MIC is SHA-256 of the signed entity" mic_is signed256 "$(mic_of "$P/entity" sha256), sha-256"
check "signed (sha256): the MDN signature verifies with openssl against our certificate" verify_mdn signed256
sign_entity "$P/entity" "$P/signed1" sha1
post signed1 "$P/signed1" "$(cat "$P/signed1.ct")" "<signed-1@acme.example>" "ACME AS2" EDIGATE \
	'signed-receipt-protocol=optional, pkcs7-signature; signed-receipt-micalg=optional, sha1'
check "signed (sha1): MIC is SHA-1 of the signed entity, in the sender's spelling" mic_is signed1 "$(mic_of "$P/entity" sha1), sha1"
check "signed (sha1): the MDN signature verifies" verify_mdn signed1

# 3. Encrypted (AES-128, AES-256, 3DES), not signed: the MIC covers the
# decrypted entity.
for c in aes128 aes256 des3; do
	encrypt_entity "$P/entity" "$P/enc-$c" $c
	post "enc-$c" "$P/enc-$c" "$(cat "$P/enc-$c.ct")" "<enc-$c@acme.example>"
	check "encrypted ($c): processed, MIC over the decrypted entity" mic_is "enc-$c" "$(mic_of "$P/entity" sha256), sha-256"
done

# 3b. Interoperability: MIME headers with bare LF, and a base64 body.
{ printf 'Content-Type: application/edi-x12\n\n'; cat "$P/order.edi"; } > "$P/lf-entity"
encrypt_entity "$P/lf-entity" "$P/lf" aes128
post lf "$P/lf" "$(cat "$P/lf.ct")" "<lf-1@acme.example>"
check "MIME headers with LF line ends: processed, MIC over the entity as sent" \
	mic_is lf "$(mic_of "$P/lf-entity" sha256), sha-256"
base64 -w 76 "$P/enc-aes256" > "$P/b64"
code=$(curl -s -o "$P/b64.body" -w '%{http_code}' -H "AS2-Version: 1.2" -H 'AS2-From: "ACME AS2"' \
	-H "AS2-To: EDIGATE" -H "Message-ID: <b64-1@acme.example>" \
	-H "Disposition-Notification-To: mdn@acme.example" -H "Disposition-Notification-Options: $SIGNED_DNO" \
	-H "Content-Type: $(cat "$P/enc-aes256.ct")" -H "Content-Transfer-Encoding: base64" -H "Expect:" \
	--data-binary "@$P/b64" "$URL")
check "Content-Transfer-Encoding base64 on the request: processed" \
	bash -c "test $code = 200 && tr -d '\r' < '$P/b64.body' | grep -q 'MDN-sent-automatically; processed$'"

# 4. Signed, then encrypted.
sign_entity "$P/entity" "$P/se-signed" sha256
{ printf 'Content-Type: %s\r\n\r\n' "$(cat "$P/se-signed.ct")"; cat "$P/se-signed"; } > "$P/se-inner"
encrypt_entity "$P/se-inner" "$P/se" aes256
post se "$P/se" "$(cat "$P/se.ct")" "<se-1@acme.example>"
check "signed+encrypted: processed" bash -c "tr -d '\r' < '$P/se.body' | grep -q 'MDN-sent-automatically; processed$'"
check "signed+encrypted: MIC over the signed entity" mic_is se "$(mic_of "$P/entity" sha256), sha-256"
check "signed+encrypted: MDN signature verifies" verify_mdn se

# 4b. Compressed (RFC 5402): Debian's openssl cannot compress, so the
# peer writes the CMS CompressedData with Python's zlib and hand-made DER
# (RFC 3274): ContentInfo { id-ct-compressedData, [0] { version 0,
# { id-alg-zlibCompress }, { id-data, [0] OCTET STRING zlib } } }.
compress_entity() { # compress_entity IN OUT
	python3 - "$1" "$2" <<'PY' || return 1
import sys, zlib
def der(tag, body):
    n = len(body)
    if n < 128:
        l = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, 'big')
        l = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + l + body
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
    return der(0x06, out)
data = open(sys.argv[1], 'rb').read()
encap = der(0x30, oid('1.2.840.113549.1.7.1') +
            der(0xa0, der(0x04, zlib.compress(data))))
cd = der(0x30, der(0x02, b'\x00') +
         der(0x30, oid('1.2.840.113549.1.9.16.3.8')) + encap)
ci = der(0x30, oid('1.2.840.113549.1.9.16.1.9') + der(0xa0, cd))
open(sys.argv[2], 'wb').write(ci)
PY
	printf 'application/pkcs7-mime; smime-type=compressed-data; name=smime.p7z' > "$2.ct"
}
if command -v python3 >/dev/null; then
	# compressed, then signed: the MIC covers the signed (compressed) entity
	compress_entity "$P/entity" "$P/z"
	{ printf 'Content-Type: %s\r\nContent-Transfer-Encoding: binary\r\n\r\n' "$(cat "$P/z.ct")"; cat "$P/z"; } > "$P/z-entity"
	sign_entity "$P/z-entity" "$P/zs" sha256
	post zs "$P/zs" "$(cat "$P/zs.ct")" "<zs-1@acme.example>"
	check "compressed then signed: processed, MIC over the compressed entity" \
		mic_is zs "$(mic_of "$P/z-entity" sha256), sha-256"
	# signed, then compressed, then encrypted
	compress_entity "$P/se-inner" "$P/sz"
	{ printf 'Content-Type: %s\r\n\r\n' "$(cat "$P/sz.ct")"; cat "$P/sz"; } > "$P/sz-entity"
	encrypt_entity "$P/sz-entity" "$P/sze" aes128
	post sze "$P/sze" "$(cat "$P/sze.ct")" "<sze-1@acme.example>"
	check "signed, compressed, encrypted: processed, MIC over the signed entity" \
		mic_is sze "$(mic_of "$P/entity" sha256), sha-256"
	# compressed only: the MIC covers the decompressed entity
	post zonly "$P/z" "$(cat "$P/z.ct")" "<z-1@acme.example>"
	check "compressed only: processed, MIC over the decompressed entity" \
		mic_is zonly "$(mic_of "$P/entity" sha256), sha-256"
else
	for t in 1 2 3; do skip_one "compressed" "no python3 for the zlib CompressedData writer"; done
fi

before=$(msgs "")
# 5. The same Message-ID again: the same MDN, byte for byte, nothing new.
post se-again "$P/se" "$(cat "$P/se.ct")" "<se-1@acme.example>"
check "duplicate Message-ID: HTTP 200" test "$(cat "$P/se-again.code")" = 200
check "duplicate Message-ID: the original MDN again, byte for byte" cmp -s "$P/se.body" "$P/se-again.body"
check "duplicate Message-ID: no second message stored" test "$(msgs "")" = "$before"

# 6. Negative answers.
sign_entity "$P/entity" "$P/wrong" sha256 "$tmp/stranger.pem" "$tmp/stranger.key"
post wrong "$P/wrong" "$(cat "$P/wrong.ct")" "<wrong-1@acme.example>"
check "wrong signer: negative MDN authentication-failed" \
	bash -c "tr -d '\r' < '$P/wrong.body' | grep -q '^Disposition:.*processed/error: *authentication-failed'"
check "wrong signer: the message is kept as refused" \
	test "$(msgs "AND state='refused'")" -ge 1
cp "$P/signed256" "$P/tampered"
sed -i 's/PO12345/PO99999/' "$P/tampered"
post tampered "$P/tampered" "$(cat "$P/signed256.ct")" "<tampered-1@acme.example>"
check "tampered content: negative MDN integrity-check-failed" \
	bash -c "tr -d '\r' < '$P/tampered.body' | grep -q '^Disposition:.*processed/error: *integrity-check-failed'"
head -c 2000 /dev/urandom > "$P/garbage"
post garbage "$P/garbage" "application/pkcs7-mime; smime-type=enveloped-data" "<garbage-1@acme.example>"
check "garbage as enveloped-data: negative MDN decryption-failed" \
	bash -c "tr -d '\r' < '$P/garbage.body' | grep -q '^Disposition:.*processed/error: *decryption-failed'"
check "garbage: HTTP 200 with the MDN, not a 500" test "$(cat "$P/garbage.code")" = 200
post unknown "$P/signed256" "$(cat "$P/signed256.ct")" "<unknown-1@acme.example>" "ACME AS2" SOMEONE-ELSE
check "unknown AS2-To: negative MDN authentication-failed" \
	bash -c "tr -d '\r' < '$P/unknown.body' | grep -q '^Disposition:.*processed/error: *authentication-failed'"
post nobody "$P/signed256" "$(cat "$P/signed256.ct")" "<nobody-1@acme.example>" "NOBODY" EDIGATE
check "unknown AS2-From: negative MDN authentication-failed" \
	bash -c "tr -d '\r' < '$P/nobody.body' | grep -q '^Disposition:.*processed/error: *authentication-failed'"
post strict-plain "$P/order.edi" "application/edi-x12" "<strict-1@acme.example>" STRICT EDIGATE
check "unencrypted where the profile requires encryption: decryption-failed" \
	bash -c "tr -d '\r' < '$P/strict-plain.body' | grep -q '^Disposition:.*processed/error: *decryption-failed'"
encrypt_entity "$P/entity" "$P/strict-enc" aes256
post strict-enc "$P/strict-enc" "$(cat "$P/strict-enc.ct")" "<strict-2@acme.example>" STRICT EDIGATE
check "encrypted but unsigned where signing is required: authentication-failed" \
	bash -c "tr -d '\r' < '$P/strict-enc.body' | grep -q '^Disposition:.*processed/error: *authentication-failed'"
encrypt_entity "$P/se-inner" "$P/strict-se" aes128
post strict-se "$P/strict-se" "$(cat "$P/strict-se.ct")" "<strict-3@acme.example>" STRICT EDIGATE
check "signed and encrypted for the strict partner: processed" \
	bash -c "tr -d '\r' < '$P/strict-se.body' | grep -q 'MDN-sent-automatically; processed$'"
printf 'Content-Type: multipart/signed; boundary=x\r\n\r\nno parts here' > "$P/malformed"
post malformed "$P/malformed" "multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"x\"" "<malformed-1@acme.example>"
check "malformed MIME: negative MDN unexpected-processing-error" \
	bash -c "tr -d '\r' < '$P/malformed.body' | grep -q '^Disposition:.*processed/error: *unexpected-processing-error'"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "AS2-From: \"ACME AS2\"" -H "AS2-To: EDIGATE" \
	--data-binary @"$P/order.edi" -H "Content-Type: application/edi-x12" "$URL")
check "no Message-ID: 400" test "$code" = 400
head -c 4000000 /dev/zero > "$P/big"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "AS2-From: \"ACME AS2\"" -H "AS2-To: EDIGATE" \
	-H "Message-ID: <big-1@acme.example>" -H "Expect:" -H "Content-Type: application/edi-x12" \
	--data-binary @"$P/big" "$URL")
check "body over max_body_size: 413" test "$code" = 413
check "edigated keeps serving after all of it" curl -sf "http://127.0.0.1:$port/healthz" -o /dev/null
curl -s "http://127.0.0.1:$port/metrics" > "$P/metrics"
check "metrics count received messages by partner and outcome" \
	bash -c "grep -q '^edigate_as2_received_total{partner=\"ACME AS2\",outcome=\"processed\"}' '$P/metrics' && grep -q '^edigate_as2_received_total{partner=\"ACME AS2\",outcome=\"authentication-failed\"} ' '$P/metrics' && grep -q '^edigate_messages_total{direction=\"in\",partner=\"acme\",type=\"x12\"}' '$P/metrics'"

# 7. Asynchronous MDNs, to a loopback receiver: the response is a plain
# 200, the MDN arrives by POST; one receiver starts late, so the first
# attempts fail and the retry delivers.
cat > "$tmp/receiver.py" <<'PY'
import http.server, os, sys
out = sys.argv[2]
count = [0]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        count[0] += 1
        base = os.path.join(out, 'async%d' % count[0])
        open(base + '.body', 'wb').write(body)
        with open(base + '.tmp', 'w') as f:
            for k, v in self.headers.items():
                f.write('%s: %s\n' % (k, v))
        os.rename(base + '.tmp', base + '.hdr')
        self.send_response(200)
        self.send_header('Content-Length', '0')
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), Handler).serve_forever()
PY
start_receiver() { # start_receiver DIR -> $rport
	local try
	mkdir -p "$1"
	for try in 1 2 3 4 5 6 7 8; do
		rport=$((20000 + RANDOM % 20000))
		python3 "$tmp/receiver.py" "$rport" "$1" 2>/dev/null &
		rpid=$!
		sleep 0.3
		if kill -0 "$rpid" 2>/dev/null; then rpids="$rpids $rpid"; return 0; fi
	done
	return 1
}
wait_file() { for i in $(seq 1 100); do [ -f "$1" ] && return 0; sleep 0.1; done; return 1; }
if command -v python3 >/dev/null && start_receiver "$P/r1"; then
	curl -s -o "$P/async.body" -w '%{http_code}' -H "AS2-Version: 1.2" \
		-H 'AS2-From: "ACME AS2"' -H "AS2-To: EDIGATE" -H "Message-ID: <async-1@acme.example>" \
		-H "Disposition-Notification-To: mdn@acme.example" \
		-H "Disposition-Notification-Options: $SIGNED_DNO" \
		-H "Receipt-Delivery-Option: http://127.0.0.1:$rport/mdn" \
		-H "Content-Type: $(cat "$P/signed256.ct")" -H "Expect:" \
		--data-binary "@$P/signed256" "$URL" > "$P/async.code"
	check "async MDN asked: the response is a plain 200" \
		bash -c "test \"\$(cat '$P/async.code')\" = 200 && ! grep -q Disposition '$P/async.body'"
	if wait_file "$P/r1/async1.hdr"; then
		cp "$P/r1/async1.hdr" "$P/a1.hdr"; cp "$P/r1/async1.body" "$P/a1.body"
		check "async MDN: posted to the URL with the right MIC" mic_is a1 "$(mic_of "$P/entity" sha256), sha-256"
		check "async MDN: its signature verifies with openssl" verify_mdn a1
		check "async MDN: addressed to the partner" grep -qi '^AS2-To: "ACME AS2"' "$P/a1.hdr"
	else
		not_ok "async MDN: posted to the URL with the right MIC" "nothing arrived"
		not_ok "async MDN: its signature verifies with openssl"
		not_ok "async MDN: addressed to the partner"
	fi
	# A receiver that is not there yet: the first attempts fail.
	late=$((20000 + RANDOM % 20000))
	curl -s -o /dev/null -H "AS2-Version: 1.2" \
		-H 'AS2-From: "ACME AS2"' -H "AS2-To: EDIGATE" -H "Message-ID: <async-2@acme.example>" \
		-H "Disposition-Notification-To: mdn@acme.example" \
		-H "Receipt-Delivery-Option: http://127.0.0.1:$late/mdn" \
		-H "Content-Type: application/edi-x12" -H "Expect:" \
		--data-binary "@$P/order.edi" "$URL"
	sleep 1
	mkdir -p "$P/r2"
	python3 "$tmp/receiver.py" "$late" "$P/r2" 2>/dev/null &
	rpids="$rpids $!"
	if wait_file "$P/r2/async1.hdr"; then
		ok "async MDN: retried until the receiver answers"
	else
		not_ok "async MDN: retried until the receiver answers"
	fi
	check "async MDN: the delivery is an event of the message" \
		bash -c "sleep 0.5; test \"\$(sqlite3 '$DB' \"SELECT count(*) FROM events WHERE kind='as2.mdn-delivered';\")\" -ge 2"
else
	for t in 1 2 3 4 5 6; do skip_one "async MDN" "no python3 receiver"; done
fi

# 8. The inbound pipeline took the stored 850s: the canonical order is a
# message of its own, and the 997 waits for its transport.
sleep 1
for i in $(seq 1 50); do
	[ "$(sqlite3 "$DB" "SELECT count(*) FROM messages WHERE state='received';")" = 0 ] && break
	sleep 0.1
done
check "every stored AS2 message went through the pipeline" \
	test "$(sqlite3 "$DB" "SELECT count(*) FROM messages WHERE state='received';")" = 0
check "the plain 850 became a canonical order document" \
	test "$(sqlite3 "$DB" "SELECT count(*) FROM messages WHERE message_type='order' AND direction='in';")" -ge 1
check "a 997 was made for the partner" \
	test "$(sqlite3 "$DB" "SELECT count(*) FROM messages WHERE message_type='997' AND direction='out' AND partner='acme';")" -ge 1
ack_hash=$(sqlite3 "$DB" "SELECT payload_hash FROM messages WHERE message_type='997' AND partner='acme' ORDER BY id LIMIT 1;")
ack_file="$tmp/state/spool/${ack_hash:0:2}/${ack_hash:2:2}/$ack_hash"
check "the 997 acknowledges group 101 and set 0001 as accepted" \
	bash -c "tr '~' '\n' < '$ack_file' | grep -qx 'AK1\*PO\*101' && tr '~' '\n' < '$ack_file' | grep -qx 'AK2\*850\*0001' && tr '~' '\n' < '$ack_file' | grep -q '^AK9\*A\*1\*1\*1'"
check "the first message reached state processed" \
	test "$(sqlite3 "$DB" "SELECT state FROM messages WHERE direction='in' AND transport='as2' ORDER BY id LIMIT 1;")" = processed
# The same 850 under other Message-IDs is the same interchange again:
# refused with a TA1 R 025 (duplicate interchange control number).
ta1_hash=$(sqlite3 "$DB" "SELECT payload_hash FROM messages WHERE message_type='TA1' AND partner='acme' ORDER BY id LIMIT 1;")
check "the 850 again under another Message-ID is a duplicate, answered by TA1 025" \
	bash -c "test \"\$(sqlite3 '$DB' \"SELECT count(*) FROM messages WHERE direction='in' AND transport='as2' AND state='duplicate';\")\" -ge 1 &&
		tr '~' '\n' < '$tmp/state/spool/${ta1_hash:0:2}/${ta1_hash:2:2}/$ta1_hash' | grep -qx 'TA1\*000000101\*261123\*0930\*R\*025'"
check "the MDN sent is kept with its message" \
	test "$(sqlite3 "$DB" "SELECT count(*) FROM events WHERE kind='as2.mdn';")" -ge 10

# 9. HTTPS listener, and partners reloaded on SIGHUP.
code=$(curl -s --cacert "$tmp/tls.pem" -o "$P/tls.body" -w '%{http_code}' -H "AS2-Version: 1.2" \
	-H 'AS2-From: "ACME AS2"' -H "AS2-To: EDIGATE" -H "Message-ID: <tls-1@acme.example>" \
	-H "Disposition-Notification-To: mdn@acme.example" -H "Disposition-Notification-Options: $SIGNED_DNO" \
	-H "Content-Type: $(cat "$P/se.ct")" -H "Expect:" --data-binary "@$P/se" \
	"https://127.0.0.1:$tport/as2")
check "over HTTPS: signed+encrypted message processed" \
	bash -c "test $code = 200 && tr -d '\r' < '$P/tls.body' | grep -q 'MDN-sent-automatically; processed$'"
sed -e 's/id="acme"/id="late"/' -e 's/id="ACME AS2"/id="LATE"/' -e 's/isa-id="ACMEBUYER" gs-id="ACMEBUYER"/isa-id="LATE" gs-id="LATE"/' \
	"$tmp/partners/acme.xml" > "$tmp/partners/late.xml"
chmod 644 "$tmp/partners/late.xml"
kill -HUP "$pid"; sleep 0.5
post late "$P/order.edi" "application/edi-x12" "<late-1@acme.example>" LATE EDIGATE ""
check "a partner added and reloaded with SIGHUP is served" \
	bash -c "tr -d '\r' < '$P/late.body' | grep -q 'MDN-sent-automatically; processed$'"
printf '<partner id="broken"' > "$tmp/partners/broken.xml"; chmod 644 "$tmp/partners/broken.xml"
kill -HUP "$pid"; sleep 0.5
post late2 "$P/order.edi" "application/edi-x12" "<late-2@acme.example>" LATE EDIGATE ""
check "a broken profile on SIGHUP is refused with file:line; the running set stays" \
	bash -c "grep -q 'broken.xml:1: ' '$tmp/daemon.log' && tr -d '\r' < '$P/late2.body' | grep -q 'MDN-sent-automatically; processed$'"
rm -f "$tmp/partners/broken.xml"

kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
check "edigated stops cleanly" test "$rc" = 0

# 9. Crash: while a client sends, kill -9 edigated and start it again.
# Every message that got a processed MDN is in the store exactly once and
# is processed exactly once; messages cut short are taken again.
if start_daemon; then
	URL="http://127.0.0.1:$port/as2"
	# Each message is its own order: a fresh ISA13/IEA02 and GS06/GE02,
	# or from the second on it would be refused as a duplicate.
	for i in $(seq 1 40); do
		sed -e "s/000000101/$(printf '%09d' $((5000 + i)))/" \
			-e "s/^\(GS\*.*\*\)101\(\*X\*\)/\1$((5000 + i))\2/" \
			-e "s/^GE\*1\*101~/GE*1*$((5000 + i))~/" "$P/order.edi" >"$P/crash-$i.edi"
	done
	(
		for i in $(seq 1 40); do
			curl -s -m 5 -o "$P/crash-$i.body" -H "AS2-Version: 1.2" \
				-H 'AS2-From: "ACME AS2"' -H "AS2-To: EDIGATE" \
				-H "Message-ID: <crash-$i@acme.example>" \
				-H "Disposition-Notification-To: mdn@acme.example" \
				-H "Content-Type: application/edi-x12" -H "Expect:" \
				--data-binary "@$P/crash-$i.edi" "$URL" 2>/dev/null
		done
	) &
	sender=$!
	sleep 1.5
	kill -KILL "$pid"; wait "$pid" 2>/dev/null; pid=
	wait "$sender"
	start_daemon || true
	for i in $(seq 1 100); do
		[ "$(sqlite3 "$DB" "SELECT count(*) FROM messages WHERE state IN ('received','processing');")" = 0 ] && break
		sleep 0.1
	done
	acked=0 bad=0
	for i in $(seq 1 40); do
		grep -q 'MDN-sent-automatically; processed' "$P/crash-$i.body" 2>/dev/null || continue
		acked=$((acked + 1))
		stored=$(sqlite3 "$DB" "SELECT count(*) FROM events WHERE kind='message.stored' AND detail LIKE '%\"as2_message_id\":\"<crash-$i@acme.example>\"%';")
		id=$(sqlite3 "$DB" "SELECT message_id FROM events WHERE kind='message.stored' AND detail LIKE '%\"as2_message_id\":\"<crash-$i@acme.example>\"%';")
		docs=$(sqlite3 "$DB" "SELECT count(*) FROM events WHERE kind='message.stored' AND detail LIKE '%\"source_message_id\":$id,%';")
		state=$(sqlite3 "$DB" "SELECT state FROM messages WHERE id=${id:-0};")
		[ "$stored" = 1 ] && [ "$docs" = 1 ] && [ "$state" = processed ] || { bad=$((bad + 1)); echo "# crash-$i: stored $stored, documents $docs, state $state"; }
	done
	echo "# $acked of 40 messages got an MDN before the crash"
	check "kill -9 while receiving: some MDNs were returned before the crash" test "$acked" -ge 1
	check "every message with an MDN is stored once, translated once, processed" test "$bad" = 0
	check "after the restart nothing is left received or processing" \
		test "$(sqlite3 "$DB" "SELECT count(*) FROM messages WHERE state IN ('received','processing');")" = 0
	kill -TERM "$pid"; wait "$pid"; pid=
else
	for t in 1 2 3; do skip_one "crash" "edigated did not start again"; done
fi
sed -i 's|file="partner.pem"|file="missing.pem"|' "$tmp/partners/acme.xml"
out=$("$EDIGATED" -t -c "$tmp/edigate.conf" 2>&1); rc=$?
check "edigated -t names the profile line of a certificate it cannot read" \
	bash -c "test $rc = 1 && case \"\$1\" in '$tmp/partners/acme.xml:11: $tmp/partners/missing.pem: '*) true;; *) echo \"# \$1\"; false;; esac" _ "$out"
