/*
 * test_map - the map loader, the translation engine in both directions
 * and the guide, against fixtures whose expected canonical JSON was
 * written by hand from the X12 and EDIFACT segment definitions.
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
#include "map.h"
#include "map_value.h"
#include "map_xlate.h"
#include "test_util.h"
#include "xlate.h"

static map_loader *loader;
static xlate_maps *maps;
static char maps_dir[4096];

static int
setup(void **state)
{
	char xsd[4200];
	char *err = NULL;
	snprintf(maps_dir, sizeof(maps_dir), "%s/maps", test_srcdir());
	snprintf(xsd, sizeof(xsd), "%s/map.xsd", maps_dir);
	loader = map_loader_new(xsd, &err);
	if (loader == NULL) {
		fprintf(stderr, "%s", err ? err : "no loader\n");
		return -1;
	}
	maps = xlate_maps_new(maps_dir, loader);
	return 0;
}

static int
teardown(void **state)
{
	xlate_maps_free(maps);
	map_loader_free(loader);
	return 0;
}

static char *
fixture(const char *name)
{
	static char path[4200];
	snprintf(path, sizeof(path), "%s/tests/fixtures/maps/%s", test_srcdir(), name);
	return path;
}

/* ---------------------------------------------------------- the loader */

/* The errors of loading a fixture map, with the folder part removed. */
static char *
load_errors(const char *name)
{
	char *err = NULL;
	map *m = map_load(loader, fixture(name), &err);
	assert_null(m);
	assert_non_null(err);
	const char *dir = fixture("");
	size_t dl = strlen(dir);
	char *out = calloc(1, strlen(err) + 1);
	const char *s = err;
	char *o = out;
	while (*s) {
		if (strncmp(s, dir, dl) == 0)
			s += dl;
		*o++ = *s++;
	}
	free(err);
	return out;
}

static void
test_all_shipped_maps_load(void **state)
{
	char **paths = NULL;
	size_t n = test_list_files(maps_dir, ".xml", &paths, 0);
	assert_true(n >= 2);
	for (size_t i = 0; i < n; i++) {
		char *err = NULL;
		map *m = map_load(loader, paths[i], &err);
		if (m == NULL)
			fail_msg("%s", err);
		map_free(m);
	}
	test_free_list(paths, n);
}

static void
test_undefined_codelist_is_reported_with_file_and_line(void **state)
{
	char *e = load_errors("bad_codelist.xml");
	assert_string_equal(e,
	    "bad_codelist.xml:7: code list \"units\" is not defined in this map\n");
	free(e);
}

static void
test_schema_violation_is_reported_with_file_and_line(void **state)
{
	char *e = load_errors("bad_schema.xml");
	/* <element> at line 5 lacks the required type attribute. */
	assert_non_null(strstr(e, "bad_schema.xml:5: "));
	assert_non_null(strstr(e, "'type' is required"));
	free(e);
}

static void
test_case_without_select_is_rejected(void **state)
{
	char *e = load_errors("bad_case.xml");
	assert_string_equal(e,
	    "bad_case.xml:6: <case> in DTM needs a select attribute naming the qualifier element\n");
	free(e);
}

static void
test_malformed_xml_gives_the_line(void **state)
{
	char *e = load_errors("bad_xml.xml");
	assert_true(strncmp(e, "bad_xml.xml:6: not well-formed XML", 34) == 0);
	free(e);
}

static void
test_override_of_missing_segment_is_reported(void **state)
{
	char *e = load_errors("bad_override.xml");
	assert_string_equal(e,
	    "bad_override.xml:4: the base map has no segment or loop \"ZZZ\"\n");
	free(e);
}

/* ------------------------------------------------------------- values */

static void
test_values_convert_both_ways(void **state)
{
	map_value n2 = {.type = MAP_TYPE_NUM, .decimals = 2, .max = 15};
	map_value date = {.type = MAP_TYPE_DT, .convert = MAP_CONVERT_DATE, .min = 8, .max = 8};
	map_value date6 = {.type = MAP_TYPE_DT, .convert = MAP_CONVERT_DATE, .min = 6, .max = 6};
	char out[64];
	long n;
	n = map_value_to_canonical(&n2, "1234", 4, out, sizeof(out), '.');
	assert_int_equal(n, 5);
	assert_memory_equal(out, "12.34", 5);
	n = map_value_to_canonical(&n2, "5", 1, out, sizeof(out), '.');
	assert_memory_equal(out, "0.05", (size_t)n);
	n = map_value_to_edi(&n2, "12.3", 4, out, sizeof(out), '.');
	assert_int_equal(n, 4);
	assert_memory_equal(out, "1230", 4);
	n = map_value_to_canonical(&date, "20101214", 8, out, sizeof(out), '.');
	assert_int_equal(n, 10);
	assert_memory_equal(out, "2010-12-14", 10);
	n = map_value_to_canonical(&date6, "971219", 6, out, sizeof(out), '.');
	assert_memory_equal(out, "1997-12-19", 10);
	n = map_value_to_edi(&date6, "1997-12-19", 10, out, sizeof(out), '.');
	assert_int_equal(n, 6);
	assert_memory_equal(out, "971219", 6);
	assert_int_equal(map_value_to_canonical(&date, "20100230", 8, out, sizeof(out), '.'), -1);
}

static void
test_value_checks_follow_the_types(void **state)
{
	map_value r = {.type = MAP_TYPE_R, .min = 1, .max = 4};
	map_value n0 = {.type = MAP_TYPE_NUM, .min = 1, .max = 3};
	map_value dt = {.type = MAP_TYPE_DT, .min = 8, .max = 8};
	map_value tm = {.type = MAP_TYPE_TM, .min = 4, .max = 8};
	/* R: sign and decimal point do not count toward the length. */
	assert_int_equal(map_value_check(&r, "-12.34", 6, '.'), 0);
	assert_int_equal(map_value_check(&r, "12345", 5, '.'), MAP_ISSUE_TOO_LONG);
	assert_int_equal(map_value_check(&r, "1.2.3", 5, '.'), MAP_ISSUE_BAD_CHARACTER);
	assert_int_equal(map_value_check(&n0, "12A", 3, '.'), MAP_ISSUE_BAD_CHARACTER);
	assert_int_equal(map_value_check(&dt, "20101332", 8, '.'), MAP_ISSUE_BAD_DATE);
	assert_int_equal(map_value_check(&dt, "20240229", 8, '.'), 0);
	assert_int_equal(map_value_check(&dt, "20230229", 8, '.'), MAP_ISSUE_BAD_DATE);
	assert_int_equal(map_value_check(&tm, "2460", 4, '.'), MAP_ISSUE_BAD_TIME);
}

/* ---------------------------------------------------- translation */

typedef struct collected {
	json_t *docs;      /* array */
	json_t *issues;    /* array of "position TAG element kind" strings */
	size_t errors;
	xlate *x;
	/* normalised body segments of the input, one array per message */
	json_t *bodies;
	json_t *current;
} collected;

static const edi_delimiters norm = {
	.standard = EDI_STANDARD_EDIFACT, .element = '+', .component = ':',
	.repetition = 0, .release = '?', .decimal = '.', .terminator_len = 1,
	.terminator = "'",
};

/* A segment as text with fixed delimiters, so input and output compare
 * whatever delimiters either side used. */
static json_t *
normalise_input(const edi_segment *s)
{
	map_out_segment *g = calloc(1, sizeof(*g));
	static char store[65536];
	size_t used = 0;
	const edi_delimiters *d = s->delimiters;
	memcpy(g->tag, s->elements[0].ptr, s->elements[0].len < 3 ? s->elements[0].len : 3);
	for (size_t e = 1; e < s->element_count && e <= MAP_OUT_MAX_ELEMENTS; e++) {
		edi_splitter it;
		edi_slice part;
		unsigned c = 0;
		edi_split_init(&it, s->elements[e], d->component, d->release);
		while (edi_split_next(&it, &part) && c < MAP_OUT_MAX_COMPONENTS) {
			size_t n = edi_unescape(part, d->release, store + used, sizeof(store) - used);
			g->components[e][c++] = (map_field){store + used, n};
			used += n;
		}
		g->component_count[e] = c;
		g->element_count = (unsigned)e;
	}
	/* Trailing empties are not data. */
	for (unsigned e = 1; e <= g->element_count; e++)
		while (g->component_count[e] > 0
		    && g->components[e][g->component_count[e] - 1].len == 0)
			g->component_count[e]--;
	while (g->element_count > 0 && g->component_count[g->element_count] == 0)
		g->element_count--;
	char buf[70000];
	long n = map_out_format(g, &norm, buf, sizeof(buf));
	free(g);
	return json_stringn(buf, n > 0 ? (size_t)n : 0);
}

static void
on_doc(void *ctx, const xlate_result *r)
{
	collected *c = ctx;
	if (r->error) {
		c->errors++;
		return;
	}
	json_array_append(c->docs, r->doc);
	for (size_t i = 0; i < r->issue_count; i++) {
		char line[256];
		const map_issue *is = &r->issues[i];
		snprintf(line, sizeof(line), "%u %s %u.%u %s", is->position, is->tag,
		    is->element, is->component, map_issue_kind_name(is->kind));
		json_array_append_new(c->issues, json_string(line));
	}
}

static int
on_segment(void *ctx, const edi_segment *s)
{
	collected *c = ctx;
	edi_slice t = s->elements[0];
	if (edi_slice_eq(t, "ST") || edi_slice_eq(t, "UNH")) {
		c->current = json_array();
		json_array_append_new(c->bodies, c->current);
	} else if (edi_slice_eq(t, "SE") || edi_slice_eq(t, "UNT")) {
		c->current = NULL;
	} else if (c->current) {
		json_array_append_new(c->current, normalise_input(s));
	}
	return xlate_segment(c->x, s);
}

static collected
translate_file(const char *path)
{
	collected c = {.docs = json_array(), .issues = json_array(), .bodies = json_array()};
	size_t len;
	char *data = test_read_file(path, &len);
	assert_non_null(data);
	c.x = xlate_new(maps, NULL, NULL, on_doc, &c);
	edi_reader_callbacks cb = {.segment = on_segment};
	edi_reader *r = edi_reader_new(&cb, &c, NULL);
	edi_reader_feed(r, data, len);
	edi_reader_finish(r);
	edi_reader_free(r);
	xlate_free(c.x);
	free(data);
	return c;
}

static void
collected_free(collected *c)
{
	json_decref(c->docs);
	json_decref(c->issues);
	json_decref(c->bodies);
}

static int
sink(void *ctx, const map_out_segment *g)
{
	char buf[70000];
	long n = map_out_format(g, &norm, buf, sizeof(buf));
	if (n < 0)
		return -1;
	json_array_append_new(ctx, json_stringn(buf, (size_t)n));
	return 0;
}

static const map *
map_of(json_t *doc)
{
	json_t *meta = json_object_get(doc, "meta");
	const char *std = json_string_value(json_object_get(meta, "standard"));
	const char *ver = json_string_value(json_object_get(meta, "version"));
	const char *msg = json_string_value(json_object_get(meta, "message"));
	char v[16];
	int x12 = strcmp(std, "x12") == 0;
	snprintf(v, sizeof(v), "%.*s", x12 ? 6 : 15, ver);
	return xlate_maps_find(maps, x12 ? MAP_X12 : MAP_EDIFACT, v, msg, NULL);
}

/* EDI -> canonical -> EDI gives the same body segments. */
static void
assert_round_trip(const char *path)
{
	collected c = translate_file(path);
	assert_int_equal(c.errors, 0);
	assert_int_equal(json_array_size(c.docs), json_array_size(c.bodies));
	for (size_t i = 0; i < json_array_size(c.docs); i++) {
		json_t *doc = json_array_get(c.docs, i);
		/* Through text, as an ERP would hand it back. */
		char *text = json_dumps(doc, JSON_COMPACT);
		json_t *again = json_loads(text, 0, NULL);
		free(text);
		json_t *out = json_array();
		char err[256];
		long n = map_out_document(map_of(again), again, sink, out, err, sizeof(err));
		if (n < 0)
			fail_msg("%s: %s", path, err);
		json_t *in = json_array_get(c.bodies, i);
		for (size_t k = 0; k < json_array_size(in) || k < json_array_size(out); k++) {
			json_t *a = json_array_get(in, k), *b = json_array_get(out, k);
			if (!a || !b || !json_equal(a, b)) {
				char *all_in = json_dumps(in, 0), *all_out = json_dumps(out, 0);
				fail_msg("%s message %zu segment %zu: in %s, out %s\nin:  %s\nout: %s",
				    path, i + 1, k + 2, a ? json_string_value(a) : "(none)",
				    b ? json_string_value(b) : "(none)", all_in, all_out);
			}
		}
		json_decref(out);
		json_decref(again);
	}
	collected_free(&c);
}

static json_t *
load_json(const char *name)
{
	json_error_t e;
	json_t *j = json_load_file(fixture(name), 0, &e);
	if (j == NULL)
		fail_msg("%s:%d: %s", name, e.line, e.text);
	return j;
}

/* Compares a translation with its hand-written expectation. */
static void
assert_translates_to(const char *edi, const char *expected)
{
	collected c = translate_file(fixture(edi));
	json_t *want = load_json(expected);
	assert_int_equal(c.errors, 0);
	if (!json_equal(c.docs, want)) {
		char *got = json_dumps(c.docs, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
		fail_msg("%s: translation differs from %s:\n%s", edi, expected, got);
	}
	if (json_array_size(c.issues)) {
		char *got = json_dumps(c.issues, 0);
		fail_msg("%s: unexpected guide issues %s", edi, got);
	}
	json_decref(want);
	collected_free(&c);
}

static void
test_850_translates_to_the_expected_order(void **state)
{
	assert_translates_to("850_full.edi", "850_full.json");
}

static void
test_orders_translates_to_the_same_order_model(void **state)
{
	assert_translates_to("orders_d96a.edi", "orders_d96a.json");
}

static void
test_856_builds_the_shipment_order_pack_item_tree(void **state)
{
	assert_translates_to("856_pickpack.edi", "856_pickpack.json");
}

/* The business content of a translation: meta (envelope, control
 * numbers) and unmapped (positions of what the map leaves raw) differ
 * between an X12 and an EDIFACT rendering of the same document. */
static json_t *
business(const char *edi)
{
	collected c = translate_file(fixture(edi));
	assert_int_equal(c.errors, 0);
	assert_int_equal(json_array_size(c.docs), 1);
	if (json_array_size(c.issues)) {
		char *got = json_dumps(c.issues, 0);
		fail_msg("%s: unexpected guide issues %s", edi, got);
	}
	json_t *doc = json_deep_copy(json_array_get(c.docs, 0));
	json_object_del(doc, "meta");
	json_object_del(doc, "unmapped");
	collected_free(&c);
	return doc;
}

static void
assert_business_equal(json_t *doc, const char *edi, const char *expected)
{
	json_t *want = load_json(expected);
	if (!json_equal(doc, want)) {
		char *got = json_dumps(doc, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
		fail_msg("%s: translation differs from %s:\n%s", edi, expected, got);
	}
	json_decref(want);
	json_decref(doc);
}

static void
test_855_and_ordrsp_give_the_same_order_response(void **state)
{
	static const char *files[] = {"855_pair.edi", "ordrsp_d96a.edi", "ordrsp_d01b.edi"};
	for (size_t i = 0; i < 3; i++)
		assert_business_equal(business(files[i]), files[i], "order_response_pair.json");
}

static void
test_810_and_invoic_give_the_same_invoice(void **state)
{
	static const char *files[] = {"810_pair.edi", "invoic_d96a.edi", "invoic_d01b.edi"};
	for (size_t i = 0; i < 3; i++)
		assert_business_equal(business(files[i]), files[i], "invoice_pair.json");
}

static void
test_856_and_desadv_give_the_same_shipment_tree(void **state)
{
	/* BSN04 (the time of the notice) has no place in DESADV but a DTM
	 * 137 with format 203 (date and time together). */
	json_t *x12 = business("856_pair.edi");
	assert_string_equal(json_string_value(json_object_get(x12, "shipment_time")), "08:00");
	json_object_del(x12, "shipment_time");
	assert_business_equal(x12, "856_pair.edi", "shipment_pair.json");
	assert_business_equal(business("desadv_d96a.edi"), "desadv_d96a.edi", "shipment_pair.json");
	assert_business_equal(business("desadv_d01b.edi"), "desadv_d01b.edi", "shipment_pair.json");
}

/* Writes a canonical document as EDIFACT body segments, ' terminated. */
static char *
edifact_body(json_t *doc, const map *m)
{
	json_t *out = json_array();
	char err[256];
	if (map_out_document(m, doc, sink, out, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	size_t n = 0;
	for (size_t i = 0; i < json_array_size(out); i++)
		n += json_string_length(json_array_get(out, i));
	char *text = calloc(1, n + 1);
	for (size_t i = 0; i < json_array_size(out); i++)
		strcat(text, json_string_value(json_array_get(out, i)));
	json_decref(out);
	return text;
}

static void
test_shipment_from_a_system_becomes_a_cps_hierarchy(void **state)
{
	/* A shipment an ERP made (no unmapped): the packs become CPS groups
	 * numbered afresh under the consignment's CPS, each with its PAC
	 * and its SSCC in GIN+BJ; BGM gets its document name 351. */
	json_t *doc = load_json("shipment_pair.json");
	const map *m = xlate_maps_find(maps, MAP_EDIFACT, "D96A", "DESADV", NULL);
	assert_non_null(m);
	char *text = edifact_body(doc, m);
	assert_string_equal(text,
	    "BGM+351+SHP-7002+9'"
	    "DTM+137:20261124:102'"
	    "RFF+ON:PO12345'"
	    "DTM+171:20261123:102'"
	    "NAD+DP+0042::92++STORE 42'"
	    "CPS+1'"
	    "CPS+2+1'"
	    "PAC+1++CT'"
	    "GIN+BJ+001234560000000017'"
	    "LIN+1++012345678905:UP'"
	    "QTY+12:12:EA'"
	    "CPS+3+1'"
	    "PAC+1++CT'"
	    "GIN+BJ+001234560000000024'"
	    "LIN+2++012345678912:UP'"
	    "QTY+12:1:CS'");
	free(text);
	json_decref(doc);
}

static void
test_005010_sets_translate_like_their_004010_twins(void **state)
{
	/* 855, 856, 810, 940 and 945 in 005010 are overrides of 004010: the
	 * same business document comes out, only meta says 005010. */
	static const char *pairs[][2] = {
		{"855_pair.edi", "855_5010.edi"}, {"856_pair.edi", "856_5010.edi"},
		{"810_pair.edi", "810_5010.edi"}, {"940_order.edi", "940_5010.edi"},
		{"945_partial.edi", "945_5010.edi"},
	};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		collected c = translate_file(fixture(pairs[i][1]));
		json_t *meta = json_object_get(json_array_get(c.docs, 0), "meta");
		assert_string_equal(json_string_value(json_object_get(meta, "version")), "005010");
		collected_free(&c);
		json_t *a = business(pairs[i][0]), *b = business(pairs[i][1]);
		if (!json_equal(a, b))
			fail_msg("%s and %s differ", pairs[i][0], pairs[i][1]);
		json_decref(a);
		json_decref(b);
	}
	static const char *msgs[] = {"855", "856", "810", "940", "945"};
	for (size_t i = 0; i < 5; i++) {
		const map *m = xlate_maps_find(maps, MAP_X12, "005010", msgs[i], NULL);
		assert_non_null(m);
		assert_string_equal(m->version, "005010");
	}
}

static void
test_005010_takes_references_of_50_characters(void **state)
{
	/* REF02 is AN 1/30 in 004010 and AN 1/50 in 005010. */
	collected c4 = translate_file(fixture("810_invalid_long_ref.edi"));
	assert_int_equal(json_array_size(c4.issues), 1);
	assert_string_equal(json_string_value(json_array_get(c4.issues, 0)),
	    "4 REF 2.0 data element too long");
	collected c5 = translate_file(fixture("810_5010_long_ref.edi"));
	assert_int_equal(json_array_size(c5.issues), 0);
	json_t *refs = json_object_get(json_array_get(c5.docs, 0), "references");
	assert_string_equal(json_string_value(json_object_get(refs, "vendor_id")),
	    "VENDOR-0000000000000000000000000000042");
	collected_free(&c4);
	collected_free(&c5);
}

static void
test_desadv_guide_reports_contrl_codes(void **state)
{
	/* DTM is mandatory after BGM, GIN 7402 is an..35, ZZZ is no DESADV
	 * segment: UN/EDIFACT 0085 codes 13, 39 and 14. */
	collected c = translate_file(fixture("desadv_invalid.edi"));
	static const char *want[] = {
		"3 DTM 0.0 mandatory segment missing",
		"7 GIN 2.1 data element too long",
		"8 ZZZ 0.0 unrecognized segment",
	};
	if (json_array_size(c.issues) != 3) {
		char *got = json_dumps(c.issues, 0);
		fail_msg("issues: %s", got);
	}
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(json_string_value(json_array_get(c.issues, i)), want[i]);
	assert_int_equal(map_issue_edifact_code(MAP_ISSUE_MANDATORY_SEGMENT_MISSING), 13);
	assert_int_equal(map_issue_edifact_code(MAP_ISSUE_TOO_LONG), 39);
	assert_int_equal(map_issue_edifact_code(MAP_ISSUE_UNRECOGNIZED_SEGMENT), 14);
	/* The document is still whole: the SSCC is kept as sent. */
	json_t *pack = json_array_get(json_object_get(json_array_get(json_object_get(
	    json_array_get(c.docs, 0), "orders"), 0), "packs"), 0);
	assert_string_equal(json_string_value(json_object_get(pack, "sscc")),
	    "001234560000000017001234560000000017");
	collected_free(&c);
}

static void
test_edifact_decimal_comma_is_a_point_in_canonical(void **state)
{
	/* UNA says ',' is the decimal mark; canonical numbers use '.'. The
	 * way back restores ',' (test_fixtures_round_trip). */
	collected c = translate_file(fixture("orders_decimal_comma.edi"));
	json_t *doc = json_array_get(c.docs, 0);
	json_t *line = json_array_get(json_object_get(doc, "lines"), 0);
	assert_string_equal(json_string_value(json_object_get(line, "quantity")), "2.5");
	assert_string_equal(json_string_value(json_object_get(line, "unit_price")), "3.75");
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(doc, "totals"), "total_amount")), "9.38");
	assert_int_equal(json_array_size(c.issues), 0);
	collected_free(&c);
}

static void
test_text_that_is_not_utf8_is_read_as_latin1(void **state)
{
	static const char edi[] =
	    "ISA*00*          *00*          *ZZ*ACMERETAIL     *ZZ*EDIGATE        "
	    "*261123*1000*U*00401*000000104*0*T*>~"
	    "GS*PO*ACMERETAIL*EDIGATE*20261123*1000*104*X*004010~"
	    "ST*850*0004~BEG*00*SA*PO\xe4" "4**20261123~PO1*1*12*EA~CTT*1~"
	    "SE*5*0004~GE*1*104~IEA*1*000000104~";
	collected c = {.docs = json_array(), .issues = json_array(), .bodies = json_array()};
	c.x = xlate_new(maps, NULL, NULL, on_doc, &c);
	edi_reader_callbacks cb = {.segment = on_segment};
	edi_reader *r = edi_reader_new(&cb, &c, NULL);
	edi_reader_feed(r, edi, sizeof(edi) - 1);
	edi_reader_finish(r);
	edi_reader_free(r);
	xlate_free(c.x);
	json_t *doc = json_array_get(c.docs, 0);
	/* 0xE4 is a-umlaut in ISO 8859-1, U+00E4 is C3 A4 in UTF-8. */
	assert_string_equal(json_string_value(json_object_get(doc, "order_number")),
	    "PO\xc3\xa4" "4");
	collected_free(&c);
}

static void
test_guide_reports_x12_errors_with_positions(void **state)
{
	collected c = translate_file(fixture("850_invalid.edi"));
	char *got = json_dumps(c.issues, JSON_INDENT(1));
	json_t *want = load_json("850_invalid.issues.json");
	if (!json_equal(c.issues, want))
		fail_msg("issues: %s", got);
	free(got);
	json_decref(want);
	collected_free(&c);
}

static void
test_issue_codes_follow_997_and_contrl(void **state)
{
	/* X12 997 AK304 / AK403 and UN/EDIFACT 0085 syntax error codes. */
	assert_int_equal(map_issue_x12_segment_code(MAP_ISSUE_UNRECOGNIZED_SEGMENT), 1);
	assert_int_equal(map_issue_x12_segment_code(MAP_ISSUE_UNEXPECTED_SEGMENT), 2);
	assert_int_equal(map_issue_x12_segment_code(MAP_ISSUE_MANDATORY_SEGMENT_MISSING), 3);
	assert_int_equal(map_issue_x12_segment_code(MAP_ISSUE_LOOP_OVER_MAX), 4);
	assert_int_equal(map_issue_x12_segment_code(MAP_ISSUE_SEGMENT_OVER_MAX), 5);
	assert_int_equal(map_issue_x12_segment_code(MAP_ISSUE_BAD_DATE), 8);
	assert_int_equal(map_issue_x12_element_code(MAP_ISSUE_ELEMENT_MISSING), 1);
	assert_int_equal(map_issue_x12_element_code(MAP_ISSUE_TOO_LONG), 5);
	assert_int_equal(map_issue_x12_element_code(MAP_ISSUE_BAD_CODE), 7);
	assert_int_equal(map_issue_x12_element_code(MAP_ISSUE_BAD_DATE), 8);
	assert_int_equal(map_issue_edifact_code(MAP_ISSUE_ELEMENT_MISSING), 13);
	assert_int_equal(map_issue_edifact_code(MAP_ISSUE_TOO_LONG), 39);
	assert_int_equal(map_issue_edifact_code(MAP_ISSUE_TOO_SHORT), 40);
	assert_int_equal(map_issue_edifact_code(MAP_ISSUE_LOOP_OVER_MAX), 36);
}

static void
test_missing_mandatory_loop_is_reported_where_it_was_skipped(void **state)
{
	collected c = translate_file(fixture("850_invalid_no_lines.edi"));
	json_t *want = json_pack("[s]", "3 PO1 0.0 mandatory segment missing");
	if (!json_equal(c.issues, want))
		fail_msg("issues: %s", json_dumps(c.issues, 0));
	json_decref(want);
	collected_free(&c);
}

static void
test_unknown_qualifier_goes_to_unmapped_whole(void **state)
{
	collected c = translate_file(fixture("850_full.edi"));
	json_t *doc = json_array_get(c.docs, 0);
	json_t *un = json_object_get(doc, "unmapped");
	/* REF*ZZ has no case: position 4 (ST is 1), both elements kept. */
	json_t *first = json_array_get(un, 0);
	assert_int_equal(json_integer_value(json_object_get(first, "position")), 4);
	assert_string_equal(json_string_value(json_object_get(first, "tag")), "REF");
	assert_string_equal(json_string_value(json_array_get(json_object_get(first, "elements"), 1)),
	    "X-77");
	collected_free(&c);
}

typedef struct direct {
	map_in *in;
	const map *m;
	json_t *doc;      /* set at SE */
	jtree *tree;
	unsigned pos;
} direct;

static int
direct_segment(void *ctx, const edi_segment *s)
{
	direct *d = ctx;
	edi_slice t = s->elements[0];
	if (edi_slice_eq(t, "ST")) {
		d->tree = map_in_new_document(d->in);
		d->pos = 1;
		map_in_begin(d->in, d->m, d->tree);
	} else if (edi_slice_eq(t, "SE")) {
		map_in_end(d->in, ++d->pos);
		/* Assertions read a jansson copy of the engine's tree. */
		d->doc = jtree_to_json(d->tree);
	} else if (d->tree && !edi_slice_eq(t, "GE") && !edi_slice_eq(t, "IEA")) {
		map_in_segment(d->in, s, ++d->pos);
	}
	return 0;
}

static const char partner_850[] =
    "ISA*00*          *00*          *ZZ*RETAILCO       *ZZ*EDIGATE        "
    "*261123*1000*U*00401*000000104*0*T*>~"
    "GS*PO*RETAILCO*EDIGATE*20261123*1000*104*X*004010~"
    "ST*850*0004~BEG*00*SA*PO4**20261123~REF*ST*0042~"
    "PO1*1*12*EA~CTT*1~SE*6*0004~GE*1*104~IEA*1*000000104~";

static void
test_partner_override_adds_a_case_and_a_rule(void **state)
{
	char *err = NULL;
	map *m = map_load(loader, fixture("partners/store_ref.xml"), &err);
	if (m == NULL)
		fail_msg("%s", err);
	direct d = {.in = map_in_new(), .m = m};
	edi_reader_callbacks cb = {.segment = direct_segment};
	edi_reader *r = edi_reader_new(&cb, &d, NULL);
	edi_reader_feed(r, partner_850, sizeof(partner_850) - 1);
	edi_reader_finish(r);
	/* REF*ST binds now; EA has the partner's canonical name. */
	json_t *refs = json_object_get(d.doc, "references");
	assert_string_equal(json_string_value(json_object_get(refs, "store_number")), "0042");
	json_t *line = json_array_get(json_object_get(d.doc, "lines"), 0);
	assert_string_equal(json_string_value(json_object_get(line, "unit")), "unit");
	/* PO104 became mandatory. */
	size_t n;
	const map_issue *is = map_in_issues(d.in, &n);
	assert_int_equal(n, 1);
	assert_int_equal(is[0].kind, MAP_ISSUE_ELEMENT_MISSING);
	assert_int_equal(is[0].position, 4);
	assert_int_equal(is[0].element, 4);
	assert_string_equal(is[0].tag, "PO1");
	edi_reader_free(r);
	json_decref(d.doc);
	map_in_free(d.in);
	map_free(m);
}

static void
test_closed_code_list_rejects_other_codes(void **state)
{
	static const char edi[] =
	    "ISA*00*          *00*          *ZZ*RETAILCO       *ZZ*EDIGATE        "
	    "*261123*1000*U*00401*000000105*0*T*>~"
	    "GS*PO*RETAILCO*EDIGATE*20261123*1000*105*X*004010~"
	    "ST*850*0005~BEG*00*SA*PO5**20261123~PO1*1*12*ZZ*1~PO1*2*1*EA*2~"
	    "CTT*2~SE*6*0005~GE*1*105~IEA*1*000000105~";
	char *err = NULL;
	map *m = map_load(loader, fixture("partners/closed_uom.xml"), &err);
	if (m == NULL)
		fail_msg("%s", err);
	direct d = {.in = map_in_new(), .m = m};
	edi_reader_callbacks cb = {.segment = direct_segment};
	edi_reader *r = edi_reader_new(&cb, &d, NULL);
	edi_reader_feed(r, edi, sizeof(edi) - 1);
	edi_reader_finish(r);
	size_t n;
	const map_issue *is = map_in_issues(d.in, &n);
	/* PO103 "ZZ" is not in the closed list: AK4 7 at position 3. */
	assert_int_equal(n, 1);
	assert_int_equal(is[0].kind, MAP_ISSUE_BAD_CODE);
	assert_int_equal(is[0].position, 3);
	assert_int_equal(is[0].element, 3);
	assert_int_equal(map_issue_x12_element_code(is[0].kind), 7);
	/* Still nothing lost: the unknown code passes through. */
	json_t *line = json_array_get(json_object_get(d.doc, "lines"), 0);
	assert_string_equal(json_string_value(json_object_get(line, "unit")), "ZZ");
	edi_reader_free(r);
	json_decref(d.doc);
	map_in_free(d.in);
	map_free(m);
}

/* Translates an inline interchange with the shipped maps. */
static collected
translate_text(const char *edi)
{
	collected c = {.docs = json_array(), .issues = json_array(), .bodies = json_array()};
	c.x = xlate_new(maps, NULL, NULL, on_doc, &c);
	edi_reader_callbacks cb = {.segment = on_segment};
	edi_reader *r = edi_reader_new(&cb, &c, NULL);
	edi_reader_feed(r, edi, strlen(edi));
	edi_reader_finish(r);
	edi_reader_free(r);
	xlate_free(c.x);
	return c;
}

static void
test_hl_with_unknown_parent_goes_to_unmapped_whole(void **state)
{
	collected c = translate_text(
	    "ISA*00*          *00*          *ZZ*EDIGATE        *ZZ*RETAILCO       "
	    "*261124*0800*U*00401*000000202*0*T*>~"
	    "GS*SH*EDIGATE*RETAILCO*20261124*0800*202*X*004010~"
	    "ST*856*0002~BSN*00*SHP-2*20261124*0800~HL*1**S~HL*2*9*O~PRF*PO9~"
	    "HL*3*1*O~PRF*PO10~SE*8*0002~GE*1*202~IEA*1*000000202~");
	json_t *doc = json_array_get(c.docs, 0);
	/* HL*2 names parent 9, which does not exist: it and its PRF (whose
	 * loop has no object) are kept whole; HL*3 binds normally, and since
	 * the way out would number it 2, its own number travels too. */
	json_t *orders = json_object_get(doc, "orders");
	assert_int_equal(json_array_size(orders), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(orders, 0),
	    "order_number")), "PO10");
	json_t *un = json_object_get(doc, "unmapped");
	assert_int_equal(json_array_size(un), 3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(un, 0), "position")), 4);
	assert_string_equal(json_string_value(json_object_get(json_array_get(un, 1), "tag")), "PRF");
	json_t *hl3 = json_array_get(un, 2);
	assert_int_equal(json_integer_value(json_object_get(hl3, "position")), 6);
	assert_true(json_is_true(json_object_get(hl3, "mapped")));
	assert_string_equal(json_string_value(json_array_get(json_object_get(hl3, "elements"), 0)), "3");
	collected_free(&c);
}

static void
test_segment_and_loop_over_max_use_are_reported(void **state)
{
	collected c = translate_text(
	    "ISA*00*          *00*          *ZZ*RETAILCO       *ZZ*EDIGATE        "
	    "*261123*1000*U*00401*000000106*0*T*>~"
	    "GS*PO*RETAILCO*EDIGATE*20261123*1000*106*X*004010~"
	    "ST*850*0006~BEG*00*SA*PO6**20261123~CUR*BY*USD~CUR*BY*EUR~"
	    "PO1*1*1*EA*1~CTT*1~CTT*1~SE*8*0006~GE*1*106~IEA*1*000000106~");
	json_t *want = json_pack("[s,s]", "4 CUR 0.0 segment exceeds maximum use",
	    "7 CTT 0.0 loop occurs over maximum times");
	if (!json_equal(c.issues, want))
		fail_msg("issues: %s", json_dumps(c.issues, 0));
	json_decref(want);
	collected_free(&c);
}

static void
test_005010_map_is_the_004010_map_with_changes(void **state)
{
	const map *m5 = xlate_maps_find(maps, MAP_X12, "005010", "850", NULL);
	const map *m4 = xlate_maps_find(maps, MAP_X12, "004010", "850", NULL);
	assert_non_null(m5);
	assert_non_null(m4);
	assert_string_equal(m5->version, "005010");
	assert_string_equal(m5->document, "order");
	map_node *ref5 = map_find_node((map *)m5, "REF");
	map_node *ref4 = map_find_node((map *)m4, "REF");
	assert_int_equal(ref5->slots[2].simple.max, 50);
	assert_int_equal(ref4->slots[2].simple.max, 30);
	/* Everything else is shared: BEG03 is 1-22 in both. */
	assert_int_equal(map_find_node((map *)m5, "BEG")->slots[3].simple.max, 22);
}

static void
test_850_written_back_through_the_edi_writer_is_byte_identical(void **state)
{
	/* EDI -> canonical -> map -> edi_writer with the input's delimiters
	 * and line style gives the very bytes between ST and SE. */
	size_t len;
	char *data = test_read_file(fixture("850_full.edi"), &len);
	assert_non_null(data);
	const char *st = strstr(data, "ST*850");
	st = strchr(st, '\n') + 1;
	const char *se = strstr(data, "SE*");
	collected c = translate_file(fixture("850_full.edi"));
	json_t *doc = json_array_get(c.docs, 0);
	edi_writer_memory mem = {0};
	edi_writer *w = edi_writer_new(edi_writer_memory_sink, &mem);
	edi_delimiters d;
	edi_writer_x12_delimiters(&d, '*', '>', '~', 0, EDI_LINE_LF);
	assert_int_equal(edi_writer_set_delimiters(w, &d), EDI_WRITE_OK);
	char err[256];
	long n = map_out_document(map_of(doc), doc, map_out_writer_sink, w, err, sizeof(err));
	if (n < 0)
		fail_msg("%s", err);
	assert_int_equal(edi_writer_flush(w), EDI_WRITE_OK);
	assert_int_equal(mem.len, (size_t)(se - st));
	assert_memory_equal(mem.data, st, mem.len);
	edi_writer_free(w);
	edi_writer_memory_free(&mem);
	collected_free(&c);
	free(data);
}

static void
test_fixtures_round_trip(void **state)
{
	char **paths = NULL;
	size_t n = test_list_files(fixture(""), ".edi", &paths, 0);
	assert_true(n >= 3);
	for (size_t i = 0; i < n; i++)
		assert_round_trip(paths[i]);
	test_free_list(paths, n);
}

static void
test_corpus_orders_round_trip(void **state)
{
	const char *dir = test_corpus_dir();
	if (dir == NULL) {
		/* Reported, not failed: the corpus is optional. */
		printf("# corpus not found (EDIGATE_CORPUS), corpus round trips not run\n");
		return;
	}
	/* The valid 850, 855, 856, 810, 940 (004010), ORDERS and DESADV (D96A) files of the corpus; the D01B sample is ISO 8859-1,
	 * which comes back as UTF-8 (see docs/maps.md, known limits). */
	static const char *files[] = {
		"nodex12__850.edi", "nodex12__850_2.edi", "nodex12__850_3.edi",
		"nodex12__850_fat.edi", "ediengine__850.OK.edi",
		"ediengine__850.Composite.SLN.OK.edi", "x12types__004010_850.edi",
		"pydifact__order.edi", "pydifact__order2.edi",
		"ediengine__856.Crossdock.OK.edi", "vscodex12__old.edi",
		"staedi__simple810.edi", "ediengine__940.OK.edi", "ediengine__940.2.OK.edi",
		"ediengine__AckTest.edi", "ediengine__MultipleInterchangesAndGroups.edi",
		"nodex12__855.edi", "staedi__multi-tx-transaction-type.edi",
		"phpedifact__D96ADESADV.edi", "phpedifact__example_utf8.edi",
	};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[8192];
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		assert_round_trip(path);
	}
}

static int
direct_xlate_segment(void *ctx, const edi_segment *s)
{
	return xlate_segment(ctx, s);
}

/* Text mode (the path `edigate translate` takes) against jansson's
 * compact serialisation of the tree mode's document, file by file. */
typedef struct text_run {
	json_t *texts;  /* array of strings, one per document */
	size_t next;
	int mismatch;
} text_run;

static void
on_tree_text(void *ctx, const xlate_result *r)
{
	text_run *t = ctx;
	char *s = r->doc ? json_dumps(r->doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_array_append_new(t->texts, s ? json_string(s) : json_null());
	free(s);
}

static void
on_fast_text(void *ctx, const xlate_result *r)
{
	text_run *t = ctx;
	json_t *want = json_array_get(t->texts, t->next++);
	if (want == NULL || (r->text == NULL) != json_is_null(want)
	    || (r->text && (json_string_length(want) != r->text_len
	    || memcmp(json_string_value(want), r->text, r->text_len) != 0)))
		t->mismatch++;
}

static void
run_file(const char *path, xlate_fn fn, text_run *t, int text)
{
	size_t len;
	char *data = test_read_file(path, &len);
	assert_non_null(data);
	xlate *x = xlate_new(maps, NULL, NULL, fn, t);
	xlate_set_text(x, text);
	edi_reader_callbacks cb = {.segment = direct_xlate_segment};
	edi_reader *r = edi_reader_new(&cb, x, NULL);
	edi_reader_feed(r, data, len);
	edi_reader_finish(r);
	edi_reader_free(r);
	xlate_free(x);
	free(data);
}

static void
assert_text_matches_tree(const char *path)
{
	text_run t = {.texts = json_array()};
	run_file(path, on_tree_text, &t, 0);
	run_file(path, on_fast_text, &t, 1);
	if (t.mismatch || t.next != json_array_size(t.texts))
		fail_msg("%s: text mode differs from the tree in %d of %zu documents",
		    path, t.mismatch, json_array_size(t.texts));
	json_decref(t.texts);
}

static void
test_text_mode_writes_what_the_tree_gives(void **state)
{
	/* Every fixture, and the fuzz regressions (one is a set left open
	 * by a broken SE and delivered after the next interchange began). */
	char dirs[2][4200];
	snprintf(dirs[0], sizeof(dirs[0]), "%s/tests/fixtures", test_srcdir());
	snprintf(dirs[1], sizeof(dirs[1]), "%s/tests/fuzz/regressions", test_srcdir());
	char **paths = NULL;
	size_t n = test_list_files(dirs[0], ".edi", &paths, 0);
	n = test_list_files(dirs[1], ".edi", &paths, n);
	assert_true(n >= 100);
	for (size_t i = 0; i < n; i++)
		assert_text_matches_tree(paths[i]);
	test_free_list(paths, n);
	const char *dir = test_corpus_dir();
	if (dir == NULL) {
		printf("# corpus not found (EDIGATE_CORPUS), corpus files not compared\n");
		return;
	}
	paths = NULL;
	n = test_list_files(dir, ".edi", &paths, 0);
	for (size_t i = 0; i < n; i++)
		assert_text_matches_tree(paths[i]);
	test_free_list(paths, n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_shipped_maps_load),
		cmocka_unit_test(test_undefined_codelist_is_reported_with_file_and_line),
		cmocka_unit_test(test_schema_violation_is_reported_with_file_and_line),
		cmocka_unit_test(test_case_without_select_is_rejected),
		cmocka_unit_test(test_malformed_xml_gives_the_line),
		cmocka_unit_test(test_override_of_missing_segment_is_reported),
		cmocka_unit_test(test_values_convert_both_ways),
		cmocka_unit_test(test_value_checks_follow_the_types),
		cmocka_unit_test(test_850_translates_to_the_expected_order),
		cmocka_unit_test(test_orders_translates_to_the_same_order_model),
		cmocka_unit_test(test_856_builds_the_shipment_order_pack_item_tree),
		cmocka_unit_test(test_855_and_ordrsp_give_the_same_order_response),
		cmocka_unit_test(test_810_and_invoic_give_the_same_invoice),
		cmocka_unit_test(test_856_and_desadv_give_the_same_shipment_tree),
		cmocka_unit_test(test_shipment_from_a_system_becomes_a_cps_hierarchy),
		cmocka_unit_test(test_005010_sets_translate_like_their_004010_twins),
		cmocka_unit_test(test_005010_takes_references_of_50_characters),
		cmocka_unit_test(test_desadv_guide_reports_contrl_codes),
		cmocka_unit_test(test_edifact_decimal_comma_is_a_point_in_canonical),
		cmocka_unit_test(test_text_that_is_not_utf8_is_read_as_latin1),
		cmocka_unit_test(test_guide_reports_x12_errors_with_positions),
		cmocka_unit_test(test_issue_codes_follow_997_and_contrl),
		cmocka_unit_test(test_missing_mandatory_loop_is_reported_where_it_was_skipped),
		cmocka_unit_test(test_unknown_qualifier_goes_to_unmapped_whole),
		cmocka_unit_test(test_partner_override_adds_a_case_and_a_rule),
		cmocka_unit_test(test_closed_code_list_rejects_other_codes),
		cmocka_unit_test(test_hl_with_unknown_parent_goes_to_unmapped_whole),
		cmocka_unit_test(test_segment_and_loop_over_max_use_are_reported),
		cmocka_unit_test(test_005010_map_is_the_004010_map_with_changes),
		cmocka_unit_test(test_850_written_back_through_the_edi_writer_is_byte_identical),
		cmocka_unit_test(test_fixtures_round_trip),
		cmocka_unit_test(test_text_mode_writes_what_the_tree_gives),
		cmocka_unit_test(test_corpus_orders_round_trip),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
