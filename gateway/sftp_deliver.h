/*
 * sftp_deliver - the queue worker for outbound files to SFTP partners:
 * takes the store deliveries whose endpoint is "sftp:<partner id>"
 * (queued by routing and by the SFTP ack hook) and hands each to
 * sftp_service_send(), which writes it to the partner's outbox or pushes
 * it to the partner's server.
 *
 * OWNS
 *   A timer on the loop thread that claims due "sftp:" deliveries (never
 *   another kind) with a lease, at most SFTP_DELIVER_MAX_INFLIGHT at a
 *   time; one store connection for the loop thread and one per worker
 *   thread for the transfers.
 *
 * INVARIANTS
 *   - One transfer attempt per claim. A failure goes back to the queue
 *     with exponential backoff (sftp_deliver_backoff_us); after
 *     [sftp] push_attempts claims the delivery is dead and the message
 *     "failed". Success: delivery done, message "delivered". Each
 *     attempt leaves an event on the message (sftp.sent,
 *     sftp.attempt-failed).
 *   - The file is named "<message type>-<message id>.edi", so an attempt
 *     repeated after a lost answer overwrites the same name on the
 *     partner's side rather than adding a second file.
 *   - A worker that dies leaves its claim to expire (lease); another
 *     run takes it then.
 *
 * THREADS
 *   start, stop and free: loop thread. Transfers run on the daemon's
 *   worker pool.
 *
 * NEVER
 *   Blocks the loop thread on the network, or claims "as2:",
 *   "webhook:" or any other kind of delivery.
 */
#ifndef EDIGATE_SFTP_DELIVER_H
#define EDIGATE_SFTP_DELIVER_H

#include <stddef.h>
#include <stdint.h>

struct daemon;
struct sftp_service;
struct sftp_deliver;

#define SFTP_DELIVER_PREFIX "sftp:"
#define SFTP_DELIVER_MAX_INFLIGHT 4

/* Claims every poll_ms (0: 500 ms). NULL with err on failure. */
struct sftp_deliver *sftp_deliver_start(struct daemon *d,
    struct sftp_service *svc, unsigned poll_ms, char *err, size_t errsize);
/* Before daemon_free(): stops claiming (the timer needs the event base). */
void sftp_deliver_stop(struct sftp_deliver *x);
/* After daemon_free(): the jobs' done callbacks have run. */
void sftp_deliver_free(struct sftp_deliver *x);

/* Delay before the next claim after attempt number attempt (1 = the
 * first) failed: 1 s, 2 s, 4 s ... capped at max_ms. Pure. */
int64_t sftp_deliver_backoff_us(unsigned attempt, unsigned base_ms,
    unsigned max_ms);

#endif
