/*
 * edi_reader - streaming tokenizer for X12 and EDIFACT interchanges.
 *
 * The input is consumed in "units": a run of whitespace between segments,
 * a run of garbage between interchanges, an ISA or UNA header, or one
 * segment. find_unit() decides from the bytes at hand where the unit ends,
 * or that it needs more bytes. Units that lie inside the caller's chunk are
 * processed in place (zero copy); only the unit that straddles the end of a
 * chunk is copied into the carry buffer and completed from the next chunks.
 * Because a unit's boundaries are decided by the same function on the same
 * bytes in both paths, any chunking gives the same callbacks.
 *
 * The carry buffer never holds more than one unit, and a unit is bounded by
 * the maximum segment length (headers by a small constant), so memory is flat.
 * A segment over the limit is reported once and skipped byte by byte until
 * its terminator ("skip mode"), without buffering it.
 */
#include "edi_reader.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define DEFAULT_MAX_SEGMENT (1024u * 1024u)
#define DEFAULT_MAX_ELEMENTS 4096u
#define ISA_LENGTH 106u
#define ISA_LENIENT_MAX 512u  /* longest non-conforming ISA we still read */
#define UNA_LENGTH 9u
#define CARRY_PIECE 4096u     /* bytes appended to the carry per step */

enum unit_kind {
	UNIT_NEED_MORE,
	UNIT_SPACE,
	UNIT_GARBAGE,
	UNIT_ISA,
	UNIT_UNA,
	UNIT_SEGMENT,
	UNIT_TOO_LONG,
	UNIT_TRUNCATED,  /* a header cut off by the end of input */
	UNIT_SWITCH      /* state changed, nothing consumed: look again */
};

enum reader_state {
	STATE_SEEK, /* between interchanges */
	STATE_BODY  /* inside an interchange, delimiters known */
};

/* Byte classes of the fast path, which also sees terminators. */
enum fast_class {
	FAST_DATA = 0,
	FAST_ELEMENT,
	FAST_TERMINATOR,
	FAST_RELEASE,
	FAST_BAIL        /* line break or control char: leave it to the slow path */
};

/* Byte classes used while splitting a segment into elements. */
enum byte_class {
	CLASS_DATA = 0,
	CLASS_ELEMENT,
	CLASS_NEWLINE,
	CLASS_RELEASE,
	CLASS_CONTROL
};

struct edi_reader {
	edi_reader_callbacks callbacks;
	void *ctx;
	size_t max_segment;
	size_t max_elements;

	enum reader_state state;
	edi_delimiters delimiters;
	int una_pending;        /* UNA seen, its UNB not yet */
	unsigned char byte_class[256];
	unsigned char fast_class[256]; /* for fast_body(): FAST_* */
	int fast_ok;            /* single-byte terminator: fast path usable */

	/* Position of the first byte not yet consumed. */
	uint64_t offset;
	uint64_t line;
	uint64_t segment_index;
	size_t interchange;
	int in_garbage;         /* a garbage run was reported and goes on */

	/* Carry: the start of a unit that straddles chunks. */
	char *carry;
	size_t carry_len;
	size_t carry_cap;
	size_t carry_scanned;   /* bytes of carry known to hold no terminator */

	/* Skip mode: discarding an over-long segment up to its terminator. */
	int skipping;
	int skip_release;       /* the last skipped byte was a release char */
	unsigned skip_matched;  /* bytes of a multi-byte terminator matched */

	edi_slice *elements;
	size_t elements_cap;
	char *scratch;          /* unwrapped copy of a segment */
	size_t scratch_cap;

	int stopped;
	uint64_t segments_delivered;
	uint64_t errors_reported;
	uint64_t bytes_fed;
};

static const edi_delimiters edifact_defaults = {
	.standard = EDI_STANDARD_EDIFACT,
	.element = '+', .component = ':', .repetition = 0, .release = '?',
	.decimal = '.', .terminator_len = 1, .terminator = { '\'' },
};

static int
is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	    (c >= 'a' && c <= 'z');
}

static int
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static size_t
count_newlines(const char *p, size_t n)
{
	size_t lines = 0;
	const char *end = p + n;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		lines++;
		p++;
	}
	return lines;
}

static void
report(edi_reader *r, edi_error_code code, edi_severity severity,
    uint64_t offset, uint64_t line, unsigned element, const char *fmt, ...)
{
	edi_error err;
	va_list ap;

	r->errors_reported++;
	if (r->callbacks.error == NULL)
		return;
	memset(&err, 0, sizeof(err));
	err.code = code;
	err.severity = severity;
	err.standard = r->state == STATE_BODY ? r->delimiters.standard :
	    EDI_STANDARD_NONE;
	err.offset = offset;
	err.line = line;
	err.segment_index = r->segment_index;
	err.element = element;
	va_start(ap, fmt);
	vsnprintf(err.message, sizeof(err.message), fmt, ap);
	va_end(ap);
	r->callbacks.error(r->ctx, &err);
}

/* Printable rendering of a delimiter for messages. */
static const char *
show_char(unsigned char c, char buf[8])
{
	if (c >= 0x21 && c < 0x7f)
		snprintf(buf, 8, "'%c'", c);
	else
		snprintf(buf, 8, "0x%02X", c);
	return buf;
}

static int delimiters_distinct(const edi_delimiters *d, char *why,
    size_t whylen);

static void
build_byte_classes(edi_reader *r)
{
	const edi_delimiters *d = &r->delimiters;
	char why[96];
	unsigned c;

	for (c = 0; c < 256; c++)
		r->byte_class[c] = (c < 0x20 || c == 0x7f) ? CLASS_CONTROL :
		    CLASS_DATA;
	r->byte_class['\t'] = CLASS_DATA;
	r->byte_class['\n'] = CLASS_NEWLINE;
	r->byte_class['\r'] = CLASS_NEWLINE;
	/* Control characters chosen as delimiters are legitimate. */
	r->byte_class[(unsigned char)d->component] = CLASS_DATA;
	if (d->repetition)
		r->byte_class[(unsigned char)d->repetition] = CLASS_DATA;
	if (d->release)
		r->byte_class[(unsigned char)d->release] = CLASS_RELEASE;
	r->byte_class[(unsigned char)d->element] = CLASS_ELEMENT;

	for (c = 0; c < 256; c++)
		r->fast_class[c] = r->byte_class[c] == CLASS_DATA ? FAST_DATA :
		    FAST_BAIL;
	r->fast_class[(unsigned char)d->element] = FAST_ELEMENT;
	if (d->release)
		r->fast_class[(unsigned char)d->release] = FAST_RELEASE;
	r->fast_class[(unsigned char)d->terminator[0]] = FAST_TERMINATOR;
	/* The fast path resolves a byte that plays two parts differently
	 * from the slow path, so delimiters that are not distinct (reported
	 * as EDI_ERR_DELIMITERS) are read by the slow path alone, and the
	 * result never depends on where the chunks end. */
	/* A line break as a separator defeats the slow path's trimming of
	 * line style before the terminator; leave such input to it alone. */
	r->fast_ok = d->terminator_len == 1 &&
	    delimiters_distinct(d, why, sizeof why) &&
	    !strchr("\r\n", d->element) && !strchr("\r\n", d->component) &&
	    (d->repetition == 0 || !strchr("\r\n", d->repetition)) &&
	    (d->release == 0 || !strchr("\r\n", d->release));
}

edi_reader *
edi_reader_new(const edi_reader_callbacks *callbacks, void *ctx,
    const edi_reader_limits *limits)
{
	edi_reader *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->callbacks = *callbacks;
	r->ctx = ctx;
	r->max_segment = limits && limits->max_segment_length ?
	    limits->max_segment_length : DEFAULT_MAX_SEGMENT;
	if (r->max_segment < ISA_LENIENT_MAX)
		r->max_segment = ISA_LENIENT_MAX;
	r->max_elements = limits && limits->max_elements ?
	    limits->max_elements : DEFAULT_MAX_ELEMENTS;
	if (r->max_elements < 17)
		r->max_elements = 17; /* the ISA alone has 16 elements + tag */
	r->elements_cap = 64;
	r->elements = malloc(r->elements_cap * sizeof(*r->elements));
	if (r->elements == NULL) {
		free(r);
		return NULL;
	}
	r->line = 1;
	r->state = STATE_SEEK;
	return r;
}

void
edi_reader_free(edi_reader *r)
{
	if (r == NULL)
		return;
	free(r->carry);
	free(r->scratch);
	free(r->elements);
	free(r);
}

uint64_t edi_reader_segment_count(const edi_reader *r) { return r->segments_delivered; }
uint64_t edi_reader_error_count(const edi_reader *r) { return r->errors_reported; }
uint64_t edi_reader_byte_count(const edi_reader *r) { return r->bytes_fed; }

/* ---- deciding where a unit ends ---------------------------------------- */

/*
 * Length of a terminator starting with byte c at p[0..n): a UTF-8 lead byte
 * followed by its continuation bytes is one terminator (files exist that
 * end segments with U+2026). Returns 0 when more bytes are needed.
 */
static size_t
terminator_length(const unsigned char *p, size_t n, int eof)
{
	size_t want, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		want = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		want = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		want = 4;
	else
		return 1;
	for (i = 1; i < want; i++) {
		if (i >= n)
			return eof ? 1 : 0;
		if ((p[i] & 0xc0) != 0x80)
			return 1;
	}
	return want;
}

/* Line style after a header's terminator; 0 when more bytes are needed. */
static int
read_suffix(edi_delimiters *d, const char *p, size_t n, int eof)
{
	d->suffix_len = 0;
	if (d->terminator_len == 1 && d->terminator[0] == '\n')
		return 1;
	if (n == 0)
		return eof;
	if (p[0] == '\n') {
		d->suffix[0] = '\n';
		d->suffix_len = 1;
		return 1;
	}
	if (p[0] != '\r' || (d->terminator_len == 1 && d->terminator[0] == '\r'))
		return 1;
	if (n < 2)
		return eof;
	if (p[1] == '\n') {
		d->suffix[0] = '\r';
		d->suffix[1] = '\n';
		d->suffix_len = 2;
	}
	return 1;
}

static const unsigned isa_separator_positions[16] = {
	3, 6, 17, 20, 31, 34, 50, 53, 69, 76, 81, 83, 89, 99, 101, 103
};

/*
 * A file wrapped at a fixed column has line breaks inside the ISA. Without
 * them the ISA may still be the 106 characters the standard asks for.
 */
static int
isa_conforms_unwrapped(const unsigned char *u, size_t term_at)
{
	unsigned char flat[ISA_LENGTH];
	size_t i, m = 0;
	unsigned k;

	if (u[term_at] == '\r' || u[term_at] == '\n')
		return 0;
	for (i = 0; i < term_at; i++) {
		if (u[i] == '\r' || u[i] == '\n')
			continue;
		if (m >= ISA_LENGTH - 1)
			return 0;
		flat[m++] = u[i];
	}
	if (m != ISA_LENGTH - 1 || m == term_at)
		return 0;
	for (k = 0; k < 16; k++)
		if (flat[isa_separator_positions[k]] != u[3])
			return 0;
	return 1;
}

/*
 * ISA: 106 characters with the element separator at fixed places. A header
 * whose fields have the wrong widths is still read (16 separators, then
 * ISA16, then the terminator) so that its interchange can be reported in
 * full; the caller flags it. *conforming tells which case it was.
 */
static enum unit_kind
find_isa(edi_reader *r, const char *p, size_t n, int eof, size_t *len,
    edi_delimiters *d, int *conforming)
{
	const unsigned char *u = (const unsigned char *)p;
	unsigned char sep;
	size_t i, term_at = 0, tlen;
	unsigned seps = 0;

	if (n < 4) {
		*len = n;
		return eof ? UNIT_TRUNCATED : UNIT_NEED_MORE;
	}
	sep = u[3];
	if (is_alnum(sep) || (is_space(sep) && sep != '\t'))
		return UNIT_GARBAGE;

	*conforming = 0;
	if (n >= ISA_LENGTH) {
		*conforming = 1;
		for (i = 0; i < 16; i++)
			if (u[isa_separator_positions[i]] != sep)
				*conforming = 0;
		for (i = 4; i < 104 && *conforming; i++)
			if (u[i] == sep && i != 6 && i != 17 && i != 20 &&
			    i != 31 && i != 34 && i != 50 && i != 53 &&
			    i != 69 && i != 76 && i != 81 && i != 83 &&
			    i != 89 && i != 99 && i != 101 && i != 103)
				*conforming = 0;
		if (*conforming)
			term_at = ISA_LENGTH - 1;
	} else if (!eof) {
		/* Could still be a conforming ISA: wait for all of it, unless
		 * the separators seen so far already rule that out. */
		int possible = 1;
		for (i = 0; i < 16 && isa_separator_positions[i] < n; i++)
			if (u[isa_separator_positions[i]] != sep)
				possible = 0;
		if (possible)
			return UNIT_NEED_MORE;
	}
	if (!*conforming) {
		for (i = 3; i < n && i < ISA_LENIENT_MAX; i++) {
			if (u[i] == sep && ++seps == 16)
				break;
		}
		if (seps < 16) {
			if (i >= ISA_LENIENT_MAX)
				return UNIT_GARBAGE;
			*len = n;
			return eof ? UNIT_TRUNCATED : UNIT_NEED_MORE;
		}
		term_at = i + 2;        /* separator, ISA16, terminator */
		if (term_at < n)
			*conforming = isa_conforms_unwrapped(u, term_at);
	}
	if (term_at >= n) {
		*len = n;
		return eof ? UNIT_TRUNCATED : UNIT_NEED_MORE;
	}
	tlen = terminator_length(u + term_at, n - term_at, eof);
	if (tlen == 0)
		return UNIT_NEED_MORE;

	memset(d, 0, sizeof(*d));
	d->standard = EDI_STANDARD_X12;
	d->element = (char)sep;
	d->component = p[term_at - 1];
	d->decimal = '.';
	d->terminator_len = (unsigned char)tlen;
	memcpy(d->terminator, p + term_at, tlen);
	if (!read_suffix(d, p + term_at + tlen, n - term_at - tlen, eof))
		return UNIT_NEED_MORE;
	*len = term_at + tlen;
	return UNIT_ISA;
}

static enum unit_kind
find_una(const char *p, size_t n, int eof, size_t *len, edi_delimiters *d)
{
	if (n < UNA_LENGTH) {
		*len = n;
		return eof ? UNIT_TRUNCATED : UNIT_NEED_MORE;
	}
	memset(d, 0, sizeof(*d));
	d->standard = EDI_STANDARD_EDIFACT;
	d->component = p[3];
	d->element = p[4];
	d->decimal = p[5];
	d->release = p[6] == ' ' ? 0 : p[6];
	d->repetition = p[7] == ' ' ? 0 : p[7];
	d->terminator[0] = p[8];
	d->terminator_len = 1;
	if (!read_suffix(d, p + UNA_LENGTH, n - UNA_LENGTH, eof))
		return UNIT_NEED_MORE;
	*len = UNA_LENGTH;
	return UNIT_UNA;
}

static int
starts_with(const char *p, size_t n, const char *tag)
{
	size_t i;

	for (i = 0; tag[i] && i < n; i++)
		if (p[i] != tag[i])
			return 0;
	return 1;
}

/*
 * Garbage runs up to the next place an interchange could start. A run is
 * at least GARBAGE_SHOWN bytes long unless such a place or the end of input
 * comes first, so the error message quoting it is the same however the
 * input was chunked.
 */
#define GARBAGE_SHOWN 24u

static enum unit_kind
find_garbage(const char *p, size_t n, int eof, size_t *len)
{
	size_t i;

	for (i = 1; i < n; i++) {
		if ((p[i] == 'I' && starts_with(p + i, n - i, "ISA")) ||
		    (p[i] == 'U' && (starts_with(p + i, n - i, "UNA") ||
		    starts_with(p + i, n - i, "UNB")))) {
			/* A possible start cut by the chunk end is looked at
			 * again with more bytes; before that the run must be
			 * long enough to be quoted. */
			if (n - i < 3 && !eof && i < GARBAGE_SHOWN)
				return UNIT_NEED_MORE;
			*len = i;
			return UNIT_GARBAGE;
		}
	}
	if (n < GARBAGE_SHOWN && !eof)
		return UNIT_NEED_MORE;
	*len = n;
	return UNIT_GARBAGE;
}

/* Where the segment starting at p ends (terminator included). */
static enum unit_kind
find_segment(edi_reader *r, const char *p, size_t n, int eof, size_t *len)
{
	const edi_delimiters *d = &r->delimiters;
	size_t from = r->carry_len && p == r->carry ? r->carry_scanned : 0;
	size_t limit = n < r->max_segment ? n : r->max_segment;
	const char *hit;

	/* The search stops at the length limit so that a chunk holding a
	 * huge segment whole and a carry filling up give the same verdict. */
	while (from < limit && (hit = memchr(p + from, d->terminator[0],
	    limit - from)) != NULL) {
		size_t at = (size_t)(hit - p);
		if (d->release) {
			size_t k = at, releases = 0;
			while (k > 0 && p[k - 1] == d->release) {
				releases++;
				k--;
			}
			if (releases & 1) {
				from = at + 1;
				continue;
			}
		}
		if (d->terminator_len > 1) {
			if (n - at < d->terminator_len) {
				if (!eof)
					break;
				from = at + 1;
				continue;
			}
			if (memcmp(hit, d->terminator, d->terminator_len) != 0) {
				from = at + 1;
				continue;
			}
		}
		*len = at + d->terminator_len;
		return UNIT_SEGMENT;
	}
	if (p == r->carry)
		r->carry_scanned = n >= EDI_MAX_TERMINATOR ?
		    n - EDI_MAX_TERMINATOR : 0;
	if (n >= r->max_segment)
		return UNIT_TOO_LONG;
	if (eof) {
		*len = n;
		return UNIT_SEGMENT;
	}
	return UNIT_NEED_MORE;
}

static enum unit_kind find_unit(edi_reader *r, const char *p, size_t n,
    int eof, size_t *len, edi_delimiters *d, int *conforming);

static enum unit_kind
find_unit(edi_reader *r, const char *p, size_t n, int eof, size_t *len,
    edi_delimiters *d, int *conforming)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t i;

	if (r->state == STATE_SEEK) {
		if (is_space(u[0]) || u[0] == 0xef) {
			if (u[0] == 0xef) { /* UTF-8 byte order mark */
				if (n < 3 && !eof)
					return UNIT_NEED_MORE;
				if (n < 3 || u[1] != 0xbb || u[2] != 0xbf)
					return find_garbage(p, n, eof, len);
				*len = 3;
				return UNIT_SPACE;
			}
			for (i = 1; i < n && is_space(u[i]); i++)
				;
			*len = i;
			return UNIT_SPACE;
		}
		if (n < 3 && !eof && (starts_with(p, n, "ISA") ||
		    starts_with(p, n, "UNA") || starts_with(p, n, "UNB")))
			return UNIT_NEED_MORE;
		if (starts_with(p, n, "ISA") && n >= 3) {
			enum unit_kind k = find_isa(r, p, n, eof, len, d,
			    conforming);
			if (k != UNIT_GARBAGE)
				return k;
		} else if (starts_with(p, n, "UNA") && n >= 3) {
			enum unit_kind k = find_una(p, n, eof, len, d);
			if (k != UNIT_GARBAGE)
				return k;
		} else if (starts_with(p, n, "UNB") && n >= 3) {
			if (n < 4 && !eof)
				return UNIT_NEED_MORE;
			if (n >= 4 && !is_alnum(u[3])) {
				if (!r->una_pending)
					r->delimiters = edifact_defaults;
				r->state = STATE_BODY;
				build_byte_classes(r);
				return UNIT_SWITCH;
			}
		}
		return find_garbage(p, n, eof, len);
	}

	/* Inside an interchange. */
	/* No segment starts with a line break, so CR and LF there are line
	 * style or blank lines even when LF is the terminator; blanks and tabs
	 * are skipped unless they are delimiters. */
	if (u[0] == '\r' || u[0] == '\n' || ((u[0] == ' ' || u[0] == '\t') &&
	    (char)u[0] != r->delimiters.element &&
	    (char)u[0] != r->delimiters.terminator[0])) {
		for (i = 1; i < n; i++) {
			if (u[i] == '\r' || u[i] == '\n')
				continue;
			if ((u[i] == ' ' || u[i] == '\t') &&
			    (char)u[i] != r->delimiters.element &&
			    (char)u[i] != r->delimiters.terminator[0])
				continue;
			break;
		}
		*len = i;
		return UNIT_SPACE;
	}
	/* A new interchange header while one is open (a missing trailer, or
	 * another standard following): read it as a header. */
	if (n < 4 && !eof && (starts_with(p, n, "ISA") ||
	    starts_with(p, n, "UNA") || starts_with(p, n, "UNB")))
		return UNIT_NEED_MORE;
	if (n >= 4 && !is_alnum(u[3]) && (starts_with(p, n, "ISA") ||
	    starts_with(p, n, "UNA") ||
	    (r->delimiters.standard == EDI_STANDARD_X12 &&
	    starts_with(p, n, "UNB")))) {
		r->state = STATE_SEEK;
		r->una_pending = 0;
		return UNIT_SWITCH;
	}
	return find_segment(r, p, n, eof, len);
}

/* ---- processing units --------------------------------------------------- */

static int
grow_elements(edi_reader *r)
{
	size_t cap = r->elements_cap * 2;
	edi_slice *e;

	if (cap > r->max_elements)
		cap = r->max_elements;
	e = realloc(r->elements, cap * sizeof(*e));
	if (e == NULL)
		return -1;
	r->elements = e;
	r->elements_cap = cap;
	return 0;
}

static int
deliver(edi_reader *r, size_t count, unsigned flags, uint64_t offset,
    uint64_t line)
{
	edi_segment seg;

	seg.delimiters = &r->delimiters;
	seg.elements = r->elements;
	seg.element_count = count;
	seg.flags = flags;
	seg.offset = offset;
	seg.line = line;
	seg.index = r->segment_index;
	seg.interchange = r->interchange;
	r->segments_delivered++;
	if (r->callbacks.segment(r->ctx, &seg) != 0) {
		r->stopped = 1;
		return -1;
	}
	return 0;
}

/*
 * Bit mask of the bytes in p[0..len) (len <= 16) that may be special: the
 * element separator, the release char, DEL and anything below 0x20. The
 * byte class table then sorts out the false alarms (tab, control-character
 * delimiters). A short tail is copied into a padded block so that no byte
 * past the segment is ever read.
 */
static inline unsigned
special_mask(const edi_reader *r, const unsigned char *p, size_t len)
{
#ifdef __SSE2__
	const __m128i element = _mm_set1_epi8(r->delimiters.element);
	const __m128i release = _mm_set1_epi8(r->delimiters.release ?
	    r->delimiters.release : r->delimiters.element);
	const __m128i low = _mm_set1_epi8(0x1f);
	const __m128i del = _mm_set1_epi8(0x7f);
	unsigned char pad[16];
	__m128i v, hit;

	if (len < 16) {
		memset(pad, 'A', sizeof(pad));
		memcpy(pad, p, len);
		p = pad;
	}
	v = _mm_loadu_si128((const __m128i *)p);
	hit = _mm_or_si128(
	    _mm_or_si128(_mm_cmpeq_epi8(v, element), _mm_cmpeq_epi8(v, release)),
	    _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(v, low), v),
	    _mm_cmpeq_epi8(v, del)));
	return (unsigned)_mm_movemask_epi8(hit) & (len < 16 ?
	    (1u << len) - 1 : 0xffffu);
#else
	unsigned mask = 0;
	size_t i;

	for (i = 0; i < len; i++)
		if (r->byte_class[p[i]] != CLASS_DATA)
			mask |= 1u << i;
	return mask;
#endif
}

/*
 * Splits body[0..n) into r->elements in one pass of 16-byte blocks.
 * Returns the element count, or 0 after reporting an error (the segment is
 * then dropped). *newlines receives the number of LF bytes inside, *wrapped
 * whether CR/LF bytes were found.
 */
static size_t
split_elements(edi_reader *r, const char *body, size_t n, uint64_t offset,
    uint64_t line, unsigned *flags, size_t *newlines, int *wrapped)
{
	const unsigned char *u = (const unsigned char *)body;
	size_t base, start = 0, count = 0, released_until = 0;

	*newlines = 0;
	*wrapped = 0;
	for (base = 0; base < n; base += 16) {
		unsigned mask = special_mask(r, u + base,
		    n - base < 16 ? n - base : 16);
		while (mask) {
			size_t i = base + (size_t)__builtin_ctz(mask);
			mask &= mask - 1;
			if (i < released_until) {
				/* The byte after a release char is data. */
				if (u[i] == '\n')
					(*newlines)++;
				continue;
			}
			switch (r->byte_class[u[i]]) {
			case CLASS_DATA:
				break;
			case CLASS_ELEMENT:
				if (count + 1 >= r->max_elements ||
				    (count + 1 >= r->elements_cap &&
				    grow_elements(r))) {
					report(r, EDI_ERR_TOO_MANY_ELEMENTS,
					    EDI_SEVERITY_ERROR, offset + i, line,
					    (unsigned)count + 1,
					    "segment has more than %zu elements",
					    r->max_elements - 1);
					return 0;
				}
				r->elements[count].ptr = body + start;
				r->elements[count].len = i - start;
				count++;
				start = i + 1;
				break;
			case CLASS_NEWLINE:
				*wrapped = 1;
				if (u[i] == '\n')
					(*newlines)++;
				break;
			case CLASS_RELEASE:
				*flags |= EDI_SEGMENT_RELEASED;
				if (i + 1 >= n) {
					report(r, EDI_ERR_RELEASE_AT_END,
					    EDI_SEVERITY_ERROR, offset + i, line,
					    (unsigned)count,
					    "release character at the end of "
					    "the segment");
					return 0;
				}
				released_until = i + 2;
				break;
			default:
				report(r, EDI_ERR_CONTROL_CHARACTER,
				    EDI_SEVERITY_ERROR, offset + i,
				    line + *newlines, (unsigned)count,
				    "control character 0x%02X inside the "
				    "segment", u[i]);
				return 0;
			}
		}
	}
	r->elements[count].ptr = body + start;
	r->elements[count].len = n - start;
	return count + 1;
}

static int
valid_tag(edi_slice tag)
{
	size_t i;

	if (tag.len < 2 || tag.len > 3)
		return 0;
	if (!(tag.ptr[0] >= 'A' && tag.ptr[0] <= 'Z'))
		return 0;
	for (i = 1; i < tag.len; i++)
		if (!((tag.ptr[i] >= 'A' && tag.ptr[i] <= 'Z') ||
		    (tag.ptr[i] >= '0' && tag.ptr[i] <= '9')))
			return 0;
	return 1;
}

/* EDIFACT UNB: the syntax identifier decides the repetition separator. */
static void
check_unb(edi_reader *r, size_t count, uint64_t offset, uint64_t line)
{
	edi_slice id = { NULL, 0 }, version = { NULL, 0 };
	edi_splitter it;
	edi_slice part;
	int k = 0;

	/* A bare "UNB'" has no element 1: it is reported as a missing
	 * syntax identifier, and elements[1] is never read. */
	if (count >= 2) {
		edi_split_init(&it, r->elements[1], r->delimiters.component,
		    r->delimiters.release);
		while (edi_split_next(&it, &part) && k < 2) {
			if (k == 0)
				id = part;
			else
				version = part;
			k++;
		}
	}
	if (id.len == 4 && (memcmp(id.ptr, "IATA", 4) == 0 ||
	    memcmp(id.ptr, "IATB", 4) == 0))
		report(r, EDI_ERR_SYNTAX_ID, EDI_SEVERITY_WARNING, offset, line,
		    1, "IATA syntax identifier '%.4s' read with UNOA rules",
		    id.ptr);
	else if (id.len != 4 || memcmp(id.ptr, "UNO", 3) != 0 ||
	    id.ptr[3] < 'A' || id.ptr[3] > 'Y')
		report(r, EDI_ERR_SYNTAX_ID, EDI_SEVERITY_ERROR, offset, line, 1,
		    "syntax identifier '%.*s' is not UNOA..UNOY",
		    (int)(id.len > 16 ? 16 : id.len), id.ptr ? id.ptr : "");
	if (!r->una_pending && version.len == 1 && version.ptr[0] == '4')
		r->delimiters.repetition = '*';
	r->una_pending = 0;
}

static int
process_segment(edi_reader *r, const char *p, size_t len, uint64_t offset)
{
	const edi_delimiters *d = &r->delimiters;
	size_t body_len = len, count, newlines, term_newlines = 0;
	uint64_t line = r->line;
	unsigned flags = 0;
	int wrapped, terminated = 0;

	if (len >= d->terminator_len &&
	    memcmp(p + len - d->terminator_len, d->terminator,
	    d->terminator_len) == 0) {
		/* An unterminated last segment ends exactly at EOF; a segment
		 * whose last bytes merely equal the terminator is released. */
		size_t k = len - d->terminator_len, releases = 0;
		while (d->release && k > 0 && p[k - 1] == d->release) {
			releases++;
			k--;
		}
		if (!(releases & 1)) {
			body_len = len - d->terminator_len;
			terminated = 1;
			term_newlines = count_newlines(d->terminator,
			    d->terminator_len);
		}
	}
	/* "~\r\n" style is handled as whitespace after the terminator; a CR
	 * or LF just before a newline terminator is line style, not data. */
	while (body_len > 0 && (p[body_len - 1] == '\r' ||
	    p[body_len - 1] == '\n')) {
		if (p[body_len - 1] == '\n')
			term_newlines++;
		body_len--;
	}

	r->segment_index++;
	count = split_elements(r, p, body_len, offset, line, &flags, &newlines,
	    &wrapped);
	if (count > 0 && wrapped) {
		/* Line breaks inside a segment (files wrapped at 80 columns):
		 * they are not data, so remove them and split again. */
		size_t i, out = 0, ignored;
		int again;
		if (r->scratch_cap < body_len) {
			char *s = realloc(r->scratch, body_len);
			if (s == NULL) {
				report(r, EDI_ERR_SEGMENT_TOO_LONG,
				    EDI_SEVERITY_ERROR, offset, line, 0,
				    "out of memory unwrapping a segment");
				goto done;
			}
			r->scratch = s;
			r->scratch_cap = body_len;
		}
		for (i = 0; i < body_len; i++) {
			if (p[i] == '\r' || p[i] == '\n') {
				/* A released line break stays data. */
				if (out > 0 && d->release &&
				    r->scratch[out - 1] == d->release) {
					size_t k = out, rel = 0;
					while (k > 0 &&
					    r->scratch[k - 1] == d->release) {
						rel++;
						k--;
					}
					if (rel & 1) {
						r->scratch[out++] = p[i];
						continue;
					}
				}
				continue;
			}
			r->scratch[out++] = p[i];
		}
		count = split_elements(r, r->scratch, out, offset, line,
		    &flags, &ignored, &again);
		flags |= EDI_SEGMENT_UNWRAPPED;
	}
	if (count == 0)
		goto done;
	if (!valid_tag(r->elements[0])) {
		report(r, EDI_ERR_TAG, EDI_SEVERITY_ERROR, offset, line, 0,
		    "segment tag '%.*s' is not 2-3 capital letters or digits",
		    (int)(r->elements[0].len > 16 ? 16 : r->elements[0].len),
		    r->elements[0].ptr);
		goto done;
	}
	if (d->standard == EDI_STANDARD_EDIFACT &&
	    edi_slice_eq(r->elements[0], "UNB")) {
		if (!r->una_pending)
			r->interchange++;
		check_unb(r, count, offset, line);
	}
	if (!terminated)
		report(r, EDI_ERR_MISSING_TERMINATOR, EDI_SEVERITY_WARNING,
		    offset + len, line + newlines, 0,
		    "input ends without a segment terminator");
	if (deliver(r, count, flags, offset, line) != 0) {
		r->line += newlines + term_newlines;
		return -1;
	}
	if ((d->standard == EDI_STANDARD_X12 &&
	    edi_slice_eq(r->elements[0], "IEA")) ||
	    (d->standard == EDI_STANDARD_EDIFACT &&
	    edi_slice_eq(r->elements[0], "UNZ")))
		r->state = STATE_SEEK;
done:
	r->line += newlines + term_newlines;
	return 0;
}

static int
delimiters_distinct(const edi_delimiters *d, char *why, size_t whylen)
{
	char list[5];
	const char *names[5] = { "element", "component", "repetition",
	    "release", "terminator" };
	char b1[8];
	int i, j;

	list[0] = d->element;
	list[1] = d->component;
	list[2] = d->repetition;
	list[3] = d->release;
	list[4] = d->terminator[0];
	for (i = 0; i < 5; i++) {
		if (list[i] == 0)
			continue;
		if (is_alnum((unsigned char)list[i])) {
			snprintf(why, whylen, "%s separator %s is a letter or digit",
			    names[i], show_char((unsigned char)list[i], b1));
			return 0;
		}
		for (j = i + 1; j < 5; j++)
			if (list[i] == list[j]) {
				snprintf(why, whylen,
				    "%s and %s separators are both %s",
				    names[i], names[j],
				    show_char((unsigned char)list[i], b1));
				return 0;
			}
	}
	return 1;
}

static int
process_isa(edi_reader *r, const char *p, size_t len, const edi_delimiters *d,
    int conforming, uint64_t offset)
{
	size_t count = 0, start = 0, i, fields_end = len - d->terminator_len;
	unsigned char version_ok;
	unsigned flags = EDI_SEGMENT_RAW;
	size_t line_breaks = count_newlines(p, len);
	char why[96];
	edi_slice *e;

	r->delimiters = *d;
	r->state = STATE_BODY;
	r->una_pending = 0;
	r->interchange++;
	r->segment_index++;
	while (r->elements_cap < 17)
		if (grow_elements(r))
			return 0;
	if (memchr(p, '\n', fields_end) || memchr(p, '\r', fields_end)) {
		size_t m = 0;
		if (r->scratch_cap < fields_end) {
			char *sc = realloc(r->scratch, fields_end);
			if (sc == NULL)
				return 0;
			r->scratch = sc;
			r->scratch_cap = fields_end;
		}
		for (i = 0; i < fields_end; i++)
			if (p[i] != '\r' && p[i] != '\n')
				r->scratch[m++] = p[i];
		p = r->scratch;
		fields_end = m;
		flags |= EDI_SEGMENT_UNWRAPPED;
	}
	e = r->elements;
	for (i = 0; i < fields_end && count < 16; i++)
		if (p[i] == d->element) {
			e[count].ptr = p + start;
			e[count].len = i - start;
			count++;
			start = i + 1;
		}
	e[count].ptr = p + start;
	e[count].len = fields_end - start;
	count++;

	/* ISA11 is the repetition separator from version 00402 on. */
	version_ok = e[12].len == 5 && memcmp(e[12].ptr, "00402", 5) >= 0;
	if (version_ok && e[11].len == 1 &&
	    !is_alnum((unsigned char)e[11].ptr[0]) && e[11].ptr[0] != ' ')
		r->delimiters.repetition = e[11].ptr[0];

	if (!conforming)
		report(r, EDI_ERR_ISA_LENGTH, EDI_SEVERITY_ERROR, offset, r->line,
		    0, "ISA fields do not have their fixed widths (%zu "
		    "characters); an ISA is exactly 106", len);
	if (!delimiters_distinct(&r->delimiters, why, sizeof(why)))
		report(r, EDI_ERR_DELIMITERS, EDI_SEVERITY_ERROR, offset,
		    r->line, 0, "ISA delimiters: %s", why);
	build_byte_classes(r);
	if (deliver(r, count, flags, offset, r->line) != 0) {
		r->line += line_breaks;
		return -1;
	}
	r->line += line_breaks;
	return 0;
}

static int
process_una(edi_reader *r, const char *p, size_t len, const edi_delimiters *d,
    uint64_t offset)
{
	char why[96];

	r->delimiters = *d;
	r->state = STATE_BODY;
	r->una_pending = 1;
	r->interchange++;
	r->segment_index++;
	if (d->decimal != '.' && d->decimal != ',')
		report(r, EDI_ERR_UNA, EDI_SEVERITY_ERROR, offset + 5, r->line, 0,
		    "UNA decimal mark must be '.' or ','");
	if (!delimiters_distinct(d, why, sizeof(why)))
		report(r, EDI_ERR_DELIMITERS, EDI_SEVERITY_ERROR, offset,
		    r->line, 0, "UNA delimiters: %s", why);
	build_byte_classes(r);
	r->elements[0].ptr = p;
	r->elements[0].len = 3;
	r->elements[1].ptr = p + 3;
	r->elements[1].len = 6;
	if (deliver(r, 2, EDI_SEGMENT_RAW, offset, r->line) != 0)
		return -1;
	r->line += count_newlines(p, len);
	return 0;
}

static int
process_unit(edi_reader *r, enum unit_kind kind, const char *p, size_t len,
    const edi_delimiters *d, int conforming)
{
	uint64_t offset = r->offset;
	int rc = 0;

	if (kind != UNIT_GARBAGE && kind != UNIT_SPACE)
		r->in_garbage = 0;
	switch (kind) {
	case UNIT_SPACE:
		r->line += count_newlines(p, len);
		break;
	case UNIT_GARBAGE:
		if (!r->in_garbage) {
			char shown[GARBAGE_SHOWN];
			size_t k, m = 0;
			for (k = 0; k < len && m + 1 < GARBAGE_SHOWN; k++)
				shown[m++] = (p[k] >= 0x20 && p[k] < 0x7f) ?
				    p[k] : '.';
			shown[m] = '\0';
			report(r, EDI_ERR_GARBAGE, EDI_SEVERITY_ERROR, offset,
			    r->line, 0, "expected ISA, UNA or UNB, found \"%s\"",
			    shown);
			r->in_garbage = 1;
		}
		r->line += count_newlines(p, len);
		break;
	case UNIT_TRUNCATED:
		report(r, EDI_ERR_TRUNCATED, EDI_SEVERITY_ERROR, offset, r->line,
		    0, "input ends inside the %.*s header",
		    (int)(len < 3 ? len : 3), p);
		r->line += count_newlines(p, len);
		break;
	case UNIT_ISA:
		rc = process_isa(r, p, len, d, conforming, offset);
		break;
	case UNIT_UNA:
		rc = process_una(r, p, len, d, offset);
		break;
	case UNIT_SEGMENT:
		rc = process_segment(r, p, len, offset);
		break;
	default:
		break;
	}
	r->offset += len;
	return rc;
}


/* ---- the fast path ------------------------------------------------------ */

/* Tags that change the reader's state: only the slow path handles them. */
static inline int
is_control_tag(edi_slice tag)
{
	const char *t = tag.ptr;

	if (tag.len != 3 || (t[0] != 'I' && t[0] != 'U'))
		return 0;
	return memcmp(t, "ISA", 3) == 0 || memcmp(t, "IEA", 3) == 0 ||
	    memcmp(t, "UNA", 3) == 0 || memcmp(t, "UNB", 3) == 0 ||
	    memcmp(t, "UNZ", 3) == 0;
}

static inline uint64_t
fast_mask(const edi_reader *r, const unsigned char *p, size_t len)
{
#ifdef __SSE2__
	const __m128i element = _mm_set1_epi8(r->delimiters.element);
	const __m128i term = _mm_set1_epi8(r->delimiters.terminator[0]);
	const __m128i release = _mm_set1_epi8(r->delimiters.release ?
	    r->delimiters.release : r->delimiters.element);
	const __m128i low = _mm_set1_epi8(0x1f);
	const __m128i del = _mm_set1_epi8(0x7f);
	unsigned char pad[64];
	uint64_t mask = 0;
	int k;

	if (len < 64) {
		memset(pad, 'A', sizeof(pad));
		memcpy(pad, p, len);
		p = pad;
	}
	for (k = 0; k < 4; k++) {
		__m128i v = _mm_loadu_si128((const __m128i *)(p + 16 * k));
		__m128i hit = _mm_or_si128(
		    _mm_or_si128(_mm_cmpeq_epi8(v, element),
		    _mm_cmpeq_epi8(v, release)),
		    _mm_or_si128(_mm_or_si128(
		    _mm_cmpeq_epi8(_mm_min_epu8(v, low), v),
		    _mm_cmpeq_epi8(v, del)), _mm_cmpeq_epi8(v, term)));
		mask |= (uint64_t)(unsigned)_mm_movemask_epi8(hit) << (16 * k);
	}
	return len < 64 ? mask & ((UINT64_C(1) << len) - 1) : mask;
#else
	uint64_t mask = 0;
	size_t i;

	for (i = 0; i < len; i++)
		if (r->fast_class[p[i]] != FAST_DATA)
			mask |= UINT64_C(1) << i;
	return mask;
#endif
}

/* valid_tag() for the hot path. */
static inline int
fast_valid_tag(const char *t, size_t len)
{
	if (len == 3)
		return t[0] >= 'A' && t[0] <= 'Z' &&
		    ((t[1] >= 'A' && t[1] <= 'Z') || (t[1] >= '0' && t[1] <= '9')) &&
		    ((t[2] >= 'A' && t[2] <= 'Z') || (t[2] >= '0' && t[2] <= '9'));
	if (len == 2)
		return t[0] >= 'A' && t[0] <= 'Z' &&
		    ((t[1] >= 'A' && t[1] <= 'Z') || (t[1] >= '0' && t[1] <= '9'));
	return 0;
}

/*
 * Reads the ordinary segments at the start of p[0..n) in one pass over
 * 64-byte blocks, finding separators and terminators together. It takes
 * only what the slow path would read the same way: whole segments with a
 * one-byte terminator, no line break or control byte inside, a valid tag
 * that does not change state, within the limits. At anything else it stops
 * at the start of that segment and returns how many bytes it consumed; the
 * slow path goes on from there.
 */
static size_t
fast_body(edi_reader *r, const char *data, size_t n)
{
	const unsigned char *u = (const unsigned char *)data;
	const unsigned char *cls = r->fast_class;
	size_t base, seg_start = 0, start = 0, count = 0, skip_to = 0;
	size_t released = (size_t)-1;
	unsigned flags = 0;
	int term_is_lf = r->delimiters.terminator[0] == '\n';

	if (n == 0 || !(u[0] >= 'A' && u[0] <= 'Z'))
		return 0;
	for (base = 0; base < n; base += 64) {
		uint64_t mask = fast_mask(r, u + base,
		    n - base < 64 ? n - base : 64);
		while (mask) {
			size_t i = base + (size_t)__builtin_ctzll(mask), j;
			mask &= mask - 1;
			if (i < skip_to)
				continue; /* line breaks after a terminator */
			if (i == released) {
				/* A released line break still ends a line:
				 * the slow path counts it. */
				if (cls[u[i]] == FAST_BAIL)
					return seg_start;
				continue;
			}
			switch (cls[u[i]]) {
			case FAST_ELEMENT:
				if (count + 2 >= r->max_elements ||
				    (count + 2 >= r->elements_cap &&
				    grow_elements(r)))
					return seg_start;
				r->elements[count].ptr = data + start;
				r->elements[count].len = i - start;
				count++;
				start = i + 1;
				break;
			case FAST_RELEASE:
				/* A released line break is a line of its own:
				 * the slow path counts it. */
				if (i + 1 >= n || u[i + 1] == '\n' ||
				    u[i + 1] == '\r')
					return seg_start;
				flags |= EDI_SEGMENT_RELEASED;
				released = i + 1;
				break;
			case FAST_TERMINATOR:
				if (i - seg_start + 1 > r->max_segment)
					return seg_start;
				r->elements[count].ptr = data + start;
				r->elements[count].len = i - start;
				if (!fast_valid_tag(r->elements[0].ptr,
				    r->elements[0].len) ||
				    is_control_tag(r->elements[0]))
					return seg_start;
				r->segment_index++;
				if (deliver(r, count + 1, flags,
				    r->offset, r->line) != 0) {
					r->offset += i + 1 - seg_start;
					r->line += term_is_lf;
					return i + 1;
				}
				/* Line breaks after the terminator. */
				j = i + 1;
				r->line += term_is_lf;
				while (j < n && (u[j] == '\n' || u[j] == '\r')) {
					r->line += u[j] == '\n';
					j++;
				}
				r->offset += j - seg_start;
				if (j >= n || !(u[j] >= 'A' && u[j] <= 'Z'))
					return j;
				seg_start = start = skip_to = j;
				count = 0;
				flags = 0;
				break;
			case FAST_DATA:
				break;
			default:
				return seg_start;
			}
		}
		if (base + 64 - seg_start > r->max_segment)
			return seg_start;
	}
	return seg_start;
}

/* ---- skip mode ---------------------------------------------------------- */

static void
enter_skip(edi_reader *r)
{
	r->segment_index++;
	report(r, EDI_ERR_SEGMENT_TOO_LONG, EDI_SEVERITY_ERROR, r->offset,
	    r->line, 0, "segment longer than %zu bytes; skipped to its terminator",
	    r->max_segment);
	r->skipping = 1;
	r->skip_release = 0;
	r->skip_matched = 0;
}

/* Consumes bytes of an over-long segment; returns how many. */
static size_t
skip_bytes(edi_reader *r, const char *p, size_t n)
{
	const edi_delimiters *d = &r->delimiters;
	size_t i;

	for (i = 0; i < n; i++) {
		char c = p[i];
		if (c == '\n')
			r->line++;
		if (r->skip_release) {
			r->skip_release = 0;
			continue;
		}
		if (r->skip_matched > 0) {
			if (c == d->terminator[r->skip_matched]) {
				if (++r->skip_matched == d->terminator_len) {
					r->skipping = 0;
					i++;
					break;
				}
				continue;
			}
			r->skip_matched = 0;
		}
		if (d->release && c == d->release) {
			r->skip_release = 1;
		} else if (c == d->terminator[0]) {
			if (d->terminator_len == 1) {
				r->skipping = 0;
				i++;
				break;
			}
			r->skip_matched = 1;
		}
	}
	r->offset += i;
	return i;
}

/* ---- feeding ------------------------------------------------------------ */

static int
carry_append(edi_reader *r, const char *p, size_t n)
{
	if (r->carry_len + n > r->carry_cap) {
		size_t cap = r->carry_cap ? r->carry_cap : 256;
		char *c;
		while (cap < r->carry_len + n)
			cap *= 2;
		c = realloc(r->carry, cap);
		if (c == NULL)
			return -1;
		r->carry = c;
		r->carry_cap = cap;
	}
	memcpy(r->carry + r->carry_len, p, n);
	r->carry_len += n;
	return 0;
}

/* Shrinks an oversized carry buffer so one long segment does not pin
 * memory for the rest of the stream. */
static void
carry_reset(edi_reader *r)
{
	r->carry_len = 0;
	r->carry_scanned = 0;
	if (r->carry_cap > 64 * 1024) {
		free(r->carry);
		r->carry = NULL;
		r->carry_cap = 0;
	}
}

static edi_error_code
run(edi_reader *r, const char *p, size_t n, int eof)
{
	edi_delimiters d;
	int conforming = 1;
	size_t len = 0;
	enum unit_kind kind;

	while (n > 0 || (eof && r->carry_len > 0)) {
		if (r->stopped)
			return EDI_ERR_STOPPED;
		if (r->skipping) {
			size_t used = skip_bytes(r, p, n);
			p += used;
			n -= used;
			continue;
		}
		if (r->carry_len > 0) {
			size_t old = r->carry_len;
			size_t take = n < CARRY_PIECE ? n : CARRY_PIECE;
			if (take > 0 && carry_append(r, p, take) != 0) {
				report(r, EDI_ERR_SEGMENT_TOO_LONG,
				    EDI_SEVERITY_ERROR, r->offset, r->line, 0,
				    "out of memory buffering a segment");
				return EDI_ERR_STOPPED;
			}
			kind = find_unit(r, r->carry, r->carry_len,
			    eof && take == n, &len, &d, &conforming);
			if (kind == UNIT_SWITCH) {
				r->carry_len = old; /* look again, same bytes */
				continue;
			}
			if (kind == UNIT_NEED_MORE) {
				if (take == 0) {
					/* At the end of input nothing more
					 * comes: what is left is cut off. */
					process_unit(r, UNIT_TRUNCATED, r->carry,
					    r->carry_len, &d, conforming);
					carry_reset(r);
					continue;
				}
				p += take;
				n -= take;
				continue;
			}
			if (kind == UNIT_TOO_LONG) {
				/* Skip from the segment's first byte, exactly
				 * as when the chunk held it whole. The carry
				 * holds old bytes and then the take bytes that
				 * p still points at. */
				size_t used;
				enter_skip(r);
				used = skip_bytes(r, r->carry, r->carry_len);
				if (used >= old) {
					p += used - old;
					n -= used - old;
					carry_reset(r);
				} else {
					memmove(r->carry, r->carry + used,
					    old - used);
					r->carry_len = old - used;
					r->carry_scanned = 0;
				}
				continue;
			}
			if (len <= old) {
				/* The unit ends inside the old carry (only at
				 * EOF or after a state switch): keep the
				 * rest of the carry for the next round. */
				size_t rest = old - len;
				int rc = process_unit(r, kind, r->carry, len, &d,
				    conforming);
				memmove(r->carry, r->carry + len, rest);
				r->carry_len = rest;
				r->carry_scanned = 0;
				if (rc)
					return EDI_ERR_STOPPED;
				continue;
			}
			if (process_unit(r, kind, r->carry, len, &d,
			    conforming) != 0) {
				carry_reset(r);
				return EDI_ERR_STOPPED;
			}
			p += len - old;
			n -= len - old;
			carry_reset(r);
			continue;
		}
		if (r->state == STATE_BODY && r->fast_ok) {
			size_t used = fast_body(r, p, n);
			p += used;
			n -= used;
			if (r->stopped)
				return EDI_ERR_STOPPED;
			if (n == 0)
				break;
		}
		kind = find_unit(r, p, n, eof, &len, &d, &conforming);
		if (kind == UNIT_SWITCH)
			continue;
		if (kind == UNIT_NEED_MORE) {
			if (carry_append(r, p, n) != 0)
				return EDI_ERR_STOPPED;
			r->carry_scanned = 0;
			return EDI_ERR_NONE;
		}
		if (kind == UNIT_TOO_LONG) {
			enter_skip(r);
			continue;
		}
		if (process_unit(r, kind, p, len, &d, conforming) != 0)
			return EDI_ERR_STOPPED;
		p += len;
		n -= len;
	}
	return r->stopped ? EDI_ERR_STOPPED : EDI_ERR_NONE;
}

edi_error_code
edi_reader_feed(edi_reader *r, const void *data, size_t len)
{
	if (r->stopped)
		return EDI_ERR_STOPPED;
	r->bytes_fed += len;
	return run(r, data, len, 0);
}

edi_error_code
edi_reader_finish(edi_reader *r)
{
	edi_error_code rc = EDI_ERR_NONE;

	if (!r->stopped && r->carry_len > 0)
		rc = run(r, NULL, 0, 1);
	carry_reset(r);
	r->skipping = 0;
	r->state = STATE_SEEK;
	r->una_pending = 0;
	r->in_garbage = 0;
	r->offset = 0;
	r->line = 1;
	r->segment_index = 0;
	r->interchange = 0;
	return r->stopped ? EDI_ERR_STOPPED : rc;
}

/* ---- element helpers ---------------------------------------------------- */

void
edi_split_init(edi_splitter *it, edi_slice slice, char separator, char release)
{
	it->next = slice.ptr;
	it->end = slice.ptr + slice.len;
	it->separator = separator;
	it->release = release;
	it->done = 0;
}

int
edi_split_next(edi_splitter *it, edi_slice *part)
{
	const char *p = it->next;

	if (it->done)
		return 0;
	if (it->separator == 0) {
		part->ptr = p;
		part->len = (size_t)(it->end - p);
		it->done = 1;
		return 1;
	}
	while (p < it->end) {
		if (it->release && *p == it->release) {
			p += 2;
			continue;
		}
		if (*p == it->separator) {
			part->ptr = it->next;
			part->len = (size_t)(p - it->next);
			it->next = p + 1;
			return 1;
		}
		p++;
	}
	if (p > it->end)
		p = it->end;
	part->ptr = it->next;
	part->len = (size_t)(p - it->next);
	it->next = p;
	it->done = 1;
	return 1;
}

size_t
edi_slice_count(edi_slice slice, char separator, char release)
{
	edi_splitter it;
	edi_slice part;
	size_t n = 0;

	edi_split_init(&it, slice, separator, release);
	while (edi_split_next(&it, &part))
		n++;
	return n;
}

static edi_slice
nth_part(edi_slice s, char separator, char release, size_t n)
{
	edi_splitter it;
	edi_slice part, none = { s.ptr, 0 };
	size_t i = 0;

	edi_split_init(&it, s, separator, release);
	while (edi_split_next(&it, &part))
		if (++i == n)
			return part;
	return none;
}

edi_slice
edi_segment_component(const edi_segment *seg, size_t element,
    size_t repetition, size_t component)
{
	edi_slice none = { "", 0 }, e;
	const edi_delimiters *d = seg->delimiters;

	if (element >= seg->element_count || repetition == 0 || component == 0)
		return none;
	e = seg->elements[element];
	if (seg->flags & EDI_SEGMENT_RAW)
		return repetition == 1 && component == 1 ? e : none;
	if (d->repetition)
		e = nth_part(e, d->repetition, d->release, repetition);
	else if (repetition != 1)
		return none;
	return nth_part(e, d->component, d->release, component);
}

size_t
edi_unescape(edi_slice s, char release, char *out, size_t cap)
{
	size_t i, n = 0;

	for (i = 0; i < s.len; i++) {
		if (release && s.ptr[i] == release && i + 1 < s.len)
			i++;
		if (n < cap)
			out[n] = s.ptr[i];
		n++;
	}
	return n;
}

int
edi_slice_eq(edi_slice s, const char *str)
{
	size_t n = strlen(str);

	return s.len == n && memcmp(s.ptr, str, n) == 0;
}

const char *
edi_error_code_name(edi_error_code code)
{
	switch (code) {
	case EDI_ERR_NONE: return "OK";
	case EDI_ERR_GARBAGE: return "GARBAGE";
	case EDI_ERR_ISA_LENGTH: return "ISA_LENGTH";
	case EDI_ERR_DELIMITERS: return "DELIMITERS";
	case EDI_ERR_UNA: return "UNA";
	case EDI_ERR_SYNTAX_ID: return "SYNTAX_ID";
	case EDI_ERR_TAG: return "TAG";
	case EDI_ERR_SEGMENT_TOO_LONG: return "SEGMENT_TOO_LONG";
	case EDI_ERR_TOO_MANY_ELEMENTS: return "TOO_MANY_ELEMENTS";
	case EDI_ERR_CONTROL_CHARACTER: return "CONTROL_CHARACTER";
	case EDI_ERR_RELEASE_AT_END: return "RELEASE_AT_END";
	case EDI_ERR_TRUNCATED: return "TRUNCATED";
	case EDI_ERR_MISSING_TERMINATOR: return "MISSING_TERMINATOR";
	case EDI_ERR_STOPPED: return "STOPPED";
	}
	return "UNKNOWN";
}
