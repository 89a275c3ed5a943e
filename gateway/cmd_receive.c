/*
 * cmd_receive - `edigate receive`: the whole inbound path of edigated,
 * without a network, for files an operator has in hand.
 *
 * OWNS
 *   Making each file durable exactly like a transport does (spool file
 *   committed, message row direction in, state "received", with an
 *   idempotency key "<partner>/<sha256>" in scope "receive" so the same
 *   bytes received twice are one message), then either reconciling it
 *   with ack_track when it holds the partner's TA1/997/999/CONTRL (the
 *   inbound pipeline does not look at acks), or running the inbound
 *   pipeline (inbound.h) synchronously on it. One JSON line per file says
 *   what happened.
 *
 * NEVER
 *   Sends the acknowledgment it builds (it stays queued in the store for
 *   a transport), routes documents anywhere (they stay in the store), or
 *   processes a file already received.
 */
#define _GNU_SOURCE
#include "config.h"

#include "commands.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ack_track.h"
#include "inbound.h"
#include "partner.h"
#include "partner_set.h"
#include "spool.h"
#include "store.h"

#ifndef EDIGATE_STATEDIR
#define EDIGATE_STATEDIR "/var/lib/edigate"
#endif
#ifndef EDIGATE_DATADIR
#define EDIGATE_DATADIR "/usr/share/edigate"
#endif

/* A file larger than this is refused: the CLI reads it into memory. */
#define RECEIVE_MAX_FILE (512u << 20)

static const char receive_usage[] =
	"usage: edigate receive --partner ID [--store URL|PATH] [--spool DIR]\n"
	"                       [--partners DIR] [--maps DIR] [--transport NAME]\n"
	"                       [--duplicate-window 90d|off|forever] FILE...\n"
	"Runs the inbound path of edigated on each FILE from partner ID: stores\n"
	"it, checks envelopes and guide, builds and stores the acknowledgment,\n"
	"translates and stores the canonical documents; a file of TA1/997/999/\n"
	"CONTRL is reconciled with the acks edigate expects instead. An ISA13,\n"
	"GS06 or UNB 0020 the partner used within the duplicate window (90d) is\n"
	"refused with a TA1 025 / AK9 R / CONTRL 26 and not translated. Prints one\n"
	"JSON line per file. Exit 0 all accepted, 1 something rejected, 2 usage\n"
	"or I/O error. See docs/receive.md.\n";

/* The route hook: the CLI routes nowhere, it only lists what was stored. */
static int
collect_document(void *ctx, struct store *st, const struct inbound_document *d,
    char *err, size_t errsize)
{
	json_t *docs = ctx;

	(void)st;
	(void)err;
	(void)errsize;
	json_array_append_new(docs, json_pack("{s:I, s:s, s:s}", "id",
	    (json_int_t)d->message_id, "type", d->document_type ?
	    d->document_type : "", "message_type", d->message_type ?
	    d->message_type : ""));
	return 0;
}

static int
read_file(const char *path, char **out, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0;

	if (f == NULL) {
		fprintf(stderr, "edigate: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (n == cap) {
			char *nb;
			if (cap >= RECEIVE_MAX_FILE) {
				fprintf(stderr, "edigate: %s: larger than %u "
				    "bytes\n", path, RECEIVE_MAX_FILE);
				goto fail;
			}
			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap);
			if (nb == NULL) {
				fprintf(stderr, "edigate: %s: out of memory\n",
				    path);
				goto fail;
			}
			buf = nb;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f)) {
				fprintf(stderr, "edigate: %s: read error\n",
				    path);
				goto fail;
			}
			break;
		}
	}
	if (f != stdin)
		fclose(f);
	*out = buf;
	*len = n;
	return 0;
fail:
	if (f != stdin)
		fclose(f);
	free(buf);
	return -1;
}

/*
 * Stores the bytes as an inbound message, once. 0 stored (*id new), 1
 * already received (*id the first message), -1 failed (err says why).
 */
static int
record(struct store *st, const char *partner_id, const char *transport,
    const char *path, const char *buf, size_t len, int64_t *id,
    char *err, size_t errsize)
{
	char hash[SPOOL_HASH_HEX + 1], key[STORE_IDEM_KEY_MAX + 1];
	char idtext[32], *body = NULL, *detail;
	enum store_idem_outcome outcome;
	struct store_message m;
	struct store_error ste;
	struct spool_error spe;
	int status;

	*id = 0;
	/* Payload first: nothing names it until the row commits. */
	if (spool_put(store_spool(st), buf, len, hash, &spe) != SPOOL_OK) {
		snprintf(err, errsize, "spool: %s", spe.message);
		return -1;
	}
	snprintf(key, sizeof(key), "%s/%s", partner_id, hash);
	if (store_tx_begin(st, &ste) != STORE_OK)
		goto store_fail;
	if (store_idempotency_begin(st, "receive", key, hash, &outcome, &status,
	    &body, &ste) != STORE_OK) {
		store_tx_rollback(st);
		goto store_fail;
	}
	if (outcome != STORE_IDEM_NEW) {
		store_tx_rollback(st);
		if (outcome != STORE_IDEM_REPLAY || body == NULL) {
			free(body);
			snprintf(err, errsize, "idempotency key %s is in an "
			    "unexpected state", key);
			return -1;
		}
		*id = strtoll(body, NULL, 10);
		free(body);
		return 1;
	}
	memset(&m, 0, sizeof(m));
	m.direction = STORE_IN;
	snprintf(m.partner, sizeof(m.partner), "%s", partner_id);
	snprintf(m.transport, sizeof(m.transport), "%s", transport);
	snprintf(m.payload_hash, sizeof(m.payload_hash), "%s", hash);
	m.size = (int64_t)len;
	snprintf(m.state, sizeof(m.state), "received");
	json_t *dj = json_pack("{s:s}", "file", path);
	detail = json_dumps(dj, JSON_COMPACT);
	json_decref(dj);
	if (store_message_put(st, &m, detail, &ste) != STORE_OK) {
		free(detail);
		store_tx_rollback(st);
		goto store_fail;
	}
	free(detail);
	snprintf(idtext, sizeof(idtext), "%" PRId64, m.id);
	if (store_idempotency_finish(st, "receive", key, 200, idtext, &ste)
	    != STORE_OK || store_tx_commit(st, &ste) != STORE_OK) {
		store_tx_rollback(st);
		goto store_fail;
	}
	*id = m.id;
	return 0;
store_fail:
	snprintf(err, errsize, "store: %.400s", ste.message);
	return -1;
}

struct recv_opts {
	const char *partner, *store, *spool, *partners, *maps, *transport;
	int64_t duplicate_window_us;
};

static int
parse(int argc, char **argv, struct recv_opts *o)
{
	static const struct option longopts[] = {
		{ "partner", required_argument, NULL, 'p' },
		{ "store", required_argument, NULL, 's' },
		{ "spool", required_argument, NULL, 'S' },
		{ "partners", required_argument, NULL, 'P' },
		{ "maps", required_argument, NULL, 'm' },
		{ "transport", required_argument, NULL, 't' },
		{ "duplicate-window", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+p:s:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p': o->partner = optarg; break;
		case 's': o->store = optarg; break;
		case 'S': o->spool = optarg; break;
		case 'P': o->partners = optarg; break;
		case 'm': o->maps = optarg; break;
		case 't': o->transport = optarg; break;
		case 'w':
			if (inbound_parse_window(optarg,
			    &o->duplicate_window_us) != 0) {
				fprintf(stderr, "edigate: --duplicate-window "
				    "%s: expected a number with s, m, h or d, "
				    "off or forever\n", optarg);
				return -1;
			}
			break;
		case 'h':
			fputs(receive_usage, stdout);
			return -2;
		default:
			fprintf(stderr, "edigate: unknown option %s\n%s",
			    argv[optind - 1], receive_usage);
			return -1;
		}
	}
	if (!o->store) {
		const char *env = getenv("EDIGATE_STORE");
		o->store = env && *env ? env : EDIGATE_STATEDIR "/edigate.db";
	}
	o->maps = cli_maps_dir(o->maps);
	o->partners = cli_partners_dir(o->partners);
	if (!o->transport)
		o->transport = "cli";
	return optind;
}

/* Receives one file; returns its exit status and prints its JSON line. */
static int
receive_one(struct store *st, struct inbound *in, const struct recv_opts *o,
    const char *path, json_t *docs)
{
	char *buf = NULL, err[600];
	size_t len = 0;
	int64_t id;
	int rc, dup;
	json_t *line;
	struct store_error ste;
	struct ack_track_file_summary asum;

	if (read_file(path, &buf, &len) != 0)
		return EXIT_USAGE;
	dup = record(st, o->partner, o->transport, path, buf, len, &id, err,
	    sizeof(err));
	if (dup < 0) {
		fprintf(stderr, "edigate: %s: %s\n", path, err);
		free(buf);
		return EXIT_USAGE;
	}
	line = json_pack("{s:s, s:I}", "file", path, "message_id",
	    (json_int_t)id);
	if (dup) {
		struct store_message m;
		json_object_set_new(line, "duplicate", json_true());
		if (store_message_get(st, id, &m, &ste) == STORE_OK)
			json_object_set_new(line, "state", json_string(m.state));
		rc = 0;
		goto print;
	}
	/* A partner's acks close what we sent; they are not translated. */
	memset(&asum, 0, sizeof(asum));
	if (ack_track_reconcile_file(st, o->partner, buf, len, id, 0, NULL,
	    NULL, &asum, &ste) != STORE_OK) {
		fprintf(stderr, "edigate: %s: store: %s\n", path, ste.message);
		json_decref(line);
		free(buf);
		return EXIT_USAGE;
	}
	if (asum.documents > 0) {
		char detail[128];
		snprintf(detail, sizeof(detail), "{\"acks\":%u,\"matched\":%u,"
		    "\"unmatched\":%u}", asum.documents, asum.matched,
		    asum.unmatched);
		if (store_message_set_state(st, id, "received", "processed",
		    detail, &ste) != STORE_OK) {
			fprintf(stderr, "edigate: %s: store: %s\n", path,
			    ste.message);
			json_decref(line);
			free(buf);
			return EXIT_USAGE;
		}
		json_object_set_new(line, "state", json_string("processed"));
		json_object_set_new(line, "acks", json_pack("{s:i, s:i, s:i}",
		    "documents", (int)asum.documents, "matched",
		    (int)asum.matched, "unmatched", (int)asum.unmatched));
		/* An ack for nothing we sent is recorded, and worth a look. */
		rc = asum.unmatched ? EXIT_INVALID : 0;
		goto print;
	}
	struct inbound_result res;
	memset(&res, 0, sizeof(res));
	json_array_clear(docs);
	enum inbound_status s = inbound_process(in, st, id, &res);
	if (s != INBOUND_OK) {
		fprintf(stderr, "edigate: %s: message %" PRId64 ": %s%s%s\n",
		    path, id, inbound_status_name(s), res.error[0] ? ": " : "",
		    res.error);
		json_object_set_new(line, "state", json_string(
		    res.final_state[0] ? res.final_state : "received"));
		json_object_set_new(line, "error", json_string(res.error));
		rc = EXIT_USAGE;
		goto print;
	}
	json_object_set_new(line, "state", json_string(res.final_state));
	json_object_set_new(line, "sets", json_integer(res.sets));
	json_object_set_new(line, "sets_accepted",
	    json_integer(res.sets_accepted));
	if (res.duplicates)
		json_object_set_new(line, "duplicates",
		    json_integer(res.duplicates));
	json_object_set_new(line, "ack", res.ack_message_id ? json_pack(
	    "{s:s, s:I}", "type", res.ack_type, "message_id",
	    (json_int_t)res.ack_message_id) : json_null());
	json_object_set(line, "documents", docs);
	rc = strcmp(res.final_state, "processed") == 0 ? 0 : EXIT_INVALID;
print:;
	char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (text)
		puts(text);
	free(text);
	json_decref(line);
	free(buf);
	return rc;
}

int
cmd_receive(int argc, char **argv)
{
	struct recv_opts o;
	struct store *st = NULL;
	struct inbound *in = NULL;
	struct partner_set *ps = NULL;
	char *errors = NULL, err[600];
	json_t *docs = json_array();
	int i = parse(argc, argv, &o), rc = EXIT_USAGE;

	if (i == -2) {
		rc = 0;
		goto out;
	}
	if (i < 0)
		goto out;
	if (!o.partner || i >= argc) {
		fputs(receive_usage, stderr);
		goto out;
	}
	ps = partner_set_load(o.partners, NULL, o.maps, &errors);
	if (ps == NULL) {
		fprintf(stderr, "%s", errors ? errors : "edigate: cannot load "
		    "the partner profiles\n");
		goto out;
	}
	if (partner_set_find(ps, o.partner) == NULL) {
		fprintf(stderr, "edigate: partner %s is unknown in %s\n",
		    o.partner, o.partners);
		goto out;
	}
	struct store_options so = { .spool_dir = o.spool };
	struct store_error ste;
	if (store_open(&st, o.store, &so, &ste) != STORE_OK) {
		fprintf(stderr, "edigate: cannot open the store: %s\n",
		    ste.message);
		st = NULL;
		goto out;
	}
	struct inbound_options io = { .store_url = o.store,
	    .spool_dir = o.spool, .maps_dir = o.maps,
	    .duplicate_window_us = o.duplicate_window_us };
	in = inbound_new(NULL, &io, err, sizeof(err));
	if (in == NULL) {
		fprintf(stderr, "edigate: %s\n", err);
		goto out;
	}
	inbound_set_partners(in, ps);
	inbound_route_register(in, collect_document, docs);
	rc = 0;
	for (; i < argc; i++) {
		int r = receive_one(st, in, &o, argv[i], docs);
		if (r > rc)
			rc = r;
	}
out:
	inbound_free(in);
	partner_set_unref(ps);
	store_close(st);
	free(errors);
	json_decref(docs);
	return rc;
}
