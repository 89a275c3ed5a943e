#!/bin/sh
# Canonical output validates against its JSON Schema (draft 2020-12): every
# map fixture is translated with edigate and checked with Python's
# jsonschema, which is independent of edigate's own code.
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
edigate=$top_builddir/gateway/edigate
if ! python3 -c 'import jsonschema' 2>/dev/null; then
	echo "1..0 # SKIP python3-jsonschema is not installed"
	exit 0
fi
# The *invalid* fixtures carry guide errors; their documents need not pass.
set --
for f in "$top_srcdir"/tests/fixtures/maps/*.edi; do
	case $f in *invalid*) ;; *) set -- "$@" "$f" ;; esac
done
# And the corpus files the maps cover, when the corpus is there.
corpus=${EDIGATE_CORPUS:-$top_srcdir/../shared/corpus}
if [ -d "$corpus" ]; then
	for f in nodex12__850.edi nodex12__850_fat.edi x12types__004010_850.edi \
		nodex12__855.edi ediengine__856.Crossdock.OK.edi vscodex12__old.edi \
		staedi__simple810.edi ediengine__940.OK.edi ediengine__940.2.OK.edi \
		pydifact__order.edi pydifact__order2.edi \
		phpedifact__D96ADESADV.edi phpedifact__example_utf8.edi; do
		[ -f "$corpus/$f" ] && set -- "$@" "$corpus/$f"
	done
fi
echo "1..$#"
n=0
for f in "$@"; do
	n=$((n + 1))
	name=$(basename "$f")
	out=$("$edigate" translate --maps "$top_srcdir/maps" "$f" 2>/dev/null)
	if printf '%s\n' "$out" | python3 -c '
import json, sys, jsonschema, referencing, pathlib
d = pathlib.Path(sys.argv[1])
res = [(json.loads(p.read_text())["$id"], referencing.Resource.from_contents(json.loads(p.read_text())))
       for p in d.glob("*.schema.json")]
reg = referencing.Registry().with_resources(res)
ok = True
for line in sys.stdin:
    if not line.strip():
        continue
    doc = json.loads(line)
    schema = json.loads((d / (doc["type"] + ".schema.json")).read_text())
    v = jsonschema.Draft202012Validator(schema, registry=reg)
    for e in v.iter_errors(doc):
        print("#", "/".join(map(str, e.path)), e.message)
        ok = False
sys.exit(0 if ok else 1)
' "$top_srcdir/maps/canonical"; then
		echo "ok $n - $name translates to a document its schema accepts"
	else
		echo "not ok $n - $name translates to a document its schema accepts"
	fi
done
