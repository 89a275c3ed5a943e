/*
 * sftp_service - SFTP inside edigated: ties the partner profiles to the
 * inbox watcher (sftp_inbox.h) and to the libssh2 client
 * (sftp_client.h), schedules pulls, and sends acks and documents back.
 *
 * OWNS
 *   The loaded partner profiles (re-read on SIGHUP through a reload
 *   hook), one pull schedule per partner with <sftp><pull> (every
 *   poll-seconds, one pull at a time per partner, on the worker pool), a
 *   circuit breaker per partner for pushes, and one store connection per
 *   worker thread for its jobs.
 *
 * SENDING (sftp_service_send)
 *   A partner that uploads to us (<inbound>) finds our files in its
 *   outbox/; a partner with a server of its own (<push>) gets them
 *   uploaded there, with [sftp] push_attempts attempts and backoff, on
 *   the calling worker thread (sftp_service_send_attempts: as many as
 *   asked). Queued "sftp:" deliveries are sent by sftp_deliver.h.
 *
 * THREADS
 *   start, free and the stored callback: loop thread. send: any worker
 *   thread (it blocks on the network for a push).
 *
 * NEVER
 *   Pulls or pushes on the loop thread, or drops a profile in use by a
 *   running job (jobs hold a reference to the profiles they started with).
 */
#ifndef EDIGATE_SFTP_SERVICE_H
#define EDIGATE_SFTP_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "sftp_inbox.h"

struct daemon;
struct store;
struct inbound_ack;
struct sftp_service;

/* Reads the profiles of partners_dir, watches the inboxes when [sftp]
 * root is set, schedules the pulls. stored (may be NULL) hears of every
 * new inbound message, from an inbox or a pull. NULL on failure. */
struct sftp_service *sftp_service_start(struct daemon *d,
    sftp_inbox_stored_fn stored, void *ctx, char *err, size_t errsize);
/* Before daemon_free(): frees the events (timers, inotify) while the
 * event base still exists. */
void sftp_service_stop(struct sftp_service *s);
/* After daemon_free(): the workers are gone. */
void sftp_service_free(struct sftp_service *s);

/* Sends a stored payload (hash) to a partner as name (see SENDING).
 * 0, or -1 with err. */
int sftp_service_send(struct sftp_service *s, struct store *st,
    const char *partner_id, const char *name, const char *hash,
    char *err, size_t errsize);

/* The same with attempts pushes (0: [sftp] push_attempts) before it
 * gives up; the delivery worker (sftp_deliver.h) makes one per claim. */
int sftp_service_send_attempts(struct sftp_service *s, struct store *st,
    const char *partner_id, const char *name, const char *hash,
    unsigned attempts, char *err, size_t errsize);

/* An inbound_ack_fn (inbound.h) for transport "sftp"; ctx is the
 * service. The file is named "<ack type>-<message id>.edi". A partner
 * that uploads to us gets it in its outbox at once; for a push partner
 * it is queued as an "sftp:<partner>" delivery (sftp_deliver.h), so no
 * worker thread waits through push retries. */
int sftp_service_send_ack(void *ctx, struct store *st,
    const struct inbound_ack *ack, char *err, size_t errsize);

#endif
