/*
 * cmd_acks - `edigate ack-track ...` and `edigate report acks`.
 *
 * OWNS
 *   Driving acknowledgment tracking by hand, without a network: record an
 *   outbound interchange and what it expects back (expect), reconcile an
 *   inbound TA1/997/999/CONTRL file (reconcile), ask whether an inbound
 *   file repeats an earlier one (duplicates), run the overdue check
 *   (overdue), and the compliance report (report acks), which runs the
 *   overdue check first. Exit status as in commands.h: 0 success, 1 a
 *   finding (an ack that matched nothing, a duplicate), 2 usage or runtime
 *   error.
 *
 * NEVER
 *   Sends anything, or prints the password of a PostgreSQL URL.
 */
#define _GNU_SOURCE /* timegm */
#include "config.h"

#include "commands.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ack.h"
#include "ack_report.h"
#include "ack_track.h"
#include "partner.h"
#include "report_text.h"
#include "store.h"

#ifndef EDIGATE_STATEDIR
#define EDIGATE_STATEDIR "/var/lib/edigate"
#endif
#ifndef EDIGATE_DATADIR
#define EDIGATE_DATADIR "/usr/share/edigate"
#endif

/* A file edigate sends or receives through the CLI is read whole; past
 * this it is refused rather than exhausting memory. */
#define MAX_FILE_BYTES (256u << 20)

static const char ack_track_usage[] =
	"usage: edigate ack-track expect --partner ID [--partners DIR] [--ack TYPE]\n"
	"                         [--ta1] [--sla-hours N] [--sent T] [--store S] FILE\n"
	"       edigate ack-track reconcile --partner ID [--received T] [--store S] FILE\n"
	"       edigate ack-track duplicates --partner ID [--window-hours N] [--at T]\n"
	"                         [--store S] FILE\n"
	"       edigate ack-track overdue [--now T] [--store S]\n"
	"expect records FILE (an outbound interchange) as sent to the partner and\n"
	"what it expects back: a 997/999 per functional group or a CONTRL per\n"
	"EDIFACT interchange within the SLA, from partners/ID.xml (--ack, --ta1 and\n"
	"--sla-hours override it). reconcile records FILE (the partner's TA1, 997,\n"
	"999 or CONTRL) and closes what it answers; exit 1 when an ack matched\n"
	"nothing. duplicates records FILE's ISA13/GS06/UNB 0020 and exits 1 when\n"
	"one was seen within the window (default 2160 hours, 90 days; 0: ever).\n"
	"T is UTC: 2026-11-23 or 2026-11-23T10:00:00Z. S is a SQLite path or a\n"
	"postgresql:// URL (default $EDIGATE_STORE or " EDIGATE_STATEDIR
	"/edigate.db).\n";

static const char report_usage[] =
	"usage: edigate report reconcile --help\n"
	"       edigate report acks [--partner ID] [--since T] [--until T]\n"
	"                           [--format csv|json|html] [--now T]\n"
	"                           [--output FILE] [--store S]\n"
	"Per partner: groups sent, acknowledged within the SLA, late, accepted,\n"
	"rejected, pending, overdue, unmatched acks, mean and p95 ack latency,\n"
	"then one row per expectation. Runs the overdue check at --now (default:\n"
	"the current time) first. T is UTC: 2026-11-23 or 2026-11-23T10:00:00Z;\n"
	"since <= sent < until. The default format is csv.\n";

static const char *
default_store(void)
{
	const char *env = getenv("EDIGATE_STORE");
	return env && *env ? env : EDIGATE_STATEDIR "/edigate.db";
}

static int
time_option(const char *name, const char *value, int64_t *out)
{
	if (report_text_parse_utc(value, out)) {
		fprintf(stderr, "edigate: --%s %s is not a UTC date or time"
		        " (2026-11-23 or 2026-11-23T10:00:00Z)\n", name, value);
		return -1;
	}
	return 0;
}

int
cmd_acks_time(const char *name, const char *value, int64_t *out)
{
	return time_option(name, value, out);
}

static int
hours_option(const char *name, const char *value, long *out, long min)
{
	char *end;
	errno = 0;
	long v = strtol(value, &end, 10);
	if (errno || end == value || *end || v < min || v > 24L * 366 * 100) {
		fprintf(stderr, "edigate: --%s %s is not a number of hours\n", name, value);
		return -1;
	}
	*out = v;
	return 0;
}

static int
open_store(const char *url, struct store **st)
{
	struct store_error err;
	if (store_open(st, url, NULL, &err)) {
		fprintf(stderr, "edigate: cannot open the store: %s\n", err.message);
		return 2;
	}
	return 0;
}

/* Reads a whole file (malloc'd into *buf). 0, or -1 after a message. */
static int
read_file(const char *path, char **buf, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t cap = 1 << 16, n = 0;
	char *b = NULL;
	if (!f) {
		fprintf(stderr, "edigate: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (n == cap || !b) {
			if (b)
				cap *= 2;
			char *nb = cap > MAX_FILE_BYTES + 1 ? NULL : realloc(b, cap);
			if (!nb) {
				fprintf(stderr, "edigate: %s: larger than %u MiB\n", path,
				        MAX_FILE_BYTES >> 20);
				goto fail;
			}
			b = nb;
		}
		size_t got = fread(b + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "edigate: %s: read error\n", path);
		goto fail;
	}
	if (n > MAX_FILE_BYTES) {
		fprintf(stderr, "edigate: %s: larger than %u MiB\n", path, MAX_FILE_BYTES >> 20);
		goto fail;
	}
	if (f != stdin)
		fclose(f);
	*buf = b;
	*len = n;
	return 0;
fail:
	free(b);
	if (f != stdin)
		fclose(f);
	return -1;
}

/* Keeps the bytes in the spool and records them as a message. */
static int
store_file(struct store *st, enum store_direction dir, const char *partner_id,
           const char *type, const char *interchange, const char *buf, size_t len,
           int64_t *id)
{
	struct store_message m = { .direction = dir, .size = (int64_t)len };
	struct store_error err;
	struct spool_error serr;
	if (!store_spool(st)) {
		fprintf(stderr, "edigate: the store has no spool to keep the file in\n");
		return -1;
	}
	if (spool_put(store_spool(st), buf, len, m.payload_hash, &serr)) {
		fprintf(stderr, "edigate: cannot spool the file: %s\n", serr.message);
		return -1;
	}
	snprintf(m.partner, sizeof m.partner, "%s", partner_id);
	snprintf(m.transport, sizeof m.transport, "cli");
	snprintf(m.message_type, sizeof m.message_type, "%s", *type ? type : "edi");
	snprintf(m.interchange_control, sizeof m.interchange_control, "%s", interchange);
	if (store_message_put(st, &m, NULL, &err)) {
		fprintf(stderr, "edigate: cannot record the file: %s\n", err.message);
		return -1;
	}
	*id = m.id;
	return 0;
}

struct opts {
	const char *store, *partner, *partners, *ack, *format, *output;
	int ta1;
	long sla_hours, window_hours;
	int64_t at, since, until;
	int have_at;
	const char *file;
};

enum { O_STORE = 1000, O_PARTNER, O_PARTNERS, O_ACK, O_TA1, O_SLA, O_WINDOW, O_SINCE,
       O_UNTIL, O_FORMAT, O_OUTPUT, O_AT };

/*
 * The options of every subcommand; allowed lists the ones this one takes
 * (" partner since ", names between spaces). --sent, --received, --at and
 * --now all set the time the command acts at.
 */
static int
parse(int argc, char **argv, struct opts *o, const char *allowed, int need_partner,
      int want_file, const char *usage)
{
	static const struct option longopts[] = {
		{ "store", required_argument, NULL, O_STORE },
		{ "partner", required_argument, NULL, O_PARTNER },
		{ "partners", required_argument, NULL, O_PARTNERS },
		{ "ack", required_argument, NULL, O_ACK },
		{ "ta1", no_argument, NULL, O_TA1 },
		{ "sla-hours", required_argument, NULL, O_SLA },
		{ "window-hours", required_argument, NULL, O_WINDOW },
		{ "since", required_argument, NULL, O_SINCE },
		{ "until", required_argument, NULL, O_UNTIL },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "output", required_argument, NULL, O_OUTPUT },
		{ "sent", required_argument, NULL, O_AT },
		{ "received", required_argument, NULL, O_AT },
		{ "at", required_argument, NULL, O_AT },
		{ "now", required_argument, NULL, O_AT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, idx = -1;
	char name[40];
	memset(o, 0, sizeof *o);
	o->store = default_store();
	o->sla_hours = -1;
	o->window_hours = 2160; /* 90 days, as the inbound pipeline */
	o->format = "csv";
	optind = 0; /* glibc: full re-initialisation between calls */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+h", longopts, &idx)) != -1) {
		if (ch == 'h') {
			fputs(usage, stdout);
			return -2;
		}
		if (ch == '?' || ch == ':' || idx < 0) {
			fprintf(stderr, "edigate: bad option %s\n%s", argv[optind - 1], usage);
			return -1;
		}
		snprintf(name, sizeof name, " %s ", longopts[idx].name);
		if (ch != O_STORE && !strstr(allowed, name)) {
			fprintf(stderr, "edigate: this command takes no --%s\n%s",
			        longopts[idx].name, usage);
			return -1;
		}
		switch (ch) {
		case O_STORE:
			o->store = optarg;
			break;
		case O_PARTNER:
			o->partner = optarg;
			break;
		case O_PARTNERS:
			o->partners = optarg;
			break;
		case O_ACK:
			if (strcmp(optarg, "997") && strcmp(optarg, "999") &&
			    strcmp(optarg, "CONTRL") && strcmp(optarg, "none")) {
				fprintf(stderr, "edigate: --ack is 997, 999, CONTRL or none\n");
				return -1;
			}
			o->ack = optarg;
			break;
		case O_TA1:
			o->ta1 = 1;
			break;
		case O_SLA:
			if (hours_option("sla-hours", optarg, &o->sla_hours, 1))
				return -1;
			break;
		case O_WINDOW:
			if (hours_option("window-hours", optarg, &o->window_hours, 0))
				return -1;
			break;
		case O_SINCE:
			if (time_option("since", optarg, &o->since))
				return -1;
			break;
		case O_UNTIL:
			if (time_option("until", optarg, &o->until))
				return -1;
			break;
		case O_FORMAT:
			if (strcmp(optarg, "csv") && strcmp(optarg, "json") &&
			    strcmp(optarg, "html")) {
				fprintf(stderr, "edigate: --format is csv, json or html\n");
				return -1;
			}
			o->format = optarg;
			break;
		case O_OUTPUT:
			o->output = optarg;
			break;
		case O_AT:
			if (time_option(longopts[idx].name, optarg, &o->at))
				return -1;
			o->have_at = 1;
			break;
		}
		idx = -1;
	}
	if (want_file) {
		if (optind != argc - 1) {
			fprintf(stderr, "edigate: expected one FILE\n%s", usage);
			return -1;
		}
		o->file = argv[optind];
	} else if (optind != argc) {
		fprintf(stderr, "edigate: unexpected argument %s\n%s", argv[optind], usage);
		return -1;
	}
	if (o->partner && !cli_partner_id_ok(o->partner)) {
		fprintf(stderr, "edigate: partner id '%s' is not lowercase letters, digits,"
		        " '-' and '_'\n", o->partner);
		return -1;
	}
	if (need_partner && !o->partner) {
		fprintf(stderr, "edigate: --partner ID is required\n%s", usage);
		return -1;
	}
	if (o->since && o->until && o->until <= o->since) {
		fprintf(stderr, "edigate: --until must be after --since\n");
		return -1;
	}
	return 0;
}

/* ---- expect ---------------------------------------------------------------- */

static int
expect_cmd(const struct opts *o)
{
	struct ack_track_profile prof = { 0 };
	char ppath[PATH_MAX], pxsd[PATH_MAX];
	const char *pdir = cli_partners_dir(o->partners);
	snprintf(prof.partner, sizeof prof.partner, "%s", o->partner);
	snprintf(ppath, sizeof ppath, "%s/%s.xml", pdir, o->partner);
	snprintf(pxsd, sizeof pxsd, "%s/partner.xsd", pdir);
	if (access(ppath, R_OK) == 0) {
		char *perr = NULL;
		partner *p = partner_load(pxsd, NULL, ppath, &perr);
		if (!p) {
			fputs(perr ? perr : "edigate: invalid partner profile\n", stderr);
			free(perr);
			return 2;
		}
		ack_track_profile_from_partner(&prof, p);
		partner_free(p);
	} else if (!o->ack || o->sla_hours < 0) {
		fprintf(stderr, "edigate: no profile %s: give --ack and --sla-hours\n", ppath);
		return 2;
	}
	if (o->ack)
		snprintf(prof.ack, sizeof prof.ack, "%s", o->ack);
	if (o->ta1)
		prof.ta1 = 1;
	if (o->sla_hours > 0)
		prof.sla_hours = (unsigned)o->sla_hours;

	char *buf;
	size_t len;
	if (read_file(o->file, &buf, &len))
		return 2;
	struct store_error err;
	struct ack_track_expect_summary sum;
	/* Checked before the file is recorded, so a broken interchange leaves
	 * no message behind. */
	if (ack_track_expect(NULL, &prof, 0, buf, len, 0, &sum, &err)) {
		fprintf(stderr, "edigate: %s: %s\n", o->file, err.message);
		free(buf);
		return 2;
	}
	struct store *st;
	if (open_store(o->store, &st)) {
		free(buf);
		return 2;
	}
	int64_t msg = 0;
	int64_t sent = o->have_at ? o->at : store_now_us();
	int rc = 2;
	if (store_file(st, STORE_OUT, o->partner, sum.message_type, sum.interchange_control,
	               buf, len, &msg) == 0) {
		if (ack_track_expect(st, &prof, msg, buf, len, sent, &sum, &err)) {
			fprintf(stderr, "edigate: %s: %s\n", o->file, err.message);
		} else {
			char deadline[32];
			ack_report_time(sum.deadline_us, deadline);
			printf("message %" PRId64 ": interchange %s to %s, %u expectation%s"
			       " (%u group%s, %u expecting nothing), deadline %s\n", msg,
			       sum.interchange_control, prof.partner, sum.expectations,
			       sum.expectations == 1 ? "" : "s", sum.groups,
			       sum.groups == 1 ? "" : "s", sum.skipped,
			       sum.expectations ? deadline : "-");
			rc = 0;
		}
	}
	store_close(st);
	free(buf);
	return rc;
}

/* ---- reconcile ------------------------------------------------------------- */

static void
print_outcome(void *ud, const ack_document *doc, const struct ack_track_outcome *out)
{
	const char *what = doc->kind == ACK_KIND_TA1 ? "TA1" : doc->kind == ACK_KIND_997 ? "997"
	                 : doc->kind == ACK_KIND_999 ? "999" : doc->kind == ACK_KIND_CONTRL
	                 ? "CONTRL" : "ack";
	(void)ud;
	if (out->matched)
		printf("%s line %" PRIu64 ": expectation %" PRId64 " %s%s\n", what, doc->line,
		       out->expectation_id, store_ack_state_name(out->state),
		       out->late ? " (late)" : "");
	if (out->closed_by_ta1)
		printf("%s line %" PRIu64 ": %u group expectation%s closed as rejected\n", what,
		       doc->line, out->closed_by_ta1, out->closed_by_ta1 == 1 ? "" : "s");
	if (out->unmatched_id)
		printf("%s line %" PRIu64 ": unmatched %" PRId64 ": %s\n", what, doc->line,
		       out->unmatched_id, out->reason);
}

static int
reconcile_cmd(const struct opts *o)
{
	char *buf;
	size_t len;
	if (read_file(o->file, &buf, &len))
		return 2;
	struct store *st;
	if (open_store(o->store, &st)) {
		free(buf);
		return 2;
	}
	struct ack_track_file_summary sum;
	struct store_error err;
	int64_t msg = 0;
	int rc = 2;
	if (store_file(st, STORE_IN, o->partner, "ack", "", buf, len, &msg))
		goto out;
	if (ack_track_reconcile_file(st, o->partner, buf, len, msg,
	                             o->have_at ? o->at : store_now_us(), print_outcome, NULL,
	                             &sum, &err)) {
		fprintf(stderr, "edigate: cannot record the ack: %s\n", err.message);
		goto out;
	}
	if (sum.documents == 0) {
		fprintf(stderr, "edigate: %s holds no TA1, 997, 999 or CONTRL\n", o->file);
		rc = 1;
		goto out;
	}
	rc = sum.unmatched ? 1 : 0;
out:
	store_close(st);
	free(buf);
	return rc;
}

/* ---- duplicates ------------------------------------------------------------ */

static int
duplicates_cmd(const struct opts *o)
{
	char *buf;
	size_t len;
	if (read_file(o->file, &buf, &len))
		return 2;
	struct store *st;
	if (open_store(o->store, &st)) {
		free(buf);
		return 2;
	}
	struct ack_track_duplicates d;
	struct store_error err;
	int64_t msg = 0, at = o->have_at ? o->at : store_now_us();
	int rc = 2;
	if (store_file(st, STORE_IN, o->partner, "", "", buf, len, &msg))
		goto out;
	if (ack_track_check_duplicates(st, o->partner, buf, len, msg, at,
	                               (int64_t)o->window_hours * ACK_TRACK_HOUR_US, &d, &err)) {
		fprintf(stderr, "edigate: %s\n", err.message);
		goto out;
	}
	for (size_t i = 0; i < d.count; i++) {
		char first[32];
		ack_report_time(d.list[i].first_seen_us, first);
		printf("%s %s (%s): duplicate of message %" PRId64 ", first seen %s%s%s\n",
		       d.list[i].level, d.list[i].control, d.list[i].kind,
		       d.list[i].first_message_id, first,
		       *d.list[i].ack_code ? "; ack code " : "", d.list[i].ack_code);
	}
	if (d.dropped)
		printf("and %zu more duplicates\n", d.dropped);
	printf("message %" PRId64 ": %u control number%s checked, %zu duplicate%s\n", msg,
	       d.checked, d.checked == 1 ? "" : "s", d.count + d.dropped,
	       d.count + d.dropped == 1 ? "" : "s");
	rc = d.count ? 1 : 0;
out:
	store_close(st);
	free(buf);
	return rc;
}

/* ---- overdue --------------------------------------------------------------- */

static int
overdue_cmd(const struct opts *o)
{
	struct store *st;
	struct store_error err;
	unsigned n;
	if (open_store(o->store, &st))
		return 2;
	int rc = ack_track_overdue(st, o->have_at ? o->at : 0, &n, &err);
	store_close(st);
	if (rc) {
		fprintf(stderr, "edigate: overdue check failed: %s\n", err.message);
		return 2;
	}
	printf("%u expectation%s newly overdue\n", n, n == 1 ? "" : "s");
	return 0;
}

int
cmd_ack_track(int argc, char **argv)
{
	struct opts o;
	int rc;
	if (argc < 2) {
		fputs(ack_track_usage, stderr);
		return 2;
	}
	const char *sub = argv[1];
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
		fputs(ack_track_usage, stdout);
		return 0;
	}
	if (strcmp(sub, "expect") == 0)
		rc = parse(argc - 1, argv + 1, &o, " partner partners ack ta1 sla-hours sent ", 1,
		           1, ack_track_usage);
	else if (strcmp(sub, "reconcile") == 0)
		rc = parse(argc - 1, argv + 1, &o, " partner received ", 1, 1, ack_track_usage);
	else if (strcmp(sub, "duplicates") == 0)
		rc = parse(argc - 1, argv + 1, &o, " partner window-hours at ", 1, 1,
		           ack_track_usage);
	else if (strcmp(sub, "overdue") == 0)
		rc = parse(argc - 1, argv + 1, &o, " now ", 0, 0, ack_track_usage);
	else {
		fprintf(stderr, "edigate: unknown ack-track command %s\n%s", sub, ack_track_usage);
		return 2;
	}
	if (rc == -2)
		return 0;
	if (rc)
		return 2;
	switch (sub[0]) {
	case 'e':
		return expect_cmd(&o);
	case 'r':
		return reconcile_cmd(&o);
	case 'd':
		return duplicates_cmd(&o);
	default:
		return overdue_cmd(&o);
	}
}

/* ---- report acks ----------------------------------------------------------- */

static int
report_acks(const struct opts *o)
{
	struct store *st;
	struct store_error err;
	struct ack_report r;
	int64_t now = o->have_at ? o->at : store_now_us();
	if (open_store(o->store, &st))
		return 2;
	/* On-demand reconciliation: what is past its deadline now shows as
	 * overdue in this report, not at the next run of the daemon's job. */
	if (ack_track_overdue(st, now, NULL, &err) ||
	    ack_report_build(st, o->partner, o->since, o->until, now, &r, &err)) {
		fprintf(stderr, "edigate: %s\n", err.message);
		store_close(st);
		return 2;
	}
	store_close(st);
	FILE *out = stdout;
	if (o->output && strcmp(o->output, "-") != 0) {
		out = fopen(o->output, "w");
		if (!out) {
			fprintf(stderr, "edigate: cannot write %s: %s\n", o->output, strerror(errno));
			ack_report_free(&r);
			return 2;
		}
	}
	int bad;
	if (strcmp(o->format, "json") == 0)
		bad = ack_report_write_json(out, &r);
	else if (strcmp(o->format, "html") == 0)
		bad = ack_report_write_html(out, &r);
	else
		bad = ack_report_write_csv(out, &r);
	bad |= fflush(out) != 0;
	if (out != stdout)
		bad |= fclose(out) != 0;
	ack_report_free(&r);
	if (bad) {
		fprintf(stderr, "edigate: writing the report failed\n");
		return 2;
	}
	return 0;
}

int
cmd_report(int argc, char **argv)
{
	struct opts o;
	if (argc < 2) {
		fputs(report_usage, stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		fputs(report_usage, stdout);
		return 0;
	}
	if (strcmp(argv[1], "reconcile") == 0)
		return cmd_report_reconcile(argc - 1, argv + 1);
	if (strcmp(argv[1], "acks") != 0) {
		fprintf(stderr, "edigate: unknown report %s\n%s", argv[1], report_usage);
		return 2;
	}
	int rc = parse(argc - 1, argv + 1, &o, " partner since until format now output ", 0, 0,
	               report_usage);
	if (rc == -2)
		return 0;
	if (rc)
		return 2;
	return report_acks(&o);
}
