/*
 * sftp_client - edigate as an SFTP client of a partner's server (libssh2):
 * push our documents there, pull theirs from there on a schedule.
 *
 * SECURITY
 *   The server's host key must match the one pinned in the partner
 *   profile (the key itself, or its SHA256 fingerprint as ssh-keygen -l
 *   prints it); otherwise the connection is closed before we
 *   authenticate, and the error says which key was offered. Private keys,
 *   passphrases and passwords are read from their files at connect time,
 *   wiped from memory after use, and never logged.
 *
 * PUSH
 *   Uploads to remote_dir/<temp_prefix><name>, then renames to
 *   remote_dir/<name>, so the partner never picks up half a file. A retry
 *   writes the same temporary name again from the start. If the rename
 *   fails because <name> already holds exactly our size (a previous
 *   attempt renamed it but the answer was lost) the push counts as done.
 *   sftp_client_push_retry() retries with exponential backoff and keeps a
 *   circuit breaker per partner: after `threshold` failed pushes in a row
 *   the partner is not tried for `cooldown_ms`.
 *
 * PULL
 *   Lists remote_dir, downloads every regular file whose name does not
 *   start with "." into the spool, records it with sftp_inbox_record()
 *   (origin "pull": remote name + size + mtime + content hash), and only
 *   then deletes it remotely or moves it to move_to. A file whose key is
 *   already recorded (delete failed last time, a crash) is only deleted
 *   or moved again, never stored twice. A download cut short stores
 *   nothing; the next poll fetches it again.
 *
 * THREADS
 *   Every call blocks on the network (timeouts: 30 s per operation): run
 *   them on a worker thread, never on the event loop. The breaker is
 *   thread-safe.
 *
 * NEVER
 *   Connects without checking the host key, logs a secret, or deletes a
 *   remote file before its content is committed in the store.
 */
#ifndef EDIGATE_SFTP_CLIENT_H
#define EDIGATE_SFTP_CLIENT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "partner.h"

struct store;

struct sftp_client_error {
	int retryable;        /* 0: host key, authentication, configuration */
	char message[512];
};

/* Pushes the file open at fd (read from offset 0) as name. 0, or -1. */
int sftp_client_push(const partner_sftp_remote *r, int fd, const char *name,
    struct sftp_client_error *err);

struct sftp_breaker {
	pthread_mutex_t lock;
	unsigned threshold;   /* failed pushes in a row that open it; 0: 5 */
	unsigned cooldown_ms; /* how long it stays open; 0: 60 s */
	unsigned failures;
	int64_t open_until_us;
};
void sftp_breaker_init(struct sftp_breaker *b, unsigned threshold,
    unsigned cooldown_ms);
void sftp_breaker_destroy(struct sftp_breaker *b);
/* 1 when calls should not be tried now. */
int sftp_breaker_is_open(struct sftp_breaker *b);

/*
 * sftp_client_push() up to attempts times, waiting base_delay_ms, then
 * twice that, ... (at most 60 s) between attempts; a failure that is not
 * retryable ends at once. breaker may be NULL. 0, or -1 with the last
 * error.
 */
int sftp_client_push_retry(const partner_sftp_remote *r, int fd,
    const char *name, unsigned attempts, unsigned base_delay_ms,
    struct sftp_breaker *breaker, struct sftp_client_error *err);

#define SFTP_PULL_MAX_NEW 256

struct sftp_pull_result {
	unsigned listed;      /* regular files seen */
	unsigned stored;      /* new messages */
	unsigned duplicates;  /* already stored before; cleaned up remotely */
	unsigned failed;      /* not fetched this time */
	/* The messages stored, for the inbound pipeline. A poll fetches at
	 * most SFTP_PULL_MAX_NEW new files; the rest wait for the next. */
	int64_t new_ids[SFTP_PULL_MAX_NEW];
	unsigned new_count;
};

/* One poll of r for partner partner_id into st (which has a spool).
 * 0 when the poll ran (some files may have failed: see res), -1 when it
 * could not connect or list. */
int sftp_client_pull(const partner_sftp_remote *r, const char *partner_id,
    struct store *st, struct sftp_pull_result *res,
    struct sftp_client_error *err);

/* "SHA256:<base64 without padding>" of a public key blob. */
void sftp_client_fingerprint(const unsigned char *key, size_t len,
    char out[64]);

#endif
