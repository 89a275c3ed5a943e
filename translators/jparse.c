/*
 * jparse - strict JSON text into a jtree. See jparse.h.
 */
#include "jparse.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Objects up to this many members look for a repeated key by walking
 * them; larger ones get a hash, so a hostile object stays linear. */
#define LINEAR_KEYS 16

/* Byte-parallel tests on 64-bit words (see parse_string). */
#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

typedef struct parser {
	const unsigned char *s, *c, *e;
	jtree_arena *a;
	jparse_error *err;
	char *scratch;      /* decoded strings with escapes */
	size_t scratch_cap;
	int failed;
	int truncated;      /* e is max_bytes, not the end of the text */
	size_t max_bytes;
} parser;

static void
fail(parser *p, const unsigned char *at, const char *msg)
{
	if (p->failed)
		return;
	p->failed = 1;
	if (p->err == NULL)
		return;
	if (p->truncated && at >= p->e)
		snprintf(p->err->text, sizeof(p->err->text),
		    "document larger than %zu bytes", p->max_bytes);
	else
		snprintf(p->err->text, sizeof(p->err->text), "%s", msg);
	p->err->offset = (size_t)(at - p->s);
	unsigned long line = 1;
	const unsigned char *bol = p->s;
	for (const unsigned char *q = p->s; q < at; q++)
		if (*q == '\n') {
			line++;
			bol = q + 1;
		}
	p->err->line = line;
	p->err->column = (unsigned long)(at - bol) + 1;
}

static inline void
skip_ws(parser *p)
{
	/* Compact text (what edigate writes) has none: one test, done. */
	if (p->c < p->e && *p->c > ' ')
		return;
	while (p->c < p->e && (*p->c == ' ' || *p->c == '\n' || *p->c == '\r'
	    || *p->c == '\t'))
		p->c++;
}

/* Length of the UTF-8 sequence at q (lead byte >= 0x80), 0 when it is
 * not a shortest-form encoding of a scalar value. */
static size_t
utf8_len(const unsigned char *q, const unsigned char *e)
{
	unsigned b = q[0];
	size_t n;
	unsigned lo = 0x80, hi = 0xBF;
	if (b >= 0xC2 && b <= 0xDF)
		n = 2;
	else if (b >= 0xE0 && b <= 0xEF) {
		n = 3;
		if (b == 0xE0)
			lo = 0xA0;
		else if (b == 0xED)
			hi = 0x9F; /* no surrogates */
	} else if (b >= 0xF0 && b <= 0xF4) {
		n = 4;
		if (b == 0xF0)
			lo = 0x90;
		else if (b == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if ((size_t)(e - q) < n)
		return 0;
	if (q[1] < lo || q[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((q[i] & 0xC0) != 0x80)
			return 0;
	return n;
}

static int
hex4(const unsigned char *q, const unsigned char *e, unsigned *out)
{
	if (e - q < 4)
		return -1;
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		unsigned c = q[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}

static char *
put_utf8(char *d, unsigned cp)
{
	if (cp < 0x80)
		*d++ = (char)cp;
	else if (cp < 0x800) {
		*d++ = (char)(0xC0 | cp >> 6);
		*d++ = (char)(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		*d++ = (char)(0xE0 | cp >> 12);
		*d++ = (char)(0x80 | (cp >> 6 & 0x3F));
		*d++ = (char)(0x80 | (cp & 0x3F));
	} else {
		*d++ = (char)(0xF0 | cp >> 18);
		*d++ = (char)(0x80 | (cp >> 12 & 0x3F));
		*d++ = (char)(0x80 | (cp >> 6 & 0x3F));
		*d++ = (char)(0x80 | (cp & 0x3F));
	}
	return d;
}

/* The string at p->c (its opening quote) as UTF-8 bytes: a slice of the
 * text when it has no escapes, else the scratch buffer (valid until the
 * next string). */
static int
parse_string(parser *p, const char **out, size_t *outlen)
{
	const unsigned char *e = p->e, *c = ++p->c, *start = c;
	for (;;) {
		/* Eight bytes at a time up to the first quote, backslash,
		 * control character or non-ASCII byte. The lowest flagged byte
		 * of each test is always a true one (a false flag needs a
		 * borrow from a true one below it), so the first special byte
		 * is found exactly; the byte loop below then decides. */
		while (e - c >= 8) {
			uint64_t v, q, bs, hit;
			memcpy(&v, c, 8);
			q = v ^ (ONES * '"');
			bs = v ^ (ONES * '\\');
			hit = (((q - ONES) & ~q) | ((bs - ONES) & ~bs)
			    | ((v - ONES * 0x20) & ~v) | v) & HIGHS;
			if (hit) {
				c += (size_t)__builtin_ctzll(hit) / 8;
				break;
			}
			c += 8;
		}
		if (c >= e)
			break;
		unsigned b = *c;
		if (b == '"') {
			*out = (const char *)start;
			*outlen = (size_t)(c - start);
			p->c = c + 1;
			return 0;
		}
		if (b == '\\')
			break;
		if (b < 0x20) {
			fail(p, c, "control character in a string");
			return -1;
		}
		if (b >= 0x80) {
			size_t n = utf8_len(c, e);
			if (n == 0) {
				fail(p, c, "invalid UTF-8 in a string");
				return -1;
			}
			c += n;
		} else
			c++;
	}
	if (c >= e) {
		fail(p, c, "unterminated string");
		return -1;
	}
	/* Escapes only shorten: the raw string bounds the result. This scan
	 * stops where the decoder below stops, or later when the decoder
	 * refuses an escape first (an escape is a backslash and one byte,
	 * or \u and four hex digits, which hold no quote), so the scratch
	 * follows the string, not the text left after it (a file of
	 * documents parsed one by one). */
	const unsigned char *q = c;
	while (q < e && *q != '"')
		q += *q == '\\' && e - q >= 2 ? 2 : 1;
	size_t need = (size_t)(q - start) + 1;
	if (need > p->scratch_cap) {
		char *n = realloc(p->scratch, need);
		if (n == NULL) {
			fail(p, c, "out of memory");
			return -1;
		}
		p->scratch = n;
		p->scratch_cap = need;
	}
	char *d = p->scratch;
	memcpy(d, start, (size_t)(c - start));
	d += c - start;
	while (c < e) {
		unsigned b = *c;
		if (b == '"') {
			*out = p->scratch;
			*outlen = (size_t)(d - p->scratch);
			p->c = c + 1;
			return 0;
		}
		if (b == '\\') {
			if (e - c < 2) {
				fail(p, c, "unterminated string");
				return -1;
			}
			unsigned cp;
			switch (c[1]) {
			case '"': *d++ = '"'; c += 2; continue;
			case '\\': *d++ = '\\'; c += 2; continue;
			case '/': *d++ = '/'; c += 2; continue;
			case 'b': *d++ = '\b'; c += 2; continue;
			case 'f': *d++ = '\f'; c += 2; continue;
			case 'n': *d++ = '\n'; c += 2; continue;
			case 'r': *d++ = '\r'; c += 2; continue;
			case 't': *d++ = '\t'; c += 2; continue;
			case 'u':
				if (hex4(c + 2, e, &cp) != 0) {
					fail(p, c, "invalid \\u escape");
					return -1;
				}
				if (cp >= 0xDC00 && cp <= 0xDFFF) {
					fail(p, c, "lone low surrogate");
					return -1;
				}
				if (cp >= 0xD800 && cp <= 0xDBFF) {
					unsigned lo;
					if (e - c < 12 || c[6] != '\\' || c[7] != 'u'
					    || hex4(c + 8, e, &lo) != 0
					    || lo < 0xDC00 || lo > 0xDFFF) {
						fail(p, c, "high surrogate without its low half");
						return -1;
					}
					cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
					c += 6;
				} else if (cp == 0) {
					/* C strings all the way to the EDI writer. */
					fail(p, c, "\\u0000 is not allowed");
					return -1;
				}
				d = put_utf8(d, cp);
				c += 6;
				continue;
			default:
				fail(p, c, "invalid escape");
				return -1;
			}
		}
		if (b < 0x20) {
			fail(p, c, "control character in a string");
			return -1;
		}
		if (b >= 0x80) {
			size_t n = utf8_len(c, e);
			if (n == 0) {
				fail(p, c, "invalid UTF-8 in a string");
				return -1;
			}
			memcpy(d, c, n);
			d += n;
			c += n;
		} else {
			*d++ = (char)b;
			c++;
		}
	}
	fail(p, c, "unterminated string");
	return -1;
}

static inline int
is_digit(const unsigned char *c, const unsigned char *e)
{
	return c < e && *c >= '0' && *c <= '9';
}

static jtree *
parse_number(parser *p)
{
	const unsigned char *start = p->c, *c = p->c, *e = p->e;
	int neg = 0, real = 0;
	if (*c == '-') {
		neg = 1;
		c++;
	}
	if (!is_digit(c, e)) {
		fail(p, c, "invalid number");
		return NULL;
	}
	if (*c == '0') {
		c++;
		if (is_digit(c, e)) {
			fail(p, c, "leading zero in a number");
			return NULL;
		}
	} else
		while (is_digit(c, e))
			c++;
	if (c < e && *c == '.') {
		real = 1;
		c++;
		if (!is_digit(c, e)) {
			fail(p, c, "digit expected after '.'");
			return NULL;
		}
		while (is_digit(c, e))
			c++;
	}
	if (c < e && (*c == 'e' || *c == 'E')) {
		real = 1;
		c++;
		if (c < e && (*c == '+' || *c == '-'))
			c++;
		if (!is_digit(c, e)) {
			fail(p, c, "digit expected in the exponent");
			return NULL;
		}
		while (is_digit(c, e))
			c++;
	}
	p->c = c;
	size_t len = (size_t)(c - start);
	jtree *j;
	if (!real) {
		unsigned long long v = 0;
		unsigned long long lim = neg ? (unsigned long long)INT64_MAX + 1
		    : (unsigned long long)INT64_MAX;
		for (const unsigned char *q = start + neg; q < c; q++) {
			unsigned d = (unsigned)(*q - '0');
			if (v > (lim - d) / 10) {
				fail(p, start, "integer out of range");
				return NULL;
			}
			v = v * 10 + d;
		}
		long long sv = neg ? (long long)(0ULL - v) : (long long)v;
		j = jtree_integer(p->a, sv);
	} else {
		/* Only to refuse what a double cannot hold, as jansson does;
		 * the value itself stays text. */
		char small[64], *buf = small;
		if (len >= sizeof(small)) {
			buf = malloc(len + 1);
			if (buf == NULL) {
				fail(p, start, "out of memory");
				return NULL;
			}
		}
		memcpy(buf, start, len);
		buf[len] = '\0';
		errno = 0;
		double d = strtod(buf, NULL);
		int over = errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL);
		if (buf != small)
			free(buf);
		if (over) {
			fail(p, start, "real number out of range");
			return NULL;
		}
		j = jtree_real(p->a, (const char *)start, len);
	}
	if (j == NULL)
		fail(p, start, "out of memory");
	return j;
}

static jtree *parse_value(parser *p, unsigned depth);

typedef struct keyhash {
	jtree_member **slot;
	size_t cap;
} keyhash;

static size_t
hash_key(const char *k, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)k[i]) * 1099511628211ULL;
	return (size_t)(h ^ h >> 29);
}

static jtree_member **
hash_find(keyhash *h, const char *k, size_t n)
{
	size_t i = hash_key(k, n) & (h->cap - 1);
	while (h->slot[i]) {
		jtree_member *m = h->slot[i];
		if (m->key_len == n && memcmp(m->key, k, n) == 0)
			break;
		i = (i + 1) & (h->cap - 1);
	}
	return &h->slot[i];
}

static int
hash_rebuild(keyhash *h, const jtree *o)
{
	size_t cap = 64;
	while (cap < o->u.object.size * 4)
		cap *= 2;
	jtree_member **s = calloc(cap, sizeof(*s));
	if (s == NULL)
		return -1;
	free(h->slot);
	h->slot = s;
	h->cap = cap;
	for (jtree_member *m = o->u.object.first; m; m = m->next)
		*hash_find(h, m->key, m->key_len) = m;
	return 0;
}

static jtree *
parse_object(parser *p, unsigned depth)
{
	jtree *o = jtree_object(p->a);
	keyhash h = {NULL, 0};
	if (o == NULL) {
		fail(p, p->c, "out of memory");
		return NULL;
	}
	p->c++;
	skip_ws(p);
	if (p->c < p->e && *p->c == '}') {
		p->c++;
		return o;
	}
	for (;;) {
		if (p->c >= p->e || *p->c != '"') {
			fail(p, p->c, "string expected as an object key");
			goto bad;
		}
		const char *k;
		size_t klen;
		if (parse_string(p, &k, &klen) != 0)
			goto bad;
		/* The key may sit in the scratch buffer, which the value's
		 * strings reuse: look it up, or make its member, first. */
		jtree_member *m = NULL, **slot = NULL;
		if (h.slot)
			m = *(slot = hash_find(&h, k, klen));
		else
			for (jtree_member *q = o->u.object.first; q; q = q->next)
				if (q->key_len == klen && (klen == 0 || q->key[0] == k[0])
				    && memcmp(q->key, k, klen) == 0) {
					m = q;
					break;
				}
		if (m == NULL) {
			m = jtree_object_append(p->a, o, k, klen, NULL);
			if (m == NULL) {
				fail(p, p->c, "out of memory");
				goto bad;
			}
			if (slot) {
				*slot = m;
				if (o->u.object.size * 2 > h.cap && hash_rebuild(&h, o) != 0) {
					fail(p, p->c, "out of memory");
					goto bad;
				}
			} else if (o->u.object.size > LINEAR_KEYS && hash_rebuild(&h, o) != 0) {
				fail(p, p->c, "out of memory");
				goto bad;
			}
		}
		skip_ws(p);
		if (p->c >= p->e || *p->c != ':') {
			fail(p, p->c, "':' expected");
			goto bad;
		}
		p->c++;
		jtree *v = parse_value(p, depth + 1);
		if (v == NULL)
			goto bad;
		m->value = v;
		skip_ws(p);
		if (p->c < p->e && *p->c == ',') {
			p->c++;
			skip_ws(p);
			continue;
		}
		if (p->c < p->e && *p->c == '}') {
			p->c++;
			break;
		}
		fail(p, p->c, "',' or '}' expected");
		goto bad;
	}
	free(h.slot);
	return o;
bad:
	free(h.slot);
	return NULL;
}

static jtree *
parse_array(parser *p, unsigned depth)
{
	jtree *arr = jtree_array(p->a);
	if (arr == NULL) {
		fail(p, p->c, "out of memory");
		return NULL;
	}
	p->c++;
	skip_ws(p);
	if (p->c < p->e && *p->c == ']') {
		p->c++;
		return arr;
	}
	for (;;) {
		jtree *v = parse_value(p, depth + 1);
		if (v == NULL)
			return NULL;
		size_t before = arr->u.array.size;
		jtree_array_append(p->a, arr, v);
		if (arr->u.array.size == before) {
			fail(p, p->c, "out of memory");
			return NULL;
		}
		skip_ws(p);
		if (p->c < p->e && *p->c == ',') {
			p->c++;
			continue;
		}
		if (p->c < p->e && *p->c == ']') {
			p->c++;
			return arr;
		}
		fail(p, p->c, "',' or ']' expected");
		return NULL;
	}
}

static jtree *
literal(parser *p, const char *word, size_t n, jtree *(*make)(jtree_arena *))
{
	if ((size_t)(p->e - p->c) < n || memcmp(p->c, word, n) != 0) {
		fail(p, p->c, "invalid token");
		return NULL;
	}
	jtree *j = make(p->a);
	if (j == NULL)
		fail(p, p->c, "out of memory");
	p->c += n;
	return j;
}

static jtree *
parse_value(parser *p, unsigned depth)
{
	skip_ws(p);
	if (p->c >= p->e) {
		fail(p, p->c, "unexpected end of the text");
		return NULL;
	}
	/* Every value counts, as in jansson: 2048 arrays nest an empty
	 * array but not a number. */
	if (depth > JPARSE_MAX_DEPTH) {
		fail(p, p->c, "nesting deeper than 2048");
		return NULL;
	}
	switch (*p->c) {
	case '{':
		return parse_object(p, depth);
	case '[':
		return parse_array(p, depth);
	case '"': {
		const char *s;
		size_t n;
		const unsigned char *at = p->c;
		if (parse_string(p, &s, &n) != 0)
			return NULL;
		jtree *j = jtree_string(p->a, s, n);
		if (j == NULL)
			fail(p, at, "out of memory");
		return j;
	}
	case 't':
		return literal(p, "true", 4, jtree_true);
	case 'f':
		return literal(p, "false", 5, jtree_false);
	case 'n':
		return literal(p, "null", 4, jtree_null);
	case '-': case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return parse_number(p);
	default:
		fail(p, p->c, "invalid token");
		return NULL;
	}
}

jtree *
jparse(jtree_arena *a, const char *text, size_t len, size_t max_bytes,
    unsigned flags, size_t *consumed, jparse_error *err)
{
	parser p = {0};
	p.s = p.c = (const unsigned char *)text;
	p.e = p.s + len;
	p.a = a;
	p.err = err;
	p.max_bytes = max_bytes;
	if (err)
		memset(err, 0, sizeof(*err));
	if (max_bytes && len > max_bytes) {
		p.e = p.s + max_bytes;
		p.truncated = 1;
		if (!(flags & JPARSE_STOP_AFTER_VALUE)) {
			fail(&p, p.e, "");
			return NULL;
		}
	}
	skip_ws(&p);
	jtree *root = NULL;
	if (!(flags & JPARSE_ANY) && (p.c >= p.e || (*p.c != '{' && *p.c != '[')))
		fail(&p, p.c, "'[' or '{' expected");
	else
		root = parse_value(&p, 1);
	if (root && !(flags & JPARSE_STOP_AFTER_VALUE)) {
		skip_ws(&p);
		if (p.c != p.e) {
			fail(&p, p.c, "end of the text expected");
			root = NULL;
		}
	}
	free(p.scratch);
	if (p.failed)
		return NULL;
	if (consumed)
		*consumed = (size_t)(p.c - p.s);
	return root;
}
