/*
 * envelope - interchange framing checks for X12 and EDIFACT.
 *
 * OWNS
 *   Checking that the service segments of a stream frame it correctly:
 *   X12 ISA/IEA, GS/GE, ST/SE (with ISB/ISE and TA1 allowed between ISA and
 *   the first GS) and EDIFACT UNA, UNB/UNZ, UNG/UNE, UNH/UNT. Control
 *   references must match between header and trailer, trailer counts must
 *   match what was received, the fixed-width ISA and the dates, times,
 *   qualifiers and identifiers of every header must be well formed.
 *
 *   The caller wires the reader to the envelope (envelope_reader_callbacks()
 *   does it) and calls envelope_finish() after edi_reader_finish(). The
 *   envelope reports:
 *     - every problem as soon as it is found, through the error callback;
 *     - every transaction set / message, functional group and interchange
 *       once its trailer (or the lack of one) closes it, with identifiers,
 *       counts and the problems that belong to it.
 *
 * CODES
 *   Every problem carries the code a trading partner expects in the
 *   acknowledgment that reports it, so the acknowledgment builder copies it
 *   as is:
 *     ENVELOPE_VOCAB_TA1     X12 TA105 interchange note code (element I18),
 *                            three digits: "001" .. "031";
 *     ENVELOPE_VOCAB_AK9     X12 997/999 AK905 functional group syntax error
 *                            code (element 716): "1" .. "6";
 *     ENVELOPE_VOCAB_AK5     X12 997 AK502 / 999 IK502 transaction set syntax
 *                            error code (element 718): "1" .. "7";
 *     ENVELOPE_VOCAB_CONTRL  EDIFACT syntax error code (0085) for the UCI,
 *                            UCF or UCM segment of a CONTRL: "2" .. "39";
 *     ENVELOPE_VOCAB_READER  a tokenizer problem; code is the reader's
 *                            edi_error_code_name().
 *   The level says which acknowledgment segment carries it (interchange:
 *   TA1 / UCI, group: AK9 / UCF, set: AK5 / UCM).
 *
 * INVARIANTS
 *   Memory is one fixed-size struct whatever the input: only the open
 *   interchange, group and set are kept, each with at most
 *   ENVELOPE_MAX_ERRORS problems (the rest are counted, and still reported
 *   through the error callback). Feeding the reader in chunks of any size
 *   yields the same results.
 *
 * NEVER
 *   Keeps segments, allocates after envelope_new(), aborts on bad input, or
 *   knows anything about message contents (segment order inside a set is
 *   the guide's business) or about trading partners.
 */
#ifndef EDIGATE_ENVELOPE_H
#define EDIGATE_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "edi_reader.h"

#define ENVELOPE_MAX_ERRORS 8

typedef enum envelope_vocabulary {
	ENVELOPE_VOCAB_READER = 0,
	ENVELOPE_VOCAB_TA1,
	ENVELOPE_VOCAB_AK9,
	ENVELOPE_VOCAB_AK5,
	ENVELOPE_VOCAB_CONTRL
} envelope_vocabulary;

typedef enum envelope_level {
	ENVELOPE_LEVEL_STREAM = 0,   /* outside any interchange */
	ENVELOPE_LEVEL_INTERCHANGE,
	ENVELOPE_LEVEL_GROUP,
	ENVELOPE_LEVEL_SET
} envelope_level;

typedef struct envelope_position {
	uint64_t offset;        /* stream byte offset of the segment */
	uint64_t line;          /* 1-based */
	uint64_t segment_index; /* 1-based position of the segment in the stream */
	unsigned element;       /* 1-based element position, 0 if n/a */
	unsigned component;     /* 1-based component position, 0 if n/a */
} envelope_position;

typedef struct envelope_error {
	envelope_vocabulary vocabulary;
	envelope_level level;
	edi_severity severity;
	const char *code;           /* static string, see CODES above */
	edi_error_code reader_code; /* EDI_ERR_NONE unless vocabulary is READER */
	char tag[4];                /* the segment in error; "" if unknown */
	envelope_position position;
	char message[160];
} envelope_error;

/* The problems of one interchange, group or set. */
typedef struct envelope_errors {
	size_t count;                 /* stored in list */
	size_t dropped;               /* found but not stored: list was full */
	size_t fatal;                 /* of severity EDI_SEVERITY_ERROR, all */
	envelope_error list[ENVELOPE_MAX_ERRORS];
} envelope_errors;

/*
 * Identifiers are copied (release characters removed, truncated to the
 * array size) and NUL-terminated; empty when absent. X12 ids keep their
 * fixed-width padding removed on the right.
 */
typedef struct envelope_interchange {
	size_t number;               /* 1-based in the stream */
	edi_standard standard;
	edi_delimiters delimiters;
	char syntax_id[5];           /* EDIFACT UNOA..UNOY; X12 ISA11 before 00402 */
	char version[6];             /* X12 ISA12 "00401"; EDIFACT 0002 "3" */
	char sender_qualifier[5];    /* ISA05 / UNB 0007 */
	char sender_id[36];          /* ISA06 / UNB 0004 */
	char receiver_qualifier[5];  /* ISA07 / UNB 0007 */
	char receiver_id[36];        /* ISA08 / UNB 0010 */
	char date[9];                /* ISA09 YYMMDD / UNB 0017 */
	char time[5];                /* ISA10 / UNB 0019 HHMM */
	char control_number[15];     /* ISA13 / UNB 0020 */
	char ack_requested[2];       /* ISA14 / UNB 0031 */
	char test_indicator[2];      /* ISA15 ('P','T','I') / UNB 0035 ("1") */
	int has_trailer;             /* IEA / UNZ seen */
	uint64_t declared_count;     /* IEA01 / UNZ 0036, when has_trailer */
	uint64_t group_count;        /* GS / UNG received */
	uint64_t message_count;      /* UNH directly under UNB (EDIFACT) */
	uint64_t set_count;          /* all ST / UNH, in groups or not */
	uint64_t sets_accepted;
	envelope_position start;     /* ISA / UNA or UNB */
	envelope_position end;       /* IEA / UNZ, or where it was found missing */
	int accepted;                /* no interchange-level error */
	envelope_errors errors;
} envelope_interchange;

typedef struct envelope_group {
	size_t number;               /* 1-based in the interchange */
	char functional_id[7];       /* GS01 "PO" / UNG 0038 "ORDERS" */
	char app_sender[36];         /* GS02 / UNG 0040 */
	char app_sender_qualifier[5];/* UNG 0007 */
	char app_receiver[36];       /* GS03 / UNG 0044 */
	char app_receiver_qualifier[5];
	char date[9];                /* GS04 CCYYMMDD / UNG 0017 */
	char time[9];                /* GS05 HHMM[SS[dd]] / UNG 0019 */
	char control_number[15];     /* GS06 / UNG 0048 */
	char agency[3];              /* GS07 "X" / UNG 0051 "UN" */
	char version[13];            /* GS08 "004010" / UNG 0052+0054 "D96A" */
	int has_trailer;
	uint64_t declared_count;     /* GE01 / UNE 0060 */
	uint64_t set_count;
	uint64_t sets_accepted;
	envelope_position start, end;
	int accepted;                /* no group-level error */
	envelope_errors errors;
} envelope_group;

typedef struct envelope_set {
	size_t number;               /* 1-based in its group or interchange */
	char type[7];                /* ST01 "850" / UNH 0065 "ORDERS" */
	char control_number[15];     /* ST02 / UNH 0062 */
	char version[13];            /* ST03 (5010) / UNH 0052+0054 "D96A" */
	char agency[3];              /* UNH 0051 "UN" */
	char association[7];         /* UNH 0057 "EAN008" */
	int has_trailer;
	uint64_t declared_count;     /* SE01 / UNT 0074 */
	uint64_t segment_count;      /* received, header and trailer included */
	envelope_position start, end;
	int accepted;                /* no set-level error */
	envelope_errors errors;
} envelope_set;

typedef struct envelope_callbacks {
	/* Optional: each problem as found, whatever its level. */
	void (*error)(void *ctx, const envelope_error *error);
	/* Optional: a set / message was closed. group is NULL for an EDIFACT
	 * message directly under UNB. */
	void (*set_end)(void *ctx, const envelope_interchange *interchange,
	    const envelope_group *group, const envelope_set *set);
	/* Optional: a functional group was closed; its sets came before. */
	void (*group_end)(void *ctx, const envelope_interchange *interchange,
	    const envelope_group *group);
	/* Optional: an interchange was closed; its groups came before. */
	void (*interchange_end)(void *ctx, const envelope_interchange *interchange);
} envelope_callbacks;

typedef struct envelope envelope;

/* Returns NULL only when memory is exhausted. */
envelope *envelope_new(const envelope_callbacks *callbacks, void *ctx);
void envelope_free(envelope *env);

/* The reader callbacks to pass to edi_reader_new() with the envelope as ctx. */
void envelope_reader_callbacks(edi_reader_callbacks *out);

/* One segment / one reader problem; what envelope_reader_callbacks() wires.
 * envelope_segment always returns 0 (never stops the reader). */
int envelope_segment(void *env, const edi_segment *segment);
void envelope_reader_error(void *env, const edi_error *error);

/* End of input: whatever is still open is closed and reported missing its
 * trailer. The envelope can then take a new stream. */
void envelope_finish(envelope *env);

/* Counts since envelope_new(), over all levels. */
uint64_t envelope_error_count(const envelope *env);   /* severity ERROR */
uint64_t envelope_warning_count(const envelope *env); /* severity WARNING */
uint64_t envelope_interchange_count(const envelope *env);

/* "TA1-001", "AK5-4", "CONTRL-29" or the reader code name. */
const char *envelope_vocabulary_name(envelope_vocabulary vocabulary);
void envelope_error_label(const envelope_error *error, char *out, size_t cap);

#endif
