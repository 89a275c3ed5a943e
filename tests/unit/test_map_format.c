/*
 * map_out_format: the release character before every delimiter in
 * EDIFACT data, a refusal for X12 data holding one, and the right table
 * when the delimiters change from one call to the next. The expected
 * bytes are written by hand (ISO 9735 release character '?').
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "map_xlate.h"

static const edi_delimiters edifact = {
	.standard = EDI_STANDARD_EDIFACT, .element = '+', .component = ':',
	.release = '?', .decimal = '.', .terminator_len = 1, .terminator = "'",
};
static const edi_delimiters x12 = {
	.standard = EDI_STANDARD_X12, .element = '*', .component = '>',
	.repetition = '^', .decimal = '.', .terminator_len = 1, .terminator = "~",
	.suffix_len = 1, .suffix = "\n",
};

static void
segment(map_out_segment *g, const char *tag, const char *e1, const char *c2a,
    const char *c2b)
{
	memset(g, 0, sizeof(*g));
	memcpy(g->tag, tag, strlen(tag));
	g->element_count = 2;
	g->component_count[1] = 1;
	g->components[1][0] = (map_field){e1, strlen(e1)};
	g->component_count[2] = 2;
	g->components[2][0] = (map_field){c2a, strlen(c2a)};
	g->components[2][1] = (map_field){c2b, strlen(c2b)};
}

static void
test_edifact_data_gets_a_release_before_each_delimiter(void **state)
{
	(void)state;
	map_out_segment g;
	char buf[128];
	segment(&g, "FTX", "A+B", "C:D'E", "F?G*H~");
	long n = map_out_format(&g, &edifact, buf, sizeof(buf));
	const char *want = "FTX+A?+B+C?:D?'E:F??G*H~'";
	assert_int_equal(n, (long)strlen(want));
	assert_memory_equal(buf, want, (size_t)n);
}

static void
test_x12_data_holding_a_delimiter_is_refused_and_the_table_follows_the_delimiters(void **state)
{
	(void)state;
	map_out_segment g;
	char buf[128];
	/* '+' and ':' are plain data in X12, '*', '^' and '~' are not. */
	segment(&g, "N1", "A+B", "C:D", "E'F");
	long n = map_out_format(&g, &x12, buf, sizeof(buf));
	const char *want = "N1*A+B*C:D>E'F~\n";
	assert_int_equal(n, (long)strlen(want));
	assert_memory_equal(buf, want, (size_t)n);
	segment(&g, "N1", "A^B", "C", "D");
	assert_int_equal(map_out_format(&g, &x12, buf, sizeof(buf)), -1);
	segment(&g, "N1", "A", "C~", "D");
	assert_int_equal(map_out_format(&g, &x12, buf, sizeof(buf)), -1);
	/* Back to EDIFACT: '*' is data again, '+' is not. */
	segment(&g, "NAD", "A*B", "C+", "D");
	n = map_out_format(&g, &edifact, buf, sizeof(buf));
	want = "NAD+A*B+C?+:D'";
	assert_int_equal(n, (long)strlen(want));
	assert_memory_equal(buf, want, (size_t)n);
}

static void
test_a_buffer_too_small_is_refused(void **state)
{
	(void)state;
	map_out_segment g;
	char buf[8];
	segment(&g, "FTX", "ABCDEFGHIJ", "K", "L");
	assert_int_equal(map_out_format(&g, &edifact, buf, sizeof(buf)), -1);
	segment(&g, "FTX", "AB", "K", "L");
	assert_int_equal(map_out_format(&g, &edifact, buf, 7), -1);
	/* "FTX+AB+K:L'" is 11 bytes. */
	char big[11];
	assert_int_equal(map_out_format(&g, &edifact, big, 10), -1);
	assert_int_equal(map_out_format(&g, &edifact, big, 11), 11);
	assert_memory_equal(big, "FTX+AB+K:L'", 11);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edifact_data_gets_a_release_before_each_delimiter),
		cmocka_unit_test(test_x12_data_holding_a_delimiter_is_refused_and_the_table_follows_the_delimiters),
		cmocka_unit_test(test_a_buffer_too_small_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
