#!/bin/bash
# AS2 certificates during a rotation, and their expiry: a partner whose
# profile lists an old certificate (openssl req -days 10) and a new one
# (-days 400, issued a little later) on both sides. edigated must expose
# every certificate's expiry on /metrics, warn in its log about the ones
# that expire within 30 days, accept messages signed with and encrypted to
# either, sign its MDNs and its own messages with our newest, encrypt to
# the partner's newest (checked by an independent peer,
# tests/integration/as2_peer.py, that only holds the new keys), and on
# SIGHUP follow the profile and the warning period. Prints TAP; loopback
# only; everything started is stopped by the trap.
set -u

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
EDIGATED=${EDIGATED:-$top_builddir/gateway/edigated}
EDIGATE=${EDIGATE:-$top_builddir/gateway/edigate}
PEER=$top_srcdir/tests/integration/as2_peer.py
PLAN=16
n=0
. "${top_srcdir:-.}/tests/integration/tap_lib.sh"
# not_ok DESCRIPTION [WHY]: with a diagnostic line.
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; [ -n "${2:-}" ] && echo "# $2"; }

echo "1..$PLAN"
skip_without "as2 certificates" curl openssl python3 sqlite3
make_tmp
chmod 755 "$tmp"
mkdir -p "$tmp/state" "$tmp/partners" "$tmp/p"

cert() { # cert NAME CN DAYS
	openssl req -x509 -newkey rsa:2048 -nodes -days "$3" -subj "/CN=$2" \
		-keyout "$tmp/partners/$1.key" -out "$tmp/partners/$1.pem" >/dev/null 2>&1
}
# The old pair first; the new ones start at least a second later, so
# "newest" (the latest notBefore) is well defined.
cert theirs-old "ACME AS2" 10
cert ours-old "EDIGATE AS2" 10
sleep 1.1
cert theirs-new "ACME AS2" 400
cert ours-new "EDIGATE AS2" 400
chmod 644 "$tmp"/partners/*
fp() { openssl x509 -in "$tmp/partners/$1.pem" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f; }
serial() { openssl x509 -in "$tmp/partners/$1.pem" -noout -serial | sed 's/.*=//'; }

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# The partner's AS2 server holds only its new key and checks our
# signatures against our new certificate only.
mkdir -p "$tmp/peer"
python3 "$PEER" --dir "$tmp/peer" --cert "$tmp/partners/theirs-new.pem" \
	--key "$tmp/partners/theirs-new.key" --sender-cert "$tmp/partners/ours-new.pem" \
	--port-file "$tmp/peer/port" 2>>"$tmp/peer.log" &
pids="$pids $!"
for _ in $(seq 1 50); do [ -s "$tmp/peer/port" ] && break; sleep 0.1; done
peer_port=$(cat "$tmp/peer/port" 2>/dev/null)

cp "$top_srcdir/partners/partner.xsd" "$tmp/partners/"
profile() { # profile "with-old"|"": the old certificates listed too
	cat > "$tmp/partners/acme.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<partner id="acme" name="ACME during a certificate rotation">
  <identity><x12 isa-qualifier="ZZ" isa-id="ACME" gs-id="ACME"/></identity>
  <messages>
    <message direction="in" standard="x12" version="004010" type="850"/>
    <message direction="out" standard="x12" version="004010" type="856"/>
  </messages>
  <acknowledgment type="none"/>
  <transport>
    <as2 id="ACME AS2" our-id="EDIGATE" require-signed="true" require-encrypted="true"
         url="http://127.0.0.1:$peer_port/as2" sign="sha256" encrypt="aes256-cbc">
      $([ -n "$1" ] && echo '<their-certificate file="theirs-old.pem"/>')
      <their-certificate file="theirs-new.pem"/>
      $([ -n "$1" ] && echo '<our-certificate file="ours-old.pem" key="ours-old.key"/>')
      <our-certificate file="ours-new.pem" key="ours-new.key"/>
    </as2>
  </transport>
</partner>
XML
	chmod 644 "$tmp/partners/acme.xml"
}
profile with-old

port=$(free_port)
root_line=
[ "$(id -u)" = 0 ] && root_line="allow_root = yes"
conf() { # conf WARNING-DAYS
	cat > "$tmp/edigate.conf" <<CONF
state_dir = state
partners_dir = partners
maps_dir = $(cd "$top_srcdir" && pwd)/maps
workers = 2
$root_line
[as2]
certificate_warning_days = $1
[listen.main]
address = 127.0.0.1:$port
CONF
}
conf 30
"$EDIGATED" -f -c "$tmp/edigate.conf" 2>>"$tmp/edigated.log" &
dpid=$!
pids="$pids $dpid"
up=
for _ in $(seq 1 50); do
	curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && { up=1; break; }
	sleep 0.1
done
if [ -z "$up" ]; then
	sed 's/^/# /' "$tmp/edigated.log"
	for i in $(seq 1 $PLAN); do echo "not ok $i - edigated did not start"; done
	exit 1
fi

metric() { # metric FILE: the edigate_certificate_expiry_seconds lines
	curl -s "http://127.0.0.1:$port/metrics" | grep '^edigate_certificate_expiry_seconds{' > "$1"
}
value_of() { # value_of FILE NAME: the gauge of that certificate's fingerprint
	grep "fingerprint=\"$(fp "$2")\"" "$1" | head -1 | awk '{ printf "%d", $NF }'
}
between() { [ -n "$1" ] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }

metric "$tmp/m1"
check "/metrics has one expiry gauge per certificate (4)" test "$(wc -l < "$tmp/m1")" = 4
v=$(value_of "$tmp/m1" theirs-old)
check "the partner's 10-day certificate expires in 9 to 10 days ($v s)" between "$v" $((9 * 86400)) $((10 * 86400))
v=$(value_of "$tmp/m1" ours-new)
check "our 400-day certificate expires in 399 to 400 days ($v s)" between "$v" $((399 * 86400)) $((400 * 86400))
check "the gauge names partner, role, file and serial" \
	grep -q "partner=\"acme\",role=\"ours\",file=\"[^\"]*ours-old.pem\",serial=\"$(serial ours-old)\"" "$tmp/m1"

warned() { grep '"certificate expires soon"' "$tmp/edigated.log" | grep -c "$1"; }
check "a warning at start for each certificate expiring within 30 days" \
	test "$(warned "$(fp theirs-old)")" = 1 -a "$(warned "$(fp ours-old)")" = 1
check "no warning for the 400-day certificates" \
	test "$(warned "$(fp theirs-new)")" = 0 -a "$(warned "$(fp ours-new)")" = 0

# Incoming: a message signed with one of the partner's keys and encrypted
# to one of our certificates.
printf 'ISA*00*          *00*          *ZZ*ACME           *ZZ*EDIGATE        *261123*1200*U*00401*000000101*0*P*>~GS*PO*ACME*EDIGATE*20261123*1200*101*X*004010~ST*850*0001~BEG*00*SA*PO1**20261123~SE*3*0001~GE*1*101~IEA*1*000000101~' > "$tmp/p/order.edi"
{ printf 'Content-Type: application/edi-x12\r\n\r\n'; cat "$tmp/p/order.edi"; } > "$tmp/p/entity"
incoming() { # incoming NAME SIGNER RECIPIENT -> $tmp/p/NAME.{code,hdr,body}
	local b="b-$1"
	openssl cms -sign -binary -md sha256 -in "$tmp/p/entity" -signer "$tmp/partners/$2.pem" \
		-inkey "$tmp/partners/$2.key" -outform DER -out "$tmp/p/$1.sig" 2>/dev/null
	{
		printf 'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="%s"\r\n\r\n' "$b"
		printf -- '--%s\r\n' "$b"; cat "$tmp/p/entity"; printf '\r\n--%s\r\n' "$b"
		printf 'Content-Type: application/pkcs7-signature\r\nContent-Transfer-Encoding: base64\r\n\r\n'
		base64 -w 76 "$tmp/p/$1.sig" | sed 's/$/\r/'
		printf -- '--%s--\r\n' "$b"
	} > "$tmp/p/$1.inner"
	openssl cms -encrypt -binary -aes256 -in "$tmp/p/$1.inner" -outform DER \
		-out "$tmp/p/$1.p7m" "$tmp/partners/$3.pem" 2>/dev/null
	curl -s -o "$tmp/p/$1.body" -D "$tmp/p/$1.hdr" -w '%{http_code}' \
		-H "AS2-Version: 1.2" -H 'AS2-From: "ACME AS2"' -H "AS2-To: EDIGATE" \
		-H "Message-ID: <$1-$$@acme.example>" -H "Disposition-Notification-To: mdn@acme.example" \
		-H "Disposition-Notification-Options: signed-receipt-protocol=optional, pkcs7-signature; signed-receipt-micalg=optional, sha-256" \
		-H "Content-Type: application/pkcs7-mime; smime-type=enveloped-data" -H "Expect:" \
		--data-binary "@$tmp/p/$1.p7m" "http://127.0.0.1:$port/as2" > "$tmp/p/$1.code"
}
processed() { tr -d '\r' < "$tmp/p/$1.body" | grep -qi '^Disposition:.*; *processed$'; }
# The MDN's signer certificate (openssl pulls it out of the signature).
mdn_signer_fp() { # mdn_signer_fp NAME
	python3 - "$tmp/p/$1.body" "$tmp/p/$1.hdr" "$tmp/p/$1" <<'PY' || return 1
import base64, re, sys
body = open(sys.argv[1], 'rb').read()
ct = [l for l in open(sys.argv[2], 'rb').read().split(b'\r\n') if l.lower().startswith(b'content-type:')][0]
b = re.search(rb'boundary="?([^";]+)', ct).group(1)
parts = body.split(b'\r\n--' + b)
sig = parts[1][parts[1].index(b'\r\n\r\n') + 4:]
open(sys.argv[3] + '.mdnsig', 'wb').write(base64.b64decode(sig))
PY
	openssl pkcs7 -inform DER -in "$tmp/p/$1.mdnsig" -print_certs 2>/dev/null |
		openssl x509 -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f
}

incoming old theirs-old ours-old
check "signed with the partner's old key, encrypted to our old certificate: processed" \
	processed old
incoming new theirs-new ours-new
check "signed with the partner's new key, encrypted to our new certificate: processed" \
	processed new
incoming mixed theirs-old ours-new
check "old signature, new encryption certificate: processed" processed mixed
check "the MDN is signed with our newest valid certificate" \
	test "$(mdn_signer_fp old)" = "$(fp ours-new)"
openssl req -x509 -newkey rsa:2048 -nodes -days 400 -subj "/CN=ACME AS2" \
	-keyout "$tmp/p/stranger.key" -out "$tmp/p/stranger.pem" >/dev/null 2>&1
cp "$tmp/p/stranger.pem" "$tmp/p/stranger.key" "$tmp/partners/"
incoming stranger stranger ours-new
check "a key not in the profile is refused (integrity or authentication failure)" \
	bash -c "tr -d '\r' < '$tmp/p/stranger.body' | grep -qi '^Disposition:.*error'"
rm -f "$tmp/partners/stranger.pem" "$tmp/partners/stranger.key"

# Outgoing: the peer only has the partner's new key and our new
# certificate; delivered means we encrypted to theirs-new and signed
# with ours-new.
printf 'ISA*00*          *00*          *ZZ*EDIGATE        *ZZ*ACME           *261123*1200*U*00401*000000102*0*P*>~GS*SH*EDIGATE*ACME*20261123*1200*102*X*004010~ST*856*0001~BSN*00*SHIP1*20261123*1200~SE*3*0001~GE*1*102~IEA*1*000000102~' > "$tmp/p/856.edi"
id=$("$EDIGATE" send -c "$tmp/edigate.conf" --partner acme --type 856 "$tmp/p/856.edi" 2>>"$tmp/cli.log")
state_of() {
	sqlite3 "$tmp/state/edigate.db" "SELECT state FROM messages WHERE id=${1:-0};" 2>/dev/null
}
delivered() {
	for _ in $(seq 1 200); do
		[ "$(state_of "$1")" = delivered ] && return 0
		sleep 0.1
	done
	echo "# message $1 is $(state_of "$1")"; return 1
}
check "outgoing: encrypted to the partner's newest and signed with our newest, delivered" \
	delivered "$id"
check "the peer decrypted and verified it with the new keys only" \
	bash -c "grep -l '\"decrypted\": true' '$tmp'/peer/req-*.json | xargs grep -l '\"verified\": true' | grep -q ."

# Reload: the old certificates leave the profile, the warning period
# grows past 400 days.
profile ''
conf 500
kill -HUP "$dpid"
gone=
for _ in $(seq 1 50); do
	metric "$tmp/m2"
	[ "$(wc -l < "$tmp/m2")" = 2 ] && { gone=1; break; }
	sleep 0.1
done
check "after SIGHUP the gauges follow the profile (2 certificates)" test -n "$gone"
check "after SIGHUP the check runs with the new period: the 400-day certificates are warned about" \
	test "$(warned "$(fp theirs-new)")" = 1 -a "$(warned "$(fp ours-new)")" = 1
check "edigated still answers after the reload" \
	curl -sf -o /dev/null "http://127.0.0.1:$port/healthz"
