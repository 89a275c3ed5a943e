#!/bin/bash
# Two edigated nodes sharing one throwaway PostgreSQL and one spool
# directory, as docs/cluster.md describes, each on its own loopback port
# (the way a load balancer would spread partners over them):
#   a. 850s posted alternately to both nodes are stored once each, each
#      gets one 997, delivered once to the retailer's AS2 server (a Python
#      + openssl peer); the 997 interchange and group numbers the two
#      nodes take never collide;
#   b. one AS2 Message-ID sent to node A, then to node B: B answers A's
#      MDN again, byte for byte, and nothing is processed twice;
#   c. every canonical order reaches the ERP's webhook (a Python receiver)
#      once: one 2xx per idempotency key, none repeated;
#   d. with the ERP hanging, node A is killed (-9) while it holds webhook
#      claims: once the lease is over, node B delivers them, and not
#      before; the ERP still gets every document once.
#   e. deploy/nginx-edigate.conf in front of both nodes (loopback ports
#      put in): with node A dead, partners' messages, a large one too,
#      still get their MDNs from node B (skipped without nginx).
# Prints TAP. Loopback and a Unix socket only; the trap stops everything.
set -u

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
EDIGATED=${EDIGATED:-$top_builddir/gateway/edigated}
src=$(cd "$top_srcdir" && pwd)
here=$src/tests/integration
PLAN=22
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; [ -n "${2:-}" ] && echo "# $2"; }
check() { # check DESCRIPTION COMMAND...
	local d=$1; shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
# is DESCRIPTION GOT EXPECTED: passes when equal, shows both when not
is() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "got $2, expected $3"; fi
}
# wait_for SECONDS COMMAND...: until the command succeeds
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

tmp=$(mktemp -d /tmp/edigate-multinode-XXXXXX)
pgdir=$(mktemp -d /tmp/edigate-pg-XXXXXX)
pids=
pid_a='' pid_b='' port_a='' port_b='' nginx_port=''
cleanup() {
	for p in $pid_a $pid_b $pids; do
		kill -TERM "$p" 2>/dev/null
	done
	sleep 0.2
	for p in $pid_a $pid_b $pids; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	"$here/pg_cluster.sh" stop "$pgdir" >/dev/null 2>&1
	[ -n "${KEEP_TMP:-}" ] && echo "# kept $tmp" || rm -rf "$tmp"
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
mkdir "$tmp/hooks" "$tmp/peer" "$tmp/partners" "$tmp/spool" "$tmp/a" "$tmp/b" \
	"$tmp/out"
# The nodes talk to the cluster's socket, which belongs to its owner:
# as root they stay root (allow_root), which is what owning the spool
# needs too. A real deployment runs them as one service user.
user_line="# not started as root"
[ "$(id -u)" = 0 ] && user_line="allow_root = yes"

# The demo partners with DEMO keys made now; the retailer's AS2 server,
# where the 997s go, is the peer below.
cp "$src"/partners/*.xml "$src/partners/partner.xsd" "$tmp/partners/"
ln -s "$src/maps" "$tmp/maps"
sh "$src/deploy/demo_keys.sh" "$tmp/partners" >/dev/null
keys=$tmp/partners/demo-keys

SECRET=whsec_multinode_0123456789
"$PYTHON" "$here/webhook_receiver.py" "$tmp/hooks" "$SECRET" \
	>/dev/null 2>>"$tmp/receiver.log" &
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

LEASE_S=4
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
lease = ${LEASE_S}s
base_backoff = 200ms
max_backoff = 1s
jitter = 0
max_attempts = 1000
breaker_failures = 1000
CONF
}

start_node() { # start_node NODE -> pid_NODE, port_NODE
	local p port
	for _ in 1 2 3 4 5 6 7 8; do
		port=$((20000 + RANDOM % 20000))
		write_config "$1" "$port"
		"$EDIGATED" -f -c "$tmp/$1/edigate.conf" >/dev/null 2>>"$tmp/$1/log" &
		p=$!
		if wait_for 5 curl -s -o /dev/null "http://127.0.0.1:$port/healthz"; then
			case $1 in
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

if [ -z "$hook_port" ] || [ -z "$peer_port" ] || ! start_node a || ! start_node b; then
	not_ok "two nodes, the ERP receiver and the retailer's AS2 server start"
	sed 's/^/# /' "$tmp/a/log" "$tmp/b/log" "$tmp/receiver.log" "$tmp/peer.log" 2>/dev/null
	for i in $(seq $((n + 1)) $PLAN); do echo "not ok $i - not started"; done
	exit 1
fi
ok "two nodes on one PostgreSQL and one spool, the ERP and the retailer's AS2 server start"

# A lease no longer than a webhook timeout would let a second node send
# a request that is still in flight: refused at start, with file:line.
sed -e 's/^lease = .*/lease = 1s/' "$tmp/a/edigate.conf" > "$tmp/out/short.conf"
sed -i 's/^address = .*/address = 127.0.0.1:1/' "$tmp/out/short.conf"
timeout 10 "$EDIGATED" -f -c "$tmp/out/short.conf" >/dev/null 2>"$tmp/out/short.log"
rc=$?
check "a [delivery] lease not longer than a webhook timeout is refused at start" \
	bash -c "test $rc != 0 && grep -q 'short.conf:[0-9]*: \[delivery\] lease must be longer than the timeout of \[webhook.erp\]' '$tmp/out/short.log'"

# An 850 of its own per number: interchange, group and PO differ, so no
# duplicate-interchange rule can take one for another.
make_850() { # make_850 NUMBER FILE
	local isa; isa=$(printf '%09d' "$1")
	sed -e "s/000000101/$isa/g" -e "s/\*101\*X\*/*$1*X*/" -e "s/^GE\*1\*101~/GE*1*$1~/" \
		-e "s/PO12345/PO$1/" "$src/tests/fixtures/demo/x12_850_order.edi" > "$2"
}
post() { # post NODE NAME FILE MESSAGE-ID [DNO]
	local port=$nginx_port
	case $1 in a) port=$port_a ;; b) port=$port_b ;; esac
	local dno=()
	[ -n "${5:-}" ] && dno=(-H "Disposition-Notification-Options: $5")
	curl -s -m 20 -o "$tmp/out/$2.mdn" -D "$tmp/out/$2.hdr" \
		"http://127.0.0.1:$port/as2" \
		-H 'AS2-Version: 1.2' -H 'AS2-From: ACMERETAIL' -H 'AS2-To: EDIGATEDEMO' \
		-H "Message-ID: $4" -H 'Disposition-Notification-To: edi@acme.example' \
		"${dno[@]}" -H 'Content-Type: application/edi-x12' -H 'Expect:' \
		--data-binary @"$3"
}
processed() { tr -d '\r' < "$tmp/out/$1.mdn" 2>/dev/null | grep -q '^Disposition:.*MDN-sent-automatically; *processed$'; }

# ---- a. alternating messages ------------------------------------------------
N=8
for i in $(seq 1 $N); do
	num=$((1000 + i))
	make_850 $num "$tmp/out/m$i.edi"
	node=a; [ $((i % 2)) = 0 ] && node=b
	post $node "m$i" "$tmp/out/m$i.edi" "<multinode-$i@acme.example>"
done
bad=
for i in $(seq 1 $N); do processed "m$i" || bad="$bad m$i"; done
check "$N messages posted alternately to node A and node B each get a processed MDN" test -z "$bad"
# What AS2 stored: one message.stored event per received message (its
# canonical documents are messages too, without an AS2 Message-ID).
inbound_as2() { sql "SELECT count(*) FROM events WHERE kind = 'message.stored' AND detail LIKE '%\"as2_message_id\"%'"; }
is "each is stored once: $N inbound AS2 messages, $N distinct Message-IDs" \
	"$(inbound_as2)/$(sql "SELECT count(DISTINCT (detail::jsonb)->>'as2_message_id') FROM events WHERE kind = 'message.stored' AND detail LIKE '%\"as2_message_id\"%'")" "$N/$N"
all_done() { test "$(sql "SELECT count(*) FROM messages WHERE direction = 'in' AND transport = 'as2' AND state IN ('received', 'processing')")" = 0; }
wait_for 30 all_done
check "both nodes took part: each node's metrics count its own received messages" \
	bash -c "curl -s http://127.0.0.1:$port_a/metrics | grep -q '^edigate_as2_received_total{partner=\"ACMERETAIL\",outcome=\"processed\"} $((N / 2))\$' &&
		curl -s http://127.0.0.1:$port_b/metrics | grep -q '^edigate_as2_received_total{partner=\"ACMERETAIL\",outcome=\"processed\"} $((N / 2))\$'"

acks_out() { sql "SELECT count(*) FROM messages WHERE direction = 'out' AND message_type = '997' AND partner = 'acme-retail' $1"; }
acks_delivered() { test "$(acks_out "AND state = 'delivered'")" = "$N"; }
wait_for 60 acks_delivered
check "one 997 per message is stored and delivered ($N)" \
	test "$(acks_out "")/$(acks_out "AND state = 'delivered'")" = "$N/$N"
# What the retailer's server decrypted: the group each 997 answers, and
# the interchange and group numbers it carries.
peer_acks() {
	"$PYTHON" - "$tmp/peer" <<'PY'
import glob, os, re, sys
for f in sorted(glob.glob(os.path.join(sys.argv[1], 'req-*.json'))):
    base = f[:-5]
    data = b''
    for ext in ('.content', '.dec'):
        if os.path.exists(base + ext):
            data = open(base + ext, 'rb').read()
            break
    text = data.decode('latin-1')
    text = text[text.find('ISA*'):]
    segs = [s.strip() for s in text.split('~')]
    isa = [s for s in segs if s.startswith('ISA')]
    gs = [s for s in segs if s.startswith('GS*')]
    ak1 = [s for s in segs if s.startswith('AK1*')]
    if isa and gs and ak1:
        print(isa[0].split('*')[13], gs[0].split('*')[6], ak1[0].split('*')[2])
PY
}
peer_acks > "$tmp/out/acks1.txt"
is "the retailer's AS2 server got each 997 once: one per group 1001..$((1000 + N))" \
	"$(cut -d' ' -f3 "$tmp/out/acks1.txt" | sort | tr '\n' ' ')" "$(seq 1001 $((1000 + N)) | tr '\n' ' ')"
ctl_db=$(sql "SELECT count(DISTINCT interchange_control) || '/' || count(DISTINCT group_control) FROM messages WHERE direction = 'out' AND message_type = '997' AND partner = 'acme-retail'")
is "the 997s of both nodes never share an interchange or group control number" \
	"$(cut -d' ' -f1 "$tmp/out/acks1.txt" | sort -u | wc -l)/$(cut -d' ' -f2 "$tmp/out/acks1.txt" | sort -u | wc -l)/$ctl_db" "$N/$N/$N/$N"

# ---- b. one Message-ID, two nodes --------------------------------------------
SIGNED_DNO='signed-receipt-protocol=optional, pkcs7-signature; signed-receipt-micalg=optional, sha-256'
make_850 2001 "$tmp/out/dup.edi"
post a dup-a "$tmp/out/dup.edi" "<multinode-dup@acme.example>" "$SIGNED_DNO"
before=$(inbound_as2)
post b dup-b "$tmp/out/dup.edi" "<multinode-dup@acme.example>" "$SIGNED_DNO"
check "the same Message-ID at node B: node A's signed MDN again, byte for byte" \
	bash -c "grep -q 'MDN-sent-automatically; *processed' '$tmp/out/dup-a.mdn' && cmp -s '$tmp/out/dup-a.mdn' '$tmp/out/dup-b.mdn'"
wait_for 30 all_done
acks_n() { test "$(acks_out "AND state = 'delivered'")" = "$((N + 1))"; }
wait_for 30 acks_n
sleep 1
is "the resend is neither stored nor processed again: one message, one 997 for its group" \
	"$(inbound_as2)/$(acks_out "")/$(peer_acks | grep -c ' 2001$')" "$before/$((N + 1))/1"

# ---- c. webhooks: each document once -------------------------------------------
# erp_report: distinct idempotency keys answered 2xx, 2xx answers,
# 2xx answers to a key already answered 2xx, bad signatures, requests.
erp_report() {
	"$PYTHON" - "$tmp/hooks/requests.jsonl" <<'PY'
import collections, json, sys
ok = collections.Counter()
repeats = bad_sig = total = 0
try:
    lines = open(sys.argv[1]).readlines()
except OSError:
    lines = []
for line in lines:
    r = json.loads(line)
    if r["path"] != "/erp":
        continue
    total += 1
    if 200 <= r["status"] < 300:
        ok[r["headers"].get("idempotency-key", "")] += 1
        repeats += r["repeat"]
    if not r["signature_ok"]:
        bad_sig += 1
print(len(ok), sum(ok.values()), repeats, bad_sig, total)
PY
}
orders_in() { sql "SELECT count(*) FROM messages WHERE direction = 'in' AND message_type = 'order'"; }
want=$((N + 1))
erp_has() { local k; read -r k _ <<<"$(erp_report)"; test "${k:-0}" -ge "$want"; }
wait_for 30 erp_has
read -r keys oks repeats badsig total <<<"$(erp_report)"
is "the ERP got every canonical order ($want) exactly once: one 2xx per idempotency key" \
	"$keys/$oks/$repeats/$(orders_in)" "$want/$want/0/$want"
is "no webhook was sent twice: as many requests as documents, all signed" \
	"$total/$badsig" "$want/0"
is "every webhook delivery is delivered after exactly one claim" \
	"$(sql "SELECT count(*) || '/' || coalesce(max(attempts), 0) FROM deliveries WHERE endpoint = 'webhook:erp' AND state = 'delivered'")" "$want/1"
echo "# webhook claims came from $(sql "SELECT count(DISTINCT (detail::jsonb)->>'worker') FROM events WHERE kind = 'delivery.claimed' AND (detail::jsonb)->>'endpoint' = 'webhook:erp'") worker(s)"

# ---- d. node A dies holding claims -----------------------------------------------
echo '{"/erp": {"hang": 30}}' > "$tmp/hooks/mode.json"
M=6
for i in $(seq 1 $M); do
	make_850 $((3000 + i)) "$tmp/out/c$i.edi"
	node=a; [ $((i % 2)) = 0 ] && node=b
	post $node "c$i" "$tmp/out/c$i.edi" "<multinode-crash-$i@acme.example>"
done
wait_for 30 all_done
# The 997s go out over AS2, which the hanging ERP does not hold up; let
# them finish so the crash below cuts only webhook deliveries short.
acks_all() { test "$(acks_out "AND state = 'delivered'")" = "$((N + 1 + M))"; }
wait_for 60 acks_all
# held_by PID [FRESH_US]: the webhook claims of that node's worker (taken
# within the last FRESH_US: their request is far from its 2 s timeout, so
# the worker cannot give them back before the kill lands).
held_by() {
	sql "SELECT id || ' ' || lease_until_us FROM deliveries WHERE endpoint = 'webhook:erp' AND state = 'claimed' AND claimed_by LIKE 'webhook@%:$1' AND lease_until_us > ${2:+(extract(epoch FROM clock_timestamp()) * 1000000)::bigint + ${LEASE_S}000000 - }${2:-0}" > "$tmp/out/held"
	test -s "$tmp/out/held"
}
if wait_for 30 held_by "$pid_a" 1000000; then
	kill -KILL "$pid_a"
	wait "$pid_a" 2>/dev/null
	# A may have claimed one more between the query and the kill.
	held_by "$pid_a"
	pid_a=''
	ok "node A is killed (-9) while it holds $(wc -l < "$tmp/out/held") webhook claim(s) on a hanging ERP"
else
	not_ok "node A is killed (-9) while it holds webhook claims on a hanging ERP" "A never held one"
	kill -KILL "$pid_a"; wait "$pid_a" 2>/dev/null; pid_a=
	: > "$tmp/out/held"
fi
echo '{}' > "$tmp/hooks/mode.json"
total_want=$((want + M))
crash_delivered() { test "$(sql "SELECT count(*) FROM deliveries WHERE endpoint = 'webhook:erp' AND state = 'delivered'")" = "$total_want"; }
wait_for $((LEASE_S + 30)) crash_delivered
check "node B delivers every pending webhook ($M), also those node A held when it died" \
	test "$(sql "SELECT count(*) FROM deliveries WHERE endpoint = 'webhook:erp' AND state = 'delivered'")" = "$total_want"
# Each delivery A held: B's claim is its last, and B took it only once
# A's lease was over (the ERP's log has when it got the document).
lease_kept() {
	local id until worker t
	[ -s "$tmp/out/held" ] || return 1
	while read -r id until; do
		worker=$(sql "SELECT (detail::jsonb)->>'worker' FROM events WHERE kind = 'delivery.claimed' AND (detail::jsonb)->>'delivery' = '$id' ORDER BY id DESC LIMIT 1")
		case $worker in "webhook@"*":$pid_b") ;; *) echo "# delivery $id last claimed by $worker"; return 1;; esac
		t=$(sql "SELECT min(time_us) FROM events WHERE kind = 'delivery.claimed' AND (detail::jsonb)->>'delivery' = '$id' AND (detail::jsonb)->>'worker' = '$worker' AND time_us >= $until")
		[ -n "$t" ] || { echo "# delivery $id: node B claimed it before A's lease ran out"; return 1; }
		[ -z "$(sql "SELECT 1 FROM events WHERE kind = 'delivery.claimed' AND (detail::jsonb)->>'delivery' = '$id' AND (detail::jsonb)->>'worker' = '$worker' AND time_us < $until AND time_us > $until - ${LEASE_S}000000")" ] ||
			{ echo "# delivery $id: claimed by B while A's lease ran"; return 1; }
	done < "$tmp/out/held"
}
check "what node A held, node B claimed and delivered, only after A's ${LEASE_S}s lease ran out" lease_kept
read -r keys oks repeats badsig total <<<"$(erp_report)"
is "the ERP still got every document exactly once ($total_want keys, one 2xx each)" \
	"$keys/$oks/$repeats" "$total_want/$total_want/0"
check "node B keeps serving" curl -sf -o /dev/null "http://127.0.0.1:$port_b/healthz"

# ---- e. through nginx, node A still dead ------------------------------------------
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
nginx_pid=
start_nginx() { # -> nginx_port (the plain-HTTP AS2 server)
	local p1 p2 p3
	mkdir -p "$tmp/nginx/tls" "$tmp/nginx/temp"
	chmod 1777 "$tmp/nginx/temp"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
		-keyout "$tmp/nginx/tls/k.key" -out "$tmp/nginx/tls/k.pem" >/dev/null 2>&1
	for _ in 1 2 3 4 5 6 7 8; do
		p1=$((20000 + RANDOM % 20000)) p2=$((20000 + RANDOM % 20000)) p3=$((20000 + RANDOM % 20000))
		sed -e "s|listen 443 ssl;|listen 127.0.0.1:$p1 ssl;|" \
			-e "s|listen 80;|listen 127.0.0.1:$p2;|" \
			-e "s|listen 8443 ssl;|listen 127.0.0.1:$p3 ssl;|" \
			-e '/listen \[::\]/d' \
			-e "s|10\.0\.0\.11:[0-9]*|127.0.0.1:$port_a|" \
			-e "s|10\.0\.0\.12:[0-9]*|127.0.0.1:$port_b|" \
			-e "s|/etc/edigate/tls/[^;]*\.pem|$tmp/nginx/tls/k.pem|" \
			-e "s|/etc/edigate/tls/[^;]*\.key|$tmp/nginx/tls/k.key|" \
			-e "s|/var/log/nginx/|$tmp/nginx/|" \
			"$src/deploy/nginx-edigate.conf" > "$tmp/nginx/edigate.conf"
		cat > "$tmp/nginx/nginx.conf" <<CONF
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
daemon off;
events { worker_connections 64; }
worker_processes 1;
http {
    client_body_temp_path $tmp/nginx/temp/body;
    proxy_temp_path $tmp/nginx/temp/proxy;
    fastcgi_temp_path $tmp/nginx/temp/fastcgi;
    uwsgi_temp_path $tmp/nginx/temp/uwsgi;
    scgi_temp_path $tmp/nginx/temp/scgi;
    include $tmp/nginx/edigate.conf;
}
CONF
		"$NGINX" -p "$tmp/nginx/" -e "$tmp/nginx/error.log" -c "$tmp/nginx/nginx.conf" \
			>/dev/null 2>>"$tmp/nginx/start.log" &
		nginx_pid=$!
		if wait_for 5 curl -sf -o /dev/null "http://127.0.0.1:$p2/healthz"; then
			pids="$pids $nginx_pid"
			nginx_port=$p2
			return 0
		fi
		kill -TERM "$nginx_pid" 2>/dev/null
		wait "$nginx_pid" 2>/dev/null
	done
	return 1
}
if [ ! -x "$NGINX" ]; then
	for t in 1 2 3; do n=$((n + 1)); echo "ok $n - through nginx # SKIP no nginx"; done
elif ! start_nginx; then
	not_ok "deploy/nginx-edigate.conf starts in front of the nodes" "$(tail -3 "$tmp/nginx/start.log" "$tmp/nginx/error.log" 2>/dev/null)"
	n=$((n + 2))
	echo "not ok $((n - 1)) - through nginx: not started"
	echo "not ok $n - through nginx: not started"
else
	bad=
	for i in 1 2 3 4; do
		make_850 $((4000 + i)) "$tmp/out/n$i.edi"
		post ng "n$i" "$tmp/out/n$i.edi" "<multinode-nginx-$i@acme.example>"
		processed "n$i" || bad="$bad n$i"
	done
	is "through deploy/nginx-edigate.conf, with node A dead, 4 AS2 messages get processed MDNs" \
		"${bad:-none}" none
	is "nginx passed over the dead node: every answer came from node B" \
		"$(grep -c "POST /as2 .* 200 .*node_status=[0-9, ]*200 " "$tmp/nginx/edigate-as2.log")/$(grep "POST /as2 " "$tmp/nginx/edigate-as2.log" | grep -vc "127.0.0.1:$port_b node_status")" "4/0"
	# A large upload is streamed to the node (proxy_request_buffering
	# off), which answers it: 20 MiB of what is not CMS data gets the
	# node's negative MDN, not an error from nginx.
	head -c $((20 * 1024 * 1024)) /dev/urandom > "$tmp/out/big.bin"
	code=$(curl -s -m 60 -o "$tmp/out/big.mdn" -w '%{http_code}' \
		"http://127.0.0.1:$nginx_port/as2" \
		-H 'AS2-Version: 1.2' -H 'AS2-From: ACMERETAIL' -H 'AS2-To: EDIGATEDEMO' \
		-H 'Message-ID: <multinode-big@acme.example>' \
		-H 'Disposition-Notification-To: edi@acme.example' \
		-H 'Content-Type: application/pkcs7-mime; smime-type=enveloped-data' -H 'Expect:' \
		--data-binary @"$tmp/out/big.bin")
	check "a 20 MiB upload goes through nginx to the node, which answers its MDN" \
		bash -c "test '$code' = 200 && tr -d '\r' < '$tmp/out/big.mdn' | grep -q '^Disposition:.*processed/error: *decryption-failed'"
fi
check "the audit chain written by both nodes is intact" \
	bash -c "'$top_builddir/gateway/edigate' audit verify --store '$url' >/dev/null 2>&1"
[ $n -eq $PLAN ] || echo "# planned $PLAN, ran $n"
