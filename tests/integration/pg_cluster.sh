#!/bin/sh
# pg_cluster.sh - a throwaway PostgreSQL cluster for tests.
#
#   pg_cluster.sh start DIR   initdb into DIR, start the server on a Unix
#                             socket inside DIR (no TCP at all) and print a
#                             libpq URL for its "postgres" database
#   pg_cluster.sh stop DIR    stop that server and remove DIR
#
# Exit 77 from start means "no PostgreSQL server here" (callers skip).
# initdb refuses to run as root, so when we are root the cluster belongs to
# the postgres account (runuser); the socket directory is the cluster's
# own, so the port number only names the socket file.
set -eu

find_bindir() {
	if [ -n "${PG_BINDIR:-}" ] && [ -x "$PG_BINDIR/pg_ctl" ]; then
		echo "$PG_BINDIR"
		return 0
	fi
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n -r); do
		if [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ]; then
			echo "$d"
			return 0
		fi
	done
	if command -v pg_config >/dev/null 2>&1; then
		d=$(pg_config --bindir)
		if [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ]; then
			echo "$d"
			return 0
		fi
	fi
	return 1
}

# Runs a server binary as the cluster owner.
as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

cmd=${1:-}
dir=${2:-}
[ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
port=${PG_TEST_PORT:-5432}

case $cmd in
start)
	bindir=$(find_bindir) || { echo "no PostgreSQL server binaries" >&2; exit 77; }
	if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
		echo "no postgres account to own the cluster" >&2
		exit 77
	fi
	mkdir -p "$dir/sock"
	if [ "$(id -u)" = 0 ]; then
		chown -R postgres "$dir"
	fi
	chmod 700 "$dir"
	as_owner "$bindir/initdb" -D "$dir/data" -U edigate --auth=trust -E UTF8 \
		--locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log" >&2
		exit 1
	}
	as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-p $port -k $dir/sock -c listen_addresses=''" start >/dev/null 2>&1 || {
		cat "$dir/server.log" >&2 2>/dev/null || true
		exit 1
	}
	echo "postgresql:///postgres?host=$dir/sock&port=$port&user=edigate"
	;;
stop)
	if [ -f "$dir/data/postmaster.pid" ]; then
		bindir=$(find_bindir) || true
		if [ -n "${bindir:-}" ]; then
			as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop \
				>/dev/null 2>&1 || true
		fi
		# pg_ctl may have failed: stop the postmaster by its recorded pid.
		if [ -f "$dir/data/postmaster.pid" ]; then
			pid=$(head -n 1 "$dir/data/postmaster.pid")
			[ -n "$pid" ] && kill -QUIT "$pid" 2>/dev/null || true
			sleep 1
		fi
	fi
	rm -rf "$dir"
	;;
*)
	echo "usage: $0 start|stop DIR" >&2
	exit 2
	;;
esac
