#!/bin/sh
# reconcile.sh - `edigate report reconcile` over a store holding two
# partners' order chains (TAP). Messages are recorded by the seed helper
# the way the inbound pipeline and routing record them: the EDI document
# and its canonical twin share a correlation id; the 997 we send for an
# inbound document carries its correlation id; an outbound document has a
# 997 expectation. The report runs 4 days later. Expected rows are
# worked out by hand in the comments.

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
edigate=$top_builddir/gateway/edigate
seed=$top_builddir/tests/integration/reconcile_seed
tmp=$(mktemp -d "${TMPDIR:-/tmp}/edigate-reconcile-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
EDIGATE_STORE=$tmp/state/edigate.db
export EDIGATE_STORE

echo "1..12"
n=0
check() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		[ -f "$tmp/out" ] && sed 's/^/# /' "$tmp/out" | head -n 20
	fi
}

canon() { # FILE TYPE JSON-BODY
	printf '{"type":"%s","meta":{},%s}\n' "$2" "$3" >"$tmp/$1.json"
}
edi() { # FILE TYPE
	printf 'ISA*...*%s~\n' "$2" >"$tmp/$1.edi"
}
canon a-order order '"order_number":"PO-A","lines":[]'
canon a-resp order_response '"order_number":"PO-A"'
canon a-ship shipment '"shipment_id":"S1","orders":[{"order_number":"PO-A"}]'
canon a-inv invoice '"invoice_number":"I1","order_number":"PO-A"'
canon b-order order '"order_number":"PO-B","lines":[]'
canon c-order order '"order_number":"PO-C","lines":[]'
canon c-resp order_response '"order_number":"PO-C"'
canon c-ship shipment '"shipment_id":"S2","orders":[{"order_number":"PO-C"}]'
canon g-order order '"order_number":"ORD-9","lines":[]'
for t in 850 997 855 856 810 ORDERS; do edi "e$t" "$t"; done

# acme-retail PO-A: complete, every ack there. PO-B: the 850 and its 997,
# nothing else. PO-C: answered and shipped, the 856's 997 still pending
# (due after 24 h), no invoice. globex ORD-9: an ORDERS, no CONTRL sent.
"$seed" "$EDIGATE_STORE" >"$tmp/out" 2>&1 <<EOF2
in acme-retail 850 cA $tmp/e850.edi
in acme-retail order cA $tmp/a-order.json
out acme-retail 997 cA $tmp/e997.edi
in acme-retail order_response cA2 $tmp/a-resp.json
out acme-retail 855 cA2 $tmp/e855.edi 24 accepted
in acme-retail shipment cA3 $tmp/a-ship.json
out acme-retail 856 cA3 $tmp/e856.edi 24 accepted
in acme-retail invoice cA4 $tmp/a-inv.json
out acme-retail 810 cA4 $tmp/e810.edi 24 accepted
in acme-retail 850 cB $tmp/e850.edi
in acme-retail order cB $tmp/b-order.json
out acme-retail 997 cB $tmp/e997.edi
in acme-retail 850 cC $tmp/e850.edi
in acme-retail order cC $tmp/c-order.json
out acme-retail 997 cC $tmp/e997.edi
in acme-retail order_response cC2 $tmp/c-resp.json
out acme-retail 855 cC2 $tmp/e855.edi 24 accepted
in acme-retail shipment cC3 $tmp/c-ship.json
out acme-retail 856 cC3 $tmp/e856.edi 24 pending
in globex ORDERS cG $tmp/eORDERS.edi
in globex order cG $tmp/g-order.json
EOF2
check $? "the store holds two partners' chains"

start=$(date -u +%s)
later=$(date -u -d "@$((start + 4 * 86400 + 60))" +%Y-%m-%dT%H:%M:%SZ)
before=$(date -u -d "@$((start - 86400))" +%Y-%m-%dT%H:%M:%SZ)

"$edigate" report reconcile --now "$later" --output "$tmp/r.csv" >"$tmp/out" 2>&1
check $? "report reconcile writes CSV"

# After 4 days: acme-retail has 3 orders, 2 answered, 2 shipped, 1
# invoiced, PO-A complete; PO-B has no response (due after 2 days; the
# shipment is due only after 5), PO-C no invoice (due 3 days after the
# 856) and the 856 no 997. globex: ORD-9 no response, and no CONTRL sent.
cp "$tmp/r.csv" "$tmp/out"
grep -q "^acme-retail,3,2,2,1,1,1,0,1,1$(printf '\r')\$" "$tmp/r.csv" &&
	grep -q "^globex,1,0,0,0,0,1,0,0,1$(printf '\r')\$" "$tmp/r.csv"
check $? "CSV: per-partner counts"

grep -q '^acme-retail,PO-B,no-response,order_response,[0-9]*,850,' "$tmp/r.csv" &&
	grep -q '^acme-retail,PO-C,no-invoice,invoice,[0-9]*,856,' "$tmp/r.csv" &&
	grep -q '^acme-retail,PO-C,no-ack,shipment,[0-9]*,856,' "$tmp/r.csv" &&
	grep -q '^globex,ORD-9,no-ack,order,[0-9]*,ORDERS,' "$tmp/r.csv" &&
	grep -q '^globex,ORD-9,no-response,order_response,' "$tmp/r.csv" &&
	[ "$(grep -c '^[a-z-]*,[A-Z0-9-]*,no-' "$tmp/r.csv")" = 5 ] &&
	! grep -q 'PO-A' "$tmp/r.csv"
check $? "CSV: the five exception rows, none for the complete chain"

"$edigate" report reconcile --now "$later" --format json >"$tmp/r.json" 2>"$tmp/out"
check $? "report reconcile writes JSON"
cp "$tmp/r.json" "$tmp/out"
jq -e '(.partners | length == 2)
	and .partners[0] == {"partner":"acme-retail","orders":3,"responded":2,"shipped":2,
	     "invoiced":1,"complete":1,"no_response":1,"no_shipment":0,"no_invoice":1,"no_ack":1}
	and (.exceptions | length == 5)
	and ([.exceptions[] | select(.order_number == "PO-C" and .exception == "no-invoice")
	      | .hours_late] == [24])
	and .sla_hours == {"response":48,"shipment":120,"invoice":72}' \
	"$tmp/r.json" >/dev/null
check $? "JSON: partners, exceptions, hours late, SLAs"

"$edigate" report reconcile --now "$later" --format html --output "$tmp/r.html" \
	>"$tmp/out" 2>&1 &&
	xmllint --html --noout "$tmp/r.html" >"$tmp/out" 2>&1 && [ ! -s "$tmp/out" ]
check $? "HTML passes xmllint --html without warnings"
cp "$tmp/r.html" "$tmp/out"
grep -q '<td>PO-C</td><td class="bad">no-invoice</td>' "$tmp/r.html" &&
	! grep -qi '<script\|<link\|src=' "$tmp/r.html"
check $? "HTML: the exception rows, self-contained"

"$edigate" report reconcile --now "$later" --partner globex --format json \
	>"$tmp/r.json" 2>"$tmp/out" &&
	jq -e '(.partners | length == 1) and .partners[0].partner == "globex"
		and (.exceptions | length == 2) and .partner == "globex"' \
	"$tmp/r.json" >/dev/null
check $? "--partner keeps one partner's chains"

"$edigate" report reconcile --now "$later" --until "$before" --format json \
	>"$tmp/r.json" 2>"$tmp/out" &&
	jq -e '(.partners | length == 0) and (.exceptions | length == 0)' \
	"$tmp/r.json" >/dev/null
check $? "--until before the orders arrived leaves nothing"

# Longer SLAs move PO-B and ORD-9 back within time: only PO-C's 997 and
# ORD-9's CONTRL stay late.
"$edigate" report reconcile --now "$later" --response-days 5 --invoice-days 5 \
	>"$tmp/r.csv" 2>"$tmp/out" &&
	[ "$(grep -c '^[a-z-]*,[A-Z0-9-]*,no-' "$tmp/r.csv")" = 2 ]
check $? "--response-days and --invoice-days change what is late"

"$edigate" report reconcile --format pdf >"$tmp/out" 2>&1
[ $? = 2 ] && grep -q 'csv, json or html' "$tmp/out"
check $? "an unknown format is a usage error"
