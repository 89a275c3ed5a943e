/*
 * route - where each canonical document goes (prefix route_).
 *
 * Every canonical document edigate produces or accepts passes through
 * route_document() exactly once: the inbound pipeline calls it for each
 * transaction set it translated from a partner's EDI, the REST API for
 * each document the ERP or WMS posts. Routing picks the targets from the
 * rules of the configuration ([route.NAME] sections) and the partner
 * profile, applies the profile's data quality rules (required fields,
 * SKU and unit of measure cross-reference), and queues one delivery per
 * target in the store's delivery queue:
 *
 *   webhook target  endpoint "webhook:NAME" ([webhook.NAME] in the
 *                   configuration); deliver.h posts the canonical document
 *                   in a CloudEvents envelope.
 *   partner target  the document translated to the partner's EDI (810,
 *                   855, 856, 940 ... through the maps), stored as an
 *                   outbound message (state "queued"), endpoint
 *                   "<transport>:ID" ("as2:acme-retail"; [route]
 *                   transport, or transport.ID for one partner); that
 *                   transport's queue worker sends it.
 *
 * DEFAULT FLOWS (when no [route.*] rule matches)
 *   order (850/ORDERS from a partner)      -> webhook "erp"
 *   order_response (from the ERP)           -> the partner (855/ORDRSP)
 *   warehouse_order (from the ERP)          -> webhook "wms"
 *   warehouse_shipment (945, from the WMS)  -> webhook "erp" as shipment,
 *                                              and the partner (856/DESADV)
 *   invoice (from the ERP)                  -> the partner (810/INVOIC)
 *   shipment, functional_ack from a partner -> webhook "erp"
 *
 * INVARIANTS
 *   - Either every target of a document is queued or none is (one store
 *     transaction), so a retry of route_document() after a failure never
 *     queues a target twice; queuing the same document again returns the
 *     existing deliveries (the idempotency key is the queue's unique key).
 *   - A document that fails a data quality rule queues nothing and gets
 *     ROUTE_EREJECTED with the JSON path and the rule in the result.
 *   - The rule table in use is immutable; a reload swaps in a new one
 *     (documents being routed finish with the old one).
 *
 * THREADS
 *   route_document() may run on any thread at once with the caller's own
 *   store connection (store.h: one per thread).
 *
 * NEVER
 *   Talks to the network or knows a transport: sending is deliver.h's
 *   and the transports' job. Never exits on a document's content.
 */
#ifndef EDIGATE_ROUTE_H
#define EDIGATE_ROUTE_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct store;

enum route_status {
	ROUTE_OK = 0,
	ROUTE_ENOROUTE,   /* no rule and no default flow for this document */
	ROUTE_EREJECTED,  /* a data quality rule failed: nothing queued */
	ROUTE_EINVAL,     /* not a canonical document (bad JSON, no type) */
	ROUTE_ETRANSLATE, /* the partner's EDI could not be produced */
	ROUTE_ESTORE,     /* the store failed; safe to call again */
	ROUTE_ENOMEM
};

/* Where a document came from. */
enum route_origin {
	ROUTE_FROM_PARTNER, /* translated from a partner's EDI */
	ROUTE_FROM_SYSTEM   /* posted by the ERP/WMS through the API */
};

struct route_document {
	enum route_origin origin;
	/* The trading partner: the sender for ROUTE_FROM_PARTNER, the
	 * recipient for ROUTE_FROM_SYSTEM (the document's meta.partner). */
	const char *partner;
	/* For ROUTE_FROM_SYSTEM: the system that posted it ("erp", "wms",
	 * the API token's name); NULL otherwise. */
	const char *system;
	/* Canonical type: "order", "invoice", "warehouse_shipment" ... */
	const char *document_type;
	/* The canonical JSON text (an object with "type" and "meta"). */
	const char *json;
	size_t json_len;
	/* The stored message this document belongs to (the inbound EDI
	 * message, or the message the API stored for the posted document);
	 * deliveries and events refer to it. */
	int64_t message_id;
	/* Carried to every target (X-Correlation-Id, the outbound EDI's
	 * message row), so one business document can be followed through
	 * the whole chain. Required. */
	const char *correlation_id;
	/* Envelope controls of the EDI the document came from (ISA13/UNB0020,
	 * GS06/UNG0048, ST02/UNH0062); NULL or "" for documents from the API.
	 * They enter the idempotency key of every delivery. */
	const char *interchange_control;
	const char *group_control;
	const char *set_control;
};

#define ROUTE_TARGETS_MAX 8
#define ROUTE_NAME_MAX 64

enum route_target_kind {
	ROUTE_TARGET_WEBHOOK,
	ROUTE_TARGET_PARTNER
};

struct route_target {
	enum route_target_kind kind;
	char name[ROUTE_NAME_MAX + 1];   /* webhook name or partner id */
	char document_type[32];          /* as delivered: "shipment" for a
	                                    945 sent on to the ERP */
	char edi_message[16];            /* partner targets: "810", "DESADV" */
	int64_t delivery_id;             /* the queued delivery */
	int64_t outbound_message_id;     /* partner targets: the EDI message */
	int existed;                     /* queued before (a repeat) */
};

struct route_result {
	enum route_status status;
	char rule[ROUTE_NAME_MAX + 1];   /* the [route.NAME] that matched, or
	                                    "default" */
	size_t ntargets;
	struct route_target targets[ROUTE_TARGETS_MAX];
	/* ROUTE_EREJECTED and ROUTE_EINVAL: the JSON path ("lines[2].unit")
	 * and what failed, for a person. */
	char path[256];
	char message[512];
};

/* The routing context: rules from the configuration plus the partner
 * profiles and maps they need. One per process. */
struct route;

/*
 * Builds the routing context from cfg ([route.*], [webhook.*],
 * partners_dir, maps_dir). On a bad rule: NULL and "file:line: what" in
 * err. Allocates; route_free releases.
 */
struct route *route_new(const struct config *cfg, char *err, size_t errsize);
void route_free(struct route *r);

/*
 * Reload: route_prepare builds a new rule table from cfg without touching
 * the one in use (NULL and err on failure), route_commit swaps it in,
 * route_discard frees a prepared table that was not committed.
 */
void *route_prepare(struct route *r, const struct config *cfg, char *err,
    size_t errsize);
void route_commit(struct route *r, void *prepared);
void route_discard(void *prepared);

/*
 * Decides only: fills res->targets (without delivery ids) and res->rule.
 * No store access. Returns res->status.
 */
int route_decide(struct route *r, const struct route_document *doc,
    struct route_result *res);

/*
 * Decides, checks the data quality rules, produces the partner's EDI for
 * partner targets and queues every delivery, in one store transaction on
 * st (the caller's connection). Appends event "route.decided" (targets)
 * or "route.rejected" (path, message) on doc->message_id. Returns
 * res->status.
 */
int route_document(struct route *r, struct store *st,
    const struct route_document *doc, struct route_result *res);

/* The hook shape other modules hold (inbound.h): ctx is the struct route. */
typedef int (*route_fn)(void *ctx, struct store *st,
    const struct route_document *doc, struct route_result *res);
int route_hook(void *ctx, struct store *st, const struct route_document *doc,
    struct route_result *res);

const char *route_status_name(enum route_status s);

#endif
