/*
 * edi_rewrite - re-serialises read interchanges. See edi_rewrite.h.
 */
#include "edi_rewrite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct edi_rewriter {
	edi_writer *writer;
	edi_rewrite_options options;
	int started;        /* a segment was written */
	size_t interchange; /* of the last segment written */
};

edi_rewriter *
edi_rewrite_new(edi_writer *w, const edi_rewrite_options *options)
{
	edi_rewriter *r = calloc(1, sizeof *r);

	if (r == NULL)
		return NULL;
	r->writer = w;
	if (options != NULL)
		r->options = *options;
	else
		r->options.line_style = EDI_REWRITE_KEEP_LINES;
	return r;
}

void
edi_rewrite_free(edi_rewriter *r)
{
	free(r);
}

/* The delimiters an interchange read with source is written with. */
static void
target_delimiters(const edi_rewrite_options *o, const edi_delimiters *source,
    edi_delimiters *target)
{
	*target = *source;
	if (source->standard == EDI_STANDARD_X12 && o->x12) {
		target->element = o->x12_element;
		target->component = o->x12_component;
		target->terminator_len = 1;
		target->terminator[0] = o->x12_terminator;
		if (o->x12_repetition != 0)
			target->repetition = o->x12_repetition;
	} else if (source->standard == EDI_STANDARD_EDIFACT && o->edifact) {
		edi_writer_edifact_delimiters(target, o->una, EDI_LINE_NONE);
		target->suffix_len = source->suffix_len;
		memcpy(target->suffix, source->suffix, sizeof target->suffix);
	}
	if (o->line_style != EDI_REWRITE_KEEP_LINES)
		edi_writer_set_line_style(target, (edi_line_style)o->line_style);
}

/* Whether a reader, finding no UNA, would assume other service characters
 * than the target ones: then the output needs a UNA. */
static int
service_characters_differ(const edi_delimiters *a, const edi_delimiters *b)
{
	return a->component != b->component || a->element != b->element ||
	    a->decimal != b->decimal || a->release != b->release ||
	    a->repetition != b->repetition ||
	    a->terminator_len != b->terminator_len ||
	    memcmp(a->terminator, b->terminator, a->terminator_len) != 0;
}

/* An X12 interchange keeps its own repetition separator unless told
 * otherwise; when that one clashes, say how to replace it. */
static const char *
kept_repetition_hint(const edi_rewrite_options *o, const edi_delimiters *source)
{
	if (source->standard == EDI_STANDARD_X12 && o->x12 &&
	    o->x12_repetition == 0 && source->repetition != 0)
		return " (the interchange keeps its own repetition separator; "
		    "give --delimiters a fourth character to replace it)";
	return "";
}

edi_write_status
edi_rewrite_segment(edi_rewriter *r, const edi_segment *segment)
{
	const edi_delimiters *source = segment->delimiters;
	edi_write_status status;
	char why[120];

	if (!r->started || segment->interchange != r->interchange) {
		const edi_slice tag = segment->elements[0];
		edi_delimiters target;

		r->started = 1;
		r->interchange = segment->interchange;
		target_delimiters(&r->options, source, &target);
		if (!edi_writer_check_delimiters(&target, why, sizeof why))
			return edi_writer_fail(r->writer, EDI_WRITE_BAD_DELIMITERS,
			    "interchange %zu cannot be written with these "
			    "delimiters: %s%s", segment->interchange, why,
			    kept_repetition_hint(&r->options, source));
		if ((status = edi_writer_set_delimiters(r->writer, &target)))
			return status;
		/* Without a UNA a reader assumes the defaults, and without a
		 * UNB either (its UNB was lost to an error) it would not see
		 * an interchange at all: a UNA makes both explicit. */
		if (source->standard == EDI_STANDARD_EDIFACT &&
		    !edi_slice_eq(tag, "UNA") &&
		    (!edi_slice_eq(tag, "UNB") ||
		    service_characters_differ(source, &target)) &&
		    (status = edi_writer_una(r->writer)))
			return status;
	}
	return edi_writer_segment(r->writer, segment);
}

/* ---- option parsing ------------------------------------------------------ */

/* Decodes text with the escapes \n \r \t \\ into out; returns the number
 * of characters, or -1 when there are more than cap. */
static int
decode_characters(const char *text, char *out, size_t cap)
{
	size_t n = 0;

	while (*text != '\0') {
		char c = *text++;

		if (c == '\\' && *text != '\0') {
			switch (*text++) {
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case '\\': c = '\\'; break;
			default: return -1;
			}
		}
		if (n == cap)
			return -1;
		out[n++] = c;
	}
	return (int)n;
}

int
edi_rewrite_parse_x12(edi_rewrite_options *o, const char *text, char *why,
    size_t cap)
{
	char chars[4];
	edi_delimiters d;
	int n = decode_characters(text, chars, sizeof chars);

	if (n < 3) {
		snprintf(why, cap, "--delimiters takes 3 or 4 characters: element, "
		    "component, terminator[, repetition], e.g. '*:~^'");
		return 0;
	}
	edi_writer_x12_delimiters(&d, chars[0], chars[1], chars[2],
	    n == 4 ? chars[3] : 0, EDI_LINE_NONE);
	if (!edi_writer_check_delimiters(&d, why, cap))
		return 0;
	o->x12 = 1;
	o->x12_element = chars[0];
	o->x12_component = chars[1];
	o->x12_terminator = chars[2];
	o->x12_repetition = n == 4 ? chars[3] : 0;
	return 1;
}

int
edi_rewrite_parse_una(edi_rewrite_options *o, const char *text, char *why,
    size_t cap)
{
	char chars[6];
	edi_delimiters d;
	int n = decode_characters(text, chars, sizeof chars);

	if (n != 6) {
		snprintf(why, cap, "--una takes the 6 UNA characters: component, "
		    "element, decimal, release, repetition, terminator, e.g. "
		    "':+.? '''");
		return 0;
	}
	if (chars[2] != '.' && chars[2] != ',') {
		snprintf(why, cap, "the decimal mark must be '.' or ','");
		return 0;
	}
	edi_writer_edifact_delimiters(&d, chars, EDI_LINE_NONE);
	if (!edi_writer_check_delimiters(&d, why, cap))
		return 0;
	o->edifact = 1;
	memcpy(o->una, chars, sizeof o->una);
	return 1;
}
