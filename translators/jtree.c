/*
 * jtree - arena JSON trees and their compact text. See jtree.h.
 */
#include "jtree.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 65536

typedef struct block {
	struct block *next;
	size_t used, cap;
	_Alignas(16) char data[];
} block;

struct jtree_arena {
	block *head;   /* the block being filled; earlier ones follow */
	block *first;  /* kept across resets */
	int failed;
};

jtree_arena *
jtree_arena_new(void)
{
	jtree_arena *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return NULL;
	a->first = malloc(sizeof(block) + BLOCK);
	if (a->first == NULL) {
		free(a);
		return NULL;
	}
	a->first->next = NULL;
	a->first->used = 0;
	a->first->cap = BLOCK;
	a->head = a->first;
	return a;
}

static void
free_after_first(jtree_arena *a)
{
	block *b = a->head;
	while (b && b != a->first) {
		block *n = b->next;
		free(b);
		b = n;
	}
}

void
jtree_arena_free(jtree_arena *a)
{
	if (a == NULL)
		return;
	free_after_first(a);
	free(a->first);
	free(a);
}

void
jtree_arena_reset(jtree_arena *a)
{
	free_after_first(a);
	a->head = a->first;
	a->first->used = 0;
	a->failed = 0;
}

int
jtree_arena_failed(const jtree_arena *a)
{
	return a->failed;
}

static void *
alloc(jtree_arena *a, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	block *b = a->head;
	if (b->cap - b->used < n) {
		size_t cap = n > BLOCK ? n : BLOCK;
		block *nb = malloc(sizeof(block) + cap);
		if (nb == NULL) {
			a->failed = 1;
			return NULL;
		}
		nb->used = 0;
		nb->cap = cap;
		nb->next = a->head;
		a->head = nb;
		b = nb;
	}
	void *p = b->data + b->used;
	b->used += n;
	return p;
}

void *
jtree_arena_alloc(jtree_arena *a, size_t n)
{
	return alloc(a, n);
}

static jtree *
node(jtree_arena *a, jtree_kind kind)
{
	jtree *j = alloc(a, sizeof(*j));
	if (j == NULL)
		return NULL;
	memset(j, 0, sizeof(*j));
	j->kind = kind;
	return j;
}

jtree *jtree_object(jtree_arena *a) { return node(a, JTREE_OBJECT); }
jtree *jtree_array(jtree_arena *a) { return node(a, JTREE_ARRAY); }
jtree *jtree_null(jtree_arena *a) { return node(a, JTREE_NULL); }
jtree *jtree_true(jtree_arena *a) { return node(a, JTREE_TRUE); }
jtree *jtree_false(jtree_arena *a) { return node(a, JTREE_FALSE); }

jtree *
jtree_real(jtree_arena *a, const char *p, size_t n)
{
	jtree *j = jtree_string(a, p, n);
	if (j)
		j->kind = JTREE_REAL;
	return j;
}

jtree *
jtree_integer(jtree_arena *a, long long v)
{
	jtree *j = node(a, JTREE_INTEGER);
	if (j)
		j->u.integer = v;
	return j;
}

jtree *
jtree_string(jtree_arena *a, const char *p, size_t n)
{
	jtree *j = alloc(a, sizeof(*j) + n + 1);
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

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing
 * above U+10FFFF - what jansson accepts, so both paths agree. */
static int
utf8_valid(const unsigned char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = p[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t k;
		uint32_t cp;
		if (c >= 0xC2 && c <= 0xDF)
			k = 1, cp = c & 0x1F;
		else if (c >= 0xE0 && c <= 0xEF)
			k = 2, cp = c & 0x0F;
		else if (c >= 0xF0 && c <= 0xF4)
			k = 3, cp = c & 0x07;
		else
			return 0;
		if (n - i - 1 < k)
			return 0;
		for (size_t m = 1; m <= k; m++) {
			if ((p[i + m] & 0xC0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + m] & 0x3F);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000)
		    || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		i += k + 1;
	}
	return 1;
}

/* Keys are nearly always the map's own ASCII names. */
static inline int
key_valid(const char *key, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)key[i] >= 0x80)
			return utf8_valid((const unsigned char *)key + i, len - i);
	return 1;
}

jtree *
jtree_text(jtree_arena *a, const char *p, size_t n)
{
	/* Plain ASCII (nearly all EDI) needs no check. */
	size_t i = 0;
	while (i < n && (unsigned char)p[i] < 0x80)
		i++;
	if (i == n || utf8_valid((const unsigned char *)p + i, n - i))
		return jtree_string(a, p, n);
	jtree *j = alloc(a, sizeof(*j) + 2 * n + 1);
	if (j == NULL)
		return NULL;
	char *s = (char *)(j + 1);
	size_t o = 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x80) {
			s[o++] = (char)c;
		} else {
			s[o++] = (char)(0xC0 | (c >> 6));
			s[o++] = (char)(0x80 | (c & 0x3F));
		}
	}
	s[o] = '\0';
	j->kind = JTREE_STRING;
	j->u.string.ptr = s;
	j->u.string.len = o;
	return j;
}

jtree *
jtree_string_checked(jtree_arena *a, const char *p, size_t n)
{
	if (!utf8_valid((const unsigned char *)p, n))
		return NULL;
	return jtree_string(a, p, n);
}

jtree *
jtree_object_getn(const jtree *o, const char *key, size_t len)
{
	if (!jtree_is_object(o))
		return NULL;
	for (const jtree_member *m = o->u.object.first; m; m = m->next)
		if (m->key_len == len && (len == 0 || m->key[0] == key[0])
		    && memcmp(m->key, key, len) == 0)
			return m->value;
	return NULL;
}

static jtree_member *
link_member(jtree *o, jtree_member *m, const char *key, size_t len, jtree *v)
{
	m->key = key;
	m->key_len = len;
	m->value = v;
	m->next = NULL;
	if (o->u.object.last)
		o->u.object.last->next = m;
	else
		o->u.object.first = m;
	o->u.object.last = m;
	o->u.object.size++;
	return m;
}

jtree_member *
jtree_object_append(jtree_arena *a, jtree *o, const char *key, size_t len, jtree *v)
{
	jtree_member *m = alloc(a, sizeof(*m) + len + 1);
	if (m == NULL)
		return NULL;
	char *k = (char *)(m + 1);
	memcpy(k, key, len);
	k[len] = '\0';
	return link_member(o, m, k, len, v);
}

jtree_member *
jtree_object_append_kept(jtree_arena *a, jtree *o, const char *key,
    size_t len, jtree *v)
{
	jtree_member *m = alloc(a, sizeof(*m));
	return m ? link_member(o, m, key, len, v) : NULL;
}

void
jtree_object_setn(jtree_arena *a, jtree *o, const char *key, size_t len, jtree *v)
{
	/* A key that is not UTF-8 (a partner's qualifier) is refused, as
	 * jansson refuses it: both paths then drop the same value. */
	if (!jtree_is_object(o) || v == NULL || !key_valid(key, len))
		return;
	for (jtree_member *m = o->u.object.first; m; m = m->next)
		if (m->key_len == len && (len == 0 || m->key[0] == key[0])
		    && memcmp(m->key, key, len) == 0) {
			m->value = v;
			return;
		}
	jtree_object_append(a, o, key, len, v);
}

void
jtree_object_set(jtree_arena *a, jtree *o, const char *key, jtree *v)
{
	jtree_object_setn(a, o, key, strlen(key), v);
}

void
jtree_object_del(jtree *o, const char *key)
{
	if (!jtree_is_object(o))
		return;
	size_t len = strlen(key);
	jtree_member *prev = NULL;
	for (jtree_member *m = o->u.object.first; m; prev = m, m = m->next) {
		if (m->key_len != len || memcmp(m->key, key, len) != 0)
			continue;
		if (prev)
			prev->next = m->next;
		else
			o->u.object.first = m->next;
		if (o->u.object.last == m)
			o->u.object.last = prev;
		o->u.object.size--;
		return;
	}
}

size_t
jtree_array_size(const jtree *arr)
{
	return jtree_is_array(arr) ? arr->u.array.size : 0;
}

jtree *
jtree_array_get(const jtree *arr, size_t i)
{
	return jtree_is_array(arr) && i < arr->u.array.size ? arr->u.array.items[i] : NULL;
}

void
jtree_array_append(jtree_arena *a, jtree *arr, jtree *v)
{
	if (!jtree_is_array(arr) || v == NULL)
		return;
	if (arr->u.array.size == arr->u.array.cap) {
		/* Grown in the arena: the old items stay behind until the
		 * reset, at most as much again as the array itself. */
		size_t cap = arr->u.array.cap ? arr->u.array.cap * 2 : 4;
		jtree **items = alloc(a, cap * sizeof(*items));
		if (items == NULL)
			return;
		if (arr->u.array.size)
			memcpy(items, arr->u.array.items, arr->u.array.size * sizeof(*items));
		arr->u.array.items = items;
		arr->u.array.cap = cap;
	}
	arr->u.array.items[arr->u.array.size++] = v;
}

void
jtree_array_set(jtree *arr, size_t i, jtree *v)
{
	if (jtree_is_array(arr) && v && i < arr->u.array.size)
		arr->u.array.items[i] = v;
}

static jtree *
copy(jtree_arena *a, const jtree *j, int depth)
{
	if (j == NULL || depth > JTREE_MAX_DEPTH)
		return NULL;
	switch (j->kind) {
	case JTREE_STRING:
	case JTREE_REAL: {
		jtree *r = jtree_string(a, j->u.string.ptr, j->u.string.len);
		if (r)
			r->kind = j->kind;
		return r;
	}
	case JTREE_ARRAY: {
		jtree *r = jtree_array(a);
		if (r == NULL)
			return NULL;
		if (j->u.array.size) {
			/* Sized once: no doubling left behind in the arena. */
			r->u.array.items = alloc(a, j->u.array.size * sizeof(*r->u.array.items));
			if (r->u.array.items == NULL)
				return NULL;
			r->u.array.cap = j->u.array.size;
		}
		for (size_t i = 0; i < j->u.array.size; i++) {
			jtree *v = copy(a, j->u.array.items[i], depth + 1);
			if (v == NULL)
				return NULL;
			r->u.array.items[r->u.array.size++] = v;
		}
		return r;
	}
	case JTREE_OBJECT: {
		jtree *r = jtree_object(a);
		if (r == NULL)
			return NULL;
		for (const jtree_member *m = j->u.object.first; m; m = m->next) {
			jtree *v = copy(a, m->value, depth + 1);
			if (v == NULL || jtree_object_append(a, r, m->key, m->key_len, v) == NULL)
				return NULL;
		}
		return r;
	}
	default: {
		jtree *r = node(a, j->kind);
		if (r)
			r->u = j->u;
		return r;
	}
	}
}

jtree *
jtree_copy(jtree_arena *a, const jtree *j)
{
	return copy(a, j, 0);
}

jtree *
jtree_object_shallow_copy(jtree_arena *a, const jtree *o)
{
	if (!jtree_is_object(o))
		return NULL;
	jtree *r = jtree_object(a);
	for (const jtree_member *m = o->u.object.first; r && m; m = m->next)
		if (jtree_object_append(a, r, m->key, m->key_len, m->value) == NULL)
			return NULL;
	return r;
}

/* ------------------------------------------------------------- text */

typedef struct out {
	char *p;
	size_t len, cap;
	int failed;
	const jtree_known_text *known;
	size_t known_count;
} out;

static __attribute__((noinline)) int
grow(out *o, size_t n)
{
	size_t cap = o->cap ? o->cap : 4096;
	while (cap - o->len < n)
		cap *= 2;
	char *p = realloc(o->p, cap);
	if (p == NULL) {
		o->failed = 1;
		return 0;
	}
	o->p = p;
	o->cap = cap;
	return 1;
}

static inline int
reserve(out *o, size_t n)
{
	return o->cap - o->len >= n || grow(o, n);
}

/* Which bytes need an escape: '"', '\\' and the control characters, the
 * set jansson escapes without JSON_ESCAPE_SLASH or JSON_ENSURE_ASCII. */
static const unsigned char escape[256] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	['"'] = 1, ['\\'] = 1,
};

/* Non-zero when one of the eight bytes of x needs an escape: a byte
 * below 0x20, '"' or '\\'. Exact as a yes/no answer (the borrows of the
 * subtractions only spread from a byte that is itself a hit). */
static inline uint64_t
escape8(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
	uint64_t q = x ^ (ones * '"');
	uint64_t b = x ^ (ones * '\\');
	return (((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b)) & high;
}

static inline uint32_t
escape4(uint32_t x)
{
	const uint32_t ones = 0x01010101u, high = 0x80808080u;
	uint32_t q = x ^ (ones * '"');
	uint32_t b = x ^ (ones * '\\');
	return (((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b)) & high;
}

/* Writes "s" at d, which has room for 6 * n + 2 bytes; returns the end. */
static inline char *
string_at(char *d, const char *s, size_t n)
{
	*d++ = '"';
	size_t i = 0;
	/* Plain text (nearly every EDI value and key) is copied a word at a
	 * time; the last word overlaps the one before rather than going
	 * byte by byte, so a value of 4 to 8 bytes takes one or two. */
	if (n >= 8) {
		uint64_t w;
		for (;;) {
			if (n - i <= 8) {
				memcpy(&w, s + n - 8, 8);
				if (escape8(w))
					break;
				memcpy(d + (n - i) - 8, &w, 8);
				d += n - i;
				*d++ = '"';
				return d;
			}
			memcpy(&w, s + i, 8);
			if (escape8(w))
				break;
			memcpy(d, &w, 8);
			d += 8;
			i += 8;
		}
	} else if (n >= 4) {
		uint32_t u, v;
		memcpy(&u, s, 4);
		memcpy(&v, s + n - 4, 4);
		if (!(escape4(u) | escape4(v))) {
			memcpy(d, &u, 4);
			memcpy(d + n - 4, &v, 4);
			d[n] = '"';
			return d + n + 1;
		}
	}
	for (; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!escape[c]) {
			*d++ = (char)c;
			continue;
		}
		*d++ = '\\';
		switch (c) {
		case '"': *d++ = '"'; break;
		case '\\': *d++ = '\\'; break;
		case '\b': *d++ = 'b'; break;
		case '\f': *d++ = 'f'; break;
		case '\n': *d++ = 'n'; break;
		case '\r': *d++ = 'r'; break;
		case '\t': *d++ = 't'; break;
		default: {
			static const char hex[] = "0123456789ABCDEF";
			*d++ = 'u';
			*d++ = '0';
			*d++ = '0';
			*d++ = hex[c >> 4];
			*d++ = hex[c & 15];
		}
		}
	}
	*d++ = '"';
	return d;
}

/* Room for anything a value writes besides its strings' text: a
 * separator, brackets, a key's colon, the digits of an integer. */
#define SLACK 32

static void put_value(out *o, const jtree *j, int depth);

/* A scalar at d (room reserved by the caller: SLACK plus 6 * n for a
 * string); NULL for arrays and objects. */
static inline char *
scalar_at(char *d, const jtree *j)
{
	switch (j->kind) {
	case JTREE_NULL:
		memcpy(d, "null", 4);
		return d + 4;
	case JTREE_TRUE:
		memcpy(d, "true", 4);
		return d + 4;
	case JTREE_FALSE:
		memcpy(d, "false", 5);
		return d + 5;
	case JTREE_INTEGER: {
		/* Positions and counts: printf's machinery costs more than
		 * the digits. */
		char b[24];
		char *e = b + sizeof(b), *q = e;
		long long v = j->u.integer;
		unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
		do
			*--q = (char)('0' + u % 10);
		while ((u /= 10) != 0);
		if (v < 0)
			*--q = '-';
		memcpy(d, q, (size_t)(e - q));
		return d + (e - q);
	}
	case JTREE_STRING:
		return string_at(d, j->u.string.ptr, j->u.string.len);
	default:
		return NULL;
	}
}

/* What a scalar needs reserved beyond SLACK. */
static inline size_t
scalar_room(const jtree *j)
{
	return j->kind == JTREE_STRING || j->kind == JTREE_REAL ? 6 * j->u.string.len : 0;
}

static void
put_value(out *o, const jtree *j, int depth)
{
	if (depth > 2048) { /* the maps nest a handful of levels */
		o->failed = 1;
		return;
	}
	for (size_t k = 0; k < o->known_count; k++)
		if (o->known[k].node == j) {
			if (reserve(o, o->known[k].len)) {
				memcpy(o->p + o->len, o->known[k].text, o->known[k].len);
				o->len += o->known[k].len;
			}
			return;
		}
	if (j->kind == JTREE_ARRAY) {
		if (!reserve(o, SLACK))
			return;
		o->p[o->len++] = '[';
		for (size_t i = 0; i < j->u.array.size; i++) {
			const jtree *v = j->u.array.items[i];
			if (!reserve(o, SLACK + scalar_room(v)))
				return;
			if (i)
				o->p[o->len++] = ',';
			char *e = v->kind == JTREE_REAL ? NULL : scalar_at(o->p + o->len, v);
			if (e)
				o->len = (size_t)(e - o->p);
			else
				put_value(o, v, depth + 1);
		}
		if (reserve(o, 1))
			o->p[o->len++] = ']';
		return;
	}
	if (j->kind == JTREE_OBJECT) {
		if (!reserve(o, SLACK))
			return;
		o->p[o->len++] = '{';
		for (const jtree_member *m = j->u.object.first; m; m = m->next) {
			const jtree *v = m->value;
			/* The key and, for a scalar, its value in one go. */
			if (!reserve(o, 2 * SLACK + 6 * m->key_len + scalar_room(v)))
				return;
			char *d = o->p + o->len;
			if (m != j->u.object.first)
				*d++ = ',';
			d = string_at(d, m->key, m->key_len);
			*d++ = ':';
			char *e = v->kind == JTREE_REAL ? NULL : scalar_at(d, v);
			if (e) {
				o->len = (size_t)(e - o->p);
			} else {
				o->len = (size_t)(d - o->p);
				put_value(o, v, depth + 1);
			}
		}
		if (reserve(o, 1))
			o->p[o->len++] = '}';
		return;
	}
	if (j->kind == JTREE_REAL) {
		if (reserve(o, j->u.string.len)) {
			memcpy(o->p + o->len, j->u.string.ptr, j->u.string.len);
			o->len += j->u.string.len;
		}
		return;
	}
	if (reserve(o, SLACK + scalar_room(j)))
		o->len = (size_t)(scalar_at(o->p + o->len, j) - o->p);
}

int
jtree_write(const jtree *j, char **buf, size_t *len, size_t *cap)
{
	return jtree_write_known(j, NULL, 0, buf, len, cap);
}

int
jtree_write_known(const jtree *j, const jtree_known_text *known, size_t n,
    char **buf, size_t *len, size_t *cap)
{
	out o = {*buf, *len, *cap, 0, known, n};
	put_value(&o, j, 0);
	*buf = o.p;
	*len = o.len;
	*cap = o.cap;
	return o.failed ? -1 : 0;
}

json_t *
jtree_to_json(const jtree *j)
{
	json_t *r = NULL;
	switch (j->kind) {
	case JTREE_NULL: return json_null();
	case JTREE_TRUE: return json_true();
	case JTREE_FALSE: return json_false();
	case JTREE_INTEGER: return json_integer(j->u.integer);
	case JTREE_STRING: return json_stringn_nocheck(j->u.string.ptr, j->u.string.len);
	case JTREE_REAL: return json_real(strtod(j->u.string.ptr, NULL));
	case JTREE_ARRAY:
		r = json_array();
		for (size_t i = 0; r && i < j->u.array.size; i++) {
			json_t *v = jtree_to_json(j->u.array.items[i]);
			if (v == NULL || json_array_append_new(r, v) != 0) {
				json_decref(r);
				return NULL;
			}
		}
		return r;
	case JTREE_OBJECT:
		r = json_object();
		for (const jtree_member *m = j->u.object.first; r && m; m = m->next) {
			json_t *v = jtree_to_json(m->value);
			if (v == NULL || json_object_setn_new_nocheck(r, m->key, m->key_len, v) != 0) {
				json_decref(r);
				return NULL;
			}
		}
		return r;
	}
	return NULL;
}

static jtree *
from_json(jtree_arena *a, const json_t *j, int depth)
{
	if (j == NULL || depth > JTREE_MAX_DEPTH)
		return NULL;
	switch (json_typeof(j)) {
	case JSON_NULL: return jtree_null(a);
	case JSON_TRUE: return jtree_true(a);
	case JSON_FALSE: return jtree_false(a);
	case JSON_INTEGER: return jtree_integer(a, json_integer_value(j));
	case JSON_REAL: {
		char b[32];
		int n = snprintf(b, sizeof(b), "%.17g", json_real_value(j));
		return jtree_real(a, b, n > 0 ? (size_t)n : 0);
	}
	case JSON_STRING:
		return jtree_string(a, json_string_value(j), json_string_length(j));
	case JSON_ARRAY: {
		jtree *r = jtree_array(a);
		for (size_t i = 0; r && i < json_array_size(j); i++) {
			jtree *v = from_json(a, json_array_get(j, i), depth + 1);
			if (v == NULL)
				return NULL;
			size_t before = r->u.array.size;
			jtree_array_append(a, r, v);
			if (r->u.array.size == before)
				return NULL;
		}
		return r;
	}
	case JSON_OBJECT: {
		jtree *r = jtree_object(a);
		const char *key;
		json_t *val;
		if (r == NULL)
			return NULL;
		/* jansson's keys are already unique. */
		json_object_foreach((json_t *)j, key, val) {
			jtree *v = from_json(a, val, depth + 1);
			if (v == NULL || jtree_object_append(a, r, key,
			    json_object_iter_key_len(json_object_key_to_iter(key)), v) == NULL)
				return NULL;
		}
		return r;
	}
	}
	return NULL;
}

jtree *
jtree_from_json(jtree_arena *a, const json_t *j)
{
	return from_json(a, j, 0);
}
