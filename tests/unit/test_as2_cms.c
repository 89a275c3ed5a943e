/*
 * test_as2_cms - AS2 message security against the openssl command line as
 * an independent peer: throwaway RSA-2048 certificates made with
 * `openssl req -x509`, signatures and envelopes made by `openssl cms` and
 * checked by us, ours checked by `openssl cms`, CompressedData checked
 * with `openssl cms -cmsout -print` and a vector built with
 * `openssl asn1parse -genconf`. Expected digests are FIPS 180 examples or
 * computed by `openssl dgst`, never by the code under test.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <zlib.h>

#include "as2_cms.h"
#include "mime.h"

static char dir[64];   /* shared by all tests: keys are made once */
static X509 *our_cert, *partner_cert, *other_cert;
static EVP_PKEY *our_key, *partner_key;
static STACK_OF(X509) *partner_certs;
static as2_identity us;

#define ENTITY "Content-Type: application/edi-x12\r\n" \
	"Content-Disposition: attachment; filename=po.edi\r\n\r\n" \
	"ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER" \
	"       *261123*1000*U*00401*000000101*0*P*>~\r\nGS*PO*S*R*20261123" \
	"*1000*101*X*004010~\r\n"

static int
run(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return rc;
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
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = 0;
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static int
make_cert(const char *name)
{
	return run("openssl req -x509 -newkey rsa:2048 -nodes -days 30 "
	    "-subj /CN=%s -keyout %s/%s.key -out %s/%s.crt 2>/dev/null",
	    name, dir, name, dir, name);
}

static int
group_setup(void **state)
{
	as2_error err;

	snprintf(dir, sizeof(dir), "/tmp/edigate-as2-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	if (make_cert("us") || make_cert("partner") || make_cert("other"))
		return -1;
	if (as2_load_cert(path("us.crt"), &our_cert, &err) ||
	    as2_load_cert(path("partner.crt"), &partner_cert, &err) ||
	    as2_load_cert(path("other.crt"), &other_cert, &err) ||
	    as2_load_key(path("us.key"), &our_key, &err) ||
	    as2_load_key(path("partner.key"), &partner_key, &err))
		return -1;
	partner_certs = sk_X509_new_null();
	sk_X509_push(partner_certs, partner_cert);
	us.cert = our_cert;
	us.key = our_key;
	return 0;
}

static int
group_teardown(void **state)
{
	sk_X509_free(partner_certs);
	X509_free(our_cert);
	X509_free(partner_cert);
	X509_free(other_cert);
	EVP_PKEY_free(our_key);
	EVP_PKEY_free(partner_key);
	return run("rm -rf '%s'", dir) == 0 ? 0 : -1;
}

/* base64 with CRLF line ends, as a MIME part carries it */
static size_t
b64_lines(const unsigned char *der, size_t len, char *out)
{
	size_t i, o = 0;

	for (i = 0; i < len; i += 57) {
		size_t take = len - i < 57 ? len - i : 57;
		o += (size_t)EVP_EncodeBlock((unsigned char *)out + o, der + i,
		    (int)take);
		out[o++] = '\r';
		out[o++] = '\n';
	}
	out[o] = 0;
	return o;
}

/* Builds multipart/signed by hand around entity and the DER signature. */
static char *
build_multipart(const char *entity, size_t elen, const unsigned char *sig,
    size_t slen, const char *nl, const char *cte, size_t *out_len)
{
	char *out = malloc(elen + slen * 2 + 1024);
	size_t o = 0;

	o += (size_t)sprintf(out + o, "--b1_7e5f%s", nl);
	memcpy(out + o, entity, elen);
	o += elen;
	o += (size_t)sprintf(out + o, "%s--b1_7e5f%sContent-Type: application/"
	    "pkcs7-signature; name=smime.p7s%sContent-Transfer-Encoding: %s%s%s",
	    nl, nl, nl, cte, nl, nl);
	if (strcmp(cte, "binary") == 0) {
		memcpy(out + o, sig, slen);
		o += slen;
	} else {
		o += b64_lines(sig, slen, out + o);
	}
	o += (size_t)sprintf(out + o, "%s--b1_7e5f--%s", nl, nl);
	*out_len = o;
	return out;
}

struct split {
	unsigned char *content;
	size_t len;
};

static int
collect(void *ctx, const void *data, size_t len)
{
	struct split *s = ctx;

	s->content = realloc(s->content, s->len + len);
	memcpy(s->content + s->len, data, len);
	s->len += len;
	return 0;
}

/* Splits with our parser, chunk bytes at a time. */
static mime_status
split_signed(const char *body, size_t len, size_t chunk, struct split *out,
    mime_signed *ms)
{
	mime_content_type ct;
	mime_status st;
	size_t i;

	memset(out, 0, sizeof(*out));
	assert_int_equal(mime_content_type_parse("multipart/signed; protocol="
	    "\"application/pkcs7-signature\"; micalg=sha-256; boundary="
	    "\"b1_7e5f\"", &ct, NULL), MIME_OK);
	assert_int_equal(mime_signed_init(ms, &ct, collect, out, 0, NULL),
	    MIME_OK);
	mime_content_type_free(&ct);
	for (i = 0; i < len; i += chunk) {
		st = mime_signed_feed(ms, body + i, len - i < chunk ? len - i :
		    chunk, NULL);
		if (st != MIME_OK)
			return st;
	}
	return mime_signed_finish(ms, NULL);
}

static as2_status
verify_bytes(const unsigned char *sig, size_t slen, const void *content,
    size_t clen, STACK_OF(X509) *certs, time_t now, as2_verify_result *res)
{
	BIO *b = BIO_new_mem_buf(content, (int)clen);
	as2_error err;
	as2_status st = as2_verify(sig, slen, b, certs, now, res, &err);

	BIO_free(b);
	return st;
}

/* openssl dgst of a file, as base64 */
static void
openssl_digest_b64(const char *md, const char *file, char *out, size_t cap)
{
	FILE *p;
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "openssl dgst -%s -binary %s | openssl "
	    "base64 -A", md, path(file));
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(out, (int)cap, p));
	pclose(p);
	out[strcspn(out, "\n")] = 0;
}

static void
openssl_signed_verifies(const char *md, mime_micalg alg,
    const char *dash_name)
{
	unsigned char *sig;
	size_t slen, blen;
	char *body, expect[200], mic[AS2_MIC_MAX], dgst[128];
	struct split sp;
	mime_signed ms;
	as2_verify_result res;
	size_t chunks[] = { 1, 7, 4096, 1 << 20 }, c;

	write_file("entity", ENTITY, sizeof(ENTITY) - 1);
	assert_int_equal(run("openssl cms -sign -binary -md %s -outform DER "
	    "-in %s -signer %s -inkey %s -out %s", md, path("entity"),
	    path("partner.crt"), path("partner.key"), path("sig.der")), 0);
	sig = read_file("sig.der", &slen);
	body = build_multipart(ENTITY, sizeof(ENTITY) - 1, sig, slen, "\r\n",
	    "base64", &blen);
	for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		assert_int_equal(split_signed(body, blen, chunks[c], &sp, &ms),
		    MIME_OK);
		/* the CRLF before the delimiter is not part of the entity */
		assert_int_equal(sp.len, sizeof(ENTITY) - 1);
		assert_memory_equal(sp.content, ENTITY, sp.len);
		assert_int_equal(ms.signature_len, slen);
		assert_memory_equal(ms.signature, sig, slen);
		assert_int_equal(verify_bytes(ms.signature, ms.signature_len,
		    sp.content, sp.len, partner_certs, 0, &res), AS2_OK);
		assert_int_equal(res.digest, alg);
		mime_signed_free(&ms);
		free(sp.content);
	}
	/* MIC over the signed entity = messageDigest = openssl dgst */
	openssl_digest_b64(md, "entity", dgst, sizeof(dgst));
	snprintf(expect, sizeof(expect), "%s, %s", dgst, dash_name);
	assert_int_equal(as2_mic_format(res.message_digest,
	    res.message_digest_len, alg, MIME_MICALG_STYLE_DASH, mic,
	    sizeof(mic), NULL), AS2_OK);
	assert_string_equal(mic, expect);
	free(body);
	free(sig);
}

static void
test_openssl_sha1_signature_verifies(void **state)
{
	openssl_signed_verifies("sha1", MIME_MICALG_SHA1, "sha-1");
}

static void
test_openssl_sha256_signature_verifies(void **state)
{
	openssl_signed_verifies("sha256", MIME_MICALG_SHA256, "sha-256");
}

static void
test_openssl_sha384_signature_verifies(void **state)
{
	openssl_signed_verifies("sha384", MIME_MICALG_SHA384, "sha-384");
}

static void
test_openssl_sha512_signature_verifies(void **state)
{
	openssl_signed_verifies("sha512", MIME_MICALG_SHA512, "sha-512");
}

static void
our_signature_verifies_with_openssl(mime_micalg alg, const char *md)
{
	BIO *in = BIO_new_mem_buf(ENTITY, sizeof(ENTITY) - 1);
	unsigned char *der;
	size_t len;
	as2_error err;
	char cmd_md[64];

	assert_int_equal(as2_sign(in, our_cert, our_key, NULL, alg, &der,
	    &len, &err), AS2_OK);
	BIO_free(in);
	write_file("entity", ENTITY, sizeof(ENTITY) - 1);
	write_file("our.p7s", der, len);
	OPENSSL_free(der);
	assert_int_equal(run("openssl cms -verify -binary -inform DER -in %s "
	    "-content %s -CAfile %s -purpose any -out /dev/null 2>/dev/null",
	    path("our.p7s"), path("entity"), path("us.crt")), 0);
	/* the digest algorithm in the signer info is the one asked for */
	snprintf(cmd_md, sizeof(cmd_md), "%s", md);
	assert_int_equal(run("openssl cms -cmsout -print -inform DER -in %s | "
	    "grep -q 'algorithm: %s'", path("our.p7s"), cmd_md), 0);
	/* and a changed content fails with openssl too */
	write_file("entity", ENTITY "x", sizeof(ENTITY));
	assert_int_not_equal(run("openssl cms -verify -binary -inform DER -in "
	    "%s -content %s -CAfile %s -purpose any -out /dev/null "
	    "2>/dev/null", path("our.p7s"), path("entity"), path("us.crt")), 0);
}

static void
test_our_sha1_signature_verifies_with_openssl(void **state)
{
	our_signature_verifies_with_openssl(MIME_MICALG_SHA1, "sha1");
}

static void
test_our_sha256_signature_verifies_with_openssl(void **state)
{
	our_signature_verifies_with_openssl(MIME_MICALG_SHA256, "sha256");
}

static void
test_our_sha384_signature_verifies_with_openssl(void **state)
{
	our_signature_verifies_with_openssl(MIME_MICALG_SHA384, "sha384");
}

static void
test_our_sha512_signature_verifies_with_openssl(void **state)
{
	our_signature_verifies_with_openssl(MIME_MICALG_SHA512, "sha512");
}

static void
test_written_multipart_signed_splits_and_verifies_with_openssl(void **state)
{
	BIO *in = BIO_new_mem_buf(ENTITY, sizeof(ENTITY) - 1);
	BIO *out = BIO_new(BIO_s_mem());
	char *ct = NULL, mic[AS2_MIC_MAX], dgst[128], expect[200];
	char *data;
	long n;
	mime_content_type pct;
	mime_signed ms;
	struct split sp = { 0 };
	as2_error err;

	assert_int_equal(as2_write_signed(in, out, our_cert, our_key, NULL,
	    MIME_MICALG_SHA256, MIME_MICALG_STYLE_PLAIN, &ct, mic, &err),
	    AS2_OK);
	assert_non_null(strstr(ct, "micalg=sha256;"));
	n = BIO_get_mem_data(out, &data);
	assert_int_equal(mime_content_type_parse(ct, &pct, NULL), MIME_OK);
	assert_int_equal(mime_signed_init(&ms, &pct, collect, &sp, 0, NULL),
	    MIME_OK);
	assert_int_equal(mime_signed_feed(&ms, data, (size_t)n, NULL), MIME_OK);
	assert_int_equal(mime_signed_finish(&ms, NULL), MIME_OK);
	assert_int_equal(sp.len, sizeof(ENTITY) - 1);
	assert_memory_equal(sp.content, ENTITY, sp.len);
	write_file("entity", sp.content, sp.len);
	write_file("our.p7s", ms.signature, ms.signature_len);
	assert_int_equal(run("openssl cms -verify -binary -inform DER -in %s "
	    "-content %s -CAfile %s -purpose any -out /dev/null 2>/dev/null",
	    path("our.p7s"), path("entity"), path("us.crt")), 0);
	openssl_digest_b64("sha256", "entity", dgst, sizeof(dgst));
	snprintf(expect, sizeof(expect), "%s, sha256", dgst);
	assert_string_equal(mic, expect);
	mime_signed_free(&ms);
	mime_content_type_free(&pct);
	free(sp.content);
	free(ct);
	BIO_free(in);
	BIO_free(out);
}

static void
test_tampered_body_is_an_integrity_failure(void **state)
{
	unsigned char *sig;
	size_t slen;
	char tampered[] = ENTITY;

	write_file("entity", ENTITY, sizeof(ENTITY) - 1);
	assert_int_equal(run("openssl cms -sign -binary -md sha256 -outform "
	    "DER -in %s -signer %s -inkey %s -out %s", path("entity"),
	    path("partner.crt"), path("partner.key"), path("sig.der")), 0);
	sig = read_file("sig.der", &slen);
	tampered[sizeof(ENTITY) - 5] ^= 1;
	assert_int_equal(verify_bytes(sig, slen, tampered, sizeof(ENTITY) - 1,
	    partner_certs, 0, NULL), AS2_ERR_INTEGRITY);
	assert_string_equal(as2_status_disposition(AS2_ERR_INTEGRITY),
	    "integrity-check-failed");
	free(sig);
}

static void
test_wrong_certificate_is_an_authentication_failure(void **state)
{
	STACK_OF(X509) *wrong = sk_X509_new_null();
	unsigned char *sig;
	size_t slen;

	sk_X509_push(wrong, other_cert);
	write_file("entity", ENTITY, sizeof(ENTITY) - 1);
	assert_int_equal(run("openssl cms -sign -binary -md sha256 -outform "
	    "DER -in %s -signer %s -inkey %s -out %s", path("entity"),
	    path("partner.crt"), path("partner.key"), path("sig.der")), 0);
	sig = read_file("sig.der", &slen);
	assert_int_equal(verify_bytes(sig, slen, ENTITY, sizeof(ENTITY) - 1,
	    wrong, 0, NULL), AS2_ERR_AUTHENTICATION);
	assert_int_equal(verify_bytes(sig, slen, ENTITY, sizeof(ENTITY) - 1,
	    NULL, 0, NULL), AS2_ERR_AUTHENTICATION);
	assert_string_equal(as2_status_disposition(AS2_ERR_AUTHENTICATION),
	    "authentication-failed");
	sk_X509_free(wrong);
	free(sig);
}

static void
test_any_valid_certificate_of_a_rotation_verifies(void **state)
{
	STACK_OF(X509) *both = sk_X509_new_null();
	as2_verify_result res;
	unsigned char *sig;
	size_t slen;

	sk_X509_push(both, other_cert);
	sk_X509_push(both, partner_cert);
	write_file("entity", ENTITY, sizeof(ENTITY) - 1);
	assert_int_equal(run("openssl cms -sign -binary -md sha256 -outform "
	    "DER -in %s -signer %s -inkey %s -out %s", path("entity"),
	    path("partner.crt"), path("partner.key"), path("sig.der")), 0);
	sig = read_file("sig.der", &slen);
	assert_int_equal(verify_bytes(sig, slen, ENTITY, sizeof(ENTITY) - 1,
	    both, 0, &res), AS2_OK);
	assert_int_equal(res.signer_index, 1);
	/* 60 days on, the 30-day certificate is no longer valid */
	assert_int_equal(verify_bytes(sig, slen, ENTITY, sizeof(ENTITY) - 1,
	    both, time(NULL) + 60 * 86400, NULL), AS2_ERR_AUTHENTICATION);
	sk_X509_free(both);
	free(sig);
}

static void
test_lf_only_multipart_with_binary_signature_verifies(void **state)
{
	static const char entity[] = "Content-Type: application/edi-x12\n\n"
	    "UNA:+.? 'UNB+UNOC:3+S+R+261123:1000+1'\n";
	unsigned char *sig;
	size_t slen, blen;
	char *body;
	struct split sp;
	mime_signed ms;

	write_file("entity", entity, sizeof(entity) - 1);
	assert_int_equal(run("openssl cms -sign -binary -md sha256 -outform "
	    "DER -in %s -signer %s -inkey %s -out %s", path("entity"),
	    path("partner.crt"), path("partner.key"), path("sig.der")), 0);
	sig = read_file("sig.der", &slen);
	body = build_multipart(entity, sizeof(entity) - 1, sig, slen, "\n",
	    "binary", &blen);
	assert_int_equal(split_signed(body, blen, 3, &sp, &ms), MIME_OK);
	assert_int_equal(sp.len, sizeof(entity) - 1);
	assert_int_equal(verify_bytes(ms.signature, ms.signature_len,
	    sp.content, sp.len, partner_certs, 0, NULL), AS2_OK);
	mime_signed_free(&ms);
	free(sp.content);
	free(body);
	free(sig);
}

static void
test_mic_of_abc_is_the_fips_example(void **state)
{
	as2_mic m;
	char mic[AS2_MIC_MAX];

	/* FIPS 180-2 B.1: SHA-256("abc") = ba7816bf...15ad, in base64 */
	assert_int_equal(as2_mic_init(&m, MIME_MICALG_SHA256, NULL), AS2_OK);
	as2_mic_update(&m, "ab", 2);
	as2_mic_update(&m, "c", 1);
	assert_int_equal(as2_mic_final(&m, MIME_MICALG_STYLE_PLAIN, mic,
	    sizeof(mic), NULL), AS2_OK);
	as2_mic_free(&m);
	assert_string_equal(mic,
	    "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=, sha256");
	assert_true(as2_mic_equal(mic,
	    " ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0= ,SHA-256"));
	assert_false(as2_mic_equal(mic,
	    "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=, sha-1"));
	assert_false(as2_mic_equal(mic,
	    "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa1=, sha256"));
}

static void
decrypt_openssl(const char *flag, as2_cipher expect, int stream)
{
	BIO *in, *out;
	as2_error err;
	as2_cipher used;
	char *data;
	long n;

	write_file("entity", ENTITY, sizeof(ENTITY) - 1);
	assert_int_equal(run("openssl cms -encrypt -binary %s %s -outform DER "
	    "-in %s -out %s %s", flag, stream ? "-stream" : "",
	    path("entity"), path("enc.der"), path("us.crt")), 0);
	in = BIO_new_file(path("enc.der"), "rb");
	out = BIO_new(BIO_s_mem());
	assert_int_equal(as2_decrypt(in, out, &us, 1, &used, &err),
	    AS2_OK);
	assert_int_equal(used, expect);
	n = BIO_get_mem_data(out, &data);
	assert_int_equal(n, sizeof(ENTITY) - 1);
	assert_memory_equal(data, ENTITY, (size_t)n);
	BIO_free(in);
	BIO_free(out);
}

static void
encrypt_for_openssl(as2_cipher cipher, const char *name)
{
	BIO *in = BIO_new_mem_buf(ENTITY, sizeof(ENTITY) - 1);
	BIO *out = BIO_new_file(path("ours.der"), "wb");
	STACK_OF(X509) *r = sk_X509_new_null();
	unsigned char *plain;
	size_t len;
	as2_error err;

	sk_X509_push(r, partner_cert);
	assert_int_equal(as2_encrypt(in, out, r, cipher, &err), AS2_OK);
	BIO_free(out);
	BIO_free(in);
	sk_X509_free(r);
	assert_int_equal(run("openssl cms -decrypt -binary -inform DER -in %s "
	    "-recip %s -inkey %s -out %s", path("ours.der"),
	    path("partner.crt"), path("partner.key"), path("plain")), 0);
	plain = read_file("plain", &len);
	assert_int_equal(len, sizeof(ENTITY) - 1);
	assert_memory_equal(plain, ENTITY, len);
	free(plain);
	assert_int_equal(run("openssl cms -cmsout -print -inform DER -in %s | "
	    "grep -q 'algorithm: %s'", path("ours.der"), name), 0);
}

static void
test_openssl_3des_decrypts(void **state)
{
	decrypt_openssl("-des3", AS2_CIPHER_3DES, 0);
}

static void
test_openssl_aes128_cbc_decrypts(void **state)
{
	decrypt_openssl("-aes128", AS2_CIPHER_AES128_CBC, 0);
}

static void
test_openssl_aes192_cbc_decrypts(void **state)
{
	decrypt_openssl("-aes192", AS2_CIPHER_AES192_CBC, 1);
}

static void
test_openssl_aes256_cbc_streamed_ber_decrypts(void **state)
{
	decrypt_openssl("-aes256", AS2_CIPHER_AES256_CBC, 1);
}

static void
test_openssl_aes128_gcm_decrypts(void **state)
{
	decrypt_openssl("-aes-128-gcm", AS2_CIPHER_AES128_GCM, 0);
}

static void
test_openssl_aes256_gcm_decrypts(void **state)
{
	decrypt_openssl("-aes-256-gcm", AS2_CIPHER_AES256_GCM, 0);
}

static void
test_3des_encrypts_for_openssl(void **state)
{
	encrypt_for_openssl(AS2_CIPHER_3DES, "des-ede3-cbc");
}

static void
test_aes128_cbc_encrypts_for_openssl(void **state)
{
	encrypt_for_openssl(AS2_CIPHER_AES128_CBC, "aes-128-cbc");
}

static void
test_aes192_cbc_encrypts_for_openssl(void **state)
{
	encrypt_for_openssl(AS2_CIPHER_AES192_CBC, "aes-192-cbc");
}

static void
test_aes256_cbc_encrypts_for_openssl(void **state)
{
	encrypt_for_openssl(AS2_CIPHER_AES256_CBC, "aes-256-cbc");
}

static void
test_aes128_gcm_encrypts_for_openssl(void **state)
{
	encrypt_for_openssl(AS2_CIPHER_AES128_GCM, "aes-128-gcm");
}

static void
test_aes256_gcm_encrypts_for_openssl(void **state)
{
	encrypt_for_openssl(AS2_CIPHER_AES256_GCM, "aes-256-gcm");
}

static void
test_message_for_another_key_is_a_decryption_failure(void **state)
{
	BIO *in, *out;
	as2_error err;

	write_file("entity", ENTITY, sizeof(ENTITY) - 1);
	assert_int_equal(run("openssl cms -encrypt -binary -aes256 -outform "
	    "DER -in %s -out %s %s", path("entity"), path("enc.der"),
	    path("other.crt")), 0);
	in = BIO_new_file(path("enc.der"), "rb");
	out = BIO_new(BIO_s_mem());
	assert_int_equal(as2_decrypt(in, out, &us, 1, NULL, &err),
	    AS2_ERR_DECRYPTION);
	assert_string_equal(as2_status_disposition(err.code),
	    "decryption-failed");
	BIO_free(in);
	BIO_free(out);
}

static void
test_truncated_envelope_is_rejected(void **state)
{
	unsigned char *der;
	size_t len, cut;
	BIO *in, *out;
	as2_status st;

	write_file("entity", ENTITY, sizeof(ENTITY) - 1);
	assert_int_equal(run("openssl cms -encrypt -binary -aes256 -outform "
	    "DER -in %s -out %s %s", path("entity"), path("enc.der"),
	    path("us.crt")), 0);
	der = read_file("enc.der", &len);
	for (cut = 0; cut < len; cut += 7) {
		in = BIO_new_mem_buf(der, (int)cut);
		out = BIO_new(BIO_s_mem());
		st = as2_decrypt(in, out, &us, 1, NULL, NULL);
		assert_int_not_equal(st, AS2_OK);
		BIO_free(in);
		BIO_free(out);
	}
	free(der);
}

static void
test_large_decrypt_keeps_memory_flat(void **state)
{
	struct rusage before, after;
	BIO *in, *out;
	as2_error err;

	/* 64 MiB of ciphertext: holding it would show in the peak RSS */
	assert_int_equal(run("head -c 67108864 /dev/zero > %s && openssl cms "
	    "-encrypt -binary -aes256 -stream -outform DER -in %s -out %s %s",
	    path("big"), path("big"), path("big.der"), path("us.crt")), 0);
	getrusage(RUSAGE_SELF, &before);
	in = BIO_new_file(path("big.der"), "rb");
	out = BIO_new_file(path("big.out"), "wb");
	assert_int_equal(as2_decrypt(in, out, &us, 1, NULL, &err),
	    AS2_OK);
	BIO_free(in);
	BIO_free(out);
	getrusage(RUSAGE_SELF, &after);
	assert_true(after.ru_maxrss - before.ru_maxrss < 16 * 1024);
	assert_int_equal(run("cmp -s %s %s", path("big"), path("big.out")), 0);
	run("rm -f %s %s %s", path("big"), path("big.der"), path("big.out"));
}

static void
test_rotation_of_our_key_picks_the_addressed_one(void **state)
{
	as2_identity ids[2];
	EVP_PKEY *partner_key2 = NULL;
	BIO *in, *out;
	as2_error err;
	char *data;
	long n;

	assert_int_equal(as2_load_key(path("partner.key"), &partner_key2, &err),
	    AS2_OK);
	ids[0].cert = partner_cert;   /* a key the message is not for */
	ids[0].key = partner_key2;
	ids[1] = us;
	write_file("entity", ENTITY, sizeof(ENTITY) - 1);
	assert_int_equal(run("openssl cms -encrypt -binary -aes128 -outform "
	    "DER -in %s -out %s %s", path("entity"), path("enc.der"),
	    path("us.crt")), 0);
	in = BIO_new_file(path("enc.der"), "rb");
	out = BIO_new(BIO_s_mem());
	assert_int_equal(as2_decrypt(in, out, ids, 2, NULL, &err), AS2_OK);
	n = BIO_get_mem_data(out, &data);
	assert_int_equal(n, sizeof(ENTITY) - 1);
	BIO_free(in);
	BIO_free(out);
	EVP_PKEY_free(partner_key2);
}

static void
test_large_verify_and_compression_keep_memory_flat(void **state)
{
	struct rusage before, after;
	unsigned char *sig;
	size_t slen;
	BIO *in, *out;
	as2_error err;

	assert_int_equal(run("head -c 67108864 /dev/urandom > %s && openssl "
	    "cms -sign -binary -md sha256 -outform DER -in %s -signer %s "
	    "-inkey %s -out %s", path("big"), path("big"), path("partner.crt"),
	    path("partner.key"), path("big.p7s")), 0);
	sig = read_file("big.p7s", &slen);
	getrusage(RUSAGE_SELF, &before);
	in = BIO_new_file(path("big"), "rb");
	assert_int_equal(as2_verify(sig, slen, in, partner_certs, 0, NULL,
	    &err), AS2_OK);
	BIO_free(in);
	in = BIO_new_file(path("big"), "rb");
	out = BIO_new_file(path("big.z"), "wb");
	assert_int_equal(as2_compress(in, out, 0, &err), AS2_OK);
	BIO_free(in);
	BIO_free(out);
	in = BIO_new_file(path("big.z"), "rb");
	out = BIO_new_file(path("big.out"), "wb");
	assert_int_equal(as2_decompress(in, out, 0, &err), AS2_OK);
	BIO_free(in);
	BIO_free(out);
	getrusage(RUSAGE_SELF, &after);
	assert_true(after.ru_maxrss - before.ru_maxrss < 16 * 1024);
	assert_int_equal(run("cmp -s %s %s", path("big"), path("big.out")), 0);
	run("rm -f %s %s %s %s", path("big"), path("big.p7s"), path("big.z"),
	    path("big.out"));
	free(sig);
}

static void
compress_parses_with_openssl(int definite)
{
	BIO *in = BIO_new_mem_buf(ENTITY, sizeof(ENTITY) - 1);
	BIO *out = BIO_new_file(path("comp.der"), "wb");
	BIO *back;
	as2_error err;
	char *data;
	long n;

	assert_int_equal(as2_compress(in, out, definite, &err), AS2_OK);
	BIO_free(out);
	BIO_free(in);
	assert_int_equal(run("openssl cms -cmsout -print -inform DER -in %s "
	    "> %s", path("comp.der"), path("comp.txt")), 0);
	assert_int_equal(run("grep -q 'contentType: id-smime-ct-compressedData"
	    " (1.2.840.113549.1.9.16.1.9)' %s && grep -q 'algorithm: zlib "
	    "compression (1.2.840.113549.1.9.16.3.8)' %s && grep -q 'eContentType: "
	    "pkcs7-data' %s", path("comp.txt"), path("comp.txt"),
	    path("comp.txt")), 0);
	if (definite)
		assert_int_equal(run("openssl asn1parse -inform DER -in %s | "
		    "grep -q 'l=inf'", path("comp.der")), 1 << 8);
	in = BIO_new_file(path("comp.der"), "rb");
	back = BIO_new(BIO_s_mem());
	assert_int_equal(as2_decompress(in, back, 0, &err), AS2_OK);
	n = BIO_get_mem_data(back, &data);
	assert_int_equal(n, sizeof(ENTITY) - 1);
	assert_memory_equal(data, ENTITY, (size_t)n);
	BIO_free(in);
	BIO_free(back);
}

static void
test_streamed_compressed_data_parses_with_openssl(void **state)
{
	compress_parses_with_openssl(0);
}

static void
test_definite_compressed_data_parses_with_openssl(void **state)
{
	compress_parses_with_openssl(1);
}

/* zlib data made by zlib itself, framed by openssl asn1parse -genconf */
static void
genconf_vector(const char *text, int chunked, unsigned char *hexbuf)
{
	unsigned char z[512];
	uLongf zlen = sizeof(z);
	char hex[1100];
	FILE *f;
	size_t i;

	assert_int_equal(compress(z, &zlen, (const Bytef *)text,
	    strlen(text)), Z_OK);
	for (i = 0; i < zlen; i++)
		sprintf(hex + 2 * i, "%02X", z[i]);
	f = fopen(path("vector.cnf"), "w");
	assert_non_null(f);
	fprintf(f, "asn1=SEQUENCE:ci\n[ci]\ntype=OID:1.2.840.113549.1.9.16.1.9\n"
	    "content=EXPLICIT:0,SEQUENCE:cd\n[cd]\nversion=INTEGER:0\n"
	    "alg=SEQUENCE:alg\neci=SEQUENCE:eci\n"
	    "[alg]\noid=OID:1.2.840.113549.1.9.16.3.8\n"
	    "[eci]\ntype=OID:1.2.840.113549.1.7.1\n");
	if (!chunked) {
		fprintf(f, "content=EXPLICIT:0,FORMAT:HEX,OCTETSTRING:%s\n", hex);
	} else {
		/* a constructed OCTET STRING of two chunks, as BER allows */
		size_t half = zlen / 2;
		fprintf(f, "content=EXPLICIT:0,IMPLICIT:4U,SEQUENCE:chunks\n"
		    "[chunks]\nc1=FORMAT:HEX,OCTETSTRING:%.*s\n"
		    "c2=FORMAT:HEX,OCTETSTRING:%s\n", (int)(2 * half), hex,
		    hex + 2 * half);
	}
	fclose(f);
	(void)hexbuf;
	assert_int_equal(run("openssl asn1parse -genconf %s -out %s "
	    ">/dev/null", path("vector.cnf"), path("vector.der")), 0);
}

static void
genconf_vector_decompresses(int chunked)
{
	static const char text[] = "UNB+UNOC:3+SENDER+RECEIVER+261123:1000+1'"
	    "UNH+1+ORDERS:D:96A:UN'BGM+220+PO1+9'UNT+3+1'UNZ+1+1'";
	BIO *in, *out;
	as2_error err;
	char *data;
	long n;

	genconf_vector(text, chunked, NULL);
	in = BIO_new_file(path("vector.der"), "rb");
	out = BIO_new(BIO_s_mem());
	assert_int_equal(as2_decompress(in, out, 0, &err), AS2_OK);
	n = BIO_get_mem_data(out, &data);
	assert_int_equal(n, sizeof(text) - 1);
	assert_memory_equal(data, text, (size_t)n);
	BIO_free(in);
	BIO_free(out);
	/* a limit below the content size stops it */
	in = BIO_new_file(path("vector.der"), "rb");
	out = BIO_new(BIO_s_mem());
	assert_int_equal(as2_decompress(in, out, 10, &err), AS2_ERR_LIMIT);
	BIO_free(in);
	BIO_free(out);
}

static void
test_highly_compressible_content_round_trips(void **state)
{
	BIO *in, *out;
	as2_error err;

	/* 8 MiB of zeros inflate to far more than one buffer per chunk */
	assert_int_equal(run("head -c 8388608 /dev/zero > %s", path("zeros")),
	    0);
	in = BIO_new_file(path("zeros"), "rb");
	out = BIO_new_file(path("zeros.z"), "wb");
	assert_int_equal(as2_compress(in, out, 0, &err), AS2_OK);
	BIO_free(in);
	BIO_free(out);
	in = BIO_new_file(path("zeros.z"), "rb");
	out = BIO_new_file(path("zeros.out"), "wb");
	assert_int_equal(as2_decompress(in, out, 0, &err), AS2_OK);
	BIO_free(in);
	BIO_free(out);
	assert_int_equal(run("cmp -s %s %s", path("zeros"), path("zeros.out")),
	    0);
	/* and our stream decompresses with zlib outside edigate too */
	assert_int_equal(run("openssl cms -cmsout -print -inform DER -in %s "
	    ">/dev/null", path("zeros.z")), 0);
	in = BIO_new_file(path("zeros.z"), "rb");
	out = BIO_new(BIO_s_null());
	assert_int_equal(as2_decompress(in, out, 1 << 20, &err), AS2_ERR_LIMIT);
	BIO_free(in);
	BIO_free(out);
}

static void
test_genconf_compressed_vector_decompresses(void **state)
{
	genconf_vector_decompresses(0);
}

static void
test_genconf_chunked_compressed_vector_decompresses(void **state)
{
	genconf_vector_decompresses(1);
}

static void
test_corrupt_zlib_is_a_decompression_failure(void **state)
{
	unsigned char *der;
	size_t len;
	BIO *in, *out;

	genconf_vector("some text to compress, some text to compress", 0, NULL);
	der = read_file("vector.der", &len);
	der[len - 6] ^= 0x55;   /* inside the deflate data / adler32 */
	in = BIO_new_mem_buf(der, (int)len);
	out = BIO_new(BIO_s_mem());
	assert_int_equal(as2_decompress(in, out, 0, NULL),
	    AS2_ERR_DECOMPRESSION);
	BIO_free(in);
	BIO_free(out);
	free(der);
}

static void
test_cms_type_is_read_from_the_first_bytes(void **state)
{
	unsigned char *der;
	size_t len;

	write_file("entity", ENTITY, sizeof(ENTITY) - 1);
	assert_int_equal(run("openssl cms -encrypt -binary -aes256 -outform "
	    "DER -in %s -out %s %s", path("entity"), path("enc.der"),
	    path("us.crt")), 0);
	der = read_file("enc.der", &len);
	assert_int_equal(as2_cms_type_of(der, 32), AS2_CMS_ENVELOPED);
	free(der);
	genconf_vector("x", 0, NULL);
	der = read_file("vector.der", &len);
	assert_int_equal(as2_cms_type_of(der, len), AS2_CMS_COMPRESSED);
	assert_int_equal(as2_cms_type_of((const unsigned char *)"ISA*00", 6),
	    AS2_CMS_UNKNOWN);
	free(der);
}

struct receive {
	BIO *file;      /* the signed entity, as the spool would keep it */
	as2_mic mic;
};

static int
entity_sink(void *ctx, const void *data, size_t len)
{
	struct receive *r = ctx;

	as2_mic_update(&r->mic, data, len);
	return BIO_write(r->file, data, (int)len) == (int)len ? 0 : -1;
}

/* The receive path the daemon follows: decrypt to a file, read the MIME
 * headers of the result, split multipart/signed into the spool while
 * computing the MIC, verify from the file, decompress what was signed. */
static void
test_compressed_signed_encrypted_message_unwraps(void **state)
{
	static const char payload[] = "ISA*00*          *00*          *ZZ*"
	    "PARTNER        *ZZ*US             *261123*1000*U*00401*000000101"
	    "*0*P*>~IEA*0*000000101~";
	unsigned char *sig, *plain, *inner;
	size_t slen, plen, ilen, at, used;
	char *multipart, dgst[128], expect[200], mic[AS2_MIC_MAX];
	BIO *in, *out, *zin;
	mime_headers h;
	mime_content_type ct;
	mime_signed ms;
	struct receive r;
	as2_error err;
	char *data;
	long n;
	FILE *f;

	/* the partner's side, with the openssl command line and zlib: a
	 * compressed-data entity (built with asn1parse -genconf), signed,
	 * wrapped in multipart/signed by hand, encrypted */
	genconf_vector(payload, 0, NULL);
	f = fopen(path("entity"), "wb");
	fprintf(f, "Content-Type: application/pkcs7-mime; smime-type="
	    "compressed-data; name=smime.p7z\r\nContent-Transfer-Encoding: "
	    "binary\r\n\r\n");
	fclose(f);
	assert_int_equal(run("cat %s >> %s", path("vector.der"),
	    path("entity")), 0);
	assert_int_equal(run("openssl cms -sign -binary -md sha384 -outform DER "
	    "-in %s -signer %s -inkey %s -out %s", path("entity"),
	    path("partner.crt"), path("partner.key"), path("sig.der")), 0);
	sig = read_file("sig.der", &slen);
	plain = read_file("entity", &plen);
	f = fopen(path("signed.mime"), "wb");
	fprintf(f, "Content-Type: multipart/signed; protocol=\"application/"
	    "pkcs7-signature\"; micalg=sha384; boundary=\"b1_7e5f\"\r\n\r\n");
	multipart = build_multipart((char *)plain, plen, sig, slen, "\r\n",
	    "base64", &ilen);
	fwrite(multipart, 1, ilen, f);
	fclose(f);
	free(multipart);
	assert_int_equal(run("openssl cms -encrypt -binary -aes256 -outform DER "
	    "-in %s -out %s %s", path("signed.mime"), path("enc.der"),
	    path("us.crt")), 0);

	/* our side */
	in = BIO_new_file(path("enc.der"), "rb");
	out = BIO_new_file(path("decrypted"), "wb");
	assert_int_equal(as2_decrypt(in, out, &us, 1, NULL, &err), AS2_OK);
	BIO_free(in);
	BIO_free(out);
	inner = read_file("decrypted", &ilen);
	mime_headers_init(&h, NULL);
	assert_int_equal(mime_headers_feed(&h, inner, ilen, &at, NULL),
	    MIME_OK);
	assert_int_equal(mime_content_type_parse(mime_headers_get(&h,
	    "Content-Type"), &ct, NULL), MIME_OK);
	assert_true(mime_content_type_is(&ct, "multipart", "signed"));
	r.file = BIO_new_file(path("spooled"), "wb");
	assert_int_equal(as2_mic_init(&r.mic, mime_micalg_parse(
	    mime_content_type_param(&ct, "micalg"), 6, NULL), NULL), AS2_OK);
	assert_int_equal(mime_signed_init(&ms, &ct, entity_sink, &r, 0, NULL),
	    MIME_OK);
	for (used = at; used < ilen; used += 1000)
		assert_int_equal(mime_signed_feed(&ms, inner + used,
		    ilen - used < 1000 ? ilen - used : 1000, NULL), MIME_OK);
	assert_int_equal(mime_signed_finish(&ms, NULL), MIME_OK);
	BIO_free(r.file);
	assert_int_equal(as2_mic_final(&r.mic, MIME_MICALG_STYLE_PLAIN, mic,
	    sizeof(mic), NULL), AS2_OK);
	as2_mic_free(&r.mic);
	openssl_digest_b64("sha384", "entity", dgst, sizeof(dgst));
	snprintf(expect, sizeof(expect), "%s, sha384", dgst);
	assert_string_equal(mic, expect);
	in = BIO_new_file(path("spooled"), "rb");
	assert_int_equal(as2_verify(ms.signature, ms.signature_len, in,
	    partner_certs, 0, NULL, &err), AS2_OK);
	BIO_free(in);
	/* the signed entity is itself compressed-data: skip its headers */
	mime_headers_free(&h);
	mime_headers_init(&h, NULL);
	in = BIO_new_file(path("spooled"), "rb");
	{
		unsigned char hb[512];
		int got = BIO_read(in, hb, sizeof(hb));
		assert_int_equal(mime_headers_feed(&h, hb, (size_t)got, &at,
		    NULL), MIME_OK);
		assert_string_equal(mime_headers_get(&h,
		    "Content-Transfer-Encoding"), "binary");
		assert_int_equal(BIO_seek(in, (int)at), 0);
	}
	zin = in;
	out = BIO_new(BIO_s_mem());
	assert_int_equal(as2_decompress(zin, out, 1 << 20, &err), AS2_OK);
	n = BIO_get_mem_data(out, &data);
	assert_int_equal(n, sizeof(payload) - 1);
	assert_memory_equal(data, payload, (size_t)n);
	BIO_free(in);
	BIO_free(out);
	mime_signed_free(&ms);
	mime_content_type_free(&ct);
	mime_headers_free(&h);
	free(inner);
	free(plain);
	free(sig);
}

static void
test_smime_types_name_the_cms_content(void **state)
{
	mime_content_type ct;

	assert_string_equal(as2_cms_content_type(AS2_CMS_ENVELOPED),
	    "application/pkcs7-mime; smime-type=enveloped-data; "
	    "name=\"smime.p7m\"");
	assert_string_equal(as2_cms_content_type(AS2_CMS_COMPRESSED),
	    "application/pkcs7-mime; smime-type=compressed-data; "
	    "name=\"smime.p7z\"");
	assert_null(as2_cms_content_type(AS2_CMS_DATA));
	assert_int_equal(mime_content_type_parse("Application/X-PKCS7-MIME; "
	    "smime-type=Compressed-Data; name=smime.p7z", &ct, NULL), MIME_OK);
	assert_int_equal(as2_cms_type_from_mime(&ct), AS2_CMS_COMPRESSED);
	mime_content_type_free(&ct);
	assert_int_equal(mime_content_type_parse("application/pkcs7-mime",
	    &ct, NULL), MIME_OK);
	assert_int_equal(as2_cms_type_from_mime(&ct), AS2_CMS_UNKNOWN);
	mime_content_type_free(&ct);
	assert_int_equal(mime_content_type_parse(as2_cms_content_type(
	    AS2_CMS_AUTH_ENVELOPED), &ct, NULL), MIME_OK);
	assert_int_equal(as2_cms_type_from_mime(&ct), AS2_CMS_AUTH_ENVELOPED);
	mime_content_type_free(&ct);
}

static void
test_cipher_names_parse(void **state)
{
	assert_int_equal(as2_cipher_parse("3DES"), AS2_CIPHER_3DES);
	assert_int_equal(as2_cipher_parse("aes-256-cbc"), AS2_CIPHER_AES256_CBC);
	assert_int_equal(as2_cipher_parse("aes128"), AS2_CIPHER_AES128_CBC);
	assert_int_equal(as2_cipher_parse("aes256-gcm"), AS2_CIPHER_AES256_GCM);
	assert_int_equal(as2_cipher_parse("rc2"), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_openssl_sha1_signature_verifies),
		cmocka_unit_test(test_openssl_sha256_signature_verifies),
		cmocka_unit_test(test_openssl_sha384_signature_verifies),
		cmocka_unit_test(test_openssl_sha512_signature_verifies),
		cmocka_unit_test(test_our_sha1_signature_verifies_with_openssl),
		cmocka_unit_test(test_our_sha256_signature_verifies_with_openssl),
		cmocka_unit_test(test_our_sha384_signature_verifies_with_openssl),
		cmocka_unit_test(test_our_sha512_signature_verifies_with_openssl),
		cmocka_unit_test(
		    test_written_multipart_signed_splits_and_verifies_with_openssl),
		cmocka_unit_test(test_tampered_body_is_an_integrity_failure),
		cmocka_unit_test(
		    test_wrong_certificate_is_an_authentication_failure),
		cmocka_unit_test(test_any_valid_certificate_of_a_rotation_verifies),
		cmocka_unit_test(
		    test_lf_only_multipart_with_binary_signature_verifies),
		cmocka_unit_test(test_mic_of_abc_is_the_fips_example),
		cmocka_unit_test(test_openssl_3des_decrypts),
		cmocka_unit_test(test_openssl_aes128_cbc_decrypts),
		cmocka_unit_test(test_openssl_aes192_cbc_decrypts),
		cmocka_unit_test(test_openssl_aes256_cbc_streamed_ber_decrypts),
		cmocka_unit_test(test_openssl_aes128_gcm_decrypts),
		cmocka_unit_test(test_openssl_aes256_gcm_decrypts),
		cmocka_unit_test(test_3des_encrypts_for_openssl),
		cmocka_unit_test(test_aes128_cbc_encrypts_for_openssl),
		cmocka_unit_test(test_aes192_cbc_encrypts_for_openssl),
		cmocka_unit_test(test_aes256_cbc_encrypts_for_openssl),
		cmocka_unit_test(test_aes128_gcm_encrypts_for_openssl),
		cmocka_unit_test(test_aes256_gcm_encrypts_for_openssl),
		cmocka_unit_test(
		    test_message_for_another_key_is_a_decryption_failure),
		cmocka_unit_test(test_truncated_envelope_is_rejected),
		cmocka_unit_test(test_large_decrypt_keeps_memory_flat),
		cmocka_unit_test(
		    test_rotation_of_our_key_picks_the_addressed_one),
		cmocka_unit_test(
		    test_large_verify_and_compression_keep_memory_flat),
		cmocka_unit_test(test_streamed_compressed_data_parses_with_openssl),
		cmocka_unit_test(
		    test_definite_compressed_data_parses_with_openssl),
		cmocka_unit_test(test_highly_compressible_content_round_trips),
		cmocka_unit_test(test_genconf_compressed_vector_decompresses),
		cmocka_unit_test(
		    test_genconf_chunked_compressed_vector_decompresses),
		cmocka_unit_test(test_corrupt_zlib_is_a_decompression_failure),
		cmocka_unit_test(test_cms_type_is_read_from_the_first_bytes),
		cmocka_unit_test(
		    test_compressed_signed_encrypted_message_unwraps),
		cmocka_unit_test(test_smime_types_name_the_cms_content),
		cmocka_unit_test(test_cipher_names_parse),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
