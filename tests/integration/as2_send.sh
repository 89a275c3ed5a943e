#!/bin/bash
# AS2 send against an independent peer: tests/integration/as2_peer.py
# (Python's http.server and the openssl command line) decrypts and
# verifies what edigated posts and answers MDNs it signs with openssl.
# Cases: signed+encrypted sha256/aes256 and sha1/3des, an unsigned MDN,
# a MIC mismatch, a negative disposition, a peer that is down (retries,
# then failed), resend once it is up, an asynchronous MDN to our
# /as2/mdn route, compression, HTTPS with the partner's CA and with a
# CA that does not vouch for it. Prints TAP; loopback only; everything started is
# stopped by the trap.
set -u

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
EDIGATED=${EDIGATED:-$top_builddir/gateway/edigated}
EDIGATE=${EDIGATE:-$top_builddir/gateway/edigate}
PEER=$top_srcdir/tests/integration/as2_peer.py
PLAN=22
n=0
. "${top_srcdir:-.}/tests/integration/tap_lib.sh"

echo "1..$PLAN"
skip_without "as2 send" curl openssl python3
make_tmp

cert() { self_signed "$1" "$1"; } # cert NAME: CN NAME, for 2 days
cert edigate
cert peer

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start_peer() { # start_peer DIR [PORT [TLS-NAME]]: starts a peer, sets peer_port
	mkdir -p "$1"
	rm -f "$1/port"
	python3 "$PEER" --dir "$1" --cert "$tmp/peer.pem" --key "$tmp/peer.key" \
		--sender-cert "$tmp/edigate.pem" --port-file "$1/port" \
		${2:+--port "$2"} \
		${3:+--tls-cert "$tmp/$3.pem" --tls-key "$tmp/$3.key"} \
		2>>"$tmp/peer.log" &
	pids="$pids $!"
	for _ in $(seq 1 50); do
		[ -s "$1/port" ] && break
		sleep 0.1
	done
	peer_port=$(cat "$1/port" 2>/dev/null)
}

# The HTTPS server certificate of the partner, for 127.0.0.1.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 \
	-keyout "$tmp/tlspeer.key" -out "$tmp/tlspeer.pem" >/dev/null 2>&1
start_peer "$tmp/peer-tls" 0 tlspeer
tls_url=https://127.0.0.1:$peer_port/as2
start_peer "$tmp/peer"
url=http://127.0.0.1:$peer_port/as2
http_port=$(free_port)
down_port=$(free_port)

mkdir "$tmp/partners" "$tmp/state"
cp "$top_srcdir/partners/partner.xsd" "$tmp/partners/"
profile() { # profile ID AS2-NAME URL ATTRIBUTES
	cat > "$tmp/partners/$1.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<partner id="$1" name="Test peer $1">
  <identity><x12 isa-qualifier="ZZ" isa-id="$(echo "$1" | tr "[:lower:]" "[:upper:]" | cut -c1-15)" gs-id="PEER"/></identity>
  <messages><message direction="out" standard="x12" version="004010" type="856"/></messages>
  <transport>
    <as2 id="$2" our-id="EDIGATE-TEST" url="$3" $4>
      <their-certificate file="../peer.pem"/>
      <our-certificate file="../edigate.pem" key="../edigate.key"/>
    </as2>
  </transport>
</partner>
XML
}
profile p256 PEER-OK-256 "$url" 'sign="sha256" encrypt="aes256-cbc"'
profile p1 PEER-OK-SHA1 "$url" 'sign="sha1" encrypt="3des"'
profile unsig PEER-UNSIGNED "$url" 'sign="sha-256" encrypt="aes128-cbc"'
profile badmic PEER-BADMIC "$url" 'sign="sha256" encrypt="aes256-cbc"'
profile neg PEER-NEG "$url" 'sign="sha256"'
profile down PEER-DOWN "http://127.0.0.1:$down_port/as2" \
	'sign="sha256" encrypt="aes256-cbc" retry-attempts="3" retry-delay="0.2" retry-max-delay="0.4" timeout="5"'
profile comp PEER-OK-COMP "$url" 'sign="sha256" encrypt="aes256-cbc" compress="true"'
profile tls PEER-OK-TLS "$tls_url" 'sign="sha512" encrypt="aes192-cbc" tls-ca="../tlspeer.pem"'
profile tlsbad PEER-OK-TLSBAD "$tls_url" 'sign="sha256" retry-attempts="1" tls-ca="../peer.pem"'
profile async PEER-ASYNC "$url" \
	"sign=\"sha256\" encrypt=\"aes256-cbc\" request-mdn=\"async\" receipt-url=\"http://127.0.0.1:$http_port/as2/mdn\""

# The CLI and the daemon share the store: the same account runs both.
root_line=
[ "$(id -u)" = 0 ] && root_line="allow_root = yes"
cat > "$tmp/edigate.conf" <<CONF
state_dir = state
partners_dir = partners
workers = 2
$root_line
[listen.main]
address = 127.0.0.1:$http_port
CONF

"$EDIGATED" -f -c "$tmp/edigate.conf" 2>>"$tmp/edigated.log" &
edigated_pid=$!
pids="$pids $edigated_pid"
up=
for _ in $(seq 1 50); do
	curl -s -o /dev/null "http://127.0.0.1:$http_port/healthz" && { up=1; break; }
	sleep 0.1
done
if [ -z "$up" ]; then
	sed 's/^/# /' "$tmp/edigated.log"
	for i in $(seq 1 $PLAN); do echo "not ok $i - edigated did not start"; done
	exit 1
fi

db=$tmp/state/edigate.db
state_of() { # state_of ID
	python3 - "$db" "$1" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=10)
r = c.execute("select state from messages where id=?", (int(sys.argv[2]),)).fetchone()
print(r[0] if r else "")
PY
}
wait_state() { # wait_state ID STATE...: up to 20 s
	local s
	for _ in $(seq 1 200); do
		s=$(state_of "$1")
		for want in "${@:2}"; do
			[ "$s" = "$want" ] && return 0
		done
		sleep 0.1
	done
	echo "# message $1 is '$s', wanted ${*:2}"
	return 1
}
events_of() { # events_of ID: kind and detail, one per line
	python3 - "$db" "$1" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=10)
for k, d in c.execute("select kind, detail from events where message_id=? order by id", (int(sys.argv[2]),)):
    print(k, d)
PY
}
has_event() { # has_event ID KIND PATTERN: an event of KIND whose detail matches
	events_of "$1" | grep "^$2 " | grep -q -- "$3"
}
peer_record() { # peer_record DIR MESSAGE-ID-PREFIX: the JSON of that request
	python3 - "$1" "$2" <<'PY'
import glob, json, sys
for p in sorted(glob.glob(sys.argv[1] + "/req-*.json")):
    r = json.load(open(p))
    if r.get("headers", {}).get("message-id", "").startswith(sys.argv[2]):
        print(json.dumps(r))
PY
}

printf 'ISA*00*          *00*          *ZZ*EDIGATE        *ZZ*PEER           *261123*1200*U*00401*000000101*0*P*>~\nGS*SH*EDIGATE*PEER*20261123*1200*101*X*004010~\nST*856*0001~\nBSN*00*SHIP1*20261123*1200~\nSE*3*0001~\nGE*1*101~\nIEA*1*000000101~\n' > "$tmp/856.edi"
payload_sha=$(openssl dgst -sha256 -r "$tmp/856.edi" | cut -d' ' -f1)

send() { # send PARTNER: prints the message id
	"$EDIGATE" send -c "$tmp/edigate.conf" --partner "$1" --type 856 \
		"$tmp/856.edi" 2>>"$tmp/cli.log"
}

# 1-3: sha256 / aes256-cbc, signed MDN.
id=$(send p256)
check "edigate send queues a message and prints its id" \
	test -n "$id" -a "$(state_of "$id" 2>/dev/null)" != ""
check "signed+encrypted (sha256, aes256-cbc) with a signed MDN is delivered" \
	wait_state "$id" delivered
rec=$(peer_record "$tmp/peer" "<edigate-$id-")
check "the peer decrypted (aes-256-cbc) and verified (sha256) it with openssl and got the payload" \
	python3 -c "
import json,sys; r=json.loads(sys.argv[1])
h=r['headers']
assert r['decrypted'] and r['verified'], r
assert r['cipher']=='aes-256-cbc' and r['digest']=='sha256', r
assert r['payload_sha256']=='$payload_sha'
assert h['as2-version']=='1.2' and h['as2-from']=='EDIGATE-TEST' and h['as2-to']=='PEER-OK-256'
assert 'signed-receipt-micalg=optional, sha256' in h['disposition-notification-options']
assert 'receipt-delivery-option' not in h
" "$rec"

# 4-5: sha1 / 3des.
id1=$(send p1)
check "signed+encrypted (sha1, 3des) is delivered" wait_state "$id1" delivered
rec=$(peer_record "$tmp/peer" "<edigate-$id1-")
check "the peer decrypted (des-ede3-cbc) and verified (sha1) it" \
	python3 -c "
import json,sys; r=json.loads(sys.argv[1])
assert r['decrypted'] and r['verified'], r
assert r['cipher']=='des-ede3-cbc' and r['digest']=='sha1', r
assert r['payload_sha256']=='$payload_sha'
" "$rec"

# 6: unsigned MDN.
idu=$(send unsig)
check "an unsigned MDN with the right MIC is accepted: delivered" \
	wait_state "$idu" delivered
check "the MDN event records that the receipt was not signed and keeps it raw" \
	has_event "$idu" as2.mdn '"raw_mdn":"[0-9a-f]\{64\}".*"signed":false'


# 8: MIC mismatch.
idm=$(send badmic)
check "a MIC mismatch in the MDN gives mdn-failed" wait_state "$idm" mdn-failed
check "the mdn-failed event says MIC mismatch" \
	has_event "$idm" message.state 'MIC mismatch'


# 10: negative disposition.
idn=$(send neg)
check "a negative disposition (processed/error) gives mdn-failed" \
	wait_state "$idn" mdn-failed

# 11-12: the peer is down: retries with backoff, then failed.
idd=$(send down)
check "a peer that is down: retried up to the limit, then failed" \
	wait_state "$idd" failed
three_connect_failures() {
	test "$(events_of "$idd" | grep -c '^as2.attempt-failed ')" = 3 &&
		has_event "$idd" as2.attempt-failed '"class":"connect"'
}
check "three attempts were made, each recorded with its error class (connect)" \
	three_connect_failures


# 13-14: resend once the peer is up.
start_peer "$tmp/peer-down" "$down_port"
"$EDIGATE" resend -c "$tmp/edigate.conf" --by operator-jane "$idd" 2>>"$tmp/cli.log"
check "edigate resend puts the failed message back and it is delivered" \
	wait_state "$idd" delivered
check "the resend is an event naming who asked" \
	has_event "$idd" as2.resend '"by":"operator-jane"'

resend_refused() { # resend_refused ID
	local out rc
	out=$("$EDIGATE" resend -c "$tmp/edigate.conf" "$1" 2>&1)
	rc=$?
	test "$rc" = 1 && echo "$out" | grep -q delivered
}
check "resend refuses a delivered message" resend_refused "$id"

# 16-17: asynchronous MDN to /as2/mdn.
ida=$(send async)
check "with an async MDN requested the message is sent, then delivered when the MDN arrives on /as2/mdn" \
	wait_state "$ida" delivered
rec=$(peer_record "$tmp/peer" "<edigate-$ida-")
check "the request carried Receipt-Delivery-Option with our /as2/mdn URL and the MDN was accepted (200)" \
	python3 -c "
import json,sys,glob
r=json.loads(sys.argv[1])
assert r['headers']['receipt-delivery-option']=='http://127.0.0.1:$http_port/as2/mdn', r
a=json.load(open('$tmp/peer/async-%d.json' % r['n']))
assert a['status']==200, a
" "$rec"

# 18-19: compressed before signing.
idc=$(send comp)
check "compressed, signed and encrypted is delivered" wait_state "$idc" delivered
rec=$(peer_record "$tmp/peer" "<edigate-$idc-")
check "the peer found CompressedData inside the signature, inflated it with zlib and got the payload" \
	python3 -c "
import json,sys; r=json.loads(sys.argv[1])
assert r['decrypted'] and r['verified'] and r['compressed'], r
assert r['payload_sha256']=='$payload_sha', r
" "$rec"

# 20-21: HTTPS.
idt=$(send tls)
check "HTTPS to a partner whose server certificate verifies against tls-ca: delivered (sha512, aes192-cbc)" \
	wait_state "$idt" delivered
idb=$(send tlsbad)
tls_refused() {
	wait_state "$idb" failed && has_event "$idb" as2.attempt-failed '"class":"tls"'
}
check "HTTPS to a server the configured CA does not vouch for is refused (class tls), then failed" \
	tls_refused


metrics_count_sends() {
	local m
	m=$(curl -s "http://127.0.0.1:$http_port/metrics")
	echo "$m" | grep -qx 'edigate_as2_send_total{partner="p256",result="delivered"} 1' &&
		echo "$m" | grep -qx 'edigate_as2_send_total{partner="down",result="retry"} 2' &&
		echo "$m" | grep -qx 'edigate_as2_send_total{partner="badmic",result="mdn-failed"} 1' &&
		echo "$m" | grep -q '^edigate_messages_total{direction="out",partner="p256",type="856"} 1'
}
check "/metrics counts AS2 sends by partner and result" metrics_count_sends

if [ "$n" != "$PLAN" ]; then
	for i in $(seq $((n + 1)) $PLAN); do echo "not ok $i - not reached"; done
fi
# On failure, show what the daemon said.
sed -n '1,400p' "$tmp/edigated.log" | grep -v '"level":"info"' | sed 's/^/# /' | tail -20
