/*
 * map_out - canonical JSON -> EDI segments, and the guide's error codes.
 * See map_xlate.h.
 *
 * The map is walked in order; each segment or loop occurs once per value
 * it binds: once per array item for "x[]", once per key of the cases'
 * parent object (in the object's key order, which is the order the
 * segments came in), once for a plain object. Unmapped entries are merged
 * back by position, so the segments come out where they were.
 */
#include "map_xlate.h"
#include "map_value.h"
#include "jtree.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The walk reads the arena tree (jparse's, or one converted from a
 * json_t by map_out_document); these keep its lines close to what they
 * were when it read jansson: a wrong type reads as absent. */
static inline int jt_is_string(const jtree *j) { return j && j->kind == JTREE_STRING; }
static inline int jt_is_null(const jtree *j) { return j && j->kind == JTREE_NULL; }
static inline int jt_is_true(const jtree *j) { return j && j->kind == JTREE_TRUE; }
static inline int jt_is_integer(const jtree *j) { return j && j->kind == JTREE_INTEGER; }
static inline long long jt_integer(const jtree *j) { return jt_is_integer(j) ? j->u.integer : 0; }
static inline const char *jt_string(const jtree *j) { return jt_is_string(j) ? j->u.string.ptr : NULL; }
static inline size_t jt_string_len(const jtree *j) { return jt_is_string(j) ? j->u.string.len : 0; }
static inline jtree *jt_get(const jtree *o, const char *key) { return jtree_object_getn(o, key, strlen(key)); }

/* Keys are short ASCII names: length and first byte settle nearly every
 * mismatch without a call to memcmp. */
static inline int
key_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && (alen == 0 || (a[0] == b[0] && memcmp(a, b, alen) == 0));
}

static inline int
step_eq(const map_step *a, const map_step *b)
{
	return a->key == b->key ? a->len == b->len : key_eq(a->key, a->len, b->key, b->len);
}

#define OUT_BUF 32768

typedef struct segbuf {
	map_out_segment seg;
	char buf[OUT_BUF];
	size_t used;
} segbuf;

typedef struct out {
	const map *m;
	map_out_sink sink;
	void *sink_ctx;
	jtree *unmapped;
	size_t ucur, ucount;
	unsigned pos;         /* position of the last segment written */
	segbuf main, whole;   /* the mapped segment being built; an unmapped one */
	segbuf *cur;
	char *err;
	size_t errlen;
	int failed;
	long count;
	char decimal;
	unsigned hl_counter;   /* HL01 numbers, 1 up */
	const map_node *loop;  /* the plain loop being written */
	jtree *loop_ctx;
} out;

static void
fail(out *o, const char *fmt, ...)
{
	if (o->failed)
		return;
	o->failed = 1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(o->err, o->errlen, fmt, ap);
	va_end(ap);
}

static const char *
keep(out *o, const char *s, size_t len)
{
	segbuf *b = o->cur;
	if (b->used + len > OUT_BUF) {
		fail(o, "segment too long to write");
		return "";
	}
	char *p = b->buf + b->used;
	memcpy(p, s, len);
	b->used += len;
	return p;
}

static void
seg_start(out *o, const char *tag)
{
	size_t n = strlen(tag);
	map_out_segment *g = &o->cur->seg;
	memset(g->tag, 0, sizeof(g->tag));
	memcpy(g->tag, tag, n < 3 ? n : 3);
	/* Counts above element_count are already zero: set_field raises
	 * element_count with any count it sets, emit lowers it only past
	 * counts it brought to zero. */
	unsigned n_el = g->element_count <= MAP_OUT_MAX_ELEMENTS ? g->element_count
	    : MAP_OUT_MAX_ELEMENTS;
	memset(g->component_count, 0, (n_el + 1) * sizeof(g->component_count[0]));
	g->element_count = 0;
	o->cur->used = 0;
}

static void
set_field(out *o, unsigned el, unsigned comp, const char *s, size_t len)
{
	if (el == 0 || el > MAP_OUT_MAX_ELEMENTS || comp == 0
	    || comp > MAP_OUT_MAX_COMPONENTS) {
		fail(o, "element %u.%u is beyond what can be written", el, comp);
		return;
	}
	const char *p = keep(o, s, len);
	map_out_segment *g = &o->cur->seg;
	for (unsigned c = g->component_count[el] + 1; c < comp; c++)
		g->components[el][c - 1] = (map_field){"", 0};
	g->components[el][comp - 1] = (map_field){p, len};
	if (comp > g->component_count[el])
		g->component_count[el] = comp;
	if (el > g->element_count)
		g->element_count = el;
}

static void
emit(out *o)
{
	if (o->failed)
		return;
	/* Trailing empty elements and components are not written. */
	map_out_segment *g = &o->cur->seg;
	for (unsigned e = 1; e <= g->element_count; e++)
		while (g->component_count[e] > 0
		    && g->components[e][g->component_count[e] - 1].len == 0)
			g->component_count[e]--;
	while (g->element_count > 0 && g->component_count[g->element_count] == 0)
		g->element_count--;
	if (o->sink(o->sink_ctx, g) != 0) {
		fail(o, "the writer refused segment %s", g->tag);
		return;
	}
	o->pos++;
	o->count++;
}

/* An unmapped element value: a string, or an array of components. */
static void
put_json_element(out *o, unsigned el, jtree *v, int override)
{
	if (jt_is_string(v)) {
		set_field(o, el, 1, jt_string(v), jt_string_len(v));
		if (override)
			o->cur->seg.component_count[el] = o->cur->seg.component_count[el] > 1
			    ? o->cur->seg.component_count[el] : 1;
	} else if (jtree_is_array(v)) {
		size_t i;
		jtree *c;
		for (i = 0; i < jtree_array_size(v) && ((c = jtree_array_get(v, i)) != NULL); i++) {
			if (jt_is_string(c))
				set_field(o, el, (unsigned)i + 1, jt_string(c),
				    jt_string_len(c));
			else if (i + 1 > o->cur->seg.component_count[el])
				set_field(o, el, (unsigned)i + 1, "", 0);
		}
	}
}

static void
emit_whole(out *o, jtree *r)
{
	jtree *tag = jt_get(r, "tag");
	if (!jt_is_string(tag)) {
		fail(o, "an unmapped entry has no tag");
		return;
	}
	segbuf *saved = o->cur;
	o->cur = &o->whole;
	seg_start(o, jt_string(tag));
	size_t i;
	jtree *v;
	for (i = 0; i < jtree_array_size(jt_get(r, "elements")) && ((v = jtree_array_get(jt_get(r, "elements"), i)) != NULL); i++)
		put_json_element(o, (unsigned)i + 1, v, 0);
	emit(o);
	o->cur = saved;
}

static unsigned
entry_pos(jtree *r)
{
	return (unsigned)jt_integer(jt_get(r, "position"));
}

/* Writes the whole unmapped segments due before the next position (all
 * that are left when all is set). */
static void
flush(out *o, int all)
{
	while (o->ucur < o->ucount && !o->failed) {
		jtree *r = jtree_array_get(o->unmapped, o->ucur);
		unsigned p = entry_pos(r);
		if (jt_is_true(jt_get(r, "mapped"))) {
			if (p <= o->pos) {
				o->ucur++; /* its segment was not produced */
				continue;
			}
			return;
		}
		if (!all && p > o->pos + 1)
			return;
		emit_whole(o, r);
		o->ucur++;
	}
}

/* Before a mapped segment goes out: whole entries first, then merge the
 * extras recorded for this position. */
static void
emit_mapped(out *o)
{
	flush(o, 0);
	if (o->ucur < o->ucount) {
		jtree *r = jtree_array_get(o->unmapped, o->ucur);
		jtree *tag = jt_get(r, "tag");
		if (jt_is_true(jt_get(r, "mapped"))
		    && entry_pos(r) == o->pos + 1 && jt_is_string(tag)
		    && strcmp(jt_string(tag), o->cur->seg.tag) == 0) {
			size_t i;
			jtree *v;
			for (i = 0; i < jtree_array_size(jt_get(r, "elements")) && ((v = jtree_array_get(jt_get(r, "elements"), i)) != NULL); i++)
				put_json_element(o, (unsigned)i + 1, v, 1);
			o->ucur++;
		}
	}
	emit(o);
}

/* ------------------------------------------------------------ lookups */

/* The member of o named key: length and first byte before memcmp. */
static inline jtree *
member(const jtree *o, const char *key, size_t len)
{
	for (const jtree_member *m = o->u.object.first; m; m = m->next)
		if (key_eq(m->key, m->key_len, key, len))
			return m->value;
	return NULL;
}

static jtree *
lookup(jtree *obj, const map_path *p, size_t count)
{
	jtree *cur = obj;
	for (size_t i = 0; cur && i < count; i++) {
		if (!jtree_is_object(cur))
			return NULL;
		cur = member(cur, p->steps[i].key, p->steps[i].len);
		if (cur && p->steps[i].index >= 0)
			cur = jtree_array_get(cur, (size_t)p->steps[i].index);
	}
	return cur;
}

/* Cursors over "[]" arrays of scalars, for segments like N3 and MSG. */
typedef struct cursor {
	const map_path *path;
	size_t next, size;
} cursor;

#define MAX_CURSORS 8

typedef struct occurrence {
	jtree *obj;           /* bindings are relative to it */
	jtree *dot;           /* value of a "." binding */
	const map_case *kase;  /* its value goes to the select element */
	unsigned select_element, select_component;
	cursor cursors[MAX_CURSORS];
	size_t cursor_count;
	int remaining;         /* an append array still has items */
	int optional;          /* written only when it carries data */
} occurrence;

static int
same_path(const map_path *a, const map_path *b)
{
	if (a->count != b->count)
		return 0;
	for (size_t i = 0; i < a->count; i++)
		if (!step_eq(&a->steps[i], &b->steps[i]))
			return 0;
	return 1;
}

/* Is path.key bound by an element of the node (PER02 "name" next to the
 * communication pairs in the same object)? The keys bound under path
 * are collected once per node and path and kept per thread: PO1's item
 * ids ask once per id per line, and the node's slots are many. */
#define BOUND_KEYS 16
typedef struct bound_cache {
	const map_node *node;
	const map_path *path;
	int overflow;          /* more keys than fit: scan the slots */
	size_t count;
	const map_step *keys[BOUND_KEYS];
} bound_cache;

static int
bound_scan(const map_node *node, const map_path *path, const char *key,
    size_t klen, bound_cache *fill_in)
{
	for (unsigned i = 1; i <= node->slot_count; i++) {
		const map_slot *sl = &node->slots[i];
		unsigned n = sl->composite ? sl->component_count : 1;
		for (unsigned c = 1; c <= n; c++) {
			const map_value *v = sl->composite ? &sl->components[c] : &sl->simple;
			const map_path *p = v->path;
			if (p == NULL || p->count != path->count + 1)
				continue;
			int same = 1;
			for (size_t k = 0; same && k < path->count; k++)
				same = step_eq(&p->steps[k], &path->steps[k]);
			if (!same)
				continue;
			const map_step *last = &p->steps[path->count];
			if (fill_in) {
				if (fill_in->count < BOUND_KEYS)
					fill_in->keys[fill_in->count++] = last;
				else
					fill_in->overflow = 1;
			} else if (key_eq(last->key, last->len, key, klen))
				return 1;
		}
	}
	return 0;
}

/* Reset by every walk: a map freed on reload may leave its addresses to
 * the next one. */
static __thread bound_cache bc;

static int
bound_elsewhere(const map_node *node, const map_path *path, const char *key,
    size_t klen)
{
	if (bc.node != node || bc.path != path) {
		bc.node = node;
		bc.path = path;
		bc.count = 0;
		bc.overflow = 0;
		bound_scan(node, path, NULL, 0, &bc);
	}
	if (bc.overflow)
		return bound_scan(node, path, key, klen, NULL);
	for (size_t i = 0; i < bc.count; i++)
		if (key_eq(bc.keys[i]->key, bc.keys[i]->len, key, klen))
			return 1;
	return 0;
}

static jtree *
append_next(occurrence *oc, jtree *obj, const map_path *p)
{
	cursor *c = NULL;
	for (size_t i = 0; i < oc->cursor_count; i++)
		if (same_path(oc->cursors[i].path, p))
			c = &oc->cursors[i];
	if (c == NULL && oc->cursor_count < MAX_CURSORS) {
		c = &oc->cursors[oc->cursor_count++];
		c->path = p;
		c->next = 0;
	}
	jtree *a = lookup(obj, p, p->count);
	if (c == NULL || !jtree_is_array(a) || c->next >= jtree_array_size(a))
		return NULL;
	c->size = jtree_array_size(a);
	return jtree_array_get(a, c->next++);
}

/* Writes one value; returns 1 when it wrote data from the document. */
static int
put_value(out *o, const map_value *v, unsigned el, unsigned comp,
    occurrence *oc)
{
	if (el == oc->select_element && comp == oc->select_component && oc->kase) {
		set_field(o, el, comp ? comp : 1, oc->kase->value, oc->kase->value_len);
		return 0;
	}
	if (v->fixed) {
		set_field(o, el, comp ? comp : 1, v->fixed, v->fixed_len);
		return 0;
	}
	if (v->path == NULL) {
		if (v->dflt)
			set_field(o, el, comp ? comp : 1, v->dflt, v->dflt_len);
		return 0;
	}
	jtree *j;
	const map_path *p = v->path;
	if (p->count == 0)
		j = oc->dot;
	else if (p->steps[p->count - 1].append)
		j = append_next(oc, oc->obj, p);
	else
		j = lookup(oc->obj, p, p->count);
	if (j == NULL || jt_is_null(j)) {
		if (v->dflt)
			set_field(o, el, comp ? comp : 1, v->dflt, v->dflt_len);
		return 0;
	}
	char num[64];
	const char *s;
	size_t len;
	if (jt_is_string(j)) {
		s = jt_string(j);
		len = jt_string_len(j);
	} else if (jt_is_integer(j)) {
		len = (size_t)snprintf(num, sizeof(num), "%lld",
		    (long long)jt_integer(j));
		s = num;
	} else {
		fail(o, "%s: a %s element takes a string, not another JSON type",
		    o->cur->seg.tag, map_value_type_name(v));
		return 0;
	}
	char conv[512];
	long n = map_value_to_edi(v, s, len, conv, sizeof(conv), o->decimal);
	if (n < 0) {
		fail(o, "%s%02u: \"%.*s\" cannot be written as %s", o->cur->seg.tag, el,
		    (int)(len > 40 ? 40 : len), s, map_value_type_name(v));
		return 0;
	}
	if (n == 0)
		return 0;
	set_field(o, el, comp ? comp : 1, conv, (size_t)n);
	return 1;
}

/* Fills the current segment from a node's rules; returns 1 when any data
 * from the document went in. */
static int
fill(out *o, const map_node *node, occurrence *oc)
{
	int any = 0;
	oc->remaining = 0;
	for (unsigned i = 1; i <= node->slot_count; i++) {
		const map_slot *sl = &node->slots[i];
		if (!sl->defined)
			continue;
		if (!sl->composite) {
			if (sl->simple.line && !sl->pair)
				any |= put_value(o, &sl->simple, i, 0, oc);
			continue;
		}
		for (unsigned c = 1; c <= sl->component_count; c++) {
			const map_value *v = &sl->components[c];
			if (!v->line || v->pair)
				continue;
			int wrote = put_value(o, v, i, c, oc);
			any |= wrote;
			/* EDIFACT C507: the format code after a date/time says how
			 * to read it (102 CCYYMMDD, 203 CCYYMMDDHHMM, 204 with
			 * seconds); one the partner sent comes back from unmapped. */
			const map_value *next = c + 1 <= sl->component_count ? &sl->components[c + 1] : NULL;
			if (wrote && v->convert == MAP_CONVERT_DATETIME && next && next->line
			    && next->path == NULL && next->fixed == NULL && next->dflt == NULL) {
				size_t n = o->cur->seg.components[i][c - 1].len;
				const char *code = n == 8 ? "102" : n == 12 ? "203" : n == 14 ? "204" : NULL;
				if (code)
					set_field(o, i, c + 1, code, 3);
			}
		}
	}
	for (size_t k = 0; k < oc->cursor_count; k++)
		if (oc->cursors[k].next < oc->cursors[k].size)
			oc->remaining = 1;
	for (size_t k = 0; k < node->pair_count; k++) {
		const map_pairs *pp = &node->pairs[k];
		jtree *obj = lookup(oc->obj, pp->path, pp->path->count);
		const char *key;
		jtree *val;
		if (pp->qualifier_element) {
			/* One pair: the first id of the object. */
			for (const jtree_member *jm_ = jtree_is_object(obj) ? (obj)->u.object.first : NULL; jm_ && ((key = jm_->key), (val = jm_->value), 1); jm_ = jm_->next) {
				if (!jt_is_string(val) || bound_elsewhere(node, pp->path, key, jm_->key_len))
					continue;
				const map_code *c = map_code_by_canonical(pp->codelist, key, strlen(key));
				const char *q = c ? c->edi : key;
				set_field(o, pp->qualifier_element, pp->qualifier_component ? pp->qualifier_component : 1,
				    q, strlen(q));
				set_field(o, pp->value_element, pp->value_component ? pp->value_component : 1,
				    jt_string(val), jt_string_len(val));
				any = 1;
				break;
			}
			continue;
		}
		unsigned el = pp->from;
		for (const jtree_member *jm_ = jtree_is_object(obj) ? (obj)->u.object.first : NULL; jm_ && ((key = jm_->key), (val = jm_->value), 1); jm_ = jm_->next) {
			if (!jt_is_string(val) || bound_elsewhere(node, pp->path, key, jm_->key_len))
				continue;
			if (el + 1 > pp->to) {
				fail(o, "%s: more item ids than elements %u-%u hold",
				    node->tag_text, pp->from, pp->to);
				break;
			}
			if (!jt_is_string(val))
				continue;
			const map_code *c = map_code_by_canonical(pp->codelist, key, strlen(key));
			const char *q = c ? c->edi : key;
			set_field(o, el, 1, q, strlen(q));
			set_field(o, el + 1, 1, jt_string(val), jt_string_len(val));
			el += 2;
			any = 1;
		}
	}
	return any;
}

static void walk_children(out *o, const map_node *loop, size_t from, jtree *ctx);

static int
same_parent(const map_path *a, const map_path *b)
{
	if (a->count != b->count || a->count == 0)
		return 0;
	if (a == b)
		return 1;
	for (size_t i = 0; i + 1 < a->count; i++)
		if (!step_eq(&a->steps[i], &b->steps[i]))
			return 0;
	return 1;
}

/* Calls back for each occurrence of a node under ctx. */
static void
each_occurrence(out *o, const map_node *node, jtree *ctx,
    void (*fn)(out *, const map_node *, occurrence *))
{
	if (ctx == NULL || o->failed)
		return;
	jtree *base = ctx;
	const map_path *np = node->path;
	int append = np && np->count && np->steps[np->count - 1].append;
	if (np)
		base = lookup(ctx, np, np->count);
	if (base == NULL)
		return;
	occurrence oc = {0};
	oc.select_element = node->select_element;
	oc.select_component = node->select_component;
	if (node->case_count) {
		/* Cases grouped by parent object; within one, the object's key
		 * order is the order the segments came in. */
		const map_case *dot_case = NULL;
		for (size_t g = 0; g < node->case_count && !o->failed; g++) {
			const map_path *cp = node->cases[g].path;
			if (cp->count == 0) {
				dot_case = &node->cases[g];
				continue;
			}
			int seen = 0;
			for (size_t h = 0; h < g && !seen; h++)
				seen = same_parent(node->cases[h].path, cp);
			if (seen)
				continue;
			jtree *parent = lookup(base, cp, cp->count - 1);
			const char *key;
			jtree *val;
			if (!jtree_is_object(parent))
				continue;
			for (const jtree_member *jm_ = jtree_is_object(parent) ? (parent)->u.object.first : NULL; jm_ && ((key = jm_->key), (val = jm_->value), 1); jm_ = jm_->next) {
				size_t klen = jm_->key_len;
				for (size_t i = g; i < node->case_count; i++) {
					const map_path *ip = node->cases[i].path;
					if (!same_parent(ip, cp))
						continue;
					const map_step *last = &ip->steps[ip->count - 1];
					if (!key_eq(last->key, last->len, key, klen))
						continue;
					occurrence one = oc;
					one.kase = &node->cases[i];
					one.obj = jtree_is_object(val) ? val : NULL;
					one.dot = val;
					fn(o, node, &one);
					break;
				}
				if (o->failed)
					return;
			}
		}
		if (dot_case) {
			/* A "." case only selects: it occurs when it has data. */
			occurrence one = oc;
			one.kase = dot_case;
			one.obj = base;
			one.optional = 1;
			fn(o, node, &one);
		}
		return;
	}
	if (append) {
		size_t i;
		jtree *item;
		for (i = 0; i < jtree_array_size(base) && ((item = jtree_array_get(base, i)) != NULL); i++) {
			occurrence one = oc;
			one.obj = item;
			fn(o, node, &one);
		}
		return;
	}
	oc.obj = base;
	fn(o, node, &oc);
}

static int
segment_occurrence_emitted(out *o, const map_node *node, occurrence *oc);

static void
segment_occurrence(out *o, const map_node *node, occurrence *oc)
{
	segment_occurrence_emitted(o, node, oc);
}

/* A loop without path or cases: one occurrence per occurrence of its
 * trigger, which binds into the enclosing object. */
static void
plain_loop_occurrence(out *o, const map_node *trigger, occurrence *oc)
{
	const map_node *loop = o->loop;
	jtree *ctx = o->loop_ctx;
	if (segment_occurrence_emitted(o, trigger, oc))
		walk_children(o, loop, 1, ctx);
	o->loop = loop;
	o->loop_ctx = ctx;
}

static int
segment_occurrence_emitted(out *o, const map_node *node, occurrence *oc)
{
	int emitted = 0;
	int forced = (oc->kase != NULL && !oc->optional)
	    || (node->path && node->path->count
	        && node->path->steps[node->path->count - 1].append);
	for (unsigned guard = 0; guard < 100000 && !o->failed; guard++) {
		seg_start(o, node->tag_text);
		int any = fill(o, node, oc);
		if (!any && !forced)
			return emitted;
		emit_mapped(o);
		emitted = 1;
		if (!oc->remaining)
			return emitted;
		forced = 0;
	}
	return emitted;
}

static void
loop_occurrence(out *o, const map_node *loop, occurrence *oc)
{
	const map_node *trig = loop->children[0];
	int forced = (oc->kase != NULL && !oc->optional) || loop->path != NULL;
	seg_start(o, trig->tag_text);
	occurrence t = *oc;
	if (!forced)
		t.obj = oc->obj;
	int any = fill(o, trig, &t);
	if (!any && !forced)
		return;
	emit_mapped(o);
	walk_children(o, loop, 1, oc->obj);
}

static int
level_has_parent(const map_level *lv, const char *code)
{
	const char *p = lv->parents;
	size_t n = strlen(code);
	while (p && *p) {
		while (*p == ' ')
			p++;
		const char *end = p;
		while (*end && *end != ' ')
			end++;
		if ((size_t)(end - p) == n && memcmp(p, code, n) == 0)
			return 1;
		p = end;
	}
	return 0;
}

static void
hl_one(out *o, const map_node *loop, const map_level *lv, jtree *obj,
    unsigned parent_id)
{
	const map_node *trig = loop->children[0];
	unsigned id = ++o->hl_counter;
	char num[16];
	seg_start(o, trig->tag_text);
	int n = snprintf(num, sizeof(num), "%u", id);
	set_field(o, 1, 1, num, (size_t)n);
	if (parent_id) {
		n = snprintf(num, sizeof(num), "%u", parent_id);
		set_field(o, 2, 1, num, (size_t)n);
	}
	/* A "*" level has no code of its own; one the partner sent travels
	 * in unmapped. */
	if (strcmp(lv->code, "*") != 0)
		set_field(o, 3, 1, lv->code, strlen(lv->code));
	occurrence oc = {.obj = obj};
	fill(o, trig, &oc);
	emit_mapped(o);
	walk_children(o, loop, 1, obj);
	for (size_t i = 0; i < loop->level_count && !o->failed; i++) {
		const map_level *child = &loop->levels[i];
		if (!level_has_parent(child, lv->code))
			continue;
		jtree *base = lookup(obj, child->path, child->path->count);
		if (child->path->count == 0) {
			hl_one(o, loop, child, obj, id);
		} else if (jtree_is_array(base)) {
			size_t k;
			jtree *item;
			for (k = 0; k < jtree_array_size(base) && ((item = jtree_array_get(base, k)) != NULL); k++)
				hl_one(o, loop, child, item, id);
		} else if (jtree_is_object(base)) {
			hl_one(o, loop, child, base, id);
		}
	}
}

/* An HL loop: the levels' objects depth first, numbered as they go. */
static void
hl_walk(out *o, const map_node *loop, jtree *ctx)
{
	for (size_t i = 0; i < loop->level_count && !o->failed; i++) {
		const map_level *lv = &loop->levels[i];
		if (lv->parents)
			continue;
		jtree *base = lookup(ctx, lv->path, lv->path->count);
		if (lv->path->count == 0)
			hl_one(o, loop, lv, ctx, 0);
		else if (jtree_is_array(base)) {
			size_t k;
			jtree *item;
			for (k = 0; k < jtree_array_size(base) && ((item = jtree_array_get(base, k)) != NULL); k++)
				hl_one(o, loop, lv, item, 0);
		}
	}
}

static int
has_constant(const map_node *seg)
{
	for (unsigned i = 1; i <= seg->slot_count; i++) {
		const map_slot *sl = &seg->slots[i];
		if (!sl->defined)
			continue;
		if (!sl->composite && (sl->simple.fixed || sl->simple.dflt))
			return 1;
		for (unsigned c = 1; sl->composite && c <= sl->component_count; c++)
			if (sl->components[c].fixed || sl->components[c].dflt)
				return 1;
	}
	return 0;
}

static void
walk_children(out *o, const map_node *loop, size_t from, jtree *ctx)
{
	for (size_t i = from; i < loop->child_count && !o->failed; i++) {
		const map_node *c = loop->children[i];
		if (c->kind == MAP_NODE_SEGMENT) {
			if (c->bound)
				each_occurrence(o, c, ctx, segment_occurrence);
			else if (o->unmapped == NULL && c->use == MAP_USE_MANDATORY
			    && has_constant(c)) {
				/* A document a system made has no unmapped to bring
				 * back a mandatory segment that binds nothing (UNS+S):
				 * its constants make it. */
				seg_start(o, c->tag_text);
				occurrence none = {.obj = ctx};
				fill(o, c, &none);
				emit_mapped(o);
			}
		} else if (c->level_count) {
			hl_walk(o, c, ctx);
		} else if (c->path == NULL && c->case_count == 0) {
			if (c->children[0]->bound) {
				o->loop = c;
				o->loop_ctx = ctx;
				each_occurrence(o, c->children[0], ctx, plain_loop_occurrence);
			}
		} else {
			each_occurrence(o, c, ctx, loop_occurrence);
		}
	}
}

long
map_out_jtree(const map *m, const jtree *doc_, map_out_sink sink, void *ctx,
    char *err, size_t errlen)
{
	/* The walk never changes the tree; its cursors are not const. */
	jtree *doc = (jtree *)doc_;
	static __thread out o;
	memset(&o, 0, offsetof(out, main));
	o.main.used = o.whole.used = 0;
	o.cur = &o.main;
	o.m = m;
	o.sink = sink;
	o.sink_ctx = ctx;
	o.err = err;
	o.errlen = errlen;
	o.pos = 1; /* ST / UNH */
	/* These sit after the segment buffers the memset spares: a failed
	 * document must not fail, nor count into, the next one on the
	 * same thread. */
	o.failed = 0;
	o.count = 0;
	/* Numbers go back with the decimal mark they came with (UNA). */
	jtree *dm = jt_get(jt_get(jt_get(doc, "meta"), "delimiters"), "decimal");
	o.decimal = jt_is_string(dm) && jt_string_len(dm) == 1
	    ? jt_string(dm)[0] : '.';
	o.loop = NULL;
	o.loop_ctx = NULL;
	o.hl_counter = 0;
	bc.node = NULL;
	bc.path = NULL;
	o.unmapped = jt_get(doc, "unmapped");
	o.ucount = jtree_is_array(o.unmapped) ? jtree_array_size(o.unmapped) : 0;
	if (err && errlen)
		err[0] = '\0';
	walk_children(&o, &m->root, 0, doc);
	flush(&o, 1);
	return o.failed ? -1 : o.count;
}

/* One arena per thread, reset per document: the copy costs no malloc
 * per value once the arena has grown to a document. The key frees it when
 * its thread ends (the daemon's workers come and go with reloads). */
static pthread_key_t arena_key;
static pthread_once_t arena_once = PTHREAD_ONCE_INIT;
static int arena_key_ok;

static void
arena_destroy(void *a)
{
	jtree_arena_free(a);
}

static void
arena_key_make(void)
{
	arena_key_ok = pthread_key_create(&arena_key, arena_destroy) == 0;
}

static jtree_arena *
thread_arena(void)
{
	jtree_arena *a;

	if (pthread_once(&arena_once, arena_key_make) != 0 || !arena_key_ok)
		return NULL;
	if ((a = pthread_getspecific(arena_key)) != NULL)
		return a;
	if ((a = jtree_arena_new()) != NULL &&
	    pthread_setspecific(arena_key, a) != 0) {
		jtree_arena_free(a);
		a = NULL;
	}
	return a;
}

long
map_out_document(const map *m, json_t *doc, map_out_sink sink, void *ctx,
    char *err, size_t errlen)
{
	jtree_arena *arena = thread_arena();

	if (arena == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	jtree_arena_reset(arena);
	jtree *t = jtree_from_json(arena, doc);
	if (t == NULL) {
		snprintf(err, errlen, jtree_arena_failed(arena) ? "out of memory"
		    : "document nested too deeply");
		return -1;
	}
	return map_out_jtree(m, t, sink, ctx, err, errlen);
}

/* ------------------------------------------------------------ writer */

edi_write_status
map_out_write(const map_out_segment *g, edi_writer *w)
{
	edi_write_status st = edi_writer_begin_n(w, g->tag, strnlen(g->tag, 3));
	for (unsigned e = 1; st == EDI_WRITE_OK && e <= g->element_count; e++) {
		unsigned n = g->component_count[e];
		const map_field *c = g->components[e];
		st = edi_writer_element_n(w, n ? c[0].ptr : "", n ? c[0].len : 0);
		for (unsigned k = 1; st == EDI_WRITE_OK && k < n; k++)
			st = edi_writer_component_n(w, c[k].ptr, c[k].len);
	}
	if (st == EDI_WRITE_OK)
		st = edi_writer_end(w);
	return st;
}

int
map_out_writer_sink(void *ctx, const map_out_segment *g)
{
	return map_out_write(g, ctx) == EDI_WRITE_OK ? 0 : -1;
}

/* ------------------------------------------------------------ format */

/* Which bytes need a release character (or, in X12, cannot be written)
 * under a set of delimiters; kept per thread for the last set used, so a
 * segment costs a table look-up per byte, not five comparisons. */
typedef struct special_table {
	char element, component, repetition, terminator, release;
	int terminator_set, ready;
	unsigned char is[256];
} special_table;

static const unsigned char *
specials(const edi_delimiters *d)
{
	static __thread special_table t;
	char term = d->terminator_len ? d->terminator[0] : 0;
	if (t.ready && t.element == d->element && t.component == d->component
	    && t.repetition == d->repetition && t.release == d->release
	    && t.terminator_set == (d->terminator_len != 0) && t.terminator == term)
		return t.is;
	memset(t.is, 0, sizeof(t.is));
	t.is[(unsigned char)d->element] = 1;
	t.is[(unsigned char)d->component] = 1;
	if (d->repetition)
		t.is[(unsigned char)d->repetition] = 1;
	if (d->terminator_len)
		t.is[(unsigned char)term] = 1;
	if (d->release)
		t.is[(unsigned char)d->release] = 1;
	t.element = d->element;
	t.component = d->component;
	t.repetition = d->repetition;
	t.terminator = term;
	t.terminator_set = d->terminator_len != 0;
	t.release = d->release;
	t.ready = 1;
	return t.is;
}

long
map_out_format(const map_out_segment *g, const edi_delimiters *d, char *buf,
    size_t cap)
{
	const unsigned char *special = specials(d);
	size_t n = 0;
#define PUT(c) do { if (n >= cap) return -1; buf[n++] = (c); } while (0)
	for (size_t i = 0; g->tag[i] && i < 3; i++)
		PUT(g->tag[i]);
	for (unsigned e = 1; e <= g->element_count; e++) {
		PUT(d->element);
		for (unsigned c = 0; c < g->component_count[e]; c++) {
			if (c > 0)
				PUT(d->component);
			const map_field *f = &g->components[e][c];
			size_t k = 0;
			while (k < f->len) {
				/* A run of plain bytes at once. */
				size_t run = k;
				while (run < f->len && !special[(unsigned char)f->ptr[run]])
					run++;
				if (run > k) {
					if (cap - n < run - k)
						return -1;
					memcpy(buf + n, f->ptr + k, run - k);
					n += run - k;
					k = run;
					continue;
				}
				if (d->release == 0)
					return -1; /* X12 cannot carry it */
				PUT(d->release);
				PUT(f->ptr[k]);
				k++;
			}
		}
	}
	for (unsigned k = 0; k < d->terminator_len; k++)
		PUT(d->terminator[k]);
	for (unsigned k = 0; k < d->suffix_len; k++)
		PUT(d->suffix[k]);
#undef PUT
	return (long)n;
}

/* ------------------------------------------------------- error codes */

int
map_issue_x12_segment_code(map_issue_kind k)
{
	switch (k) {
	case MAP_ISSUE_UNRECOGNIZED_SEGMENT: return 1;
	case MAP_ISSUE_UNEXPECTED_SEGMENT: return 2;
	case MAP_ISSUE_MANDATORY_SEGMENT_MISSING: return 3;
	case MAP_ISSUE_LOOP_OVER_MAX: return 4;
	case MAP_ISSUE_SEGMENT_OVER_MAX: return 5;
	default: return 8; /* segment has data element errors */
	}
}

int
map_issue_x12_element_code(map_issue_kind k)
{
	switch (k) {
	case MAP_ISSUE_ELEMENT_MISSING: return 1;
	case MAP_ISSUE_TOO_MANY_ELEMENTS: return 3;
	case MAP_ISSUE_TOO_SHORT: return 4;
	case MAP_ISSUE_TOO_LONG: return 5;
	case MAP_ISSUE_BAD_CHARACTER: return 6;
	case MAP_ISSUE_BAD_CODE: return 7;
	case MAP_ISSUE_BAD_DATE: return 8;
	case MAP_ISSUE_BAD_TIME: return 9;
	case MAP_ISSUE_TOO_MANY_REPETITIONS: return 12;
	case MAP_ISSUE_TOO_MANY_COMPONENTS: return 13;
	default: return 0;
	}
}

int
map_issue_edifact_code(map_issue_kind k)
{
	switch (k) {
	case MAP_ISSUE_UNRECOGNIZED_SEGMENT: return 14; /* not supported in this position */
	case MAP_ISSUE_UNEXPECTED_SEGMENT: return 15;   /* not supported in this position */
	case MAP_ISSUE_MANDATORY_SEGMENT_MISSING: return 13; /* missing */
	case MAP_ISSUE_LOOP_OVER_MAX: return 36;       /* too many segment group repetitions */
	case MAP_ISSUE_SEGMENT_OVER_MAX: return 35;    /* too many repetitions */
	case MAP_ISSUE_ELEMENT_MISSING: return 13;
	case MAP_ISSUE_TOO_MANY_ELEMENTS: return 16;   /* too many constituents */
	case MAP_ISSUE_TOO_SHORT: return 40;
	case MAP_ISSUE_TOO_LONG: return 39;
	case MAP_ISSUE_BAD_CHARACTER: return 37;       /* invalid type of characters */
	case MAP_ISSUE_BAD_CODE: return 12;            /* invalid value */
	case MAP_ISSUE_BAD_DATE: return 12;
	case MAP_ISSUE_BAD_TIME: return 12;
	case MAP_ISSUE_TOO_MANY_REPETITIONS: return 35;
	case MAP_ISSUE_TOO_MANY_COMPONENTS: return 16;
	}
	return 0;
}

const char *
map_issue_kind_name(map_issue_kind k)
{
	switch (k) {
	case MAP_ISSUE_UNRECOGNIZED_SEGMENT: return "unrecognized segment";
	case MAP_ISSUE_UNEXPECTED_SEGMENT: return "unexpected segment";
	case MAP_ISSUE_MANDATORY_SEGMENT_MISSING: return "mandatory segment missing";
	case MAP_ISSUE_LOOP_OVER_MAX: return "loop occurs over maximum times";
	case MAP_ISSUE_SEGMENT_OVER_MAX: return "segment exceeds maximum use";
	case MAP_ISSUE_ELEMENT_MISSING: return "mandatory element missing";
	case MAP_ISSUE_TOO_MANY_ELEMENTS: return "too many data elements";
	case MAP_ISSUE_TOO_SHORT: return "data element too short";
	case MAP_ISSUE_TOO_LONG: return "data element too long";
	case MAP_ISSUE_BAD_CHARACTER: return "invalid character in data element";
	case MAP_ISSUE_BAD_CODE: return "invalid code value";
	case MAP_ISSUE_BAD_DATE: return "invalid date";
	case MAP_ISSUE_BAD_TIME: return "invalid time";
	case MAP_ISSUE_TOO_MANY_REPETITIONS: return "too many repetitions";
	case MAP_ISSUE_TOO_MANY_COMPONENTS: return "too many components";
	}
	return "issue";
}
