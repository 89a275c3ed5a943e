#!/bin/bash
# EDIFACT out for documents the ERP and WMS post: the demo distributor
# nordic-dist trades EDIFACT D96A, so its order response goes out as an
# ORDRSP, the WMS's shipment advice as a DESADV and the invoice as an
# INVOIC, in its delimiters and UNB identities, each with a CONTRL
# expected. Checked segment by segment against values written by hand
# from the D96A message definitions. Prints TAP; the trap stops everything.
set -u

PLAN=9
n=0
. "${top_srcdir:-.}/tests/integration/tap_lib.sh"
BRIDGE_PARTNERS=nordic-dist
BRIDGE_ROUTE="unb_id = 5790000000001
unb_qualifier = 14"
. "${top_srcdir:-.}/tests/integration/bridge_lib.sh"

bridge_setup "edifact out"
bridge_start "edigated, and the ERP/WMS receiver start"

# edi KEY: the EDI produced for the posted document KEY, segments on
# their own lines.
edi() {
	local id
	id=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$tmp/$1.answer" 2>/dev/null)
	curl -s -H "Authorization: Bearer $ERP_TOKEN" "$base/documents/$id" > "$tmp/$1.doc"
	"$PYTHON" -c 'import json,sys; print([p for p in json.load(open(sys.argv[1]))["produced"] if p["transport"] == "edi"][0]["payload"])' "$tmp/$1.doc" 2>/dev/null |
		sed "s/'/'\n/g" | sed '/^$/d' > "$tmp/$1.edi"
}
has() { grep -qxF "$2" "$tmp/$1.edi"; }
meta='"meta": {"partner": "nordic-dist", "standard": "x12", "version": "004010", "message": "855", "interchange": "", "set": ""}'

cat > "$tmp/rsp.json" <<JSON
{"type": "order_response", $meta,
 "purpose": "original", "status": "accepted",
 "order_number": "NO-4711", "order_date": "2026-11-23",
 "response_number": "RSP-4711", "response_date": "2026-11-24", "currency": "EUR",
 "lines": [{"line_number": "1", "quantity": "10", "unit": "piece", "unit_price": "12.50",
            "item": {"ean": "7350012345005"}}]}
JSON
check "the ERP's order response for nordic-dist is routed as an ORDRSP (202)" \
	test "$(post $ERP_TOKEN rsp "$tmp/rsp.json")/$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["targets"][0]["edi"])' "$tmp/rsp.answer" 2>/dev/null)" = 202/ORDRSP
edi rsp
sed 's/^/# /' "$tmp/rsp.edi"
check "the ORDRSP interchange: UNA, UNB from 5790000000001:14 to 7350012345678:14, UNH ORDRSP:D:96A:UN" \
	bash -c "test \"\$(head -1 '$tmp/rsp.edi')\" = \"UNA:+.? '\" &&
		sed -n 2p '$tmp/rsp.edi' | grep -q '^UNB+UNOC:3+5790000000001:14+7350012345678:14+' &&
		grep -q '^UNH+[0-9]*+ORDRSP:D:96A:UN' '$tmp/rsp.edi' && grep -q '^UNZ+1+' '$tmp/rsp.edi'"
check "the ORDRSP answers order NO-4711 (RFF+ON) with response RSP-4711 (BGM)" \
	bash -c "grep -q '^BGM+[0-9]*+RSP-4711' '$tmp/rsp.edi' && grep -q '^RFF+ON:NO-4711' '$tmp/rsp.edi'"

cat > "$tmp/ws.json" <<JSON
{"type": "warehouse_shipment", $meta,
 "status": "complete", "shipping_order_number": "SO-4711", "order_number": "NO-4711",
 "shipment_id": "SHP-4711", "ship_date": "2026-11-25",
 "lines": [{"line_number": "1", "sscc": "373500123450000017", "quantity_shipped": "10", "unit": "piece",
            "item": {"ean": "7350012345005"}}]}
JSON
check "the WMS's shipment advice for nordic-dist is routed as a DESADV and a shipment to the ERP" \
	test "$(post $WMS_TOKEN ws "$tmp/ws.json")/$("$PYTHON" -c 'import json,sys; print(" ".join(t.get("edi", t["name"]) for t in json.load(open(sys.argv[1]))["targets"]))' "$tmp/ws.answer" 2>/dev/null)" = "202/erp DESADV"
edi ws
sed 's/^/# /' "$tmp/ws.edi"
check "the DESADV names shipment SHP-4711 (BGM), order NO-4711 (RFF+ON) and the pack's SSCC (GIN+BJ)" \
	bash -c "grep -q '^UNH+[0-9]*+DESADV:D:96A:UN' '$tmp/ws.edi' && grep -q '^BGM+[0-9]*+SHP-4711' '$tmp/ws.edi' &&
		grep -q '^RFF+ON:NO-4711' '$tmp/ws.edi' && grep -q '^GIN+BJ+373500123450000017' '$tmp/ws.edi'"

cat > "$tmp/inv.json" <<JSON
{"type": "invoice", $meta,
 "invoice_number": "INV-4711", "invoice_date": "2026-11-25",
 "order_number": "NO-4711", "currency": "EUR",
 "lines": [{"line_number": "1", "quantity": "10", "unit": "piece", "unit_price": "12.50",
            "item": {"ean": "7350012345005"}}],
 "totals": {"total_amount": "125.00"}}
JSON
check "the ERP's invoice for nordic-dist is routed as an INVOIC (202)" \
	test "$(post $ERP_TOKEN inv "$tmp/inv.json")/$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["targets"][0]["edi"])' "$tmp/inv.answer" 2>/dev/null)" = 202/INVOIC
edi inv
sed 's/^/# /' "$tmp/inv.edi"
check "the INVOIC: invoice INV-4711 (BGM+380), order NO-4711, 10 PCE (QTY+47), price 12.50" \
	bash -c "grep -q '^UNH+[0-9]*+INVOIC:D:96A:UN' '$tmp/inv.edi' && grep -q '^BGM+380+INV-4711' '$tmp/inv.edi' &&
		grep -q '^RFF+ON:NO-4711' '$tmp/inv.edi' && grep -q '^QTY+47:10:PCE' '$tmp/inv.edi' && grep -q '12.50' '$tmp/inv.edi'"
check "each of the three interchanges expects its CONTRL" \
	test "$(db "select count(*) from ack_expectations where partner = 'nordic-dist' and ack_type = 'CONTRL'")" = 3
[ $n -eq $PLAN ] || echo "# planned $PLAN, ran $n"
