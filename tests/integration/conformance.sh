#!/bin/sh
# conformance.sh - edigate against the public sample corpus (TAP).
#
# For every file in $EDIGATE_CORPUS (default $top_srcdir/../shared/corpus):
#   1. `edigate dump` reads it to the end without crashing or hanging
#      (exit 0 or 1);
#   2. `edigate validate` agrees with the PROVENANCE.tsv note: `valid`
#      files validate (exit 0), `intentionally-invalid` ones are rejected
#      (exit 1), `unknown` ones only must not crash (exit 0 or 1).
# Where a note is wrong about the envelope, or the file is invalid only in
# ways the envelope does not judge, the file is listed in EXCEPTIONS below
# with the exit status edigate must give and why; each reason was checked
# by reading the file.
# Without the corpus folder the whole test is skipped.

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
corpus=${EDIGATE_CORPUS:-$top_srcdir/../shared/corpus}
edigate=$top_builddir/gateway/edigate

if [ ! -d "$corpus" ] || [ ! -f "$corpus/PROVENANCE.tsv" ]; then
	echo "1..0 # SKIP corpus folder $corpus absent"
	exit 0
fi

# file <TAB> expected validate exit status <TAB> reason
EXCEPTIONS=$(cat <<'EOF'
staedi__orders-with-group.edi	1	UNT says 21 segments, the message has 18 (UNH..UNT); UNB 0031 '0' is not in code list 0031 (1, 2)
phpedifact__example_release_character.edi	1	UNT says 14 segments, the message has 23: IFT lines were added to the original example without updating UNT
phpedifact__example_multiline.edi	1	UNB date '999818' and time '999' are not dates/times; UNT says 10 segments, the message has 7
nodex12__271.edi	1	file ends after SE: GE and IEA are missing
ediengine__MultipleInterchangesAndGroups.edi	1	IEA02 '3438' is not identical to ISA13 '000003438' (I12 is fixed 9 digits)
pydifact__order.edi	1	syntax version 4 requires a CCYYMMDD UNB date, found '081012'; UNZ missing at end of file
pydifact__order2.edi	1	UNZ missing at end of file
pydifact__aperak_rejected.edi	1	UNT says 8 segments, the message has 7 (UNH..UNT)
pydifact__aperak.edi	1	UNT says 8 segments, the message has 7; syntax version 4 requires a CCYYMMDD UNB date, found '250322'
vscodex12__odd-separator.edi	1	file ends inside the transaction set: SE, GE and IEA are missing
x12types__005010_824.edi	1	ISA12 00501 makes ISA11 the repetition separator; 'U' is alphanumeric (TA1 016)
x12types__004010_310.edi	1	SE01/SE02, GE02 and IEA02 all disagree with their headers
staedi__invalid997.edi	0	errors are inside the 997 body (code values, non-numeric AK4); the envelope is sound, structure checks are the guide's
staedi__extraDelimiter997.edi	0	extra repetitions/components inside AK3/AK4; the envelope is sound, structure checks are the guide's
staedi__invoic_d97b_bad.edi	0	NAD qualifier 'BYZZ' is a code-list error inside the message; the envelope is sound
phpedifact__example_order_error.edi	0	too many components in an IMD element inside the message; the envelope is sound
ediengine__850.SyntaxNotes.ERR.edi	0	segment syntax notes violated inside the 850; the envelope is sound
EOF
)

tab=$(printf '\t')
files=$(cd "$corpus" && ls | grep -v -e '^PROVENANCE\.tsv$' -e '^README\.md$' | sort)
count=$(printf '%s\n' "$files" | grep -c .)
echo "1..$((count * 2))"

run_timed() {
	if command -v timeout >/dev/null 2>&1; then
		timeout 120 "$@"
	else
		"$@"
	fi
}

n=0
for f in $files; do
	path=$corpus/$f
	note=$(awk -F "$tab" -v f="$f" '$1 == f { print $8; exit }' "$corpus/PROVENANCE.tsv")
	kind=${note%% *}
	[ -n "$kind" ] || kind=unknown

	n=$((n + 1))
	run_timed "$edigate" dump "$path" >/dev/null 2>&1
	rc=$?
	if [ "$rc" -eq 0 ] || [ "$rc" -eq 1 ]; then
		echo "ok $n - $f is read to the end (dump exit $rc)"
	else
		echo "not ok $n - $f: dump exit $rc"
	fi

	n=$((n + 1))
	output=$(run_timed "$edigate" validate "$path" 2>&1)
	rc=$?
	exception=$(printf '%s\n' "$EXCEPTIONS" | awk -F "$tab" -v f="$f" '$1 == f { print $2 "\t" $3; exit }')
	if [ -n "$exception" ]; then
		want=${exception%%"$tab"*}
		why=${exception#*"$tab"}
		label="$f ($kind in the corpus notes) gives exit $want: $why"
	else
		case $kind in
		valid) want=0 ;;
		intentionally-invalid) want=1 ;;
		*) want=any ;;
		esac
		label="$f ($kind) validate exit $want"
	fi
	if { [ "$want" = any ] && { [ "$rc" -eq 0 ] || [ "$rc" -eq 1 ]; }; } ||
	    [ "$rc" = "$want" ]; then
		echo "ok $n - $label"
	else
		echo "not ok $n - $label, got exit $rc"
		printf '%s\n' "$output" | head -n 10 | sed 's/^/# /'
	fi
done
