/*
 * cmd_ack - `edigate ack`: the acknowledgments edigate sends for a file,
 * and the meaning of an acknowledgment a partner sent.
 *
 *   edigate ack [--partner ID] [--control N] [--date CCYYMMDD --time HHMM]
 *               [--maps DIR] [--partners DIR] [--no-guide] FILE...
 *     For every interchange of every file ("-" is standard input), the
 *     acknowledgment interchange(s) edigate answers with, on stdout: a
 *     TA1 and/or a 997 (004010) or 999 (005010) for X12, a CONTRL for
 *     EDIFACT, following the rules of translators/ack.h. The partner
 *     profile, when given, says which ack (997, 999, CONTRL, none),
 *     whether a TA1 goes with every interchange, the partner's envelope
 *     ids and the delimiters and line style. Without it the ack type
 *     follows the version and the ids are the inbound ones swapped.
 *     Control numbers start at --control (default 1) and go up by one per
 *     ack interchange written; date and time are now (UTC) unless given.
 *     The guide (maps/) checks every set whose map exists unless
 *     --no-guide.
 *
 *   edigate ack --read FILE...
 *     Every TA1, 997, 999 and CONTRL in the files as JSON, one document
 *     per line: a canonical functional_ack
 *     (maps/canonical/functional_ack.schema.json) per acknowledged group
 *     or EDIFACT interchange, an "interchange_ack" object per TA1. A
 *     malformed acknowledgment is reported on stderr.
 *
 * Exit status: 0 everything acknowledged was accepted (or every ack read
 * is well formed), 1 something was rejected or is malformed, or an ack
 * could not be written (an inbound interchange without the ids to
 * address it), 2 usage or I/O error.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ack.h"
#include "commands.h"
#include "edi_reader.h"
#include "edi_writer.h"
#include "map.h"
#include "partner.h"
#include "xlate.h"

#define USAGE \
	"usage: edigate ack [--partner ID] [--control N] [--date CCYYMMDD] [--time HHMM]\n" \
	"                   [--maps DIR] [--partners DIR] [--no-guide] FILE...\n" \
	"       edigate ack --read FILE...\n"

struct ack_cli {
	const char *path;
	const partner *prof;
	unsigned long control;
	const char *date, *time;
	int rejected;
	int failed;
};

static void
copy(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int
anything_rejected(const ack_interchange_result *r)
{
	if (r->status == ACK_STATUS_REJECTED)
		return 1;
	for (size_t i = 0; i < r->group_count; i++)
		if (r->groups[i].status != ACK_STATUS_ACCEPTED)
			return 1;
	for (size_t i = 0; i < r->message_count; i++)
		if (r->messages[i].status != ACK_STATUS_ACCEPTED)
			return 1;
	return 0;
}

static void
on_result(void *ctx, const ack_interchange_result *r)
{
	struct ack_cli *st = ctx;
	ack_plan plan = ack_choose(r, st->prof ? st->prof->ack : NULL,
	    st->prof ? st->prof->ta1 : 0);

	if (anything_rejected(r))
		st->rejected = 1;
	if (plan.kind == ACK_KIND_NONE && !plan.ta1)
		return;
	ack_envelope env;
	ack_envelope_from_inbound(&env, r);
	if (st->prof)
		ack_envelope_apply_partner(&env, r, st->prof);
	if (st->date)
		copy(env.date, sizeof(env.date), st->date);
	if (st->time)
		copy(env.time, sizeof(env.time), st->time);
	env.interchange_control = env.group_control = env.set_control =
	    st->control++;
	/* Into memory first: an ack that cannot be written (no id to
	 * address it to) must not leave half an interchange on stdout. */
	edi_writer_memory m = { 0 };
	edi_writer *w = edi_writer_new(edi_writer_memory_sink, &m);
	if (!w) {
		fprintf(stderr, "edigate: out of memory\n");
		st->failed = 1;
		return;
	}
	if (ack_write(w, r, plan, &env) != EDI_WRITE_OK) {
		const edi_write_error *e = edi_writer_error(w);
		fprintf(stderr, "%s: cannot write the acknowledgment of interchange %s: %s\n",
		    st->path, r->control_number, e ? e->message : "write error");
		st->rejected = 1;
	} else if (m.len && fwrite(m.data, 1, m.len, stdout) != m.len) {
		st->failed = 1;
	}
	edi_writer_free(w);
	edi_writer_memory_free(&m);
}

static void
on_reader_error(void *ctx, const edi_error *e)
{
	(void)ctx;
	(void)e;
	/* The envelope turns reader problems into ack codes; `edigate
	 * validate` is the command that lists them. */
}

static int
on_collector_segment(void *ctx, const edi_segment *seg)
{
	return ack_collector_segment(ctx, seg);
}

static void
on_collector_error(void *ctx, const edi_error *e)
{
	ack_collector_reader_error(ctx, e);
	on_reader_error(NULL, e);
}

struct read_cli {
	const char *path;
	int malformed;
};

static void
on_document(void *ctx, const ack_document *doc)
{
	struct read_cli *st = ctx;
	json_t *arr = json_array();

	if (doc->problem_count) {
		fprintf(stderr, "%s:%llu: malformed %s: %s (%zu problem%s)\n",
		    st->path, (unsigned long long)doc->line,
		    ack_kind_name(doc->kind), doc->problem, doc->problem_count,
		    doc->problem_count == 1 ? "" : "s");
		st->malformed = 1;
	}
	if (!arr || ack_document_to_json(doc, arr) < 0) {
		json_decref(arr);
		st->malformed = 1;
		return;
	}
	size_t i;
	json_t *o;
	json_array_foreach(arr, i, o) {
		json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
	}
	json_decref(arr);
}

static int
read_acks(int argc, char **argv, int first)
{
	int status = 0;
	for (int i = first; i < argc; i++) {
		struct read_cli st = { argv[i], 0 };
		ack_reader *ar = ack_reader_new(on_document, &st);
		edi_reader_callbacks cb;
		ack_reader_reader_callbacks(&cb);
		edi_reader *rd = ar ? edi_reader_new(&cb, ar, NULL) : NULL;
		if (!rd) {
			fprintf(stderr, "edigate: out of memory\n");
			ack_reader_free(ar);
			return EXIT_USAGE;
		}
		if (cli_feed_file(argv[i], rd) < 0)
			status = EXIT_USAGE;
		ack_reader_finish(ar);
		if (st.malformed && status == 0)
			status = EXIT_INVALID;
		edi_reader_free(rd);
		ack_reader_free(ar);
	}
	fflush(stdout);
	return status;
}

static int
valid_date_time(const char *s, size_t len)
{
	if (strlen(s) != len)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

int
cmd_ack(int argc, char **argv)
{
	const char *partner_id = NULL, *mdir = NULL, *pdir = NULL;
	struct ack_cli st = { .control = 1 };
	int read = 0, guide = 1, first = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--read") == 0)
			read = 1;
		else if (strcmp(argv[i], "--no-guide") == 0)
			guide = 0;
		else if (strcmp(argv[i], "--partner") == 0 && i + 1 < argc)
			partner_id = argv[++i];
		else if (strcmp(argv[i], "--maps") == 0 && i + 1 < argc)
			mdir = argv[++i];
		else if (strcmp(argv[i], "--partners") == 0 && i + 1 < argc)
			pdir = argv[++i];
		else if (strcmp(argv[i], "--date") == 0 && i + 1 < argc)
			st.date = argv[++i];
		else if (strcmp(argv[i], "--time") == 0 && i + 1 < argc)
			st.time = argv[++i];
		else if (strcmp(argv[i], "--control") == 0 && i + 1 < argc) {
			char *end;
			st.control = strtoul(argv[++i], &end, 10);
			if (*end || st.control < 1 || st.control > 999999999) {
				fprintf(stderr, "edigate: --control takes 1 to 999999999\n");
				return EXIT_USAGE;
			}
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(USAGE, stdout);
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fputs(USAGE, stderr);
			return EXIT_USAGE;
		} else {
			first = i;
			break;
		}
	}
	if (first == 0) {
		fputs(USAGE, stderr);
		return EXIT_USAGE;
	}
	if ((st.date && !valid_date_time(st.date, 8)) ||
	    (st.time && !valid_date_time(st.time, 4))) {
		fprintf(stderr, "edigate: --date takes CCYYMMDD, --time HHMM\n");
		return EXIT_USAGE;
	}
	if (read)
		return read_acks(argc, argv, first);

	int status = 0;
	map_loader *loader = NULL;
	xlate_maps *maps = NULL;
	partner *prof = NULL;
	char *err = NULL;
	mdir = cli_maps_dir(mdir);
	if (guide || partner_id) {
		char xsd[4096];
		snprintf(xsd, sizeof(xsd), "%s/map.xsd", mdir);
		loader = map_loader_new(xsd, &err);
		if (!loader) {
			fprintf(stderr, "%s", err ? err : "edigate: cannot load map.xsd\n");
			free(err);
			return EXIT_USAGE;
		}
	}
	if (partner_id) {
		char ppath[4096], pxsd[4096];
		pdir = cli_partners_dir(pdir);
		snprintf(ppath, sizeof(ppath), "%s/%s.xml", pdir, partner_id);
		snprintf(pxsd, sizeof(pxsd), "%s/partner.xsd", pdir);
		if (!cli_partner_id_ok(partner_id) || access(ppath, R_OK) != 0) {
			fprintf(stderr, "edigate: no profile for partner '%s'\n",
			    partner_id);
			map_loader_free(loader);
			return EXIT_USAGE;
		}
		prof = partner_load(pxsd, loader, ppath, &err);
		if (!prof) {
			fputs(err ? err : "edigate: invalid partner profile\n", stderr);
			free(err);
			map_loader_free(loader);
			return EXIT_USAGE;
		}
	}
	if (guide) {
		maps = xlate_maps_new(mdir, loader);
		if (maps && prof)
			xlate_maps_use_partner(maps, prof);
	}
	st.prof = prof;
	ack_collector_options opt = { .maps = maps };
	for (int i = first; i < argc; i++) {
		st.path = argv[i];
		ack_collector *c = ack_collector_new(&opt, on_result, &st);
		edi_reader_callbacks cb = { on_collector_segment, on_collector_error };
		edi_reader *rd = c ? edi_reader_new(&cb, c, NULL) : NULL;
		if (!rd) {
			fprintf(stderr, "edigate: out of memory\n");
			ack_collector_free(c);
			status = EXIT_USAGE;
			break;
		}
		if (cli_feed_file(argv[i], rd) < 0)
			status = EXIT_USAGE;
		ack_collector_finish(c);
		edi_reader_free(rd);
		ack_collector_free(c);
	}
	if (fflush(stdout) != 0)
		st.failed = 1;
	xlate_maps_free(maps);
	partner_free(prof);
	map_loader_free(loader);
	if (st.failed)
		return EXIT_USAGE;
	if (status == 0 && st.rejected)
		status = EXIT_INVALID;
	return status;
}
