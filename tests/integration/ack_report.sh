#!/bin/sh
# ack_report.sh - ack tracking through the CLI (TAP): send four 856 groups
# to acme-retail, receive its 997s (accepted, partially accepted, rejected
# late, one for a group never sent), let one go overdue, and check the
# numbers of `edigate report acks` in CSV, JSON and HTML; then an EDIFACT
# DESADV answered by a CONTRL. Expected figures are worked out by hand in
# the comments.

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
edigate=$top_builddir/gateway/edigate
partners=$top_srcdir/partners
tmp=$(mktemp -d "${TMPDIR:-/tmp}/edigate-ackreport-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
EDIGATE_STORE=$tmp/state/edigate.db
export EDIGATE_STORE

echo "1..25"
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

# An outbound 856 interchange to acme-retail: ISA13 00000<group>, GS06
# <group>, two ship notices 0001 and 0002. ISA is 106 characters.
x12_856() {
	printf 'ISA*00*          *00*          *ZZ*EDIGATEDEMO    *ZZ*ACMERETAIL     *261123*1000*U*00401*000000%s*0*P*>~\n' "$1"
	printf 'GS*SH*EDIGATEDEMO*ACMERETAIL*20261123*1000*%s*X*004010~\n' "$1"
	printf 'ST*856*0001~\nBSN*00*SHIP1*20261123*1000~\nHL*1**S~\nSE*4*0001~\n'
	printf 'ST*856*0002~\nBSN*00*SHIP2*20261123*1000~\nHL*1**S~\nSE*4*0002~\n'
	printf 'GE*2*%s~\nIEA*1*000000%s~\n' "$1" "$1"
}

# acme-retail's 997 (ISA13 <isa>) for group <group> with AK9 <code> and
# the AK2..AK5 lines given, one per argument.
x12_997() {
	isa=$1 group=$2 ak9=$3
	shift 3
	printf 'ISA*00*          *00*          *ZZ*ACMERETAIL     *ZZ*EDIGATEDEMO    *261123*1200*U*00401*%s*0*P*>~\n' "$isa"
	printf 'GS*FA*ACMERETAIL*EDIGATEDEMO*20261123*1200*%s*X*004010~\n' "${isa#00000}"
	count=4
	printf 'ST*997*0001~\nAK1*SH*%s~\n' "$group"
	for seg in "$@"; do
		printf '%s~\n' "$seg"
		count=$((count + 1))
	done
	printf 'AK9*%s~\nSE*%d*0001~\n' "$ak9" "$count"
	printf 'GE*1*%s~\nIEA*1*%s~\n' "${isa#00000}" "$isa"
}

# T0 = 2026-11-23T10:00:00Z; acme-retail's SLA is 24 hours.
for g in 905 906 907 908; do
	x12_856 $g >"$tmp/out_$g.edi"
done
"$edigate" ack-track expect --partners "$partners" --partner acme-retail \
	--sent 2026-11-23T10:00:00Z "$tmp/out_905.edi" >"$tmp/out" 2>&1 &&
	grep -q "interchange 000000905 to acme-retail, 1 expectation .*deadline 2026-11-24T10:00:00Z" "$tmp/out"
check $? "expect: an outbound 856 group expects a 997 within 24 hours"
rc=0
for g in 906 907 908; do
	h=$((g - 905))
	"$edigate" ack-track expect --partners "$partners" --partner acme-retail \
		--sent "2026-11-23T1$h:00:00Z" "$tmp/out_$g.edi" >"$tmp/out" 2>&1 || rc=1
done
check $rc "expect: three more groups, sent an hour apart"

x12_997 000004001 905 "A*2*2*2" "AK2*856*0001" "AK5*A" "AK2*856*0002" "AK5*A" >"$tmp/997_905.edi"
"$edigate" ack-track reconcile --partner acme-retail --received 2026-11-23T12:00:00Z \
	"$tmp/997_905.edi" >"$tmp/out" 2>&1 && grep -q "expectation 1 accepted$" "$tmp/out"
check $? "reconcile: AK9 A accepts group 905"

x12_997 000004002 906 "P*2*2*1" "AK2*856*0001" "AK5*A" "AK2*856*0002" "AK3*HL*3**8" \
	"AK4*3*735*7*S" "AK5*R*5" >"$tmp/997_906.edi"
"$edigate" ack-track reconcile --partner acme-retail --received 2026-11-23T13:00:00Z \
	"$tmp/997_906.edi" >"$tmp/out" 2>&1 && grep -q "expectation 2 partially-accepted$" "$tmp/out"
check $? "reconcile: AK9 P with 856 0002 rejected is partially accepted"

# 907's deadline is 2026-11-24T12:00Z, 908's 13:00Z: both past at 13:30Z.
"$edigate" ack-track overdue --now 2026-11-24T13:30:00Z >"$tmp/out" 2>&1 &&
	grep -qx "2 expectations newly overdue" "$tmp/out"
check $? "overdue: the two groups past their deadline"

x12_997 000004003 907 "R*2*2*0" "AK2*856*0001" "AK5*R*5" "AK2*856*0002" "AK5*R*5" >"$tmp/997_907.edi"
"$edigate" ack-track reconcile --partner acme-retail --received 2026-11-24T16:00:00Z \
	"$tmp/997_907.edi" >"$tmp/out" 2>&1 && grep -q "expectation 3 rejected (late)$" "$tmp/out"
check $? "reconcile: a late AK9 R closes overdue group 907"

x12_997 000004004 999 "A*1*1*1" "AK2*856*0001" "AK5*A" >"$tmp/997_999.edi"
"$edigate" ack-track reconcile --partner acme-retail --received 2026-11-23T15:00:00Z \
	"$tmp/997_999.edi" >"$tmp/out" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "unmatched 1: no 997 was expected from acme-retail for group 999" "$tmp/out"
check $? "reconcile: a 997 for a group never sent is unmatched, exit 1"

"$edigate" ack-track duplicates --partner acme-retail --at 2026-11-23T12:00:00Z \
	"$tmp/997_905.edi" >"$tmp/out" 2>&1
check $? "duplicates: a first interchange is new"
"$edigate" ack-track duplicates --partner acme-retail --at 2026-11-23T12:05:00Z \
	"$tmp/997_905.edi" >"$tmp/out" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "^interchange 000004001 (isa13): duplicate of message [0-9]*, first seen 2026-11-23T12:00:00Z; ack code 025$" "$tmp/out"
check $? "duplicates: the same ISA13 again is a duplicate of the first message"

# The report at 2026-11-25T02:00Z (T0 + 40 h):
#   sent 4; within SLA 905 (2 h) and 906 (2 h); late 907 (28 h);
#   accepted 1, partially 1, rejected 1, pending 0, overdue 1 (908);
#   unmatched 1; acknowledged 3; mean (2 + 2 + 28) / 3 h = 38400 s;
#   p95 rank ceil(0.95 * 3) = 3: 28 h = 100800 s.
"$edigate" report acks --now 2026-11-25T02:00:00Z --format csv >"$tmp/report.csv" 2>"$tmp/out"
check $? "report: CSV"
tr -d '\r' <"$tmp/report.csv" >"$tmp/report.txt"
sed -n 2p "$tmp/report.txt" >"$tmp/out"
grep -qx "acme-retail,4,2,1,1,0,1,1,0,1,1,3,38400.000,100800.000" "$tmp/out"
check $? "report CSV: acme-retail's figures"
awk -F, '$1 == "2" { print $10 }' "$tmp/report.txt" >"$tmp/out"
grep -qx "partially-accepted" "$tmp/out" && grep -q '^2,acme-retail,997,000000906,906,SH,2,.*"0001 856 A; 0002 856 R {""codes"":\[""5""\],""errors"":\[{""code"":""8"",' "$tmp/report.txt"
check $? "report CSV: the detail row names the rejected 856 and why"
awk -F, '$1 == "3" { print $10 "|" $13 "|" $14 }' "$tmp/report.txt" >"$tmp/out"
grep -qx "rejected|yes|2026-11-24T13:30:00Z" "$tmp/out"
check $? "report CSV: the late group keeps when it went overdue"
awk -F, '$1 == "4" { print $10 "|" $11 }' "$tmp/report.txt" >"$tmp/out"
grep -qx "overdue|" "$tmp/out"
check $? "report CSV: the group never acknowledged is overdue"
grep -q "^1,acme-retail,997,,999,2026-11-23T15:00:00Z,[0-9]*,no 997 was expected from acme-retail for group 999$" "$tmp/report.txt"
check $? "report CSV: the unmatched ack with its reason"

"$edigate" report acks --now 2026-11-25T02:00:00Z --format json --output "$tmp/report.json" >"$tmp/out" 2>&1
check $? "report: JSON"
jq -e '.partners | length == 1 and .[0].partner == "acme-retail" and .[0].sent == 4
	and .[0].within_sla == 2 and .[0].late == 1 and .[0].rejected == 1
	and .[0].pending == 0 and .[0].overdue == 1 and .[0].unmatched == 1
	and .[0].mean_latency_us == 38400000000 and .[0].p95_latency_us == 100800000000' \
	"$tmp/report.json" >"$tmp/out" 2>&1
check $? "report JSON: acme-retail's figures"
jq -e '(.expectations | length == 4) and (.expectations[1].set_results[1]
	| .set == "0002" and .code == "R" and .detail.errors[0].segment == "HL")
	and .expectations[2].late == true and (.unmatched | length == 1)' \
	"$tmp/report.json" >"$tmp/out" 2>&1
check $? "report JSON: detail rows and the unmatched ack"

"$edigate" report acks --now 2026-11-25T02:00:00Z --format html >"$tmp/report.html" 2>"$tmp/out"
check $? "report: HTML"
xmllint --html --noout "$tmp/report.html" >"$tmp/out" 2>&1 && [ ! -s "$tmp/out" ] &&
	xmllint --noout "$tmp/report.html" >"$tmp/out" 2>&1
check $? "report HTML: well formed (xmllint --html and as XML), no warnings"
grep -q '<tr><td>acme-retail</td><td class="n">4</td><td class="n">2</td><td class="n">1</td>' "$tmp/report.html" &&
	grep -q '<td class="n">10 h 40 min 00 s</td><td class="n">28 h 00 min 00 s</td></tr>' "$tmp/report.html" &&
	! grep -qi '<script' "$tmp/report.html"
check $? "report HTML: the figures a person reads, no scripts"

# Sent in [11:00Z, 13:00Z): 906 and 907 only.
"$edigate" report acks --partner acme-retail --since 2026-11-23T11:00:00Z \
	--until 2026-11-23T13:00Z --now 2026-11-25T02:00:00Z >"$tmp/out" 2>&1 &&
	tr -d '\r' <"$tmp/out" | sed -n 2p | grep -q "^acme-retail,2,1,1,0,0,1,1,0,0,0,2,"
check $? "report: --since and --until bound the send time"

"$edigate" report acks --since 2026-13-01 >"$tmp/out" 2>&1
[ $? = 2 ] && grep -q "not a UTC date or time" "$tmp/out"
check $? "report: a bad time is a usage error"

# EDIFACT: a DESADV to nordic-dist (CONTRL within 48 h); its CONTRL
# accepts the interchange and rejects message 2 (UCM 0083 4, 0085 12).
printf "UNB+UNOC:3+5790000000001:14+7350012345678:14+261123:1000+700'UNH+1+DESADV:D:96A:UN'BGM+351+SHIP1+9'UNT+3+1'UNH+2+DESADV:D:96A:UN'BGM+351+SHIP2+9'UNT+3+2'UNZ+2+700'" >"$tmp/desadv.edi"
printf "UNB+UNOC:3+7350012345678:14+5790000000001:14+261123:1200+900'UNH+1+CONTRL:D:3:UN'UCI+700+5790000000001:14+7350012345678:14+7'UCM+2+DESADV:D:96A:UN+4+12'UNT+4+1'UNZ+1+900'" >"$tmp/contrl.edi"
"$edigate" ack-track expect --partners "$partners" --partner nordic-dist \
	--sent 2026-11-23T10:00:00Z "$tmp/desadv.edi" >"$tmp/out" 2>&1 &&
	grep -q "interchange 700 to nordic-dist, 1 expectation .*deadline 2026-11-25T10:00:00Z" "$tmp/out" &&
	"$edigate" ack-track reconcile --partner nordic-dist --received 2026-11-23T12:00:00Z \
	"$tmp/contrl.edi" >"$tmp/out" 2>&1 && grep -q "partially-accepted$" "$tmp/out"
check $? "EDIFACT: a CONTRL rejecting one of two messages is partially accepted"

"$edigate" audit verify >"$tmp/out" 2>&1
check $? "the audit chain is intact after all of it"
