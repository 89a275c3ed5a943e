#!/bin/sh
# The reader benchmark: generates X12 850 and EDIFACT ORDERS interchanges of
# the given sizes into a temporary folder, measures them and prints one
# Markdown table. Generated files are removed as soon as they are measured.
#
#   tests/bench/run.sh [--builddir DIR] [SIZE...]     (default 10M 100M 1G)
#
# Columns, each the best of 3 runs:
#   tokenize   bench_reader: 1 MiB read(2) chunks through the reader,
#              counting segments (MB = 10^6 bytes)
#   validate   the same through the reader and the envelope validator
#   peak RSS   ru_maxrss of the measuring child process
#   memchr     memchr_scan: the same reads, counting the segment terminator
#              with memchr(3): the ceiling any tokenizer is held against
#   ratio      tokenize / memchr
# The "edigate dump" rows time `edigate dump FILE > /dev/null` from the
# outside (process start included) against the same memchr figure.
#
# Generated files go to $TMPDIR (default /tmp): 1G needs 1 GB free there.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
builddir=$here/../../build
sizes=

while [ $# -gt 0 ]; do
	case $1 in
	--builddir) [ $# -ge 2 ] || { echo "usage: $0 [--builddir DIR] [SIZE...]" >&2; exit 2; }
		builddir=$2; shift 2 ;;
	-*) echo "usage: $0 [--builddir DIR] [SIZE...]" >&2; exit 2 ;;
	*) sizes="$sizes $1"; shift ;;
	esac
done
[ -n "$sizes" ] || sizes="10M 100M 1G"

bench=$builddir/tests/bench
edigate=$builddir/gateway/edigate
for p in gen_edi bench_reader memchr_scan bench_rusage; do
	if [ ! -x "$bench/$p" ]; then
		echo "$0: $bench/$p is missing: build first (make check or make bench)" >&2
		exit 2
	fi
done
validate=no
if "$bench/bench_reader" --validate /dev/null >/dev/null 2>&1; then
	validate=yes
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/edigate-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

field() { # field NAME FILE: the value of NAME=value in FILE
	sed -n "s/.*$1=\\([^ ]*\\).*/\\1/p" "$2"
}

# best3 KIND FILE ARGS...: runs the measurement 3 times and sets
# best_seconds (lowest time) and best_rss (lowest peak RSS, KiB).
# KIND "self" takes the time the program printed (its read loop only),
# "outside" the wall time of the whole process, whose output is discarded.
best3() {
	kind=$1
	shift
	best_seconds=
	best_rss=
	out=/dev/null
	[ "$kind" = self ] && out=$tmp/out
	for _ in 1 2 3; do
		if ! "$bench/bench_rusage" "$tmp/rusage" "$@" >"$out" 2>"$tmp/err"; then
			echo "$0: failed: $*" >&2
			cat "$tmp/err" >&2
			exit 1
		fi
		if [ "$kind" = self ]; then
			s=$(field seconds "$tmp/out")
		else
			s=$(field seconds "$tmp/rusage")
		fi
		r=$(field maxrss_kib "$tmp/rusage")
		best_seconds=$(awk -v a="$s" -v b="${best_seconds:-}" \
		    'BEGIN { if (b == "" || a + 0 < b + 0) print a; else print b }')
		best_rss=$(awk -v a="$r" -v b="${best_rss:-}" \
		    'BEGIN { if (b == "" || a + 0 < b + 0) print a; else print b }')
	done
}

mbps() { # bytes seconds
	awk -v b="$1" -v s="$2" 'BEGIN { if (s <= 0) s = 1e-9; printf "%.0f", b / s / 1e6 }'
}
mib() { # KiB
	awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'
}
ratio() { # a b
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", (b > 0 ? 100 * a / b : 0) }'
}

cpu=$(sed -n 's/^model name[^:]*: *//p' /proc/cpuinfo 2>/dev/null | head -n 1)
echo "edigate reader benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), ${cpu:-unknown CPU}, one core per process"
echo
echo "| input | size | tokenize MB/s | validate MB/s | peak RSS | memchr MB/s | ratio to memchr |"
echo "|---|---:|---:|---:|---:|---:|---:|"

verdict=
for size in $sizes; do
	for std in x12 edifact; do
		case $std in
		x12) term='~'; label='X12 850' ;;
		*) term="'"; label='EDIFACT ORDERS' ;;
		esac
		f=$tmp/$std-$size.edi
		"$bench/gen_edi" "$std" "$size" >"$f"
		bytes=$(wc -c <"$f")
		human=$(awk -v b="$bytes" 'BEGIN { if (b >= 1e9) printf "%.2f GB", b / 1e9; else printf "%.1f MB", b / 1e6 }')

		best3 self "$bench/memchr_scan" "$f" "$term"
		memchr=$(mbps "$bytes" "$best_seconds")

		best3 self "$bench/bench_reader" "$f"
		if [ "$(field errors "$tmp/out")" != 0 ]; then
			echo "$0: the reader reported errors on $f:" >&2
			cat "$tmp/err" >&2
			exit 1
		fi
		tok=$(mbps "$bytes" "$best_seconds")
		rss=$best_rss

		val=n/a
		if [ "$validate" = yes ]; then
			best3 self "$bench/bench_reader" --validate "$f"
			if [ "$(field errors "$tmp/out")" != 0 ]; then
				echo "$0: the envelope rejected $f:" >&2
				cat "$tmp/err" >&2
				exit 1
			fi
			val=$(mbps "$bytes" "$best_seconds")
			[ "$best_rss" -gt "$rss" ] && rss=$best_rss
		fi
		echo "| $label | $human | $tok | $val | $(mib "$rss") | $memchr | $(ratio "$tok" "$memchr") |"

		if [ "$tok" -lt 1000 ]; then
			verdict="$verdict
below target: $label $human tokenizes at $tok MB/s (target 1000)"
		fi
		if [ "$(awk -v a="$tok" -v b="$memchr" 'BEGIN { if (4 * a >= b) print 1; else print 0 }')" != 1 ]; then
			verdict="$verdict
below target: $label $human is under 25% of memchr"
		fi
		if [ "$bytes" -ge 1000000000 ] && [ "$rss" -gt 16384 ]; then
			verdict="$verdict
above target: $label $human peak RSS $(mib "$rss") (target 16 MiB)"
		fi

		if [ -x "$edigate" ]; then
			best3 outside "$edigate" dump "$f"
			dump=$(mbps "$bytes" "$best_seconds")
			echo "| \`edigate dump\` $label | $human | $dump | – | $(mib "$best_rss") | $memchr | $(ratio "$dump" "$memchr") |"
		fi
		rm -f "$f"
	done
done

echo
if [ "$validate" = no ]; then
	echo "validate: n/a (the envelope validator is not built yet)"
fi
if [ -n "$verdict" ]; then
	echo "targets (>= 1000 MB/s, >= 25% of memchr, <= 16 MiB RSS at 1 GB):$verdict"
else
	echo "targets (>= 1000 MB/s, >= 25% of memchr, <= 16 MiB RSS at 1 GB): all met"
fi
