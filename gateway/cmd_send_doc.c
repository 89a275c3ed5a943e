/*
 * cmd_send_doc - what `edigate send` does with a canonical JSON document
 * before it queues it: the partner's outbound interchange, built through
 * the maps with control numbers from the store's per-partner counters.
 *
 * OWNS
 *   Reading the document(s) of a file, loading the partner's profile
 *   against the maps, and writing the interchange in memory, whole or not
 *   at all, with the profile's acknowledgment settings for ack_track.
 *
 * NEVER
 *   Queues or records anything itself (the caller does, so the control
 *   numbers it took are the only trace of a failed build), or guesses a
 *   partner's identity: an unknown profile is refused.
 */
#define _GNU_SOURCE
#include "config.h"

#include "commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ack_track.h"
#include "edi_writer.h"
#include "map.h"
#include "map_xlate.h"
#include "partner.h"
#include "store.h"
#include "xlate.h"
#include "xlate_out.h"

int
cli_is_json_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	int c;

	if (f == NULL)
		return 0;
	do
		c = getc(f);
	while (c == ' ' || c == '\t' || c == '\r' || c == '\n');
	fclose(f);
	return c == '{' || c == '[';
}

/* Every JSON value in the file, in one array (objects or arrays of them). */
static json_t *
read_documents(const char *path)
{
	json_error_t e;
	json_t *docs;
	FILE *f;
	char *buf = NULL;
	size_t cap = 0, len;

	f = fopen(path, "rb");
	if (f == NULL) {
		perror(path);
		return NULL;
	}
	len = getdelim(&buf, &cap, '\0', f);
	fclose(f);
	if (buf == NULL || len == (size_t)-1) {
		free(buf);
		fprintf(stderr, "edigate: %s: empty\n", path);
		return NULL;
	}
	docs = json_array();
	for (size_t off = 0; off < len;) {
		while (off < len && strchr(" \t\r\n", buf[off]) && buf[off])
			off++;
		if (off >= len)
			break;
		json_t *j = json_loadb(buf + off, len - off,
		    JSON_DISABLE_EOF_CHECK, &e);
		if (j == NULL) {
			fprintf(stderr, "%s:%d: %s\n", path, e.line, e.text);
			json_decref(docs);
			free(buf);
			return NULL;
		}
		if (json_is_array(j))
			json_array_extend(docs, j);
		else
			json_array_append(docs, j);
		json_decref(j);
		off += (size_t)e.position;
	}
	free(buf);
	return docs;
}

static int
next_control(void *ctx, xlate_control_kind kind, unsigned long *value)
{
	static const enum store_control_kind kinds[] = {
		STORE_CONTROL_INTERCHANGE, STORE_CONTROL_GROUP, STORE_CONTROL_SET,
	};
	struct store_error err;
	int64_t v;
	void **c = ctx;

	if (store_control_next(c[0], c[1], kinds[kind], &v, &err) != STORE_OK) {
		fprintf(stderr, "edigate: control number: %s\n", err.message);
		return -1;
	}
	*value = (unsigned long)v;
	return 0;
}

int
cli_build_outbound(const char *path, const char *partner_id,
    const char *partners_dir, const char *maps_dir, struct store *st,
    char **edi, size_t *len, struct ack_track_profile *ack_profile,
    int *invalid)
{
	char xsd[4096], ppath[4096], pxsd[4096], date[9], hhmm[5], err[512];
	char *perr = NULL;
	map_loader *l = NULL;
	xlate_maps *maps = NULL;
	partner *prof = NULL;
	json_t *docs = NULL;
	edi_writer_memory mem = { 0 };
	void *ctl[2] = { st, (void *)partner_id };
	int rc = -1;

	*edi = NULL;
	*len = 0;
	*invalid = 0;
	snprintf(xsd, sizeof(xsd), "%s/map.xsd", maps_dir);
	l = map_loader_new(xsd, &perr);
	if (l == NULL) {
		fprintf(stderr, "%s", perr ? perr : "edigate: cannot load "
		    "map.xsd\n");
		goto out;
	}
	maps = xlate_maps_new(maps_dir, l);
	snprintf(ppath, sizeof(ppath), "%s/%s.xml", partners_dir, partner_id);
	snprintf(pxsd, sizeof(pxsd), "%s/partner.xsd", partners_dir);
	if (strchr(partner_id, '/') || access(ppath, R_OK) != 0) {
		fprintf(stderr, "edigate: no profile for partner '%s' in %s\n",
		    partner_id, partners_dir);
		*invalid = 1;
		goto out;
	}
	prof = partner_load(pxsd, l, ppath, &perr);
	if (prof == NULL) {
		fputs(perr ? perr : "edigate: invalid partner profile\n",
		    stderr);
		*invalid = 1;
		goto out;
	}
	docs = read_documents(path);
	if (docs == NULL || json_array_size(docs) == 0) {
		if (docs)
			fprintf(stderr, "edigate: %s: no document\n", path);
		*invalid = 1;
		goto out;
	}
	/* The partner's standard is the one its profile has an id in. */
	xlate_out_options opt = {
		.standard = prof->isa_id[0] == '\0' && prof->unb_id[0] ?
		    MAP_EDIFACT : MAP_X12,
		.partner = prof,
		.control = next_control,
		.control_ctx = ctl,
	};
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%Y%m%d", &tm);
	strftime(hhmm, sizeof(hhmm), "%H%M", &tm);
	opt.date = date;
	opt.time = hhmm;
	if (xlate_out_interchange(maps, docs, &opt, edi_writer_memory_sink,
	    &mem, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", path, err);
		*invalid = 1;
		goto out;
	}
	*edi = malloc(mem.len ? mem.len : 1);
	if (*edi == NULL) {
		fprintf(stderr, "edigate: out of memory\n");
		goto out;
	}
	memcpy(*edi, mem.data, mem.len);
	*len = mem.len;
	ack_track_profile_from_partner(ack_profile, prof);
	rc = 0;
out:
	edi_writer_memory_free(&mem);
	json_decref(docs);
	partner_free(prof);
	xlate_maps_free(maps);
	map_loader_free(l);
	free(perr);
	return rc;
}
