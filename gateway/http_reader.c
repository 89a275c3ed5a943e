/*
 * http_reader - HTTP/1.1 request framing as a push parser. See
 * http_reader.h.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_reader.h"

static int
fail(struct http_reader *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct http_reader *r, int status, const char *fmt, ...)
{
	va_list ap;

	r->state = HTTP_READER_ERROR;
	r->status = status;
	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
	return -1;
}

void
http_reader_init(struct http_reader *r, uint64_t max_header,
    uint64_t max_body, const struct http_reader_callbacks *cb, void *ctx)
{
	memset(r, 0, sizeof(*r));
	r->max_header = max_header;
	r->max_body = max_body;
	r->cb = cb;
	r->ctx = ctx;
}

void
http_reader_reset(struct http_reader *r)
{
	char *head = r->head;
	size_t cap = r->head_cap;
	uint64_t mh = r->max_header, mb = r->max_body;
	const struct http_reader_callbacks *cb = r->cb;
	void *ctx = r->ctx;

	memset(r, 0, sizeof(*r));
	r->head = head;
	r->head_cap = cap;
	r->max_header = mh;
	r->max_body = mb;
	r->cb = cb;
	r->ctx = ctx;
}

void
http_reader_free(struct http_reader *r)
{
	free(r->head);
	r->head = NULL;
	r->head_cap = 0;
}

const char *
http_reader_field(const struct http_reader *r, const char *name)
{
	for (size_t i = 0; i < r->nfields; i++)
		if (strcasecmp(r->fields[i].name, name) == 0)
			return r->fields[i].value;
	return NULL;
}

static int
is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

/* Does the comma-separated list v hold token t? */
static int
list_has(const char *v, const char *t)
{
	size_t n = strlen(t);

	while (v && *v) {
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		if (strncasecmp(v, t, n) == 0 && (v[n] == '\0' || v[n] == ',' ||
		    v[n] == ' ' || v[n] == '\t'))
			return 1;
		v = strchr(v, ',');
	}
	return 0;
}

/* Parses the collected head (NUL-terminated, lines split in place). */
static int
parse_head(struct http_reader *r)
{
	char *p = r->head, *line, *next, *sp;
	const char *cl = NULL, *te, *conn, *expect;

	/* Request line. */
	next = strchr(p, '\n');
	*next = '\0';
	line = p;
	p = next + 1;
	if (next > line && next[-1] == '\r')
		next[-1] = '\0';
	sp = strchr(line, ' ');
	if (sp == NULL || sp == line)
		return fail(r, 400, "request line: expected METHOD SP target SP "
		    "HTTP/1.x");
	*sp = '\0';
	r->method = line;
	for (const char *m = line; *m; m++)
		if (!is_tchar((unsigned char)*m))
			return fail(r, 400, "request line: bad method");
	r->target = sp + 1;
	sp = strchr(sp + 1, ' ');
	if (sp == NULL || sp == r->target)
		return fail(r, 400, "request line: expected METHOD SP target SP "
		    "HTTP/1.x");
	*sp = '\0';
	if (strcmp(sp + 1, "HTTP/1.1") == 0)
		r->version = 11;
	else if (strcmp(sp + 1, "HTTP/1.0") == 0)
		r->version = 10;
	else
		return fail(r, 400, "request line: expected HTTP/1.0 or "
		    "HTTP/1.1");
	for (const char *t = r->target; *t; t++)
		if ((unsigned char)*t <= 0x20 || (unsigned char)*t == 0x7f)
			return fail(r, 400, "request target: control character");
	/* Fields, up to the empty line. */
	while (*p) {
		char *colon, *name;

		next = strchr(p, '\n');
		*next = '\0';
		if (next > p && next[-1] == '\r')
			next[-1] = '\0';
		line = p;
		p = next + 1;
		if (*line == '\0')
			break;
		if (*line == ' ' || *line == '\t')
			return fail(r, 400, "header: obsolete line folding");
		colon = strchr(line, ':');
		if (colon == NULL || colon == line)
			return fail(r, 400, "header: expected name: value");
		*colon = '\0';
		name = line;
		for (const char *c = name; *c; c++)
			if (!is_tchar((unsigned char)*c))
				return fail(r, 400, "header: bad field name");
		if (r->nfields == HTTP_READER_MAX_FIELDS)
			return fail(r, 431, "more than %d header fields",
			    HTTP_READER_MAX_FIELDS);
		r->fields[r->nfields].name = name;
		r->fields[r->nfields].value = trim(colon + 1);
		for (const char *c = r->fields[r->nfields].value; *c; c++)
			if ((unsigned char)*c < 0x20 && *c != '\t')
				return fail(r, 400, "header %s: control "
				    "character", name);
		if (strcasecmp(name, "Content-Length") == 0) {
			if (cl && strcmp(cl, r->fields[r->nfields].value) != 0)
				return fail(r, 400, "two different "
				    "Content-Length fields");
			cl = r->fields[r->nfields].value;
		}
		r->nfields++;
	}
	/* Framing (RFC 9112 section 6). */
	te = http_reader_field(r, "Transfer-Encoding");
	if (te != NULL) {
		if (cl != NULL)
			return fail(r, 400, "Content-Length together with "
			    "Transfer-Encoding");
		if (strcasecmp(te, "chunked") != 0)
			return fail(r, 501, "Transfer-Encoding \"%.60s\" is "
			    "not supported (only chunked)", te);
		if (r->version == 10)
			return fail(r, 400, "chunked transfer coding in an "
			    "HTTP/1.0 request");
		r->chunked = 1;
		r->state = HTTP_READER_CHUNK_SIZE;
	} else if (cl != NULL) {
		uint64_t n = 0;
		if (*cl == '\0')
			return fail(r, 400, "empty Content-Length");
		for (const char *c = cl; *c; c++) {
			if (*c < '0' || *c > '9')
				return fail(r, 400, "Content-Length \"%.40s\" is "
				    "not a number", cl);
			if (n > (UINT64_MAX - 9) / 10)
				return fail(r, 413, "Content-Length too large");
			n = n * 10 + (uint64_t)(*c - '0');
		}
		if (n > r->max_body)
			return fail(r, 413, "body of %llu bytes is over the "
			    "limit of %llu", (unsigned long long)n,
			    (unsigned long long)r->max_body);
		r->content_length = n;
		r->state = n ? HTTP_READER_BODY : HTTP_READER_DONE;
	} else
		r->state = HTTP_READER_DONE;
	conn = http_reader_field(r, "Connection");
	r->keep_alive = r->version == 11 ? !list_has(conn, "close") :
	    list_has(conn, "keep-alive");
	expect = http_reader_field(r, "Expect");
	r->expect_continue = expect && strcasecmp(expect, "100-continue") == 0
	    && r->version == 11;
	if (r->cb && r->cb->head && r->cb->head(r->ctx, r) != 0)
		return fail(r, 500, "request refused by the handler");
	return 0;
}

/* Collects head bytes; 1 when the head is complete. */
static size_t
feed_head(struct http_reader *r, const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (r->head_len + 2 > r->head_cap) {
			size_t cap = r->head_cap ? r->head_cap * 2 : 1024;
			char *t;
			if (cap > r->max_header + 2)
				cap = (size_t)r->max_header + 2;
			if (cap <= r->head_len + 1) {
				fail(r, 431, "request line and headers over %llu "
				    "bytes", (unsigned long long)r->max_header);
				return i;
			}
			t = realloc(r->head, cap);
			if (t == NULL) {
				fail(r, 503, "out of memory");
				return i;
			}
			r->head = t;
			r->head_cap = cap;
		}
		/* Empty lines before the request line are ignored (RFC 9112
		 * section 2.2). */
		if (r->head_len == 0 && (p[i] == '\r' || p[i] == '\n'))
			continue;
		if (p[i] == '\0') {
			fail(r, 400, "NUL byte in the head at byte %llu",
			    (unsigned long long)(r->offset + i));
			return i;
		}
		r->head[r->head_len++] = (char)p[i];
		if (p[i] == '\n') {
			size_t n = r->head_len;
			/* LF LF or LF CR LF ends the head. */
			if ((n >= 2 && r->head[n - 2] == '\n') ||
			    (n >= 3 && r->head[n - 2] == '\r' &&
			    r->head[n - 3] == '\n')) {
				r->head[r->head_len] = '\0';
				parse_head(r);
				return i + 1;
			}
		}
		if (r->head_len > r->max_header) {
			fail(r, 431, "request line and headers over %llu bytes",
			    (unsigned long long)r->max_header);
			return i + 1;
		}
	}
	return len;
}

static int
emit(struct http_reader *r, const unsigned char *p, size_t n)
{
	if (n == 0)
		return 0;
	r->body_seen += n;
	if (r->cb && r->cb->body && r->cb->body(r->ctx, p, n) != 0)
		return fail(r, 500, "body refused by the handler");
	return 0;
}

/* One line of the chunked framing (size line or trailer field); 1 when
 * the line is complete, -1 on error. */
static int
take_line(struct http_reader *r, unsigned char c)
{
	if (c == '\n') {
		if (r->line_len && r->line[r->line_len - 1] == '\r')
			r->line_len--;
		r->line[r->line_len] = '\0';
		return 1;
	}
	if (r->line_len + 1 >= sizeof(r->line))
		return r->state == HTTP_READER_TRAILER ? 0 :
		    fail(r, 400, "chunk size line too long");
	r->line[r->line_len++] = (char)c;
	return 0;
}

static int
chunk_size(struct http_reader *r)
{
	uint64_t n = 0;
	const char *c = r->line;
	int digits = 0;

	for (; *c; c++, digits++) {
		int v;
		if (*c >= '0' && *c <= '9')
			v = *c - '0';
		else if (*c >= 'a' && *c <= 'f')
			v = *c - 'a' + 10;
		else if (*c >= 'A' && *c <= 'F')
			v = *c - 'A' + 10;
		else
			break;
		if (n > (UINT64_MAX >> 4))
			return fail(r, 413, "chunk size too large");
		n = n << 4 | (uint64_t)v;
	}
	if (digits == 0 || (*c && *c != ';' && *c != ' ' && *c != '\t'))
		return fail(r, 400, "chunk size \"%.20s\" is not hexadecimal",
		    r->line);
	if (n > r->max_body - r->body_seen)
		return fail(r, 413, "chunked body over the limit of %llu bytes",
		    (unsigned long long)r->max_body);
	r->chunk_left = n;
	r->line_len = 0;
	r->state = n ? HTTP_READER_CHUNK_DATA : HTTP_READER_TRAILER;
	return 0;
}

size_t
http_reader_feed(struct http_reader *r, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i = 0;

	while (i < len && r->state != HTTP_READER_DONE &&
	    r->state != HTTP_READER_ERROR) {
		size_t n;
		int t;

		switch (r->state) {
		case HTTP_READER_HEAD:
			n = feed_head(r, p + i, len - i);
			r->offset += n;
			i += n;
			continue;
		case HTTP_READER_BODY:
			n = len - i;
			if (n > r->content_length - r->body_seen)
				n = (size_t)(r->content_length - r->body_seen);
			if (emit(r, p + i, n) != 0)
				return i;
			i += n;
			r->offset += n;
			if (r->body_seen == r->content_length)
				r->state = HTTP_READER_DONE;
			continue;
		case HTTP_READER_CHUNK_DATA:
			n = len - i;
			if (n > r->chunk_left)
				n = (size_t)r->chunk_left;
			if (emit(r, p + i, n) != 0)
				return i;
			i += n;
			r->offset += n;
			r->chunk_left -= n;
			if (r->chunk_left == 0)
				r->state = HTTP_READER_CHUNK_END;
			continue;
		case HTTP_READER_CHUNK_SIZE:
			t = take_line(r, p[i]);
			i++;
			r->offset++;
			if (t == 1)
				chunk_size(r);
			continue;
		case HTTP_READER_CHUNK_END:
			t = take_line(r, p[i]);
			i++;
			r->offset++;
			if (t == 1) {
				if (r->line_len != 0)
					fail(r, 400, "expected CRLF after chunk "
					    "data at byte %llu",
					    (unsigned long long)r->offset);
				else
					r->state = HTTP_READER_CHUNK_SIZE;
				r->line_len = 0;
			} else if (r->line_len > 1)
				fail(r, 400, "expected CRLF after chunk data at "
				    "byte %llu", (unsigned long long)r->offset);
			continue;
		case HTTP_READER_TRAILER:
			/* Trailer fields are read and dropped; an empty line
			 * ends the request. */
			t = take_line(r, p[i]);
			i++;
			r->offset++;
			if (++r->trailer_bytes > r->max_header) {
				fail(r, 431, "trailer over %llu bytes",
				    (unsigned long long)r->max_header);
				continue;
			}
			if (t == 1) {
				if (r->line_len == 0)
					r->state = HTTP_READER_DONE;
				r->line_len = 0;
			}
			continue;
		default:
			return i;
		}
	}
	return i;
}
