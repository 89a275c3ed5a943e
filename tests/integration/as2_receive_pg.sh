#!/bin/bash
# AS2 receive on the PostgreSQL store: concurrent signed+encrypted
# messages (as an independent peer made of openssl and curl sends them)
# each get a processed, signed MDN; a repeat of one gets the same MDN byte
# for byte (so it was stored, with its duplicate key); the spool holds
# what the MDNs acknowledge. Group commit syncs only the spool here, as
# PostgreSQL commits are durable by themselves. Prints TAP; a throwaway
# cluster on a Unix socket and edigated on loopback, both stopped by the
# trap.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$here/../..}
top_builddir=${top_builddir:-.}
EDIGATED=${EDIGATED:-$(cd "$top_builddir" && pwd)/gateway/edigated}
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }

tmp=$(mktemp -d /tmp/edigate-as2pg-XXXXXX)
pgdir=$(mktemp -d /tmp/edigate-pg-XXXXXX)
pid=
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	"$here/pg_cluster.sh" stop "$pgdir" >/dev/null 2>&1
	[ -n "${KEEP_TMP:-}" ] && echo "# kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

for tool in curl openssl; do
	command -v $tool >/dev/null || { echo "1..0 # SKIP no $tool"; exit 0; }
done
url=$("$here/pg_cluster.sh" start "$pgdir" 2>"$tmp/pg.log")
rc=$?
if [ $rc = 77 ]; then
	echo "1..0 # SKIP $(cat "$tmp/pg.log")"
	exit 0
fi
echo "1..5"
if [ $rc != 0 ]; then
	sed 's/^/# /' "$tmp/pg.log"
	for i in 1 2 3 4 5; do not_ok "PostgreSQL cluster did not start"; done
	exit 0
fi

chmod 755 "$tmp"
mkdir -p "$tmp/partners" "$tmp/p"
for k in partner ours; do
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$k" \
		-keyout "$tmp/partners/$k.key" -out "$tmp/partners/$k.pem" >/dev/null 2>&1
done
cp "$top_srcdir/partners/partner.xsd" "$tmp/partners/"
cat > "$tmp/partners/pgpeer.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<partner id="pgpeer" name="Partner on the PostgreSQL store">
  <identity><x12 isa-qualifier="ZZ" isa-id="PGPEER" gs-id="PGPEER"/></identity>
  <messages><message direction="in" standard="x12" version="004010" type="850"/></messages>
  <acknowledgment type="none"/>
  <transport>
    <as2 id="PGPEER" require-signed="true" require-encrypted="true">
      <their-certificate file="partner.pem"/>
      <our-certificate file="ours.pem" key="ours.key"/>
    </as2>
  </transport>
</partner>
XML
chmod -R a+r "$tmp/partners"

# One signed+encrypted body, posted under several Message-IDs.
head -c 3072 /dev/urandom | base64 -w 76 > "$tmp/p/payload"
{ printf 'Content-Type: application/octet-stream\r\n\r\n'; cat "$tmp/p/payload"; } > "$tmp/p/entity"
openssl cms -sign -binary -md sha256 -in "$tmp/p/entity" -signer "$tmp/partners/partner.pem" \
	-inkey "$tmp/partners/partner.key" -outform DER -out "$tmp/p/sig.der"
{
	printf 'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="b1"\r\n\r\n'
	printf -- '--b1\r\n'; cat "$tmp/p/entity"; printf '\r\n--b1\r\n'
	printf 'Content-Type: application/pkcs7-signature\r\nContent-Transfer-Encoding: base64\r\n\r\n'
	base64 -w 76 "$tmp/p/sig.der" | sed 's/$/\r/'; printf -- '--b1--\r\n'
} > "$tmp/p/inner"
openssl cms -encrypt -binary -aes256 -in "$tmp/p/inner" -outform DER -out "$tmp/p/body" "$tmp/partners/ours.pem"

for try in 1 2 3 4 5 6 7 8; do
	port=$((20000 + RANDOM % 20000))
	cat > "$tmp/edigate.conf" <<CONF
state_dir = $tmp
partners_dir = partners
maps_dir = $(cd "$top_srcdir" && pwd)/maps
# The cluster's socket belongs to its owner; stay who we are.
allow_root = yes
workers = 4
[store]
url = $url
[listen.as2]
address = 127.0.0.1:$port
routes = /as2 /healthz /metrics
CONF
	(cd "$tmp" && exec "$EDIGATED" -c "$tmp/edigate.conf") 2>>"$tmp/log" &
	pid=$!
	for _ in $(seq 1 50); do
		curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break 2
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=
done
if [ -z "$pid" ]; then
	sed 's/^/# /' "$tmp/log" | tail -5
	for i in 1 2 3 4 5; do not_ok "edigated did not start on PostgreSQL"; done
	exit 0
fi

post() { # post N: message N, answer in $tmp/p/N.{code,body}
	curl -s -o "$tmp/p/$1.body" -w '%{http_code}' \
		-H "AS2-Version: 1.2" -H "AS2-From: PGPEER" -H "AS2-To: EDIGATE" \
		-H "Message-ID: <pg-$1-$$@peer.example>" -H "Disposition-Notification-To: mdn@peer.example" \
		-H "Disposition-Notification-Options: signed-receipt-protocol=optional, pkcs7-signature; signed-receipt-micalg=optional, sha-256" \
		-H "Content-Type: application/pkcs7-mime; smime-type=enveloped-data" -H "Expect:" \
		--data-binary "@$tmp/p/body" "http://127.0.0.1:$port/as2" > "$tmp/p/$1.code"
}
cpids=
for i in $(seq 1 12); do post "$i" & cpids="$cpids $!"; done
for c in $cpids; do wait "$c"; done
all=1
for i in $(seq 1 12); do
	[ "$(cat "$tmp/p/$i.code")" = 200 ] && tr -d '\r' < "$tmp/p/$i.body" | grep -qi '^Disposition:.*; *processed$' || all=0
done
check "12 concurrent signed+encrypted messages: each HTTP 200 with a processed MDN" test $all = 1
check "the MDNs are signed (multipart/signed)" grep -q 'application/pkcs7-signature' "$tmp/p/1.body"
cp "$tmp/p/3.body" "$tmp/p/3.first"
post 3
check "a repeat of one gets the same MDN byte for byte (stored with its duplicate key)" \
	cmp -s "$tmp/p/3.body" "$tmp/p/3.first"
check "the spool holds the payload the MDNs acknowledge" \
	test -n "$(grep -rl -F "$(head -c 60 "$tmp/p/payload")" "$tmp/spool" 2>/dev/null | head -1)"
check "group commit on PostgreSQL: the spool syncs are counted" \
	bash -c "curl -s 'http://127.0.0.1:$port/metrics' | grep -q '^edigate_as2_durable_syncs_total [1-9]'"
