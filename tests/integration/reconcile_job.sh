#!/bin/bash
# The reconciliation job of edigated: over a store holding an order
# without response or shipment, with [reconcile] SLAs of 0 days, every run
# logs the two exceptions and /metrics shows them by reason; a bad
# [reconcile] value is refused with file:line. Prints TAP; the trap stops
# the daemon. Loopback only.
set -u

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
EDIGATED=${EDIGATED:-$top_builddir/gateway/edigated}
seed=$top_builddir/tests/integration/reconcile_seed
PLAN=6
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
wait_for() {
	local end=$((SECONDS + $1)); shift
	until "$@"; do [ $SECONDS -ge $end ] && return 1; sleep 0.2; done
}

echo "1..$PLAN"
if ! command -v curl >/dev/null; then
	for i in $(seq 1 $PLAN); do echo "ok $i - reconcile job # SKIP no curl"; done
	exit 0
fi
tmp=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	[ -n "${KEEP_TMP:-}" ] && echo "# kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
chmod 755 "$tmp"
mkdir "$tmp/state" "$tmp/partners"
# No profiles: the report needs none.
cp "$top_srcdir/partners/partner.xsd" "$tmp/partners/"
chmod -R a+rX "$tmp/partners"
printf '{"type":"order","meta":{},"order_number":"PO-R1","lines":[]}\n' > "$tmp/order.json"
printf 'ISA*...*850~\n' > "$tmp/850.edi"
printf 'ISA*...*997~\n' > "$tmp/997.edi"
"$seed" "$tmp/state/edigate.db" > "$tmp/seed.out" 2>&1 <<EOF2
in acme-retail 850 cR $tmp/850.edi
in acme-retail order cR $tmp/order.json
out acme-retail 997 cR $tmp/997.edi
EOF2
check "the store holds an order without response or shipment" test $? -eq 0
user_line="# not started as root"
if [ "$(id -u)" = 0 ]; then
	user_line="user = nobody"
	chown -R nobody "$tmp/state"
fi

write_config() { # write_config PORT INTERVAL
	cat > "$tmp/edigate.conf" <<CONF
state_dir = state
$user_line
maps_dir = $(cd "$top_srcdir" && pwd)/maps
partners_dir = $tmp/partners

[listen.ops]
address = 127.0.0.1:$1

[reconcile]
interval = $2
response_days = 0
ship_days = 0
CONF
	chmod 644 "$tmp/edigate.conf"
}

write_config 1 "2 weeks"
"$EDIGATED" -t -c "$tmp/edigate.conf" > "$tmp/t.out" 2>&1
check "edigated -t refuses a bad [reconcile] interval with file and line" \
	grep -q 'edigate.conf:[0-9]*: interval: expected' "$tmp/t.out"

for _ in 1 2 3 4 5 6 7 8; do
	port=$((20000 + RANDOM % 20000))
	write_config "$port" 1s
	"$EDIGATED" -f -c "$tmp/edigate.conf" >/dev/null 2>>"$tmp/log" &
	pid=$!
	if wait_for 5 curl -s -o /dev/null "http://127.0.0.1:$port/healthz"; then
		break
	fi
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=
done
check "edigated starts with the reconciliation job" test -n "$pid"
metrics() { curl -s "http://127.0.0.1:$port/metrics" > "$tmp/metrics"; grep -q '^edigate_reconcile_runs_total{result="ok"} [1-9]' "$tmp/metrics"; }
wait_for 10 metrics
check "/metrics: one order, none complete, one no-response and one no-shipment" \
	bash -c "grep -qx 'edigate_reconcile_orders 1' '$tmp/metrics' &&
		grep -qx 'edigate_reconcile_complete 0' '$tmp/metrics' &&
		grep -qx 'edigate_reconcile_exceptions{reason=\"no-response\"} 1' '$tmp/metrics' &&
		grep -qx 'edigate_reconcile_exceptions{reason=\"no-shipment\"} 1' '$tmp/metrics' &&
		grep -qx 'edigate_reconcile_exceptions{reason=\"no-invoice\"} 0' '$tmp/metrics'"
check "the log names the exceptions: partner, order number, reason" \
	bash -c "grep '\"msg\":\"reconcile exception\"' '$tmp/log' | grep '\"partner\":\"acme-retail\"' | grep '\"order_number\":\"PO-R1\"' | grep -q '\"reason\":\"no-response\"'"
sleep 2.2
check "the job runs again every interval" \
	test "$(curl -s "http://127.0.0.1:$port/metrics" | sed -n 's/^edigate_reconcile_runs_total{result="ok"} //p')" -ge 2
[ $n -eq $PLAN ] || echo "# planned $PLAN, ran $n"
