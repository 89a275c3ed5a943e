#!/bin/bash
# as2_bench.sh [--builddir DIR] [--messages N] [--parallel P] [--clients C]
#              [--workers W] [--fsyncs]
#
# AS2 receive throughput: signed (SHA-256) and encrypted (AES-256) 4 KiB
# messages with a signed synchronous MDN, posted by C curl processes
# (default 4) with P transfers in flight in all (default 16) to edigated
# on loopback (SQLite store; W worker threads, default 4 per core: a job
# waiting for the group commit's sync holds its thread without using a
# core, and the more jobs wait together the more share one sync).
# Besides the table it prints the CPU time edigated spent per message (the
# rate its CPU alone would allow) and how many messages shared one
# durable sync. Prints one table: messages/s, p50/p99 latency, peak RSS of
# edigated, and the ratio to the rate RSA-2048 alone allows on this
# machine, measured in the same run with `openssl speed`: each message
# costs two private-key operations (decrypting the key, signing the MDN)
# and one public-key operation (verifying the partner's signature), so the
# bound is cores / (2 / sign/s + 1 / verify/s) (`openssl speed` runs on
# one core).
#
# The client is cheap on purpose: the signed and encrypted body is built
# once and posted again and again, each time with a fresh Message-ID
# header (the Message-ID is an HTTP header, outside what is signed and
# encrypted), so no openssl process runs per message; the client's CPU
# (the curl processes, sharing the 2 cores with edigated) is printed too.
#
# --fsyncs attaches strace to edigated for the run and prints the
# fsync/fdatasync/syncfs calls per message (where the durable commit's
# time goes).
#
# A benchmark, not a test: it asserts nothing and is not part of make
# check (`make bench-as2` runs it).
set -eu

builddir=.
messages=1000
parallel=16
clients=4
workers=
fsyncs=
while [ $# -gt 0 ]; do
	case $1 in
	--fsyncs) fsyncs=1; shift ;;
	--builddir) builddir=$2; shift 2 ;;
	--messages) messages=$2; shift 2 ;;
	--parallel) parallel=$2; shift 2 ;;
	--clients) clients=$2; shift 2 ;;
	--workers) workers=$2; shift 2 ;;
	*) echo "usage: $0 [--builddir DIR] [--messages N] [--parallel P] [--clients C] [--workers W] [--fsyncs]" >&2; exit 2 ;;
	esac
done
srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
EDIGATED=$builddir/gateway/edigated
cores=$(nproc 2>/dev/null || echo 1)
workers=${workers:-$((cores * 4))}

tmp=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
chmod 755 "$tmp"
mkdir -p "$tmp/state" "$tmp/partners"
user_line=""
if [ "$(id -u)" = 0 ]; then user_line="user = nobody"; chown nobody "$tmp/state"; fi

for k in partner ours; do
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$k" \
		-keyout "$tmp/$k.key" -out "$tmp/$k.pem" >/dev/null 2>&1
done
cp "$tmp/partner.pem" "$tmp/ours.pem" "$tmp/ours.key" "$srcdir/partners/partner.xsd" "$tmp/partners/"
cat > "$tmp/partners/bench.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<partner id="bench" name="Benchmark partner">
  <identity><x12 isa-qualifier="ZZ" isa-id="BENCH" gs-id="BENCH"/></identity>
  <messages><message direction="in" standard="x12" version="004010" type="850"/></messages>
  <acknowledgment type="none"/>
  <transport>
    <as2 id="BENCH" require-signed="true" require-encrypted="true">
      <their-certificate file="partner.pem"/>
      <our-certificate file="ours.pem" key="ours.key"/>
    </as2>
  </transport>
</partner>
XML
chmod -R a+r "$tmp/partners"

# A 4 KiB payload, signed then encrypted, the way a partner's AS2 sends it.
head -c 3072 /dev/urandom | base64 -w 76 | head -c 4096 > "$tmp/payload"
{ printf 'Content-Type: application/octet-stream\r\n\r\n'; cat "$tmp/payload"; } > "$tmp/entity"
openssl cms -sign -binary -md sha256 -in "$tmp/entity" -signer "$tmp/partner.pem" \
	-inkey "$tmp/partner.key" -outform DER -out "$tmp/sig.der"
{
	printf -- '--b1\r\n'; cat "$tmp/entity"; printf '\r\n--b1\r\n'
	printf 'Content-Type: application/pkcs7-signature\r\nContent-Transfer-Encoding: base64\r\n\r\n'
	base64 -w 76 "$tmp/sig.der" | sed 's/$/\r/'; printf -- '--b1--\r\n'
} > "$tmp/signed"
{ printf 'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="b1"\r\n\r\n'; cat "$tmp/signed"; } > "$tmp/inner"
openssl cms -encrypt -binary -aes256 -in "$tmp/inner" -outform DER -out "$tmp/body" "$tmp/ours.pem"

for try in 1 2 3 4 5 6 7 8; do
	port=$((20000 + RANDOM % 20000))
	cat > "$tmp/edigate.conf" <<CONF
state_dir = state
partners_dir = partners
maps_dir = $srcdir/maps
workers = $workers
log_level = warn
$user_line
[listen.as2-plain]
address = 127.0.0.1:$port
routes = /as2 /healthz /metrics
CONF
	"$EDIGATED" -c "$tmp/edigate.conf" 2>"$tmp/daemon.log" &
	pid=$!
	for i in $(seq 1 50); do
		curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break 2
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=
done
[ -n "$pid" ] || { echo "edigated did not start" >&2; cat "$tmp/daemon.log" >&2; exit 1; }

# C curl processes, one transfer per message, each with its Message-ID.
[ "$clients" -ge 1 ] || clients=1
per=$(( (parallel + clients - 1) / clients ))
for c in $(seq 1 "$clients"); do : > "$tmp/curl-$c.cfg"; done
for i in $(seq 1 "$messages"); do
	cfg=$tmp/curl-$(( (i - 1) % clients + 1 )).cfg
	[ -s "$cfg" ] && echo next >> "$cfg"
	cat >> "$cfg" <<CFG
url = "http://127.0.0.1:$port/as2"
header = "AS2-Version: 1.2"
header = "AS2-From: BENCH"
header = "AS2-To: EDIGATE"
header = "Message-ID: <bench-$i-$$@bench.example>"
header = "Disposition-Notification-To: bench@bench.example"
header = "Disposition-Notification-Options: signed-receipt-protocol=optional, pkcs7-signature; signed-receipt-micalg=optional, sha-256"
header = "Content-Type: application/pkcs7-mime; smime-type=enveloped-data"
header = "Expect:"
data-binary = "@$tmp/body"
output = "/dev/null"
write-out = "%{http_code} %{time_total}\\n"
CFG
done
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0; }

spid=
if [ -n "$fsyncs" ]; then
	strace -f -c -e trace=fsync,fdatasync,syncfs,sync_file_range -o "$tmp/strace" -p "$pid" 2>/dev/null &
	spid=$!
	sleep 1
fi
# CPU of this shell's waited-for children: the curl processes below.
child_ticks() { awk '{ print $16 + $17 }' "/proc/$$/stat"; }
ccpu0=$(child_ticks)
cpu0=$(cpu_ticks)
start=$(date +%s.%N)
cpids=
for c in $(seq 1 "$clients"); do
	curl -s --no-progress-meter --parallel --parallel-max "$per" -K "$tmp/curl-$c.cfg" > "$tmp/times-$c" &
	cpids="$cpids $!"
done
for c in $cpids; do wait "$c" || true; done
end=$(date +%s.%N)
cpu1=$(cpu_ticks)
ccpu1=$(child_ticks)
cat "$tmp"/times-* > "$tmp/times"
hz=$(getconf CLK_TCK)
curl -s "http://127.0.0.1:$port/metrics" > "$tmp/metrics" || true
syncs=$(awk '/^edigate_as2_durable_syncs_total/ { print $2 }' "$tmp/metrics")
waits=$(awk '/^edigate_as2_durable_sync_waits_total/ { print $2 }' "$tmp/metrics")
if [ -n "$spid" ]; then
	kill -INT "$spid" 2>/dev/null; wait "$spid" 2>/dev/null || true
	awk -v n="$messages" '$NF ~ /^(fsync|fdatasync|syncfs|sync_file_range)$/ {
		printf "%-12s %8d calls  %6.2f per message\n", $NF, $4, $4 / n }' "$tmp/strace"
fi
rss_kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
ok=$(grep -c '^200 ' "$tmp/times" || true)
mdn_ok=$(sqlite3 "$tmp/state/edigate.db" "SELECT count(*) FROM events WHERE kind='as2.mdn' AND detail LIKE '%processed%';" 2>/dev/null || echo "?")

speed=$(openssl speed -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ { print $6, $7 }')
sign=${speed% *}
verify=${speed#* }
sort -n -k2 "$tmp/times" | awk -v n="$messages" -v ok="$ok" -v s="$start" -v e="$end" -v sign="$sign" -v verify="$verify" \
    -v cores="$cores" -v rss="$rss_kb" -v par="$parallel" -v mdn="$mdn_ok" -v w="$workers" \
    -v cpu="$((cpu1 - cpu0))" -v ccpu="$((ccpu1 - ccpu0))" -v hz="$hz" -v syncs="${syncs:-0}" -v waits="${waits:-0}" -v cl="$clients" '
{ t[NR] = $2 }
END {
	m = NR
	i50 = int(m * 0.50); if (i50 < 1) i50 = 1
	i99 = int(m * 0.99); if (i99 < 1) i99 = 1
	rate = ok / (e - s)
	bound = sign > 0 && verify > 0 ? cores / (2 / sign + 1 / verify) : 0
	ratio = bound > 0 ? 100 * rate / bound : 0
	printf "%-46s %9s %8s %8s %10s %7s\n", "input", "msgs/s", "p50 ms", "p99 ms", "peak RSS", "ratio"
	printf "%-46s %9.0f %8.1f %8.1f %6.1f MiB %6.1f%%\n",
	    "AS2 4 KiB signed+enc, signed MDN (" cl "x" par / cl ", " w " wk)", rate,
	    t[i50] * 1000, t[i99] * 1000, rss / 1024, ratio
	printf "%-46s %9.0f %8s %8s %10s %7s\n",
	    "RSA-2048 bound (" cores " cores, 2 sign + 1 verify)", bound, "", "", "", "100%"
	printf "%d of %d answered 200; %s processed MDNs recorded\n", ok, n, mdn
	if (ok > 0 && hz > 0) {
		cms = 1000 * cpu / hz / ok
		cpurate = 0
		if (cms > 0) cpurate = cores * 1000 / cms
		cpuratio = 0
		if (bound > 0) cpuratio = 100 * cpurate / bound
		printf "edigated CPU %.2f ms per message: its CPU alone would allow %.0f msgs/s on %d cores (%.1f%% of the RSA bound)\n", cms, cpurate, cores, cpuratio
		printf "client (curl, pre-built body, fresh Message-ID headers) CPU %.2f ms per message\n", 1000 * ccpu / hz / ok
	}
	if (syncs > 0)
		printf "durable syncs: %d for %d messages (%.2f per message), %.1f waits per sync\n", syncs, ok, syncs / ok, waits / syncs
}'
