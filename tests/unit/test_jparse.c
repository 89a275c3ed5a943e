/*
 * Unit tests of the strict JSON parser (jparse). Inputs and expected
 * trees are written by hand from RFC 8259; error positions are counted
 * by hand in the inputs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jparse.h"

static jtree_arena *arena;

static int
setup(void **state)
{
	(void)state;
	arena = jtree_arena_new();
	return arena ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	jtree_arena_free(arena);
	return 0;
}

static jtree *
parse(const char *text, jparse_error *e)
{
	jtree_arena_reset(arena);
	return jparse(arena, text, strlen(text), 0, 0, NULL, e);
}

/* Compact text of a parsed tree. */
static void
assert_round_trip(const char *text, const char *want)
{
	jparse_error e;
	jtree *t = parse(text, &e);
	if (t == NULL)
		fail_msg("refused %s: %s at %zu", text, e.text, e.offset);
	char *buf = NULL;
	size_t len = 0, cap = 0;
	assert_int_equal(jtree_write(t, &buf, &len, &cap), 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(buf, want, len);
	free(buf);
}

static void
assert_refused_at(const char *text, size_t offset, unsigned long line,
    unsigned long column)
{
	jparse_error e;
	assert_null(parse(text, &e));
	assert_int_equal(e.offset, offset);
	assert_int_equal(e.line, line);
	assert_int_equal(e.column, column);
	assert_true(e.text[0] != '\0');
}

static void
test_object_keeps_member_order(void **state)
{
	(void)state;
	assert_round_trip(" {\"b\" : 1,\n\t\"a\":[true,false,null],\"c\":{}}\r\n",
	    "{\"b\":1,\"a\":[true,false,null],\"c\":{}}");
}

static void
test_repeated_key_replaces_value_in_place(void **state)
{
	(void)state;
	assert_round_trip("{\"a\":1,\"b\":2,\"a\":3}", "{\"a\":3,\"b\":2}");
}

static void
test_repeated_key_in_a_large_object_replaces_value(void **state)
{
	(void)state;
	char in[2048], want[2048];
	size_t n = 0, m = 0;
	n += (size_t)sprintf(in + n, "{");
	m += (size_t)sprintf(want + m, "{");
	for (int i = 0; i < 40; i++) {
		n += (size_t)sprintf(in + n, "%s\"k%d\":%d", i ? "," : "", i, i);
		m += (size_t)sprintf(want + m, "%s\"k%d\":%d", i ? "," : "", i,
		    i == 7 ? 99 : i);
	}
	sprintf(in + n, ",\"k7\":99}");
	sprintf(want + m, "}");
	assert_round_trip(in, want);
}

static void
test_reals_keep_their_exact_text(void **state)
{
	(void)state;
	jparse_error e;
	jtree *t = parse("[12.50,-0.000000000000000000001,1E+2]", &e);
	assert_non_null(t);
	jtree *v = jtree_array_get(t, 0);
	assert_int_equal(v->kind, JTREE_REAL);
	assert_int_equal(v->u.string.len, 5);
	assert_memory_equal(v->u.string.ptr, "12.50", 5);
	assert_round_trip("[12.50,-0.000000000000000000001,1E+2]",
	    "[12.50,-0.000000000000000000001,1E+2]");
}

static void
test_integers_span_long_long(void **state)
{
	(void)state;
	jparse_error e;
	jtree *t = parse("[9223372036854775807,-9223372036854775808,-0]", &e);
	assert_non_null(t);
	assert_int_equal(jtree_array_get(t, 0)->kind, JTREE_INTEGER);
	assert_true(jtree_array_get(t, 0)->u.integer == INT64_MAX);
	assert_true(jtree_array_get(t, 1)->u.integer == INT64_MIN);
	assert_true(jtree_array_get(t, 2)->u.integer == 0);
	assert_refused_at("[9223372036854775808]", 1, 1, 2);
	assert_refused_at("[-9223372036854775809]", 1, 1, 2);
}

static void
test_escapes_and_surrogate_pairs_are_decoded(void **state)
{
	(void)state;
	/* U+1F600 is F0 9F 98 80; U+00E9 is C3 A9. */
	jparse_error e;
	jtree *t = parse("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00\"]", &e);
	assert_non_null(t);
	jtree *s = jtree_array_get(t, 0);
	const char want[] = "\"\\/\b\f\n\r\t\xC3\xA9\xF0\x9F\x98\x80";
	assert_int_equal(s->u.string.len, sizeof(want) - 1);
	assert_memory_equal(s->u.string.ptr, want, sizeof(want) - 1);
}

static void
test_lone_surrogates_and_nul_escape_are_refused(void **state)
{
	(void)state;
	assert_refused_at("[\"ab\\uD800\"]", 4, 1, 5);
	assert_refused_at("[\"\\uDC00\"]", 2, 1, 3);
	assert_refused_at("[\"\\uD800\\u0041\"]", 2, 1, 3);
	assert_refused_at("[\"x\\u0000\"]", 3, 1, 4);
}

static void
test_invalid_utf8_is_refused(void **state)
{
	(void)state;
	assert_refused_at("[\"\xC0\xAF\"]", 2, 1, 3);         /* overlong '/' */
	assert_refused_at("[\"\xED\xA0\x80\"]", 2, 1, 3);     /* UTF-8 surrogate */
	assert_refused_at("[\"\xF4\x90\x80\x80\"]", 2, 1, 3); /* > U+10FFFF */
	assert_refused_at("[\"\xE2\x82\"]", 2, 1, 3);         /* cut short */
	assert_round_trip("[\"\xE2\x82\xAC\"]", "[\"\xE2\x82\xAC\"]");
}

static void
test_grammar_errors_carry_line_and_column(void **state)
{
	(void)state;
	assert_refused_at("{\n  \"a\": 01\n}", 10, 2, 9);
	assert_refused_at("[1,]", 3, 1, 4);
	assert_refused_at("{\"a\":1,}", 7, 1, 8);
	assert_refused_at("[1.]", 3, 1, 4);
	assert_refused_at("[1e]", 3, 1, 4);
	assert_refused_at("[tru]", 1, 1, 2);
	assert_refused_at("[\"a\tb\"]", 3, 1, 4);
	assert_refused_at("[1] x", 4, 1, 5);
	assert_refused_at("\"top\"", 0, 1, 1);
	assert_refused_at("", 0, 1, 1);
	assert_refused_at("[1e999]", 1, 1, 2);
}

static void
test_nesting_is_bounded(void **state)
{
	(void)state;
	/* 2048 values deep is the limit: 2048 arrays, the last empty. */
	char *in = malloc(2 * 2049 + 2);
	assert_non_null(in);
	memset(in, '[', 2048);
	memset(in + 2048, ']', 2048);
	in[4096] = '\0';
	jparse_error e;
	assert_non_null(parse(in, &e));
	memset(in, '[', 2049);
	memset(in + 2049, ']', 2049);
	in[4098] = '\0';
	assert_null(parse(in, &e));
	assert_int_equal(e.offset, 2048);
	free(in);
}

static void
test_size_limit_and_stop_after_value(void **state)
{
	(void)state;
	jparse_error e;
	const char *two = "{\"a\":1}\n[2]";
	size_t used = 0;
	jtree_arena_reset(arena);
	assert_null(jparse(arena, two, strlen(two), 4, 0, NULL, &e));
	assert_int_equal(e.offset, 4);
	assert_non_null(strstr(e.text, "larger than 4"));
	assert_non_null(jparse(arena, two, strlen(two), 0,
	    JPARSE_STOP_AFTER_VALUE, &used, &e));
	assert_int_equal(used, 7);
	assert_non_null(jparse(arena, two + 7, strlen(two) - 7, 0, 0, NULL, &e));
	assert_non_null(jparse(arena, "7", 1, 0, JPARSE_ANY, NULL, &e));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_object_keeps_member_order),
		cmocka_unit_test(test_repeated_key_replaces_value_in_place),
		cmocka_unit_test(test_repeated_key_in_a_large_object_replaces_value),
		cmocka_unit_test(test_reals_keep_their_exact_text),
		cmocka_unit_test(test_integers_span_long_long),
		cmocka_unit_test(test_escapes_and_surrogate_pairs_are_decoded),
		cmocka_unit_test(test_lone_surrogates_and_nul_escape_are_refused),
		cmocka_unit_test(test_invalid_utf8_is_refused),
		cmocka_unit_test(test_grammar_errors_carry_line_and_column),
		cmocka_unit_test(test_nesting_is_bounded),
		cmocka_unit_test(test_size_limit_and_stop_after_value),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
