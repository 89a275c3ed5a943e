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

install_packages
build_edigate
show_cli

cat <<EOF

edigate is built in build/; nothing was installed system-wide. From
$root try:

  build/gateway/edigate dump FILE...          one JSON array per segment
  build/gateway/edigate dump - < FILE         read standard input
  build/gateway/edigate validate FILE...      envelope checks: exit 0 valid, 1 invalid
  build/gateway/edigate validate --json FILE  the same, machine-readable

Sample interchanges: tests/fixtures/. To install: make -C build install
(to /usr/local; run configure with --prefix=DIR for another place).
EOF
