#!/bin/sh
# validate_cli.sh - `edigate validate`: exit status, problem lines, --json,
# standard input (TAP).

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
edigate=$top_builddir/gateway/edigate
fx=$top_srcdir/tests/fixtures
tmp=${TMPDIR:-/tmp}/edigate-validate-$$
mkdir -p "$tmp" || exit 1
trap 'rm -rf "$tmp"' EXIT

echo "1..13"
n=0
check() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		[ -f "$tmp/out" ] && sed 's/^/# /' "$tmp/out" | head -n 10
	fi
}

"$edigate" validate "$fx/x12/valid_850_4010.edi" "$fx/edifact/valid_orders_d96a_una.edi" >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 0 ] && [ ! -s "$tmp/out" ]
check $? "valid files exit 0 and print nothing"

"$edigate" validate "$fx/x12/valid_850_4010.edi" "$fx/x12/bad_ak5_4_segment_count.edi" >"$tmp/out" 2>&1
check $(( $? != 1 )) "one invalid file among valid ones exits 1"

grep -qx "$fx/x12/bad_ak5_4_segment_count.edi:7:7: AK5-4 SE01 says 6 segments, the transaction set has 5 (ST and SE included)" "$tmp/out"
check $? "a problem is printed as file:line:segment-index: CODE message"

"$edigate" validate "$fx/edifact/bad_contrl_29_unt_count.edi" >"$tmp/out" 2>&1
grep -q "^$fx/edifact/bad_contrl_29_unt_count.edi:4:4: CONTRL-29 " "$tmp/out"
check $? "EDIFACT problems carry CONTRL codes"

"$edigate" validate - <"$fx/x12/bad_ta1_001_control_mismatch.edi" >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "^-:9:9: TA1-001 " "$tmp/out"
check $? "'-' reads standard input"

"$edigate" validate "$tmp/does-not-exist.edi" "$fx/x12/valid_850_4010.edi" >"$tmp/out" 2>&1
check $(( $? != 2 )) "an unreadable file exits 2"

"$edigate" validate "$tmp/does-not-exist.edi" "$fx/x12/bad_ak5_4_segment_count.edi" >"$tmp/out" 2>&1
check $(( $? != 2 )) "an I/O error wins over an invalid file"

"$edigate" validate >"$tmp/out" 2>&1
check $(( $? != 2 )) "no file is a usage error (exit 2)"

"$edigate" validate --no-such-option "$fx/x12/valid_850_4010.edi" >"$tmp/out" 2>&1
check $(( $? != 2 )) "an unknown option is a usage error (exit 2)"

"$edigate" validate --json "$fx/x12/bad_ak9_4_control_mismatch.edi" >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 1 ] &&
    grep -q '^{"type":"problem","file":"[^"]*bad_ak9_4_control_mismatch.edi","line":8,"segment":8,"offset":[0-9]*,"element":2,"component":0,"tag":"GE","code":"AK9-4","vocabulary":"AK9","ack_code":"4","level":"group","severity":"error","message":"[^"]*"}$' "$tmp/out"
check $? "--json prints one object per problem"

grep -q '^{"type":"summary","file":"[^"]*bad_ak9_4_control_mismatch.edi","valid":false,"interchanges":1,"interchanges_accepted":1,"groups":1,"sets":1,"sets_accepted":1,"errors":1,"warnings":0}$' "$tmp/out"
check $? "--json prints a summary per file"

# A warning (group version of another release than the ISA) keeps the file valid.
sed 's/\*X\*004010~/*X*003010~/' "$fx/x12/valid_850_4010.edi" >"$tmp/warn.edi"
"$edigate" validate "$tmp/warn.edi" >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 0 ] && grep -q ": AK9-2 (warning) GS08 " "$tmp/out"
check $? "warnings are printed but keep the file valid"

: >"$tmp/empty.edi"
"$edigate" validate "$tmp/empty.edi" >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q ": NO_INTERCHANGE " "$tmp/out"
check $? "a file without any interchange is invalid"
