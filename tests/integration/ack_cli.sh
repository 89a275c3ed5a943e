#!/bin/sh
# ack_cli.sh - `edigate ack`: the acknowledgments for a file (with and
# without a partner profile), control numbers, the no-loop rule, and
# `edigate ack --read` as canonical JSON (TAP).

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
edigate=$top_builddir/gateway/edigate
fx=$top_srcdir/tests/fixtures/ack
tmp=${TMPDIR:-/tmp}/edigate-ack-$$
mkdir -p "$tmp" || exit 1
trap 'rm -rf "$tmp"' EXIT
# The guide runs with the fixture maps (the shipped 850 map with a closed
# purpose code list); partners come from the source tree.
EDIGATE_MAPS=$fx/maps
EDIGATE_PARTNERS=$top_srcdir/partners
export EDIGATE_MAPS EDIGATE_PARTNERS
when="--date 20261123 --time 1200"

echo "1..13"
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

cat >"$tmp/expected" <<'EOT'
ISA*00*          *00*          *ZZ*EDIGATEDEMO    *ZZ*ACMEBUYER      *261123*1200*U*00401*000000001*0*P*>~
GS*FA*EDIGATEDEMO*ACMEBUYER*20261123*1200*1*X*004010~
ST*997*0001~
AK1*PO*101~
AK2*850*0001~
AK5*A~
AK9*A*1*1*1~
SE*6*0001~
GE*1*1~
IEA*1*000000001~
EOT
# shellcheck disable=SC2086
"$edigate" ack $when "$fx/clean_850_4010.edi" >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 0 ] && cmp -s "$tmp/out" "$tmp/expected"
check $? "a clean 850 gets a 997 accepting it, ids swapped, exit 0"

# shellcheck disable=SC2086
"$edigate" ack $when "$fx/invalid_code.edi" >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -qx 'AK3\*BEG\*2\*\*8~' "$tmp/out" &&
    grep -qx 'AK4\*1\*\*7\*99~' "$tmp/out" && grep -qx 'AK5\*R\*5~' "$tmp/out"
check $? "a rejected set gets AK3/AK4/AK5 R and exit 1"

# shellcheck disable=SC2086
"$edigate" ack $when --control 42 "$fx/clean_850_4010.edi" >"$tmp/out" 2>&1
grep -q '^ISA.*\*000000042\*0\*P\*>~$' "$tmp/out" &&
    grep -qx 'GS\*FA\*EDIGATEDEMO\*ACMEBUYER\*20261123\*1200\*42\*X\*004010~' "$tmp/out" &&
    grep -qx 'ST\*997\*0042~' "$tmp/out" && grep -qx 'IEA\*1\*000000042~' "$tmp/out"
check $? "--control sets ISA13, GS06 and ST02"

# acme-retail: 997, TA1 on every interchange, ISA id ACMERETAIL.
# shellcheck disable=SC2086
"$edigate" ack $when --partner acme-retail "$fx/clean_850_4010.edi" >"$tmp/out" 2>&1
grep -q '^ISA\*00\*          \*00\*          \*ZZ\*EDIGATEDEMO    \*ZZ\*ACMERETAIL     \*' "$tmp/out" &&
    grep -qx 'TA1\*000000101\*261123\*1015\*A\*000~' "$tmp/out" &&
    grep -qx 'GS\*FA\*EDIGATEDEMO\*ACMERETAIL\*20261123\*1200\*1\*X\*004010~' "$tmp/out"
check $? "a partner profile gives the ids, the ack type and a TA1"

# shellcheck disable=SC2086
"$edigate" ack $when "$fx/isa_iea_mismatch.edi" >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -qx 'TA1\*000000101\*261123\*1015\*R\*001~' "$tmp/out" &&
    ! grep -q '^ST' "$tmp/out"
check $? "ISA13/IEA02 mismatch: TA1 R 001 and no 997"

"$edigate" ack "$fx/only_ta1.edi" "$fx/only_997.edi" "$fx/only_contrl.edi" >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 0 ] && [ ! -s "$tmp/out" ]
check $? "acknowledgments are never acknowledged (TA1, 997, CONTRL)"

# shellcheck disable=SC2086
"$edigate" ack $when "$fx/orders_unt_count.edi" >"$tmp/out" 2>&1
grep -qx "UCM+1+ORDERS:D:96A:UN+4+29+UNT+2'" "$tmp/out" &&
    grep -qx "UNH+1+CONTRL:D:3:UN'" "$tmp/out"
check $? "EDIFACT gets a CONTRL with UCM 4 29 for a wrong UNT count"

# shellcheck disable=SC2086
"$edigate" ack $when "$fx/invalid_code.edi" >"$tmp/ack.edi" 2>/dev/null
"$edigate" ack --read "$tmp/ack.edi" >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 0 ] && [ "$(wc -l <"$tmp/out")" -eq 1 ] &&
    grep -q '^{"type":"functional_ack",.*"acknowledged":{"functional_id":"PO","group":"101"},"status":"rejected","sets":\[{"set":"0001","message":"850","status":"rejected","errors":\[{"position":2,"tag":"BEG","segment_code":8,"element":1,"element_code":7,"value":"99"}\]}\],"counts":{"sets_included":1,"sets_received":1,"sets_accepted":0}}$' "$tmp/out"
check $? "--read prints the 997 as a functional_ack document"

"$edigate" ack --read - <"$tmp/ack.edi" >"$tmp/out2" 2>&1
cmp -s "$tmp/out" "$tmp/out2"
check $? "--read takes standard input as '-'"

if python3 -c 'import jsonschema, referencing' 2>/dev/null; then
	python3 -c '
import json, sys, jsonschema, referencing, pathlib
d = pathlib.Path(sys.argv[1])
res = [(json.loads(p.read_text())["$id"], referencing.Resource.from_contents(json.loads(p.read_text())))
       for p in d.glob("*.schema.json")]
reg = referencing.Registry().with_resources(res)
schema = json.loads((d / "functional_ack.schema.json").read_text())
v = jsonschema.Draft202012Validator(schema, registry=reg)
ok = True
for line in open(sys.argv[2]):
    for e in v.iter_errors(json.loads(line)):
        print("#", "/".join(map(str, e.path)), e.message)
        ok = False
sys.exit(0 if ok else 1)
' "$top_srcdir/maps/canonical" "$tmp/out"
	check $? "the functional_ack document passes its JSON Schema"
else
	n=$((n + 1))
	echo "ok $n # SKIP python3-jsonschema is not installed"
fi

printf '%s' 'ISA*00*          *00*          *ZZ*ACME           *ZZ*EDIGATEDEMO    *261124*0900*U*00401*000000780*0*P*>~GS*FA*ACME*EDIGATEDEMO*20261124*0900*80*X*004010~ST*997*0001~AK1*PO*1~AK2*850*0001~AK4*1**7~AK5*R*5~AK9*R*1*1*0~SE*7*0001~GE*1*80~IEA*1*000000780~' >"$tmp/bad.edi"
"$edigate" ack --read "$tmp/bad.edi" >/dev/null 2>"$tmp/out"
rc=$?
[ $rc -eq 1 ] && grep -q 'malformed 997: .*without a segment error' "$tmp/out"
check $? "a malformed ack is reported on stderr, exit 1"

"$edigate" ack >"$tmp/out" 2>&1
check $(( $? != 2 )) "no file is a usage error (exit 2)"

"$edigate" ack --partner no-such-partner "$fx/clean_850_4010.edi" >"$tmp/out" 2>&1
check $(( $? != 2 )) "an unknown partner is a usage error (exit 2)"
