# shellcheck shell=bash
# Shared by the integration scripts (sourced, not run): TAP output with a
# running count n, polling with a deadline, and stopping what a script
# started. The caller sets n=0 and prints its plan.

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { # check DESCRIPTION COMMAND...
	local d=$1; shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
wait_for() { # wait_for SECONDS COMMAND...: until the command succeeds
	local end=$((SECONDS + $1)); shift
	until "$@"; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.2
	done
}
# Stops every process in $pids (TERM, then KILL) and removes $tmp unless
# KEEP_TMP is set.
stop_pids_and_tmp() {
	for p in $pids; do kill -TERM "$p" 2>/dev/null; done
	sleep 0.2
	for p in $pids; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	[ -n "${KEEP_TMP:-}" ] && echo "# kept $tmp" || rm -rf "$tmp"
}
