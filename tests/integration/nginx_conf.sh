#!/bin/bash
# deploy/nginx-edigate.conf is a valid nginx configuration: `nginx -t`
# accepts it inside a minimal main file, with throwaway certificates and
# log paths in a temporary directory. Nothing is started. Skips without
# nginx (Debian: nginx-light). Prints TAP.
set -u
top_srcdir=${top_srcdir:-.}
src=$(cd "$top_srcdir" && pwd)
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
if [ ! -x "$NGINX" ] || ! command -v openssl >/dev/null; then
	echo "1..0 # SKIP no nginx or openssl"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
echo "1..1"
mkdir -p "$tmp/tls" "$tmp/temp"
for name in as2.example.com edigate-api; do
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$name" \
		-keyout "$tmp/tls/$name.key" -out "$tmp/tls/$name.pem" >/dev/null 2>&1
done
# Only the certificate and log paths change: they must exist here.
sed -e "s|/etc/edigate/tls/|$tmp/tls/|" -e "s|/var/log/nginx/|$tmp/|" \
	"$src/deploy/nginx-edigate.conf" > "$tmp/edigate.conf"
cat > "$tmp/nginx.conf" <<CONF
pid $tmp/nginx.pid;
error_log $tmp/error.log;
events {}
http {
    client_body_temp_path $tmp/temp/body;
    proxy_temp_path $tmp/temp/proxy;
    fastcgi_temp_path $tmp/temp/fastcgi;
    uwsgi_temp_path $tmp/temp/uwsgi;
    scgi_temp_path $tmp/temp/scgi;
    include $tmp/edigate.conf;
}
CONF
if "$NGINX" -t -q -p "$tmp/" -e "$tmp/error.log" -c "$tmp/nginx.conf" >"$tmp/out" 2>&1; then
	echo "ok 1 - nginx -t accepts deploy/nginx-edigate.conf"
else
	echo "not ok 1 - nginx -t accepts deploy/nginx-edigate.conf"
	sed 's/^/# /' "$tmp/out"
fi
