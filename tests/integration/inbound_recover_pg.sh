#!/bin/bash
# An inbound message cut short mid-processing on a node sharing one
# throwaway PostgreSQL (docs/cluster.md, recover.h):
#   1. node A claims an 850 and stops inside the pipeline (the fault
#      injection EDIGATE_TEST_INBOUND_STALL), and is killed (-9) there;
#   2. node B, on the same store and spool, leaves it alone while A's
#      claim runs, then its recovery sweep hands it back to "received"
#      (event reason "lease expired", naming A) and runs it;
#   3. it ends "processed" exactly once: one 997 stored and delivered to
#      the retailer's AS2 server once, one canonical order, one ERP
#      webhook;
#   4. `edigate store requeue` refuses a live claim, --force takes it.
# Prints TAP. Loopback only; the trap stops everything it started.
set -u

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
EDIGATED=${EDIGATED:-$top_builddir/gateway/edigated}
EDIGATE=${EDIGATE:-$top_builddir/gateway/edigate}
EDIGATED=$(cd "$(dirname "$EDIGATED")" && pwd)/$(basename "$EDIGATED")
EDIGATE=$(cd "$(dirname "$EDIGATE")" && pwd)/$(basename "$EDIGATE")
src=$(cd "$top_srcdir" && pwd)
here=$src/tests/integration
PLAN=11
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; [ -n "${2:-}" ] && echo "# $2"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
is() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "got $2, expected $3"; fi; }
wait_for() {
	local end=$((SECONDS + $1)); shift
	until "$@"; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.2
	done
}

for tool in curl python3 openssl psql; do
	if ! command -v $tool >/dev/null; then
		echo "1..0 # SKIP no $tool"
		exit 0
	fi
done
PYTHON=$(command -v python3)

tmp=$(mktemp -d /tmp/edigate-recover-XXXXXX)
pgdir=$(mktemp -d /tmp/edigate-pg-XXXXXX)
pids=
pid_a='' pid_b='' port_a='' port_b=''
cleanup() {
	for p in $pid_a $pid_b $pids; do kill -TERM "$p" 2>/dev/null; done
	sleep 0.2
	for p in $pid_a $pid_b $pids; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	"$here/pg_cluster.sh" stop "$pgdir" >/dev/null 2>&1
	if [ -n "${KEEP_TMP:-}" ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

url=$("$here/pg_cluster.sh" start "$pgdir" 2>"$tmp/pg.log")
rc=$?
if [ $rc = 77 ]; then
	echo "1..0 # SKIP $(head -1 "$tmp/pg.log")"
	exit 0
fi
echo "1..$PLAN"
if [ $rc != 0 ]; then
	not_ok "a throwaway PostgreSQL starts" "$(tail -3 "$tmp/pg.log")"
	for i in $(seq $((n + 1)) $PLAN); do echo "not ok $i - not started"; done
	exit 1
fi
sql() { psql -X -q -A -t -v ON_ERROR_STOP=1 "$url" -c "$1" 2>>"$tmp/psql.log"; }

chmod 755 "$tmp"
mkdir "$tmp/hooks" "$tmp/peer" "$tmp/partners" "$tmp/spool" "$tmp/a" "$tmp/b" "$tmp/out"
user_line="# not started as root"
[ "$(id -u)" = 0 ] && user_line="allow_root = yes"
cp "$src"/partners/*.xml "$src/partners/partner.xsd" "$tmp/partners/"
ln -s "$src/maps" "$tmp/maps"
sh "$src/deploy/demo_keys.sh" "$tmp/partners" >/dev/null
keys=$tmp/partners/demo-keys

SECRET=whsec_recover_0123456789
"$PYTHON" "$here/webhook_receiver.py" "$tmp/hooks" "$SECRET" >/dev/null 2>>"$tmp/receiver.log" &
pids="$pids $!"
echo '{}' > "$tmp/hooks/mode.json"
"$PYTHON" "$here/as2_peer.py" --dir "$tmp/peer" \
	--cert "$keys/acme-retail.pem" --key "$keys/acme-retail.key" \
	--sender-cert "$keys/edigate-demo.pem" --port-file "$tmp/peer.port" \
	>/dev/null 2>>"$tmp/peer.log" &
pids="$pids $!"
wait_for 10 test -s "$tmp/hooks/port"
wait_for 10 test -s "$tmp/peer.port"
hook_port=$(cat "$tmp/hooks/port" 2>/dev/null)
peer_port=$(cat "$tmp/peer.port" 2>/dev/null)
sed -i "s|url=\"http://127.0.0.1:[0-9]*/as2\"|url=\"http://127.0.0.1:$peer_port/as2\"|" \
	"$tmp/partners/acme-retail.xml"
chmod -R a+rX "$tmp/partners"

# The lease must outlast the steps between A's claim and the requeue
# check (a kill, a few queries): longer under the sanitizers, which
# slow every process start.
CLAIM_LEASE_S=4
if nm "$EDIGATED" 2>/dev/null | grep -q __asan_init; then
	CLAIM_LEASE_S=10
fi
recovery_interval=1s
write_config() { # write_config NODE PORT
	cat > "$tmp/$1/edigate.conf" <<CONF
state_dir = $tmp/$1
$user_line
maps_dir = $src/maps
partners_dir = $tmp/partners
workers = 2

[store]
url = $url
spool_dir = $tmp/spool

[listen.as2]
address = 127.0.0.1:$2

[webhook.erp]
url = http://127.0.0.1:$hook_port/erp
secret = $SECRET
timeout = 2s

[delivery]
poll = 100ms
lease = 4s
base_backoff = 200ms
max_backoff = 1s
jitter = 0

[recovery]
interval = $recovery_interval
lease = ${CLAIM_LEASE_S}s
CONF
}
start_node() { # start_node NODE [ENV=VALUE] -> pid_NODE, port_NODE
	local p port node=$1
	shift
	for _ in 1 2 3 4 5 6 7 8; do
		port=$((20000 + RANDOM % 20000))
		write_config "$node" "$port"
		env "$@" "$EDIGATED" -f -c "$tmp/$node/edigate.conf" >/dev/null 2>>"$tmp/$node/log" &
		p=$!
		if wait_for 5 curl -s -o /dev/null "http://127.0.0.1:$port/healthz"; then
			case $node in
			a) pid_a=$p port_a=$port ;;
			b) pid_b=$p port_b=$port ;;
			esac
			return 0
		fi
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	return 1
}
post() { # post PORT NAME FILE MESSAGE-ID
	curl -s -m 20 -o "$tmp/out/$2.mdn" "http://127.0.0.1:$1/as2" \
		-H 'AS2-Version: 1.2' -H 'AS2-From: ACMERETAIL' -H 'AS2-To: EDIGATEDEMO' \
		-H "Message-ID: $4" -H 'Disposition-Notification-To: edi@acme.example' \
		-H 'Content-Type: application/edi-x12' -H 'Expect:' --data-binary @"$3"
}

if [ -z "$hook_port" ] || [ -z "$peer_port" ] || ! start_node a EDIGATE_TEST_INBOUND_STALL=60; then
	not_ok "node A, the ERP receiver and the retailer's AS2 server start"
	sed 's/^/# /' "$tmp/a/log" "$tmp/receiver.log" "$tmp/peer.log" 2>/dev/null
	for i in $(seq $((n + 1)) $PLAN); do echo "not ok $i - not started"; done
	exit 1
fi
ok "node A (stopping inside the pipeline), the ERP and the retailer's AS2 server start"

# ---- 1. A claims the 850 and dies there -----------------------------------
cp "$src/tests/fixtures/demo/x12_850_order.edi" "$tmp/out/order.edi"
post "$port_a" order "$tmp/out/order.edi" "<recover-1@acme.example>"
msg() { sql "SELECT id FROM messages WHERE direction = 'in' AND transport = 'as2' ORDER BY id LIMIT 1"; }
claimed() { test "$(sql "SELECT state FROM messages WHERE direction = 'in' AND transport = 'as2'")" = processing; }
wait_for 20 claimed
id=$(msg)
owner=$(sql "SELECT claim_owner FROM messages WHERE id = ${id:-0}")
case $owner in *":$pid_a:"*) a_owns=1 ;; *) a_owns=0 ;; esac
kill -KILL "$pid_a"
wait "$pid_a" 2>/dev/null
pid_a=''
is "node A claimed the message (owner host:pid:start) and was killed (-9) in the pipeline" \
	"$(sql "SELECT state FROM messages WHERE id = ${id:-0}")/$a_owns" "processing/1"

# ---- 4 (first half). requeue refuses a claim whose lease still runs ----------
"$EDIGATE" store requeue --store "$url" "${id:-0}" >/dev/null 2>"$tmp/out/requeue.err"
rc=$?
check "edigate store requeue refuses while node A's claim runs" \
	bash -c "test $rc = 2 && grep -q 'claimed by' '$tmp/out/requeue.err'"

# ---- 2. node B takes it over once the lease ran out -----------------------------
# B starts without a sweep, and gets one by SIGHUP: [recovery] is read
# again on a reload.
recovery_interval=off
start_node b
done_state() { sql "SELECT state FROM messages WHERE id = ${id:-0}" | grep -qx processed; }
sleep $((CLAIM_LEASE_S + 2))
is "node B without a sweep leaves the expired claim alone" \
	"$(sql "SELECT state FROM messages WHERE id = ${id:-0}")" processing
recovery_interval=1s
write_config b "$port_b"
kill -HUP "$pid_b"
wait_for $((CLAIM_LEASE_S + 30)) done_state
is "node B's sweep hands it back and it ends processed" \
	"$(sql "SELECT state FROM messages WHERE id = ${id:-0}")" processed
release=$(sql "SELECT detail FROM events WHERE message_id = ${id:-0} AND kind = 'message.state' AND (detail::jsonb)->>'to' = 'received' AND (detail::jsonb)->>'reason' = 'lease expired' AND (detail::jsonb)->>'owner' = '$owner'" | wc -l)
is "one release event: reason \"lease expired\", naming node A's claim" "$release" 1
claimed_b=$(sql "SELECT count(*) FROM events WHERE message_id = ${id:-0} AND kind = 'message.state' AND (detail::jsonb)->>'to' = 'processing' AND (detail::jsonb)->>'owner' LIKE '%:$pid_b:%'")
is "node B claimed it once, after the release" "$claimed_b" 1

# ---- 3. exactly once ------------------------------------------------------------
acks() { sql "SELECT count(*) || '/' || count(*) FILTER (WHERE state = 'delivered') FROM messages WHERE direction = 'out' AND message_type = '997'"; }
acks_ok() { test "$(acks)" = "1/1"; }
wait_for 30 acks_ok
is "one 997 is stored and delivered" "$(acks)" "1/1"
# One request to the peer: req-N.json with its decrypted .dec/.content.
peer_997s() { grep -l 'AK1\*' "$tmp/peer"/req-*.content "$tmp/peer"/req-*.dec 2>/dev/null | sed 's/\.[a-z]*$//' | sort -u | wc -l; }
sleep 1
is "the retailer's AS2 server got one 997" "$(peer_997s)" 1
erp() {
	"$PYTHON" - "$tmp/hooks/requests.jsonl" <<'PY'
import collections, json, sys
ok = collections.Counter()
try:
    lines = open(sys.argv[1]).readlines()
except OSError:
    lines = []
for line in lines:
    r = json.loads(line)
    if r["path"] == "/erp" and 200 <= r["status"] < 300:
        ok[r["headers"].get("idempotency-key", "")] += 1
print(len(ok), sum(ok.values()))
PY
}
erp_one() { test "$(erp)" = "1 1"; }
wait_for 20 erp_one
sleep 1
is "one canonical order, one ERP webhook" \
	"$(sql "SELECT count(*) FROM messages WHERE direction = 'in' AND message_type = 'order'")/$(erp)" "1/1 1"

# ---- 4 (second half). --force hands back a live claim ------------------------------
# A message claimed by a node that is gone for good, with a long lease.
sql "UPDATE messages SET state = 'processing', claim_owner = 'gone:1:1', claim_until_us = 9000000000000000 WHERE id = ${id:-0}" >/dev/null
kill -TERM "$pid_b"; wait "$pid_b" 2>/dev/null; pid_b=''
"$EDIGATE" store requeue --store "$url" --force "${id:-0}" > "$tmp/out/requeue.out" 2>&1
rc=$?
check "edigate store requeue --force hands it back to received" \
	bash -c "test $rc = 0 && grep -q 'is received again (was claimed by gone:1:1)' '$tmp/out/requeue.out' && test \"\$(psql -X -q -A -t '$url' -c 'SELECT state FROM messages WHERE id = ${id:-0}')\" = received"
