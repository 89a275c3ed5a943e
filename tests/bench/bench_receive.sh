#!/bin/sh
# bench_receive.sh - messages per second through `edigate receive` (store,
# validate, 997, translate, store the order) for N small 850 interchanges,
# on SQLite and on a throwaway PostgreSQL, beside references measured in
# the same run on the same files: `edigate validate` (envelopes only) and
# `edigate translate` (guide and maps, no store). The ratio says what the
# durable store costs on top of the work itself. Not a timed test.
#
#   bench_receive.sh [--builddir DIR] [N]      (default N = 500)
set -eu

top_srcdir=${top_srcdir:-.}
builddir=.
if [ "${1:-}" = --builddir ]; then
	builddir=$2
	shift 2
fi
count=${1:-500}
edigate=$builddir/gateway/edigate
here=$top_srcdir/tests/integration
demo=$top_srcdir/tests/fixtures/demo/x12_850_order.edi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/edigate-benchrecv-XXXXXX")
# The cluster runs as postgres when we are root: it must reach its folder.
chmod 755 "$tmp"
pg=
cleanup() {
	[ -n "$pg" ] && "$here/pg_cluster.sh" stop "$pg" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# N distinct interchanges: ISA13 and GS06 numbered, so none is a duplicate.
mkdir "$tmp/in"
i=1
while [ "$i" -le "$count" ]; do
	isa=$(printf '%09d' "$i")
	sed -e "s/\*000000101\*0\*T/*$isa*0*T/" -e "s/^IEA\*1\*000000101/IEA*1*$isa/" \
		-e "s/\*0930\*101\*X/*0930*$i*X/" -e "s/^GE\*1\*101/GE*1*$i/" \
		"$demo" >"$tmp/in/$isa.edi"
	i=$((i + 1))
done
set -- "$tmp/in"/*.edi

now() { date +%s%N; }
# rate NAME COMMAND...: runs it once on every file, prints a table row.
results=
run() {
	name=$1
	shift
	t0=$(now)
	"$@" >"$tmp/out" 2>"$tmp/err" || [ $? = 1 ] || {
		echo "$name failed:" >&2
		head -n 5 "$tmp/err" >&2
		return 1
	}
	t1=$(now)
	ms=$(( (t1 - t0) / 1000000 ))
	[ "$ms" -gt 0 ] || ms=1
	rate=$(( count * 1000 / ms ))
	results="$results$name $ms $rate
"
}

R="--partner acme-retail --partners $top_srcdir/partners --maps $top_srcdir/maps"
run "validate (reference)" "$edigate" validate "$@"
run "translate (reference)" "$edigate" translate --maps "$top_srcdir/maps" "$@"
run "receive sqlite" "$edigate" receive $R --store "$tmp/sqlite/edigate.db" "$@"
processed=$(grep -c '"state":"processed"' "$tmp/out" || true)
[ "$processed" = "$count" ] || echo "warning: $processed of $count processed on sqlite" >&2

pg=$tmp/pg
PG_TEST_PORT=${PG_TEST_PORT:-$((20000 + $$ % 20000))}
export PG_TEST_PORT
if url=$("$here/pg_cluster.sh" start "$pg" 2>"$tmp/pg.log"); then
	run "receive postgresql" "$edigate" receive $R --store "$url" \
		--spool "$tmp/pgspool" "$@"
	processed=$(grep -c '"state":"processed"' "$tmp/out" || true)
	[ "$processed" = "$count" ] || echo "warning: $processed of $count processed on postgresql" >&2
else
	echo "# PostgreSQL skipped: $(head -n 1 "$tmp/pg.log")"
fi

ref=$(printf '%s' "$results" | awk 'NR == 1 { print $(NF) }')
echo "edigate receive, $count single-order 850 interchanges, one process"
printf '%-24s %10s %12s %10s\n' "run" "ms" "messages/s" "vs validate"
printf '%s' "$results" | awk -v ref="$ref" '{
	rate = $NF; ms = $(NF - 1); name = $1
	for (i = 2; i <= NF - 2; i++) name = name " " $i
	printf "%-24s %10d %12d %10.3f\n", name, ms, rate, rate / ref
}'
