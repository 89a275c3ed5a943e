/*
 * reconcile_job - see reconcile_job.h.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "configfile.h"
#include "daemon.h"
#include "log.h"
#include "metrics.h"
#include "reconcile.h"
#include "reconcile_job.h"
#include "store.h"
#include "workers.h"

#define DAY_US (86400LL * 1000000)
#define HOUR_US (3600LL * 1000000)

struct settings {
	int64_t interval_us;
	int64_t response_us, ship_us, invoice_us, ack_us;
};

struct reconcile_job {
	struct daemon *d;
	struct store *st;
	struct event *timer;
	struct settings set;
	struct metrics_family *orders, *complete, *exceptions, *runs;
	int running;
	/* Written by the job, read by done() on the loop. */
	int job_rc;
	char job_error[512];
	struct reconcile_report report;
};

static int
bad(char *err, size_t errsize, const struct config *cfg, unsigned line,
    const char *key, const char *want, const char *value)
{
	snprintf(err, errsize, "%s:%u: %s: expected %s, found \"%s\"", cfg->path,
	    line, key, want, value);
	return -1;
}

/* "90s", "15m", "1h", "0", plain seconds. */
static int
interval_us(const char *v, int64_t *out)
{
	char *end;
	double n = strtod(v, &end);

	if (end == v || n < 0)
		return -1;
	if (!strcmp(end, "m"))
		n *= 60;
	else if (!strcmp(end, "h"))
		n *= 3600;
	else if (strcmp(end, "s") && *end)
		return -1;
	if (n > 86400 * 31 || (n > 0 && n < 1))
		return -1;
	*out = (int64_t)(n * 1e6);
	return 0;
}

static int
whole(const char *v, long max, long *out)
{
	char *end;
	long n = strtol(v, &end, 10);

	if (end == v || *end || n < 0 || n > max)
		return -1;
	*out = n;
	return 0;
}

static int
load(const struct config *cfg, struct settings *s, char *err, size_t errsize)
{
	const struct config_section *sec = config_section_find(cfg,
	    "reconcile");
	size_t i;

	s->interval_us = HOUR_US;
	s->response_us = 2 * DAY_US;
	s->ship_us = 5 * DAY_US;
	s->invoice_us = 3 * DAY_US;
	s->ack_us = 24 * HOUR_US;
	for (i = 0; sec && i < sec->nentries; i++) {
		const struct config_entry *e = &sec->entries[i];
		long n;
		if (!strcmp(e->key, "interval")) {
			if (interval_us(e->value, &s->interval_us))
				return bad(err, errsize, cfg, e->line, e->key,
				    "0 or a duration from 1s to 31 days (90s, "
				    "15m, 1h)", e->value);
		} else if (!strcmp(e->key, "ack_hours")) {
			if (whole(e->value, 24 * 3660, &n))
				return bad(err, errsize, cfg, e->line, e->key,
				    "a whole number of hours", e->value);
			s->ack_us = n * HOUR_US;
		} else if (!strcmp(e->key, "response_days") ||
		    !strcmp(e->key, "ship_days") ||
		    !strcmp(e->key, "invoice_days")) {
			if (whole(e->value, 3660, &n))
				return bad(err, errsize, cfg, e->line, e->key,
				    "a whole number of days", e->value);
			*(e->key[0] == 'r' ? &s->response_us : e->key[0] ==
			    's' ? &s->ship_us : &s->invoice_us) = n * DAY_US;
		} else {
			snprintf(err, errsize, "%s:%u: unknown key \"%s\" in "
			    "[reconcile] (expected interval, response_days, "
			    "ship_days, invoice_days, ack_hours)", cfg->path,
			    e->line, e->key);
			return -1;
		}
	}
	return 0;
}

int
reconcile_job_check(const struct config *cfg, char *err, size_t errsize)
{
	struct settings s;

	return load(cfg, &s, err, errsize);
}

static void
work(void *arg)
{
	struct reconcile_job *j = arg;
	struct reconcile_doc *docs = NULL;
	struct reconcile_options o;
	struct store_error se;
	size_t n = 0;

	reconcile_report_free(&j->report);
	memset(&j->report, 0, sizeof(j->report));
	memset(&o, 0, sizeof(o));
	o.now_us = store_now_us();
	o.response_us = j->set.response_us;
	o.ship_us = j->set.ship_us;
	o.invoice_us = j->set.invoice_us;
	j->job_rc = reconcile_collect(j->st, NULL, j->set.ack_us, &docs, &n,
	    &se);
	if (j->job_rc != 0) {
		snprintf(j->job_error, sizeof(j->job_error), "%s", se.message);
		return;
	}
	j->job_rc = reconcile_build(docs, n, &o, &j->report);
	if (j->job_rc != 0)
		snprintf(j->job_error, sizeof(j->job_error), "out of memory");
	free(docs);
}

static void
iso(int64_t us, char *out, size_t size)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
done(void *arg, int cancelled)
{
	struct reconcile_job *j = arg;
	const struct reconcile_report *r = &j->report;
	int64_t orders = 0, complete = 0, by[4] = { 0, 0, 0, 0 };
	char a[32], b[32], c[32], since[32], msg[32];
	size_t i;

	j->running = 0;
	if (cancelled)
		return;
	if (j->job_rc) {
		metrics_counter_add(j->runs, (const char *[]){ "failed" }, 1);
		log_error("reconcile run failed", "error", j->job_error, NULL);
		return;
	}
	metrics_counter_add(j->runs, (const char *[]){ "ok" }, 1);
	for (i = 0; i < r->partner_count; i++) {
		orders += r->partners[i].orders;
		complete += r->partners[i].complete;
	}
	for (i = 0; i < r->exception_count; i++) {
		const struct reconcile_exception *e = &r->exceptions[i];
		if ((unsigned)e->reason < 4)
			by[e->reason]++;
		if (i >= RECONCILE_JOB_LOG_MAX)
			continue;
		iso(e->since_us, since, sizeof(since));
		snprintf(msg, sizeof(msg), "%lld", (long long)e->message_id);
		log_warn("reconcile exception", "partner", e->partner,
		    "order_number", e->order_number, "reason",
		    reconcile_reason_name(e->reason), "waiting_for",
		    reconcile_kind_name(e->kind), "message_type",
		    e->message_type, "message_id", msg, "since", since, NULL);
	}
	metrics_gauge_set(j->orders, NULL, (double)orders);
	metrics_gauge_set(j->complete, NULL, (double)complete);
	for (i = 0; i < 4; i++)
		metrics_gauge_set(j->exceptions, (const char *[]){
		    reconcile_reason_name((enum reconcile_reason)i) },
		    (double)by[i]);
	snprintf(a, sizeof(a), "%lld", (long long)orders);
	snprintf(b, sizeof(b), "%lld", (long long)complete);
	snprintf(c, sizeof(c), "%zu", r->exception_count);
	if (r->exception_count)
		log_warn("reconcile run", "orders", a, "complete", b,
		    "exceptions", c, NULL);
	else
		log_info("reconcile run", "orders", a, "complete", b,
		    "exceptions", c, NULL);
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
	struct reconcile_job *j = arg;

	(void)fd;
	(void)what;
	if (j->running)
		return;
	j->running = 1;
	if (workers_submit(daemon_workers(j->d), work, done, j) != 0)
		j->running = 0;
}

struct reconcile_job *
reconcile_job_new(struct daemon *d, char *err, size_t errsize)
{
	struct reconcile_job *j = calloc(1, sizeof(*j));
	struct metrics *m = daemon_metrics(d);
	struct store_error se;
	struct timeval every;

	if (j == NULL) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	j->d = d;
	if (load(daemon_config(d), &j->set, err, errsize) != 0) {
		free(j);
		return NULL;
	}
	if (j->set.interval_us == 0)
		return j;
	j->orders = metrics_gauge(m, "edigate_reconcile_orders",
	    "Orders in the last reconciliation", NULL);
	j->complete = metrics_gauge(m, "edigate_reconcile_complete",
	    "Order chains complete in the last reconciliation", NULL);
	j->exceptions = metrics_gauge(m, "edigate_reconcile_exceptions",
	    "Exceptions of the last reconciliation by reason",
	    (const char *[]){ "reason", NULL });
	j->runs = metrics_counter(m, "edigate_reconcile_runs_total",
	    "Reconciliation runs by result", (const char *[]){ "result", NULL });
	if (store_open(&j->st, daemon_config(d)->store_url, NULL, &se) != 0) {
		snprintf(err, errsize, "store: %s", se.message);
		free(j);
		return NULL;
	}
	every.tv_sec = (time_t)(j->set.interval_us / 1000000);
	every.tv_usec = (suseconds_t)(j->set.interval_us % 1000000);
	if ((j->timer = event_new(daemon_base(d), -1, EV_PERSIST, tick, j)) ==
	    NULL || event_add(j->timer, &every) != 0) {
		snprintf(err, errsize, "timer");
		reconcile_job_stop(j);
		reconcile_job_free(j);
		return NULL;
	}
	return j;
}

void
reconcile_job_stop(struct reconcile_job *j)
{
	if (j && j->timer) {
		event_free(j->timer);
		j->timer = NULL;
	}
}

void
reconcile_job_free(struct reconcile_job *j)
{
	if (j == NULL)
		return;
	reconcile_job_stop(j);
	store_close(j->st);
	reconcile_report_free(&j->report);
	free(j);
}
