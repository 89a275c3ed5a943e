/*
 * deliver - sends the webhook deliveries of the store's delivery queue
 * (prefix deliver_).
 *
 *   "webhook:NAME"  POST of the canonical document to the URL of
 *                   [webhook.NAME], in a CloudEvents 1.0 JSON envelope,
 *                   signed (see SIGNATURE), with X-Correlation-Id, W3C
 *                   traceparent and Idempotency-Key.
 *
 * Deliveries to partners are queued by route.h as "<transport>:<id>"
 * ("as2:acme-retail") and sent by that transport's own queue worker.
 * This worker claims only "webhook:" entries (store_delivery_claim_prefix).
 * A worker that claims from the whole queue gives foreign entries back
 * but bumps the store's attempt counter doing so, which is why this
 * module keeps its own attempt count in last_error ("[3] HTTP 503 ...").
 *
 * RETRIES
 *   At least once: a delivery leaves the queue only when its sender
 *   reported success (2xx). A failure (connection refused, timeout, 5xx,
 *   408, 429) goes back to the queue after
 *     min(max_backoff, base_backoff * 2^(attempt-1)) * (1 - jitter * u)
 *   with u uniform in [0,1) (deliver_backoff_us); after max_attempts, or
 *   at once on a permanent answer (any other 4xx), it is dead and waits
 *   for a replay (store_delivery_replay). The receiver drops repeats by
 *   the Idempotency-Key, which a retry and a replay keep.
 *
 * CIRCUIT BREAKER (per endpoint)
 *   closed -> open after breaker_failures consecutive failures; while open
 *   no request is sent (deliveries wait, their attempts are not spent);
 *   after breaker_open_for one probe is let through (half-open): success
 *   closes, failure opens again.
 *
 * SIGNATURE
 *   X-Edigate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>
 *   where the HMAC key is the endpoint's secret and the signed string is
 *     <t> "." <the exact request body bytes>
 *   Receivers recompute it and refuse a t older than their tolerance.
 *
 * IDEMPOTENCY KEY
 *   "edg-" + hex SHA-256 of the netstrings ("<len>:<bytes>,")
 *     "edigate-idem-1", sender, interchange, group, set, target,
 *     SHA-256 hex of the canonical document
 *   truncated to 64 hex digits: the same document from the same sender
 *   always gets the same key per target, whatever the retries.
 *
 * THREADS
 *   The HTTP requests and the circuit breakers live on the daemon's loop
 *   thread; every store call runs in a "store round" on the worker pool,
 *   one round at a time with the module's own connection: each poll
 *   tick records the outcomes the loop collected since the last round,
 *   claims what may go out (at most DELIVER_MAX_INFLIGHT in flight) and
 *   reads each document into its CloudEvent; the loop then sends them.
 *   An answer is in the store one poll later than it came.
 *
 * NEVER
 *   Loses a delivery: a crash between claim and done leaves the claim to
 *   expire and the delivery to be claimed again (a repeat the key covers).
 */
#ifndef EDIGATE_DELIVER_H
#define EDIGATE_DELIVER_H

#include <stddef.h>
#include <stdint.h>

struct daemon;
struct store;
struct store_delivery;
struct store_message;

enum deliver_outcome {
	DELIVER_OK,        /* delivered (2xx, or the partner took it) */
	DELIVER_RETRY,     /* transient failure: back to the queue */
	DELIVER_PERMANENT  /* the receiver refused it: dead letter now */
};

/* ---- pure helpers (unit tested) --------------------------------------- */

#define DELIVER_KEY_MAX 68   /* "edg-" + 64 hex */

/* The idempotency key described above into out. NULL strings count as "". */
void deliver_idempotency_key(const char *sender, const char *interchange,
    const char *group, const char *set, const char *target,
    const void *doc, size_t doclen, char out[DELIVER_KEY_MAX + 1]);

/* "t=<t>,v1=<hex>" into out (at least 80 bytes). */
void deliver_signature(const char *secret, int64_t t, const void *body,
    size_t len, char *out, size_t outsize);
/* 1 when header is a valid signature of body within tolerance_s of now_s. */
int deliver_signature_check(const char *secret, const char *header,
    const void *body, size_t len, int64_t now_s, int64_t tolerance_s);

/* The wait before attempt number attempt+1 (attempt >= 1), in
 * microseconds; u in [0,1) is the random draw. */
int64_t deliver_backoff_us(int attempt, int64_t base_us, int64_t max_us,
    double jitter, double u);

/* Circuit breaker state for one endpoint. */
enum deliver_breaker_state {
	DELIVER_BREAKER_CLOSED,
	DELIVER_BREAKER_OPEN,
	DELIVER_BREAKER_HALF_OPEN
};
struct deliver_breaker {
	enum deliver_breaker_state state;
	int failures;          /* consecutive */
	int64_t opened_us;
	int probe_out;         /* half-open: a probe is in flight */
};
/* 1 when a request may go out now (moves open -> half-open when due). */
int deliver_breaker_allow(struct deliver_breaker *b, int64_t now_us,
    int64_t open_for_us);
void deliver_breaker_record(struct deliver_breaker *b, int success,
    int64_t now_us, int threshold);

/* HTTP status to outcome: 2xx ok; 408, 425, 429, 5xx retry; other 4xx
 * permanent; 0 (no answer) retry. */
enum deliver_outcome deliver_outcome_of_status(int status);

/* ---- the queue worker ------------------------------------------------- */

struct deliver;

/*
 * Reads [delivery] and [webhook.*] from the daemon's configuration and
 * opens its own store connection (call after privileges were dropped).
 * NULL with "file:line: what" in err.
 */
struct deliver *deliver_new(struct daemon *d, char *err, size_t errsize);
/* Cancels requests in flight (their leases expire and another claim
 * sends them again, under the same key) and frees. */
void deliver_free(struct deliver *dl);
/* Starts polling the queue on the loop. */
int deliver_start(struct deliver *dl);

/* The attempt count kept in last_error ("[n] ..."), 0 when none; a count
 * above store_attempts means a replay reset the store's counter since. */
int deliver_attempts_of(const char *last_error, int store_attempts);

/* The CloudEvents 1.0 envelope posted for a document (malloc'd JSON):
 * specversion, id (the idempotency key), source "/edigate/<sender>",
 * type "com.edigate.<document type>", subject (partner), time,
 * datacontenttype application/json, correlationid, data (the document;
 * a payload that is not JSON goes as data_base64). */
char *deliver_cloudevent(const char *key, const char *sender,
    const char *document_type, const char *partner,
    const char *correlation_id, int64_t time_us, const void *doc,
    size_t doclen);

#endif
