/*
 * edi_builder - writes X12 and EDIFACT envelopes around the segments a
 * caller writes with edi_writer.
 *
 * OWNS
 *   The envelope segments and everything in them that can be computed:
 *
 *     X12      ISA  GS  ST ... SE  GE  IEA
 *     EDIFACT  UNA? UNB UNG? UNH ... UNT UNE? UNZ
 *
 *   The caller gives identities, control numbers, dates and versions once,
 *   when an envelope level opens; the builder writes the closing segment
 *   itself, with the count it kept (SE01 and UNT 0074 count the segments
 *   from ST/UNH to SE/UNT inclusive, GE01 and UNE the messages of the
 *   group, IEA01 the groups, UNZ the groups or, without groups, the
 *   messages) and the control number of the opening segment. Callers can
 *   therefore not get a count or a matching control number wrong.
 *
 *   ISA fields are padded to their fixed widths (ISA13 with zeros) so the
 *   ISA is always 106 characters; ISA11 and ISA16 come from the writer's
 *   delimiters (see edi_writer_isa): from ISA12 00402 on the writer must
 *   have a repetition separator, before it ISA11 is "U". Dates are given once as CCYYMMDD and
 *   written in the form each segment and version wants (ISA09 YYMMDD, GS04
 *   CCYYMMDD from 004010 on, UNB/UNG YYMMDD before syntax 4).
 *
 *   Usage, X12:
 *       edi_builder_x12_interchange(b, &isa);
 *       edi_builder_x12_group(b, &gs);
 *       edi_builder_x12_set(b, "850", "0001", NULL);
 *       ... edi_writer_begin/element/end for the body ...
 *       edi_builder_end_message(b);      SE
 *       edi_builder_end_group(b);        GE
 *       edi_builder_end_interchange(b);  IEA
 *   EDIFACT is the same with edi_builder_edifact_interchange/_group
 *   (optional)/_message.
 *
 * ERRORS
 *   A malformed parameter (EDI_WRITE_BAD_VALUE) or a call out of order
 *   (EDI_WRITE_SEQUENCE) fails the writer, like the writer's own errors:
 *   edi_writer_error() says which field and why, and every later call
 *   returns the same status.
 *
 * NEVER
 *   Chooses control numbers (the store hands them out), writes the body
 *   of a message, or validates anything but its own parameters.
 */
#ifndef EDIGATE_EDI_BUILDER_H
#define EDIGATE_EDI_BUILDER_H

#include "edi_writer.h"

typedef struct edi_x12_interchange {
	const char *authorization_qualifier; /* ISA01, NULL = "00" */
	const char *authorization;           /* ISA02, NULL = blank */
	const char *security_qualifier;      /* ISA03, NULL = "00" */
	const char *security;                /* ISA04, NULL = blank */
	const char *sender_qualifier;        /* ISA05, e.g. "ZZ" */
	const char *sender_id;               /* ISA06, up to 15 */
	const char *receiver_qualifier;      /* ISA07 */
	const char *receiver_id;             /* ISA08, up to 15 */
	const char *date;                    /* CCYYMMDD */
	const char *time;                    /* HHMM, HHMMSS...: ISA10 takes HHMM */
	const char *version;                 /* ISA12, "00401", "00501" */
	unsigned long control_number;        /* ISA13, at most 999999999 */
	int ack_requested;                   /* ISA14 "1" when set, else "0" */
	int test;                            /* ISA15 "T" when set, else "P" */
} edi_x12_interchange;

typedef struct edi_x12_group {
	const char *functional_id;    /* GS01: "PO", "IN", "SH", "FA" */
	const char *sender_code;      /* GS02, 2-15 */
	const char *receiver_code;    /* GS03, 2-15 */
	const char *date;             /* GS04 as CCYYMMDD, NULL = interchange's */
	const char *time;             /* GS05 HHMM[SS[D[D]]], NULL = interchange's */
	unsigned long control_number; /* GS06, 1..999999999 */
	const char *agency;           /* GS07, NULL = "X" */
	const char *version;          /* GS08, "004010", "005010X231A1" */
} edi_x12_group;

typedef enum edi_una_mode {
	EDI_UNA_AUTO = 0, /* only when the delimiters are not the defaults */
	EDI_UNA_ALWAYS,
	EDI_UNA_NEVER     /* refused when the delimiters need one */
} edi_una_mode;

typedef struct edi_edifact_interchange {
	const char *syntax_id;        /* UNB 0001, "UNOA".."UNOY" */
	unsigned syntax_version;      /* UNB 0002, 1..4 */
	const char *sender_id;        /* 0004, up to 35 */
	const char *sender_qualifier; /* 0007, NULL = none */
	const char *receiver_id;      /* 0010 */
	const char *receiver_qualifier;
	const char *date;             /* CCYYMMDD */
	const char *time;             /* HHMM */
	const char *control_reference;     /* 0020, 1-14 */
	const char *application_reference; /* 0026, NULL = none */
	const char *agreement;             /* 0032, NULL = none */
	int ack_requested;            /* 0031 "1" when set */
	int test;                     /* 0035 "1" when set */
	edi_una_mode una;
} edi_edifact_interchange;

typedef struct edi_edifact_group {
	const char *group_id;          /* UNG 0038: the message type, "ORDERS" */
	const char *sender_id;         /* 0040 */
	const char *sender_qualifier;  /* 0007, NULL = none */
	const char *receiver_id;       /* 0044 */
	const char *receiver_qualifier;
	const char *date;              /* CCYYMMDD, NULL = interchange's */
	const char *time;              /* HHMM, NULL = interchange's */
	const char *reference;         /* 0048, 1-14 */
	const char *agency;            /* 0051, NULL = "UN" */
	const char *version;           /* 0052, "D" */
	const char *release;           /* 0054, "96A" */
	const char *association;       /* 0057, NULL = none */
} edi_edifact_group;

typedef struct edi_edifact_message {
	const char *reference;   /* UNH 0062, 1-14 */
	const char *type;        /* 0065, "ORDERS" */
	const char *version;     /* 0052, "D" */
	const char *release;     /* 0054, "96A" */
	const char *agency;      /* 0051, NULL = "UN" */
	const char *association; /* 0057, "EAN008", NULL = none */
} edi_edifact_message;

typedef struct edi_builder edi_builder;

/* The builder writes through w, which the caller keeps owning. Returns
 * NULL only when memory is exhausted. */
edi_builder *edi_builder_new(edi_writer *w);
void edi_builder_free(edi_builder *b);

/* Opening segments. The writer's delimiters must be of the standard. */
edi_write_status edi_builder_x12_interchange(edi_builder *b,
    const edi_x12_interchange *isa);
edi_write_status edi_builder_x12_group(edi_builder *b, const edi_x12_group *gs);
/* ST01 set id (3), ST02 control number (4-9), ST03 implementation
 * convention reference (5010 guides) or NULL. */
edi_write_status edi_builder_x12_set(edi_builder *b, const char *id,
    const char *control_number, const char *implementation);

edi_write_status edi_builder_edifact_interchange(edi_builder *b,
    const edi_edifact_interchange *unb);
edi_write_status edi_builder_edifact_group(edi_builder *b,
    const edi_edifact_group *ung);
edi_write_status edi_builder_edifact_message(edi_builder *b,
    const edi_edifact_message *unh);

/* Closing segments, with the counts and control numbers kept. */
edi_write_status edi_builder_end_message(edi_builder *b);     /* SE / UNT */
edi_write_status edi_builder_end_group(edi_builder *b);       /* GE / UNE */
edi_write_status edi_builder_end_interchange(edi_builder *b); /* IEA / UNZ */

/* Segments of the open message so far, its header included. */
uint64_t edi_builder_message_segments(const edi_builder *b);

#endif
