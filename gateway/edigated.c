/*
 * edigated - the edigate daemon: AS2 and API listeners on one event loop.
 *
 *   edigated [-f] [-c FILE]   run in the foreground (systemd supervises)
 *   edigated -t [-c FILE]     check the configuration, exit 0 or 1
 *   edigated --version
 *
 * Order matters and is the point of this file: read the configuration,
 * set up the daemon, bind the listeners and load the TLS keys while still
 * privileged, drop privileges, then let modules open what they need as
 * the unprivileged user, then run.
 */
#include "config.h"

#include <getopt.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "as2_receive.h"
#include "as2_send.h"
#include "configfile.h"
#include "daemon.h"
#include "deliver.h"
#include "inbound.h"
#include "log.h"
#include "recover.h"
#include "reconcile_job.h"
#include "route.h"
#include "store.h"
#include "ack_track.h"
#include "cert_watch.h"
#include "sftp_service.h"
#include "sftp_deliver.h"

#include <event2/event.h>

/*
 * The store's health: a primary-key lookup of a message id that never
 * exists. "Not found" proves the database answers, at the cost of one
 * index probe. The probe runs on a worker thread every few seconds,
 * because a PostgreSQL server that does not answer would block the event
 * loop; /healthz reports the last result, and calls it stale when no
 * probe has come back for a while (a hung connection).
 */
#define STORE_PROBE_SECONDS 5
#define STORE_PROBE_STALE_SECONDS 30

struct store_probe {
	struct daemon *d;
	struct store *st;
	struct event *timer;
	int running;           /* a probe job is queued or running */
	int ok;                /* last result */
	char error[512];       /* last failure */
	time_t last_done;      /* when the last probe came back */
	/* written by the job, read by done() on the loop thread */
	int job_ok;
	char job_error[512];
};

static void
probe_work(void *arg)
{
	struct store_probe *p = arg;
	struct store_message m;
	struct store_error err;
	int rc = store_message_get(p->st, 0, &m, &err);

	p->job_ok = rc == STORE_OK || rc == STORE_ENOTFOUND;
	if (!p->job_ok)
		snprintf(p->job_error, sizeof(p->job_error), "%s", err.message);
}

static void
probe_done(void *arg, int cancelled)
{
	struct store_probe *p = arg;

	p->running = 0;
	if (cancelled)
		return;
	if (p->ok && !p->job_ok)
		log_error("store unreachable", "error", p->job_error, NULL);
	else if (!p->ok && p->job_ok)
		log_info("store reachable again", NULL);
	p->ok = p->job_ok;
	snprintf(p->error, sizeof(p->error), "%s", p->job_error);
	p->last_done = time(NULL);
}

static void
probe_tick(evutil_socket_t fd, short what, void *arg)
{
	struct store_probe *p = arg;

	if (p->running)
		return;
	p->running = 1;
	if (workers_submit(daemon_workers(p->d), probe_work, probe_done, p) != 0)
		p->running = 0;
}

static int
store_health(void *ctx, char *detail, size_t size)
{
	struct store_probe *p = ctx;

	if (time(NULL) - p->last_done > STORE_PROBE_STALE_SECONDS) {
		snprintf(detail, size, "unreachable: no answer for %d s",
		    STORE_PROBE_STALE_SECONDS);
		return 1;
	}
	if (p->ok)
		return 0;
	snprintf(detail, size, "unreachable: %s", p->error);
	return 1;
}

/*
 * Ack tracking: the overdue check (ack_track.h) every minute, on a worker
 * with its own store connection, one run at a time. A failed run is
 * logged and the next tick tries again. The gauges edigate_acks_pending
 * and edigate_acks_overdue follow the store after each run.
 */
#ifndef ACK_OVERDUE_SECONDS
#define ACK_OVERDUE_SECONDS 60
#endif

struct ack_overdue {
	struct daemon *d;
	struct store *st;
	struct event *timer;
	struct metrics_family *pending, *overdue;
	int running;
	int job_rc;            /* written by the job, read by done() */
	unsigned job_marked;
	int64_t job_pending, job_overdue;
	char job_error[512];
};

static void
ack_overdue_work(void *arg)
{
	struct ack_overdue *a = arg;
	struct store_error err;

	struct store_info info;

	a->job_rc = ack_track_overdue(a->st, 0, &a->job_marked, &err);
	if (a->job_rc == 0)
		a->job_rc = store_info(a->st, &info, &err);
	if (a->job_rc == 0) {
		a->job_pending = info.acks_pending;
		a->job_overdue = info.acks_overdue;
	}
	if (a->job_rc)
		snprintf(a->job_error, sizeof(a->job_error), "%s", err.message);
}

static void
ack_overdue_done(void *arg, int cancelled)
{
	struct ack_overdue *a = arg;
	char marked[16];

	a->running = 0;
	if (cancelled)
		return;
	if (a->job_rc) {
		log_error("ack overdue check failed", "error", a->job_error, NULL);
		return;
	}
	metrics_gauge_set(a->pending, NULL, (double)a->job_pending);
	metrics_gauge_set(a->overdue, NULL, (double)a->job_overdue);
	if (a->job_marked > 0) {
		snprintf(marked, sizeof(marked), "%u", a->job_marked);
		log_warn("acknowledgments overdue", "count", marked, NULL);
	}
}

static void
ack_overdue_tick(evutil_socket_t fd, short what, void *arg)
{
	struct ack_overdue *a = arg;

	(void)fd;
	(void)what;
	if (a->running)
		return;
	a->running = 1;
	if (workers_submit(daemon_workers(a->d), ack_overdue_work,
	    ack_overdue_done, a) != 0)
		a->running = 0;
}

/* A new inbound message from SFTP (inbox or pull) goes to the inbound
 * pipeline. A full worker queue leaves it "received": the next start
 * resubmits it. */
static void
sftp_stored(void *ctx, const char *partner_id, int64_t message_id)
{
	char id[24];

	if (inbound_submit(ctx, message_id, NULL, NULL) != INBOUND_OK) {
		snprintf(id, sizeof(id), "%lld", (long long)message_id);
		log_warn("sftp message not submitted; it waits for the next "
		    "start", "partner", partner_id, "message_id", id, NULL);
	}
}

/* The API runs when a token may use it, the webhook worker when there is
 * a webhook: a transport-only node needs neither. */
static int
has_section(const struct config *cfg, const char *prefix)
{
	size_t i;

	for (i = 0; i < cfg->nsections; i++)
		if (!strncmp(cfg->sections[i].name, prefix, strlen(prefix)))
			return 1;
	return 0;
}

/* SIGHUP: a new rule table, or none if it has an error (the old stays). */
static int
route_reload_prepare(void *ctx, const struct config *cfg, void **pending,
    char *err, size_t errsize)
{
	*pending = route_prepare(ctx, cfg, err, errsize);
	return *pending == NULL;
}

static void
route_reload_commit(void *ctx, void *pending)
{
	route_commit(ctx, pending);
}

static void
route_reload_abort(void *ctx, void *pending)
{
	(void)ctx;
	route_discard(pending);
}

/* The inbound pipeline's documents go to routing (route.h) like the
 * API's: same rules, same delivery queue. */
static int
route_inbound(void *ctx, struct store *st, const struct inbound_document *in,
    char *err, size_t errsize)
{
	json_t *meta = json_object_get(in->doc, "meta");
	char *text = json_dumps(in->doc, JSON_COMPACT | JSON_SORT_KEYS);
	struct route_document doc;
	struct route_result res;
	int rc;

	if (text == NULL) {
		snprintf(err, errsize, "out of memory");
		return -1;
	}
	memset(&doc, 0, sizeof(doc));
	doc.origin = ROUTE_FROM_PARTNER;
	doc.partner = in->partner;
	doc.document_type = in->document_type;
	doc.json = text;
	doc.json_len = strlen(text);
	doc.message_id = in->message_id;
	doc.correlation_id = in->correlation_id;
	doc.interchange_control = json_string_value(json_object_get(meta,
	    "interchange"));
	doc.group_control = json_string_value(json_object_get(meta, "group"));
	doc.set_control = json_string_value(json_object_get(meta, "set"));
	memset(&res, 0, sizeof(res));
	rc = route_document(ctx, st, &doc, &res);
	free(text);
	if (rc == ROUTE_OK)
		return 0;
	snprintf(err, errsize, "%s%s%s", res.path, res.path[0] ? ": " : "",
	    res.message);
	return -1;
}

/* Acknowledgments the inbound pipeline built for AS2 partners go out
 * through the AS2 sender's queue, with the partner's signing and
 * encryption, like any outbound interchange. */
static int
ack_by_as2(void *ctx, struct store *st, const struct inbound_ack *ack,
    char *err, size_t errsize)
{
	(void)ctx;
	return as2_send_queue_message(st, ack->message_id, ack->partner->id,
	    err, errsize);
}

static int
collect_id(void *ud, const struct store_message *m)
{
	int64_t **ids = ud;
	int64_t *t;
	size_t n = (size_t)(*ids)[0];

	if (m->direction != STORE_IN)
		return 0;
	t = realloc(*ids, (n + 2) * sizeof(**ids));
	if (t == NULL)
		return 1;
	t[n + 1] = m->id;
	t[0] = (int64_t)n + 1;
	*ids = t;
	return 0;
}

static void
requeue_processing(struct store *st)
{
	struct store_message_filter f = { .state = "processing" };
	struct store_error serr;
	int64_t *ids = calloc(1, sizeof(*ids));

	if (ids == NULL)
		return;
	/* Collect first: callbacks must not call the store. */
	if (store_message_list(st, &f, collect_id, &ids, &serr) == 0)
		for (int64_t i = 1; i <= ids[0]; i++) {
			char id[24];
			snprintf(id, sizeof(id), "%lld", (long long)ids[i]);
			if (store_message_set_state(st, ids[i], "processing",
			    "received", "{\"reason\":\"restart\"}", &serr) == 0)
				log_warn("message was cut short; processing "
				    "it again", "message_id", id, NULL);
		}
	free(ids);
}

struct resubmit {
	struct inbound *in;
	unsigned count;
};

static int
resubmit_one(void *ud, const struct store_message *m)
{
	struct resubmit *rs = ud;
	if (m->direction == STORE_IN &&
	    inbound_submit(rs->in, m->id, NULL, NULL) == INBOUND_OK)
		rs->count++;
	return 0;
}

/*
 * The [inbound] section (configfile.h keeps it as written): the
 * duplicate window of the inbound pipeline. 0, or -1 with "file:line:
 * message" in err for an unknown key or a value that is no window.
 */
static int
inbound_configure(const struct config *cfg, struct inbound_options *opts,
    char *err, size_t errsize)
{
	const struct config_section *sec = config_section_find(cfg,
	    "inbound");

	opts->duplicate_window_us = 0;
	for (size_t i = 0; sec && i < sec->nentries; i++) {
		const struct config_entry *e = &sec->entries[i];
		if (strcmp(e->key, "duplicate_window") != 0) {
			snprintf(err, errsize, "%s:%u: unknown key \"%s\" in "
			    "[inbound]", cfg->path, e->line, e->key);
			return -1;
		}
		if (inbound_parse_window(e->value, &opts->duplicate_window_us)
		    != 0) {
			snprintf(err, errsize, "%s:%u: duplicate_window \"%s\": "
			    "expected a number with s, m, h or d (90d), off or "
			    "forever", cfg->path, e->line, e->value);
			return -1;
		}
	}
	return 0;
}

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: edigated [-f] [-t] [-c FILE]\n"
	    "  -c FILE    configuration file (default " CONFIG_DEFAULT_PATH ")\n"
	    "  -t         check the configuration and exit (0: valid)\n"
	    "  -f         stay in the foreground (the default and only mode)\n"
	    "  --version  print the version and exit\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *path = CONFIG_DEFAULT_PATH;
	struct config *cfg;
	struct config_error cerr;
	struct daemon *d;
	struct store *st = NULL;
	struct store_error serr;
	struct store_probe probe;
	struct sftp_service *sftp = NULL;
	struct sftp_deliver *sftp_out = NULL;
	struct recover *recover = NULL;
	struct inbound *inbound;
	struct inbound_options iopts;
	struct as2_receive *as2rx;
	struct timeval probe_every = { STORE_PROBE_SECONDS, 0 };
	struct ack_overdue overdue;
	struct timeval overdue_every = { ACK_OVERDUE_SECONDS, 0 };
	char err[1024];
	int c, check = 0, rc;
	struct as2_sender *as2_out;
	struct cert_watch *certs;
	struct route *route = NULL;
	struct api *api = NULL;
	struct deliver *webhooks = NULL;
	struct reconcile_job *recon = NULL;

	while ((c = getopt_long(argc, argv, "c:tfh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 't':
			check = 1;
			break;
		case 'f':
			break;
		case 'V':
			printf("edigated %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	if (config_load(path, &cfg, &cerr) != 0) {
		config_error_format(&cerr, err, sizeof(err));
		if (check)
			fprintf(stderr, "%s\n", err);
		else
			log_error("invalid configuration", "error", err, NULL);
		return 1;
	}
	if (check) {
		if (daemon_check_tls(cfg, err, sizeof(err)) != 0 ||
		    as2_receive_check(cfg, err, sizeof(err)) != 0 ||
		    inbound_configure(cfg, &iopts, err, sizeof(err)) != 0 ||
		    reconcile_job_check(cfg, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s\n", err);
			config_free(cfg);
			return 1;
		}
		printf("%s: configuration is valid\n", path);
		config_free(cfg);
		return 0;
	}
	log_init(stderr, (enum log_level)cfg->log_level);

	d = daemon_new(cfg, err, sizeof(err));
	if (d == NULL) {
		log_error("cannot start", "error", err, NULL);
		return 1;
	}
	/* Every store connection opened from here on, in any module or
	 * thread, attaches the same spool: on PostgreSQL the only one. */
	if (store_set_default_spool(daemon_config(d)->spool_dir, &serr) != 0) {
		log_error("cannot start", "error", serr.message, NULL);
		daemon_free(d);
		return 1;
	}
	/* Modules register their routes, health checks and reload hooks
	 * here, before the listeners open. Partner keys are read now, while
	 * still privileged, so they may be readable by root only. */
	memset(&iopts, 0, sizeof(iopts));
	iopts.store_url = daemon_config(d)->store_url;
	iopts.maps_dir = daemon_config(d)->maps_dir;
	inbound = inbound_configure(daemon_config(d), &iopts, err, sizeof(err))
	    == 0 ? inbound_new(daemon_workers(d), &iopts, err, sizeof(err)) :
	    NULL;
	as2rx = inbound ? as2_receive_new(d, inbound, err, sizeof(err)) : NULL;
	if (as2rx == NULL) {
		log_error("cannot start", "error", err, NULL);
		daemon_free(d);
		inbound_free(inbound);
		return 1;
	}
	as2_out = as2_sender_new(d, err, sizeof(err));
	if (as2_out == NULL) {
		log_error("cannot start AS2 sending", "error", err, NULL);
		daemon_free(d);
		as2_receive_free(as2rx);
		inbound_free(inbound);
		return 1;
	}
	/* Certificate expiry: gauges and log warnings (read while still
	 * privileged, like the AS2 modules' files). */
	certs = cert_watch_new(d, err, sizeof(err));
	if (certs == NULL) {
		log_error("cannot start the certificate check", "error", err,
		    NULL);
		as2_sender_free(as2_out);
		daemon_free(d);
		as2_receive_free(as2rx);
		inbound_free(inbound);
		return 1;
	}
	if (daemon_listen(d, err, sizeof(err)) != 0 ||
	    daemon_drop_privileges(d, err, sizeof(err)) != 0) {
		log_error("cannot start", "error", err, NULL);
		as2_sender_free(as2_out);
		daemon_free(d);
		as2_receive_free(as2rx);
		inbound_free(inbound);
		return 1;
	}
	/* Opened as the unprivileged user, so every file it creates is that
	 * user's. This connection serves the health probe only, one job at a
	 * time; modules open their own (store.h: one connection per thread). */
	if (store_open(&st, daemon_config(d)->store_url, NULL, &serr) != 0) {
		log_error("cannot open the store", "store",
		    daemon_config(d)->store_url, "error", serr.message, NULL);
		daemon_free(d);
		return 1;
	}
	memset(&probe, 0, sizeof(probe));
	probe.d = d;
	probe.st = st;
	probe.ok = 1;          /* store_open has just talked to it */
	probe.last_done = time(NULL);
	probe.timer = event_new(daemon_base(d), -1, EV_PERSIST, probe_tick,
	    &probe);
	if (probe.timer == NULL || event_add(probe.timer, &probe_every) != 0 ||
	    daemon_health_add(d, "store", store_health, &probe) != 0) {
		log_error("cannot set up the store health check", NULL);
		daemon_free(d);
		store_close(st);
		return 1;
	}
	/* Ack tracking's overdue check: its own connection and timer. */
	memset(&overdue, 0, sizeof(overdue));
	overdue.d = d;
	overdue.pending = metrics_gauge(daemon_metrics(d), "edigate_acks_pending",
	    "Acknowledgments expected and not yet due", NULL);
	overdue.overdue = metrics_gauge(daemon_metrics(d), "edigate_acks_overdue",
	    "Acknowledgments past their partner's SLA", NULL);
	if (store_open(&overdue.st, daemon_config(d)->store_url, NULL,
	    &serr) != 0 ||
	    (overdue.timer = event_new(daemon_base(d), -1, EV_PERSIST,
	    ack_overdue_tick, &overdue)) == NULL ||
	    event_add(overdue.timer, &overdue_every) != 0) {
		log_error("cannot set up the ack overdue check", "error",
		    overdue.st ? "timer" : serr.message, NULL);
		daemon_free(d);
		store_close(overdue.st);
		store_close(st);
		return 1;
	}

	/* The bridge: routing, the REST API and the webhook worker, each
	 * with its own store connection, opened as the unprivileged user.
	 * Documents from partners reach routing through the inbound
	 * pipeline's route hook. */
	static const struct daemon_reload_hook route_hook_def = {
		"route", route_reload_prepare, route_reload_commit,
		route_reload_abort
	};
	if ((route = route_new(daemon_config(d), err, sizeof(err))) == NULL ||
	    daemon_reload_hook_add(d, &route_hook_def, route) != 0 ||
	    inbound_route_register(inbound, route_inbound, route) != 0 ||
	    inbound_ack_transport_register(inbound, "as2", ack_by_as2,
	    as2_out) != 0 ||
	    (has_section(daemon_config(d), "token.") &&
	    (api = api_new(d, route, err, sizeof(err))) == NULL) ||
	    (has_section(daemon_config(d), "webhook.") &&
	    ((webhooks = deliver_new(d, err, sizeof(err))) == NULL ||
	    deliver_start(webhooks) != 0))) {
		log_error("cannot start the ERP/WMS bridge", "error", err, NULL);
		deliver_free(webhooks);
		api_free(api);
		route_free(route);
		as2_sender_free(as2_out);
		event_free(probe.timer);
		event_free(overdue.timer);
		daemon_free(d);
		store_close(overdue.st);
		as2_receive_free(as2rx);
		inbound_free(inbound);
		store_close(st);
		return 1;
	}
	if (as2_sender_start(as2_out, 0) != 0) {
		as2_sender_free(as2_out);
		event_free(probe.timer);
		event_free(overdue.timer);
		daemon_free(d);
		store_close(overdue.st);
		as2_receive_free(as2rx);
		inbound_free(inbound);
		store_close(st);
		return 1;
	}
	/* SFTP: partners' inboxes ([sftp] root) and scheduled pulls. */
	if ((sftp = sftp_service_start(d, sftp_stored, inbound, err,
	    sizeof(err))) == NULL ||
	    inbound_ack_transport_register(inbound, "sftp",
	    sftp_service_send_ack, sftp) != 0) {
		log_error("cannot start SFTP", "error", err, NULL);
		as2_sender_free(as2_out);
		event_free(probe.timer);
		event_free(overdue.timer);
		sftp_service_stop(sftp);
		daemon_free(d);
		sftp_service_free(sftp);
		store_close(overdue.st);
		as2_receive_free(as2rx);
		inbound_free(inbound);
		store_close(st);
		return 1;
	}
	/* SFTP: the "sftp:" deliveries (documents and pushed acks). */
	if ((sftp_out = sftp_deliver_start(d, sftp, 0, err, sizeof(err)))
	    == NULL)
		log_error("SFTP deliveries not started; they wait in the queue",
		    "error", err, NULL);
	/* Messages a node left "processing" when it died go back to the
	 * pipeline once their claim's lease ran out (recover.h). */
	if ((recover = recover_start(d, inbound, err, sizeof(err))) == NULL)
		log_error("recovery of cut-short messages not started",
		    "error", err, NULL);
	/* Messages a transport stored (and answered) before a crash or a
	 * stop, but that the pipeline did not take yet, are taken now:
	 * durable before acknowledged, processed after restart. */
	{
		struct store_message_filter f = { .state = "received" };
		struct resubmit rs = { inbound, 0 };
		/* One SQLite file means one node: what is "processing" now
		 * was cut short by a crash. Each document and ack is stored
		 * once (inbound.h), so running it again is safe. */
		if (store_backend(st) == STORE_BACKEND_SQLITE)
			requeue_processing(st);
		if (store_message_list(st, &f, resubmit_one, &rs, &serr) != 0)
			log_warn("cannot list received messages", "error",
			    serr.message, NULL);
		else if (rs.count)
			log_info("received messages resubmitted", NULL);
	}
	/* Order-to-cash reconciliation every [reconcile] interval. */
	if ((recon = reconcile_job_new(d, err, sizeof(err))) == NULL)
		log_error("reconciliation job not started", "error", err, NULL);
	rc = daemon_run(d);
	if (daemon_cut_short(d)) {
		/* Worker threads are still running; everything durable is
		 * committed already, so leaving without cleanup loses nothing. */
		fflush(stderr);
		_exit(rc);
	}
	as2_sender_free(as2_out);
	cert_watch_free(certs);
	deliver_free(webhooks);
	api_free(api);
	event_free(probe.timer);
	event_free(overdue.timer);
	reconcile_job_stop(recon);
	as2_receive_stop(as2rx);
	sftp_deliver_stop(sftp_out); /* its timer, before the event base */
	recover_stop(recover); /* its timer, before the event base */
	sftp_service_stop(sftp); /* its events, before the event base goes */
	daemon_free(d);        /* waits for a probe still running */
	sftp_deliver_free(sftp_out); /* after the workers: their jobs use it */
	recover_free(recover); /* after the workers: a sweep uses it */
	store_close(overdue.st);
	reconcile_job_free(recon); /* after the workers: their jobs use it */
	sftp_service_free(sftp); /* after the workers: their jobs use it */
	as2_receive_free(as2rx);
	inbound_free(inbound);
	route_free(route); /* after the workers: the route hook uses it */
	store_close(st);
	return rc;
}
