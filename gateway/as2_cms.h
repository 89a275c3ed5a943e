/*
 * as2_cms - the CMS side of AS2 message security (RFC 4130, 5652, 3274).
 *
 * OWNS
 *   Detached binary signatures (SHA-1/224/256/384/512) made and checked
 *   with OpenSSL CMS, against one or several partner certificates (during a
 *   rotation any currently valid one may have signed); encryption and
 *   decryption (3DES, AES-128/192/256-CBC as EnvelopedData, AES-128/256-GCM
 *   as AuthEnvelopedData); CMS CompressedData written and read with zlib
 *   and our own DER/BER framing, because Debian's OpenSSL has no zlib; the
 *   Received-Content-MIC (RFC 4130 section 7.3.1); and writing a
 *   multipart/signed entity in one pass.
 *
 * WHAT THE MIC COVERS (RFC 4130 section 7.3.1)
 *   Signed message: the signed MIME entity, headers and body, byte-exact as
 *   split from the multipart/signed (mime_signed hands exactly those bytes
 *   out). Encrypted but unsigned: the decrypted MIME entity, headers and
 *   body. Neither: the payload content without its MIME headers. The MIC
 *   module digests whatever bytes the caller feeds; choosing them is the
 *   caller's part.
 *
 * STREAMING AND MEMORY
 *   Signing and verification stream the content through the digest in 4 KiB
 *   reads; only the signature (a few KiB) is in memory. Compression and
 *   decompression stream through zlib with fixed buffers; decompression
 *   has an output limit against decompression bombs. Encryption streams
 *   (indefinite-length BER output, as OpenSSL's streaming writer makes
 *   it). OpenSSL itself can only parse a CMS structure whole
 *   (d2i_CMS_bio reads everything into memory), so as2_decrypt parses the
 *   outer BER itself, hands OpenSSL the envelope with the ciphertext
 *   detached and feeds the ciphertext through a BIO of its own: memory
 *   stays flat for EnvelopedData of any size. AuthEnvelopedData (GCM)
 *   carries its tag after the content, and OpenSSL wants the content
 *   inside the structure, so a GCM message is held in memory: about three
 *   times its size at the peak (our copy, then OpenSSL's parse and its
 *   own buffering; `openssl cms -decrypt` needs more still). Prefer CBC
 *   for partners who send hundreds of MB. GCM plaintext already written
 *   to `out` must be discarded when the call fails (OpenSSL checks the
 *   tag at the end).
 *
 * ERRORS
 *   as2_status codes map onto RFC 4130 / RFC 3798 disposition modifiers
 *   (as2_status_disposition): a signer that is none of the partner's valid
 *   certificates is AS2_ERR_AUTHENTICATION; a content digest or signature
 *   that does not match is AS2_ERR_INTEGRITY; a message we cannot decrypt
 *   is AS2_ERR_DECRYPTION. The message says what was expected and found,
 *   with OpenSSL's reason when there is one.
 *
 * NEVER
 *   Lets OpenSSL canonicalise line ends (everything is CMS_BINARY), trusts
 *   certificates carried inside a message, verifies a certificate chain
 *   (trust is the partner profile's pinned certificates), or parses MIME.
 */
#ifndef EDIGATE_AS2_CMS_H
#define EDIGATE_AS2_CMS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "mime.h"

typedef enum as2_status {
	AS2_OK = 0,
	AS2_ERR_NOMEM,
	AS2_ERR_ARGUMENT,
	AS2_ERR_IO,
	AS2_ERR_FORMAT,          /* malformed CMS, DER or MIME */
	AS2_ERR_UNSUPPORTED,     /* algorithm or content type */
	AS2_ERR_AUTHENTICATION,  /* signer is not a valid partner certificate */
	AS2_ERR_INTEGRITY,       /* digest or signature does not match */
	AS2_ERR_DECRYPTION,      /* not for our key, or decryption failed */
	AS2_ERR_DECOMPRESSION,   /* invalid zlib stream */
	AS2_ERR_LIMIT            /* output larger than allowed */
} as2_status;

typedef struct as2_error {
	as2_status code;
	char message[320];
} as2_error;

const char *as2_status_name(as2_status status);
/* The RFC 4130 section 7.4.3 disposition modifier for a failure:
 * "authentication-failed", "decryption-failed", "integrity-check-failed"
 * or "unexpected-processing-error"; NULL for AS2_OK. */
const char *as2_status_disposition(as2_status status);

/* Certificates and keys from PEM files. as2_load_certs appends every
 * certificate in the file to *certs (created when NULL). */
as2_status as2_load_cert(const char *path, X509 **cert, as2_error *err);
as2_status as2_load_certs(const char *path, STACK_OF(X509) **certs,
    as2_error *err);
as2_status as2_load_key(const char *path, EVP_PKEY **key, as2_error *err);

/* The OpenSSL digest for a micalg; NULL for NONE or unknown. */
const EVP_MD *as2_digest(mime_micalg alg);
mime_micalg as2_micalg_from_nid(int nid);

/*
 * MIC: base64 of the digest, ", ", and the algorithm name in the
 * sender's spelling: "x5fK...=, sha-256".
 */
#define AS2_MIC_MAX 160
typedef struct as2_mic {
	EVP_MD_CTX *ctx;
	mime_micalg alg;
} as2_mic;

as2_status as2_mic_init(as2_mic *mic, mime_micalg alg, as2_error *err);
void as2_mic_update(as2_mic *mic, const void *data, size_t len);
/* A mime_sink that feeds an as2_mic. */
int as2_mic_sink(void *ctx, const void *data, size_t len);
as2_status as2_mic_final(as2_mic *mic, mime_micalg_style style, char *out,
    size_t cap, as2_error *err);
void as2_mic_free(as2_mic *mic);
/* Formats a raw digest as a MIC string. */
as2_status as2_mic_format(const unsigned char *digest, size_t len,
    mime_micalg alg, mime_micalg_style style, char *out, size_t cap,
    as2_error *err);
/* 1 when two MIC strings carry the same digest and algorithm, whatever
 * the spelling of the algorithm and the white space. */
int as2_mic_equal(const char *a, const char *b);

/*
 * Signing. The signer streams: update() as often as needed, finish()
 * returns the DER SignedData with the content detached.
 */
typedef struct as2_signer as2_signer;

as2_signer *as2_signer_new(X509 *cert, EVP_PKEY *key, STACK_OF(X509) *chain,
    mime_micalg alg, as2_error *err);
as2_status as2_signer_update(as2_signer *signer, const void *data,
    size_t len, as2_error *err);
/* *der is allocated with OPENSSL_malloc; free with OPENSSL_free. */
as2_status as2_signer_finish(as2_signer *signer, unsigned char **der,
    size_t *der_len, as2_error *err);
void as2_signer_free(as2_signer *signer);

/* Signs everything content yields. */
as2_status as2_sign(BIO *content, X509 *cert, EVP_PKEY *key,
    STACK_OF(X509) *chain, mime_micalg alg, unsigned char **der,
    size_t *der_len, as2_error *err);

/*
 * Writes a multipart/signed body to out: the MIME entity read from entity
 * (headers and body, sent byte-exact), then the base64 signature part.
 * *content_type receives the Content-Type value with boundary, protocol
 * and micalg in the given spelling (malloc'd). mic, when not NULL,
 * receives the MIC of the entity in the same algorithm, to match against
 * the receipt later. One pass over entity.
 */
as2_status as2_write_signed(BIO *entity, BIO *out, X509 *cert, EVP_PKEY *key,
    STACK_OF(X509) *chain, mime_micalg alg, mime_micalg_style style,
    char **content_type, char mic[AS2_MIC_MAX], as2_error *err);

/*
 * Verification of a detached signature.
 */
typedef struct as2_verify_result {
	int signer_index;               /* index into partner_certs */
	mime_micalg digest;             /* the signer's digest algorithm */
	unsigned char message_digest[EVP_MAX_MD_SIZE]; /* signed attribute */
	size_t message_digest_len;
} as2_verify_result;

/* Verifies sig (DER SignedData) over the bytes content yields. Only
 * partner_certs are trusted, and of those only the ones valid at now
 * (0: the current time). result may be NULL. */
as2_status as2_verify(const unsigned char *sig, size_t sig_len, BIO *content,
    STACK_OF(X509) *partner_certs, time_t now, as2_verify_result *result,
    as2_error *err);

/*
 * Encryption.
 */
typedef enum as2_cipher {
	AS2_CIPHER_3DES = 0,
	AS2_CIPHER_AES128_CBC,
	AS2_CIPHER_AES192_CBC,
	AS2_CIPHER_AES256_CBC,
	AS2_CIPHER_AES128_GCM,
	AS2_CIPHER_AES256_GCM
} as2_cipher;

/* Accepts "3des", "des-ede3-cbc", "aes128-cbc", "aes-128-cbc", "aes128",
 * "aes256-gcm", ... (case-insensitive). -1 when unknown. */
int as2_cipher_parse(const char *name);
const char *as2_cipher_name(as2_cipher cipher);

/* Encrypts everything in to recipients (their certificates); writes the
 * BER ContentInfo to out, streaming. */
as2_status as2_encrypt(BIO *in, BIO *out, STACK_OF(X509) *recipients,
    as2_cipher cipher, as2_error *err);
/* One of our certificates with its private key. */
typedef struct as2_identity {
	X509 *cert;
	EVP_PKEY *key;
} as2_identity;

/* Decrypts the EnvelopedData or AuthEnvelopedData read from in; the
 * plaintext goes to out. ours lists our certificates and keys (several
 * during a rotation of our own certificate): the one the sender
 * addressed is chosen from the recipient infos before any ciphertext is
 * read, so the stream is read once. cipher, when not NULL, receives the
 * content-encryption algorithm (-1 when unknown). */
as2_status as2_decrypt(BIO *in, BIO *out, const as2_identity *ours,
    size_t nours, as2_cipher *cipher, as2_error *err);

/*
 * CompressedData (RFC 3274), zlib.
 */
/* Compresses everything in and writes a ContentInfo to out. definite: DER
 * with definite lengths, which needs the compressed size first, so the
 * zlib output is kept in memory (for small messages such as receipts);
 * otherwise streaming BER with indefinite lengths and 64 KiB chunks. */
as2_status as2_compress(BIO *in, BIO *out, int definite, as2_error *err);
/* Decompresses a ContentInfo read from in into out; max_out 0 means no
 * limit. Definite and indefinite lengths, primitive and constructed
 * OCTET STRINGs are accepted. */
as2_status as2_decompress(BIO *in, BIO *out, uint64_t max_out,
    as2_error *err);

/*
 * What a CMS body is, from its first bytes (32 are enough): used when a
 * peer sends application/pkcs7-mime without smime-type.
 */
typedef enum as2_cms_type {
	AS2_CMS_UNKNOWN = 0,
	AS2_CMS_DATA,
	AS2_CMS_SIGNED,
	AS2_CMS_ENVELOPED,
	AS2_CMS_AUTH_ENVELOPED,
	AS2_CMS_COMPRESSED
} as2_cms_type;

as2_cms_type as2_cms_type_of(const unsigned char *head, size_t len);

/* The MIME Content-Type value for a CMS body we send: application/
 * pkcs7-mime with smime-type enveloped-data, authEnveloped-data (RFC
 * 5751 section 3.2.2), compressed-data (RFC 3274 section 3) or
 * signed-data; NULL for other types. */
const char *as2_cms_content_type(as2_cms_type type);
/* The type an application/(x-)pkcs7-mime Content-Type announces through
 * its smime-type parameter; AS2_CMS_UNKNOWN when absent or another media
 * type (then ask as2_cms_type_of). */
as2_cms_type as2_cms_type_from_mime(const mime_content_type *ct);

#endif
