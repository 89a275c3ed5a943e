/*
 * test_as2_mdn - receipts written by us and read by us and by the openssl
 * command line; receipts written by hand the way partners' products send
 * them (LF line ends, base64 parts, sha256 spelling), signed by openssl,
 * and read by us.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "as2_mdn.h"

static char dir[64];
static X509 *our_cert, *partner_cert;
static EVP_PKEY *our_key;
static STACK_OF(X509) *ours, *partners;

static int
run(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static char *
path(const char *name)
{
	static char buf[8][256];
	static int i;

	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static void
write_file(const char *name, const void *data, size_t len)
{
	FILE *f = fopen(path(name), "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static unsigned char *
read_file(const char *name, size_t *len)
{
	FILE *f = fopen(path(name), "rb");
	unsigned char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = 0;
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static int
group_setup(void **state)
{
	as2_error err;

	snprintf(dir, sizeof(dir), "/tmp/edigate-mdn-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	if (run("openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "
	    "/CN=us -keyout %s -out %s 2>/dev/null", path("us.key"),
	    path("us.crt")) || run("openssl req -x509 -newkey rsa:2048 -nodes "
	    "-days 30 -subj /CN=partner -keyout %s -out %s 2>/dev/null",
	    path("partner.key"), path("partner.crt")))
		return -1;
	if (as2_load_cert(path("us.crt"), &our_cert, &err) ||
	    as2_load_cert(path("partner.crt"), &partner_cert, &err) ||
	    as2_load_key(path("us.key"), &our_key, &err))
		return -1;
	ours = sk_X509_new_null();
	sk_X509_push(ours, our_cert);
	partners = sk_X509_new_null();
	sk_X509_push(partners, partner_cert);
	return 0;
}

static int
group_teardown(void **state)
{
	sk_X509_free(ours);
	sk_X509_free(partners);
	X509_free(our_cert);
	X509_free(partner_cert);
	EVP_PKEY_free(our_key);
	return run("rm -rf '%s'", dir) == 0 ? 0 : -1;
}

static void
fill(as2_mdn *m)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->reporting_ua, sizeof(m->reporting_ua), "edigate 0.1.0");
	snprintf(m->original_recipient, sizeof(m->original_recipient),
	    "EDIGATE DEMO");
	snprintf(m->original_message_id, sizeof(m->original_message_id),
	    "<20261123-1@partner.example>");
	snprintf(m->mic, sizeof(m->mic),
	    "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=, sha-256");
}

static void
test_unsigned_processed_mdn_has_the_rfc_fields(void **state)
{
	as2_mdn m, back;
	char *ct;
	unsigned char *body;
	size_t len;
	as2_error err;

	fill(&m);
	assert_int_equal(as2_mdn_build(&m, NULL, &ct, &body, &len, &err),
	    AS2_OK);
	assert_non_null(strstr(ct, "multipart/report; report-type="
	    "disposition-notification; boundary="));
	body = realloc(body, len + 1);
	body[len] = 0;
	/* RFC 4130 section 7.5.3 fields, quoting the AS2 name with a space */
	assert_non_null(strstr((char *)body, "Content-Type: message/"
	    "disposition-notification\r\n"));
	assert_non_null(strstr((char *)body, "\r\nReporting-UA: edigate "
	    "0.1.0\r\nOriginal-Recipient: rfc822; \"EDIGATE DEMO\"\r\n"
	    "Final-Recipient: rfc822; \"EDIGATE DEMO\"\r\nOriginal-Message-ID: "
	    "<20261123-1@partner.example>\r\nDisposition: automatic-action/"
	    "MDN-sent-automatically; processed\r\nReceived-Content-MIC: "
	    "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=, sha-256\r\n"));
	assert_int_equal(as2_mdn_parse(ct, body, len, NULL, 0, 0, &back, &err),
	    AS2_OK);
	assert_int_equal(back.disposition, AS2_DISPOSITION_PROCESSED);
	assert_string_equal(back.original_message_id,
	    "<20261123-1@partner.example>");
	assert_string_equal(back.original_recipient, "EDIGATE DEMO");
	assert_string_equal(back.final_recipient, "EDIGATE DEMO");
	assert_true(as2_mic_equal(back.mic, m.mic));
	assert_false(back.was_signed);
	assert_non_null(strstr(back.text, "received"));
	/* an unsigned receipt is refused where a signed one was asked for */
	assert_int_equal(as2_mdn_parse(ct, body, len, NULL, 0, 1, &back, &err),
	    AS2_ERR_AUTHENTICATION);
	free(ct);
	free(body);
}

static void
error_mdn_round_trips(as2_status failure)
{
	as2_mdn m, back;
	char *ct, expect[160];
	unsigned char *body;
	size_t len;
	as2_error err;

	fill(&m);
	m.mic[0] = '\0';
	m.disposition = AS2_DISPOSITION_ERROR;
	snprintf(m.modifier, sizeof(m.modifier), "%s",
	    as2_status_disposition(failure));
	assert_int_equal(as2_mdn_build(&m, NULL, &ct, &body, &len, &err),
	    AS2_OK);
	body = realloc(body, len + 1);
	body[len] = 0;
	snprintf(expect, sizeof(expect), "Disposition: automatic-action/"
	    "MDN-sent-automatically; processed/error: %s\r\n",
	    as2_status_disposition(failure));
	assert_non_null(strstr((char *)body, expect));
	assert_null(strstr((char *)body, "Received-Content-MIC"));
	assert_int_equal(as2_mdn_parse(ct, body, len, NULL, 0, 0, &back, &err),
	    AS2_OK);
	assert_int_equal(back.disposition, AS2_DISPOSITION_ERROR);
	assert_string_equal(back.modifier, as2_status_disposition(failure));
	free(ct);
	free(body);
}

static void
test_error_mdns_carry_each_rfc_4130_modifier(void **state)
{
	error_mdn_round_trips(AS2_ERR_AUTHENTICATION);
	error_mdn_round_trips(AS2_ERR_DECRYPTION);
	error_mdn_round_trips(AS2_ERR_INTEGRITY);
	error_mdn_round_trips(AS2_ERR_IO);
	assert_string_equal(as2_status_disposition(AS2_ERR_IO),
	    "unexpected-processing-error");
}

struct mem {
	unsigned char *p;
	size_t len;
};

static int
collect(void *ctx, const void *data, size_t len)
{
	struct mem *m = ctx;

	m->p = realloc(m->p, m->len + len);
	memcpy(m->p + m->len, data, len);
	m->len += len;
	return 0;
}

static void
test_signed_mdn_verifies_with_us_and_with_openssl(void **state)
{
	as2_mdn m, back;
	as2_mdn_signing sg = { our_cert, our_key, NULL, MIME_MICALG_SHA256,
	    MIME_MICALG_STYLE_PLAIN };
	char *ct;
	unsigned char *body;
	size_t len;
	as2_error err;
	mime_content_type pct;
	mime_signed ms;
	struct mem entity = { 0 };

	fill(&m);
	assert_int_equal(as2_mdn_build(&m, &sg, &ct, &body, &len, &err),
	    AS2_OK);
	/* answered in the sender's spelling */
	assert_non_null(strstr(ct, "multipart/signed; protocol=\"application/"
	    "pkcs7-signature\"; micalg=sha256;"));
	assert_int_equal(as2_mdn_parse(ct, body, len, ours, 0, 1, &back, &err),
	    AS2_OK);
	assert_true(back.was_signed);
	assert_int_equal(back.signer_index, 0);
	assert_string_equal(back.original_message_id,
	    "<20261123-1@partner.example>");
	/* signed by someone else: refused */
	assert_int_equal(as2_mdn_parse(ct, body, len, partners, 0, 1, &back,
	    &err), AS2_ERR_AUTHENTICATION);
	/* openssl checks the same signature over the same entity */
	assert_int_equal(mime_content_type_parse(ct, &pct, NULL), MIME_OK);
	assert_int_equal(mime_signed_init(&ms, &pct, collect, &entity, 0, NULL),
	    MIME_OK);
	assert_int_equal(mime_signed_feed(&ms, body, len, NULL), MIME_OK);
	assert_int_equal(mime_signed_finish(&ms, NULL), MIME_OK);
	write_file("mdn.entity", entity.p, entity.len);
	write_file("mdn.p7s", ms.signature, ms.signature_len);
	assert_int_equal(run("openssl cms -verify -binary -inform DER -in %s "
	    "-content %s -CAfile %s -purpose any -out /dev/null 2>/dev/null",
	    path("mdn.p7s"), path("mdn.entity"), path("us.crt")), 0);
	/* a changed byte in the report is an integrity failure */
	{
		char *hit = memmem(body, len, "processed", 9);
		assert_non_null(hit);
		hit[0] = 'P';
		assert_int_equal(as2_mdn_parse(ct, body, len, ours, 0, 1, &back,
		    &err), AS2_ERR_INTEGRITY);
	}
	mime_signed_free(&ms);
	mime_content_type_free(&pct);
	free(entity.p);
	free(ct);
	free(body);
}

static void
test_partner_style_signed_mdn_parses(void **state)
{
	/* LF line ends, base64 disposition part, unquoted boundary */
	static const char report[] =
	    "Content-Type: multipart/report; report-type=disposition-"
	    "notification;\n\tboundary=rep42\n\n"
	    "--rep42\nContent-Type: text/plain\n\nYour message was received.\n"
	    "--rep42\nContent-Type: message/disposition-notification\n"
	    "Content-Transfer-Encoding: base64\n\n"
	    /* base64 of the fields below, made with `openssl base64` */
	    "%s\n--rep42--\n";
	static const char fields[] =
	    "Reporting-UA: PartnerAS2\r\n"
	    "Original-Recipient: rfc822; ACME\r\n"
	    "Final-Recipient: rfc822; ACME\r\n"
	    "Original-Message-ID: <out-7@edigate>\r\n"
	    "Disposition: automatic-action/MDN-sent-automatically; "
	    "processed/warning: duplicate-document\r\n"
	    "Received-Content-MIC: 2jmj7l5rSw0yVb/vlWAYkK/YBwk=, sha1\r\n\r\n";
	char entity[2048], b64[1024], body[8192];
	unsigned char *sig;
	size_t slen, n = 0, i;
	as2_mdn back;
	as2_error err;

	write_file("fields", fields, sizeof(fields) - 1);
	assert_int_equal(run("openssl base64 -in %s -out %s", path("fields"),
	    path("fields.b64")), 0);
	{
		unsigned char *t = read_file("fields.b64", &slen);
		snprintf(b64, sizeof(b64), "%.*s", (int)slen - 1, (char *)t);
		free(t);
	}
	snprintf(entity, sizeof(entity), report, b64);
	write_file("entity", entity, strlen(entity));
	assert_int_equal(run("openssl cms -sign -binary -md sha1 -outform DER "
	    "-in %s -signer %s -inkey %s -out %s", path("entity"),
	    path("partner.crt"), path("partner.key"), path("sig.der")), 0);
	sig = read_file("sig.der", &slen);
	n += (size_t)sprintf(body + n, "--sig9\n%s\n--sig9\nContent-Type: "
	    "application/x-pkcs7-signature\nContent-Transfer-Encoding: "
	    "base64\n\n", entity);
	for (i = 0; i < slen; i += 48) {
		n += (size_t)EVP_EncodeBlock((unsigned char *)body + n, sig + i,
		    (int)(slen - i < 48 ? slen - i : 48));
		body[n++] = '\n';
	}
	n += (size_t)sprintf(body + n, "--sig9--\n");
	assert_int_equal(as2_mdn_parse("multipart/signed; protocol=application"
	    "/x-pkcs7-signature; micalg=sha1; boundary=sig9", body, n,
	    partners, 0, 1, &back, &err), AS2_OK);
	assert_true(back.was_signed);
	assert_string_equal(back.reporting_ua, "PartnerAS2");
	assert_string_equal(back.original_recipient, "ACME");
	assert_string_equal(back.original_message_id, "<out-7@edigate>");
	assert_int_equal(back.disposition, AS2_DISPOSITION_WARNING);
	assert_string_equal(back.modifier, "duplicate-document");
	/* same MIC in the other spelling */
	assert_true(as2_mic_equal(back.mic,
	    "2jmj7l5rSw0yVb/vlWAYkK/YBwk=, sha-1"));
	assert_string_equal(back.text, "Your message was received.");
	free(sig);
}

static void
test_line_break_in_a_field_is_refused(void **state)
{
	as2_mdn m;
	char *ct;
	unsigned char *body;
	size_t len;
	as2_error err;

	fill(&m);
	snprintf(m.original_message_id, sizeof(m.original_message_id),
	    "<a@b>\r\nDisposition: automatic-action/MDN-sent-automatically; "
	    "processed");
	assert_int_equal(as2_mdn_build(&m, NULL, &ct, &body, &len, &err),
	    AS2_ERR_ARGUMENT);
	fill(&m);
	m.disposition = AS2_DISPOSITION_ERROR;   /* without a modifier */
	assert_int_equal(as2_mdn_build(&m, NULL, &ct, &body, &len, &err),
	    AS2_ERR_ARGUMENT);
}

static void
test_malformed_mdns_are_format_errors(void **state)
{
	as2_mdn back;
	static const char no_dn[] = "--b\r\nContent-Type: text/plain\r\n\r\n"
	    "hello\r\n--b--\r\n";

	assert_int_equal(as2_mdn_parse("text/plain", "x", 1, NULL, 0, 0, &back,
	    NULL), AS2_ERR_FORMAT);
	assert_int_equal(as2_mdn_parse("multipart/report; boundary=b", no_dn,
	    sizeof(no_dn) - 1, NULL, 0, 0, &back, NULL), AS2_ERR_FORMAT);
	assert_int_equal(as2_mdn_parse("multipart/report; boundary=b", no_dn,
	    20, NULL, 0, 0, &back, NULL), AS2_ERR_FORMAT);
	assert_int_equal(as2_mdn_parse("multipart/signed; boundary=b", no_dn,
	    sizeof(no_dn) - 1, ours, 0, 1, &back, NULL), AS2_ERR_FORMAT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unsigned_processed_mdn_has_the_rfc_fields),
		cmocka_unit_test(test_error_mdns_carry_each_rfc_4130_modifier),
		cmocka_unit_test(
		    test_signed_mdn_verifies_with_us_and_with_openssl),
		cmocka_unit_test(test_partner_style_signed_mdn_parses),
		cmocka_unit_test(test_line_break_in_a_field_is_refused),
		cmocka_unit_test(test_malformed_mdns_are_format_errors),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
