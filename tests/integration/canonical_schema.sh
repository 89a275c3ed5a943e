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
# Every file is translated first; one Python process then checks them all
# (importing jsonschema once instead of once a file).
tmp=$(mktemp -d "${TMPDIR:-/tmp}/edigate-schema.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
n=0
for f in "$@"; do
	n=$((n + 1))
	basename "$f" > "$tmp/$n.name"
	"$edigate" translate --maps "$top_srcdir/maps" "$f" > "$tmp/$n.json" \
	    2>/dev/null
done
python3 - "$top_srcdir/maps/canonical" "$tmp" "$n" <<'PY'
import json, sys, jsonschema, referencing, pathlib
d = pathlib.Path(sys.argv[1])
tmp = pathlib.Path(sys.argv[2])
res = [(json.loads(p.read_text())["$id"], referencing.Resource.from_contents(json.loads(p.read_text())))
       for p in d.glob("*.schema.json")]
reg = referencing.Registry().with_resources(res)
validators = {}
for n in range(1, int(sys.argv[3]) + 1):
    name = (tmp / f"{n}.name").read_text().strip()
    ok = True
    notes = []
    try:
        lines = (tmp / f"{n}.json").read_text().splitlines()
        docs = [json.loads(line) for line in lines if line.strip()]
        if not docs:
            notes.append("no document")
            ok = False
        for doc in docs:
            t = doc["type"]
            if t not in validators:
                schema = json.loads((d / (t + ".schema.json")).read_text())
                validators[t] = jsonschema.Draft202012Validator(schema, registry=reg)
            for e in validators[t].iter_errors(doc):
                notes.append("/".join(map(str, e.path)) + " " + e.message)
                ok = False
    except Exception as e:
        notes.append(repr(e))
        ok = False
    print(("ok" if ok else "not ok"), n, "-", name,
          "translates to a document its schema accepts")
    for note in notes:
        print("#", note)
PY
