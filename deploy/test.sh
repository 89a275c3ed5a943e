#!/bin/bash
# edigate's complete test run, the one CI runs (.ci/run). On a fresh Debian
# 12 as root it installs what is missing, then runs every suite:
#
#   build        autoreconf, configure and build in build/ (out of tree)
#   check        make check in build/: unit (cmocka) and script tests, TAP
#   sanitizers   the same tests built with ASan+UBSan in build-asan/
#   fuzz         every libFuzzer target in tests/fuzz/ for a short time
#   distcheck    make distcheck: the release tarball builds, installs and
#                passes the unit tests out of a read-only copy, and holds
#                every file git tracks (the script tests ran in check and
#                sanitizers already; running them a third time doubled
#                the run for little)
#   lint         shellcheck over every shell script of the repository
#                (errors fail, warnings are listed)
#
# and ends with one line "N passed, N failed" (", N skipped" when some
# were) over all test cases of all suites. Exit status 0 only when nothing
# failed. Safe to run again: every run starts its suites afresh.
#
# Environment:
#   EDIGATE_FUZZ_SECONDS  total fuzzing time, shared by the targets (60)
#   EDIGATE_FUZZ_SEED     libFuzzer's seed (1): a fixed seed makes the
#                         short run repeatable, so a red CI is never chance;
#                         the long run (tests/fuzz/run.sh) explores at random
#   EDIGATE_DISTCHECK     0 skips make distcheck (1)
#   EDIGATE_CORPUS        the public sample corpus (../shared/corpus)
#
# Counting: each TAP line is one case. PASS counts as passed; FAIL and
# ERROR as failed; SKIP as skipped. A known failure marked TODO (XFAIL)
# is neither passed nor failed: it is listed and counted with the skipped.
# An unexpected pass of a TODO case (XPASS) counts as failed, as automake
# fails `make check` for it: the TODO mark is stale and must go. A suite
# that fails without naming a failing case (a build error, a crash before
# any TAP output) counts as one failed case.
set -u

cd "$(dirname "$0")/.." || exit 2
root=$(pwd)
# shellcheck source=deploy/common.sh
. deploy/common.sh

# Every suite, distcheck's copy included, reads the same sample corpus.
EDIGATE_CORPUS=${EDIGATE_CORPUS:-$root/../shared/corpus}
export EDIGATE_CORPUS
jobs=$(nproc 2>/dev/null || echo 2)
passed=0
failed=0
skipped=0
problems=""

section_start=$SECONDS
section() {
	section_start=$SECONDS
	echo
	echo "=================================================================="
	echo "== $*"
	echo "=================================================================="
}

# tally SUITE PASSED FAILED SKIPPED STATUS: adds a suite's counts, and
# counts a suite that failed without a failing case as one failure.
tally() {
	local suite=$1 p=$2 f=$3 s=$4 status=$5
	if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		problems="$problems
$suite: failed (status $status) before reporting a failing case"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
	echo "-- $suite: $p passed, $f failed, $s skipped ($((SECONDS - section_start)) s)"
}

# count_trs SUITE DIR STATUS: tallies the automake test results under DIR
# (one :test-result: line per TAP case in the .trs files) and lists the
# cases that did not pass.
count_trs() {
	local suite=$1 dir=$2 status=$3 counts p f s
	counts=$(find "$dir" -name '*.trs' -exec cat {} + 2>/dev/null | awk '
		$1 == ":test-result:" {
			if ($2 == "PASS") p++
			else if ($2 == "FAIL" || $2 == "ERROR" || $2 == "XPASS") f++
			else s++
		}
		END { printf "%d %d %d\n", p, f, s }')
	read -r p f s <<<"$counts"
	while IFS= read -r line; do
		problems="$problems
$suite: $line"
	done < <(find "$dir" -name '*.trs' | sed 's/\.trs$/.log/' |
	    xargs -r grep -hE '^(FAIL|ERROR|XPASS|XFAIL):' 2>/dev/null)
	tally "$suite" "$p" "$f" "$s" "$status"
}

# count_tap SUITE FILE STATUS: tallies a TAP stream written by a script.
count_tap() {
	local suite=$1 file=$2 status=$3 counts p f s
	counts=$(awk '
		/^ok / { if ($0 ~ /# *(SKIP|skip)/ || $0 ~ /# *TODO/) s++; else p++ }
		/^not ok / { if ($0 ~ /# *(SKIP|skip)/ || $0 ~ /# *TODO/) s++; else f++ }
		END { printf "%d %d %d\n", p, f, s }' "$file")
	read -r p f s <<<"$counts"
	while IFS= read -r line; do
		problems="$problems
$suite: $line"
	done < <(grep -E '^not ok ' "$file")
	tally "$suite" "$p" "$f" "$s" "$status"
}

# build DIR CONFIGURE-ARGS...: configures DIR out of tree and builds the
# programs and everything `make check` needs, without running the tests.
build() {
	local dir=$1
	shift
	mkdir -p "$dir" &&
	    (cd "$dir" && "$root/configure" -q "$@") &&
	    make -C "$dir" -s -j"$jobs" all &&
	    make -C "$dir" -s -j"$jobs" check TESTS= >/dev/null
}

# check DIR: runs the test suite of a built DIR afresh.
check() {
	local dir=$1
	# Results of an earlier run, or of a distcheck that stopped halfway,
	# must not be counted.
	rm -rf "$dir"/edigate-*/
	find "$dir" -name '*.trs' -delete
	# Tests run one after another: the integration tests start servers.
	make -C "$dir" -s check
}

section "packages"
# Word splitting is wanted: one package per word.
# shellcheck disable=SC2086
if ! edigate_install_packages $EDIGATE_BUILD_PACKAGES $EDIGATE_TEST_PACKAGES; then
	echo "cannot install the packages the tests need"
	echo "0 passed, 1 failed"
	exit 1
fi

if [ -f config.status ]; then
	echo "the source tree itself is configured; run 'make distclean' in $root" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

section "build: autoreconf, configure and make in build/"
build_status=0
mkdir -p m4 # aclocal -I m4 wants it; git keeps no empty folder
autoreconf -fi || build_status=$?
if [ "$build_status" -eq 0 ]; then
	build build || build_status=$?
fi
# A build that works is no test case of its own; one that fails is a
# failure (and the suites that need it do not run).
if [ "$build_status" -eq 0 ]; then
	echo "build: ok"
else
	tally build 0 1 0 "$build_status"
fi

if [ "$build_status" -eq 0 ]; then
	section "check: unit and script tests (make check in build/)"
	status=0
	check build || status=$?
	count_trs check build "$status"
fi

section "sanitizers: the tests under ASan+UBSan (build-asan/)"
if [ "$build_status" -eq 0 ]; then
	san="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
	status=0
	build build-asan CFLAGS="-g -O1 $san" LDFLAGS="$san" || status=$?
	if [ "$status" -eq 0 ]; then
		ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1 \
		UBSAN_OPTIONS=print_stacktrace=1 \
		    check build-asan || status=$?
		count_trs sanitizers build-asan "$status"
	else
		tally sanitizers 0 1 0 "$status"
	fi
else
	echo "skipped: the plain build failed"
fi

section "fuzz: libFuzzer targets of tests/fuzz/, ${EDIGATE_FUZZ_SECONDS:-60} s in all"
if [ "$build_status" -eq 0 ]; then
	status=0
	make -C build -s fuzz || status=$?
	if [ "$status" -eq 0 ]; then
		targets=$(make -C build -s --no-print-directory print-fuzz-targets)
		# shellcheck disable=SC2086
		set -- $targets
		per=$(( ${EDIGATE_FUZZ_SECONDS:-60} / $# ))
		[ "$per" -ge 1 ] || per=1
		(cd build && "$root/tests/fuzz/run.sh" --seconds "$per" \
		    --seeds "$root/tests/fixtures" --seeds "$root/tests/fuzz/regressions" \
		    --artifacts fuzz-artifacts \
		    "$@" -- -seed="${EDIGATE_FUZZ_SEED:-1}") | tee build/fuzz.tap
		status=${PIPESTATUS[0]}
		count_tap fuzz build/fuzz.tap "$status"
	else
		tally fuzz 0 1 0 "$status"
	fi
else
	echo "skipped: the plain build failed"
fi

section "distcheck: the release tarball builds, installs, passes its unit tests and is complete"
if [ "${EDIGATE_DISTCHECK:-1}" = 0 ]; then
	echo "skipped (EDIGATE_DISTCHECK=0)"
	skipped=$((skipped + 1))
elif [ "$build_status" -eq 0 ]; then
	status=0
	unit_tests=$(make -C build -s --no-print-directory print-unit-tests)
	rm -f build/edigate-*.tar.gz
	make -C build -s -j"$jobs" distcheck TESTS="$unit_tests" \
	    >build/distcheck.log 2>&1 || status=$?
	tail -n 8 build/distcheck.log
	# Every tracked file ships (the README links docs/, the tests read
	# their fixtures): automake only checks what EXTRA_DIST names.
	missing=
	if [ "$status" -eq 0 ] && git rev-parse --git-dir >/dev/null 2>&1; then
		missing=$(comm -23 \
		    <(git ls-files | grep -v '^\.gitignore$' | sort) \
		    <(tar tzf build/edigate-*.tar.gz | sed 's|^[^/]*/||' | sort))
	fi
	if [ -n "$missing" ]; then
		echo "tracked but not in the tarball (add them to EXTRA_DIST):"
		# One file a word: tracked paths hold no spaces.
		# shellcheck disable=SC2086
		printf '  %s\n' $missing
		problems="$problems
distcheck: tracked files missing from the tarball: $(tr '\n' ' ' <<<"$missing")"
		status=1
	fi
	if [ "$status" -eq 0 ]; then
		tally distcheck 1 0 0 0
	elif [ -n "$missing" ]; then
		tally distcheck 0 1 0 0
	else
		# The copy's failing cases, by name: "FAIL: 0" alone says nothing.
		while IFS= read -r line; do
			echo "$line"
			problems="$problems
distcheck: $line"
		done < <(grep -E '^(FAIL|ERROR|XPASS):' build/distcheck.log)
		echo "see build/distcheck.log"
		tally distcheck 0 1 0 "$status"
	fi
else
	echo "skipped: the plain build failed"
fi

section "lint: shellcheck over the shell scripts"
lint_out=$(mktemp)
lint_tap=$(mktemp)
{
	scripts=$(git ls-files -- '*.sh' .ci/run 2>/dev/null || find deploy tests .ci -name '*.sh')
	n=0
	for f in $scripts; do
		n=$((n + 1))
	done
	echo "1..$n"
	i=0
	for f in $scripts; do
		i=$((i + 1))
		# Errors fail; warnings are shown, so a style point in one
		# script never blocks everyone's CI.
		if shellcheck -x --severity=error "$f" >"$lint_out" 2>&1; then
			echo "ok $i - $f"
			shellcheck -x --severity=warning -f gcc "$f" 2>&1 |
			    sed 's/^/# /'
		else
			echo "not ok $i - $f"
			sed 's/^/# /' "$lint_out"
		fi
	done
} | tee "$lint_tap"
count_tap lint "$lint_tap" 0
rm -f "$lint_out" "$lint_tap"

section "summary"
if [ -n "$problems" ]; then
	echo "did not pass:$problems"
fi
echo "logs: build/test-suite.log, build-asan/test-suite.log, build/fuzz.tap, build/distcheck.log"
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
