/*
 * as2_unwrap: which bytes come out as the payload, which bytes the MIC
 * covers (RFC 4130 section 7.3.1, RFC 5402 section 4.1), and which
 * failure each broken layer is. Inputs are written by hand; compressed
 * layers are made with as2_compress, which test_as2_cms checks against
 * openssl.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "as2_unwrap.h"

#define ENTITY "Content-Type: application/edi-x12\r\n" \
	"Content-Disposition: attachment; filename=\"po.edi\"\r\n" \
	"\r\n" \
	"ISA*00*~"

static const struct as2_unwrap_keys nokeys = { NULL, NULL, 0 };

static void
assert_bytes(const struct as2_buf *b, const char *expect)
{
	assert_int_equal(b->len, strlen(expect));
	assert_memory_equal(b->p, expect, b->len);
}

/* A CompressedData ContentInfo of text, made by as2_compress. */
static unsigned char *
compress(const void *text, size_t len, size_t *out_len)
{
	BIO *in = BIO_new_mem_buf(text, (int)len), *out = BIO_new(BIO_s_mem());
	as2_error err;
	char *data;
	unsigned char *copy;
	long n;

	assert_int_equal(as2_compress(in, out, 1, &err), AS2_OK);
	n = BIO_get_mem_data(out, &data);
	copy = malloc((size_t)n);
	memcpy(copy, data, (size_t)n);
	*out_len = (size_t)n;
	BIO_free(in);
	BIO_free(out);
	return copy;
}

static void
test_plain_payload_is_itself_and_its_mic_source(void **state)
{
	struct as2_unwrapped u;

	(void)state;
	memset(&u, 0, sizeof(u));
	assert_int_equal(as2_unwrap(&u, &nokeys, 0, "application/edi-x12",
	    NULL, (const unsigned char *)"ISA*00*~", 8), 0);
	assert_bytes(&u.payload, "ISA*00*~");
	assert_bytes(&u.mic_source, "ISA*00*~");
	assert_false(u.is_signed || u.is_encrypted || u.is_compressed);
	assert_string_equal(u.payload_type, "application/edi-x12");
	as2_unwrapped_free(&u);
}

static void
test_base64_transfer_encoding_is_decoded(void **state)
{
	struct as2_unwrapped u;
	const char *b64 = "SVNBKjAwKn4=\r\n";   /* "ISA*00*~" */

	(void)state;
	memset(&u, 0, sizeof(u));
	assert_int_equal(as2_unwrap(&u, &nokeys, 0, "application/edi-x12",
	    "base64", (const unsigned char *)b64, strlen(b64)), 0);
	assert_bytes(&u.payload, "ISA*00*~");
	as2_unwrapped_free(&u);
}

static void
test_compressed_unsigned_mic_covers_the_decompressed_entity(void **state)
{
	struct as2_unwrapped u;
	size_t n;
	unsigned char *z = compress(ENTITY, strlen(ENTITY), &n);

	(void)state;
	memset(&u, 0, sizeof(u));
	assert_int_equal(as2_unwrap(&u, &nokeys, 0,
	    "application/pkcs7-mime; smime-type=compressed-data", NULL, z, n),
	    0);
	assert_true(u.is_compressed);
	assert_bytes(&u.payload, "ISA*00*~");
	assert_bytes(&u.mic_source, ENTITY);
	assert_string_equal(u.filename, "po.edi");
	as2_unwrapped_free(&u);
	free(z);
}

static void
test_compressed_without_smime_type_is_recognised_by_content(void **state)
{
	struct as2_unwrapped u;
	size_t n;
	unsigned char *z = compress(ENTITY, strlen(ENTITY), &n);

	(void)state;
	memset(&u, 0, sizeof(u));
	assert_int_equal(as2_unwrap(&u, &nokeys, 0, "application/pkcs7-mime",
	    NULL, z, n), 0);
	assert_bytes(&u.payload, "ISA*00*~");
	as2_unwrapped_free(&u);
	free(z);
}

static void
test_decompression_over_the_limit_is_refused(void **state)
{
	struct as2_unwrapped u;
	size_t n;
	unsigned char *z = compress(ENTITY, strlen(ENTITY), &n);

	(void)state;
	memset(&u, 0, sizeof(u));
	assert_int_equal(as2_unwrap(&u, &nokeys, 10,
	    "application/pkcs7-mime; smime-type=compressed-data", NULL, z, n),
	    -1);
	assert_int_equal(u.fail, AS2_ERR_LIMIT);
	as2_unwrapped_free(&u);
	free(z);
}

static void
test_more_than_six_layers_are_refused(void **state)
{
	static const char head[] = "Content-Type: application/pkcs7-mime; "
	    "smime-type=compressed-data\r\n\r\n";
	struct as2_unwrapped u;
	unsigned char *cur = (unsigned char *)strdup(ENTITY);
	size_t len = strlen(ENTITY);

	(void)state;
	/* Seven compressions, each wrapped as a MIME entity but the last. */
	for (int i = 0; i < 7; i++) {
		size_t n;
		unsigned char *z = compress(cur, len, &n);
		free(cur);
		if (i == 6) {
			cur = z;
			len = n;
			break;
		}
		cur = malloc(sizeof(head) - 1 + n);
		memcpy(cur, head, sizeof(head) - 1);
		memcpy(cur + sizeof(head) - 1, z, n);
		len = sizeof(head) - 1 + n;
		free(z);
	}
	memset(&u, 0, sizeof(u));
	assert_int_equal(as2_unwrap(&u, &nokeys, 0,
	    "application/pkcs7-mime; smime-type=compressed-data", NULL, cur,
	    len), -1);
	assert_int_equal(u.fail, AS2_ERR_FORMAT);
	assert_non_null(strstr(u.reason, "more than 6 nested layers"));
	as2_unwrapped_free(&u);
	free(cur);
}

static void
test_encrypted_without_our_key_is_decryption_failed(void **state)
{
	struct as2_unwrapped u;

	(void)state;
	memset(&u, 0, sizeof(u));
	assert_int_equal(as2_unwrap(&u, &nokeys, 0,
	    "application/pkcs7-mime; smime-type=enveloped-data", NULL,
	    (const unsigned char *)"\x30\x03\x02\x01\x00", 5), -1);
	assert_int_equal(u.fail, AS2_ERR_DECRYPTION);
	assert_string_equal(as2_status_disposition(u.fail), "decryption-failed");
	as2_unwrapped_free(&u);
}

static void
test_signed_without_partner_certificate_is_authentication_failed(void **state)
{
	static const char body[] =
	    "--b\r\n" ENTITY "\r\n--b\r\n"
	    "Content-Type: application/pkcs7-signature\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n"
	    "MAA=\r\n--b--\r\n";
	struct as2_unwrapped u;

	(void)state;
	memset(&u, 0, sizeof(u));
	assert_int_equal(as2_unwrap(&u, &nokeys, 0, "multipart/signed; "
	    "protocol=\"application/pkcs7-signature\"; micalg=sha256; "
	    "boundary=b", NULL, (const unsigned char *)body,
	    sizeof(body) - 1), -1);
	assert_int_equal(u.fail, AS2_ERR_AUTHENTICATION);
	assert_int_equal(u.sign_style, MIME_MICALG_STYLE_PLAIN);
	as2_unwrapped_free(&u);
}

static void
test_multipart_signed_with_one_part_is_a_format_error(void **state)
{
	static const char body[] = "--b\r\n" ENTITY "\r\n--b--\r\n";
	struct as2_unwrapped u;

	(void)state;
	memset(&u, 0, sizeof(u));
	assert_int_equal(as2_unwrap(&u, &nokeys, 0, "multipart/signed; "
	    "protocol=\"application/pkcs7-signature\"; micalg=sha-256; "
	    "boundary=b", NULL, (const unsigned char *)body,
	    sizeof(body) - 1), -1);
	assert_int_equal(u.fail, AS2_ERR_FORMAT);
	as2_unwrapped_free(&u);
}

static void
test_opaque_signed_data_is_unsupported(void **state)
{
	struct as2_unwrapped u;

	(void)state;
	memset(&u, 0, sizeof(u));
	assert_int_equal(as2_unwrap(&u, &nokeys, 0,
	    "application/pkcs7-mime; smime-type=signed-data", NULL,
	    (const unsigned char *)"\x30\x00", 2), -1);
	assert_int_equal(u.fail, AS2_ERR_UNSUPPORTED);
	as2_unwrapped_free(&u);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_payload_is_itself_and_its_mic_source),
		cmocka_unit_test(test_base64_transfer_encoding_is_decoded),
		cmocka_unit_test(
		    test_compressed_unsigned_mic_covers_the_decompressed_entity),
		cmocka_unit_test(
		    test_compressed_without_smime_type_is_recognised_by_content),
		cmocka_unit_test(test_decompression_over_the_limit_is_refused),
		cmocka_unit_test(test_more_than_six_layers_are_refused),
		cmocka_unit_test(
		    test_encrypted_without_our_key_is_decryption_failed),
		cmocka_unit_test(
		    test_signed_without_partner_certificate_is_authentication_failed),
		cmocka_unit_test(
		    test_multipart_signed_with_one_part_is_a_format_error),
		cmocka_unit_test(test_opaque_signed_data_is_unsupported),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
