/*
 * sftp_deliver - the "sftp:" delivery queue worker. See sftp_deliver.h.
 */
#include "config.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "configfile.h"
#include "daemon.h"
#include "log.h"
#include "sftp_deliver.h"
#include "sftp_service.h"
#include "store.h"
#include "workers.h"

/* Long enough for one push (each SFTP operation times out after 30 s). */
#define DELIVER_LEASE_US (600LL * 1000000)
#define DELIVER_BASE_MS 1000
#define DELIVER_MAX_MS 60000

struct sftp_deliver {
	struct daemon *d;
	struct sftp_service *svc;
	struct store *st;            /* loop thread: claims */
	struct event *timer;
	unsigned inflight;
	unsigned max_attempts;
	char *store_url;
	pthread_key_t store_key;     /* worker threads: transfers */
	int key_ok;
	char worker[64];
};

struct deliver_job {
	struct sftp_deliver *x;
	struct store_delivery dl;
};

int64_t
sftp_deliver_backoff_us(unsigned attempt, unsigned base_ms, unsigned max_ms)
{
	int64_t d = (int64_t)base_ms * 1000, max = (int64_t)max_ms * 1000;

	for (unsigned i = 1; i < attempt && d < max; i++)
		d *= 2;
	return d > max ? max : d;
}

static void
close_store(void *st)
{
	store_close(st);
}

static struct store *
thread_store(struct sftp_deliver *x, char *err, size_t errsize)
{
	struct store *st = pthread_getspecific(x->store_key);
	struct store_error e;

	if (st)
		return st;
	if (store_open(&st, x->store_url, NULL, &e) != STORE_OK) {
		snprintf(err, errsize, "store: %.400s", e.message);
		return NULL;
	}
	pthread_setspecific(x->store_key, st);
	return st;
}

static void
record(struct store *st, const struct store_message *m, const char *kind,
    json_t *detail)
{
	struct store_error e;
	char *d = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS)
	    : NULL;

	json_decref(detail);
	if (store_event_append(st, m->id, m->correlation_id, kind, d, NULL,
	    &e) != STORE_OK)
		log_error("sftp deliver: cannot record an event", "kind", kind,
		    "error", e.message, "correlation_id", m->correlation_id,
		    NULL);
	free(d);
}

static void
set_state(struct store *st, const struct store_message *m, const char *state,
    json_t *detail)
{
	struct store_error e;
	char *d = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS)
	    : NULL;
	int rc;

	json_decref(detail);
	rc = store_message_set_state(st, m->id, NULL, state, d, &e);
	if (rc != STORE_OK && rc != STORE_ECONFLICT)
		log_error("sftp deliver: cannot change the message state",
		    "state", state, "error", e.message, "correlation_id",
		    m->correlation_id, NULL);
	free(d);
}

/* On a worker thread: one attempt, then the queue and the message learn
 * how it went. Touches only the job, its own store connection and the
 * service (whose send() is thread-safe). */
static void
deliver_work(void *arg)
{
	struct deliver_job *j = arg;
	struct sftp_deliver *x = j->x;
	const char *pid = j->dl.endpoint + strlen(SFTP_DELIVER_PREFIX);
	struct store_message m;
	struct store_error e;
	struct store *st;
	char err[512] = "", name[128];
	int64_t next;
	int dead = 0, rc;

	st = thread_store(x, err, sizeof(err));
	if (st == NULL) {
		/* The claim expires and a later tick tries again. */
		log_error("sftp deliver: no store", "error", err, NULL);
		return;
	}
	if (store_message_get(st, j->dl.message_id, &m, &e) != STORE_OK) {
		store_delivery_fail(st, j->dl.id, x->worker, e.message,
		    store_now_us(), 1, &dead, &e);
		return;
	}
	snprintf(name, sizeof(name), "%s-%" PRId64 ".edi",
	    m.message_type[0] ? m.message_type : "edigate", m.id);
	rc = sftp_service_send_attempts(x->svc, st, pid, name,
	    m.payload_hash, 1, err, sizeof(err));
	if (rc == 0) {
		if (store_delivery_done(st, j->dl.id, x->worker, &e)
		    != STORE_OK)
			log_warn("sftp deliver: delivery claim lost", "error",
			    e.message, "correlation_id", m.correlation_id,
			    NULL);
		record(st, &m, "sftp.sent", json_pack("{s:s, s:s, s:i}",
		    "partner", pid, "name", name, "attempt",
		    j->dl.attempts));
		set_state(st, &m, "delivered", json_pack("{s:s, s:i}",
		    "transport", "sftp", "attempts", j->dl.attempts));
		log_info("sftp file delivered", "partner", pid, "name",
		    name, "correlation_id", m.correlation_id, NULL);
		return;
	}
	next = store_now_us() + sftp_deliver_backoff_us(
	    (unsigned)(j->dl.attempts > 0 ? j->dl.attempts : 1),
	    DELIVER_BASE_MS, DELIVER_MAX_MS);
	if (store_delivery_fail(st, j->dl.id, x->worker, err, next,
	    (int)x->max_attempts, &dead, &e) != STORE_OK) {
		log_error("sftp deliver: cannot requeue", "error", e.message,
		    "correlation_id", m.correlation_id, NULL);
		return;
	}
	record(st, &m, "sftp.attempt-failed", json_pack(
	    "{s:s, s:i, s:s, s:b, s:I}", "partner", pid, "attempt",
	    j->dl.attempts, "error", err, "dead", dead, "next_attempt_us",
	    (json_int_t)(dead ? 0 : next)));
	if (dead) {
		set_state(st, &m, "failed", json_pack("{s:s, s:i}", "error",
		    err, "attempts", j->dl.attempts));
		log_warn("sftp delivery failed after the retry limit",
		    "partner", pid, "error", err, "correlation_id",
		    m.correlation_id, NULL);
	} else {
		log_info("sftp delivery will be retried", "partner", pid,
		    "error", err, "correlation_id", m.correlation_id, NULL);
	}
}

static void
deliver_done(void *arg, int cancelled)
{
	struct deliver_job *j = arg;

	/* Cancelled (shutting down): the claim expires, a later run sends. */
	(void)cancelled;
	if (j->x->inflight > 0)
		j->x->inflight--;
	free(j);
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
	struct sftp_deliver *x = arg;
	struct store_error e;

	(void)fd;
	(void)what;
	while (x->inflight < SFTP_DELIVER_MAX_INFLIGHT) {
		struct deliver_job *j = calloc(1, sizeof(*j));
		int dead, rc;

		if (j == NULL)
			return;
		rc = store_delivery_claim_prefix(x->st, x->worker,
		    SFTP_DELIVER_PREFIX, store_now_us(), DELIVER_LEASE_US,
		    &j->dl, &e);
		if (rc != STORE_OK) {
			if (rc != STORE_ENOTFOUND)
				log_error("sftp deliver: cannot claim", "error",
				    e.message, NULL);
			free(j);
			return;
		}
		j->x = x;
		x->inflight++;
		if (workers_submit(daemon_workers(x->d), deliver_work,
		    deliver_done, j) != 0) {
			/* Queue full: back soon, without counting against
			 * the partner's attempts limit. */
			x->inflight--;
			store_delivery_fail(x->st, j->dl.id, x->worker,
			    "worker queue full", store_now_us() + 1000000,
			    1 << 30, &dead, &e);
			free(j);
			return;
		}
	}
}

struct sftp_deliver *
sftp_deliver_start(struct daemon *d, struct sftp_service *svc,
    unsigned poll_ms, char *err, size_t errsize)
{
	const struct config *cfg = daemon_config(d);
	struct sftp_deliver *x = calloc(1, sizeof(*x));
	struct store_error e;
	struct timeval tv;
	char host[40] = "node";

	if (x == NULL) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	x->d = d;
	x->svc = svc;
	x->max_attempts = cfg->sftp_push_attempts ? cfg->sftp_push_attempts
	    : 5;
	gethostname(host, sizeof(host) - 1);
	snprintf(x->worker, sizeof(x->worker), "sftp-%s-%ld", host,
	    (long)getpid());
	x->store_url = strdup(cfg->store_url);
	if (x->store_url == NULL ||
	    pthread_key_create(&x->store_key, close_store) != 0) {
		snprintf(err, errsize, "out of memory");
		sftp_deliver_free(x);
		return NULL;
	}
	x->key_ok = 1;
	if (store_open(&x->st, cfg->store_url, NULL, &e) != STORE_OK) {
		snprintf(err, errsize, "sftp deliver: store: %.400s",
		    e.message);
		sftp_deliver_free(x);
		return NULL;
	}
	if (poll_ms == 0)
		poll_ms = 500;
	tv.tv_sec = poll_ms / 1000;
	tv.tv_usec = (poll_ms % 1000) * 1000;
	x->timer = event_new(daemon_base(d), -1, EV_PERSIST, tick, x);
	if (x->timer == NULL || event_add(x->timer, &tv) != 0) {
		snprintf(err, errsize, "cannot schedule the SFTP deliveries");
		sftp_deliver_free(x);
		return NULL;
	}
	return x;
}

void
sftp_deliver_stop(struct sftp_deliver *x)
{
	if (x == NULL || x->timer == NULL)
		return;
	event_free(x->timer);
	x->timer = NULL;
}

void
sftp_deliver_free(struct sftp_deliver *x)
{
	if (x == NULL)
		return;
	sftp_deliver_stop(x);
	if (x->st)
		store_close(x->st);
	/* The worker threads' connections closed when they were joined. */
	if (x->key_ok)
		pthread_key_delete(x->store_key);
	free(x->store_url);
	free(x);
}
