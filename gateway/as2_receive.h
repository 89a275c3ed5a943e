/*
 * as2_receive - AS2 receive in edigated (RFC 4130, RFC 5402, RFC 3798):
 * the POST handler on the AS2 listeners, from the request to the MDN.
 *
 * OWNS
 *   - The partners' AS2 credentials, loaded from the partner profiles
 *     (<transport><as2>) at start and on every reload: their certificates
 *     (several during a rotation), our certificates and keys. A reload
 *     with a certificate or key that cannot be read is refused with the
 *     profile's file:line and the running set stays.
 *   - The request: AS2-Version, AS2-From and AS2-To (RFC 4130 section 6.2
 *     names, quoted or not), Message-ID, Disposition-Notification-To and
 *     -Options, Receipt-Delivery-Option, Content-Type,
 *     Content-Transfer-Encoding (binary or base64) and the
 *     Content-Disposition filename.
 *   - Unwrapping the payload: decrypt (EnvelopedData, AuthEnvelopedData),
 *     decompress (CompressedData, before or after signing), split and
 *     verify multipart/signed against the partner's certificates; the
 *     profile may require signing and encryption.
 *   - The Received-Content-MIC (RFC 4130 section 7.3.1, RFC 5402 section
 *     4.1) in the algorithm the sender asked for: over the signed entity
 *     when signed; else over the innermost decrypted or decompressed
 *     entity (headers and body); else over the content as sent.
 *   - Storing before answering: the payload and the raw request body go
 *     to the spool (fsync), the message row (direction in, transport
 *     "as2", state "received") and the duplicate key (partner,
 *     "as2-message-id", Message-ID) are committed in one transaction; only
 *     then is the MDN built, kept in the spool with an "as2.mdn" event
 *     (non-repudiation: the exact bytes we sent), and sent. Then the
 *     message goes to the inbound pipeline (inbound.h).
 *   - The MDN: signed when the sender asked for a signed receipt (or the
 *     profile says always), in the response (synchronous), or posted to
 *     the Receipt-Delivery-Option URL (asynchronous, RFC 4130 section
 *     7.2) after a 200 response, with [as2] async_mdn_attempts attempts
 *     [as2] async_mdn_retry apart (doubling). A partner whose profile
 *     says async-mdn="false", or a stranger, gets the MDN in the
 *     response instead.
 *
 * ANSWERS
 *   With an MDN asked for (Disposition-Notification-To), every outcome is
 *   an HTTP 200 carrying an MDN, never a bare error: processed;
 *   processed/error with authentication-failed (unknown AS2-From or
 *   AS2-To, signer not the partner's certificate, unsigned where signing
 *   is required), integrity-check-failed (content does not match the
 *   signature), decryption-failed (not for our key, garbage, unencrypted
 *   where encryption is required), unexpected-processing-error (malformed
 *   MIME, store failure). Without an MDN asked for: 200 when stored, 400
 *   for a malformed request, 403 for a security failure or unknown
 *   partner, 503 when the store fails. Missing AS2-From, AS2-To or
 *   Message-ID: 400 (there is no one to address an MDN to). Oversize
 *   bodies get 413 from the daemon before this handler runs.
 *   A message refused for security reasons is kept (raw body in the spool,
 *   message state "refused") when the partner is known; from an unknown
 *   partner only an "as2.refused" event is recorded, so strangers cannot
 *   fill the disk.
 *
 * DUPLICATES
 *   A Message-ID the same partner already delivered successfully gets the
 *   MDN sent the first time, byte for byte (from the spool), and nothing
 *   is stored or processed again. If the first answer was never recorded
 *   (a crash between the commit and the MDN), a new processed MDN is made
 *   from the MIC stored with the message.
 *
 * DURABILITY (group commit)
 *   A job writes the payload, the raw body and the MDN to the spool
 *   without fsync, waits for a shared sync (group_sync.h: one syncfs()
 *   for every job that wrote meanwhile), commits message, duplicate key
 *   and MDN event in one transaction on a connection with deferred
 *   durability (store.h), and waits for a second shared sync before it
 *   answers. So nothing names a payload before the payload is durable,
 *   and no MDN, no 200 and no hand-over to the pipeline happen before
 *   the commit is. A failed sync answers like a failed store (the sender
 *   tries again; a commit that did reach the disk makes that a
 *   duplicate, answered with the kept MDN). Under load many jobs share
 *   each sync, so [general] workers should exceed the cores: a job
 *   waiting for the sync holds a thread but no core.
 *
 * MEMORY
 *   On a listener with stream_bodies = yes a large body arrives in a
 *   file (daemon.h) and is unwrapped from files (as2_stream.h): memory
 *   does not grow with the message. A body buffered by evhttp (up to
 *   [limits] max_body_size) is moved to a file when it is larger than
 *   [as2] unwrap_in_memory, else unwrapped in memory (as2_unwrap.h, a
 *   few copies). Decompressed output is bounded by [as2]
 *   max_decompressed_size either way.
 *
 * THREADS
 *   The handler runs on the loop thread and hands the request to a worker
 *   job; verification, decryption, the store and MDN signing run there,
 *   the reply goes out from the job's done callback on the loop thread.
 *
 * NEVER
 *   Answers before the message is durable, trusts a certificate carried
 *   in the message, answers 500 without an MDN when one was asked for, or
 *   exits on anything a partner sends.
 */
#ifndef EDIGATE_AS2_RECEIVE_H
#define EDIGATE_AS2_RECEIVE_H

#include <stddef.h>

struct as2_receive;
struct config;
struct daemon;
struct inbound;

/* Loads the partner profiles and their AS2 credentials from cfg,
 * registers the route ([as2] path, POST) and a reload hook ("partners")
 * that reloads both, and hands every partner set to in (may be NULL).
 * NULL on failure with "file:line: message" in err. */
struct as2_receive *as2_receive_new(struct daemon *d, struct inbound *in,
    char *err, size_t errsize);
/* After daemon_run returned, before daemon_free: abandons asynchronous
 * MDNs still waiting (logged) and frees the HTTP client. */
void as2_receive_stop(struct as2_receive *rx);
/* After daemon_free (the workers are joined). */
void as2_receive_free(struct as2_receive *rx);

/* Checks the profiles and AS2 credentials cfg names, without a daemon
 * (edigated -t). 0, or -1 with "file:line: message" lines in err. */
int as2_receive_check(const struct config *cfg, char *err, size_t errsize);

#endif
