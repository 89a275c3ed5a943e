#!/bin/bash
# The whole order-to-cash loop of a distributor on loopback, every party
# independent of edigate: the retailer (curl to send, a Python + openssl
# AS2 server to receive), the ERP and the WMS (one Python receiver that
# records webhooks and checks their HMAC). The retailer's 850 reaches the
# ERP; the ERP answers an order response (855 to the retailer), a
# warehouse order (webhook to the WMS); the WMS posts its shipment advice
# (shipment to the ERP, 856 to the retailer); the ERP posts the invoice
# (810 to the retailer). The retailer acknowledges each with its own 997,
# one correlation id runs through the chain, and `edigate report
# reconcile` finds it complete. Prints TAP; the trap stops everything.
set -u

PLAN=26
n=0
. "${top_srcdir:-.}/tests/integration/tap_lib.sh"
. "${top_srcdir:-.}/tests/integration/bridge_lib.sh"

bridge_setup "order to cash"
mkdir "$tmp/peer"
"$PYTHON" "$src/tests/integration/as2_peer.py" --dir "$tmp/peer" \
	--cert "$keys/acme-retail.pem" --key "$keys/acme-retail.key" \
	--sender-cert "$keys/edigate-demo.pem" --port-file "$tmp/peer.port" \
	>/dev/null 2>>"$tmp/peer.log" &
pids="$pids $!"
wait_for 10 test -s "$tmp/peer.port"
peer_port=$(cat "$tmp/peer.port" 2>/dev/null)
sed -i "s|url=\"http://127.0.0.1:[0-9]*/as2\"|url=\"http://127.0.0.1:$peer_port/as2\"|" \
	"$tmp/partners/acme-retail.xml"
started="edigated, the ERP/WMS receiver and the retailer's AS2 server start"
[ -n "$peer_port" ] || bridge_fail "$started" "$tmp/peer.log"
bridge_start "$started" "$tmp/peer.log"

# as2_send NAME FILE: the retailer posts FILE to us, unsigned, sync MDN.
as2_send() {
	curl -s -o "$tmp/$1.mdn" "http://127.0.0.1:$port/as2" \
		-H 'AS2-Version: 1.2' -H 'AS2-From: ACMERETAIL' \
		-H 'AS2-To: EDIGATEDEMO' -H "Message-ID: <o2c-$1@acme.example>" \
		-H 'Disposition-Notification-To: edi@acme.example' \
		-H 'Content-Type: application/edi-x12' --data-binary @"$2"
	grep -q 'Disposition: automatic-action/MDN-sent-automatically; *processed' \
		"$tmp/$1.mdn" && ! grep -q 'processed/error' "$tmp/$1.mdn"
}
# hook PATH TYPE: the first webhook of that document type on that path,
# as one JSON line (fails when there is none yet).
hook() {
	"$PYTHON" - "$tmp/hooks/requests.jsonl" "$1" "$2" <<'PY' 2>/dev/null
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["path"] == sys.argv[2] and r["status"] < 300 and \
            json.loads(r["body"]).get("data", {}).get("type") == sys.argv[3]:
        print(json.dumps(r))
        sys.exit(0)
sys.exit(1)
PY
}
# peer_doc SET: the payload of the first interchange the retailer's AS2
# server received holding transaction set SET, into $tmp/SET.edi, after
# checking it decrypted and verified with openssl.
peer_doc() {
	local f
	for f in "$tmp"/peer/req-*.json; do
		[ -e "$f" ] || return 1
		local c=${f%.json}.content
		[ -s "$c" ] || continue
		if grep -q "ST\*$1\*" "$c"; then
			"$PYTHON" -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r.get("decrypted") and r.get("verified") else 1)' "$f" || return 1
			tr -d '\r' < "$c" | sed -n '/^ISA/,$p' > "$tmp/$1.edi"
			return 0
		fi
	done
	return 1
}
# seg FILE TAG N: element N of the first TAG segment of an X12 file.
seg() { tr '~' '\n' < "$1" | awk -F'*' -v t="$2" -v n="$3" '$1 == t { print $(n + 1); exit }'; }
jget() { "$PYTHON" -c "import json,sys; r=json.loads(sys.stdin.read()); print($1)" 2>/dev/null; }

# ---- 1. the retailer's 850 -----------------------------------------------
# Fresh control numbers: other tests send the same fixture.
sed -e 's/\*000000101\*0\*T/*000007101*0*T/' -e 's/\*101\*X\*004010/*7101*X*004010/' \
	-e 's/^IEA\*1\*000000101/IEA*1*000007101/' -e 's/^GE\*1\*101/GE*1*7101/' \
	"$src/tests/fixtures/demo/x12_850_order.edi" > "$tmp/850.edi"
check "the retailer's 850 gets an MDN saying processed" as2_send order "$tmp/850.edi"
wait_for 20 hook /erp order >/dev/null
order=$(hook /erp order)
corr=$(echo "$order" | jget 'r["headers"].get("x-correlation-id", "")')
check "the ERP receives the canonical order PO12345, signed, with a correlation id" \
	test "$(echo "$order" | jget 'json.loads(r["body"])["data"]["order_number"] + str(r["signature_ok"])')" = PO12345True -a -n "$corr"
wait_for 30 peer_doc 997
check "the retailer receives our 997 accepting its group 7101" \
	test "$(seg "$tmp/997.edi" AK1 2)/$(seg "$tmp/997.edi" AK9 1)" = 7101/A
check "our 997 carries the order's correlation id" \
	test "$(db "select correlation_id from messages where direction = 'out' and message_type = '997'")" = "$corr"

# ---- 2. the ERP answers with an order response: 855 ----------------------
cat > "$tmp/rsp.json" <<JSON
{"type": "order_response",
 "meta": {"partner": "acme-retail", "correlation_id": "$corr", "standard": "x12",
          "version": "004010", "message": "855", "interchange": "", "set": ""},
 "purpose": "original", "status": "accepted",
 "order_number": "PO12345", "order_date": "2026-11-23",
 "response_number": "RSP-7101", "response_date": "2026-11-24",
 "currency": "USD",
 "lines": [{"line_number": "1", "quantity": "12", "unit": "each", "unit_price": "3.50",
            "item": {"upc": "012345678905"}}],
 "totals": {"line_count": "1"}}
JSON
check "the ERP's order response is accepted (202)" test "$(post $ERP_TOKEN rsp-7101 "$tmp/rsp.json")" = 202
wait_for 30 peer_doc 855
check "the retailer receives an 855 for PO12345 (BAK), decrypted and verified" \
	test "$(seg "$tmp/855.edi" BAK 3)" = PO12345

# ---- 3. the ERP sends the warehouse order to the WMS ----------------------
cat > "$tmp/wo.json" <<JSON
{"type": "warehouse_order",
 "meta": {"partner": "acme-retail", "correlation_id": "$corr", "standard": "x12",
          "version": "004010", "message": "940", "interchange": "", "set": ""},
 "purpose": "original", "shipping_order_number": "SO-7101", "order_number": "PO12345",
 "parties": {"ship_to": {"name": "STORE 42", "id_scheme": "buyer_assigned", "id": "0042"}},
 "lines": [{"line_number": "1", "quantity": "12", "unit": "each", "item": {"vendor_part": "SKU1"}}]}
JSON
check "the ERP's warehouse order is accepted (202)" test "$(post $ERP_TOKEN wo-7101 "$tmp/wo.json")" = 202
wait_for 20 hook /wms warehouse_order >/dev/null
wo=$(hook /wms warehouse_order)
check "the WMS webhook receives the warehouse order SO-7101, signed, same correlation id" \
	test "$(echo "$wo" | jget 'json.loads(r["body"])["data"]["shipping_order_number"] + str(r["signature_ok"]) + r["headers"]["x-correlation-id"]')" = "SO-7101True$corr"

# ---- 4. the WMS posts its shipment advice (945) ---------------------------
cat > "$tmp/ws.json" <<JSON
{"type": "warehouse_shipment",
 "meta": {"partner": "acme-retail", "correlation_id": "$corr", "standard": "x12",
          "version": "004010", "message": "945", "interchange": "", "set": ""},
 "status": "complete", "shipping_order_number": "SO-7101", "order_number": "PO12345",
 "shipment_id": "SHP-7101", "ship_date": "2026-11-25",
 "parties": {"ship_to": {"name": "STORE 42", "id_scheme": "buyer_assigned", "id": "0042"}},
 "references": {"bill_of_lading": "BOL-7101"},
 "lines": [{"line_number": "1", "sscc": "00012345600000071013", "status": "complete",
            "quantity_ordered": "12", "quantity_shipped": "12", "unit": "each",
            "item": {"upc": "012345678905", "vendor_part": "SKU1"}}]}
JSON
check "the WMS's shipment advice is accepted (202)" test "$(post $WMS_TOKEN ws-7101 "$tmp/ws.json")" = 202
wait_for 20 hook /erp shipment >/dev/null
shp=$(hook /erp shipment)
check "the ERP receives a shipment SHP-7101 for PO12345, same correlation id" \
	test "$(echo "$shp" | jget 'json.loads(r["body"])["data"]["shipment_id"] + json.loads(r["body"])["data"]["orders"][0]["order_number"] + r["headers"]["x-correlation-id"]')" = "SHP-7101PO12345$corr"
wait_for 30 peer_doc 856
check "the retailer receives an 856 for shipment SHP-7101 (BSN) of PO12345 (PRF)" \
	test "$(seg "$tmp/856.edi" BSN 2)/$(seg "$tmp/856.edi" PRF 1)" = SHP-7101/PO12345
check "the 856 ships 12 each of UPC 012345678905 (SN1, LIN)" \
	bash -c "grep -q 'SN1\*[^~]*\*12\*EA' '$tmp/856.edi' && grep -q 'LIN\*[^~]*UP\*012345678905' '$tmp/856.edi'"

# ---- 5. the ERP posts the invoice: 810 ------------------------------------
cat > "$tmp/inv.json" <<JSON
{"type": "invoice",
 "meta": {"partner": "acme-retail", "correlation_id": "$corr", "standard": "x12",
          "version": "004010", "message": "810", "interchange": "", "set": ""},
 "invoice_number": "INV-7101", "invoice_date": "2026-11-25",
 "order_number": "PO12345", "order_date": "2026-11-23", "currency": "USD",
 "lines": [{"line_number": "1", "quantity": "12", "unit": "each", "unit_price": "3.50",
            "item": {"upc": "012345678905"}}],
 "totals": {"total_amount": "42.00", "line_count": "1"}}
JSON
check "the ERP's invoice is accepted (202)" test "$(post $ERP_TOKEN inv-7101 "$tmp/inv.json")" = 202
wait_for 30 peer_doc 810
check "the retailer receives an 810 INV-7101 for PO12345 (BIG) totalling 42.00 (TDS 4200)" \
	test "$(seg "$tmp/810.edi" BIG 2)/$(seg "$tmp/810.edi" BIG 4)/$(seg "$tmp/810.edi" TDS 1)" = INV-7101/PO12345/4200

# ---- 6. the retailer's 997s for our 855, 856 and 810 ----------------------
# ack SET CONTROL: a 997 accepting our SET, in interchange CONTROL.
ack() {
	local g s f
	g=$(seg "$tmp/$1.edi" GS 6)
	s=$(seg "$tmp/$1.edi" ST 2)
	f=$(seg "$tmp/$1.edi" GS 1)
	printf '%s\n' \
"ISA*00*          *00*          *ZZ*ACMERETAIL     *ZZ*EDIGATEDEMO    *261125*1200*U*00401*00000$2*0*T*>~" \
"GS*FA*ACMERETAIL*EDIGATEDEMO*20261125*1200*$2*X*004010~" \
"ST*997*0001~" "AK1*$f*$g~" "AK2*$1*$s~" "AK5*A~" "AK9*A*1*1*1~" "SE*6*0001~" \
"GE*1*$2~" "IEA*1*00000$2~" > "$tmp/997-$1.edi"
	as2_send "ack-$1" "$tmp/997-$1.edi"
}
check "the retailer's 997 for our 855 is taken (MDN processed)" ack 855 7201
check "the retailer's 997 for our 856 is taken (MDN processed)" ack 856 7202
check "the retailer's 997 for our 810 is taken (MDN processed)" ack 810 7203
acks_done() {
	test "$(db "select count(*) from ack_expectations where state = 'accepted'")" = 3
}
wait_for 20 acks_done
check "the three ack expectations of our 855, 856 and 810 are accepted" acks_done
sleep 1
# The profile asks for TA1s (ta1="true"): each of the retailer's 997
# interchanges gets one, and no 997 answers a 997.
check "the retailer's 997s get TA1s and no 997 (one 997 out in all)" \
	test "$(db "select count(*) from messages where direction = 'out' and message_type = '997'")/$(db "select count(*) from messages where direction = 'out' and message_type = 'TA1'")" = 1/3

# ---- 7. one correlation id links the chain --------------------------------
check "every outbound EDI document and webhook of the chain carries the order's correlation id" \
	test "$(db "select group_concat(message_type || ':' || (correlation_id = '$corr'), ' ') from messages where direction = 'out' and message_type <> 'TA1'")" = \
	"997:1 order:1 855:1 warehouse_order:1 shipment:1 856:1 810:1"
check "every webhook the ERP and WMS received carries it too, and no key twice" \
	"$PYTHON" - "$tmp/hooks/requests.jsonl" "$corr" <<'PY'
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
ok = [r for r in rs if r["status"] < 300]
assert len(ok) == 3, [json.loads(r["body"])["type"] for r in ok]
assert all(r["headers"]["x-correlation-id"] == sys.argv[2] for r in ok)
assert not any(r["repeat"] for r in ok)
PY
check "the outbound 855, 856 and 810 are delivered (MDNs matched)" \
	test "$(db "select count(*) from messages where direction = 'out' and message_type in ('855','856','810') and state = 'delivered'")" = 3

# ---- 8. reconciliation ----------------------------------------------------
"$EDIGATE" report reconcile --store "$tmp/state/edigate.db" --format json \
	> "$tmp/rec.json" 2>"$tmp/rec.err"
check "edigate report reconcile runs" test $? -eq 0
check "reconcile finds the chain of PO12345 complete, with no exception" \
	"$PYTHON" - "$tmp/rec.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
p = [x for x in r["partners"] if x["partner"] == "acme-retail"][0]
assert p["orders"] == 1 and p["complete"] == 1, p
assert not r["exceptions"], r["exceptions"]
PY
check "each 997 of the retailer closed its expectation with the set accepted (AK5 A)" \
	test "$(db "select group_concat(functional_id || ':' || ack_code, ' ') from (select functional_id, ack_code from ack_expectations order by id)")" = "PR:A SH:A IN:A"
[ $n -eq $PLAN ] || echo "# planned $PLAN, ran $n"
if [ -n "${VERBOSE:-}" ]; then sed 's/^/# /' "$tmp/log"; fi
