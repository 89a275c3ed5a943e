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
#include "as2_send.h"
#include "configfile.h"
#include "daemon.h"
#include "deliver.h"
#include "log.h"
#include "route.h"
#include "store.h"

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
	struct timeval probe_every = { STORE_PROBE_SECONDS, 0 };
	char err[1024];
	int c, check = 0, rc;
	struct as2_sender *as2_out;
	struct route *route = NULL;
	struct api *api = NULL;
	struct deliver *webhooks = NULL;

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
		if (daemon_check_tls(cfg, err, sizeof(err)) != 0) {
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
	/* Modules register their routes, health checks and reload hooks
	 * here, before the listeners open. */
	as2_out = as2_sender_new(d, err, sizeof(err));
	if (as2_out == NULL) {
		log_error("cannot start AS2 sending", "error", err, NULL);
		daemon_free(d);
		return 1;
	}
	if (daemon_listen(d, err, sizeof(err)) != 0 ||
	    daemon_drop_privileges(d, err, sizeof(err)) != 0) {
		log_error("cannot start", "error", err, NULL);
		as2_sender_free(as2_out);
		daemon_free(d);
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
	/* The bridge: routing, the REST API and the webhook worker, each
	 * with its own store connection, opened as the unprivileged user. */
	static const struct daemon_reload_hook route_hook_def = {
		"route", route_reload_prepare, route_reload_commit,
		route_reload_abort
	};
	if ((route = route_new(daemon_config(d), err, sizeof(err))) == NULL ||
	    daemon_reload_hook_add(d, &route_hook_def, route) != 0 ||
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
		daemon_free(d);
		store_close(st);
		return 1;
	}
	if (as2_sender_start(as2_out, 0) != 0) {
		as2_sender_free(as2_out);
		event_free(probe.timer);
		daemon_free(d);
		store_close(st);
		return 1;
	}
	rc = daemon_run(d);
	if (daemon_cut_short(d)) {
		/* Worker threads are still running; everything durable is
		 * committed already, so leaving without cleanup loses nothing. */
		fflush(stderr);
		_exit(rc);
	}
	as2_sender_free(as2_out);
	deliver_free(webhooks);
	api_free(api);
	route_free(route);
	event_free(probe.timer);
	daemon_free(d);        /* waits for a probe still running */
	store_close(st);
	return rc;
}
