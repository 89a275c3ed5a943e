/*
 * as2_cms - CMS signing, verification, encryption and compression for AS2.
 * See as2_cms.h for the contract.
 */
#include "as2_cms.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <zlib.h>

#define IO_CHUNK 65536
#define MAX_HEADER_ELEMENT (1024u * 1024u) /* recipient infos, attributes */
#define MAX_BER_DEPTH 16

static as2_status
fail(as2_error *err, as2_status code, const char *fmt, ...)
{
	va_list ap;
	size_t n;
	unsigned long e, last = 0;

	/* The deepest OpenSSL reason is usually the most telling one. */
	while ((e = ERR_get_error()) != 0)
		if (last == 0 || ERR_GET_LIB(e) == ERR_LIB_CMS)
			last = e;
	if (err == NULL)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	n = strlen(err->message);
	if (last != 0 && n + 4 < sizeof(err->message))
		snprintf(err->message + n, sizeof(err->message) - n, " (%s)",
		    ERR_reason_error_string(last) ? ERR_reason_error_string(last)
		    : "openssl error");
	return code;
}

const char *
as2_status_name(as2_status status)
{
	switch (status) {
	case AS2_OK: return "ok";
	case AS2_ERR_NOMEM: return "out of memory";
	case AS2_ERR_ARGUMENT: return "invalid argument";
	case AS2_ERR_IO: return "input/output error";
	case AS2_ERR_FORMAT: return "malformed message";
	case AS2_ERR_UNSUPPORTED: return "unsupported";
	case AS2_ERR_AUTHENTICATION: return "authentication failed";
	case AS2_ERR_INTEGRITY: return "integrity check failed";
	case AS2_ERR_DECRYPTION: return "decryption failed";
	case AS2_ERR_DECOMPRESSION: return "decompression failed";
	case AS2_ERR_LIMIT: return "limit exceeded";
	}
	return "unknown";
}

const char *
as2_status_disposition(as2_status status)
{
	switch (status) {
	case AS2_OK: return NULL;
	case AS2_ERR_AUTHENTICATION: return "authentication-failed";
	case AS2_ERR_INTEGRITY: return "integrity-check-failed";
	case AS2_ERR_DECRYPTION: return "decryption-failed";
	default: return "unexpected-processing-error";
	}
}

/*
 * Keys and certificates.
 */

as2_status
as2_load_cert(const char *path, X509 **cert, as2_error *err)
{
	BIO *b = BIO_new_file(path, "r");

	*cert = NULL;
	if (b == NULL)
		return fail(err, AS2_ERR_IO, "cannot open certificate %s", path);
	*cert = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	if (*cert == NULL)
		return fail(err, AS2_ERR_FORMAT, "no PEM certificate in %s", path);
	return AS2_OK;
}

as2_status
as2_load_certs(const char *path, STACK_OF(X509) **certs, as2_error *err)
{
	BIO *b = BIO_new_file(path, "r");
	X509 *x;
	int n = 0;

	if (b == NULL)
		return fail(err, AS2_ERR_IO, "cannot open certificates %s", path);
	if (*certs == NULL && (*certs = sk_X509_new_null()) == NULL) {
		BIO_free(b);
		return fail(err, AS2_ERR_NOMEM, "out of memory");
	}
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(*certs, x)) {
			X509_free(x);
			BIO_free(b);
			return fail(err, AS2_ERR_NOMEM, "out of memory");
		}
		n++;
	}
	BIO_free(b);
	ERR_clear_error();   /* the read that ended the loop */
	if (n == 0)
		return fail(err, AS2_ERR_FORMAT, "no PEM certificate in %s", path);
	return AS2_OK;
}

as2_status
as2_load_key(const char *path, EVP_PKEY **key, as2_error *err)
{
	BIO *b = BIO_new_file(path, "r");

	*key = NULL;
	if (b == NULL)
		return fail(err, AS2_ERR_IO, "cannot open key %s", path);
	*key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	if (*key == NULL)
		return fail(err, AS2_ERR_FORMAT, "no unencrypted PEM private key "
		    "in %s", path);
	return AS2_OK;
}

/*
 * Digests and the MIC.
 */

const EVP_MD *
as2_digest(mime_micalg alg)
{
	switch (alg) {
	case MIME_MICALG_MD5: return EVP_md5();
	case MIME_MICALG_SHA1: return EVP_sha1();
	case MIME_MICALG_SHA224: return EVP_sha224();
	case MIME_MICALG_SHA256: return EVP_sha256();
	case MIME_MICALG_SHA384: return EVP_sha384();
	case MIME_MICALG_SHA512: return EVP_sha512();
	default: return NULL;
	}
}

mime_micalg
as2_micalg_from_nid(int nid)
{
	switch (nid) {
	case NID_md5: return MIME_MICALG_MD5;
	case NID_sha1: return MIME_MICALG_SHA1;
	case NID_sha224: return MIME_MICALG_SHA224;
	case NID_sha256: return MIME_MICALG_SHA256;
	case NID_sha384: return MIME_MICALG_SHA384;
	case NID_sha512: return MIME_MICALG_SHA512;
	default: return MIME_MICALG_NONE;
	}
}

as2_status
as2_mic_init(as2_mic *mic, mime_micalg alg, as2_error *err)
{
	const EVP_MD *md = as2_digest(alg);

	memset(mic, 0, sizeof(*mic));
	if (md == NULL)
		return fail(err, AS2_ERR_UNSUPPORTED, "unsupported MIC algorithm");
	mic->ctx = EVP_MD_CTX_new();
	if (mic->ctx == NULL || !EVP_DigestInit_ex(mic->ctx, md, NULL)) {
		EVP_MD_CTX_free(mic->ctx);
		mic->ctx = NULL;
		return fail(err, AS2_ERR_NOMEM, "cannot start the MIC digest");
	}
	mic->alg = alg;
	return AS2_OK;
}

void
as2_mic_update(as2_mic *mic, const void *data, size_t len)
{
	if (mic->ctx != NULL && len > 0)
		EVP_DigestUpdate(mic->ctx, data, len);
}

int
as2_mic_sink(void *ctx, const void *data, size_t len)
{
	as2_mic_update(ctx, data, len);
	return 0;
}

as2_status
as2_mic_format(const unsigned char *digest, size_t len, mime_micalg alg,
    mime_micalg_style style, char *out, size_t cap, as2_error *err)
{
	unsigned char b64[EVP_MAX_MD_SIZE * 2];
	const char *name = mime_micalg_name(alg, style);
	int n;

	if (name == NULL || len > EVP_MAX_MD_SIZE)
		return fail(err, AS2_ERR_ARGUMENT, "invalid MIC algorithm");
	n = EVP_EncodeBlock(b64, digest, (int)len);
	if ((size_t)n + strlen(name) + 3 > cap)
		return fail(err, AS2_ERR_ARGUMENT, "MIC buffer too small");
	snprintf(out, cap, "%s, %s", (char *)b64, name);
	return AS2_OK;
}

as2_status
as2_mic_final(as2_mic *mic, mime_micalg_style style, char *out, size_t cap,
    as2_error *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len;

	if (mic->ctx == NULL || !EVP_DigestFinal_ex(mic->ctx, md, &len))
		return fail(err, AS2_ERR_ARGUMENT, "MIC digest not started");
	return as2_mic_format(md, len, mic->alg, style, out, cap, err);
}

void
as2_mic_free(as2_mic *mic)
{
	EVP_MD_CTX_free(mic->ctx);
	mic->ctx = NULL;
}

/* Splits "b64 , alg" into trimmed pieces. */
static int
mic_split(const char *s, const char **b, size_t *blen, const char **a,
    size_t *alen)
{
	const char *comma = strchr(s, ',');
	const char *e;

	if (comma == NULL)
		return -1;
	while (isspace((unsigned char)*s))
		s++;
	e = comma;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	*b = s;
	*blen = (size_t)(e - s);
	s = comma + 1;
	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	*a = s;
	*alen = (size_t)(e - s);
	return 0;
}

int
as2_mic_equal(const char *x, const char *y)
{
	const char *bx, *ax, *by, *ay;
	size_t lbx, lax, lby, lay;
	mime_micalg mx, my;

	if (x == NULL || y == NULL || mic_split(x, &bx, &lbx, &ax, &lax) ||
	    mic_split(y, &by, &lby, &ay, &lay))
		return 0;
	mx = mime_micalg_parse(ax, lax, NULL);
	my = mime_micalg_parse(ay, lay, NULL);
	return mx != MIME_MICALG_NONE && mx == my && lbx == lby &&
	    memcmp(bx, by, lbx) == 0;
}

/*
 * Signing.
 */

struct as2_signer {
	CMS_ContentInfo *cms;
	BIO *chain;   /* digest BIOs over a null sink: content is detached */
};

as2_signer *
as2_signer_new(X509 *cert, EVP_PKEY *key, STACK_OF(X509) *chain,
    mime_micalg alg, as2_error *err)
{
	const unsigned int flags = CMS_DETACHED | CMS_BINARY | CMS_PARTIAL;
	const EVP_MD *md = as2_digest(alg);
	as2_signer *s;

	if (md == NULL || alg == MIME_MICALG_MD5) {
		fail(err, AS2_ERR_UNSUPPORTED, "unsupported signing digest");
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		fail(err, AS2_ERR_NOMEM, "out of memory");
		return NULL;
	}
	s->cms = CMS_sign(NULL, NULL, chain, NULL, flags);
	if (s->cms == NULL ||
	    CMS_add1_signer(s->cms, cert, key, md, flags) == NULL) {
		fail(err, AS2_ERR_ARGUMENT, "cannot set up the signature "
		    "(certificate and key do not match?)");
		goto bad;
	}
	/* With the content detached, CMS_dataInit digests into a null BIO:
	 * nothing but the digests is kept. */
	CMS_set_detached(s->cms, 1);
	s->chain = CMS_dataInit(s->cms, NULL);
	if (s->chain == NULL) {
		fail(err, AS2_ERR_NOMEM, "cannot start the signature");
		goto bad;
	}
	return s;
bad:
	as2_signer_free(s);
	return NULL;
}

as2_status
as2_signer_update(as2_signer *s, const void *data, size_t len,
    as2_error *err)
{
	const unsigned char *p = data;

	while (len > 0) {
		int n = len > INT32_MAX ? INT32_MAX : (int)len;
		int w = BIO_write(s->chain, p, n);
		if (w <= 0)
			return fail(err, AS2_ERR_IO, "digest write failed");
		p += w;
		len -= (size_t)w;
	}
	return AS2_OK;
}

as2_status
as2_signer_finish(as2_signer *s, unsigned char **der, size_t *der_len,
    as2_error *err)
{
	int n;

	*der = NULL;
	*der_len = 0;
	(void)BIO_flush(s->chain);
	if (!CMS_dataFinal(s->cms, s->chain))
		return fail(err, AS2_ERR_ARGUMENT, "signing failed");
	n = i2d_CMS_ContentInfo(s->cms, der);
	if (n <= 0)
		return fail(err, AS2_ERR_NOMEM, "cannot encode the signature");
	*der_len = (size_t)n;
	return AS2_OK;
}

void
as2_signer_free(as2_signer *s)
{
	if (s == NULL)
		return;
	BIO_free_all(s->chain);
	CMS_ContentInfo_free(s->cms);
	free(s);
}

as2_status
as2_sign(BIO *content, X509 *cert, EVP_PKEY *key, STACK_OF(X509) *chain,
    mime_micalg alg, unsigned char **der, size_t *der_len, as2_error *err)
{
	as2_signer *s = as2_signer_new(cert, key, chain, alg, err);
	unsigned char *buf;
	as2_status st = AS2_OK;
	int n;

	*der = NULL;
	*der_len = 0;
	if (s == NULL)
		return err ? err->code : AS2_ERR_ARGUMENT;
	buf = malloc(IO_CHUNK);
	if (buf == NULL) {
		as2_signer_free(s);
		return fail(err, AS2_ERR_NOMEM, "out of memory");
	}
	while (st == AS2_OK && (n = BIO_read(content, buf, IO_CHUNK)) > 0)
		st = as2_signer_update(s, buf, (size_t)n, err);
	free(buf);
	if (st == AS2_OK)
		st = as2_signer_finish(s, der, der_len, err);
	as2_signer_free(s);
	return st;
}

static as2_status
bio_write_all(BIO *out, const void *data, size_t len, as2_error *err)
{
	const char *p = data;

	while (len > 0) {
		int w = BIO_write(out, p, len > INT32_MAX ? INT32_MAX : (int)len);
		if (w <= 0)
			return fail(err, AS2_ERR_IO, "write failed");
		p += w;
		len -= (size_t)w;
	}
	return AS2_OK;
}

static as2_status
bio_puts_all(BIO *out, const char *s, as2_error *err)
{
	return bio_write_all(out, s, strlen(s), err);
}

as2_status
as2_write_signed(BIO *entity, BIO *out, X509 *cert, EVP_PKEY *key,
    STACK_OF(X509) *chain, mime_micalg alg, mime_micalg_style style,
    char **content_type, char mic[AS2_MIC_MAX], as2_error *err)
{
	unsigned char rnd[12], *buf = NULL, *der = NULL;
	char boundary[48], line[320];
	as2_signer *s;
	as2_mic m = { 0 };
	as2_status st = AS2_OK;
	size_t der_len, i;
	int n;

	*content_type = NULL;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return fail(err, AS2_ERR_NOMEM, "no random bytes for a boundary");
	n = snprintf(boundary, sizeof(boundary), "----=_edigate_");
	for (i = 0; i < sizeof(rnd); i++)
		n += snprintf(boundary + n, sizeof(boundary) - (size_t)n,
		    "%02x", rnd[i]);
	s = as2_signer_new(cert, key, chain, alg, err);
	if (s == NULL)
		return err ? err->code : AS2_ERR_ARGUMENT;
	if (mic != NULL && (st = as2_mic_init(&m, alg, err)) != AS2_OK)
		goto out;
	if ((buf = malloc(IO_CHUNK)) == NULL) {
		st = fail(err, AS2_ERR_NOMEM, "out of memory");
		goto out;
	}
	snprintf(line, sizeof(line), "--%s\r\n", boundary);
	if ((st = bio_puts_all(out, line, err)) != AS2_OK)
		goto out;
	while ((n = BIO_read(entity, buf, IO_CHUNK)) > 0) {
		if ((st = as2_signer_update(s, buf, (size_t)n, err)) ||
		    (st = bio_write_all(out, buf, (size_t)n, err)))
			goto out;
		as2_mic_update(&m, buf, (size_t)n);
	}
	if ((st = as2_signer_finish(s, &der, &der_len, err)) != AS2_OK)
		goto out;
	/* The CRLF before the delimiter belongs to the delimiter, so the
	 * signed entity ends exactly where the entity BIO ended. */
	snprintf(line, sizeof(line), "\r\n--%s\r\n"
	    "Content-Type: application/pkcs7-signature; name=smime.p7s\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "Content-Disposition: attachment; filename=smime.p7s\r\n\r\n",
	    boundary);
	if ((st = bio_puts_all(out, line, err)) != AS2_OK)
		goto out;
	for (i = 0; i < der_len; i += 57) {
		unsigned char b64[80];
		size_t take = der_len - i < 57 ? der_len - i : 57;
		int len = EVP_EncodeBlock(b64, der + i, (int)take);
		b64[len++] = '\r';
		b64[len++] = '\n';
		if ((st = bio_write_all(out, b64, (size_t)len, err)) != AS2_OK)
			goto out;
	}
	snprintf(line, sizeof(line), "\r\n--%s--\r\n", boundary);
	if ((st = bio_puts_all(out, line, err)) != AS2_OK)
		goto out;
	if (mic != NULL && (st = as2_mic_final(&m, style, mic, AS2_MIC_MAX,
	    err)) != AS2_OK)
		goto out;
	n = snprintf(NULL, 0, "multipart/signed; protocol=\"application/"
	    "pkcs7-signature\"; micalg=%s; boundary=\"%s\"",
	    mime_micalg_name(alg, style), boundary);
	*content_type = malloc((size_t)n + 1);
	if (*content_type == NULL) {
		st = fail(err, AS2_ERR_NOMEM, "out of memory");
		goto out;
	}
	snprintf(*content_type, (size_t)n + 1, "multipart/signed; protocol="
	    "\"application/pkcs7-signature\"; micalg=%s; boundary=\"%s\"",
	    mime_micalg_name(alg, style), boundary);
out:
	OPENSSL_free(der);
	free(buf);
	as2_mic_free(&m);
	as2_signer_free(s);
	return st;
}

/*
 * Verification.
 */

static int
cert_valid_at(X509 *x, time_t now)
{
	return X509_cmp_time(X509_get0_notBefore(x), &now) <= 0 &&
	    X509_cmp_time(X509_get0_notAfter(x), &now) >= 0;
}

as2_status
as2_verify(const unsigned char *sig, size_t sig_len, BIO *content,
    STACK_OF(X509) *partner_certs, time_t now, as2_verify_result *result,
    as2_error *err)
{
	const unsigned int flags = CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY |
	    CMS_NOINTERN;
	const unsigned char *p = sig;
	CMS_ContentInfo *cms;
	STACK_OF(CMS_SignerInfo) *sis;
	STACK_OF(X509) *use = NULL;
	CMS_SignerInfo *si;
	X509_ALGOR *digalg = NULL;
	ASN1_OCTET_STRING *md;
	as2_status st;
	int i, match = -1, expired = 0;

	if (result != NULL)
		memset(result, 0, sizeof(*result));
	if (now == 0)
		now = time(NULL);
	ERR_clear_error();
	if (sig_len > LONG_MAX ||
	    (cms = d2i_CMS_ContentInfo(NULL, &p, (long)sig_len)) == NULL)
		return fail(err, AS2_ERR_FORMAT, "signature is not a DER CMS "
		    "ContentInfo");
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
		st = fail(err, AS2_ERR_FORMAT, "signature is a CMS %s, expected "
		    "signedData", OBJ_nid2sn(OBJ_obj2nid(CMS_get0_type(cms))));
		goto out;
	}
	sis = CMS_get0_SignerInfos(cms);
	if (sk_CMS_SignerInfo_num(sis) != 1) {
		st = fail(err, AS2_ERR_FORMAT, "signature has %d signers; "
		    "expected one", sk_CMS_SignerInfo_num(sis));
		goto out;
	}
	si = sk_CMS_SignerInfo_value(sis, 0);
	for (i = 0; partner_certs != NULL && i < sk_X509_num(partner_certs);
	    i++) {
		X509 *x = sk_X509_value(partner_certs, i);
		if (CMS_SignerInfo_cert_cmp(si, x) != 0)
			continue;
		if (!cert_valid_at(x, now)) {
			expired = 1;
			continue;
		}
		match = i;
		break;
	}
	if (match < 0) {
		st = fail(err, AS2_ERR_AUTHENTICATION, expired ?
		    "signed with a partner certificate outside its validity "
		    "period" : "not signed by any of the partner's %d "
		    "certificates", partner_certs ? sk_X509_num(partner_certs)
		    : 0);
		goto out;
	}
	if ((use = sk_X509_new_null()) == NULL ||
	    !sk_X509_push(use, sk_X509_value(partner_certs, match))) {
		st = fail(err, AS2_ERR_NOMEM, "out of memory");
		goto out;
	}
	ERR_clear_error();
	if (CMS_verify(cms, use, NULL, content, NULL, flags) != 1) {
		unsigned long e = ERR_peek_last_error();
		int reason = ERR_GET_LIB(e) == ERR_LIB_CMS ? ERR_GET_REASON(e) : 0;

		if (reason == CMS_R_CONTENT_VERIFY_ERROR)
			st = fail(err, AS2_ERR_INTEGRITY, "the content does not "
			    "match the signed message digest");
		else if (reason == CMS_R_VERIFICATION_FAILURE)
			st = fail(err, AS2_ERR_INTEGRITY, "the signature does "
			    "not verify with the partner's certificate");
		else
			st = fail(err, AS2_ERR_INTEGRITY, "signature "
			    "verification failed");
		goto out;
	}
	st = AS2_OK;
	if (result != NULL) {
		result->signer_index = match;
		CMS_SignerInfo_get0_algs(si, NULL, NULL, &digalg, NULL);
		if (digalg != NULL)
			result->digest = as2_micalg_from_nid(
			    OBJ_obj2nid(digalg->algorithm));
		md = CMS_signed_get0_data_by_OBJ(si,
		    OBJ_nid2obj(NID_pkcs9_messageDigest), -3,
		    V_ASN1_OCTET_STRING);
		if (md != NULL && (size_t)ASN1_STRING_length(md) <=
		    sizeof(result->message_digest)) {
			result->message_digest_len =
			    (size_t)ASN1_STRING_length(md);
			memcpy(result->message_digest, ASN1_STRING_get0_data(md),
			    result->message_digest_len);
		}
	}
out:
	sk_X509_free(use);
	CMS_ContentInfo_free(cms);
	return st;
}

/*
 * Encryption.
 */

static const struct {
	as2_cipher cipher;
	const char *name;
	int nid;
} ciphers[] = {
	{ AS2_CIPHER_3DES, "3des", NID_des_ede3_cbc },
	{ AS2_CIPHER_AES128_CBC, "aes128-cbc", NID_aes_128_cbc },
	{ AS2_CIPHER_AES192_CBC, "aes192-cbc", NID_aes_192_cbc },
	{ AS2_CIPHER_AES256_CBC, "aes256-cbc", NID_aes_256_cbc },
	{ AS2_CIPHER_AES128_GCM, "aes128-gcm", NID_aes_128_gcm },
	{ AS2_CIPHER_AES256_GCM, "aes256-gcm", NID_aes_256_gcm },
};
#define NCIPHERS (sizeof(ciphers) / sizeof(ciphers[0]))

int
as2_cipher_parse(const char *name)
{
	static const struct { const char *alias; as2_cipher c; } aliases[] = {
		{ "des-ede3-cbc", AS2_CIPHER_3DES },
		{ "tripledes", AS2_CIPHER_3DES },
		{ "aes128", AS2_CIPHER_AES128_CBC },
		{ "aes-128-cbc", AS2_CIPHER_AES128_CBC },
		{ "aes192", AS2_CIPHER_AES192_CBC },
		{ "aes-192-cbc", AS2_CIPHER_AES192_CBC },
		{ "aes256", AS2_CIPHER_AES256_CBC },
		{ "aes-256-cbc", AS2_CIPHER_AES256_CBC },
		{ "aes-128-gcm", AS2_CIPHER_AES128_GCM },
		{ "aes-256-gcm", AS2_CIPHER_AES256_GCM },
	};
	size_t i;

	for (i = 0; i < NCIPHERS; i++)
		if (strcasecmp(name, ciphers[i].name) == 0)
			return (int)ciphers[i].cipher;
	for (i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strcasecmp(name, aliases[i].alias) == 0)
			return (int)aliases[i].c;
	return -1;
}

const char *
as2_cipher_name(as2_cipher cipher)
{
	return (unsigned)cipher < NCIPHERS ? ciphers[cipher].name : NULL;
}

static int
cipher_from_nid(int nid)
{
	size_t i;

	for (i = 0; i < NCIPHERS; i++)
		if (ciphers[i].nid == nid)
			return (int)ciphers[i].cipher;
	return -1;
}

as2_status
as2_encrypt(BIO *in, BIO *out, STACK_OF(X509) *recipients, as2_cipher cipher,
    as2_error *err)
{
	const unsigned int flags = CMS_BINARY | CMS_STREAM;
	const EVP_CIPHER *c;
	CMS_ContentInfo *cms;
	as2_status st = AS2_OK;

	if ((unsigned)cipher >= NCIPHERS ||
	    (c = EVP_get_cipherbynid(ciphers[cipher].nid)) == NULL)
		return fail(err, AS2_ERR_UNSUPPORTED, "unsupported cipher");
	if (recipients == NULL || sk_X509_num(recipients) == 0)
		return fail(err, AS2_ERR_ARGUMENT, "no recipient certificate");
	ERR_clear_error();
	/* OpenSSL 3.0 makes AuthEnvelopedData for an AEAD cipher by itself. */
	cms = CMS_encrypt(recipients, in, c, flags);
	if (cms == NULL)
		return fail(err, AS2_ERR_ARGUMENT, "cannot set up encryption");
	if (!i2d_CMS_bio_stream(out, cms, in, flags))
		st = fail(err, AS2_ERR_IO, "encryption failed");
	CMS_ContentInfo_free(cms);
	return st;
}

/*
 * BER reading. Just enough to walk the outer layers of a ContentInfo as a
 * stream: tags below 31, definite and indefinite lengths.
 */

struct ber_in {
	BIO *bio;
	unsigned char buf[16384];
	size_t pos, len;
	uint64_t off;      /* bytes consumed so far */
	int eof;
};

struct ber_hdr {
	unsigned char tag;       /* identifier octet */
	int indef;
	uint64_t len;            /* content length when definite */
	unsigned char raw[10];   /* the header bytes as read */
	size_t hlen;
};

struct buf {
	unsigned char *p;
	size_t len, cap;
};

static int
buf_reserve(struct buf *b, size_t more)
{
	if (b->len + more > b->cap) {
		size_t ncap = b->cap ? b->cap : 256;
		unsigned char *np;
		while (ncap < b->len + more)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL)
			return -1;
		b->p = np;
		b->cap = ncap;
	}
	return 0;
}

static int
buf_add(struct buf *b, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	if (buf_reserve(b, len))
		return -1;
	memcpy(b->p + b->len, data, len);
	b->len += len;
	return 0;
}

static int
ber_fill(struct ber_in *in)
{
	int n;

	if (in->pos < in->len)
		return 0;
	if (in->eof)
		return -1;
	n = BIO_read(in->bio, in->buf, sizeof(in->buf));
	if (n <= 0) {
		in->eof = 1;
		return -1;
	}
	in->pos = 0;
	in->len = (size_t)n;
	return 0;
}

static int
ber_getc(struct ber_in *in)
{
	if (ber_fill(in))
		return -1;
	in->off++;
	return in->buf[in->pos++];
}

/* Reads up to n bytes; returns how many (0 at end of input). */
static size_t
ber_read_some(struct ber_in *in, void *dst, size_t n)
{
	size_t take;

	if (ber_fill(in))
		return 0;
	take = in->len - in->pos < n ? in->len - in->pos : n;
	memcpy(dst, in->buf + in->pos, take);
	in->pos += take;
	in->off += take;
	return take;
}

static int
ber_read(struct ber_in *in, void *dst, size_t n)
{
	unsigned char *p = dst;

	while (n > 0) {
		size_t got = ber_read_some(in, p, n);
		if (got == 0)
			return -1;
		p += got;
		n -= got;
	}
	return 0;
}

static as2_status
ber_header(struct ber_in *in, struct ber_hdr *h, as2_error *err)
{
	int c, i, n;

	memset(h, 0, sizeof(*h));
	if ((c = ber_getc(in)) < 0)
		return fail(err, AS2_ERR_FORMAT, "CMS data ends at byte %llu",
		    (unsigned long long)in->off);
	if ((c & 0x1f) == 0x1f)
		return fail(err, AS2_ERR_FORMAT, "unexpected high tag number at "
		    "byte %llu", (unsigned long long)in->off - 1);
	h->tag = (unsigned char)c;
	h->raw[h->hlen++] = (unsigned char)c;
	if ((c = ber_getc(in)) < 0)
		return fail(err, AS2_ERR_FORMAT, "CMS data ends inside a "
		    "length at byte %llu", (unsigned long long)in->off);
	h->raw[h->hlen++] = (unsigned char)c;
	if (c < 0x80) {
		h->len = (uint64_t)c;
	} else if (c == 0x80) {
		if (!(h->tag & 0x20))
			return fail(err, AS2_ERR_FORMAT, "indefinite length on "
			    "a primitive element at byte %llu",
			    (unsigned long long)in->off - 2);
		h->indef = 1;
	} else {
		n = c & 0x7f;
		if (n > 8)
			return fail(err, AS2_ERR_FORMAT, "length of %d bytes at "
			    "byte %llu", n, (unsigned long long)in->off - 2);
		for (i = 0; i < n; i++) {
			if ((c = ber_getc(in)) < 0)
				return fail(err, AS2_ERR_FORMAT, "CMS data ends "
				    "inside a length");
			h->raw[h->hlen++] = (unsigned char)c;
			if (h->len >> 55)
				return fail(err, AS2_ERR_FORMAT, "length too "
				    "large");
			h->len = (h->len << 8) | (uint64_t)c;
		}
	}
	return AS2_OK;
}

static int
ber_is_eoc(const struct ber_hdr *h)
{
	return h->tag == 0 && !h->indef && h->len == 0;
}

/* Appends a whole element, whose header h was just read, to out. */
static as2_status
ber_element(struct ber_in *in, const struct ber_hdr *h, struct buf *out,
    size_t limit, int depth, as2_error *err)
{
	struct ber_hdr child;
	as2_status st;

	if (depth > MAX_BER_DEPTH)
		return fail(err, AS2_ERR_FORMAT, "CMS nested too deeply");
	if (buf_add(out, h->raw, h->hlen))
		return fail(err, AS2_ERR_NOMEM, "out of memory");
	/* also bounds an endless run of empty elements */
	if (out->len > limit)
		return fail(err, AS2_ERR_LIMIT, "CMS header element larger "
		    "than %zu bytes", limit);
	if (!h->indef) {
		if (h->len > limit || out->len + h->len > limit)
			return fail(err, AS2_ERR_LIMIT, "CMS header element of "
			    "%llu bytes is too large", (unsigned long long)h->len);
		if (buf_reserve(out, (size_t)h->len))
			return fail(err, AS2_ERR_NOMEM, "out of memory");
		if (ber_read(in, out->p + out->len, (size_t)h->len))
			return fail(err, AS2_ERR_FORMAT, "CMS data ends inside "
			    "an element");
		out->len += (size_t)h->len;
		return AS2_OK;
	}
	for (;;) {
		if ((st = ber_header(in, &child, err)) != AS2_OK)
			return st;
		if (ber_is_eoc(&child))
			return buf_add(out, child.raw, child.hlen) ?
			    fail(err, AS2_ERR_NOMEM, "out of memory") : AS2_OK;
		if ((st = ber_element(in, &child, out, limit, depth + 1, err)))
			return st;
	}
}

/* Reads one whole element (header included) into out. */
static as2_status
ber_next_element(struct ber_in *in, unsigned char want_tag, struct buf *out,
    const char *what, as2_error *err)
{
	struct ber_hdr h;
	as2_status st;

	if ((st = ber_header(in, &h, err)) != AS2_OK)
		return st;
	if (h.tag != want_tag)
		return fail(err, AS2_ERR_FORMAT, "expected %s (tag 0x%02x) at "
		    "byte %llu, found tag 0x%02x", what, want_tag,
		    (unsigned long long)(in->off - h.hlen), h.tag);
	return ber_element(in, &h, out, MAX_HEADER_ELEMENT, 0, err);
}

static int
oid_nid(const unsigned char *tlv, size_t len)
{
	const unsigned char *p = tlv;
	ASN1_OBJECT *o = d2i_ASN1_OBJECT(NULL, &p, (long)len);
	int nid;

	if (o == NULL) {
		ERR_clear_error();
		return NID_undef;
	}
	nid = OBJ_obj2nid(o);
	ASN1_OBJECT_free(o);
	return nid;
}

/* Reads an OID element and returns its NID. */
static as2_status
ber_oid(struct ber_in *in, int *nid, const char *what, as2_error *err)
{
	struct buf b = { 0 };
	as2_status st = ber_next_element(in, 0x06, &b, what, err);

	if (st == AS2_OK)
		*nid = oid_nid(b.p, b.len);
	free(b.p);
	return st;
}

static as2_status
ber_expect(struct ber_in *in, unsigned char tag, struct ber_hdr *h,
    const char *what, as2_error *err)
{
	as2_status st = ber_header(in, h, err);

	if (st != AS2_OK)
		return st;
	if (h->tag != tag)
		return fail(err, AS2_ERR_FORMAT, "expected %s (tag 0x%02x) at "
		    "byte %llu, found tag 0x%02x", what, tag,
		    (unsigned long long)(in->off - h->hlen), h->tag);
	return AS2_OK;
}

/* Opens ContentInfo { contentType, [0] EXPLICIT SEQUENCE { ... } } and
 * leaves the reader inside the inner SEQUENCE. */
static as2_status
ber_open_content_info(struct ber_in *in, int *type, struct ber_hdr *inner,
    as2_error *err)
{
	struct ber_hdr h;
	as2_status st;

	if ((st = ber_expect(in, 0x30, &h, "ContentInfo SEQUENCE", err)) ||
	    (st = ber_oid(in, type, "content type", err)) ||
	    (st = ber_expect(in, 0xa0, &h, "[0] content", err)) ||
	    (st = ber_expect(in, 0x30, inner, "content SEQUENCE", err)))
		return st;
	return AS2_OK;
}

/*
 * An OCTET STRING's content as a stream, whether primitive or constructed
 * from chunks (BER), definite or indefinite.
 */
struct octets {
	struct ber_in *in;
	int depth;
	struct { int indef; uint64_t end; } lvl[MAX_BER_DEPTH];
	uint64_t chunk;
	int failed;
};

static as2_status
octets_init(struct octets *o, struct ber_in *in, const struct ber_hdr *h,
    as2_error *err)
{
	memset(o, 0, sizeof(*o));
	o->in = in;
	if (!(h->tag & 0x20)) {
		o->chunk = h->len;
		return AS2_OK;
	}
	o->lvl[0].indef = h->indef;
	o->lvl[0].end = in->off + h->len;
	o->depth = 1;
	return AS2_OK;
}

/* Returns bytes read, 0 at the end, -1 on malformed input. */
static long
octets_read(struct octets *o, void *dst, size_t n, as2_error *err)
{
	struct ber_hdr h;
	size_t got;

	while (o->chunk == 0) {
		if (o->depth == 0)
			return 0;
		if (!o->lvl[o->depth - 1].indef) {
			if (o->in->off == o->lvl[o->depth - 1].end) {
				o->depth--;
				continue;
			}
			if (o->in->off > o->lvl[o->depth - 1].end)
				goto bad;
		}
		if (ber_header(o->in, &h, err) != AS2_OK)
			goto bad_reported;
		if (ber_is_eoc(&h)) {
			if (!o->lvl[o->depth - 1].indef)
				goto bad;
			o->depth--;
			continue;
		}
		if (h.tag == 0x04 || h.tag == 0x80) {
			o->chunk = h.len;
		} else if (h.tag == 0x24 || h.tag == 0xa0) {
			if (o->depth == MAX_BER_DEPTH)
				goto bad;
			o->lvl[o->depth].indef = h.indef;
			o->lvl[o->depth].end = o->in->off + h.len;
			o->depth++;
		} else {
			goto bad;
		}
	}
	got = ber_read_some(o->in, dst, o->chunk < n ? (size_t)o->chunk : n);
	if (got == 0) {
		fail(err, AS2_ERR_FORMAT, "CMS data ends inside the content");
		o->failed = 1;
		return -1;
	}
	o->chunk -= got;
	return (long)got;
bad:
	fail(err, AS2_ERR_FORMAT, "malformed OCTET STRING chunks near byte %llu",
	    (unsigned long long)o->in->off);
bad_reported:
	o->failed = 1;
	return -1;
}

as2_cms_type
as2_cms_type_of(const unsigned char *head, size_t len)
{
	size_t i = 1, olen;
	int nid;

	if (len < 4 || head[0] != 0x30)
		return AS2_CMS_UNKNOWN;
	if (head[1] & 0x80)
		i += 1 + (head[1] & 0x7f);
	else
		i += 1;
	if (i + 2 > len || head[i] != 0x06)
		return AS2_CMS_UNKNOWN;
	olen = head[i + 1];
	if (olen >= 0x80 || i + 2 + olen > len)
		return AS2_CMS_UNKNOWN;
	nid = oid_nid(head + i, olen + 2);
	switch (nid) {
	case NID_pkcs7_data: return AS2_CMS_DATA;
	case NID_pkcs7_signed: return AS2_CMS_SIGNED;
	case NID_pkcs7_enveloped: return AS2_CMS_ENVELOPED;
	case NID_id_smime_ct_authEnvelopedData: return AS2_CMS_AUTH_ENVELOPED;
	case NID_id_smime_ct_compressedData: return AS2_CMS_COMPRESSED;
	default: return AS2_CMS_UNKNOWN;
	}
}

const char *
as2_cms_content_type(as2_cms_type type)
{
	switch (type) {
	case AS2_CMS_ENVELOPED:
		return "application/pkcs7-mime; smime-type=enveloped-data; "
		    "name=\"smime.p7m\"";
	case AS2_CMS_AUTH_ENVELOPED:
		return "application/pkcs7-mime; smime-type=authEnveloped-data; "
		    "name=\"smime.p7m\"";
	case AS2_CMS_COMPRESSED:
		return "application/pkcs7-mime; smime-type=compressed-data; "
		    "name=\"smime.p7z\"";
	case AS2_CMS_SIGNED:
		return "application/pkcs7-mime; smime-type=signed-data; "
		    "name=\"smime.p7m\"";
	default:
		return NULL;
	}
}

as2_cms_type
as2_cms_type_from_mime(const mime_content_type *ct)
{
	const char *t;

	if (!mime_content_type_is(ct, "application", "pkcs7-mime") &&
	    !mime_content_type_is(ct, "application", "x-pkcs7-mime"))
		return AS2_CMS_UNKNOWN;
	t = mime_content_type_param(ct, "smime-type");
	if (t == NULL)
		return AS2_CMS_UNKNOWN;
	if (strcasecmp(t, "enveloped-data") == 0)
		return AS2_CMS_ENVELOPED;
	if (strcasecmp(t, "authEnveloped-data") == 0)
		return AS2_CMS_AUTH_ENVELOPED;
	if (strcasecmp(t, "compressed-data") == 0)
		return AS2_CMS_COMPRESSED;
	if (strcasecmp(t, "signed-data") == 0)
		return AS2_CMS_SIGNED;
	return AS2_CMS_UNKNOWN;
}

/*
 * DER writing.
 */

static size_t
der_header(unsigned char *out, unsigned char tag, uint64_t len)
{
	size_t n = 0, i, bytes = 0;
	uint64_t v = len;

	out[n++] = tag;
	if (len < 0x80) {
		out[n++] = (unsigned char)len;
		return n;
	}
	while (v) {
		bytes++;
		v >>= 8;
	}
	out[n++] = (unsigned char)(0x80 | bytes);
	for (i = bytes; i > 0; i--)
		out[n++] = (unsigned char)(len >> (8 * (i - 1)));
	return n;
}

static int
buf_hdr(struct buf *b, unsigned char tag, uint64_t len)
{
	unsigned char h[10];

	return buf_add(b, h, der_header(h, tag, len));
}

/*
 * Decryption.
 */

struct octets_bio {
	struct octets o;
	as2_error *err;
	int eof;
};

static int
octets_bio_read(BIO *b, char *dst, int n)
{
	struct octets_bio *ob = BIO_get_data(b);
	long got;

	if (n <= 0 || ob->eof)
		return 0;
	got = octets_read(&ob->o, dst, (size_t)n, ob->err);
	if (got <= 0) {
		ob->eof = 1;
		return got < 0 ? -1 : 0;
	}
	return (int)got;
}

static long
octets_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct octets_bio *ob = BIO_get_data(b);

	switch (cmd) {
	case BIO_CTRL_EOF:
		return ob->eof;
	case BIO_CTRL_FLUSH:
		return 1;
	default:
		return 0;
	}
}

/* Made once per process: every BIO_get_new_index() call uses up a type
 * number, so a method per message would run them out in a long-lived
 * daemon. Never freed, like OpenSSL's own methods. */
static BIO_METHOD *octets_meth;
static CRYPTO_ONCE octets_once = CRYPTO_ONCE_STATIC_INIT;

static void
octets_method_init(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
	    "edigate cms octets");

	if (m == NULL)
		return;
	BIO_meth_set_read(m, octets_bio_read);
	BIO_meth_set_ctrl(m, octets_bio_ctrl);
	octets_meth = m;
}

static const BIO_METHOD *
octets_method(void)
{
	if (!CRYPTO_THREAD_run_once(&octets_once, octets_method_init))
		return NULL;
	return octets_meth;
}

static as2_status
decrypt_error(as2_error *err)
{
	unsigned long e = ERR_peek_last_error();

	if (ERR_GET_LIB(e) == ERR_LIB_CMS &&
	    ERR_GET_REASON(e) == CMS_R_NO_MATCHING_RECIPIENT)
		return fail(err, AS2_ERR_DECRYPTION, "the message is not "
		    "encrypted for our certificate");
	return fail(err, AS2_ERR_DECRYPTION, "decryption failed");
}

/* Where a definite element ends, or 0 when it is indefinite. */
static uint64_t
ber_end(const struct ber_in *r, const struct ber_hdr *h)
{
	return h->indef ? 0 : r->off + h->len;
}

/* Reads elements up to the end of the enclosing element (its EOC when
 * end is 0) and appends them to out. */
static as2_status
ber_rest(struct ber_in *r, uint64_t end, struct buf *out, as2_error *err)
{
	struct ber_hdr h;
	as2_status st;

	for (;;) {
		if (end != 0 && r->off == end)
			return AS2_OK;
		if (end != 0 && r->off > end)
			return fail(err, AS2_ERR_FORMAT, "element overruns its "
			    "enclosing SEQUENCE at byte %llu",
			    (unsigned long long)r->off);
		if ((st = ber_header(r, &h, err)) != AS2_OK)
			return st;
		if (ber_is_eoc(&h)) {
			if (end != 0)
				return fail(err, AS2_ERR_FORMAT, "unexpected "
				    "end-of-contents at byte %llu",
				    (unsigned long long)r->off);
			return AS2_OK;
		}
		if ((st = ber_element(r, &h, out, MAX_HEADER_ELEMENT, 0, err)))
			return st;
	}
}

/* The identity the sender encrypted for, or -1. */
static int
choose_identity(CMS_ContentInfo *cms, const as2_identity *ours, size_t n)
{
	STACK_OF(CMS_RecipientInfo) *ris = CMS_get0_RecipientInfos(cms);
	size_t i;
	int j;

	for (i = 0; i < n; i++)
		for (j = 0; j < sk_CMS_RecipientInfo_num(ris); j++) {
			CMS_RecipientInfo *ri = sk_CMS_RecipientInfo_value(ris, j);
			if (CMS_RecipientInfo_type(ri) == CMS_RECIPINFO_TRANS &&
			    ours[i].cert != NULL &&
			    CMS_RecipientInfo_ktri_cert_cmp(ri, ours[i].cert) == 0)
				return (int)i;
		}
	return -1;
}

as2_status
as2_decrypt(BIO *in, BIO *out, const as2_identity *ours, size_t nours,
    as2_cipher *cipher, as2_error *err)
{
	struct ber_in *r;
	struct ber_hdr inner, eci, content, h;
	struct buf head = { 0 }, body = { 0 }, tail = { 0 }, der = { 0 };
	struct buf eci_fields = { 0 }, eci_rest = { 0 };
	struct octets_bio ob;
	const BIO_METHOD *meth;
	BIO *dcont = NULL;
	CMS_ContentInfo *cms = NULL;
	const unsigned char *p;
	unsigned char oid[32], *op;
	uint64_t inner_end, eci_end;
	size_t at, off;
	as2_status st;
	int type, alg_nid, auth, olen, who;

	if (cipher != NULL)
		*cipher = (as2_cipher)-1;
	if (ours == NULL || nours == 0)
		return fail(err, AS2_ERR_ARGUMENT, "no certificate and key to "
		    "decrypt with");
	memset(&ob, 0, sizeof(ob));
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return fail(err, AS2_ERR_NOMEM, "out of memory");
	r->bio = in;
	ERR_clear_error();
	if ((st = ber_open_content_info(r, &type, &inner, err)) != AS2_OK)
		goto out;
	inner_end = ber_end(r, &inner);
	if (type != NID_pkcs7_enveloped &&
	    type != NID_id_smime_ct_authEnvelopedData) {
		st = fail(err, AS2_ERR_FORMAT, "expected CMS envelopedData, "
		    "found %s", type == NID_undef ? "an unknown type" :
		    OBJ_nid2sn(type));
		goto out;
	}
	auth = type == NID_id_smime_ct_authEnvelopedData;
	/* version, originatorInfo [0] (optional), recipientInfos SET */
	if ((st = ber_next_element(r, 0x02, &head, "version", err)) ||
	    (st = ber_header(r, &h, err)))
		goto out;
	if (h.tag == 0xa0) {
		if ((st = ber_element(r, &h, &head, MAX_HEADER_ELEMENT, 0,
		    err)) || (st = ber_header(r, &h, err)))
			goto out;
	}
	if (h.tag != 0x31) {
		st = fail(err, AS2_ERR_FORMAT, "expected recipientInfos SET, "
		    "found tag 0x%02x", h.tag);
		goto out;
	}
	if ((st = ber_element(r, &h, &head, MAX_HEADER_ELEMENT, 0, err)))
		goto out;
	/* EncryptedContentInfo { contentType, algorithm, [0] content } */
	if ((st = ber_expect(r, 0x30, &eci, "EncryptedContentInfo", err)))
		goto out;
	eci_end = ber_end(r, &eci);
	if ((st = ber_next_element(r, 0x06, &eci_fields, "content type", err)))
		goto out;
	at = eci_fields.len;
	if ((st = ber_next_element(r, 0x30, &eci_fields,
	    "content encryption algorithm", err)))
		goto out;
	p = eci_fields.p + at;
	off = 2 + ((p[1] & 0x80) ? (size_t)(p[1] & 0x7f) : 0);
	alg_nid = at + off + 2 <= eci_fields.len ?
	    oid_nid(p + off, eci_fields.len - at - off) : NID_undef;
	if (cipher != NULL)
		*cipher = (as2_cipher)cipher_from_nid(alg_nid);
	if ((st = ber_header(r, &content, err)))
		goto out;
	if (content.tag != 0x80 && content.tag != 0xa0) {
		st = fail(err, AS2_ERR_FORMAT, "the encrypted content is "
		    "missing (found tag 0x%02x)", content.tag);
		goto out;
	}
	octets_init(&ob.o, r, &content, err);
	ob.err = err;

	if (auth) {
		/* The tag follows the content, so the content is read into
		 * memory and the whole structure re-encoded for OpenSSL. */
		unsigned char *tmp = malloc(IO_CHUNK);
		long n = 0;

		while (tmp != NULL &&
		    (n = octets_read(&ob.o, tmp, IO_CHUNK, err)) > 0)
			if (buf_add(&body, tmp, (size_t)n))
				break;
		free(tmp);
		if (tmp == NULL || n > 0) {
			st = fail(err, AS2_ERR_NOMEM, "out of memory");
			goto out;
		}
		if (n < 0) {
			st = err ? err->code : AS2_ERR_FORMAT;
			goto out;
		}
		/* rest of the EncryptedContentInfo (nothing, or its EOC),
		 * then authAttrs [1], mac, unauthAttrs [2] */
		if ((st = ber_rest(r, eci_end, &eci_rest, err)))
			goto out;
		if (eci_rest.len != 0) {
			st = fail(err, AS2_ERR_FORMAT, "unexpected element "
			    "after the encrypted content");
			goto out;
		}
		if ((st = ber_rest(r, inner_end, &tail, err)))
			goto out;
	}

	/* ContentInfo { type, [0] { SEQUENCE { head, ECI, tail } } }, with
	 * the ciphertext left out (detached) unless it is AEAD. Lengths
	 * first, then one buffer: a GCM message is large and every copy
	 * counts. */
	op = oid;
	olen = i2d_ASN1_OBJECT(OBJ_nid2obj(type), &op);
	{
		unsigned char hb[10];
		uint64_t l_eci, l_seq, l_ctx, l_ci;

		l_eci = eci_fields.len + (auth ? der_header(hb, 0x80, body.len) +
		    body.len : 0);
		l_seq = head.len + der_header(hb, 0x30, l_eci) + l_eci +
		    tail.len;
		l_ctx = der_header(hb, 0x30, l_seq) + l_seq;
		l_ci = (uint64_t)olen + der_header(hb, 0xa0, l_ctx) + l_ctx;
		if (olen <= 0 || l_ci > LONG_MAX - 16 ||
		    buf_reserve(&der, der_header(hb, 0x30, l_ci) + l_ci) ||
		    buf_hdr(&der, 0x30, l_ci) ||
		    buf_add(&der, oid, (size_t)olen) ||
		    buf_hdr(&der, 0xa0, l_ctx) || buf_hdr(&der, 0x30, l_seq) ||
		    buf_add(&der, head.p, head.len) ||
		    buf_hdr(&der, 0x30, l_eci) ||
		    buf_add(&der, eci_fields.p, eci_fields.len) ||
		    (auth && (buf_hdr(&der, 0x80, body.len) ||
		    buf_add(&der, body.p, body.len))) ||
		    buf_add(&der, tail.p, tail.len)) {
			st = fail(err, AS2_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	free(body.p);
	body.p = NULL;
	p = der.p;
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)der.len);
	free(der.p);
	der.p = NULL;
	if (cms == NULL) {
		st = fail(err, AS2_ERR_FORMAT, "the CMS envelope does not parse");
		goto out;
	}
	/* Choosing here, not leaving it to CMS_decrypt without a
	 * certificate, avoids OpenSSL's trial decryption with every key
	 * (which yields random output for a wrong key, by design). */
	if ((who = choose_identity(cms, ours, nours)) < 0) {
		st = fail(err, AS2_ERR_DECRYPTION, "the message is not encrypted "
		    "for any of our %zu certificates", nours);
		goto out;
	}
	if (!auth) {
		/* Ciphertext detached: CMS_decrypt reads it through our BIO
		 * in small pieces, so memory stays flat. */
		if ((meth = octets_method()) == NULL ||
		    (dcont = BIO_new(meth)) == NULL) {
			st = fail(err, AS2_ERR_NOMEM, "out of memory");
			goto out;
		}
		BIO_set_data(dcont, &ob);
		BIO_set_init(dcont, 1);
	}
	if (CMS_decrypt(cms, ours[who].key, ours[who].cert, dcont, out,
	    CMS_BINARY) != 1 ||
	    ob.o.failed) {
		if (ob.o.failed)
			st = err ? err->code : AS2_ERR_FORMAT;
		else
			st = decrypt_error(err);
		goto out;
	}
	st = AS2_OK;
out:
	BIO_free(dcont);
	CMS_ContentInfo_free(cms);
	free(head.p);
	free(body.p);
	free(tail.p);
	free(der.p);
	free(eci_fields.p);
	free(eci_rest.p);
	free(r);
	return st;
}

/*
 * CompressedData (RFC 3274).
 */

/* 1.2.840.113549.1.9.16.1.9 id-ct-compressedData */
static const unsigned char oid_compressed[] = {
	0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01,
	0x09
};
/* 1.2.840.113549.1.7.1 id-data */
static const unsigned char oid_data[] = {
	0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01
};
/* version 0, AlgorithmIdentifier { 1.2.840.113549.1.9.16.3.8 zlib },
 * parameters absent (RFC 3274 section 2) */
static const unsigned char version_and_zlib[] = {
	0x02, 0x01, 0x00,
	0x30, 0x0d, 0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09,
	0x10, 0x03, 0x08
};

static as2_status
deflate_all(BIO *in, z_stream *z, as2_status (*emit)(void *, const
    unsigned char *, size_t, as2_error *), void *ctx, as2_error *err)
{
	unsigned char *ibuf = malloc(IO_CHUNK), *obuf = malloc(IO_CHUNK);
	as2_status st = AS2_OK;
	int n, zr, flush;

	if (ibuf == NULL || obuf == NULL) {
		st = fail(err, AS2_ERR_NOMEM, "out of memory");
		goto out;
	}
	do {
		n = BIO_read(in, ibuf, IO_CHUNK);
		if (n < 0 && !BIO_eof(in) && !BIO_should_retry(in)) {
			st = fail(err, AS2_ERR_IO, "read failed");
			goto out;
		}
		if (n < 0)
			n = 0;
		flush = n == 0 ? Z_FINISH : Z_NO_FLUSH;
		z->next_in = ibuf;
		z->avail_in = (uInt)n;
		do {
			z->next_out = obuf;
			z->avail_out = IO_CHUNK;
			zr = deflate(z, flush);
			if (zr == Z_STREAM_ERROR) {
				st = fail(err, AS2_ERR_NOMEM, "zlib failed");
				goto out;
			}
			if (IO_CHUNK - z->avail_out > 0 &&
			    (st = emit(ctx, obuf, IO_CHUNK - z->avail_out, err)))
				goto out;
		} while (z->avail_out == 0);
	} while (flush != Z_FINISH);
out:
	free(ibuf);
	free(obuf);
	return st;
}

static as2_status
emit_buf(void *ctx, const unsigned char *data, size_t len, as2_error *err)
{
	return buf_add(ctx, data, len) ? fail(err, AS2_ERR_NOMEM,
	    "out of memory") : AS2_OK;
}

static as2_status
emit_chunk(void *ctx, const unsigned char *data, size_t len, as2_error *err)
{
	unsigned char h[10];
	as2_status st;

	/* each deflate output is one primitive OCTET STRING chunk */
	if ((st = bio_write_all(ctx, h, der_header(h, 0x04, len), err)))
		return st;
	return bio_write_all(ctx, data, len, err);
}

as2_status
as2_compress(BIO *in, BIO *out, int definite, as2_error *err)
{
	static const unsigned char eoc[2] = { 0, 0 };
	z_stream z;
	as2_status st;

	memset(&z, 0, sizeof(z));
	if (deflateInit(&z, Z_DEFAULT_COMPRESSION) != Z_OK)
		return fail(err, AS2_ERR_NOMEM, "zlib init failed");
	if (definite) {
		struct buf zbuf = { 0 }, b = { 0 };
		uint64_t l_octets, l_eci, l_cd, l_ctx, l_ci;
		unsigned char h[10];
		int ok;

		st = deflate_all(in, &z, emit_buf, &zbuf, err);
		deflateEnd(&z);
		if (st != AS2_OK) {
			free(zbuf.p);
			return st;
		}
		l_octets = der_header(h, 0x04, zbuf.len) + zbuf.len;
		l_eci = sizeof(oid_data) + der_header(h, 0xa0, l_octets) +
		    l_octets;
		l_cd = sizeof(version_and_zlib) + der_header(h, 0x30, l_eci) +
		    l_eci;
		l_ctx = der_header(h, 0x30, l_cd) + l_cd;
		l_ci = sizeof(oid_compressed) + der_header(h, 0xa0, l_ctx) +
		    l_ctx;
		ok = !buf_hdr(&b, 0x30, l_ci) &&
		    !buf_add(&b, oid_compressed, sizeof(oid_compressed)) &&
		    !buf_hdr(&b, 0xa0, l_ctx) && !buf_hdr(&b, 0x30, l_cd) &&
		    !buf_add(&b, version_and_zlib, sizeof(version_and_zlib)) &&
		    !buf_hdr(&b, 0x30, l_eci) &&
		    !buf_add(&b, oid_data, sizeof(oid_data)) &&
		    !buf_hdr(&b, 0xa0, l_octets) &&
		    !buf_hdr(&b, 0x04, zbuf.len);
		st = ok ? bio_write_all(out, b.p, b.len, err) :
		    fail(err, AS2_ERR_NOMEM, "out of memory");
		if (st == AS2_OK)
			st = bio_write_all(out, zbuf.p, zbuf.len, err);
		free(zbuf.p);
		free(b.p);
		return st;
	}
	{
		/* ContentInfo, [0], CompressedData SEQ, version+alg,
		 * EncapsulatedContentInfo SEQ, id-data, [0], OCTET STRING
		 * constructed: all indefinite. */
		static const unsigned char open_ci[] = { 0x30, 0x80 };
		static const unsigned char open_ctx[] = { 0xa0, 0x80, 0x30, 0x80 };
		static const unsigned char open_eci[] = { 0x30, 0x80 };
		static const unsigned char open_content[] = {
			0xa0, 0x80, 0x24, 0x80
		};
		int i;

		if ((st = bio_write_all(out, open_ci, 2, err)) ||
		    (st = bio_write_all(out, oid_compressed,
		    sizeof(oid_compressed), err)) ||
		    (st = bio_write_all(out, open_ctx, 4, err)) ||
		    (st = bio_write_all(out, version_and_zlib,
		    sizeof(version_and_zlib), err)) ||
		    (st = bio_write_all(out, open_eci, 2, err)) ||
		    (st = bio_write_all(out, oid_data, sizeof(oid_data), err)) ||
		    (st = bio_write_all(out, open_content, 4, err)) ||
		    (st = deflate_all(in, &z, emit_chunk, out, err))) {
			deflateEnd(&z);
			return st;
		}
		deflateEnd(&z);
		/* OCTET STRING, [0], ECI, CompressedData, [0], ContentInfo */
		for (i = 0; i < 6; i++)
			if ((st = bio_write_all(out, eoc, 2, err)))
				return st;
		return AS2_OK;
	}
}

as2_status
as2_decompress(BIO *in, BIO *out, uint64_t max_out, as2_error *err)
{
	struct ber_in *r;
	struct ber_hdr inner, h;
	struct buf alg = { 0 }, tmp = { 0 };
	struct octets o;
	unsigned char *ibuf = NULL, *obuf = NULL;
	uint64_t total = 0;
	z_stream z;
	int type, zinit = 0, zr = Z_OK, nid;
	long n;
	as2_status st;

	memset(&z, 0, sizeof(z));
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return fail(err, AS2_ERR_NOMEM, "out of memory");
	r->bio = in;
	if ((st = ber_open_content_info(r, &type, &inner, err)) != AS2_OK)
		goto out;
	if (type != NID_id_smime_ct_compressedData) {
		st = fail(err, AS2_ERR_FORMAT, "expected CMS compressedData, "
		    "found %s", type == NID_undef ? "an unknown type" :
		    OBJ_nid2sn(type));
		goto out;
	}
	if ((st = ber_next_element(r, 0x02, &tmp, "version", err)) ||
	    (st = ber_next_element(r, 0x30, &alg, "compression algorithm",
	    err)))
		goto out;
	{
		size_t off = 2;
		if (alg.p[1] & 0x80)
			off += alg.p[1] & 0x7f;
		nid = off + 2 <= alg.len ? oid_nid(alg.p + off, alg.len - off) :
		    NID_undef;
	}
	if (nid != NID_zlib_compression) {
		st = fail(err, AS2_ERR_UNSUPPORTED, "compression algorithm is "
		    "not zlib (1.2.840.113549.1.9.16.3.8)");
		goto out;
	}
	tmp.len = 0;
	if ((st = ber_expect(r, 0x30, &h, "EncapsulatedContentInfo", err)) ||
	    (st = ber_next_element(r, 0x06, &tmp, "content type", err)) ||
	    (st = ber_expect(r, 0xa0, &h, "[0] compressed content", err)) ||
	    (st = ber_header(r, &h, err)))
		goto out;
	if (h.tag != 0x04 && h.tag != 0x24) {
		st = fail(err, AS2_ERR_FORMAT, "expected OCTET STRING, found "
		    "tag 0x%02x", h.tag);
		goto out;
	}
	octets_init(&o, r, &h, err);
	ibuf = malloc(IO_CHUNK);
	obuf = malloc(IO_CHUNK);
	/* 15 + 32: zlib as RFC 3274 says, or gzip framing, detected. */
	if (ibuf == NULL || obuf == NULL || inflateInit2(&z, 15 + 32) != Z_OK) {
		st = fail(err, AS2_ERR_NOMEM, "out of memory");
		goto out;
	}
	zinit = 1;
	while (zr != Z_STREAM_END && (n = octets_read(&o, ibuf, IO_CHUNK,
	    err)) > 0) {
		z.next_in = ibuf;
		z.avail_in = (uInt)n;
		/* Go on while input is left or the output filled up: inflate
		 * may hold more output than one buffer takes. */
		do {
			z.next_out = obuf;
			z.avail_out = IO_CHUNK;
			zr = inflate(&z, Z_NO_FLUSH);
			if (zr == Z_BUF_ERROR) {
				zr = Z_OK;   /* no progress: needs input */
				break;
			}
			if (zr != Z_OK && zr != Z_STREAM_END) {
				st = fail(err, AS2_ERR_DECOMPRESSION, "invalid "
				    "zlib data: %s", z.msg ? z.msg : "error");
				goto out;
			}
			total += IO_CHUNK - z.avail_out;
			if (max_out && total > max_out) {
				st = fail(err, AS2_ERR_LIMIT, "decompressed "
				    "content exceeds %llu bytes",
				    (unsigned long long)max_out);
				goto out;
			}
			if ((st = bio_write_all(out, obuf, IO_CHUNK -
			    z.avail_out, err)))
				goto out;
		} while (zr != Z_STREAM_END &&
		    (z.avail_in > 0 || z.avail_out == 0));
	}
	if (o.failed) {
		st = err ? err->code : AS2_ERR_FORMAT;
		goto out;
	}
	if (zr != Z_STREAM_END) {
		st = fail(err, AS2_ERR_DECOMPRESSION, "the zlib stream is "
		    "truncated");
		goto out;
	}
	st = AS2_OK;
out:
	if (zinit)
		inflateEnd(&z);
	free(ibuf);
	free(obuf);
	free(alg.p);
	free(tmp.p);
	free(r);
	return st;
}
