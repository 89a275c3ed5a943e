#!/bin/sh
# demo_keys.sh PARTNERS_DIR - makes the DEMO certificates and keys the demo
# partner profiles name (PARTNERS_DIR/demo-keys/): one for edigate itself
# (it decrypts and signs MDNs with it) and one per demo partner (what a
# partner would sign with; the quickstart's sample sender uses them).
# Self-signed, RSA 2048, two years, "DEMO" in every name: never use them
# for real trading partners. Existing files are kept.
set -eu
dir=${1:?usage: demo_keys.sh PARTNERS_DIR}/demo-keys
mkdir -p "$dir"
for name in edigate-demo acme-retail nordic-dist; do
	if [ -f "$dir/$name.pem" ] && [ -f "$dir/$name.key" ]; then
		continue
	fi
	openssl req -x509 -newkey rsa:2048 -nodes -days 730 \
		-subj "/O=edigate DEMO/CN=$name DEMO AS2" \
		-keyout "$dir/$name.key" -out "$dir/$name.pem" >/dev/null 2>&1
	chmod 600 "$dir/$name.key"
	echo "made $dir/$name.pem and its key (DEMO only)"
done
