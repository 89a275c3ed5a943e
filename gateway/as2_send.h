/*
 * as2_send - sending outbound interchanges to partners over AS2 (RFC 4130)
 * and following them to their MDN (prefix as2_send_, as2_sender_).
 *
 * OWNS
 *   - The request: the payload as a MIME entity, optionally compressed
 *     (RFC 5402, CMS CompressedData), signed (multipart/signed, the
 *     profile's digest), encrypted (the profile's cipher, to the partner's
 *     newest valid certificate), with the AS2 headers: AS2-Version 1.2,
 *     AS2-From/AS2-To, Message-ID, Disposition-Notification-To/-Options
 *     (signed-receipt-micalg), Receipt-Delivery-Option for asynchronous
 *     MDNs. The MIC we expect back is computed while building, over what
 *     RFC 4130 section 7.3.1 says the receiver digests.
 *   - The verdict on an MDN: signature against the partner's
 *     certificates, Original-Message-ID, disposition, Received-content-MIC
 *     compared with ours.
 *   - The outbound message states in the store, each change an event:
 *       queued -> sent        POSTed, an asynchronous MDN is awaited
 *       queued -> delivered   positive MDN with our MIC (or 2xx when no
 *                             MDN was asked for)
 *       queued/sent -> mdn-failed  negative disposition, MIC mismatch, an
 *                             MDN whose signature does not verify
 *       sent -> mdn-failed    no asynchronous MDN within [as2] mdn_wait
 *                             (event "as2.mdn-timeout"); a later positive
 *                             MDN still makes it delivered
 *       queued -> failed      the retry limit ran out
 *     and the delivery queue entries "as2:<partner id>" that carry them:
 *     retries with exponential backoff and jitter, the limit from the
 *     partner profile, resend on an operator's word.
 *   - In edigated: the worker that claims those entries on a timer and
 *     posts them with http_client, and the route POST /as2/mdn where
 *     partners deliver asynchronous MDNs.
 *
 * MATCHING ASYNCHRONOUS MDNs
 *   Our Message-IDs are <edigate-<store message id>-<random>@<AS2-From>>,
 *   and an "as2.sent" event holding the Message-ID and the expected MIC
 *   is committed before the POST. An MDN names the message in its
 *   Original-Message-ID, so any node sharing the store can match it;
 *   an MDN for an earlier attempt than the last is still accepted when
 *   its MIC matches that attempt's.
 *
 * NON-REPUDIATION
 *   Every MDN received is kept byte for byte in the spool; its hash is in
 *   the "as2.mdn" event of the message.
 *
 * THREADS
 *   The engine runs on the loop thread, with its own store connection
 *   (claims, events and states are short statements). Copying the payload
 *   out of the spool, compressing, signing and encrypting run as a worker
 *   job through temporary files (flat memory), so a large interchange
 *   does not hold the listeners.
 *
 * NEVER
 *   Sends a message twice for one attempt, marks a message delivered
 *   without a verified MDN when one was asked for, or trusts an
 *   unsigned MDN's word over a MIC mismatch.
 */
#ifndef EDIGATE_AS2_SEND_H
#define EDIGATE_AS2_SEND_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "as2_cms.h"
#include "as2_mdn.h"
#include "http_client.h"

struct partner;
struct store;
struct daemon;

enum as2_send_mdn_mode {
	AS2_SEND_MDN_NONE = 0,
	AS2_SEND_MDN_SYNC,
	AS2_SEND_MDN_ASYNC
};

/* A partner's sending settings with its files loaded. */
typedef struct as2_send_profile {
	char *partner_id;
	char *from;                  /* our AS2 name */
	char *to;                    /* theirs */
	char *url;
	char *receipt_url;           /* async MDNs come back here */
	char *tls_ca;
	mime_micalg sign;            /* NONE: unsigned */
	mime_micalg_style sign_style;
	int cipher;                  /* as2_cipher, -1: unencrypted */
	int compress;
	enum as2_send_mdn_mode mdn;
	mime_micalg mic_alg;         /* MIC and signed-receipt-micalg */
	mime_micalg_style mic_style;
	X509 *our_cert;              /* newest valid; NULL when unsigned */
	EVP_PKEY *our_key;
	STACK_OF(X509) *their_certs; /* verify MDNs; NULL when none */
	X509 *their_cert;            /* newest valid: encrypt to it */
	unsigned retry_attempts;
	unsigned retry_delay_ms;
	unsigned retry_max_delay_ms;
	unsigned timeout_ms;
} as2_send_profile;

/* From a loaded profile; now picks the certificates valid at that time
 * (0: the current time). A profile without <as2 url> cannot send:
 * AS2_ERR_ARGUMENT. */
as2_status as2_send_profile_load(const struct partner *p, time_t now,
    as2_send_profile **out, as2_error *err);
void as2_send_profile_free(as2_send_profile *prof);

#define AS2_SEND_MAX_HEADERS 16

/* A built request: headers and a body file ready for http_client. */
typedef struct as2_send_request {
	char message_id[256];        /* with its <> */
	char mic[AS2_MIC_MAX];       /* expected Received-content-MIC */
	char content_type[512];
	char body_path[4096];        /* temporary file; cleanup unlinks it */
	uint64_t body_size;
	struct http_client_header headers[AS2_SEND_MAX_HEADERS];
	size_t nheaders;
	char storage[4096];          /* the header values point in here */
	char tmp_paths[8][4096];     /* intermediate files */
	int ntmp;
} as2_send_request;

/* A fresh Message-ID for store message id (see MATCHING). */
void as2_send_message_id(int64_t store_id, const char *from, char *out,
    size_t size);
/* The store message id named by one of our Message-IDs; 0 if none. */
int64_t as2_send_message_id_parse(const char *message_id);

/* Builds the request for payload (read once from the start) of media
 * type payload_type ("application/edi-x12") named filename, in files
 * under workdir. message_id from as2_send_message_id. */
as2_status as2_send_build(const as2_send_profile *prof, BIO *payload,
    const char *payload_type, const char *filename, const char *message_id,
    const char *workdir, as2_send_request *req, as2_error *err);
/* Removes the request's files. */
void as2_send_request_cleanup(as2_send_request *req);

/* application/edi-x12, application/edifact or application/octet-stream
 * from the first bytes of a payload. */
const char *as2_send_payload_type(const void *head, size_t len);

enum as2_send_verdict {
	AS2_SEND_VERDICT_DELIVERED = 0,
	AS2_SEND_VERDICT_MDN_FAILED
};
/* Judges a parsed MDN against what we sent: positive disposition
 * (processed, or processed/warning), the expected Original-Message-ID
 * and MIC. why gets the reason for MDN_FAILED. */
enum as2_send_verdict as2_send_judge(const as2_mdn *mdn,
    const char *message_id, const char *expected_mic, char *why,
    size_t whysize);

/* Wait before the attempt after attempt number `attempt` (1-based):
 * min(max, base * 2^(attempt-1)), less up to 20% jitter (u in [0,1)). */
int64_t as2_send_backoff_us(unsigned attempt, unsigned base_ms,
    unsigned max_ms, double u);

/* ---- the queue, used by the CLI and the engine -------------------- */

/* Stores the file as an outbound message for partner (state "queued")
 * and queues its delivery "as2:<partner>". */
int as2_send_queue_file(struct store *st, const char *partner,
    const char *path, const char *message_type, int64_t *message_id,
    char *err, size_t errsize);
/* Queues the delivery of a message already stored for partner (direction
 * out, transport "as2", state "queued"), e.g. the 997 the inbound
 * pipeline built. Queueing the same message again changes nothing. */
int as2_send_queue_message(struct store *st, int64_t message_id,
    const char *partner_id, char *err, size_t errsize);
/* Puts a failed (or mdn-failed, or sent) message back in the queue due
 * now, with an "as2.resend" event naming who. */
int as2_send_resend(struct store *st, int64_t message_id, const char *who,
    char *err, size_t errsize);

/* ---- the engine in edigated --------------------------------------- */

struct as2_sender;

/* Opens its own store connection and loads the partners of the daemon's
 * configuration; registers POST /as2/mdn and a partners reload hook. */
struct as2_sender *as2_sender_new(struct daemon *d, char *err,
    size_t errsize);
/* Opens the store and starts claiming "as2:" deliveries every poll_ms
 * (0: 500 ms). AS2_SENDER_HOSTED: claim nothing, another queue worker
 * hands deliveries over through as2_sender_deliver. */
#define AS2_SENDER_HOSTED 0xffffffffu
int as2_sender_start(struct as2_sender *s, unsigned poll_ms);
void as2_sender_free(struct as2_sender *s);

/*
 * For a queue worker that claims deliveries itself (deliver.h's
 * deliver_partner_sender_set): sends the claimed delivery of msg to
 * msg->partner and calls done(token, outcome, error) exactly once, on the
 * loop thread. The outcome values are those of enum deliver_outcome:
 * DELIVERED (2xx, and the MDN judged: delivered or mdn-failed, either way
 * the partner answered), RETRY, PERMANENT (the partner's retry-attempts
 * are spent, or the profile cannot send). Message states and events are
 * written here as in the own-worker mode.
 */
enum {
	AS2_SENDER_DELIVERED = 0,
	AS2_SENDER_RETRY = 1,
	AS2_SENDER_PERMANENT = 2
};
typedef void (*as2_sender_done_fn)(void *token, int outcome,
    const char *error);
struct store_delivery;
struct store_message;
void as2_sender_deliver(void *ctx, const struct store_delivery *delivery,
    const struct store_message *msg, as2_sender_done_fn done, void *token);

#endif
