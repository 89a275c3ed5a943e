/*
 * as2_stream - the layers of a received AS2 body held in a file. See
 * as2_stream.h; the walk is as2_unwrap's, with files instead of buffers.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "as2_stream.h"
#include "mime.h"

#define CHUNK (64 * 1024)

int
as2_stream_tmpfile(const char *dir)
{
	char path[4096];
	int fd;

#ifdef O_TMPFILE
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
#endif
	/* Filesystems without O_TMPFILE: a named file, unlinked at once. */
	if (snprintf(path, sizeof(path), "%s/as2-XXXXXX", dir) >=
	    (int)sizeof(path))
		return -1;
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	unlink(path);
	return fd;
}

int
as2_stream_read(const struct as2_slice *s, mime_sink sink, void *ctx)
{
	unsigned char *buf = malloc(CHUNK);
	uint64_t off = s->off, end = s->off + s->len;
	int rc = 0;

	if (buf == NULL)
		return -1;
	while (off < end) {
		size_t want = end - off < CHUNK ? (size_t)(end - off) : CHUNK;
		ssize_t n = pread(s->fd, buf, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || sink(ctx, buf, (size_t)n) != 0) {
			rc = -1;
			break;
		}
		off += (uint64_t)n;
	}
	free(buf);
	return rc;
}

long
as2_stream_peek(const struct as2_slice *s, void *buf, size_t cap)
{
	size_t want = s->len < cap ? (size_t)s->len : cap, got = 0;

	while (got < want) {
		ssize_t n = pread(s->fd, (char *)buf + got, want - got,
		    (off_t)(s->off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return (long)got;
}

static int
fail_with(struct as2_streamed *u, as2_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail_with(struct as2_streamed *u, as2_status code, const char *fmt, ...)
{
	va_list ap;
	u->fail = code;
	va_start(ap, fmt);
	vsnprintf(u->reason, sizeof(u->reason), fmt, ap);
	va_end(ap);
	return -1;
}

/* A new temporary file, kept in u until as2_stream_free. */
static int
new_file(struct as2_streamed *u, const char *tmpdir)
{
	int fd;

	if (u->nfiles >= AS2_STREAM_MAX_FILES) {
		fail_with(u, AS2_ERR_FORMAT, "too many nested layers");
		return -1;
	}
	fd = as2_stream_tmpfile(tmpdir);
	if (fd < 0) {
		fail_with(u, AS2_ERR_IO, "temporary file in %s: %s", tmpdir,
		    strerror(errno));
		return -1;
	}
	u->files[u->nfiles++] = fd;
	return fd;
}

/* Writes to a file through a buffer: the MIME splitter hands its bytes
 * out in small pieces (down to one line), and a write per piece would
 * make a large message crawl. */
struct fd_sink {
	int fd;
	uint64_t written;
	int error;      /* errno of a failed write */
	size_t n;
	unsigned char buf[CHUNK];
};

static int
write_out(struct fd_sink *s, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(s->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			s->error = n < 0 ? errno : EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
fd_sink_flush(struct fd_sink *s)
{
	size_t n = s->n;

	s->n = 0;
	return write_out(s, s->buf, n);
}

static int
fd_sink(void *ctx, const void *data, size_t len)
{
	struct fd_sink *s = ctx;

	s->written += len;
	if (s->n + len > sizeof(s->buf) && fd_sink_flush(s) != 0)
		return -1;
	if (len >= sizeof(s->buf))
		return write_out(s, data, len);
	memcpy(s->buf + s->n, data, len);
	s->n += len;
	return 0;
}

static struct fd_sink *
fd_sink_new(int fd)
{
	struct fd_sink *s = malloc(sizeof(*s));

	if (s != NULL) {
		s->fd = fd;
		s->written = 0;
		s->error = 0;
		s->n = 0;
	}
	return s;
}

/* The whole of file fd as a slice. */
static int
slice_of(int fd, struct as2_slice *s)
{
	struct stat sb;

	if (fstat(fd, &sb) != 0)
		return -1;
	s->fd = fd;
	s->off = 0;
	s->len = (uint64_t)sb.st_size;
	return 0;
}

struct decode_ctx {
	mime_decoder *dec;
	mime_error *merr;
};

static int
decode_feed(void *ctx, const void *data, size_t len)
{
	struct decode_ctx *c = ctx;
	return mime_decoder_feed(c->dec, data, len, c->merr) != MIME_OK;
}

/* The body in by its transfer encoding: in itself when there is nothing
 * to decode, else a new file. */
static int
decode_body(struct as2_streamed *u, const char *tmpdir, const char *cte,
    const struct as2_slice *in, struct as2_slice *out)
{
	mime_cte c = mime_cte_parse(cte);
	mime_decoder dec;
	mime_error merr;
	struct fd_sink *fs;
	struct decode_ctx dc = { &dec, &merr };
	int fd;

	if (c == MIME_CTE_UNKNOWN)
		return fail_with(u, AS2_ERR_UNSUPPORTED,
		    "Content-Transfer-Encoding \"%s\" is not supported", cte);
	if (c == MIME_CTE_BINARY || c == MIME_CTE_7BIT || c == MIME_CTE_8BIT) {
		*out = *in;
		return 0;
	}
	if ((fd = new_file(u, tmpdir)) < 0)
		return -1;
	if ((fs = fd_sink_new(fd)) == NULL)
		return fail_with(u, AS2_ERR_NOMEM, "out of memory");
	merr.message[0] = '\0';
	mime_decoder_init(&dec, c, fd_sink, fs);
	if (as2_stream_read(in, decode_feed, &dc) != 0 ||
	    mime_decoder_finish(&dec, &merr) != MIME_OK ||
	    fd_sink_flush(fs) != 0) {
		int e = fs->error;
		free(fs);
		if (e)
			return fail_with(u, AS2_ERR_IO, "temporary file: %s",
			    strerror(e));
		return fail_with(u, AS2_ERR_FORMAT, "body: %s",
		    merr.message[0] ? merr.message : "read error");
	}
	out->fd = fd;
	out->off = 0;
	out->len = fs->written;
	free(fs);
	return 0;
}

/* Splits the MIME entity in (a whole file) into its Content-Type and its
 * decoded body; keeps the Content-Disposition filename. */
static int
split_entity(struct as2_streamed *u, const char *tmpdir,
    const struct as2_slice *entity, char **ctype, struct as2_slice *body)
{
	size_t cap = entity->len < AS2_STREAM_MAX_HEADERS ?
	    (size_t)entity->len : AS2_STREAM_MAX_HEADERS;
	char *head = malloc(cap + 1);
	mime_headers h;
	mime_error merr;
	size_t off;
	const char *v;
	struct as2_slice rest;
	long n;
	int rc;

	if (head == NULL)
		return fail_with(u, AS2_ERR_NOMEM, "out of memory");
	n = as2_stream_peek(entity, head, cap);
	if (n < 0) {
		free(head);
		return fail_with(u, AS2_ERR_IO, "cannot read a temporary "
		    "file");
	}
	mime_headers_init(&h, NULL);
	if (mime_headers_parse(&h, head, (size_t)n, &off, &merr) != MIME_OK) {
		mime_headers_free(&h);
		free(head);
		return fail_with(u, AS2_ERR_FORMAT, "MIME headers: %s",
		    merr.message);
	}
	v = as2_entity_headers(&h, ctype, u->filename, sizeof(u->filename));
	rest.fd = entity->fd;
	rest.off = entity->off + off;
	rest.len = entity->len - off;
	rc = *ctype == NULL ? fail_with(u, AS2_ERR_NOMEM, "out of memory") :
	    decode_body(u, tmpdir, v, &rest, body);
	mime_headers_free(&h);
	free(head);
	return rc;
}


/* A read BIO positioned at the start of s (which runs to its file's end). */
static BIO *
slice_bio(const struct as2_slice *s)
{
	BIO *b;

	if (lseek(s->fd, (off_t)s->off, SEEK_SET) < 0)
		return NULL;
	b = BIO_new_fd(s->fd, BIO_NOCLOSE);
	return b;
}

/* One CMS layer (enveloped, authEnveloped, compressed) into a new file. */
static int
cms_layer(struct as2_streamed *u, const struct as2_unwrap_keys *peer,
    uint64_t max_out, const char *tmpdir, const mime_content_type *ct,
    const char *ctype, const struct as2_slice *body, struct as2_slice *entity)
{
	as2_cms_type type = as2_cms_type_from_mime(ct);
	BIO *in = NULL, *out = NULL;
	as2_error aerr;
	as2_status st;
	int fd, rc = -1;

	if (type == AS2_CMS_UNKNOWN) {
		unsigned char headb[32];
		long n = as2_stream_peek(body, headb, sizeof(headb));
		type = as2_cms_type_of(headb, n > 0 ? (size_t)n : 0);
	}
	if (type != AS2_CMS_ENVELOPED && type != AS2_CMS_AUTH_ENVELOPED &&
	    type != AS2_CMS_COMPRESSED)
		return fail_with(u, AS2_ERR_UNSUPPORTED, "%s is not an AS2 "
		    "layer (expected enveloped-data, compressed-data or "
		    "multipart/signed)", ctype);
	if ((fd = new_file(u, tmpdir)) < 0)
		return -1;
	in = slice_bio(body);
	out = BIO_new_fd(fd, BIO_NOCLOSE);
	if (in == NULL || out == NULL) {
		fail_with(u, AS2_ERR_NOMEM, "out of memory");
		goto out;
	}
	memset(&aerr, 0, sizeof(aerr));
	if (type == AS2_CMS_COMPRESSED) {
		st = as2_decompress(in, out, max_out, &aerr);
		if (st != AS2_OK) {
			fail_with(u, st == AS2_ERR_LIMIT ? AS2_ERR_LIMIT :
			    AS2_ERR_FORMAT, "decompression: %s", aerr.message);
			goto out;
		}
		u->is_compressed = 1;
	} else {
		as2_cipher cipher;
		if (peer->nours == 0) {
			fail_with(u, AS2_ERR_DECRYPTION, "the message is "
			    "encrypted but the profile names no "
			    "<our-certificate>");
			goto out;
		}
		st = as2_decrypt(in, out, peer->ours, peer->nours, &cipher,
		    &aerr);
		if (st != AS2_OK) {
			fail_with(u, st == AS2_ERR_NOMEM ? st :
			    AS2_ERR_DECRYPTION, "decryption: %s", aerr.message);
			goto out;
		}
		u->is_encrypted = 1;
		u->cipher = (int)cipher;
	}
	if (BIO_flush(out) != 1 || slice_of(fd, entity) != 0) {
		fail_with(u, AS2_ERR_IO, "temporary file: %s", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	BIO_free(in);
	BIO_free(out);
	return rc;
}

struct signed_feed {
	mime_signed *s;
	mime_error *merr;
};

static int
signed_feed(void *ctx, const void *data, size_t len)
{
	struct signed_feed *f = ctx;
	return mime_signed_feed(f->s, data, len, f->merr) != MIME_OK;
}

/* multipart/signed: the signed entity into a new file, its signature
 * checked against the partner's certificates. */
static int
signed_layer(struct as2_streamed *u, const struct as2_unwrap_keys *peer,
    const char *tmpdir, const mime_content_type *ct,
    const struct as2_slice *body, struct as2_slice *entity)
{
	mime_signed s;
	mime_error merr;
	struct fd_sink *fs;
	struct signed_feed sf = { &s, &merr };
	as2_verify_result vr;
	as2_error aerr;
	as2_status st;
	BIO *content;
	int fd, e;

	if ((fd = new_file(u, tmpdir)) < 0)
		return -1;
	if ((fs = fd_sink_new(fd)) == NULL)
		return fail_with(u, AS2_ERR_NOMEM, "out of memory");
	merr.message[0] = '\0';
	if (mime_signed_init(&s, ct, fd_sink, fs, 0, &merr) != MIME_OK) {
		mime_signed_free(&s);
		free(fs);
		return fail_with(u, AS2_ERR_FORMAT, "multipart/signed: %s",
		    merr.message);
	}
	if (as2_stream_read(body, signed_feed, &sf) != 0 ||
	    mime_signed_finish(&s, &merr) != MIME_OK ||
	    fd_sink_flush(fs) != 0) {
		mime_signed_free(&s);
		e = fs->error;
		free(fs);
		if (e)
			return fail_with(u, AS2_ERR_IO, "temporary file: %s",
			    strerror(e));
		return fail_with(u, AS2_ERR_FORMAT, "multipart/signed: %s",
		    merr.message[0] ? merr.message : "read error");
	}
	if (s.micalg[0])
		mime_micalg_parse(s.micalg, strlen(s.micalg), &u->sign_style);
	entity->fd = fd;
	entity->off = 0;
	entity->len = fs->written;
	free(fs);
	memset(&aerr, 0, sizeof(aerr));
	if (peer->theirs == NULL || sk_X509_num(peer->theirs) == 0) {
		st = AS2_ERR_AUTHENTICATION;
		snprintf(aerr.message, sizeof(aerr.message),
		    "the profile names no partner certificate");
	} else if ((content = slice_bio(entity)) == NULL) {
		st = AS2_ERR_NOMEM;
		snprintf(aerr.message, sizeof(aerr.message), "out of memory");
	} else {
		st = as2_verify(s.signature, s.signature_len, content,
		    peer->theirs, 0, &vr, &aerr);
		BIO_free(content);
	}
	mime_signed_free(&s);
	if (st != AS2_OK) {
		fail_with(u, st == AS2_ERR_AUTHENTICATION ||
		    st == AS2_ERR_NOMEM ? st : AS2_ERR_INTEGRITY,
		    "signature: %s", aerr.message);
		return -1;
	}
	u->is_signed = 1;
	u->sign_alg = vr.digest;
	return 0;
}

int
as2_stream_unwrap(struct as2_streamed *u, const struct as2_unwrap_keys *peer,
    uint64_t max_out, const char *tmpdir, const char *http_ctype,
    const char *http_cte, int body_fd, uint64_t len)
{
	char *ctype = strdup(http_ctype);
	struct as2_slice raw = { body_fd, 0, len }, body, entity;
	int rc = -1;

	if (ctype == NULL)
		return fail_with(u, AS2_ERR_NOMEM, "out of memory");
	if (decode_body(u, tmpdir, http_cte ? http_cte : "binary", &raw,
	    &body) != 0)
		goto out;
	/* Unsigned and unencrypted: the MIC covers the content as sent. */
	u->mic_source = body;
	for (int depth = 0;; depth++) {
		mime_content_type ct;
		mime_error merr;

		if (depth > AS2_UNWRAP_MAX_DEPTH) {
			fail_with(u, AS2_ERR_FORMAT, "more than %d nested "
			    "layers", AS2_UNWRAP_MAX_DEPTH);
			goto out;
		}
		if (mime_content_type_parse(ctype, &ct, &merr) != MIME_OK) {
			fail_with(u, AS2_ERR_FORMAT, "Content-Type \"%s\": %s",
			    ctype, merr.message);
			goto out;
		}
		if (as2_is_pkcs7_mime(&ct)) {
			int r = cms_layer(u, peer, max_out, tmpdir, &ct, ctype,
			    &body, &entity);
			mime_content_type_free(&ct);
			if (r != 0)
				goto out;
			/* Not signed: the MIC covers the decrypted (RFC
			 * 4130 section 7.3.1) or decompressed (RFC 5402
			 * section 4.1) entity with its headers. */
			if (!u->is_signed)
				u->mic_source = entity;
			if (split_entity(u, tmpdir, &entity, &ctype, &body)
			    != 0)
				goto out;
			continue;
		}
		if (mime_content_type_is(&ct, "multipart", "signed")) {
			int r = signed_layer(u, peer, tmpdir, &ct, &body,
			    &entity);
			mime_content_type_free(&ct);
			if (r != 0)
				goto out;
			u->mic_source = entity;
			if (split_entity(u, tmpdir, &entity, &ctype, &body)
			    != 0)
				goto out;
			continue;
		}
		mime_content_type_free(&ct);
		break;
	}
	snprintf(u->payload_type, sizeof(u->payload_type), "%s", ctype);
	u->payload = body;
	rc = 0;
out:
	free(ctype);
	return rc;
}

void
as2_stream_free(struct as2_streamed *u)
{
	for (size_t i = 0; i < u->nfiles; i++)
		close(u->files[i]);
	u->nfiles = 0;
}
