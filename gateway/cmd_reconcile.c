/*
 * cmd_reconcile - `edigate report reconcile`: the order chains of the
 * store and what is late in them (reconcile.h holds the rules).
 *
 * NEVER
 *   Changes the store.
 */
#define _GNU_SOURCE
#include "config.h"

#include "commands.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reconcile.h"
#include "store.h"

static const char usage[] =
	"usage: edigate report reconcile [--partner ID] [--since T] [--until T]\n"
	"                [--now T] [--response-days N] [--ship-days N]\n"
	"                [--invoice-days N] [--ack-hours N]\n"
	"                [--format csv|json|html] [--output FILE] [--store S]\n"
	"Follows each order (850/ORDERS) through its 855, 856 and 810 and their\n"
	"functional acks, keyed by the order number, and lists per partner the\n"
	"orders without a response past --response-days (default 2) or without\n"
	"a shipment past --ship-days (default 5), shipments without an invoice\n"
	"past --invoice-days (default 3), and documents without their 997 past\n"
	"the ack deadline (outbound: the partner's SLA; inbound: --ack-hours,\n"
	"default 24). --since/--until select orders by the time they arrived.\n"
	"T is UTC: 2026-11-23 or 2026-11-23T10:00:00Z. The default format is csv.\n";

static int
count_option(const char *name, const char *value, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(value, &end, 10);
	if (errno || end == value || *end || v < 0 || v > max) {
		fprintf(stderr, "edigate: --%s %s is not a number from 0 to %ld\n", name,
		        value, max);
		return -1;
	}
	*out = v;
	return 0;
}

int
cmd_report_reconcile(int argc, char **argv)
{
	enum { O_STORE = 1000, O_PARTNER, O_SINCE, O_UNTIL, O_NOW, O_RESPONSE, O_SHIP,
	       O_INVOICE, O_ACK, O_FORMAT, O_OUTPUT };
	static const struct option longopts[] = {
		{ "store", required_argument, NULL, O_STORE },
		{ "partner", required_argument, NULL, O_PARTNER },
		{ "since", required_argument, NULL, O_SINCE },
		{ "until", required_argument, NULL, O_UNTIL },
		{ "now", required_argument, NULL, O_NOW },
		{ "response-days", required_argument, NULL, O_RESPONSE },
		{ "ship-days", required_argument, NULL, O_SHIP },
		{ "invoice-days", required_argument, NULL, O_INVOICE },
		{ "ack-hours", required_argument, NULL, O_ACK },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "output", required_argument, NULL, O_OUTPUT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *env = getenv("EDIGATE_STORE");
	const char *store_url = env && *env ? env : EDIGATE_STATEDIR "/edigate.db";
	const char *format = "csv", *output = NULL;
	long response_days = 2, ship_days = 5, invoice_days = 3, ack_hours = 24;
	struct reconcile_options o = { 0 };
	int have_now = 0, ch;
	const int64_t day = 86400LL * 1000000, hour = 3600LL * 1000000;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		int bad = 0;
		switch (ch) {
		case 'h':
			fputs(usage, stdout);
			return 0;
		case O_STORE:
			store_url = optarg;
			break;
		case O_PARTNER:
			o.partner = optarg;
			break;
		case O_SINCE:
			bad = cmd_acks_time("since", optarg, &o.since_us);
			break;
		case O_UNTIL:
			bad = cmd_acks_time("until", optarg, &o.until_us);
			break;
		case O_NOW:
			bad = cmd_acks_time("now", optarg, &o.now_us);
			have_now = 1;
			break;
		case O_RESPONSE:
			bad = count_option("response-days", optarg, 3660, &response_days);
			break;
		case O_SHIP:
			bad = count_option("ship-days", optarg, 3660, &ship_days);
			break;
		case O_INVOICE:
			bad = count_option("invoice-days", optarg, 3660, &invoice_days);
			break;
		case O_ACK:
			bad = count_option("ack-hours", optarg, 24L * 3660, &ack_hours);
			break;
		case O_FORMAT:
			if (strcmp(optarg, "csv") && strcmp(optarg, "json") && strcmp(optarg, "html")) {
				fprintf(stderr, "edigate: --format is csv, json or html\n");
				bad = 1;
			}
			format = optarg;
			break;
		case O_OUTPUT:
			output = optarg;
			break;
		default:
			fprintf(stderr, "edigate: bad option %s\n%s", argv[optind - 1], usage);
			return EXIT_USAGE;
		}
		if (bad)
			return EXIT_USAGE;
	}
	if (optind != argc) {
		fprintf(stderr, "edigate: unexpected argument %s\n%s", argv[optind], usage);
		return EXIT_USAGE;
	}
	if (o.since_us && o.until_us && o.until_us <= o.since_us) {
		fprintf(stderr, "edigate: --until must be after --since\n");
		return EXIT_USAGE;
	}
	if (!have_now)
		o.now_us = store_now_us();
	o.response_us = response_days * day;
	o.ship_us = ship_days * day;
	o.invoice_us = invoice_days * day;

	struct store *st;
	struct store_error err;
	struct reconcile_doc *docs;
	size_t n;
	struct reconcile_report r;
	if (store_open(&st, store_url, NULL, &err)) {
		fprintf(stderr, "edigate: cannot open the store: %s\n", err.message);
		return EXIT_USAGE;
	}
	int rc = reconcile_collect(st, o.partner, ack_hours * hour, &docs, &n, &err);
	store_close(st);
	if (rc) {
		fprintf(stderr, "edigate: %s\n", err.message);
		return EXIT_USAGE;
	}
	rc = reconcile_build(docs, n, &o, &r);
	free(docs);
	if (rc) {
		fprintf(stderr, "edigate: out of memory building the report\n");
		return EXIT_USAGE;
	}
	FILE *out = stdout;
	if (output && strcmp(output, "-") != 0 && !(out = fopen(output, "w"))) {
		fprintf(stderr, "edigate: cannot write %s: %s\n", output, strerror(errno));
		reconcile_report_free(&r);
		return EXIT_USAGE;
	}
	int bad;
	if (strcmp(format, "json") == 0)
		bad = reconcile_write_json(out, &r);
	else if (strcmp(format, "html") == 0)
		bad = reconcile_write_html(out, &r);
	else
		bad = reconcile_write_csv(out, &r);
	bad |= fflush(out) != 0;
	if (out != stdout)
		bad |= fclose(out) != 0;
	reconcile_report_free(&r);
	if (bad) {
		fprintf(stderr, "edigate: writing the report failed\n");
		return EXIT_USAGE;
	}
	return 0;
}
