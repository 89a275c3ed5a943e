/*
 * envelope - interchange framing checks for X12 and EDIFACT.
 *
 * A small state machine per standard: outside, in interchange, in group,
 * in set. Headers open a level, trailers check and close it; a header that
 * arrives while its level (or a lower one) is still open closes what is
 * open as "trailer missing" first, so one lost trailer never hides the
 * rest of the stream. Runs of data segments outside a set are reported
 * once per run, not once per segment.
 *
 * Code choices follow the acknowledgment element definitions:
 *   X12 I18 (TA105), 716 (AK905), 718 (AK502); EDIFACT 0085 (UCI/UCF/UCM).
 */
#include "envelope.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct envelope {
	envelope_callbacks cb;
	void *ctx;

	edi_standard standard; /* of the open interchange, NONE when outside */
	int in_group;
	int in_set;
	envelope_interchange ich;
	envelope_group grp;
	envelope_set set;

	/* A UNA announces the next UNB; the interchange starts at the UNA. */
	int una_pending;
	envelope_position una_position;

	/* The reader reports a bad ISA/UNA/UNB before it delivers it; such
	 * problems belong to the interchange that header opens. */
	size_t pending_count;
	envelope_error pending[4];

	/* Data outside its container is reported once per run. */
	int outside_reported;

	envelope_position last;     /* the last segment seen */
	int have_last;

	uint64_t errors;
	uint64_t warnings;
	uint64_t interchanges;
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

static envelope_position
position_of(const edi_segment *seg, unsigned element, unsigned component)
{
	envelope_position p;

	p.offset = seg->offset;
	p.line = seg->line;
	p.segment_index = seg->index;
	p.element = element;
	p.component = component;
	return p;
}

/* Where a missing trailer is noticed at the end of input: just after the
 * last segment, so the segment index is the one the trailer would have. */
static envelope_position
position_at_end(const envelope *env)
{
	envelope_position p;

	memset(&p, 0, sizeof(p));
	if (env->have_last) {
		p = env->last;
		p.segment_index++;
		p.element = 0;
		p.component = 0;
	}
	return p;
}

static edi_slice
element_of(const edi_segment *seg, size_t n)
{
	edi_slice empty = { "", 0 };

	if (n >= seg->element_count)
		return empty;
	return seg->elements[n];
}

/* X12 header fields: the element whole (ISA is never split). */
static edi_slice
x12_field(const edi_segment *seg, size_t n)
{
	return element_of(seg, n);
}

/* EDIFACT service fields: component c of the first repetition. */
static edi_slice
edifact_field(const edi_segment *seg, size_t n, size_t c)
{
	if (n >= seg->element_count) {
		edi_slice empty = { "", 0 };
		return empty;
	}
	return edi_segment_component(seg, n, 1, c);
}

static char
release_of(const edi_segment *seg)
{
	return seg->delimiters ? seg->delimiters->release : 0;
}

/* Copies a field, release characters removed, NUL-terminated, truncated. */
static void
copy_field(char *dst, size_t cap, edi_slice s, char release)
{
	size_t n;

	n = edi_unescape(s, release, dst, cap - 1);
	if (n > cap - 1)
		n = cap - 1;
	dst[n] = '\0';
}

/* X12 fixed-width ids are padded with spaces on the right. */
static void
copy_trimmed(char *dst, size_t cap, edi_slice s)
{
	while (s.len > 0 && s.ptr[s.len - 1] == ' ')
		s.len--;
	copy_field(dst, cap, s, 0);
}

/* For the fixed-size arrays of the result structs. */
#define COPY(array, slice, release) \
	copy_field((array), sizeof(array), (slice), (release))
#define COPY_TRIMMED(array, slice) \
	copy_trimmed((array), sizeof(array), (slice))

static int
all_digits(edi_slice s)
{
	size_t i;

	if (s.len == 0)
		return 0;
	for (i = 0; i < s.len; i++)
		if (!isdigit((unsigned char)s.ptr[i]))
			return 0;
	return 1;
}

static int
all_spaces(edi_slice s)
{
	size_t i;

	for (i = 0; i < s.len; i++)
		if (s.ptr[i] != ' ')
			return 0;
	return 1;
}

/* A decimal count of at most 18 digits; -1 when it is not one. */
static int64_t
parse_count(edi_slice s)
{
	int64_t v = 0;
	size_t i;

	if (!all_digits(s) || s.len > 18)
		return -1;
	for (i = 0; i < s.len; i++)
		v = v * 10 + (s.ptr[i] - '0');
	return v;
}

static unsigned
digits_value(const char *p, size_t n)
{
	unsigned v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = v * 10 + (unsigned)(p[i] - '0');
	return v;
}

static int
is_leap(unsigned year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* YYMMDD (6 digits) or CCYYMMDD (8 digits); a two-digit year is taken as
 * 20YY, which gives the right leap years for 1901..2099. */
static int
valid_date(edi_slice s, size_t want_len)
{
	unsigned year, month, day, days;
	static const unsigned month_days[12] =
	    { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (s.len != want_len || !all_digits(s))
		return 0;
	if (want_len == 8)
		year = digits_value(s.ptr, 4);
	else
		year = 2000 + digits_value(s.ptr, 2);
	month = digits_value(s.ptr + want_len - 4, 2);
	day = digits_value(s.ptr + want_len - 2, 2);
	if (month < 1 || month > 12 || day < 1)
		return 0;
	days = month_days[month - 1];
	if (month == 2 && is_leap(year))
		days = 29;
	return day <= days;
}

/* HHMM, and with seconds HHMMSS, HHMMSSD, HHMMSSDD when allowed. */
static int
valid_time(edi_slice s, int allow_seconds)
{
	if (!all_digits(s))
		return 0;
	if (s.len != 4 && !(allow_seconds && s.len >= 6 && s.len <= 8))
		return 0;
	if (digits_value(s.ptr, 2) > 23 || digits_value(s.ptr + 2, 2) > 59)
		return 0;
	if (s.len >= 6 && digits_value(s.ptr + 4, 2) > 59)
		return 0;
	return 1;
}

static int
slice_in(edi_slice s, const char *const *list)
{
	for (; *list; list++)
		if (edi_slice_eq(s, *list))
			return 1;
	return 0;
}

/* Quotes at most 20 bytes of a field for a message, printable only. */
static const char *
show(edi_slice s, char *buf, size_t cap)
{
	size_t i, n = 0;

	for (i = 0; i < s.len && n + 4 < cap && i < 20; i++)
		buf[n++] = isprint((unsigned char)s.ptr[i]) ? s.ptr[i] : '?';
	if (i < s.len && n + 4 < cap) {
		buf[n++] = '.';
		buf[n++] = '.';
		buf[n++] = '.';
	}
	buf[n] = '\0';
	return buf;
}

/* ------------------------------------------------------------------ */
/* Reporting                                                           */
/* ------------------------------------------------------------------ */

static envelope_errors *
errors_of(envelope *env, envelope_level level)
{
	switch (level) {
	case ENVELOPE_LEVEL_INTERCHANGE:
		return &env->ich.errors;
	case ENVELOPE_LEVEL_GROUP:
		return &env->grp.errors;
	case ENVELOPE_LEVEL_SET:
		return &env->set.errors;
	default:
		return NULL;
	}
}

static void
store(envelope_errors *list, const envelope_error *e)
{
	if (e->severity == EDI_SEVERITY_ERROR)
		list->fatal++;
	if (list->count < ENVELOPE_MAX_ERRORS)
		list->list[list->count++] = *e;
	else
		list->dropped++;
}

static void
record(envelope *env, const envelope_error *e)
{
	envelope_errors *list = errors_of(env, e->level);

	if (e->severity == EDI_SEVERITY_ERROR)
		env->errors++;
	else
		env->warnings++;
	if (list)
		store(list, e);
	if (env->cb.error)
		env->cb.error(env->ctx, e);
}

static void report(envelope *env, envelope_level level,
    envelope_vocabulary vocabulary, const char *code, edi_severity severity,
    const char *tag, envelope_position where, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

static void
report(envelope *env, envelope_level level, envelope_vocabulary vocabulary,
    const char *code, edi_severity severity, const char *tag,
    envelope_position where, const char *fmt, ...)
{
	envelope_error e;
	va_list ap;

	memset(&e, 0, sizeof(e));
	e.vocabulary = vocabulary;
	e.level = level;
	e.severity = severity;
	e.code = code;
	e.reader_code = EDI_ERR_NONE;
	snprintf(e.tag, sizeof(e.tag), "%s", tag ? tag : "");
	e.position = where;
	va_start(ap, fmt);
	vsnprintf(e.message, sizeof(e.message), fmt, ap);
	va_end(ap);
	record(env, &e);
}

/* The innermost level open right now. */
static envelope_level
current_level(const envelope *env)
{
	if (env->standard == EDI_STANDARD_NONE)
		return ENVELOPE_LEVEL_STREAM;
	if (env->in_set)
		return ENVELOPE_LEVEL_SET;
	if (env->in_group)
		return ENVELOPE_LEVEL_GROUP;
	return ENVELOPE_LEVEL_INTERCHANGE;
}

/* ------------------------------------------------------------------ */
/* Opening and closing levels                                          */
/* ------------------------------------------------------------------ */

static void
close_set(envelope *env, envelope_position end)
{
	envelope_set *set = &env->set;

	set->end = end;
	set->accepted = set->errors.fatal == 0;
	if (set->accepted) {
		env->ich.sets_accepted++;
		if (env->in_group)
			env->grp.sets_accepted++;
	}
	if (env->cb.set_end)
		env->cb.set_end(env->ctx, &env->ich,
		    env->in_group ? &env->grp : NULL, set);
	env->in_set = 0;
}

static void
close_group(envelope *env, envelope_position end)
{
	env->grp.end = end;
	env->grp.accepted = env->grp.errors.fatal == 0;
	if (env->cb.group_end)
		env->cb.group_end(env->ctx, &env->ich, &env->grp);
	env->in_group = 0;
}

static void
close_interchange(envelope *env, envelope_position end)
{
	env->ich.end = end;
	env->ich.accepted = env->ich.errors.fatal == 0;
	if (env->cb.interchange_end)
		env->cb.interchange_end(env->ctx, &env->ich);
	env->standard = EDI_STANDARD_NONE;
	env->in_group = 0;
	env->in_set = 0;
	env->outside_reported = 0;
}

static void
open_interchange(envelope *env, const edi_segment *seg, edi_standard standard)
{
	size_t i;

	memset(&env->ich, 0, sizeof(env->ich));
	env->interchanges++;
	env->ich.number = (size_t)env->interchanges;
	env->ich.standard = standard;
	if (seg->delimiters)
		env->ich.delimiters = *seg->delimiters;
	env->ich.start = position_of(seg, 0, 0);
	for (i = 0; i < env->pending_count; i++)
		store(&env->ich.errors, &env->pending[i]);
	env->pending_count = 0;
	env->standard = standard;
	env->in_group = 0;
	env->in_set = 0;
	env->outside_reported = 0;
}

static void
open_group(envelope *env, const edi_segment *seg)
{
	memset(&env->grp, 0, sizeof(env->grp));
	env->ich.group_count++;
	env->grp.number = (size_t)env->ich.group_count;
	env->grp.start = position_of(seg, 0, 0);
	env->in_group = 1;
	env->outside_reported = 0;
}

static void
open_set(envelope *env, const edi_segment *seg)
{
	memset(&env->set, 0, sizeof(env->set));
	env->ich.set_count++;
	if (env->in_group) {
		env->grp.set_count++;
		env->set.number = (size_t)env->grp.set_count;
	} else {
		env->ich.message_count++;
		env->set.number = (size_t)env->ich.message_count;
	}
	env->set.start = position_of(seg, 0, 0);
	env->set.segment_count = 1;
	env->in_set = 1;
	env->outside_reported = 0;
}

/* The reader numbers every segment, also one it had to drop (bad tag,
 * too long): counting by index keeps a dropped segment from turning into
 * a second, misleading segment count error. */
static void
count_segment(envelope *env, const edi_segment *seg)
{
	if (seg->index >= env->set.start.segment_index)
		env->set.segment_count = seg->index -
		    env->set.start.segment_index + 1;
}

/* ------------------------------------------------------------------ */
/* X12                                                                 */
/* ------------------------------------------------------------------ */

/* ISA element widths and the TA105 note code for a bad value in each
 * (X12.5 interchange control structure, element I18). */
static const unsigned isa_width[17] =
    { 0, 2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1 };
static const char *const isa_code[17] = {
	NULL, "010", "011", "012", "013", "005", "006", "007", "008",
	"014", "015", "016", "017", "018", "019", "020", "027"
};

/* I01 authorization, I03 security, I05 id qualifiers (005010 lists). */
static const char *const isa01_codes[] =
    { "00", "01", "02", "03", "04", "05", "06", NULL };
static const char *const isa03_codes[] = { "00", "01", NULL };
static const char *const isa_id_qualifiers[] = {
	"01", "02", "03", "04", "07", "08", "09", "10", "11", "12", "13",
	"14", "15", "16", "17", "18", "19", "20", "21", "22", "23", "24",
	"25", "26", "27", "28", "29", "30", "31", "32", "33", "34", "35",
	"36", "37", "38", "AM", "NR", "SA", "SN", "ZZ", NULL
};

static void
ta1(envelope *env, const char *code, const edi_segment *seg, unsigned element,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
ta1(envelope *env, const char *code, const edi_segment *seg, unsigned element,
    const char *fmt, ...)
{
	char msg[160], tag[4];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	COPY(tag, seg->elements[0], 0);
	report(env, ENVELOPE_LEVEL_INTERCHANGE, ENVELOPE_VOCAB_TA1, code,
	    EDI_SEVERITY_ERROR, tag, position_of(seg, element, 0), "%s", msg);
}

static int
x12_delimiter_ok(char c)
{
	return !isalnum((unsigned char)c) && c != '\0';
}

static void
x12_check_isa(envelope *env, const edi_segment *seg)
{
	const edi_delimiters *d = seg->delimiters;
	char buf[32];
	unsigned i;
	int version_402 = 0;

	for (i = 1; i <= 16; i++) {
		edi_slice f = x12_field(seg, i);

		if (i >= seg->element_count)
			ta1(env, isa_code[i], seg, i, "ISA%02u missing", i);
		else if (f.len != isa_width[i])
			ta1(env, isa_code[i], seg, i,
			    "ISA%02u must be %u characters wide, found %zu",
			    i, isa_width[i], f.len);
	}
	if (seg->element_count < 17)
		return;

#define ISA(n) x12_field(seg, n)
	/* Values are judged only where the width was right. */
	if (ISA(1).len == 2 && !slice_in(ISA(1), isa01_codes))
		ta1(env, "010", seg, 1, "ISA01 authorization qualifier '%s' is "
		    "not 00-06", show(ISA(1), buf, sizeof(buf)));
	if (ISA(3).len == 2 && !slice_in(ISA(3), isa03_codes))
		ta1(env, "012", seg, 3, "ISA03 security qualifier '%s' is not "
		    "00 or 01", show(ISA(3), buf, sizeof(buf)));
	if (ISA(5).len == 2 && !slice_in(ISA(5), isa_id_qualifiers))
		ta1(env, "005", seg, 5, "ISA05 sender id qualifier '%s' is not "
		    "an I05 code", show(ISA(5), buf, sizeof(buf)));
	if (ISA(6).len == 15 && all_spaces(ISA(6)))
		ta1(env, "006", seg, 6, "ISA06 sender id is blank");
	if (ISA(7).len == 2 && !slice_in(ISA(7), isa_id_qualifiers))
		ta1(env, "007", seg, 7, "ISA07 receiver id qualifier '%s' is "
		    "not an I05 code", show(ISA(7), buf, sizeof(buf)));
	if (ISA(8).len == 15 && all_spaces(ISA(8)))
		ta1(env, "008", seg, 8, "ISA08 receiver id is blank");
	if (ISA(9).len == 6 && !valid_date(ISA(9), 6))
		ta1(env, "014", seg, 9, "ISA09 date '%s' is not a valid YYMMDD",
		    show(ISA(9), buf, sizeof(buf)));
	if (ISA(10).len == 4 && !valid_time(ISA(10), 0))
		ta1(env, "015", seg, 10, "ISA10 time '%s' is not a valid HHMM",
		    show(ISA(10), buf, sizeof(buf)));
	if (ISA(12).len == 5 && !all_digits(ISA(12)))
		ta1(env, "017", seg, 12, "ISA12 version '%s' is not 5 digits",
		    show(ISA(12), buf, sizeof(buf)));
	else if (ISA(12).len == 5)
		version_402 = memcmp(ISA(12).ptr, "00402", 5) >= 0;
	/* ISA11 is the standards identifier 'U' until 00401 and the
	 * repetition separator from 00402 on. */
	if (ISA(11).len == 1 && ISA(12).len == 5) {
		char c = ISA(11).ptr[0];

		if (!version_402 && c != 'U')
			ta1(env, "016", seg, 11, "ISA11 standards identifier "
			    "'%c' is not 'U' (version before 00402)", c);
		else if (version_402 && (!x12_delimiter_ok(c) || c == ' ' ||
		    (d && (c == d->element || c == d->component ||
		    (d->terminator_len == 1 && c == d->terminator[0])))))
			ta1(env, "016", seg, 11, "ISA11 repetition separator "
			    "'%c' is alphanumeric or another delimiter", c);
	}
	if (ISA(13).len == 9 && !all_digits(ISA(13)))
		ta1(env, "018", seg, 13, "ISA13 control number '%s' is not 9 "
		    "digits", show(ISA(13), buf, sizeof(buf)));
	if (ISA(14).len == 1 && ISA(14).ptr[0] != '0' && ISA(14).ptr[0] != '1')
		ta1(env, "019", seg, 14, "ISA14 acknowledgment requested '%c' "
		    "is not 0 or 1", ISA(14).ptr[0]);
	if (ISA(15).len == 1 && ISA(15).ptr[0] != 'P' &&
	    ISA(15).ptr[0] != 'T' && ISA(15).ptr[0] != 'I')
		ta1(env, "020", seg, 15, "ISA15 usage indicator '%c' is not P, "
		    "T or I", ISA(15).ptr[0]);
	if (d) {
		if (ISA(16).len == 1 && (!x12_delimiter_ok(ISA(16).ptr[0]) ||
		    ISA(16).ptr[0] == d->element))
			ta1(env, "027", seg, 16, "ISA16 component separator '%c' "
			    "is alphanumeric or equals the element separator",
			    ISA(16).ptr[0]);
		if (d->terminator_len == 0 ||
		    (d->terminator_len == 1 &&
		    (isalnum((unsigned char)d->terminator[0]) ||
		    d->terminator[0] == d->element ||
		    d->terminator[0] == d->component)))
			ta1(env, "004", seg, 16, "segment terminator is "
			    "alphanumeric or equals another delimiter");
	}

	COPY_TRIMMED(env->ich.sender_qualifier, ISA(5));
	COPY_TRIMMED(env->ich.sender_id, ISA(6));
	COPY_TRIMMED(env->ich.receiver_qualifier, ISA(7));
	COPY_TRIMMED(env->ich.receiver_id, ISA(8));
	COPY_TRIMMED(env->ich.date, ISA(9));
	COPY_TRIMMED(env->ich.time, ISA(10));
	if (!version_402)
		COPY_TRIMMED(env->ich.syntax_id, ISA(11));
	COPY_TRIMMED(env->ich.version, ISA(12));
	COPY_TRIMMED(env->ich.control_number, ISA(13));
	COPY_TRIMMED(env->ich.ack_requested, ISA(14));
	COPY_TRIMMED(env->ich.test_indicator, ISA(15));
#undef ISA
}

static void
x12_set_missing_trailer(envelope *env, envelope_position where, const char *by)
{
	report(env, ENVELOPE_LEVEL_SET, ENVELOPE_VOCAB_AK5, "2",
	    EDI_SEVERITY_ERROR, "SE", where,
	    "SE missing: transaction set %s (ST at segment %llu) not closed "
	    "before %s", env->set.control_number,
	    (unsigned long long)env->set.start.segment_index, by);
	close_set(env, where);
}

static void
x12_group_missing_trailer(envelope *env, envelope_position where, const char *by)
{
	report(env, ENVELOPE_LEVEL_GROUP, ENVELOPE_VOCAB_AK9, "3",
	    EDI_SEVERITY_ERROR, "GE", where,
	    "GE missing: functional group %s (GS at segment %llu) not closed "
	    "before %s", env->grp.control_number,
	    (unsigned long long)env->grp.start.segment_index, by);
	close_group(env, where);
}

/* Closes whatever is open below the interchange. */
static void
x12_close_open_levels(envelope *env, envelope_position where, const char *by)
{
	if (env->in_set)
		x12_set_missing_trailer(env, where, by);
	if (env->in_group)
		x12_group_missing_trailer(env, where, by);
}

static void
x12_interchange_missing_trailer(envelope *env, envelope_position where,
    const char *by)
{
	x12_close_open_levels(env, where, by);
	report(env, ENVELOPE_LEVEL_INTERCHANGE, ENVELOPE_VOCAB_TA1, "023",
	    EDI_SEVERITY_ERROR, "IEA", where,
	    "IEA missing: interchange %s (ISA at segment %llu) not closed "
	    "before %s", env->ich.control_number,
	    (unsigned long long)env->ich.start.segment_index, by);
	close_interchange(env, where);
}

static void
x12_iea(envelope *env, const edi_segment *seg)
{
	char buf[32];
	int64_t n;
	edi_slice count = x12_field(seg, 1), control = x12_field(seg, 2);

	x12_close_open_levels(env, position_of(seg, 0, 0), "IEA");
	n = parse_count(count);
	env->ich.has_trailer = 1;
	env->ich.declared_count = n < 0 ? 0 : (uint64_t)n;
	if (n < 0 || count.len > 5)
		ta1(env, "021", seg, 1, "IEA01 group count '%s' is not 1-5 "
		    "digits", show(count, buf, sizeof(buf)));
	else if ((uint64_t)n != env->ich.group_count)
		ta1(env, "021", seg, 1, "IEA01 says %lld functional groups, "
		    "the interchange has %llu", (long long)n,
		    (unsigned long long)env->ich.group_count);
	if (!edi_slice_eq(control, env->ich.control_number))
		ta1(env, "001", seg, 2, "IEA02 control number '%s' does not "
		    "match ISA13 '%s'", show(control, buf, sizeof(buf)),
		    env->ich.control_number);
	close_interchange(env, position_of(seg, 0, 0));
}

/* The version's major part: "003" of 003010, of ISA12 00301. */
static int
x12_major_differs(const char *gs08, const char *isa12)
{
	return strlen(gs08) >= 3 && strlen(isa12) >= 3 &&
	    memcmp(gs08, isa12, 3) != 0;
}

static void
x12_gs(envelope *env, const edi_segment *seg)
{
	char buf[32];
	edi_slice f;
	int old_date = 0;

	x12_close_open_levels(env, position_of(seg, 0, 0), "GS");
	open_group(env, seg);

	COPY(env->grp.functional_id, x12_field(seg, 1), 0);
	COPY(env->grp.app_sender, x12_field(seg, 2), 0);
	COPY(env->grp.app_receiver, x12_field(seg, 3), 0);
	COPY(env->grp.date, x12_field(seg, 4), 0);
	COPY(env->grp.time, x12_field(seg, 5), 0);
	COPY(env->grp.control_number, x12_field(seg, 6), 0);
	COPY(env->grp.agency, x12_field(seg, 7), 0);
	COPY(env->grp.version, x12_field(seg, 8), 0);

	/* A GS that cannot be read is invalid interchange content (TA1 024);
	 * the 997 names the group by GS01 and GS06, so only those two have
	 * group-level codes. */
	f = x12_field(seg, 1);
	if (f.len != 2 || !isupper((unsigned char)f.ptr[0]) ||
	    !isupper((unsigned char)f.ptr[1]))
		ta1(env, "024", seg, 1, "GS01 functional identifier '%s' is "
		    "not two letters", show(f, buf, sizeof(buf)));
	f = x12_field(seg, 2);
	if (f.len < 2 || f.len > 15)
		ta1(env, "024", seg, 2, "GS02 application sender '%s' must be "
		    "2-15 characters", show(f, buf, sizeof(buf)));
	f = x12_field(seg, 3);
	if (f.len < 2 || f.len > 15)
		ta1(env, "024", seg, 3, "GS03 application receiver '%s' must "
		    "be 2-15 characters", show(f, buf, sizeof(buf)));
	/* GS04 became CCYYMMDD in 004010; earlier versions used YYMMDD. */
	f = x12_field(seg, 8);
	if (f.len >= 6 && all_digits((edi_slice){ f.ptr, 6 }) &&
	    memcmp(f.ptr, "004010", 6) < 0)
		old_date = 1;
	f = x12_field(seg, 4);
	if (!valid_date(f, 8) && !(old_date && valid_date(f, 6)))
		ta1(env, "024", seg, 4, "GS04 date '%s' is not a valid "
		    "CCYYMMDD", show(f, buf, sizeof(buf)));
	f = x12_field(seg, 5);
	if (!valid_time(f, 1))
		ta1(env, "024", seg, 5, "GS05 time '%s' is not a valid "
		    "HHMM[SS[D[D]]]", show(f, buf, sizeof(buf)));
	f = x12_field(seg, 6);
	if (f.len < 1 || f.len > 9 || !all_digits(f))
		report(env, ENVELOPE_LEVEL_GROUP, ENVELOPE_VOCAB_AK9, "6",
		    EDI_SEVERITY_ERROR, "GS", position_of(seg, 6, 0),
		    "GS06 group control number '%s' is not 1-9 digits",
		    show(f, buf, sizeof(buf)));
	f = x12_field(seg, 7);
	if (!edi_slice_eq(f, "X") && !edi_slice_eq(f, "T"))
		ta1(env, "024", seg, 7, "GS07 responsible agency '%s' is not "
		    "X or T", show(f, buf, sizeof(buf)));
	f = x12_field(seg, 8);
	if (f.len < 6 || f.len > 12 || !all_digits((edi_slice){ f.ptr, 6 }))
		report(env, ENVELOPE_LEVEL_GROUP, ENVELOPE_VOCAB_AK9, "2",
		    EDI_SEVERITY_ERROR, "GS", position_of(seg, 8, 0),
		    "GS08 version '%s' is not a 6-digit version with an "
		    "optional release (at most 12 characters)",
		    show(f, buf, sizeof(buf)));
	else if (x12_major_differs(env->grp.version, env->ich.version))
		/* Many partners send a group version other than the
		 * interchange control version; worth a word, not a rejection. */
		report(env, ENVELOPE_LEVEL_GROUP, ENVELOPE_VOCAB_AK9, "2",
		    EDI_SEVERITY_WARNING, "GS", position_of(seg, 8, 0),
		    "GS08 version '%s' belongs to another version than ISA12 "
		    "'%s'", env->grp.version, env->ich.version);
}

static void
x12_ge(envelope *env, const edi_segment *seg)
{
	char buf[32];
	int64_t n;
	edi_slice count = x12_field(seg, 1), control = x12_field(seg, 2);

	if (!env->in_group) {
		ta1(env, "022", seg, 0, "GE without a GS");
		return;
	}
	if (env->in_set)
		x12_set_missing_trailer(env, position_of(seg, 0, 0), "GE");
	n = parse_count(count);
	env->grp.has_trailer = 1;
	env->grp.declared_count = n < 0 ? 0 : (uint64_t)n;
	if (n < 0 || count.len > 6)
		report(env, ENVELOPE_LEVEL_GROUP, ENVELOPE_VOCAB_AK9, "5",
		    EDI_SEVERITY_ERROR, "GE", position_of(seg, 1, 0),
		    "GE01 set count '%s' is not 1-6 digits",
		    show(count, buf, sizeof(buf)));
	else if ((uint64_t)n != env->grp.set_count)
		report(env, ENVELOPE_LEVEL_GROUP, ENVELOPE_VOCAB_AK9, "5",
		    EDI_SEVERITY_ERROR, "GE", position_of(seg, 1, 0),
		    "GE01 says %lld transaction sets, the group has %llu",
		    (long long)n, (unsigned long long)env->grp.set_count);
	if (!edi_slice_eq(control, env->grp.control_number))
		report(env, ENVELOPE_LEVEL_GROUP, ENVELOPE_VOCAB_AK9, "4",
		    EDI_SEVERITY_ERROR, "GE", position_of(seg, 2, 0),
		    "GE02 control number '%s' does not match GS06 '%s'",
		    show(control, buf, sizeof(buf)), env->grp.control_number);
	close_group(env, position_of(seg, 0, 0));
}

static void
x12_st(envelope *env, const edi_segment *seg)
{
	char buf[32];
	edi_slice f;

	if (env->in_set)
		x12_set_missing_trailer(env, position_of(seg, 0, 0), "ST");
	if (!env->in_group) {
		if (!env->outside_reported)
			ta1(env, "022", seg, 0, "ST outside a functional group "
			    "(no GS before it)");
		env->outside_reported = 1;
		return;
	}
	open_set(env, seg);
	COPY(env->set.type, x12_field(seg, 1), 0);
	COPY(env->set.control_number, x12_field(seg, 2), 0);
	COPY(env->set.version, x12_field(seg, 3), 0);

	f = x12_field(seg, 1);
	if (f.len != 3 || !all_digits(f))
		report(env, ENVELOPE_LEVEL_SET, ENVELOPE_VOCAB_AK5, "6",
		    EDI_SEVERITY_ERROR, "ST", position_of(seg, 1, 0),
		    "ST01 transaction set identifier '%s' is not 3 digits",
		    show(f, buf, sizeof(buf)));
	f = x12_field(seg, 2);
	if (f.len < 4 || f.len > 9 || all_spaces(f))
		report(env, ENVELOPE_LEVEL_SET, ENVELOPE_VOCAB_AK5, "7",
		    EDI_SEVERITY_ERROR, "ST", position_of(seg, 2, 0),
		    "ST02 control number '%s' must be 4-9 characters",
		    show(f, buf, sizeof(buf)));
}

static void
x12_se(envelope *env, const edi_segment *seg)
{
	char buf[32];
	int64_t n;
	edi_slice count = x12_field(seg, 1), control = x12_field(seg, 2);

	if (!env->in_set) {
		if (!env->outside_reported)
			ta1(env, "022", seg, 0, "SE without an ST");
		env->outside_reported = 1;
		return;
	}
	count_segment(env, seg);
	n = parse_count(count);
	env->set.has_trailer = 1;
	env->set.declared_count = n < 0 ? 0 : (uint64_t)n;
	if (n < 0 || count.len > 10)
		report(env, ENVELOPE_LEVEL_SET, ENVELOPE_VOCAB_AK5, "4",
		    EDI_SEVERITY_ERROR, "SE", position_of(seg, 1, 0),
		    "SE01 segment count '%s' is not 1-10 digits",
		    show(count, buf, sizeof(buf)));
	else if ((uint64_t)n != env->set.segment_count)
		report(env, ENVELOPE_LEVEL_SET, ENVELOPE_VOCAB_AK5, "4",
		    EDI_SEVERITY_ERROR, "SE", position_of(seg, 1, 0),
		    "SE01 says %lld segments, the transaction set has %llu "
		    "(ST and SE included)", (long long)n,
		    (unsigned long long)env->set.segment_count);
	if (!edi_slice_eq(control, env->set.control_number))
		report(env, ENVELOPE_LEVEL_SET, ENVELOPE_VOCAB_AK5, "3",
		    EDI_SEVERITY_ERROR, "SE", position_of(seg, 2, 0),
		    "SE02 control number '%s' does not match ST02 '%s'",
		    show(control, buf, sizeof(buf)), env->set.control_number);
	close_set(env, position_of(seg, 0, 0));
}

static void
x12_segment(envelope *env, const edi_segment *seg)
{
	edi_slice tag = seg->elements[0];

	if (edi_slice_eq(tag, "IEA"))
		x12_iea(env, seg);
	else if (edi_slice_eq(tag, "GS"))
		x12_gs(env, seg);
	else if (edi_slice_eq(tag, "GE"))
		x12_ge(env, seg);
	else if (edi_slice_eq(tag, "ST"))
		x12_st(env, seg);
	else if (edi_slice_eq(tag, "SE"))
		x12_se(env, seg);
	else if (env->in_set)
		count_segment(env, seg);
	else if (!env->in_group && (edi_slice_eq(tag, "ISB") ||
	    edi_slice_eq(tag, "ISE") || edi_slice_eq(tag, "TA1")))
		; /* interchange-level service segments (X12.5) */
	else if (!env->outside_reported) {
		char buf[8];

		ta1(env, "024", seg, 0, "segment %s outside a transaction set "
		    "(%s)", show(tag, buf, sizeof(buf)),
		    env->in_group ? "between GS and ST" : "between ISA and GS");
		env->outside_reported = 1;
	}
}

/* ------------------------------------------------------------------ */
/* EDIFACT                                                             */
/* ------------------------------------------------------------------ */

static void contrl(envelope *env, envelope_level level, const char *code,
    const edi_segment *seg, unsigned element, unsigned component,
    const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static void
contrl(envelope *env, envelope_level level, const char *code,
    const edi_segment *seg, unsigned element, unsigned component,
    const char *fmt, ...)
{
	char msg[160], tag[4];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	COPY(tag, seg->elements[0], 0);
	report(env, level, ENVELOPE_VOCAB_CONTRL, code, EDI_SEVERITY_ERROR,
	    tag, position_of(seg, element, component), "%s", msg);
}

/* Mandatory service data element: CONTRL 13 when absent, 39 when longer
 * than the syntax allows. Returns 1 when present and within max. */
static int
edifact_required(envelope *env, envelope_level level, const edi_segment *seg,
    unsigned element, unsigned component, size_t max, const char *name)
{
	edi_slice f = edifact_field(seg, element, component);
	char tag[4];

	COPY(tag, seg->elements[0], 0);
	if (f.len == 0) {
		contrl(env, level, "13", seg, element, component,
		    "%s %s missing", tag, name);
		return 0;
	}
	if (max && edi_unescape(f, release_of(seg), NULL, 0) > max) {
		contrl(env, level, "39", seg, element, component,
		    "%s %s longer than %zu characters", tag, name, max);
		return 0;
	}
	return 1;
}

static void
edifact_date_time(envelope *env, envelope_level level, const edi_segment *seg,
    unsigned element, int syntax_version)
{
	char buf[32], tag[4];
	edi_slice date = edifact_field(seg, element, 1);
	edi_slice time = edifact_field(seg, element, 2);
	size_t want = syntax_version >= 4 ? 8 : 6;

	COPY(tag, seg->elements[0], 0);
	if (edifact_required(env, level, seg, element, 1, 0, "date") &&
	    !valid_date(date, want))
		contrl(env, level, "12", seg, element, 1,
		    "%s date '%s' is not a valid %s (syntax version %d)", tag,
		    show(date, buf, sizeof(buf)),
		    want == 8 ? "CCYYMMDD" : "YYMMDD", syntax_version);
	if (edifact_required(env, level, seg, element, 2, 0, "time") &&
	    !valid_time(time, 0))
		contrl(env, level, "12", seg, element, 2,
		    "%s time '%s' is not a valid HHMM", tag,
		    show(time, buf, sizeof(buf)));
}

static void
edifact_message_missing_trailer(envelope *env, envelope_position where,
    const char *by)
{
	report(env, ENVELOPE_LEVEL_SET, ENVELOPE_VOCAB_CONTRL, "13",
	    EDI_SEVERITY_ERROR, "UNT", where,
	    "UNT missing: message %s (UNH at segment %llu) not closed before "
	    "%s", env->set.control_number,
	    (unsigned long long)env->set.start.segment_index, by);
	close_set(env, where);
}

static void
edifact_group_missing_trailer(envelope *env, envelope_position where,
    const char *by)
{
	report(env, ENVELOPE_LEVEL_GROUP, ENVELOPE_VOCAB_CONTRL, "13",
	    EDI_SEVERITY_ERROR, "UNE", where,
	    "UNE missing: group %s (UNG at segment %llu) not closed before %s",
	    env->grp.control_number,
	    (unsigned long long)env->grp.start.segment_index, by);
	close_group(env, where);
}

static void
edifact_interchange_missing_trailer(envelope *env, envelope_position where,
    const char *by)
{
	if (env->in_set)
		edifact_message_missing_trailer(env, where, by);
	if (env->in_group)
		edifact_group_missing_trailer(env, where, by);
	report(env, ENVELOPE_LEVEL_INTERCHANGE, ENVELOPE_VOCAB_CONTRL, "13",
	    EDI_SEVERITY_ERROR, "UNZ", where,
	    "UNZ missing: interchange %s (at segment %llu) not closed before %s",
	    env->ich.control_number,
	    (unsigned long long)env->ich.start.segment_index, by);
	close_interchange(env, where);
}

static int
edifact_syntax_version(const envelope *env)
{
	const char *v = env->ich.version;

	return (v[0] >= '1' && v[0] <= '4' && v[1] == '\0') ? v[0] - '0' : 4;
}

static void
edifact_unb(envelope *env, const edi_segment *seg)
{
	const envelope_level L = ENVELOPE_LEVEL_INTERCHANGE;
	char buf[32];
	char r = release_of(seg);
	edi_slice f;
	envelope_position una = env->una_position;
	int had_una = env->una_pending;

	env->una_pending = 0;
	open_interchange(env, seg, EDI_STANDARD_EDIFACT);
	if (had_una)
		env->ich.start = una;

	COPY(env->ich.syntax_id, edifact_field(seg, 1, 1), r);
	COPY(env->ich.version, edifact_field(seg, 1, 2), r);
	COPY(env->ich.sender_id, edifact_field(seg, 2, 1), r);
	COPY(env->ich.sender_qualifier, edifact_field(seg, 2, 2), r);
	COPY(env->ich.receiver_id, edifact_field(seg, 3, 1), r);
	COPY(env->ich.receiver_qualifier, edifact_field(seg, 3, 2), r);
	COPY(env->ich.date, edifact_field(seg, 4, 1), r);
	COPY(env->ich.time, edifact_field(seg, 4, 2), r);
	COPY(env->ich.control_number, edifact_field(seg, 5, 1), r);
	COPY(env->ich.ack_requested, edifact_field(seg, 9, 1), r);
	COPY(env->ich.test_indicator, edifact_field(seg, 11, 1), r);

	/* ISO 9735: UNB has at most 11 data elements. */
	if (seg->element_count > 12)
		contrl(env, L, "16", seg, 12, 0, "UNB has %zu data elements, "
		    "at most 11 are allowed", seg->element_count - 1);

	f = edifact_field(seg, 1, 1);
	if (f.len == 0)
		contrl(env, L, "13", seg, 1, 1, "UNB syntax identifier missing");
	else if (edi_slice_eq(f, "IATA") || edi_slice_eq(f, "IATB"))
		; /* IATA's syntax levels: the reader warns and reads them
		   with UNOA rules */
	else if (f.len != 4 || memcmp(f.ptr, "UNO", 3) != 0 ||
	    f.ptr[3] < 'A' || f.ptr[3] > 'Y')
		contrl(env, L, "2", seg, 1, 1, "UNB syntax identifier '%s' is "
		    "not UNOA..UNOY", show(f, buf, sizeof(buf)));
	f = edifact_field(seg, 1, 2);
	if (f.len == 0)
		contrl(env, L, "13", seg, 1, 2, "UNB syntax version missing");
	else if (f.len != 1 || f.ptr[0] < '1' || f.ptr[0] > '4')
		contrl(env, L, "2", seg, 1, 2, "UNB syntax version '%s' is not "
		    "1-4", show(f, buf, sizeof(buf)));

	edifact_required(env, L, seg, 2, 1, 35, "sender identification");
	edifact_required(env, L, seg, 3, 1, 35, "recipient identification");
	edifact_date_time(env, L, seg, 4, edifact_syntax_version(env));
	edifact_required(env, L, seg, 5, 1, 14, "interchange control reference");

	f = edifact_field(seg, 9, 1);
	if (f.len && !edi_slice_eq(f, "1") && !edi_slice_eq(f, "2"))
		contrl(env, L, "12", seg, 9, 1, "UNB acknowledgement request "
		    "'%s' is not 1 or 2", show(f, buf, sizeof(buf)));
	f = edifact_field(seg, 11, 1);
	if (f.len && !edi_slice_eq(f, "1"))
		contrl(env, L, "12", seg, 11, 1, "UNB test indicator '%s' is "
		    "not 1", show(f, buf, sizeof(buf)));
}

/*
 * The count and reference checks every EDIFACT trailer shares: element 1
 * counts what the trailer closes, element 2 repeats the header's
 * reference. Returns the declared count (0 when unusable) for the caller
 * to keep.
 */
struct edifact_trailer_spec {
	const char *tag, *header;          /* "UNT", "UNH" */
	const char *count_name;            /* "segment count" */
	const char *unit, *container;      /* "segments", "the message has" */
	const char *note;                  /* appended to a count mismatch */
	const char *ref_name;              /* "message reference number" */
	const char *ref_label;             /* "message reference" */
};

static uint64_t
edifact_trailer(envelope *env, envelope_level L, const edi_segment *seg,
    const struct edifact_trailer_spec *t, uint64_t expected,
    const char *open_ref)
{
	char buf[32], ref[15];
	edi_slice count = edifact_field(seg, 1, 1);
	int64_t n = parse_count(count);

	if (count.len == 0)
		contrl(env, L, "13", seg, 1, 1, "%s %s missing", t->tag,
		    t->count_name);
	else if (n < 0)
		contrl(env, L, "12", seg, 1, 1, "%s %s '%s' is not numeric",
		    t->tag, t->count_name, show(count, buf, sizeof(buf)));
	else if ((uint64_t)n != expected)
		contrl(env, L, "29", seg, 1, 1, "%s says %lld %s, %s %llu%s",
		    t->tag, (long long)n, t->unit, t->container,
		    (unsigned long long)expected, t->note);
	if (edifact_required(env, L, seg, 2, 1, 0, t->ref_name)) {
		COPY(ref, edifact_field(seg, 2, 1), release_of(seg));
		if (strcmp(ref, open_ref) != 0)
			contrl(env, L, "28", seg, 2, 1, "%s %s '%s' does not "
			    "match %s '%s'", t->tag, t->ref_label, ref,
			    t->header, open_ref);
	}
	return n < 0 ? 0 : (uint64_t)n;
}

static void
edifact_unz(envelope *env, const edi_segment *seg)
{
	const int groups = env->ich.group_count > 0;
	const struct edifact_trailer_spec t = {
		"UNZ", "UNB", "control count", groups ? "groups" : "messages",
		"the interchange has", "", "interchange control reference",
		"control reference",
	};

	if (env->in_set)
		edifact_message_missing_trailer(env, position_of(seg, 0, 0), "UNZ");
	if (env->in_group)
		edifact_group_missing_trailer(env, position_of(seg, 0, 0), "UNZ");
	env->ich.has_trailer = 1;
	/* UNZ counts groups when there are groups, messages otherwise. */
	env->ich.declared_count = edifact_trailer(env, ENVELOPE_LEVEL_INTERCHANGE,
	    seg, &t, groups ? env->ich.group_count : env->ich.message_count,
	    env->ich.control_number);
	close_interchange(env, position_of(seg, 0, 0));
}

/* S008 / S009 version and release, "D" + "96A" -> "D96A". */
static void
edifact_version(char *dst, size_t cap, const edi_segment *seg, unsigned element,
    unsigned first)
{
	char v[4], r[4]; /* 0052 and 0054 are an..3 */

	COPY(v, edifact_field(seg, element, first), release_of(seg));
	COPY(r, edifact_field(seg, element, first + 1), release_of(seg));
	snprintf(dst, cap, "%s%s", v, r);
}

static void
edifact_ung(envelope *env, const edi_segment *seg)
{
	const envelope_level L = ENVELOPE_LEVEL_GROUP;
	char r = release_of(seg);

	if (env->in_set)
		edifact_message_missing_trailer(env, position_of(seg, 0, 0), "UNG");
	if (env->in_group)
		edifact_group_missing_trailer(env, position_of(seg, 0, 0), "UNG");
	if (env->ich.message_count > 0)
		contrl(env, ENVELOPE_LEVEL_INTERCHANGE, "30", seg, 0, 0,
		    "UNG after messages outside groups: functional groups and "
		    "messages mixed");
	open_group(env, seg);
	COPY(env->grp.functional_id, edifact_field(seg, 1, 1), r);
	COPY(env->grp.app_sender, edifact_field(seg, 2, 1), r);
	COPY(env->grp.app_sender_qualifier, edifact_field(seg, 2, 2), r);
	COPY(env->grp.app_receiver, edifact_field(seg, 3, 1), r);
	COPY(env->grp.app_receiver_qualifier, edifact_field(seg, 3, 2), r);
	COPY(env->grp.date, edifact_field(seg, 4, 1), r);
	COPY(env->grp.time, edifact_field(seg, 4, 2), r);
	COPY(env->grp.control_number, edifact_field(seg, 5, 1), r);
	COPY(env->grp.agency, edifact_field(seg, 6, 1), r);
	edifact_version(env->grp.version, sizeof(env->grp.version), seg, 7, 1);

	edifact_required(env, L, seg, 1, 1, 6, "message group identification");
	edifact_required(env, L, seg, 2, 1, 35, "application sender identification");
	edifact_required(env, L, seg, 3, 1, 35, "application recipient identification");
	edifact_date_time(env, L, seg, 4, edifact_syntax_version(env));
	edifact_required(env, L, seg, 5, 1, 14, "group reference number");
}

static void
edifact_une(envelope *env, const edi_segment *seg)
{
	static const struct edifact_trailer_spec t = {
		"UNE", "UNG", "control count", "messages", "the group has", "",
		"group reference number", "group reference",
	};

	if (!env->in_group) {
		if (!env->outside_reported)
			contrl(env, ENVELOPE_LEVEL_INTERCHANGE, "33", seg, 0, 0,
			    "UNE without a UNG");
		env->outside_reported = 1;
		return;
	}
	if (env->in_set)
		edifact_message_missing_trailer(env, position_of(seg, 0, 0), "UNE");
	env->grp.has_trailer = 1;
	env->grp.declared_count = edifact_trailer(env, ENVELOPE_LEVEL_GROUP, seg,
	    &t, env->grp.set_count, env->grp.control_number);
	close_group(env, position_of(seg, 0, 0));
}

static void
edifact_unh(envelope *env, const edi_segment *seg)
{
	const envelope_level L = ENVELOPE_LEVEL_SET;
	char r = release_of(seg);

	if (env->in_set)
		edifact_message_missing_trailer(env, position_of(seg, 0, 0), "UNH");
	if (!env->in_group && env->ich.group_count > 0)
		contrl(env, ENVELOPE_LEVEL_INTERCHANGE, "30", seg, 0, 0,
		    "UNH outside a group after groups: functional groups and "
		    "messages mixed");
	open_set(env, seg);
	COPY(env->set.control_number, edifact_field(seg, 1, 1), r);
	COPY(env->set.type, edifact_field(seg, 2, 1), r);
	edifact_version(env->set.version, sizeof(env->set.version), seg, 2, 2);
	COPY(env->set.agency, edifact_field(seg, 2, 4), r);
	COPY(env->set.association, edifact_field(seg, 2, 5), r);

	edifact_required(env, L, seg, 1, 1, 14, "message reference number");
	edifact_required(env, L, seg, 2, 1, 6, "message type");
	edifact_required(env, L, seg, 2, 2, 3, "message version number");
	edifact_required(env, L, seg, 2, 3, 3, "message release number");
	edifact_required(env, L, seg, 2, 4, 3, "controlling agency");
}

static void
edifact_unt(envelope *env, const edi_segment *seg)
{
	static const struct edifact_trailer_spec t = {
		"UNT", "UNH", "segment count", "segments", "the message has",
		" (UNH and UNT included)", "message reference number",
		"message reference",
	};

	if (!env->in_set) {
		if (!env->outside_reported)
			contrl(env, ENVELOPE_LEVEL_INTERCHANGE, "33", seg, 0, 0,
			    "UNT without a UNH");
		env->outside_reported = 1;
		return;
	}
	count_segment(env, seg);
	env->set.has_trailer = 1;
	env->set.declared_count = edifact_trailer(env, ENVELOPE_LEVEL_SET, seg,
	    &t, env->set.segment_count, env->set.control_number);
	close_set(env, position_of(seg, 0, 0));
}

static void
edifact_segment(envelope *env, const edi_segment *seg)
{
	edi_slice tag = seg->elements[0];

	if (edi_slice_eq(tag, "UNZ"))
		edifact_unz(env, seg);
	else if (edi_slice_eq(tag, "UNG"))
		edifact_ung(env, seg);
	else if (edi_slice_eq(tag, "UNE"))
		edifact_une(env, seg);
	else if (edi_slice_eq(tag, "UNH"))
		edifact_unh(env, seg);
	else if (edi_slice_eq(tag, "UNT"))
		edifact_unt(env, seg);
	else if (env->in_set)
		count_segment(env, seg);
	else if (!env->outside_reported) {
		char buf[8];

		contrl(env, ENVELOPE_LEVEL_INTERCHANGE, "33", seg, 0, 0,
		    "segment %s outside a message", show(tag, buf, sizeof(buf)));
		env->outside_reported = 1;
	}
}

/* ------------------------------------------------------------------ */
/* Dispatch                                                            */
/* ------------------------------------------------------------------ */

/* A new interchange header arrived while one is open. */
static void
close_unfinished(envelope *env, envelope_position where, const char *by)
{
	if (env->standard == EDI_STANDARD_X12)
		x12_interchange_missing_trailer(env, where, by);
	else if (env->standard == EDI_STANDARD_EDIFACT)
		edifact_interchange_missing_trailer(env, where, by);
}

/* A segment after an interchange ended and before the next header: no
 * interchange acknowledgment can name it, so it is a stream problem. */
static void
report_outside_interchange(envelope *env, const edi_segment *seg)
{
	char shown[8], tag[4];
	int x12 = seg->delimiters &&
	    seg->delimiters->standard == EDI_STANDARD_X12;

	if (env->outside_reported)
		return;
	env->outside_reported = 1;
	COPY(tag, seg->elements[0], 0);
	report(env, ENVELOPE_LEVEL_STREAM,
	    x12 ? ENVELOPE_VOCAB_TA1 : ENVELOPE_VOCAB_CONTRL,
	    x12 ? "022" : "33", EDI_SEVERITY_ERROR, tag,
	    position_of(seg, 0, 0), "segment %s outside an interchange",
	    show(seg->elements[0], shown, sizeof(shown)));
}

int
envelope_segment(void *ctx, const edi_segment *seg)
{
	envelope *env = ctx;
	edi_slice tag;

	if (seg->element_count == 0)
		return 0;
	tag = seg->elements[0];
	env->last = position_of(seg, 0, 0);
	env->have_last = 1;

	if (edi_slice_eq(tag, "ISA")) {
		env->una_pending = 0;
		close_unfinished(env, position_of(seg, 0, 0), "ISA");
		open_interchange(env, seg, EDI_STANDARD_X12);
		x12_check_isa(env, seg);
		return 0;
	}
	if (edi_slice_eq(tag, "UNA")) {
		close_unfinished(env, position_of(seg, 0, 0), "UNA");
		env->una_pending = 1;
		env->una_position = position_of(seg, 0, 0);
		return 0;
	}
	if (edi_slice_eq(tag, "UNB")) {
		close_unfinished(env, position_of(seg, 0, 0), "UNB");
		edifact_unb(env, seg);
		return 0;
	}
	env->una_pending = 0;
	env->pending_count = 0;

	switch (env->standard) {
	case EDI_STANDARD_X12:
		x12_segment(env, seg);
		break;
	case EDI_STANDARD_EDIFACT:
		edifact_segment(env, seg);
		break;
	default:
		report_outside_interchange(env, seg);
		break;
	}
	return 0;
}

/* Reader problems found in an interchange header, reported before the
 * header itself is delivered. */
static int
is_header_problem(edi_error_code code)
{
	return code == EDI_ERR_ISA_LENGTH || code == EDI_ERR_DELIMITERS ||
	    code == EDI_ERR_UNA || code == EDI_ERR_SYNTAX_ID;
}

void
envelope_reader_error(void *ctx, const edi_error *error)
{
	envelope *env = ctx;
	envelope_error e;

	memset(&e, 0, sizeof(e));
	e.vocabulary = ENVELOPE_VOCAB_READER;
	e.level = current_level(env);
	e.severity = error->severity;
	e.code = edi_error_code_name(error->code);
	e.reader_code = error->code;
	e.position.offset = error->offset;
	e.position.line = error->line;
	e.position.segment_index = error->segment_index;
	e.position.element = error->element;
	e.position.component = error->component;
	snprintf(e.message, sizeof(e.message), "%s", error->message);
	if (!is_header_problem(error->code)) {
		record(env, &e);
		return;
	}
	/* Counted and reported now, stored when the interchange opens. */
	e.level = ENVELOPE_LEVEL_INTERCHANGE;
	if (e.severity == EDI_SEVERITY_ERROR)
		env->errors++;
	else
		env->warnings++;
	if (env->pending_count < sizeof(env->pending) / sizeof(env->pending[0]))
		env->pending[env->pending_count++] = e;
	if (env->cb.error)
		env->cb.error(env->ctx, &e);
}

void
envelope_finish(envelope *env)
{
	close_unfinished(env, position_at_end(env), "the end of input");
	if (env->una_pending)
		report(env, ENVELOPE_LEVEL_STREAM, ENVELOPE_VOCAB_CONTRL, "13",
		    EDI_SEVERITY_ERROR, "UNB", position_at_end(env),
		    "UNB missing: input ends after the UNA at segment %llu",
		    (unsigned long long)env->una_position.segment_index);
	env->pending_count = 0;
	env->una_pending = 0;
	env->outside_reported = 0;
	env->have_last = 0;
}

void
envelope_reader_callbacks(edi_reader_callbacks *out)
{
	out->segment = envelope_segment;
	out->error = envelope_reader_error;
}

envelope *
envelope_new(const envelope_callbacks *callbacks, void *ctx)
{
	envelope *env = calloc(1, sizeof(*env));

	if (!env)
		return NULL;
	if (callbacks)
		env->cb = *callbacks;
	env->ctx = ctx;
	return env;
}

void
envelope_free(envelope *env)
{
	free(env);
}

uint64_t
envelope_error_count(const envelope *env)
{
	return env->errors;
}

uint64_t
envelope_warning_count(const envelope *env)
{
	return env->warnings;
}

uint64_t
envelope_interchange_count(const envelope *env)
{
	return env->interchanges;
}

const char *
envelope_vocabulary_name(envelope_vocabulary vocabulary)
{
	switch (vocabulary) {
	case ENVELOPE_VOCAB_TA1:
		return "TA1";
	case ENVELOPE_VOCAB_AK9:
		return "AK9";
	case ENVELOPE_VOCAB_AK5:
		return "AK5";
	case ENVELOPE_VOCAB_CONTRL:
		return "CONTRL";
	default:
		return "READER";
	}
}

void
envelope_error_label(const envelope_error *error, char *out, size_t cap)
{
	if (error->vocabulary == ENVELOPE_VOCAB_READER)
		snprintf(out, cap, "%s", error->code ? error->code : "READER");
	else
		snprintf(out, cap, "%s-%s",
		    envelope_vocabulary_name(error->vocabulary), error->code);
}
