/*
 * edi_builder - envelopes around written messages. See edi_builder.h.
 *
 * The builder is a small state machine over the envelope levels. It keeps
 * the control numbers of the open levels as the text it wrote, so the
 * closing segment repeats them byte for byte, and counts from the
 * writer's segment counter so that a message body written straight
 * through edi_writer is counted without the caller's help.
 */
#include "edi_builder.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum level { LEVEL_NONE, LEVEL_INTERCHANGE, LEVEL_GROUP, LEVEL_MESSAGE };

#define MAX_CONTROL 16 /* longest control reference (EDIFACT an..14) + NUL */

struct edi_builder {
	edi_writer *writer;
	edi_standard standard;
	enum level level;
	int in_group;      /* the open message belongs to a group */
	int used_groups;   /* EDIFACT: groups and bare messages do not mix */
	int bare_messages;

	char interchange_control[MAX_CONTROL];
	char group_control[MAX_CONTROL];
	char message_control[MAX_CONTROL];
	char date[9]; /* interchange CCYYMMDD, default for groups */
	char time[9];
	unsigned syntax_version;

	unsigned long interchange_count; /* IEA01 / UNZ 0036 */
	unsigned long group_count;       /* GE01 / UNE 0060 */
	uint64_t message_start;          /* writer segment count before ST/UNH */
};

edi_builder *
edi_builder_new(edi_writer *w)
{
	edi_builder *b = calloc(1, sizeof *b);

	if (b != NULL)
		b->writer = w;
	return b;
}

void
edi_builder_free(edi_builder *b)
{
	free(b);
}

uint64_t
edi_builder_message_segments(const edi_builder *b)
{
	if (b->level != LEVEL_MESSAGE)
		return 0;
	return edi_writer_segment_count(b->writer) - b->message_start;
}

/* ---- parameter checks --------------------------------------------------- */

static edi_write_status
bad(edi_builder *b, const char *field, const char *what, const char *value)
{
	return edi_writer_fail(b->writer, EDI_WRITE_BAD_VALUE,
	    "%s %s, found \"%.40s\"", field, what, value ? value : "");
}

static int
all_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

static int
text_ok(edi_builder *b, const char *field, const char *value, size_t min,
    size_t max)
{
	size_t n = value ? strlen(value) : 0;

	if (n < min || n > max) {
		char what[48];

		if (min == max)
			snprintf(what, sizeof what, "must be %zu characters", min);
		else
			snprintf(what, sizeof what, "must be %zu to %zu characters",
			    min, max);
		bad(b, field, what, value);
		return 0;
	}
	return 1;
}

/* CCYYMMDD with a month and day that can exist. */
static int
date_ok(edi_builder *b, const char *field, const char *value)
{
	int month, day;

	if (value == NULL || strlen(value) != 8 || !all_digits(value, 8)) {
		bad(b, field, "must be a date CCYYMMDD", value);
		return 0;
	}
	month = (value[4] - '0') * 10 + (value[5] - '0');
	day = (value[6] - '0') * 10 + (value[7] - '0');
	if (month < 1 || month > 12 || day < 1 || day > 31) {
		bad(b, field, "is not a calendar date", value);
		return 0;
	}
	return 1;
}

/* HHMM, optionally followed by seconds and decimal seconds (X12 TM 4-8). */
static int
time_ok(edi_builder *b, const char *field, const char *value, size_t max)
{
	size_t n = value ? strlen(value) : 0;
	int hour, minute;

	if (n < 4 || n > max || n == 5 || !all_digits(value, n)) {
		bad(b, field, max == 4 ? "must be a time HHMM" :
		    "must be a time HHMM[SS[D[D]]]", value);
		return 0;
	}
	hour = (value[0] - '0') * 10 + (value[1] - '0');
	minute = (value[2] - '0') * 10 + (value[3] - '0');
	if (hour > 23 || minute > 59 ||
	    (n >= 6 && (value[4] - '0') * 10 + (value[5] - '0') > 59)) {
		bad(b, field, "is not a time of day", value);
		return 0;
	}
	return 1;
}

static edi_write_status
sequence(edi_builder *b, const char *what)
{
	return edi_writer_fail(b->writer, EDI_WRITE_SEQUENCE, "%s", what);
}

static edi_write_status
check_open(edi_builder *b, edi_standard standard, enum level want,
    const char *segment)
{
	const edi_write_error *e = edi_writer_error(b->writer);
	char what[96];

	if (e != NULL)
		return e->code;
	if (!edi_writer_idle(b->writer)) {
		snprintf(what, sizeof what, "%s begun inside another segment",
		    segment);
		return sequence(b, what);
	}
	if (b->level != want || (want != LEVEL_NONE && b->standard != standard)) {
		snprintf(what, sizeof what, "%s is not allowed here", segment);
		return sequence(b, what);
	}
	if (edi_writer_delimiters(b->writer)->standard != standard) {
		snprintf(what, sizeof what, "%s written with %s delimiters",
		    segment, standard == EDI_STANDARD_X12 ? "EDIFACT" : "X12");
		return edi_writer_fail(b->writer, EDI_WRITE_BAD_DELIMITERS, "%s",
		    what);
	}
	return EDI_WRITE_OK;
}

static const char *
or_default(const char *value, const char *fallback)
{
	return value != NULL ? value : fallback;
}

static edi_slice
slice_of(const char *s)
{
	return (edi_slice){ s, strlen(s) };
}

/* ---- X12 ---------------------------------------------------------------- */

edi_write_status
edi_builder_x12_interchange(edi_builder *b, const edi_x12_interchange *isa)
{
	edi_slice f[EDI_ISA_FIELDS];
	const char *auth_q = or_default(isa->authorization_qualifier, "00");
	const char *auth = or_default(isa->authorization, "");
	const char *sec_q = or_default(isa->security_qualifier, "00");
	const char *sec = or_default(isa->security, "");
	char control[10];
	edi_write_status status;

	if ((status = check_open(b, EDI_STANDARD_X12, LEVEL_NONE, "ISA")))
		return status;
	if (!text_ok(b, "ISA01 authorization qualifier", auth_q, 2, 2) ||
	    !text_ok(b, "ISA02 authorization information", auth, 0, 10) ||
	    !text_ok(b, "ISA03 security qualifier", sec_q, 2, 2) ||
	    !text_ok(b, "ISA04 security information", sec, 0, 10) ||
	    !text_ok(b, "ISA05 sender qualifier", isa->sender_qualifier, 2, 2) ||
	    !text_ok(b, "ISA06 sender id", isa->sender_id, 1, 15) ||
	    !text_ok(b, "ISA07 receiver qualifier", isa->receiver_qualifier, 2, 2) ||
	    !text_ok(b, "ISA08 receiver id", isa->receiver_id, 1, 15) ||
	    !date_ok(b, "ISA09 date", isa->date) ||
	    !time_ok(b, "ISA10 time", isa->time, 8))
		return edi_writer_error(b->writer)->code;
	if (isa->version == NULL || strlen(isa->version) != 5 ||
	    !all_digits(isa->version, 5))
		return bad(b, "ISA12 version", "must be 5 digits", isa->version);
	if (isa->control_number > 999999999UL)
		return edi_writer_fail(b->writer, EDI_WRITE_BAD_VALUE,
		    "ISA13 control number must be at most 999999999, found %lu",
		    isa->control_number);
	snprintf(control, sizeof control, "%09lu", isa->control_number);
	/* From 00402 on ISA11 is the repetition separator (X12.5); a 00501
	 * interchange written without one would carry 'U' there. */
	if (strcmp(isa->version, "00402") >= 0 &&
	    edi_writer_delimiters(b->writer)->repetition == 0)
		return edi_writer_fail(b->writer, EDI_WRITE_BAD_DELIMITERS,
		    "ISA12 %s needs a repetition separator", isa->version);

	memset(f, 0, sizeof f);
	f[1] = slice_of(auth_q);
	f[2] = slice_of(auth);
	f[3] = slice_of(sec_q);
	f[4] = slice_of(sec);
	f[5] = slice_of(isa->sender_qualifier);
	f[6] = slice_of(isa->sender_id);
	f[7] = slice_of(isa->receiver_qualifier);
	f[8] = slice_of(isa->receiver_id);
	f[9] = (edi_slice){ isa->date + 2, 6 };
	f[10] = (edi_slice){ isa->time, 4 };
	f[11] = slice_of("U");
	f[12] = slice_of(isa->version);
	f[13] = slice_of(control);
	f[14] = slice_of(isa->ack_requested ? "1" : "0");
	f[15] = slice_of(isa->test ? "T" : "P");
	if ((status = edi_writer_isa(b->writer, f)))
		return status;

	b->standard = EDI_STANDARD_X12;
	b->level = LEVEL_INTERCHANGE;
	b->interchange_count = 0;
	memcpy(b->interchange_control, control, sizeof control);
	memcpy(b->date, isa->date, 9);
	snprintf(b->time, sizeof b->time, "%s", isa->time);
	return EDI_WRITE_OK;
}

edi_write_status
edi_builder_x12_group(edi_builder *b, const edi_x12_group *gs)
{
	edi_writer *w = b->writer;
	const char *date = or_default(gs->date, b->date);
	const char *time = or_default(gs->time, b->time);
	const char *agency = or_default(gs->agency, "X");
	char control[10];
	edi_write_status status;
	int short_date;

	if ((status = check_open(b, EDI_STANDARD_X12, LEVEL_INTERCHANGE, "GS")))
		return status;
	if (!text_ok(b, "GS01 functional identifier", gs->functional_id, 2, 2) ||
	    !text_ok(b, "GS02 application sender", gs->sender_code, 2, 15) ||
	    !text_ok(b, "GS03 application receiver", gs->receiver_code, 2, 15) ||
	    !date_ok(b, "GS04 date", date) ||
	    !time_ok(b, "GS05 time", time, 8) ||
	    !text_ok(b, "GS07 agency", agency, 1, 2) ||
	    !text_ok(b, "GS08 version", gs->version, 1, 12))
		return edi_writer_error(w)->code;
	if (gs->control_number < 1 || gs->control_number > 999999999UL)
		return edi_writer_fail(w, EDI_WRITE_BAD_VALUE,
		    "GS06 control number must be 1 to 999999999, found %lu",
		    gs->control_number);
	snprintf(control, sizeof control, "%lu", gs->control_number);
	/* GS04 became CCYYMMDD with version 004010; earlier ones are YYMMDD. */
	short_date = strncmp(gs->version, "004", 3) < 0;

	edi_writer_begin(w, "GS");
	edi_writer_element(w, gs->functional_id);
	edi_writer_element(w, gs->sender_code);
	edi_writer_element(w, gs->receiver_code);
	edi_writer_element(w, short_date ? date + 2 : date);
	edi_writer_element(w, time);
	edi_writer_element(w, control);
	edi_writer_element(w, agency);
	edi_writer_element(w, gs->version);
	if ((status = edi_writer_end(w)))
		return status;

	b->level = LEVEL_GROUP;
	b->group_count = 0;
	memcpy(b->group_control, control, sizeof control);
	return EDI_WRITE_OK;
}

edi_write_status
edi_builder_x12_set(edi_builder *b, const char *id, const char *control_number,
    const char *implementation)
{
	edi_writer *w = b->writer;
	edi_write_status status;

	if ((status = check_open(b, EDI_STANDARD_X12, LEVEL_GROUP, "ST")))
		return status;
	if (!text_ok(b, "ST01 transaction set identifier", id, 3, 3) ||
	    !text_ok(b, "ST02 control number", control_number, 4, 9) ||
	    (implementation != NULL &&
	    !text_ok(b, "ST03 implementation reference", implementation, 1, 35)))
		return edi_writer_error(w)->code;

	b->message_start = edi_writer_segment_count(w);
	edi_writer_begin(w, "ST");
	edi_writer_element(w, id);
	edi_writer_element(w, control_number);
	edi_writer_element(w, implementation);
	if ((status = edi_writer_end(w)))
		return status;

	b->level = LEVEL_MESSAGE;
	b->in_group = 1;
	snprintf(b->message_control, sizeof b->message_control, "%s",
	    control_number);
	return EDI_WRITE_OK;
}

/* ---- EDIFACT ------------------------------------------------------------ */

/* The service characters a reader assumes when there is no UNA
 * (ISO 9735-1 §7.1): ":+.? '", and from syntax 4 the repetition '*'. */
static int
una_needed(const edi_delimiters *d, unsigned syntax_version)
{
	char chars[6];

	edi_writer_una_chars(d, chars);
	if (d->terminator_len != 1 || memcmp(chars, ":+.? ", 4) != 0 ||
	    chars[5] != '\'')
		return 1;
	return chars[4] != (syntax_version >= 4 ? '*' : ' ');
}

/* Syntax 4 dates are CCYYMMDD; syntax 1-3 dates YYMMDD. */
static const char *
edifact_date(const edi_builder *b, const char *date)
{
	return b->syntax_version >= 4 ? date : date + 2;
}

edi_write_status
edi_builder_edifact_interchange(edi_builder *b,
    const edi_edifact_interchange *unb)
{
	edi_writer *w = b->writer;
	char version[2];
	edi_write_status status;
	int una;

	if ((status = check_open(b, EDI_STANDARD_EDIFACT, LEVEL_NONE, "UNB")))
		return status;
	if (!text_ok(b, "UNB syntax identifier", unb->syntax_id, 4, 4))
		return edi_writer_error(w)->code;
	if (strncmp(unb->syntax_id, "UNO", 3) != 0 || unb->syntax_id[3] < 'A' ||
	    unb->syntax_id[3] > 'Y')
		return bad(b, "UNB syntax identifier", "must be UNOA to UNOY",
		    unb->syntax_id);
	if (unb->syntax_version < 1 || unb->syntax_version > 4)
		return bad(b, "UNB syntax version", "must be 1 to 4", "");
	if (!text_ok(b, "UNB sender id", unb->sender_id, 1, 35) ||
	    (unb->sender_qualifier != NULL &&
	    !text_ok(b, "UNB sender qualifier", unb->sender_qualifier, 1, 4)) ||
	    !text_ok(b, "UNB recipient id", unb->receiver_id, 1, 35) ||
	    (unb->receiver_qualifier != NULL &&
	    !text_ok(b, "UNB recipient qualifier", unb->receiver_qualifier, 1, 4)) ||
	    !date_ok(b, "UNB date", unb->date) ||
	    !time_ok(b, "UNB time", unb->time, 4) ||
	    !text_ok(b, "UNB control reference", unb->control_reference, 1, 14) ||
	    (unb->application_reference != NULL &&
	    !text_ok(b, "UNB application reference", unb->application_reference,
	    1, 14)) ||
	    (unb->agreement != NULL &&
	    !text_ok(b, "UNB agreement identifier", unb->agreement, 1, 35)))
		return edi_writer_error(w)->code;

	una = unb->una == EDI_UNA_ALWAYS ||
	    una_needed(edi_writer_delimiters(w), unb->syntax_version);
	if (una && unb->una == EDI_UNA_NEVER)
		return edi_writer_fail(w, EDI_WRITE_BAD_DELIMITERS,
		    "the delimiters differ from the syntax %u defaults, so the "
		    "interchange needs a UNA", unb->syntax_version);
	if (una && (status = edi_writer_una(w)))
		return status;

	b->syntax_version = unb->syntax_version;
	version[0] = (char)('0' + unb->syntax_version);
	version[1] = '\0';
	edi_writer_begin(w, "UNB");
	edi_writer_element(w, unb->syntax_id);
	edi_writer_component(w, version);
	edi_writer_element(w, unb->sender_id);
	edi_writer_component(w, unb->sender_qualifier);
	edi_writer_element(w, unb->receiver_id);
	edi_writer_component(w, unb->receiver_qualifier);
	edi_writer_element(w, edifact_date(b, unb->date));
	edi_writer_component(w, unb->time);
	edi_writer_element(w, unb->control_reference);
	edi_writer_element(w, NULL);                 /* S005 password */
	edi_writer_element(w, unb->application_reference);
	edi_writer_element(w, NULL);                 /* 0029 priority */
	edi_writer_element(w, unb->ack_requested ? "1" : NULL);
	edi_writer_element(w, unb->agreement);
	edi_writer_element(w, unb->test ? "1" : NULL);
	if ((status = edi_writer_end(w)))
		return status;

	b->standard = EDI_STANDARD_EDIFACT;
	b->level = LEVEL_INTERCHANGE;
	b->interchange_count = 0;
	b->used_groups = b->bare_messages = 0;
	snprintf(b->interchange_control, sizeof b->interchange_control, "%s",
	    unb->control_reference);
	memcpy(b->date, unb->date, 9);
	snprintf(b->time, sizeof b->time, "%s", unb->time);
	return EDI_WRITE_OK;
}

edi_write_status
edi_builder_edifact_group(edi_builder *b, const edi_edifact_group *ung)
{
	edi_writer *w = b->writer;
	const char *date = or_default(ung->date, b->date);
	const char *time = or_default(ung->time, b->time);
	const char *agency = or_default(ung->agency, "UN");
	edi_write_status status;

	if ((status = check_open(b, EDI_STANDARD_EDIFACT, LEVEL_INTERCHANGE,
	    "UNG")))
		return status;
	if (b->bare_messages)
		return sequence(b, "UNG after messages outside groups; an "
		    "interchange holds either groups or messages");
	if (!text_ok(b, "UNG message group id", ung->group_id, 1, 6) ||
	    !text_ok(b, "UNG sender id", ung->sender_id, 1, 35) ||
	    (ung->sender_qualifier != NULL &&
	    !text_ok(b, "UNG sender qualifier", ung->sender_qualifier, 1, 4)) ||
	    !text_ok(b, "UNG recipient id", ung->receiver_id, 1, 35) ||
	    (ung->receiver_qualifier != NULL &&
	    !text_ok(b, "UNG recipient qualifier", ung->receiver_qualifier, 1, 4)) ||
	    !date_ok(b, "UNG date", date) ||
	    !time_ok(b, "UNG time", time, 4) ||
	    !text_ok(b, "UNG reference", ung->reference, 1, 14) ||
	    !text_ok(b, "UNG agency", agency, 1, 3) ||
	    !text_ok(b, "UNG version", ung->version, 1, 3) ||
	    !text_ok(b, "UNG release", ung->release, 1, 3) ||
	    (ung->association != NULL &&
	    !text_ok(b, "UNG association code", ung->association, 1, 6)))
		return edi_writer_error(w)->code;

	edi_writer_begin(w, "UNG");
	edi_writer_element(w, ung->group_id);
	edi_writer_element(w, ung->sender_id);
	edi_writer_component(w, ung->sender_qualifier);
	edi_writer_element(w, ung->receiver_id);
	edi_writer_component(w, ung->receiver_qualifier);
	edi_writer_element(w, edifact_date(b, date));
	edi_writer_component(w, time);
	edi_writer_element(w, ung->reference);
	edi_writer_element(w, agency);
	edi_writer_element(w, ung->version);
	edi_writer_component(w, ung->release);
	edi_writer_component(w, ung->association);
	if ((status = edi_writer_end(w)))
		return status;

	b->level = LEVEL_GROUP;
	b->used_groups = 1;
	b->group_count = 0;
	snprintf(b->group_control, sizeof b->group_control, "%s",
	    ung->reference);
	return EDI_WRITE_OK;
}

edi_write_status
edi_builder_edifact_message(edi_builder *b, const edi_edifact_message *unh)
{
	edi_writer *w = b->writer;
	const char *agency = or_default(unh->agency, "UN");
	edi_write_status status;
	int in_group = b->level == LEVEL_GROUP;

	if ((status = check_open(b, EDI_STANDARD_EDIFACT,
	    in_group ? LEVEL_GROUP : LEVEL_INTERCHANGE, "UNH")))
		return status;
	if (!in_group && b->used_groups)
		return sequence(b, "UNH outside a group in an interchange that "
		    "has groups");
	if (!text_ok(b, "UNH message reference", unh->reference, 1, 14) ||
	    !text_ok(b, "UNH message type", unh->type, 1, 6) ||
	    !text_ok(b, "UNH version", unh->version, 1, 3) ||
	    !text_ok(b, "UNH release", unh->release, 1, 3) ||
	    !text_ok(b, "UNH agency", agency, 1, 3) ||
	    (unh->association != NULL &&
	    !text_ok(b, "UNH association code", unh->association, 1, 6)))
		return edi_writer_error(w)->code;

	b->message_start = edi_writer_segment_count(w);
	edi_writer_begin(w, "UNH");
	edi_writer_element(w, unh->reference);
	edi_writer_element(w, unh->type);
	edi_writer_component(w, unh->version);
	edi_writer_component(w, unh->release);
	edi_writer_component(w, agency);
	edi_writer_component(w, unh->association);
	if ((status = edi_writer_end(w)))
		return status;

	b->level = LEVEL_MESSAGE;
	b->in_group = in_group;
	if (!in_group)
		b->bare_messages = 1;
	snprintf(b->message_control, sizeof b->message_control, "%s",
	    unh->reference);
	return EDI_WRITE_OK;
}

/* ---- closing ------------------------------------------------------------ */

static edi_write_status
write_trailer(edi_builder *b, const char *tag, unsigned long long count,
    const char *control)
{
	char number[24];

	snprintf(number, sizeof number, "%llu", count);
	edi_writer_begin(b->writer, tag);
	edi_writer_element(b->writer, number);
	edi_writer_element(b->writer, control);
	return edi_writer_end(b->writer);
}

edi_write_status
edi_builder_end_message(edi_builder *b)
{
	int x12 = b->standard == EDI_STANDARD_X12;
	const char *tag = x12 ? "SE" : "UNT";
	edi_write_status status;

	if ((status = check_open(b, b->standard, LEVEL_MESSAGE, tag)))
		return status;
	/* Counted from the header to this trailer, both included. */
	status = write_trailer(b, tag, edi_builder_message_segments(b) + 1,
	    b->message_control);
	if (status)
		return status;
	if (b->in_group) {
		b->group_count++;
		b->level = LEVEL_GROUP;
	} else {
		b->interchange_count++;
		b->level = LEVEL_INTERCHANGE;
	}
	return EDI_WRITE_OK;
}

edi_write_status
edi_builder_end_group(edi_builder *b)
{
	const char *tag = b->standard == EDI_STANDARD_X12 ? "GE" : "UNE";
	edi_write_status status;

	if ((status = check_open(b, b->standard, LEVEL_GROUP, tag)))
		return status;
	if ((status = write_trailer(b, tag, b->group_count, b->group_control)))
		return status;
	b->interchange_count++;
	b->level = LEVEL_INTERCHANGE;
	return EDI_WRITE_OK;
}

edi_write_status
edi_builder_end_interchange(edi_builder *b)
{
	const char *tag = b->standard == EDI_STANDARD_X12 ? "IEA" : "UNZ";
	edi_write_status status;

	if ((status = check_open(b, b->standard, LEVEL_INTERCHANGE, tag)))
		return status;
	if ((status = write_trailer(b, tag, b->interchange_count,
	    b->interchange_control)))
		return status;
	b->level = LEVEL_NONE;
	return EDI_WRITE_OK;
}
