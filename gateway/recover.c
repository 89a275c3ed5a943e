/*
 * recover - the sweep that hands messages of dead nodes back (recover.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "configfile.h"
#include "daemon.h"
#include "inbound.h"
#include "log.h"
#include "recover.h"
#include "store.h"
#include "workers.h"

struct recover {
	struct daemon *d;
	struct inbound *in;
	struct store *st;          /* the sweep's own connection, opened by
	                              the first sweep (on a worker) */
	char *store_url;
	struct event *timer;
	struct recover_options o;  /* loop thread; a reload changes it */
	char owner[80];
	int running;
	/* Set by tick() before the job, read by it. */
	struct recover_options job_o;
	/* Written by the job, read by done() on the loop thread. */
	int job_rc;
	int64_t job_ids[RECOVER_BATCH];
	size_t job_n;
	char job_error[512];
};

int
recover_configure(const struct config *cfg, struct recover_options *o,
    char *err, size_t errsize)
{
	const struct config_section *sec = config_section_find(cfg,
	    "recovery");

	o->interval_us = RECOVER_INTERVAL_DEFAULT_US;
	o->lease_us = INBOUND_CLAIM_LEASE_DEFAULT_US;
	for (size_t i = 0; sec && i < sec->nentries; i++) {
		const struct config_entry *e = &sec->entries[i];
		int64_t v;
		int is_interval = strcmp(e->key, "interval") == 0;
		if (!is_interval && strcmp(e->key, "lease") != 0) {
			snprintf(err, errsize, "%s:%u: unknown key \"%s\" in "
			    "[recovery] (expected interval or lease)",
			    cfg->path, e->line, e->key);
			return -1;
		}
		if (is_interval && strcmp(e->value, "off") == 0) {
			o->interval_us = 0;
			continue;
		}
		if (inbound_parse_window(e->value, &v) != 0 || v <= 0 ||
		    v == INBOUND_DUPLICATES_FOREVER) {
			snprintf(err, errsize, "%s:%u: %s must be a duration "
			    "such as 30s, 5m or 1h%s", cfg->path, e->line,
			    e->key, is_interval ? ", or off" : "");
			return -1;
		}
		if (is_interval)
			o->interval_us = v;
		else
			o->lease_us = v;
	}
	/* A lease shorter than the renewal interval would run out under a
	 * live node and hand its work to another one. */
	if (o->interval_us > 0 && o->lease_us <= o->interval_us) {
		snprintf(err, errsize, "%s:%u: [recovery] lease must be longer "
		    "than interval (a live node renews its claims once per "
		    "interval)", cfg->path, sec ? sec->line : 0);
		return -1;
	}
	return 0;
}

struct collect {
	int64_t *ids;
	size_t room, n;
};

static int
collect_in(void *ud, const struct store_message *m)
{
	struct collect *c = ud;
	/* The API's documents are canonical JSON routed by the API itself,
	 * not EDI for the pipeline. */
	if (m->direction == STORE_IN && strcmp(m->transport, "api") != 0 &&
	    c->n < c->room)
		c->ids[c->n++] = m->id;
	return 0;
}

int
recover_sweep(struct store *st, const char *owner, int64_t lease_us,
    int64_t now_us, int64_t idle_before_us, unsigned limit, int64_t *ids,
    size_t *n, int64_t *renewed, struct store_error *err)
{
	size_t found = 0, out = 0;
	int rc;

	*n = 0;
	if (limit == 0)
		return STORE_OK;
	if (owner && (rc = store_message_renew_claims(st, owner, lease_us,
	    renewed, err)) != STORE_OK)
		return rc;
	if ((rc = store_message_stale_claims(st, now_us, limit, ids, &found,
	    err)) != STORE_OK)
		return rc;
	for (size_t i = 0; i < found; i++) {
		char detail[160];
		snprintf(detail, sizeof(detail), "{\"reason\":\"lease expired\","
		    "\"by\":\"%s\"}", owner ? owner : "");
		rc = store_message_release_claim(st, ids[i], now_us, detail,
		    err);
		if (rc == STORE_ECONFLICT)
			continue;  /* renewed, finished or released meanwhile */
		if (rc != STORE_OK)
			return rc;
		ids[out++] = ids[i];
	}
	*n = out;
	if (idle_before_us <= 0 || out >= limit)
		return STORE_OK;
	/* "received" for a whole interval: released by hand (edigate store
	 * requeue) or left by a full worker queue. A transport submits what
	 * it stores at once, so these are nobody's; a second submit of one
	 * is refused by the claim anyway. */
	struct store_message_filter f = { .state = "received",
	    .until_us = idle_before_us, .limit = limit - (unsigned)out };
	struct collect col = { ids + out, limit - out, 0 };
	if ((rc = store_message_list(st, &f, collect_in, &col, err)) !=
	    STORE_OK)
		return rc;
	*n = out + col.n;
	return STORE_OK;
}

static void
sweep_work(void *arg)
{
	struct recover *r = arg;
	struct store_error err;

	r->job_n = 0;
	if (r->st == NULL && (r->job_rc = store_open(&r->st, r->store_url,
	    NULL, &err)) != STORE_OK) {
		r->st = NULL;
		snprintf(r->job_error, sizeof(r->job_error), "%s", err.message);
		return;
	}
	r->job_rc = recover_sweep(r->st, r->owner, r->job_o.lease_us,
	    store_now_us(), store_now_us() - r->job_o.interval_us,
	    RECOVER_BATCH, r->job_ids, &r->job_n, NULL, &err);
	if (r->job_rc)
		snprintf(r->job_error, sizeof(r->job_error), "%s", err.message);
}

static void
sweep_done(void *arg, int cancelled)
{
	struct recover *r = arg;

	r->running = 0;
	if (cancelled)
		return;
	if (r->job_rc) {
		log_error("recovery sweep failed; the next one tries again",
		    "error", r->job_error, NULL);
		/* Released ones of this run are "received" and still go. */
	}
	for (size_t i = 0; i < r->job_n; i++) {
		char id[24];
		snprintf(id, sizeof(id), "%lld", (long long)r->job_ids[i]);
		log_warn("inbound message waiting (cut short on a node that "
		    "stopped, or requeued); processing it", "message_id", id,
		    NULL);
		/* A full queue leaves it "received": the next start or a
		 * resubmit takes it. */
		if (inbound_submit(r->in, r->job_ids[i], NULL, NULL) !=
		    INBOUND_OK)
			log_warn("recovered message not submitted (queue "
			    "full); it waits for the next start",
			    "message_id", id, NULL);
	}
}

static void
sweep_tick(evutil_socket_t fd, short what, void *arg)
{
	struct recover *r = arg;

	(void)fd;
	(void)what;
	if (r->running)
		return;
	r->running = 1;
	r->job_o = r->o;
	if (workers_submit(daemon_workers(r->d), sweep_work, sweep_done, r)
	    != 0)
		r->running = 0;
}

/* (Re)arms the timer for r->o.interval_us; none when it is 0. */
static int
arm(struct recover *r)
{
	struct timeval tv;

	if (r->o.interval_us == 0) {
		if (r->timer)
			event_del(r->timer);
		return 0;
	}
	if (r->timer == NULL && (r->timer = event_new(daemon_base(r->d), -1,
	    EV_PERSIST, sweep_tick, r)) == NULL)
		return -1;
	tv.tv_sec = (time_t)(r->o.interval_us / 1000000);
	tv.tv_usec = (suseconds_t)(r->o.interval_us % 1000000);
	return event_add(r->timer, &tv);
}

/* SIGHUP: [recovery] is read again; a wrong value keeps the running one. */
static int
reload_prepare(void *ctx, const struct config *cfg, void **pending,
    char *err, size_t errsize)
{
	struct recover_options *o = malloc(sizeof(*o));

	(void)ctx;
	if (o == NULL) {
		snprintf(err, errsize, "recovery: out of memory");
		return -1;
	}
	if (recover_configure(cfg, o, err, errsize) != 0) {
		free(o);
		return -1;
	}
	*pending = o;
	return 0;
}

static void
reload_commit(void *ctx, void *pending)
{
	struct recover *r = ctx;
	struct recover_options *o = pending;

	r->o = *o;
	free(o);
	inbound_set_claim_lease(r->in, r->o.lease_us);
	if (arm(r) != 0)
		log_error("recovery sweep not rescheduled after the reload",
		    NULL);
}

static void
reload_abort(void *ctx, void *pending)
{
	(void)ctx;
	free(pending);
}

struct recover *
recover_start(struct daemon *d, struct inbound *in, char *err,
    size_t errsize)
{
	static const struct daemon_reload_hook hook = {
		"recovery", reload_prepare, reload_commit, reload_abort,
	};
	struct recover *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	r->d = d;
	r->in = in;
	if (recover_configure(daemon_config(d), &r->o, err, errsize) != 0) {
		free(r);
		return NULL;
	}
	/* The store of the daemon's start: a reload does not move it. */
	if ((r->store_url = strdup(daemon_config(d)->store_url)) == NULL) {
		snprintf(err, errsize, "out of memory");
		free(r);
		return NULL;
	}
	snprintf(r->owner, sizeof(r->owner), "%s", inbound_claim_owner(in));
	inbound_set_claim_lease(in, r->o.lease_us);
	if (arm(r) != 0 || daemon_reload_hook_add(d, &hook, r) != 0) {
		snprintf(err, errsize, "recovery: no timer");
		recover_stop(r);
		recover_free(r);
		return NULL;
	}
	return r;
}

void
recover_stop(struct recover *r)
{
	if (r == NULL || r->timer == NULL)
		return;
	event_free(r->timer);
	r->timer = NULL;
}

void
recover_free(struct recover *r)
{
	if (r == NULL)
		return;
	recover_stop(r);
	store_close(r->st);
	free(r->store_url);
	free(r);
}
