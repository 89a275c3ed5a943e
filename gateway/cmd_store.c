/*
 * cmd_store - `edigate store migrate|info|requeue` and `edigate audit
 * verify|export`.
 *
 * OWNS
 *   Operator access to the store: applying migrations, showing what the
 *   store holds, verifying the audit chain and exporting a period of it
 *   for an auditor, handing a stuck inbound message back to the
 *   pipeline (requeue). Exit status as in commands.h: 0 success, 1 a finding
 *   (a broken audit chain), 2 usage or runtime error.
 *
 * NEVER
 *   Changes the store beyond applying migrations and requeueing, takes
 *   a message from a node whose claim still runs without --force, or
 *   prints the password
 *   of a PostgreSQL URL.
 */
#define _GNU_SOURCE /* asprintf, mkostemp, timegm */
#include "config.h"

#include "commands.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "report_text.h"
#include "store.h"

#ifndef EDIGATE_STATEDIR
#define EDIGATE_STATEDIR "/var/lib/edigate"
#endif

struct common {
	const char *store;
	const char *spool;
};

static const char *
default_store(void)
{
	const char *env = getenv("EDIGATE_STORE");
	return env && *env ? env : EDIGATE_STATEDIR "/edigate.db";
}

/* Shows where the store is without a password: user:secret@ -> user:***@. */
static void
print_location(FILE *out, const char *url)
{
	const char *scheme = strstr(url, "://");
	const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
	const char *colon = scheme ? strchr(scheme + 3, ':') : NULL;
	if (at && colon && colon < at)
		fprintf(out, "%.*s:***%s\n", (int)(colon - url), url, at);
	else
		fprintf(out, "%s\n", url);
}

static int
open_store(const struct common *c, struct store **st)
{
	struct store_options opts = { .spool_dir = c->spool, .no_migrate = 1 };
	struct store_error err;
	if (store_open(st, c->store, &opts, &err)) {
		fprintf(stderr, "edigate: cannot open the store: %s\n", err.message);
		return 2;
	}
	return 0;
}

static void
format_time(int64_t us, char out[40])
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;
	gmtime_r(&t, &tm);
	size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 40 - n, ".%06dZ", (int)(us % 1000000));
}

/* Parses the options every subcommand shares; returns optind or -1. */
static int
parse_common(int argc, char **argv, struct common *c, const char **since,
             const char **until, const char **output, const char **format,
             const char *usage)
{
	static const struct option longopts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "spool", required_argument, NULL, 'p' },
		{ "since", required_argument, NULL, 'S' },
		{ "until", required_argument, NULL, 'U' },
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;
	c->store = default_store();
	c->spool = NULL;
	optind = 0; /* glibc: full re-initialisation between calls */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+s:o:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			c->store = optarg;
			break;
		case 'p':
			c->spool = optarg;
			break;
		case 'S':
		case 'U':
		case 'o':
			if (!since) {
				fprintf(stderr, "edigate: this command takes no --%s\n",
				        ch == 'S' ? "since" : ch == 'U' ? "until" : "output");
				return -1;
			}
			*(ch == 'S' ? since : ch == 'U' ? until : output) = optarg;
			break;
		case 'F':
			if (!format) {
				fprintf(stderr, "edigate: this command takes no --format\n");
				return -1;
			}
			*format = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return -2;
		default:
			fprintf(stderr, "edigate: unknown option %s\n%s", argv[optind - 1], usage);
			return -1;
		}
	}
	return optind;
}

static const char store_usage[] =
	"usage: edigate store migrate [--store URL|PATH] [--spool DIR]\n"
	"       edigate store info    [--store URL|PATH] [--spool DIR]\n"
	"       edigate store requeue [--store URL|PATH] [--force] ID\n"
	"requeue hands an inbound message left \"processing\" back to \"received\";\n"
	"edigated's next recovery sweep runs it again. Without --force only once\n"
	"the claim of the node that processed it ran out.\n"
	"The store is a SQLite file path or a postgresql:// URL; default\n"
	"$EDIGATE_STORE or " EDIGATE_STATEDIR "/edigate.db.\n";

static int
store_migrate_cmd(const struct common *c)
{
	struct store *st;
	struct store_error err;
	struct store_info info;
	int applied, rc = open_store(c, &st);
	if (rc)
		return rc;
	if (store_migrate(st, &applied, &err) || store_info(st, &info, &err)) {
		fprintf(stderr, "edigate: migration failed: %s\n", err.message);
		store_close(st);
		return 2;
	}
	printf("applied %d migration%s; schema version %d (%s)\n", applied,
	       applied == 1 ? "" : "s", info.schema_version, info.backend);
	store_close(st);
	return 0;
}

static int
store_info_cmd(const struct common *c)
{
	struct store *st;
	struct store_error err;
	struct store_info info;
	int rc = open_store(c, &st);
	if (rc)
		return rc;
	if (store_info(st, &info, &err)) {
		fprintf(stderr, "edigate: %s\n", err.message);
		store_close(st);
		return 2;
	}
	printf("backend:            %s\n", info.backend);
	printf("location:           ");
	print_location(stdout, c->store);
	printf("spool:              %s\n",
	       store_spool(st) ? spool_dir(store_spool(st)) : "(none)");
	printf("schema version:     %d (this edigate: %d)%s\n", info.schema_version,
	       info.schema_latest,
	       info.schema_version < info.schema_latest ? " - run `edigate store migrate`" : "");
	if (info.schema_version > 0) {
		printf("messages:           %" PRId64 "\n", info.messages);
		printf("events:             %" PRId64 " (chain head %" PRId64 ")\n",
		       info.events, info.audit_last_id);
		printf("deliveries queued:  %" PRId64 "\n", info.deliveries_queued);
		printf("deliveries dead:    %" PRId64 "\n", info.deliveries_dead);
		printf("acks pending:       %" PRId64 "\n", info.acks_pending);
		printf("acks overdue:       %" PRId64 "\n", info.acks_overdue);
	}
	store_close(st);
	return 0;
}

static int
store_requeue_cmd(const struct common *c, const char *idtext, int force)
{
	struct store *st;
	struct store_error err;
	char *end, owner[STORE_PARTNER_MAX + 1], detail[96];
	int64_t until = 0;
	errno = 0;
	long long id = strtoll(idtext, &end, 10);
	if (errno || end == idtext || *end || id <= 0) {
		fprintf(stderr, "edigate: not a message id: %s\n%s", idtext, store_usage);
		return 2;
	}
	int rc = open_store(c, &st);
	if (rc)
		return rc;
	snprintf(detail, sizeof detail, "{\"reason\":\"operator requeue\"%s}",
	         force ? ",\"force\":true" : "");
	owner[0] = '\0';
	store_message_claim_get(st, id, owner, sizeof owner, &until, &err);
	if (store_message_release_claim(st, id, force ? INT64_MAX : store_now_us(), detail,
	                                &err) != STORE_OK) {
		fprintf(stderr, "edigate: %s%s\n", err.message,
		        err.code == STORE_ECONFLICT && !force && strstr(err.message, "claimed")
		                ? " (--force takes it anyway; make sure that node is gone)"
		                : "");
		store_close(st);
		return 2;
	}
	printf("message %lld is received again%s%s%s\n", id, owner[0] ? " (was claimed by " : "",
	       owner, owner[0] ? ")" : "");
	store_close(st);
	return 0;
}

int
cmd_store(int argc, char **argv)
{
	struct common c;
	int force = 0;
	if (argc < 2) {
		fputs(store_usage, stderr);
		return 2;
	}
	const char *sub = argv[1];
	int is_requeue = strcmp(sub, "requeue") == 0;
	/* --force belongs to requeue only; the shared parser does not know it. */
	for (int i = 2; is_requeue && i < argc; i++)
		if (strcmp(argv[i], "--force") == 0) {
			force = 1;
			memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof(*argv));
			argc--;
			i--;
		}
	int idx = parse_common(argc - 1, argv + 1, &c, NULL, NULL, NULL, NULL, store_usage);
	if (idx == -2)
		return 0;
	if (idx < 0)
		return 2;
	if (is_requeue) {
		if (idx != argc - 2) {
			fprintf(stderr, "edigate: store requeue takes one message id\n%s",
			        store_usage);
			return 2;
		}
		return store_requeue_cmd(&c, argv[idx + 1], force);
	}
	if (idx != argc - 1) {
		fprintf(stderr, "edigate: unexpected argument %s\n%s", argv[idx + 1], store_usage);
		return 2;
	}
	if (strcmp(sub, "migrate") == 0)
		return store_migrate_cmd(&c);
	if (strcmp(sub, "info") == 0)
		return store_info_cmd(&c);
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
		fputs(store_usage, stdout);
		return 0;
	}
	fprintf(stderr, "edigate: unknown store command %s\n%s", sub, store_usage);
	return 2;
}

static const char audit_usage[] =
	"usage: edigate audit verify [--store URL|PATH]\n"
	"       edigate audit export [--store URL|PATH] [--since T] [--until T]\n"
	"                            [--format jsonl|csv] [--output FILE]\n"
	"T is UTC: 2026-11-23 or 2026-11-23T10:00:00Z. export writes one JSON\n"
	"object per event (since <= time < until) with prev_hash and hash, or\n"
	"with --format csv one row per event (RFC 4180; id,time,time_us,\n"
	"message_id,correlation_id,kind,detail,prev_hash,hash), so\n"
	"the chain can be re-verified: hash = SHA-256(prev_hash || netstrings of\n"
	"\"edigate-event-1\", id, time_us, message_id, correlation_id, kind,\n"
	"detail), each netstring being <length>:<bytes>, .\n";

static int
audit_verify_cmd(const struct common *c)
{
	struct store *st;
	struct store_error err;
	struct store_audit_result res;
	int rc = open_store(c, &st);
	if (rc)
		return rc;
	if (store_audit_verify(st, &res, &err)) {
		fprintf(stderr, "edigate: cannot verify the audit chain: %s\n", err.message);
		store_close(st);
		return 2;
	}
	store_close(st);
	if (!res.intact) {
		printf("audit chain BROKEN at event %" PRId64 ": %s\n", res.broken_id,
		       res.problem);
		printf("%" PRId64 " event%s verified before the break\n",
		       res.events_checked ? res.events_checked - 1 : 0,
		       res.events_checked == 2 ? "" : "s");
		return 1;
	}
	printf("audit chain intact: %" PRId64 " event%s verified\n", res.events_checked,
	       res.events_checked == 1 ? "" : "s");
	return 0;
}

struct export_ctx {
	FILE *out;
	int64_t count;
	int failed;
	int csv;
};

/* The CSV form of an event: the same fields as the JSON lines, detail
 * as the exact stored text the hash covers. */
static int
export_one_csv(struct export_ctx *x, const struct store_event *ev)
{
	char when[40], id[24], t[24], mid[24] = "";
	format_time(ev->time_us, when);
	snprintf(id, sizeof id, "%" PRId64, ev->id);
	snprintf(t, sizeof t, "%" PRId64, ev->time_us);
	if (ev->message_id)
		snprintf(mid, sizeof mid, "%" PRId64, ev->message_id);
	report_text_csv(x->out, id, 0);
	report_text_csv(x->out, when, 0);
	report_text_csv(x->out, t, 0);
	report_text_csv(x->out, mid, 0);
	report_text_csv(x->out, ev->correlation_id, 0);
	report_text_csv(x->out, ev->kind, 0);
	report_text_csv(x->out, ev->detail, 0);
	report_text_csv(x->out, ev->prev_hash, 0);
	report_text_csv(x->out, ev->hash, 1);
	if (ferror(x->out)) {
		x->failed = 1;
		return 1;
	}
	x->count++;
	return 0;
}

static int
export_one(void *ud, const struct store_event *ev)
{
	struct export_ctx *x = ud;
	char when[40];
	if (x->csv)
		return export_one_csv(x, ev);
	format_time(ev->time_us, when);
	/* detail goes out as the exact stored text (a string), because the
	 * hash covers those bytes and a re-encoded object might differ. */
	json_t *o = json_pack("{s:I, s:s, s:I, s:o, s:s, s:s, s:s, s:s, s:s}",
	                      "id", (json_int_t)ev->id, "time", when, "time_us",
	                      (json_int_t)ev->time_us, "message_id",
	                      ev->message_id ? json_integer(ev->message_id) : json_null(),
	                      "correlation_id", ev->correlation_id, "kind", ev->kind,
	                      "detail", ev->detail, "prev_hash", ev->prev_hash, "hash",
	                      ev->hash);
	if (!o || json_dumpf(o, x->out, JSON_COMPACT | JSON_PRESERVE_ORDER) != 0 ||
	    fputc('\n', x->out) == EOF) {
		json_decref(o);
		x->failed = 1;
		return 1;
	}
	json_decref(o);
	x->count++;
	return 0;
}

static int
audit_export_cmd(const struct common *c, const char *since, const char *until,
                 const char *output, const char *format)
{
	struct store_event_filter f = { 0 };
	int64_t us;
	if (format && strcmp(format, "jsonl") != 0 && strcmp(format, "csv") != 0) {
		fprintf(stderr, "edigate: --format is jsonl or csv\n");
		return 2;
	}
	if (since) {
		if (report_text_parse_utc(since, &us)) {
			fprintf(stderr, "edigate: --since %s is not a UTC date or time\n", since);
			return 2;
		}
		f.since_us = us;
	}
	if (until) {
		if (report_text_parse_utc(until, &us)) {
			fprintf(stderr, "edigate: --until %s is not a UTC date or time\n", until);
			return 2;
		}
		f.until_us = us;
	}
	struct store *st;
	struct store_error err;
	int rc = open_store(c, &st);
	if (rc)
		return rc;
	struct export_ctx x = { .out = stdout, .csv = format && strcmp(format, "csv") == 0 };
	if (output && strcmp(output, "-") != 0) {
		x.out = fopen(output, "w");
		if (!x.out) {
			fprintf(stderr, "edigate: cannot write %s: %s\n", output, strerror(errno));
			store_close(st);
			return 2;
		}
	}
	if (x.csv)
		fputs("id,time,time_us,message_id,correlation_id,kind,detail,prev_hash,hash\r\n",
		      x.out);
	rc = store_event_foreach(st, &f, export_one, &x, &err);
	store_close(st);
	int bad = fflush(x.out) != 0 || ferror(x.out);
	if (x.out != stdout)
		bad |= fclose(x.out) != 0;
	if (x.failed || bad) {
		fprintf(stderr, "edigate: writing the export failed\n");
		return 2;
	}
	if (rc) {
		fprintf(stderr, "edigate: export failed: %s\n", err.message);
		return 2;
	}
	fprintf(stderr, "exported %" PRId64 " event%s\n", x.count, x.count == 1 ? "" : "s");
	return 0;
}

int
cmd_audit(int argc, char **argv)
{
	struct common c;
	const char *since = NULL, *until = NULL, *output = NULL, *format = NULL;
	if (argc < 2) {
		fputs(audit_usage, stderr);
		return 2;
	}
	const char *sub = argv[1];
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
		fputs(audit_usage, stdout);
		return 0;
	}
	int is_export = strcmp(sub, "export") == 0;
	int idx = parse_common(argc - 1, argv + 1, &c, is_export ? &since : NULL, &until,
	                       &output, is_export ? &format : NULL, audit_usage);
	if (idx == -2)
		return 0;
	if (idx < 0)
		return 2;
	if (idx != argc - 1) {
		fprintf(stderr, "edigate: unexpected argument %s\n%s", argv[idx + 1], audit_usage);
		return 2;
	}
	if (strcmp(sub, "verify") == 0)
		return audit_verify_cmd(&c);
	if (is_export)
		return audit_export_cmd(&c, since, until, output, format);
	fprintf(stderr, "edigate: unknown audit command %s\n%s", sub, audit_usage);
	return 2;
}
