/*
 * mime - streaming MIME parsing for AS2. See mime.h for the contract.
 */
#include "mime.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_MAX_HEADER_BYTES (64u * 1024u)
#define DEFAULT_MAX_FIELDS 128u
#define DEFAULT_MAX_PARTS 64u
#define DEFAULT_MAX_SIGNATURE (1024u * 1024u)

static mime_status
fail(mime_error *err, mime_status code, uint64_t offset, unsigned line,
    const char *fmt, ...)
{
	va_list ap;

	if (err != NULL) {
		err->code = code;
		err->offset = offset;
		err->line = line;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof(err->message), fmt, ap);
		va_end(ap);
	}
	return code;
}

const char *
mime_status_name(mime_status status)
{
	switch (status) {
	case MIME_OK: return "ok";
	case MIME_MORE: return "more input needed";
	case MIME_ERR_NOMEM: return "out of memory";
	case MIME_ERR_LIMIT: return "limit exceeded";
	case MIME_ERR_SYNTAX: return "syntax error";
	case MIME_ERR_TRUNCATED: return "truncated input";
	case MIME_ERR_ENCODING: return "invalid transfer encoding";
	case MIME_ERR_UNSUPPORTED: return "unsupported";
	case MIME_ERR_STRUCTURE: return "unexpected structure";
	case MIME_ERR_STOPPED: return "stopped by the caller";
	}
	return "unknown";
}

static int
grow(char **buf, size_t *cap, size_t need)
{
	size_t ncap;
	char *nbuf;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 128;
	while (ncap < need)
		ncap *= 2;
	nbuf = realloc(*buf, ncap);
	if (nbuf == NULL)
		return -1;
	*buf = nbuf;
	*cap = ncap;
	return 0;
}

static int
is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/*
 * Header blocks.
 */

void
mime_headers_init(mime_headers *h, const mime_limits *limits)
{
	memset(h, 0, sizeof(*h));
	h->max_bytes = limits && limits->max_header_bytes ?
	    limits->max_header_bytes : DEFAULT_MAX_HEADER_BYTES;
	h->max_fields = limits && limits->max_fields ?
	    limits->max_fields : DEFAULT_MAX_FIELDS;
}

void
mime_headers_free(mime_headers *h)
{
	size_t i;

	for (i = 0; i < h->count; i++)
		free(h->fields[i].name);   /* value shares the allocation */
	free(h->fields);
	free(h->line);
	free(h->pending);
	memset(h, 0, sizeof(*h));
}

/* Moves the pending logical field into the field list. */
static mime_status
flush_field(mime_headers *h, mime_error *err)
{
	char *colon, *name, *value, *end, *copy;
	size_t nlen;

	if (h->pending_len == 0)
		return MIME_OK;
	if (h->count == h->max_fields)
		return fail(err, MIME_ERR_LIMIT, h->bytes, h->lineno,
		    "more than %zu header fields", h->max_fields);
	h->pending[h->pending_len] = '\0';
	colon = memchr(h->pending, ':', h->pending_len);
	/* checked when the field's first line arrived */
	nlen = (size_t)(colon - h->pending);
	value = colon + 1;
	while (is_wsp((unsigned char)*value))
		value++;
	end = h->pending + h->pending_len;
	while (end > value && is_wsp((unsigned char)end[-1]))
		end--;
	copy = malloc(nlen + 1 + (size_t)(end - value) + 1);
	if (copy == NULL)
		return fail(err, MIME_ERR_NOMEM, h->bytes, h->lineno,
		    "out of memory");
	if (h->count == h->cap) {
		size_t ncap = h->cap ? h->cap * 2 : 16;
		mime_field *nf = realloc(h->fields, ncap * sizeof(*nf));
		if (nf == NULL) {
			free(copy);
			return fail(err, MIME_ERR_NOMEM, h->bytes, h->lineno,
			    "out of memory");
		}
		h->fields = nf;
		h->cap = ncap;
	}
	name = copy;
	memcpy(name, h->pending, nlen);
	name[nlen] = '\0';
	memcpy(name + nlen + 1, value, (size_t)(end - value));
	name[nlen + 1 + (size_t)(end - value)] = '\0';
	h->fields[h->count].name = name;
	h->fields[h->count].value = name + nlen + 1;
	h->count++;
	h->pending_len = 0;
	return MIME_OK;
}

/* One complete physical line without its line end. */
static mime_status
header_line(mime_headers *h, const char *line, size_t len, mime_error *err)
{
	size_t i;
	mime_status st;

	if (len == 0) {
		h->done = 1;
		return flush_field(h, err);
	}
	if (is_wsp((unsigned char)line[0])) {
		/* RFC 5322 section 2.2.3: unfolding removes only the line
		 * break; the white space stays. */
		if (h->pending_len == 0)
			return fail(err, MIME_ERR_SYNTAX, h->bytes, h->lineno,
			    "continuation line without a header field "
			    "before it");
	} else {
		st = flush_field(h, err);
		if (st != MIME_OK)
			return st;
		for (i = 0; i < len && line[i] != ':'; i++) {
			unsigned char c = (unsigned char)line[i];
			if (c <= 32 || c >= 127)
				return fail(err, MIME_ERR_SYNTAX, h->bytes,
				    h->lineno, "header field name contains "
				    "byte 0x%02x; expected \"Name: value\"", c);
		}
		if (i == len || i == 0)
			return fail(err, MIME_ERR_SYNTAX, h->bytes, h->lineno,
			    "expected \"Name: value\", found no %s",
			    i == 0 ? "name" : "colon");
	}
	if (grow(&h->pending, &h->pending_cap, h->pending_len + len + 1))
		return fail(err, MIME_ERR_NOMEM, h->bytes, h->lineno,
		    "out of memory");
	memcpy(h->pending + h->pending_len, line, len);
	h->pending_len += len;
	return MIME_OK;
}

mime_status
mime_headers_feed(mime_headers *h, const void *data, size_t len,
    size_t *used, mime_error *err)
{
	const char *p = data, *nl;
	size_t pos = 0, take, linelen;
	mime_status st;

	*used = 0;
	if (h->done)
		return MIME_OK;
	while (pos < len) {
		nl = memchr(p + pos, '\n', len - pos);
		take = nl ? (size_t)(nl - (p + pos)) + 1 : len - pos;
		if (h->bytes + take > h->max_bytes)
			return fail(err, MIME_ERR_LIMIT, h->bytes, h->lineno + 1,
			    "header block larger than %zu bytes", h->max_bytes);
		if (grow(&h->line, &h->line_cap, h->line_len + take + 1))
			return fail(err, MIME_ERR_NOMEM, h->bytes, h->lineno,
			    "out of memory");
		memcpy(h->line + h->line_len, p + pos, take);
		h->line_len += take;
		h->bytes += take;
		pos += take;
		if (nl == NULL)
			break;
		h->lineno++;
		linelen = h->line_len - 1;
		if (linelen > 0 && h->line[linelen - 1] == '\r')
			linelen--;
		h->line_len = 0;
		st = header_line(h, h->line, linelen, err);
		if (st != MIME_OK)
			return st;
		if (h->done) {
			*used = pos;
			return MIME_OK;
		}
	}
	*used = pos;
	return MIME_MORE;
}

mime_status
mime_headers_finish(mime_headers *h, mime_error *err)
{
	if (h->done)
		return MIME_OK;
	if (h->line_len != 0)
		return fail(err, MIME_ERR_TRUNCATED, h->bytes, h->lineno + 1,
		    "input ended inside a header line");
	h->done = 1;
	return flush_field(h, err);
}

mime_status
mime_headers_parse(mime_headers *h, const void *buf, size_t len,
    size_t *body_offset, mime_error *err)
{
	mime_status st;
	size_t used;

	st = mime_headers_feed(h, buf, len, &used, err);
	if (st == MIME_MORE)
		st = mime_headers_finish(h, err);
	*body_offset = used;
	return st;
}

const char *
mime_headers_get(const mime_headers *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->count; i++)
		if (strcasecmp(h->fields[i].name, name) == 0)
			return h->fields[i].value;
	return NULL;
}

/*
 * Values with parameters.
 */

static int
is_tspecial(int c)
{
	return c != '\0' && strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static const char *
skip_cfws(const char *s)
{
	/* Comments are legal in structured fields (RFC 2045 section 5.1);
	 * nesting is bounded by the input length. */
	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
			s++;
		if (*s != '(')
			return s;
		{
			int depth = 0;
			do {
				if (*s == '\\' && s[1] != '\0')
					s++;
				else if (*s == '(')
					depth++;
				else if (*s == ')')
					depth--;
				s++;
			} while (*s != '\0' && depth > 0);
		}
	}
}

void
mime_content_type_free(mime_content_type *ct)
{
	size_t i;

	for (i = 0; i < ct->nparams; i++) {
		free(ct->params[i].name);
		free(ct->params[i].value);
	}
	free(ct->params);
	memset(ct, 0, sizeof(*ct));
}

static mime_status
add_param(mime_content_type *ct, const char *name, size_t nlen,
    const char *value, size_t vlen, mime_error *err)
{
	mime_param *np;
	size_t i;

	if (ct->nparams >= 64)
		return fail(err, MIME_ERR_LIMIT, 0, 0, "more than 64 parameters");
	np = realloc(ct->params, (ct->nparams + 1) * sizeof(*np));
	if (np == NULL)
		return fail(err, MIME_ERR_NOMEM, 0, 0, "out of memory");
	ct->params = np;
	np = &ct->params[ct->nparams];
	np->name = strndup(name, nlen);
	np->value = malloc(vlen + 1);
	if (np->name == NULL || np->value == NULL) {
		free(np->name);
		free(np->value);
		return fail(err, MIME_ERR_NOMEM, 0, 0, "out of memory");
	}
	for (i = 0; i < nlen; i++)
		np->name[i] = (char)tolower((unsigned char)np->name[i]);
	memcpy(np->value, value, vlen);
	np->value[vlen] = '\0';
	ct->nparams++;
	return MIME_OK;
}

mime_status
mime_content_type_parse(const char *value, mime_content_type *ct,
    mime_error *err)
{
	const char *s, *start;
	size_t n, i;
	mime_status st;
	char *buf = NULL;
	size_t cap = 0;

	memset(ct, 0, sizeof(*ct));
	if (value == NULL)
		return fail(err, MIME_ERR_SYNTAX, 0, 0, "no value");
	s = skip_cfws(value);
	start = s;
	while (*s != '\0' && *s != '/' && *s != ';' && !isspace((unsigned char)*s)
	    && *s != '(')
		s++;
	n = (size_t)(s - start);
	if (n == 0 || n >= sizeof(ct->type))
		return fail(err, MIME_ERR_SYNTAX, (uint64_t)(start - value), 0,
		    "expected a media type, found \"%.40s\"", start);
	for (i = 0; i < n; i++)
		ct->type[i] = (char)tolower((unsigned char)start[i]);
	s = skip_cfws(s);
	if (*s == '/') {
		s = skip_cfws(s + 1);
		start = s;
		while (*s != '\0' && *s != ';' && !isspace((unsigned char)*s)
		    && *s != '(')
			s++;
		n = (size_t)(s - start);
		if (n == 0 || n >= sizeof(ct->subtype))
			return fail(err, MIME_ERR_SYNTAX,
			    (uint64_t)(start - value), 0,
			    "expected a media subtype after \"%s/\"", ct->type);
		for (i = 0; i < n; i++)
			ct->subtype[i] = (char)tolower((unsigned char)start[i]);
	}
	for (;;) {
		const char *name;
		size_t nlen, vlen = 0;

		s = skip_cfws(s);
		if (*s == '\0')
			break;
		if (*s != ';') {
			st = fail(err, MIME_ERR_SYNTAX, (uint64_t)(s - value), 0,
			    "expected \";\" before parameter, found \"%.20s\"", s);
			goto out;
		}
		s = skip_cfws(s + 1);
		if (*s == '\0')
			break;   /* a trailing ";" is common and harmless */
		name = s;
		while (*s != '\0' && *s != '=' && !isspace((unsigned char)*s) &&
		    !is_tspecial((unsigned char)*s))
			s++;
		nlen = (size_t)(s - name);
		s = skip_cfws(s);
		if (nlen == 0 || *s != '=') {
			st = fail(err, MIME_ERR_SYNTAX, (uint64_t)(s - value), 0,
			    "expected parameter \"name=value\", found \"%.20s\"",
			    name);
			goto out;
		}
		s = skip_cfws(s + 1);
		if (grow(&buf, &cap, strlen(s) + 1)) {
			st = fail(err, MIME_ERR_NOMEM, 0, 0, "out of memory");
			goto out;
		}
		if (*s == '"') {
			s++;
			while (*s != '\0' && *s != '"') {
				if (*s == '\\' && s[1] != '\0')
					s++;
				buf[vlen++] = *s++;
			}
			if (*s != '"') {
				st = fail(err, MIME_ERR_SYNTAX,
				    (uint64_t)(s - value), 0,
				    "quoted string of parameter \"%.*s\" is "
				    "not closed", (int)nlen, name);
				goto out;
			}
			s++;
		} else {
			/* Tokens per RFC 2045, but '/' and other specials
			 * that peers leave unquoted (protocol=application/
			 * pkcs7-signature) are taken up to ';' or space. */
			while (*s != '\0' && *s != ';' &&
			    !isspace((unsigned char)*s) && *s != '"')
				buf[vlen++] = *s++;
			if (vlen == 0) {
				st = fail(err, MIME_ERR_SYNTAX,
				    (uint64_t)(s - value), 0,
				    "parameter \"%.*s\" has no value",
				    (int)nlen, name);
				goto out;
			}
		}
		st = add_param(ct, name, nlen, buf, vlen, err);
		if (st != MIME_OK)
			goto out;
	}
	st = MIME_OK;
out:
	free(buf);
	if (st != MIME_OK)
		mime_content_type_free(ct);
	return st;
}

const char *
mime_content_type_param(const mime_content_type *ct, const char *name)
{
	size_t i;

	for (i = 0; i < ct->nparams; i++)
		if (strcasecmp(ct->params[i].name, name) == 0)
			return ct->params[i].value;
	return NULL;
}

int
mime_content_type_is(const mime_content_type *ct, const char *type,
    const char *subtype)
{
	return strcasecmp(ct->type, type) == 0 &&
	    strcasecmp(ct->subtype, subtype) == 0;
}

/*
 * Transfer encodings.
 */

mime_cte
mime_cte_parse(const char *value)
{
	const char *s, *e;
	size_t n;

	if (value == NULL)
		return MIME_CTE_7BIT;
	s = value;
	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	n = (size_t)(e - s);
#define IS(lit) (n == sizeof(lit) - 1 && strncasecmp(s, lit, n) == 0)
	if (n == 0 || IS("7bit"))
		return MIME_CTE_7BIT;
	if (IS("8bit"))
		return MIME_CTE_8BIT;
	if (IS("binary"))
		return MIME_CTE_BINARY;
	if (IS("base64"))
		return MIME_CTE_BASE64;
	if (IS("quoted-printable"))
		return MIME_CTE_QUOTED_PRINTABLE;
#undef IS
	return MIME_CTE_UNKNOWN;
}

void
mime_decoder_init(mime_decoder *d, mime_cte cte, mime_sink sink, void *ctx)
{
	memset(d, 0, sizeof(*d));
	d->cte = cte;
	d->sink = sink;
	d->ctx = ctx;
}

static mime_status
dec_flush(mime_decoder *d, mime_error *err)
{
	if (d->nout == 0)
		return MIME_OK;
	if (d->sink(d->ctx, d->out, d->nout) != 0)
		return fail(err, MIME_ERR_STOPPED, d->offset, 0,
		    "stopped by the sink");
	d->nout = 0;
	return MIME_OK;
}

static mime_status
dec_put(mime_decoder *d, unsigned char c, mime_error *err)
{
	if (d->nout == sizeof(d->out)) {
		mime_status st = dec_flush(d, err);
		if (st != MIME_OK)
			return st;
	}
	d->out[d->nout++] = c;
	return MIME_OK;
}

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static mime_status
b64_feed(mime_decoder *d, const unsigned char *p, size_t len,
    mime_error *err)
{
	size_t i;
	mime_status st;

	for (i = 0; i < len; i++, d->offset++) {
		unsigned char c = p[i];
		int v;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			if (d->nquad < 2)
				return fail(err, MIME_ERR_ENCODING, d->offset, 0,
				    "base64 padding '=' after %u characters of "
				    "a group", d->nquad);
			d->padded = 1;
			continue;
		}
		v = b64_value(c);
		if (v < 0)
			return fail(err, MIME_ERR_ENCODING, d->offset, 0,
			    "byte 0x%02x is not base64", c);
		if (d->padded)
			return fail(err, MIME_ERR_ENCODING, d->offset, 0,
			    "base64 data after the '=' padding");
		d->quad = (d->quad << 6) | (unsigned)v;
		if (++d->nquad == 4) {
			if ((st = dec_put(d, (unsigned char)(d->quad >> 16), err)) ||
			    (st = dec_put(d, (unsigned char)(d->quad >> 8), err)) ||
			    (st = dec_put(d, (unsigned char)d->quad, err)))
				return st;
			d->nquad = 0;
			d->quad = 0;
		}
	}
	return MIME_OK;
}

static mime_status
b64_finish(mime_decoder *d, mime_error *err)
{
	mime_status st = MIME_OK;

	/* Missing padding is tolerated: the bits say how many bytes. */
	if (d->nquad == 1)
		return fail(err, MIME_ERR_ENCODING, d->offset, 0,
		    "base64 ends with a single character of a group");
	if (d->nquad == 2)
		st = dec_put(d, (unsigned char)(d->quad >> 4), err);
	else if (d->nquad == 3) {
		if ((st = dec_put(d, (unsigned char)(d->quad >> 10), err)) == 0)
			st = dec_put(d, (unsigned char)(d->quad >> 2), err);
	}
	d->nquad = 0;
	return st;
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Quoted-printable (RFC 2045 section 6.7). Held back in d->qp: an '=' and
 * what follows it until decidable, or trailing white space that must be
 * dropped if a line break follows. A run of white space longer than the
 * holding buffer is passed on (it cannot be "trailing" in a valid line).
 */
static mime_status
qp_feed(mime_decoder *d, const unsigned char *p, size_t len, mime_error *err)
{
	size_t i, j;
	mime_status st;

	for (i = 0; i < len; i++, d->offset++) {
		unsigned char c = p[i];

		if (d->nqp > 0 && d->qp[0] == '=') {
			d->qp[d->nqp++] = c;
			if (d->nqp == 2) {
				if (c == '\n') {           /* soft break, LF */
					d->nqp = 0;
				} else if (c != '\r' && hexval(c) < 0) {
					return fail(err, MIME_ERR_ENCODING,
					    d->offset, 0, "'=' followed by "
					    "byte 0x%02x in quoted-printable", c);
				}
				continue;
			}
			if (d->qp[1] == '\r') {
				if (c != '\n')
					return fail(err, MIME_ERR_ENCODING,
					    d->offset, 0, "'=' CR not followed "
					    "by LF in quoted-printable");
				d->nqp = 0;
				continue;
			}
			if (hexval(c) < 0)
				return fail(err, MIME_ERR_ENCODING, d->offset, 0,
				    "'=%c' followed by byte 0x%02x in "
				    "quoted-printable", d->qp[1], c);
			st = dec_put(d, (unsigned char)(hexval(d->qp[1]) * 16 +
			    hexval(c)), err);
			if (st != MIME_OK)
				return st;
			d->nqp = 0;
			continue;
		}
		if (c == ' ' || c == '\t') {
			if (d->nqp == sizeof(d->qp)) {
				for (j = 0; j < d->nqp; j++)
					if ((st = dec_put(d, d->qp[j], err)))
						return st;
				d->nqp = 0;
			}
			d->qp[d->nqp++] = c;
			continue;
		}
		if (c == '\r' || c == '\n') {
			d->nqp = 0;   /* trailing white space is dropped */
		} else {
			for (j = 0; j < d->nqp; j++)
				if ((st = dec_put(d, d->qp[j], err)))
					return st;
			d->nqp = 0;
			if (c == '=') {
				d->qp[d->nqp++] = c;
				continue;
			}
		}
		if ((st = dec_put(d, c, err)))
			return st;
	}
	return MIME_OK;
}

mime_status
mime_decoder_feed(mime_decoder *d, const void *data, size_t len,
    mime_error *err)
{
	mime_status st;

	switch (d->cte) {
	case MIME_CTE_BASE64:
		st = b64_feed(d, data, len, err);
		break;
	case MIME_CTE_QUOTED_PRINTABLE:
		st = qp_feed(d, data, len, err);
		break;
	case MIME_CTE_UNKNOWN:
		return fail(err, MIME_ERR_UNSUPPORTED, d->offset, 0,
		    "unknown Content-Transfer-Encoding");
	default:
		st = dec_flush(d, err);
		if (st == MIME_OK && len > 0 && d->sink(d->ctx, data, len) != 0)
			st = fail(err, MIME_ERR_STOPPED, d->offset, 0,
			    "stopped by the sink");
		d->offset += len;
		return st;
	}
	if (st != MIME_OK)
		return st;
	/* Keep the buffer for the next chunk only when it is worth it. */
	if (d->nout >= sizeof(d->out) / 2)
		return dec_flush(d, err);
	return MIME_OK;
}

mime_status
mime_decoder_finish(mime_decoder *d, mime_error *err)
{
	mime_status st = MIME_OK;

	if (d->cte == MIME_CTE_BASE64)
		st = b64_finish(d, err);
	else if (d->cte == MIME_CTE_QUOTED_PRINTABLE && d->nqp > 0) {
		if (d->qp[0] == '=') {
			/* "=" at the very end: a soft break without its
			 * line end, or a cut escape. */
			if (d->nqp > 1 && d->qp[1] != '\r')
				return fail(err, MIME_ERR_ENCODING, d->offset, 0,
				    "quoted-printable ends inside an escape");
		}
		/* trailing white space at the end of data is dropped too */
		d->nqp = 0;
	}
	if (st != MIME_OK)
		return st;
	return dec_flush(d, err);
}

/*
 * Multipart splitting.
 *
 * States. Bytes that might be the start of a delimiter are held back in
 * m->hold until the delimiter is complete (then dropped) or disproved
 * (then passed on as part data). Whatever was held is never more than
 * one line break, "--", the boundary, padding and another line break.
 */
enum {
	MP_BODY,      /* in preamble or part content */
	MP_CR,        /* a CR ended the last chunk */
	MP_MATCH,     /* after a line break, matching "--boundary" */
	MP_AFTER,     /* delimiter matched; "--", padding or line end next */
	MP_DASH,      /* one '-' of the close marker seen */
	MP_PAD,       /* transport padding */
	MP_PAD_CR,    /* CR after the delimiter */
	MP_EPILOGUE
};

mime_status
mime_multipart_init(mime_multipart *m, const char *boundary,
    unsigned max_parts, mime_part_fn fn, void *ctx, mime_error *err)
{
	size_t n, i;

	memset(m, 0, sizeof(*m));
	if (boundary == NULL)
		return fail(err, MIME_ERR_SYNTAX, 0, 0,
		    "multipart without a boundary parameter");
	n = strlen(boundary);
	if (n == 0 || n > MIME_BOUNDARY_MAX)
		return fail(err, MIME_ERR_SYNTAX, 0, 0,
		    "boundary of %zu characters; expected 1 to %d", n,
		    MIME_BOUNDARY_MAX);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)boundary[i];
		if (c < 32 || c >= 127)
			return fail(err, MIME_ERR_SYNTAX, 0, 0,
			    "boundary contains byte 0x%02x", c);
	}
	m->delim[0] = '-';
	m->delim[1] = '-';
	memcpy(m->delim + 2, boundary, n);
	m->dlen = n + 2;
	/* The body may start with the first delimiter itself: behave as if
	 * a line break preceded it. */
	m->state = MP_MATCH;
	m->part = -1;
	m->max_parts = max_parts ? max_parts : DEFAULT_MAX_PARTS;
	m->fn = fn;
	m->ctx = ctx;
	return MIME_OK;
}

static mime_status
mp_emit(mime_multipart *m, const char *data, size_t len, mime_error *err)
{
	if (len == 0 || m->part < 0)
		return MIME_OK;   /* the preamble is ignored */
	if (m->fn(m->ctx, MIME_PART_DATA, (unsigned)m->part, data, len) != 0)
		return fail(err, MIME_ERR_STOPPED, m->offset, 0,
		    "stopped by the caller");
	return MIME_OK;
}

/* A delimiter candidate turned out to be content. */
static mime_status
mp_disprove(mime_multipart *m, mime_error *err)
{
	mime_status st = mp_emit(m, m->hold, m->nhold, err);

	m->nhold = 0;
	m->state = MP_BODY;
	return st;
}

static mime_status
mp_delimiter(mime_multipart *m, int close, mime_error *err)
{
	if (m->part >= 0 && m->fn(m->ctx, MIME_PART_END, (unsigned)m->part,
	    NULL, 0) != 0)
		return fail(err, MIME_ERR_STOPPED, m->offset, 0,
		    "stopped by the caller");
	m->nhold = 0;
	if (close) {
		if (m->part < 0)
			return fail(err, MIME_ERR_STRUCTURE, m->offset, 0,
			    "close delimiter before any part");
		m->closed = 1;
		m->state = MP_EPILOGUE;
		return MIME_OK;
	}
	if ((unsigned)(m->part + 1) >= m->max_parts)
		return fail(err, MIME_ERR_LIMIT, m->offset, 0,
		    "more than %u parts", m->max_parts);
	m->part++;
	if (m->fn(m->ctx, MIME_PART_BEGIN, (unsigned)m->part, NULL, 0) != 0)
		return fail(err, MIME_ERR_STOPPED, m->offset, 0,
		    "stopped by the caller");
	m->state = MP_BODY;
	return MIME_OK;
}

mime_status
mime_multipart_feed(mime_multipart *m, const void *data, size_t len,
    mime_error *err)
{
	const char *p = data;
	size_t i = 0;
	mime_status st;

	while (i < len) {
		char c = p[i];

		switch (m->state) {
		case MP_EPILOGUE:
			m->offset += len - i;
			return MIME_OK;
		case MP_BODY: {
			const char *nl = memchr(p + i, '\n', len - i);
			size_t j, end;

			if (nl == NULL) {
				end = len;
				if (p[len - 1] == '\r')
					end--;
				if ((st = mp_emit(m, p + i, end - i, err)))
					return st;
				m->offset += len - i;
				if (end < len) {
					m->hold[0] = '\r';
					m->nhold = 1;
					m->state = MP_CR;
				}
				return MIME_OK;
			}
			j = (size_t)(nl - p);
			end = (j > i && p[j - 1] == '\r') ? j - 1 : j;
			if ((st = mp_emit(m, p + i, end - i, err)))
				return st;
			memcpy(m->hold, p + end, j + 1 - end);
			m->nhold = j + 1 - end;
			m->offset += j + 1 - i;
			i = j + 1;
			m->k = 0;
			m->state = MP_MATCH;
			continue;
		}
		case MP_CR:
			if (c == '\n') {
				m->hold[m->nhold++] = c;
				m->offset++;
				i++;
				m->k = 0;
				m->state = MP_MATCH;
			} else if ((st = mp_disprove(m, err))) {
				return st;
			}
			continue;
		case MP_MATCH:
			if (c == m->delim[m->k]) {
				m->hold[m->nhold++] = c;
				m->offset++;
				i++;
				if (++m->k == m->dlen)
					m->state = MP_AFTER;
			} else if ((st = mp_disprove(m, err))) {
				return st;
			}
			continue;
		case MP_AFTER:
		case MP_PAD:
			if (c == '-' && m->state == MP_AFTER) {
				m->state = MP_DASH;
			} else if ((c == ' ' || c == '\t') &&
			    m->nhold < sizeof(m->hold) - 2) {
				m->state = MP_PAD;
			} else if (c == '\r') {
				m->state = MP_PAD_CR;
			} else if (c == '\n') {
				m->offset++;
				i++;
				if ((st = mp_delimiter(m, 0, err)))
					return st;
				continue;
			} else {
				/* "--boundaryX": not a delimiter */
				if ((st = mp_disprove(m, err)))
					return st;
				continue;
			}
			m->hold[m->nhold++] = c;
			m->offset++;
			i++;
			continue;
		case MP_DASH:
			if (c != '-') {
				if ((st = mp_disprove(m, err)))
					return st;
				continue;
			}
			m->offset++;
			i++;
			if ((st = mp_delimiter(m, 1, err)))
				return st;
			continue;
		case MP_PAD_CR:
			if (c != '\n') {
				if ((st = mp_disprove(m, err)))
					return st;
				continue;
			}
			m->offset++;
			i++;
			if ((st = mp_delimiter(m, 0, err)))
				return st;
			continue;
		}
	}
	return MIME_OK;
}

mime_status
mime_multipart_finish(mime_multipart *m, mime_error *err)
{
	if (m->closed)
		return MIME_OK;
	if (m->part < 0)
		return fail(err, MIME_ERR_TRUNCATED, m->offset, 0,
		    "no delimiter \"%.*s\" found", (int)m->dlen, m->delim);
	return fail(err, MIME_ERR_TRUNCATED, m->offset, 0,
	    "input ended before the close delimiter \"%.*s--\"",
	    (int)m->dlen, m->delim);
}

unsigned
mime_multipart_parts(const mime_multipart *m)
{
	return (unsigned)(m->part + 1);
}

/*
 * multipart/signed.
 */

/* Records the first error raised inside a callback; -1 stops the parse. */
static int
signed_stop(mime_signed *s, const mime_error *e)
{
	if (s->cb_status == MIME_OK) {
		s->cb_status = e->code;
		s->cb_err = *e;
	}
	return -1;
}

static int
sig_store(void *ctx, const void *data, size_t len)
{
	mime_signed *s = ctx;
	size_t need = s->signature_len + len;
	mime_error e;

	if (need > s->max_signature) {
		fail(&e, MIME_ERR_LIMIT, s->mp.offset, 0,
		    "signature larger than %zu bytes", s->max_signature);
		return signed_stop(s, &e);
	}
	if (grow((char **)&s->signature, &s->signature_cap, need)) {
		fail(&e, MIME_ERR_NOMEM, s->mp.offset, 0, "out of memory");
		return signed_stop(s, &e);
	}
	memcpy(s->signature + s->signature_len, data, len);
	s->signature_len = need;
	return 0;
}

/* The signature part's headers are complete: set up its decoder. */
static int
signed_body_begins(mime_signed *s)
{
	const char *cte = mime_headers_get(&s->sig_headers,
	    "Content-Transfer-Encoding");

	mime_error e;

	s->sig_in_body = 1;
	mime_decoder_init(&s->sig_decoder, mime_cte_parse(cte), sig_store, s);
	if (s->sig_decoder.cte == MIME_CTE_UNKNOWN) {
		fail(&e, MIME_ERR_UNSUPPORTED, s->mp.offset, 0, "signature "
		    "part has Content-Transfer-Encoding \"%.40s\"", cte);
		return signed_stop(s, &e);
	}
	return 0;
}

static int
signed_part(void *ctx, mime_part_event ev, unsigned index, const char *data,
    size_t len)
{
	mime_signed *s = ctx;
	mime_status st;
	mime_error e;
	size_t used;

	if (index == 0) {
		/* the signed entity, byte-exact */
		if (ev != MIME_PART_DATA)
			return 0;
		s->content_len += len;
		if (s->content_sink(s->content_ctx, data, len) != 0) {
			fail(&e, MIME_ERR_STOPPED, s->mp.offset, 0,
			    "stopped by the content sink");
			return signed_stop(s, &e);
		}
		return 0;
	}
	if (index > 1) {
		fail(&e, MIME_ERR_STRUCTURE, s->mp.offset, 0,
		    "multipart/signed with more than two parts");
		return signed_stop(s, &e);
	}
	if (ev == MIME_PART_BEGIN)
		return 0;
	if (ev == MIME_PART_END) {
		if (!s->sig_in_body) {
			/* headers only, no empty line: an empty body */
			st = mime_headers_finish(&s->sig_headers, &e);
			if (st != MIME_OK)
				return signed_stop(s, &e);
			if (signed_body_begins(s))
				return -1;
		}
		st = mime_decoder_finish(&s->sig_decoder, &e);
		return st == MIME_OK ? 0 : signed_stop(s, &e);
	}
	if (!s->sig_in_body) {
		st = mime_headers_feed(&s->sig_headers, data, len, &used,
		    &e);
		if (st == MIME_MORE)
			return 0;
		if (st != MIME_OK)
			return signed_stop(s, &e);
		if (signed_body_begins(s))
			return -1;
		data += used;
		len -= used;
	}
	st = mime_decoder_feed(&s->sig_decoder, data, len, &e);
	return st == MIME_OK ? 0 : signed_stop(s, &e);
}

mime_status
mime_signed_init(mime_signed *s, const mime_content_type *ct,
    mime_sink content_sink, void *ctx, size_t max_signature, mime_error *err)
{
	const char *v;

	memset(s, 0, sizeof(*s));
	mime_headers_init(&s->sig_headers, NULL);
	if (!mime_content_type_is(ct, "multipart", "signed"))
		return fail(err, MIME_ERR_UNSUPPORTED, 0, 0,
		    "expected multipart/signed, found %s/%s", ct->type,
		    ct->subtype);
	v = mime_content_type_param(ct, "protocol");
	if (v != NULL)
		snprintf(s->protocol, sizeof(s->protocol), "%s", v);
	v = mime_content_type_param(ct, "micalg");
	if (v != NULL)
		snprintf(s->micalg, sizeof(s->micalg), "%s", v);
	s->content_sink = content_sink;
	s->content_ctx = ctx;
	s->max_signature = max_signature ? max_signature : DEFAULT_MAX_SIGNATURE;
	return mime_multipart_init(&s->mp, mime_content_type_param(ct,
	    "boundary"), 3, signed_part, s, err);
}

static mime_status
signed_status(mime_signed *s, mime_status st, mime_error *err)
{
	if (st == MIME_ERR_STOPPED && s->cb_status != MIME_OK) {
		if (err != NULL) {
			*err = s->cb_err;
			err->code = s->cb_status;
		}
		return s->cb_status;
	}
	return st;
}

mime_status
mime_signed_feed(mime_signed *s, const void *data, size_t len,
    mime_error *err)
{
	mime_status st = mime_multipart_feed(&s->mp, data, len, err);

	return signed_status(s, st, err);
}

mime_status
mime_signed_finish(mime_signed *s, mime_error *err)
{
	mime_status st = mime_multipart_finish(&s->mp, err);
	mime_content_type ct;
	const char *v;

	if (st != MIME_OK)
		return signed_status(s, st, err);
	if (mime_multipart_parts(&s->mp) != 2)
		return fail(err, MIME_ERR_STRUCTURE, s->mp.offset, 0,
		    "multipart/signed with %u parts; expected 2",
		    mime_multipart_parts(&s->mp));
	v = mime_headers_get(&s->sig_headers, "Content-Type");
	if (v == NULL || mime_content_type_parse(v, &ct, NULL) != MIME_OK)
		return fail(err, MIME_ERR_STRUCTURE, s->mp.offset, 0,
		    "signature part without a valid Content-Type");
	if (!mime_content_type_is(&ct, "application", "pkcs7-signature") &&
	    !mime_content_type_is(&ct, "application", "x-pkcs7-signature")) {
		st = fail(err, MIME_ERR_STRUCTURE, s->mp.offset, 0,
		    "signature part is %s/%s; expected application/"
		    "pkcs7-signature", ct.type, ct.subtype);
		mime_content_type_free(&ct);
		return st;
	}
	mime_content_type_free(&ct);
	if (s->signature_len == 0)
		return fail(err, MIME_ERR_STRUCTURE, s->mp.offset, 0,
		    "signature part is empty");
	return MIME_OK;
}

void
mime_signed_free(mime_signed *s)
{
	mime_headers_free(&s->sig_headers);
	free(s->signature);
	s->signature = NULL;
	s->signature_len = s->signature_cap = 0;
}

/*
 * AS2 header values.
 */

static const struct {
	mime_micalg alg;
	const char *dash, *plain;
} micalg_names[] = {
	{ MIME_MICALG_MD5, "md5", "md5" },
	{ MIME_MICALG_SHA1, "sha-1", "sha1" },
	{ MIME_MICALG_SHA224, "sha-224", "sha224" },
	{ MIME_MICALG_SHA256, "sha-256", "sha256" },
	{ MIME_MICALG_SHA384, "sha-384", "sha384" },
	{ MIME_MICALG_SHA512, "sha-512", "sha512" },
};

mime_micalg
mime_micalg_parse(const char *name, size_t len, mime_micalg_style *style)
{
	size_t i;

	for (i = 0; i < sizeof(micalg_names) / sizeof(micalg_names[0]); i++) {
		if (strlen(micalg_names[i].dash) == len &&
		    strncasecmp(name, micalg_names[i].dash, len) == 0) {
			if (style != NULL)
				*style = MIME_MICALG_STYLE_DASH;
			return micalg_names[i].alg;
		}
		if (strlen(micalg_names[i].plain) == len &&
		    strncasecmp(name, micalg_names[i].plain, len) == 0) {
			if (style != NULL)
				*style = MIME_MICALG_STYLE_PLAIN;
			return micalg_names[i].alg;
		}
	}
	return MIME_MICALG_NONE;
}

const char *
mime_micalg_name(mime_micalg alg, mime_micalg_style style)
{
	size_t i;

	for (i = 0; i < sizeof(micalg_names) / sizeof(micalg_names[0]); i++)
		if (micalg_names[i].alg == alg)
			return style == MIME_MICALG_STYLE_PLAIN ?
			    micalg_names[i].plain : micalg_names[i].dash;
	return NULL;
}

/* Next comma-separated item of [s, e), trimmed. */
static int
next_item(const char **s, const char *e, const char **is, size_t *ilen)
{
	const char *p = *s, *q;

	if (p >= e)
		return 0;
	q = memchr(p, ',', (size_t)(e - p));
	if (q == NULL)
		q = e;
	*s = q < e ? q + 1 : e;
	while (p < q && isspace((unsigned char)*p))
		p++;
	while (q > p && isspace((unsigned char)q[-1]))
		q--;
	*is = p;
	*ilen = (size_t)(q - p);
	return 1;
}

static int
item_is(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && strncasecmp(s, lit, len) == 0;
}

mime_status
mime_dno_parse(const char *value, mime_dno *dno, mime_error *err)
{
	const char *s = value, *e, *eq, *item, *pe;
	size_t ilen, nlen;

	memset(dno, 0, sizeof(*dno));
	if (value == NULL)
		return fail(err, MIME_ERR_SYNTAX, 0, 0, "no value");
	while (*s != '\0') {
		const char *name;
		mime_importance imp = MIME_IMPORTANCE_ABSENT;
		int which;

		e = strchr(s, ';');
		if (e == NULL)
			e = s + strlen(s);
		while (s < e && isspace((unsigned char)*s))
			s++;
		if (s == e) {
			s = *e ? e + 1 : e;
			continue;
		}
		eq = memchr(s, '=', (size_t)(e - s));
		if (eq == NULL)
			return fail(err, MIME_ERR_SYNTAX, (uint64_t)(s - value),
			    0, "expected \"attribute=importance, value\", "
			    "found \"%.*s\"", (int)(e - s), s);
		name = s;
		pe = eq;
		while (pe > name && isspace((unsigned char)pe[-1]))
			pe--;
		nlen = (size_t)(pe - name);
		which = item_is(name, nlen, "signed-receipt-protocol") ? 1 :
		    item_is(name, nlen, "signed-receipt-micalg") ? 2 : 0;
		s = eq + 1;
		/* RFC 3798 section 2.2: importance first; tolerate its
		 * absence since some products leave it out. */
		if (next_item(&s, e, &item, &ilen)) {
			if (item_is(item, ilen, "required"))
				imp = MIME_IMPORTANCE_REQUIRED;
			else if (item_is(item, ilen, "optional"))
				imp = MIME_IMPORTANCE_OPTIONAL;
			else
				s = item;   /* reread it as a value */
		}
		if (imp == MIME_IMPORTANCE_ABSENT)
			imp = MIME_IMPORTANCE_OPTIONAL;
		if (which == 1)
			dno->protocol_importance = imp;
		else if (which == 2)
			dno->micalg_importance = imp;
		while (next_item(&s, e, &item, &ilen)) {
			if (ilen == 0)
				continue;
			if (which == 1 && item_is(item, ilen,
			    "pkcs7-signature"))
				dno->protocol_pkcs7 = 1;
			if (which == 2) {
				size_t n = dno->micalg_count;
				if (n == MIME_DNO_MAX_MICALGS)
					return fail(err, MIME_ERR_LIMIT,
					    (uint64_t)(item - value), 0,
					    "more than %d micalg values",
					    MIME_DNO_MAX_MICALGS);
				dno->micalgs[n] = mime_micalg_parse(item, ilen,
				    &dno->styles[n]);
				dno->micalg_count++;
			}
		}
		s = *e ? e + 1 : e;
	}
	return MIME_OK;
}

int
mime_dno_wants_signed(const mime_dno *dno)
{
	return dno->protocol_importance != MIME_IMPORTANCE_ABSENT &&
	    dno->protocol_pkcs7;
}

mime_micalg
mime_dno_choose_micalg(const mime_dno *dno, unsigned supported,
    mime_micalg_style *style)
{
	size_t i;

	for (i = 0; i < dno->micalg_count; i++) {
		if (dno->micalgs[i] != MIME_MICALG_NONE &&
		    (supported & MIME_MICALG_BIT(dno->micalgs[i]))) {
			if (style != NULL)
				*style = dno->styles[i];
			return dno->micalgs[i];
		}
	}
	return MIME_MICALG_NONE;
}

mime_status
mime_receipt_delivery_parse(const char *value, char *url, size_t cap,
    mime_error *err)
{
	const char *s, *e, *p;
	size_t n;

	if (value == NULL)
		return fail(err, MIME_ERR_SYNTAX, 0, 0, "no value");
	s = value;
	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	n = (size_t)(e - s);
	if (!(n > 7 && strncasecmp(s, "http://", 7) == 0) &&
	    !(n > 8 && strncasecmp(s, "https://", 8) == 0))
		return fail(err, MIME_ERR_UNSUPPORTED, (uint64_t)(s - value), 0,
		    "Receipt-Delivery-Option \"%.60s\" is not an http or "
		    "https URL", s);
	for (p = s; p < e; p++)
		if ((unsigned char)*p <= 32 || (unsigned char)*p >= 127)
			return fail(err, MIME_ERR_SYNTAX, (uint64_t)(p - value),
			    0, "URL contains byte 0x%02x",
			    (unsigned char)*p);
	if (n + 1 > cap)
		return fail(err, MIME_ERR_LIMIT, 0, 0,
		    "URL of %zu bytes is too long", n);
	memcpy(url, s, n);
	url[n] = '\0';
	return MIME_OK;
}

mime_status
mime_as2_name_parse(const char *value, char out[MIME_AS2_NAME_MAX + 1],
    mime_error *err)
{
	const char *s, *e;
	size_t n = 0;

	if (value == NULL)
		return fail(err, MIME_ERR_SYNTAX, 0, 0, "no AS2 name");
	s = value;
	while (is_wsp((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && is_wsp((unsigned char)e[-1]))
		e--;
	if (s < e && *s == '"') {
		for (s++; s < e && *s != '"'; s++) {
			unsigned char c = (unsigned char)*s;
			if (c == '\\') {
				if (s + 1 >= e || (s[1] != '"' && s[1] != '\\'))
					return fail(err, MIME_ERR_SYNTAX,
					    (uint64_t)(s - value), 0,
					    "backslash in a quoted AS2 name "
					    "must escape '\"' or '\\'");
				c = (unsigned char)*++s;
			} else if (c < 32 || c >= 127) {
				return fail(err, MIME_ERR_SYNTAX,
				    (uint64_t)(s - value), 0,
				    "AS2 name contains byte 0x%02x", c);
			}
			if (n == MIME_AS2_NAME_MAX)
				return fail(err, MIME_ERR_LIMIT,
				    (uint64_t)(s - value), 0,
				    "AS2 name longer than %d characters",
				    MIME_AS2_NAME_MAX);
			out[n++] = (char)c;
		}
		if (s >= e || s + 1 != e)
			return fail(err, MIME_ERR_SYNTAX, (uint64_t)(s - value),
			    0, "quoted AS2 name not closed by a final '\"'");
	} else {
		for (; s < e; s++) {
			unsigned char c = (unsigned char)*s;
			if (c < 32 || c >= 127 || c == '"' || c == '\\')
				return fail(err, MIME_ERR_SYNTAX,
				    (uint64_t)(s - value), 0,
				    "unquoted AS2 name contains %s 0x%02x",
				    c == '"' || c == '\\' ? "character" :
				    "byte", c);
			if (n == MIME_AS2_NAME_MAX)
				return fail(err, MIME_ERR_LIMIT,
				    (uint64_t)(s - value), 0,
				    "AS2 name longer than %d characters",
				    MIME_AS2_NAME_MAX);
			out[n++] = (char)c;
		}
	}
	if (n == 0)
		return fail(err, MIME_ERR_SYNTAX, 0, 0, "empty AS2 name");
	out[n] = '\0';
	return MIME_OK;
}

mime_status
mime_as2_name_format(const char *name, char *out, size_t cap,
    mime_error *err)
{
	size_t n = strlen(name), i, o = 0;
	int quote = 0;

	if (n == 0 || n > MIME_AS2_NAME_MAX)
		return fail(err, MIME_ERR_LIMIT, 0, 0, "AS2 name of %zu "
		    "characters; expected 1 to %d", n, MIME_AS2_NAME_MAX);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 32 || c >= 127)
			return fail(err, MIME_ERR_SYNTAX, i, 0,
			    "AS2 name contains byte 0x%02x", c);
		if (c == ' ' || c == '"' || c == '\\')
			quote = 1;
	}
	if (cap < 2 * n + 3)
		return fail(err, MIME_ERR_LIMIT, 0, 0, "output buffer too small");
	if (quote)
		out[o++] = '"';
	for (i = 0; i < n; i++) {
		if (quote && (name[i] == '"' || name[i] == '\\'))
			out[o++] = '\\';
		out[o++] = name[i];
	}
	if (quote)
		out[o++] = '"';
	out[o] = '\0';
	return MIME_OK;
}
