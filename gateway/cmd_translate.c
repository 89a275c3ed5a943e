/*
 * cmd_translate - `edigate translate` (EDI -> canonical JSON, one document
 * per transaction set or message, one per line), `edigate translate --to
 * x12|edifact` (canonical JSON -> one complete interchange) and `edigate
 * map check`.
 *
 * Outbound control numbers: --control N numbers the interchange, its
 * groups and its sets from N on; --store URL takes them from the store's
 * per-partner counters (store_control_next); without either they are the
 * ones in the documents' meta, so a translated file comes back as it was.
 *
 * Maps are found in --maps DIR, else $EDIGATE_MAPS, else ./maps when it
 * exists, else the installed data folder. Guide issues go to stderr as
 * "file:line: position N TAG[element]: message [AK3/AK4 codes]"; the
 * documents still go to stdout, since nothing a partner sent is dropped.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "map.h"
#include "map_xlate.h"
#include "partner.h"
#include "store.h"
#include "xlate.h"
#include "xlate_out.h"

static map_loader *
open_loader(const char *dir)
{
	char xsd[4096];
	char *err = NULL;
	snprintf(xsd, sizeof(xsd), "%s/map.xsd", dir);
	map_loader *l = map_loader_new(xsd, &err);
	if (l == NULL) {
		fprintf(stderr, "%s", err ? err : "edigate: cannot load map.xsd\n");
		free(err);
	}
	return l;
}

int
cli_open_maps(const char *dir, const char *pdir, const char *partner_id,
    map_loader **loader, xlate_maps **maps, partner **profile)
{
	*loader = NULL;
	*maps = NULL;
	*profile = NULL;
	dir = cli_maps_dir(dir);
	map_loader *l = open_loader(dir);
	if (l == NULL)
		return -1;
	xlate_maps *xm = xlate_maps_new(dir, l);
	if (partner_id) {
		char ppath[4096], pxsd[4096];
		pdir = cli_partners_dir(pdir);
		snprintf(ppath, sizeof(ppath), "%s/%s.xml", pdir, partner_id);
		snprintf(pxsd, sizeof(pxsd), "%s/partner.xsd", pdir);
		if (!cli_partner_id_ok(partner_id) || access(ppath, R_OK) != 0) {
			fprintf(stderr, "edigate: no profile for partner '%s'; using the standard maps\n",
			    partner_id);
		} else {
			char *err = NULL;
			partner *p = partner_load(pxsd, l, ppath, &err);
			if (p == NULL) {
				fputs(err ? err : "edigate: invalid partner profile\n", stderr);
				free(err);
				xlate_maps_free(xm);
				map_loader_free(l);
				return -1;
			}
			xlate_maps_use_partner(xm, p);
			*profile = p;
		}
	}
	*loader = l;
	*maps = xm;
	return 0;
}

struct translate_state {
	const char *path;
	int pretty;
	int problems;
	xlate *x;
};

static void
on_document(void *ctx, const xlate_result *r)
{
	struct translate_state *st = ctx;
	if (r->error) {
		fprintf(stderr, "%s:%llu: %s", st->path, (unsigned long long)r->line,
		    r->error);
		if (r->error[0] && r->error[strlen(r->error) - 1] != '\n')
			fputc('\n', stderr);
		st->problems++;
		return;
	}
	for (size_t i = 0; i < r->issue_count; i++) {
		const map_issue *is = &r->issues[i];
		fprintf(stderr, "%s:%llu: position %u %s", st->path,
		    (unsigned long long)r->line, is->position, is->tag);
		if (is->element)
			fprintf(stderr, "%02u", is->element);
		if (is->component)
			fprintf(stderr, "-%u", is->component);
		fprintf(stderr, ": %s [AK3 %d", is->message,
		    map_issue_x12_segment_code(is->kind));
		if (map_issue_x12_element_code(is->kind))
			fprintf(stderr, " AK4 %d", map_issue_x12_element_code(is->kind));
		fprintf(stderr, " / UN %d]\n", map_issue_edifact_code(is->kind));
		st->problems++;
	}
	if (r->text)
		fwrite(r->text, 1, r->text_len, stdout);
	else
		json_dumpf(r->doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
}

static int
on_segment(void *ctx, const edi_segment *seg)
{
	struct translate_state *st = ctx;
	return xlate_segment(st->x, seg);
}

static void
on_error(void *ctx, const edi_error *e)
{
	struct translate_state *st = ctx;
	cli_print_reader_error(st->path, e);
	if (e->severity == EDI_SEVERITY_ERROR)
		st->problems++;
}

/* All JSON values of a file: one document per line (what translate
 * prints), one pretty document, or an array of documents. */
/* A whole file (or stdin); NULL when it cannot be read. */
static char *
read_all(const char *path, size_t *lenp)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "edigate: cannot open %s\n", path);
		return NULL;
	}
	size_t cap = 65536, len = 0, n;
	char *buf = malloc(cap);
	while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			char *nb = realloc(buf, cap *= 2);
			if (nb == NULL) {
				free(buf);
				buf = NULL;
			}
			buf = nb;
		}
	}
	if (f != stdin)
		fclose(f);
	*lenp = len;
	return buf;
}

struct control_state {
	unsigned long next[3];   /* --control: the next number of each kind */
	struct store *store;
	const char *partner;
};

static int
next_control(void *ctx, xlate_control_kind kind, unsigned long *value)
{
	struct control_state *cs = ctx;
	if (cs->store) {
		static const enum store_control_kind kinds[] = {
			STORE_CONTROL_INTERCHANGE, STORE_CONTROL_GROUP, STORE_CONTROL_SET,
		};
		int64_t v;
		struct store_error err;
		if (store_control_next(cs->store, cs->partner, kinds[kind], &v, &err)) {
			fprintf(stderr, "edigate: control number: %s\n", err.message);
			return -1;
		}
		*value = (unsigned long)v;
		return 0;
	}
	*value = cs->next[kind]++;
	return 0;
}

static int
parse_when(const char *s, char date[9], char tm[5])
{
	size_t n = strlen(s);
	if (n != 12)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return -1;
	memcpy(date, s, 8);
	date[8] = '\0';
	memcpy(tm, s + 8, 4);
	tm[4] = '\0';
	return 0;
}

#define TRANSLATE_OUT_USAGE "usage: edigate translate --to x12|edifact [--partner ID] " \
	"[--sender ID] [--sender-qualifier Q] [--control N | --store URL] [--test] " \
	"[--time CCYYMMDDHHMM] [--maps DIR] [--partners DIR] FILE.json\n"

static int
translate_out(int argc, char **argv)
{
	const char *to = NULL, *partner_id = NULL, *dir = NULL, *pdir = NULL;
	const char *sender = NULL, *sender_q = NULL, *control = NULL, *store_url = NULL;
	const char *when = NULL, *file = NULL;
	int test = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--to") == 0 && v)
			to = argv[++i];
		else if (strcmp(a, "--partner") == 0 && v)
			partner_id = argv[++i];
		else if (strcmp(a, "--maps") == 0 && v)
			dir = argv[++i];
		else if (strcmp(a, "--partners") == 0 && v)
			pdir = argv[++i];
		else if (strcmp(a, "--sender") == 0 && v)
			sender = argv[++i];
		else if (strcmp(a, "--sender-qualifier") == 0 && v)
			sender_q = argv[++i];
		else if (strcmp(a, "--control") == 0 && v)
			control = argv[++i];
		else if (strcmp(a, "--store") == 0 && v)
			store_url = argv[++i];
		else if (strcmp(a, "--time") == 0 && v)
			when = argv[++i];
		else if (strcmp(a, "--test") == 0)
			test = 1;
		else if (file == NULL && (a[0] != '-' || strcmp(a, "-") == 0))
			file = a;
		else {
			fputs(TRANSLATE_OUT_USAGE, stderr);
			return EXIT_USAGE;
		}
	}
	if (to == NULL || file == NULL || (strcmp(to, "x12") != 0 && strcmp(to, "edifact") != 0)
	    || (control && store_url)) {
		fputs(TRANSLATE_OUT_USAGE, stderr);
		return EXIT_USAGE;
	}
	xlate_out_options opt = {.standard = strcmp(to, "x12") == 0 ? MAP_X12 : MAP_EDIFACT,
	    .sender = sender, .sender_qualifier = sender_q, .test = test};
	char date[9], hhmm[5];
	if (when) {
		if (parse_when(when, date, hhmm) < 0) {
			fprintf(stderr, "edigate: --time takes CCYYMMDDHHMM\n");
			return EXIT_USAGE;
		}
	} else {
		time_t t = time(NULL);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(date, sizeof(date), "%Y%m%d", &tm);
		strftime(hhmm, sizeof(hhmm), "%H%M", &tm);
	}
	opt.date = date;
	opt.time = hhmm;
	struct control_state cs = {.partner = partner_id};
	if (control) {
		char *end;
		unsigned long n = strtoul(control, &end, 10);
		if (*control == '\0' || *end != '\0' || n == 0 || n > 999999999UL) {
			fprintf(stderr, "edigate: --control takes a number from 1 to 999999999\n");
			return EXIT_USAGE;
		}
		cs.next[0] = cs.next[1] = cs.next[2] = n;
		opt.control = next_control;
		opt.control_ctx = &cs;
	}
	if (store_url && partner_id == NULL) {
		fprintf(stderr, "edigate: --store counts control numbers per partner: give --partner\n");
		return EXIT_USAGE;
	}
	dir = cli_maps_dir(dir);
	map_loader *l = open_loader(dir);
	if (l == NULL)
		return EXIT_USAGE;
	xlate_maps *maps = xlate_maps_new(dir, l);
	partner *prof = NULL;
	char *text = NULL;
	int rc = EXIT_USAGE;
	if (partner_id) {
		char ppath[4096], pxsd[4096];
		pdir = cli_partners_dir(pdir);
		snprintf(ppath, sizeof(ppath), "%s/%s.xml", pdir, partner_id);
		snprintf(pxsd, sizeof(pxsd), "%s/partner.xsd", pdir);
		if (!cli_partner_id_ok(partner_id) || access(ppath, R_OK) != 0) {
			/* Outbound needs the partner's identity: no guessing. */
			fprintf(stderr, "edigate: no profile for partner '%s'\n", partner_id);
			goto out;
		}
		char *err = NULL;
		prof = partner_load(pxsd, l, ppath, &err);
		if (prof == NULL) {
			fputs(err ? err : "edigate: invalid partner profile\n", stderr);
			free(err);
			rc = EXIT_INVALID;
			goto out;
		}
		opt.partner = prof;
	}
	if (store_url) {
		struct store_options so = {0};
		struct store_error se;
		if (store_open(&cs.store, store_url, &so, &se)) {
			fprintf(stderr, "edigate: cannot open the store: %s\n", se.message);
			goto out;
		}
		opt.control = next_control;
		opt.control_ctx = &cs;
	}
	/* All JSON values of the file: one document per line (what translate
	 * prints), one pretty document, or an array of documents; read with
	 * jparse one at a time, no json_t on the way. */
	size_t text_len;
	text = read_all(file, &text_len);
	if (text == NULL) {
		rc = EXIT_INVALID;
		goto out;
	}
	/* The interchange is built in memory and printed only when whole. */
	edi_writer_memory mem = {0};
	char err[512];
	json_error_t pe;
	/* The store's counters are not spent on a file that does not parse
	 * (the documents are written while the text is read). */
	int xr = store_url && xlate_out_text_parses(text, text_len, &pe) < 0 ? -2
	    : xlate_out_text(maps, text, text_len, &opt, edi_writer_memory_sink, &mem,
	    err, sizeof(err), &pe);
	if (xr == -2) {
		fprintf(stderr, "%s:%d: %s\n", file, pe.line, pe.text);
		rc = EXIT_INVALID;
	} else if (xr < 0) {
		fprintf(stderr, "%s: %s\n", file, err);
		rc = EXIT_INVALID;
	} else {
		fwrite(mem.data, 1, mem.len, stdout);
		rc = fflush(stdout) == 0 ? 0 : EXIT_USAGE;
	}
	edi_writer_memory_free(&mem);
out:
	if (cs.store)
		store_close(cs.store);
	free(text);
	partner_free(prof);
	xlate_maps_free(maps);
	map_loader_free(l);
	return rc;
}

int
cmd_translate(int argc, char **argv)
{
	for (int k = 1; k < argc; k++)
		if (strcmp(argv[k], "--to") == 0)
			return translate_out(argc, argv);
	const char *partner_id = NULL, *dir = NULL, *pdir = NULL;
	int pretty = 0, i;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--pretty") == 0)
			pretty = 1;
		else if (strcmp(argv[i], "--partner") == 0 && i + 1 < argc)
			partner_id = argv[++i];
		else if (strcmp(argv[i], "--maps") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--partners") == 0 && i + 1 < argc)
			pdir = argv[++i];
		else if (strcmp(argv[i], "--help") == 0) {
			printf("usage: edigate translate [--pretty] [--partner ID] [--maps DIR] FILE...\n");
			fputs(TRANSLATE_OUT_USAGE, stdout);
			return 0;
		} else
			break;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: edigate translate [--pretty] [--partner ID] [--maps DIR] FILE...\n");
		return EXIT_USAGE;
	}
	dir = cli_maps_dir(dir);
	map_loader *l = open_loader(dir);
	if (l == NULL)
		return EXIT_USAGE;
	xlate_maps *maps = xlate_maps_new(dir, l);
	partner *prof = NULL;
	if (partner_id) {
		/* An unknown partner still translates with the standard maps:
		 * a profile only adds its overrides and cross-references. */
		char ppath[4096], pxsd[4096];
		pdir = cli_partners_dir(pdir);
		snprintf(ppath, sizeof(ppath), "%s/%s.xml", pdir, partner_id);
		snprintf(pxsd, sizeof(pxsd), "%s/partner.xsd", pdir);
		if (!cli_partner_id_ok(partner_id) || access(ppath, R_OK) != 0) {
			fprintf(stderr, "edigate: no profile for partner '%s'; using the standard maps\n",
			    partner_id);
		} else {
			char *err = NULL;
			prof = partner_load(pxsd, l, ppath, &err);
			if (prof == NULL) {
				fputs(err ? err : "edigate: invalid partner profile\n", stderr);
				free(err);
				xlate_maps_free(maps);
				map_loader_free(l);
				return EXIT_INVALID;
			}
			xlate_maps_use_partner(maps, prof);
		}
	}
	char now[32];
	time_t t = time(NULL);
	struct tm tm;
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	int rc = 0;
	for (; i < argc; i++) {
		struct translate_state st = {.path = argv[i], .pretty = pretty};
		st.x = xlate_new(maps, partner_id, now, on_document, &st);
		/* One line per document: the text path, no tree. */
		if (st.x)
			xlate_set_text(st.x, !pretty);
		edi_reader_callbacks cb = {.segment = on_segment, .error = on_error};
		edi_reader *r = edi_reader_new(&cb, &st, NULL);
		if (r == NULL || st.x == NULL || cli_feed_file(argv[i], r) < 0)
			rc = EXIT_USAGE;
		else if (st.problems && rc == 0)
			rc = EXIT_INVALID;
		edi_reader_free(r);
		xlate_free(st.x);
	}
	xlate_maps_free(maps);
	partner_free(prof);
	map_loader_free(l);
	return rc;
}

int
cmd_partner(int argc, char **argv)
{
	const char *dir = NULL, *pdir = NULL;
	int i;
	if (argc < 2 || strcmp(argv[1], "check") != 0) {
		fprintf(stderr, "usage: edigate partner check [--maps DIR] [--partners DIR] FILE...\n");
		return EXIT_USAGE;
	}
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--maps") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--partners") == 0 && i + 1 < argc)
			pdir = argv[++i];
		else
			break;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: edigate partner check [--maps DIR] [--partners DIR] FILE...\n");
		return EXIT_USAGE;
	}
	map_loader *l = open_loader(cli_maps_dir(dir));
	if (l == NULL)
		return EXIT_USAGE;
	char xsd[4096];
	snprintf(xsd, sizeof(xsd), "%s/partner.xsd", cli_partners_dir(pdir));
	int rc = 0;
	for (; i < argc; i++) {
		char *err = NULL;
		partner *p = partner_load(xsd, l, argv[i], &err);
		if (p == NULL) {
			fputs(err ? err : "invalid partner profile\n", stderr);
			rc = EXIT_INVALID;
		}
		free(err);
		partner_free(p);
	}
	map_loader_free(l);
	return rc;
}

int
cmd_map(int argc, char **argv)
{
	const char *dir = NULL;
	int i = 1;
	if (argc < 2 || strcmp(argv[1], "check") != 0) {
		fprintf(stderr, "usage: edigate map check [--maps DIR] FILE...\n");
		return EXIT_USAGE;
	}
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--maps") == 0 && i + 1 < argc)
			dir = argv[++i];
		else
			break;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: edigate map check [--maps DIR] FILE...\n");
		return EXIT_USAGE;
	}
	map_loader *l = open_loader(cli_maps_dir(dir));
	if (l == NULL)
		return EXIT_USAGE;
	int rc = 0;
	for (; i < argc; i++) {
		char *err = NULL;
		if (map_check(l, argv[i], &err) != 0) {
			fputs(err ? err : "invalid map\n", stderr);
			rc = EXIT_INVALID;
		}
		free(err);
	}
	map_loader_free(l);
	return rc;
}
