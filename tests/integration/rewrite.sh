#!/bin/sh
# edigate rewrite, end to end: every fixture and corpus file is rewritten
# with its own delimiters and with others, and `edigate dump` of the
# output must equal `edigate dump` of the input. Prints TAP.
#
# With other delimiters the UNA and the separators in ISA11/ISA16 differ
# by design, and a malformed ISA comes back padded to its fixed widths, so
# those are normalised before comparing.

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
EDIGATE=$top_builddir/gateway/edigate
CORPUS=${EDIGATE_CORPUS:-$top_srcdir/../shared/corpus}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/edigate-rewrite.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
check() { # check DESCRIPTION COMMAND...
	desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

if [ ! -x "$EDIGATE" ]; then
	echo "1..0 # SKIP $EDIGATE not built"
	exit 0
fi

# A dump (on stdin), with UNA lines left out and ISA11/ISA16 and ISA
# padding masked.
normalise() {
	sed -e '/^\["UNA",/d' \
	        -e '/^\["ISA",/{
s/ *"/"/g
s/^\(\["ISA"\(,"[^"]*"\)\{10\}\),"[^"]*"/\1,"?"/
s/,"[^"]*"\]$/,"?"]/
}'
}

# The input's dump is made once per file ($tmp/in.dump, with its errors
# in $tmp/in.err): each edigate run costs a process start, and this
# script makes over a thousand of them.
same_dump() { # same_dump OUTPUT
	"$EDIGATE" dump "$1" >"$tmp/out.dump" 2>/dev/null
	cmp -s "$tmp/in.dump" "$tmp/out.dump"
}

same_normalised_dump() { # same_normalised_dump OUTPUT
	normalise <"$tmp/in.dump" >"$tmp/in.norm"
	"$EDIGATE" dump "$1" 2>/dev/null | normalise >"$tmp/out.norm"
	cmp -s "$tmp/in.norm" "$tmp/out.norm"
}

# Exit status 0 (clean) or 1 (input had errors) both leave usable output;
# 2 is a usage or I/O error, anything else a crash.
rewrites() { # rewrites OUTPUT ARGS...
	out=$1
	shift
	"$EDIGATE" rewrite "$@" >"$out" 2>"$tmp/stderr"
	status=$?
	[ $status -le 1 ] && ! grep -q 'DELIMITER_IN_DATA\|NO_REPETITION\|BAD_' "$tmp/stderr"
}

files=$(find "$top_srcdir/tests/fixtures" -name '*.edi' | sort)
if [ -d "$CORPUS" ]; then
	files="$files $(find "$CORPUS" -name '*.edi' | sort)"
else
	echo "# corpus not found ($CORPUS): fixtures only"
fi

# An ISA the reader finds malformed is either refused (a field too long,
# delimiters a writer may not use) or written back padded to its widths.
malformed_isa_ok() { # malformed_isa_ok OUTPUT
	grep -q 'BAD_HEADER ISA\|BAD_DELIMITERS' "$tmp/stderr" ||
	    same_normalised_dump "$1"
}

for f in $files; do
	name=${f#"$top_srcdir"/}
	name=${name#"$CORPUS"/}
	case $name in
	*/x12_pipe_in_data.edi) other='}{~^' ;; # keeps '|' for the refusal test
	*) other='}{|!' ;;
	esac
	"$EDIGATE" dump "$f" >"$tmp/in.dump" 2>"$tmp/in.err"
	if grep -q ' ISA_LENGTH \| DELIMITERS ' "$tmp/in.err"; then
		"$EDIGATE" rewrite "$f" >"$tmp/same.edi" 2>"$tmp/stderr"
		check "$name: malformed header, same delimiters: refused or padded" \
		    malformed_isa_ok "$tmp/same.edi"
		"$EDIGATE" rewrite --delimiters "$other" "$f" >"$tmp/other.edi" \
		    2>"$tmp/stderr"
		check "$name: malformed header, other delimiters: refused or padded" \
		    malformed_isa_ok "$tmp/other.edi"
		continue
	fi
	if rewrites "$tmp/same.edi" "$f" && same_dump "$tmp/same.edi"; then
		ok "$name: same delimiters, same dump"
	else
		not_ok "$name: same delimiters, same dump"
	fi
	if rewrites "$tmp/other.edi" --delimiters "$other" --una '{}.!`~' \
	    --line crlf "$f" && same_normalised_dump "$tmp/other.edi"; then
		ok "$name: other delimiters, same values"
	else
		not_ok "$name: other delimiters, same values"
	fi
done

fixtures=$top_srcdir/tests/fixtures

# Standard input and a file give the same bytes.
"$EDIGATE" rewrite --delimiters '|^~' "$fixtures/reader/x12_5010_crlf.edi" \
    >"$tmp/file.edi" 2>/dev/null
"$EDIGATE" rewrite --delimiters '|^~' - \
    <"$fixtures/reader/x12_5010_crlf.edi" >"$tmp/stdin.edi" 2>/dev/null
check "'-' reads standard input" cmp -s "$tmp/file.edi" "$tmp/stdin.edi"

# A mixed stream: each interchange takes the option of its standard.
"$EDIGATE" rewrite --delimiters '|!~' --una '=/.?*"' --line lf \
    "$fixtures/reader/mixed_stream.edi" >"$tmp/mixed.edi" 2>/dev/null
check "mixed stream: X12 interchange uses --delimiters" \
    grep -q '^GS|IN|S|R|20240101|1200|2|X|004010~$' "$tmp/mixed.edi"
check "mixed stream: EDIFACT interchange gets a UNA from --una" \
    grep -q '^UNA=/\.?\*"$' "$tmp/mixed.edi"
check "mixed stream: EDIFACT interchange uses --una" \
    grep -q '^UNB/UNOA=4/S/R/240101=1200/7"$' "$tmp/mixed.edi"

# Line styles.
"$EDIGATE" rewrite --line none "$fixtures/reader/x12_5010_crlf.edi" \
    >"$tmp/none.edi" 2>/dev/null
check "--line none writes no line breaks" \
    test "$(tr -dc '\n\r' <"$tmp/none.edi" | wc -c)" -eq 0
"$EDIGATE" rewrite --line crlf "$fixtures/writer/x12_pipe_in_data.edi" \
    >"$tmp/crlf.edi" 2>/dev/null
check "--line crlf ends every segment with CRLF" \
    test "$(grep -c "~$(printf '\r')\$" "$tmp/crlf.edi")" -eq 8

# X12 data holding a new delimiter is refused with its position.
"$EDIGATE" rewrite --delimiters '|:~' "$fixtures/writer/x12_pipe_in_data.edi" \
    >/dev/null 2>"$tmp/refused.txt"
status=$?
check "X12 data holding the new element separator exits 1" test $status -eq 1
check "the refusal names file, line, segment and element" \
    grep -q 'x12_pipe_in_data.edi:5:5: DELIMITER_IN_DATA N1 (segment 5) element 2 component 1' \
    "$tmp/refused.txt"

# Usage errors.
"$EDIGATE" rewrite --delimiters '**~' "$fixtures/writer/x12_pipe_in_data.edi" \
    >/dev/null 2>&1
check "delimiters that are not distinct are a usage error" test $? -eq 2
"$EDIGATE" rewrite --line dos "$fixtures/writer/x12_pipe_in_data.edi" \
    >/dev/null 2>&1
check "an unknown line style is a usage error" test $? -eq 2
"$EDIGATE" rewrite "$tmp/no-such-file.edi" >/dev/null 2>&1
check "a missing file is an I/O error" test $? -eq 2

# A large interchange streams in flat memory.
awk 'BEGIN {
	printf "ISA*00*          *00*          *ZZ*SENDERID       *ZZ*RECEIVERID     *240101*1200*^*00501*000000009*0*P*:~\n"
	printf "GS*PO*SENDER*RECEIVER*20240101*1200*9*X*005010~\nST*850*0001~\n"
	for (i = 1; i <= 600000; i++)
		printf "PO1*%d*12*EA*3.50**UP*012345678905*VN*SKU%d~\n", i, i
	printf "SE*600002*0001~\nGE*1*9~\nIEA*1*000000009~\n"
}' >"$tmp/big.edi"
if [ -x /usr/bin/time ] && ! grep -q __asan_init "$EDIGATE"; then
	/usr/bin/time -f '%M' -o "$tmp/rss" "$EDIGATE" rewrite \
	    --delimiters '|>~^' --line none "$tmp/big.edi" >"$tmp/big.out" 2>/dev/null
	rss=$(tail -n 1 "$tmp/rss")
	check "a 30 MB interchange is rewritten in at most 16 MiB (${rss} KiB)" \
	    test "$rss" -le 16384
else
	"$EDIGATE" rewrite --delimiters '|>~^' --line none "$tmp/big.edi" \
	    >"$tmp/big.out" 2>/dev/null
	skip "a 30 MB interchange is rewritten in flat memory" \
	    "no /usr/bin/time, or a sanitizer build"
fi
check "the large interchange reads back segment for segment" \
    test "$("$EDIGATE" dump "$tmp/big.out" | wc -l)" -eq 600006

echo "1..$n"
[ $failed -eq 0 ]
