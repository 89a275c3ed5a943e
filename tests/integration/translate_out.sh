#!/bin/sh
# edigate translate --to x12|edifact: canonical JSON back to a complete
# interchange (envelope, counts, control numbers from --control, from the
# store or from meta), the partner's identities, delimiters and
# cross-references, and edigate validate --partner (the guide).
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
edigate=$top_builddir/gateway/edigate
fx=$top_srcdir/tests/fixtures/maps
maps=$top_srcdir/maps
partners=$top_srcdir/partners
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
check() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}
echo "1..14"
M="--maps $maps --partners $partners"

# 1. Without a partner, the envelope comes from meta: the very same bytes
#    (the fixture is a test interchange of 2026-11-24 08:00).
"$edigate" translate $M "$fx/856_pair.edi" >"$tmp/856.json"
"$edigate" translate --to x12 $M --test --time 202611240800 "$tmp/856.json" >"$tmp/856.edi"
cmp -s "$tmp/856.edi" "$fx/856_pair.edi"
check $? "856 -> canonical -> X12 without a profile gives the same bytes"

"$edigate" translate $M "$fx/desadv_d96a.edi" >"$tmp/desadv.json"
"$edigate" translate --to edifact $M --time 202611240800 "$tmp/desadv.json" >"$tmp/desadv.edi"
cmp -s "$tmp/desadv.edi" "$fx/desadv_d96a.edi"
check $? "DESADV -> canonical -> EDIFACT without a profile gives the same bytes"

# 2. X12 856 to the EDIFACT partner: its UNB id, its delimiters, --control.
"$edigate" translate --to edifact $M --partner nordic-dist --sender 5498765000010 \
	--sender-qualifier 14 --control 5 --time 202611241200 "$tmp/856.json" >"$tmp/out.edi" 2>"$tmp/err"
rc=$?
head -c 200 "$tmp/out.edi" | grep -q "^UNA:+.? 'UNB+UNOC:3+5498765000010:14+7350012345678:14+261124:1200+5'UNH+5+DESADV:D:96A:UN'" \
	&& [ $rc = 0 ] && grep -q "UNT+18+5'UNZ+1+5'$" "$tmp/out.edi"
check $? "an 856 becomes a DESADV interchange to nordic-dist with UNT/UNZ counts and control 5"

"$edigate" validate --partner nordic-dist $M "$tmp/out.edi" >"$tmp/v" 2>&1
check $? "the DESADV written passes validate --partner (envelope and guide)"

"$edigate" translate $M "$tmp/out.edi" >"$tmp/back.json"
python3 - "$tmp/856.json" "$tmp/back.json" <<'EOF'
import json, sys
a = json.loads(open(sys.argv[1]).read()); b = json.loads(open(sys.argv[2]).read())
for d in (a, b):
    d.pop("meta"); d.pop("unmapped", None)
a.pop("shipment_time")  # BSN04 has no place in DESADV
sys.exit(0 if a == b else 1)
EOF
check $? "the DESADV translates back to the shipment the 856 gave"

# 3. Several documents: one interchange, a group per message type.
"$edigate" translate $M "$fx/855_pair.edi" "$fx/810_pair.edi" >"$tmp/two.json"
"$edigate" translate --to x12 $M --partner acme-retail --sender EDIGATE --control 100 \
	--time 202611250900 "$tmp/two.json" >"$tmp/two.edi"
grep -q '^ISA\*00\*          \*00\*          \*ZZ\*EDIGATE        \*ZZ\*ACMERETAIL     \*261125\*0900\*U\*00401\*000000100\*1\*P\*>~$' "$tmp/two.edi" \
	&& grep -q '^GS\*PR\*EDIGATE\*ACMERETAIL\*20261125\*0900\*100\*X\*004010~$' "$tmp/two.edi" \
	&& grep -q '^GS\*IN\*EDIGATE\*ACMERETAIL\*20261125\*0900\*101\*X\*004010~$' "$tmp/two.edi" \
	&& grep -q '^ST\*855\*0100~$' "$tmp/two.edi" && grep -q '^SE\*8\*0100~$' "$tmp/two.edi" \
	&& grep -q '^SE\*9\*0101~$' "$tmp/two.edi" && grep -q '^GE\*1\*101~$' "$tmp/two.edi" \
	&& grep -q '^IEA\*2\*000000100~$' "$tmp/two.edi"
check $? "an 855 and an 810 to acme-retail: two groups, counts and numbers from --control"

"$edigate" validate --partner acme-retail $M "$tmp/two.edi" >"$tmp/v" 2>&1
check $? "the interchange written passes validate --partner"

# An 855 and an 810 as ORDRSP and INVOIC: UNS+S and BGM 1001 come from
# the maps' constants, since an X12 document has no EDIFACT unmapped.
"$edigate" translate --to edifact $M --partner nordic-dist --sender 5498765000010 \
	--sender-qualifier 14 --control 9 --time 202611250900 "$tmp/two.json" >"$tmp/two_edifact.edi"
grep -q "UNH+9+ORDRSP:D:96A:UN'BGM+231+RSP-1+9+AP'" "$tmp/two_edifact.edi" \
	&& grep -q "UNS+S'CNT+2:1'UNT+14+9'UNH+10+INVOIC:D:96A:UN'BGM+380+INV-9001'" "$tmp/two_edifact.edi" \
	&& grep -q "UNS+S'MOA+86:42.00'CNT+2:1'UNT+15+10'UNZ+2+9'$" "$tmp/two_edifact.edi"
check $? "an 855 and an 810 become ORDRSP and INVOIC with BGM document names and UNS"

"$edigate" validate --partner nordic-dist $M "$tmp/two_edifact.edi" >"$tmp/v" 2>&1
check $? "the ORDRSP and INVOIC written pass validate --partner"

# 4. Control numbers from the store's per-partner counters.
"$edigate" translate --to x12 $M --partner acme-retail --sender EDIGATE --store "$tmp/store.db" \
	--time 202611250900 "$tmp/two.json" >"$tmp/s1.edi" 2>"$tmp/err"
"$edigate" translate --to x12 $M --partner acme-retail --sender EDIGATE --store "$tmp/store.db" \
	--time 202611250900 "$tmp/two.json" >"$tmp/s2.edi" 2>>"$tmp/err"
grep -q '\*000000001\*1\*P\*>~$' "$tmp/s1.edi" && grep -q '^GS\*IN\*.*\*2\*X\*004010~$' "$tmp/s1.edi" \
	&& grep -q '\*000000002\*1\*P\*>~$' "$tmp/s2.edi" && grep -q '^ST\*810\*0004~$' "$tmp/s2.edi"
check $? "--store hands out the next interchange, group and set numbers per partner"

# 5. Cross-references both ways: acme's location 0042 is our STORE-42.
"$edigate" translate $M --partner acme-retail "$fx/856_pair.edi" >"$tmp/acme.json" 2>/dev/null
grep -q '"ship_to":{"name":"STORE 42","id_scheme":"buyer_assigned","id":"STORE-42"}' "$tmp/acme.json"
check $? "inbound, the partner's location 0042 becomes STORE-42"

"$edigate" translate --to x12 $M --partner acme-retail --sender EDIGATE --control 7 \
	--time 202611240800 "$tmp/acme.json" >"$tmp/acme.edi"
grep -q '^N1\*ST\*STORE 42\*92\*0042~$' "$tmp/acme.edi"
check $? "outbound, STORE-42 goes back to the partner as 0042"

# 6. Refusals.
"$edigate" translate --to x12 $M --partner acme-retail --control 7 "$tmp/desadv.json" >"$tmp/out" 2>"$tmp/err"
[ $? = 1 ] && grep -q "no sender identity" "$tmp/err" && [ ! -s "$tmp/out" ]
check $? "without our sender id (and no X12 meta to take it from) nothing is written"

"$edigate" validate --partner acme-retail $M "$fx/850_invalid.edi" >"$tmp/v" 2>&1
[ $? = 1 ] && grep -q "850_invalid.edi:3:5: AK3-1 ZZZ: segment ZZZ is not part of 850 004010" "$tmp/v"
check $? "validate --partner reports guide errors with their 997 codes"
