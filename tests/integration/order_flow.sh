#!/bin/bash
# The README's walk-through as a test: the demo retailer sends an 850 by
# AS2 (curl as the partner); edigated answers the MDN, sends the 997 back
# to the retailer's own AS2 server (a Python + openssl peer that decrypts
# and verifies it independently) and posts the canonical order to the
# ERP's webhook (a Python receiver that checks the HMAC itself), all with
# one correlation id. Prints TAP. Loopback only; the trap stops everything.
set -u

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
EDIGATED=${EDIGATED:-$top_builddir/gateway/edigated}
EDIGATE=${EDIGATE:-$top_builddir/gateway/edigate}
src=$(cd "$top_srcdir" && pwd)
PLAN=9
n=0
. "${top_srcdir:-.}/tests/integration/tap_lib.sh"

echo "1..$PLAN"
skip_without "order flow" curl python3 openssl
PYTHON=$(command -v python3)
make_tmp
chmod 755 "$tmp"
mkdir "$tmp/state" "$tmp/hooks" "$tmp/peer" "$tmp/partners"
user_line="# not started as root"
if [ "$(id -u)" = 0 ]; then
	user_line="user = nobody"
	chown nobody "$tmp/state"
fi

# The demo partners, with DEMO keys made now; the retailer's AS2 server is
# the peer below, on a port chosen when it starts.
cp "$src"/partners/*.xml "$src/partners/partner.xsd" "$tmp/partners/"
ln -s "$src/maps" "$tmp/maps"
sh "$src/deploy/demo_keys.sh" "$tmp/partners" >/dev/null
keys=$tmp/partners/demo-keys

SECRET=whsec_order_flow_0123456789
"$PYTHON" "$src/tests/integration/webhook_receiver.py" "$tmp/hooks" \
	"$SECRET" >/dev/null 2>>"$tmp/receiver.log" &
pids="$pids $!"
echo '{}' > "$tmp/hooks/mode.json"
"$PYTHON" "$src/tests/integration/as2_peer.py" --dir "$tmp/peer" \
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

write_config() { # write_config AS2_PORT
	cat > "$tmp/edigate.conf" <<CONF
state_dir = state
$user_line
maps_dir = $src/maps
partners_dir = $tmp/partners

[listen.as2-plain]
address = 127.0.0.1:$1

[webhook.erp]
url = http://127.0.0.1:$hook_port/erp
secret = $SECRET
timeout = 5s

[delivery]
poll = 100ms
CONF
	chmod 644 "$tmp/edigate.conf"
}

start_daemon() { start_edigated write_config && as2_port=$port; }

if [ -z "$hook_port" ] || [ -z "$peer_port" ] || ! start_daemon; then
	not_ok "edigated, the ERP receiver and the retailer's AS2 server start"
	sed 's/^/# /' "$tmp/log" "$tmp/receiver.log" "$tmp/peer.log" 2>/dev/null
	for i in $(seq $((n + 1)) $PLAN); do echo "not ok $i - not started"; done
	exit 1
fi
ok "edigated, the ERP receiver and the retailer's AS2 server start"

# 1. The retailer sends its 850, unsigned (its demo profile allows it).
curl -s -o "$tmp/mdn" -D "$tmp/mdn.h" "http://127.0.0.1:$as2_port/as2" \
	-H 'AS2-Version: 1.2' -H 'AS2-From: ACMERETAIL' -H 'AS2-To: EDIGATEDEMO' \
	-H 'Message-ID: <order-flow-1@acme.example>' \
	-H 'Disposition-Notification-To: edi@acme.example' \
	-H 'Content-Type: application/edi-x12' \
	--data-binary @"$src/tests/fixtures/demo/x12_850_order.edi"
check "the AS2 answer is an MDN saying processed" \
	grep -q 'Disposition: automatic-action/MDN-sent-automatically; *processed' "$tmp/mdn"

# 2. The canonical order reaches the ERP, signed.
order_hook() {
	"$PYTHON" - "$tmp/hooks/requests.jsonl" <<'PY' 2>/dev/null
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    body = json.loads(r["body"])
    if r["path"] == "/erp" and body.get("data", {}).get("type") == "order":
        print(json.dumps(r))
        sys.exit(0)
sys.exit(1)
PY
}
wait_for 20 order_hook >/dev/null
order_hook > "$tmp/order.json"
field() { "$PYTHON" -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$tmp/order.json" 2>/dev/null; }
check "the ERP webhook receives the canonical order PO12345" \
	test "$(field "$tmp/order.json" 'json.loads(r["body"])["data"]["order_number"]')" = PO12345
check "the webhook's HMAC signature verifies independently" \
	test "$(field "$tmp/order.json" 'r["signature_ok"]')" = True
check "the order's prices are exact decimals" \
	test "$(field "$tmp/order.json" 'json.loads(r["body"])["data"]["lines"][0]["unit_price"]')" = 3.50

# 3. The 997 reaches the retailer's AS2 server, signed and encrypted.
wait_for 30 test -s "$tmp/peer/req-1.json"
peer() { "$PYTHON" -c "import json,sys; r=json.load(open(sys.argv[1])); print($1)" "$tmp/peer/req-1.json" 2>/dev/null; }
check "the retailer's AS2 server decrypts and verifies the 997 with openssl" \
	test "$(peer 'r.get("decrypted") and r.get("verified")')" = True
{
cat "$tmp/peer/req-1.content" 2>/dev/null || cat "$tmp/peer/req-1.dec" 2>/dev/null
} > "$tmp/997.edi"
check "the 997 accepts group 101 and its set (AK1*PO*101, AK5*A, AK9*A)" \
	bash -c "grep -q 'AK1\*PO\*101' '$tmp/997.edi' && grep -q 'AK5\*A' '$tmp/997.edi' && grep -q 'AK9\*A\*1\*1\*1' '$tmp/997.edi'"

# 4. One correlation id ties the order at the ERP to the interchange, and
# the store knows the 997 was delivered (the peer's signed MDN matched).
db() { "$PYTHON" -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "$tmp/state/edigate.db" "$1" 2>/dev/null; }
corr=$(field "$tmp/order.json" 'r["headers"].get("x-correlation-id", "")')
meta_corr=$(field "$tmp/order.json" 'json.loads(r["body"])["data"]["meta"]["correlation_id"] + "/" + json.loads(r["body"])["data"]["meta"]["partner"]')
check "the ERP sees the AS2 message's correlation id, in the header and in meta" \
	test -n "$corr" -a "$corr" = "$(db "select correlation_id from messages where direction = 'in' and transport = 'as2' order by id limit 1")" -a "$meta_corr" = "$corr/acme-retail"
ack_delivered() { test "$(db "select state from messages where direction = 'out' and message_type = '997'")" = delivered; }
wait_for 20 ack_delivered
check "the 997 is delivered: the retailer's signed MDN matched its MIC" ack_delivered
[ $n -eq $PLAN ] || echo "# planned $PLAN, ran $n"
