/*
 * Canonical -> EDI through jparse gives the bytes the jansson path gives.
 *
 * For every canonical JSON fixture, and for the canonical text of every
 * document translated from an EDI fixture or a corpus file, each
 * document is written twice: json_loads then map_out_document (the
 * jansson path every caller holding a json_t takes), and jparse then
 * map_out_jtree. The segments, their count and any error must be the
 * same byte for byte; so must the accept/refuse decision of both
 * parsers on the fixture files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "edi_reader.h"
#include "jparse.h"
#include "map.h"
#include "map_xlate.h"
#include "test_util.h"
#include "xlate.h"

static map_loader *loader;
static xlate_maps *maps;
static jtree_arena *arena;
static size_t compared, written;

static const edi_delimiters norm = {
	.standard = EDI_STANDARD_EDIFACT, .element = '+', .component = ':',
	.repetition = 0, .release = '?', .decimal = '.', .terminator_len = 1,
	.terminator = "'",
};

static int
setup(void **state)
{
	(void)state;
	char dir[4096], xsd[4200];
	char *err = NULL;
	snprintf(dir, sizeof(dir), "%s/maps", test_srcdir());
	snprintf(xsd, sizeof(xsd), "%s/map.xsd", dir);
	loader = map_loader_new(xsd, &err);
	if (loader == NULL)
		return -1;
	maps = xlate_maps_new(dir, loader);
	arena = jtree_arena_new();
	return maps && arena ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	jtree_arena_free(arena);
	xlate_maps_free(maps);
	map_loader_free(loader);
	return 0;
}

typedef struct text {
	char *p;
	size_t len, cap;
} text;

static int
sink(void *ctx, const map_out_segment *g)
{
	text *t = ctx;
	char buf[70000];
	long n = map_out_format(g, &norm, buf, sizeof(buf));
	if (n < 0)
		return -1;
	if (t->len + (size_t)n + 1 > t->cap) {
		t->cap = (t->len + (size_t)n + 1) * 2;
		t->p = realloc(t->p, t->cap);
		assert_non_null(t->p);
	}
	memcpy(t->p + t->len, buf, (size_t)n);
	t->len += (size_t)n;
	return 0;
}

static const map *
map_of(json_t *doc)
{
	json_t *meta = json_object_get(doc, "meta");
	const char *std = json_string_value(json_object_get(meta, "standard"));
	const char *ver = json_string_value(json_object_get(meta, "version"));
	const char *msg = json_string_value(json_object_get(meta, "message"));
	if (std == NULL || ver == NULL || msg == NULL)
		return NULL;
	char v[16];
	int x12 = strcmp(std, "x12") == 0;
	snprintf(v, sizeof(v), "%.*s", x12 ? 6 : 15, ver);
	return xlate_maps_find(maps, x12 ? MAP_X12 : MAP_EDIFACT, v, msg, NULL);
}

/* One document's text through both paths. */
static void
assert_same_edi(const char *where, const char *doc_text, size_t len)
{
	json_error_t je;
	json_t *j = json_loadb(doc_text, len, 0, &je);
	assert_non_null(j);
	const map *m = map_of(j);
	if (m == NULL) {
		json_decref(j);
		return;
	}
	jparse_error pe;
	jtree_arena_reset(arena);
	jtree *t = jparse(arena, doc_text, len, 0, 0, NULL, &pe);
	if (t == NULL)
		fail_msg("%s: jparse refuses what jansson reads: %s at %zu", where,
		    pe.text, pe.offset);
	text a = {0}, b = {0};
	char ea[256] = "", eb[256] = "";
	long na = map_out_document(m, j, sink, &a, ea, sizeof(ea));
	long nb = map_out_jtree(m, t, sink, &b, eb, sizeof(eb));
	if (na != nb || strcmp(ea, eb) != 0 || a.len != b.len
	    || (a.len && memcmp(a.p, b.p, a.len) != 0))
		fail_msg("%s: jansson path %ld segments \"%s\"\n%.*s\njparse path %ld \"%s\"\n%.*s",
		    where, na, ea, (int)a.len, a.p ? a.p : "", nb, eb, (int)b.len,
		    b.p ? b.p : "");
	compared++;
	if (na > 0)
		written++;
	free(a.p);
	free(b.p);
	json_decref(j);
}

/* Canonical fixtures: a document or an array of them. */
static void
test_canonical_fixtures_write_the_same_edi(void **state)
{
	(void)state;
	char dir[4200], **paths = NULL;
	snprintf(dir, sizeof(dir), "%s/tests/fixtures", test_srcdir());
	size_t n = test_list_files(dir, ".json", &paths, 0);
	assert_true(n > 0);
	size_t before = compared;
	for (size_t i = 0; i < n; i++) {
		size_t len;
		char *data = test_read_file(paths[i], &len);
		assert_non_null(data);
		json_error_t je;
		jparse_error pe;
		json_t *j = json_loadb(data, len, 0, &je);
		jtree_arena_reset(arena);
		jtree *t = jparse(arena, data, len, 0, 0, NULL, &pe);
		if ((j == NULL) != (t == NULL))
			fail_msg("%s: jansson %s, jparse %s", paths[i],
			    j ? "accepts" : "refuses", t ? "accepts" : "refuses");
		if (j) {
			size_t k;
			json_t *d;
			if (json_is_array(j)) {
				json_array_foreach(j, k, d) {
					if (!json_is_object(d))
						continue;
					char *s = json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER);
					assert_same_edi(paths[i], s, strlen(s));
					free(s);
				}
			} else if (json_is_object(j))
				assert_same_edi(paths[i], data, len);
		}
		json_decref(j);
		free(data);
	}
	printf("# %zu canonical fixture documents written both ways\n", compared - before);
	test_free_list(paths, n);
}

typedef struct collected {
	xlate *x;
	char where[4200];
} collected;

static void
on_doc(void *ctx, const xlate_result *r)
{
	collected *c = ctx;
	if (r->error || r->doc == NULL)
		return;
	char *s = json_dumps(r->doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_non_null(s);
	assert_same_edi(c->where, s, strlen(s));
	free(s);
}

static int
on_segment(void *ctx, const edi_segment *s)
{
	return xlate_segment(((collected *)ctx)->x, s);
}

static void
translate_both_ways(const char *path)
{
	size_t len;
	char *data = test_read_file(path, &len);
	if (data == NULL)
		return;
	collected c;
	snprintf(c.where, sizeof(c.where), "%s", path);
	c.x = xlate_new(maps, NULL, NULL, on_doc, &c);
	edi_reader_callbacks cb = {.segment = on_segment};
	edi_reader *r = edi_reader_new(&cb, &c, NULL);
	edi_reader_feed(r, data, len);
	edi_reader_finish(r);
	edi_reader_free(r);
	xlate_free(c.x);
	free(data);
}

static void
test_translated_fixtures_and_corpus_write_the_same_edi(void **state)
{
	(void)state;
	char dir[4200], **paths = NULL;
	snprintf(dir, sizeof(dir), "%s/tests/fixtures", test_srcdir());
	size_t n = test_list_files(dir, ".edi", &paths, 0);
	assert_true(n > 0);
	const char *corpus = test_corpus_dir();
	if (corpus)
		n = test_list_files(corpus, "", &paths, n);
	else
		printf("# corpus not found (EDIGATE_CORPUS), fixtures only\n");
	size_t before = compared, wbefore = written;
	for (size_t i = 0; i < n; i++)
		translate_both_ways(paths[i]);
	printf("# %zu translated documents written both ways (%zu with segments)\n",
	    compared - before, written - wbefore);
	assert_true(written > wbefore);
	test_free_list(paths, n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical_fixtures_write_the_same_edi),
		cmocka_unit_test(test_translated_fixtures_and_corpus_write_the_same_edi),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
