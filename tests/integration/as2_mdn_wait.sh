#!/bin/bash
# The wait for an asynchronous MDN on what we send ([as2] mdn_wait, 3 s
# here): a partner that takes the message and never sends its MDN leaves
# it mdn-failed with an as2.mdn-timeout event, and `edigate resend` sends
# it again; an MDN that comes in time makes it delivered; one that comes
# after the wait still makes it delivered. The partner is the independent
# peer tests/integration/as2_peer.py. Prints TAP; loopback only;
# everything started is stopped by the trap.
set -u

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
EDIGATED=${EDIGATED:-$top_builddir/gateway/edigated}
EDIGATE=${EDIGATE:-$top_builddir/gateway/edigate}
PEER=$top_srcdir/tests/integration/as2_peer.py
PLAN=9
n=0
. "${top_srcdir:-.}/tests/integration/tap_lib.sh"

echo "1..$PLAN"
skip_without "as2 mdn wait" curl openssl python3
make_tmp

cert() { self_signed "$1" "$1"; } # cert NAME: CN NAME, for 2 days
cert edigate
cert peer
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
mkdir -p "$tmp/peer" "$tmp/partners" "$tmp/state"
python3 "$PEER" --dir "$tmp/peer" --cert "$tmp/peer.pem" --key "$tmp/peer.key" \
	--sender-cert "$tmp/edigate.pem" --port-file "$tmp/peer/port" 2>>"$tmp/peer.log" &
pids="$pids $!"
for _ in $(seq 1 50); do [ -s "$tmp/peer/port" ] && break; sleep 0.1; done
url=http://127.0.0.1:$(cat "$tmp/peer/port" 2>/dev/null)/as2
http_port=$(free_port)

cp "$top_srcdir/partners/partner.xsd" "$tmp/partners/"
profile() { # profile ID AS2-NAME
	cat > "$tmp/partners/$1.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<partner id="$1" name="Test peer $1">
  <identity><x12 isa-qualifier="ZZ" isa-id="$(echo "$1" | tr "[:lower:]" "[:upper:]")" gs-id="PEER"/></identity>
  <messages><message direction="out" standard="x12" version="004010" type="856"/></messages>
  <transport>
    <as2 id="$2" our-id="EDIGATE-TEST" url="$url" sign="sha256" encrypt="aes256-cbc"
         request-mdn="async" receipt-url="http://127.0.0.1:$http_port/as2/mdn">
      <their-certificate file="../peer.pem"/>
      <our-certificate file="../edigate.pem" key="../edigate.key"/>
    </as2>
  </transport>
</partner>
XML
}
profile silent PEER-SILENT
profile prompt PEER-ASYNC
profile late PEER-LATE

root_line=
[ "$(id -u)" = 0 ] && root_line="allow_root = yes"
cat > "$tmp/edigate.conf" <<CONF
state_dir = state
partners_dir = partners
workers = 2
$root_line
[as2]
mdn_wait = 3s
[listen.main]
address = 127.0.0.1:$http_port
CONF
"$EDIGATED" -f -c "$tmp/edigate.conf" 2>>"$tmp/edigated.log" &
pids="$pids $!"
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
q() { sqlite3 -cmd ".timeout 10000" "$db" "$1"; }
# How often the message entered STATE (message.state events), so a state
# passed through between two looks still counts.
reached() { # reached ID STATE
	q "select count(*) from events where message_id=$1 and kind='message.state' and detail like '%\"to\":\"$2\"%'"
}
wait_reached() { # wait_reached ID STATE COUNT SECONDS
	local end=$(( $(date +%s) + $4 ))
	while [ "$(date +%s)" -le "$end" ]; do
		[ "$(reached "$1" "$2")" -ge "$3" ] && return 0
		sleep 0.2
	done
	echo "# message $1 entered $2 $(reached "$1" "$2") times, wanted $3"
	return 1
}
count_events() { q "select count(*) from events where message_id=$1 and kind='$2'"; }

printf 'ISA*00*          *00*          *ZZ*EDIGATE        *ZZ*PEER           *261123*1200*U*00401*000000101*0*P*>~\nGS*SH*EDIGATE*PEER*20261123*1200*101*X*004010~\nST*856*0001~\nBSN*00*SHIP1*20261123*1200~\nSE*3*0001~\nGE*1*101~\nIEA*1*000000101~\n' > "$tmp/856.edi"
send() { "$EDIGATE" send -c "$tmp/edigate.conf" --partner "$1" --type 856 "$tmp/856.edi" 2>>"$tmp/cli.log"; }

ids=$(send silent); idp=$(send prompt); idl=$(send late)
check "a message whose partner never sends the MDN is sent and waits" \
	wait_reached "$ids" sent 1 30
check "after mdn_wait (3 s) it is mdn-failed" wait_reached "$ids" mdn-failed 1 30
check "an as2.mdn-timeout event records how long it waited" \
	test "$(q "select count(*) from events where message_id=$ids and kind='as2.mdn-timeout' and detail like '%\"mdn_wait_s\":3%'")" = 1
check "the state change says why" \
	test "$(q "select count(*) from events where message_id=$ids and kind='message.state' and detail like '%no asynchronous MDN within mdn_wait%'")" = 1
check "the log warns about the overdue MDN" grep -q '"as2 MDN overdue: message is mdn-failed"' "$tmp/edigated.log"
"$EDIGATE" resend -c "$tmp/edigate.conf" --by tester "$ids" >/dev/null 2>>"$tmp/cli.log"
check "edigate resend sends it again: posted a second time, then mdn-failed again" \
	bash -c "$(declare -f q reached wait_reached); db='$db'; wait_reached $ids mdn-failed 2 40 && test \"\$(q \"select count(*) from events where message_id=$ids and kind='as2.sent'\")\" = 2"
check "an MDN that comes in time: delivered, never mdn-failed" \
	bash -c "$(declare -f q reached wait_reached); db='$db'; wait_reached $idp delivered 1 30 && test \"\$(reached $idp mdn-failed)\" = 0 && test \"\$(q \"select count(*) from events where message_id=$idp and kind='as2.mdn-timeout'\")\" = 0"
check "an MDN that comes after the wait: first mdn-failed" wait_reached "$idl" mdn-failed 1 30
check "then delivered once the late MDN arrives" wait_reached "$idl" delivered 1 30
