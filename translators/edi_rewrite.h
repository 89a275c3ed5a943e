/*
 * edi_rewrite - re-serialises read interchanges with other delimiters.
 *
 * OWNS
 *   Choosing, per interchange, the delimiters a rewrite writes: the ones
 *   asked for that interchange's standard, or else the interchange's own,
 *   so one stream mixing X12 and EDIFACT rewrites each interchange with
 *   the options of its standard. Feed it every segment the reader
 *   delivers, in order; it sets the writer's delimiters at each new
 *   interchange and passes the segment to edi_writer_segment(), which
 *   rebuilds ISA and UNA. An EDIFACT interchange that had no UNA gets one
 *   when its new service characters differ from the ones the reader
 *   assumed, or when it does not start with UNB (a UNB the reader
 *   rejected), so the output reads back the same.
 *
 *   X12: element, component and terminator replace the interchange's; the
 *   repetition separator replaces ISA11 from version 00402 on, and when
 *   none is given the interchange keeps its own. EDIFACT: the six UNA
 *   characters; a space as release or repetition means none.
 *
 * INVARIANT
 *   Reading the output gives the same segments, element for element, with
 *   the same unescaped values, as reading the input. What cannot be
 *   written that way (X12 data holding a new delimiter) fails the writer;
 *   nothing is changed silently. Numeric values are not touched when the
 *   EDIFACT decimal mark changes: the new mark is only declared.
 *
 * NEVER
 *   Reads files or writes anywhere but the writer it was given.
 */
#ifndef EDIGATE_EDI_REWRITE_H
#define EDIGATE_EDI_REWRITE_H

#include "edi_reader.h"
#include "edi_writer.h"

#define EDI_REWRITE_KEEP_LINES (-1)

typedef struct edi_rewrite_options {
	int x12;                 /* 1: use the x12_* characters below */
	char x12_element;
	char x12_component;
	char x12_terminator;
	char x12_repetition;     /* 0 = keep the interchange's own */
	int edifact;             /* 1: use una below */
	char una[6];             /* UNA order: component, element, decimal,
	                            release, repetition, terminator */
	int line_style;          /* an edi_line_style or EDI_REWRITE_KEEP_LINES */
} edi_rewrite_options;

typedef struct edi_rewriter edi_rewriter;

/* Writes through w, which the caller keeps owning. NULL options keep all
 * delimiters. Returns NULL only when memory is exhausted. */
edi_rewriter *edi_rewrite_new(edi_writer *w, const edi_rewrite_options *options);
void edi_rewrite_free(edi_rewriter *r);

/* Writes one read segment. On failure edi_writer_error() of the writer
 * says why; the caller knows the input position from the segment. */
edi_write_status edi_rewrite_segment(edi_rewriter *r, const edi_segment *segment);

/* Parses the --delimiters argument: element, component, terminator and
 * optionally repetition, one character each; "\n", "\r", "\t" and "\\"
 * may be written as escapes. Returns 1 on success, else 0 with why. */
int edi_rewrite_parse_x12(edi_rewrite_options *options, const char *text,
    char *why, size_t cap);
/* Parses the --una argument: the six UNA characters in UNA order. */
int edi_rewrite_parse_una(edi_rewrite_options *options, const char *text,
    char *why, size_t cap);

#endif
