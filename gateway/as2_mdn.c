/*
 * as2_mdn - AS2 receipts. See as2_mdn.h for the contract.
 */
#include "as2_mdn.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#define MAX_MDN_PARTS 8

static as2_status
fail(as2_error *err, as2_status code, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL) {
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof(err->message), fmt, ap);
		va_end(ap);
	}
	return code;
}

const char *
as2_disposition_name(as2_disposition d)
{
	switch (d) {
	case AS2_DISPOSITION_PROCESSED: return "processed";
	case AS2_DISPOSITION_ERROR: return "processed/error";
	case AS2_DISPOSITION_WARNING: return "processed/warning";
	case AS2_DISPOSITION_FAILED: return "failed/failure";
	case AS2_DISPOSITION_OTHER: return "other";
	}
	return "other";
}

/* A header value must stay on its line: no CR, LF or other controls. */
static int
field_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 32 && *s != '\t')
			return 0;
	return 1;
}

struct out {
	char *p;
	size_t len, cap;
	int failed;
};

static void
out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->failed)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || o->len + (size_t)n + 1 > o->cap) {
		size_t ncap = o->cap ? o->cap : 1024;
		char *np;
		while (n >= 0 && ncap < o->len + (size_t)n + 1)
			ncap *= 2;
		if (n < 0 || (np = realloc(o->p, ncap)) == NULL) {
			o->failed = 1;
			return;
		}
		o->p = np;
		o->cap = ncap;
	}
	va_start(ap, fmt);
	vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	o->len += (size_t)n;
}

static const char *
default_text(const as2_mdn *mdn)
{
	switch (mdn->disposition) {
	case AS2_DISPOSITION_PROCESSED:
		return "The AS2 message was received and stored. This is no "
		    "guarantee that its content was processed.";
	case AS2_DISPOSITION_ERROR:
		return "The AS2 message could not be processed.";
	default:
		return "The AS2 message was received.";
	}
}

as2_status
as2_mdn_build(const as2_mdn *mdn, const as2_mdn_signing *signing,
    char **content_type, unsigned char **body, size_t *body_len,
    as2_error *err)
{
	char boundary[48], orig[2 * MIME_AS2_NAME_MAX + 3];
	char final[2 * MIME_AS2_NAME_MAX + 3];
	unsigned char rnd[12];
	struct out o = { 0 }, ct = { 0 };
	const char *text, *line, *nl;
	size_t i, report_at;
	as2_status st;
	int n;

	*content_type = NULL;
	*body = NULL;
	*body_len = 0;
	if (!field_safe(mdn->reporting_ua) ||
	    !field_safe(mdn->original_message_id) ||
	    !field_safe(mdn->modifier) || !field_safe(mdn->mic))
		return fail(err, AS2_ERR_ARGUMENT, "MDN field contains a line "
		    "break or control character");
	if (mime_as2_name_format(mdn->original_recipient, orig, sizeof(orig),
	    NULL) != MIME_OK || mime_as2_name_format(mdn->final_recipient[0] ?
	    mdn->final_recipient : mdn->original_recipient, final,
	    sizeof(final), NULL) != MIME_OK)
		return fail(err, AS2_ERR_ARGUMENT, "invalid AS2 name for the "
		    "MDN recipient");
	if (mdn->disposition != AS2_DISPOSITION_PROCESSED &&
	    mdn->disposition != AS2_DISPOSITION_ERROR &&
	    mdn->disposition != AS2_DISPOSITION_WARNING &&
	    mdn->disposition != AS2_DISPOSITION_FAILED)
		return fail(err, AS2_ERR_ARGUMENT, "cannot send disposition %d",
		    (int)mdn->disposition);
	if (mdn->disposition != AS2_DISPOSITION_PROCESSED &&
	    mdn->modifier[0] == '\0')
		return fail(err, AS2_ERR_ARGUMENT, "an error disposition needs "
		    "a modifier");
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return fail(err, AS2_ERR_NOMEM, "no random bytes");
	n = snprintf(boundary, sizeof(boundary), "----=_edigate_mdn_");
	for (i = 0; i < sizeof(rnd); i++)
		n += snprintf(boundary + n, sizeof(boundary) - (size_t)n, "%02x",
		    rnd[i]);
	out_printf(&ct, "multipart/report; report-type=disposition-"
	    "notification; boundary=\"%s\"", boundary);
	/* A signed MDN signs the whole report entity, its headers too. */
	if (signing != NULL)
		out_printf(&o, "Content-Type: %s\r\n\r\n", ct.p);
	report_at = o.len;
	out_printf(&o, "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n\r\n", boundary);
	text = mdn->text[0] ? mdn->text : default_text(mdn);
	/* the text is ours or the caller's: normalise its line ends */
	for (line = text; *line; line = nl + (*nl != '\0')) {
		nl = line + strcspn(line, "\r\n");
		out_printf(&o, "%.*s\r\n", (int)(nl - line), line);
		if (*nl == '\r' && nl[1] == '\n')
			nl++;
	}
	out_printf(&o, "\r\n--%s\r\nContent-Type: message/disposition-"
	    "notification\r\nContent-Transfer-Encoding: 7bit\r\n\r\n",
	    boundary);
	out_printf(&o, "Reporting-UA: %s\r\n", mdn->reporting_ua[0] ?
	    mdn->reporting_ua : "edigate");
	out_printf(&o, "Original-Recipient: rfc822; %s\r\n", orig);
	out_printf(&o, "Final-Recipient: rfc822; %s\r\n", final);
	if (mdn->original_message_id[0])
		out_printf(&o, "Original-Message-ID: %s\r\n",
		    mdn->original_message_id);
	switch (mdn->disposition) {
	case AS2_DISPOSITION_PROCESSED:
		out_printf(&o, "Disposition: automatic-action/MDN-sent-"
		    "automatically; processed\r\n");
		break;
	case AS2_DISPOSITION_ERROR:
	case AS2_DISPOSITION_WARNING:
		out_printf(&o, "Disposition: automatic-action/MDN-sent-"
		    "automatically; processed/%s: %s\r\n",
		    mdn->disposition == AS2_DISPOSITION_ERROR ? "error" :
		    "warning", mdn->modifier);
		break;
	default:
		out_printf(&o, "Disposition: automatic-action/MDN-sent-"
		    "automatically; failed/failure: %s\r\n", mdn->modifier);
		break;
	}
	if (mdn->mic[0])
		out_printf(&o, "Received-Content-MIC: %s\r\n", mdn->mic);
	out_printf(&o, "\r\n--%s--\r\n", boundary);
	if (o.failed || ct.failed) {
		free(o.p);
		free(ct.p);
		return fail(err, AS2_ERR_NOMEM, "out of memory");
	}
	if (signing == NULL) {
		memmove(o.p, o.p + report_at, o.len - report_at);
		*body = (unsigned char *)o.p;
		*body_len = o.len - report_at;
		*content_type = ct.p;
		return AS2_OK;
	}
	free(ct.p);
	{
		BIO *in = BIO_new_mem_buf(o.p, (int)o.len);
		BIO *mem = BIO_new(BIO_s_mem());
		char *data;
		long len;

		if (in == NULL || mem == NULL) {
			st = fail(err, AS2_ERR_NOMEM, "out of memory");
		} else {
			st = as2_write_signed(in, mem, signing->cert,
			    signing->key, signing->chain, signing->alg,
			    signing->style, content_type, NULL, err);
		}
		if (st == AS2_OK) {
			len = BIO_get_mem_data(mem, &data);
			*body = malloc((size_t)len);
			if (*body == NULL) {
				st = fail(err, AS2_ERR_NOMEM, "out of memory");
				free(*content_type);
				*content_type = NULL;
			} else {
				memcpy(*body, data, (size_t)len);
				*body_len = (size_t)len;
			}
		}
		BIO_free(in);
		BIO_free(mem);
	}
	free(o.p);
	return st;
}

/*
 * Parsing.
 */

struct mem {
	unsigned char *p;
	size_t len;
};

static int
mem_sink(void *ctx, const void *data, size_t len)
{
	struct mem *m = ctx;
	unsigned char *np = realloc(m->p, m->len + len + 1);

	if (np == NULL)
		return -1;
	m->p = np;
	memcpy(m->p + m->len, data, len);
	m->len += len;
	m->p[m->len] = 0;
	return 0;
}

struct parts {
	struct mem part[MAX_MDN_PARTS];
	unsigned n;
	int failed;
};

static int
part_sink(void *ctx, mime_part_event ev, unsigned index, const char *data,
    size_t len)
{
	struct parts *ps = ctx;

	if (index >= MAX_MDN_PARTS)
		return -1;
	if (ev == MIME_PART_BEGIN)
		ps->n = index + 1;
	if (ev == MIME_PART_DATA && mem_sink(&ps->part[index], data, len)) {
		ps->failed = 1;
		return -1;
	}
	return 0;
}

static void
copy_field(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

/* "rfc822; name" -> name */
static void
recipient(char *dst, const char *value)
{
	const char *semi;

	dst[0] = '\0';
	if (value == NULL)
		return;
	semi = strchr(value, ';');
	if (mime_as2_name_parse(semi ? semi + 1 : value, dst, NULL) != MIME_OK)
		dst[0] = '\0';
}

static void
parse_disposition(as2_mdn *mdn, const char *value)
{
	const char *s, *slash, *colon;
	size_t n;

	copy_field(mdn->disposition_field, sizeof(mdn->disposition_field),
	    value);
	mdn->disposition = AS2_DISPOSITION_OTHER;
	mdn->modifier[0] = '\0';
	if (value == NULL)
		return;
	/* action-mode/sending-mode; type[/modifier: text] (RFC 3798 3.2.6) */
	s = strchr(value, ';');
	s = s ? s + 1 : value;
	while (isspace((unsigned char)*s))
		s++;
	n = strcspn(s, "/ \t;");
	slash = s[n] == '/' ? s + n : NULL;
	if (n == 9 && strncasecmp(s, "processed", 9) == 0)
		mdn->disposition = AS2_DISPOSITION_PROCESSED;
	else if (n == 6 && strncasecmp(s, "failed", 6) == 0)
		mdn->disposition = AS2_DISPOSITION_FAILED;
	if (slash == NULL)
		return;
	if (mdn->disposition == AS2_DISPOSITION_PROCESSED) {
		if (strncasecmp(slash + 1, "error", 5) == 0)
			mdn->disposition = AS2_DISPOSITION_ERROR;
		else if (strncasecmp(slash + 1, "warning", 7) == 0)
			mdn->disposition = AS2_DISPOSITION_WARNING;
	}
	colon = strchr(slash, ':');
	if (colon != NULL) {
		colon++;
		while (isspace((unsigned char)*colon))
			colon++;
		copy_field(mdn->modifier, sizeof(mdn->modifier), colon);
		n = strlen(mdn->modifier);
		while (n > 0 && isspace((unsigned char)mdn->modifier[n - 1]))
			mdn->modifier[--n] = '\0';
	}
}

/* Parses one part of the report: headers, decoded body. */
static as2_status
parse_part(const struct mem *raw, as2_mdn *mdn, int *seen_notification,
    as2_error *err)
{
	mime_headers h, fields;
	mime_content_type ct;
	mime_decoder dec;
	struct mem body = { 0 };
	size_t at, fat;
	as2_status st = AS2_OK;

	mime_headers_init(&h, NULL);
	if (mime_headers_parse(&h, raw->p, raw->len, &at, NULL) != MIME_OK) {
		mime_headers_free(&h);
		return fail(err, AS2_ERR_FORMAT, "MDN part with bad headers");
	}
	if (mime_content_type_parse(mime_headers_get(&h, "Content-Type") ?
	    mime_headers_get(&h, "Content-Type") : "text/plain", &ct, NULL)) {
		mime_headers_free(&h);
		return fail(err, AS2_ERR_FORMAT, "MDN part with bad "
		    "Content-Type");
	}
	mime_decoder_init(&dec, mime_cte_parse(mime_headers_get(&h,
	    "Content-Transfer-Encoding")), mem_sink, &body);
	if (mime_decoder_feed(&dec, raw->p + at, raw->len - at, NULL) ||
	    mime_decoder_finish(&dec, NULL)) {
		st = fail(err, AS2_ERR_FORMAT, "MDN part with bad transfer "
		    "encoding");
		goto out;
	}
	if (mime_content_type_is(&ct, "message", "disposition-notification")) {
		*seen_notification = 1;
		mime_headers_init(&fields, NULL);
		if (mime_headers_parse(&fields, body.p ? (char *)body.p : "",
		    body.len, &fat, NULL) != MIME_OK) {
			mime_headers_free(&fields);
			st = fail(err, AS2_ERR_FORMAT, "malformed "
			    "disposition-notification fields");
			goto out;
		}
		copy_field(mdn->reporting_ua, sizeof(mdn->reporting_ua),
		    mime_headers_get(&fields, "Reporting-UA"));
		recipient(mdn->original_recipient,
		    mime_headers_get(&fields, "Original-Recipient"));
		recipient(mdn->final_recipient,
		    mime_headers_get(&fields, "Final-Recipient"));
		copy_field(mdn->original_message_id,
		    sizeof(mdn->original_message_id),
		    mime_headers_get(&fields, "Original-Message-ID"));
		copy_field(mdn->mic, sizeof(mdn->mic),
		    mime_headers_get(&fields, "Received-Content-MIC"));
		parse_disposition(mdn, mime_headers_get(&fields,
		    "Disposition"));
		if (mime_headers_get(&fields, "Disposition") == NULL)
			st = fail(err, AS2_ERR_FORMAT, "MDN without a "
			    "Disposition field");
		mime_headers_free(&fields);
	} else if (mime_content_type_is(&ct, "text", "plain") &&
	    mdn->text[0] == '\0') {
		snprintf(mdn->text, sizeof(mdn->text), "%.*s",
		    (int)body.len, body.p ? (char *)body.p : "");
	}
out:
	free(body.p);
	mime_content_type_free(&ct);
	mime_headers_free(&h);
	return st;
}

static as2_status
parse_report(const char *content_type, const unsigned char *body,
    size_t len, as2_mdn *mdn, as2_error *err)
{
	mime_content_type ct;
	mime_multipart mp;
	struct parts ps;
	as2_status st = AS2_OK;
	unsigned i;
	int seen = 0;

	memset(&ps, 0, sizeof(ps));
	if (content_type == NULL ||
	    mime_content_type_parse(content_type, &ct, NULL) != MIME_OK)
		return fail(err, AS2_ERR_FORMAT, "MDN without a valid "
		    "Content-Type");
	if (!mime_content_type_is(&ct, "multipart", "report")) {
		st = fail(err, AS2_ERR_FORMAT, "MDN is %s/%s, expected "
		    "multipart/report", ct.type, ct.subtype);
		mime_content_type_free(&ct);
		return st;
	}
	if (mime_multipart_init(&mp, mime_content_type_param(&ct, "boundary"),
	    MAX_MDN_PARTS, part_sink, &ps, NULL) != MIME_OK ||
	    mime_multipart_feed(&mp, body, len, NULL) != MIME_OK ||
	    mime_multipart_finish(&mp, NULL) != MIME_OK) {
		st = fail(err, ps.failed ? AS2_ERR_NOMEM : AS2_ERR_FORMAT,
		    "malformed multipart/report");
		goto out;
	}
	for (i = 0; i < ps.n && st == AS2_OK; i++)
		st = parse_part(&ps.part[i], mdn, &seen, err);
	if (st == AS2_OK && !seen)
		st = fail(err, AS2_ERR_FORMAT, "multipart/report without a "
		    "message/disposition-notification part");
out:
	for (i = 0; i < MAX_MDN_PARTS; i++)
		free(ps.part[i].p);
	mime_content_type_free(&ct);
	return st;
}

as2_status
as2_mdn_parse(const char *content_type, const void *body, size_t len,
    STACK_OF(X509) *partner_certs, time_t now, int require_signed,
    as2_mdn *mdn, as2_error *err)
{
	mime_content_type ct;
	mime_signed ms;
	mime_headers h;
	struct mem inner = { 0 };
	as2_verify_result res;
	as2_status st;
	size_t at;
	BIO *b;

	memset(mdn, 0, sizeof(*mdn));
	mdn->signer_index = -1;
	if (content_type == NULL ||
	    mime_content_type_parse(content_type, &ct, NULL) != MIME_OK)
		return fail(err, AS2_ERR_FORMAT, "MDN without a valid "
		    "Content-Type");
	if (!mime_content_type_is(&ct, "multipart", "signed")) {
		mime_content_type_free(&ct);
		if (require_signed)
			return fail(err, AS2_ERR_AUTHENTICATION, "unsigned MDN "
			    "where a signed one was requested");
		return parse_report(content_type, body, len, mdn, err);
	}
	if (mime_signed_init(&ms, &ct, mem_sink, &inner, 0, NULL) != MIME_OK ||
	    mime_signed_feed(&ms, body, len, NULL) != MIME_OK ||
	    mime_signed_finish(&ms, NULL) != MIME_OK) {
		st = fail(err, AS2_ERR_FORMAT, "malformed multipart/signed MDN");
		goto out;
	}
	b = BIO_new_mem_buf(inner.p ? inner.p : (unsigned char *)"",
	    (int)inner.len);
	if (b == NULL) {
		st = fail(err, AS2_ERR_NOMEM, "out of memory");
		goto out;
	}
	st = as2_verify(ms.signature, ms.signature_len, b, partner_certs, now,
	    &res, err);
	BIO_free(b);
	if (st != AS2_OK)
		goto out;
	mdn->was_signed = 1;
	mdn->signer_index = res.signer_index;
	mime_headers_init(&h, NULL);
	if (mime_headers_parse(&h, inner.p, inner.len, &at, NULL) != MIME_OK) {
		mime_headers_free(&h);
		st = fail(err, AS2_ERR_FORMAT, "signed MDN entity with bad "
		    "headers");
		goto out;
	}
	st = parse_report(mime_headers_get(&h, "Content-Type"), inner.p + at,
	    inner.len - at, mdn, err);
	mdn->was_signed = 1;
	mdn->signer_index = res.signer_index;
	mime_headers_free(&h);
out:
	free(inner.p);
	mime_signed_free(&ms);
	mime_content_type_free(&ct);
	return st;
}
