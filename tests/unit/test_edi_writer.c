/*
 * Unit tests of translators/edi_writer, edi_builder and edi_rewrite:
 * bytes written by hand from X12.5/X12.6 and ISO 9735, and the promise
 * that reading what the writer wrote gives back what was read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "edi_builder.h"
#include "edi_reader.h"
#include "edi_rewrite.h"
#include "edi_writer.h"
#include "test_util.h"

/* ---- helpers -------------------------------------------------------------- */

static edi_writer_memory out;

static edi_writer *
new_writer(void)
{
	edi_writer *w;

	edi_writer_memory_free(&out);
	memset(&out, 0, sizeof out);
	w = edi_writer_new(edi_writer_memory_sink, &out);
	assert_non_null(w);
	return w;
}

static const char *
output_of(edi_writer *w)
{
	assert_int_equal(edi_writer_flush(w), EDI_WRITE_OK);
	return out.data ? out.data : "";
}

static void
use_x12(edi_writer *w, const char *chars, edi_line_style line)
{
	edi_delimiters d;

	edi_writer_x12_delimiters(&d, chars[0], chars[1], chars[2], chars[3],
	    line);
	assert_int_equal(edi_writer_set_delimiters(w, &d), EDI_WRITE_OK);
}

static void
use_una(edi_writer *w, const char *una, edi_line_style line)
{
	edi_delimiters d;

	edi_writer_edifact_delimiters(&d, una, line);
	assert_int_equal(edi_writer_set_delimiters(w, &d), EDI_WRITE_OK);
}

static void
finish(edi_writer *w)
{
	edi_writer_free(w);
	edi_writer_memory_free(&out);
}

/* A segment as the reader would deliver it, from NUL-terminated parts. */
struct made_segment {
	edi_slice elements[20];
	edi_segment segment;
};

static const edi_segment *
make_segment(struct made_segment *m, const edi_delimiters *d, unsigned flags,
    size_t count, const char *const *parts)
{
	size_t i;

	assert_true(count <= 20);
	memset(m, 0, sizeof *m);
	for (i = 0; i < count; i++) {
		m->elements[i].ptr = parts[i];
		m->elements[i].len = strlen(parts[i]);
	}
	m->segment.delimiters = d;
	m->segment.elements = m->elements;
	m->segment.element_count = count;
	m->segment.flags = flags;
	m->segment.index = 1;
	m->segment.line = 1;
	m->segment.interchange = 1;
	return &m->segment;
}

/* ---- building segments ---------------------------------------------------- */

static void
test_simple_elements_are_joined_by_the_element_separator(void **state)
{
	edi_writer *w = new_writer();

	use_x12(w, "*:~", EDI_LINE_NONE);
	edi_writer_begin(w, "N1");
	edi_writer_element(w, "ST");
	edi_writer_element(w, "STORE 42");
	edi_writer_element(w, "92");
	edi_writer_element(w, "0042");
	assert_int_equal(edi_writer_end(w), EDI_WRITE_OK);
	assert_string_equal(output_of(w), "N1*ST*STORE 42*92*0042~");
	assert_int_equal(edi_writer_segment_count(w), 1);
	assert_int_equal(edi_writer_byte_count(w), 23);
	finish(w);
}

static void
test_trailing_empty_elements_are_dropped_and_inner_ones_kept(void **state)
{
	edi_writer *w = new_writer();

	use_x12(w, "*:~", EDI_LINE_NONE);
	edi_writer_begin(w, "BEG");
	edi_writer_element(w, "00");
	edi_writer_element(w, "SA");
	edi_writer_element(w, "PO123");
	edi_writer_element(w, "");
	edi_writer_element(w, "20240101");
	edi_writer_element(w, "");
	edi_writer_element(w, NULL);
	assert_int_equal(edi_writer_end(w), EDI_WRITE_OK);
	assert_string_equal(output_of(w), "BEG*00*SA*PO123**20240101~");
	finish(w);
}

static void
test_trailing_empty_components_and_repetitions_are_dropped(void **state)
{
	edi_writer *w = new_writer();

	use_x12(w, "*:~^", EDI_LINE_NONE);
	edi_writer_begin(w, "SV1");
	edi_writer_element(w, "HC");
	edi_writer_component(w, "");
	edi_writer_component(w, "99213");
	edi_writer_component(w, "");
	edi_writer_component(w, NULL);
	edi_writer_repetition(w, "");
	edi_writer_component(w, "");
	edi_writer_element(w, "");
	assert_int_equal(edi_writer_end(w), EDI_WRITE_OK);
	assert_string_equal(output_of(w), "SV1*HC::99213~");
	finish(w);
}

static void
test_segment_of_empty_elements_is_its_tag(void **state)
{
	edi_writer *w = new_writer();

	use_una(w, ":+.? '", EDI_LINE_NONE);
	edi_writer_begin(w, "UNS");
	edi_writer_element(w, "");
	edi_writer_component(w, "");
	assert_int_equal(edi_writer_end(w), EDI_WRITE_OK);
	assert_string_equal(output_of(w), "UNS'");
	finish(w);
}

static void
test_repetitions_use_the_repetition_separator(void **state)
{
	edi_writer *w = new_writer();

	use_x12(w, "*:~^", EDI_LINE_NONE);
	edi_writer_begin(w, "EB");
	edi_writer_element(w, "1");
	edi_writer_element(w, "");
	edi_writer_element(w, "30");
	edi_writer_repetition(w, "");
	edi_writer_repetition(w, "35");
	edi_writer_component(w, "A");
	assert_int_equal(edi_writer_end(w), EDI_WRITE_OK);
	assert_string_equal(output_of(w), "EB*1**30^^35:A~");
	finish(w);
}

static void
test_line_style_follows_each_terminator(void **state)
{
	edi_writer *w = new_writer();
	const char *se[] = { "3", "0001" };

	use_x12(w, "*:~", EDI_LINE_CRLF);
	edi_writer_simple(w, "SE", 2, se);
	use_x12(w, "*:~", EDI_LINE_LF);
	edi_writer_simple(w, "SE", 2, se);
	use_x12(w, "*:~", EDI_LINE_NONE);
	edi_writer_simple(w, "SE", 2, se);
	assert_string_equal(output_of(w),
	    "SE*3*0001~\r\nSE*3*0001~\nSE*3*0001~");
	assert_int_equal(edi_writer_segment_count(w), 3);
	finish(w);
}

/* ---- EDIFACT release, X12 refusal ----------------------------------------- */

static void
test_edifact_delimiters_in_data_are_released(void **state)
{
	edi_writer *w = new_writer();

	/* Syntax 4 defaults: '*' is the repetition separator and released. */
	use_una(w, ":+.?*'", EDI_LINE_NONE);
	edi_writer_begin(w, "FTX");
	edi_writer_element(w, "AAI");
	edi_writer_element(w, "");
	edi_writer_element(w, "");
	edi_writer_element(w, "1+1=2: IT'S?*");
	assert_int_equal(edi_writer_end(w), EDI_WRITE_OK);
	assert_string_equal(output_of(w), "FTX+AAI+++1?+1=2?: IT?'S???*'");
	finish(w);
}

static void
test_edifact_syntax_3_leaves_asterisk_alone(void **state)
{
	edi_writer *w = new_writer();
	const char *v[] = { "AAI", "", "", "A*B" };

	use_una(w, ":+.? '", EDI_LINE_NONE);
	edi_writer_simple(w, "FTX", 4, v);
	assert_string_equal(output_of(w), "FTX+AAI+++A*B'");
	finish(w);
}

static void
test_edifact_line_breaks_in_data_are_released(void **state)
{
	edi_writer *w = new_writer();
	const char *v[] = { "AAI", "", "", "LINE1\nLINE2\tTAB" };

	use_una(w, ":+.? '", EDI_LINE_NONE);
	edi_writer_simple(w, "FTX", 4, v);
	assert_string_equal(output_of(w), "FTX+AAI+++LINE1?\nLINE2\tTAB'");
	finish(w);
}

static void
test_x12_element_separator_in_data_is_refused_with_position(void **state)
{
	edi_writer *w = new_writer();
	const edi_write_error *e;
	const char *n1[] = { "ST", "ACME" };

	use_x12(w, "*:~", EDI_LINE_NONE);
	edi_writer_simple(w, "N1", 2, n1);
	edi_writer_begin(w, "N1");
	edi_writer_element(w, "ST");
	assert_int_equal(edi_writer_element(w, "A*B"),
	    EDI_WRITE_DELIMITER_IN_DATA);
	e = edi_writer_error(w);
	assert_non_null(e);
	assert_int_equal(e->code, EDI_WRITE_DELIMITER_IN_DATA);
	assert_string_equal(e->tag, "N1");
	assert_int_equal(e->segment_index, 2);
	assert_int_equal(e->element, 2);
	assert_int_equal(e->repetition, 1);
	assert_int_equal(e->component, 1);
	assert_non_null(strstr(e->message, "N1 (segment 2) element 2 component 1"));
	assert_non_null(strstr(e->message, "element separator '*'"));
	finish(w);
}

static void
test_x12_component_separator_in_component_is_refused(void **state)
{
	edi_writer *w = new_writer();
	const edi_write_error *e;

	use_x12(w, "*>~^", EDI_LINE_NONE);
	edi_writer_begin(w, "SV1");
	edi_writer_element(w, "HC");
	edi_writer_repetition(w, "X");
	assert_int_equal(edi_writer_component(w, "1>2"),
	    EDI_WRITE_DELIMITER_IN_DATA);
	e = edi_writer_error(w);
	assert_int_equal(e->element, 1);
	assert_int_equal(e->repetition, 2);
	assert_int_equal(e->component, 2);
	assert_non_null(strstr(e->message, "component separator '>'"));
	finish(w);
}

static void
test_x12_terminator_and_repetition_in_data_are_refused(void **state)
{
	edi_writer *w = new_writer();

	use_x12(w, "*:~^", EDI_LINE_NONE);
	edi_writer_begin(w, "MSG");
	assert_int_equal(edi_writer_element(w, "A~B"),
	    EDI_WRITE_DELIMITER_IN_DATA);
	assert_non_null(strstr(edi_writer_error(w)->message,
	    "segment terminator '~'"));
	finish(w);

	w = new_writer();
	use_x12(w, "*:~^", EDI_LINE_NONE);
	edi_writer_begin(w, "MSG");
	assert_int_equal(edi_writer_element(w, "A^B"),
	    EDI_WRITE_DELIMITER_IN_DATA);
	assert_non_null(strstr(edi_writer_error(w)->message,
	    "repetition separator '^'"));
	finish(w);
}

static void
test_control_characters_in_data_are_refused(void **state)
{
	edi_writer *w = new_writer();

	use_x12(w, "*:~", EDI_LINE_NONE);
	edi_writer_begin(w, "MSG");
	assert_int_equal(edi_writer_element(w, "LINE1\nLINE2"),
	    EDI_WRITE_CONTROL_CHARACTER);
	finish(w);

	w = new_writer();
	use_una(w, ":+.? '", EDI_LINE_NONE);
	edi_writer_begin(w, "FTX");
	assert_int_equal(edi_writer_element(w, "BELL\a"),
	    EDI_WRITE_CONTROL_CHARACTER);
	finish(w);
}

static void
test_utf8_terminator_is_matched_whole(void **state)
{
	edi_writer *w = new_writer();
	edi_delimiters d;
	const char *ok[] = { "DASH\xE2\x80\x94" };
	const char *bad[] = { "DOTS\xE2\x80\xA6" };

	edi_writer_x12_delimiters(&d, '*', ':', 0, 0, EDI_LINE_NONE);
	d.terminator_len = 3;
	memcpy(d.terminator, "\xE2\x80\xA6", 3);
	assert_int_equal(edi_writer_set_delimiters(w, &d), EDI_WRITE_OK);
	assert_int_equal(edi_writer_simple(w, "MSG", 1, ok), EDI_WRITE_OK);
	assert_string_equal(output_of(w), "MSG*DASH\xE2\x80\x94\xE2\x80\xA6");
	assert_int_equal(edi_writer_simple(w, "MSG", 1, bad),
	    EDI_WRITE_DELIMITER_IN_DATA);
	finish(w);

	w = new_writer();
	edi_writer_edifact_delimiters(&d, ":+.? '", EDI_LINE_NONE);
	d.terminator_len = 3;
	memcpy(d.terminator, "\xE2\x80\xA6", 3);
	assert_int_equal(edi_writer_set_delimiters(w, &d), EDI_WRITE_OK);
	assert_int_equal(edi_writer_simple(w, "FTX", 1, bad), EDI_WRITE_OK);
	assert_string_equal(output_of(w),
	    "FTX+DOTS?\xE2\x80\xA6\xE2\x80\xA6");
	finish(w);
}

/* ---- misuse and failure ------------------------------------------------- */

static void
test_failure_is_kept_until_reset(void **state)
{
	edi_writer *w = new_writer();
	const char *v[] = { "A" };

	use_x12(w, "*:~", EDI_LINE_NONE);
	edi_writer_begin(w, "MSG");
	assert_int_equal(edi_writer_element(w, "A*B"),
	    EDI_WRITE_DELIMITER_IN_DATA);
	assert_int_equal(edi_writer_end(w), EDI_WRITE_DELIMITER_IN_DATA);
	assert_int_equal(edi_writer_simple(w, "MSG", 1, v),
	    EDI_WRITE_DELIMITER_IN_DATA);
	assert_int_equal(edi_writer_flush(w), EDI_WRITE_DELIMITER_IN_DATA);
	edi_writer_reset(w);
	assert_null(edi_writer_error(w));
	assert_int_equal(edi_writer_simple(w, "MSG", 1, v), EDI_WRITE_OK);
	assert_string_equal(output_of(w), "MSG*A~");
	assert_int_equal(edi_writer_segment_count(w), 1);
	finish(w);
}

static void
test_repetition_without_separator_is_refused(void **state)
{
	edi_writer *w = new_writer();

	use_una(w, ":+.? '", EDI_LINE_NONE);
	edi_writer_begin(w, "NAD");
	edi_writer_element(w, "BY");
	/* An empty repetition costs nothing and needs no separator... */
	assert_int_equal(edi_writer_repetition(w, ""), EDI_WRITE_OK);
	/* ...a real one does. */
	assert_int_equal(edi_writer_repetition(w, "SU"), EDI_WRITE_NO_REPETITION);
	finish(w);
}

static void
test_bad_tags_are_refused(void **state)
{
	edi_writer *w = new_writer();

	assert_int_equal(edi_writer_begin(w, "n1"), EDI_WRITE_BAD_TAG);
	finish(w);
	w = new_writer();
	assert_int_equal(edi_writer_begin(w, "N"), EDI_WRITE_BAD_TAG);
	finish(w);
	w = new_writer();
	assert_int_equal(edi_writer_begin(w, "1AB"), EDI_WRITE_BAD_TAG);
	finish(w);
	w = new_writer();
	assert_int_equal(edi_writer_begin(w, "ABCD"), EDI_WRITE_BAD_TAG);
	finish(w);
}

static void
test_calls_out_of_order_are_refused(void **state)
{
	edi_writer *w = new_writer();

	assert_int_equal(edi_writer_element(w, "A"), EDI_WRITE_SEQUENCE);
	finish(w);
	w = new_writer();
	edi_writer_begin(w, "N1");
	assert_int_equal(edi_writer_component(w, "A"), EDI_WRITE_SEQUENCE);
	finish(w);
	w = new_writer();
	edi_writer_begin(w, "N1");
	assert_int_equal(edi_writer_begin(w, "N2"), EDI_WRITE_SEQUENCE);
	finish(w);
}

static void
test_delimiters_must_be_distinct_and_allowed(void **state)
{
	edi_delimiters d;
	char why[120];
	edi_writer *w;

	edi_writer_x12_delimiters(&d, '*', '*', '~', 0, EDI_LINE_NONE);
	assert_false(edi_writer_check_delimiters(&d, why, sizeof why));
	assert_non_null(strstr(why, "both '*'"));
	edi_writer_x12_delimiters(&d, '*', ':', '*', 0, EDI_LINE_NONE);
	assert_false(edi_writer_check_delimiters(&d, why, sizeof why));
	edi_writer_x12_delimiters(&d, 'A', ':', '~', 0, EDI_LINE_NONE);
	assert_false(edi_writer_check_delimiters(&d, why, sizeof why));
	edi_writer_x12_delimiters(&d, ' ', ':', '~', 0, EDI_LINE_NONE);
	assert_false(edi_writer_check_delimiters(&d, why, sizeof why));
	edi_writer_edifact_delimiters(&d, ":+:? '", EDI_LINE_NONE);
	assert_false(edi_writer_check_delimiters(&d, why, sizeof why));
	/* Newline terminators exist in X12 files; control separators too. */
	edi_writer_x12_delimiters(&d, '*', ':', '\n', 0, EDI_LINE_NONE);
	assert_true(edi_writer_check_delimiters(&d, why, sizeof why));
	edi_writer_x12_delimiters(&d, 0x1D, 0x1F, 0x1C, 0x1E, EDI_LINE_NONE);
	assert_true(edi_writer_check_delimiters(&d, why, sizeof why));

	w = new_writer();
	edi_writer_x12_delimiters(&d, '*', '*', '~', 0, EDI_LINE_NONE);
	assert_int_equal(edi_writer_set_delimiters(w, &d),
	    EDI_WRITE_BAD_DELIMITERS);
	finish(w);
}

/* ---- output streaming --------------------------------------------------- */

struct counting_sink {
	size_t calls, bytes, largest;
	char last;
};

static int
count_bytes(void *ctx, const char *data, size_t len)
{
	struct counting_sink *c = ctx;

	c->calls++;
	c->bytes += len;
	if (len > c->largest)
		c->largest = len;
	c->last = data[len - 1];
	return 0;
}

static void
test_large_output_streams_through_a_bounded_buffer(void **state)
{
	struct counting_sink c = { 0 };
	edi_writer *w = edi_writer_new(count_bytes, &c);
	const char *v[] = { "1", "12", "EA", "3.50", "", "UP", "012345678905" };
	size_t i;

	use_x12(w, "*:~", EDI_LINE_LF);
	/* "PO1*1*12*EA*3.50**UP*012345678905~\n" is 35 bytes. */
	for (i = 0; i < 100000; i++)
		assert_int_equal(edi_writer_simple(w, "PO1", 7, v), EDI_WRITE_OK);
	assert_int_equal(edi_writer_flush(w), EDI_WRITE_OK);
	assert_int_equal(c.bytes, 3500000);
	assert_int_equal(edi_writer_byte_count(w), 3500000);
	assert_true(c.calls > 1);
	assert_true(c.largest <= 65536);
	assert_int_equal(c.last, '\n');
	edi_writer_free(w);
}

static int
refuse_bytes(void *ctx, const char *data, size_t len)
{
	return -1;
}

static void
test_sink_failure_fails_the_writer(void **state)
{
	edi_writer *w = edi_writer_new(refuse_bytes, NULL);
	const char *v[] = { "A" };

	assert_int_equal(edi_writer_simple(w, "MSG", 1, v), EDI_WRITE_OK);
	assert_int_equal(edi_writer_flush(w), EDI_WRITE_SINK);
	assert_int_equal(edi_writer_simple(w, "MSG", 1, v), EDI_WRITE_SINK);
	edi_writer_free(w);
}

static void
test_failed_output_never_reaches_the_sink(void **state)
{
	struct counting_sink c = { 0 };
	edi_writer *w = edi_writer_new(count_bytes, &c);
	const char *good[] = { "A" };
	const char *bad[] = { "A~B" };

	assert_int_equal(edi_writer_simple(w, "MSG", 1, good), EDI_WRITE_OK);
	assert_int_equal(edi_writer_simple(w, "MSG", 1, bad),
	    EDI_WRITE_DELIMITER_IN_DATA);
	assert_int_equal(edi_writer_flush(w), EDI_WRITE_DELIMITER_IN_DATA);
	assert_int_equal(c.calls, 0);
	edi_writer_free(w);
}

static void
test_null_sink_counts_and_discards(void **state)
{
	edi_writer *w = edi_writer_new(NULL, NULL);
	const char *v[] = { "A" };

	assert_int_equal(edi_writer_simple(w, "MSG", 1, v), EDI_WRITE_OK);
	assert_int_equal(edi_writer_flush(w), EDI_WRITE_OK);
	assert_int_equal(edi_writer_byte_count(w), 6);
	edi_writer_free(w);
}

static void
test_memory_sink_limit_is_kept(void **state)
{
	edi_writer *w = new_writer();
	const char *v[] = { "0123456789" };

	out.max = 10;
	assert_int_equal(edi_writer_simple(w, "MSG", 1, v), EDI_WRITE_OK);
	assert_int_equal(edi_writer_flush(w), EDI_WRITE_SINK);
	assert_int_equal(out.len, 0);
	finish(w);
}

/* ---- headers ------------------------------------------------------------ */

static void
fill_isa(edi_slice f[EDI_ISA_FIELDS], const char *version)
{
	static const char *const v[EDI_ISA_FIELDS] = { "", "00", "", "00", "",
	    "ZZ", "SENDER", "ZZ", "RECEIVER", "261123", "1000", "U", "00501",
	    "000000042", "0", "P", ":" };
	unsigned i;

	for (i = 0; i < EDI_ISA_FIELDS; i++)
		f[i] = (edi_slice){ v[i], strlen(v[i]) };
	f[12] = (edi_slice){ version, strlen(version) };
}

static void
test_isa_is_106_bytes_with_padded_fields(void **state)
{
	static const char isa[] =
	    "ISA*00*          *00*          *ZZ*SENDER         *ZZ*"
	    "RECEIVER       *261123*1000*^*00501*000000042*0*P*>~";
	edi_writer *w = new_writer();
	edi_slice f[EDI_ISA_FIELDS];

	assert_int_equal(strlen(isa), 106);
	use_x12(w, "*>~^", EDI_LINE_NONE);
	fill_isa(f, "00501");
	assert_int_equal(edi_writer_isa(w, f), EDI_WRITE_OK);
	assert_string_equal(output_of(w), isa);
	assert_int_equal(edi_writer_segment_count(w), 1);
	finish(w);
}

static void
test_isa_before_00402_has_no_repetition_separator(void **state)
{
	static const char isa[] =
	    "ISA*00*          *00*          *ZZ*SENDER         *ZZ*"
	    "RECEIVER       *261123*1000*U*00401*000000042*0*P*:~";
	edi_writer *w = new_writer();
	edi_slice f[EDI_ISA_FIELDS];
	const char *msg[] = { "A^B" };

	use_x12(w, "*:~^", EDI_LINE_NONE);
	fill_isa(f, "00401");
	assert_int_equal(edi_writer_isa(w, f), EDI_WRITE_OK);
	assert_string_equal(output_of(w), isa);
	/* '^' is data in a 4010 interchange. */
	assert_int_equal(edi_writer_simple(w, "MSG", 1, msg), EDI_WRITE_OK);
	edi_writer_begin(w, "MSG");
	edi_writer_element(w, "A");
	assert_int_equal(edi_writer_repetition(w, "B"), EDI_WRITE_NO_REPETITION);
	finish(w);
}

static void
test_isa_field_of_wrong_width_is_refused(void **state)
{
	edi_writer *w = new_writer();
	edi_slice f[EDI_ISA_FIELDS];
	const edi_write_error *e;

	use_x12(w, "*:~^", EDI_LINE_NONE);
	fill_isa(f, "00501");
	f[6] = (edi_slice){ "SIXTEEN_CHARS_ID", 16 };
	assert_int_equal(edi_writer_isa(w, f), EDI_WRITE_BAD_HEADER);
	e = edi_writer_error(w);
	assert_int_equal(e->element, 6);
	assert_int_equal(e->component, 0);
	assert_non_null(strstr(e->message,
	    "ISA (segment 1) element 6: ISA06 must be 15 characters"));
	finish(w);

	w = new_writer();
	use_x12(w, "*:~^", EDI_LINE_NONE);
	fill_isa(f, "00501");
	f[9] = (edi_slice){ "2611", 4 };
	assert_int_equal(edi_writer_isa(w, f), EDI_WRITE_BAD_HEADER);
	assert_int_equal(edi_writer_error(w)->element, 9);
	finish(w);
}

static void
test_isa_data_holding_a_separator_is_refused(void **state)
{
	edi_writer *w = new_writer();
	edi_slice f[EDI_ISA_FIELDS];

	use_x12(w, "|:~^", EDI_LINE_NONE);
	fill_isa(f, "00501");
	f[6] = (edi_slice){ "ACME|EAST", 9 };
	assert_int_equal(edi_writer_isa(w, f), EDI_WRITE_DELIMITER_IN_DATA);
	assert_int_equal(edi_writer_error(w)->element, 6);
	finish(w);
}

static void
test_una_declares_the_writer_characters(void **state)
{
	edi_writer *w = new_writer();

	use_una(w, ":+.? '", EDI_LINE_LF);
	assert_int_equal(edi_writer_una(w), EDI_WRITE_OK);
	use_una(w, "=*,! ~", EDI_LINE_NONE);
	assert_int_equal(edi_writer_una(w), EDI_WRITE_OK);
	use_una(w, ":+.?*'", EDI_LINE_NONE);
	assert_int_equal(edi_writer_una(w), EDI_WRITE_OK);
	assert_string_equal(output_of(w), "UNA:+.? '\nUNA=*,! ~UNA:+.?*'");
	finish(w);
}

/* ---- re-emitting read segments ----------------------------------------- */

static void
test_read_segment_is_unescaped_and_escaped_for_the_target(void **state)
{
	edi_writer *w = new_writer();
	struct made_segment m;
	edi_delimiters source;
	const char *ftx[] = { "FTX", "AAA", "", "", "TEXT?:WITH?+PLUS??:SECOND" };

	edi_writer_edifact_delimiters(&source, ":+.? '", EDI_LINE_NONE);
	use_una(w, "=*.? ~", EDI_LINE_NONE);
	assert_int_equal(edi_writer_segment(w, make_segment(&m, &source, 0, 5,
	    ftx)), EDI_WRITE_OK);
	assert_string_equal(output_of(w), "FTX*AAA***TEXT:WITH+PLUS?" "?=SECOND~");
	finish(w);
}

static void
test_read_segment_keeps_its_trailing_empty_parts(void **state)
{
	edi_writer *w = new_writer();
	struct made_segment m;
	edi_delimiters source;
	const char *rff[] = { "RFF", "VA:382324067:" };
	const char *n1[] = { "N1", "ST", "", "" };

	edi_writer_edifact_delimiters(&source, ":+.? '", EDI_LINE_NONE);
	use_x12(w, "*>~", EDI_LINE_NONE);
	edi_writer_segment(w, make_segment(&m, &source, 0, 2, rff));
	edi_writer_x12_delimiters(&source, '*', ':', '~', 0, EDI_LINE_NONE);
	edi_writer_segment(w, make_segment(&m, &source, 0, 4, n1));
	assert_string_equal(output_of(w), "RFF*VA>382324067>~N1*ST**~");
	finish(w);
}

static void
test_read_repetitions_are_split_again(void **state)
{
	edi_writer *w = new_writer();
	struct made_segment m;
	edi_delimiters source;
	const char *eb[] = { "EB", "1", "", "30^35:A^47" };

	edi_writer_x12_delimiters(&source, '*', ':', '~', '^', EDI_LINE_NONE);
	use_x12(w, "|!~>", EDI_LINE_NONE);
	assert_int_equal(edi_writer_segment(w, make_segment(&m, &source, 0, 4,
	    eb)), EDI_WRITE_OK);
	assert_string_equal(output_of(w), "EB|1||30>35!A>47~");
	finish(w);
}

static void
test_read_isa_is_rebuilt_with_the_new_separators(void **state)
{
	static const char isa[] =
	    "ISA|00|          |00|          |ZZ|SENDER         |ZZ|"
	    "RECEIVER       |261123|1000|>|00501|000000042|0|P|!~\r\n";
	edi_writer *w = new_writer();
	struct made_segment m;
	edi_delimiters source;
	const char *parts[] = { "ISA", "00", "          ", "00", "          ",
	    "ZZ", "SENDER         ", "ZZ", "RECEIVER       ", "261123", "1000",
	    "^", "00501", "000000042", "0", "P", ":" };

	edi_writer_x12_delimiters(&source, '*', ':', '~', '^', EDI_LINE_NONE);
	use_x12(w, "|!~>", EDI_LINE_CRLF);
	assert_int_equal(edi_writer_segment(w, make_segment(&m, &source,
	    EDI_SEGMENT_RAW, 17, parts)), EDI_WRITE_OK);
	assert_string_equal(output_of(w), isa);
	finish(w);
}

static void
test_read_una_is_written_with_the_new_characters(void **state)
{
	edi_writer *w = new_writer();
	struct made_segment m;
	edi_delimiters source;
	const char *una[] = { "UNA", ":+.? '" };

	edi_writer_edifact_delimiters(&source, ":+.? '", EDI_LINE_NONE);
	use_una(w, "=*,! ~", EDI_LINE_LF);
	assert_int_equal(edi_writer_segment(w, make_segment(&m, &source,
	    EDI_SEGMENT_RAW, 2, una)), EDI_WRITE_OK);
	assert_string_equal(output_of(w), "UNA=*,! ~\n");
	finish(w);
}

static void
test_read_value_holding_a_new_x12_delimiter_is_refused(void **state)
{
	edi_writer *w = new_writer();
	struct made_segment m;
	edi_delimiters source;
	const char *ftx[] = { "FTX", "AAI", "", "", "A:B", "X?+Y" };
	const edi_write_error *e;

	edi_writer_edifact_delimiters(&source, ":+.? '", EDI_LINE_NONE);
	use_x12(w, "+>~", EDI_LINE_NONE);
	assert_int_equal(edi_writer_segment(w, make_segment(&m, &source, 0, 6,
	    ftx)), EDI_WRITE_DELIMITER_IN_DATA);
	e = edi_writer_error(w);
	assert_string_equal(e->tag, "FTX");
	assert_int_equal(e->element, 5);
	assert_int_equal(e->component, 1);
	finish(w);
}

/* ---- envelope builder --------------------------------------------------- */

static void
x12_interchange(edi_x12_interchange *isa, const char *version)
{
	memset(isa, 0, sizeof *isa);
	isa->sender_qualifier = "ZZ";
	isa->sender_id = "SENDER";
	isa->receiver_qualifier = "ZZ";
	isa->receiver_id = "RECEIVER";
	isa->date = "20261123";
	isa->time = "1000";
	isa->version = version;
	isa->control_number = 42;
}

static void
x12_group(edi_x12_group *gs, const char *id, unsigned long control,
    const char *version)
{
	memset(gs, 0, sizeof *gs);
	gs->functional_id = id;
	gs->sender_code = "SENDERDEPT";
	gs->receiver_code = "RECEIVERDEPT";
	gs->control_number = control;
	gs->version = version;
}

static void
test_builder_writes_x12_envelope_with_counts(void **state)
{
	static const char expected[] =
	    "ISA*00*          *00*          *ZZ*SENDER         *ZZ*"
	    "RECEIVER       *261123*1000*^*00501*000000042*1*T*:~\n"
	    "GS*PO*SENDERDEPT*RECEIVERDEPT*20261123*1000*7*X*005010~\n"
	    "ST*850*0001~\n"
	    "BEG*00*SA*PO1**20261123~\n"
	    "PO1*1*12*EA*3.50**UP*012345678905~\n"
	    "SE*4*0001~\n"
	    "ST*850*0002~\n"
	    "BEG*00*SA*PO2**20261123~\n"
	    "SE*3*0002~\n"
	    "GE*2*7~\n"
	    "GS*IN*SENDERDEPT*RECEIVERDEPT*20261124*093000*8*X*005010~\n"
	    "ST*810*0003*005010X999~\n"
	    "BIG*20261124*INV1~\n"
	    "SE*3*0003~\n"
	    "GE*1*8~\n"
	    "IEA*2*000000042~\n";
	edi_writer *w = new_writer();
	edi_builder *b = edi_builder_new(w);
	edi_x12_interchange isa;
	edi_x12_group gs;
	const char *beg1[] = { "00", "SA", "PO1", "", "20261123" };
	const char *beg2[] = { "00", "SA", "PO2", "", "20261123" };
	const char *po1[] = { "1", "12", "EA", "3.50", "", "UP", "012345678905" };
	const char *big[] = { "20261124", "INV1" };

	use_x12(w, "*:~^", EDI_LINE_LF);
	x12_interchange(&isa, "00501");
	isa.ack_requested = 1;
	isa.test = 1;
	assert_int_equal(edi_builder_x12_interchange(b, &isa), EDI_WRITE_OK);
	x12_group(&gs, "PO", 7, "005010");
	assert_int_equal(edi_builder_x12_group(b, &gs), EDI_WRITE_OK);
	edi_builder_x12_set(b, "850", "0001", NULL);
	edi_writer_simple(w, "BEG", 5, beg1);
	edi_writer_simple(w, "PO1", 7, po1);
	assert_int_equal(edi_builder_message_segments(b), 3);
	edi_builder_end_message(b);
	edi_builder_x12_set(b, "850", "0002", NULL);
	edi_writer_simple(w, "BEG", 5, beg2);
	edi_builder_end_message(b);
	edi_builder_end_group(b);
	x12_group(&gs, "IN", 8, "005010");
	gs.date = "20261124";
	gs.time = "093000";
	edi_builder_x12_group(b, &gs);
	edi_builder_x12_set(b, "810", "0003", "005010X999");
	edi_writer_simple(w, "BIG", 2, big);
	edi_builder_end_message(b);
	edi_builder_end_group(b);
	assert_int_equal(edi_builder_end_interchange(b), EDI_WRITE_OK);
	assert_string_equal(output_of(w), expected);
	edi_builder_free(b);
	finish(w);
}

static void
test_builder_writes_version_dependent_x12_fields(void **state)
{
	static const char expected[] =
	    "ISA*00*          *00*          *ZZ*SENDER         *ZZ*"
	    "RECEIVER       *261123*1000*U*00401*000000042*0*P*>~"
	    "GS*PO*SENDERDEPT*RECEIVERDEPT*261123*1000*1*X*003040~"
	    "GE*0*1~"
	    "IEA*1*000000042~";
	edi_writer *w = new_writer();
	edi_builder *b = edi_builder_new(w);
	edi_x12_interchange isa;
	edi_x12_group gs;

	use_x12(w, "*>~^", EDI_LINE_NONE);
	x12_interchange(&isa, "00401");
	edi_builder_x12_interchange(b, &isa);
	/* Before 004010 GS04 is YYMMDD. */
	x12_group(&gs, "PO", 1, "003040");
	edi_builder_x12_group(b, &gs);
	edi_builder_end_group(b);
	assert_int_equal(edi_builder_end_interchange(b), EDI_WRITE_OK);
	assert_string_equal(output_of(w), expected);
	edi_builder_free(b);
	finish(w);
}

static void
unb_params(edi_edifact_interchange *unb, unsigned syntax)
{
	memset(unb, 0, sizeof *unb);
	unb->syntax_id = "UNOC";
	unb->syntax_version = syntax;
	unb->sender_id = "SENDER";
	unb->receiver_id = "RECEIVER";
	unb->date = "20261123";
	unb->time = "1000";
	unb->control_reference = "REF1";
}

static void
test_builder_writes_edifact_envelope_with_group(void **state)
{
	static const char expected[] =
	    "UNA:+.? '\n"
	    "UNB+UNOC:3+SENDER:14+RECEIVER:14+261123:1000+REF1++APP++1++1'\n"
	    "UNG+ORDERS+SENDERDEPT+RECEIVERDEPT+261123:1000+G1+UN+D:96A:EAN008'\n"
	    "UNH+M1+ORDERS:D:96A:UN:EAN008'\n"
	    "BGM+220+PO1+9'\n"
	    "DTM+137:20261123:102'\n"
	    "UNT+4+M1'\n"
	    "UNE+1+G1'\n"
	    "UNZ+1+REF1'\n";
	edi_writer *w = new_writer();
	edi_builder *b = edi_builder_new(w);
	edi_edifact_interchange unb;
	edi_edifact_group ung;
	edi_edifact_message unh;
	const char *bgm[] = { "220", "PO1", "9" };

	use_una(w, ":+.? '", EDI_LINE_LF);
	unb_params(&unb, 3);
	unb.sender_qualifier = "14";
	unb.receiver_qualifier = "14";
	unb.application_reference = "APP";
	unb.ack_requested = 1;
	unb.test = 1;
	unb.una = EDI_UNA_ALWAYS;
	assert_int_equal(edi_builder_edifact_interchange(b, &unb), EDI_WRITE_OK);
	memset(&ung, 0, sizeof ung);
	ung.group_id = "ORDERS";
	ung.sender_id = "SENDERDEPT";
	ung.receiver_id = "RECEIVERDEPT";
	ung.reference = "G1";
	ung.version = "D";
	ung.release = "96A";
	ung.association = "EAN008";
	assert_int_equal(edi_builder_edifact_group(b, &ung), EDI_WRITE_OK);
	memset(&unh, 0, sizeof unh);
	unh.reference = "M1";
	unh.type = "ORDERS";
	unh.version = "D";
	unh.release = "96A";
	unh.association = "EAN008";
	assert_int_equal(edi_builder_edifact_message(b, &unh), EDI_WRITE_OK);
	edi_writer_simple(w, "BGM", 3, bgm);
	edi_writer_begin(w, "DTM");
	edi_writer_element(w, "137");
	edi_writer_component(w, "20261123");
	edi_writer_component(w, "102");
	edi_writer_end(w);
	edi_builder_end_message(b);
	edi_builder_end_group(b);
	assert_int_equal(edi_builder_end_interchange(b), EDI_WRITE_OK);
	assert_string_equal(output_of(w), expected);
	edi_builder_free(b);
	finish(w);
}

static void
test_builder_counts_edifact_messages_without_groups(void **state)
{
	static const char expected[] =
	    "UNB+UNOC:4+SENDER+RECEIVER+20261123:1000+REF1'"
	    "UNH+1+INVOIC:D:01B:UN'"
	    "UNT+2+1'"
	    "UNH+2+INVOIC:D:01B:UN'"
	    "BGM+380+INV2'"
	    "UNT+3+2'"
	    "UNZ+2+REF1'";
	edi_writer *w = new_writer();
	edi_builder *b = edi_builder_new(w);
	edi_edifact_interchange unb;
	edi_edifact_message unh = { "1", "INVOIC", "D", "01B", NULL, NULL };
	const char *bgm[] = { "380", "INV2" };

	/* The syntax 4 defaults, '*' repetition included: no UNA needed. */
	use_una(w, ":+.?*'", EDI_LINE_NONE);
	unb_params(&unb, 4);
	edi_builder_edifact_interchange(b, &unb);
	edi_builder_edifact_message(b, &unh);
	edi_builder_end_message(b);
	unh.reference = "2";
	edi_builder_edifact_message(b, &unh);
	edi_writer_simple(w, "BGM", 2, bgm);
	edi_builder_end_message(b);
	assert_int_equal(edi_builder_end_interchange(b), EDI_WRITE_OK);
	assert_string_equal(output_of(w), expected);
	edi_builder_free(b);
	finish(w);
}

static void
test_builder_writes_una_when_delimiters_are_not_the_defaults(void **state)
{
	edi_writer *w = new_writer();
	edi_builder *b = edi_builder_new(w);
	edi_edifact_interchange unb;

	use_una(w, "=*.? ~", EDI_LINE_NONE);
	unb_params(&unb, 3);
	assert_int_equal(edi_builder_edifact_interchange(b, &unb), EDI_WRITE_OK);
	assert_string_equal(output_of(w),
	    "UNA=*.? ~UNB*UNOC=3*SENDER*RECEIVER*261123=1000*REF1~");
	edi_builder_free(b);
	finish(w);

	w = new_writer();
	b = edi_builder_new(w);
	use_una(w, "=*.? ~", EDI_LINE_NONE);
	unb.una = EDI_UNA_NEVER;
	assert_int_equal(edi_builder_edifact_interchange(b, &unb),
	    EDI_WRITE_BAD_DELIMITERS);
	edi_builder_free(b);
	finish(w);
}

static void
test_builder_refuses_malformed_parameters(void **state)
{
	edi_writer *w = new_writer();
	edi_builder *b = edi_builder_new(w);
	edi_x12_interchange isa;

	use_x12(w, "*:~^", EDI_LINE_NONE);
	x12_interchange(&isa, "00501");
	isa.sender_id = "SIXTEEN_CHARS_ID";
	assert_int_equal(edi_builder_x12_interchange(b, &isa), EDI_WRITE_BAD_VALUE);
	assert_non_null(strstr(edi_writer_error(w)->message, "ISA06 sender id"));
	assert_int_equal(edi_writer_byte_count(w), 0);
	edi_builder_free(b);
	finish(w);

	w = new_writer();
	b = edi_builder_new(w);
	use_x12(w, "*:~^", EDI_LINE_NONE);
	x12_interchange(&isa, "00501");
	isa.date = "20261323";
	assert_int_equal(edi_builder_x12_interchange(b, &isa), EDI_WRITE_BAD_VALUE);
	assert_non_null(strstr(edi_writer_error(w)->message, "ISA09"));
	edi_builder_free(b);
	finish(w);

	w = new_writer();
	b = edi_builder_new(w);
	use_x12(w, "*:~^", EDI_LINE_NONE);
	x12_interchange(&isa, "00501");
	isa.control_number = 1000000000UL;
	assert_int_equal(edi_builder_x12_interchange(b, &isa), EDI_WRITE_BAD_VALUE);
	edi_builder_free(b);
	finish(w);
}

static void
test_builder_needs_a_repetition_separator_from_00402(void **state)
{
	edi_writer *w = new_writer();
	edi_builder *b = edi_builder_new(w);
	edi_x12_interchange isa;

	use_x12(w, "*:~", EDI_LINE_NONE);
	x12_interchange(&isa, "00501");
	assert_int_equal(edi_builder_x12_interchange(b, &isa),
	    EDI_WRITE_BAD_DELIMITERS);
	edi_builder_free(b);
	finish(w);
}

static void
test_builder_refuses_envelopes_out_of_order(void **state)
{
	edi_writer *w = new_writer();
	edi_builder *b = edi_builder_new(w);
	edi_x12_interchange isa;
	edi_edifact_interchange unb;
	edi_edifact_group ung = { "ORDERS", "S", NULL, "R", NULL, NULL, NULL,
	    "G1", NULL, "D", "96A", NULL };
	edi_edifact_message unh = { "1", "ORDERS", "D", "96A", NULL, NULL };

	use_x12(w, "*:~^", EDI_LINE_NONE);
	x12_interchange(&isa, "00501");
	edi_builder_x12_interchange(b, &isa);
	/* A transaction set outside a functional group. */
	assert_int_equal(edi_builder_x12_set(b, "850", "0001", NULL),
	    EDI_WRITE_SEQUENCE);
	edi_builder_free(b);
	finish(w);

	w = new_writer();
	b = edi_builder_new(w);
	use_x12(w, "*:~^", EDI_LINE_NONE);
	assert_int_equal(edi_builder_end_group(b), EDI_WRITE_SEQUENCE);
	edi_builder_free(b);
	finish(w);

	/* EDIFACT: groups and bare messages do not mix. */
	w = new_writer();
	b = edi_builder_new(w);
	use_una(w, ":+.? '", EDI_LINE_NONE);
	unb_params(&unb, 3);
	edi_builder_edifact_interchange(b, &unb);
	edi_builder_edifact_message(b, &unh);
	edi_builder_end_message(b);
	assert_int_equal(edi_builder_edifact_group(b, &ung), EDI_WRITE_SEQUENCE);
	edi_builder_free(b);
	finish(w);

	/* X12 envelope with EDIFACT delimiters. */
	w = new_writer();
	b = edi_builder_new(w);
	use_una(w, ":+.? '", EDI_LINE_NONE);
	x12_interchange(&isa, "00401");
	assert_int_equal(edi_builder_x12_interchange(b, &isa),
	    EDI_WRITE_BAD_DELIMITERS);
	edi_builder_free(b);
	finish(w);
}

/* ---- rewrite options ---------------------------------------------------- */

static void
test_rewrite_options_are_parsed_in_documented_order(void **state)
{
	edi_rewrite_options o;
	char why[160];

	memset(&o, 0, sizeof o);
	assert_true(edi_rewrite_parse_x12(&o, "|!\\n>", why, sizeof why));
	assert_int_equal(o.x12_element, '|');
	assert_int_equal(o.x12_component, '!');
	assert_int_equal(o.x12_terminator, '\n');
	assert_int_equal(o.x12_repetition, '>');
	assert_true(edi_rewrite_parse_x12(&o, "*:~", why, sizeof why));
	assert_int_equal(o.x12_repetition, 0);
	assert_false(edi_rewrite_parse_x12(&o, "*:", why, sizeof why));
	assert_false(edi_rewrite_parse_x12(&o, "**~", why, sizeof why));
	assert_true(edi_rewrite_parse_una(&o, "=*,! ~", why, sizeof why));
	assert_memory_equal(o.una, "=*,! ~", 6);
	assert_false(edi_rewrite_parse_una(&o, ":+.? ", why, sizeof why));
	assert_false(edi_rewrite_parse_una(&o, ":+x? '", why, sizeof why));
}

/* Rewrites a string in-process, as `edigate rewrite` does a file; the
 * writer's message, if it failed, is kept in last_rewrite_error. */
static char last_rewrite_error[400];
static char *
rewrite_string(const char *input, const edi_rewrite_options *o,
    edi_write_status *status);

static void
test_rewrite_applies_each_standard_its_own_option(void **state)
{
	static const char input[] =
	    "UNB+UNOA:3+S+R+240101:1200+7'UNH+1+INVOIC:D:01B:UN'"
	    "FTX+AAI+++A*B?+C'UNT+3+1'UNZ+1+7'\n"
	    "ISA*00*          *00*          *ZZ*SENDERID       *ZZ*"
	    "RECEIVERID     *240101*1200*^*00501*000000002*0*T*:~\n"
	    "GS*IN*S*R*20240101*1200*2*X*005010~\nIEA*1*000000002~\n";
	static const char expected[] =
	    "UNA=/.?*\"UNB/UNOA=3/S/R/240101=1200/7\"UNH/1/INVOIC=D=01B=UN\""
	    "FTX/AAI///A?*B+C\"UNT/3/1\"UNZ/1/7\""
	    "ISA|00|          |00|          |ZZ|SENDERID       |ZZ|"
	    "RECEIVERID     |240101|1200|^|00501|000000002|0|T|!~"
	    "GS|IN|S|R|20240101|1200|2|X|005010~IEA|1|000000002~";
	edi_rewrite_options o;
	edi_write_status status;
	char why[160];
	char *text;

	memset(&o, 0, sizeof o);
	assert_true(edi_rewrite_parse_x12(&o, "|!~", why, sizeof why));
	assert_true(edi_rewrite_parse_una(&o, "=/.?*\"", why, sizeof why));
	o.line_style = EDI_LINE_NONE;
	text = rewrite_string(input, &o, &status);
	assert_int_equal(status, EDI_WRITE_OK);
	assert_string_equal(text, expected);
	free(text);
}

static void
test_rewrite_without_options_keeps_delimiters_and_lines(void **state)
{
	static const char input[] =
	    "UNA:+,? '\r\nUNB+UNOC:3+S+R+240101:1200+7'\r\nUNZ+0+7'\r\n"
	    "UNB+UNOC:4+S+R+20240101:1200+8'UNZ+0+8'";
	edi_write_status status;
	char *text = rewrite_string(input, NULL, &status);

	assert_int_equal(status, EDI_WRITE_OK);
	assert_string_equal(text, input);
	free(text);
}

static void
test_rewrite_gives_an_interchange_without_unb_a_una(void **state)
{
	/* The reader rejects the UNB's tag but reads the rest. */
	static const char input[] =
	    "UNB UNOC:3+S+R+261123:1000+1'UNH+1+ORDERS:D:96A:UN'UNT+2+1'"
	    "UNZ+1+1'";
	edi_write_status status;
	char *text = rewrite_string(input, NULL, &status);

	assert_int_equal(status, EDI_WRITE_OK);
	assert_string_equal(text,
	    "UNA:+.? 'UNH+1+ORDERS:D:96A:UN'UNT+2+1'UNZ+1+1'");
	free(text);
}

static void
test_rewrite_explains_a_clash_with_the_kept_repetition_separator(void **state)
{
	static const char input[] =
	    "ISA*00*          *00*          *ZZ*SENDERID       *ZZ*"
	    "RECEIVERID     *240101*1200*^*00501*000000002*0*T*:~"
	    "IEA*0*000000002~";
	edi_rewrite_options o;
	edi_write_status status;
	char why[160];
	char *text;

	memset(&o, 0, sizeof o);
	assert_true(edi_rewrite_parse_x12(&o, "*:^", why, sizeof why));
	o.line_style = EDI_REWRITE_KEEP_LINES;
	text = rewrite_string(input, &o, &status);
	assert_int_equal(status, EDI_WRITE_BAD_DELIMITERS);
	assert_non_null(strstr(last_rewrite_error,
	    "repetition separator '^' equals the terminator"));
	assert_non_null(strstr(last_rewrite_error, "fourth character"));
	assert_string_equal(text, "");
	free(text);
}

static void
test_rewrite_refuses_repetitions_a_una_cannot_carry(void **state)
{
	static const char input[] =
	    "UNB+UNOC:4+S+R+20240101:1200+8'UNH+1+INVOIC:D:01B:UN'"
	    "IMD+F++:::A*B'UNT+3+1'UNZ+1+8'";
	edi_rewrite_options o;
	edi_write_status status;
	char why[160];
	char *text;

	memset(&o, 0, sizeof o);
	assert_true(edi_rewrite_parse_una(&o, ":+.? '", why, sizeof why));
	o.line_style = EDI_REWRITE_KEEP_LINES;
	text = rewrite_string(input, &o, &status);
	assert_int_equal(status, EDI_WRITE_NO_REPETITION);
	free(text);
}

/* ---- round trips through the reader ------------------------------------- */

/* What a reading of some bytes delivered, in a form two readings compare:
 * values unescaped, so that a needless release ("?*" in syntax 3) the
 * writer does not repeat makes no difference. */
struct reading {
	char *text;
	size_t len, cap;
	size_t segments, errors, isa_errors, delimiter_errors;
	int mask_headers; /* ISA separators and UNA differ by design */
};

static void
put(struct reading *r, const char *p, size_t n)
{
	if (r->len + n + 1 > r->cap) {
		r->cap = (r->len + n + 1) * 2;
		r->text = realloc(r->text, r->cap);
		assert_non_null(r->text);
	}
	memcpy(r->text + r->len, p, n);
	r->len += n;
	r->text[r->len] = '\0';
}

static void
put_string(struct reading *r, const char *s)
{
	put(r, s, strlen(s));
}

/* A value as its length and bytes, so no data can fake a boundary. */
static void
put_value_of(struct reading *r, edi_slice v, char release)
{
	char head[24], *buf;
	size_t n = edi_unescape(v, release, NULL, 0);

	buf = malloc(n + 1);
	assert_non_null(buf);
	edi_unescape(v, release, buf, n);
	snprintf(head, sizeof head, "%zu'", n);
	put_string(r, head);
	put(r, buf, n);
	free(buf);
}

/* ISA fields: trailing spaces are padding, which the writer restores when
 * a malformed ISA lacked it. */
static void
describe_isa(struct reading *r, const edi_segment *s)
{
	size_t e;

	put_string(r, "ISA");
	for (e = 1; e < s->element_count; e++) {
		edi_slice v = s->elements[e];

		put_string(r, "|");
		/* From 00402 ISA11 is a separator, even where the input
		 * left it 'U' and the rewrite was given one. */
		if (r->mask_headers && (e == 16 || (e == 11 &&
		    s->element_count > 12 && s->elements[12].len == 5 &&
		    memcmp(s->elements[12].ptr, "00402", 5) >= 0))) {
			put_string(r, "<separator>");
			continue;
		}
		while (v.len > 0 && v.ptr[v.len - 1] == ' ')
			v.len--;
		put_value_of(r, v, 0);
	}
	put_string(r, "\n");
}

static int
on_read_segment(void *ctx, const edi_segment *s)
{
	struct reading *r = ctx;
	const edi_delimiters *d = s->delimiters;
	size_t e;

	r->segments++;
	if (s->flags & EDI_SEGMENT_RAW) {
		if (edi_slice_eq(s->elements[0], "ISA")) {
			describe_isa(r, s);
		} else if (!r->mask_headers) {
			for (e = 0; e < s->element_count; e++)
				put_value_of(r, s->elements[e], 0);
			put_string(r, "\n");
		}
		return 0;
	}
	put(r, s->elements[0].ptr, s->elements[0].len);
	for (e = 1; e < s->element_count; e++) {
		edi_splitter reps, comps;
		edi_slice rep, comp;
		int first_rep = 1;

		put_string(r, "|");
		edi_split_init(&reps, s->elements[e], d->repetition, d->release);
		while (edi_split_next(&reps, &rep)) {
			int first_comp = 1;

			if (!first_rep)
				put_string(r, "^");
			first_rep = 0;
			edi_split_init(&comps, rep, d->component, d->release);
			while (edi_split_next(&comps, &comp)) {
				if (!first_comp)
					put_string(r, ":");
				first_comp = 0;
				put_value_of(r, comp, d->release);
			}
		}
	}
	put_string(r, "\n");
	return 0;
}

static void
on_read_error(void *ctx, const edi_error *e)
{
	struct reading *r = ctx;

	if (e->severity != EDI_SEVERITY_ERROR)
		return;
	r->errors++;
	if (e->code == EDI_ERR_ISA_LENGTH)
		r->isa_errors++;
	if (e->code == EDI_ERR_DELIMITERS)
		r->delimiter_errors++;
}

static void
read_all(struct reading *r, const char *data, size_t len, int mask_headers)
{
	edi_reader_callbacks cb = { on_read_segment, on_read_error };
	edi_reader *reader = edi_reader_new(&cb, r, NULL);

	assert_non_null(reader);
	memset(r, 0, sizeof *r);
	r->mask_headers = mask_headers;
	put_string(r, "");
	edi_reader_feed(reader, data, len);
	edi_reader_finish(reader);
	edi_reader_free(reader);
}

struct rewrite_run {
	edi_rewriter *rewriter;
	edi_write_status status;
};

static int
on_rewrite_segment(void *ctx, const edi_segment *s)
{
	struct rewrite_run *run = ctx;

	run->status = edi_rewrite_segment(run->rewriter, s);
	return run->status != EDI_WRITE_OK;
}

/* Rewrites data into out; returns the writer's status. */
static edi_write_status
rewrite_all(const char *data, size_t len, const edi_rewrite_options *o,
    const edi_write_error **error, edi_writer **writer)
{
	edi_reader_callbacks cb = { on_rewrite_segment, NULL };
	struct rewrite_run run;
	edi_reader *reader;
	edi_writer *w = new_writer();

	run.rewriter = edi_rewrite_new(w, o);
	run.status = EDI_WRITE_OK;
	reader = edi_reader_new(&cb, &run, NULL);
	assert_non_null(reader);
	edi_reader_feed(reader, data, len);
	edi_reader_finish(reader);
	edi_reader_free(reader);
	edi_rewrite_free(run.rewriter);
	if (run.status == EDI_WRITE_OK)
		run.status = edi_writer_flush(w);
	*error = edi_writer_error(w);
	*writer = w;
	return run.status;
}

static char *
rewrite_string(const char *input, const edi_rewrite_options *o,
    edi_write_status *status)
{
	const edi_write_error *error;
	edi_writer *w;
	char *text;

	*status = rewrite_all(input, strlen(input), o, &error, &w);
	snprintf(last_rewrite_error, sizeof last_rewrite_error, "%s",
	    error ? error->message : "");
	text = strdup(out.data ? out.data : "");
	assert_non_null(text);
	finish(w);
	return text;
}

/*
 * Reads a file, rewrites it with o, reads the result, and compares the
 * segments. With other delimiters the ISA separators and the UNA differ
 * by design and are left out. Only an ISA or delimiters the reader
 * already found malformed may be refused.
 */
static void
check_round_trip(const char *path, const edi_rewrite_options *o,
    size_t *checked)
{
	struct reading before, after;
	const edi_write_error *error;
	edi_writer *w;
	size_t len;
	char *data = test_read_file(path, &len);
	edi_write_status status;

	assert_non_null(data);
	read_all(&before, data, len, o != NULL);
	status = rewrite_all(data, len, o, &error, &w);
	if (status != EDI_WRITE_OK) {
		if (!(status == EDI_WRITE_BAD_HEADER && before.isa_errors > 0) &&
		    !(status == EDI_WRITE_BAD_DELIMITERS &&
		    before.delimiter_errors > 0))
			fail_msg("%s: rewrite failed: %s %s", path,
			    edi_write_status_name(status),
			    error ? error->message : "");
	} else {
		read_all(&after, out.data ? out.data : "", out.len, o != NULL);
		if (strcmp(before.text, after.text) != 0) {
			print_message("input %s\n--- read before\n%s--- read after\n"
			    "%s", path, before.text, after.text);
			fail_msg("%s: segments differ after rewrite", path);
		}
		if (before.errors == 0 && after.errors != 0)
			fail_msg("%s: rewrite of a clean input reads with %zu "
			    "errors", path, after.errors);
		free(after.text);
		(*checked)++;
	}
	finish(w);
	free(before.text);
	free(data);
}

static size_t
list_inputs(char ***paths)
{
	char dir[4096];
	const char *corpus = test_corpus_dir();
	size_t n;

	*paths = NULL;
	snprintf(dir, sizeof dir, "%s/tests/fixtures", test_srcdir());
	n = test_list_files(dir, ".edi", paths, 0);
	if (corpus != NULL)
		n = test_list_files(corpus, ".edi", paths, n);
	else
		print_message("corpus not found (EDIGATE_CORPUS): "
		    "fixtures only\n");
	return n;
}

static void
test_rewrite_with_same_delimiters_reads_identical_segments(void **state)
{
	char **paths;
	size_t i, n = list_inputs(&paths), checked = 0;

	assert_true(n > 0);
	for (i = 0; i < n; i++)
		check_round_trip(paths[i], NULL, &checked);
	assert_true(checked > 0);
	test_free_list(paths, n);
}

static void
test_rewrite_with_other_delimiters_reads_identical_values(void **state)
{
	edi_rewrite_options sets[3];
	char why[160];
	char **paths;
	size_t i, k, n = list_inputs(&paths), checked = 0;

	memset(sets, 0, sizeof sets);
	/* Characters found in no sample's data, control ones included. */
	assert_true(edi_rewrite_parse_x12(&sets[0], "}{\x1c\x1d", why, sizeof why));
	assert_true(edi_rewrite_parse_una(&sets[0], "{}.!`~", why, sizeof why));
	sets[0].line_style = EDI_LINE_CRLF;
	assert_true(edi_rewrite_parse_x12(&sets[1], "+\\\\\\n", why, sizeof why));
	assert_true(edi_rewrite_parse_una(&sets[1], "|*,\\\\\x1d\x1c", why,
	    sizeof why));
	sets[1].line_style = EDI_LINE_NONE;
	/* The syntax 4 defaults: a UNA and released '*' for syntax 3. */
	assert_true(edi_rewrite_parse_una(&sets[2], ":+.?*'", why, sizeof why));
	sets[2].line_style = EDI_LINE_LF;
	for (k = 0; k < 3; k++)
		for (i = 0; i < n; i++)
			check_round_trip(paths[i], &sets[k], &checked);
	assert_true(checked > 0);
	test_free_list(paths, n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_elements_are_joined_by_the_element_separator),
		cmocka_unit_test(test_trailing_empty_elements_are_dropped_and_inner_ones_kept),
		cmocka_unit_test(test_trailing_empty_components_and_repetitions_are_dropped),
		cmocka_unit_test(test_segment_of_empty_elements_is_its_tag),
		cmocka_unit_test(test_repetitions_use_the_repetition_separator),
		cmocka_unit_test(test_line_style_follows_each_terminator),
		cmocka_unit_test(test_edifact_delimiters_in_data_are_released),
		cmocka_unit_test(test_edifact_syntax_3_leaves_asterisk_alone),
		cmocka_unit_test(test_edifact_line_breaks_in_data_are_released),
		cmocka_unit_test(test_x12_element_separator_in_data_is_refused_with_position),
		cmocka_unit_test(test_x12_component_separator_in_component_is_refused),
		cmocka_unit_test(test_x12_terminator_and_repetition_in_data_are_refused),
		cmocka_unit_test(test_control_characters_in_data_are_refused),
		cmocka_unit_test(test_utf8_terminator_is_matched_whole),
		cmocka_unit_test(test_failure_is_kept_until_reset),
		cmocka_unit_test(test_repetition_without_separator_is_refused),
		cmocka_unit_test(test_bad_tags_are_refused),
		cmocka_unit_test(test_calls_out_of_order_are_refused),
		cmocka_unit_test(test_delimiters_must_be_distinct_and_allowed),
		cmocka_unit_test(test_large_output_streams_through_a_bounded_buffer),
		cmocka_unit_test(test_sink_failure_fails_the_writer),
		cmocka_unit_test(test_failed_output_never_reaches_the_sink),
		cmocka_unit_test(test_null_sink_counts_and_discards),
		cmocka_unit_test(test_memory_sink_limit_is_kept),
		cmocka_unit_test(test_isa_is_106_bytes_with_padded_fields),
		cmocka_unit_test(test_isa_before_00402_has_no_repetition_separator),
		cmocka_unit_test(test_isa_field_of_wrong_width_is_refused),
		cmocka_unit_test(test_isa_data_holding_a_separator_is_refused),
		cmocka_unit_test(test_una_declares_the_writer_characters),
		cmocka_unit_test(test_read_segment_is_unescaped_and_escaped_for_the_target),
		cmocka_unit_test(test_read_segment_keeps_its_trailing_empty_parts),
		cmocka_unit_test(test_read_repetitions_are_split_again),
		cmocka_unit_test(test_read_isa_is_rebuilt_with_the_new_separators),
		cmocka_unit_test(test_read_una_is_written_with_the_new_characters),
		cmocka_unit_test(test_read_value_holding_a_new_x12_delimiter_is_refused),
		cmocka_unit_test(test_builder_writes_x12_envelope_with_counts),
		cmocka_unit_test(test_builder_writes_version_dependent_x12_fields),
		cmocka_unit_test(test_builder_writes_edifact_envelope_with_group),
		cmocka_unit_test(test_builder_counts_edifact_messages_without_groups),
		cmocka_unit_test(test_builder_writes_una_when_delimiters_are_not_the_defaults),
		cmocka_unit_test(test_builder_refuses_malformed_parameters),
		cmocka_unit_test(test_builder_needs_a_repetition_separator_from_00402),
		cmocka_unit_test(test_builder_refuses_envelopes_out_of_order),
		cmocka_unit_test(test_rewrite_options_are_parsed_in_documented_order),
		cmocka_unit_test(test_rewrite_applies_each_standard_its_own_option),
		cmocka_unit_test(test_rewrite_without_options_keeps_delimiters_and_lines),
		cmocka_unit_test(test_rewrite_gives_an_interchange_without_unb_a_una),
		cmocka_unit_test(test_rewrite_explains_a_clash_with_the_kept_repetition_separator),
		cmocka_unit_test(test_rewrite_refuses_repetitions_a_una_cannot_carry),
		cmocka_unit_test(test_rewrite_with_same_delimiters_reads_identical_segments),
		cmocka_unit_test(test_rewrite_with_other_delimiters_reads_identical_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
