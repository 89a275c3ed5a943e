#!/bin/bash
# edigated on a throwaway PostgreSQL store: /healthz reports the store
# reachable, then, once the database is stopped under it, unreachable with
# 503, while edigated keeps answering. Loopback and a Unix socket only;
# everything started here is stopped by the trap.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top_builddir=${top_builddir:-.}
EDIGATED=${EDIGATED:-$top_builddir/gateway/edigated}
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }

tmp=$(mktemp -d /tmp/edigate-dpg-XXXXXX)
pgdir=$(mktemp -d /tmp/edigate-pg-XXXXXX)
pid=
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	"$here/pg_cluster.sh" stop "$pgdir" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if ! command -v curl >/dev/null; then
	echo "1..0 # SKIP no curl"
	exit 0
fi
url=$("$here/pg_cluster.sh" start "$pgdir" 2>"$tmp/pg.log")
rc=$?
if [ $rc = 77 ]; then
	echo "1..0 # SKIP $(cat "$tmp/pg.log")"
	exit 0
fi
echo "1..3"
if [ $rc != 0 ]; then
	not_ok "start a throwaway PostgreSQL cluster"
	sed 's/^/# /' "$tmp/pg.log"
	exit 0
fi

started=
for try in 1 2 3 4 5 6 7 8; do
	port=$((20000 + RANDOM % 20000))
	cat > "$tmp/edigate.conf" <<CONF
state_dir = $tmp
# The cluster's socket belongs to its owner; stay who we are.
allow_root = yes
[store]
url = $url
[listen.api]
address = 127.0.0.1:$port
CONF
	"$EDIGATED" -c "$tmp/edigate.conf" 2>>"$tmp/log" &
	pid=$!
	for _ in $(seq 1 50); do
		if curl -s -o /dev/null "http://127.0.0.1:$port/healthz"; then
			started=yes
			break 2
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=
done
base=http://127.0.0.1:$port

check "on PostgreSQL, /healthz reports the store reachable" \
	bash -c "test '$started' = yes &&
		curl -s '$base/healthz' | grep -q '\"status\":\"ok\".*\"store\":\"ok\"'"

"$here/pg_cluster.sh" stop "$pgdir" >/dev/null 2>&1
code=
for _ in $(seq 1 100); do
	code=$(curl -s -m 2 -o "$tmp/h" -w '%{http_code}' "$base/healthz")
	[ "$code" = 503 ] && break
	sleep 0.1
done
check "with the database stopped, /healthz answers 503 within a probe interval" \
	bash -c "test '$code' = 503 &&
		grep -q '\"status\":\"degraded\".*\"store\":\"unreachable: ' '$tmp/h'"
check "edigated keeps serving while its store is down" \
	test "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$base/metrics")" = 200
if [ -n "$pid" ]; then
	kill -TERM "$pid"
	wait "$pid"
	pid=
fi
exit 0
