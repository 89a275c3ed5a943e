/*
 * Tests for the pure parts of gateway/as2_send.c: backoff, Message-IDs,
 * payload media types, the MDN verdict and the headers and MIC of an
 * unsigned request. Signing and encryption are proven against openssl
 * by tests/integration/as2_send.sh.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "as2_send.h"

static void
test_backoff_doubles_up_to_the_maximum(void **state)
{
	(void)state;
	assert_int_equal(as2_send_backoff_us(1, 1000, 60000, 0), 1000000);
	assert_int_equal(as2_send_backoff_us(2, 1000, 60000, 0), 2000000);
	assert_int_equal(as2_send_backoff_us(4, 1000, 60000, 0), 8000000);
	assert_int_equal(as2_send_backoff_us(10, 1000, 5000, 0), 5000000);
	assert_int_equal(as2_send_backoff_us(60, 1000, 5000, 0), 5000000);
}

static void
test_backoff_jitter_takes_off_at_most_a_fifth(void **state)
{
	(void)state;
	assert_int_equal(as2_send_backoff_us(1, 1000, 60000, 0.5), 900000);
	assert_true(as2_send_backoff_us(1, 1000, 60000, 0.9999) > 800000);
	assert_true(as2_send_backoff_us(1, 1000, 60000, 0.9999) <= 1000000);
}

static void
test_message_id_names_the_store_message(void **state)
{
	char mid[256];

	(void)state;
	as2_send_message_id(4711, "ACME Corp (AS2)", mid, sizeof mid);
	assert_memory_equal(mid, "<edigate-4711-", 14);
	assert_string_equal(mid + strlen(mid) - 13, "@ACMECorpAS2>");
	assert_int_equal(as2_send_message_id_parse(mid), 4711);
	assert_int_equal(as2_send_message_id_parse("<edigate-12-ab@x>"), 12);
	assert_int_equal(as2_send_message_id_parse("<1234@partner.example>"), 0);
	assert_int_equal(as2_send_message_id_parse("<edigate-x-1@y>"), 0);
	assert_int_equal(as2_send_message_id_parse("<edigate-77@y>"), 0);
	assert_int_equal(as2_send_message_id_parse(NULL), 0);
}

static void
test_payload_type_comes_from_the_envelope(void **state)
{
	(void)state;
	assert_string_equal(as2_send_payload_type("ISA*00*", 7),
	    "application/edi-x12");
	assert_string_equal(as2_send_payload_type("\r\nISA*00*", 9),
	    "application/edi-x12");
	assert_string_equal(as2_send_payload_type("UNA:+.? '", 9),
	    "application/edifact");
	assert_string_equal(as2_send_payload_type("UNB+UNOA", 8),
	    "application/edifact");
	assert_string_equal(as2_send_payload_type("<xml/>", 6),
	    "application/octet-stream");
	assert_string_equal(as2_send_payload_type("", 0),
	    "application/octet-stream");
}

static as2_mdn
mdn(as2_disposition d, const char *mic)
{
	as2_mdn m;

	memset(&m, 0, sizeof m);
	snprintf(m.original_message_id, sizeof m.original_message_id,
	    "<edigate-1-aa@US>");
	m.disposition = d;
	snprintf(m.mic, sizeof m.mic, "%s", mic);
	return m;
}

static void
test_positive_mdn_with_our_mic_is_delivered(void **state)
{
	char why[200];
	as2_mdn m = mdn(AS2_DISPOSITION_PROCESSED,
	    "/dI+NNRb1+zwCr/wof+O7/Dzl9C1LaHmeXljwHei+l0=, sha-256");

	(void)state;
	/* RFC 4130 spells sha-256; many products write sha256. */
	assert_int_equal(as2_send_judge(&m, "<edigate-1-aa@US>",
	    "/dI+NNRb1+zwCr/wof+O7/Dzl9C1LaHmeXljwHei+l0=, sha256", why,
	    sizeof why), AS2_SEND_VERDICT_DELIVERED);
	m.disposition = AS2_DISPOSITION_WARNING;
	assert_int_equal(as2_send_judge(&m, "<edigate-1-aa@US>",
	    "/dI+NNRb1+zwCr/wof+O7/Dzl9C1LaHmeXljwHei+l0=, sha-256", why,
	    sizeof why), AS2_SEND_VERDICT_DELIVERED);
}

static void
test_mic_mismatch_fails_the_mdn(void **state)
{
	char why[200];
	as2_mdn m = mdn(AS2_DISPOSITION_PROCESSED,
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=, sha-256");

	(void)state;
	assert_int_equal(as2_send_judge(&m, "<edigate-1-aa@US>",
	    "/dI+NNRb1+zwCr/wof+O7/Dzl9C1LaHmeXljwHei+l0=, sha-256", why,
	    sizeof why), AS2_SEND_VERDICT_MDN_FAILED);
	assert_non_null(strstr(why, "MIC mismatch"));
	/* the same digest under another algorithm is no match either */
	m = mdn(AS2_DISPOSITION_PROCESSED,
	    "/dI+NNRb1+zwCr/wof+O7/Dzl9C1LaHmeXljwHei+l0=, sha-384");
	assert_int_equal(as2_send_judge(&m, "<edigate-1-aa@US>",
	    "/dI+NNRb1+zwCr/wof+O7/Dzl9C1LaHmeXljwHei+l0=, sha-256", why,
	    sizeof why), AS2_SEND_VERDICT_MDN_FAILED);
}

static void
test_negative_missing_mic_or_other_message_fails(void **state)
{
	char why[200];
	const char *mic = "/dI+NNRb1+zwCr/wof+O7/Dzl9C1LaHmeXljwHei+l0=, sha-256";
	as2_mdn m = mdn(AS2_DISPOSITION_ERROR, mic);

	(void)state;
	snprintf(m.disposition_field, sizeof m.disposition_field,
	    "automatic-action/MDN-sent-automatically; processed/error: "
	    "decryption-failed");
	assert_int_equal(as2_send_judge(&m, "<edigate-1-aa@US>", mic, why,
	    sizeof why), AS2_SEND_VERDICT_MDN_FAILED);
	assert_non_null(strstr(why, "decryption-failed"));
	m = mdn(AS2_DISPOSITION_FAILED, mic);
	assert_int_equal(as2_send_judge(&m, "<edigate-1-aa@US>", mic, why,
	    sizeof why), AS2_SEND_VERDICT_MDN_FAILED);
	m = mdn(AS2_DISPOSITION_PROCESSED, "");
	assert_int_equal(as2_send_judge(&m, "<edigate-1-aa@US>", mic, why,
	    sizeof why), AS2_SEND_VERDICT_MDN_FAILED);
	m = mdn(AS2_DISPOSITION_PROCESSED, mic);
	assert_int_equal(as2_send_judge(&m, "<edigate-2-bb@US>", mic, why,
	    sizeof why), AS2_SEND_VERDICT_MDN_FAILED);
	/* the brackets are not part of the id */
	assert_int_equal(as2_send_judge(&m, "edigate-1-aa@US", mic, why,
	    sizeof why), AS2_SEND_VERDICT_DELIVERED);
}

static const char *
header(const as2_send_request *r, const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (strcmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

static void
test_plain_request_sends_the_payload_with_the_as2_headers(void **state)
{
	as2_send_profile p;
	as2_send_request r;
	as2_error err;
	BIO *payload = BIO_new_mem_buf("ISA*00~", 7);
	char buf[64] = "";
	FILE *f;
	const char *tmp = getenv("TMPDIR");

	(void)state;
	memset(&p, 0, sizeof p);
	p.from = "EDIGATE";
	p.to = "ACME Retail";
	p.url = "http://127.0.0.1:9/as2";
	p.cipher = -1;
	p.mdn = AS2_SEND_MDN_SYNC;
	p.mic_alg = MIME_MICALG_SHA256;
	p.mic_style = MIME_MICALG_STYLE_DASH;
	assert_int_equal(as2_send_build(&p, payload, "application/edi-x12",
	    "po.edi", "<edigate-1-aa@EDIGATE>", tmp && *tmp ? tmp : "/tmp",
	    &r, &err), AS2_OK);
	/* unsigned, unencrypted: the MIC covers the content alone */
	assert_string_equal(r.mic,
	    "/dI+NNRb1+zwCr/wof+O7/Dzl9C1LaHmeXljwHei+l0=, sha-256");
	assert_string_equal(r.content_type, "application/edi-x12");
	assert_int_equal(r.body_size, 7);
	f = fopen(r.body_path, "rb");
	assert_non_null(f);
	assert_int_equal(fread(buf, 1, sizeof buf, f), 7);
	fclose(f);
	assert_memory_equal(buf, "ISA*00~", 7);
	assert_string_equal(header(&r, "AS2-Version"), "1.2");
	assert_string_equal(header(&r, "AS2-From"), "EDIGATE");
	assert_string_equal(header(&r, "AS2-To"), "\"ACME Retail\"");
	assert_string_equal(header(&r, "Message-ID"), "<edigate-1-aa@EDIGATE>");
	assert_string_equal(header(&r, "Disposition-Notification-Options"),
	    "signed-receipt-micalg=optional, sha-256");
	assert_non_null(header(&r, "Disposition-Notification-To"));
	assert_null(header(&r, "Receipt-Delivery-Option"));
	as2_send_request_cleanup(&r);
	assert_int_not_equal(access(r.tmp_paths[0], F_OK), 0);
	BIO_free(payload);
}

static void
test_async_request_names_our_receipt_url(void **state)
{
	as2_send_profile p;
	as2_send_request r;
	as2_error err;
	BIO *payload = BIO_new_mem_buf("UNB+UNOA'", 9);
	const char *tmp = getenv("TMPDIR");

	(void)state;
	memset(&p, 0, sizeof p);
	p.from = "EDIGATE";
	p.to = "NORDIC";
	p.url = "http://127.0.0.1:9/as2";
	p.receipt_url = "https://as2.example.com/as2/mdn";
	p.cipher = -1;
	p.mdn = AS2_SEND_MDN_ASYNC;
	p.mic_alg = MIME_MICALG_SHA1;
	p.mic_style = MIME_MICALG_STYLE_PLAIN;
	assert_int_equal(as2_send_build(&p, payload, "application/edifact",
	    "d.edi", "<edigate-2-bb@EDIGATE>", tmp && *tmp ? tmp : "/tmp",
	    &r, &err), AS2_OK);
	assert_string_equal(header(&r, "Receipt-Delivery-Option"),
	    "https://as2.example.com/as2/mdn");
	assert_string_equal(header(&r, "Disposition-Notification-Options"),
	    "signed-receipt-micalg=optional, sha1");
	as2_send_request_cleanup(&r);
	BIO_free(payload);
}

static void
test_header_injection_is_refused(void **state)
{
	as2_send_profile p;
	as2_send_request r;
	as2_error err;
	BIO *payload = BIO_new_mem_buf("ISA", 3);

	(void)state;
	memset(&p, 0, sizeof p);
	p.from = "A";
	p.to = "B";
	p.cipher = -1;
	p.mic_alg = MIME_MICALG_SHA256;
	assert_int_equal(as2_send_build(&p, payload, "application/edi-x12",
	    "x\r\nBcc: y", "<m@x>", "/tmp", &r, &err), AS2_ERR_ARGUMENT);
	BIO_free(payload);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_doubles_up_to_the_maximum),
		cmocka_unit_test(test_backoff_jitter_takes_off_at_most_a_fifth),
		cmocka_unit_test(test_message_id_names_the_store_message),
		cmocka_unit_test(test_payload_type_comes_from_the_envelope),
		cmocka_unit_test(test_positive_mdn_with_our_mic_is_delivered),
		cmocka_unit_test(test_mic_mismatch_fails_the_mdn),
		cmocka_unit_test(test_negative_missing_mic_or_other_message_fails),
		cmocka_unit_test(test_plain_request_sends_the_payload_with_the_as2_headers),
		cmocka_unit_test(test_async_request_names_our_receipt_url),
		cmocka_unit_test(test_header_injection_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
