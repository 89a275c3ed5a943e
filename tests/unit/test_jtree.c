/*
 * Unit tests of the arena JSON tree and its compact text (jtree).
 * Expected texts are written by hand from RFC 8259 and from what the
 * canonical documents have always looked like (jansson's compact form:
 * no spaces, keys in insertion order, "/" unescaped, \u00XX in capitals).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "jtree.h"

static char *
text_of(const jtree *j)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	assert_int_equal(jtree_write(j, &buf, &len, &cap), 0);
	/* buf is not NUL-terminated: copy exactly len bytes. */
	char *s = malloc(len + 1);
	assert_non_null(s);
	memcpy(s, buf, len);
	s[len] = '\0';
	free(buf);
	return s;
}

static void
assert_text(const jtree *j, const char *want)
{
	char *got = text_of(j);
	assert_string_equal(got, want);
	free(got);
}

static void
test_object_keeps_insertion_order_and_replaces_in_place(void **state)
{
	(void)state;
	jtree_arena *a = jtree_arena_new();
	jtree *o = jtree_object(a);
	jtree_object_set(a, o, "type", jtree_string(a, "order", 5));
	jtree_object_set(a, o, "b", jtree_integer(a, 2));
	jtree_object_set(a, o, "a", jtree_true(a));
	jtree_object_set(a, o, "type", jtree_string(a, "invoice", 7));
	assert_text(o, "{\"type\":\"invoice\",\"b\":2,\"a\":true}");
	jtree_object_del(o, "type");
	jtree_object_set(a, o, "type", jtree_null(a));
	assert_text(o, "{\"b\":2,\"a\":true,\"type\":null}");
	jtree_arena_free(a);
}

static void
test_nested_arrays_and_empty_containers(void **state)
{
	(void)state;
	jtree_arena *a = jtree_arena_new();
	jtree *o = jtree_object(a);
	jtree *arr = jtree_array(a);
	jtree_object_set(a, o, "lines", arr);
	for (int i = 0; i < 100; i++)
		jtree_array_append(a, arr, jtree_integer(a, i - 50));
	jtree_object_set(a, o, "empty", jtree_object(a));
	jtree_object_set(a, o, "none", jtree_array(a));
	char *t = text_of(o);
	assert_true(strncmp(t, "{\"lines\":[-50,-49,", 18) == 0);
	assert_non_null(strstr(t, ",-1,0,1,"));
	assert_non_null(strstr(t, ",49],\"empty\":{},\"none\":[]}"));
	assert_int_equal(jtree_array_size(arr), 100);
	assert_int_equal(jtree_array_get(arr, 99)->u.integer, 49);
	assert_null(jtree_array_get(arr, 100));
	free(t);
	jtree_arena_free(a);
}

static void
test_strings_escape_quote_backslash_and_control_characters(void **state)
{
	(void)state;
	jtree_arena *a = jtree_arena_new();
	static const char raw[] = "a\"b\\c/d\b\f\n\r\t\x01\x1f\x7f";
	jtree *s = jtree_string(a, raw, sizeof(raw) - 1);
	assert_text(s, "\"a\\\"b\\\\c/d\\b\\f\\n\\r\\t\\u0001\\u001F\x7f\"");
	jtree *nul = jtree_text(a, "x\0y", 3);
	assert_text(nul, "\"x\\u0000y\"");
	jtree_arena_free(a);
}

static void
test_latin1_bytes_become_utf8_and_utf8_stays(void **state)
{
	(void)state;
	jtree_arena *a = jtree_arena_new();
	/* "Müller" in ISO 8859-1, then in UTF-8. */
	assert_text(jtree_text(a, "M\xfcller", 6), "\"M\xc3\xbcller\"");
	assert_text(jtree_text(a, "M\xc3\xbcller", 7), "\"M\xc3\xbcller\"");
	/* An encoded surrogate (ED A0 80) is not UTF-8: read as Latin-1. */
	assert_text(jtree_text(a, "\xed\xa0\x80", 3), "\"\xc3\xad\xc2\xa0\xc2\x80\"");
	assert_null(jtree_string_checked(a, "\xfc", 1));
	jtree_arena_free(a);
}

static void
test_key_that_is_not_utf8_is_refused(void **state)
{
	(void)state;
	jtree_arena *a = jtree_arena_new();
	jtree *o = jtree_object(a);
	jtree_object_setn(a, o, "\xff", 1, jtree_true(a));
	jtree_object_setn(a, o, "\xc3\xa9", 2, jtree_true(a));
	assert_text(o, "{\"\xc3\xa9\":true}");
	jtree_arena_free(a);
}

static void
test_large_document_spans_blocks_and_reset_reuses_them(void **state)
{
	(void)state;
	jtree_arena *a = jtree_arena_new();
	for (int round = 0; round < 3; round++) {
		jtree *arr = jtree_array(a);
		char big[1000];
		memset(big, 'x', sizeof(big));
		for (int i = 0; i < 500; i++)
			jtree_array_append(a, arr, jtree_string(a, big, sizeof(big)));
		assert_int_equal(jtree_array_size(arr), 500);
		char *t = text_of(arr);
		assert_int_equal(strlen(t), 2 + 500 * 1002 + 499);
		free(t);
		assert_false(jtree_arena_failed(a));
		jtree_arena_reset(a);
	}
	jtree_arena_free(a);
}

static void
test_conversion_to_jansson_keeps_content_and_order(void **state)
{
	(void)state;
	jtree_arena *a = jtree_arena_new();
	jtree *o = jtree_object(a);
	jtree_object_set(a, o, "z", jtree_string(a, "1.50", 4));
	jtree *arr = jtree_array(a);
	jtree_array_append(a, arr, jtree_null(a));
	jtree_array_append(a, arr, jtree_integer(a, 7));
	jtree_object_set(a, o, "a", arr);
	json_t *j = jtree_to_json(o);
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_string_equal(s, "{\"z\":\"1.50\",\"a\":[null,7]}");
	free(s);
	json_decref(j);
	jtree_arena_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_object_keeps_insertion_order_and_replaces_in_place),
		cmocka_unit_test(test_nested_arrays_and_empty_containers),
		cmocka_unit_test(test_strings_escape_quote_backslash_and_control_characters),
		cmocka_unit_test(test_latin1_bytes_become_utf8_and_utf8_stays),
		cmocka_unit_test(test_key_that_is_not_utf8_is_refused),
		cmocka_unit_test(test_large_document_spans_blocks_and_reset_reuses_them),
		cmocka_unit_test(test_conversion_to_jansson_keeps_content_and_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
