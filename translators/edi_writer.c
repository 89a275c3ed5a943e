/*
 * edi_writer - segments to bytes. See edi_writer.h for the contract.
 *
 * Trimming without look-ahead: the writer remembers the position (element,
 * repetition, component) of the last value it actually wrote. A non-empty
 * value first writes the separators that lead from that position to its
 * own, so empty values cost nothing until something follows them, and
 * whatever is still pending at edi_writer_end() is simply never written.
 *
 * Escaping is table driven: one byte class per byte value, computed when
 * the delimiters are set, so the per-byte loop is a lookup and runs of
 * plain data are copied whole.
 */
#include "edi_writer.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define WRITER_BUFFER_SIZE 65536

enum byte_class {
	BYTE_PLAIN = 0,
	BYTE_DELIMITER,  /* must be released (EDIFACT) or refused (X12) */
	BYTE_TERMINATOR, /* first byte of a multi-byte terminator: check the rest */
	BYTE_CONTROL     /* refused in data */
};

struct edi_writer {
	edi_writer_sink sink;
	void *sink_ctx;
	edi_delimiters delimiters;
	unsigned char byte_class[256];

	int in_segment;
	char tag[4];
	/* Position of the value being written, and of the last one written. */
	unsigned element, repetition, component;
	unsigned written_element, written_repetition, written_component;

	uint64_t segments;
	uint64_t bytes;
	int failed;
	edi_write_error error;

	size_t used;
	char buffer[WRITER_BUFFER_SIZE];
};

const char *
edi_write_status_name(edi_write_status status)
{
	switch (status) {
	case EDI_WRITE_OK: return "OK";
	case EDI_WRITE_DELIMITER_IN_DATA: return "DELIMITER_IN_DATA";
	case EDI_WRITE_CONTROL_CHARACTER: return "CONTROL_CHARACTER";
	case EDI_WRITE_NO_REPETITION: return "NO_REPETITION";
	case EDI_WRITE_BAD_DELIMITERS: return "BAD_DELIMITERS";
	case EDI_WRITE_BAD_TAG: return "BAD_TAG";
	case EDI_WRITE_BAD_HEADER: return "BAD_HEADER";
	case EDI_WRITE_BAD_VALUE: return "BAD_VALUE";
	case EDI_WRITE_SEQUENCE: return "SEQUENCE";
	case EDI_WRITE_SINK: return "SINK";
	case EDI_WRITE_NO_MEMORY: return "NO_MEMORY";
	}
	return "UNKNOWN";
}

/* ---- failure ---------------------------------------------------------- */

static edi_write_status
fail(edi_writer *w, edi_write_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static edi_write_status
fail(edi_writer *w, edi_write_status code, const char *fmt, ...)
{
	edi_write_error *e = &w->error;
	va_list ap;
	int n;

	if (w->failed)
		return w->error.code;
	w->failed = 1;
	memset(e, 0, sizeof *e);
	e->code = code;
	if (w->in_segment) {
		memcpy(e->tag, w->tag, sizeof e->tag);
		e->segment_index = w->segments + 1;
		e->element = w->element;
		if (w->element > 0) {
			e->repetition = w->repetition;
			e->component = w->component;
		}
	}
	n = 0;
	if (e->tag[0] != '\0') {
		n = snprintf(e->message, sizeof e->message, "%s (segment %llu)",
		    e->tag, (unsigned long long)e->segment_index);
		if (e->element > 0)
			n += snprintf(e->message + n, sizeof e->message - n,
			    " element %u", e->element);
		if (e->repetition > 1)
			n += snprintf(e->message + n, sizeof e->message - n,
			    " repetition %u", e->repetition);
		if (e->component > 0)
			n += snprintf(e->message + n, sizeof e->message - n,
			    " component %u", e->component);
		n += snprintf(e->message + n, sizeof e->message - n, ": ");
	}
	if (n < (int)sizeof e->message) {
		va_start(ap, fmt);
		vsnprintf(e->message + n, sizeof e->message - n, fmt, ap);
		va_end(ap);
	}
	return code;
}

edi_write_status
edi_writer_fail(edi_writer *w, edi_write_status code, const char *fmt, ...)
{
	char text[sizeof w->error.message];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	return fail(w, code, "%s", text);
}

const edi_write_error *
edi_writer_error(const edi_writer *w)
{
	return w->failed ? &w->error : NULL;
}

/* ---- output buffer ---------------------------------------------------- */

static edi_write_status
flush_buffer(edi_writer *w)
{
	if (w->failed)
		return w->error.code; /* never hand on bytes of a failed output */
	if (w->used == 0)
		return EDI_WRITE_OK;
	if (w->sink != NULL && w->sink(w->sink_ctx, w->buffer, w->used) != 0) {
		w->used = 0;
		return fail(w, EDI_WRITE_SINK, "the output sink failed");
	}
	w->used = 0;
	return EDI_WRITE_OK;
}

static edi_write_status
put_bytes_slow(edi_writer *w, const char *p, size_t n)
{
	while (n > 0) {
		size_t room = sizeof w->buffer - w->used;

		if (room == 0) {
			if (flush_buffer(w) != EDI_WRITE_OK)
				return w->error.code;
			room = sizeof w->buffer;
		}
		if (room > n)
			room = n;
		memcpy(w->buffer + w->used, p, room);
		w->used += room;
		p += room;
		n -= room;
	}
	return EDI_WRITE_OK;
}

static inline edi_write_status
put_bytes(edi_writer *w, const char *p, size_t n)
{
	w->bytes += n;
	if (n <= sizeof w->buffer - w->used) {
		memcpy(w->buffer + w->used, p, n);
		w->used += n;
		return EDI_WRITE_OK;
	}
	return put_bytes_slow(w, p, n);
}

static inline edi_write_status
put_byte(edi_writer *w, char c)
{
	if (w->used == sizeof w->buffer && flush_buffer(w) != EDI_WRITE_OK)
		return w->error.code;
	w->buffer[w->used++] = c;
	w->bytes++;
	return EDI_WRITE_OK;
}

edi_write_status
edi_writer_flush(edi_writer *w)
{
	if (w->failed)
		return w->error.code;
	return flush_buffer(w);
}

/* ---- delimiters ------------------------------------------------------- */

void
edi_writer_set_line_style(edi_delimiters *d, edi_line_style line)
{
	switch (line) {
	case EDI_LINE_LF:
		d->suffix_len = 1;
		d->suffix[0] = '\n';
		break;
	case EDI_LINE_CRLF:
		d->suffix_len = 2;
		d->suffix[0] = '\r';
		d->suffix[1] = '\n';
		break;
	case EDI_LINE_NONE:
	default:
		d->suffix_len = 0;
		break;
	}
}

void
edi_writer_x12_delimiters(edi_delimiters *d, char element, char component,
    char terminator, char repetition, edi_line_style line)
{
	memset(d, 0, sizeof *d);
	d->standard = EDI_STANDARD_X12;
	d->element = element;
	d->component = component;
	d->repetition = repetition;
	d->decimal = '.';
	d->terminator_len = 1;
	d->terminator[0] = terminator;
	edi_writer_set_line_style(d, line);
}

void
edi_writer_edifact_delimiters(edi_delimiters *d, const char una[6],
    edi_line_style line)
{
	memset(d, 0, sizeof *d);
	d->standard = EDI_STANDARD_EDIFACT;
	d->component = una[0];
	d->element = una[1];
	d->decimal = una[2];
	d->release = una[3] == ' ' ? 0 : una[3];
	d->repetition = una[4] == ' ' ? 0 : una[4];
	d->terminator_len = 1;
	d->terminator[0] = una[5];
	edi_writer_set_line_style(d, line);
}

void
edi_writer_una_chars(const edi_delimiters *d, char out[6])
{
	out[0] = d->component;
	out[1] = d->element;
	out[2] = d->decimal ? d->decimal : '.';
	out[3] = d->release ? d->release : ' ';
	out[4] = d->repetition ? d->repetition : ' ';
	out[5] = d->terminator[0];
}

/* A separator may be any single byte that cannot be data of its own:
 * not a letter, digit or space (tags, numbers and ISA padding use them),
 * not NUL, not CR/LF (line style), not the high half (character sets). */
static int
separator_allowed(char c)
{
	unsigned char u = (unsigned char)c;

	return u != 0 && u < 0x80 && u != ' ' && u != '\r' && u != '\n' &&
	    !isalnum(u);
}

static int
terminator_allowed(const edi_delimiters *d)
{
	unsigned char first = (unsigned char)d->terminator[0];
	size_t need, i;

	if (d->terminator_len == 1)
		return separator_allowed(d->terminator[0]) ||
		    (d->standard == EDI_STANDARD_X12 && first == '\n');
	/* Several bytes: exactly one UTF-8 encoded character. */
	if (first >= 0xF0 && first < 0xF5)
		need = 4;
	else if (first >= 0xE0)
		need = 3;
	else if (first >= 0xC2 && first < 0xE0)
		need = 2;
	else
		return 0;
	if (need != d->terminator_len || first >= 0xF5)
		return 0;
	for (i = 1; i < need; i++)
		if (((unsigned char)d->terminator[i] & 0xC0) != 0x80)
			return 0;
	return 1;
}

static int
check_delimiters(const edi_delimiters *d, char *why, size_t cap)
{
	const char *names[4] = { "element", "component", "repetition", "release" };
	char chars[4] = { d->element, d->component, d->repetition, d->release };
	int i, j;

	if (d->standard != EDI_STANDARD_X12 && d->standard != EDI_STANDARD_EDIFACT) {
		snprintf(why, cap, "no standard (X12 or EDIFACT) given");
		return 0;
	}
	if (d->standard == EDI_STANDARD_X12 && d->release != 0) {
		snprintf(why, cap, "X12 has no release character");
		return 0;
	}
	if (d->terminator_len < 1 || d->terminator_len > EDI_MAX_TERMINATOR ||
	    !terminator_allowed(d)) {
		snprintf(why, cap, "segment terminator not allowed");
		return 0;
	}
	if (d->suffix_len > 2) {
		snprintf(why, cap, "line suffix longer than CRLF");
		return 0;
	}
	if (d->standard == EDI_STANDARD_EDIFACT && d->decimal != 0)
		for (i = 0; i < 4; i++)
			if (chars[i] == d->decimal ||
			    (d->terminator_len == 1 && d->terminator[0] == d->decimal)) {
				snprintf(why, cap, "the decimal mark '%c' is also a "
				    "delimiter", d->decimal);
				return 0;
			}
	for (i = 0; i < 4; i++) {
		if (chars[i] == 0 && i >= 2)
			continue; /* repetition and release are optional */
		if (!separator_allowed(chars[i])) {
			snprintf(why, cap, "%s separator 0x%02X not allowed",
			    names[i], (unsigned char)chars[i]);
			return 0;
		}
		if (d->terminator_len == 1 && chars[i] == d->terminator[0]) {
			snprintf(why, cap, "%s separator '%c' equals the terminator",
			    names[i], chars[i]);
			return 0;
		}
		for (j = 0; j < i; j++)
			if (chars[j] == chars[i]) {
				snprintf(why, cap, "%s and %s separators are both '%c'",
				    names[j], names[i], chars[i]);
				return 0;
			}
	}
	return 1;
}

static void
compute_byte_classes(edi_writer *w)
{
	const edi_delimiters *d = &w->delimiters;
	int c;

	for (c = 0; c < 256; c++)
		w->byte_class[c] = (c < 0x20 || c == 0x7F) ? BYTE_CONTROL : BYTE_PLAIN;
	w->byte_class['\t'] = BYTE_PLAIN;
	/* A reader drops unreleased line breaks inside a segment as wrapping;
	 * released ones are data. */
	if (d->release) {
		w->byte_class['\r'] = BYTE_DELIMITER;
		w->byte_class['\n'] = BYTE_DELIMITER;
	}
	w->byte_class[(unsigned char)d->element] = BYTE_DELIMITER;
	w->byte_class[(unsigned char)d->component] = BYTE_DELIMITER;
	if (d->repetition)
		w->byte_class[(unsigned char)d->repetition] = BYTE_DELIMITER;
	if (d->release)
		w->byte_class[(unsigned char)d->release] = BYTE_DELIMITER;
	if (d->terminator_len == 1)
		w->byte_class[(unsigned char)d->terminator[0]] = BYTE_DELIMITER;
	else
		w->byte_class[(unsigned char)d->terminator[0]] = BYTE_TERMINATOR;
}

int
edi_writer_check_delimiters(const edi_delimiters *d, char *why, size_t cap)
{
	return check_delimiters(d, why, cap);
}

edi_write_status
edi_writer_set_delimiters(edi_writer *w, const edi_delimiters *d)
{
	char why[120];

	if (w->failed)
		return w->error.code;
	if (w->in_segment)
		return fail(w, EDI_WRITE_SEQUENCE,
		    "delimiters changed inside a segment");
	if (!check_delimiters(d, why, sizeof why))
		return fail(w, EDI_WRITE_BAD_DELIMITERS, "%s", why);
	w->delimiters = *d;
	compute_byte_classes(w);
	return EDI_WRITE_OK;
}

const edi_delimiters *
edi_writer_delimiters(const edi_writer *w)
{
	return &w->delimiters;
}

/* ---- life cycle ------------------------------------------------------- */

edi_writer *
edi_writer_new(edi_writer_sink sink, void *sink_ctx)
{
	edi_writer *w = malloc(sizeof *w);
	edi_delimiters d;

	if (w == NULL)
		return NULL;
	memset(w, 0, offsetof(edi_writer, buffer));
	w->sink = sink;
	w->sink_ctx = sink_ctx;
	edi_writer_x12_delimiters(&d, '*', ':', '~', 0, EDI_LINE_NONE);
	w->delimiters = d;
	compute_byte_classes(w);
	return w;
}

void
edi_writer_free(edi_writer *w)
{
	free(w);
}

void
edi_writer_reset(edi_writer *w)
{
	w->used = 0;
	w->in_segment = 0;
	w->failed = 0;
	memset(&w->error, 0, sizeof w->error);
	w->segments = 0;
	w->bytes = 0;
}

uint64_t
edi_writer_segment_count(const edi_writer *w)
{
	return w->segments;
}

uint64_t
edi_writer_byte_count(const edi_writer *w)
{
	return w->bytes;
}

int
edi_writer_idle(const edi_writer *w)
{
	return !w->in_segment;
}

/* ---- values ----------------------------------------------------------- */

static const char *
delimiter_name(const edi_delimiters *d, unsigned char c)
{
	if (c == (unsigned char)d->element)
		return "element separator";
	if (c == (unsigned char)d->component)
		return "component separator";
	if (d->repetition && c == (unsigned char)d->repetition)
		return "repetition separator";
	if (d->release && c == (unsigned char)d->release)
		return "release character";
	if (c == '\r' || c == '\n')
		return "line break";
	return "segment terminator";
}

static int
terminator_at(const edi_delimiters *d, const char *p, const char *end)
{
	return (size_t)(end - p) >= d->terminator_len &&
	    memcmp(p, d->terminator, d->terminator_len) == 0;
}

/*
 * Writes value bytes, escaping or refusing delimiters for the target.
 * source_release != 0 means the value is raw input of another interchange:
 * a source release character is dropped and the byte after it taken as
 * data.
 */
static edi_write_status
put_data(edi_writer *w, const char *p, size_t n, char source_release)
{
	const edi_delimiters *d = &w->delimiters;
	const char *end = p + n;
	const char *run = p;

	while (p < end) {
		unsigned char c = (unsigned char)*p;
		unsigned cls;

		if (source_release != 0 && *p == source_release) {
			if (p > run && put_bytes(w, run, (size_t)(p - run)))
				return w->error.code;
			p++;
			if (p == end)
				return EDI_WRITE_OK; /* dangling release: nothing released */
			run = p;
			c = (unsigned char)*p;
			cls = w->byte_class[c];
			if (cls == BYTE_PLAIN) {
				p++;
				continue;
			}
		} else {
			cls = w->byte_class[c];
			if (cls == BYTE_PLAIN) {
				p++;
				continue;
			}
		}
		if (cls == BYTE_TERMINATOR && !terminator_at(d, p, end)) {
			p++;
			continue;
		}
		if (cls == BYTE_CONTROL)
			return fail(w, EDI_WRITE_CONTROL_CHARACTER,
			    "data holds the control character 0x%02X at byte %zu "
			    "of the value", c, (size_t)(p - (end - n)) + 1);
		if (d->release == 0)
			return fail(w, EDI_WRITE_DELIMITER_IN_DATA,
			    "data holds the %s '%c' at byte %zu of the value; %s "
			    "has no release character to escape it",
			    delimiter_name(d, c), c, (size_t)(p - (end - n)) + 1,
			    d->standard == EDI_STANDARD_X12 ? "X12" :
			    "this interchange");
		if (p > run && put_bytes(w, run, (size_t)(p - run)))
			return w->error.code;
		if (put_byte(w, d->release))
			return w->error.code;
		/* A multi-byte terminator is released by its first byte; the
		 * rest is copied as data with the run. */
		run = p;
		p += cls == BYTE_TERMINATOR ? d->terminator_len : 1;
	}
	if (p > run && put_bytes(w, run, (size_t)(p - run)))
		return w->error.code;
	return EDI_WRITE_OK;
}

static int
is_empty(const char *p, size_t n, char source_release)
{
	return n == 0 || (n == 1 && source_release != 0 && p[0] == source_release);
}

static edi_write_status
put_repeated(edi_writer *w, char c, unsigned count)
{
	char run[32];

	memset(run, c, count < sizeof run ? count : sizeof run);
	while (count > 0) {
		unsigned n = count < sizeof run ? count : (unsigned)sizeof run;

		if (put_bytes(w, run, n))
			return w->error.code;
		count -= n;
	}
	return EDI_WRITE_OK;
}

/*
 * Writes the value at the current position. Empty values are written only
 * when forced (edi_writer_segment keeps everything it was given); then the
 * separators leading to it appear even though no data follows.
 */
static edi_write_status
put_value(edi_writer *w, const char *p, size_t n, char source_release, int force)
{
	const edi_delimiters *d = &w->delimiters;
	unsigned elements = 0, repetitions = 0, components = 0;

	if (!force && is_empty(p, n, source_release))
		return EDI_WRITE_OK;
	if (w->element > w->written_element) {
		elements = w->element - w->written_element;
		repetitions = w->repetition - 1;
		components = w->component - 1;
	} else if (w->repetition > w->written_repetition) {
		repetitions = w->repetition - w->written_repetition;
		components = w->component - 1;
	} else {
		components = w->component - w->written_component;
	}
	if (repetitions > 0 && d->repetition == 0)
		return fail(w, EDI_WRITE_NO_REPETITION,
		    "a repetition, but the interchange has no repetition "
		    "separator");
	/* Mostly one separator: the next element, or the next component. */
	if (elements + repetitions + components == 1 &&
	    w->used < sizeof w->buffer) {
		w->buffer[w->used++] = elements ? d->element :
		    repetitions ? d->repetition : d->component;
		w->bytes++;
	} else if (put_repeated(w, d->element, elements) ||
	    put_repeated(w, d->repetition, repetitions) ||
	    put_repeated(w, d->component, components))
		return w->error.code;
	w->written_element = w->element;
	w->written_repetition = w->repetition;
	w->written_component = w->component;
	return put_data(w, p, n, source_release);
}

/* ---- segments --------------------------------------------------------- */

/* A capital letter, then one or two capital letters or digits. */
static int
tag_valid(const char *tag, size_t len)
{
	size_t i;

	if (tag == NULL || len < 2 || len > 3 || tag[0] < 'A' || tag[0] > 'Z')
		return 0;
	for (i = 1; i < len; i++)
		if (!((tag[i] >= 'A' && tag[i] <= 'Z') ||
		    (tag[i] >= '0' && tag[i] <= '9')))
			return 0;
	return 1;
}

edi_write_status
edi_writer_begin_n(edi_writer *w, const char *tag, size_t len)
{
	if (w->failed)
		return w->error.code;
	if (w->in_segment)
		return fail(w, EDI_WRITE_SEQUENCE,
		    "segment begun before the previous one ended");
	w->in_segment = 1;
	memset(w->tag, 0, sizeof w->tag);
	memcpy(w->tag, tag, len < 3 ? len : 3);
	w->element = w->written_element = 0;
	w->repetition = w->written_repetition = 1;
	w->component = w->written_component = 1;
	if (!tag_valid(tag, len))
		return fail(w, EDI_WRITE_BAD_TAG,
		    "segment tag must be a capital letter and one or two "
		    "capital letters or digits");
	return put_bytes(w, tag, len);
}

edi_write_status
edi_writer_begin(edi_writer *w, const char *tag)
{
	return edi_writer_begin_n(w, tag, tag ? strlen(tag) : 0);
}

static edi_write_status
check_in_segment(edi_writer *w, int need_element)
{
	if (w->failed)
		return w->error.code;
	if (!w->in_segment)
		return fail(w, EDI_WRITE_SEQUENCE, "value written outside a segment");
	if (need_element && w->element == 0)
		return fail(w, EDI_WRITE_SEQUENCE,
		    "component or repetition before the first element");
	return EDI_WRITE_OK;
}

edi_write_status
edi_writer_element_n(edi_writer *w, const char *value, size_t len)
{
	if (check_in_segment(w, 0))
		return w->error.code;
	w->element++;
	w->repetition = 1;
	w->component = 1;
	return put_value(w, value, len, 0, 0);
}

edi_write_status
edi_writer_element(edi_writer *w, const char *value)
{
	return edi_writer_element_n(w, value, value ? strlen(value) : 0);
}

edi_write_status
edi_writer_component_n(edi_writer *w, const char *value, size_t len)
{
	if (check_in_segment(w, 1))
		return w->error.code;
	w->component++;
	return put_value(w, value, len, 0, 0);
}

edi_write_status
edi_writer_component(edi_writer *w, const char *value)
{
	return edi_writer_component_n(w, value, value ? strlen(value) : 0);
}

edi_write_status
edi_writer_repetition_n(edi_writer *w, const char *value, size_t len)
{
	if (check_in_segment(w, 1))
		return w->error.code;
	w->repetition++;
	w->component = 1;
	return put_value(w, value, len, 0, 0);
}

edi_write_status
edi_writer_repetition(edi_writer *w, const char *value)
{
	return edi_writer_repetition_n(w, value, value ? strlen(value) : 0);
}

edi_write_status
edi_writer_end(edi_writer *w)
{
	const edi_delimiters *d = &w->delimiters;

	if (check_in_segment(w, 0))
		return w->error.code;
	if (put_bytes(w, d->terminator, d->terminator_len) ||
	    put_bytes(w, d->suffix, d->suffix_len))
		return w->error.code;
	w->in_segment = 0;
	w->segments++;
	return EDI_WRITE_OK;
}

edi_write_status
edi_writer_simple(edi_writer *w, const char *tag, size_t count,
    const char *const *values)
{
	size_t i;

	if (edi_writer_begin(w, tag))
		return w->error.code;
	for (i = 0; i < count; i++)
		if (edi_writer_element(w, values[i]))
			return w->error.code;
	return edi_writer_end(w);
}

/* ---- headers ---------------------------------------------------------- */

static const unsigned char isa_widths[EDI_ISA_FIELDS] = {
	0, 2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1
};

size_t
edi_isa_field_width(unsigned n)
{
	return n >= 1 && n < EDI_ISA_FIELDS ? isa_widths[n] : 0;
}

/* ISA02, 04, 06 and 08 are free text (AN) and take trailing spaces. */
static int
isa_field_padded(unsigned n)
{
	return n == 2 || n == 4 || n == 6 || n == 8;
}

static edi_write_status
put_isa_field(edi_writer *w, unsigned n, edi_slice value)
{
	static const char spaces[] = "                ";
	size_t width = isa_widths[n];

	/* ISA elements have no components: name the element alone. */
	w->element = n;
	w->repetition = 0;
	w->component = 0;
	if (value.len > width ||
	    (value.len < width && !isa_field_padded(n)))
		return fail(w, EDI_WRITE_BAD_HEADER,
		    "ISA%02u must be %zu characters, found %zu", n, width,
		    value.len);
	if (put_byte(w, w->delimiters.element))
		return w->error.code;
	if (put_data(w, value.ptr, value.len, 0))
		return w->error.code;
	return put_bytes(w, spaces, width - value.len);
}

edi_write_status
edi_writer_isa(edi_writer *w, const edi_slice fields[EDI_ISA_FIELDS])
{
	edi_delimiters *d = &w->delimiters;
	edi_slice version = fields[12];
	int repeats;
	unsigned n;

	if (edi_writer_begin(w, "ISA"))
		return w->error.code;
	w->repetition = 0;
	w->component = 0;
	if (d->standard != EDI_STANDARD_X12)
		return fail(w, EDI_WRITE_BAD_HEADER,
		    "ISA written with EDIFACT delimiters");
	/* ISA12 00402 introduced the repetition separator in ISA11. */
	repeats = version.len == 5 && memcmp(version.ptr, "00402", 5) >= 0;
	if (repeats && d->repetition == 0) {
		/* Without one, ISA11 must not look like a separator, or a
		 * reader would take it for one. */
		edi_slice u = fields[11];

		repeats = 0;
		if (u.len == 1 && u.ptr[0] != ' ' &&
		    !isalnum((unsigned char)u.ptr[0])) {
			w->element = 11;
			return fail(w, EDI_WRITE_BAD_HEADER,
			    "ISA11 '%c' declares a repetition separator, but "
			    "none is set", u.ptr[0]);
		}
	} else if (!repeats && d->repetition != 0) {
		d->repetition = 0;
		compute_byte_classes(w);
	}
	for (n = 1; n < EDI_ISA_FIELDS; n++) {
		edi_slice value = fields[n];

		if (n == 11 && repeats) {
			w->element = 11;
			if (put_byte(w, d->element) || put_byte(w, d->repetition))
				return w->error.code;
			continue;
		}
		if (n == 11 && value.len == 0)
			value = (edi_slice){ "U", 1 };
		if (n == 16) {
			w->element = 16;
			if (put_byte(w, d->element) || put_byte(w, d->component))
				return w->error.code;
			continue;
		}
		if (put_isa_field(w, n, value))
			return w->error.code;
	}
	w->written_element = 16;
	return edi_writer_end(w);
}

edi_write_status
edi_writer_una(edi_writer *w)
{
	char chars[6];

	if (edi_writer_begin(w, "UNA"))
		return w->error.code;
	if (w->delimiters.standard != EDI_STANDARD_EDIFACT)
		return fail(w, EDI_WRITE_BAD_HEADER, "UNA written with X12 delimiters");
	if (w->delimiters.terminator_len != 1)
		return fail(w, EDI_WRITE_BAD_HEADER,
		    "UNA can declare only a one-byte terminator");
	edi_writer_una_chars(&w->delimiters, chars);
	if (put_bytes(w, chars, 5))
		return w->error.code;
	/* The sixth character is the terminator, written by end. */
	return edi_writer_end(w);
}

/* ---- re-emitting read segments ---------------------------------------- */

/*
 * Writes one read element, every repetition and component kept. One pass
 * over the raw bytes finds the parts (a released byte never separates);
 * put_value then unescapes each part for the target.
 */
static edi_write_status
put_read_element(edi_writer *w, edi_slice element, const edi_delimiters *source)
{
	const char *p = element.ptr, *end = p + element.len, *part = p;
	const char component = source->component;
	const char repetition = source->repetition;
	const char release = source->release;

	w->repetition = 1;
	w->component = 1;
	for (; p < end; p++) {
		char c = *p;

		if (release != 0 && c == release) {
			if (end - p > 1)
				p++; /* the next byte is data, whatever it is */
			continue;
		}
		if (c != component && (repetition == 0 || c != repetition))
			continue;
		if (put_value(w, part, (size_t)(p - part), release, 1))
			return w->error.code;
		/* Repetitions first, as edi_split would take them apart, even
		 * when a broken UNA made both separators the same. */
		if (repetition != 0 && c == repetition) {
			w->repetition++;
			w->component = 1;
		} else {
			w->component++;
		}
		part = p + 1;
	}
	return put_value(w, part, (size_t)(end - part), release, 1);
}

edi_write_status
edi_writer_segment(edi_writer *w, const edi_segment *segment)
{
	const edi_delimiters *source = segment->delimiters;
	const edi_slice *tag = &segment->elements[0];
	size_t e;

	if (w->failed)
		return w->error.code;
	if (segment->element_count == 0)
		return fail(w, EDI_WRITE_BAD_TAG, "segment without a tag");
	if (segment->flags & EDI_SEGMENT_RAW) {
		if (edi_slice_eq(*tag, "UNA"))
			return edi_writer_una(w);
		if (edi_slice_eq(*tag, "ISA")) {
			edi_slice fields[EDI_ISA_FIELDS];

			if (segment->element_count != EDI_ISA_FIELDS) {
				if (edi_writer_begin(w, "ISA"))
					return w->error.code;
				return fail(w, EDI_WRITE_BAD_HEADER,
				    "ISA has %zu elements, not 16",
				    segment->element_count - 1);
			}
			memcpy(fields, segment->elements, sizeof fields);
			return edi_writer_isa(w, fields);
		}
	}
	if (edi_writer_begin_n(w, tag->ptr, tag->len))
		return w->error.code;
	for (e = 1; e < segment->element_count; e++) {
		w->element = (unsigned)e;
		if (put_read_element(w, segment->elements[e], source))
			return w->error.code;
	}
	return edi_writer_end(w);
}

/* ---- sinks ------------------------------------------------------------ */

int
edi_writer_memory_sink(void *ctx, const char *data, size_t len)
{
	edi_writer_memory *m = ctx;
	size_t need;

	if (len > SIZE_MAX - m->len - 1)
		return -1;
	need = m->len + len + 1;
	if (m->max != 0 && need - 1 > m->max)
		return -1;
	if (need > m->cap) {
		size_t cap = m->cap ? m->cap : 256;
		char *p;

		while (cap < need)
			cap = cap > SIZE_MAX / 2 ? need : cap * 2;
		p = realloc(m->data, cap);
		if (p == NULL)
			return -1;
		m->data = p;
		m->cap = cap;
	}
	memcpy(m->data + m->len, data, len);
	m->len += len;
	m->data[m->len] = '\0';
	return 0;
}

void
edi_writer_memory_free(edi_writer_memory *m)
{
	free(m->data);
	m->data = NULL;
	m->len = m->cap = 0;
}

int
edi_writer_file_sink(void *ctx, const char *data, size_t len)
{
	return fwrite(data, 1, len, (FILE *)ctx) == len ? 0 : -1;
}
