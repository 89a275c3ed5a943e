/*
 * reconcile - follows each order through its chain (850/ORDERS, 855/ORDRSP,
 * 856/DESADV, 810/INVOIC, each with its functional ack) and lists what is
 * late: the exceptions a distributor chases.
 *
 * OWNS
 *   Turning document rows into chains keyed by (partner, order number),
 *   deciding which chain steps are late against the SLAs, the per-partner
 *   counts, and writing them as CSV, JSON or a self-contained HTML page.
 *   reconcile_collect() is the only part that reads the store; everything
 *   else is a pure function of the rows, so it is testable without one.
 *
 * RULES (now = the report's time; "past" means due_us <= now)
 *   - A chain exists for each (partner, order number) with at least one
 *     order document created in [since, until); the order time is the
 *     earliest order document's. Documents of orders not in the window
 *     (or of orders the store never saw) are left out.
 *   - no-response: no order response and order time + response SLA past.
 *   - no-shipment: no shipment and order time + ship SLA past.
 *   - no-invoice: a shipment but no invoice and the first shipment's time
 *     + invoice SLA past.
 *   - no-ack: a document of the chain whose functional ack is required
 *     (ack_required), not received or sent (ack_done == 0), and whose
 *     ack_due_us is past.
 *   - A chain is complete when it has all four documents and no exception.
 *
 * NEVER
 *   Changes the store, treats an unknown message type as a chain step, or
 *   writes partner data unescaped (report_text.h escapes HTML and CSV).
 */
#ifndef EDIGATE_RECONCILE_H
#define EDIGATE_RECONCILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "store.h"

#define RECONCILE_ORDER_MAX 64

enum reconcile_kind {
	RECONCILE_ORDER,
	RECONCILE_RESPONSE,
	RECONCILE_SHIPMENT,
	RECONCILE_INVOICE,
	RECONCILE_KIND_COUNT
};

/* "order", "order_response", "shipment", "invoice". */
const char *reconcile_kind_name(enum reconcile_kind k);
/* Classifies a stored message type: X12 (850, 855, 856, 810), EDIFACT
 * (ORDERS, ORDRSP, DESADV, INVOIC) or canonical (order, order_response,
 * shipment, invoice). -1 for anything else (acks included). */
int reconcile_kind_of(const char *message_type);

struct reconcile_doc {
	enum reconcile_kind kind;
	char partner[STORE_PARTNER_MAX + 1];
	char order_number[RECONCILE_ORDER_MAX + 1];
	int64_t message_id;
	char message_type[STORE_NAME_MAX + 1];
	int64_t created_us;
	int ack_required;       /* an EDI document: a 997/999/CONTRL belongs to it */
	int ack_done;           /* that ack was received (outbound) or sent (inbound) */
	int64_t ack_due_us;     /* when a missing ack becomes an exception */
};

enum reconcile_reason {
	RECONCILE_NO_RESPONSE,
	RECONCILE_NO_SHIPMENT,
	RECONCILE_NO_INVOICE,
	RECONCILE_NO_ACK
};
/* "no-response", "no-shipment", "no-invoice", "no-ack". */
const char *reconcile_reason_name(enum reconcile_reason r);

struct reconcile_options {
	const char *partner;    /* NULL or "": all */
	int64_t since_us;       /* order time >= since; 0: unbounded */
	int64_t until_us;       /* order time < until; 0: unbounded */
	int64_t now_us;
	int64_t response_us;    /* order -> response SLA */
	int64_t ship_us;        /* order -> shipment SLA */
	int64_t invoice_us;     /* shipment -> invoice SLA */
};

struct reconcile_exception {
	char partner[STORE_PARTNER_MAX + 1];
	char order_number[RECONCILE_ORDER_MAX + 1];
	enum reconcile_reason reason;
	enum reconcile_kind kind;  /* the document waited for (no-ack: the one
	                              without its ack) */
	int64_t message_id;        /* no-ack: the document; else the one
	                              the wait started from */
	char message_type[STORE_NAME_MAX + 1];
	int64_t since_us;          /* when the wait started */
	int64_t due_us;
};

struct reconcile_partner {
	char partner[STORE_PARTNER_MAX + 1];
	int64_t orders, responded, shipped, invoiced, complete;
	int64_t no_response, no_shipment, no_invoice, no_ack;
};

struct reconcile_report {
	struct reconcile_options opts;
	char partner_filter[STORE_PARTNER_MAX + 1];
	struct reconcile_partner *partners;     /* by partner id */
	size_t partner_count;
	struct reconcile_exception *exceptions; /* by partner, order, reason */
	size_t exception_count;
};

/* Builds the chains from docs (any order) under o. 0, or -1 when out of
 * memory (out is then empty). reconcile_report_free() frees. */
int reconcile_build(const struct reconcile_doc *docs, size_t n,
                    const struct reconcile_options *o,
                    struct reconcile_report *out);
void reconcile_report_free(struct reconcile_report *r);

/*
 * Reads the rows from the store: every message of a chain kind, its order
 * number from the canonical JSON payload in the spool (order_number, or
 * orders[].order_number of a shipment; EDI payloads take the number of a
 * canonical document with the same correlation id), whether its ack came
 * (outbound: its expectation resolved, due at the expectation's deadline;
 * inbound EDI: an outbound 997/999/CONTRL with its correlation id, due
 * ack_us after it arrived). partner NULL or "": all. Allocates *docs.
 */
int reconcile_collect(struct store *st, const char *partner, int64_t ack_us,
                      struct reconcile_doc **docs, size_t *n,
                      struct store_error *err);

/* Each returns 0, or -1 when writing failed. */
int reconcile_write_csv(FILE *out, const struct reconcile_report *r);
int reconcile_write_json(FILE *out, const struct reconcile_report *r);
int reconcile_write_html(FILE *out, const struct reconcile_report *r);

#endif
