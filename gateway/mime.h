/*
 * mime - streaming MIME parsing for AS2 (RFC 2045, 2046, 4130, 3798).
 *
 * OWNS
 *   Header blocks (folded lines, CRLF or bare LF line ends, case-insensitive
 *   names, bounded size), Content-Type style values with parameters and
 *   quoted strings, Content-Transfer-Encoding decoding (7bit, 8bit, binary,
 *   base64, quoted-printable), splitting multipart bodies by RFC 2046 rules,
 *   multipart/signed into the exact bytes of the signed entity and the
 *   decoded signature, and the AS2 header values: AS2-From/AS2-To names
 *   (RFC 4130 section 6.2), Disposition-Notification-Options (RFC 4130
 *   section 7.3) and Receipt-Delivery-Option.
 *
 * STREAMING
 *   Every parser is a push parser: the caller feeds chunks of any size and
 *   the result does not depend on where the chunks are cut. A boundary may
 *   straddle chunks. Body bytes flow through to the caller's sink as they
 *   arrive; only a few hundred bytes are held back while a line break might
 *   still turn out to start a delimiter. Memory is bounded by the limits
 *   (header block size, field count, signature size), never by body size.
 *
 * DELIMITERS (RFC 2046 section 5.1.1)
 *   The line break before "--boundary" belongs to the delimiter, not to the
 *   part: the signed entity handed to the verifier ends at the last byte
 *   before that CRLF (or LF). A bare LF is accepted wherever CRLF is, since
 *   some AS2 products write LF-only MIME.
 *
 * ERRORS
 *   Every function returns a mime_status and fills a mime_error with the
 *   byte offset (counted from the start of what was fed), the header line
 *   where it applies, and a message saying what was expected and found.
 *   No input makes these functions abort, exit or grow without bound.
 *
 * NEVER
 *   Knows about HTTP, CMS or certificates; modifies the bytes of a signed
 *   entity; trusts a length or count the input announces.
 */
#ifndef EDIGATE_MIME_H
#define EDIGATE_MIME_H

#include <stddef.h>
#include <stdint.h>

typedef enum mime_status {
	MIME_OK = 0,
	MIME_MORE,              /* header block incomplete: feed more */
	MIME_ERR_NOMEM,
	MIME_ERR_LIMIT,         /* a size or count limit was exceeded */
	MIME_ERR_SYNTAX,        /* malformed header, parameter or value */
	MIME_ERR_TRUNCATED,     /* input ended early */
	MIME_ERR_ENCODING,      /* invalid base64 or quoted-printable */
	MIME_ERR_UNSUPPORTED,   /* unknown transfer encoding, media type */
	MIME_ERR_STRUCTURE,     /* wrong number or kind of parts */
	MIME_ERR_STOPPED        /* a sink returned non-zero */
} mime_status;

typedef struct mime_error {
	mime_status code;
	uint64_t offset;   /* byte offset in the fed input */
	unsigned line;     /* 1-based header line, 0 when not applicable */
	char message[192];
} mime_error;

const char *mime_status_name(mime_status status);

/* A sink receives decoded or split bytes; non-zero stops the parser with
 * MIME_ERR_STOPPED. */
typedef int (*mime_sink)(void *ctx, const void *data, size_t len);

/*
 * Header blocks.
 */
typedef struct mime_limits {
	size_t max_header_bytes; /* whole block incl. line ends; 0: 64 KiB */
	size_t max_fields;       /* 0: 128 */
} mime_limits;

typedef struct mime_field {
	char *name;   /* as sent */
	char *value;  /* unfolded (line breaks removed), trimmed */
} mime_field;

typedef struct mime_headers {
	mime_field *fields;
	size_t count;
	/* parser state, private */
	size_t cap, bytes, max_bytes, max_fields;
	char *line;                /* current physical line */
	size_t line_len, line_cap;
	char *pending;             /* current logical field "name:value" */
	size_t pending_len, pending_cap;
	unsigned lineno;
	int done;
} mime_headers;

void mime_headers_init(mime_headers *h, const mime_limits *limits);
void mime_headers_free(mime_headers *h);
/* Consumes bytes up to and including the empty line that ends the block.
 * Returns MIME_OK when the block is complete (*used tells how many bytes
 * of data belonged to it; the rest is body), MIME_MORE when all of data
 * was consumed and more is needed, or an error. */
mime_status mime_headers_feed(mime_headers *h, const void *data, size_t len,
    size_t *used, mime_error *err);
/* The input ended: a block ending in a complete line without the empty
 * line is accepted (an entity with an empty body); anything else is
 * MIME_ERR_TRUNCATED. */
mime_status mime_headers_finish(mime_headers *h, mime_error *err);
/* Whole-buffer convenience: parse the header block at the start of buf. */
mime_status mime_headers_parse(mime_headers *h, const void *buf, size_t len,
    size_t *body_offset, mime_error *err);
/* First field with that name (case-insensitive), NULL when absent. */
const char *mime_headers_get(const mime_headers *h, const char *name);

/*
 * Values with parameters: Content-Type, Content-Disposition.
 */
typedef struct mime_param {
	char *name;   /* lower case */
	char *value;  /* unquoted, escapes resolved */
} mime_param;

typedef struct mime_content_type {
	char type[64];     /* lower case: "multipart" */
	char subtype[64];  /* lower case: "signed"; empty for a bare token
	                      such as Content-Disposition's "attachment" */
	mime_param *params;
	size_t nparams;
} mime_content_type;

/* Parses "type/subtype; name=value; name="quoted value"". A value without
 * a slash is accepted and stored in type (for Content-Disposition). */
mime_status mime_content_type_parse(const char *value, mime_content_type *ct,
    mime_error *err);
void mime_content_type_free(mime_content_type *ct);
const char *mime_content_type_param(const mime_content_type *ct,
    const char *name);
/* 1 when type/subtype match (case-insensitive). */
int mime_content_type_is(const mime_content_type *ct, const char *type,
    const char *subtype);

/*
 * Content-Transfer-Encoding.
 */
typedef enum mime_cte {
	MIME_CTE_7BIT = 0,   /* also the default when the header is absent */
	MIME_CTE_8BIT,
	MIME_CTE_BINARY,
	MIME_CTE_BASE64,
	MIME_CTE_QUOTED_PRINTABLE,
	MIME_CTE_UNKNOWN
} mime_cte;

mime_cte mime_cte_parse(const char *value);

typedef struct mime_decoder {
	mime_cte cte;
	mime_sink sink;
	void *ctx;
	uint64_t offset;
	unsigned quad, nquad;   /* base64 bits in progress */
	int padded;             /* base64 '=' seen */
	unsigned char qp[80];   /* quoted-printable bytes held back */
	size_t nqp;
	unsigned char out[4096];
	size_t nout;
} mime_decoder;

void mime_decoder_init(mime_decoder *d, mime_cte cte, mime_sink sink,
    void *ctx);
mime_status mime_decoder_feed(mime_decoder *d, const void *data, size_t len,
    mime_error *err);
mime_status mime_decoder_finish(mime_decoder *d, mime_error *err);

/*
 * Multipart splitting (RFC 2046 section 5.1).
 */
#define MIME_BOUNDARY_MAX 200  /* RFC 2046 says 70; some products exceed it */
#define MIME_PADDING_MAX 64    /* transport padding after a delimiter */

typedef enum mime_part_event {
	MIME_PART_BEGIN,
	MIME_PART_DATA,   /* raw bytes of the part: its headers and body */
	MIME_PART_END
} mime_part_event;

/* index counts parts from 0. Non-zero stops with MIME_ERR_STOPPED. */
typedef int (*mime_part_fn)(void *ctx, mime_part_event ev, unsigned index,
    const char *data, size_t len);

typedef struct mime_multipart {
	char delim[2 + MIME_BOUNDARY_MAX + 1];   /* "--" boundary */
	size_t dlen;
	int state;
	size_t k;                                /* delimiter bytes matched */
	char hold[2 + 2 + MIME_BOUNDARY_MAX + 2 + MIME_PADDING_MAX + 2];
	size_t nhold;
	int part;            /* index of the open part, -1 in the preamble */
	unsigned max_parts;
	int closed;
	uint64_t offset;
	mime_part_fn fn;
	void *ctx;
} mime_multipart;

/* max_parts 0: 64. */
mime_status mime_multipart_init(mime_multipart *m, const char *boundary,
    unsigned max_parts, mime_part_fn fn, void *ctx, mime_error *err);
mime_status mime_multipart_feed(mime_multipart *m, const void *data,
    size_t len, mime_error *err);
/* Fails with MIME_ERR_TRUNCATED unless the close delimiter was seen. */
mime_status mime_multipart_finish(mime_multipart *m, mime_error *err);
/* Number of parts begun so far. */
unsigned mime_multipart_parts(const mime_multipart *m);

/*
 * multipart/signed (RFC 1847, RFC 5751 section 3.5.3): the first part is
 * the signed entity, passed byte-exact (headers and body) to content_sink;
 * the second part's headers are parsed and its body is decoded into
 * memory, bounded by max_signature.
 */
typedef struct mime_signed {
	mime_multipart mp;
	mime_sink content_sink;
	void *content_ctx;
	uint64_t content_len;
	mime_headers sig_headers;
	int sig_in_body;
	mime_decoder sig_decoder;
	unsigned char *signature;     /* decoded (DER) signature */
	size_t signature_len, signature_cap, max_signature;
	char protocol[96];            /* protocol parameter, lower case */
	char micalg[64];              /* micalg parameter as sent */
	mime_status cb_status;        /* error raised inside a callback */
	mime_error cb_err;
} mime_signed;

/* ct must be multipart/signed with a boundary. max_signature 0: 1 MiB. */
mime_status mime_signed_init(mime_signed *s, const mime_content_type *ct,
    mime_sink content_sink, void *ctx, size_t max_signature,
    mime_error *err);
mime_status mime_signed_feed(mime_signed *s, const void *data, size_t len,
    mime_error *err);
/* Checks that there were exactly two parts and that the second is an
 * application/(x-)pkcs7-signature. */
mime_status mime_signed_finish(mime_signed *s, mime_error *err);
void mime_signed_free(mime_signed *s);

/*
 * AS2 header values.
 */
typedef enum mime_micalg {
	MIME_MICALG_NONE = 0,
	MIME_MICALG_MD5,
	MIME_MICALG_SHA1,
	MIME_MICALG_SHA224,
	MIME_MICALG_SHA256,
	MIME_MICALG_SHA384,
	MIME_MICALG_SHA512
} mime_micalg;

/* RFC 5751 writes "sha-256", RFC 3851 and many AS2 products "sha256"; a
 * receipt answers in the spelling the sender used. */
typedef enum mime_micalg_style {
	MIME_MICALG_STYLE_DASH = 0,  /* sha-1, sha-256 */
	MIME_MICALG_STYLE_PLAIN      /* sha1, sha256 */
} mime_micalg_style;

/* Case-insensitive; MIME_MICALG_NONE for an unknown name. style may be
 * NULL. */
mime_micalg mime_micalg_parse(const char *name, size_t len,
    mime_micalg_style *style);
const char *mime_micalg_name(mime_micalg alg, mime_micalg_style style);
#define MIME_MICALG_BIT(alg) (1u << (alg))

typedef enum mime_importance {
	MIME_IMPORTANCE_ABSENT = 0,
	MIME_IMPORTANCE_OPTIONAL,
	MIME_IMPORTANCE_REQUIRED
} mime_importance;

#define MIME_DNO_MAX_MICALGS 8

/* Disposition-Notification-Options, e.g.
 * "signed-receipt-protocol=optional, pkcs7-signature;
 *  signed-receipt-micalg=optional, sha-256, sha1" */
typedef struct mime_dno {
	mime_importance protocol_importance;
	int protocol_pkcs7;           /* pkcs7-signature was listed */
	mime_importance micalg_importance;
	size_t micalg_count;          /* names listed (known or not) */
	mime_micalg micalgs[MIME_DNO_MAX_MICALGS];  /* NONE when unknown */
	mime_micalg_style styles[MIME_DNO_MAX_MICALGS];
} mime_dno;

mime_status mime_dno_parse(const char *value, mime_dno *dno, mime_error *err);
/* 1 when the sender asked for a signed receipt. */
int mime_dno_wants_signed(const mime_dno *dno);
/* The first listed algorithm within supported (a set of MIME_MICALG_BIT),
 * with the sender's spelling; MIME_MICALG_NONE when none fits. */
mime_micalg mime_dno_choose_micalg(const mime_dno *dno, unsigned supported,
    mime_micalg_style *style);

/* Receipt-Delivery-Option: an absolute http(s) URL for an asynchronous
 * MDN. Copies the trimmed URL to url. */
mime_status mime_receipt_delivery_parse(const char *value, char *url,
    size_t cap, mime_error *err);

/* AS2-From / AS2-To (RFC 4130 section 6.2): 1 to 128 printable ASCII
 * characters, quoted when they contain a space, quote or backslash. The
 * name is case-sensitive; out receives it unquoted. An unquoted name with
 * inner spaces is accepted too, since some products send one. */
#define MIME_AS2_NAME_MAX 128
mime_status mime_as2_name_parse(const char *value,
    char out[MIME_AS2_NAME_MAX + 1], mime_error *err);
/* Writes the header value for name, quoting and escaping when needed. */
mime_status mime_as2_name_format(const char *name, char *out, size_t cap,
    mime_error *err);

#endif
