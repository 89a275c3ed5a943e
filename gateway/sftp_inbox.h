/*
 * sftp_inbox - edigated's side of inbound SFTP: it notices files partners
 * upload through sshd into ROOT/<id>/inbox/, takes each one when it is
 * completely written, makes it durable in the store, and only then removes
 * it from the inbox. It also writes acknowledgments and outbound documents
 * into ROOT/<id>/outbox/ (layout: sftp_config.h).
 *
 * WHEN A FILE IS COMPLETE (the partner profile's upload convention)
 *   rename  files whose name starts with "." or ends in the temp suffix
 *           (".part") are still being written; any other name is taken
 *           when it appears (IN_MOVED_TO) or is closed (IN_CLOSE_WRITE).
 *   close   a file is taken when the writer closes it (IN_CLOSE_WRITE) or
 *           when it is renamed into the inbox.
 *   stable  a file is taken once its size and modification time have not
 *           changed for stable-seconds.
 *   inotify events can be lost (queue overflow, a restart): a periodic
 *   scan of every inbox catches up. A scan cannot see a close, so for
 *   "close" it falls back to the stable rule; with "rename" it takes
 *   final names not written to for 2 s (a client ignoring the convention
 *   may still be writing).
 *
 * EXACTLY ONCE
 *   A file is read through a descriptor opened with O_NOFOLLOW relative to
 *   the inbox descriptor, streamed into the spool (fsync, rename), then
 *   one store transaction records the message (direction in, transport
 *   "sftp", state "received") together with the idempotency key
 *   "<partner>/in/<sha256 of name>/<size>/<mtime ns>/<content sha256>"
 *   (scope "sftp"). Only after the commit is the file unlinked (if the
 *   inbox still holds the very same inode) and the folder fsynced. A crash
 *   between commit and unlink leaves the file; at restart the same key is
 *   found and the file is only removed. A later upload of the same bytes
 *   has another modification time and is a new message (the envelope's
 *   duplicate check decides what to do with it).
 *
 * PATHS
 *   Only single names are handled (sftp_inbox_name_ok): no "/", no "..",
 *   no control characters. Symbolic links in an inbox are removed without
 *   being followed; folders, devices and fifos are left alone. The
 *   partner folders themselves are opened with O_NOFOLLOW from ROOT.
 *
 * THREADS
 *   The watcher (inotify, timers) runs on the event loop; reading and
 *   storing a file runs on the worker pool, each worker with its own store
 *   connection. A file is handled by at most one job at a time.
 *
 * NEVER
 *   Removes a file before its message is committed, follows a link a
 *   partner created, or takes a file another partner's folder holds.
 */
#ifndef EDIGATE_SFTP_INBOX_H
#define EDIGATE_SFTP_INBOX_H

#include <stddef.h>
#include <stdint.h>

#include "partner.h"

struct event_base;
struct workers;
struct store;
struct spool;
struct sftp_inbox;

/* Called on the loop thread for every new message stored from an inbox
 * (not for a file found again after a crash). */
typedef void (*sftp_inbox_stored_fn)(void *ctx, const char *partner_id,
    int64_t message_id);

struct sftp_inbox_options {
	const char *root;            /* ROOT of sftp-config */
	const char *store_url;       /* each worker opens its own connection */
	const char *spool_dir;       /* NULL: the store's default */
	unsigned scan_interval_ms;   /* 0: 30 s */
	sftp_inbox_stored_fn stored; /* may be NULL */
	void *ctx;
};

/* NULL on failure with a message in err. */
struct sftp_inbox *sftp_inbox_new(struct event_base *base, struct workers *w,
    const struct sftp_inbox_options *opts, char *err, size_t errsize);
/* Watches the inboxes of the partners with <sftp><inbound> (copying what
 * it needs) and stops watching the others; scans them all once. Loop
 * thread. 0, or -1 with the first problem in err (the others are still
 * watched). */
int sftp_inbox_set_partners(struct sftp_inbox *ib, partner *const *partners,
    size_t n, char *err, size_t errsize);
/* Scans every inbox now (tests, SIGHUP). */
void sftp_inbox_scan(struct sftp_inbox *ib);
/* Files stored since start, and jobs in flight. */
uint64_t sftp_inbox_stored_count(const struct sftp_inbox *ib);
/* Frees the inotify and timer events: before the event base goes
 * (daemon_free). Jobs still queued finish normally. */
void sftp_inbox_stop(struct sftp_inbox *ib);
/* After the workers are gone. Calls sftp_inbox_stop if needed. */
void sftp_inbox_free(struct sftp_inbox *ib);

/* One file a partner may name: one path component, not "." or "..", no
 * "/" or control characters, 1 to 255 bytes. */
int sftp_inbox_name_ok(const char *name);
/* True when the convention says name is still being uploaded. */
int sftp_inbox_name_is_temp(partner_sftp_upload upload,
    const char *temp_suffix, const char *name);

enum sftp_ingest_result {
	SFTP_INGEST_STORED,    /* new message committed, file removed */
	SFTP_INGEST_DUPLICATE, /* already stored before; file removed */
	SFTP_INGEST_SKIPPED,   /* not a regular file, changed while read, gone */
	SFTP_INGEST_FAILED     /* store or disk error: retry later */
};

/*
 * Takes one file from an inbox (see EXACTLY ONCE): inbox_fd is the open
 * inbox folder, name a single name. *message_id receives the message (new
 * or earlier). Runs on any thread with that thread's store.
 */
enum sftp_ingest_result sftp_inbox_ingest(struct store *st, int inbox_fd,
    const char *partner_id, const char *name, int64_t *message_id,
    char *err, size_t errsize);

/*
 * Records a payload already committed to the spool as an inbound "sftp"
 * message in state "received", once per key (see EXACTLY ONCE; origin is
 * "in" for an inbox, "pull" for a file fetched from a partner's server).
 * STORED, DUPLICATE (*message_id is the earlier message) or FAILED.
 */
enum sftp_ingest_result sftp_inbox_record(struct store *st,
    const char *partner_id, const char *origin, const char *name,
    uint64_t size, int64_t mtime_ns, const char *hash, int64_t *message_id,
    char *err, size_t errsize);

/*
 * Writes a stored payload into ROOT/<partner>/outbox/<name>: to a dot-name
 * first, fsync, rename, fsync the folder, so a partner never downloads
 * half a file. Mode 0644 (the partner is the folder's owner, not the
 * file's). 0, or -1 with err.
 */
int sftp_outbox_write(const char *root, const char *partner_id, const char *name,
    struct spool *sp, const char *hash, char *err, size_t errsize);

#endif
