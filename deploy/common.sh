# shellcheck shell=sh disable=SC2034 # the variables are for the scripts that source this
# Shared by deploy/quickstart.sh and deploy/test.sh: the Debian 12 packages
# edigate needs and how to install only those that are missing. Sourced,
# never run.

# To build edigate and its unit tests, and for the quick start (curl,
# openssl, python3 for the demo ERP and retailer) to talk to the demo daemon.
EDIGATE_BUILD_PACKAGES="build-essential autoconf automake libtool pkg-config
libxml2-dev libssl-dev libevent-dev libssh2-1-dev libpq-dev libsqlite3-dev
zlib1g-dev libjansson-dev libcmocka-dev curl openssl python3"

# Also needed by the full test run: libFuzzer, the servers the integration
# tests start on loopback, the command-line peers they talk to (python3 runs
# the AS2 receiving peer), the linter.
EDIGATE_TEST_PACKAGES="clang-14 libclang-rt-14-dev postgresql openssh-server
openssl curl shellcheck python3 openssh-client sqlite3 passwd jq
libxml2-utils"

# Prints the packages among the arguments that are not installed.
edigate_missing_packages() {
	for pkg in "$@"; do
		status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
		if [ "$status" != "install ok installed" ]; then
			printf '%s\n' "$pkg"
		fi
	done
}

# Installs the packages among the arguments that are missing. Touches apt
# only when something is missing, so a ready machine needs no network.
edigate_install_packages() {
	missing=$(edigate_missing_packages "$@")
	if [ -z "$missing" ]; then
		echo "all $# packages already installed"
		return 0
	fi
	# Word splitting is wanted: one package per word.
	# shellcheck disable=SC2086
	set -- $missing
	echo "installing $# missing packages: $*"
	if [ "$(id -u)" -ne 0 ]; then
		echo "not root: install them with apt-get install $*" >&2
		return 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q &&
	    apt-get install -y -q --no-install-recommends "$@"
}

# The ack report test reads the JSON report with jq and checks the HTML
# report with xmllint.
EDIGATE_TEST_PACKAGES="$EDIGATE_TEST_PACKAGES jq libxml2-utils"

# tests/integration/nginx_conf.sh checks deploy/nginx-edigate.conf with
# `nginx -t`, and multinode.sh sends AS2 through it to two nodes.
EDIGATE_TEST_PACKAGES="$EDIGATE_TEST_PACKAGES nginx-light"
