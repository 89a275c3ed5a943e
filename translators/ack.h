/*
 * ack - acknowledgments: building, writing and reading X12 TA1, 997 and
 * 999 and EDIFACT CONTRL.
 *
 * OWNS
 *   One data model of an acknowledgment result (ack_interchange_result and
 *   what it holds), shared by the three directions:
 *
 *     building   an ack_collector is fed the reader's segments and errors
 *                (it runs the envelope checks itself and, when given maps,
 *                the guide of every set) and hands out one result per
 *                inbound interchange: the TA1 note, the AK9/UCF group
 *                status with counts, the AK5/IK5/UCM set status with
 *                codes, the AK3/IK3/UCS segment errors and the AK4/IK4/UCD
 *                element errors with a copy of the bad data;
 *     writing    ack_write() turns a result into a whole interchange
 *                (ISA ... IEA or UNB ... UNZ) holding a TA1, a 997, a 999
 *                or a CONTRL, in the envelope and delimiters the caller
 *                gives and with the control numbers the caller gives;
 *     reading    an ack_reader is fed the segments of an inbound
 *                interchange and hands out one ack_document per TA1
 *                segment, 997/999 transaction set or CONTRL message, in
 *                the same model, so tracking can tell which groups and
 *                sets a partner accepted or rejected, and why.
 *
 *   Codes are kept as the standards write them (AK5 "R", AK304 "8", TA105
 *   "001", CONTRL 0083 "4", 0085 "29"), so a result read from a partner's
 *   ack and one built here compare field by field. ack_status gives the
 *   one meaning the three kinds share.
 *
 * RULES (ack_choose)
 *   - X12: a 997 for version 004010 (and older), a 999 from 005010 on,
 *     unless the partner profile names one; EDIFACT: a CONTRL.
 *   - A TA1 when ISA14 is "1" or when the interchange has an
 *     interchange-level error (a TA1 code from envelope.h), whatever the
 *     partner profile says about TA1s otherwise.
 *   - Never an ack of any kind to an interchange that carries only TA1
 *     segments, never a 997/999 for a group of acknowledgments (GS01 "FA")
 *     and never a CONTRL for a CONTRL: two gateways must not answer each
 *     other's acknowledgments forever.
 *
 * MEMORY
 *   A result owns its arrays (ack_result_clear() frees them). The
 *   collector keeps one interchange's result at a time and frees it after
 *   the callback, so memory follows the largest interchange's number of
 *   groups and sets, not the stream. Errors per set are capped
 *   (ACK_MAX_SEGMENT_ERRORS segment errors, ACK_MAX_ELEMENT_ERRORS element
 *   errors per segment); what is dropped is counted.
 *
 * NEVER
 *   Chooses control numbers (the store hands them out), decides who the
 *   ack goes to, opens files or connections, or aborts on bad input: a
 *   malformed inbound ack becomes an ack_document with problems set.
 */
#ifndef EDIGATE_ACK_H
#define EDIGATE_ACK_H

#include <stddef.h>
#include <stdint.h>

#include "edi_reader.h"
#include "edi_writer.h"

#define ACK_MAX_SEGMENT_ERRORS 100 /* AK3/IK3/UCS per set */
#define ACK_MAX_ELEMENT_ERRORS 99  /* AK4/IK4/UCD per segment */
#define ACK_MAX_CODES 5            /* AK502..AK506, AK905..AK909 */

typedef enum ack_kind {
	ACK_KIND_NONE = 0,
	ACK_KIND_TA1,
	ACK_KIND_997,
	ACK_KIND_999,
	ACK_KIND_CONTRL
} ack_kind;

/*
 * The shared meaning of AK501/IK501/AK901 (X12 element 717/715) and of
 * CONTRL 0083. The values are the X12 letters.
 *   CONTRL 0083 read: "1" and "7" ACCEPTED ("7": lower levels may still
 *   be rejected one by one), "2" ACCEPTED_WITH_ERRORS, "3"
 *   PARTIALLY_ACCEPTED, "4" REJECTED, "8" RECEIVED (the interchange
 *   arrived, not yet checked). Written: "7" for A/E/P, "4" for the
 *   rejections.
 */
typedef enum ack_status {
	ACK_STATUS_NONE = 0,
	ACK_STATUS_ACCEPTED = 'A',
	ACK_STATUS_ACCEPTED_WITH_ERRORS = 'E',
	ACK_STATUS_PARTIALLY_ACCEPTED = 'P', /* group only: some sets rejected */
	ACK_STATUS_REJECTED = 'R',
	ACK_STATUS_MAC_FAILED = 'M',         /* authentication code failed */
	ACK_STATUS_ASSURANCE_FAILED = 'W',
	ACK_STATUS_CONTENT_FAILED = 'X',     /* content could not be analysed */
	ACK_STATUS_RECEIVED = 'N'            /* CONTRL 0083 "8" only */
} ack_status;

/* AK4 / IK4 / UCD: one element in error. */
typedef struct ack_element_error {
	unsigned element;     /* AK401-1 / IK401-1 / UCD S011 0098, 1-based */
	unsigned component;   /* AK401-2 / IK401-2 / UCD S011 0104, 0 = none */
	unsigned repetition;  /* IK401-3 (999 only), 0 = none */
	char reference[5];    /* AK402 / IK402 data element number, "" */
	char code[4];         /* AK403 / IK403 (X12 723 / 621), UCD 0085 */
	char bad_data[100];   /* AK404 / IK404, "" when none (CONTRL has none) */
} ack_element_error;

/* 999 CTX: the business unit the error belongs to ("BEG03" + the PO
 * number) or a situational trigger. */
typedef struct ack_context {
	char name[36];        /* CTX01-1, "" = no CTX */
	char reference[36];   /* CTX01-2 */
	char tag[4];          /* CTX02 */
	unsigned position;    /* CTX03 */
	char loop_id[7];      /* CTX04 */
	unsigned element;     /* CTX05-1 */
	unsigned component;   /* CTX05-2 */
} ack_context;

/* AK3 / IK3 / UCS: one segment in error, with its element errors. */
typedef struct ack_segment_error {
	char tag[4];          /* AK301 / IK301 (CONTRL: not sent, "" when read) */
	unsigned position;    /* AK302 / IK302 / UCS 0096, ST/UNH = 1 */
	char loop_id[7];      /* AK303 / IK303, "" */
	char code[4];         /* AK304 / IK304 / UCS 0085; "" = only element errors */
	ack_context context;  /* 999 CTX after IK3 */
	ack_element_error *elements;
	size_t element_count;
	size_t elements_dropped;
} ack_segment_error;

/* AK2+AK5 / IK5 / UCM: one transaction set or message. */
typedef struct ack_set_result {
	char id[7];             /* AK201 / IK201 / UCM S009 0065 ("850", "ORDERS") */
	char control_number[15];/* AK202 / IK202 / UCM 0062 */
	char implementation[36];/* AK203 / IK203 (ST03), "" */
	char version[4];        /* UCM S009 0052 "D" */
	char release[4];        /* UCM S009 0054 "96A" */
	char agency[3];         /* UCM S009 0051 "UN" */
	char association[7];    /* UCM S009 0057 "EAN008" */
	ack_status status;
	char status_code[2];    /* AK501 / IK501 letter, CONTRL 0083 digit */
	char codes[ACK_MAX_CODES][4]; /* AK502.. / IK502.. / UCM 0085 (one) */
	size_t code_count;
	char service_tag[4];    /* UCM 0013: service segment in error ("UNT") */
	unsigned service_element; /* UCM S011 0098 */
	ack_segment_error *segments;
	size_t segment_count;
	size_t segments_dropped;
} ack_set_result;

/* AK1+AK9 / UCF: one functional group. */
typedef struct ack_group_result {
	char functional_id[7];   /* AK101 / UCF 0038 ("PO", "ORDERS") */
	char control_number[15]; /* AK102 / UCF 0048 */
	char version[13];        /* AK103 (999 and 005010 997), GS08 */
	char app_sender[36];     /* UCF S006 0040 */
	char app_sender_qualifier[5];
	char app_receiver[36];   /* UCF S007 0044 */
	char app_receiver_qualifier[5];
	ack_status status;
	char status_code[2];     /* AK901 letter, UCF 0083 digit */
	uint64_t sets_included;  /* AK902 (GE01) */
	uint64_t sets_received;  /* AK903 */
	uint64_t sets_accepted;  /* AK904 */
	char codes[ACK_MAX_CODES][4]; /* AK905..AK909 / UCF 0085 (one) */
	size_t code_count;
	char service_tag[4];     /* UCF 0013 */
	unsigned service_element;/* UCF S011 0098 */
	ack_set_result *sets;
	size_t set_count;
} ack_group_result;

/* TA1 / UCI: the interchange, and everything below it. */
typedef struct ack_interchange_result {
	edi_standard standard;
	edi_delimiters delimiters;   /* of the inbound interchange */
	char control_number[15];     /* TA101 / UCI 0020 (ISA13 / UNB 0020) */
	char date[9];                /* TA102 YYMMDD (ISA09), UNB 0017 */
	char time[5];                /* TA103 HHMM (ISA10), UNB 0019 */
	char version[6];             /* ISA12 "00401"; UNB 0002 "3" */
	char syntax_id[5];           /* UNB 0001 "UNOA" */
	char sender_qualifier[5];    /* ISA05 / UNB 0007; UCI S002 */
	char sender_id[36];          /* ISA06 / UNB 0004 */
	char receiver_qualifier[5];  /* ISA07 / UNB 0007; UCI S003 */
	char receiver_id[36];        /* ISA08 / UNB 0010 */
	char group_version[13];      /* GS08 of the first group, "004010" */
	char group_sender[36];       /* GS02 of the first group */
	char group_receiver[36];     /* GS03 of the first group */
	int ack_requested;           /* ISA14 "1" / UNB 0031 "1" */
	int test;                    /* ISA15 "T" / UNB 0035 "1" */
	ack_status status;
	char status_code[2];         /* TA104 A/E/R, UCI 0083 digit */
	char note_code[4];           /* TA105 "000" / UCI 0085, "" = none */
	char service_tag[4];         /* UCI 0013 */
	unsigned service_element;    /* UCI S011 0098 */
	int envelope_errors;         /* interchange-level errors were found */
	int only_ta1;                /* carries TA1 segments and nothing else */
	int only_acks;               /* every group FA / every message CONTRL */
	ack_group_result *groups;
	size_t group_count;
	ack_set_result *messages;    /* EDIFACT messages directly under UNB */
	size_t message_count;
} ack_interchange_result;

/* Frees what the result owns and zeroes it. */
void ack_result_clear(ack_interchange_result *r);
/* A deep copy into *out (zeroed first). Returns 0, -1 when memory is
 * exhausted (out is then cleared). */
int ack_result_copy(ack_interchange_result *out, const ack_interchange_result *r);

/*
 * Marks r as a duplicate of an interchange already received (the store
 * decides: same sender and ISA13 / UNB 0020 within its window): rejected,
 * with TA105 "025" (duplicate interchange control number) or UCI 0085
 * "26" (duplicate detected), so the TA1 or CONTRL tells the partner why
 * it is not processed twice, and no 997/999 goes with it.
 */
void ack_result_mark_duplicate(ack_interchange_result *r);

/*
 * Marks group g of r as a duplicate of a group already received in an
 * earlier interchange (same sender and GS06 / UNG 0048 within the store's
 * window): the group and every set in it rejected, nothing counted as
 * accepted. X12: AK901 "R", every AK5/IK5 "R", AK904 0, and AK905 "19"
 * (functional group control number not unique) where the code list of
 * the acknowledgment has it: in a 999 and in a 997 for 005010 or later.
 * The 004010 list of element 716 has no such code (its 19 means "S1E
 * security end segment missing"), so a 997 for 004010 says R without a
 * code. ack is the acknowledgment that will carry it (ACK_KIND_997 or
 * ACK_KIND_999). EDIFACT: UCF 0083 "4" with 0085 "26" (duplicate
 * detected) in UNG 0048, which also rejects every message below it. An
 * index out of range changes nothing.
 */
void ack_group_mark_duplicate(ack_interchange_result *r, size_t g,
    ack_kind ack);

const char *ack_kind_name(ack_kind kind);          /* "TA1", "997", ... */
ack_kind ack_kind_from_name(const char *name);      /* NONE when unknown */
const char *ack_status_name(ack_status status);    /* "accepted", ... */
/* CONTRL 0083 for a status ("7", "4", "8"), and back. */
const char *ack_status_contrl_code(ack_status status);
ack_status ack_status_from_contrl(const char *code);

/* ---------------------------------------------------------------- build */

struct xlate_maps;

typedef struct ack_collector ack_collector;

/* One inbound interchange, checked. Valid during the call only; copy with
 * ack_result_copy() to keep it. */
typedef void (*ack_result_fn)(void *ctx, const ack_interchange_result *r);

typedef struct ack_collector_options {
	/* Maps for the guide (structure, codes, lengths: AK3/AK4, IK3/IK4,
	 * UCS/UCD). NULL: envelope checks only. The caller keeps owning it;
	 * a set with no map gets envelope checks only. */
	struct xlate_maps *maps;
} ack_collector_options;

/* Returns NULL only when memory is exhausted. options may be NULL. */
ack_collector *ack_collector_new(const ack_collector_options *options,
    ack_result_fn fn, void *ctx);
void ack_collector_free(ack_collector *c);

/* The reader callbacks to pass to edi_reader_new() with the collector as
 * ctx; or call the two functions from callbacks of one's own. */
void ack_collector_reader_callbacks(edi_reader_callbacks *out);
int ack_collector_segment(void *c, const edi_segment *segment); /* 0 */
void ack_collector_reader_error(void *c, const edi_error *error);
/* After edi_reader_finish(): closes what is open and reports it. */
void ack_collector_finish(ack_collector *c);

/* --------------------------------------------------------------- choose */

typedef struct ack_plan {
	ack_kind kind;  /* 997, 999, CONTRL or NONE */
	int ta1;        /* also (or only) a TA1 */
} ack_plan;

/*
 * What to send for r (see RULES). preferred is the partner profile's
 * <ack> ("997", "999", "CONTRL", "none"; NULL or "" = by version);
 * partner_ta1 is its TA1 setting (TA1 on every interchange).
 */
ack_plan ack_choose(const ack_interchange_result *r, const char *preferred,
    int partner_ta1);

/* ---------------------------------------------------------------- write */

/*
 * How the ack interchange is enveloped. Ids are ours (sender) and the
 * partner's (receiver); ack_envelope_from_inbound() fills them swapped
 * from the inbound interchange.
 */
typedef struct ack_envelope {
	edi_delimiters delimiters;       /* with the line style in suffix */
	char sender_qualifier[5];        /* ISA05 / UNB 0007 */
	char sender_id[36];              /* ISA06 / UNB 0004 */
	char receiver_qualifier[5];      /* ISA07 */
	char receiver_id[36];            /* ISA08 / UNB 0010 */
	char group_sender[16];           /* GS02 */
	char group_receiver[16];         /* GS03 */
	char date[9];                    /* CCYYMMDD */
	char time[5];                    /* HHMM */
	char x12_version[6];             /* ISA12: "00401" for 997, "00501" 999 */
	char syntax_id[5];               /* UNB 0001 "UNOA" */
	unsigned syntax_version;         /* UNB 0002 3 or 4 */
	unsigned long interchange_control; /* ISA13 / UNB 0020 */
	unsigned long group_control;     /* GS06 */
	unsigned long set_control;       /* first ST02 / UNH 0062; +1 per set */
	int test;                        /* ISA15 "T" / UNB 0035 "1" */
} ack_envelope;

/* Fills env for answering r: ids swapped, r's delimiters, versions
 * matching r; date and time from now (UTC); control numbers 1. */
void ack_envelope_from_inbound(ack_envelope *env, const ack_interchange_result *r);

/*
 * The partner profile's say over the envelope of what we send it: its
 * interchange and group ids become the receiver's (partners/<id>.xml
 * <identity>), its <outbound> delimiters and line style replace the
 * inbound ones. p may not be NULL.
 */
struct partner;
void ack_envelope_apply_partner(ack_envelope *env,
    const ack_interchange_result *r, const struct partner *p);

/*
 * Writes one interchange answering r according to plan: X12 ISA, the TA1
 * (when plan.ta1), one GS "FA" with one 997/999 per acknowledged group,
 * GE, IEA; EDIFACT UNB, one CONTRL, UNZ. Nothing is written when the
 * plan is empty. Returns the writer's status (see edi_writer_error()).
 */
edi_write_status ack_write(edi_writer *w, const ack_interchange_result *r,
    ack_plan plan, const ack_envelope *env);

/* ----------------------------------------------------------------- read */

/* One inbound acknowledgment: a TA1 segment, a 997/999 set (one group
 * acknowledged) or a CONTRL message (one interchange). */
typedef struct ack_document {
	ack_kind kind;
	/* The envelope that carried it. */
	char sender_qualifier[5], sender_id[36];
	char receiver_qualifier[5], receiver_id[36];
	char interchange_control[15];  /* ISA13 / UNB 0020 of the ack */
	char group_control[15];        /* GS06 / UNG 0048, "" */
	char set_control[15];          /* ST02 / UNH 0062, "" for TA1 */
	uint64_t line;                 /* of the TA1, ST or UNH */
	/* What it says. TA1: the interchange fields; 997/999: groups[0];
	 * CONTRL: the interchange fields and its groups or messages. */
	ack_interchange_result result;
	/* Malformed ack: what was wrong (first problem), count of them. */
	char problem[160];
	size_t problem_count;
	/* Version of the carrier: GS08 ("004010", "005010X231A1") or the
	 * CONTRL's S009 version:release ("D:3", "4:1"). */
	char carrier_version[13];
} ack_document;

typedef void (*ack_document_fn)(void *ctx, const ack_document *doc);

/*
 * Reconciliation looks up what an ack says about something sent:
 *   TA1     result.control_number is the ISA13 acknowledged;
 *   997/999 result.groups[0].control_number is the GS06 acknowledged,
 *           its sets the ST02s;
 *   CONTRL  result.control_number is the UNB 0020 acknowledged, groups
 *           the UNG 0048s, messages (or a group's sets) the UNH 0062s.
 * A set, message or group an ack does not list is, by the ack's own rule,
 * accepted when its parent is (AK9 A/E/P, CONTRL 0083 7) and rejected
 * when its parent is rejected. These return NULL when not listed.
 */
const ack_group_result *ack_find_group(const ack_interchange_result *r,
    const char *control_number);
const ack_set_result *ack_find_set(const ack_group_result *g,
    const char *control_number);
const ack_set_result *ack_find_message(const ack_interchange_result *r,
    const char *control_number);

typedef struct ack_reader ack_reader;

/* Returns NULL only when memory is exhausted. Segments that are no ack
 * (an 850 group next to the FA group) are skipped. */
ack_reader *ack_reader_new(ack_document_fn fn, void *ctx);
void ack_reader_free(ack_reader *ar);
void ack_reader_reader_callbacks(edi_reader_callbacks *out);
int ack_reader_segment(void *ar, const edi_segment *segment); /* 0 */
void ack_reader_reader_error(void *ar, const edi_error *error);
void ack_reader_finish(ack_reader *ar);

/* ----------------------------------------------------------------- JSON */

/*
 * Canonical functional_ack documents (maps/canonical/functional_ack
 * .schema.json) for doc: one per acknowledged group or EDIFACT
 * interchange, appended to array (a json_t * array). A TA1 gets an
 * object {"type":"interchange_ack",...} instead, since the canonical
 * model has no interchange level. Returns 0, -1 on exhausted memory.
 */
struct json_t;
int ack_document_to_json(const ack_document *doc, struct json_t *array);

#endif
