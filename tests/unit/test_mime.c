/*
 * test_mime - header blocks, parameters, transfer encodings, multipart
 * splitting by RFC 2046 rules and the AS2 header values. Every input is
 * also fed in every chunk size that matters, since a boundary or a base64
 * group may straddle chunks. Expected values are written by hand.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mime.h"

/* ---- header blocks ---- */

static mime_status
parse_headers_in_chunks(const char *in, size_t chunk, mime_headers *h,
    size_t *body_at, mime_error *err)
{
	size_t len = strlen(in), pos = 0, used;
	mime_status st = MIME_MORE;

	mime_headers_init(h, NULL);
	while (pos < len) {
		size_t n = len - pos < chunk ? len - pos : chunk;
		st = mime_headers_feed(h, in + pos, n, &used, err);
		pos += used;
		if (st != MIME_MORE)
			break;
	}
	if (st == MIME_MORE)
		st = mime_headers_finish(h, err);
	*body_at = pos;
	return st;
}

static void
test_folded_lf_only_headers_parse_in_any_chunk_size(void **state)
{
	static const char in[] = "content-type: multipart/signed;\n"
	    "\tprotocol=\"application/pkcs7-signature\";\n"
	    " micalg=sha-256\n"
	    "AS2-From:   \"ACME Corp\"  \r\n"
	    "X-Empty:\r\n"
	    "\r\nBODY";
	size_t chunk, at;
	mime_headers h;

	for (chunk = 1; chunk <= sizeof(in); chunk++) {
		assert_int_equal(parse_headers_in_chunks(in, chunk, &h, &at,
		    NULL), MIME_OK);
		assert_int_equal(h.count, 3);
		/* unfolding removes the line breaks only */
		assert_string_equal(mime_headers_get(&h, "Content-Type"),
		    "multipart/signed;\tprotocol=\"application/pkcs7-signature"
		    "\"; micalg=sha-256");
		assert_string_equal(mime_headers_get(&h, "as2-from"),
		    "\"ACME Corp\"");
		assert_string_equal(mime_headers_get(&h, "X-EMPTY"), "");
		assert_null(mime_headers_get(&h, "AS2-To"));
		assert_string_equal(in + at, "BODY");
		mime_headers_free(&h);
	}
}

static void
test_header_without_colon_is_rejected_with_its_line(void **state)
{
	mime_headers h;
	mime_error err;
	size_t at;

	assert_int_equal(parse_headers_in_chunks("A: 1\r\nB: 2\r\nnot a header"
	    "\r\n\r\n", 5, &h, &at, &err), MIME_ERR_SYNTAX);
	assert_int_equal(err.line, 3);
	mime_headers_free(&h);
	assert_int_equal(parse_headers_in_chunks(" folded: first\r\n\r\n", 64,
	    &h, &at, &err), MIME_ERR_SYNTAX);
	assert_int_equal(err.line, 1);
	mime_headers_free(&h);
}

static void
test_header_block_over_the_limit_is_refused(void **state)
{
	mime_limits lim = { 100, 3 };
	mime_headers h;
	mime_error err;
	char big[300];
	size_t used;

	memset(big, 'x', sizeof(big));
	memcpy(big, "X-Big: ", 7);
	mime_headers_init(&h, &lim);
	assert_int_equal(mime_headers_feed(&h, big, sizeof(big), &used, &err),
	    MIME_ERR_LIMIT);
	mime_headers_free(&h);
	mime_headers_init(&h, &lim);
	assert_int_equal(mime_headers_feed(&h, "A: 1\nB: 2\nC: 3\nD: 4\n\n", 22,
	    &used, &err), MIME_ERR_LIMIT);
	mime_headers_free(&h);
}

static void
test_headers_ending_at_eof_are_accepted_but_a_cut_line_is_not(void **state)
{
	mime_headers h;
	mime_error err;
	size_t at;

	assert_int_equal(parse_headers_in_chunks("A: 1\r\nB: 2\r\n", 4, &h,
	    &at, &err), MIME_OK);
	assert_int_equal(h.count, 2);
	mime_headers_free(&h);
	assert_int_equal(parse_headers_in_chunks("A: 1\r\nB: 2", 4, &h, &at,
	    &err), MIME_ERR_TRUNCATED);
	mime_headers_free(&h);
}

/* ---- parameters ---- */

static void
test_content_type_parameters_quoted_and_bare(void **state)
{
	mime_content_type ct;

	assert_int_equal(mime_content_type_parse("Multipart/Signed; "
	    "protocol=application/pkcs7-signature; MICALG=SHA256;\r\n\t"
	    "boundary=\"----=_Part_1 \\\"x\\\"\" (a comment);", &ct, NULL),
	    MIME_OK);
	assert_string_equal(ct.type, "multipart");
	assert_string_equal(ct.subtype, "signed");
	assert_true(mime_content_type_is(&ct, "MULTIPART", "signed"));
	assert_string_equal(mime_content_type_param(&ct, "Protocol"),
	    "application/pkcs7-signature");
	assert_string_equal(mime_content_type_param(&ct, "micalg"), "SHA256");
	assert_string_equal(mime_content_type_param(&ct, "boundary"),
	    "----=_Part_1 \"x\"");
	assert_null(mime_content_type_param(&ct, "charset"));
	mime_content_type_free(&ct);

	assert_int_equal(mime_content_type_parse("attachment; filename="
	    "\"po 1.edi\"", &ct, NULL), MIME_OK);
	assert_string_equal(ct.type, "attachment");
	assert_string_equal(mime_content_type_param(&ct, "filename"),
	    "po 1.edi");
	mime_content_type_free(&ct);
}

static void
test_bad_parameters_are_syntax_errors(void **state)
{
	mime_content_type ct;

	assert_int_equal(mime_content_type_parse("text/plain; name=\"open",
	    &ct, NULL), MIME_ERR_SYNTAX);
	assert_int_equal(mime_content_type_parse("text/plain; =x", &ct, NULL),
	    MIME_ERR_SYNTAX);
	assert_int_equal(mime_content_type_parse("text/plain x", &ct, NULL),
	    MIME_ERR_SYNTAX);
	assert_int_equal(mime_content_type_parse("/plain", &ct, NULL),
	    MIME_ERR_SYNTAX);
	assert_int_equal(mime_content_type_parse("text/", &ct, NULL),
	    MIME_ERR_SYNTAX);
}

/* ---- transfer encodings ---- */

struct sinkbuf {
	char data[4096];
	size_t len;
};

static int
to_buf(void *ctx, const void *data, size_t len)
{
	struct sinkbuf *b = ctx;

	if (b->len + len > sizeof(b->data))
		return -1;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

static mime_status
decode(mime_cte cte, const char *in, size_t chunk, struct sinkbuf *out)
{
	mime_decoder d;
	size_t len = strlen(in), pos;
	mime_status st;

	memset(out, 0, sizeof(*out));
	mime_decoder_init(&d, cte, to_buf, out);
	for (pos = 0; pos < len; pos += chunk) {
		st = mime_decoder_feed(&d, in + pos, len - pos < chunk ?
		    len - pos : chunk, NULL);
		if (st != MIME_OK)
			return st;
	}
	return mime_decoder_finish(&d, NULL);
}

static void
test_transfer_encoding_names(void **state)
{
	assert_int_equal(mime_cte_parse(NULL), MIME_CTE_7BIT);
	assert_int_equal(mime_cte_parse(" Base64 "), MIME_CTE_BASE64);
	assert_int_equal(mime_cte_parse("BINARY"), MIME_CTE_BINARY);
	assert_int_equal(mime_cte_parse("8bit"), MIME_CTE_8BIT);
	assert_int_equal(mime_cte_parse("quoted-printable"),
	    MIME_CTE_QUOTED_PRINTABLE);
	assert_int_equal(mime_cte_parse("x-uuencode"), MIME_CTE_UNKNOWN);
}

static void
test_base64_decodes_across_lines_and_chunks(void **state)
{
	struct sinkbuf out;
	size_t chunk;

	/* RFC 4648 section 10 vectors */
	for (chunk = 1; chunk < 30; chunk++) {
		assert_int_equal(decode(MIME_CTE_BASE64, "Zm9v\r\nYmFy\r\n",
		    chunk, &out), MIME_OK);
		assert_int_equal(out.len, 6);
		assert_memory_equal(out.data, "foobar", 6);
		assert_int_equal(decode(MIME_CTE_BASE64, "Zm9vYg==\n", chunk,
		    &out), MIME_OK);
		assert_int_equal(out.len, 4);
		assert_memory_equal(out.data, "foob", 4);
		assert_int_equal(decode(MIME_CTE_BASE64, "Zm9vYmE=", chunk,
		    &out), MIME_OK);
		assert_int_equal(out.len, 5);
	}
	/* padding left out by some encoders */
	assert_int_equal(decode(MIME_CTE_BASE64, "Zm8", 64, &out), MIME_OK);
	assert_int_equal(out.len, 2);
	assert_memory_equal(out.data, "fo", 2);
}

static void
test_invalid_base64_is_an_encoding_error(void **state)
{
	struct sinkbuf out;

	assert_int_equal(decode(MIME_CTE_BASE64, "Zm9v*mFy", 64, &out),
	    MIME_ERR_ENCODING);
	assert_int_equal(decode(MIME_CTE_BASE64, "Zg==Zm9v", 64, &out),
	    MIME_ERR_ENCODING);
	assert_int_equal(decode(MIME_CTE_BASE64, "Z", 64, &out),
	    MIME_ERR_ENCODING);
	assert_int_equal(decode(MIME_CTE_BASE64, "=", 64, &out),
	    MIME_ERR_ENCODING);
}

static void
test_quoted_printable_decodes(void **state)
{
	struct sinkbuf out;
	size_t chunk;
	static const char want[] = "a=b caf\xc3\xa9 long line\r\nend";

	for (chunk = 1; chunk < 50; chunk++) {
		assert_int_equal(decode(MIME_CTE_QUOTED_PRINTABLE,
		    "a=3Db caf=C3=a9 long=\r\n line   \r\nend", chunk, &out),
		    MIME_OK);
		assert_int_equal(out.len, sizeof(want) - 1);
		assert_memory_equal(out.data, want, out.len);
	}
	assert_int_equal(decode(MIME_CTE_QUOTED_PRINTABLE, "soft=\nbreak", 3,
	    &out), MIME_OK);
	assert_int_equal(out.len, 9);
	assert_memory_equal(out.data, "softbreak", 9);
	assert_int_equal(decode(MIME_CTE_QUOTED_PRINTABLE, "bad=ZZ", 64, &out),
	    MIME_ERR_ENCODING);
	assert_int_equal(decode(MIME_CTE_QUOTED_PRINTABLE, "cut=4", 64, &out),
	    MIME_ERR_ENCODING);
}

static void
test_binary_passes_through_unchanged(void **state)
{
	struct sinkbuf out;

	assert_int_equal(decode(MIME_CTE_BINARY, "a\r\nb=\x01", 2, &out),
	    MIME_OK);
	assert_int_equal(out.len, 6);
	assert_memory_equal(out.data, "a\r\nb=\x01", 6);
}

/* ---- multipart ---- */

struct parts {
	char data[8][512];
	size_t len[8];
	unsigned begun, ended;
};

static int
on_part(void *ctx, mime_part_event ev, unsigned index, const char *data,
    size_t len)
{
	struct parts *p = ctx;

	if (index >= 8)
		return -1;
	if (ev == MIME_PART_BEGIN)
		p->begun++;
	else if (ev == MIME_PART_END)
		p->ended++;
	else {
		memcpy(p->data[index] + p->len[index], data, len);
		p->len[index] += len;
	}
	return 0;
}

static mime_status
split(const char *boundary, const char *in, size_t len, size_t chunk,
    struct parts *p, mime_error *err)
{
	mime_multipart m;
	mime_status st;
	size_t pos;

	memset(p, 0, sizeof(*p));
	st = mime_multipart_init(&m, boundary, 0, on_part, p, err);
	if (st != MIME_OK)
		return st;
	for (pos = 0; pos < len; pos += chunk) {
		st = mime_multipart_feed(&m, in + pos, len - pos < chunk ?
		    len - pos : chunk, err);
		if (st != MIME_OK)
			return st;
	}
	return mime_multipart_finish(&m, err);
}

#define PART(p, i) ((p).data[i][(p).len[i]] = 0, (p).data[i])

static void
test_crlf_before_a_delimiter_belongs_to_the_delimiter(void **state)
{
	static const char in[] =
	    "preamble\r\n--XyZ\r\n"
	    "Content-Type: text/plain\r\n\r\nline one\r\n\r\n"
	    "--XyZ   \r\n"                     /* transport padding */
	    "a\r\n--XyZa is content\r\n---XyZ too\r\n--Xy\r\nend\r\n"
	    "--XyZ--\r\nepilogue --XyZ\r\n";
	struct parts p;
	size_t chunk;

	for (chunk = 1; chunk <= sizeof(in); chunk++) {
		assert_int_equal(split("XyZ", in, sizeof(in) - 1, chunk, &p,
		    NULL), MIME_OK);
		assert_int_equal(p.begun, 2);
		assert_int_equal(p.ended, 2);
		/* the empty line before the delimiter stays: only the CRLF
		 * directly before "--XyZ" goes */
		assert_string_equal(PART(p, 0),
		    "Content-Type: text/plain\r\n\r\nline one\r\n");
		assert_string_equal(PART(p, 1),
		    "a\r\n--XyZa is content\r\n---XyZ too\r\n--Xy\r\nend");
	}
}

static void
test_lf_only_multipart_splits(void **state)
{
	static const char in[] = "--b\nA: 1\n\nx\n--b\n\ny\n\n--b--";
	struct parts p;
	size_t chunk;

	for (chunk = 1; chunk <= sizeof(in); chunk++) {
		assert_int_equal(split("b", in, sizeof(in) - 1, chunk, &p, NULL),
		    MIME_OK);
		assert_int_equal(p.begun, 2);
		assert_string_equal(PART(p, 0), "A: 1\n\nx");
		assert_string_equal(PART(p, 1), "\ny\n");
	}
}

static void
test_cr_runs_and_near_delimiters_stay_content(void **state)
{
	static const char in[] = "--q\r\n\r\r\n\r\r\n-\r\n--\r\n--q-x\r\n"
	    "--q--";
	struct parts p;
	size_t chunk;

	for (chunk = 1; chunk <= sizeof(in); chunk++) {
		assert_int_equal(split("q", in, sizeof(in) - 1, chunk, &p, NULL),
		    MIME_OK);
		assert_int_equal(p.begun, 1);
		assert_string_equal(PART(p, 0), "\r\r\n\r\r\n-\r\n--\r\n--q-x");
	}
}

static void
test_missing_close_delimiter_is_truncation(void **state)
{
	static const char in[] = "--b\r\nx\r\n--b\r\ny\r\n";
	struct parts p;
	mime_error err;

	assert_int_equal(split("b", in, sizeof(in) - 1, 4, &p, &err),
	    MIME_ERR_TRUNCATED);
	assert_int_equal(split("b", "no delimiter at all", 19, 4, &p, &err),
	    MIME_ERR_TRUNCATED);
	assert_int_equal(split("b", "--b--\r\n", 7, 4, &p, &err),
	    MIME_ERR_STRUCTURE);
}

static void
test_bad_boundaries_and_too_many_parts_are_refused(void **state)
{
	struct parts p;
	mime_multipart m;
	char longb[MIME_BOUNDARY_MAX + 2];
	char many[1024];
	size_t n = 0;
	int i;

	memset(longb, 'b', sizeof(longb) - 1);
	longb[sizeof(longb) - 1] = 0;
	assert_int_equal(mime_multipart_init(&m, longb, 0, on_part, &p, NULL),
	    MIME_ERR_SYNTAX);
	assert_int_equal(mime_multipart_init(&m, "", 0, on_part, &p, NULL),
	    MIME_ERR_SYNTAX);
	assert_int_equal(mime_multipart_init(&m, NULL, 0, on_part, &p, NULL),
	    MIME_ERR_SYNTAX);
	assert_int_equal(mime_multipart_init(&m, "a\rb", 0, on_part, &p, NULL),
	    MIME_ERR_SYNTAX);
	for (i = 0; i < 70; i++)
		n += (size_t)sprintf(many + n, "--b\r\nx\r\n");
	memset(&p, 0, sizeof(p));
	assert_int_equal(mime_multipart_init(&m, "b", 5, on_part, &p, NULL),
	    MIME_OK);
	assert_int_equal(mime_multipart_feed(&m, many, n, NULL), MIME_ERR_LIMIT);
}

/* ---- multipart/signed ---- */

static int
to_sinkbuf(void *ctx, const void *data, size_t len)
{
	return to_buf(ctx, data, len);
}

static mime_status
signed_split(const char *in, size_t max_sig, struct sinkbuf *content,
    mime_signed *s)
{
	mime_content_type ct;
	mime_status st;

	memset(content, 0, sizeof(*content));
	assert_int_equal(mime_content_type_parse("multipart/signed; boundary=s",
	    &ct, NULL), MIME_OK);
	st = mime_signed_init(s, &ct, to_sinkbuf, content, max_sig, NULL);
	mime_content_type_free(&ct);
	if (st == MIME_OK)
		st = mime_signed_feed(s, in, strlen(in), NULL);
	if (st == MIME_OK)
		st = mime_signed_finish(s, NULL);
	return st;
}

static void
test_signed_parts_are_checked(void **state)
{
	struct sinkbuf c;
	mime_signed s;

	assert_int_equal(signed_split("--s\r\nA: b\r\n\r\nbody\r\n--s\r\n"
	    "Content-Type: application/pkcs7-signature\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\nAQID\r\n--s--\r\n", 0, &c,
	    &s), MIME_OK);
	assert_int_equal(c.len, 12);
	assert_memory_equal(c.data, "A: b\r\n\r\nbody", 12);
	assert_int_equal(s.signature_len, 3);
	assert_memory_equal(s.signature, "\x01\x02\x03", 3);
	mime_signed_free(&s);
	/* one part only */
	assert_int_equal(signed_split("--s\r\nA: b\r\n\r\nbody\r\n--s--\r\n", 0,
	    &c, &s), MIME_ERR_STRUCTURE);
	mime_signed_free(&s);
	/* three parts */
	assert_int_equal(signed_split("--s\r\n\r\nx\r\n--s\r\nContent-Type: "
	    "application/pkcs7-signature\r\n\r\nAQID\r\n--s\r\n\r\nz\r\n"
	    "--s--", 0, &c, &s), MIME_ERR_STRUCTURE);
	mime_signed_free(&s);
	/* second part is not a signature */
	assert_int_equal(signed_split("--s\r\n\r\nx\r\n--s\r\nContent-Type: "
	    "text/plain\r\n\r\nAQID\r\n--s--", 0, &c, &s), MIME_ERR_STRUCTURE);
	mime_signed_free(&s);
	/* signature over the size limit */
	assert_int_equal(signed_split("--s\r\n\r\nx\r\n--s\r\nContent-Type: "
	    "application/pkcs7-signature\r\n\r\nAQIDBAUG\r\n--s--", 4, &c, &s),
	    MIME_ERR_LIMIT);
	mime_signed_free(&s);
	/* bad base64 in the signature */
	assert_int_equal(signed_split("--s\r\n\r\nx\r\n--s\r\nContent-Type: "
	    "application/pkcs7-signature\r\nContent-Transfer-Encoding: base64"
	    "\r\n\r\nAQ!D\r\n--s--", 0, &c, &s), MIME_ERR_ENCODING);
	mime_signed_free(&s);
}

static void
test_signature_limit_error_names_the_limit(void **state)
{
	static const char in[] = "--s\r\n\r\nx\r\n--s\r\nContent-Type: "
	    "application/pkcs7-signature\r\n\r\nAQIDBAUG\r\n--s--";
	struct sinkbuf c;
	mime_content_type ct;
	mime_signed s;
	mime_error err;

	assert_int_equal(mime_content_type_parse("multipart/signed; boundary=s",
	    &ct, NULL), MIME_OK);
	assert_int_equal(mime_signed_init(&s, &ct, to_sinkbuf, &c, 4, NULL),
	    MIME_OK);
	memset(&c, 0, sizeof(c));
	assert_int_equal(mime_signed_feed(&s, in, sizeof(in) - 1, &err),
	    MIME_ERR_LIMIT);
	assert_int_equal(err.code, MIME_ERR_LIMIT);
	assert_non_null(strstr(err.message, "signature larger than 4 bytes"));
	mime_signed_free(&s);
	mime_content_type_free(&ct);
}

/* ---- AS2 header values ---- */

static void
test_dno_remembers_the_micalg_spelling(void **state)
{
	mime_dno d;
	mime_micalg_style style;
	unsigned ours = MIME_MICALG_BIT(MIME_MICALG_SHA1) |
	    MIME_MICALG_BIT(MIME_MICALG_SHA256);

	assert_int_equal(mime_dno_parse("signed-receipt-protocol=optional, "
	    "pkcs7-signature; signed-receipt-micalg=optional, sha-256, sha1",
	    &d, NULL), MIME_OK);
	assert_true(mime_dno_wants_signed(&d));
	assert_int_equal(d.protocol_importance, MIME_IMPORTANCE_OPTIONAL);
	assert_int_equal(d.micalg_count, 2);
	assert_int_equal(mime_dno_choose_micalg(&d, ours, &style),
	    MIME_MICALG_SHA256);
	assert_int_equal(style, MIME_MICALG_STYLE_DASH);
	assert_string_equal(mime_micalg_name(MIME_MICALG_SHA256, style),
	    "sha-256");

	assert_int_equal(mime_dno_parse(" Signed-Receipt-Protocol = required,"
	    "pkcs7-signature ;signed-receipt-micalg=required,md5, SHA256",
	    &d, NULL), MIME_OK);
	assert_int_equal(d.protocol_importance, MIME_IMPORTANCE_REQUIRED);
	assert_int_equal(d.micalg_importance, MIME_IMPORTANCE_REQUIRED);
	/* md5 is listed first but we do not offer it */
	assert_int_equal(mime_dno_choose_micalg(&d, ours, &style),
	    MIME_MICALG_SHA256);
	assert_int_equal(style, MIME_MICALG_STYLE_PLAIN);
	assert_string_equal(mime_micalg_name(MIME_MICALG_SHA256, style),
	    "sha256");

	/* importance left out; an unknown algorithm only */
	assert_int_equal(mime_dno_parse("signed-receipt-protocol=pkcs7-signature;"
	    " signed-receipt-micalg=whirlpool", &d, NULL), MIME_OK);
	assert_true(mime_dno_wants_signed(&d));
	assert_int_equal(mime_dno_choose_micalg(&d, ours, &style),
	    MIME_MICALG_NONE);

	assert_int_equal(mime_dno_parse("", &d, NULL), MIME_OK);
	assert_false(mime_dno_wants_signed(&d));
	assert_int_equal(mime_dno_parse("garbage", &d, NULL), MIME_ERR_SYNTAX);
}

static void
test_micalg_names_in_both_spellings(void **state)
{
	mime_micalg_style st;

	assert_int_equal(mime_micalg_parse("SHA-384", 7, &st),
	    MIME_MICALG_SHA384);
	assert_int_equal(st, MIME_MICALG_STYLE_DASH);
	assert_int_equal(mime_micalg_parse("sha512", 6, &st),
	    MIME_MICALG_SHA512);
	assert_int_equal(st, MIME_MICALG_STYLE_PLAIN);
	assert_int_equal(mime_micalg_parse("sha-1", 5, NULL), MIME_MICALG_SHA1);
	assert_int_equal(mime_micalg_parse("sha-2", 5, NULL), MIME_MICALG_NONE);
	assert_string_equal(mime_micalg_name(MIME_MICALG_SHA1,
	    MIME_MICALG_STYLE_PLAIN), "sha1");
}

static void
test_receipt_delivery_option_must_be_http(void **state)
{
	char url[64];

	assert_int_equal(mime_receipt_delivery_parse("  https://as2.example/mdn"
	    " ", url, sizeof(url), NULL), MIME_OK);
	assert_string_equal(url, "https://as2.example/mdn");
	assert_int_equal(mime_receipt_delivery_parse("mailto:a@b", url,
	    sizeof(url), NULL), MIME_ERR_UNSUPPORTED);
	assert_int_equal(mime_receipt_delivery_parse("http://a b/", url,
	    sizeof(url), NULL), MIME_ERR_SYNTAX);
	assert_int_equal(mime_receipt_delivery_parse("http://example.com/"
	    "a-very-long-path-that-does-not-fit-in-the-buffer-given", url, 32,
	    NULL), MIME_ERR_LIMIT);
}

static void
test_as2_names_follow_rfc_4130_quoting(void **state)
{
	char name[MIME_AS2_NAME_MAX + 1], out[300], longname[140];

	assert_int_equal(mime_as2_name_parse(" ACME-01 ", name, NULL), MIME_OK);
	assert_string_equal(name, "ACME-01");
	assert_int_equal(mime_as2_name_parse("\"ACME \\\"EU\\\" \\\\ 2\"", name,
	    NULL), MIME_OK);
	assert_string_equal(name, "ACME \"EU\" \\ 2");
	/* tolerated: an unquoted name with a space */
	assert_int_equal(mime_as2_name_parse("My Company", name, NULL), MIME_OK);
	assert_string_equal(name, "My Company");
	assert_int_equal(mime_as2_name_parse("AC\"ME", name, NULL),
	    MIME_ERR_SYNTAX);
	assert_int_equal(mime_as2_name_parse("\"open", name, NULL),
	    MIME_ERR_SYNTAX);
	assert_int_equal(mime_as2_name_parse("\"a\" b", name, NULL),
	    MIME_ERR_SYNTAX);
	assert_int_equal(mime_as2_name_parse("\"\"", name, NULL),
	    MIME_ERR_SYNTAX);
	assert_int_equal(mime_as2_name_parse("tab\there", name, NULL),
	    MIME_ERR_SYNTAX);
	memset(longname, 'n', 129);
	longname[129] = 0;
	assert_int_equal(mime_as2_name_parse(longname, name, NULL),
	    MIME_ERR_LIMIT);
	longname[128] = 0;
	assert_int_equal(mime_as2_name_parse(longname, name, NULL), MIME_OK);

	assert_int_equal(mime_as2_name_format("ACME", out, sizeof(out), NULL),
	    MIME_OK);
	assert_string_equal(out, "ACME");
	assert_int_equal(mime_as2_name_format("ACME \"EU\"", out, sizeof(out),
	    NULL), MIME_OK);
	assert_string_equal(out, "\"ACME \\\"EU\\\"\"");
	assert_int_equal(mime_as2_name_format("", out, sizeof(out), NULL),
	    MIME_ERR_LIMIT);
	assert_int_equal(mime_as2_name_format("a\r\nb", out, sizeof(out), NULL),
	    MIME_ERR_SYNTAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_folded_lf_only_headers_parse_in_any_chunk_size),
		cmocka_unit_test(
		    test_header_without_colon_is_rejected_with_its_line),
		cmocka_unit_test(test_header_block_over_the_limit_is_refused),
		cmocka_unit_test(
		    test_headers_ending_at_eof_are_accepted_but_a_cut_line_is_not),
		cmocka_unit_test(test_content_type_parameters_quoted_and_bare),
		cmocka_unit_test(test_bad_parameters_are_syntax_errors),
		cmocka_unit_test(test_transfer_encoding_names),
		cmocka_unit_test(test_base64_decodes_across_lines_and_chunks),
		cmocka_unit_test(test_invalid_base64_is_an_encoding_error),
		cmocka_unit_test(test_quoted_printable_decodes),
		cmocka_unit_test(test_binary_passes_through_unchanged),
		cmocka_unit_test(
		    test_crlf_before_a_delimiter_belongs_to_the_delimiter),
		cmocka_unit_test(test_lf_only_multipart_splits),
		cmocka_unit_test(test_cr_runs_and_near_delimiters_stay_content),
		cmocka_unit_test(test_missing_close_delimiter_is_truncation),
		cmocka_unit_test(
		    test_bad_boundaries_and_too_many_parts_are_refused),
		cmocka_unit_test(test_signed_parts_are_checked),
		cmocka_unit_test(test_signature_limit_error_names_the_limit),
		cmocka_unit_test(test_dno_remembers_the_micalg_spelling),
		cmocka_unit_test(test_micalg_names_in_both_spellings),
		cmocka_unit_test(test_receipt_delivery_option_must_be_http),
		cmocka_unit_test(test_as2_names_follow_rfc_4130_quoting),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
