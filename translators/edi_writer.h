/*
 * edi_writer - segments to bytes, for X12 and EDIFACT.
 *
 * OWNS
 *   Serialising segments with one set of delimiters (edi_delimiters, the
 *   same type the reader reports) and one line style. A segment is built
 *   element by element:
 *
 *       edi_writer_begin(w, "N1");
 *       edi_writer_element(w, "ST");          N1*ST
 *       edi_writer_element(w, "STORE 42");    N1*ST*STORE 42
 *       edi_writer_element(w, "");            (trailing: dropped)
 *       edi_writer_end(w);                    N1*ST*STORE 42~
 *
 *   edi_writer_element() starts element n+1 with its first component;
 *   edi_writer_component() adds the next component to the current
 *   repetition; edi_writer_repetition() starts the next repetition of the
 *   current element with its first component. Empty values are placeholders:
 *   their separators are written only when non-empty data follows, so
 *   trailing empty elements, repetitions and components vanish as X12
 *   (X12.6, omitted data elements) and EDIFACT (ISO 9735-1, compression
 *   of data) require, while empty ones in the middle keep their position.
 *
 *   edi_writer_segment() re-emits a segment the reader delivered in the
 *   writer's delimiters: it unescapes with the source delimiters, re-splits
 *   repetitions and components and escapes for the target. It reproduces
 *   the segment exactly, trailing empty elements included, so a rewrite
 *   never changes what a partner sent. ISA is rebuilt at its fixed widths
 *   with the writer's separators in ISA11 and ISA16; UNA is written with
 *   the writer's service characters.
 *
 * OUTPUT
 *   Bytes go through a fixed internal buffer to a sink callback, so output
 *   of any size streams in constant memory. edi_writer_memory collects
 *   output in a growable buffer when the caller wants it whole.
 *
 * DATA THAT CONTAINS A DELIMITER
 *   EDIFACT: escaped with the release character ("A+B" -> "A?+B").
 *   X12, or EDIFACT declared without a release character: refused with
 *   EDI_WRITE_DELIMITER_IN_DATA naming the segment, element, repetition and
 *   component. Control characters (bytes below 0x20 but tab, and 0x7F)
 *   are refused in both standards, since a reader rejects them or, for
 *   line breaks, drops them as wrapping; EDIFACT releases CR and LF.
 *
 * ERRORS
 *   Every call returns a status; the first failure is kept with its
 *   position (edi_writer_error()) and every later call returns it again.
 *   Bytes already handed to the sink are then an incomplete interchange
 *   the caller must discard; edi_writer_reset() makes the writer usable
 *   for a new output.
 *
 * NEVER
 *   Writes data that would read back differently, allocates per segment,
 *   or knows about messages, maps or networks. Envelope counts and control
 *   numbers belong to edi_builder.
 */
#ifndef EDIGATE_EDI_WRITER_H
#define EDIGATE_EDI_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "edi_reader.h"

typedef enum edi_write_status {
	EDI_WRITE_OK = 0,
	EDI_WRITE_DELIMITER_IN_DATA, /* X12 (or no release char): data holds a delimiter */
	EDI_WRITE_CONTROL_CHARACTER, /* data holds a byte below 0x20 or 0x7F */
	EDI_WRITE_NO_REPETITION,     /* a repetition, but no repetition separator */
	EDI_WRITE_BAD_DELIMITERS,    /* delimiters not distinct, not allowed */
	EDI_WRITE_BAD_TAG,           /* tag not a capital + 1-2 capitals/digits */
	EDI_WRITE_BAD_HEADER,        /* ISA field of the wrong width, bad UNA */
	EDI_WRITE_BAD_VALUE,         /* an envelope parameter is malformed */
	EDI_WRITE_SEQUENCE,          /* calls out of order (element outside a segment...) */
	EDI_WRITE_SINK,              /* the sink reported a failure */
	EDI_WRITE_NO_MEMORY
} edi_write_status;

typedef struct edi_write_error {
	edi_write_status code;
	char tag[4];            /* segment being written, "" if none */
	uint64_t segment_index; /* 1-based position of that segment in the output */
	unsigned element;       /* 1-based element position, 0 if n/a */
	unsigned repetition;    /* 1-based, 0 if n/a */
	unsigned component;     /* 1-based, 0 if n/a */
	char message[320];      /* what was expected and what was found */
} edi_write_error;

/* Receives output bytes. Returns 0 on success; anything else makes the
 * writer fail with EDI_WRITE_SINK. */
typedef int (*edi_writer_sink)(void *ctx, const char *data, size_t len);

typedef enum edi_line_style {
	EDI_LINE_NONE = 0, /* segments follow each other on one line */
	EDI_LINE_LF,       /* "\n" after each terminator */
	EDI_LINE_CRLF      /* "\r\n" after each terminator */
} edi_line_style;

typedef struct edi_writer edi_writer;

/* Returns NULL only when memory is exhausted. A NULL sink discards the
 * output (to count it). The writer starts with the X12 delimiters "*:~"
 * and no repetition separator until told otherwise. */
edi_writer *edi_writer_new(edi_writer_sink sink, void *sink_ctx);
/* Does not flush: call edi_writer_flush() first to keep buffered bytes. */
void edi_writer_free(edi_writer *w);

/* Delimiters for what follows; the line style is delimiters->suffix.
 * Allowed only between segments. Fails with EDI_WRITE_BAD_DELIMITERS
 * unless edi_writer_check_delimiters() accepts them. */
edi_write_status edi_writer_set_delimiters(edi_writer *w, const edi_delimiters *d);
/* 1 when d can be written: element, component, repetition and release
 * (the last two optional) are distinct single ASCII bytes that are not
 * letters, digits, space, CR or LF, and differ from a one-byte terminator;
 * the terminator is such a byte, "\n" (X12 only), or one UTF-8 encoded
 * character; X12 has no release character. Otherwise 0 and why says what
 * is wrong. */
int edi_writer_check_delimiters(const edi_delimiters *d, char *why, size_t cap);
const edi_delimiters *edi_writer_delimiters(const edi_writer *w);

/* Fill d. repetition 0 = none. The terminator is one byte. */
void edi_writer_x12_delimiters(edi_delimiters *d, char element, char component,
    char terminator, char repetition, edi_line_style line);
/* From a UNA service string in UNA order (component, element, decimal,
 * release, repetition, terminator); a space as release or repetition means
 * none, as in syntax 3's reserved UNA5. */
void edi_writer_edifact_delimiters(edi_delimiters *d, const char una[6],
    edi_line_style line);
void edi_writer_set_line_style(edi_delimiters *d, edi_line_style line);

/* Building a segment. Values are NUL-terminated (NULL = empty) or, for the
 * _n variants, ptr+len and may hold any byte but the refused ones. */
edi_write_status edi_writer_begin(edi_writer *w, const char *tag);
edi_write_status edi_writer_begin_n(edi_writer *w, const char *tag, size_t len);
edi_write_status edi_writer_element(edi_writer *w, const char *value);
edi_write_status edi_writer_element_n(edi_writer *w, const char *value, size_t len);
edi_write_status edi_writer_component(edi_writer *w, const char *value);
edi_write_status edi_writer_component_n(edi_writer *w, const char *value, size_t len);
edi_write_status edi_writer_repetition(edi_writer *w, const char *value);
edi_write_status edi_writer_repetition_n(edi_writer *w, const char *value, size_t len);
/* Writes the terminator and the line suffix; the segment is counted. */
edi_write_status edi_writer_end(edi_writer *w);

/* A whole segment of simple elements: tag, then count values. */
edi_write_status edi_writer_simple(edi_writer *w, const char *tag, size_t count,
    const char *const *values);

/* Re-emits a segment delivered by the reader (see OWNS). */
edi_write_status edi_writer_segment(edi_writer *w, const edi_segment *segment);

/* The X12 interchange header. fields[1..16] are ISA01..ISA16 (fields[0] is
 * ignored). ISA02, ISA04, ISA06 and ISA08 are padded with spaces to their
 * widths; every other field must have its exact width. ISA16 is the
 * writer's component separator. ISA11 is the writer's repetition separator
 * when ISA12 is 00402 or later and one is set; otherwise it is fields[11]
 * ("U" when empty), which then must not look like a separator, and the
 * writer drops its repetition separator until the delimiters are set
 * again, because that interchange has none. The segment is exactly 106
 * characters including the terminator (106 bytes when the terminator is
 * one byte). */
#define EDI_ISA_FIELDS 17
edi_write_status edi_writer_isa(edi_writer *w, const edi_slice fields[EDI_ISA_FIELDS]);
/* Width of ISA field n (1..16), 0 otherwise. */
size_t edi_isa_field_width(unsigned n);

/* The EDIFACT service string advice "UNA" + 6 characters, from the
 * writer's delimiters. Refused when the terminator is not one byte. */
edi_write_status edi_writer_una(edi_writer *w);
/* The six UNA characters for d (release/repetition 0 -> ' '). */
void edi_writer_una_chars(const edi_delimiters *d, char out[6]);

/* Hands buffered bytes to the sink. */
edi_write_status edi_writer_flush(edi_writer *w);

/* Segments ended since creation or reset (ISA and UNA included). */
uint64_t edi_writer_segment_count(const edi_writer *w);
/* Bytes produced (buffered or flushed) since creation or reset. */
uint64_t edi_writer_byte_count(const edi_writer *w);
/* 1 between segments. */
int edi_writer_idle(const edi_writer *w);

/* Records a failure found by a layer above the writer (an envelope
 * parameter, a map value), so that the writer stops as on its own
 * failures and edi_writer_error() reports it with the current position.
 * Returns code. The first failure wins. */
edi_write_status edi_writer_fail(edi_writer *w, edi_write_status code,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The first failure, or NULL when there was none. */
const edi_write_error *edi_writer_error(const edi_writer *w);
/* Forgets buffered bytes, the failure and the counters; keeps the sink
 * and the delimiters. */
void edi_writer_reset(edi_writer *w);

const char *edi_write_status_name(edi_write_status status);

/* A sink that collects everything in memory. Zero-initialise it, pass
 * edi_writer_memory_sink and its address to edi_writer_new(), release
 * with edi_writer_memory_free(). max (0 = no limit) bounds data's size:
 * beyond it the sink fails instead of growing. */
typedef struct edi_writer_memory {
	char *data; /* NUL-terminated for convenience; len excludes the NUL */
	size_t len;
	size_t cap;
	size_t max;
} edi_writer_memory;

int edi_writer_memory_sink(void *ctx, const char *data, size_t len);
void edi_writer_memory_free(edi_writer_memory *m);

/* A sink writing to a stdio stream (ctx is the FILE *). */
int edi_writer_file_sink(void *ctx, const char *data, size_t len);

#endif
