/*
 * cmd_translate - `edigate translate` (EDI -> canonical JSON, one document
 * per transaction set or message, one per line) and `edigate map check`.
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
#include "xlate.h"

static const char *
maps_dir(const char *given)
{
	if (given)
		return given;
	const char *env = getenv("EDIGATE_MAPS");
	if (env && *env)
		return env;
	if (access("maps/map.xsd", R_OK) == 0)
		return "maps";
	return EDIGATE_DATADIR "/maps";
}

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

static const char *
partners_dir(const char *given)
{
	if (given)
		return given;
	const char *env = getenv("EDIGATE_PARTNERS");
	if (env && *env)
		return env;
	if (access("partners/partner.xsd", R_OK) == 0)
		return "partners";
	return EDIGATE_DATADIR "/partners";
}

static int
plain_id(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return 0;
	return 1;
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
	json_dumpf(r->doc, stdout, st->pretty ? JSON_INDENT(2) | JSON_PRESERVE_ORDER
	    : JSON_COMPACT | JSON_PRESERVE_ORDER);
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

int
cmd_translate(int argc, char **argv)
{
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
			return 0;
		} else
			break;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: edigate translate [--pretty] [--partner ID] [--maps DIR] FILE...\n");
		return EXIT_USAGE;
	}
	dir = maps_dir(dir);
	map_loader *l = open_loader(dir);
	if (l == NULL)
		return EXIT_USAGE;
	xlate_maps *maps = xlate_maps_new(dir, l);
	partner *prof = NULL;
	if (partner_id) {
		/* An unknown partner still translates with the standard maps:
		 * a profile only adds its overrides and cross-references. */
		char ppath[4096], pxsd[4096];
		pdir = partners_dir(pdir);
		snprintf(ppath, sizeof(ppath), "%s/%s.xml", pdir, partner_id);
		snprintf(pxsd, sizeof(pxsd), "%s/partner.xsd", pdir);
		if (!plain_id(partner_id) || access(ppath, R_OK) != 0) {
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
	map_loader *l = open_loader(maps_dir(dir));
	if (l == NULL)
		return EXIT_USAGE;
	char xsd[4096];
	snprintf(xsd, sizeof(xsd), "%s/partner.xsd", partners_dir(pdir));
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
	map_loader *l = open_loader(maps_dir(dir));
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
