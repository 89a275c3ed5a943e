/*
 * sftp_service - SFTP inside edigated. See sftp_service.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon.h"
#include "inbound.h"
#include "log.h"
#include "sftp_client.h"
#include "sftp_config.h"
#include "sftp_service.h"
#include "store.h"
#include "workers.h"

/* One loaded set of profiles; jobs keep it alive while they run. */
struct profiles {
	int refs;               /* loop thread only */
	partner **list;
	size_t n;
	int64_t *next_pull_us;  /* per profile */
	int *pulling;
	struct sftp_breaker *breakers;
	pthread_mutex_t lock;   /* guards refs for worker-side lookups */
};

struct sftp_service {
	struct daemon *d;
	struct sftp_inbox *inbox;   /* NULL without [sftp] root */
	char *root;
	char *store_url;
	unsigned push_attempts;
	struct profiles *cur;
	pthread_mutex_t cur_lock;   /* cur is read by send() on workers */
	struct event *tick;
	sftp_inbox_stored_fn stored;
	void *ctx;
	pthread_key_t store_key;
	int key_ok;
};

struct pull_job {
	struct sftp_service *s;
	struct profiles *p;
	size_t i;
	int rc;
	struct sftp_pull_result res;
	struct sftp_client_error err;
};

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
profiles_unref(struct profiles *p)
{
	int last;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	last = --p->refs == 0;
	pthread_mutex_unlock(&p->lock);
	if (!last)
		return;
	for (size_t i = 0; i < p->n; i++)
		sftp_breaker_destroy(&p->breakers[i]);
	sftp_config_free_partners(p->list, p->n);
	free(p->next_pull_us);
	free(p->pulling);
	free(p->breakers);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static struct profiles *
profiles_ref(struct profiles *p)
{
	pthread_mutex_lock(&p->lock);
	p->refs++;
	pthread_mutex_unlock(&p->lock);
	return p;
}

static struct profiles *
profiles_load(const char *dir, char *err, size_t errsize)
{
	struct profiles *p = calloc(1, sizeof(*p));
	char *errors = NULL;

	if (p == NULL) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	p->refs = 1;
	/* No profile folder: no SFTP partner (a daemon for AS2 or the API
	 * alone need not have one). */
	if (access(dir, F_OK) != 0 && errno == ENOENT) {
		p->list = calloc(1, sizeof(*p->list));
	} else if (sftp_config_load_partners(dir, &p->list, &p->n, &errors)
	    != 0 || errors) {
		snprintf(err, errsize, "%s", errors ? errors :
		    "cannot read the partner profiles");
		free(errors);
		profiles_unref(p);
		return NULL;
	}
	p->next_pull_us = calloc(p->n + 1, sizeof(*p->next_pull_us));
	p->pulling = calloc(p->n + 1, sizeof(*p->pulling));
	p->breakers = calloc(p->n + 1, sizeof(*p->breakers));
	if (!p->next_pull_us || !p->pulling || !p->breakers) {
		snprintf(err, errsize, "out of memory");
		profiles_unref(p);
		return NULL;
	}
	for (size_t i = 0; i < p->n; i++)
		sftp_breaker_init(&p->breakers[i], 0, 0);
	return p;
}

static struct store *
thread_store(struct sftp_service *s, char *err, size_t errsize)
{
	struct store *st = pthread_getspecific(s->store_key);
	struct store_error ste;

	if (st)
		return st;
	if (store_open(&st, s->store_url, NULL, &ste) != STORE_OK) {
		snprintf(err, errsize, "store: %.400s", ste.message);
		return NULL;
	}
	pthread_setspecific(s->store_key, st);
	return st;
}

static void
close_store(void *st)
{
	store_close(st);
}

/* ---- pulls --------------------------------------------------------------- */

static void
pull_work(void *arg)
{
	struct pull_job *j = arg;
	struct store *st = thread_store(j->s, j->err.message,
	    sizeof(j->err.message));

	if (st == NULL) {
		j->rc = -1;
		return;
	}
	j->rc = sftp_client_pull(j->p->list[j->i]->sftp->pull,
	    j->p->list[j->i]->id, st, &j->res, &j->err);
}

static void inbox_stored(void *ctx, const char *partner_id, int64_t message_id);

static void
pull_done(void *arg, int cancelled)
{
	struct pull_job *j = arg;
	const partner *pt = j->p->list[j->i];
	char counts[96];

	j->p->pulling[j->i] = 0;
	j->p->next_pull_us[j->i] = now_us() +
	    (int64_t)pt->sftp->pull->poll_seconds * 1000000;
	if (!cancelled) {
		/* Pulled files go to the inbound pipeline like uploads. */
		for (unsigned k = 0; k < j->res.new_count; k++)
			inbox_stored(j->s, pt->id, j->res.new_ids[k]);
		snprintf(counts, sizeof(counts), "%u/%u/%u/%u", j->res.listed,
		    j->res.stored, j->res.duplicates, j->res.failed);
		if (j->rc != 0)
			log_error("sftp pull failed", "partner", pt->id,
			    "listed/stored/duplicate/failed", counts, "error",
			    j->err.message, NULL);
		else if (j->res.listed)
			log_info("sftp pull", "partner", pt->id,
			    "listed/stored/duplicate/failed", counts, NULL);
	}
	profiles_unref(j->p);
	free(j);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct sftp_service *s = arg;
	struct profiles *p = s->cur;
	int64_t now = now_us();

	(void)fd;
	(void)what;
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++) {
		const partner_sftp *sf = p->list[i]->sftp;
		if (sf == NULL || sf->pull == NULL || p->pulling[i] ||
		    now < p->next_pull_us[i])
			continue;
		struct pull_job *j = calloc(1, sizeof(*j));
		if (j == NULL)
			return;
		j->s = s;
		j->p = profiles_ref(p);
		j->i = i;
		if (workers_submit(daemon_workers(s->d), pull_work, pull_done,
		    j) != 0) {
			profiles_unref(p);
			free(j);
			return;  /* queue full: next tick */
		}
		p->pulling[i] = 1;
	}
}

/* ---- profiles and reload ----------------------------------------------------- */

static void
install(struct sftp_service *s, struct profiles *p)
{
	struct profiles *old;
	char err[1024];

	if (s->inbox && sftp_inbox_set_partners(s->inbox, p->list, p->n, err,
	    sizeof(err)) != 0)
		log_error("sftp: some inboxes are not watched", "error", err,
		    NULL);
	pthread_mutex_lock(&s->cur_lock);
	old = s->cur;
	s->cur = p;
	pthread_mutex_unlock(&s->cur_lock);
	profiles_unref(old);
}

static int
reload_prepare(void *ctx, const struct config *cfg, void **pending,
    char *err, size_t errsize)
{
	(void)ctx;
	*pending = profiles_load(cfg->partners_dir, err, errsize);
	return *pending ? 0 : -1;
}

static void
reload_commit(void *ctx, void *pending)
{
	install(ctx, pending);
}

static void
reload_abort(void *ctx, void *pending)
{
	(void)ctx;
	profiles_unref(pending);
}

static void
inbox_stored(void *ctx, const char *partner_id, int64_t message_id)
{
	struct sftp_service *s = ctx;

	if (s->stored)
		s->stored(s->ctx, partner_id, message_id);
}

struct sftp_service *
sftp_service_start(struct daemon *d, sftp_inbox_stored_fn stored, void *ctx,
    char *err, size_t errsize)
{
	static const struct daemon_reload_hook hook = {
		"sftp", reload_prepare, reload_commit, reload_abort
	};
	const struct config *cfg = daemon_config(d);
	struct sftp_service *s = calloc(1, sizeof(*s));
	struct timeval second = { 1, 0 };
	struct profiles *p;
	char perr[4096];

	if (s == NULL) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	s->d = d;
	s->stored = stored;
	s->ctx = ctx;
	s->push_attempts = cfg->sftp_push_attempts;
	pthread_mutex_init(&s->cur_lock, NULL);
	s->store_url = strdup(cfg->store_url);
	s->root = cfg->sftp_root ? strdup(cfg->sftp_root) : NULL;
	if (s->store_url == NULL || (cfg->sftp_root && s->root == NULL) ||
	    pthread_key_create(&s->store_key, close_store) != 0) {
		snprintf(err, errsize, "out of memory");
		free(s->store_url);
		free(s->root);
		free(s);
		return NULL;
	}
	s->key_ok = 1;
	if (cfg->sftp_root) {
		struct sftp_inbox_options opts = {
			.root = cfg->sftp_root,
			.store_url = cfg->store_url,
			.scan_interval_ms = cfg->sftp_scan_interval_ms,
			.stored = inbox_stored,
			.ctx = s,
		};
		s->inbox = sftp_inbox_new(daemon_base(d), daemon_workers(d),
		    &opts, err, errsize);
		if (s->inbox == NULL) {
			sftp_service_free(s);
			return NULL;
		}
	}
	/* A profile that does not load is logged; the daemon still runs
	 * (AS2 partners must not wait for a typo in an SFTP one). */
	p = profiles_load(cfg->partners_dir, perr, sizeof(perr));
	if (p)
		install(s, p);
	else
		log_error("sftp: partner profiles not loaded", "error", perr,
		    NULL);
	s->tick = event_new(daemon_base(d), -1, EV_PERSIST, on_tick, s);
	if (s->tick == NULL || event_add(s->tick, &second) != 0 ||
	    daemon_reload_hook_add(d, &hook, s) != 0) {
		snprintf(err, errsize, "cannot schedule the SFTP pulls");
		sftp_service_free(s);
		return NULL;
	}
	return s;
}

void
sftp_service_stop(struct sftp_service *s)
{
	if (s == NULL)
		return;
	if (s->tick)
		event_free(s->tick);
	s->tick = NULL;
	sftp_inbox_stop(s->inbox);
}

void
sftp_service_free(struct sftp_service *s)
{
	if (s == NULL)
		return;
	sftp_service_stop(s);
	sftp_inbox_free(s->inbox);
	profiles_unref(s->cur);
	if (s->key_ok)
		pthread_key_delete(s->store_key);
	pthread_mutex_destroy(&s->cur_lock);
	free(s->root);
	free(s->store_url);
	free(s);
}

/* ---- sending --------------------------------------------------------------- */

int
sftp_service_send(struct sftp_service *s, struct store *st,
    const char *partner_id, const char *name, const char *hash,
    char *err, size_t errsize)
{
	return sftp_service_send_attempts(s, st, partner_id, name, hash, 0,
	    err, errsize);
}

int
sftp_service_send_attempts(struct sftp_service *s, struct store *st,
    const char *partner_id, const char *name, const char *hash,
    unsigned attempts, char *err, size_t errsize)
{
	struct profiles *p;
	const partner *pt = NULL;
	struct sftp_client_error cerr;
	char path[4096];
	size_t i;
	int rc = -1, fd;

	pthread_mutex_lock(&s->cur_lock);
	p = s->cur ? profiles_ref(s->cur) : NULL;
	pthread_mutex_unlock(&s->cur_lock);
	if (p == NULL) {
		snprintf(err, errsize, "no partner profiles loaded");
		return -1;
	}
	for (i = 0; i < p->n && strcmp(p->list[i]->id, partner_id); i++)
		;
	if (i < p->n)
		pt = p->list[i];
	if (pt == NULL || pt->sftp == NULL) {
		snprintf(err, errsize, "partner %s has no SFTP transport",
		    partner_id);
	} else if (pt->sftp->inbound && s->root) {
		rc = sftp_outbox_write(s->root, pt->id, name, store_spool(st),
		    hash, err, errsize);
	} else if (pt->sftp->push) {
		if (spool_path(store_spool(st), hash, path, sizeof(path)) != 0 ||
		    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			snprintf(err, errsize, "spool: %s", strerror(errno));
		} else {
			rc = sftp_client_push_retry(pt->sftp->push, fd, name,
			    attempts ? attempts : s->push_attempts, 1000,
			    &p->breakers[i], &cerr);
			close(fd);
			if (rc != 0)
				snprintf(err, errsize, "%s", cerr.message);
		}
	} else {
		snprintf(err, errsize, "partner %s has neither an inbound "
		    "folder here nor a server to push to", partner_id);
	}
	/* Unref on the loop thread is not needed: the last reference of a
	 * replaced set may be dropped here, which frees plain memory only. */
	profiles_unref(p);
	return rc;
}

/* 1 when the partner's files go to its own server (no outbox here). */
static int
sftp_service_pushes(struct sftp_service *s, const char *partner_id)
{
	struct profiles *p;
	int push = 0;

	pthread_mutex_lock(&s->cur_lock);
	p = s->cur ? profiles_ref(s->cur) : NULL;
	pthread_mutex_unlock(&s->cur_lock);
	if (p == NULL)
		return 0;
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->list[i]->id, partner_id) == 0) {
			const partner_sftp *sf = p->list[i]->sftp;

			push = sf && sf->push && !(sf->inbound && s->root);
			break;
		}
	profiles_unref(p);
	return push;
}

int
sftp_service_send_ack(void *ctx, struct store *st,
    const struct inbound_ack *ack, char *err, size_t errsize)
{
	struct store_message m;
	struct store_error ste;
	char name[96];

	if (ack->partner == NULL) {
		snprintf(err, errsize, "ack without a partner");
		return -1;
	}
	if (store_message_get(st, ack->message_id, &m, &ste) != STORE_OK) {
		snprintf(err, errsize, "store: %.400s", ste.message);
		return -1;
	}
	/* A push may retry for a minute or more: the delivery worker does
	 * it from the queue (with backoff, one attempt per claim) instead
	 * of this worker thread. Its file name is the same as ours. */
	if (sftp_service_pushes(ctx, ack->partner->id)) {
		struct store_error qe;
		char key[64], endpoint[STORE_ENDPOINT_MAX + 1];
		int64_t did;
		int existed;

		snprintf(key, sizeof(key), "sftp:%" PRId64, ack->message_id);
		snprintf(endpoint, sizeof(endpoint), "sftp:%s",
		    ack->partner->id);
		if (store_delivery_enqueue(st, ack->message_id, endpoint, key,
		    store_now_us(), &did, &existed, &qe) != STORE_OK) {
			snprintf(err, errsize, "store: %.400s", qe.message);
			return -1;
		}
		return 0;
	}
	snprintf(name, sizeof(name), "%s-%" PRId64 ".edi", ack->ack_type,
	    ack->message_id);
	return sftp_service_send(ctx, st, ack->partner->id, name,
	    m.payload_hash, err, errsize);
}
