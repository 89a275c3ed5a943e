#!/bin/bash
# Delivery in order per business key ([route] ordered): the ERP posts
# warehouse orders for the WMS while the WMS's receiver (a Python server
# that records every request) fails. A later document for the same order
# number waits while the earlier one is retried; another order number goes
# on; a dead-lettered document stops holding its order number back.
# Prints TAP; the trap stops everything.
set -u

PLAN=8
n=0
. "${top_srcdir:-.}/tests/integration/tap_lib.sh"
BRIDGE_ROUTE="ordered = acme-retail"
BRIDGE_DELIVERY="poll = 100ms
base_backoff = 300ms
max_backoff = 600ms
jitter = 0
max_attempts = 5"
. "${top_srcdir:-.}/tests/integration/bridge_lib.sh"

bridge_setup "delivery order"
bridge_start "edigated, and the ERP/WMS receiver start"

erp_post() { post "$ERP_TOKEN" "$@"; } # erp_post KEY FILE
wo() { # wo SHIPPING_ORDER ORDER_NUMBER > file
	cat <<JSON
{"type": "warehouse_order",
 "meta": {"partner": "acme-retail", "standard": "x12", "version": "004010",
          "message": "940", "interchange": "", "set": ""},
 "purpose": "original", "shipping_order_number": "$1", "order_number": "$2",
 "lines": [{"line_number": "1", "quantity": "12", "unit": "each", "item": {"vendor_part": "SKU1"}}]}
JSON
}
# log: one line per request the WMS got: shipping order and status.
wms_log() {
	"$PYTHON" - "$tmp/hooks/requests.jsonl" <<'PY' 2>/dev/null
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["path"] == "/wms":
        print(json.loads(r["body"])["data"]["shipping_order_number"], r["status"])
PY
}
delivered() { wms_log | grep -q "^$1 200$"; }

# ---- a retried document holds back the next one of its order ------------
# The WMS answers 503 twice: SO-1 is retried, SO-2 (same order PO-A) must
# wait for it; SO-3 (order PO-B) need not.
echo '{"/wms": {"fail": 2, "status": 503}}' > "$tmp/hooks/mode.json"
for so in SO-1:PO-A SO-2:PO-A SO-3:PO-B; do wo "${so%%:*}" "${so#*:}" > "$tmp/${so%%:*}.json"; done
codes=$(erp_post so-1 "$tmp/SO-1.json")$(erp_post so-2 "$tmp/SO-2.json")$(erp_post so-3 "$tmp/SO-3.json")
check "the three warehouse orders are accepted (202)" test "$codes" = 202202202
wait_for 20 delivered SO-2
wms_log > "$tmp/order1"
sed 's/^/# /' "$tmp/order1"
# The WMS fails the first two requests whichever document they carry, and
# the API's workers may queue SO-3 before SO-1: SO-1 takes one or both.
check "SO-1 is tried, fails with 503 and is retried until delivered" \
	test "$(grep -c '^SO-1 503$' "$tmp/order1")" -ge 1 -a \
	"$(grep -c '^SO-1 200$' "$tmp/order1")" = 1
check "SO-2 of the same order PO-A is sent only after SO-1 was delivered, once" \
	test "$(grep -c '^SO-2 ' "$tmp/order1")" = 1 -a \
	"$(grep -n '^SO-2 ' "$tmp/order1" | cut -d: -f1)" -gt "$(grep -n '^SO-1 200$' "$tmp/order1" | cut -d: -f1)"
check "SO-3 of order PO-B is not held back by PO-A's retries" \
	test "$(grep -n '^SO-3 ' "$tmp/order1" | head -n 1 | cut -d: -f1)" -lt "$(grep -n '^SO-1 200$' "$tmp/order1" | cut -d: -f1)"

# ---- a dead letter does not block its order for good -----------------------
# One permanent refusal (400): SO-4 is dead at once; SO-5 of the same
# order PO-C then goes out.
echo '{"/wms": {"fail": 3, "status": 400}}' > "$tmp/hooks/mode.json"
wo SO-4 PO-C > "$tmp/SO-4.json"
wo SO-5 PO-C > "$tmp/SO-5.json"
codes=$(erp_post so-4 "$tmp/SO-4.json")$(erp_post so-5 "$tmp/SO-5.json")
check "two more warehouse orders of PO-C are accepted (202)" test "$codes" = 202202
wait_for 20 delivered SO-5
wms_log > "$tmp/order2"
check "SO-4 is refused with 400 and dead-lettered, not retried" \
	test "$(grep -c '^SO-4 ' "$tmp/order2")/$(db "select d.state from deliveries d join messages m on m.id = d.message_id where m.direction = 'out' and d.endpoint = 'webhook:wms' order by d.id limit 1 offset 3")" = 1/dead
check "SO-5 of the same order is delivered after SO-4 died" \
	test "$(grep -n '^SO-5 200$' "$tmp/order2" | cut -d: -f1)" -gt "$(grep -n '^SO-4 400$' "$tmp/order2" | cut -d: -f1)"
[ $n -eq $PLAN ] || echo "# planned $PLAN, ran $n"
