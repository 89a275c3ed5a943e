/*
 * map_in - EDI -> canonical JSON and the structure guide. See map_xlate.h.
 *
 * Placement follows the usual X12/EDIFACT rule: a segment is looked for
 * from the current position forward in the innermost open loop, then in
 * each enclosing loop; finding a loop's trigger opens a new occurrence.
 * Each segment is then bound in two steps: values are converted and staged
 * first, and only if nothing conflicts are they committed into the JSON,
 * so a segment is never half bound.
 */
#include "map_xlate.h"
#include "map_value.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 16
#define MAX_STAGED 128
#define SCRATCH 65536

typedef struct frame {
	const map_node *loop;
	size_t idx;         /* child at the current position */
	uint32_t *counts;   /* uses per child in this occurrence */
	jtree *ctx;        /* NULL: this occurrence is unmapped */
} frame;

typedef struct staged {
	const map_path *path; /* relative to the segment's target */
	size_t skip;          /* steps of path already consumed */
	jtree *value;
	int copy_key;         /* the last key is the data's: copy it */
} staged;

typedef struct hl_entry {
	char id[24];
	jtree *obj;
	const char *code;
} hl_entry;

struct map_in {
	jtree_arena *arena;   /* the document being built; reset per message */
	const map *m;
	jtree *doc;
	jtree *unmapped;
	frame stack[MAX_DEPTH + 1];
	size_t depth;
	uint32_t *count_pool;
	size_t count_pool_size;
	map_issue issues[MAP_IN_MAX_ISSUES];
	size_t issue_count, issue_total;
	staged stage[MAX_STAGED];
	size_t staged_count;
	jtree *extras[MAP_OUT_MAX_ELEMENTS + 1];
	unsigned extra_max;
	_Alignas(16) char scratch[SCRATCH];
	size_t scratch_used;
	unsigned position;
	const edi_segment *seg;
	unsigned skip_upto;   /* elements 1..n are written back by the engine (HL) */
	hl_entry *hl;         /* HL01 -> object, for HL02 to find its parent */
	size_t hl_count, hl_cap;
};

map_in *
map_in_new(void)
{
	map_in *in = calloc(1, sizeof(map_in));
	if (in == NULL)
		return NULL;
	in->arena = jtree_arena_new();
	if (in->arena == NULL) {
		free(in);
		return NULL;
	}
	return in;
}

jtree_arena *
map_in_arena(map_in *in)
{
	return in->arena;
}

jtree *
map_in_new_document(map_in *in)
{
	jtree_arena_reset(in->arena);
	in->doc = NULL;
	in->unmapped = NULL;
	return jtree_object(in->arena);
}

void
map_in_free(map_in *in)
{
	if (in == NULL)
		return;
	jtree_arena_free(in->arena);
	free(in->count_pool);
	free(in->hl);
	free(in);
}

const map_issue *
map_in_issues(const map_in *in, size_t *count)
{
	*count = in->issue_count;
	return in->issues;
}

size_t
map_in_issue_total(const map_in *in)
{
	return in->issue_total;
}

static void
issue(map_in *in, map_issue_kind kind, const char *tag, unsigned position,
    unsigned element, unsigned component, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static void
issue(map_in *in, map_issue_kind kind, const char *tag, unsigned position,
    unsigned element, unsigned component, const char *fmt, ...)
{
	in->issue_total++;
	if (in->issue_count == MAP_IN_MAX_ISSUES)
		return;
	map_issue *i = &in->issues[in->issue_count++];
	i->kind = kind;
	i->position = position;
	snprintf(i->tag, sizeof(i->tag), "%s", tag);
	i->element = element;
	i->component = component;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(i->message, sizeof(i->message), fmt, ap);
	va_end(ap);
}

void
map_in_begin(map_in *in, const map *m, jtree *doc)
{
	in->m = m;
	in->doc = doc;
	in->unmapped = jtree_array(in->arena);
	jtree_object_set(in->arena, doc, "unmapped", in->unmapped);
	size_t need = (size_t)(m->depth + 2) * (m->max_children + 1);
	if (need > in->count_pool_size) {
		free(in->count_pool);
		in->count_pool = calloc(need, sizeof(uint32_t));
		in->count_pool_size = in->count_pool ? need : 0;
	}
	in->depth = 0;
	in->issue_count = in->issue_total = 0;
	in->hl_count = 0;
	frame *f = &in->stack[0];
	f->loop = &m->root;
	f->idx = 0;
	f->counts = in->count_pool;
	memset(f->counts, 0, (m->max_children + 1) * sizeof(uint32_t));
	f->ctx = doc;
}

/* --------------------------------------------------------- placement */

static void
check_missing(map_in *in, frame *f, size_t from, size_t to)
{
	for (size_t i = from; i < to && i < f->loop->child_count; i++) {
		const map_node *c = f->loop->children[i];
		if (c->use == MAP_USE_MANDATORY && f->counts[i] == 0)
			issue(in, MAP_ISSUE_MANDATORY_SEGMENT_MISSING, c->tag_text,
			    in->position, 0, 0, "mandatory %s %s is missing",
			    c->kind == MAP_NODE_LOOP ? "loop" : "segment", c->id);
	}
}

/* Closes frames deeper than level, checking what they still needed. */
static void
pop_to(map_in *in, size_t level)
{
	while (in->depth > level) {
		frame *f = &in->stack[in->depth];
		check_missing(in, f, f->idx + 1, f->loop->child_count);
		in->depth--;
	}
}

static int
tag_known(const map_node *loop, uint32_t tag)
{
	for (size_t i = 0; i < loop->child_count; i++) {
		const map_node *c = loop->children[i];
		if (c->tag == tag)
			return 1;
		if (c->kind == MAP_NODE_LOOP && tag_known(c, tag))
			return 1;
	}
	return 0;
}

/* ---------------------------------------------------------- scratch */

static char *
scratch(map_in *in, size_t n)
{
	/* Aligned: paths and steps are built here too. */
	in->scratch_used = (in->scratch_used + 15) & ~(size_t)15;
	if (in->scratch_used + n > SCRATCH)
		return NULL;
	char *p = in->scratch + in->scratch_used;
	in->scratch_used += n;
	return p;
}

/* The text of a slice without release characters. */
static inline edi_slice
plain(map_in *in, edi_slice s)
{
	const edi_delimiters *d = in->seg->delimiters;
	if (!(in->seg->flags & EDI_SEGMENT_RELEASED) || d->release == 0
	    || memchr(s.ptr, d->release, s.len) == NULL)
		return s;
	char *p = scratch(in, s.len);
	if (p == NULL)
		return s;
	size_t n = edi_unescape(s, d->release, p, s.len);
	return (edi_slice){p, n < s.len ? n : s.len};
}

/* edi_slice_count, without the splitter when the segment holds no
 * release character (nearly always): one plus the separators. */
static inline size_t
count_parts(const map_in *in, edi_slice s, char sep)
{
	const edi_delimiters *d = in->seg->delimiters;
	if (sep == 0 || ((in->seg->flags & EDI_SEGMENT_RELEASED) && d->release))
		return edi_slice_count(s, sep, d->release);
	size_t n = 1;
	for (size_t i = 0; i < s.len; i++)
		n += s.ptr[i] == sep;
	return n;
}

/* ------------------------------------------------------ guide checks */

static void
check_value(map_in *in, const map_value *v, edi_slice s, unsigned el,
    unsigned comp)
{
	map_issue_kind k;
	if ((v->type == MAP_TYPE_AN || v->type == MAP_TYPE_ID)
	    && !(v->codelist && v->codelist->closed))
		/* map_value_check for text without a closed list: its length. */
		k = s.len < v->min ? MAP_ISSUE_TOO_SHORT
		    : s.len > v->max ? MAP_ISSUE_TOO_LONG : 0;
	else
		k = map_value_check(v, s.ptr, s.len, in->seg->delimiters->decimal);
	if (k == 0)
		return;
	const char *tag = in->seg->elements[0].ptr;
	char t[4] = {0};
	memcpy(t, tag, in->seg->elements[0].len < 3 ? in->seg->elements[0].len : 3);
	char shown[40];
	size_t n = s.len < sizeof(shown) - 1 ? s.len : sizeof(shown) - 1;
	memcpy(shown, s.ptr, n);
	shown[n] = '\0';
	issue(in, k, t, in->position, el, comp, "%s \"%s\" (type %s, length %u-%u)",
	    map_issue_kind_name(k), shown, map_value_type_name(v), v->min, v->max);
}

/* ------------------------------------------------------ members */

/* The keys the engine sets are the map's own strings (path steps and
 * code names, each interned once when the map loads, see map.c), string
 * literals, or qualifiers from the data, which are copied. The map
 * outlives every document built with it, so a member points at the
 * map's key instead of a copy, and a key set before is nearly always
 * found by its pointer, without comparing bytes. */
static inline jtree_member *
member(const jtree *o, const char *key, size_t len)
{
	for (jtree_member *m = o->u.object.first; m; m = m->next)
		if (m->key_len == len && (m->key == key || len == 0
		    || (m->key[0] == key[0] && memcmp(m->key, key, len) == 0)))
			return m;
	return NULL;
}

static inline jtree *
mget(const jtree *o, const char *key, size_t len)
{
	if (!jtree_is_object(o))
		return NULL;
	jtree_member *m = member(o, key, len);
	return m ? m->value : NULL;
}

/* Appends key (not copied: it outlives the document) without looking
 * for it. Like jtree_object_setn, a NULL value sets nothing. */
static void
mappend(jtree_arena *a, jtree *o, const char *key, size_t len, jtree *v)
{
	if (v == NULL || !jtree_is_object(o))
		return;
	jtree_object_append_kept(a, o, key, len, v);
}

/* jtree_object_setn for a key that outlives the document (valid UTF-8:
 * the map's keys come from its XML). */
static void
mset(jtree_arena *a, jtree *o, const char *key, size_t len, jtree *v)
{
	if (v == NULL || !jtree_is_object(o))
		return;
	jtree_member *m = member(o, key, len);
	if (m)
		m->value = v;
	else
		mappend(a, o, key, len, v);
}

/* jtree_text for the engine: EDI values are short and nearly always
 * ASCII, tested eight bytes at a time; anything else goes the general
 * way (UTF-8 kept, ISO 8859-1 converted). */
static jtree *
text_node(jtree_arena *a, const char *p, size_t n)
{
	size_t i = 0;
	uint64_t high = 0;
	for (; n - i >= 8; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		high |= w;
	}
	for (; i < n; i++)
		high |= (unsigned char)p[i];
	if (high & 0x8080808080808080ULL)
		return jtree_text(a, p, n);
	jtree *j = jtree_arena_alloc(a, sizeof(*j) + n + 1);
	if (j == NULL)
		return NULL;
	char *s = (char *)(j + 1);
	memcpy(s, p, n);
	s[n] = '\0';
	j->kind = JTREE_STRING;
	j->u.string.ptr = s;
	j->u.string.len = n;
	return j;
}

/* ------------------------------------------------------------ binding */

static void
stage(map_in *in, const map_path *path, jtree *value)
{
	if (in->staged_count == MAX_STAGED) {
		return;
	}
	in->stage[in->staged_count++] = (staged){path, 0, value, 0};
}

static void
unstage(map_in *in)
{
	in->staged_count = 0; /* the arena takes the values back */
}

/* Sets extra element el (component comp, 0 = whole) to text. */
static void
add_extra(map_in *in, unsigned el, unsigned comp, unsigned ncomp, edi_slice s)
{
	if (el > MAP_OUT_MAX_ELEMENTS)
		return;
	jtree *v = text_node(in->arena, s.ptr, s.len);
	if (comp == 0) {
		in->extras[el] = v;
	} else {
		if (in->extras[el] == NULL || !jtree_is_array(in->extras[el])) {
			in->extras[el] = jtree_array(in->arena);
			for (unsigned i = 0; i < ncomp; i++)
				jtree_array_append(in->arena, in->extras[el], jtree_null(in->arena));
		}
		while (jtree_array_size(in->extras[el]) < comp)
			jtree_array_append(in->arena, in->extras[el], jtree_null(in->arena));
		jtree_array_set(in->extras[el], comp - 1, v);
	}
	if (el > in->extra_max)
		in->extra_max = el;
}

static void
clear_extras(map_in *in)
{
	for (unsigned i = 0; i <= in->extra_max; i++)
		in->extras[i] = NULL;
	in->extra_max = 0;
}

/* The whole element as unmapped JSON: a string, or an array of
 * components when it has more than one. */
static jtree *
element_json(map_in *in, edi_slice raw)
{
	const edi_delimiters *d = in->seg->delimiters;
	if (in->seg->flags & EDI_SEGMENT_RAW)
		return text_node(in->arena, raw.ptr, raw.len);
	if (count_parts(in, raw, d->component) == 1) {
		edi_slice p = plain(in, raw);
		return text_node(in->arena, p.ptr, p.len);
	}
	jtree *a = jtree_array(in->arena);
	edi_splitter it;
	edi_slice part;
	edi_split_init(&it, raw, d->component, d->release);
	while (edi_split_next(&it, &part)) {
		edi_slice p = plain(in, part);
		jtree_array_append(in->arena, a, text_node(in->arena, p.ptr, p.len));
	}
	return a;
}

static void
record_whole(map_in *in)
{
	jtree *r = jtree_object(in->arena);
	mappend(in->arena, r, "position", 8, jtree_integer(in->arena, in->position));
	mappend(in->arena, r, "tag", 3, jtree_string_checked(in->arena, in->seg->elements[0].ptr,
	    in->seg->elements[0].len));
	jtree *els = jtree_array(in->arena);
	size_t last = in->seg->element_count;
	while (last > 1 && in->seg->elements[last - 1].len == 0)
		last--;
	for (size_t i = 1; i < last; i++)
		jtree_array_append(in->arena, els, element_json(in, in->seg->elements[i]));
	mappend(in->arena, r, "elements", 8, els);
	jtree_array_append(in->arena, in->unmapped, r);
}

static void
record_extras(map_in *in)
{
	if (in->extra_max == 0)
		return;
	jtree *r = jtree_object(in->arena);
	mappend(in->arena, r, "position", 8, jtree_integer(in->arena, in->position));
	mappend(in->arena, r, "tag", 3, jtree_string_checked(in->arena, in->seg->elements[0].ptr,
	    in->seg->elements[0].len));
	mappend(in->arena, r, "mapped", 6, jtree_true(in->arena));
	jtree *els = jtree_array(in->arena);
	for (unsigned i = 1; i <= in->extra_max; i++) {
		jtree_array_append(in->arena, els, in->extras[i] ? in->extras[i] : jtree_null(in->arena));
		in->extras[i] = NULL;
	}
	in->extra_max = 0;
	mappend(in->arena, r, "elements", 8, els);
	jtree_array_append(in->arena, in->unmapped, r);
}

/* Converts and stages one value; returns 0, or -1 when the value cannot
 * be bound (a constant that differs). */
/* A string node holding the map's own text (a code's canonical name,
 * valid UTF-8 from its XML): the map outlives the document, so it is
 * not copied. */
static jtree *
map_string(jtree_arena *a, const char *p, size_t n)
{
	jtree *j = jtree_arena_alloc(a, sizeof(*j));
	if (j == NULL)
		return NULL;
	memset(j, 0, sizeof(*j));
	j->kind = JTREE_STRING;
	j->u.string.ptr = p;
	j->u.string.len = n;
	return j;
}

#define CONVERTED 256 /* the longest value a conversion writes */

/* A code list value: what map_value_to_canonical and map_value_to_edi
 * give, without writing either. The map interns canonical names, so
 * the first code with the same name is found by its pointer. */
static void
bind_code(map_in *in, const map_value *v, edi_slice s, unsigned el,
    unsigned comp, unsigned ncomp)
{
	const map_codelist *cl = v->codelist;
	const map_code *c = map_code_by_edi(cl, s.ptr, s.len);
	const map_code *back;
	jtree *value;
	if (c && c->canonical) {
		if (c->canonical_len > CONVERTED) {
			add_extra(in, el, comp, ncomp, s);
			return;
		}
		back = NULL;
		for (size_t i = 0; i < cl->count && back == NULL; i++) {
			const map_code *k = &cl->codes[i];
			if (k->canonical == c->canonical || (k->canonical
			    && k->canonical_len == c->canonical_len
			    && memcmp(k->canonical, c->canonical, c->canonical_len) == 0))
				back = k;
		}
		value = map_string(in->arena, c->canonical, c->canonical_len);
	} else {
		if (s.len > CONVERTED) {
			add_extra(in, el, comp, ncomp, s);
			return;
		}
		back = map_code_by_canonical(cl, s.ptr, s.len);
		value = text_node(in->arena, s.ptr, s.len);
	}
	/* A value whose way back would differ travels in extras too. */
	const char *b = back ? back->edi : s.ptr;
	size_t blen = back ? back->edi_len : s.len;
	if (blen > CONVERTED || blen != s.len || (back != c && memcmp(b, s.ptr, s.len) != 0))
		add_extra(in, el, comp, ncomp, s);
	stage(in, v->path, value);
}

static int
bind_value(map_in *in, const map_value *v, edi_slice s, unsigned el,
    unsigned comp, unsigned ncomp)
{
	if (s.len == 0)
		return 0;
	if (v->fixed) {
		if (s.len != v->fixed_len || memcmp(s.ptr, v->fixed, s.len) != 0)
			return -1;
		return 0;
	}
	if (v->path == NULL) {
		add_extra(in, el, comp, ncomp, s);
		return 0;
	}
	if (v->codelist == NULL && v->convert == MAP_CONVERT_NONE
	    && !(v->type == MAP_TYPE_NUM && v->decimals > 0)) {
		/* No conversion either way: the text is the value. */
		stage(in, v->path, text_node(in->arena, s.ptr, s.len));
		return 0;
	}
	if (v->codelist) {
		bind_code(in, v, s, el, comp, ncomp);
		return 0;
	}
	char buf[CONVERTED];
	long n = map_value_to_canonical(v, s.ptr, s.len, buf, sizeof(buf),
	    in->seg->delimiters->decimal);
	if (n < 0) {
		/* Not convertible (a bad date): keep the raw text, so the
		 * guide's issue and the lossless round trip both hold. */
		add_extra(in, el, comp, ncomp, s);
		return 0;
	}
	/* A value whose way back would differ travels in extras too. */
	char back[CONVERTED];
	long m = map_value_to_edi(v, buf, (size_t)n, back, sizeof(back),
	    in->seg->delimiters->decimal);
	if (m < 0 || (size_t)m != s.len || memcmp(back, s.ptr, s.len) != 0)
		add_extra(in, el, comp, ncomp, s);
	stage(in, v->path, text_node(in->arena, buf, (size_t)n));
	return 0;
}

/* Finds or creates the object at path (steps [0, count)) under base.
 * An append step creates a new object in an array. Returns NULL when a
 * non-object is in the way. */
static jtree *
walk(jtree_arena *arena, jtree *base, const map_path *p, size_t count, int create)
{
	jtree *cur = base;
	for (size_t i = 0; cur && i < count; i++) {
		const map_step *st = &p->steps[i];
		jtree *next = mget(cur, st->key, st->len);
		if (st->append) {
			if (!create)
				return NULL;
			if (next == NULL) {
				next = jtree_array(arena);
				mset(arena, cur, st->key, st->len, next);
			}
			if (!jtree_is_array(next))
				return NULL;
			jtree *o = jtree_object(arena);
			jtree_array_append(arena, next, o);
			cur = o;
			continue;
		}
		if (st->index >= 0) {
			if (next == NULL) {
				if (!create)
					return NULL;
				next = jtree_array(arena);
				mset(arena, cur, st->key, st->len, next);
			}
			if (!jtree_is_array(next))
				return NULL;
			while (create && jtree_array_size(next) <= (size_t)st->index)
				jtree_array_append(arena, next, jtree_object(arena));
			cur = jtree_array_get(next, (size_t)st->index);
			if (!jtree_is_object(cur))
				return NULL;
			continue;
		}
		if (next == NULL) {
			if (!create)
				return NULL;
			next = jtree_object(arena);
			mset(arena, cur, st->key, st->len, next);
		}
		if (!jtree_is_object(next))
			return NULL;
		cur = next;
	}
	return cur;
}

/* Would setting the staged value conflict with what target holds? */
static int
staged_conflicts(jtree *target, const staged *s)
{
	const map_path *p = s->path;
	jtree *cur = target;
	for (size_t i = 0; cur && i < p->count; i++) {
		const map_step *st = &p->steps[i];
		jtree *next = mget(cur, st->key, st->len);
		if (i + 1 == p->count)
			return next != NULL && !st->append;
		if (st->append)
			return 0;
		if (next && st->index >= 0) {
			if (!jtree_is_array(next))
				return 1;
			next = jtree_array_get(next, (size_t)st->index);
		}
		if (next && !jtree_is_object(next))
			return 1;
		cur = next;
	}
	return 0;
}

static void
commit_value(jtree_arena *arena, jtree *target, staged *s)
{
	const map_path *p = s->path;
	jtree *obj = walk(arena, target, p, p->count - 1, 1);
	const map_step *last = &p->steps[p->count - 1];
	if (obj == NULL) {
		return;
	}
	if (last->append) {
		jtree *a = mget(obj, last->key, last->len);
		if (a == NULL) {
			a = jtree_array(arena);
			mset(arena, obj, last->key, last->len, a);
		}
		jtree_array_append(arena, a, s->value);
	} else {
		if (s->copy_key) /* checked as UTF-8 and copied */
			jtree_object_setn(arena, obj, last->key, last->len, s->value);
		else
			mset(arena, obj, last->key, last->len, s->value);
	}
	s->value = NULL;
}

static const map_case *
find_case(map_in *in, const map_node *node)
{
	const edi_segment *seg = in->seg;
	if (node->select_element >= seg->element_count)
		return NULL;
	edi_slice q = node->select_component
	    ? edi_segment_component(seg, node->select_element, 1,
	        node->select_component)
	    : (seg->flags & EDI_SEGMENT_RAW ? seg->elements[node->select_element]
	        : edi_segment_component(seg, node->select_element, 1, 1));
	q = plain(in, q);
	for (size_t i = 0; i < node->case_count; i++) {
		const map_case *c = &node->cases[i];
		if (c->value_len == q.len && memcmp(c->value, q.ptr, q.len) == 0)
			return c;
	}
	return NULL;
}

static void
pair_extra(map_in *in, const map_pairs *pp, unsigned qel, unsigned vel,
    edi_slice qs, edi_slice vs)
{
	const edi_delimiters *d = in->seg->delimiters;
	unsigned qn = qel < in->seg->element_count ? (unsigned)count_parts(in,
	    in->seg->elements[qel], d->component) : 1;
	unsigned vn = vel < in->seg->element_count ? (unsigned)count_parts(in,
	    in->seg->elements[vel], d->component) : 1;
	if (qs.len)
		add_extra(in, qel, pp->qualifier_component, qn, qs);
	if (vs.len)
		add_extra(in, vel, pp->value_component, vn, vs);
}

/* Validates the segment's elements and stages its bindings. */
static int
stage_elements(map_in *in, const map_node *seg_node, const map_node *case_owner)
{
	const edi_segment *seg = in->seg;
	const edi_delimiters *d = seg->delimiters;
	char tag[4] = {0};
	memcpy(tag, seg_node->tag_text, 3);
	int failed = 0;
	int declared = seg_node->slot_count > 0;
	unsigned sel = case_owner ? case_owner->select_element : 0;
	unsigned selc = case_owner ? case_owner->select_component : 0;
	if (declared && seg->element_count - 1 > seg_node->slot_count) {
		for (size_t i = seg_node->slot_count + 1; i < seg->element_count; i++)
			if (seg->elements[i].len) {
				issue(in, MAP_ISSUE_TOO_MANY_ELEMENTS, tag, in->position,
				    (unsigned)i, 0, "%s has %zu elements, at most %u are defined",
				    tag, seg->element_count - 1, seg_node->slot_count);
				break;
			}
	}
	for (unsigned i = 1; i <= seg_node->slot_count; i++) {
		const map_slot *sl = &seg_node->slots[i];
		edi_slice raw = i < seg->element_count ? seg->elements[i]
		    : (edi_slice){"", 0};
		if (!sl->defined) {
			if (raw.len)
				add_extra(in, i, 0, 0, plain(in, raw));
			continue;
		}
		if (i <= in->skip_upto)
			continue;
		if (raw.len == 0) {
			if (sl->use == MAP_USE_MANDATORY)
				issue(in, MAP_ISSUE_ELEMENT_MISSING, tag, in->position, i, 0,
				    "mandatory element %s%02u is missing", tag, i);
			continue;
		}
		if (d->repetition && memchr(raw.ptr, d->repetition, raw.len)
		    && sl->repeat <= 1 && !(seg->flags & EDI_SEGMENT_RAW)) {
			issue(in, MAP_ISSUE_TOO_MANY_REPETITIONS, tag, in->position, i, 0,
			    "element %s%02u repeats, it may not", tag, i);
			add_extra(in, i, 0, 0, plain(in, raw));
			continue;
		}
		if (!sl->composite) {
			edi_slice v = raw;
			/* More than one part: a separator (memchr) unless a
			 * release character may hide one. */
			int parts = d->component == 0 ? 0
			    : (seg->flags & EDI_SEGMENT_RELEASED) && d->release
			    ? edi_slice_count(raw, d->component, d->release) > 1
			    : memchr(raw.ptr, d->component, raw.len) != NULL;
			if (parts) {
				issue(in, MAP_ISSUE_TOO_MANY_COMPONENTS, tag, in->position, i, 0,
				    "element %s%02u is not a composite", tag, i);
				add_extra(in, i, 0, 0, plain(in, raw));
				continue;
			}
			edi_slice pv = plain(in, v);
			check_value(in, &sl->simple, pv, i, 0);
			if ((i == sel && selc == 0) || sl->pair)
				continue; /* written back from the case or the pairs */
			if (bind_value(in, &sl->simple, pv, i, 0, 0) < 0)
				failed = 1;
			continue;
		}
		/* Composite */
		unsigned ncomp = (unsigned)count_parts(in, raw, d->component);
		if (ncomp > sl->component_count) {
			issue(in, MAP_ISSUE_TOO_MANY_COMPONENTS, tag, in->position, i,
			    sl->component_count + 1, "composite %s%02u has %u components, at most %u",
			    tag, i, ncomp, sl->component_count);
		}
		edi_splitter it;
		edi_slice part;
		edi_split_init(&it, raw, d->component, d->release);
		unsigned c = 0;
		unsigned shape = ncomp;
		while (edi_split_next(&it, &part)) {
			c++;
			if (c > sl->component_count || sl->components[c].line == 0) {
				if (part.len)
					add_extra(in, i, c, shape, plain(in, part));
				continue;
			}
			const map_value *v = &sl->components[c];
			if (part.len == 0)
				continue;
			edi_slice pv = plain(in, part);
			check_value(in, v, pv, i, c);
			if ((i == sel && c == selc) || v->pair)
				continue;
			if (bind_value(in, v, pv, i, c, shape) < 0)
				failed = 1;
		}
		for (unsigned k = c + 1; k <= sl->component_count; k++)
			if (sl->components[k].line && sl->components[k].use == MAP_USE_MANDATORY)
				issue(in, MAP_ISSUE_ELEMENT_MISSING, tag, in->position, i, k,
				    "mandatory component %s%02u-%u is missing", tag, i, k);
		/* A composite whose trailing components are all empty ("a::")
		 * must come back the same: remember its shape in extras. */
		if (ncomp > 1 && (part.len == 0)) {
			if (in->extras[i] == NULL) {
				in->extras[i] = jtree_array(in->arena);
				for (unsigned k = 0; k < ncomp; k++)
					jtree_array_append(in->arena, in->extras[i], jtree_null(in->arena));
				if (i > in->extra_max)
					in->extra_max = i;
			}
		}
	}
	/* Elements after the last declared one. */
	if (!declared || seg->element_count - 1 > seg_node->slot_count)
		for (size_t i = seg_node->slot_count + 1; i < seg->element_count; i++)
			if (seg->elements[i].len)
				add_extra(in, (unsigned)i, 0, 0, plain(in, seg->elements[i]));
	/* Qualifier pairs. */
	for (size_t k = 0; k < seg_node->pair_count; k++) {
		const map_pairs *pp = &seg_node->pairs[k];
		unsigned first = pp->from, last = pp->to;
		if (pp->qualifier_element)
			first = 1, last = 2; /* one pair */
		for (unsigned q = first; q + 1 <= last; q += 2) {
			edi_slice qs, vs;
			unsigned qel = q, vel = q + 1;
			if (pp->qualifier_element) {
				qel = pp->qualifier_element;
				vel = pp->value_element;
				qs = plain(in, edi_segment_component(seg, qel, 1,
				    pp->qualifier_component ? pp->qualifier_component : 1));
				vs = plain(in, edi_segment_component(seg, vel, 1,
				    pp->value_component ? pp->value_component : 1));
			} else {
				if (q + 1 >= seg->element_count)
					break;
				qs = plain(in, seg->elements[q]);
				vs = plain(in, seg->elements[q + 1]);
			}
			if (qs.len == 0 && vs.len == 0)
				continue;
			const map_code *code = qs.len ? map_code_by_edi(pp->codelist, qs.ptr, qs.len) : NULL;
			const char *key = code && code->canonical ? code->canonical : NULL;
			size_t klen = key ? code->canonical_len : qs.len;
			if (key == NULL)
				key = qs.ptr;
			/* Build a one-off path: pairs path + the qualifier's name. */
			map_path *p = (map_path *)scratch(in, sizeof(map_path));
			map_step *steps = (map_step *)scratch(in,
			    (pp->path->count + 1) * sizeof(map_step));
			char *kc = scratch(in, klen + 1);
			if (p == NULL || steps == NULL || kc == NULL || qs.len == 0 || vs.len == 0) {
				pair_extra(in, pp, qel, vel, qs, vs);
				continue;
			}
			memcpy(kc, key, klen);
			kc[klen] = '\0';
			if (pp->path->count)
				memcpy(steps, pp->path->steps, pp->path->count * sizeof(map_step));
			/* A code's name is the map's (interned) key; a qualifier
			 * without one is the data's and is copied when set. */
			int own = key != qs.ptr;
			steps[pp->path->count] = (map_step){own ? key : kc, klen, 0, -1};
			p->steps = steps;
			p->count = pp->path->count + 1;
			/* A repeated qualifier in one segment stays raw. */
			int dup = 0;
			for (size_t s = 0; s < in->staged_count; s++) {
				const map_path *o = in->stage[s].path;
				if (o->count == p->count && o->steps[o->count - 1].len == klen
				    && memcmp(o->steps[o->count - 1].key, kc, klen) == 0)
					dup = 1;
			}
			if (dup) {
				pair_extra(in, pp, qel, vel, qs, vs);
				continue;
			}
			size_t before = in->staged_count;
			stage(in, p, text_node(in->arena, vs.ptr, vs.len));
			if (!own && in->staged_count > before)
				in->stage[before].copy_key = 1;
		}
	}
	return failed ? -1 : 0;
}

/* Target object for a node (segment or loop) under parent: the node's
 * path, then its case's path. *scalar_case is set when the case key
 * receives the value itself (a "." binding). */
typedef struct target {
	jtree *parent;          /* object the node's path starts from */
	const map_path *path;    /* node path, may be NULL */
	const map_case *kase;    /* may be NULL */
} target;

static int
target_conflicts(const target *t)
{
	if (t->parent == NULL)
		return 1;
	jtree *base = t->parent;
	if (t->path) {
		if (t->path->count && t->path->steps[t->path->count - 1].append)
			return 0;
		base = walk(NULL, t->parent, t->path, t->path->count, 0);
		if (base == NULL)
			return 0;
	}
	if (t->kase && t->kase->path->count) {
		const map_path *cp = t->kase->path;
		jtree *o = walk(NULL, base, cp, cp->count - 1, 0);
		if (o == NULL)
			return 0;
		const map_step *last = &cp->steps[cp->count - 1];
		return mget(o, last->key, last->len) != NULL;
	}
	return 0;
}

/* Creates the target. With a case and dot, returns the case's parent
 * object and sets *dot_key; otherwise returns the object itself. */
static jtree *
target_make(jtree_arena *arena, const target *t, int dot, const map_step **dot_key)
{
	jtree *base = t->parent;
	if (t->path)
		base = walk(arena, base, t->path, t->path->count, 1);
	if (base == NULL || t->kase == NULL || t->kase->path->count == 0)
		return base;
	const map_path *cp = t->kase->path;
	if (dot) {
		*dot_key = &cp->steps[cp->count - 1];
		return walk(arena, base, cp, cp->count - 1, 1);
	}
	return walk(arena, base, cp, cp->count, 1);
}

/* Can staged value i go into obj by appending? It can when commit_value
 * would append it: its path is one plain key of the map's, obj did not
 * hold that key before the segment (the caller knows: obj was just made,
 * or the conflict checks found each key absent) and no value before it
 * in this segment set or walked through the same key (the map's keys are
 * interned: one pointer per key; a qualifier's own key is compared by
 * its bytes). */
static int
appendable(const map_in *in, size_t i)
{
	const staged *s = &in->stage[i];
	const map_step *st = s->path->steps;
	if (s->path->count != 1 || st->append || st->index >= 0 || s->copy_key)
		return 0;
	for (size_t k = 0; k < i; k++) {
		const staged *o = &in->stage[k];
		if (o->path->count == 0)
			return 0;
		const map_step *ok = &o->path->steps[0];
		if (ok->key == st->key || (o->copy_key && o->path->count == 1
		    && ok->len == st->len && memcmp(ok->key, st->key, st->len) == 0))
			return 0;
	}
	return 1;
}

/* Commits the staged values into obj; fresh: no staged key is in obj
 * yet (see appendable). */
static void
commit_all(map_in *in, jtree *obj, int fresh)
{
	for (size_t i = 0; i < in->staged_count; i++) {
		staged *s = &in->stage[i];
		if (obj && s->path->count) {
			if (fresh && appendable(in, i))
				mappend(in->arena, obj, s->path->steps[0].key,
				    s->path->steps[0].len, s->value);
			else
				commit_value(in->arena, obj, s);
		}
		s->value = NULL;
	}
}

/* Binds the current plain segment under ctx. Returns ctx, or NULL when
 * the segment went to unmapped whole. */
static jtree *
bind_segment(map_in *in, const map_node *node, jtree *ctx)
{
	in->scratch_used = 0;
	in->staged_count = 0;
	target st = {.parent = ctx, .path = node->path};
	int ok = ctx != NULL && node->bound;
	if (ok && node->case_count) {
		st.kase = find_case(in, node);
		if (st.kase == NULL)
			ok = 0;
	}
	if (ok && stage_elements(in, node, node->case_count ? node : NULL) < 0)
		ok = 0;
	if (ok && in->staged_count == 0)
		ok = 0;
	int dot = 0;
	for (size_t i = 0; i < in->staged_count; i++)
		if (in->stage[i].path->count == 0)
			dot = 1;
	/* Without a case the target itself never conflicts (ctx is set). */
	if (ok && st.kase && target_conflicts(&st))
		ok = 0;
	jtree *existing = NULL;
	if (ok && (st.kase == NULL || st.kase->path->count == 0)
	    && (st.path == NULL || !st.path->steps[st.path->count - 1].append)) {
		existing = st.path ? walk(NULL, ctx, st.path, st.path->count, 0) : ctx;
		for (size_t i = 0; existing && i < in->staged_count; i++)
			if (staged_conflicts(existing, &in->stage[i]))
				ok = 0;
	}
	if (!ok) {
		unstage(in);
		clear_extras(in);
		record_whole(in);
		return NULL;
	}
	const map_step *dot_key = NULL;
	/* A target that exists is what target_make would walk to again. */
	jtree *obj = existing ? existing : target_make(in->arena, &st, dot, &dot_key);
	/* Without a "." binding no staged key is in obj yet: the checks
	 * above found each absent, or obj was just made (a new array item,
	 * a case's new object). */
	if (dot) {
		for (size_t i = 0; i < in->staged_count; i++) {
			staged *s = &in->stage[i];
			if (obj && s->path->count == 0 && dot_key)
				mset(in->arena, obj, dot_key->key, dot_key->len, s->value);
			else if (obj && s->path->count)
				commit_value(in->arena, obj, s);
			s->value = NULL;
		}
	} else {
		commit_all(in, obj, 1);
	}
	in->staged_count = 0;
	record_extras(in);
	return ctx;
}

static int
code_in_list(const char *list, edi_slice code)
{
	const char *p = list;
	while (p && *p) {
		while (*p == ' ')
			p++;
		const char *end = p;
		while (*end && *end != ' ')
			end++;
		if ((size_t)(end - p) == code.len && memcmp(p, code.ptr, code.len) == 0)
			return 1;
		p = end;
	}
	return 0;
}

/* An HL segment: its level (HL03) says where its object goes, relative
 * to the object of the level HL02 points at. */
static jtree *
bind_hl(map_in *in, const map_node *loop, jtree *ctx)
{
	const edi_segment *seg = in->seg;
	const map_node *trig = loop->children[0];
	edi_slice id = plain(in, seg->element_count > 1 ? seg->elements[1] : (edi_slice){"", 0});
	edi_slice parent = plain(in, seg->element_count > 2 ? seg->elements[2] : (edi_slice){"", 0});
	edi_slice code = plain(in, seg->element_count > 3 ? seg->elements[3] : (edi_slice){"", 0});
	/* The parent HL02 names, if any. */
	hl_entry *pe = NULL;
	if (parent.len)
		for (size_t i = in->hl_count; i-- > 0;)
			if (strlen(in->hl[i].id) == parent.len
			    && memcmp(in->hl[i].id, parent.ptr, parent.len) == 0) {
				pe = &in->hl[i];
				break;
			}
	/* The level HL03 names; a level coded "*" (CPS, whose level code is
	 * optional) takes any code and is chosen by where it may hang. */
	const map_level *lv = NULL;
	for (size_t i = 0; i < loop->level_count; i++) {
		const map_level *c = &loop->levels[i];
		int wild = strcmp(c->code, "*") == 0;
		if (!wild && (strlen(c->code) != code.len
		    || memcmp(c->code, code.ptr, code.len) != 0))
			continue;
		if (wild && lv != NULL)
			continue;
		if (wild && (parent.len ? !(pe && c->parents && code_in_list(c->parents,
		    (edi_slice){pe->code, strlen(pe->code)})) : c->parents != NULL))
			continue;
		lv = c;
	}
	jtree *pobj = ctx;
	int ok = lv != NULL && id.len > 0 && id.len < sizeof(in->hl[0].id) && ctx;
	if (ok && parent.len) {
		ok = pe && lv->parents && code_in_list(lv->parents,
		    (edi_slice){pe->code, strlen(pe->code)});
		if (ok)
			pobj = pe->obj;
	} else if (ok && lv->parents) {
		ok = 0; /* a child level without its parent */
	}
	for (size_t i = 0; ok && i < in->hl_count; i++)
		if (strlen(in->hl[i].id) == id.len && memcmp(in->hl[i].id, id.ptr, id.len) == 0)
			ok = 0; /* HL01 must be unique */
	if (!ok) {
		record_whole(in);
		return NULL;
	}
	in->scratch_used = 0;
	in->staged_count = 0;
	/* HL01-03 are written afresh on the way out; a "*" level's code is
	 * not, so it stays an ordinary element. */
	in->skip_upto = strcmp(lv->code, "*") == 0 ? 2 : 3;
	stage_elements(in, trig, NULL);
	in->skip_upto = 0;
	/* The way out numbers the levels 1, 2, 3... in the order it writes
	 * them; ids a partner numbered otherwise (CPS+IE2156580387) travel
	 * in unmapped so they come back as sent. */
	char expect[24];
	int w = snprintf(expect, sizeof(expect), "%zu", in->hl_count + 1);
	if ((size_t)w != id.len || memcmp(expect, id.ptr, id.len) != 0)
		add_extra(in, 1, 0, 0, id);
	if (parent.len && pe) {
		w = snprintf(expect, sizeof(expect), "%zu", (size_t)(pe - in->hl) + 1);
		if ((size_t)w != parent.len || memcmp(expect, parent.ptr, parent.len) != 0)
			add_extra(in, 2, 0, 0, parent);
	}
	jtree *obj = lv->path->count ? walk(in->arena, pobj, lv->path, lv->path->count, 1) : pobj;
	for (size_t i = 0; i < in->staged_count; i++) {
		staged *st = &in->stage[i];
		if (obj && st->path->count)
			commit_value(in->arena, obj, st);
		st->value = NULL;
	}
	in->staged_count = 0;
	record_extras(in);
	if (in->hl_count == in->hl_cap) {
		size_t cap = in->hl_cap ? in->hl_cap * 2 : 64;
		hl_entry *n = realloc(in->hl, cap * sizeof(*n));
		if (n == NULL)
			return obj;
		in->hl = n;
		in->hl_cap = cap;
	}
	hl_entry *e = &in->hl[in->hl_count++];
	memcpy(e->id, id.ptr, id.len);
	e->id[id.len] = '\0';
	e->obj = obj;
	e->code = lv->code;
	return obj;
}

/* Binds a loop trigger: the loop's case selects on the trigger. */
static jtree *
bind_trigger(map_in *in, const map_node *loop, jtree *ctx)
{
	const map_node *trig = loop->children[0];
	if (ctx == NULL) {
		record_whole(in);
		return NULL;
	}
	if (loop->level_count)
		return bind_hl(in, loop, ctx);
	target lt = {.parent = ctx, .path = loop->path};
	if (loop->case_count) {
		in->scratch_used = 0;
		lt.kase = find_case(in, loop);
		if (lt.kase == NULL) {
			record_whole(in);
			return NULL;
		}
	}
	if (lt.path == NULL && lt.kase == NULL) {
		/* A loop without a path binds into its parent. */
		jtree *r = bind_segment(in, trig, ctx);
		return r ? ctx : (trig->bound ? NULL : ctx);
	}
	/* The select element of a loop case is written back from the case,
	 * so it is not an extra: stage_elements skips it via a shim node. */
	map_node shim = *trig;
	shim.select_element = loop->select_element;
	shim.select_component = loop->select_component;
	shim.case_count = 0;
	shim.cases = NULL;
	shim.path = NULL;
	in->scratch_used = 0;
	in->staged_count = 0;
	if (stage_elements(in, &shim, loop->case_count ? loop : NULL) < 0
	    || target_conflicts(&lt)) {
		unstage(in);
		clear_extras(in);
		record_whole(in);
		return NULL;
	}
	jtree *obj = target_make(in->arena, &lt, 0, NULL);
	/* A path that ends in [] made obj just now. */
	int fresh = obj && lt.path && lt.path->count && lt.path->steps[lt.path->count - 1].append;
	commit_all(in, obj, fresh);
	in->staged_count = 0;
	record_extras(in);
	return obj;
}

void
map_in_segment(map_in *in, const edi_segment *seg, unsigned position)
{
	in->seg = seg;
	in->position = position;
	in->scratch_used = 0;
	uint32_t tag = map_tag_pack(seg->elements[0].ptr, seg->elements[0].len);
	char tagtext[4] = {0};
	memcpy(tagtext, seg->elements[0].ptr, seg->elements[0].len < 3 ? seg->elements[0].len : 3);
	for (size_t level = in->depth + 1; level-- > 0;) {
		frame *f = &in->stack[level];
		const map_node *loop = f->loop;
		size_t start = f->idx;
		if (level > 0 && start == 0)
			start = 1; /* the trigger opens a new occurrence one level up */
		for (size_t i = start; i < loop->child_count; i++) {
			const map_node *c = loop->children[i];
			if (c->tag != tag)
				continue;
			pop_to(in, level);
			check_missing(in, f, f->idx + (f->counts[f->idx] ? 1 : 0), i);
			f->idx = i;
			f->counts[i]++;
			if (c->kind == MAP_NODE_SEGMENT) {
				if (f->counts[i] > c->max)
					issue(in, MAP_ISSUE_SEGMENT_OVER_MAX, tagtext, position, 0, 0,
					    "%s occurs %u times, at most %u", tagtext, f->counts[i], c->max);
				bind_segment(in, c, f->ctx);
				return;
			}
			if (f->counts[i] > c->max)
				issue(in, MAP_ISSUE_LOOP_OVER_MAX, tagtext, position, 0, 0,
				    "loop %s occurs %u times, at most %u", c->id, f->counts[i], c->max);
			if (in->depth >= MAX_DEPTH) {
				record_whole(in);
				return;
			}
			frame *nf = &in->stack[++in->depth];
			nf->loop = c;
			nf->idx = 0;
			nf->counts = in->count_pool + in->depth * (in->m->max_children + 1);
			memset(nf->counts, 0, (in->m->max_children + 1) * sizeof(uint32_t));
			nf->counts[0] = 1;
			nf->ctx = bind_trigger(in, c, f->ctx);
			return;
		}
	}
	if (tag_known(&in->m->root, tag))
		issue(in, MAP_ISSUE_UNEXPECTED_SEGMENT, tagtext, position, 0, 0,
		    "segment %s is not expected here", tagtext);
	else
		issue(in, MAP_ISSUE_UNRECOGNIZED_SEGMENT, tagtext, position, 0, 0,
		    "segment %s is not part of %s %s", tagtext, in->m->message, in->m->version);
	record_whole(in);
}

void
map_in_end(map_in *in, unsigned position)
{
	/* "unmapped" goes last, after what the map bound. */
	jtree_object_del(in->doc, "unmapped");
	jtree_object_set(in->arena, in->doc, "unmapped", in->unmapped);
	in->position = position;
	pop_to(in, 0);
	frame *f = &in->stack[0];
	check_missing(in, f, f->idx + (f->counts[f->idx] ? 1 : 0), f->loop->child_count);
	clear_extras(in);
}
