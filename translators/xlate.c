/*
 * xlate - envelopes around the map engine. See xlate.h.
 */
#include "xlate.h"
#include "partner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MAPS 64

typedef struct cached {
	char *path;
	map *m;
	char *errors;
} cached;

struct xlate_maps {
	char *dir;
	map_loader *loader;
	cached cache[MAX_MAPS];
	size_t count;
	const partner *partner;
};

void
xlate_maps_use_partner(xlate_maps *x, const partner *p)
{
	x->partner = p;
}

xlate_maps *
xlate_maps_new(const char *dir, map_loader *loader)
{
	xlate_maps *x = calloc(1, sizeof(*x));
	if (x == NULL)
		return NULL;
	x->dir = strdup(dir);
	x->loader = loader;
	return x;
}

void
xlate_maps_free(xlate_maps *x)
{
	if (x == NULL)
		return;
	for (size_t i = 0; i < x->count; i++) {
		map_free(x->cache[i].m);
		free(x->cache[i].errors);
		free(x->cache[i].path);
	}
	free(x->dir);
	free(x);
}

static int
safe_name(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')
		    || (*s >= '0' && *s <= '9')))
			return 0;
	return 1;
}

const map *
xlate_maps_find_file(xlate_maps *x, const char *path, char **errors)
{
	if (errors)
		*errors = NULL;
	for (size_t i = 0; i < x->count; i++) {
		cached *c = &x->cache[i];
		if (strcmp(c->path, path) == 0) {
			if (c->m == NULL && errors && c->errors)
				*errors = strdup(c->errors);
			return c->m;
		}
	}
	char *err = NULL;
	map *m = map_load(x->loader, path, &err);
	/* Only maps that load are kept: names of maps that do not exist come
	 * from partner input, and keeping them would let a partner fill the
	 * cache. A map that does not fit is refused, not leaked. */
	if (m && x->count < MAX_MAPS) {
		cached *c = &x->cache[x->count++];
		c->path = strdup(path);
		c->m = m;
		c->errors = NULL;
	} else if (m) {
		map_free(m);
		m = NULL;
		free(err);
		err = strdup("no map: too many different maps in use");
	}
	if (errors)
		*errors = err;
	else
		free(err);
	return m;
}

static const map *find_exact(xlate_maps *x, map_standard standard,
    const char *version, const char *message, char **errors);

const map *
xlate_maps_find(xlate_maps *x, map_standard standard, const char *version,
    const char *message, char **errors)
{
	const map *m = find_exact(x, standard, version, message, errors);
	if (m == NULL && standard == MAP_EDIFACT && version[0] >= '0' && version[0] <= '9'
	    && safe_name(version) && strlen(version) < 16) {
		/* Some senders put another digit than "D" in S009 0052
		 * (DESADV:0:96A); the release still names the directory. The
		 * version in meta stays as sent, so it goes back the same. */
		char d[20];
		snprintf(d, sizeof(d), "D%s", version + 1);
		char *e2 = NULL;
		m = find_exact(x, standard, d, message, &e2);
		if (m && errors) {
			free(*errors);
			*errors = NULL;
		}
		free(e2);
	}
	return m;
}

static const map *
find_exact(xlate_maps *x, map_standard standard, const char *version,
    const char *message, char **errors)
{
	if (errors)
		*errors = NULL;
	/* Names come from partner data: never let them walk the tree. */
	if (!safe_name(version) || !safe_name(message) || strlen(version) >= 16
	    || strlen(message) >= 16) {
		if (errors)
			*errors = strdup("no map: message type or version is not a plain name");
		return NULL;
	}
	char path[8192];
	const partner_message *pm = x->partner
	    ? partner_find_message(x->partner, 1, standard, version, message) : NULL;
	if (pm && pm->override_path)
		snprintf(path, sizeof(path), "%s", pm->override_path);
	else
		snprintf(path, sizeof(path), "%s/%s/%s.%s.xml", x->dir,
		    standard == MAP_X12 ? "x12" : "edifact", message, version);
	return xlate_maps_find_file(x, path, errors);
}


/* -------------------------------------------------------------- xlate */

struct xlate {
	xlate_maps *maps;
	char *partner;
	char *received_at;
	xlate_fn fn;
	void *ctx;
	map_in *engine;
	/* Envelope */
	edi_standard standard;
	char interchange[40];
	char sender[40], sender_qualifier[8];
	char receiver[40], receiver_qualifier[8];
	char group[40];
	char group_sender[40], group_receiver[40], functional_id[8];
	char version[24];
	edi_delimiters delimiters;
	/* Parts of meta that stay the same for every message of an
	 * interchange (or group), built once and shared by reference: most
	 * of a small message's JSON values were these. */
	json_t *c_envelope, *c_delimiters, *c_standard, *c_version, *c_interchange;
	json_t *c_group, *c_received, *c_partner, *c_message, *c_type;
	const map *c_map;
	/* Current message */
	json_t *doc;
	const map *m;
	char *error;
	unsigned position;
	uint64_t line;
	int in_message;
};

xlate *
xlate_new(xlate_maps *maps, const char *partner_id, const char *received_at,
    xlate_fn fn, void *ctx)
{
	xlate *x = calloc(1, sizeof(*x));
	if (x == NULL)
		return NULL;
	x->maps = maps;
	x->partner = partner_id ? strdup(partner_id) : NULL;
	x->received_at = received_at ? strdup(received_at) : NULL;
	x->fn = fn;
	x->ctx = ctx;
	x->engine = map_in_new();
	return x;
}

static void
drop(json_t **j)
{
	json_decref(*j);
	*j = NULL;
}

/* A new interchange or group: the shared meta parts are rebuilt. */
static void
forget_envelope(xlate *x)
{
	drop(&x->c_envelope);
	drop(&x->c_delimiters);
	drop(&x->c_standard);
	drop(&x->c_version);
	drop(&x->c_interchange);
	drop(&x->c_group);
	drop(&x->c_message);
	drop(&x->c_type);
	x->c_map = NULL;
}

void
xlate_free(xlate *x)
{
	if (x == NULL)
		return;
	json_decref(x->doc);
	forget_envelope(x);
	json_decref(x->c_received);
	json_decref(x->c_partner);
	free(x->error);
	map_in_free(x->engine);
	free(x->partner);
	free(x->received_at);
	free(x);
}

/* Element (component) as trimmed text; fixed-width ISA ids are padded. */
static void
text(const edi_segment *s, size_t el, size_t comp, char *out, size_t cap)
{
	edi_slice v = comp ? edi_segment_component(s, el, 1, comp)
	    : (el < s->element_count ? s->elements[el] : (edi_slice){"", 0});
	size_t n = edi_unescape(v, s->delimiters->release, out, cap - 1);
	if (n > cap - 1)
		n = cap - 1;
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
}

static void
deliver(xlate *x)
{
	xlate_result r = {0};
	size_t n = 0;
	r.line = x->line;
	if (x->error) {
		r.error = x->error;
	} else {
		r.doc = x->doc;
		if (x->maps->partner)
			partner_xref_apply(x->maps->partner, x->doc, 1);
		r.issues = map_in_issues(x->engine, &n);
		r.issue_count = n;
	}
	x->fn(x->ctx, &r);
	json_decref(x->doc);
	x->doc = NULL;
	free(x->error);
	x->error = NULL;
	x->in_message = 0;
	x->m = NULL;
}

static void
delimiters_json(json_t *meta, const edi_delimiters *d)
{
	json_t *o = json_object();
	char s[2] = {0};
	s[0] = d->element;
	json_object_set_new(o, "element", json_string(s));
	s[0] = d->component;
	json_object_set_new(o, "component", json_string(s));
	if (d->repetition) {
		s[0] = d->repetition;
		json_object_set_new(o, "repetition", json_string(s));
	}
	if (d->release) {
		s[0] = d->release;
		json_object_set_new(o, "release", json_string(s));
	}
	if (d->decimal && d->decimal != '.') {
		s[0] = d->decimal;
		json_object_set_new(o, "decimal", json_string(s));
	}
	json_object_set_new(o, "terminator",
	    json_stringn(d->terminator, d->terminator_len));
	json_object_set_new(o, "line_suffix", json_stringn(d->suffix, d->suffix_len));
	json_object_set_new(meta, "delimiters", o);
}

static void
begin_message(xlate *x, const edi_segment *s, const char *message,
    const char *version, const char *set)
{
	if (x->in_message)
		deliver(x); /* a set without its trailer */
	x->in_message = 1;
	x->position = 1;
	x->line = s->line;
	x->doc = json_object();
	map_standard std = s->delimiters->standard == EDI_STANDARD_EDIFACT
	    ? MAP_EDIFACT : MAP_X12;
	char *err = NULL;
	x->m = xlate_maps_find(x->maps, std, version, message, &err);
	if (x->m == NULL) {
		x->error = err ? err : strdup("no map");
		return;
	}
	free(err);
	if (x->c_map != x->m || x->c_message == NULL
	    || strcmp(json_string_value(x->c_message), message) != 0) {
		drop(&x->c_message);
		drop(&x->c_type);
		x->c_message = json_string(message);
		x->c_type = json_string(x->m->document);
		x->c_map = x->m;
	}
	if (x->c_version && strcmp(json_string_value(x->c_version), x->version) != 0)
		drop(&x->c_version); /* EDIFACT: each UNH names its version */
	if (x->c_version == NULL)
		x->c_version = json_string(x->version);
	if (x->c_envelope == NULL) {
		x->c_standard = json_string(std == MAP_X12 ? "x12" : "edifact");
		x->c_interchange = json_string(x->interchange);
		x->c_group = x->group[0] ? json_string(x->group) : NULL;
		json_t *env = json_object();
		json_object_set_new(env, "sender", json_string(x->sender));
		if (x->sender_qualifier[0])
			json_object_set_new(env, "sender_qualifier", json_string(x->sender_qualifier));
		json_object_set_new(env, "receiver", json_string(x->receiver));
		if (x->receiver_qualifier[0])
			json_object_set_new(env, "receiver_qualifier", json_string(x->receiver_qualifier));
		if (x->functional_id[0]) {
			json_object_set_new(env, "functional_id", json_string(x->functional_id));
			json_object_set_new(env, "group_sender", json_string(x->group_sender));
			json_object_set_new(env, "group_receiver", json_string(x->group_receiver));
		}
		x->c_envelope = env;
		json_t *holder = json_object();
		delimiters_json(holder, &x->delimiters);
		x->c_delimiters = json_incref(json_object_get(holder, "delimiters"));
		json_decref(holder);
	}
	if (x->partner && x->c_partner == NULL)
		x->c_partner = json_string(x->partner);
	if (x->received_at && x->c_received == NULL)
		x->c_received = json_string(x->received_at);
	json_object_set(x->doc, "type", x->c_type);
	json_t *meta = json_object();
	if (x->c_partner)
		json_object_set(meta, "partner", x->c_partner);
	json_object_set(meta, "standard", x->c_standard);
	json_object_set(meta, "version", x->c_version);
	json_object_set(meta, "message", x->c_message);
	json_object_set(meta, "interchange", x->c_interchange);
	if (x->c_group)
		json_object_set(meta, "group", x->c_group);
	json_object_set_new(meta, "set", json_string(set));
	json_object_set(meta, "envelope", x->c_envelope);
	json_object_set(meta, "delimiters", x->c_delimiters);
	/* Unique per sender and control numbers; the store may replace it
	 * with its own id. */
	char corr[200];
	snprintf(corr, sizeof(corr), "%s-%s-%s-%s", x->sender, x->interchange,
	    x->group[0] ? x->group : "0", set);
	json_object_set_new(meta, "correlation_id", json_string(corr));
	if (x->c_received)
		json_object_set(meta, "received_at", x->c_received);
	json_object_set_new(x->doc, "meta", meta);
	map_in_begin(x->engine, x->m, x->doc);
}

/* Could the tag be an envelope segment (ISA UNA UNB GS UNG ST UNH SE
 * UNT and their trailers)? One test instead of nine comparisons for
 * nearly every body segment. */
static int
maybe_service(edi_slice tag)
{
	if (tag.len < 2 || tag.len > 3)
		return 0;
	switch (tag.ptr[0]) {
	case 'I': case 'U': case 'G': case 'S':
		return 1;
	default:
		return 0;
	}
}

int
xlate_segment(xlate *x, const edi_segment *s)
{
	edi_slice tag = s->elements[0];
	char buf[64];
	if (x->in_message && !maybe_service(tag)) {
		x->position++;
		if (!x->error)
			map_in_segment(x->engine, s, x->position);
		return 0;
	}
	if (edi_slice_eq(tag, "ISA")) {
		x->standard = EDI_STANDARD_X12;
		x->delimiters = *s->delimiters;
		text(s, 13, 0, x->interchange, sizeof(x->interchange));
		text(s, 5, 0, x->sender_qualifier, sizeof(x->sender_qualifier));
		text(s, 6, 0, x->sender, sizeof(x->sender));
		text(s, 7, 0, x->receiver_qualifier, sizeof(x->receiver_qualifier));
		text(s, 8, 0, x->receiver, sizeof(x->receiver));
		x->group[0] = x->functional_id[0] = '\0';
		forget_envelope(x);
		return 0;
	}
	if (edi_slice_eq(tag, "UNA"))
		return 0;
	if (edi_slice_eq(tag, "UNB")) {
		x->standard = EDI_STANDARD_EDIFACT;
		x->delimiters = *s->delimiters;
		text(s, 5, 0, x->interchange, sizeof(x->interchange));
		text(s, 2, 1, x->sender, sizeof(x->sender));
		text(s, 2, 2, x->sender_qualifier, sizeof(x->sender_qualifier));
		text(s, 3, 1, x->receiver, sizeof(x->receiver));
		text(s, 3, 2, x->receiver_qualifier, sizeof(x->receiver_qualifier));
		x->group[0] = x->functional_id[0] = '\0';
		forget_envelope(x);
		return 0;
	}
	if (edi_slice_eq(tag, "GS")) {
		forget_envelope(x);
		text(s, 1, 0, x->functional_id, sizeof(x->functional_id));
		text(s, 2, 0, x->group_sender, sizeof(x->group_sender));
		text(s, 3, 0, x->group_receiver, sizeof(x->group_receiver));
		text(s, 6, 0, x->group, sizeof(x->group));
		text(s, 8, 0, x->version, sizeof(x->version));
		return 0;
	}
	if (edi_slice_eq(tag, "UNG")) {
		forget_envelope(x);
		text(s, 5, 0, x->group, sizeof(x->group));
		return 0;
	}
	if (edi_slice_eq(tag, "ST")) {
		char msg[16], set[40], version[8];
		text(s, 1, 0, msg, sizeof(msg));
		text(s, 2, 0, set, sizeof(set));
		/* GS08 "004010VICS" is version 004010 with an industry code. */
		snprintf(version, sizeof(version), "%.6s", x->version);
		begin_message(x, s, msg, version, set);
		return 0;
	}
	if (edi_slice_eq(tag, "UNH")) {
		char msg[16], set[40], v[8], r[8];
		text(s, 1, 0, set, sizeof(set));
		text(s, 2, 1, msg, sizeof(msg));
		text(s, 2, 2, v, sizeof(v));
		text(s, 2, 3, r, sizeof(r));
		/* S009 ORDERS:D:96A -> version D96A; the association code
		 * (EAN008) is kept with it in meta. */
		snprintf(buf, sizeof(buf), "%s%s", v, r);
		snprintf(x->version, sizeof(x->version), "%.15s", buf);
		char version[16];
		snprintf(version, sizeof(version), "%.15s", buf);
		begin_message(x, s, msg, version, set);
		if (x->doc && !x->error) {
			char assoc[40];
			text(s, 2, 5, assoc, sizeof(assoc));
			if (assoc[0])
				json_object_set_new(json_object_get(x->doc, "meta"),
				    "association", json_string(assoc));
		}
		return 0;
	}
	if (!x->in_message)
		return 0; /* IEA, GE, UNZ, UNE: the envelope module's business */
	x->position++;
	if (edi_slice_eq(tag, "SE") || edi_slice_eq(tag, "UNT")) {
		if (!x->error)
			map_in_end(x->engine, x->position);
		deliver(x);
		return 0;
	}
	if (!x->error)
		map_in_segment(x->engine, s, x->position);
	return 0;
}
