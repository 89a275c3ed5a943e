/*
 * as2_unwrap - taking the security layers off a received AS2 body
 * (RFC 4130, RFC 5402): decryption, decompression and signature
 * verification in any order, down to the payload, with the bytes the
 * Received-Content-MIC covers.
 *
 * OWNS
 *   The walk over nested layers: application/(x-)pkcs7-mime enveloped,
 *   authEnveloped or compressed data (the smime-type parameter, or the
 *   CMS content type when the parameter is absent), multipart/signed
 *   (split by our own code, see mime.h, verified against the partner's
 *   certificates only), and finally the payload with its Content-Type
 *   and Content-Disposition filename. Content-Transfer-Encoding binary,
 *   7bit, 8bit, base64 and quoted-printable are decoded on the outer
 *   body and on every inner entity.
 *
 * WHAT THE MIC COVERS (RFC 4130 section 7.3.1, RFC 5402 section 4.1)
 *   Signed: the signed MIME entity, headers and body, byte-exact. Else
 *   the innermost decrypted or decompressed MIME entity, headers and
 *   body. Else the content as sent (transfer encoding removed).
 *
 * ERRORS
 *   fail is an as2_status whose disposition (as2_status_disposition)
 *   is what the MDN says: AS2_ERR_AUTHENTICATION for a signer that is
 *   none of the partner's valid certificates, AS2_ERR_INTEGRITY for
 *   content that does not match its signature, AS2_ERR_DECRYPTION for
 *   anything that fails while decrypting (not for our key, garbage),
 *   AS2_ERR_FORMAT / AS2_ERR_UNSUPPORTED / AS2_ERR_LIMIT for malformed
 *   MIME or CMS, layers that are not AS2, and decompression over the
 *   limit. reason says what was expected and found.
 *
 * MEMORY
 *   Works on a body held in memory; holds a few copies of it (the
 *   decoded layers) and the decompressed output up to max_out.
 *
 * NEVER
 *   Trusts a certificate carried in the message, follows more than
 *   AS2_UNWRAP_MAX_DEPTH layers, or exits on any input.
 */
#ifndef EDIGATE_AS2_UNWRAP_H
#define EDIGATE_AS2_UNWRAP_H

#include <stddef.h>

#include "as2_cms.h"

#define AS2_UNWRAP_MAX_DEPTH 6

/* A growing byte buffer; p is NUL-terminated (not counted in len). */
struct as2_buf {
	unsigned char *p;
	size_t len, cap;
};

struct as2_unwrap_keys {
	STACK_OF(X509) *theirs;     /* the partner's certificates; may be NULL */
	const as2_identity *ours;   /* our certificates and keys */
	size_t nours;
};

struct as2_unwrapped {
	int is_signed, is_encrypted, is_compressed;
	mime_micalg sign_alg;            /* the signer's digest */
	mime_micalg_style sign_style;    /* spelling of the micalg parameter */
	int cipher;                      /* as2_cipher when encrypted */
	struct as2_buf mic_source;       /* the bytes the MIC covers */
	struct as2_buf payload;          /* the decoded content */
	char filename[256];              /* Content-Disposition filename */
	char payload_type[128];          /* the payload's Content-Type */
	as2_status fail;                 /* AS2_OK, or why it failed */
	char reason[400];
};

/* Unwraps body (Content-Type ctype, Content-Transfer-Encoding cte or NULL
 * for binary). Returns 0, or -1 with u->fail and u->reason set. u is
 * filled either way; free it with as2_unwrapped_free. max_out bounds
 * each decompression (0: no bound). */
int as2_unwrap(struct as2_unwrapped *u, const struct as2_unwrap_keys *keys,
    size_t max_out, const char *ctype, const char *cte,
    const unsigned char *body, size_t len);
void as2_unwrapped_free(struct as2_unwrapped *u);

/* Shared with as2_stream, the same walk over bytes in files. */
/* From an entity's headers: its Content-Type (text/plain when absent)
 * into *ctype, freed first and NULL when out of memory; the filename of
 * its Content-Disposition into filename. Returns the transfer encoding,
 * "binary" when absent. */
const char *as2_entity_headers(const mime_headers *h, char **ctype,
    char *filename, size_t filename_size);
/* application/pkcs7-mime or application/x-pkcs7-mime. */
int as2_is_pkcs7_mime(const mime_content_type *ct);

#endif
