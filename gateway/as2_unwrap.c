/*
 * as2_unwrap - the layers of a received AS2 body. See as2_unwrap.h.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "as2_unwrap.h"
#include "mime.h"


static int
buf_add(struct as2_buf *b, const void *data, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		unsigned char *t;
		while (cap < b->len + len + 1)
			cap *= 2;
		t = realloc(b->p, cap);
		if (t == NULL)
			return -1;
		b->p = t;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
	return 0;
}

static int
buf_sink(void *ctx, const void *data, size_t len)
{
	return buf_add(ctx, data, len);
}

static void
buf_free(struct as2_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* The contents of a memory BIO moved into a buf. */
static int
buf_from_bio(struct as2_buf *b, BIO *bio)
{
	char *data;
	long n = BIO_get_mem_data(bio, &data);
	b->len = 0;
	return n > 0 ? buf_add(b, data, (size_t)n) : 0;
}

static int
fail_with(struct as2_unwrapped *u, as2_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail_with(struct as2_unwrapped *u, as2_status code, const char *fmt, ...)
{
	va_list ap;
	u->fail = code;
	va_start(ap, fmt);
	vsnprintf(u->reason, sizeof(u->reason), fmt, ap);
	va_end(ap);
	return -1;
}

/* Decodes a body by its transfer encoding into out. */
static int
decode_body(struct as2_unwrapped *u, const char *cte, const unsigned char *data,
    size_t len, struct as2_buf *out)
{
	mime_decoder dec;
	mime_error merr;
	mime_cte c = mime_cte_parse(cte);

	if (c == MIME_CTE_UNKNOWN)
		return fail_with(u, AS2_ERR_UNSUPPORTED,
		    "Content-Transfer-Encoding \"%s\" is not supported", cte);
	out->len = 0;
	mime_decoder_init(&dec, c, buf_sink, out);
	if (mime_decoder_feed(&dec, data, len, &merr) != MIME_OK ||
	    mime_decoder_finish(&dec, &merr) != MIME_OK)
		return fail_with(u, AS2_ERR_FORMAT, "body: %s", merr.message);
	return 0;
}

/* Splits a MIME entity (headers and body) into its Content-Type and
 * decoded body; the filename of its Content-Disposition is kept. */
static int
split_entity(struct as2_unwrapped *u, const struct as2_buf *entity, char **ctype,
    struct as2_buf *body)
{
	mime_headers h;
	mime_error merr;
	size_t off;
	const char *v;

	mime_headers_init(&h, NULL);
	if (mime_headers_parse(&h, entity->p, entity->len, &off, &merr)
	    != MIME_OK) {
		mime_headers_free(&h);
		return fail_with(u, AS2_ERR_FORMAT, "MIME headers: %s",
		    merr.message);
	}
	v = as2_entity_headers(&h, ctype, u->filename, sizeof(u->filename));
	if (decode_body(u, v, entity->p + off,
	    entity->len - off, body) != 0) {
		mime_headers_free(&h);
		return -1;
	}
	mime_headers_free(&h);
	return 0;
}

const char *
as2_entity_headers(const mime_headers *h, char **ctype, char *filename,
    size_t filename_size)
{
	const char *v = mime_headers_get(h, "Content-Type");
	mime_error merr;

	free(*ctype);
	*ctype = strdup(v ? v : "text/plain");
	v = mime_headers_get(h, "Content-Disposition");
	if (v != NULL) {
		mime_content_type cd;
		if (mime_content_type_parse(v, &cd, &merr) == MIME_OK) {
			const char *fn = mime_content_type_param(&cd,
			    "filename");
			if (fn)
				snprintf(filename, filename_size, "%s", fn);
			mime_content_type_free(&cd);
		}
	}
	v = mime_headers_get(h, "Content-Transfer-Encoding");
	return v ? v : "binary";
}

int
as2_is_pkcs7_mime(const mime_content_type *ct)
{
	return mime_content_type_is(ct, "application", "pkcs7-mime") ||
	    mime_content_type_is(ct, "application", "x-pkcs7-mime");
}

int
as2_unwrap(struct as2_unwrapped *u, const struct as2_unwrap_keys *peer,
    size_t max_out, const char *http_ctype, const char *http_cte,
    const unsigned char *rawp, size_t rawlen)
{
	char *ctype = strdup(http_ctype);
	struct as2_buf body = {0}, entity = {0};
	as2_error aerr;
	int rc = -1;

	if (ctype == NULL)
		return fail_with(u, AS2_ERR_NOMEM, "out of memory");
	if (decode_body(u, http_cte ? http_cte : "binary", rawp, rawlen,
	    &body) != 0)
		goto out;
	/* Unsigned and unencrypted: the MIC covers the content as sent. */
	if (buf_add(&u->mic_source, body.p ? body.p : (unsigned char *)"",
	    body.len) != 0 && body.len)
		goto nomem;
	for (int depth = 0;; depth++) {
		mime_content_type ct;
		mime_error merr;

		if (depth > AS2_UNWRAP_MAX_DEPTH) {
			fail_with(u, AS2_ERR_FORMAT, "more than %d nested "
			    "layers", AS2_UNWRAP_MAX_DEPTH);
			goto out;
		}
		if (mime_content_type_parse(ctype, &ct, &merr) != MIME_OK) {
			fail_with(u, AS2_ERR_FORMAT, "Content-Type \"%s\": %s",
			    ctype, merr.message);
			goto out;
		}
		if (as2_is_pkcs7_mime(&ct)) {
			as2_cms_type type = as2_cms_type_from_mime(&ct);
			BIO *in, *outb;
			as2_status st;

			mime_content_type_free(&ct);
			if (type == AS2_CMS_UNKNOWN)
				type = as2_cms_type_of(body.p, body.len);
			in = BIO_new_mem_buf(body.p ? body.p :
			    (unsigned char *)"", (int)body.len);
			outb = BIO_new(BIO_s_mem());
			if (in == NULL || outb == NULL) {
				BIO_free(in);
				BIO_free(outb);
				goto nomem;
			}
			if (type == AS2_CMS_ENVELOPED ||
			    type == AS2_CMS_AUTH_ENVELOPED) {
				as2_cipher cipher;
				if (peer->nours == 0) {
					fail_with(u, AS2_ERR_DECRYPTION,
					    "the message is encrypted but the "
					    "profile names no <our-certificate>");
					st = AS2_ERR_DECRYPTION;
				} else
					st = as2_decrypt(in, outb, peer->ours,
					    peer->nours, &cipher, &aerr);
				if (st != AS2_OK) {
					if (u->fail == AS2_OK)
						fail_with(u, st == AS2_ERR_NOMEM
						    ? st : AS2_ERR_DECRYPTION,
						    "decryption: %s",
						    aerr.message);
					BIO_free(in);
					BIO_free(outb);
					goto out;
				}
				u->is_encrypted = 1;
				u->cipher = (int)cipher;
			} else if (type == AS2_CMS_COMPRESSED) {
				st = as2_decompress(in, outb, max_out, &aerr);
				if (st != AS2_OK) {
					fail_with(u, st == AS2_ERR_LIMIT ?
					    AS2_ERR_LIMIT : AS2_ERR_FORMAT,
					    "decompression: %s", aerr.message);
					BIO_free(in);
					BIO_free(outb);
					goto out;
				}
				u->is_compressed = 1;
			} else {
				BIO_free(in);
				BIO_free(outb);
				fail_with(u, AS2_ERR_UNSUPPORTED, "%s is not an "
				    "AS2 layer (expected enveloped-data, "
				    "compressed-data or multipart/signed)",
				    ctype);
				goto out;
			}
			BIO_free(in);
			if (buf_from_bio(&entity, outb) != 0) {
				BIO_free(outb);
				goto nomem;
			}
			BIO_free(outb);
			/* Not signed: the MIC covers the decrypted (RFC
			 * 4130 section 7.3.1) or decompressed (RFC 5402
			 * section 4.1) entity with its headers. */
			if (!u->is_signed) {
				u->mic_source.len = 0;
				if (buf_add(&u->mic_source, entity.p,
				    entity.len) != 0 && entity.len)
					goto nomem;
			}
			if (split_entity(u, &entity, &ctype, &body) != 0)
				goto out;
			continue;
		}
		if (mime_content_type_is(&ct, "multipart", "signed")) {
			mime_signed s;
			as2_verify_result vr;
			BIO *content;
			as2_status st;

			entity.len = 0;
			if (mime_signed_init(&s, &ct, buf_sink, &entity, 0,
			    &merr) != MIME_OK ||
			    mime_signed_feed(&s, body.p ? body.p :
			    (unsigned char *)"", body.len, &merr) != MIME_OK ||
			    mime_signed_finish(&s, &merr) != MIME_OK) {
				mime_signed_free(&s);
				mime_content_type_free(&ct);
				fail_with(u, AS2_ERR_FORMAT, "multipart/signed: %s",
				    merr.message);
				goto out;
			}
			mime_content_type_free(&ct);
			if (s.micalg[0])
				mime_micalg_parse(s.micalg, strlen(s.micalg),
				    &u->sign_style);
			content = BIO_new_mem_buf(entity.p ? entity.p :
			    (unsigned char *)"", (int)entity.len);
			if (content == NULL) {
				mime_signed_free(&s);
				goto nomem;
			}
			if (peer->theirs == NULL ||
			    sk_X509_num(peer->theirs) == 0) {
				st = AS2_ERR_AUTHENTICATION;
				snprintf(aerr.message, sizeof(aerr.message),
				    "the profile names no partner certificate");
			} else
				st = as2_verify(s.signature, s.signature_len,
				    content, peer->theirs, 0, &vr, &aerr);
			BIO_free(content);
			mime_signed_free(&s);
			if (st != AS2_OK) {
				fail_with(u, st == AS2_ERR_AUTHENTICATION ||
				    st == AS2_ERR_NOMEM ? st :
				    AS2_ERR_INTEGRITY, "signature: %s",
				    aerr.message);
				goto out;
			}
			u->is_signed = 1;
			u->sign_alg = vr.digest;
			u->mic_source.len = 0;
			if (buf_add(&u->mic_source, entity.p, entity.len) != 0
			    && entity.len)
				goto nomem;
			if (split_entity(u, &entity, &ctype, &body) != 0)
				goto out;
			continue;
		}
		mime_content_type_free(&ct);
		break;
	}
	snprintf(u->payload_type, sizeof(u->payload_type), "%s", ctype);
	u->payload = body;
	memset(&body, 0, sizeof(body));
	rc = 0;
	goto out;
nomem:
	fail_with(u, AS2_ERR_NOMEM, "out of memory");
out:
	free(ctype);
	buf_free(&body);
	buf_free(&entity);
	return rc;
}

void
as2_unwrapped_free(struct as2_unwrapped *u)
{
	buf_free(&u->mic_source);
	buf_free(&u->payload);
}
