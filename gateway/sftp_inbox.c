/*
 * sftp_inbox - take partners' uploads from their inboxes into the store;
 * write acks and documents to their outboxes. See sftp_inbox.h.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "log.h"
#include "sftp_inbox.h"
#include "store.h"
#include "workers.h"

#define TICK_MS 1000
#define RENAME_REST_US 2000000

struct name_node {
	struct name_node *next;
	char name[];
};

struct watch {
	struct watch *next;
	char id[STORE_PARTNER_MAX + 1];
	partner_sftp_upload upload;
	char temp_suffix[17];
	unsigned stable_seconds;
	int fd;                 /* the inbox folder */
	int wd;                 /* inotify watch, -1: none */
	int refs;               /* the set's reference plus one per job */
	int dropped;            /* no longer in the partner set */
	int64_t next_scan_us;
	struct name_node *inflight;
};

struct sftp_inbox {
	struct event_base *base;
	struct workers *workers;
	char *root;
	char *store_url;
	char *spool_dir;
	unsigned scan_interval_ms;
	sftp_inbox_stored_fn stored;
	void *ctx;
	int ifd;                /* inotify */
	struct event *iev;
	struct event *tick;
	struct watch *watches;
	pthread_key_t store_key;
	int key_ok;
	uint64_t stored_count;
	size_t jobs;
};

struct job {
	struct sftp_inbox *ib;
	struct watch *w;
	int fd;                 /* dup of the inbox folder */
	enum sftp_ingest_result result;
	int64_t message_id;
	char error[512];
	char name[];
};

/* ---- names ----------------------------------------------------------- */

int
sftp_inbox_name_ok(const char *name)
{
	size_t n;

	if (name == NULL || name[0] == '\0')
		return 0;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return 0;
	for (n = 0; name[n]; n++)
		if (name[n] == '/' || (unsigned char)name[n] < 0x20 ||
		    name[n] == 0x7f)
			return 0;
	return n <= NAME_MAX;
}

int
sftp_inbox_name_is_temp(partner_sftp_upload upload, const char *temp_suffix,
    const char *name)
{
	size_t n = strlen(name), s = temp_suffix ? strlen(temp_suffix) : 0;

	/* Dot-names are never documents: sftp clients and our own outbox
	 * writer use them for files in progress, whatever the convention. */
	if (name[0] == '.')
		return 1;
	if (upload == PARTNER_SFTP_RENAME && s > 0 && n > s &&
	    strcmp(name + n - s, temp_suffix) == 0)
		return 1;
	return 0;
}

/* ---- one file into the store --------------------------------------- */

static char *
detail_json(const char *origin, const char *name, uint64_t size,
    int64_t mtime_ns)
{
	json_t *o = json_object();
	char *text;

	if (o == NULL)
		return NULL;
	/* A name that is not UTF-8 cannot be a JSON string; the event then
	 * holds its bytes in hex. */
	json_t *s = json_string(name);
	if (s == NULL) {
		char hex[2 * NAME_MAX + 1];
		size_t i;
		for (i = 0; name[i] && i < NAME_MAX; i++)
			snprintf(hex + 2 * i, 3, "%02x", (unsigned char)name[i]);
		hex[2 * i] = '\0';
		json_object_set_new(o, "file_hex", json_string(hex));
	} else {
		json_object_set_new(o, "file", s);
	}
	json_object_set_new(o, "sftp", json_string(origin));
	json_object_set_new(o, "file_size", json_integer((json_int_t)size));
	json_object_set_new(o, "file_mtime_ns", json_integer(mtime_ns));
	text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return text;
}

enum sftp_ingest_result
sftp_inbox_record(struct store *st, const char *partner_id, const char *origin,
    const char *name, uint64_t size, int64_t mtime_ns, const char *hash,
    int64_t *message_id, char *err, size_t errsize)
{
	char name_hash[SPOOL_HASH_HEX + 1], key[STORE_IDEM_KEY_MAX + 1];
	enum store_idem_outcome outcome;
	struct store_error ste;
	char *body = NULL, *detail;
	int status;

	*message_id = 0;
	store_sha256_hex(name, strlen(name), name_hash);
	snprintf(key, sizeof(key), "%s/%s/%s/%" PRIu64 "/%" PRId64 "/%s",
	    partner_id, origin, name_hash, size, mtime_ns, hash);
	if (store_tx_begin(st, &ste) != STORE_OK)
		goto store_fail;
	if (store_idempotency_begin(st, "sftp", key, hash, &outcome, &status,
	    &body, &ste) != STORE_OK) {
		store_tx_rollback(st);
		goto store_fail;
	}
	if (outcome != STORE_IDEM_NEW) {
		store_tx_rollback(st);
		if (outcome != STORE_IDEM_REPLAY || body == NULL) {
			/* The key holds the content hash, so a conflict or an
			 * unfinished key means the store was edited by hand. */
			free(body);
			snprintf(err, errsize, "idempotency key %s is in an "
			    "unexpected state", key);
			return SFTP_INGEST_FAILED;
		}
		*message_id = strtoll(body, NULL, 10);
		free(body);
		return SFTP_INGEST_DUPLICATE;
	}
	struct store_message m;
	char idtext[32];
	memset(&m, 0, sizeof(m));
	m.direction = STORE_IN;
	snprintf(m.partner, sizeof(m.partner), "%s", partner_id);
	snprintf(m.transport, sizeof(m.transport), "sftp");
	snprintf(m.payload_hash, sizeof(m.payload_hash), "%s", hash);
	m.size = (int64_t)size;
	snprintf(m.state, sizeof(m.state), "received");
	detail = detail_json(origin, name, size, mtime_ns);
	if (store_message_put(st, &m, detail, &ste) != STORE_OK) {
		free(detail);
		store_tx_rollback(st);
		goto store_fail;
	}
	free(detail);
	snprintf(idtext, sizeof(idtext), "%" PRId64, m.id);
	if (store_idempotency_finish(st, "sftp", key, 200, idtext, &ste)
	    != STORE_OK || store_tx_commit(st, &ste) != STORE_OK) {
		store_tx_rollback(st);
		goto store_fail;
	}
	*message_id = m.id;
	return SFTP_INGEST_STORED;
store_fail:
	snprintf(err, errsize, "store: %.400s", ste.message);
	return SFTP_INGEST_FAILED;
}

enum sftp_ingest_result
sftp_inbox_ingest(struct store *st, int inbox_fd, const char *partner_id,
    const char *name, int64_t *message_id, char *err, size_t errsize)
{
	struct spool *sp = store_spool(st);
	struct spool_writer *sw = NULL;
	struct spool_error spe;
	struct stat sb, after, now;
	char hash[SPOOL_HASH_HEX + 1];
	static __thread char buf[1 << 16];
	enum sftp_ingest_result res;
	uint64_t size;
	ssize_t got;
	int fd;

	*message_id = 0;
	err[0] = '\0';
	if (!sftp_inbox_name_ok(name)) {
		snprintf(err, errsize, "refused file name");
		return SFTP_INGEST_SKIPPED;
	}
	if (sp == NULL) {
		snprintf(err, errsize, "the store has no spool");
		return SFTP_INGEST_FAILED;
	}
	fd = openat(inbox_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC);
	if (fd < 0 && errno == ELOOP) {
		/* A link could point anywhere the daemon may read: never
		 * follow it, and do not let it sit there either. */
		unlinkat(inbox_fd, name, 0);
		snprintf(err, errsize, "symbolic link removed, not followed");
		return SFTP_INGEST_SKIPPED;
	}
	if (fd < 0) {
		snprintf(err, errsize, "open: %s", strerror(errno));
		return errno == ENOENT ? SFTP_INGEST_SKIPPED : SFTP_INGEST_FAILED;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		snprintf(err, errsize, "not a regular file");
		return SFTP_INGEST_SKIPPED;
	}
	/* Another edigated on the same folder takes the file, or we do. */
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);
		snprintf(err, errsize, "locked by another process");
		return SFTP_INGEST_SKIPPED;
	}
	if (spool_writer_new(sp, &sw, &spe) != SPOOL_OK)
		goto spool_fail;
	for (;;) {
		got = read(fd, buf, sizeof(buf));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			snprintf(err, errsize, "read: %s", strerror(errno));
			spool_writer_abort(sw);
			close(fd);
			return SFTP_INGEST_FAILED;
		}
		if (got == 0)
			break;
		if (spool_writer_feed(sw, buf, (size_t)got, &spe) != SPOOL_OK) {
			spool_writer_abort(sw);
			goto spool_fail;
		}
	}
	/* Written to while we read: the upload was not complete after all. */
	if (fstat(fd, &after) != 0 || after.st_size != sb.st_size ||
	    after.st_mtim.tv_sec != sb.st_mtim.tv_sec ||
	    after.st_mtim.tv_nsec != sb.st_mtim.tv_nsec) {
		spool_writer_abort(sw);
		close(fd);
		snprintf(err, errsize, "changed while being read; later");
		return SFTP_INGEST_SKIPPED;
	}
	if (spool_writer_commit(sw, hash, &size, &spe) != SPOOL_OK)
		goto spool_fail;

	res = sftp_inbox_record(st, partner_id, "in", name, size,
	    (int64_t)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec,
	    hash, message_id, err, errsize);
	if (res == SFTP_INGEST_FAILED) {
		close(fd);
		return res;
	}
	/* Durable now: the file may go, if it is still the one we read (the
	 * partner_id may have uploaded a new one under the same name). */
	if (fstatat(inbox_fd, name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
	    now.st_ino == sb.st_ino && now.st_dev == sb.st_dev) {
		if (unlinkat(inbox_fd, name, 0) != 0)
			log_warn("sftp: cannot remove a stored upload", "partner_id",
			    partner_id, "error", strerror(errno), NULL);
		else
			fsync(inbox_fd);
	}
	close(fd);
	return res;

spool_fail:
	close(fd);
	snprintf(err, errsize, "spool: %s", spe.message);
	return SFTP_INGEST_FAILED;
}

/* ---- jobs ------------------------------------------------------------ */

static void
close_store(void *p)
{
	store_close(p);
}

static struct store *
thread_store(struct sftp_inbox *ib, char *err, size_t errsize)
{
	struct store *st = pthread_getspecific(ib->store_key);
	struct store_options opts = { .spool_dir = ib->spool_dir };
	struct store_error ste;

	if (st)
		return st;
	if (store_open(&st, ib->store_url, &opts, &ste) != STORE_OK) {
		snprintf(err, errsize, "store: %.400s", ste.message);
		return NULL;
	}
	pthread_setspecific(ib->store_key, st);
	return st;
}

static void
job_work(void *arg)
{
	struct job *j = arg;
	struct store *st = thread_store(j->ib, j->error, sizeof(j->error));

	if (st == NULL) {
		j->result = SFTP_INGEST_FAILED;
		return;
	}
	j->result = sftp_inbox_ingest(st, j->fd, j->w->id, j->name,
	    &j->message_id, j->error, sizeof(j->error));
}

static void
watch_release(struct watch *w)
{
	if (--w->refs > 0)
		return;
	while (w->inflight) {
		struct name_node *n = w->inflight;
		w->inflight = n->next;
		free(n);
	}
	if (w->fd >= 0)
		close(w->fd);
	free(w);
}

static void
inflight_remove(struct watch *w, const char *name)
{
	struct name_node **pp;

	for (pp = &w->inflight; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->name, name) == 0) {
			struct name_node *n = *pp;
			*pp = n->next;
			free(n);
			return;
		}
}

static void
job_done(void *arg, int cancelled)
{
	struct job *j = arg;
	struct sftp_inbox *ib = j->ib;
	char idtext[32];

	snprintf(idtext, sizeof(idtext), "%" PRId64, j->message_id);
	if (!cancelled) {
		switch (j->result) {
		case SFTP_INGEST_STORED:
			ib->stored_count++;
			log_info("sftp upload stored", "partner", j->w->id,
			    "message_id", idtext, NULL);
			/* Even for a partner dropped by a reload meanwhile:
			 * the message is stored and must be processed. */
			if (ib->stored)
				ib->stored(ib->ctx, j->w->id, j->message_id);
			break;
		case SFTP_INGEST_DUPLICATE:
			log_info("sftp upload was stored before; removed",
			    "partner", j->w->id, "message_id", idtext, NULL);
			break;
		case SFTP_INGEST_SKIPPED:
			log_debug("sftp file skipped", "partner", j->w->id,
			    "reason", j->error, NULL);
			break;
		case SFTP_INGEST_FAILED:
			/* The file stays; the next scan tries again. */
			log_error("sftp upload not stored", "partner", j->w->id,
			    "error", j->error, NULL);
			break;
		}
	}
	inflight_remove(j->w, j->name);
	close(j->fd);
	ib->jobs--;
	watch_release(j->w);
	free(j);
}

static void
consider(struct sftp_inbox *ib, struct watch *w, const char *name)
{
	struct name_node *n;
	struct job *j;
	size_t len = strlen(name);

	if (w->dropped || !sftp_inbox_name_ok(name) ||
	    sftp_inbox_name_is_temp(w->upload, w->temp_suffix, name))
		return;
	for (n = w->inflight; n; n = n->next)
		if (strcmp(n->name, name) == 0)
			return;
	n = malloc(sizeof(*n) + len + 1);
	j = malloc(sizeof(*j) + len + 1);
	if (n == NULL || j == NULL) {
		free(n);
		free(j);
		return;
	}
	memcpy(n->name, name, len + 1);
	memcpy(j->name, name, len + 1);
	j->ib = ib;
	j->w = w;
	j->result = SFTP_INGEST_FAILED;
	j->message_id = 0;
	j->error[0] = '\0';
	j->fd = fcntl(w->fd, F_DUPFD_CLOEXEC, 0);
	if (j->fd < 0 || workers_submit(ib->workers, job_work, job_done, j)) {
		/* Queue full: the next scan offers it again. */
		if (j->fd >= 0)
			close(j->fd);
		free(n);
		free(j);
		return;
	}
	n->next = w->inflight;
	w->inflight = n;
	w->refs++;
	ib->jobs++;
}

/* ---- watching -------------------------------------------------------- */

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
scan_watch(struct sftp_inbox *ib, struct watch *w)
{
	int64_t now = now_us(), soonest = 0;
	struct dirent *de;
	struct stat sb;
	int fd;
	DIR *d;

	fd = openat(w->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		if (!sftp_inbox_name_ok(name) ||
		    sftp_inbox_name_is_temp(w->upload, w->temp_suffix, name))
			continue;
		if (fstatat(w->fd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (S_ISLNK(sb.st_mode)) {
			log_warn("sftp: symbolic link in an inbox removed",
			    "partner", w->id, NULL);
			unlinkat(w->fd, name, 0);
			continue;
		}
		if (!S_ISREG(sb.st_mode))
			continue;
		{
			/* A scan cannot see a close: unchanged for
			 * stable_seconds is the rule here. Even a final name
			 * (rename) must have rested a moment: a client that
			 * ignores the convention may still be writing it, and
			 * inotify reports the end of a proper upload anyway. */
			int64_t mtime = (int64_t)sb.st_mtim.tv_sec * 1000000 +
			    sb.st_mtim.tv_nsec / 1000;
			int64_t wait = w->upload == PARTNER_SFTP_RENAME ?
			    RENAME_REST_US : (int64_t)w->stable_seconds * 1000000;
			int64_t ready = mtime + wait;
			if (ready > now) {
				if (soonest == 0 || ready < soonest)
					soonest = ready;
				continue;
			}
		}
		consider(ib, w, name);
	}
	closedir(d);
	w->next_scan_us = now + (int64_t)ib->scan_interval_ms * 1000;
	if (soonest && soonest < w->next_scan_us)
		w->next_scan_us = soonest;
}

void
sftp_inbox_scan(struct sftp_inbox *ib)
{
	for (struct watch *w = ib->watches; w; w = w->next)
		scan_watch(ib, w);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct sftp_inbox *ib = arg;
	int64_t now = now_us();

	(void)fd;
	(void)what;
	for (struct watch *w = ib->watches; w; w = w->next)
		if (now >= w->next_scan_us)
			scan_watch(ib, w);
}

static void
on_inotify(evutil_socket_t fd, short what, void *arg)
{
	struct sftp_inbox *ib = arg;
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t len;
	char *p;

	(void)what;
	for (;;) {
		len = read(fd, buf, sizeof(buf));
		if (len <= 0)
			return;
		for (p = buf; p < buf + len;) {
			const struct inotify_event *ev = (const void *)p;
			struct watch *w;
			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				sftp_inbox_scan(ib);
				continue;
			}
			for (w = ib->watches; w && w->wd != ev->wd; w = w->next)
				;
			if (w == NULL || ev->len == 0 || (ev->mask & IN_ISDIR))
				continue;
			if (w->upload == PARTNER_SFTP_STABLE) {
				/* Look again once it may have settled. */
				int64_t at = now_us() +
				    (int64_t)w->stable_seconds * 1000000;
				if (at < w->next_scan_us)
					w->next_scan_us = at;
				continue;
			}
			if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO))
				consider(ib, w, ev->name);
		}
	}
}

struct sftp_inbox *
sftp_inbox_new(struct event_base *base, struct workers *w,
    const struct sftp_inbox_options *opts, char *err, size_t errsize)
{
	struct sftp_inbox *ib = calloc(1, sizeof(*ib));
	struct timeval tick = { TICK_MS / 1000, (TICK_MS % 1000) * 1000 };

	if (ib == NULL) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	ib->base = base;
	ib->workers = w;
	ib->ifd = -1;
	ib->scan_interval_ms = opts->scan_interval_ms ? opts->scan_interval_ms
	    : 30000;
	ib->stored = opts->stored;
	ib->ctx = opts->ctx;
	ib->root = strdup(opts->root);
	ib->store_url = strdup(opts->store_url);
	ib->spool_dir = opts->spool_dir ? strdup(opts->spool_dir) : NULL;
	if (ib->root == NULL || ib->store_url == NULL ||
	    (opts->spool_dir && ib->spool_dir == NULL)) {
		snprintf(err, errsize, "out of memory");
		goto fail;
	}
	if (pthread_key_create(&ib->store_key, close_store) != 0) {
		snprintf(err, errsize, "pthread_key_create failed");
		goto fail;
	}
	ib->key_ok = 1;
	ib->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ib->ifd < 0) {
		snprintf(err, errsize, "inotify: %s", strerror(errno));
		goto fail;
	}
	ib->iev = event_new(base, ib->ifd, EV_READ | EV_PERSIST, on_inotify, ib);
	ib->tick = event_new(base, -1, EV_PERSIST, on_tick, ib);
	if (ib->iev == NULL || ib->tick == NULL || event_add(ib->iev, NULL) ||
	    event_add(ib->tick, &tick)) {
		snprintf(err, errsize, "cannot set up the inbox events");
		goto fail;
	}
	return ib;
fail:
	sftp_inbox_free(ib);
	return NULL;
}

static int
open_inbox(const char *root, const char *id, char *err, size_t errsize)
{
	int rfd, pfd, fd;

	rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0) {
		snprintf(err, errsize, "%s: %s", root, strerror(errno));
		return -1;
	}
	/* O_NOFOLLOW: a link in place of a partner folder would let one
	 * partner's uploads be taken as another's. */
	pfd = openat(rfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	close(rfd);
	if (pfd < 0) {
		snprintf(err, errsize, "%s/%s: %s (run edigate sftp-config)",
		    root, id, strerror(errno));
		return -1;
	}
	fd = openat(pfd, "inbox", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	close(pfd);
	if (fd < 0)
		snprintf(err, errsize, "%s/%s/inbox: %s (run edigate "
		    "sftp-config)", root, id, strerror(errno));
	return fd;
}

static void
watch_drop(struct sftp_inbox *ib, struct watch *w)
{
	w->dropped = 1;
	if (w->wd >= 0)
		inotify_rm_watch(ib->ifd, w->wd);
	w->wd = -1;
	watch_release(w);
}

int
sftp_inbox_set_partners(struct sftp_inbox *ib, partner *const *partners,
    size_t n, char *err, size_t errsize)
{
	struct watch *keep = NULL, *w, *next;
	char path[PATH_MAX], one[512];
	int rc = 0;
	size_t i;

	if (errsize)
		err[0] = '\0';
	/* Every watch is rebuilt: settings may have changed. Jobs in flight
	 * keep their old watch alive until they are done. */
	for (w = ib->watches; w; w = next) {
		next = w->next;
		watch_drop(ib, w);
	}
	ib->watches = NULL;
	for (i = 0; i < n; i++) {
		const partner_sftp *s = partners[i]->sftp;
		if (s == NULL || !s->inbound)
			continue;
		int fd = open_inbox(ib->root, partners[i]->id, one, sizeof(one));
		if (fd < 0) {
			if (rc == 0)
				snprintf(err, errsize, "%s", one);
			log_error("sftp inbox not watched", "partner",
			    partners[i]->id, "error", one, NULL);
			rc = -1;
			continue;
		}
		w = calloc(1, sizeof(*w));
		if (w == NULL) {
			close(fd);
			rc = -1;
			continue;
		}
		snprintf(w->id, sizeof(w->id), "%s", partners[i]->id);
		w->upload = s->upload;
		snprintf(w->temp_suffix, sizeof(w->temp_suffix), "%s",
		    s->temp_suffix);
		w->stable_seconds = s->stable_seconds ? s->stable_seconds : 10;
		w->fd = fd;
		w->refs = 1;
		snprintf(path, sizeof(path), "%s/%s/inbox", ib->root, w->id);
		w->wd = inotify_add_watch(ib->ifd, path, IN_CLOSE_WRITE |
		    IN_MOVED_TO | IN_CREATE | IN_MODIFY | IN_ONLYDIR |
		    IN_DONT_FOLLOW);
		if (w->wd < 0)
			/* Still served by the periodic scan. */
			log_warn("sftp inbox: inotify refused; scanning only",
			    "partner", w->id, "error", strerror(errno), NULL);
		w->next = keep;
		keep = w;
	}
	ib->watches = keep;
	sftp_inbox_scan(ib);
	return rc;
}

uint64_t
sftp_inbox_stored_count(const struct sftp_inbox *ib)
{
	return ib->stored_count;
}

void
sftp_inbox_stop(struct sftp_inbox *ib)
{
	if (ib == NULL)
		return;
	if (ib->iev)
		event_free(ib->iev);
	if (ib->tick)
		event_free(ib->tick);
	ib->iev = NULL;
	ib->tick = NULL;
}

void
sftp_inbox_free(struct sftp_inbox *ib)
{
	struct watch *w, *next;

	if (ib == NULL)
		return;
	for (w = ib->watches; w; w = next) {
		next = w->next;
		watch_drop(ib, w);
	}
	sftp_inbox_stop(ib);
	if (ib->ifd >= 0)
		close(ib->ifd);
	/* The workers are gone (their threads closed their stores). */
	if (ib->key_ok)
		pthread_key_delete(ib->store_key);
	free(ib->root);
	free(ib->store_url);
	free(ib->spool_dir);
	free(ib);
}

/* ---- outbox ---------------------------------------------------------- */

int
sftp_outbox_write(const char *root, const char *partner_id, const char *name,
    struct spool *sp, const char *hash, char *err, size_t errsize)
{
	static unsigned long counter;
	struct spool_reader *r = NULL;
	struct spool_error spe;
	char tmp[64], buf[1 << 16];
	int rfd = -1, pfd = -1, ofd = -1, fd = -1;
	size_t got;

	if (!sftp_inbox_name_ok(name) || name[0] == '.') {
		snprintf(err, errsize, "refused outbox file name");
		return -1;
	}
	if ((rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (pfd = openat(rfd, partner_id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0 ||
	    (ofd = openat(pfd, "outbox", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0) {
		snprintf(err, errsize, "%s/%s/outbox: %s", root, partner_id,
		    strerror(errno));
		goto fail;
	}
	snprintf(tmp, sizeof(tmp), ".edigate-%ld-%lu.tmp", (long)getpid(),
	    __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
	fd = openat(ofd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errsize, "outbox: %s", strerror(errno));
		goto fail;
	}
	if (spool_reader_open(sp, hash, &r, &spe) != SPOOL_OK) {
		snprintf(err, errsize, "spool: %s", spe.message);
		goto fail_tmp;
	}
	for (;;) {
		if (spool_reader_read(r, buf, sizeof(buf), &got, &spe)
		    != SPOOL_OK) {
			snprintf(err, errsize, "spool: %s", spe.message);
			goto fail_tmp;
		}
		if (got == 0)
			break;
		for (size_t off = 0; off < got;) {
			ssize_t w = write(fd, buf + off, got - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				snprintf(err, errsize, "outbox: %s",
				    strerror(errno));
				goto fail_tmp;
			}
			off += (size_t)w;
		}
	}
	spool_reader_close(r);
	r = NULL;
	/* fchmod: the umask must not take the partner_id's read right away. */
	if (fchmod(fd, 0644) != 0 || fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		snprintf(err, errsize, "outbox: %s", strerror(errno));
		goto fail_tmp;
	}
	fd = -1;
	if (renameat(ofd, tmp, ofd, name) != 0) {
		snprintf(err, errsize, "outbox: %s", strerror(errno));
		goto fail_tmp;
	}
	fsync(ofd);
	close(ofd);
	close(pfd);
	close(rfd);
	return 0;
fail_tmp:
	if (r)
		spool_reader_close(r);
	if (fd >= 0)
		close(fd);
	unlinkat(ofd, tmp, 0);
fail:
	if (ofd >= 0)
		close(ofd);
	if (pfd >= 0)
		close(pfd);
	if (rfd >= 0)
		close(rfd);
	return -1;
}
