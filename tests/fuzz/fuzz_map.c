/*
 * fuzz_map - libFuzzer targets for the map loader and for canonical JSON
 * input to the outbound engine.
 *
 *   FUZZ_TARGET=load: the input is a map file (XML) loaded and checked
 *   against maps/map.xsd; FUZZ_TARGET=json (default): the input is a
 *   canonical document written back as EDI with the map its "type" and
 *   meta.standard name (the 850 map when they name none);
 *   FUZZ_TARGET=edi: the input is an interchange translated with the
 *   shipped maps, and every document written back; translated once more
 *   in text mode, each document's text must be byte for byte the
 *   jansson serialisation of its tree.
 *
 * Build (clang, from the top of the tree, after ./configure && make):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Itranslators \
 *     $(pkg-config --cflags jansson libxml-2.0) tests/fuzz/fuzz_map.c \
 *     translators/map.c translators/map_value.c translators/map_in.c \
 *     translators/map_out.c translators/xlate.c translators/edi_reader.c \
 *     translators/jtree.c \
 *     $(pkg-config --libs jansson libxml-2.0) -o fuzz_map
 *   EDIGATE_MAPS=maps FUZZ_TARGET=json ./fuzz_map -max_total_time=60
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "map.h"
#include "map_xlate.h"
#include "xlate.h"

static map_loader *loader;
static map *m850;
static int json_target = 1, edi_target;
static xlate_maps *maps;
static char tmp[64];

#ifndef FUZZ_MAPS_DIR
#define FUZZ_MAPS_DIR "maps"
#endif

/* The maps of the source tree unless EDIGATE_MAPS names others, so the
 * target runs from any directory (deploy/test.sh runs it in build/). */
static void
init(void)
{
	const char *dir = getenv("EDIGATE_MAPS") ? getenv("EDIGATE_MAPS") : FUZZ_MAPS_DIR;
	char path[4096];
	snprintf(path, sizeof(path), "%s/map.xsd", dir);
	loader = map_loader_new(path, NULL);
	snprintf(path, sizeof(path), "%s/x12/850.004010.xml", dir);
	m850 = loader ? map_load(loader, path, NULL) : NULL;
	const char *t = getenv("FUZZ_TARGET");
	json_target = !(t && strcmp(t, "load") == 0);
	edi_target = t && strcmp(t, "edi") == 0;
	maps = xlate_maps_new(dir, loader);
	snprintf(tmp, sizeof(tmp), "/tmp/fuzz_map.%d.xml", (int)getpid());
	if (loader == NULL || m850 == NULL)
		abort(); /* a broken set-up, not a finding */
}

static int sink(void *ctx, const map_out_segment *g);

static int
sink(void *ctx, const map_out_segment *g)
{
	static const edi_delimiters d = {
		.standard = EDI_STANDARD_X12, .element = '*', .component = '>',
		.decimal = '.', .terminator_len = 1, .terminator = "~",
	};
	char buf[70000];
	(void)ctx;
	return map_out_format(g, &d, buf, sizeof(buf)) < 0 ? -1 : 0;
}

static void
on_doc(void *ctx, const xlate_result *r)
{
	(void)ctx;
	if (r->doc == NULL)
		return;
	json_t *meta = json_object_get(r->doc, "meta");
	const char *std = json_string_value(json_object_get(meta, "standard"));
	const char *ver = json_string_value(json_object_get(meta, "version"));
	const char *msg = json_string_value(json_object_get(meta, "message"));
	char v[16];
	snprintf(v, sizeof(v), "%.6s", ver ? ver : "");
	const map *m = xlate_maps_find(maps, std && strcmp(std, "edifact") == 0
	    ? MAP_EDIFACT : MAP_X12, std && strcmp(std, "edifact") == 0 ? (ver ? ver : "") : v,
	    msg ? msg : "", NULL);
	char err[256];
	if (m)
		map_out_document(m, r->doc, sink, NULL, err, sizeof(err));
}

/* The map a canonical document would be written with: every shipped
 * message, so DESADV's CPS levels and "[N]" paths are fuzzed too. */
static const map *
map_for(json_t *doc)
{
	static const struct {
		const char *type, *x12, *edifact;
	} kinds[] = {
		{"order", "850", "ORDERS"}, {"order_response", "855", "ORDRSP"},
		{"shipment", "856", "DESADV"}, {"invoice", "810", "INVOIC"},
		{"warehouse_order", "940", NULL}, {"warehouse_shipment", "945", NULL},
	};
	const char *type = json_string_value(json_object_get(doc, "type"));
	json_t *meta = json_object_get(doc, "meta");
	const char *std = json_string_value(json_object_get(meta, "standard"));
	const char *ver = json_string_value(json_object_get(meta, "version"));
	int edifact = std && strcmp(std, "edifact") == 0;
	int v5 = ver && strncmp(ver, "005010", 6) == 0, d01b = ver && strcmp(ver, "D01B") == 0;
	for (size_t i = 0; type && i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(kinds[i].type, type) != 0)
			continue;
		const char *msg = edifact ? kinds[i].edifact : kinds[i].x12;
		const map *m = msg ? xlate_maps_find(maps, edifact ? MAP_EDIFACT : MAP_X12,
		    edifact ? (d01b ? "D01B" : "D96A") : (v5 ? "005010" : "004010"), msg, NULL) : NULL;
		if (m)
			return m;
	}
	return m850;
}

static int
on_segment(void *ctx, const edi_segment *s)
{
	return xlate_segment(ctx, s);
}

/* The texts of the tree pass, compared with the text pass in order. */
typedef struct texts {
	char **text;
	size_t count, next;
} texts;

static void
on_tree(void *ctx, const xlate_result *r)
{
	texts *t = ctx;
	on_doc(NULL, r);
	char **n = realloc(t->text, (t->count + 1) * sizeof(*n));
	if (n == NULL)
		abort();
	t->text = n;
	t->text[t->count++] = r->doc ? json_dumps(r->doc,
	    JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
}

static void
on_text(void *ctx, const xlate_result *r)
{
	texts *t = ctx;
	if (t->next >= t->count)
		abort(); /* more documents than the tree pass */
	const char *want = t->text[t->next++];
	if ((want == NULL) != (r->text == NULL))
		abort();
	if (want && (strlen(want) != r->text_len || memcmp(want, r->text, r->text_len) != 0))
		abort(); /* the fast path must write what jansson writes */
}

static void
translate(const uint8_t *data, size_t size, xlate_fn fn, void *ctx, int text)
{
	xlate *x = xlate_new(maps, NULL, NULL, fn, ctx);
	if (x == NULL)
		return;
	xlate_set_text(x, text);
	edi_reader_callbacks cb = {.segment = on_segment};
	edi_reader *r = edi_reader_new(&cb, x, NULL);
	edi_reader_feed(r, data, size);
	edi_reader_finish(r);
	edi_reader_free(r);
	xlate_free(x);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (loader == NULL)
		init();
	if (edi_target) {
		texts t = {0};
		translate(data, size, on_tree, &t, 0);
		translate(data, size, on_text, &t, 1);
		if (t.next != t.count)
			abort();
		for (size_t i = 0; i < t.count; i++)
			free(t.text[i]);
		free(t.text);
		return 0;
	}
	if (json_target) {
		json_t *doc = json_loadb((const char *)data, size, 0, NULL);
		if (doc) {
			char err[256];
			map_out_document(map_for(doc), doc, sink, NULL, err, sizeof(err));
			json_decref(doc);
		}
		return 0;
	}
	FILE *f = fopen(tmp, "wb");
	if (f == NULL)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	char *err = NULL;
	map *m = map_load(loader, tmp, &err);
	map_free(m);
	free(err);
	return 0;
}
