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

# start_daemon: edigated (AS2, SFTP, REST API) will be started here once
# it exists, with deploy/edigate.conf and the demo partners.
# edigated on the SQLite store with the demo partners, AS2 on plain HTTP
# on loopback. The demo partner folder and its DEMO keys live in
# build/demo/, never in the source tree.
start_daemon() {
	demo_dir=$build/demo
	as2_port=${EDIGATE_DEMO_AS2_PORT:-4080}
	step "starting edigated with the demo partners (build/demo/)"
	if [ -f "$demo_dir/edigated.pid" ] && kill -0 "$(cat "$demo_dir/edigated.pid")" 2>/dev/null; then
		echo "edigated is already running (pid $(cat "$demo_dir/edigated.pid"))"
		return 0
	fi
	mkdir -p "$demo_dir/state" "$demo_dir/partners"
	cp partners/*.xml partners/partner.xsd "$demo_dir/partners/"
	# Overrides name their base map as ../maps/...: keep that layout.
	ln -sfn "$root/maps" "$demo_dir/maps"
	sh deploy/demo_keys.sh "$demo_dir/partners"
	user_line="# running as $(id -un)"
	if [ "$(id -u)" = 0 ]; then
		user_line="user = nobody"
		chown -R nobody "$demo_dir/state"
	fi
	cat > "$demo_dir/edigate.conf" <<CONF
# The quickstart's configuration: deploy/edigate.conf documents every key.
state_dir = state
partners_dir = partners
maps_dir = maps
$user_line
[listen.as2-plain]
address = 127.0.0.1:$as2_port
routes = /as2 /healthz
CONF
	"$build/gateway/edigated" -c "$demo_dir/edigate.conf" 2>>"$demo_dir/edigated.log" &
	echo $! > "$demo_dir/edigated.pid"
	for i in 1 2 3 4 5 6 7 8 9 10; do
		if curl -sf "http://127.0.0.1:$as2_port/healthz" >/dev/null 2>&1; then
			echo "edigated is running (pid $(cat "$demo_dir/edigated.pid")), log in $demo_dir/edigated.log"
			echo "AS2 URL: http://127.0.0.1:$as2_port/as2"
			return 0
		fi
		sleep 0.5
	done
	echo "edigated did not start; see $demo_dir/edigated.log" >&2
	tail -5 "$demo_dir/edigated.log" >&2
	return 1
}

install_packages
build_edigate
show_cli
start_daemon || true

cat <<EOF

edigate is built in build/; nothing was installed system-wide. From
$root try:

  build/gateway/edigate dump FILE...          one JSON array per segment
  build/gateway/edigate dump - < FILE         read standard input
  build/gateway/edigate validate FILE...      envelope checks: exit 0 valid, 1 invalid
  build/gateway/edigate validate --json FILE  the same, machine-readable

Sample interchanges: tests/fixtures/. To install: make -C build install
(to /usr/local; run configure with --prefix=DIR for another place).

Send the demo 850 to edigated by AS2 as the demo partner ACME (the MDN
comes back in the response; the order, its 997 and every step are in
build/demo/state/edigate.db):

  curl -sS -H 'AS2-Version: 1.2' -H 'AS2-From: ACMERETAIL' -H 'AS2-To: EDIGATEDEMO' \\
    -H "Message-ID: <\$(date +%s)@acme.example>" -H 'Disposition-Notification-To: edi@acme.example' \\
    -H 'Content-Type: application/edi-x12' --data-binary @$demo \\
    http://127.0.0.1:\${EDIGATE_DEMO_AS2_PORT:-4080}/as2

Stop it with: kill \$(cat build/demo/edigated.pid)
EOF
