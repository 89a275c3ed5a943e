#!/bin/sh
# receive_cli.sh - `edigate receive` and `edigate send` on SQLite (TAP):
# the demo 850 is stored, acknowledged with a 997 and translated to an
# order; a broken 850 is rejected with a 997 that says why; the same file
# twice is one message; a shipment sent as canonical JSON is closed by the
# partner's 997 received afterwards. The expected 997 segments are written
# by hand from X12 004010 (AK3 segment note 3 "mandatory segment missing",
# AK5 5 "one or more segments in error", AK9 R).

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
edigate=$top_builddir/gateway/edigate
partners=$top_srcdir/partners
maps=$top_srcdir/maps
demo=$top_srcdir/tests/fixtures/demo/x12_850_order.edi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/edigate-receive-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
EDIGATE_STORE=$tmp/state/edigate.db
export EDIGATE_STORE
R="--partner acme-retail --partners $partners --maps $maps"

echo "1..20"
n=0
check() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		[ -f "$tmp/out" ] && sed 's/^/# /' "$tmp/out" | head -n 20
	fi
}
# field KEY: a value of the JSON line in $tmp/out, "a.b" for nested ones.
field() {
	python3 -c 'import json,sys
v=json.loads(open(sys.argv[1]).readline())
for k in sys.argv[2].split("."):
    v=v[int(k)] if isinstance(v,list) else v[k]
print(str(v).lower() if isinstance(v,bool) else v)' "$tmp/out" "$1"
}
# payload ID: the stored bytes of message ID (the spool names them by hash).
payload() {
	sqlite3 "$EDIGATE_STORE" "select payload_hash from messages where id=$1" |
		while read -r h; do find "$tmp/state/spool" -type f -name "$h*" \
			-exec cat {} \; ; done
}

# 1. The demo order.
"$edigate" receive $R "$demo" >"$tmp/out" 2>&1
rc=$?
[ $rc = 0 ] && [ "$(field state)" = processed ]
check $? "the demo 850 is processed, exit 0"
ack=$(field ack.message_id)
[ "$(field ack.type)" = 997 ] && payload "$ack" >"$tmp/997a.edi" &&
	grep -qx 'AK2\*850\*0001~' "$tmp/997a.edi" && grep -qx 'AK5\*A~' "$tmp/997a.edi" &&
	grep -qx 'AK9\*A\*1\*1\*1~' "$tmp/997a.edi"
check $? "a 997 accepting set 0001 of group 101 is stored"
[ "$(field documents.0.type)" = order ] && [ "$(field documents.0.message_type)" = 850 ]
check $? "an order is stored"
doc=$(field documents.0.id)
payload "$doc" | grep -q '"PO12345"'
check $? "the stored order carries the purchase order number PO12345"

# 2. An 850 without its mandatory BEG (SE count fixed to 12), sent as a
# new interchange (ISA13/IEA02 102, GS06/GE02 102).
grep -v '^BEG' "$demo" | sed -e 's/^SE\*13\*/SE*12*/' -e 's/000000101/000000102/' \
	-e 's/^\(GS\*.*\*\)101\(\*X\*\)/\1102\2/' -e 's/^GE\*1\*101~/GE*1*102~/' >"$tmp/bad.edi"
"$edigate" receive $R "$tmp/bad.edi" >"$tmp/out" 2>&1
rc=$?
[ $rc = 1 ] && [ "$(field state)" = rejected ] && [ "$(field documents)" = "[]" ]
check $? "an 850 without BEG is rejected, nothing translated, exit 1"
payload "$(field ack.message_id)" >"$tmp/997b.edi"
grep -qx 'AK3\*BEG\*2\*\*3~' "$tmp/997b.edi" && grep -qx 'AK5\*R\*5~' "$tmp/997b.edi" &&
	grep -qx 'AK9\*R\*1\*1\*0~' "$tmp/997b.edi"
check $? "its 997 names BEG at position 2 as missing and rejects the set"

# 3. The same file again.
first=$(sqlite3 "$EDIGATE_STORE" "select count(*) from messages")
"$edigate" receive $R "$demo" >"$tmp/out" 2>&1
rc=$?
[ $rc = 0 ] && [ "$(field duplicate)" = true ] && [ "$(field message_id)" = 1 ]
check $? "the demo 850 again is reported as a duplicate of message 1"
[ "$(sqlite3 "$EDIGATE_STORE" "select count(*) from messages")" = "$first" ]
check $? "and nothing new is stored"

# 3b. Another order under the demo's interchange control number: refused
# with a TA1 R 025 (X12 I18 "duplicate interchange control number"),
# nothing translated, exit 1. The first message is named in the event.
sed 's/PO12345/PO99999/' "$demo" >"$tmp/dup.edi"
"$edigate" receive $R "$tmp/dup.edi" >"$tmp/out" 2>&1
rc=$?
[ $rc = 1 ] && [ "$(field state)" = duplicate ] && [ "$(field documents)" = "[]" ] &&
	[ "$(field ack.type)" = TA1 ] && [ "$(field duplicates)" = 1 ]
check $? "another order under ISA13 000000101 is a duplicate, nothing translated, exit 1"
dupid=$(field message_id)
payload "$(field ack.message_id)" >"$tmp/ta1.edi"
grep -qx 'TA1\*000000101\*261123\*0930\*R\*025~' "$tmp/ta1.edi" && ! grep -q '^ST' "$tmp/ta1.edi" &&
	sqlite3 "$EDIGATE_STORE" "select detail from events where message_id=$dupid and kind='inbound.duplicate'" |
	grep -q '"first_message_id":1,'
check $? "its TA1 says R 025 and the event names message 1"
[ "$(sqlite3 "$EDIGATE_STORE" "select count(*) from messages where message_type='order' and state='stored'")" = 1 ]
check $? "the first order is the only accepted order stored"

# 3c. Outside the duplicate window the number is new again.
sed 's/PO12345/PO77777/' "$demo" >"$tmp/late.edi"
sleep 2
"$edigate" receive $R --duplicate-window 1s "$tmp/late.edi" >"$tmp/out" 2>&1
rc=$?
[ $rc = 0 ] && [ "$(field state)" = processed ] && [ "$(field documents.0.type)" = order ]
check $? "with --duplicate-window 1s, two seconds later the same ISA13 is processed"
"$edigate" receive $R --duplicate-window 1w "$tmp/late.edi" >"$tmp/out" 2>&1
[ $? = 2 ]
check $? "a window that is no duration is a usage error, exit 2"

# 4. Unknown partner, missing file: usage and I/O errors.
"$edigate" receive --partner nobody --partners "$partners" "$demo" >"$tmp/out" 2>&1
[ $? = 2 ]
check $? "an unknown partner is a usage error, exit 2"
"$edigate" receive $R "$tmp/missing.edi" >"$tmp/out" 2>&1
[ $? = 2 ]
check $? "a missing file is an I/O error, exit 2"

# 5. Send a shipment as canonical JSON, receive the partner's 997 for it.
"$edigate" translate --maps "$maps" "$top_srcdir/tests/fixtures/maps/856_pair.edi" \
	>"$tmp/856.json" 2>"$tmp/out"
"$edigate" send $R "$tmp/856.json" >"$tmp/id" 2>"$tmp/out"
rc=$?
id=$(cat "$tmp/id")
[ $rc = 0 ] && [ -n "$id" ] &&
	[ "$(sqlite3 "$EDIGATE_STORE" "select state from messages where id=$id")" = queued ]
check $? "send: the 856 document is queued as an outbound message"
payload "$id" >"$tmp/856.edi"
isa=$(sed -n 's/^ISA\*\([^*]*\*\)\{12\}\([0-9]*\)\*.*/\2/p' "$tmp/856.edi")
gs=$(sed -n 's/^GS\*\([^*]*\*\)\{5\}\([0-9]*\)\*.*/\2/p' "$tmp/856.edi")
sender=$(sed -n 's/^GS\*SH\*\([^*]*\)\*.*/\1/p' "$tmp/856.edi")
grep -q '^ST\*856\*' "$tmp/856.edi" && grep -q "^ISA.*\*ACMERETAIL *\*" "$tmp/856.edi" &&
	[ -n "$isa" ] && [ -n "$gs" ]
check $? "send: the interchange is an 856 to ACMERETAIL (ISA13 $isa, GS06 $gs)"

# What acme-retail sends back, written by hand: the TA1 its profile asks
# for (ISA14 1) and the 997 for that group.
{
	printf 'ISA*00*          *00*          *ZZ*ACMERETAIL     *ZZ*%-15s*261123*1400*U*00401*000007001*0*P*>~\n' "$sender"
	printf 'TA1*%s*261123*1304*A*000~\n' "$isa"
	printf 'GS*FA*ACMERETAIL*%s*20261123*1400*7001*X*004010~\n' "$sender"
	printf 'ST*997*0001~\nAK1*SH*%s~\nAK2*856*0001~\nAK5*A~\nAK9*A*1*1*1~\nSE*6*0001~\n' "$gs"
	printf 'GE*1*7001~\nIEA*1*000007001~\n'
} >"$tmp/997.edi"
"$edigate" receive $R "$tmp/997.edi" >"$tmp/out" 2>&1
rc=$?
[ $rc = 0 ] && [ "$(field state)" = processed ] && [ "$(field acks.matched)" = 2 ] &&
	[ "$(field acks.unmatched)" = 0 ]
check $? "receive: the partner's TA1 and 997 are reconciled, not translated"
"$edigate" report acks --partner acme-retail --format json >"$tmp/report.json" 2>"$tmp/out"
python3 - "$tmp/report.json" "$id" >"$tmp/out" 2>&1 <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
rows = [e for e in r["expectations"] if e["ack_type"] == "997"]
assert len(rows) == 1 and rows[0]["state"] == "accepted", rows
p = r["partners"][0]
assert p["pending"] == 0 and p["accepted"] == 2, p
PY
check $? "report acks: the 856 group is accepted, nothing pending"

# 6. An ack for nothing we sent is recorded as unmatched, exit 1.
grep -v '^TA1' "$tmp/997.edi" | sed "s/^AK1\*SH\*$gs~/AK1*SH*99999~/" | sed 's/000007001/000007002/g' >"$tmp/997x.edi"
"$edigate" receive $R "$tmp/997x.edi" >"$tmp/out" 2>&1
rc=$?
[ $rc = 1 ] && [ "$(field acks.unmatched)" = 1 ]
check $? "receive: a 997 for a group never sent is unmatched, exit 1"
