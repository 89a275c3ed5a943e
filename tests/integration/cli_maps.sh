#!/bin/sh
# edigate map check, partner check and translate --partner, as an
# onboarding team uses them: exit status and file:line messages.
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
echo "1..9"

"$edigate" map check --maps "$maps" "$maps"/x12/*.xml "$maps"/edifact/*.xml >"$tmp/out" 2>&1
check $? "every shipped map passes map check"

"$edigate" map check --maps "$maps" "$fx/bad_codelist.xml" >"$tmp/out" 2>&1
rc=$?
[ $rc = 1 ] && grep -qx "$fx/bad_codelist.xml:7: code list \"units\" is not defined in this map" "$tmp/out"
check $? "an invalid map exits 1 with file:line"

"$edigate" partner check --maps "$maps" --partners "$partners" \
	"$partners/acme-retail.xml" "$partners/nordic-dist.xml" >"$tmp/out" 2>&1
check $? "the demo partners pass partner check"

"$edigate" partner check --maps "$maps" --partners "$partners" "$fx/partners/bad_delimiters.xml" >"$tmp/out" 2>&1
rc=$?
[ $rc = 1 ] && grep -qx "$fx/partners/bad_delimiters.xml:10: outbound delimiters must differ: '\*' is used twice" "$tmp/out"
check $? "partner check reports clashing delimiters with file:line"

"$edigate" partner check --maps "$maps" --partners "$partners" "$fx/partners/bad_schema.xml" >"$tmp/out" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "^$fx/partners/bad_schema.xml:5: .*isa-qualifier" "$tmp/out"
check $? "partner check reports schema violations with file:line"

printf '%s' 'ISA*00*          *00*          *ZZ*ACMERETAIL     *ZZ*EDIGATE        *261123*1000*U*00401*000000104*0*T*>~GS*PO*ACMERETAIL*EDIGATE*20261123*1000*104*X*004010~ST*850*0004~BEG*00*SA*PO4**20261123~REF*ST*0042~PO1*1*12*EA*3.5~CTT*1~SE*6*0004~GE*1*104~IEA*1*000000104~' >"$tmp/acme.edi"

"$edigate" translate --maps "$maps" --partners "$partners" --partner acme-retail "$tmp/acme.edi" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc = 0 ] && grep -q '"references":{"store_number":"STORE-42"}' "$tmp/out" && grep -q '"partner":"acme-retail"' "$tmp/out"
check $? "translate --partner applies the partner's override (REF*ST) and its location cross-reference"

"$edigate" translate --maps "$maps" "$tmp/acme.edi" >"$tmp/out" 2>"$tmp/err"
grep -q '"unmapped":\[{"position":3,"tag":"REF","elements":\["ST","0042"\]}\]' "$tmp/out"
check $? "without the partner REF*ST stays in unmapped"

"$edigate" translate --maps "$maps" --partners "$partners" --partner nobody "$tmp/acme.edi" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc = 0 ] && grep -q "no profile for partner 'nobody'" "$tmp/err" && grep -q '"order_number":"PO4"' "$tmp/out"
check $? "an unknown partner still translates with the standard maps"

"$edigate" translate --maps "$maps" --pretty "$fx/850_invalid.edi" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc = 1 ] && grep -q "position 5 ZZZ: segment ZZZ is not part of 850 004010 \[AK3 1 / UN 14\]" "$tmp/err"
check $? "translate reports guide issues with their 997 and CONTRL codes and exits 1"
