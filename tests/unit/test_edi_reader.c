/*
 * Unit tests of translators/edi_reader: delimiters, positions, errors, and
 * the promise that chunking never changes what the reader reports.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "edi_reader.h"
#include "test_util.h"

/* ---- a transcript of everything the reader reports ---------------------- */

struct transcript {
	char *text;
	size_t len, cap;
	size_t segments, errors, warnings;
	int stop_after;          /* stop after this many segments, 0 = never */
	edi_error last_error;
	edi_delimiters last_delimiters;
};

static void
append(struct transcript *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = t->cap - t->len;
		va_start(ap, fmt);
		n = vsnprintf(t->text ? t->text + t->len : NULL, room, fmt, ap);
		va_end(ap);
		if ((size_t)n < room)
			break;
		t->cap = (t->cap + (size_t)n + 1) * 2;
		t->text = realloc(t->text, t->cap);
		assert_non_null(t->text);
	}
	t->len += (size_t)n;
}

static int
on_segment(void *ctx, const edi_segment *s)
{
	struct transcript *t = ctx;
	const edi_delimiters *d = s->delimiters;
	size_t i;

	t->segments++;
	t->last_delimiters = *d;
	append(t, "S %llu off=%llu line=%llu ic=%zu fl=%u std=%d "
	    "d=%02x%02x%02x%02x%02x/%.*s/%.*s|",
	    (unsigned long long)s->index, (unsigned long long)s->offset,
	    (unsigned long long)s->line, s->interchange, s->flags,
	    d->standard, (unsigned char)d->element,
	    (unsigned char)d->component, (unsigned char)d->repetition,
	    (unsigned char)d->release, (unsigned char)d->decimal,
	    (int)d->terminator_len, d->terminator, (int)d->suffix_len,
	    d->suffix);
	for (i = 0; i < s->element_count; i++)
		append(t, "%s%.*s", i ? "|" : "", (int)s->elements[i].len,
		    s->elements[i].ptr);
	append(t, "\n");
	if (t->stop_after && t->segments >= (size_t)t->stop_after)
		return 1;
	return 0;
}

static void
on_error(void *ctx, const edi_error *e)
{
	struct transcript *t = ctx;

	if (e->severity == EDI_SEVERITY_ERROR)
		t->errors++;
	else
		t->warnings++;
	t->last_error = *e;
	append(t, "E %s sev=%d off=%llu line=%llu seg=%llu el=%u comp=%u %s\n",
	    edi_error_code_name(e->code), e->severity,
	    (unsigned long long)e->offset, (unsigned long long)e->line,
	    (unsigned long long)e->segment_index, e->element, e->component,
	    e->message);
}

/* Reads data in chunks of `chunk` bytes (0 = all at once). */
static void
read_chunked(struct transcript *t, const char *data, size_t len, size_t chunk,
    const edi_reader_limits *limits)
{
	edi_reader_callbacks cb = { on_segment, on_error };
	edi_reader *r = edi_reader_new(&cb, t, limits);
	size_t pos = 0;

	assert_non_null(r);
	if (chunk == 0)
		chunk = len ? len : 1;
	while (pos < len) {
		size_t n = len - pos < chunk ? len - pos : chunk;
		if (edi_reader_feed(r, data + pos, n) == EDI_ERR_STOPPED)
			break;
		pos += n;
	}
	edi_reader_finish(r);
	edi_reader_free(r);
}

static void
transcript_free(struct transcript *t)
{
	free(t->text);
	memset(t, 0, sizeof(*t));
}

static struct transcript
read_all(const char *data, const edi_reader_limits *limits)
{
	struct transcript t;

	memset(&t, 0, sizeof(t));
	read_chunked(&t, data, strlen(data), 0, limits);
	if (t.text == NULL)
		append(&t, "%s", "");
	return t;
}

static void
assert_same_any_chunking(const char *name, const char *data, size_t len,
    const edi_reader_limits *limits)
{
	static const size_t chunks[] = { 1, 2, 3, 7, 64, 105, 106, 107, 4096 };
	struct transcript whole, part;
	size_t i;

	memset(&whole, 0, sizeof(whole));
	read_chunked(&whole, data, len, 0, limits);
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		memset(&part, 0, sizeof(part));
		read_chunked(&part, data, len, chunks[i], limits);
		if (whole.len != part.len ||
		    (whole.len && memcmp(whole.text, part.text, whole.len))) {
			print_error("%s: chunks of %zu differ from whole input\n"
			    "--- whole\n%s--- chunked\n%s", name, chunks[i],
			    whole.text ? whole.text : "",
			    part.text ? part.text : "");
			fail();
		}
		transcript_free(&part);
	}
	transcript_free(&whole);
}

/* ---- chunking ----------------------------------------------------------- */

static void
check_files_in(const char *dir)
{
	char **paths = NULL;
	size_t n = test_list_files(dir, ".edi", &paths, 0), i;

	for (i = 0; i < n; i++) {
		size_t len;
		char *data = test_read_file(paths[i], &len);
		assert_non_null(data);
		assert_same_any_chunking(paths[i], data, len, NULL);
		free(data);
	}
	test_free_list(paths, n);
}

static void
test_fixtures_read_the_same_in_any_chunk_size(void **state)
{
	char dir[4096];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/tests/fixtures", test_srcdir());
	check_files_in(dir);
}

static void
test_corpus_reads_the_same_in_any_chunk_size(void **state)
{
	const char *dir = test_corpus_dir();

	(void)state;
	if (dir == NULL)
		skip();
	check_files_in(dir);
}

/* Random bytes, random EDI-like bytes: no crash, and chunking invisible. */
static void
test_random_input_reads_the_same_in_any_chunk_size(void **state)
{
	static const char alphabet[] = "ISAUNBZ*~:^'+?\r\n 0123";
	edi_reader_limits limits = { 600, 40 };
	uint32_t seed = 12345;
	char buf[3000];
	int round;
	size_t i;

	(void)state;
	for (round = 0; round < 60; round++) {
		int binary = round % 3 == 0;
		size_t len = 200 + (size_t)(round * 47) % 2800;
		for (i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = binary ? (char)(seed >> 16) :
			    alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		/* Give some rounds a real header to get past the ISA. */
		if (round % 2 == 1 && len > 200)
			memcpy(buf, "ISA*00*          *00*          *ZZ*A          "
			    "    *ZZ*B              *240101*1200*^*00501*"
			    "000000001*0*P*:~", 106);
		assert_same_any_chunking("random", buf, len, &limits);
		assert_same_any_chunking("random", buf, len, NULL);
	}
}

/* ---- X12 ---------------------------------------------------------------- */

#define ISA_5010 "ISA*00*          *00*          *ZZ*SENDER         " \
	"*ZZ*RECEIVER       *240101*1200*^*00501*000000001*0*P*:~"
#define ISA_4010 "ISA*00*          *00*          *ZZ*SENDER         " \
	"*ZZ*RECEIVER       *240101*1200*U*00401*000000001*0*P*>~"

static void
test_isa_gives_x12_delimiters(void **state)
{
	struct transcript t = read_all(ISA_5010 "GS*PO*S*R*20240101*1200*1*X*005010~", NULL);

	(void)state;
	assert_int_equal(t.segments, 2);
	assert_int_equal(t.errors, 0);
	assert_int_equal(t.last_delimiters.standard, EDI_STANDARD_X12);
	assert_int_equal(t.last_delimiters.element, '*');
	assert_int_equal(t.last_delimiters.component, ':');
	assert_int_equal(t.last_delimiters.repetition, '^');
	assert_int_equal(t.last_delimiters.terminator_len, 1);
	assert_int_equal(t.last_delimiters.terminator[0], '~');
	assert_int_equal(t.last_delimiters.release, 0);
	transcript_free(&t);
}

static void
test_isa11_is_no_repetition_separator_before_00402(void **state)
{
	const char *isa = "ISA*00*          *00*          *ZZ*SENDER         "
	    "*ZZ*RECEIVER       *240101*1200*^*00401*000000001*0*P*:~";
	struct transcript t = read_all(isa, NULL);

	(void)state;
	assert_int_equal(t.segments, 1);
	assert_int_equal(t.last_delimiters.repetition, 0);
	transcript_free(&t);
}

static void
test_isa_elements_are_raw_and_numbered_from_one(void **state)
{
	struct transcript t = read_all(ISA_5010, NULL);

	(void)state;
	/* ISA11 '^' and ISA16 ':' stay whole; ISA06 keeps its padding. */
	assert_non_null(strstr(t.text, "|ISA|00|          |00|          |ZZ|"
	    "SENDER         |ZZ|RECEIVER       |240101|1200|^|00501|"
	    "000000001|0|P|:\n"));
	assert_non_null(strstr(t.text, "fl=1 "));
	transcript_free(&t);
}

static void
test_isa_short_fields_are_reported_but_read(void **state)
{
	struct transcript t = read_all("ISA*00**00**ZZ*S*ZZ*R*240101*1200*U*"
	    "00401*1*0*P*>~GS*PO*S*R*20240101*1200*1*X*004010~", NULL);

	(void)state;
	assert_int_equal(t.errors, 1);
	assert_int_equal(t.last_error.code, EDI_ERR_ISA_LENGTH);
	assert_int_equal(t.last_error.offset, 0);
	assert_int_equal(t.segments, 2);
	transcript_free(&t);
}

static void
test_isa_cut_short_by_end_of_input_is_truncated(void **state)
{
	struct transcript t = read_all("ISA*00*          *00*      ", NULL);

	(void)state;
	assert_int_equal(t.segments, 0);
	assert_int_equal(t.errors, 1);
	assert_int_equal(t.last_error.code, EDI_ERR_TRUNCATED);
	transcript_free(&t);
}

static void
test_isa_with_same_delimiter_twice_is_reported(void **state)
{
	const char *isa = "ISA*00*          *00*          *ZZ*SENDER         "
	    "*ZZ*RECEIVER       *240101*1200*^*00501*000000001*0*P*~~";
	struct transcript t = read_all(isa, NULL);

	(void)state;
	assert_int_equal(t.last_error.code, EDI_ERR_DELIMITERS);
	transcript_free(&t);
}

static void
test_segment_positions_count_bytes_lines_and_segments(void **state)
{
	struct transcript t = read_all(ISA_5010 "\r\nGS*PO~\r\n\r\nST*850*1~", NULL);

	(void)state;
	/* ISA is 106 bytes, then CRLF: GS at 108 on line 2; a blank line;
	 * ST at 108 + 6 + 4 = 118 on line 4. */
	assert_non_null(strstr(t.text, "S 2 off=108 line=2 "));
	assert_non_null(strstr(t.text, "S 3 off=118 line=4 "));
	assert_non_null(strstr(t.text, "/~/\r\n|"));
	transcript_free(&t);
}

static void
test_newline_terminator_and_indentation(void **state)
{
	struct transcript t = read_all(
	    "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER"
	    "       *240101*1200*U*00401*000000001*0*P*>\n"
	    "  GS*PO*S*R*20240101*1200*1*X*004010\n\n"
	    "    ST*850*0001\r\n", NULL);

	(void)state;
	assert_int_equal(t.errors, 0);
	assert_int_equal(t.segments, 3);
	assert_non_null(strstr(t.text, "S 2 off=108 line=2 "));
	assert_non_null(strstr(t.text, "|GS|PO|S|R|20240101|1200|1|X|004010\n"));
	assert_non_null(strstr(t.text, "S 3 off=148 line=4 "));
	assert_non_null(strstr(t.text, "|ST|850|0001\n"));
	transcript_free(&t);
}

static void
test_line_breaks_inside_a_segment_are_removed(void **state)
{
	struct transcript t = read_all(ISA_4010 "BEG*00*SA*PO\n12*\r\n*20240101~"
	    "REF*DP*1~", NULL);

	(void)state;
	assert_int_equal(t.errors, 0);
	assert_non_null(strstr(t.text, "|BEG|00|SA|PO12||20240101\n"));
	/* REF starts on line 3: two LF bytes before it. */
	assert_non_null(strstr(t.text, "line=3 "));
	transcript_free(&t);
}

static void
test_utf8_ellipsis_terminator(void **state)
{
	const char *data = "ISA*00*          *00*          *ZZ*SENDER         "
	    "*ZZ*RECEIVER       *240101*1200*U*00401*000000001*0*P*>"
	    "\xe2\x80\xa6\nGS*PO*S\xe2\x80\xa6\nST*850*1\xe2\x80\xa6";
	struct transcript t = read_all(data, NULL);

	(void)state;
	assert_int_equal(t.errors, 0);
	assert_int_equal(t.segments, 3);
	assert_int_equal(t.last_delimiters.terminator_len, 3);
	assert_non_null(strstr(t.text, "|GS|PO|S\n"));
	assert_non_null(strstr(t.text, "|ST|850|1\n"));
	transcript_free(&t);
}

static void
test_missing_last_terminator_is_a_warning(void **state)
{
	struct transcript t = read_all(ISA_4010 "IEA*1*000000001", NULL);

	(void)state;
	assert_int_equal(t.segments, 2);
	assert_int_equal(t.errors, 0);
	assert_int_equal(t.warnings, 1);
	assert_int_equal(t.last_error.code, EDI_ERR_MISSING_TERMINATOR);
	transcript_free(&t);
}

/* ---- EDIFACT ------------------------------------------------------------ */

static void
test_edifact_defaults_without_una(void **state)
{
	struct transcript t = read_all("UNB+UNOA:3+S+R+240101:1200+1'UNH+1+"
	    "ORDERS:D:96A:UN'", NULL);

	(void)state;
	assert_int_equal(t.errors, 0);
	assert_int_equal(t.segments, 2);
	assert_int_equal(t.last_delimiters.standard, EDI_STANDARD_EDIFACT);
	assert_int_equal(t.last_delimiters.element, '+');
	assert_int_equal(t.last_delimiters.component, ':');
	assert_int_equal(t.last_delimiters.release, '?');
	assert_int_equal(t.last_delimiters.repetition, 0);
	assert_int_equal(t.last_delimiters.terminator[0], '\'');
	transcript_free(&t);
}

static void
test_syntax_version_4_repetition_separator(void **state)
{
	struct transcript t = read_all("UNB+UNOC:4+S+R+20240101:1200+1'", NULL);

	(void)state;
	assert_int_equal(t.last_delimiters.repetition, '*');
	transcript_free(&t);
}

static void
test_una_sets_all_delimiters(void **state)
{
	struct transcript t = read_all("UNA=*,\\ ~UNB*UNOC=3*S*R*240101=1200*1~"
	    "FTX*AAA***a\\*b\\~c~", NULL);

	(void)state;
	assert_int_equal(t.errors, 0);
	assert_int_equal(t.last_delimiters.component, '=');
	assert_int_equal(t.last_delimiters.element, '*');
	assert_int_equal(t.last_delimiters.decimal, ',');
	assert_int_equal(t.last_delimiters.release, '\\');
	assert_int_equal(t.last_delimiters.repetition, 0);
	assert_int_equal(t.last_delimiters.terminator[0], '~');
	assert_non_null(strstr(t.text, "|UNA|=*,\\ ~\n"));
	/* Released delimiters stay inside the element, raw. */
	assert_non_null(strstr(t.text, "|FTX|AAA|||a\\*b\\~c\n"));
	/* UNA and UNB belong to the same interchange. */
	assert_null(strstr(t.text, "ic=2"));
	transcript_free(&t);
}

static void
test_release_character_escapes_terminator_and_itself(void **state)
{
	struct transcript t = read_all("UNB+UNOA:3+S+R+240101:1200+1'"
	    "FTX+AAA+++It?'s 50?+ ?" "?'NAD+BY'", NULL);

	(void)state;
	assert_int_equal(t.errors, 0);
	assert_int_equal(t.segments, 3);
	assert_non_null(strstr(t.text, "|FTX|AAA|||It?'s 50?+ ?" "?\n"));
	assert_non_null(strstr(t.text, "|NAD|BY\n"));
	transcript_free(&t);
}

static void
test_unknown_syntax_identifier_is_reported(void **state)
{
	struct transcript t = read_all("UNB+XXXX:3+S+R+240101:1200+1'", NULL);

	(void)state;
	assert_int_equal(t.errors, 1);
	assert_int_equal(t.last_error.code, EDI_ERR_SYNTAX_ID);
	assert_int_equal(t.last_error.element, 1);
	assert_int_equal(t.segments, 1);
	transcript_free(&t);
}

/* ---- streams of several interchanges ------------------------------------ */

static void
test_x12_and_edifact_follow_each_other(void **state)
{
	struct transcript t = read_all(ISA_4010 "IEA*1*000000001~\n"
	    "UNB+UNOA:3+S+R+240101:1200+1'UNZ+0+1'\n" ISA_5010 "IEA*0*1~", NULL);

	(void)state;
	assert_int_equal(t.errors, 0);
	assert_int_equal(t.segments, 6);
	assert_non_null(strstr(t.text, "ic=2 fl=0 std=2"));
	assert_non_null(strstr(t.text, "S 5 off=161 line=3 ic=3 fl=1 std=1"));
	transcript_free(&t);
}

static void
test_new_isa_without_iea_starts_a_new_interchange(void **state)
{
	struct transcript t = read_all(ISA_4010 "GS*PO~" ISA_5010, NULL);

	(void)state;
	assert_int_equal(t.segments, 3);
	assert_non_null(strstr(t.text, "ic=2 fl=1 std=1"));
	assert_int_equal(t.last_delimiters.component, ':');
	transcript_free(&t);
}

/* ---- bad input ---------------------------------------------------------- */

static void
test_garbage_is_reported_once_then_reading_resumes(void **state)
{
	struct transcript t = read_all("this is not EDI at all, really not\n"
	    ISA_4010 "IEA*1*1~", NULL);

	(void)state;
	assert_int_equal(t.errors, 1);
	assert_int_equal(t.last_error.code, EDI_ERR_GARBAGE);
	assert_int_equal(t.last_error.offset, 0);
	assert_int_equal(t.last_error.line, 1);
	assert_non_null(strstr(t.last_error.message, "this is not EDI"));
	assert_int_equal(t.segments, 2);
	transcript_free(&t);
}

static void
test_too_long_segment_is_skipped(void **state)
{
	edi_reader_limits limits = { 600, 0 };
	char data[4000];
	struct transcript t;

	(void)state;
	snprintf(data, sizeof(data), "%sMSG*", ISA_4010);
	memset(data + strlen(data), 'x', 2000);
	strcpy(data + 106 + 4 + 2000, "~REF*DP*1~");
	t = read_all(data, &limits);
	assert_int_equal(t.errors, 1);
	assert_int_equal(t.last_error.code, EDI_ERR_SEGMENT_TOO_LONG);
	assert_int_equal(t.last_error.offset, 106);
	assert_int_equal(t.last_error.segment_index, 2);
	assert_int_equal(t.segments, 2);
	assert_non_null(strstr(t.text, "S 3 off=2111 "));
	transcript_free(&t);
	assert_same_any_chunking("too long", data, strlen(data), &limits);
}

static void
test_too_many_elements_is_rejected(void **state)
{
	edi_reader_limits limits = { 0, 20 };
	struct transcript t = read_all(ISA_4010 "N1*1*2*3*4*5*6*7*8*9*10*11*12*13"
	    "*14*15*16*17*18*19*20*21~REF*DP~", &limits);

	(void)state;
	assert_int_equal(t.errors, 1);
	assert_int_equal(t.last_error.code, EDI_ERR_TOO_MANY_ELEMENTS);
	assert_int_equal(t.last_error.element, 20);
	assert_int_equal(t.segments, 2);
	transcript_free(&t);
}

static void
test_control_character_drops_the_segment(void **state)
{
	char data[300];
	struct transcript t;

	(void)state;
	snprintf(data, sizeof(data), "%sN1*ST*AB\x01" "C~REF*DP~", ISA_4010);
	t = read_all(data, NULL);
	assert_int_equal(t.errors, 1);
	assert_int_equal(t.last_error.code, EDI_ERR_CONTROL_CHARACTER);
	assert_int_equal(t.last_error.offset, 106 + 8);
	assert_int_equal(t.last_error.element, 2);
	assert_int_equal(t.segments, 2);
	transcript_free(&t);
}

static void
test_bad_tag_is_rejected(void **state)
{
	struct transcript t = read_all(ISA_4010 "beg*00~REF*DP~", NULL);

	(void)state;
	assert_int_equal(t.errors, 1);
	assert_int_equal(t.last_error.code, EDI_ERR_TAG);
	assert_int_equal(t.segments, 2);
	transcript_free(&t);
}

static void
test_callback_can_stop_the_reader(void **state)
{
	edi_reader_callbacks cb = { on_segment, on_error };
	struct transcript t;
	edi_reader *r;
	const char *data = ISA_4010 "GS*PO~ST*850~SE*1~";

	(void)state;
	memset(&t, 0, sizeof(t));
	t.stop_after = 2;
	r = edi_reader_new(&cb, &t, NULL);
	assert_int_equal(edi_reader_feed(r, data, strlen(data)), EDI_ERR_STOPPED);
	assert_int_equal(edi_reader_feed(r, "x", 1), EDI_ERR_STOPPED);
	assert_int_equal(t.segments, 2);
	edi_reader_free(r);
	transcript_free(&t);
}

/* ---- element helpers ---------------------------------------------------- */

static void
test_splitter_yields_every_part(void **state)
{
	edi_slice s = { "a::b?:c:", 8 }, part;
	edi_splitter it;
	const char *want[] = { "a", "", "b?:c", "" };
	size_t n = 0;

	(void)state;
	edi_split_init(&it, s, ':', '?');
	while (edi_split_next(&it, &part)) {
		assert_true(n < 4);
		assert_int_equal(part.len, strlen(want[n]));
		assert_memory_equal(part.ptr, want[n], part.len);
		n++;
	}
	assert_int_equal(n, 4);
	s.len = 0;
	assert_int_equal(edi_slice_count(s, ':', '?'), 1);
}

static void
test_unescape_removes_release_characters(void **state)
{
	edi_slice s = { "It?'s 50?+ ??", 13 };
	char out[32];
	size_t n;

	(void)state;
	n = edi_unescape(s, '?', out, sizeof(out));
	assert_int_equal(n, 10);
	assert_memory_equal(out, "It's 50+ ?", 10);
	/* Too small a buffer still tells the full length. */
	assert_int_equal(edi_unescape(s, '?', out, 3), 10);
}

static int
component_probe(void *ctx, const edi_segment *s)
{
	char *out = ctx;
	edi_slice c;

	if (!edi_slice_eq(s->elements[0], "PO1"))
		return 0;
	c = edi_segment_component(s, 6, 2, 2);
	snprintf(out, 64, "%.*s", (int)c.len, c.ptr);
	c = edi_segment_component(s, 9, 1, 1);
	snprintf(out + strlen(out), 16, "|%zu", c.len);
	return 0;
}

static void
test_segment_component_addresses_repetitions(void **state)
{
	edi_reader_callbacks cb = { component_probe, NULL };
	const char *data = ISA_5010 "PO1*1*2*EA*1.5**UP:1^VN:SKU-9~";
	char out[80] = "";
	edi_reader *r = edi_reader_new(&cb, out, NULL);

	(void)state;
	edi_reader_feed(r, data, strlen(data));
	edi_reader_finish(r);
	edi_reader_free(r);
	assert_string_equal(out, "SKU-9|0");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixtures_read_the_same_in_any_chunk_size),
		cmocka_unit_test(test_corpus_reads_the_same_in_any_chunk_size),
		cmocka_unit_test(test_random_input_reads_the_same_in_any_chunk_size),
		cmocka_unit_test(test_isa_gives_x12_delimiters),
		cmocka_unit_test(test_isa11_is_no_repetition_separator_before_00402),
		cmocka_unit_test(test_isa_elements_are_raw_and_numbered_from_one),
		cmocka_unit_test(test_isa_short_fields_are_reported_but_read),
		cmocka_unit_test(test_isa_cut_short_by_end_of_input_is_truncated),
		cmocka_unit_test(test_isa_with_same_delimiter_twice_is_reported),
		cmocka_unit_test(test_segment_positions_count_bytes_lines_and_segments),
		cmocka_unit_test(test_newline_terminator_and_indentation),
		cmocka_unit_test(test_line_breaks_inside_a_segment_are_removed),
		cmocka_unit_test(test_utf8_ellipsis_terminator),
		cmocka_unit_test(test_missing_last_terminator_is_a_warning),
		cmocka_unit_test(test_edifact_defaults_without_una),
		cmocka_unit_test(test_syntax_version_4_repetition_separator),
		cmocka_unit_test(test_una_sets_all_delimiters),
		cmocka_unit_test(test_release_character_escapes_terminator_and_itself),
		cmocka_unit_test(test_unknown_syntax_identifier_is_reported),
		cmocka_unit_test(test_x12_and_edifact_follow_each_other),
		cmocka_unit_test(test_new_isa_without_iea_starts_a_new_interchange),
		cmocka_unit_test(test_garbage_is_reported_once_then_reading_resumes),
		cmocka_unit_test(test_too_long_segment_is_skipped),
		cmocka_unit_test(test_too_many_elements_is_rejected),
		cmocka_unit_test(test_control_character_drops_the_segment),
		cmocka_unit_test(test_bad_tag_is_rejected),
		cmocka_unit_test(test_callback_can_stop_the_reader),
		cmocka_unit_test(test_splitter_yields_every_part),
		cmocka_unit_test(test_unescape_removes_release_characters),
		cmocka_unit_test(test_segment_component_addresses_repetitions),
	};

	return cmocka_run_group_tests_name("edi_reader", tests, NULL, NULL);
}
