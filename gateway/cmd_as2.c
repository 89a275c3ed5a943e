/*
 * cmd_as2 - `edigate send` and `edigate resend`: an operator's hands on
 * outbound AS2.
 *
 * OWNS
 *   Queuing a file for a partner (stored as an outbound message, state
 *   "queued", delivery "as2:<partner>") for the running edigated to send,
 *   sign, encrypt and follow to its MDN with retries; and putting a
 *   failed message back in the queue with an event naming who did it.
 *   Queuing rather than sending from the CLI is deliberate: the daemon
 *   owns retries, MDN matching and the message history, so a message
 *   sent by hand is tracked exactly like one the gateway produced.
 *
 * NEVER
 *   Talks to the partner itself, or changes a message that is not an
 *   outbound AS2 one.
 */
#define _GNU_SOURCE
#include "config.h"

#include "commands.h"

#include <getopt.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ack_track.h"
#include "as2_send.h"
#include "configfile.h"
#include "partner.h"
#include "partner_set.h"
#include "store.h"

#ifndef EDIGATE_STATEDIR
#define EDIGATE_STATEDIR "/var/lib/edigate"
#endif

struct as2_opts {
	const char *config;
	const char *store;
	const char *spool;
	const char *partners;
	const char *maps;
	const char *partner;
	const char *type;
	const char *by;
	struct config *cfg;
};

static const char send_usage[] =
	"usage: edigate send --partner ID [-c CONF | --store URL|PATH]\n"
	"                    [--partners DIR] [--maps DIR] [--type TYPE] FILE\n"
	"Queues FILE (\"-\": standard input) for AS2 delivery to partner ID; the\n"
	"running edigated signs, encrypts, posts it and follows it to its MDN,\n"
	"with retries. A canonical JSON document is first built into the\n"
	"partner's interchange (control numbers from the store) and the acks it\n"
	"needs are recorded. Prints the message id. See docs/as2-send.md.\n";

static const char resend_usage[] =
	"usage: edigate resend [-c CONF | --store URL|PATH] [--by NAME] ID\n"
	"Puts the failed (or mdn-failed, or sent without MDN) outbound AS2\n"
	"message ID back in the queue, due now, recording who asked.\n";

static int
parse(int argc, char **argv, struct as2_opts *o, const char *usage)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "store", required_argument, NULL, 's' },
		{ "spool", required_argument, NULL, 'S' },
		{ "partners", required_argument, NULL, 'P' },
		{ "maps", required_argument, NULL, 'm' },
		{ "partner", required_argument, NULL, 'p' },
		{ "type", required_argument, NULL, 't' },
		{ "by", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof *o);
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+c:s:p:t:h", longopts, NULL))
	    != -1) {
		switch (ch) {
		case 'c': o->config = optarg; break;
		case 's': o->store = optarg; break;
		case 'S': o->spool = optarg; break;
		case 'P': o->partners = optarg; break;
		case 'm': o->maps = optarg; break;
		case 'p': o->partner = optarg; break;
		case 't': o->type = optarg; break;
		case 'b': o->by = optarg; break;
		case 'h':
			fputs(usage, stdout);
			return -2;
		default:
			fprintf(stderr, "edigate: unknown option %s\n%s",
			    argv[optind - 1], usage);
			return -1;
		}
	}
	if (o->config) {
		struct config_error ce;
		char buf[1200];

		if (config_load(o->config, &o->cfg, &ce) != 0) {
			config_error_format(&ce, buf, sizeof buf);
			fprintf(stderr, "edigate: %s\n", buf);
			return -1;
		}
		if (!o->store)
			o->store = o->cfg->store_url;
		if (!o->partners)
			o->partners = o->cfg->partners_dir;
	}
	if (!o->store) {
		const char *env = getenv("EDIGATE_STORE");

		o->store = env && *env ? env : EDIGATE_STATEDIR "/edigate.db";
	}
	return optind;
}

static int
open_store(struct as2_opts *o, struct store **st)
{
	struct store_options so = { .spool_dir = o->spool, .no_migrate = 0 };
	struct store_error e;

	if (store_open(st, o->store, &so, &e) != STORE_OK) {
		fprintf(stderr, "edigate: cannot open the store: %s\n",
		    e.message);
		return -1;
	}
	return 0;
}

#ifndef EDIGATE_DATADIR
#define EDIGATE_DATADIR "/usr/share/edigate"
#endif

/*
 * A canonical document: the partner's interchange is built, checked for
 * the acks it needs, queued, and its expectations recorded against the
 * queued message, so `report acks` follows it from the start.
 */
static int
send_document(const struct as2_opts *o, struct store *st, const char *path)
{
	const char *pdir = cli_partners_dir(o->partners);
	const char *mdir = cli_maps_dir(o->maps);
	struct ack_track_profile prof;
	struct ack_track_expect_summary sum;
	struct store_error se;
	char *edi = NULL, tmp[4096], err[600];
	const char *dir = getenv("TMPDIR");
	size_t len;
	int64_t id;
	int invalid, fd, rc = EXIT_USAGE;

	memset(&prof, 0, sizeof prof);
	if (cli_build_outbound(path, o->partner, pdir, mdir, st, &edi, &len,
	    &prof, &invalid) != 0)
		return invalid ? EXIT_INVALID : EXIT_USAGE;
	/* Refuse before queuing what could not be tracked. */
	if (ack_track_expect(NULL, &prof, 0, edi, len, 0, &sum, &se)
	    != STORE_OK) {
		fprintf(stderr, "edigate: %s: %s\n", path, se.message);
		free(edi);
		return EXIT_INVALID;
	}
	snprintf(tmp, sizeof tmp, "%s/edigate-send-XXXXXX",
	    dir && *dir ? dir : "/tmp");
	fd = mkstemp(tmp);
	if (fd < 0 || write(fd, edi, len) != (ssize_t)len || close(fd) != 0) {
		fprintf(stderr, "edigate: %s: cannot write the interchange\n",
		    tmp);
		if (fd >= 0)
			unlink(tmp);
		free(edi);
		return EXIT_USAGE;
	}
	if (as2_send_queue_file(st, o->partner, tmp, o->type ? o->type :
	    (sum.message_type[0] ? sum.message_type : NULL), &id, err,
	    sizeof err) != 0) {
		fprintf(stderr, "edigate: %s\n", err);
		goto out;
	}
	if (ack_track_expect(st, &prof, id, edi, len, 0, &sum, &se)
	    != STORE_OK) {
		fprintf(stderr, "edigate: message %" PRId64 " queued, but its "
		    "ack expectations were not recorded: %s\n", id,
		    se.message);
		goto out;
	}
	printf("%" PRId64 "\n", id);
	fprintf(stderr, "edigate: message %" PRId64 " (%s, interchange %s) "
	    "queued for AS2 delivery to %s, %u ack expectation%s\n", id,
	    sum.message_type, sum.interchange_control, o->partner,
	    sum.expectations, sum.expectations == 1 ? "" : "s");
	rc = 0;
out:
	unlink(tmp);
	free(edi);
	return rc;
}

int
cmd_send(int argc, char **argv)
{
	struct as2_opts o;
	struct store *st = NULL;
	int64_t id;
	char err[600];
	int i = parse(argc, argv, &o, send_usage), rc = EXIT_USAGE;

	if (i == -2)
		return 0;
	if (i < 0)
		goto out;
	if (!o.partner || i != argc - 1) {
		fputs(send_usage, stderr);
		goto out;
	}
	if (o.partners) {
		/* Refuse now what the daemon would only fail later. */
		char *errors = NULL;
		struct partner_set *ps = partner_set_load(o.partners, NULL,
		    NULL, &errors);
		const struct partner *p = ps ? partner_set_find(ps, o.partner)
		    : NULL;

		if (!ps) {
			fprintf(stderr, "%s", errors ? errors : "");
			free(errors);
			goto out;
		}
		free(errors);
		if (!p || !p->as2 || !p->as2->url) {
			fprintf(stderr, "edigate: partner %s %s\n", o.partner,
			    p ? "has no <transport><as2 url=...>" : "is unknown");
			partner_set_unref(ps);
			rc = EXIT_INVALID;
			goto out;
		}
		partner_set_unref(ps);
	}
	if (open_store(&o, &st) != 0)
		goto out;
	if (strcmp(argv[i], "-") != 0 && cli_is_json_file(argv[i])) {
		rc = send_document(&o, st, argv[i]);
		goto out;
	}
	if (as2_send_queue_file(st, o.partner, argv[i], o.type, &id, err,
	    sizeof err) != 0) {
		fprintf(stderr, "edigate: %s\n", err);
		goto out;
	}
	printf("%" PRId64 "\n", id);
	fprintf(stderr, "edigate: message %" PRId64 " queued for AS2 delivery "
	    "to %s\n", id, o.partner);
	rc = 0;
out:
	store_close(st);
	config_free(o.cfg);
	return rc;
}

int
cmd_resend(int argc, char **argv)
{
	struct as2_opts o;
	struct store *st = NULL;
	char err[600], who[128], *end;
	long long id;
	int i = parse(argc, argv, &o, resend_usage), rc = EXIT_USAGE;

	if (i == -2)
		return 0;
	if (i < 0)
		goto out;
	if (i != argc - 1) {
		fputs(resend_usage, stderr);
		goto out;
	}
	id = strtoll(argv[i], &end, 10);
	if (*end || id <= 0) {
		fprintf(stderr, "edigate: not a message id: %s\n", argv[i]);
		goto out;
	}
	if (o.by) {
		snprintf(who, sizeof who, "%s", o.by);
	} else {
		/* The person behind sudo, else the account. */
		const char *u = getenv("SUDO_USER");
		struct passwd *pw = getpwuid(getuid());

		snprintf(who, sizeof who, "%s", u && *u ? u
		    : pw ? pw->pw_name : "unknown");
	}
	if (open_store(&o, &st) != 0)
		goto out;
	if (as2_send_resend(st, id, who, err, sizeof err) != 0) {
		fprintf(stderr, "edigate: %s\n", err);
		rc = EXIT_INVALID;
		goto out;
	}
	fprintf(stderr, "edigate: message %lld queued again by %s\n", id, who);
	rc = 0;
out:
	store_close(st);
	config_free(o.cfg);
	return rc;
}
