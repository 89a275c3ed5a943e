#!/bin/sh
# The benchmark's inputs are what the figures claim they are: the
# generated X12 850 and EDIFACT ORDERS files read without a single reader
# error, pass the envelope checks (so the validation figures measure a
# clean run), and the reader finds exactly as many segments as a plain
# count of the terminator byte (the generated data never contains a
# released terminator, so both counts must agree). Prints TAP.
set -u

bench=${top_builddir:-.}/tests/bench
tmp=$(mktemp -d "${TMPDIR:-/tmp}/edigate-bench-smoke.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { # description, then a command that must succeed
	d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
field() { # field NAME FILE: the value of NAME=value in FILE
	sed -n "s/.*$1=\\([^ ]*\\).*/\\1/p" "$2"
}

echo "1..11"

for std in x12 edifact; do
	case $std in
	x12) term='~' ;;
	edifact) term="'" ;;
	esac
	f=$tmp/$std.edi
	"$bench/gen_edi" "$std" 1M >"$f"
	size=$(wc -c <"$f")
	check "$std: generator writes at least the 1 MB asked for" \
	    test "$size" -ge 1000000
	"$bench/bench_reader" "$f" >"$tmp/$std.reader" 2>"$tmp/$std.err"
	check "$std: the reader reports no error on the generated file" \
	    test "$(field errors "$tmp/$std.reader")" = 0
	"$bench/memchr_scan" "$f" "$term" >"$tmp/$std.memchr"
	check "$std: reader segment count equals the terminator count" \
	    test "$(field segments "$tmp/$std.reader")" = \
	    "$(field count "$tmp/$std.memchr")"
	check "$std: reader and memchr scan read the same number of bytes" \
	    test "$(field bytes "$tmp/$std.reader")" = "$size"
	"$bench/bench_reader" --validate "$f" >"$tmp/$std.validate" 2>"$tmp/$std.verr"
	check "$std: the generated interchange passes the envelope checks" \
	    test "$(field errors "$tmp/$std.validate")" = 0
done

"$bench/bench_rusage" "$tmp/rusage" "$bench/gen_edi" x12 1k >/dev/null
check "bench_rusage reports the child's peak memory and exit status" \
    grep -q '^maxrss_kib=[1-9][0-9]* seconds=[0-9.]* status=0$' "$tmp/rusage"
