#!/bin/bash
# Outbound documents for SFTP partners through edigated's delivery queue,
# against a real OpenSSH sshd on a free loopback port: a canonical invoice
# posted to the API is routed as an 810 to an SFTP partner and lands in
# its outbox (a partner that uploads to us) or on its server (a partner we
# push to), exactly once, with the message state "delivered". With the
# push server down the delivery is retried with backoff and delivered once
# the server is back. Prints TAP. Everything it starts is stopped by the
# trap; it only ever talks to 127.0.0.1.
set -u

top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-.}
EDIGATE=${EDIGATE:-$top_builddir/gateway/edigate}
EDIGATED=${EDIGATED:-$top_builddir/gateway/edigated}
SSHD=${SSHD:-/usr/sbin/sshd}
PLAN=14
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { # check DESCRIPTION COMMAND...
	local d=$1; shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
skip_rest() { # skip_rest REASON
	while [ "$n" -lt "$PLAN" ]; do
		n=$((n + 1))
		echo "ok $n - sftp out # SKIP $1"
	done
	exit 0
}

echo "1..$PLAN"

for tool in "$SSHD" sftp ssh-keygen sqlite3 useradd userdel curl; do
	command -v "$tool" >/dev/null || skip_rest "no $tool"
done
# sshd's ChrootDirectory must be owned by root, and only root can run
# sshd so that partners log in as their own users.
[ "$(id -u)" = 0 ] || skip_rest "not root: sshd chroots need root"

# StrictModes refuses chroots below a world-writable folder such as /tmp.
base=/srv
[ -d "$base" ] || base=/var/tmp
work=$(mktemp -d "$base/edigate-sftp-out-test.XXXXXX") || skip_rest "no work dir"
chmod 755 "$work"
sshd_pid=
edigated_pid=
users=""
kill_tree() { # kill_tree PID: sshd's sessions run two levels below it
	local c
	for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		kill_tree "$c"
	done
	kill -KILL "$1" 2>/dev/null
}
cleanup() {
	for p in $edigated_pid $sshd_pid; do
		if kill -0 "$p" 2>/dev/null; then
			kill_tree "$p"
			wait "$p" 2>/dev/null
		fi
	done
	for u in $users; do
		userdel "$u" 2>/dev/null
	done
	[ -n "${EDIGATE_TEST_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

mkdir -p "$work/partners" "$work/keys" "$work/state" /run/sshd
cp "$top_srcdir/partners/partner.xsd" "$work/partners/"
root=$work/sftp
# Logins unique to this run, so parallel runs never share one.
ua="eoa$$"
ub="eob$$"
ssh-keygen -q -t ed25519 -N '' -C alpha -f "$work/keys/alpha"
ssh-keygen -q -t ed25519 -N '' -C beta -f "$work/keys/beta"
ssh-keygen -q -t ed25519 -N '' -C host -f "$work/keys/host"

# alpha uploads to us and downloads our files from its outbox; beta is
# only the login of the server we push gamma's files to.
profile() { # profile ID USER KEYFILE
	cat > "$work/partners/$1.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<partner id="$1" name="SFTP test partner $1">
  <identity><x12 isa-qualifier="ZZ" isa-id="${1^^}" gs-id="${1^^}"/></identity>
  <messages><message direction="out" standard="x12" version="004010" type="810"/></messages>
  <transport>
    <sftp>
      <inbound user="$2" upload="close" stable-seconds="1">
        <key>$(cat "$3")</key>
      </inbound>
    </sftp>
  </transport>
</partner>
XML
}
profile alpha "$ua" "$work/keys/alpha.pub"
profile beta "$ub" "$work/keys/beta.pub"
users="$ua $ub"
"$EDIGATE" sftp-config --partners "$work/partners" --root "$root" \
	--out "$work/partners.conf" --create-users >/dev/null 2>&1 ||
	skip_rest "sftp-config failed"

port=
start_sshd() { # start_sshd [PORT]: a free port, or PORT again
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		port=${1:-$((20000 + RANDOM % 20000))}
		cat > "$work/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $work/keys/host
PidFile none
UsePAM no
StrictModes yes
PermitRootLogin no
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile none
Subsystem sftp internal-sftp
LogLevel VERBOSE
Include $work/partners.conf
CONF
		"$SSHD" -D -e -f "$work/sshd_config" 2>>"$work/sshd.log" &
		sshd_pid=$!
		for _ in $(seq 1 50); do
			if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
				return 0
			fi
			kill -0 "$sshd_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill "$sshd_pid" 2>/dev/null
		wait "$sshd_pid" 2>/dev/null
		sshd_pid=
	done
	return 1
}
stop_sshd() {
	[ -n "$sshd_pid" ] || return 0
	kill_tree "$sshd_pid"
	wait "$sshd_pid" 2>/dev/null
	sshd_pid=
}
start_sshd || skip_rest "sshd does not start (see $work/sshd.log)"

# gamma has a server of its own (beta's chroot on the same sshd).
fingerprint=$(ssh-keygen -lf "$work/keys/host.pub" | cut -d' ' -f2)
cat > "$work/partners/gamma.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<partner id="gamma" name="SFTP server partner gamma">
  <identity><x12 isa-qualifier="ZZ" isa-id="GAMMA" gs-id="GAMMA"/></identity>
  <messages>
    <message direction="in" standard="x12" version="004010" type="850"/>
    <message direction="out" standard="x12" version="004010" type="810"/>
  </messages>
  <acknowledgment type="997"/>
  <transport>
    <sftp>
      <push host="127.0.0.1" port="$port" user="$ub" key-file="$work/keys/beta" remote-dir="/exchange">
        <host-key fingerprint="$fingerprint"/>
      </push>
      <pull host="127.0.0.1" port="$port" user="$ub" key-file="$work/keys/beta" remote-dir="/fromgamma" poll-seconds="1">
        <host-key fingerprint="$fingerprint"/>
      </pull>
    </sftp>
  </transport>
</partner>
XML
server=$root/beta/exchange
mkdir -m 0700 "$server" "$root/beta/fromgamma"
chown "$ub" "$server" "$root/beta/fromgamma"

TOKEN=erp-secret-token-1
dport=
start_edigated() {
	for _ in 1 2 3 4 5; do
		dport=$((20000 + RANDOM % 20000))
		cat > "$work/edigate.conf" <<CONF
state_dir = state
partners_dir = partners
maps_dir = $(cd "$top_srcdir" && pwd)/maps
allow_root = yes
workers = 2
log_level = debug
[store]
url = $work/state/edigate.db
[sftp]
root = $root
scan_interval = 1s
push_attempts = 8
[route]
isa_id = DISTRIB
transport = sftp
[listen.api]
address = 127.0.0.1:$dport
[token.erp]
hash = sha256:$(printf '%s' "$TOKEN" | sha256sum | cut -d' ' -f1)
systems = erp
partners = *
access = read write
CONF
		"$EDIGATED" -c "$work/edigate.conf" 2>>"$work/edigated.log" &
		edigated_pid=$!
		for _ in $(seq 1 50); do
			if curl -s -o /dev/null "http://127.0.0.1:$dport/healthz"; then
				return 0
			fi
			kill -0 "$edigated_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill "$edigated_pid" 2>/dev/null
		wait "$edigated_pid" 2>/dev/null
		edigated_pid=
	done
	return 1
}
start_edigated || { sed 's/^/# /' "$work/edigated.log"; skip_rest "edigated does not start"; }

db="$work/state/edigate.db"
sql() { sqlite3 -batch -noheader "$db" "$1" 2>/dev/null; }
wait_for() { # wait_for SECONDS COMMAND...: until the command succeeds
	local limit=$(( $1 * 10 )) i
	shift
	for ((i = 0; i < limit; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
invoice() { # invoice PARTNER NUMBER: posts a canonical invoice, prints the status
	cat > "$work/inv.json" <<JSON
{"type": "invoice",
 "meta": {"partner": "$1", "standard": "x12", "version": "004010",
          "message": "810", "interchange": "", "set": ""},
 "invoice_number": "$2", "invoice_date": "2026-11-23",
 "order_number": "PO12345",
 "lines": [{"line_number": "1", "quantity": "12", "unit": "each",
            "unit_price": "3.50", "item": {"vendor_part": "SKU1"}}]}
JSON
	curl -s -o "$work/post.out" -w '%{http_code}' \
		-H "Authorization: Bearer $TOKEN" -H "Idempotency-Key: $2" \
		-H 'Content-Type: application/json' --data-binary @"$work/inv.json" \
		"http://127.0.0.1:$dport/api/v1/documents"
}
# The 810 stored for PARTNER carrying invoice NUMBER: id, then state.
out_id() { sql "SELECT id FROM messages WHERE direction = 'out' AND partner = '$1' AND message_type = '810' ORDER BY id DESC LIMIT 1"; }
state_of() { sql "SELECT state FROM messages WHERE id = $1"; }
files_named() { ls "$1" 2>/dev/null | grep -c "^810-$2\.edi$"; }
is_state() { [ "$(state_of "$1")" = "$2" ]; }

# ---- a partner that uploads to us: the 810 waits in its outbox --------------
check "a canonical invoice for alpha is accepted (202)" \
	test "$(invoice alpha INV-A1)" = 202
a1=$(out_id alpha)
check "the 810 for alpha is delivered (state delivered)" \
	wait_for 15 is_state "${a1:-0}" delivered
check "it is in alpha's outbox once, as 810-<id>.edi, an 810 interchange" \
	bash -c "test \"\$(ls '$root/alpha/outbox' | wc -l)\" = 1 &&
		grep -q 'ST\*810\*' '$root/alpha/outbox/810-$a1.edi' &&
		grep -q 'INV-A1' '$root/alpha/outbox/810-$a1.edi'"
printf 'get /outbox/810-%s.edi %s/got.edi\n' "$a1" "$work" > "$work/batch"
sftp -q -b "$work/batch" -i "$work/keys/alpha" -P "$port" -o BatchMode=yes \
	-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	-o LogLevel=ERROR "$ua@127.0.0.1" >/dev/null 2>&1
check "alpha downloads it with sftp from its outbox" \
	cmp -s "$work/got.edi" "$root/alpha/outbox/810-$a1.edi"

# ---- a partner with a server: the 810 is pushed -----------------------------
check "a canonical invoice for gamma is accepted (202)" \
	test "$(invoice gamma INV-G1)" = 202
g1=$(out_id gamma)
check "the 810 for gamma is pushed to its server (state delivered)" \
	wait_for 15 is_state "${g1:-0}" delivered
check "it is on gamma's server once, under its final name, no temporary" \
	bash -c "test \"\$(ls -A '$server' | wc -l)\" = 1 &&
		grep -q 'INV-G1' '$server/810-$g1.edi'"
check "posting the same invoice again sends nothing new" \
	bash -c "test \"\$(curl -s -o /dev/null -w '%{http_code}' \
		-H 'Authorization: Bearer $TOKEN' -H 'Idempotency-Key: INV-G1' \
		-H 'Content-Type: application/json' --data-binary @'$work/inv.json' \
		'http://127.0.0.1:$dport/api/v1/documents')\" -lt 300 && sleep 2 &&
		test \"\$(ls -A '$server' | wc -l)\" = 1"

# ---- the push server is down: retried, delivered once it is back ------------
stop_sshd
invoice gamma INV-G2 >/dev/null
g2=$(out_id gamma)
failed_attempts() { sql "SELECT count(*) FROM events WHERE message_id = ${g2:-0} AND kind = 'sftp.attempt-failed'"; }
check "with the server down the push fails and is queued again" \
	wait_for 15 bash -c "test \"\$(sqlite3 '$db' \"SELECT count(*) FROM events WHERE message_id = ${g2:-0} AND kind = 'sftp.attempt-failed'\")\" -ge 2 &&
		test \"\$(sqlite3 '$db' \"SELECT state FROM deliveries WHERE message_id = ${g2:-0}\")\" = queued"
echo "# $(failed_attempts) failed attempts while the server was down"
start_sshd "$port" || echo "# sshd did not come back on $port"
check "once the server is back the 810 is delivered" \
	wait_for 40 is_state "${g2:-0}" delivered
check "exactly once: one file for it on the server, two in all" \
	bash -c "test \"\$(ls -A '$server' | wc -l)\" = 2 &&
		test \"\$(ls '$server' | grep -c '^810-$g2\.edi$')\" = 1 &&
		test \"\$(sqlite3 '$db' \"SELECT count(*) FROM events WHERE message_id = ${g2:-0} AND kind = 'sftp.sent'\")\" = 1"

# ---- an ack for a push partner goes through the same queue ------------------
# gamma's 850 is pulled from its server; the 997 is pushed back there.
{
	printf 'ISA*00*          *00*          *ZZ*GAMMA          *ZZ*DISTRIB        *261123*1015*U*00401*000000077*0*P*>~\n'
	printf 'GS*PO*GAMMA*DISTRIB*20261123*1015*77*X*004010~\nST*850*0001~\n'
	printf 'BEG*00*SA*PO77**20261123~\nPO1*1*12*EA*3.50**VN*SKU1~\nCTT*1~\nSE*5*0001~\n'
	printf 'GE*1*77~\nIEA*1*000000077~\n'
} > "$root/beta/fromgamma/po77.edi"
pulled() { [ "$(sql "SELECT count(*) FROM messages WHERE partner = 'gamma' AND transport = 'sftp'")" = 1 ]; }
wait_for 15 pulled || echo "# gamma's 850 was not pulled"
# A pulled file goes to the inbound pipeline at once, like an upload.
acked() { compgen -G "$server/997-*.edi" >/dev/null; }
check "gamma's 850, pulled by edigated, is answered with a 997 pushed to its server" \
	wait_for 30 acked
ack=$(ls "$server"/997-*.edi 2>/dev/null | head -n 1)
ack_id=$(basename "${ack:-997-0.edi}" .edi | cut -d- -f2)
check "the pushed 997 went through the queue once (sftp:gamma, delivered)" \
	bash -c "grep -q 'AK1\*PO\*77' '$ack' &&
		test \"\$(ls '$server' | grep -c '^997-')\" = 1 &&
		test \"\$(sqlite3 '$db' \"SELECT endpoint, state FROM deliveries WHERE message_id = $ack_id\")\" = 'sftp:gamma|delivered' &&
		test \"\$(sqlite3 '$db' \"SELECT state FROM messages WHERE id = $ack_id\")\" = delivered"

kill -TERM "$edigated_pid"
wait "$edigated_pid"
term_rc=$?
edigated_pid=
check "edigated stops cleanly on SIGTERM (exit 0)" test "$term_rc" = 0

if [ "$fails" -gt 0 ]; then
	echo "# sshd log:"; tail -n 30 "$work/sshd.log" | sed 's/^/# /'
	echo "# edigated log:"; tail -n 60 "$work/edigated.log" | sed 's/^/# /'
fi
exit 0
