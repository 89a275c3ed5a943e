/*
 * as2_stream - taking the security layers off an AS2 body that lives in
 * a file, with memory that does not grow with the body (RFC 4130, RFC
 * 5402). The rules are as2_unwrap's (see as2_unwrap.h): same layers,
 * same order, same MIC source, same failures and dispositions; only the
 * place the bytes live differs.
 *
 * OWNS
 *   The walk over nested layers of a body read from a file descriptor:
 *   EnvelopedData and AuthEnvelopedData (as2_decrypt, which streams
 *   CBC content; GCM is held in memory by OpenSSL, see as2_cms.h),
 *   CompressedData (as2_decompress, zlib with fixed buffers),
 *   multipart/signed (split by mime_signed as the bytes pass, signature
 *   checked by as2_verify reading the signed entity back from its file),
 *   and the transfer encodings of the outer body and every inner entity.
 *   Each layer's output goes to an anonymous temporary file in tmpdir;
 *   the caller reads the payload and the MIC source through
 *   as2_stream_read.
 *
 * INVARIANTS
 *   A slice always runs to the end of its file. The raw body's file is
 *   read, never written or closed. Temporary files are unlinked from the
 *   start (O_TMPFILE, or mkstemp then unlink), so a crash leaves nothing
 *   behind; as2_stream_free closes them.
 *
 * MEMORY
 *   Fixed chunk buffers (64 KiB), the MIME headers of one entity (at
 *   most AS2_STREAM_MAX_HEADERS) and a detached signature (at most 1
 *   MiB). Disk: each layer's output once, until as2_stream_free.
 *
 * NEVER
 *   Trusts a certificate carried in the message, follows more than
 *   AS2_UNWRAP_MAX_DEPTH layers, or exits on any input.
 */
#ifndef EDIGATE_AS2_STREAM_H
#define EDIGATE_AS2_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "as2_unwrap.h"

#define AS2_STREAM_MAX_HEADERS (256 * 1024)
#define AS2_STREAM_MAX_FILES (AS2_UNWRAP_MAX_DEPTH * 2 + 4)

/* Bytes from off to the end of the file fd. */
struct as2_slice {
	int fd;
	uint64_t off, len;
};

struct as2_streamed {
	int is_signed, is_encrypted, is_compressed;
	mime_micalg sign_alg;
	mime_micalg_style sign_style;
	int cipher;
	struct as2_slice mic_source;     /* the bytes the MIC covers */
	struct as2_slice payload;        /* the decoded content */
	char filename[256];
	char payload_type[128];
	as2_status fail;
	char reason[400];
	int files[AS2_STREAM_MAX_FILES]; /* our temporary files */
	size_t nfiles;
};

/* Unwraps the body held in body_fd (len bytes from offset 0; the
 * descriptor stays the caller's). Temporary files go to tmpdir. Returns
 * 0, or -1 with u->fail and u->reason set; free u either way. */
int as2_stream_unwrap(struct as2_streamed *u,
    const struct as2_unwrap_keys *keys, uint64_t max_out, const char *tmpdir,
    const char *ctype, const char *cte, int body_fd, uint64_t len);
void as2_stream_free(struct as2_streamed *u);

/* Feeds the bytes of s to sink in chunks; 0, or -1 on a read error or
 * when sink returned non-zero. */
int as2_stream_read(const struct as2_slice *s, mime_sink sink, void *ctx);
/* Up to cap leading bytes of s; the count read, or -1. */
long as2_stream_peek(const struct as2_slice *s, void *buf, size_t cap);

/* An anonymous read-write file in dir (unlinked already); -1 on error. */
int as2_stream_tmpfile(const char *dir);

#endif
