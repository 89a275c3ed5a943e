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
	mkdir -p "$demo_dir/state"
	rm -rf "$demo_dir/partners" "$demo_dir/maps"
	cp -R partners "$demo_dir/partners"
	cp -R maps "$demo_dir/maps"
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
  stop it           kill \$(cat $pidfile)

Send a first purchase order by AS2 (unsigned and unencrypted, which the
demo partner allows on loopback):

  curl -sS http://127.0.0.1:$as2_port/as2 -H 'AS2-Version: 1.2' \\
    -H 'AS2-From: ACMEBUYER' -H 'AS2-To: EDIGATEDEMO' \\
    -H "Message-ID: <first-\$(date +%s)@acme>" \\
    -H 'Disposition-Notification-To: edi@acme.example' \\
    -H 'Content-Type: application/edi-x12' \\
    --data-binary @$demo

The answer is the MDN; see the message with
  build/gateway/edigate store info --store $demo_dir/state/edigate.db

The CLI works on files without the daemon (build/gateway/edigate --help):

  build/gateway/edigate dump FILE...          one JSON array per segment
  build/gateway/edigate validate FILE...      envelope checks: exit 0 valid, 1 invalid
  build/gateway/edigate translate FILE...     EDI to canonical JSON

Sample interchanges: tests/fixtures/. To install: make -C build install
(to /usr/local; run configure with --prefix=DIR for another place).
EOF
