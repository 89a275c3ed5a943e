/*
 * fuzz_cms - libFuzzer target for our own BER reading of CMS structures.
 *
 * WHAT IT PROVES
 *   A partner's application/pkcs7-mime body is parsed by our code before
 *   OpenSSL sees it: the outer ContentInfo, EnvelopedData and
 *   AuthEnvelopedData headers (re-encoded for OpenSSL), and the
 *   CompressedData with its chunked OCTET STRING fed to zlib. For any
 *   input: no crash, no out-of-bounds access, no undefined behaviour, and
 *   the decompression output limit holds. Decryption runs with an
 *   identity that matches no recipient, so it parses everything up to the
 *   key choice and stops there, as it would for a stranger's message.
 *
 * BUILD
 *   make fuzz (tests/local.mk has the rules).
 *
 * NEVER
 *   Compares error message texts, or depends on anything but
 *   gateway/as2_cms.h.
 */
#include <stddef.h>
#include <stdint.h>

#include "as2_cms.h"

#define FUZZ_MAX_OUT (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
count_out(BIO *b, uint64_t *n)
{
	*n = (uint64_t)BIO_number_written(b);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	as2_identity nobody = { NULL, NULL };
	BIO *in, *out;
	uint64_t written;

	if (size > INT32_MAX)
		return 0;
	(void)as2_cms_type_of(data, size);

	in = BIO_new_mem_buf(data, (int)size);
	out = BIO_new(BIO_s_null());
	(void)as2_decompress(in, out, FUZZ_MAX_OUT, NULL);
	count_out(out, &written);
	if (written > FUZZ_MAX_OUT)
		__builtin_trap();
	BIO_free(in);
	BIO_free(out);

	in = BIO_new_mem_buf(data, (int)size);
	out = BIO_new(BIO_s_null());
	if (as2_decrypt(in, out, &nobody, 1, NULL, NULL) == AS2_OK)
		__builtin_trap();   /* nobody can decrypt */
	BIO_free(in);
	BIO_free(out);

	in = BIO_new_mem_buf("content", 7);
	if (as2_verify(data, size, in, NULL, 0, NULL, NULL) == AS2_OK)
		__builtin_trap();   /* no certificate, no valid signature */
	BIO_free(in);
	return 0;
}
