/*
 * Tests for translators/jschema.c: each supported keyword accepts and
 * refuses what JSON Schema 2020-12 says, errors name the JSON path, the
 * shipped canonical schemas load and accept the map fixtures' documents.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jschema.h"
#include "test_util.h"

static jschema_set *
schema(const char *text)
{
	char err[512];
	jschema_set *s = jschema_set_from_text("t.schema.json", text,
	    strlen(text), err, sizeof(err));

	if (s == NULL)
		fail_msg("schema refused: %s", err);
	return s;
}

/* "" when valid, else "path: message". */
static const char *
check(jschema_set *s, const char *doc)
{
	static char out[600];
	struct jschema_error e;
	json_error_t je;
	json_t *v = json_loads(doc, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);

	if (v == NULL)
		fail_msg("test document is not JSON: %s", je.text);
	if (jschema_validate(s, "t.schema.json", v, &e) == 0)
		out[0] = '\0';
	else
		snprintf(out, sizeof(out), "%s: %s", e.path, e.message);
	json_decref(v);
	return out;
}

static void
test_type_and_required_name_the_path(void **state)
{
	jschema_set *s = schema("{\"type\":\"object\",\"required\":[\"a\"],"
	    "\"properties\":{\"a\":{\"type\":\"string\"},"
	    "\"n\":{\"type\":\"integer\"},\"x\":{\"type\":[\"string\",\"null\"]}}}");

	assert_string_equal(check(s, "{\"a\":\"x\"}"), "");
	assert_string_equal(check(s, "{}"), "$.a: required, missing");
	assert_string_equal(check(s, "{\"a\":1}"),
	    "$.a: expected string, found integer");
	assert_string_equal(check(s, "[]"), "$: expected object, found array");
	assert_string_equal(check(s, "{\"a\":\"\",\"n\":2.0}"), "");
	assert_string_equal(check(s, "{\"a\":\"\",\"n\":2.5}"),
	    "$.n: expected integer, found number");
	assert_string_equal(check(s, "{\"a\":\"\",\"x\":null}"), "");
	assert_string_equal(check(s, "{\"a\":\"\",\"x\":true}"),
	    "$.x: expected string or null, found boolean");
	jschema_set_free(s);
}

static void
test_additional_properties_false_and_schema(void **state)
{
	jschema_set *s = schema("{\"properties\":{\"a\":{},\"m\":{"
	    "\"additionalProperties\":{\"type\":\"string\"}}},"
	    "\"additionalProperties\":false}");

	assert_string_equal(check(s, "{\"a\":1,\"m\":{\"k\":\"v\"}}"), "");
	assert_string_equal(check(s, "{\"b\":1}"),
	    "$.b: not allowed here (no such property)");
	assert_string_equal(check(s, "{\"m\":{\"k\":1}}"),
	    "$.m.k: expected string, found integer");
	jschema_set_free(s);
}

static void
test_items_paths_carry_the_index(void **state)
{
	jschema_set *s = schema("{\"properties\":{\"lines\":{\"type\":\"array\","
	    "\"minItems\":1,\"maxItems\":3,\"items\":{\"type\":\"object\","
	    "\"properties\":{\"unit\":{\"enum\":[\"each\",\"case\"]}}}}}}");

	assert_string_equal(check(s, "{\"lines\":[{\"unit\":\"each\"}]}"), "");
	assert_string_equal(check(s, "{\"lines\":[{},{},{\"unit\":\"box\"}]}"),
	    "$.lines[2].unit: expected one of \"each\", \"case\"");
	assert_string_equal(check(s, "{\"lines\":[]}"),
	    "$.lines: fewer than 1 elements");
	assert_string_equal(check(s, "{\"lines\":[1,2,3,4]}"),
	    "$.lines: more than 3 elements");
	jschema_set_free(s);
}

static void
test_pattern_lengths_and_const(void **state)
{
	jschema_set *s = schema("{\"properties\":{"
	    "\"d\":{\"type\":\"string\",\"pattern\":\"^-?[0-9]+(\\\\.[0-9]+)?$\"},"
	    "\"q\":{\"pattern\":\"^\\\\d{3}$\"},"
	    "\"c\":{\"type\":\"string\",\"minLength\":2,\"maxLength\":3},"
	    "\"t\":{\"const\":\"invoice\"},\"p\":{\"type\":\"integer\","
	    "\"minimum\":1,\"maximum\":9}}}");

	assert_string_equal(check(s, "{\"d\":\"-12.50\",\"q\":\"123\"}"), "");
	assert_string_equal(check(s, "{\"d\":\"12.\"}"),
	    "$.d: does not match the pattern ^-?[0-9]+(\\.[0-9]+)?$");
	assert_string_equal(check(s, "{\"d\":\"1e5\"}"),
	    "$.d: does not match the pattern ^-?[0-9]+(\\.[0-9]+)?$");
	assert_string_equal(check(s, "{\"q\":\"12a\"}"),
	    "$.q: does not match the pattern ^\\d{3}$");
	/* Lengths count code points: "äöü" is 3, not 6 bytes. */
	assert_string_equal(check(s, "{\"c\":\"\xc3\xa4\xc3\xb6\xc3\xbc\"}"), "");
	assert_string_equal(check(s, "{\"c\":\"a\"}"),
	    "$.c: shorter than 2 characters");
	assert_string_equal(check(s, "{\"c\":\"abcd\"}"),
	    "$.c: longer than 3 characters");
	assert_string_equal(check(s, "{\"t\":\"order\"}"),
	    "$.t: expected \"invoice\"");
	assert_string_equal(check(s, "{\"p\":0}"),
	    "$.p: less than the minimum 1");
	assert_string_equal(check(s, "{\"p\":10}"),
	    "$.p: more than the maximum 9");
	/* A NUL inside the string is not cut short by the regex engine. */
	assert_string_equal(check(s, "{\"q\":\"123\\u0000x\"}"),
	    "$.q: does not match the pattern ^\\d{3}$");
	jschema_set_free(s);
}

static void
test_ref_to_defs_and_any_of(void **state)
{
	jschema_set *s = schema("{\"$defs\":{\"dec\":{\"type\":\"string\"},"
	    "\"node\":{\"type\":\"object\",\"properties\":{\"next\":"
	    "{\"$ref\":\"#/$defs/node\"}}}},\"properties\":{"
	    "\"amount\":{\"$ref\":\"#/$defs/dec\"},"
	    "\"n\":{\"$ref\":\"#/$defs/node\"},"
	    "\"v\":{\"anyOf\":[{\"type\":\"null\"},{\"$ref\":\"#/$defs/dec\"}]}}}");

	assert_string_equal(check(s, "{\"amount\":\"1\",\"v\":null}"), "");
	assert_string_equal(check(s, "{\"amount\":1}"),
	    "$.amount: expected string, found integer");
	assert_string_equal(check(s, "{\"v\":2}"),
	    "$.v: matches none of the allowed forms");
	assert_string_equal(check(s, "{\"n\":{\"next\":{\"next\":{\"next\":1}}}}"),
	    "$.n.next.next.next: expected object, found integer");
	jschema_set_free(s);
}

static void
test_deep_documents_fail_cleanly(void **state)
{
	jschema_set *s = schema("{\"$defs\":{\"n\":{\"type\":\"object\","
	    "\"additionalProperties\":{\"$ref\":\"#/$defs/n\"}}},"
	    "\"$ref\":\"#/$defs/n\"}");
	char doc[4096] = "";
	const char *r;
	int i;

	for (i = 0; i < 200; i++)
		strcat(doc, "{\"a\":");
	strcat(doc, "{}");
	for (i = 0; i < 200; i++)
		strcat(doc, "}");
	r = check(s, doc);
	assert_non_null(strstr(r, "nested deeper than 64 levels"));
	jschema_set_free(s);
}

static void
test_unsupported_schemas_are_refused_at_load(void **state)
{
	char err[512];
	const char *bad[][2] = {
		{ "{\"oneOf\":[{}]}", "t.schema.json: keyword \"oneOf\" is not "
		    "supported by edigate's validator (see translators/"
		    "jschema.h)" },
		{ "{\"pattern\":\"^(?=a)\"}", "t.schema.json: pattern \"^(?=a)\" "
		    "uses syntax outside POSIX extended regular expressions" },
		/* Found by fuzz_jschema: a trailing backslash read past the
		 * end of the pattern. */
		{ "{\"pattern\":\"^a\\\\\"}", "t.schema.json: pattern "
		    "\"^a\\\" uses syntax outside POSIX extended regular "
		    "expressions" },
		/* Found by fuzz_jschema: stacked quantifiers made regcomp
		 * allocate without bound. */
		{ "{\"pattern\":\"^a+++$\"}", "t.schema.json: pattern "
		    "\"^a+++$\" uses syntax outside POSIX extended regular "
		    "expressions" },
		{ "{\"pattern\":\"^a{1000}$\"}", "t.schema.json: pattern "
		    "\"^a{1000}$\" uses syntax outside POSIX extended regular "
		    "expressions" },
		{ "{\"pattern\":\"[\"}", "t.schema.json: pattern \"[\" does not "
		    "compile" },
		{ "{\"$ref\":\"#/$defs/none\"}", "t.schema.json: $ref "
		    "\"#/$defs/none\" does not resolve" },
		{ "{\"$ref\":\"other.json#/$defs/x\"}", "t.schema.json: $ref "
		    "\"other.json#/$defs/x\" does not resolve" },
		{ "{\"required\":\"a\"}", "t.schema.json: keyword \"required\" "
		    "has a value of the wrong kind" },
		{ "[1]", "t.schema.json: a schema must be an object or a "
		    "boolean" },
		{ "{\"a\":1,\"a\":2}", NULL },
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		jschema_set *s = jschema_set_from_text("t.schema.json", bad[i][0],
		    strlen(bad[i][0]), err, sizeof(err));
		assert_null(s);
		if (bad[i][1])
			assert_string_equal(err, bad[i][1]);
	}
}

static void
test_shipped_schemas_accept_the_fixture_documents(void **state)
{
	char dir[1024], path[1024], err[512];
	const char *fixtures[][2] = {
		{ "850_full.json", "order.schema.json" },
		{ "856_pickpack.json", "shipment.schema.json" },
		{ "orders_d96a.json", "order.schema.json" },
	};
	jschema_set *set;
	size_t i, j;

	snprintf(dir, sizeof(dir), "%s/maps/canonical", test_srcdir());
	set = jschema_set_load(dir, err, sizeof(err));
	if (set == NULL)
		fail_msg("%s", err);
	assert_true(jschema_has(set, "invoice.schema.json"));
	assert_true(jschema_has(set, "common.schema.json"));
	for (i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
		json_error_t je;
		json_t *docs;
		snprintf(path, sizeof(path), "%s/tests/fixtures/maps/%s",
		    test_srcdir(), fixtures[i][0]);
		docs = json_load_file(path, 0, &je);
		assert_non_null(docs);
		for (j = 0; j < json_array_size(docs); j++) {
			struct jschema_error e;
			json_t *d = json_array_get(docs, j);
			if (jschema_validate(set, fixtures[i][1], d, &e) != 0)
				fail_msg("%s[%zu]: %s: %s", fixtures[i][0], j,
				    e.path, e.message);
			/* A quantity as a binary number is refused. */
			if (json_array_size(json_object_get(d, "lines")) > 0) {
				json_t *c = json_deep_copy(d);
				json_object_set_new(json_array_get(
				    json_object_get(c, "lines"), 0), "quantity",
				    json_real(1.5));
				assert_int_equal(jschema_validate(set,
				    fixtures[i][1], c, &e), -1);
				assert_string_equal(e.path, "$.lines[0].quantity");
				json_decref(c);
			}
		}
		json_decref(docs);
	}
	jschema_set_free(set);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type_and_required_name_the_path),
		cmocka_unit_test(test_additional_properties_false_and_schema),
		cmocka_unit_test(test_items_paths_carry_the_index),
		cmocka_unit_test(test_pattern_lengths_and_const),
		cmocka_unit_test(test_ref_to_defs_and_any_of),
		cmocka_unit_test(test_deep_documents_fail_cleanly),
		cmocka_unit_test(test_unsupported_schemas_are_refused_at_load),
		cmocka_unit_test(test_shipped_schemas_accept_the_fixture_documents),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
