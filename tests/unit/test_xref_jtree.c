/*
 * Cross-references on the arena tree, and xlate_out from text.
 *
 * partner_xref_apply_jtree must change what partner_xref_apply changes:
 * SKUs under "item", units, store numbers, locations and a party's id,
 * both ways, with meta and unmapped left alone. The expected documents
 * are written by hand from the acme-retail profile (SKU1 = 065322-117,
 * each = EA, STORE-42 = 0042); the json_t walk is held to the same text.
 *
 * xlate_out_text (what `edigate
 * translate --to` does) must write the bytes xlate_out_interchange writes
 * from jansson trees, for every canonical fixture, both standards, with
 * and without a partner; and a text that does not parse gets jansson's
 * line and message.
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

#include "jparse.h"
#include "jtree.h"
#include "map.h"
#include "partner.h"
#include "test_util.h"
#include "xlate.h"
#include "xlate_out.h"

static map_loader *loader;
static xlate_maps *maps;
static partner *acme, *nordic;

static partner *
load_partner(const char *id)
{
	char path[4096], xsd[4096];
	char *err = NULL;
	snprintf(path, sizeof(path), "%s/partners/%s.xml", test_srcdir(), id);
	snprintf(xsd, sizeof(xsd), "%s/partners/partner.xsd", test_srcdir());
	partner *p = partner_load(xsd, loader, path, &err);
	if (p == NULL)
		fprintf(stderr, "%s", err ? err : "partner_load failed\n");
	free(err);
	return p;
}

static int
setup(void **state)
{
	(void)state;
	char dir[4096], xsd[4200];
	char *err = NULL;
	snprintf(dir, sizeof(dir), "%s/maps", test_srcdir());
	snprintf(xsd, sizeof(xsd), "%s/map.xsd", dir);
	loader = map_loader_new(xsd, &err);
	free(err);
	if (loader == NULL)
		return -1;
	maps = xlate_maps_new(dir, loader);
	acme = load_partner("acme-retail");
	nordic = load_partner("nordic-dist");
	return maps && acme && nordic ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	partner_free(acme);
	partner_free(nordic);
	xlate_maps_free(maps);
	map_loader_free(loader);
	return 0;
}

/* Applies the table both ways (jtree and json_t) to text; checks that
 * both give want and change n values. */
static void
xref_both(const partner *p, const char *text, int inbound, const char *want,
    size_t n)
{
	jtree_arena *a = jtree_arena_new();
	jparse_error pe;
	jtree *t = jparse(a, text, strlen(text), 0, 0, NULL, &pe);
	assert_non_null(t);
	assert_int_equal(partner_xref_apply_jtree(p, a, t, inbound), n);
	char *buf = NULL;
	size_t len = 0, cap = 0;
	assert_int_equal(jtree_write(t, &buf, &len, &cap), 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(buf, want, len);
	free(buf);
	jtree_arena_free(a);

	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	assert_non_null(j);
	assert_int_equal(partner_xref_apply(p, j, inbound), n);
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_string_equal(s, want);
	free(s);
	json_decref(j);
}

static void
test_xref_outbound_turns_our_sku_unit_and_locations_into_the_partners(void **state)
{
	(void)state;
	xref_both(acme,
	    "{\"type\":\"order\",\"parties\":{\"ship_to\":{\"name\":\"S\",\"id\":\"STORE-42\"},"
	    "\"bill_to\":{\"id\":\"HQ\"}},\"store_number\":\"STORE-42\","
	    "\"lines\":[{\"item\":{\"vendor_part\":\"SKU1\",\"upc\":\"012345678905\"},"
	    "\"unit\":\"each\",\"size_unit\":\"each\",\"quantity\":\"12\"},"
	    "{\"item\":{\"vendor_part\":\"SKU2\"},\"unit\":\"case\",\"location\":\"STORE-42\"}]}",
	    0,
	    "{\"type\":\"order\",\"parties\":{\"ship_to\":{\"name\":\"S\",\"id\":\"0042\"},"
	    "\"bill_to\":{\"id\":\"HQ\"}},\"store_number\":\"0042\","
	    "\"lines\":[{\"item\":{\"vendor_part\":\"065322-117\",\"upc\":\"012345678905\"},"
	    "\"unit\":\"EA\",\"size_unit\":\"EA\",\"quantity\":\"12\"},"
	    "{\"item\":{\"vendor_part\":\"SKU2\"},\"unit\":\"case\",\"location\":\"0042\"}]}",
	    6);
}

static void
test_xref_inbound_turns_the_partners_codes_into_ours(void **state)
{
	(void)state;
	xref_both(acme,
	    "{\"parties\":{\"ship_to\":{\"id\":\"0042\"}},"
	    "\"lines\":[{\"item\":{\"buyer_part\":\"065322-117\"},\"unit_ordered\":\"EA\","
	    "\"weight_unit\":\"LB\"}]}",
	    1,
	    "{\"parties\":{\"ship_to\":{\"id\":\"STORE-42\"}},"
	    "\"lines\":[{\"item\":{\"buyer_part\":\"SKU1\"},\"unit_ordered\":\"each\","
	    "\"weight_unit\":\"LB\"}]}",
	    3);
}

static void
test_xref_leaves_meta_unmapped_and_non_strings_alone(void **state)
{
	(void)state;
	const char *doc =
	    "{\"meta\":{\"unit\":\"each\",\"location\":\"STORE-42\"},"
	    "\"unmapped\":[{\"unit\":\"each\"}],\"unit\":12,\"location\":null,"
	    "\"item\":\"SKU1\",\"id\":\"STORE-42\"}";
	xref_both(acme, doc, 0, doc, 0);
}

static void
test_xref_only_a_partys_id_is_a_location(void **state)
{
	(void)state;
	/* "id" outside parties.<role> is no location; inside, its nested
	 * objects are walked as usual. */
	xref_both(acme,
	    "{\"id\":\"STORE-42\",\"parties\":{\"ship_to\":{\"id\":\"STORE-42\","
	    "\"address\":{\"id\":\"STORE-42\",\"location\":\"STORE-42\"}}}}",
	    0,
	    "{\"id\":\"STORE-42\",\"parties\":{\"ship_to\":{\"id\":\"0042\","
	    "\"address\":{\"id\":\"STORE-42\",\"location\":\"0042\"}}}}",
	    2);
}

static void
test_xref_without_a_table_changes_nothing(void **state)
{
	(void)state;
	jtree_arena *a = jtree_arena_new();
	jparse_error pe;
	const char *text = "{\"unit\":\"each\"}";
	jtree *t = jparse(a, text, strlen(text), 0, 0, NULL, &pe);
	assert_int_equal(partner_xref_apply_jtree(NULL, a, t, 0), 0);
	jtree_arena_free(a);
}

/* ------------------------------------------------- xlate_out from text */

/* What the command skips between documents (strchr would take a NUL). */
static int
is_space(char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static int
control(void *ctx, xlate_control_kind kind, unsigned long *value)
{
	(void)kind;
	*value = ++*(unsigned long *)ctx;
	return 0;
}

/* Writes text both ways; both must give the same bytes or the same
 * error. Returns 1 when both wrote an interchange. */
static int
out_both(const char *text, size_t len, map_standard std, const partner *p)
{
	unsigned long c1 = 0, c2 = 0;
	xlate_out_options opt = {.standard = std, .partner = p,
	    .sender = p ? "EDIGATE" : NULL, .date = "20261124", .time = "0800"};
	/* jansson: the documents as read_documents read them before. */
	json_t *docs = json_array();
	size_t off = 0;
	while (off < len) {
		while (off < len && is_space(text[off]))
			off++;
		if (off >= len)
			break;
		json_error_t e;
		json_t *j = json_loadb(text + off, len - off, JSON_DISABLE_EOF_CHECK, &e);
		assert_non_null(j);
		if (json_is_array(j))
			json_array_extend(docs, j);
		else
			json_array_append(docs, j);
		json_decref(j);
		off += (size_t)e.position;
	}
	edi_writer_memory m1 = {0}, m2 = {0};
	char e1[512] = "", e2[512] = "";
	opt.control = p ? control : NULL;
	opt.control_ctx = &c1;
	int r1 = xlate_out_interchange(maps, docs, &opt, edi_writer_memory_sink, &m1, e1, sizeof(e1));
	json_decref(docs);

	json_error_t je;
	opt.control_ctx = &c2;
	int r2 = xlate_out_text(maps, text, len, &opt, edi_writer_memory_sink, &m2, e2,
	    sizeof(e2), &je);

	assert_int_equal(r1, r2);
	assert_string_equal(e1, e2);
	if (r1 == 0) {
		assert_int_equal(m1.len, m2.len);
		assert_memory_equal(m1.data, m2.data, m1.len);
	}
	edi_writer_memory_free(&m1);
	edi_writer_memory_free(&m2);
	return r1 == 0;
}

static void
test_xlate_out_from_text_writes_what_the_jansson_path_writes(void **state)
{
	(void)state;
	static const char *files[] = {
		"850_full.json", "856_pickpack.json", "orders_d96a.json",
		"invoice_pair.json", "order_response_pair.json", "shipment_pair.json",
	};
	const partner *ps[] = {NULL, acme, nordic};
	size_t wrote = 0;
	char *all = NULL;
	size_t all_len = 0;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[4096];
		size_t len;
		snprintf(path, sizeof(path), "%s/tests/fixtures/maps/%s", test_srcdir(), files[i]);
		char *text = test_read_file(path, &len);
		assert_non_null(text);
		for (size_t k = 0; k < 3; k++) {
			wrote += out_both(text, len, MAP_X12, ps[k]);
			wrote += out_both(text, len, MAP_EDIFACT, ps[k]);
		}
		all = realloc(all, all_len + len + 1);
		memcpy(all + all_len, text, len);
		all_len += len;
		all[all_len++] = '\n';
		free(text);
	}
	/* All fixtures as one file: several documents, several groups. */
	for (size_t k = 0; k < 3; k++) {
		wrote += out_both(all, all_len, MAP_X12, ps[k]);
		wrote += out_both(all, all_len, MAP_EDIFACT, ps[k]);
	}
	/* An array of documents counts its items one by one. */
	const char *arr = "[{\"type\":\"order\"},{\"type\":\"invoice\"}] {\"type\":\"shipment\"}";
	out_both(arr, strlen(arr), MAP_X12, acme);
	free(all);
	fprintf(stderr, "# %zu interchanges compared\n", wrote);
	assert_true(wrote >= 10);
}

static void
test_xlate_out_text_reports_janssons_line_and_message(void **state)
{
	(void)state;
	static const char *bad[] = {
		"{\"type\":\"order\"}\n{\"type\":}\n",
		"{\"type\":\"order\"}\n\n  42\n",
		"{\"a\":\"\\u0000\"}",
		"{\"a\":\"\xff\"}",
		"[1,2",
		"{\"type\":\"order\"} x",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_error_t e1, e2;
		char err[256];
		edi_writer_memory m = {0};
		xlate_out_options opt = {.standard = MAP_X12, .partner = acme, .sender = "EDIGATE"};
		assert_int_equal(xlate_out_text(maps, bad[i], strlen(bad[i]), &opt,
		    edi_writer_memory_sink, &m, err, sizeof(err), &e1), -2);
		edi_writer_memory_free(&m);
		/* The failing value is the last one in each text. */
		const char *last = bad[i];
		size_t off = 0, len = strlen(bad[i]);
		json_t *j = NULL;
		for (;;) {
			while (off < len && is_space(last[off]))
				off++;
			j = json_loadb(last + off, len - off, JSON_DISABLE_EOF_CHECK, &e2);
			if (j == NULL)
				break;
			off += (size_t)e2.position;
			json_decref(j);
		}
		assert_int_equal(e1.line, e2.line);
		assert_string_equal(e1.text, e2.text);
		assert_int_equal(xlate_out_text_parses(bad[i], strlen(bad[i]), &e2), -1);
		assert_int_equal(e1.line, e2.line);
		assert_string_equal(e1.text, e2.text);
	}
	/* Hand-checked: jansson counts lines from the failing value's start. */
	json_error_t e;
	assert_int_equal(xlate_out_text_parses(bad[0], strlen(bad[0]), &e), -1);
	assert_int_equal(e.line, 1);
}

static void
test_xlate_out_text_reports_a_bad_text_after_a_document_that_fails(void **state)
{
	(void)state;
	/* An invoice without an identity fails first; the text still
	 * fails to parse further on, and that is what is reported. */
	const char *text = "{\"type\":\"nothing\"}\n{\"type\":";
	json_error_t e;
	char err[256] = "";
	edi_writer_memory m = {0};
	xlate_out_options opt = {.standard = MAP_X12, .partner = acme, .sender = "EDIGATE"};
	assert_int_equal(xlate_out_text(maps, text, strlen(text), &opt,
	    edi_writer_memory_sink, &m, err, sizeof(err), &e), -2);
	edi_writer_memory_free(&m);
	assert_int_equal(xlate_out_text(maps, text, 19, &opt,
	    edi_writer_memory_sink, &m, err, sizeof(err), &e), -1);
	assert_string_equal(err, "document 1: a nothing document has no x12 message");
	edi_writer_memory_free(&m);
	assert_int_equal(xlate_out_text(maps, " \n", 2, &opt,
	    edi_writer_memory_sink, &m, err, sizeof(err), &e), -1);
	assert_string_equal(err, "no documents");
	edi_writer_memory_free(&m);
}

/* The documents the command read before, with jansson alone; -1 when
 * it refused the text. */
static long
jansson_count(const char *text, size_t len)
{
	size_t off = 0;
	long n = 0;
	while (off < len) {
		while (off < len && is_space(text[off]))
			off++;
		if (off >= len)
			break;
		json_error_t e;
		json_t *j = json_loadb(text + off, len - off, JSON_DISABLE_EOF_CHECK, &e);
		if (j == NULL)
			return -1;
		n += json_is_array(j) ? (long)json_array_size(j) : 1;
		json_decref(j);
		off += (size_t)e.position;
	}
	return n;
}

static void
test_xlate_out_text_reads_nul_bytes_as_jansson_does(void **state)
{
	(void)state;
	/* jparse refuses every NUL byte; where jansson reads one as the end
	 * of the text, the command must still read the file as before. */
	static const struct { const char *t; size_t n; } texts[] = {
		{"[{\"type\":\"order\"}\0]", 18},
		{"{\"type\":\"order\"}\0", 17},
		{"[1\0]", 4},
		{"{\"a\":1}\n\0{}", 10},
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		json_error_t e;
		long want = jansson_count(texts[i].t, texts[i].n);
		assert_int_equal(xlate_out_text_parses(texts[i].t, texts[i].n, &e),
		    want < 0 ? -1 : 0);
	}
}

struct mode_out {
	char *text;   /* text mode */
	char *dumped; /* tree mode, dumped as text mode writes */
};

static void
keep_mode_out(void *ctx, const xlate_result *r)
{
	struct mode_out *o = ctx;
	assert_null(r->error);
	if (r->text) {
		/* The text is not NUL-terminated: copied by its length. */
		o->text = malloc(r->text_len + 1);
		assert_non_null(o->text);
		memcpy(o->text, r->text, r->text_len);
		o->text[r->text_len] = '\0';
	} else if (r->doc)
		o->dumped = json_dumps(r->doc, JSON_COMPACT |
		    JSON_PRESERVE_ORDER);
}

static int
feed_xlate(void *ctx, const edi_segment *s)
{
	return xlate_segment(ctx, s);
}

static void
translate_as_acme(int text, struct mode_out *o)
{
	static const char order[] =
	    "ISA*00*          *00*          *ZZ*ACMERETAIL     *ZZ*EDIGATEDEMO    "
	    "*261123*1000*U*00401*000000101*0*T*>~\n"
	    "GS*PO*ACMERETAIL*EDIGATEDEMO*20261123*1000*101*X*004010~\n"
	    "ST*850*0001~\nBEG*00*SA*PO12345**20261123~\n"
	    "N1*ST*STORE 42*92*0042~\n"
	    "PO1*1*12*EA*3.50*PE*VN*065322-117~\n"
	    "CTT*1~\nSE*6*0001~\nGE*1*101~\nIEA*1*000000101~\n";
	xlate_maps_use_partner(maps, acme);
	xlate *x = xlate_new(maps, "acme-retail", "2026-11-23T10:00:00Z",
	    keep_mode_out, o);
	assert_non_null(x);
	xlate_set_text(x, text);
	edi_reader_callbacks cb = {.segment = feed_xlate};
	edi_reader *r = edi_reader_new(&cb, x, NULL);
	edi_reader_feed(r, order, strlen(order));
	edi_reader_finish(r);
	edi_reader_free(r);
	xlate_free(x);
	xlate_maps_use_partner(maps, NULL);
}

/* EDI -> canonical with acme-retail's tables: its SKU, unit and store
 * become ours, in text mode exactly as in tree mode. */
static void
test_translate_applies_xref_alike_in_text_and_tree_mode(void **state)
{
	(void)state;
	struct mode_out text = {0}, tree = {0};
	translate_as_acme(1, &text);
	translate_as_acme(0, &tree);
	assert_non_null(text.text);
	assert_non_null(tree.dumped);
	assert_string_equal(text.text, tree.dumped);
	assert_non_null(strstr(text.text, "\"SKU1\""));
	assert_null(strstr(text.text, "065322-117"));
	assert_non_null(strstr(text.text, "\"STORE-42\""));
	assert_non_null(strstr(text.text, "\"unit\":\"each\""));
	free(text.text);
	free(tree.dumped);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xref_outbound_turns_our_sku_unit_and_locations_into_the_partners),
		cmocka_unit_test(test_translate_applies_xref_alike_in_text_and_tree_mode),
		cmocka_unit_test(test_xref_inbound_turns_the_partners_codes_into_ours),
		cmocka_unit_test(test_xref_leaves_meta_unmapped_and_non_strings_alone),
		cmocka_unit_test(test_xref_only_a_partys_id_is_a_location),
		cmocka_unit_test(test_xref_without_a_table_changes_nothing),
		cmocka_unit_test(test_xlate_out_from_text_writes_what_the_jansson_path_writes),
		cmocka_unit_test(test_xlate_out_text_reports_janssons_line_and_message),
		cmocka_unit_test(test_xlate_out_text_reads_nul_bytes_as_jansson_does),
		cmocka_unit_test(test_xlate_out_text_reports_a_bad_text_after_a_document_that_fails),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
