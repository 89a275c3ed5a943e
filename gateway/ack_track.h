/*
 * ack_track - what edigate expects back for what it sends, and what it
 * makes of what comes back: acknowledgment expectations, reconciliation of
 * inbound TA1/997/999/CONTRL, duplicate interchanges and groups, and the
 * overdue check.
 *
 * OWNS
 *   The rules that turn an outbound interchange into expectations and an
 *   inbound acknowledgment into a state:
 *     - every outbound X12 functional group expects a 997 or 999 (the
 *       partner profile's choice, or 999 from GS08 005010 on and 997
 *       before), every outbound EDIFACT interchange a CONTRL, each within
 *       the partner's SLA; an X12 interchange with ISA14 "1" to a partner
 *       whose profile says ta1="true" also expects a TA1. Groups of
 *       acknowledgments (GS01 "FA") and CONTRL-only interchanges expect
 *       nothing, so two gateways never wait on each other's acks;
 *     - an inbound ack closes its expectation: AK901/IK901 A accepted,
 *       E accepted-with-errors, P partially-accepted, R/M/W/X rejected
 *       (X12 element 715); CONTRL UCI/UCM 0083 "7" accepted, "4"
 *       rejected, "8" (received, syntax 4) accepted; a CONTRL that accepts
 *       the interchange but rejects some messages is partially-accepted.
 *       The set-level results (AK2/AK5, IK5, UCM) are stored with their
 *       AK3/AK4 detail. A TA1 that rejects an interchange also closes the
 *       open 997/999 expectations of its groups as rejected, because their
 *       acks will never come;
 *     - an ack that matches no open expectation is recorded as unmatched
 *       with the reason, never dropped; a late ack closes its expectation
 *       and the overdue fact stays (store_ack_resolve);
 *     - duplicate detection of inbound ISA13, GS06, UNB 0020 and UNG 0048
 *       per sender within a window, answering "duplicate of message N".
 *   The state itself lives in the store (store.h); this module holds none.
 *
 * ATOMICITY
 *   The expectations of one outbound interchange are recorded in one
 *   store transaction: all or none. Reconciling one ack document is one
 *   transaction too (the ack's expectation, its sets, and the groups a
 *   TA1 rejection closes).
 *
 * NEVER
 *   Parses acknowledgments itself (translators/ack.h reads them), sends
 *   anything, or aborts on bad input: a malformed outbound interchange is
 *   refused with a message, a malformed ack is recorded as unmatched.
 */
#ifndef EDIGATE_ACK_TRACK_H
#define EDIGATE_ACK_TRACK_H

#include <stddef.h>
#include <stdint.h>

#include "ack.h"
#include "store.h"

struct partner;

/* What the partner profile says about acknowledgments (partner.h). */
struct ack_track_profile {
	char partner[STORE_PARTNER_MAX + 1];
	char ack[8];          /* "997", "999", "CONTRL", "none"; "": by version */
	int ta1;              /* expect a TA1 when ISA14 asks for one */
	unsigned sla_hours;   /* 0: 24 */
};

/* Fills a profile from a loaded partner (partner id, <acknowledgment>). */
void ack_track_profile_from_partner(struct ack_track_profile *out,
                                    const struct partner *p);

#define ACK_TRACK_HOUR_US 3600000000LL

/* ---- outbound: expectations ------------------------------------------ */

struct ack_track_expect_summary {
	unsigned interchanges;   /* read from the buffer */
	unsigned groups;         /* functional groups (X12) */
	unsigned expectations;   /* recorded */
	unsigned skipped;        /* groups/interchanges that expect no ack */
	int64_t deadline_us;     /* of the expectations recorded */
	char interchange_control[15]; /* of the first interchange */
	char message_type[8];    /* of the first set: "856", "DESADV" */
};

/*
 * Records the expectations of the outbound interchange(s) in buf, sent at
 * sent_us (0: now), for message_id (0: none). The interchange is read
 * with the reader and checked with the envelope; one with envelope errors
 * is refused (STORE_EINVAL, the first problem in err) and nothing is
 * recorded. The same group expected twice: STORE_ECONFLICT, nothing
 * recorded. Must not be called inside store_tx_begin(). st NULL checks
 * and counts without recording (out says what would be recorded).
 */
int ack_track_expect(struct store *st, const struct ack_track_profile *profile,
                     int64_t message_id, const void *buf, size_t len,
                     int64_t sent_us, struct ack_track_expect_summary *out,
                     struct store_error *err);

/* ---- inbound: reconciliation ------------------------------------------ */

struct ack_track_outcome {
	int matched;                /* 1: an expectation was closed */
	int64_t expectation_id;     /* the one the ack answers, 0: none */
	enum store_ack_state state; /* what it was closed as */
	int late;                   /* closed after its deadline */
	unsigned closed_by_ta1;     /* 997/999 expectations a TA1 R closed */
	int64_t unmatched_id;       /* when recorded as unmatched, else 0 */
	char reason[256];           /* why unmatched, for a person */
};

/*
 * Reconciles one ack document (from ack_reader) received from partner at
 * received_us (0: now) in the stored inbound message ack_message_id (0:
 * none). A document that closes nothing is recorded with
 * store_ack_unmatched() and its reason: that is STORE_OK with
 * out->matched == 0. An error return means the store failed, and then
 * nothing was recorded.
 */
int ack_track_reconcile(struct store *st, const char *partner_id,
                        const ack_document *doc, int64_t ack_message_id,
                        int64_t received_us, struct ack_track_outcome *out,
                        struct store_error *err);

/* What the inbound path calls with a stored file of acks. */
typedef void (*ack_track_outcome_fn)(void *ud, const ack_document *doc,
                                     const struct ack_track_outcome *outcome);
struct ack_track_file_summary {
	unsigned documents;      /* TA1 segments, 997/999 sets, CONTRL messages */
	unsigned matched;        /* closed an expectation (or a TA1's groups) */
	unsigned unmatched;      /* recorded as unmatched */
};

/*
 * Reads every TA1, 997, 999 and CONTRL in buf (stored as ack_message_id)
 * with the ack reader (ack.h) and reconciles each; fn (may be NULL) sees
 * each outcome. Each document is its own transaction: a store error
 * stops the walk, and what was reconciled before it stays.
 */
int ack_track_reconcile_file(struct store *st, const char *partner_id,
                             const void *buf, size_t len, int64_t ack_message_id,
                             int64_t received_us, ack_track_outcome_fn fn,
                             void *ud, struct ack_track_file_summary *out,
                             struct store_error *err);

/* The expectation state an AK901/IK901/TA104 letter or a CONTRL 0083
 * digit means (see OWNS); STORE_ACK_PENDING when it means nothing. */
enum store_ack_state ack_track_state_of(ack_kind kind, const char *code);

/* ---- inbound: duplicates ---------------------------------------------- */

#define ACK_TRACK_MAX_DUPLICATES 16

struct ack_track_duplicate {
	char level[12];          /* "interchange" or "group" */
	char kind[8];            /* store key kind: "isa13", "gs06", "unb0020", "ung0048" */
	char control[15];        /* the repeated control number */
	int64_t first_message_id;/* "duplicate of message N" */
	int64_t first_seen_us;
	/* What to put in the acknowledgment: TA105 "025" (duplicate
	 * interchange control number) or CONTRL 0085 "26" (duplicate
	 * detected); "" for a group, whose AK9 the ack builder decides. */
	char ack_code[4];
	/* ack_track_check_interchange: the group's index in the result, -1
	 * for the interchange. ack_track_check_duplicates: always -1. */
	long group_index;
};

struct ack_track_duplicates {
	unsigned checked;        /* control numbers looked up */
	size_t count;
	size_t dropped;          /* found beyond ACK_TRACK_MAX_DUPLICATES */
	struct ack_track_duplicate list[ACK_TRACK_MAX_DUPLICATES];
};

/*
 * Checks every interchange and group control number in buf (an inbound
 * file stored as message_id) against those seen from sender within
 * window_us before now_us (window_us <= 0: ever), and records the new
 * ones. out->count > 0 means: do not process the repeated parts again,
 * answer them in the TA1/997/CONTRL. The first sighting is kept, so a
 * third copy still names the first message.
 */
int ack_track_check_duplicates(struct store *st, const char *sender,
                               const void *buf, size_t len, int64_t message_id,
                               int64_t now_us, int64_t window_us,
                               struct ack_track_duplicates *out,
                               struct store_error *err);

/*
 * The same for one interchange the ack collector has checked (ack.h), as
 * the inbound pipeline sees it: its ISA13 / UNB 0020, then (when that is
 * new) the GS06 / UNG 0048 of each of its groups, each looked up and
 * recorded for sender. What is not checked, and so not remembered:
 *   - an interchange of acknowledgments only (TA1s, FA groups, CONTRLs):
 *     reconciliation deals with a repeated ack, and answering it could
 *     make two gateways answer each other;
 *   - an interchange rejected at its envelope, and a group rejected as a
 *     whole: nothing of it was processed, so the partner may correct it
 *     and send it again under the same number;
 *   - the groups of a duplicate interchange (the whole of it is refused).
 * A sighting by message_id itself is no duplicate: that is the same
 * message processed again after a crash. Joins the caller's transaction
 * when there is one, so the sightings commit with what the caller
 * records about them. out->list[i].group_index says which group.
 */
int ack_track_check_interchange(struct store *st, const char *sender,
                                const ack_interchange_result *ir,
                                int64_t message_id, int64_t now_us,
                                int64_t window_us,
                                struct ack_track_duplicates *out,
                                struct store_error *err);

/* ---- the overdue check ------------------------------------------------ */

/* Marks every pending expectation past its deadline at now_us (0: now)
 * as overdue; *count (may be NULL) receives how many. The daemon runs it
 * periodically, the report before it reads. */
int ack_track_overdue(struct store *st, int64_t now_us, unsigned *count,
                      struct store_error *err);

#endif
