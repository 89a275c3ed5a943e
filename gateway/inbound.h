/*
 * inbound - what happens to a payload a partner sent, once it is durable.
 *
 * Every transport (AS2, SFTP, the API when it takes raw EDI) first makes
 * the bytes durable itself: spool file committed, message row put
 * (direction in, state "received"), duplicate key recorded, and only then
 * answers the partner. It then calls inbound_submit() with the message id,
 * and this module takes over on a worker thread:
 *
 *   1. read the payload from the spool (streaming, verified hash);
 *   2. check the envelopes (envelope.h) and the guide (xlate.h: structure,
 *      codes, AK3/AK4 findings) of every interchange, group and set;
 *      then look up each interchange and group control number the
 *      partner used before (ack_track_check_interchange): a repeated
 *      ISA13 / UNB 0020 within the duplicate window rejects the whole
 *      interchange (TA1 025, CONTRL UCI 4 with 0085 26), a repeated GS06
 *      / UNG 0048 rejects that group (AK9 R, UCF 4 with 26). Nothing of a
 *      duplicate is translated, stored as a document or routed; each is
 *      an inbound.duplicate event naming the first message;
 *   3. build the functional acknowledgment the partner profile asks for
 *      (997, 999, CONTRL, TA1 or none), store it as an outbound message
 *      and hand it to the ack transport the transport registered
 *      (inbound_ack_transport_register);
 *   4. translate every accepted set to its canonical document and store
 *      each as its own message (direction in, message_type the document
 *      type "order", ...; payload the canonical JSON), linked to the
 *      original by correlation id and by the "inbound.document" event;
 *   5. hand each canonical document to the route hook
 *      (inbound_route_register) that decides where it goes;
 *   6. move the original message to "processed", "rejected" (nothing
 *      accepted), "partially-accepted", "duplicate" (every set in it was
 *      in a duplicate interchange or group) or "failed" (we could not
 *      process it: missing map, store error; retried by resubmitting).
 *
 *   Every step appends an event to the original message's history:
 *   inbound.started, inbound.duplicate (per repeated interchange or
 *   group), inbound.envelope (per interchange, with the counts
 *   and codes), inbound.document (per stored canonical document),
 *   inbound.routed / inbound.route-failed, inbound.ack (the ack message
 *   id, type and interchange it answers), inbound.ack-sent /
 *   inbound.ack-failed, inbound.done.
 *
 * IDEMPOTENCE
 *   A message is processed once: inbound_process() claims it
 *   (store_message_claim: "received" to "processing" with this
 *   process's owner id and a lease, in one conditional UPDATE) before any
 *   work, so a second submit of the same id (two nodes, a resubmit) does
 *   nothing and reports INBOUND_ALREADY. A node that dies mid-run leaves
 *   its claim to run out; recover.h hands the message back to
 *   "received" and resubmits it. Every document and ack is stored
 *   together with a duplicate key ("inbound", "<id>/set/<n>" or
 *   "<id>/ack/<interchange>"), so a run repeated after a crash stores
 *   nothing twice; what an earlier run stored is handed to the ack
 *   transport and the route hooks again (the stored ack, with its
 *   control numbers), and those take a message or idempotency key once.
 *   Canonical documents carry the idempotency key "<message id>/<set
 *   index>" in their event detail, for the router.
 *
 * HOOKS
 *   Hooks run on a worker thread with that worker's store connection, and
 *   must be thread-safe; they must not block for long (queue network work
 *   in the store's delivery queue or on the event loop instead). A hook's
 *   failure is recorded as an event and does not undo what is stored: the
 *   document stays in the store in state "stored" for a later replay.
 *   Register hooks before the first inbound_submit(); the registration
 *   functions are not thread-safe.
 *
 * PARTNERS
 *   Profiles come from a partner_set (partner_set.h) which reload replaces;
 *   inbound_set_partners() swaps it in on the loop thread, and each job
 *   keeps a reference to the set it started with.
 *
 * NEVER
 *   Answers a partner by itself on the receiving transport, processes a
 *   message whose payload is not committed, loses the original bytes
 *   (they stay in the spool whatever the outcome), or exits on bad input.
 */
#ifndef EDIGATE_INBOUND_H
#define EDIGATE_INBOUND_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct inbound;
struct partner;
struct partner_set;
struct store;
struct workers;

enum inbound_status {
	INBOUND_OK = 0,         /* processed (possibly with rejected sets) */
	INBOUND_ALREADY,        /* not in state "received": someone else did it */
	INBOUND_EINVAL,         /* no such message, or not direction in */
	INBOUND_EPARTNER,       /* partner profile unknown */
	INBOUND_ESTORE,         /* store or spool failure: retry later */
	INBOUND_ENOMEM,
	INBOUND_EBUSY           /* worker queue full: retry later */
};
const char *inbound_status_name(enum inbound_status s);

/* One canonical document, as the route hook sees it. */
struct inbound_document {
	int64_t message_id;           /* the stored canonical document */
	int64_t source_message_id;    /* the EDI message it came from */
	const char *partner;          /* profile id */
	const char *document_type;    /* "order", "shipment", ... */
	const char *message_type;     /* "850", "ORDERS" */
	const char *standard;         /* "x12", "edifact" */
	const char *correlation_id;
	const char *idempotency_key;  /* "<source id>/<set index>" */
	const json_t *doc;            /* borrowed for the call */
};

/* Returns 0 when the document was taken (queued for delivery, ...). */
typedef int (*inbound_route_fn)(void *ctx, struct store *st,
    const struct inbound_document *doc, char *err, size_t errsize);

/* One acknowledgment to send back, already stored as an outbound message. */
struct inbound_ack {
	int64_t message_id;           /* the stored ack (direction out) */
	int64_t source_message_id;    /* the message it acknowledges */
	const struct partner *partner;
	const char *ack_type;         /* "997", "999", "TA1", "CONTRL" */
	const char *transport;        /* the transport asked for, e.g. "as2" */
	const char *correlation_id;
};

/* Returns 0 when the ack was taken for sending (it may send later). */
typedef int (*inbound_ack_fn)(void *ctx, struct store *st,
    const struct inbound_ack *ack, char *err, size_t errsize);

/* How long a partner's interchange and group control numbers are
 * remembered (X12.5 5.1.2 and X12.6 3.9.1 leave the time frame to the
 * trading partner agreement): 90 days by default, a quarter, longer than
 * any resend after a lost acknowledgment or an outage and short enough
 * for a sender whose counter wraps. docs/acks-tracking.md. */
#define INBOUND_DUPLICATE_WINDOW_DEFAULT_US (90LL * 86400 * 1000000)
#define INBOUND_DUPLICATES_OFF (-1LL)            /* no duplicate check */
#define INBOUND_DUPLICATES_FOREVER INT64_MAX     /* never forget */

struct inbound_options {
	const char *store_url;   /* each worker opens its own connection */
	const char *spool_dir;   /* NULL: the store's default */
	const char *maps_dir;    /* holds x12/, edifact/ and map.xsd */
	/* 0: INBOUND_DUPLICATE_WINDOW_DEFAULT_US; else a window in
	 * microseconds, INBOUND_DUPLICATES_OFF or _FOREVER. */
	int64_t duplicate_window_us;
	/* The processing claim (IDEMPOTENCE, store_message_claim): who this
	 * process is (NULL: inbound_default_owner) and how long a claim
	 * holds without renewal (0: INBOUND_CLAIM_LEASE_DEFAULT_US). */
	const char *claim_owner;
	int64_t claim_lease_us;
};

/* 5 minutes: a node renews its claims every sweep (30 s by default), so
 * a live node never loses one; a dead node's messages wait at most this
 * long before another node (or the restarted one) takes them. */
#define INBOUND_CLAIM_LEASE_DEFAULT_US (300LL * 1000000)

/* "<host>:<pid>:<start time>": unique per process, so a restarted node
 * does not renew the claims of the run that died. */
void inbound_default_owner(char *out, size_t size);
const char *inbound_claim_owner(const struct inbound *in);
/* Before the first inbound_submit(); not thread-safe. */
void inbound_set_claim_lease(struct inbound *in, int64_t lease_us);
int64_t inbound_claim_lease_us(const struct inbound *in);

/*
 * Reads a duplicate window as written in edigate.conf ([inbound]
 * duplicate_window) or on the command line: a whole number with the unit
 * s, m, h or d (seconds without one), "off" or "forever". 0 and *out
 * set, or -1 when the text is none of these.
 */
int inbound_parse_window(const char *text, int64_t *out);


/* workers may be NULL (then only inbound_process() is usable). Copies
 * what it needs from opts. NULL on failure with a message in err. */
struct inbound *inbound_new(struct workers *w,
    const struct inbound_options *opts, char *err, size_t errsize);
/* Call after the workers have been drained (workers_free). */
void inbound_free(struct inbound *in);

/* Takes a reference to ps (partner_set_ref); the previous set is
 * released once no job uses it. Loop thread. */
void inbound_set_partners(struct inbound *in, struct partner_set *ps);

/* Several route hooks may be registered; each document goes to every
 * one, in order. 0, or -1 when the table is full. */
int inbound_route_register(struct inbound *in, inbound_route_fn fn,
    void *ctx);
/* The sender of acks for one transport ("as2", "sftp"); the transport
 * chosen for an ack is the partner profile's ack transport, else the one
 * the message arrived by. Registering a transport again replaces it. */
int inbound_ack_transport_register(struct inbound *in, const char *transport,
    inbound_ack_fn fn, void *ctx);

/* Called on the loop thread when a submitted job is over. */
typedef void (*inbound_done_fn)(void *ctx, int64_t message_id,
    enum inbound_status status);

/* Queues the pipeline for a stored inbound message on a worker; done may
 * be NULL. Loop thread. INBOUND_OK when queued, INBOUND_EBUSY when the
 * worker queue is full (the message stays "received"). */
enum inbound_status inbound_submit(struct inbound *in, int64_t message_id,
    inbound_done_fn done, void *ctx);

/* What one run did, for callers and tests. */
struct inbound_result {
	enum inbound_status status;
	char final_state[32];       /* state the message was left in */
	unsigned interchanges;
	unsigned sets;
	unsigned sets_accepted;
	unsigned duplicates;        /* interchanges and groups refused as
	                               duplicates */
	unsigned sets_duplicate;    /* sets inside them */
	unsigned documents;         /* canonical documents stored */
	unsigned routed;            /* documents every route hook took */
	int64_t ack_message_id;     /* 0: no ack */
	char ack_type[8];
	char error[512];
};

/* Runs the pipeline now, in the calling thread, on st (which the caller
 * owns; the spool is st's). For the CLI, tests, and callers already on a
 * worker. */
enum inbound_status inbound_process(struct inbound *in, struct store *st,
    int64_t message_id, struct inbound_result *res);

#endif
