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

#define SHARED_VALUES 8

/* One shared object of meta and what it held when built: a map whose
 * paths reach into meta can change it, and then it is neither shared
 * with the next document nor taken from the caches. */
typedef struct shared_part {
	jtree *node;
	size_t size;
	jtree *values[SHARED_VALUES];
	char *text;
	size_t text_len, text_cap;
} shared_part;

struct xlate {
	xlate_maps *maps;
	char *partner;
	char *received_at;
	xlate_fn fn;
	void *ctx;
	map_in *engine;
	int text;            /* deliver compact JSON text, not trees */
	char *out;           /* the text of the last document */
	size_t out_len, out_cap;
	/* Envelope */
	edi_standard standard;
	char interchange[40];
	char sender[40], sender_qualifier[8];
	char receiver[40], receiver_qualifier[8];
	char group[40];
	char group_sender[40], group_receiver[40], functional_id[8];
	char version[24];
	edi_delimiters delimiters;
	/* Tree mode: meta's "envelope" and "delimiters" as jansson values,
	 * converted once per interchange (or group) and shared by each
	 * document's meta; they were a quarter of a small message's values. */
	json_t *c_envelope, *c_delimiters;
	/* meta's "envelope" and "delimiters" as arena trees, built once per
	 * interchange (or group) in an arena of their own and linked into
	 * each document's meta, with their text for text mode. */
	jtree_arena *shared_arena;
	shared_part shared[2];
	unsigned long shared_gen;
	/* The map found for the last message: an interchange's messages
	 * are nearly always of one type and version. xlate_maps keeps its
	 * maps until it is freed, so the pointer stays good. */
	const map *last_map;
	map_standard last_standard;
	const partner *last_partner;
	char last_version[24], last_message[24];
	/* Counts envelope changes; a document uses the shared parts only
	 * when its meta was built under the current envelope (a set left
	 * open by a missing SE is delivered after the next ISA or UNB). */
	unsigned long envelope_gen, doc_gen;
	/* Current message, in the engine's arena */
	jtree *doc;
	jtree *meta;
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
	x->shared_arena = jtree_arena_new();
	if (x->engine == NULL || x->shared_arena == NULL) {
		xlate_free(x);
		return NULL;
	}
	return x;
}

/* A new interchange or group: the shared meta parts are converted anew. */
static void
forget_envelope(xlate *x)
{
	json_decref(x->c_envelope);
	json_decref(x->c_delimiters);
	x->c_envelope = x->c_delimiters = NULL;
	x->envelope_gen++;
}

void
xlate_set_text(xlate *x, int on)
{
	x->text = on;
}

void
xlate_free(xlate *x)
{
	if (x == NULL)
		return;
	forget_envelope(x);
	free(x->error);
	free(x->out);
	for (size_t i = 0; i < 2; i++)
		free(x->shared[i].text);
	jtree_arena_free(x->shared_arena);
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
set_string(jtree_arena *a, jtree *o, const char *key, const char *value)
{
	/* Text that is not UTF-8 leaves the key out, as it always has. */
	jtree_object_set(a, o, key, jtree_string_checked(a, value, strlen(value)));
}

/* set_string for an object being filled with keys that differ from
 * each other (meta, its envelope, its delimiters): no search. */
static void
add_string(jtree_arena *a, jtree *o, const char *key, const char *value)
{
	/* Envelope fields are ASCII nearly always: no UTF-8 decoding then. */
	size_t n = 0;
	unsigned char high = 0;
	for (; value[n]; n++)
		high |= (unsigned char)value[n];
	jtree *v = high & 0x80 ? jtree_string_checked(a, value, n) : jtree_string(a, value, n);
	if (o && v)
		jtree_object_append(a, o, key, strlen(key), v);
}

static jtree *
delimiters_json(jtree_arena *a, const edi_delimiters *d)
{
	jtree *o = jtree_object(a);
	char s[2] = {0};
	s[0] = d->element;
	add_string(a, o, "element", s);
	s[0] = d->component;
	add_string(a, o, "component", s);
	if (d->repetition) {
		s[0] = d->repetition;
		add_string(a, o, "repetition", s);
	}
	if (d->release) {
		s[0] = d->release;
		add_string(a, o, "release", s);
	}
	if (d->decimal && d->decimal != '.') {
		s[0] = d->decimal;
		add_string(a, o, "decimal", s);
	}
	jtree_object_set(a, o, "terminator",
	    jtree_string_checked(a, d->terminator, d->terminator_len));
	jtree_object_set(a, o, "line_suffix",
	    jtree_string_checked(a, d->suffix, d->suffix_len));
	return o;
}

static jtree *
envelope_json(const xlate *x, jtree_arena *a)
{
	jtree *env = jtree_object(a);
	add_string(a, env, "sender", x->sender);
	if (x->sender_qualifier[0])
		add_string(a, env, "sender_qualifier", x->sender_qualifier);
	add_string(a, env, "receiver", x->receiver);
	if (x->receiver_qualifier[0])
		add_string(a, env, "receiver_qualifier", x->receiver_qualifier);
	if (x->functional_id[0]) {
		add_string(a, env, "functional_id", x->functional_id);
		add_string(a, env, "group_sender", x->group_sender);
		add_string(a, env, "group_receiver", x->group_receiver);
	}
	return env;
}

/* Has nothing been set in the shared object since it was built? */
static int
shared_intact(const shared_part *p)
{
	if (p->node == NULL || p->node->u.object.size != p->size)
		return 0;
	size_t i = 0;
	for (const jtree_member *m = p->node->u.object.first; m; m = m->next, i++)
		if (i >= SHARED_VALUES || m->value != p->values[i])
			return 0;
	return 1;
}

static void
shared_snapshot(shared_part *p, jtree *node)
{
	p->node = node;
	p->size = node ? node->u.object.size : 0;
	size_t i = 0;
	for (const jtree_member *m = node ? node->u.object.first : NULL;
	    m && i < SHARED_VALUES; m = m->next)
		p->values[i++] = m->value;
	p->text_len = 0;
	if (node && jtree_write(node, &p->text, &p->text_len, &p->text_cap) != 0)
		p->text_len = 0;
}

/* Builds meta's envelope and delimiters for the current envelope, unless
 * the ones built for it are still as built. */
static void
share_envelope(xlate *x)
{
	if (x->shared_gen == x->envelope_gen && shared_intact(&x->shared[0])
	    && shared_intact(&x->shared[1]))
		return;
	jtree_arena *a = x->shared_arena;
	jtree_arena_reset(a);
	jtree *env = envelope_json(x, a);
	jtree *delims = delimiters_json(a, &x->delimiters);
	if (jtree_arena_failed(a))
		env = delims = NULL;
	shared_snapshot(&x->shared[0], env);
	shared_snapshot(&x->shared[1], delims);
	x->shared_gen = x->envelope_gen;
}

/* The document as a jansson tree, meta's shared parts by reference. */
static json_t *
doc_to_json(xlate *x, const jtree *doc)
{
	json_t *d = json_object();
	for (const jtree_member *m = doc->u.object.first; d && m; m = m->next) {
		json_t *v;
		if (m->value == x->meta) {
			v = json_object();
			for (const jtree_member *k = x->meta->u.object.first; v && k; k = k->next) {
				json_t **cache = x->doc_gen != x->envelope_gen ? NULL
				    : k->value == x->shared[0].node && shared_intact(&x->shared[0])
				        ? &x->c_envelope
				    : k->value == x->shared[1].node && shared_intact(&x->shared[1])
				        ? &x->c_delimiters : NULL;
				json_t *kv;
				if (cache && *cache)
					kv = json_incref(*cache);
				else if ((kv = jtree_to_json(k->value)) != NULL && cache)
					*cache = json_incref(kv);
				if (kv == NULL || json_object_setn_new_nocheck(v, k->key, k->key_len, kv) != 0) {
					json_decref(v);
					v = NULL;
				}
			}
		} else {
			v = jtree_to_json(m->value);
		}
		if (v == NULL || json_object_setn_new_nocheck(d, m->key, m->key_len, v) != 0) {
			json_decref(d);
			return NULL;
		}
	}
	return d;
}

static const char out_of_memory[] = "out of memory building the document";

/* Hands the finished document over: as text straight from the arena
 * tree, or as a jansson tree when the caller wants one. */
static void
deliver(xlate *x)
{
	xlate_result r = {0};
	size_t n = 0;
	json_t *tree = NULL;
	r.line = x->line;
	if (!x->error && jtree_arena_failed(map_in_arena(x->engine)))
		x->error = strdup(out_of_memory);
	/* A partner's cross-references edit the arena tree in place (new
	 * strings from its arena), before either way out. */
	if (!x->error && x->maps->partner) {
		partner_xref_apply_jtree(x->maps->partner,
		    map_in_arena(x->engine), x->doc, 1);
		if (jtree_arena_failed(map_in_arena(x->engine)))
			x->error = strdup(out_of_memory);
	}
	if (x->error) {
		r.error = x->error;
	} else if (x->text) {
		x->out_len = 0;
		jtree_known_text known[2];
		size_t nk = 0;
		for (size_t i = 0; i < 2; i++)
			if (x->shared[i].text_len && shared_intact(&x->shared[i]))
				known[nk++] = (jtree_known_text){x->shared[i].node,
				    x->shared[i].text, x->shared[i].text_len};
		if (jtree_write_known(x->doc, known, nk, &x->out, &x->out_len, &x->out_cap) != 0)
			r.error = out_of_memory;
		r.text = x->out;
		r.text_len = x->out_len;
	} else {
		tree = doc_to_json(x, x->doc);
		if (tree == NULL)
			r.error = out_of_memory;
		else
			r.doc = tree;
	}
	if (r.error) {
		r.doc = NULL;
		r.text = NULL;
		r.text_len = 0;
	} else {
		r.issues = map_in_issues(x->engine, &n);
		r.issue_count = n;
	}
	x->fn(x->ctx, &r);
	json_decref(tree);
	x->doc = x->meta = NULL;
	free(x->error);
	x->error = NULL;
	x->in_message = 0;
	x->m = NULL;
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
	x->doc = map_in_new_document(x->engine);
	jtree_arena *a = map_in_arena(x->engine);
	map_standard std = s->delimiters->standard == EDI_STANDARD_EDIFACT
	    ? MAP_EDIFACT : MAP_X12;
	char *err = NULL;
	if (x->last_map && x->last_standard == std && x->last_partner == x->maps->partner
	    && strcmp(x->last_version, version) == 0 && strcmp(x->last_message, message) == 0) {
		x->m = x->last_map;
	} else {
		x->m = xlate_maps_find(x->maps, std, version, message, &err);
		x->last_map = NULL;
		if (x->m && strlen(version) < sizeof(x->last_version)
		    && strlen(message) < sizeof(x->last_message)) {
			x->last_map = x->m;
			x->last_standard = std;
			x->last_partner = x->maps->partner;
			strcpy(x->last_version, version);
			strcpy(x->last_message, message);
		}
	}
	if (x->m == NULL) {
		x->error = err ? err : strdup("no map");
		return;
	}
	free(err);
	if (x->doc == NULL) {
		x->error = strdup(out_of_memory);
		return;
	}
	add_string(a, x->doc, "type", x->m->document);
	jtree *meta = jtree_object(a);
	if (x->partner)
		add_string(a, meta, "partner", x->partner);
	add_string(a, meta, "standard", std == MAP_X12 ? "x12" : "edifact");
	add_string(a, meta, "version", x->version);
	add_string(a, meta, "message", message);
	add_string(a, meta, "interchange", x->interchange);
	if (x->group[0])
		add_string(a, meta, "group", x->group);
	add_string(a, meta, "set", set);
	share_envelope(x);
	jtree *env = x->shared[0].node, *delims = x->shared[1].node;
	if (env == NULL || delims == NULL) {
		/* Out of memory for the shared parts: this document's own. */
		env = envelope_json(x, a);
		delims = delimiters_json(a, &x->delimiters);
	}
	jtree_object_set(a, meta, "envelope", env);
	jtree_object_set(a, meta, "delimiters", delims);
	/* Unique per sender and control numbers; the store may replace it
	 * with its own id. */
	char corr[200]; /* four fields of at most 39 bytes and their dashes */
	const char *parts[4] = {x->sender, x->interchange, x->group[0] ? x->group : "0", set};
	size_t o = 0;
	for (size_t i = 0; i < 4; i++) {
		size_t n = strnlen(parts[i], 40);
		if (i)
			corr[o++] = '-';
		memcpy(corr + o, parts[i], n);
		o += n;
	}
	corr[o] = '\0';
	add_string(a, meta, "correlation_id", corr);
	if (x->received_at)
		add_string(a, meta, "received_at", x->received_at);
	jtree_object_set(a, x->doc, "meta", meta);
	x->meta = meta;
	x->doc_gen = x->envelope_gen;
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
		size_t vn = strnlen(x->version, 6);
		memcpy(version, x->version, vn);
		version[vn] = '\0';
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
		if (x->meta && !x->error) {
			char assoc[40];
			text(s, 2, 5, assoc, sizeof(assoc));
			if (assoc[0])
				set_string(map_in_arena(x->engine), x->meta, "association", assoc);
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
