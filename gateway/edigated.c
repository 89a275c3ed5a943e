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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "configfile.h"
#include "daemon.h"
#include "log.h"
#include "store.h"

/*
 * The store's health: a primary-key lookup of a message id that never
 * exists. "Not found" proves the database answers, at the cost of one
 * index probe, so monitoring may poll /healthz as often as it likes.
 */
static int
store_health(void *ctx, char *detail, size_t size)
{
	struct store_message m;
	struct store_error err;
	int rc = store_message_get(ctx, 0, &m, &err);

	if (rc == STORE_OK || rc == STORE_ENOTFOUND)
		return 0;
	snprintf(detail, size, "unreachable: %s", err.message);
	return 1;
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
	char err[1024];
	int c, check = 0, rc;

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
	if (daemon_listen(d, err, sizeof(err)) != 0 ||
	    daemon_drop_privileges(d, err, sizeof(err)) != 0) {
		log_error("cannot start", "error", err, NULL);
		daemon_free(d);
		return 1;
	}
	/* Opened as the unprivileged user, so every file it creates is that
	 * user's. One connection for the loop thread; worker jobs that need
	 * the store open their own (store.h: one connection per thread). */
	if (store_open(&st, daemon_config(d)->store_url, NULL, &serr) != 0) {
		log_error("cannot open the store", "store",
		    daemon_config(d)->store_url, "error", serr.message, NULL);
		daemon_free(d);
		return 1;
	}
	daemon_health_add(d, "store", store_health, st);
	rc = daemon_run(d);
	if (daemon_cut_short(d)) {
		/* Worker threads are still running; everything durable is
		 * committed already, so leaving without cleanup loses nothing. */
		fflush(stderr);
		_exit(rc);
	}
	daemon_free(d);
	store_close(st);
	return rc;
}
