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
# skip_without NAME TOOL...: after the plan, every case of $PLAN is
# skipped (as NAME) and the script ends when a tool is missing.
skip_without() {
	local name=$1 tool i
	shift
	for tool in "$@"; do
		if ! command -v "$tool" >/dev/null; then
			for i in $(seq 1 "$PLAN"); do
				echo "ok $i - $name # SKIP no $tool"
			done
			exit 0
		fi
	done
}
# make_tmp: $tmp, a fresh folder everything of the script lives in, and
# the traps that stop what the script started ($pids) and remove it.
make_tmp() {
	tmp=$(mktemp -d)
	pids=
	trap stop_pids_and_tmp EXIT
	trap 'exit 1' INT TERM
}
# self_signed NAME CN [DAYS]: an RSA-2048 certificate and its key,
# $tmp/NAME.pem and $tmp/NAME.key, valid for DAYS (2) from now.
self_signed() {
	openssl req -x509 -newkey rsa:2048 -nodes -days "${3:-2}" \
		-subj "/CN=$2" -keyout "$tmp/$1.key" -out "$tmp/$1.pem" \
		>/dev/null 2>&1
}
# start_edigated WRITE_CONFIG: $EDIGATED on a free loopback port, eight
# tries; WRITE_CONFIG PORT writes $tmp/edigate.conf for that port. Sets
# $port and $pid (also added to $pids); its log goes to $tmp/log.
start_edigated() {
	local _ write=$1
	for _ in 1 2 3 4 5 6 7 8; do
		port=$((20000 + RANDOM % 20000))
		"$write" "$port"
		"$EDIGATED" -f -c "$tmp/edigate.conf" >/dev/null 2>>"$tmp/log" &
		pid=$!
		if wait_for 5 curl -s -o /dev/null "http://127.0.0.1:$port/healthz"; then
			pids="$pids $pid"
			return 0
		fi
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	pid=
	return 1
}
# Stops every process in $pids: TERM, up to 5 s to finish (a daemon
# completes its shutdown), then KILL; removes $tmp unless KEEP_TMP is set.
stop_pids_and_tmp() {
	local p w
	for p in $pids; do kill -TERM "$p" 2>/dev/null; done
	for p in $pids; do
		# The watchdog's output goes nowhere: a sleep left holding
		# the TAP pipe would keep the harness waiting.
		{ sleep 5; kill -KILL "$p" 2>/dev/null; } >/dev/null 2>&1 &
		w=$!
		wait "$p" 2>/dev/null
		kill "$w" 2>/dev/null
		wait "$w" 2>/dev/null
	done
	if [ -n "${KEEP_TMP:-}" ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
}
