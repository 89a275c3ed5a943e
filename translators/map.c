/*
 * map - loading, checking and compiling map files. See map.h.
 *
 * Everything a map owns lives in one arena, so a map is freed in one
 * go and the engine's pointers into it stay valid for the map's life.
 */
#include "map.h"

#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>

/* ---------------------------------------------------------------- arena */

typedef struct map_arena_block {
	struct map_arena_block *next;
	size_t used, size;
	max_align_t data[];
} map_arena_block;

struct map_arena {
	map_arena_block *head;
	/* Every key a path or a code list names, once: equal keys are the
	 * same pointer, so the engine finds a member it set before by
	 * comparing pointers (map_in.c). */
	const char **keys;
	size_t key_count, key_cap;
};

static void *
arena_alloc(struct map_arena *a, size_t n)
{
	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	map_arena_block *b = a->head;
	if (b == NULL || b->size - b->used < n) {
		size_t size = n > 16384 ? n : 16384;
		b = malloc(sizeof(*b) + size);
		if (b == NULL)
			return NULL;
		b->size = size;
		b->used = 0;
		b->next = a->head;
		a->head = b;
	}
	void *p = (char *)b->data + b->used;
	b->used += n;
	memset(p, 0, n);
	return p;
}

static char *
arena_strdup(struct map_arena *a, const char *s)
{
	size_t n = strlen(s);
	char *p = arena_alloc(a, n + 1);
	if (p)
		memcpy(p, s, n + 1);
	return p;
}

static void
arena_free(struct map_arena *a)
{
	if (a == NULL)
		return;
	map_arena_block *b = a->head;
	while (b) {
		map_arena_block *next = b->next;
		free(b);
		b = next;
	}
	free(a->keys);
	free(a);
}

/* The one copy of key (len bytes) in the arena; NULL when out of
 * memory. A map names a few hundred keys: a linear search at load time
 * costs nothing that matters. */
static const char *
arena_intern(struct map_arena *a, const char *key, size_t len)
{
	for (size_t i = 0; i < a->key_count; i++)
		if (strncmp(a->keys[i], key, len) == 0 && a->keys[i][len] == '\0')
			return a->keys[i];
	if (a->key_count == a->key_cap) {
		size_t cap = a->key_cap ? a->key_cap * 2 : 64;
		const char **k = realloc(a->keys, cap * sizeof(*k));
		if (k == NULL)
			return NULL;
		a->keys = k;
		a->key_cap = cap;
	}
	char *k = arena_alloc(a, len + 1);
	if (k == NULL)
		return NULL;
	memcpy(k, key, len);
	a->keys[a->key_count++] = k;
	return k;
}

/* ---------------------------------------------------------------- errors */

typedef struct errbuf {
	char *text;
	size_t len, cap;
	int count;
} errbuf;

static void
err_add(errbuf *e, const char *file, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	char row[1024];
	int n = snprintf(row, sizeof(row), "%s:%d: %s\n", file, line, msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(row))
		n = sizeof(row) - 1;
	if (e->len + n + 1 > e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 1024;
		while (cap < e->len + n + 1)
			cap *= 2;
		char *t = realloc(e->text, cap);
		if (t == NULL)
			return;
		e->text = t;
		e->cap = cap;
	}
	memcpy(e->text + e->len, row, n + 1);
	e->len += n;
	e->count++;
}

static void
err_hand_over(errbuf *e, char **errors)
{
	if (errors) {
		*errors = e->text;
		e->text = NULL;
	}
	free(e->text);
}

/* --------------------------------------------------------------- loader */

struct map_loader {
	xmlSchemaPtr schema;
};

static void
schema_error(void *ctx, xmlErrorPtr error)
{
	errbuf *e = ctx;
	char msg[512];
	snprintf(msg, sizeof(msg), "%s", error->message ? error->message : "invalid");
	size_t n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	err_add(e, error->file ? error->file : "(map)", error->line, "%s", msg);
}

map_loader *
map_loader_new(const char *xsd_path, char **errors)
{
	errbuf e = {0};
	map_loader *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(xsd_path);
	if (pc) {
		xmlSchemaSetParserStructuredErrors(pc, schema_error, &e);
		l->schema = xmlSchemaParse(pc);
		xmlSchemaFreeParserCtxt(pc);
	}
	if (l->schema == NULL) {
		if (e.count == 0)
			err_add(&e, xsd_path, 0, "cannot read the map schema");
		err_hand_over(&e, errors);
		free(l);
		return NULL;
	}
	return l;
}

void
map_loader_free(map_loader *l)
{
	if (l == NULL)
		return;
	xmlSchemaFree(l->schema);
	free(l);
}

typedef struct first_error {
	int have;
	int line;
	char msg[512];
} first_error;

static void
keep_first_error(void *ctx, xmlErrorPtr error)
{
	first_error *fe = ctx;
	if (fe->have || error == NULL || error->level < XML_ERR_ERROR)
		return;
	fe->have = 1;
	fe->line = error->line;
	snprintf(fe->msg, sizeof(fe->msg), "%s", error->message ? error->message : "error");
	size_t n = strlen(fe->msg);
	while (n > 0 && (fe->msg[n - 1] == '\n' || fe->msg[n - 1] == ' '))
		fe->msg[--n] = '\0';
}

/* Parses and validates one file. NULL with errors added on failure. */
static xmlDocPtr
read_valid(map_loader *l, const char *path, errbuf *e)
{
	first_error fe = {0};
	xmlParserCtxtPtr pc = xmlNewParserCtxt();
	if (pc == NULL)
		return NULL;
	/* The first error names the line where the file went wrong; later
	 * ones are consequences ("premature end of data"). */
	xmlSetStructuredErrorFunc(&fe, keep_first_error);
	xmlDocPtr doc = xmlCtxtReadFile(pc, path, NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	xmlSetStructuredErrorFunc(NULL, NULL);
	if (doc == NULL) {
		if (fe.have)
			err_add(e, path, fe.line, "not well-formed XML: %s", fe.msg);
		else
			err_add(e, path, 0, "cannot read: %s", strerror(errno));
		xmlFreeParserCtxt(pc);
		return NULL;
	}
	xmlFreeParserCtxt(pc);
	xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(l->schema);
	if (vc == NULL) {
		xmlFreeDoc(doc);
		return NULL;
	}
	int before = e->count;
	xmlSchemaSetValidStructuredErrors(vc, schema_error, e);
	int rc = xmlSchemaValidateDoc(vc, doc);
	xmlSchemaFreeValidCtxt(vc);
	if (rc != 0) {
		if (e->count == before)
			err_add(e, path, 0, "does not follow map.xsd");
		xmlFreeDoc(doc);
		return NULL;
	}
	return doc;
}

/* ----------------------------------------------------------- compiling */

typedef struct build {
	map *m;
	struct map_arena *a;
	const char *file;
	errbuf *e;
} build;

static char *
attr(xmlNodePtr n, const char *name)
{
	return (char *)xmlGetProp(n, (const xmlChar *)name);
}

/* Attribute copied into the arena, or NULL when absent. */
static const char *
attr_dup(build *b, xmlNodePtr n, const char *name)
{
	char *v = attr(n, name);
	if (v == NULL)
		return NULL;
	const char *r = arena_strdup(b->a, v);
	xmlFree(v);
	return r;
}

static unsigned
attr_uint(xmlNodePtr n, const char *name, unsigned dflt)
{
	char *v = attr(n, name);
	if (v == NULL)
		return dflt;
	unsigned long r = strtoul(v, NULL, 10);
	xmlFree(v);
	return (unsigned)r;
}

static uint32_t
attr_max(xmlNodePtr n, uint32_t dflt)
{
	char *v = attr(n, "max");
	if (v == NULL)
		return dflt;
	uint32_t r = strcmp(v, "unbounded") == 0 ? MAP_UNBOUNDED
	    : (uint32_t)strtoul(v, NULL, 10);
	xmlFree(v);
	return r;
}

static map_use
attr_use(xmlNodePtr n, map_use dflt)
{
	char *v = attr(n, "use");
	if (v == NULL)
		return dflt;
	map_use u = v[0] == 'M' ? MAP_USE_MANDATORY
	    : v[0] == 'C' ? MAP_USE_CONDITIONAL : MAP_USE_OPTIONAL;
	xmlFree(v);
	return u;
}

static int
is(xmlNodePtr n, const char *name)
{
	return n->type == XML_ELEMENT_NODE
	    && strcmp((const char *)n->name, name) == 0;
}

static map_path *
compile_path(build *b, const char *text)
{
	map_path *p = arena_alloc(b->a, sizeof(*p));
	if (strcmp(text, ".") == 0)
		return p;
	size_t n = 1;
	for (const char *s = text; *s; s++)
		n += *s == '.';
	p->steps = arena_alloc(b->a, n * sizeof(map_step));
	const char *s = text;
	while (*s) {
		const char *end = strchr(s, '.');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		map_step *st = &p->steps[p->count++];
		st->index = -1;
		if (len >= 2 && s[len - 2] == '[' && s[len - 1] == ']') {
			st->append = 1;
			len -= 2;
		} else if (len >= 3 && s[len - 3] == '[' && s[len - 1] == ']'
		    && s[len - 2] >= '0' && s[len - 2] <= '9') {
			st->index = s[len - 2] - '0';
			len -= 3;
		}
		st->key = arena_intern(b->a, s, len);
		st->len = len;
		s += (end ? (size_t)(end - s) + 1 : strlen(s));
	}
	return p;
}

static const map_codelist *
resolve_codelist(build *b, xmlNodePtr n, const char *id)
{
	if (id == NULL)
		return NULL;
	const map_codelist *cl = map_find_codelist(b->m, id);
	if (cl == NULL)
		err_add(b->e, b->file, xmlGetLineNo(n),
		    "code list \"%s\" is not defined in this map", id);
	return cl;
}

static void
parse_type(const char *t, map_value *v)
{
	if (t == NULL)
		return;
	if (t[0] == 'N' && t[1] >= '0' && t[1] <= '9') {
		v->type = MAP_TYPE_NUM;
		v->decimals = t[1] - '0';
	} else if (strcmp(t, "N") == 0) {
		v->type = MAP_TYPE_NUM;
	} else if (strcmp(t, "R") == 0 || strcmp(t, "n") == 0) {
		v->type = MAP_TYPE_R;
	} else if (strcmp(t, "ID") == 0) {
		v->type = MAP_TYPE_ID;
	} else if (strcmp(t, "DT") == 0) {
		v->type = MAP_TYPE_DT;
	} else if (strcmp(t, "TM") == 0) {
		v->type = MAP_TYPE_TM;
	} else if (strcmp(t, "B") == 0) {
		v->type = MAP_TYPE_B;
	} else if (strcmp(t, "a") == 0) {
		v->type = MAP_TYPE_ALPHA;
	} else {
		v->type = MAP_TYPE_AN;
	}
}

static int
parse_value(build *b, xmlNodePtr n, map_value *v)
{
	memset(v, 0, sizeof(*v));
	v->line = xmlGetLineNo(n);
	v->pos = attr_uint(n, "pos", 0);
	char *t = attr(n, "type");
	parse_type(t, v);
	xmlFree(t);
	v->use = attr_use(n, MAP_USE_OPTIONAL);
	v->min = attr_uint(n, "min", 1);
	v->max = attr_uint(n, "max", 1);
	if (v->min > v->max)
		err_add(b->e, b->file, v->line,
		    "min length %u is greater than max length %u", v->min, v->max);
	const char *cl = attr_dup(b, n, "codelist");
	v->codelist = resolve_codelist(b, n, cl);
	const char *path = attr_dup(b, n, "path");
	if (path)
		v->path = compile_path(b, path);
	char *c = attr(n, "convert");
	if (c) {
		v->convert = strcmp(c, "date") == 0 ? MAP_CONVERT_DATE
		    : strcmp(c, "time") == 0 ? MAP_CONVERT_TIME
		    : strcmp(c, "datetime") == 0 ? MAP_CONVERT_DATETIME
		    : MAP_CONVERT_DECIMAL;
		xmlFree(c);
	}
	if (v->convert == MAP_CONVERT_NONE && v->type == MAP_TYPE_R
	    && b->m->standard == MAP_EDIFACT)
		v->convert = MAP_CONVERT_DECIMAL;
	const char *fixed = attr_dup(b, n, "value");
	if (fixed) {
		v->fixed = fixed;
		v->fixed_len = strlen(fixed);
	}
	if (v->fixed && v->path)
		err_add(b->e, b->file, v->line,
		    "an element with a constant value cannot also have a path");
	const char *dflt = attr_dup(b, n, "default");
	if (dflt) {
		v->dflt = dflt;
		v->dflt_len = strlen(dflt);
	}
	return 0;
}

static map_slot *
slot_at(build *b, map_node *seg, unsigned pos, int line)
{
	if (pos == 0 || pos > 999)
		return NULL;
	if (pos > seg->slot_count) {
		map_slot *s = arena_alloc(b->a, (pos + 1) * sizeof(map_slot));
		if (seg->slots)
			memcpy(s, seg->slots, (seg->slot_count + 1) * sizeof(map_slot));
		seg->slots = s;
		seg->slot_count = pos;
	}
	(void)line;
	return &seg->slots[pos];
}

static void
mark_bound(map_node *seg, const map_value *v)
{
	if (v->path) {
		seg->bound = 1;
		if (v->path->count && v->path->steps[v->path->count - 1].append)
			seg->has_append = 1;
	}
}

/* <element> or <composite> into a segment; replace = override semantics. */
static void
add_element(build *b, map_node *seg, xmlNodePtr n, int replace)
{
	unsigned pos = attr_uint(n, "pos", 0);
	int line = xmlGetLineNo(n);
	map_slot *s = slot_at(b, seg, pos, line);
	if (s == NULL) {
		err_add(b->e, b->file, line, "element position %u is out of range", pos);
		return;
	}
	if (s->defined && !replace) {
		err_add(b->e, b->file, line,
		    "element %u of %s is declared twice", pos, seg->tag_text);
		return;
	}
	memset(s, 0, sizeof(*s));
	s->defined = 1;
	s->repeat = attr_uint(n, "repeat", 1);
	if (is(n, "element")) {
		parse_value(b, n, &s->simple);
		s->use = s->simple.use;
		mark_bound(seg, &s->simple);
		return;
	}
	s->composite = 1;
	s->use = attr_use(n, MAP_USE_OPTIONAL);
	unsigned maxc = 0;
	for (xmlNodePtr c = n->children; c; c = c->next)
		if (is(c, "component")) {
			unsigned p = attr_uint(c, "pos", 0);
			if (p > maxc)
				maxc = p;
		}
	s->components = arena_alloc(b->a, (maxc + 1) * sizeof(map_value));
	s->component_count = maxc;
	for (xmlNodePtr c = n->children; c; c = c->next) {
		if (!is(c, "component"))
			continue;
		map_value v;
		parse_value(b, c, &v);
		if (s->components[v.pos].line) {
			err_add(b->e, b->file, v.line,
			    "component %u.%u of %s is declared twice", pos, v.pos,
			    seg->tag_text);
			continue;
		}
		s->components[v.pos] = v;
		mark_bound(seg, &v);
	}
}

static void
add_case(build *b, map_node *node, xmlNodePtr n)
{
	int line = xmlGetLineNo(n);
	if (node->select_element == 0) {
		err_add(b->e, b->file, line,
		    "<case> in %s needs a select attribute naming the qualifier element",
		    node->id);
		return;
	}
	const char *value = attr_dup(b, n, "value");
	const char *path = attr_dup(b, n, "path");
	if (value == NULL || path == NULL)
		return;
	for (size_t i = 0; i < node->case_count; i++)
		if (strcmp(node->cases[i].value, value) == 0) {
			err_add(b->e, b->file, line,
			    "case \"%s\" of %s is declared twice (line %d)", value,
			    node->id, node->cases[i].line);
			return;
		}
	map_path *p = compile_path(b, path);
	if (p->count > 0 && p->steps[p->count - 1].append) {
		err_add(b->e, b->file, line,
		    "a case path must end in a key or be \".\", not \"[]\"");
		return;
	}
	/* Cases may bind under different parents (DTM 137 -> order_date,
	 * DTM 2 -> dates.requested_delivery_date); only one path each. */
	for (size_t i = 0; i < node->case_count; i++) {
		map_path *q = node->cases[i].path;
		int same = q->count == p->count;
		for (size_t k = 0; same && k < p->count; k++)
			same = q->steps[k].len == p->steps[k].len
			    && memcmp(q->steps[k].key, p->steps[k].key, p->steps[k].len) == 0;
		if (same) {
			err_add(b->e, b->file, line,
			    "cases \"%s\" and \"%s\" of %s bind the same path",
			    node->cases[i].value, value, node->id);
			return;
		}
	}
	map_case *cs = arena_alloc(b->a, (node->case_count + 1) * sizeof(map_case));
	if (node->case_count)
		memcpy(cs, node->cases, node->case_count * sizeof(map_case));
	map_case *c = &cs[node->case_count];
	c->value = value;
	c->value_len = strlen(value);
	c->path = p;
	c->line = line;
	node->cases = cs;
	node->case_count++;
	node->bound = 1;
}

static void
parse_select(build *b, map_node *node, xmlNodePtr n)
{
	char *sel = attr(n, "select");
	if (sel == NULL)
		return;
	char *dot = strchr(sel, '.');
	node->select_element = (unsigned)strtoul(sel, NULL, 10);
	node->select_component = dot ? (unsigned)strtoul(dot + 1, NULL, 10) : 0;
	xmlFree(sel);
}

static map_node *parse_loop(build *b, xmlNodePtr n, unsigned depth);

static map_node *
parse_segment(build *b, xmlNodePtr n)
{
	map_node *seg = arena_alloc(b->a, sizeof(*seg));
	seg->kind = MAP_NODE_SEGMENT;
	seg->line = xmlGetLineNo(n);
	char *tag = attr(n, "tag");
	size_t len = strlen(tag);
	memcpy(seg->tag_text, tag, len < 3 ? len : 3);
	seg->tag = map_tag_pack(tag, len);
	seg->id = arena_strdup(b->a, tag);
	xmlFree(tag);
	seg->use = attr_use(n, MAP_USE_OPTIONAL);
	seg->max = attr_max(n, 1);
	const char *path = attr_dup(b, n, "path");
	if (path)
		seg->path = compile_path(b, path);
	parse_select(b, seg, n);
	for (xmlNodePtr c = n->children; c; c = c->next) {
		if (is(c, "element") || is(c, "composite")) {
			add_element(b, seg, c, 0);
		} else if (is(c, "pairs")) {
			map_pairs *ps = arena_alloc(b->a, (seg->pair_count + 1) * sizeof(*ps));
			if (seg->pair_count)
				memcpy(ps, seg->pairs, seg->pair_count * sizeof(*ps));
			map_pairs *p = &ps[seg->pair_count++];
			seg->pairs = ps;
			p->line = xmlGetLineNo(c);
			p->from = attr_uint(c, "from", 0);
			p->to = attr_uint(c, "to", 0);
			p->max = attr_uint(c, "max", 48);
			const char *pp = attr_dup(b, c, "path");
			p->path = compile_path(b, pp ? pp : ".");
			p->codelist = resolve_codelist(b, c, attr_dup(b, c, "codelist"));
			char *qa = attr(c, "qualifier"), *va = attr(c, "value");
			if (qa && va) {
				/* One pair inside composites: both components must be
				 * declared already, they are marked as the pair's. */
				p->qualifier_element = (unsigned)strtoul(qa, NULL, 10);
				p->value_element = (unsigned)strtoul(va, NULL, 10);
				p->qualifier_component = strchr(qa, '.') ? (unsigned)strtoul(strchr(qa, '.') + 1, NULL, 10) : 0;
				p->value_component = strchr(va, '.') ? (unsigned)strtoul(strchr(va, '.') + 1, NULL, 10) : 0;
				unsigned els[2] = {p->qualifier_element, p->value_element};
				unsigned cos[2] = {p->qualifier_component, p->value_component};
				for (int k = 0; k < 2; k++) {
					map_slot *sl = els[k] <= seg->slot_count ? &seg->slots[els[k]] : NULL;
					map_value *v = NULL;
					if (sl && sl->defined && sl->composite && cos[k] && cos[k] <= sl->component_count
					    && sl->components[cos[k]].line)
						v = &sl->components[cos[k]];
					else if (sl && sl->defined && !sl->composite && cos[k] == 0)
						v = &sl->simple;
					if (v == NULL)
						err_add(b->e, b->file, p->line,
						    "pairs name %u.%u, which %s does not declare above", els[k], cos[k],
						    seg->tag_text);
					else
						v->pair = 1;
				}
			} else if (p->to < p->from + 1 || (p->to - p->from) % 2 != 1) {
				err_add(b->e, b->file, p->line,
				    "pairs need from and to covering whole (qualifier, value) pairs, or qualifier and value");
			}
			xmlFree(qa);
			xmlFree(va);
			/* Reserve the positions so the guide knows them. */
			for (unsigned i = p->from; p->from && i <= p->to && i <= 999; i++) {
				map_slot *s = slot_at(b, seg, i, p->line);
				if (s->defined) {
					err_add(b->e, b->file, p->line,
					    "pairs overlap element %u of %s", i, seg->tag_text);
					continue;
				}
				s->defined = 1;
				s->pair = 1;
				s->repeat = 1;
				s->simple.pos = i;
				s->simple.type = (i - p->from) % 2 ? MAP_TYPE_AN : MAP_TYPE_ID;
				s->simple.min = 1;
				s->simple.max = (i - p->from) % 2 ? p->max : 3;
				s->simple.line = p->line;
			}
			seg->bound = 1;
		} else if (is(c, "case")) {
			add_case(b, seg, c);
		}
	}
	if (seg->case_count) {
		unsigned se = seg->select_element;
		int dot = 0;
		for (unsigned i = 1; i <= seg->slot_count; i++) {
			map_slot *s = &seg->slots[i];
			if (s->defined && !s->composite && s->simple.path
			    && s->simple.path->count == 0)
				dot = 1;
		}
		(void)dot;
		if (se > seg->slot_count || !seg->slots[se].defined)
			err_add(b->e, b->file, seg->line,
			    "select names element %u, which %s does not declare", se,
			    seg->tag_text);
	}
	return seg;
}

static void
add_child(build *b, map_node *loop, map_node *child)
{
	map_node **c = arena_alloc(b->a, (loop->child_count + 1) * sizeof(*c));
	if (loop->child_count)
		memcpy(c, loop->children, loop->child_count * sizeof(*c));
	c[loop->child_count++] = child;
	loop->children = c;
	if (loop->child_count > b->m->max_children)
		b->m->max_children = loop->child_count;
}

static void
parse_body(build *b, map_node *loop, xmlNodePtr n, unsigned depth)
{
	for (xmlNodePtr c = n->children; c; c = c->next) {
		if (is(c, "segment"))
			add_child(b, loop, parse_segment(b, c));
		else if (is(c, "loop"))
			add_child(b, loop, parse_loop(b, c, depth + 1));
	}
}

static map_node *
parse_loop(build *b, xmlNodePtr n, unsigned depth)
{
	map_node *loop = arena_alloc(b->a, sizeof(*loop));
	loop->kind = MAP_NODE_LOOP;
	loop->line = xmlGetLineNo(n);
	loop->id = attr_dup(b, n, "id");
	loop->use = attr_use(n, MAP_USE_OPTIONAL);
	loop->max = attr_max(n, 1);
	const char *path = attr_dup(b, n, "path");
	if (path)
		loop->path = compile_path(b, path);
	parse_select(b, loop, n);
	if (depth > b->m->depth)
		b->m->depth = depth;
	parse_body(b, loop, n, depth);
	if (loop->child_count == 0)
		return loop; /* the schema already reported it */
	map_node *trigger = loop->children[0];
	loop->tag = trigger->tag;
	memcpy(loop->tag_text, trigger->tag_text, 4);
	if (trigger->max != 1)
		err_add(b->e, b->file, trigger->line,
		    "the trigger segment %s of loop %s must have max 1: the loop repeats, not the segment",
		    trigger->tag_text, loop->id);
	for (xmlNodePtr c = n->children; c; c = c->next) {
		if (is(c, "case")) {
			/* The select names an element of the trigger segment. */
			add_case(b, loop, c);
		} else if (is(c, "level")) {
			map_level *lv = arena_alloc(b->a, (loop->level_count + 1) * sizeof(*lv));
			if (loop->level_count)
				memcpy(lv, loop->levels, loop->level_count * sizeof(*lv));
			map_level *l = &lv[loop->level_count++];
			loop->levels = lv;
			l->line = xmlGetLineNo(c);
			l->code = attr_dup(b, c, "code");
			l->parents = attr_dup(b, c, "parent");
			l->path = compile_path(b, attr_dup(b, c, "path"));
			loop->bound = 1;
		}
	}
	if (loop->case_count && (loop->select_element > trigger->slot_count
	    || !trigger->slots[loop->select_element].defined))
		err_add(b->e, b->file, loop->line,
		    "select names element %u, which the trigger %s does not declare",
		    loop->select_element, trigger->tag_text);
	/* X12 HL and EDIFACT CPS share the layout the levels need: own id,
	 * parent id, level code in elements 1, 2 and 3. */
	if (loop->level_count && strcmp(trigger->tag_text, "HL") != 0
	    && strcmp(trigger->tag_text, "CPS") != 0)
		err_add(b->e, b->file, loop->line,
		    "<level> belongs in a loop triggered by HL or CPS, not %s", trigger->tag_text);
	return loop;
}

static void
add_codelist(build *b, xmlNodePtr n, int merge)
{
	const char *id = attr_dup(b, n, "id");
	char *closed = attr(n, "closed");
	int is_closed = closed && (strcmp(closed, "true") == 0 || strcmp(closed, "1") == 0);
	xmlFree(closed);
	map_codelist *cl = (map_codelist *)map_find_codelist(b->m, id);
	if (cl && !merge) {
		err_add(b->e, b->file, xmlGetLineNo(n),
		    "code list \"%s\" is declared twice", id);
		return;
	}
	if (cl == NULL) {
		/* Code lists sit in an array the nodes point into: grow only
		 * while no node has been compiled yet, or copy-on-grow is
		 * unsafe. Overrides add lists before re-resolving (below). */
		map_codelist *cls = arena_alloc(b->a,
		    (b->m->codelist_count + 1) * sizeof(*cls));
		if (b->m->codelist_count)
			memcpy(cls, b->m->codelists, b->m->codelist_count * sizeof(*cls));
		b->m->codelists = cls;
		cl = &cls[b->m->codelist_count++];
		cl->id = id;
	}
	cl->closed = is_closed || (merge && cl->closed && closed == NULL);
	for (xmlNodePtr c = n->children; c; c = c->next) {
		if (!is(c, "code"))
			continue;
		const char *edi = attr_dup(b, c, "edi");
		const char *can = attr_dup(b, c, "canonical");
		if (can)
			can = arena_intern(b->a, can, strlen(can));
		map_code *existing = (map_code *)map_code_by_edi(cl, edi, strlen(edi));
		if (existing) {
			if (!merge) {
				err_add(b->e, b->file, xmlGetLineNo(c),
				    "code \"%s\" appears twice in code list \"%s\"", edi, id);
				continue;
			}
			existing->canonical = can;
			existing->canonical_len = can ? strlen(can) : 0;
			continue;
		}
		if (can && map_code_by_canonical(cl, can, strlen(can))) {
			err_add(b->e, b->file, xmlGetLineNo(c),
			    "canonical name \"%s\" is used twice in code list \"%s\"", can, id);
			continue;
		}
		if (cl->count == cl->cap) {
			size_t cap = cl->cap ? cl->cap * 2 : 8;
			map_code *codes = arena_alloc(b->a, cap * sizeof(*codes));
			if (cl->count)
				memcpy(codes, cl->codes, cl->count * sizeof(*codes));
			cl->codes = codes;
			cl->cap = cap;
		}
		cl->codes[cl->count].edi = edi;
		cl->codes[cl->count].canonical = can;
		cl->codes[cl->count].edi_len = strlen(edi);
		cl->codes[cl->count].canonical_len = can ? strlen(can) : 0;
		cl->count++;
	}
}

static int
compile_map(build *b, xmlNodePtr root)
{
	map *m = b->m;
	char *std = attr(root, "standard");
	m->standard = std && strcmp(std, "edifact") == 0 ? MAP_EDIFACT : MAP_X12;
	xmlFree(std);
	m->version = attr_dup(b, root, "version");
	m->message = attr_dup(b, root, "message");
	m->document = attr_dup(b, root, "document");
	m->root.kind = MAP_NODE_LOOP;
	m->root.id = "(message)";
	m->root.max = 1;
	m->root.use = MAP_USE_MANDATORY;
	/* Code lists first: elements resolve them by pointer. */
	size_t lists = 0;
	for (xmlNodePtr c = root->children; c; c = c->next)
		lists += is(c, "codelist");
	m->codelists = arena_alloc(b->a, (lists + 1) * sizeof(map_codelist));
	for (xmlNodePtr c = root->children; c; c = c->next)
		if (is(c, "codelist"))
			add_codelist(b, c, 0);
	parse_body(b, &m->root, root, 0);
	return 0;
}

/* ------------------------------------------------------------ overrides */

map_node *
map_find_node(map *m, const char *tag_path)
{
	map_node *loop = &m->root;
	const char *s = tag_path;
	map_node *found = NULL;
	while (*s) {
		const char *end = strchr(s, '/');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		uint32_t tag = map_tag_pack(s, len);
		found = NULL;
		if (loop == NULL || loop->kind != MAP_NODE_LOOP)
			return NULL;
		for (size_t i = 0; i < loop->child_count; i++)
			if (loop->children[i]->tag == tag) {
				found = loop->children[i];
				break;
			}
		if (found == NULL)
			return NULL;
		s += len + (end ? 1 : 0);
		if (*s)
			loop = found;
	}
	return found;
}

static void
apply_override(build *b, xmlNodePtr root)
{
	/* Existing code lists are changed in place (their addresses are
	 * referenced by element rules); new ones are appended, which moves
	 * the array, so references are re-resolved afterwards. */
	for (xmlNodePtr c = root->children; c; c = c->next) {
		if (is(c, "codelist"))
			add_codelist(b, c, 1);
	}
	for (xmlNodePtr at = root->children; at; at = at->next) {
		if (!is(at, "at"))
			continue;
		char *where = attr(at, "segment");
		map_node *node = map_find_node(b->m, where);
		if (node == NULL) {
			err_add(b->e, b->file, xmlGetLineNo(at),
			    "the base map has no segment or loop \"%s\"", where);
			xmlFree(where);
			continue;
		}
		xmlFree(where);
		char *u = attr(at, "use");
		if (u) {
			node->use = attr_use(at, node->use);
			xmlFree(u);
		}
		node->max = attr_max(at, node->max);
		/* A loop's elements are its trigger segment's. */
		map_node *seg = node->kind == MAP_NODE_LOOP ? node->children[0] : node;
		for (xmlNodePtr c = at->children; c; c = c->next) {
			if (is(c, "element") || is(c, "composite"))
				add_element(b, seg, c, 1);
			else if (is(c, "case")) {
				/* A loop without its own select: the trigger's cases. */
				map_node *target = node->kind == MAP_NODE_LOOP
				    && node->select_element == 0 ? seg : node;
				if (target->select_element == 0)
					err_add(b->e, b->file, xmlGetLineNo(c),
					    "%s has no select element, so it cannot take cases",
					    node->id);
				else
					add_case(b, target, c);
			}
		}
	}
}

/* Re-point element rules at the (possibly moved) code list array. */
static void
relink_codelists(map *m, map_node *node, map_codelist *old, size_t old_count)
{
	if (old == NULL || old == m->codelists)
		return;
	for (unsigned i = 1; node->kind == MAP_NODE_SEGMENT && i <= node->slot_count; i++) {
		map_slot *s = &node->slots[i];
		if (s->simple.codelist >= old && s->simple.codelist < old + old_count)
			s->simple.codelist = m->codelists + (s->simple.codelist - old);
		for (unsigned c = 1; s->composite && c <= s->component_count; c++) {
			map_value *v = &s->components[c];
			if (v->codelist >= old && v->codelist < old + old_count)
				v->codelist = m->codelists + (v->codelist - old);
		}
	}
	for (size_t i = 0; i < node->pair_count; i++) {
		map_pairs *p = &node->pairs[i];
		if (p->codelist >= old && p->codelist < old + old_count)
			p->codelist = m->codelists + (p->codelist - old);
	}
	for (size_t i = 0; i < node->child_count; i++)
		relink_codelists(m, node->children[i], old, old_count);
}

static map *load_file(map_loader *l, const char *path, errbuf *e, int depth);

static int
override_onto(map_loader *l, map *m, xmlNodePtr root, const char *path,
    errbuf *e)
{
	build b = {.m = m, .a = m->arena, .file = path, .e = e};
	int before = e->count;
	map_codelist *old = m->codelists;
	size_t old_count = m->codelist_count;
	apply_override(&b, root);
	relink_codelists(m, &m->root, old, old_count);
	const char *v = attr_dup(&b, root, "version");
	if (v)
		m->version = v;
	const char *msg = attr_dup(&b, root, "message");
	if (msg)
		m->message = msg;
	return e->count == before ? 0 : -1;
}

static map *
load_file(map_loader *l, const char *path, errbuf *e, int depth)
{
	if (depth > 8) {
		err_add(e, path, 0, "overrides nest more than 8 deep (a cycle?)");
		return NULL;
	}
	xmlDocPtr doc = read_valid(l, path, e);
	if (doc == NULL)
		return NULL;
	xmlNodePtr root = xmlDocGetRootElement(doc);
	map *m = NULL;
	int before = e->count;
	if (is(root, "override")) {
		char *base = attr(root, "base");
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s", path);
		char *d = dirname(dir);
		char full[8192];
		if (base[0] == '/')
			snprintf(full, sizeof(full), "%s", base);
		else
			snprintf(full, sizeof(full), "%s/%s", d, base);
		xmlFree(base);
		m = load_file(l, full, e, depth + 1);
		if (m == NULL) {
			err_add(e, path, xmlGetLineNo(root), "cannot load the base map %s", full);
		} else {
			char *f = arena_alloc(m->arena, strlen(path) + 1);
			strcpy(f, path);
			m->file = f;
			override_onto(l, m, root, f, e);
		}
	} else {
		m = calloc(1, sizeof(*m));
		m->arena = calloc(1, sizeof(*m->arena));
		char *f = arena_alloc(m->arena, strlen(path) + 1);
		strcpy(f, path);
		m->file = f;
		build b = {.m = m, .a = m->arena, .file = f, .e = e};
		compile_map(&b, root);
	}
	xmlFreeDoc(doc);
	if (m && e->count != before) {
		map_free(m);
		m = NULL;
	}
	return m;
}

map *
map_load(map_loader *l, const char *path, char **errors)
{
	errbuf e = {0};
	if (errors)
		*errors = NULL;
	map *m = load_file(l, path, &e, 0);
	if (m == NULL && e.count == 0)
		err_add(&e, path, 0, "cannot load the map");
	if (m == NULL)
		err_hand_over(&e, errors);
	else
		free(e.text);
	return m;
}

int
map_apply_override(map_loader *l, map *m, const char *path, char **errors)
{
	errbuf e = {0};
	if (errors)
		*errors = NULL;
	xmlDocPtr doc = read_valid(l, path, &e);
	int rc = -1;
	if (doc) {
		xmlNodePtr root = xmlDocGetRootElement(doc);
		if (!is(root, "override"))
			err_add(&e, path, xmlGetLineNo(root), "expected <override>, found <%s>",
			    root->name);
		else
			rc = override_onto(l, m, root, path, &e);
		xmlFreeDoc(doc);
	}
	if (rc != 0)
		err_hand_over(&e, errors);
	else
		free(e.text);
	return rc;
}

int
map_check(map_loader *l, const char *path, char **errors)
{
	map *m = map_load(l, path, errors);
	if (m == NULL)
		return -1;
	map_free(m);
	return 0;
}

void
map_free(map *m)
{
	if (m == NULL)
		return;
	arena_free(m->arena);
	free(m);
}

/* ---------------------------------------------------------- look-ups */

const map_codelist *
map_find_codelist(const map *m, const char *id)
{
	for (size_t i = 0; id && i < m->codelist_count; i++)
		if (strcmp(m->codelists[i].id, id) == 0)
			return &m->codelists[i];
	return NULL;
}

/* Codes are two or three bytes: a loop costs less than memcmp's call. */
static inline int
same_bytes(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

const map_code *
map_code_by_edi(const map_codelist *cl, const char *s, size_t len)
{
	/* Code lists are short: a length and first-byte test rejects
	 * nearly every entry without a call. */
	for (size_t i = 0; i < cl->count; i++) {
		const map_code *c = &cl->codes[i];
		if (c->edi_len == len && (len == 0 || c->edi[0] == s[0])
		    && same_bytes(c->edi + 1, s + 1, len ? len - 1 : 0))
			return c;
	}
	return NULL;
}

const map_code *
map_code_by_canonical(const map_codelist *cl, const char *s, size_t len)
{
	for (size_t i = 0; i < cl->count; i++) {
		const map_code *c = &cl->codes[i];
		if (c->canonical && c->canonical_len == len
		    && (len == 0 || c->canonical[0] == s[0])
		    && memcmp(c->canonical, s, len) == 0)
			return c;
	}
	return NULL;
}
