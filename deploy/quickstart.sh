#!/bin/bash
# edigate quick start: from a fresh Debian 12 (as root) to a working
# edigate in one command. Installs the missing build packages, builds in
# build/ (nothing is installed system-wide), then shows the CLI on a demo
# purchase order shipped in tests/fixtures. Safe to run again: it only
# rebuilds what changed.
#
#   bash deploy/quickstart.sh
set -eu

cd "$(dirname "$0")/.."
root=$(pwd)
# shellcheck source=deploy/common.sh
. deploy/common.sh

build=$root/build
edigate=$build/gateway/edigate
demo=tests/fixtures/demo/x12_850_order.edi

step() {
	echo
	echo "==> $*"
}

install_packages() {
	step "checking the build packages"
	# Word splitting is wanted: one package per word.
	# shellcheck disable=SC2086
	edigate_install_packages $EDIGATE_BUILD_PACKAGES
}

build_edigate() {
	step "building edigate in build/"
	if [ -f config.status ]; then
		echo "the source tree itself is configured; run 'make distclean' in $root first" >&2
		exit 1
	fi
	if [ ! -x configure ] || [ configure.ac -nt configure ]; then
		mkdir -p m4 # aclocal -I m4 wants it; git keeps no empty folder
		autoreconf -fi
	fi
	mkdir -p "$build"
	if [ ! -f "$build/config.status" ]; then
		(cd "$build" && "$root/configure" -q)
	fi
	make -C "$build" -s -j"$(nproc 2>/dev/null || echo 2)"
	echo "built $edigate"
}

show_cli() {
	step "edigate dump $demo (one JSON array per segment)"
	"$edigate" dump "$demo"

	step "edigate validate $demo (envelope checks)"
	if ! { "$edigate" --help 2>&1 || true; } | grep -q '^ *validate'; then
		echo "(this build has no validate command yet)"
		return 0
	fi
	status=0
	"$edigate" validate "$demo" || status=$?
	case $status in
	0) echo "valid: control numbers and counts match" ;;
	1) echo "invalid: see the errors above" ;;
	*) echo "edigate validate could not run (status $status)" ;;
	esac
}

# The demo daemon listens on loopback only. As root it runs as the system
# user "edigate" (created when missing) with its state, a copy of the demo
# partners and the maps under /var/lib/edigate/quickstart; otherwise as the
# calling user under build/demo.
as2_port=${EDIGATE_AS2_PORT:-4080}
api_port=${EDIGATE_API_PORT:-8080}

# Two stand-ins from the test suite play the other sides on loopback: the
# ERP (records the webhooks it receives, checks their signature) and the
# retailer's own AS2 server (decrypts and verifies what edigated sends,
# answers a signed MDN). Started again on every run.
retailer_port=${EDIGATE_RETAILER_PORT:-4081}

stop_pidfile() {
	if [ -f "$1" ] && kill "$(cat "$1")" 2>/dev/null; then
		sleep 0.3
	fi
	rm -f "$1"
}

start_standins() {
	stop_pidfile "$demo_dir/erp.pid"
	stop_pidfile "$demo_dir/retailer.pid"
	mkdir -p "$demo_dir/erp" "$demo_dir/retailer"
	if [ ! -s "$demo_dir/webhook.secret" ]; then
		openssl rand -hex 24 >"$demo_dir/webhook.secret"
	fi
	secret=$(cat "$demo_dir/webhook.secret")
	rm -f "$demo_dir/erp/port"
	python3 tests/integration/webhook_receiver.py "$demo_dir/erp" "$secret" \
	    >/dev/null 2>"$demo_dir/erp.log" &
	echo $! >"$demo_dir/erp.pid"
	keys=$demo_dir/partners/demo-keys
	python3 tests/integration/as2_peer.py --dir "$demo_dir/retailer" \
	    --cert "$keys/acme-retail.pem" --key "$keys/acme-retail.key" \
	    --sender-cert "$keys/edigate-demo.pem" --port "$retailer_port" \
	    --port-file "$demo_dir/retailer/port" \
	    >/dev/null 2>"$demo_dir/retailer.log" &
	echo $! >"$demo_dir/retailer.pid"
	for _ in $(seq 50); do
		[ -s "$demo_dir/erp/port" ] && break
		sleep 0.1
	done
	erp_port=$(cat "$demo_dir/erp/port")
	sed -i "s|url=\"http://127.0.0.1:[0-9]*/as2\"|url=\"http://127.0.0.1:$retailer_port/as2\"|" \
	    "$demo_dir/partners/acme-retail.xml"
}

start_daemon() {
	step "starting edigated with the demo partners"
	if [ "$(id -u)" -eq 0 ]; then
		demo_dir=/var/lib/edigate/quickstart
		if ! getent passwd edigate >/dev/null; then
			useradd --system --home-dir /var/lib/edigate \
			    --shell /usr/sbin/nologin edigate
		fi
		user_line="user = edigate"
	else
		demo_dir=$build/demo
		user_line="# user: not started as root, stays $(id -un)"
	fi
	# Every run is a fresh demo: the walk-through's first 850 must not
	# meet the control numbers of an earlier run (edigate would answer it
	# as a duplicate, TA1 025). The earlier demo is stopped and kept aside.
	if [ -d "$demo_dir/state" ]; then
		if [ -f "$demo_dir/edigated.pid" ] &&
		    kill "$(cat "$demo_dir/edigated.pid")" 2>/dev/null; then
			for _ in $(seq 50); do
				kill -0 "$(cat "$demo_dir/edigated.pid")" 2>/dev/null || break
				sleep 0.1
			done
		fi
		stop_pidfile "$demo_dir/erp.pid"
		stop_pidfile "$demo_dir/retailer.pid"
		previous=$demo_dir.$(date -u +%Y%m%dT%H%M%SZ)
		mv "$demo_dir" "$previous"
		echo "the previous demo (stopped) is kept in $previous"
	fi
	mkdir -p "$demo_dir/state" "$demo_dir/partners"
	cp partners/*.xml partners/partner.xsd "$demo_dir/partners/"
	# Overrides name their base map as ../maps/...: keep that layout.
	rm -rf "$demo_dir/maps"
	cp -R maps "$demo_dir/maps"
	# DEMO certificates and keys, made here, never in the source tree.
	sh deploy/demo_keys.sh "$demo_dir/partners"
	start_standins
	conf=$demo_dir/edigate.conf
	cat >"$conf" <<CONF
# Written by deploy/quickstart.sh: a demo on loopback, not for production.
# deploy/edigate.conf documents every key.
state_dir = $demo_dir/state
partners_dir = $demo_dir/partners
maps_dir = $demo_dir/maps
$user_line
workers = 2
log_level = info

[store]
url = $demo_dir/state/edigate.db

[listen.as2-plain]
address = 127.0.0.1:$as2_port
protocol = http

[listen.api]
address = 127.0.0.1:$api_port
protocol = http

# The demo ERP: canonical documents from partners arrive here, signed.
[webhook.erp]
url = http://127.0.0.1:$erp_port/erp
secret = $secret

[delivery]
poll = 200ms
CONF
	if [ "$(id -u)" -eq 0 ]; then
		chown -R edigate: "$demo_dir"
	fi
	"$build/gateway/edigated" -t -c "$conf"

	pidfile=$demo_dir/edigated.pid
	if [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null; then
		echo "stopping the edigated this script started before"
		for _ in $(seq 50); do
			kill -0 "$(cat "$pidfile")" 2>/dev/null || break
			sleep 0.1
		done
	fi
	log=$demo_dir/edigated.log
	nohup "$build/gateway/edigated" -c "$conf" >"$log" 2>&1 &
	echo $! >"$pidfile"
	for _ in $(seq 100); do
		if curl -fsS "http://127.0.0.1:$api_port/healthz" >/dev/null 2>&1; then
			echo "edigated is running (pid $(cat "$pidfile")), log: $log"
			return 0
		fi
		if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	echo "edigated did not start; its log ($log):" >&2
	tail -n 20 "$log" >&2
	exit 1
}

install_packages
build_edigate
show_cli
start_daemon

cat <<EOF

edigated is running on loopback with the demo partners (acme-retail: X12
004010 retailer; nordic-dist: EDIFACT D96A distributor):

  AS2 endpoint      http://127.0.0.1:$as2_port/as2
  REST API, health  http://127.0.0.1:$api_port/  (GET /healthz, GET /metrics)
  configuration     $conf
  log               $log   (JSON lines)
  stop it           kill \$(cat $pidfile) \$(cat $demo_dir/erp.pid) \$(cat $demo_dir/retailer.pid)

Send a first purchase order by AS2 as the demo retailer (unsigned, which
its demo profile allows; the MDN comes back in the response):

  curl -sS http://127.0.0.1:$as2_port/as2 -H 'AS2-Version: 1.2' \\
    -H 'AS2-From: ACMERETAIL' -H 'AS2-To: EDIGATEDEMO' \\
    -H "Message-ID: <first-\$(date +%s)@acme>" \\
    -H 'Disposition-Notification-To: edi@acme.example' \\
    -H 'Content-Type: application/edi-x12' \\
    --data-binary @$demo

The answer is the MDN. Within a second edigated has validated the order,
sent the 997 back to the retailer's AS2 server (signed and encrypted) and
posted the canonical order to the ERP webhook:

  demo ERP, what it received   $demo_dir/erp/requests.jsonl
  demo retailer, the 997       $demo_dir/retailer/ (req-1.json, req-1.content)
  every message and its state  build/gateway/edigate store info --store $demo_dir/state/edigate.db

The CLI works on files without the daemon (build/gateway/edigate --help):

  build/gateway/edigate dump FILE...          one JSON array per segment
  build/gateway/edigate validate FILE...      envelope checks: exit 0 valid, 1 invalid
  build/gateway/edigate translate FILE...     EDI to canonical JSON

Sample interchanges: tests/fixtures/. To install: make -C build install
(to /usr/local; run configure with --prefix=DIR for another place).
EOF
