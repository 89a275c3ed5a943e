/*
 * edi_reader - streaming tokenizer for X12 and EDIFACT interchanges.
 *
 * OWNS
 *   Turning a byte stream into segments. The caller pushes chunks of any
 *   size with edi_reader_feed() and ends with edi_reader_finish(); the
 *   reader calls back once per segment. Feeding one byte at a time and the
 *   whole input at once produce exactly the same callbacks.
 *
 *   Delimiters are discovered per interchange: X12 from the fixed-width ISA
 *   (element separator at byte 3, repetition separator ISA11 from version
 *   00402 on, component separator ISA16, terminator after ISA16); EDIFACT
 *   from the UNA service string advice or the syntax defaults ":+.? '".
 *   Several interchanges, of either standard, may follow one another.
 *
 * ZERO COPY
 *   Segment elements are slices pointing into the caller's chunk when the
 *   segment lies inside it, or into the reader's own carry buffer when it
 *   straddles chunks or had to be unwrapped (line breaks inside a segment).
 *   Slices are valid only during the callback. They are raw: they still
 *   contain component and repetition separators and EDIFACT release
 *   characters; edi_split_next() and edi_unescape() take them apart without
 *   allocating.
 *
 * MEMORY
 *   Bounded by the configured maximum segment length and element count,
 *   whatever the input size. A longer segment is reported and skipped.
 *
 * ERRORS
 *   Reported through the error callback with byte offset, line, segment
 *   index and element/component position. Bad input never aborts: the
 *   reader skips the bad segment, or resynchronises on the next ISA/UNA/UNB
 *   when it lost the interchange framing, and goes on.
 *
 * NEVER
 *   Allocates per segment or per element, reads past the bytes it was
 *   given, or knows anything about messages, envelopes or networks.
 */
#ifndef EDIGATE_EDI_READER_H
#define EDIGATE_EDI_READER_H

#include <stddef.h>
#include <stdint.h>

#define EDI_MAX_TERMINATOR 4 /* a UTF-8 terminator such as U+2026 is 3 bytes */

typedef struct edi_slice {
	const char *ptr;
	size_t len;
} edi_slice;

typedef enum edi_standard {
	EDI_STANDARD_NONE = 0,
	EDI_STANDARD_X12,
	EDI_STANDARD_EDIFACT
} edi_standard;

typedef struct edi_delimiters {
	edi_standard standard;
	char element;    /* X12: ISA byte 3;  EDIFACT: '+' */
	char component;  /* X12: ISA16;       EDIFACT: ':' */
	char repetition; /* X12: ISA11 when ISA12 >= 00402, EDIFACT: '*' in
	                    syntax 4 (or UNA); 0 when there is none */
	char release;    /* EDIFACT only ('?'); 0 when there is none */
	char decimal;    /* '.' or ',' (EDIFACT UNA); '.' for X12 */
	unsigned char terminator_len;
	char terminator[EDI_MAX_TERMINATOR];
	/* The line style found after the header's terminator: "", "\n" or
	 * "\r\n". A writer reproducing the input uses it. */
	unsigned char suffix_len;
	char suffix[2];
} edi_delimiters;

/* Flags of a segment. */
#define EDI_SEGMENT_RAW      0x01u /* ISA or UNA: elements must not be split
                                      into components or repetitions */
#define EDI_SEGMENT_RELEASED 0x02u /* an element contains the release char */
#define EDI_SEGMENT_UNWRAPPED 0x04u /* line breaks inside were removed */

typedef struct edi_segment {
	const edi_delimiters *delimiters;
	/* elements[0] is the tag, so elements[n] is data element n as the
	 * standards number it (BEG03 is elements[3], UNB element 2 is
	 * elements[2]). element_count counts the tag too. */
	const edi_slice *elements;
	size_t element_count;
	unsigned flags;
	uint64_t offset;        /* stream byte offset of the tag's first byte */
	uint64_t line;          /* 1-based line of the tag's first byte */
	uint64_t index;         /* 1-based position of the segment in the stream */
	size_t interchange;     /* 1-based number of the interchange it belongs to */
} edi_segment;

typedef enum edi_error_code {
	EDI_ERR_NONE = 0,
	EDI_ERR_GARBAGE,            /* bytes that start no interchange */
	EDI_ERR_ISA_LENGTH,         /* ISA not 106 characters, separators misplaced */
	EDI_ERR_DELIMITERS,         /* delimiters not distinct or not allowed */
	EDI_ERR_UNA,                /* malformed UNA service string advice */
	EDI_ERR_SYNTAX_ID,          /* UNB syntax identifier not UNOA..UNOY */
	EDI_ERR_TAG,                /* segment tag is not 2-3 letters/digits */
	EDI_ERR_SEGMENT_TOO_LONG,   /* longer than the configured limit */
	EDI_ERR_TOO_MANY_ELEMENTS,  /* more elements than the configured limit */
	EDI_ERR_CONTROL_CHARACTER,  /* binary/control byte inside a segment */
	EDI_ERR_RELEASE_AT_END,     /* EDIFACT release char ends the segment */
	EDI_ERR_TRUNCATED,          /* input ends inside a segment or interchange */
	EDI_ERR_MISSING_TERMINATOR, /* last segment has no terminator (warning) */
	EDI_ERR_STOPPED             /* a callback asked the reader to stop */
} edi_error_code;

typedef enum edi_severity {
	EDI_SEVERITY_WARNING = 1, /* input is usable, but not as the standard says */
	EDI_SEVERITY_ERROR = 2    /* the segment or bytes named were not delivered */
} edi_severity;

typedef struct edi_error {
	edi_error_code code;
	edi_severity severity;
	edi_standard standard;  /* of the interchange being read, if known */
	uint64_t offset;        /* stream byte offset where the problem is */
	uint64_t line;          /* 1-based */
	uint64_t segment_index; /* 1-based index the segment has or would have */
	unsigned element;       /* 1-based element position, 0 if n/a */
	unsigned component;     /* 1-based component position, 0 if n/a */
	char message[160];      /* what was expected and what was found */
} edi_error;

typedef struct edi_reader_callbacks {
	/* Return 0 to go on; anything else stops the reader, and feed/finish
	 * return EDI_ERR_STOPPED from then on. */
	int (*segment)(void *ctx, const edi_segment *segment);
	/* Optional. The error is valid only during the call. */
	void (*error)(void *ctx, const edi_error *error);
} edi_reader_callbacks;

typedef struct edi_reader_limits {
	size_t max_segment_length; /* bytes incl. terminator; 0 = 1 MiB */
	size_t max_elements;       /* per segment incl. tag; 0 = 4096 */
} edi_reader_limits;

typedef struct edi_reader edi_reader;

/* Returns NULL only when memory is exhausted. limits may be NULL. */
edi_reader *edi_reader_new(const edi_reader_callbacks *callbacks, void *ctx,
    const edi_reader_limits *limits);
void edi_reader_free(edi_reader *reader);

/* Returns EDI_ERR_NONE, or EDI_ERR_STOPPED when a callback stopped it.
 * Errors in the input are reported through the callback, not returned. */
edi_error_code edi_reader_feed(edi_reader *reader, const void *data, size_t len);
/* Ends the input: delivers a last unterminated segment and reports
 * truncation. The reader can then be fed a new stream. */
edi_error_code edi_reader_finish(edi_reader *reader);

/* Counters since the reader was created. */
uint64_t edi_reader_segment_count(const edi_reader *reader);
uint64_t edi_reader_error_count(const edi_reader *reader);
uint64_t edi_reader_byte_count(const edi_reader *reader);

const char *edi_error_code_name(edi_error_code code);

/*
 * Taking elements apart, without allocation.
 *
 * A splitter walks a slice part by part, splitting at every separator that
 * is not released (release may be 0). An empty slice yields one empty part;
 * "a::b" yields "a", "", "b"; "a:" yields "a", "".
 *     edi_splitter it; edi_slice part;
 *     edi_split_init(&it, element, ':', '?');
 *     while (edi_split_next(&it, &part)) ...
 */
typedef struct edi_splitter {
	const char *next;
	const char *end;
	char separator;
	char release;
	int done;
} edi_splitter;

void edi_split_init(edi_splitter *it, edi_slice slice, char separator, char release);
int edi_split_next(edi_splitter *it, edi_slice *part);

/* Number of parts a splitter would produce (at least 1). */
size_t edi_slice_count(edi_slice slice, char separator, char release);

/* The component'th component (1-based) of the repetition'th repetition
 * (1-based) of element n of the segment; an empty slice if absent. For RAW
 * segments the element is returned whole. */
edi_slice edi_segment_component(const edi_segment *segment, size_t element,
    size_t repetition, size_t component);

/* Copies slice to out without release characters (EDIFACT "?+" -> "+").
 * Writes at most cap bytes, returns the unescaped length (which may exceed
 * cap, as snprintf does). out is not NUL-terminated. */
size_t edi_unescape(edi_slice slice, char release, char *out, size_t cap);

/* 1 when the slice equals the NUL-terminated string s. */
int edi_slice_eq(edi_slice slice, const char *s);

#endif
