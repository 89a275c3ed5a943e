#!/bin/sh
# Runs libFuzzer targets for a while each and prints TAP, one test per
# target: "ok" when the target ran its time without a crash, leak, timeout
# or sanitizer report.
#
#   tests/fuzz/run.sh [--seconds N] [--seeds DIR]... [--corpus DIR]
#                     [--artifacts DIR] TARGET... [-- LIBFUZZER-OPTION...]
#
# The seed corpus is rebuilt on every run from each --seeds DIR
# (tests/fixtures, and tests/fuzz/regressions: every input that once
# crashed a target, so it is replayed first on every run) and from the
# public sample corpus ($EDIGATE_CORPUS) when it exists. New
# inputs go to --corpus DIR/<target> when given (keep it between long runs),
# otherwise to a temporary folder removed at the end. A crashing input is
# written under --artifacts (default: fuzz-artifacts/ in the current folder)
# and its path printed; replay it with `TARGET FILE`.
set -eu

seconds=30
seeds=
corpus=
artifacts=fuzz-artifacts
targets=

usage() {
	echo "usage: $0 [--seconds N] [--seeds DIR]... [--corpus DIR] [--artifacts DIR] TARGET... [-- OPTION...]" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--seconds) [ $# -ge 2 ] || usage; seconds=$2; shift 2 ;;
	--seeds) [ $# -ge 2 ] || usage; seeds="$seeds $2"; shift 2 ;;
	--corpus) [ $# -ge 2 ] || usage; corpus=$2; shift 2 ;;
	--artifacts) [ $# -ge 2 ] || usage; artifacts=$2; shift 2 ;;
	--) shift; break ;;
	-*) usage ;;
	*) targets="$targets $1"; shift ;;
	esac
done
[ -n "$targets" ] || usage

tmp=$(mktemp -d "${TMPDIR:-/tmp}/edigate-fuzz.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# Seeds: every regular file of the fixtures and of the sample corpus.
mkdir -p "$tmp/seeds"
# Folder names are split on spaces: keep them free of spaces.
for dir in $seeds "${EDIGATE_CORPUS:-}"; do
	if [ -z "$dir" ] || [ ! -d "$dir" ]; then
		continue
	fi
	find "$dir" -type f ! -name '*.tsv' ! -name '*.md' |
	while IFS= read -r f; do
		# The path makes the name unique across both folders.
		cp "$f" "$tmp/seeds/$(printf '%s' "$f" | tr -c 'A-Za-z0-9._-' '_')"
	done
done
n=$(find "$tmp/seeds" -type f | wc -l)
echo "# $n seed files from$seeds ${EDIGATE_CORPUS:-}"

mkdir -p "$artifacts"
count=0
for t in $targets; do
	count=$((count + 1))
done
echo "1..$count"

i=0
failed=0
for t in $targets; do
	i=$((i + 1))
	name=$(basename "$t")
	if [ -n "$corpus" ]; then
		out="$corpus/$name"
	else
		out="$tmp/corpus-$name"
	fi
	mkdir -p "$out"
	log="$tmp/$name.log"
	if "$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$artifacts/$name-" \
	    "$@" "$out" "$tmp/seeds" >"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "ok $i - $name ran ${seconds}s without a failure (${runs:-?} inputs)"
	else
		failed=$((failed + 1))
		echo "not ok $i - $name found a failing input"
		sed 's/^/# /' "$log" | tail -n 60
		for a in "$artifacts/$name-"*; do
			[ -e "$a" ] && echo "# artifact: $a (replay: $t $a)"
		done
	fi
done
[ "$failed" -eq 0 ]
