/*
 * http_reader - a push parser for HTTP/1.1 requests (RFC 9112): request
 * line, header fields, and the body framed by Content-Length or chunked
 * transfer coding, for listeners that stream request bodies to disk.
 *
 * OWNS
 *   The framing of one request at a time: the head is collected (at most
 *   max_header bytes, request line and fields together) and parsed, then
 *   body bytes are handed to the body callback as they arrive, in pieces
 *   of whatever size the input has, chunk framing removed. The caller
 *   feeds any split of the input (1 byte or 1 MiB at a time gives the
 *   same result); http_reader_feed stops at the end of a request so the
 *   bytes of a pipelined next request stay with the caller.
 *
 * ERRORS
 *   A malformed request stops the reader in HTTP_READER_ERROR with the
 *   status to answer (400 malformed, 413 body over max_body, 431 head
 *   over max_header, 501 a transfer coding other than chunked) and a
 *   message naming the byte offset. Content-Length together with
 *   Transfer-Encoding, or two different Content-Lengths, are refused
 *   (request smuggling, RFC 9112 section 6.3). A callback that returns
 *   non-zero stops the reader with status 500.
 *
 * MEMORY
 *   The head buffer (at most max_header bytes); body bytes are never
 *   copied.
 *
 * NEVER
 *   Reads past the data it is given, allocates per body byte, or trusts
 *   a length without checking it against the limit and for overflow.
 */
#ifndef EDIGATE_HTTP_READER_H
#define EDIGATE_HTTP_READER_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_READER_MAX_FIELDS 100

enum http_reader_state {
	HTTP_READER_HEAD = 0,   /* collecting the request line and fields */
	HTTP_READER_BODY,       /* Content-Length body */
	HTTP_READER_CHUNK_SIZE, /* chunked: size line */
	HTTP_READER_CHUNK_DATA,
	HTTP_READER_CHUNK_END,  /* the CRLF after a chunk's data */
	HTTP_READER_TRAILER,    /* fields after the last chunk */
	HTTP_READER_DONE,       /* one request complete */
	HTTP_READER_ERROR
};

struct http_reader_field {
	const char *name, *value;   /* NUL-terminated, in the head buffer */
};

struct http_reader;

struct http_reader_callbacks {
	/* The head is complete: method, target, fields, framing known. */
	int (*head)(void *ctx, struct http_reader *r);
	int (*body)(void *ctx, const void *data, size_t len);
};

struct http_reader {
	enum http_reader_state state;
	uint64_t max_header, max_body;
	const struct http_reader_callbacks *cb;
	void *ctx;
	/* head */
	char *head;
	size_t head_len, head_cap;
	const char *method, *target;
	int version;                /* 10 or 11 */
	struct http_reader_field fields[HTTP_READER_MAX_FIELDS];
	size_t nfields;
	/* framing */
	int chunked, keep_alive, expect_continue;
	uint64_t content_length;    /* when not chunked */
	uint64_t body_seen;         /* body bytes so far */
	uint64_t chunk_left;
	char line[80];              /* chunk size line or trailer in progress */
	size_t line_len;
	uint64_t trailer_bytes;
	uint64_t offset;            /* bytes consumed since the request began */
	/* error */
	int status;
	char message[200];
};

void http_reader_init(struct http_reader *r, uint64_t max_header,
    uint64_t max_body, const struct http_reader_callbacks *cb, void *ctx);
/* Ready for the next request on the same connection. */
void http_reader_reset(struct http_reader *r);
void http_reader_free(struct http_reader *r);
/* Consumes bytes up to the end of the current request (state DONE) or
 * an error; returns how many were consumed. */
size_t http_reader_feed(struct http_reader *r, const void *data, size_t len);
/* A field's value (the first of that name, case-insensitive), or NULL. */
const char *http_reader_field(const struct http_reader *r, const char *name);

#endif
