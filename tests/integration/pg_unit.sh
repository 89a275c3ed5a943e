#!/bin/sh
# pg_unit.sh PROGRAM - runs tests/unit/PROGRAM (a store test `make check`
# runs on SQLite) against a throwaway PostgreSQL cluster, which it starts
# and always removes, whatever happens. The *_pg.sh tests call it.
set -u
here=$(cd "$(dirname "$0")" && pwd)
builddir=${top_builddir:-.}
dir=$(mktemp -d /tmp/edigate-pg-XXXXXX)
log=$(mktemp /tmp/edigate-pg-log-XXXXXX)
cleanup() {
	"$here/pg_cluster.sh" stop "$dir"
	rm -f "$log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

url=$("$here/pg_cluster.sh" start "$dir" 2>"$log")
rc=$?
if [ $rc = 77 ]; then
	echo "1..0 # SKIP $(cat "$log")"
	exit 0
fi
if [ $rc != 0 ]; then
	echo "1..1"
	echo "not ok 1 - start a throwaway PostgreSQL cluster"
	sed 's/^/# /' "$log"
	exit 1
fi

CMOCKA_MESSAGE_OUTPUT=TAP EDIGATE_TEST_STORE=$url "$builddir/tests/unit/$1"
