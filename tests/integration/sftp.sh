#!/bin/bash
# SFTP against a real OpenSSH sshd on a free loopback port: edigate
# sftp-config writes the partners' Match blocks, chroots and keys; the
# partners upload with the sftp command line; edigated takes the files
# into the store exactly once (also across kill -9) and removes them;
# one partner cannot see the other's folders. Then push and pull with
# edigate's libssh2 client against the same sshd: a pinned host key that
# does not match is refused, a server that goes away mid-transfer is
# retried, and nothing is lost or duplicated. Prints TAP. Everything it
# starts is stopped by the trap; it only ever talks to 127.0.0.1.
set -u

top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-.}
EDIGATE=${EDIGATE:-$top_builddir/gateway/edigate}
EDIGATED=${EDIGATED:-$top_builddir/gateway/edigated}
SSHD=${SSHD:-/usr/sbin/sshd}
PLAN=33
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
		echo "ok $n - sftp # SKIP $1"
	done
	exit 0
}

echo "1..$PLAN"

for tool in "$SSHD" sftp ssh-keygen sqlite3 useradd userdel; do
	command -v "$tool" >/dev/null || skip_rest "no $tool"
done
# sshd's ChrootDirectory must be owned by root, and only root can run
# sshd so that partners log in as their own users.
[ "$(id -u)" = 0 ] || skip_rest "not root: sshd chroots need root"

# StrictModes refuses chroots and key files below a world-writable folder
# such as /tmp, so the tree lives in a root-owned 0755 folder.
base=/srv
[ -d "$base" ] || base=/var/tmp
work=$(mktemp -d "$base/edigate-sftp-test.XXXXXX") || skip_rest "no work dir"
chmod 755 "$work"
sshd_pid=
edigated_pid=
bg_pid=
users=""
# kill_tree PID: the process and every process it forked (sshd's
# sessions run two levels below the listener).
kill_tree() {
	local c
	for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		kill_tree "$c"
	done
	kill -KILL "$1" 2>/dev/null
}
cleanup() {
	for p in $edigated_pid $sshd_pid $bg_pid; do
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

mkdir -p "$work/partners" "$work/keys" "$work/state" "$work/up" /run/sshd
cp "$top_srcdir/partners/partner.xsd" "$work/partners/"
root=$work/sftp
# Logins unique to this run, so parallel runs never share one.
ua="eta$$"
ub="etb$$"
ssh-keygen -q -t ed25519 -N '' -C alpha -f "$work/keys/alpha"
ssh-keygen -q -t ed25519 -N '' -C beta -f "$work/keys/beta"
ssh-keygen -q -t ed25519 -N '' -C host -f "$work/keys/host"
ssh-keygen -q -t ed25519 -N '' -C other -f "$work/keys/otherhost"

profile() { # profile ID USER KEYFILE UPLOAD
	cat > "$work/partners/$1.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<partner id="$1" name="SFTP test partner $1">
  <identity><x12 isa-qualifier="ZZ" isa-id="${1^^}" gs-id="${1^^}"/></identity>
  <messages><message direction="in" standard="x12" version="004010" type="850"/></messages>
  <acknowledgment type="997"/>
  <transport>
    <sftp>
      <inbound user="$2" upload="$4" stable-seconds="1">
        <key>$(cat "$3")</key>
      </inbound>
    </sftp>
  </transport>
</partner>
XML
}
profile alpha "$ua" "$work/keys/alpha.pub" rename
profile beta "$ub" "$work/keys/beta.pub" close
users="$ua $ub"

# ---- sftp-config ---------------------------------------------------------
out=$("$EDIGATE" sftp-config --partners "$work/partners" --root "$root" \
	--out "$work/partners.conf" --create-users 2>&1)
check "sftp-config creates logins, chroots, keys and the sshd fragment" \
	test -f "$work/partners.conf" -a -d "$root/alpha/inbox" \
	-a -d "$root/beta/outbox" -a -f "$root/.keys/alpha"
[ -n "$out" ] && echo "$out" | sed 's/^/# /'
check "the chroot is root-owned 0755, inbox and outbox belong to the login" \
	test "$(stat -c '%U %a' "$root/alpha")" = "root 755" \
	-a "$(stat -c '%U' "$root/alpha/inbox")" = "$ua" \
	-a "$(stat -c '%U' "$root/alpha/outbox")" = "$ua"
check "the fragment forces internal-sftp in a chroot, keys only" \
	grep -q "ChrootDirectory $root/alpha" "$work/partners.conf"

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
stop_sshd() { # the server goes away, sessions and all
	[ -n "$sshd_pid" ] || return 0
	kill_tree "$sshd_pid"
	wait "$sshd_pid" 2>/dev/null
	sshd_pid=
}
check "sshd -t accepts the generated configuration" \
	bash -c "'$SSHD' -t -f /dev/stdin <<<\"Port 22
HostKey $work/keys/host
Include $work/partners.conf\" 2>&1 | sed 's/^/# /'; exit \${PIPESTATUS[0]}"
start_sshd || skip_rest "sshd does not start (see $work/sshd.log)"

sftp_as() { # sftp_as KEY USER BATCHFILE (the session is echoed on stdout)
	sftp -q -b "$3" -i "$work/keys/$1" -P "$port" \
	    -o BatchMode=yes -o StrictHostKeyChecking=no \
	    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
	    "$2@127.0.0.1"
}
upload() { sftp_as "$@" >/dev/null; } # upload KEY USER BATCHFILE

# ---- edigated -------------------------------------------------------------
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
[listen.api]
address = 127.0.0.1:$dport
CONF
		"$EDIGATED" -c "$work/edigate.conf" 2>>"$work/edigated.log" &
		edigated_pid=$!
		for _ in $(seq 1 50); do
			if (exec 3<>"/dev/tcp/127.0.0.1/$dport") 2>/dev/null; then
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
# wait_for SECONDS COMMAND...: until the command succeeds.
wait_for() {
	local limit=$(( $1 * 10 )) i
	shift
	for ((i = 0; i < limit; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

doc() { # doc CONTROL: an 850 interchange with its own control numbers
	printf 'ISA*00*          *00*          *ZZ*ALPHA          *ZZ*EDIGATEDEMO    *261123*1015*U*00401*%09d*0*P*>~\n' "$1"
	printf 'GS*PO*ALPHA*EDIGATEDEMO*20261123*1015*%s' "$1"
	printf '*X*004010~\nST*850*0001~\n'
	printf 'BEG*00*SA*PO%d**20261123~\nPO1*1*12*EA*3.50**VN*SKU1~\nCTT*1~\nSE*5*0001~\n' "$1"
	printf 'GE*1*%d~\nIEA*1*%09d~\n' "$1" "$1"
}
# The uploads themselves (not the documents and acks the pipeline adds):
# the messages named by an "sftp" idempotency key.
uploads_sql="FROM messages m JOIN idempotency_keys k ON k.scope = 'sftp' AND k.response_body = CAST(m.id AS TEXT)"
count_sftp() { sql "SELECT count(*) $uploads_sql WHERE m.partner = '$1'"; }
hashes_sftp() { sql "SELECT count(DISTINCT m.payload_hash) $uploads_sql WHERE m.partner = '$1'"; }
has_count() { [ "$(count_sftp "$1")" = "$2" ]; } # has_count PARTNER N
inbox_empty() { [ -z "$(ls -A "$root/$1/inbox")" ]; }

# ---- alpha: upload under a temporary name, then rename ----------------------
doc 1 > "$work/up/po1.edi"
printf 'put %s po1.edi.part\nrename po1.edi.part po1.edi\n' "$work/up/po1.edi" > "$work/batch"
check "alpha uploads with sftp (key, batch mode) into its inbox" \
	upload alpha "$ua" "$work/batch"
check "the upload arrives in the store once, as an inbound sftp message" \
	wait_for 10 has_count alpha 1
check "the stored payload is the uploaded file byte for byte" \
	test "$(sql "SELECT m.payload_hash $uploads_sql WHERE m.partner = 'alpha'")" \
	= "$(sha256sum < "$work/up/po1.edi" | cut -d' ' -f1)"
check "the file is removed from the inbox once stored" \
	wait_for 5 inbox_empty alpha
ack_in_outbox() { compgen -G "$root/alpha/outbox/997-*.edi" >/dev/null; }
check "the inbound pipeline answers with a 997 in alpha's outbox" \
	wait_for 15 ack_in_outbox
ack=$(ls "$root/alpha/outbox/"997-*.edi 2>/dev/null | head -n 1)
check "the 997 acknowledges alpha's interchange (AK1*PO*1, AK9*A)" \
	bash -c "grep -q 'AK1\*PO\*1' '$ack' && grep -q 'AK9\*A\*1\*1\*1' '$ack'"
# A temporary name is left alone until renamed.
printf 'put %s po2.edi.part\n' "$work/up/po1.edi" > "$work/batch"
sftp_as alpha "$ua" "$work/batch" >/dev/null
sleep 2.5
check "a file still under its temporary name (.part) is not taken" \
	test "$(count_sftp alpha)" = 1 -a -f "$root/alpha/inbox/po2.edi.part"
rm -f "$root/alpha/inbox/po2.edi.part"

# ---- beta: plain put, taken at close ---------------------------------------
doc 2 > "$work/up/po2.edi"
printf 'put %s po2.edi\n' "$work/up/po2.edi" > "$work/batch"
check "beta uploads with a plain put; taken once closed" \
	upload beta "$ub" "$work/batch"
check "beta's document is stored once and leaves its inbox" \
	wait_for 10 bash -c "test \"\$(sqlite3 '$db' \"SELECT count(*) $uploads_sql WHERE m.partner = 'beta'\")\" = 1 && [ -z \"\$(ls -A '$root/beta/inbox')\" ]"

# ---- isolation ---------------------------------------------------------------
printf 'put %s keep.edi.part\n' "$work/up/po1.edi" > "$work/batch"
sftp_as alpha "$ua" "$work/batch" >/dev/null
printf 'ls -a /\n' > "$work/batch"
listing=$(sftp_as beta "$ub" "$work/batch" 2>&1)
check "beta's root is its own chroot: inbox and outbox, nothing of alpha" \
	bash -c "echo '$listing' | grep -q inbox && ! echo '$listing' | grep -q alpha"
printf 'get /../alpha/inbox/keep.edi.part %s/stolen\n' "$work" > "$work/batch"
sftp_as beta "$ub" "$work/batch" >/dev/null 2>&1
check "beta cannot read alpha's files through .." \
	test ! -e "$work/stolen"
printf 'put %s /x.edi\n' "$work/up/po1.edi" > "$work/batch"
sftp_as beta "$ub" "$work/batch" >/dev/null 2>&1
check "beta cannot write into its root-owned chroot" \
	test ! -e "$root/beta/x.edi"
printf 'ls\n' > "$work/batch"
check "alpha's key does not log in as beta" \
	bash -c "! sftp -q -b '$work/batch' -i '$work/keys/alpha' -P '$port' -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=QUIET '$ub@127.0.0.1' >/dev/null 2>&1"
rm -f "$root/alpha/inbox/keep.edi.part"

# ---- crash: kill -9 during a burst of uploads -------------------------------
burst=200
: > "$work/batch"
for i in $(seq 100 $((100 + burst - 1))); do
	doc "$i" > "$work/up/b$i.edi"
	printf 'put %s b%d.edi.part\nrename b%d.edi.part b%d.edi\n' \
	    "$work/up/b$i.edi" "$i" "$i" "$i" >> "$work/batch"
done
before=$(count_sftp alpha)
sftp_as alpha "$ua" "$work/batch" >/dev/null &
upload_pid=$!
for ((i = 0; i < 500; i++)); do
	[ "$(count_sftp alpha)" -gt "$before" ] && break
	sleep 0.02
done
kill -KILL "$edigated_pid"
wait "$edigated_pid" 2>/dev/null
echo "# killed with $(( $(count_sftp alpha) - before )) of $burst stored"
edigated_pid=
wait "$upload_pid"
upload_rc=$?
check "the burst of $burst uploads completes while edigated is killed" \
	test "$upload_rc" = 0
start_edigated
check "after the restart every uploaded file is taken from the inbox" \
	wait_for 30 inbox_empty alpha
check "every file of the burst is stored exactly once" \
	test "$(count_sftp alpha)" = "$((before + burst))" -a \
	"$(hashes_sftp alpha)" = "$((before + burst))"

# ---- push and pull with the libssh2 client ----------------------------------
# The partner's server is the same sshd; edigate logs in as beta and
# works in a folder of beta's chroot that edigated does not watch.
fingerprint=$(ssh-keygen -lf "$work/keys/host.pub" | cut -d' ' -f2)
other_fp=$(ssh-keygen -lf "$work/keys/otherhost.pub" | cut -d' ' -f2)
host_b64=$(cut -d' ' -f2 "$work/keys/host.pub")
client_profile() { # client_profile ID HOST-KEY-ATTRIBUTES
	cat > "$work/partners/$1.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<partner id="$1" name="SFTP server partner $1">
  <identity><x12 isa-qualifier="ZZ" isa-id="${1^^}" gs-id="${1^^}"/></identity>
  <messages><message direction="out" standard="x12" version="004010" type="856"/></messages>
  <transport>
    <sftp>
      <push host="127.0.0.1" port="$port" user="$ub" key-file="$work/keys/beta" remote-dir="/exchange">
        <host-key $2/>
      </push>
      <pull host="127.0.0.1" port="$port" user="$ub" key-file="$work/keys/beta" remote-dir="/exchange" poll-seconds="60">
        <host-key $2/>
      </pull>
    </sftp>
  </transport>
</partner>
XML
}
client_profile gamma "fingerprint=\"$fingerprint\""
client_profile delta "type=\"ssh-ed25519\" base64=\"$host_b64\""
client_profile wrong "fingerprint=\"$other_fp\""
outbox=$root/beta/exchange
mkdir -m 0700 "$outbox"
chown "$ub" "$outbox"
push() { "$EDIGATE" sftp-push --partners "$work/partners" "$@" 2>>"$work/client.log"; }
pull() { "$EDIGATE" sftp-pull --partners "$work/partners" --store "$db" "$@" 2>>"$work/client.log"; }
same_file() { cmp -s "$1" "$2"; }

doc 7 > "$work/up/asn.edi"
push --partner gamma --name asn-7.edi "$work/up/asn.edi"
check "push uploads to the partner's folder under the final name, byte for byte" \
	same_file "$work/up/asn.edi" "$outbox/asn-7.edi"
check "push leaves no temporary file behind" \
	test "$(ls -A "$outbox" | wc -l)" = 1
out=$("$EDIGATE" sftp-push --partners "$work/partners" --partner wrong \
	--name asn-8.edi "$work/up/asn.edi" 2>&1); rc=$?
check "a host key that is not the pinned one is refused; nothing is uploaded" \
	bash -c "test $rc = 1 && case '$out' in *'host key mismatch'*) true;; *) false;; esac && test ! -e '$outbox/asn-8.edi' && test ! -e '$outbox/.edigate-asn-8.edi'"

# The server goes away in the middle of a large upload and comes back.
head -c 48M /dev/urandom > "$work/up/big.bin"
push --partner delta --attempts 6 --delay-ms 500 "$work/up/big.bin" &
bg_pid=$!
wait_for 20 test -s "$outbox/.edigate-big.bin"
stop_sshd
sleep 1
start_sshd "$port" || echo "# sshd did not come back on $port"
wait "$bg_pid"
push_rc=$?
bg_pid=
check "a push cut short by the server going away is retried and completes" \
	test "$push_rc" = 0
check "the retried push delivers the file once, whole, without a temporary" \
	bash -c "cmp -s '$work/up/big.bin' '$outbox/big.bin' && test \"\$(ls -A '$outbox' | wc -l)\" = 2"

# Pull: everything in the folder comes in once, then is deleted remotely.
rm -f "$outbox"/*
for i in 21 22 23; do doc "$i" > "$outbox/in$i.edi"; done
pull --partner gamma >/dev/null
pulled() { count_sftp "$1"; }
check "pull stores every file of the remote folder and then deletes it there" \
	test "$(pulled gamma)" = 3 -a -z "$(ls -A "$outbox")"
# A file whose delete did not happen (same name, size, time, bytes) is
# recognised, not stored again, and deleted this time.
doc 21 > "$outbox/in21.edi"
touch -d @"$(sql "SELECT json_extract(detail, '\$.file_mtime_ns') / 1000000000 FROM events WHERE kind = 'message.stored' AND detail LIKE '%in21.edi%' LIMIT 1")" "$outbox/in21.edi"
out=$(pull --partner gamma)
check "a file pulled before is never stored twice ($out)" \
	test "$(pulled gamma)" = 3 -a -z "$(ls -A "$outbox")"
out=$("$EDIGATE" sftp-pull --partners "$work/partners" --store "$db" \
	--partner wrong 2>&1); rc=$?
check "pull refuses a server whose host key is not the pinned one" \
	bash -c "test $rc = 1 && case '$out' in *'host key mismatch'*) true;; *) false;; esac"

# The server goes away in the middle of a download: nothing is stored,
# the remote file stays, the next poll takes it once.
cp "$work/up/big.bin" "$outbox/big.bin"
pull --partner delta >/dev/null &
bg_pid=$!
# The download is under way once the spool holds a large partial file.
wait_for 20 bash -c "find '$work/state/spool/tmp' -type f -size +1M 2>/dev/null | grep -q ."
stop_sshd
wait "$bg_pid"
pull_rc=$?
bg_pid=
check "a pull cut short fails, stores nothing and leaves the remote file" \
	test "$pull_rc" != 0 -a "$(pulled delta)" = 0 -a -f "$outbox/big.bin"
start_sshd "$port" || echo "# sshd did not come back on $port"
pull --partner delta >/dev/null
check "the next poll stores it once, whole, and deletes it remotely" \
	test "$(pulled delta)" = 1 -a ! -e "$outbox/big.bin" -a \
	"$(sql "SELECT m.payload_hash $uploads_sql WHERE m.partner = 'delta'")" = \
	"$(sha256sum < "$work/up/big.bin" | cut -d' ' -f1)"

# ---- edigated pulls on its own schedule ----------------------------------------
# Only one profile with a pull is left, polling every second; SIGHUP makes
# edigated read the profiles again.
rm -f "$work/partners/gamma.xml" "$work/partners/delta.xml" "$work/partners/wrong.xml"
client_profile epsilon "fingerprint=\"$fingerprint\""
sed -i 's/poll-seconds="60"/poll-seconds="1"/' "$work/partners/epsilon.xml"
rm -rf "${outbox:?}"/*
# Pulled documents are acknowledged at once: the 997 goes to a folder of
# its own, not back into the one the pulls read.
mkdir -m 0700 "$outbox/acks"
chown "$ub" "$outbox/acks"
sed -i 's|<push \(.*\) remote-dir="/exchange">|<push \1 remote-dir="/exchange/acks">|' "$work/partners/epsilon.xml"
sched_sql=$uploads_sql
kill -HUP "$edigated_pid"
doc 31 > "$outbox/sched31.edi"
check "edigated pulls a partner's server on its schedule after a reload" \
	wait_for 15 bash -c "test \"\$(sqlite3 '$db' \"SELECT count(*) $sched_sql WHERE m.partner = 'epsilon'\")\" = 1 && test ! -e '$outbox/sched31.edi'"
doc 32 > "$outbox/sched32.edi"
check "the next poll takes the next file, each exactly once" \
	wait_for 15 bash -c "test \"\$(sqlite3 '$db' \"SELECT count(*) $sched_sql WHERE m.partner = 'epsilon'\")\" = 2 && test ! -e '$outbox/sched32.edi'"

# ---- shutdown ----------------------------------------------------------------
kill -TERM "$edigated_pid"
wait "$edigated_pid"
term_rc=$?
edigated_pid=
check "edigated with SFTP inboxes and pulls stops cleanly on SIGTERM (exit 0)" \
	test "$term_rc" = 0

if [ "$fails" -gt 0 ]; then
	echo "# sshd log:"; tail -n 30 "$work/sshd.log" | sed 's/^/# /'
	echo "# edigated log:"; tail -n 30 "$work/edigated.log" | sed 's/^/# /'
	echo "# client log:"; tail -n 30 "$work/client.log" 2>/dev/null | sed 's/^/# /'
fi
exit 0
