/*
 * ack_report - the acknowledgment compliance report: per partner, what was
 * sent, what came back when and with what result, what is still missing.
 *
 * OWNS
 *   Reading the expectations (and their set results) and the unmatched
 *   acks of a period from the store, the per-partner figures, and writing
 *   them as CSV, JSON or a self-contained HTML page.
 *
 *   Figures per partner, over the expectations created (groups sent) in
 *   [since, until):
 *     sent                  expectations (functional groups for 997/999,
 *                           interchanges for CONTRL and TA1)
 *     within_sla            acknowledged at or before the deadline
 *     late                  acknowledged after the deadline
 *     accepted, accepted_with_errors, partially_accepted, rejected
 *                           by the state the ack closed them in
 *     pending               no ack yet, deadline not passed
 *     overdue               no ack yet, deadline passed
 *     unmatched             acks received in the period that matched no
 *                           open expectation
 *     mean / p95 latency    over the acknowledged ones, ack time minus
 *                           send time; p95 by the nearest-rank method (the
 *                           ceil(0.95 n)-th smallest), in microseconds.
 *
 * NEVER
 *   Changes the store (the caller runs the overdue check first), runs
 *   scripts in the HTML, or writes partner data unescaped: HTML text and
 *   attributes are entity-escaped, CSV fields quoted per RFC 4180.
 */
#ifndef EDIGATE_ACK_REPORT_H
#define EDIGATE_ACK_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "store.h"

struct ack_report_set {
	char set_control[STORE_CONTROL_TEXT_MAX + 1];
	char set_type[8];
	char code[4];
	char *detail_json;             /* owned */
};

struct ack_report_row {
	struct store_ack_expectation e;
	struct ack_report_set *sets;   /* owned */
	size_t set_count;
};

struct ack_report_unmatched {
	struct store_ack_unmatched_row u; /* detail_json points at detail */
	char *detail;                  /* owned */
};

struct ack_report_partner {
	char partner[STORE_PARTNER_MAX + 1];
	int64_t sent, within_sla, late;
	int64_t accepted, accepted_with_errors, partially_accepted, rejected;
	int64_t pending, overdue, unmatched;
	int64_t acknowledged;          /* latencies counted */
	int64_t mean_latency_us;       /* 0 when none acknowledged */
	int64_t p95_latency_us;
};

struct ack_report {
	int64_t generated_us;
	int64_t since_us, until_us;    /* 0: unbounded */
	char partner_filter[STORE_PARTNER_MAX + 1]; /* "" = all */
	struct ack_report_partner *partners; /* sorted by partner id */
	size_t partner_count;
	struct ack_report_row *rows;   /* by expectation id */
	size_t row_count;
	struct ack_report_unmatched *unmatched;
	size_t unmatched_count;
};

/*
 * Reads the period's expectations and unmatched acks. partner NULL or ""
 * means all. now_us is the report's time. Allocates; ack_report_free().
 */
int ack_report_build(struct store *st, const char *partner, int64_t since_us,
                     int64_t until_us, int64_t now_us, struct ack_report *out,
                     struct store_error *err);
void ack_report_free(struct ack_report *r);

/* The nearest-rank p-th percentile (1..100) of n values, which it sorts
 * in place; 0 when n is 0. */
int64_t ack_report_percentile(int64_t *values, size_t n, unsigned p);

/* Microseconds as seconds with three decimals, truncated: "7200.000". */
void ack_report_seconds(int64_t us, char out[32]);
/* Microseconds since 1970 as "2026-11-23T10:00:00Z" (whole seconds);
 * "" for 0. */
void ack_report_time(int64_t us, char out[32]);

/* Each returns 0, or -1 when writing failed. */
int ack_report_write_json(FILE *out, const struct ack_report *r);
int ack_report_write_csv(FILE *out, const struct ack_report *r);
int ack_report_write_html(FILE *out, const struct ack_report *r);

#endif
