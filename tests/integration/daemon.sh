#!/bin/bash
# edigated on loopback: configuration check, /healthz and /metrics over
# HTTP and HTTPS, request limits, a slow client, SIGHUP with a broken file,
# SIGTERM with a request in flight. Prints TAP. Everything it starts is
# stopped by the trap; it only ever talks to 127.0.0.1.
set -u

top_builddir=${top_builddir:-.}
EDIGATED=${EDIGATED:-$top_builddir/gateway/edigated}
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { # check DESCRIPTION COMMAND...
	local d=$1; shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }

echo "1..26"

for tool in curl openssl; do
	if ! command -v $tool >/dev/null; then
		for i in $(seq 1 24); do echo "ok $i - daemon # SKIP no $tool"; done
		exit 0
	fi
done

tmp=$(mktemp -d)
pid=
slow_fd_open=
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Run as root (CI), edigated must drop to an unprivileged user; that user
# reads the configuration again on SIGHUP.
chmod 755 "$tmp"
user_line="# not started as root"
mkdir "$tmp/state"
if [ "$(id -u)" = 0 ]; then
	user_line="user = nobody"
	chown nobody "$tmp/state"
fi

# An IPv6 listener on ::1 when this machine has IPv6 loopback.
have_v6=
if grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6 2>/dev/null; then
	have_v6=yes
fi
v6_section=

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 \
	-keyout "$tmp/key.pem" -out "$tmp/cert.pem" >/dev/null 2>&1

write_config() { # write_config HTTP_PORT HTTPS_PORT [EXTRA_LINE]
	cat > "$tmp/edigate.conf" <<CONF
# test configuration
state_dir = state
$user_line
workers = 2
debug_endpoints = yes
shutdown_grace = 10s
${3:-}

[limits]
max_body_size = 4K
max_header_size = 4K
read_timeout = 1s
write_timeout = 1s

[tls]
certificate = cert.pem
key = key.pem
min_tls_version = 1.2

[listen.api]
address = 127.0.0.1:$1

[listen.as2]
address = 127.0.0.1:$2
protocol = https
routes = /healthz /as2
$v6_section
CONF
	chmod 644 "$tmp/edigate.conf"
}

# The command line.
write_config 1 2
check "edigated -t accepts a valid configuration" \
	bash -c "\"$EDIGATED\" -t -c \"$tmp/edigate.conf\" >/dev/null"
printf 'state_dir = /x\n[listen.a]\naddress = 127.0.0.1:80\nbogus = 1\n' \
	> "$tmp/bad.conf"
out=$("$EDIGATED" -t -c "$tmp/bad.conf" 2>&1); rc=$?
check "edigated -t rejects an unknown key with file:line and exit 1" \
	test "$rc" = 1 -a "$out" = "$tmp/bad.conf:4: unknown key \"bogus\" in [listen.a]"
sed 's|^certificate = cert.pem|certificate = missing.pem|' "$tmp/edigate.conf" \
	> "$tmp/badtls.conf"
out=$("$EDIGATED" -t -c "$tmp/badtls.conf" 2>&1); rc=$?
check "edigated -t loads the TLS files and names the listener's line" \
	bash -c "test $rc = 1 && case '$out' in '$tmp/badtls.conf:23: [listen.as2] certificate: '*) true;; *) false;; esac"
{ cat "$tmp/edigate.conf"; printf '[inbound]\nduplicate_window = 30d\n'; } > "$tmp/dupwin.conf"
check "edigated -t accepts [inbound] duplicate_window = 30d" \
	bash -c "\"$EDIGATED\" -t -c \"$tmp/dupwin.conf\" >/dev/null"
{ cat "$tmp/edigate.conf"; printf '[inbound]\nduplicate_window = 2w\n'; } > "$tmp/baddup.conf"
line=$(grep -n '^duplicate_window' "$tmp/baddup.conf" | cut -d: -f1)
out=$("$EDIGATED" -t -c "$tmp/baddup.conf" 2>&1); rc=$?
check "edigated -t rejects a duplicate_window that is no window, with file:line" \
	bash -c "test $rc = 1 && printf '%s\n' \"\$1\" | grep -qF \"\$2\"" _ "$out" \
	"$tmp/baddup.conf:$line: duplicate_window \"2w\": expected"
check "edigated --version names the program" \
	bash -c "'$EDIGATED' --version | grep -q '^edigated [0-9]'"

# Start on free high ports: pick at random, retry when taken.
start_daemon() {
	local try
	for try in 1 2 3 4 5 6 7 8; do
		http_port=$((20000 + RANDOM % 20000))
		https_port=$((http_port + 1))
		v6_port=$((http_port + 2))
		if [ -n "$have_v6" ]; then
			v6_section=$(printf '[listen.v6]\naddress = [::1]:%s' "$v6_port")
		fi
		write_config "$http_port" "$https_port"
		"$EDIGATED" -f -c "$tmp/edigate.conf" 2>>"$tmp/log" &
		pid=$!
		for _ in $(seq 1 50); do
			if curl -s -o /dev/null "http://127.0.0.1:$http_port/healthz"; then
				return 0
			fi
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		pid=
	done
	return 1
}

if ! start_daemon; then
	not_ok "edigated starts and answers /healthz"
	sed 's/^/# /' "$tmp/log"
	for i in $(seq $((n + 1)) 24); do echo "not ok $i - edigated did not start"; done
	exit 1
fi
base=http://127.0.0.1:$http_port
tls=https://127.0.0.1:$https_port

# Health over HTTP, correlation ids.
curl -s -D "$tmp/h1" -o "$tmp/b1" "$base/healthz"
check "GET /healthz answers 200 with status, version and a reachable store" \
	bash -c "head -1 '$tmp/h1' | grep -q ' 200 ' &&
		grep -q '^{\"status\":\"ok\",\"version\":\"[0-9.]*\",\"uptime_seconds\":[0-9]*,\"checks\":{\"store\":\"ok\"}}$' '$tmp/b1' &&
		grep -qi '^X-Correlation-Id: [0-9A-Z]\{26\}' '$tmp/h1'"
cid=$(curl -s -D - -o /dev/null -H 'X-Correlation-Id: po-4711' "$base/healthz" |
	tr -d '\r' | sed -n 's/^X-Correlation-Id: //ip')
check "a client's X-Correlation-Id is echoed and logged" \
	bash -c "test '$cid' = po-4711 && grep -q '\"correlation_id\":\"po-4711\"' '$tmp/log'"

# HTTPS with our throwaway certificate, and metrics.
check "HTTPS /healthz verifies against the listener's certificate" \
	bash -c "curl -sf --cacert '$tmp/cert.pem' '$tls/healthz' | grep -q '\"status\":\"ok\"'"
check "/metrics counts the requests by listener, route, method and status" \
	bash -c "curl -s '$base/metrics' | grep -q '^edigate_http_requests_total{listener=\"api\",route=\"/healthz\",method=\"GET\",status=\"200\"} [1-9][0-9]*$'"
curl -s -D "$tmp/h2" -o "$tmp/m2" "$base/metrics"
check "/metrics is Prometheus text with histograms, HTTPS requests too" \
	bash -c "grep -qi '^Content-Type: text/plain; version=0.0.4' '$tmp/h2' &&
		grep -qx '# TYPE edigate_http_request_duration_seconds histogram' '$tmp/m2' &&
		grep -q '^edigate_http_request_duration_seconds_bucket{listener=\"as2\",route=\"/healthz\",le=\"+Inf\"} 1$' '$tmp/m2'"

check "a listener with routes = serves only those (/metrics: 404 on as2)" \
	test "$(curl -s --cacert "$tmp/cert.pem" -o /dev/null -w '%{http_code}' "$tls/metrics")" = 404

# Limits and routing.
head -c 5000 /dev/zero > "$tmp/big"
head -c 3000 /dev/zero > "$tmp/small"
check "a body over max_body_size gets 413" \
	test "$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$tmp/big" "$base/debug/echo")" = 413
check "a body within max_body_size reaches the handler" \
	test "$(curl -s --data-binary @"$tmp/small" "$base/debug/echo")" = '{"bytes":3000}'
big_header=$(head -c 5000 /dev/zero | tr '\0' a)
check "headers over max_header_size are refused with 400" \
	test "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $big_header" "$base/healthz")" = 400
code=$(curl -s -o "$tmp/b404" -w '%{http_code}' "$base/nothing")
check "an unknown path gets 404 as JSON" \
	bash -c "test '$code' = 404 && grep -q '^{\"error\":\"no such path\",\"correlation_id\":\"' '$tmp/b404'"

if [ -n "$have_v6" ]; then
	check "an IPv6 listener on [::1] answers and logs the peer as [::1]:port" \
		bash -c "curl -sf -g 'http://[::1]:$v6_port/healthz' >/dev/null &&
			grep -q '\"listener\":\"v6\",\"remote\":\"\[::1\]:[0-9]*\"' '$tmp/log'"
else
	skip "an IPv6 listener on [::1] answers" "no IPv6 loopback"
fi

# Privileges.
if [ "$(id -u)" = 0 ]; then
	check "started as root, it runs as the configured user" \
		bash -c "grep -q '^Uid:[[:space:]]*65534[[:space:]]' /proc/$pid/status"
else
	skip "started as root, it runs as the configured user" "not root"
fi

# Slow clients. One stalls inside the headers, one inside the body.
exec 5<>"/dev/tcp/127.0.0.1/$http_port"
printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ' >&5
exec 6<>"/dev/tcp/127.0.0.1/$http_port"
printf 'POST /debug/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nabc' >&6
served=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$base/healthz")
start=$(date +%s%N)
timeout 5 cat <&5 >/dev/null
timeout 5 cat <&6 >/dev/null
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
exec 5>&- 6>&-
check "other requests are served while two clients stall" test "$served" = 200
check "stalled clients are dropped after read_timeout (${elapsed_ms} ms)" \
	test "$elapsed_ms" -lt 4000

# A client that asks for a large response and never reads it: the write
# times out, the connection closes and the request no longer counts.
exec 7<>"/dev/tcp/127.0.0.1/$http_port"
printf 'GET /debug/bytes?n=50000000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' >&7
sleep 3
check "a client that stops reading is dropped after write_timeout" \
	bash -c "curl -s '$base/metrics' | grep -qx 'edigate_http_requests_in_flight 1'"
exec 7>&-

# SIGHUP with a broken file keeps the running set; a good one applies.
write_config "$http_port" "$https_port" "log_level = loud"
kill -HUP "$pid"
sleep 0.5
check "SIGHUP with an invalid file logs file:line and keeps serving" \
	bash -c "kill -0 $pid && grep -q 'reload refused.*$tmp/edigate.conf:7: log_level: expected error, warn, info or debug' '$tmp/log' &&
		test \"\$(curl -s -o /dev/null -w '%{http_code}' '$base/healthz')\" = 200"
write_config "$http_port" "$https_port" "log_level = debug"
kill -HUP "$pid"
sleep 0.5
check "SIGHUP with a valid file applies it" \
	bash -c "grep -q '\"msg\":\"configuration reloaded\"' '$tmp/log' &&
		curl -s '$base/metrics' | grep -qx 'edigate_reloads_total{result=\"failed\"} 1' &&
		curl -s '$base/metrics' | grep -qx 'edigate_reloads_total{result=\"applied\"} 1'"

# SIGTERM while a request is in flight.
curl -s -o "$tmp/inflight" -w '%{http_code}' "$base/debug/delay?ms=1500" \
	> "$tmp/inflight.code" &
curl_pid=$!
sleep 0.5
kill -TERM "$pid"
sleep 0.2
refused=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$base/healthz")
wait "$curl_pid"
wait "$pid"
rc=$?
pid=
check "the request in flight at SIGTERM completes" \
	bash -c "test \"\$(cat '$tmp/inflight.code')\" = 200 &&
		test \"\$(cat '$tmp/inflight')\" = '{\"slept_ms\":1500}'"
check "after SIGTERM new connections are refused and edigated exits 0" \
	test "$rc" = 0 -a "$refused" = 000

# The grace period bounds the wait: a job that outlives it does not hold
# the exit.
if start_daemon; then
	base=http://127.0.0.1:$http_port
	sed -i 's/^shutdown_grace = 10s$/shutdown_grace = 1s/' "$tmp/edigate.conf"
	kill -HUP "$pid"
	sleep 0.3
	curl -s -o /dev/null "$base/debug/delay?ms=20000" &
	curl_pid=$!
	sleep 0.3
	start=$(date +%s%N)
	kill -TERM "$pid"
	wait "$pid"
	rc=$?
	elapsed_ms=$((($(date +%s%N) - start) / 1000000))
	pid=
	kill "$curl_pid" 2>/dev/null
	wait "$curl_pid" 2>/dev/null
	check "a request longer than shutdown_grace is cut off and the exit is 0 (${elapsed_ms} ms)" \
		test "$rc" = 0 -a "$elapsed_ms" -ge 900 -a "$elapsed_ms" -lt 3000
else
	not_ok "a request longer than shutdown_grace is cut off (no restart)"
fi

if [ "$fails" -gt 0 ]; then
	echo "# edigated log:"
	sed 's/^/# /' "$tmp/log"
fi
exit 0
