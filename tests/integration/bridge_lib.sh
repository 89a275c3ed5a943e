# shellcheck shell=bash
# shellcheck disable=SC2034 # keys, base, user_line: for the caller
# shellcheck disable=SC2154 # n and PLAN: set by the caller
# Shared by the ERP/WMS bridge scripts (sourced after tap_lib.sh, not run):
# an edigated on the SQLite store with the demo partners and keys, an
# ERP/WMS stand-in (webhook_receiver.py, which records every request and
# checks the HMAC), one API token for the ERP and one for the WMS.
#
# The caller sets top_srcdir, top_builddir, PLAN and n=0, then:
#   bridge_setup NAME [TOOL...]   plan, tool check (all cases skipped as
#                                 NAME when one is missing), $tmp, partners,
#                                 keys, the receiver ($hook_port)
#   ... anything it adds (another peer, edits to $tmp/partners)
#   bridge_start "WHAT STARTED" [LOG...]
#                                 edigated on a free port ($port, $base);
#                                 the first TAP case, or every case failed
#                                 and exit 1 (bridge_fail, also for what the
#                                 caller started itself)
# with, before bridge_start, these optional settings:
#   BRIDGE_PARTNERS   partners the tokens may act for (acme-retail)
#   BRIDGE_ROUTE      extra lines of [route]
#   BRIDGE_DELIVERY   the [delivery] section's lines
# and after it: post TOKEN KEY FILE, db SQL.

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
EDIGATED=${EDIGATED:-$top_builddir/gateway/edigated}
EDIGATE=${EDIGATE:-$top_builddir/gateway/edigate}
EDIGATE=$(cd "$(dirname "$EDIGATE")" && pwd)/$(basename "$EDIGATE")
src=$(cd "$top_srcdir" && pwd)
ERP_TOKEN=erp-bridge-token-1
WMS_TOKEN=wms-bridge-token-2
BRIDGE_PARTNERS=${BRIDGE_PARTNERS:-acme-retail}
BRIDGE_ROUTE=${BRIDGE_ROUTE:-}
BRIDGE_DELIVERY=${BRIDGE_DELIVERY:-poll = 100ms
base_backoff = 200ms
max_backoff = 400ms
jitter = 0}

bridge_setup() {
	local name=$1
	shift
	echo "1..$PLAN"
	skip_without "$name" curl python3 openssl "$@"
	PYTHON=$(command -v python3)
	make_tmp
	chmod 755 "$tmp"
	mkdir "$tmp/state" "$tmp/hooks" "$tmp/partners"
	user_line="# not started as root"
	if [ "$(id -u)" = 0 ]; then
		user_line="user = nobody"
		chown nobody "$tmp/state"
	fi
	cp "$src"/partners/*.xml "$src/partners/partner.xsd" "$tmp/partners/"
	ln -s "$src/maps" "$tmp/maps"
	sh "$src/deploy/demo_keys.sh" "$tmp/partners" >/dev/null
	keys=$tmp/partners/demo-keys
	SECRET=whsec_${name// /_}_0123456789
	"$PYTHON" "$src/tests/integration/webhook_receiver.py" "$tmp/hooks" \
		"$SECRET" >/dev/null 2>>"$tmp/receiver.log" &
	pids="$pids $!"
	echo '{}' > "$tmp/hooks/mode.json"
	wait_for 10 test -s "$tmp/hooks/port"
	hook_port=$(cat "$tmp/hooks/port" 2>/dev/null)
	chmod -R a+rX "$tmp/partners"
}

bridge_hash() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

bridge_config() { # bridge_config PORT
	cat > "$tmp/edigate.conf" <<CONF
state_dir = state
$user_line
maps_dir = $src/maps
partners_dir = $tmp/partners

[listen.main]
address = 127.0.0.1:$1

[route]
isa_id = EDIGATEDEMO
$BRIDGE_ROUTE

[webhook.erp]
url = http://127.0.0.1:$hook_port/erp
secret = $SECRET
timeout = 5s

[webhook.wms]
url = http://127.0.0.1:$hook_port/wms
secret = $SECRET
timeout = 5s

[delivery]
$BRIDGE_DELIVERY

[token.erp]
hash = sha256:$(bridge_hash $ERP_TOKEN)
systems = erp
partners = $BRIDGE_PARTNERS
access = read write

[token.wms]
hash = sha256:$(bridge_hash $WMS_TOKEN)
systems = wms
partners = $BRIDGE_PARTNERS
access = read write
CONF
	chmod 644 "$tmp/edigate.conf"
}

bridge_start_daemon() { start_edigated bridge_config; }

# bridge_fail "WHAT STARTED" [LOG...]: it did not; every case fails.
bridge_fail() {
	local what=$1 i
	shift
	not_ok "$what"
	sed 's/^/# /' "$tmp/log" "$tmp/receiver.log" "$@" 2>/dev/null
	for i in $(seq $((n + 1)) "$PLAN"); do
		echo "not ok $i - not started"
	done
	exit 1
}

bridge_start() { # bridge_start "WHAT STARTED" [LOG...]
	if [ -z "$hook_port" ] || ! bridge_start_daemon; then
		bridge_fail "$@"
	fi
	ok "$1"
	base=http://127.0.0.1:$port/api/v1
}

# post TOKEN KEY FILE: the ERP or WMS posts a canonical document; the
# answer lands in $tmp/KEY.answer, the HTTP status is printed.
post() {
	curl -s -o "$tmp/$2.answer" -w '%{http_code}' \
		-H "Authorization: Bearer $1" -H "Idempotency-Key: $2" \
		-H 'Content-Type: application/json' --data-binary @"$3" \
		"$base/documents"
}

# db SQL: the first column of the first row SQL selects from the store.
db() {
	"$PYTHON" -c "import sqlite3,sys; r=sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone(); print(r[0] if r else '')" \
		"$tmp/state/edigate.db" "$1" 2>/dev/null
}
