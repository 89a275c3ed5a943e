/*
 * sftp_client - push to and pull from partners' SFTP servers with
 * libssh2. See sftp_client.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libssh2.h>
#include <libssh2_sftp.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "sftp_client.h"
#include "sftp_inbox.h"
#include "store.h"

#define TIMEOUT_MS 30000
#define SECRET_MAX 65536
#define PULL_MAX_FILES 10000

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;

static void
init_libssh2(void)
{
	init_rc = libssh2_init(0);
}

struct conn {
	int sock;
	LIBSSH2_SESSION *session;
	LIBSSH2_SFTP *sftp;
};

static int
fail(struct sftp_client_error *err, int retryable, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct sftp_client_error *err, int retryable, const char *fmt, ...)
{
	va_list ap;

	err->retryable = retryable;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

static const char *
session_error(LIBSSH2_SESSION *s)
{
	char *msg = NULL;

	libssh2_session_last_error(s, &msg, NULL, 0);
	return msg ? msg : "unknown error";
}

/* ---- host keys --------------------------------------------------------- */

void
sftp_client_fingerprint(const unsigned char *key, size_t len, char out[64])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	unsigned char b64[64];
	int n;

	EVP_Digest(key, len, md, &mdlen, EVP_sha256(), NULL);
	n = EVP_EncodeBlock(b64, md, (int)mdlen);
	while (n > 0 && b64[n - 1] == '=')
		n--;
	snprintf(out, 64, "SHA256:%.*s", n, (const char *)b64);
}

static const char *
key_type_name(int type)
{
	switch (type) {
	case LIBSSH2_HOSTKEY_TYPE_RSA: return "ssh-rsa";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return "ecdsa-sha2-nistp256";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return "ecdsa-sha2-nistp384";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return "ecdsa-sha2-nistp521";
	case LIBSSH2_HOSTKEY_TYPE_ED25519: return "ssh-ed25519";
	default: return "unknown";
	}
}

static int
check_host_key(const partner_sftp_remote *r, LIBSSH2_SESSION *s,
    struct sftp_client_error *err)
{
	const char *key;
	size_t len = 0;
	int type = 0;
	char fp[64];

	key = libssh2_session_hostkey(s, &len, &type);
	if (key == NULL)
		return fail(err, 1, "%s:%u: no host key received", r->host,
		    r->port);
	sftp_client_fingerprint((const unsigned char *)key, len, fp);
	if (r->host_key_fingerprint) {
		const char *want = r->host_key_fingerprint;
		size_t wl = strlen(want);
		/* ssh-keygen prints no padding; accept a pinned "=" too. */
		if (wl > 0 && want[wl - 1] == '=')
			wl--;
		if (strlen(fp) == wl && memcmp(fp, want, wl) == 0)
			return 0;
	} else if (r->host_key_base64) {
		size_t bl = strlen(r->host_key_base64);
		unsigned char *raw = malloc(bl / 4 * 3 + 4);
		int n, pad = 0;
		if (raw == NULL)
			return fail(err, 1, "out of memory");
		n = EVP_DecodeBlock(raw, (const unsigned char *)r->host_key_base64,
		    (int)bl);
		if (bl >= 1 && r->host_key_base64[bl - 1] == '=')
			pad++;
		if (bl >= 2 && r->host_key_base64[bl - 2] == '=')
			pad++;
		int same = n >= 0 && (size_t)(n - pad) == len &&
		    memcmp(raw, key, len) == 0 &&
		    strcmp(r->host_key_type, key_type_name(type)) == 0;
		free(raw);
		if (same)
			return 0;
	}
	return fail(err, 0, "%s:%u: host key mismatch: the server offers %s "
	    "%s, which is not the key pinned in the partner profile; not "
	    "connecting", r->host, r->port, key_type_name(type), fp);
}

/* ---- secrets ----------------------------------------------------------- */

/* Reads a secret file whole (trailing line end dropped). The caller wipes
 * and frees it with secret_free. */
static char *
secret_read(const char *path, struct sftp_client_error *err)
{
	char *buf = malloc(SECRET_MAX + 1);
	size_t len = 0;
	ssize_t n;
	int fd;

	if (buf == NULL) {
		fail(err, 1, "out of memory");
		return NULL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(buf);
		fail(err, 0, "%s: %s", path, strerror(errno));
		return NULL;
	}
	while (len < SECRET_MAX &&
	    (n = read(fd, buf + len, SECRET_MAX - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	buf[len] = '\0';
	return buf;
}

static void
secret_free(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, SECRET_MAX + 1);
	free(s);
}

/* ---- connection --------------------------------------------------------- */

static void
conn_close(struct conn *c)
{
	if (c->sftp)
		libssh2_sftp_shutdown(c->sftp);
	if (c->session) {
		libssh2_session_disconnect(c->session, "edigate done");
		libssh2_session_free(c->session);
	}
	if (c->sock >= 0)
		close(c->sock);
	c->sftp = NULL;
	c->session = NULL;
	c->sock = -1;
}

static int
tcp_connect(const partner_sftp_remote *r, struct sftp_client_error *err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	struct timeval tv = { TIMEOUT_MS / 1000, 0 };
	char port[16];
	int fd = -1, rc, saved = 0;

	snprintf(port, sizeof(port), "%u", r->port);
	rc = getaddrinfo(r->host, port, &hints, &res);
	if (rc != 0) {
		fail(err, 1, "%s: %s", r->host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0)
			continue;
		/* Bounds connect() and every blocking read and write. */
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		fail(err, 1, "%s:%u: %s", r->host, r->port,
		    strerror(saved ? saved : ECONNREFUSED));
	return fd;
}

static int
conn_open(struct conn *c, const partner_sftp_remote *r,
    struct sftp_client_error *err)
{
	char *secret = NULL, *passphrase = NULL;
	int rc;

	c->sock = -1;
	c->session = NULL;
	c->sftp = NULL;
	pthread_once(&init_once, init_libssh2);
	if (init_rc != 0)
		return fail(err, 0, "libssh2 cannot be initialised");
	if ((c->sock = tcp_connect(r, err)) < 0)
		return -1;
	c->session = libssh2_session_init();
	if (c->session == NULL) {
		conn_close(c);
		return fail(err, 1, "out of memory");
	}
	libssh2_session_set_blocking(c->session, 1);
	libssh2_session_set_timeout(c->session, TIMEOUT_MS);
	if (libssh2_session_handshake(c->session, c->sock) != 0) {
		fail(err, 1, "%s:%u: SSH handshake: %s", r->host, r->port,
		    session_error(c->session));
		conn_close(c);
		return -1;
	}
	if (check_host_key(r, c->session, err) != 0) {
		conn_close(c);
		return -1;
	}
	if (r->key_file) {
		if (r->key_passphrase_file &&
		    (passphrase = secret_read(r->key_passphrase_file, err)) == NULL) {
			conn_close(c);
			return -1;
		}
		rc = libssh2_userauth_publickey_fromfile_ex(c->session, r->user,
		    (unsigned)strlen(r->user), NULL, r->key_file, passphrase);
	} else {
		if ((secret = secret_read(r->password_file, err)) == NULL) {
			conn_close(c);
			return -1;
		}
		rc = libssh2_userauth_password_ex(c->session, r->user,
		    (unsigned)strlen(r->user), secret, (unsigned)strlen(secret),
		    NULL);
	}
	secret_free(secret);
	secret_free(passphrase);
	if (rc != 0) {
		/* The server's words only: they never contain the secret. */
		fail(err, 0, "%s:%u: authentication as %s refused (%s)",
		    r->host, r->port, r->user, r->key_file ? "key" : "password");
		conn_close(c);
		return -1;
	}
	c->sftp = libssh2_sftp_init(c->session);
	if (c->sftp == NULL) {
		fail(err, 1, "%s:%u: SFTP subsystem: %s", r->host, r->port,
		    session_error(c->session));
		conn_close(c);
		return -1;
	}
	return 0;
}

static void
remote_path(char *out, size_t cap, const char *dir, const char *prefix,
    const char *name)
{
	size_t dl = strlen(dir);

	snprintf(out, cap, "%s%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/",
	    prefix ? prefix : "", name);
}

/* ---- push --------------------------------------------------------------- */

int
sftp_client_push(const partner_sftp_remote *r, int fd, const char *name,
    struct sftp_client_error *err)
{
	char tmp[2048], final[2048], buf[32768];
	LIBSSH2_SFTP_HANDLE *h;
	LIBSSH2_SFTP_ATTRIBUTES attrs;
	struct stat sb;
	struct conn c;
	off_t off = 0;
	ssize_t n;

	if (!sftp_inbox_name_ok(name) || name[0] == '.')
		return fail(err, 0, "refused remote file name");
	if (fstat(fd, &sb) != 0)
		return fail(err, 0, "local file: %s", strerror(errno));
	if (conn_open(&c, r, err) != 0)
		return -1;
	remote_path(tmp, sizeof(tmp), r->remote_dir, r->temp_prefix, name);
	remote_path(final, sizeof(final), r->remote_dir, NULL, name);
	h = libssh2_sftp_open_ex(c.sftp, tmp, (unsigned)strlen(tmp),
	    LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC, 0644,
	    LIBSSH2_SFTP_OPENFILE);
	if (h == NULL) {
		fail(err, 1, "%s:%u: cannot create %s: %s", r->host, r->port, tmp,
		    session_error(c.session));
		conn_close(&c);
		return -1;
	}
	for (;;) {
		n = pread(fd, buf, sizeof(buf), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fail(err, 0, "local file: %s", strerror(errno));
			goto fail_handle;
		}
		if (n == 0)
			break;
		for (ssize_t done = 0; done < n;) {
			ssize_t w = libssh2_sftp_write(h, buf + done,
			    (size_t)(n - done));
			if (w < 0) {
				fail(err, 1, "%s:%u: write %s: %s", r->host,
				    r->port, tmp, session_error(c.session));
				goto fail_handle;
			}
			done += w;
		}
		off += n;
	}
	/* fsync@openssh.com where offered, so the rename names durable bytes. */
	libssh2_sftp_fsync(h);
	if (libssh2_sftp_close_handle(h) != 0) {
		fail(err, 1, "%s:%u: close %s: %s", r->host, r->port, tmp,
		    session_error(c.session));
		conn_close(&c);
		return -1;
	}
	if (libssh2_sftp_rename_ex(c.sftp, tmp, (unsigned)strlen(tmp), final,
	    (unsigned)strlen(final), LIBSSH2_SFTP_RENAME_OVERWRITE |
	    LIBSSH2_SFTP_RENAME_ATOMIC | LIBSSH2_SFTP_RENAME_NATIVE) != 0) {
		/* SFTP v3 servers refuse to rename over an existing name. If it
		 * holds our size, an earlier attempt got there: done. */
		if (libssh2_sftp_stat(c.sftp, final, &attrs) == 0 &&
		    (attrs.flags & LIBSSH2_SFTP_ATTR_SIZE) &&
		    attrs.filesize == (uint64_t)off) {
			libssh2_sftp_unlink(c.sftp, tmp);
			conn_close(&c);
			return 0;
		}
		fail(err, 0, "%s:%u: cannot rename %s to %s (a different file "
		    "of that name exists?)", r->host, r->port, tmp, final);
		conn_close(&c);
		return -1;
	}
	conn_close(&c);
	return 0;
fail_handle:
	libssh2_sftp_close_handle(h);
	conn_close(&c);
	return -1;
}

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
sftp_breaker_init(struct sftp_breaker *b, unsigned threshold,
    unsigned cooldown_ms)
{
	memset(b, 0, sizeof(*b));
	pthread_mutex_init(&b->lock, NULL);
	b->threshold = threshold ? threshold : 5;
	b->cooldown_ms = cooldown_ms ? cooldown_ms : 60000;
}

void
sftp_breaker_destroy(struct sftp_breaker *b)
{
	pthread_mutex_destroy(&b->lock);
}

int
sftp_breaker_is_open(struct sftp_breaker *b)
{
	int open;

	pthread_mutex_lock(&b->lock);
	open = b->open_until_us > now_us();
	pthread_mutex_unlock(&b->lock);
	return open;
}

static void
breaker_result(struct sftp_breaker *b, int ok)
{
	if (b == NULL)
		return;
	pthread_mutex_lock(&b->lock);
	if (ok) {
		b->failures = 0;
		b->open_until_us = 0;
	} else if (++b->failures >= b->threshold) {
		b->open_until_us = now_us() + (int64_t)b->cooldown_ms * 1000;
		b->failures = 0;
	}
	pthread_mutex_unlock(&b->lock);
}

int
sftp_client_push_retry(const partner_sftp_remote *r, int fd,
    const char *name, unsigned attempts, unsigned base_delay_ms,
    struct sftp_breaker *breaker, struct sftp_client_error *err)
{
	unsigned delay = base_delay_ms, i;

	if (attempts == 0)
		attempts = 1;
	for (i = 0; i < attempts; i++) {
		if (breaker && sftp_breaker_is_open(breaker))
			return fail(err, 1, "%s:%u: circuit open after repeated "
			    "failures; not trying for now", r->host, r->port);
		if (sftp_client_push(r, fd, name, err) == 0) {
			breaker_result(breaker, 1);
			return 0;
		}
		breaker_result(breaker, 0);
		if (!err->retryable || i + 1 == attempts)
			break;
		struct timespec ts = { delay / 1000, (long)(delay % 1000) * 1000000 };
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		delay = delay * 2 > 60000 ? 60000 : delay * 2;
	}
	return -1;
}

/* ---- pull --------------------------------------------------------------- */

struct remote_file {
	char *name;
	uint64_t size;
	int64_t mtime_ns;
};

static int
fetch_one(struct conn *c, const partner_sftp_remote *r, const char *partner_id,
    struct store *st, const struct remote_file *f, struct sftp_pull_result *res,
    struct sftp_client_error *err)
{
	char path[2048], dest[2048], hash[SPOOL_HASH_HEX + 1], buf[32768];
	char rerr[512];
	struct spool *sp = store_spool(st);
	struct spool_writer *w;
	struct spool_error spe;
	LIBSSH2_SFTP_HANDLE *h;
	LIBSSH2_SFTP_ATTRIBUTES attrs;
	uint64_t got = 0, size;
	int64_t message_id;
	enum sftp_ingest_result rec;
	ssize_t n;

	remote_path(path, sizeof(path), r->remote_dir, NULL, f->name);
	h = libssh2_sftp_open_ex(c->sftp, path, (unsigned)strlen(path),
	    LIBSSH2_FXF_READ, 0, LIBSSH2_SFTP_OPENFILE);
	if (h == NULL) {
		/* The server said no for this file (permissions, gone since
		 * the listing): the others still come in. Anything else
		 * means the connection is lost. */
		if (libssh2_session_last_errno(c->session) ==
		    LIBSSH2_ERROR_SFTP_PROTOCOL) {
			res->failed++;
			return 0;
		}
		return fail(err, 1, "open %s: %s", path, session_error(c->session));
	}
	if (spool_writer_new(sp, &w, &spe) != SPOOL_OK) {
		libssh2_sftp_close_handle(h);
		return fail(err, 1, "spool: %s", spe.message);
	}
	while ((n = libssh2_sftp_read(h, buf, sizeof(buf))) > 0) {
		if (spool_writer_feed(w, buf, (size_t)n, &spe) != SPOOL_OK) {
			spool_writer_abort(w);
			libssh2_sftp_close_handle(h);
			return fail(err, 1, "spool: %s", spe.message);
		}
		got += (uint64_t)n;
	}
	if (n < 0) {
		spool_writer_abort(w);
		libssh2_sftp_close_handle(h);
		return fail(err, 1, "read %s: %s", path, session_error(c->session));
	}
	/* Still growing on the server: not complete, fetch it next time. */
	if (libssh2_sftp_fstat(h, &attrs) != 0 ||
	    !(attrs.flags & LIBSSH2_SFTP_ATTR_SIZE) || attrs.filesize != got ||
	    got != f->size) {
		spool_writer_abort(w);
		libssh2_sftp_close_handle(h);
		res->failed++;
		return 0;
	}
	libssh2_sftp_close_handle(h);
	if (spool_writer_commit(w, hash, &size, &spe) != SPOOL_OK)
		return fail(err, 1, "spool: %s", spe.message);
	rec = sftp_inbox_record(st, partner_id, "pull", f->name, size,
	    f->mtime_ns, hash, &message_id, rerr, sizeof(rerr));
	if (rec == SFTP_INGEST_FAILED)
		return fail(err, 1, "%s", rerr);
	if (rec == SFTP_INGEST_STORED) {
		res->stored++;
		if (res->new_count < SFTP_PULL_MAX_NEW)
			res->new_ids[res->new_count++] = message_id;
	}
	else
		res->duplicates++;
	/* Committed: now the remote copy may go. */
	if (r->after_move) {
		remote_path(dest, sizeof(dest), r->move_to, NULL, f->name);
		if (libssh2_sftp_rename(c->sftp, path, dest) != 0) {
			char alt[2100];
			snprintf(alt, sizeof(alt), "%s.%" PRId64, dest, message_id);
			if (libssh2_sftp_rename(c->sftp, path, alt) != 0)
				return fail(err, 1, "stored as message %" PRId64
				    ", but cannot move %s to %s: %s", message_id,
				    path, r->move_to, session_error(c->session));
		}
	} else if (libssh2_sftp_unlink(c->sftp, path) != 0) {
		return fail(err, 1, "stored as message %" PRId64 ", but cannot "
		    "delete %s: %s", message_id, path, session_error(c->session));
	}
	return 0;
}

int
sftp_client_pull(const partner_sftp_remote *r, const char *partner_id,
    struct store *st, struct sftp_pull_result *res,
    struct sftp_client_error *err)
{
	struct remote_file *files = NULL;
	size_t nfiles = 0, i;
	LIBSSH2_SFTP_HANDLE *dir;
	LIBSSH2_SFTP_ATTRIBUTES attrs;
	char name[1024];
	struct conn c;
	int rc = 0, n;

	memset(res, 0, sizeof(*res));
	if (store_spool(st) == NULL)
		return fail(err, 0, "the store has no spool");
	if (conn_open(&c, r, err) != 0)
		return -1;
	dir = libssh2_sftp_opendir(c.sftp, r->remote_dir);
	if (dir == NULL) {
		fail(err, 1, "%s:%u: cannot list %s: %s", r->host, r->port,
		    r->remote_dir, session_error(c.session));
		conn_close(&c);
		return -1;
	}
	while ((n = libssh2_sftp_readdir(dir, name, sizeof(name) - 1, &attrs)) > 0) {
		name[n] = '\0';
		if (name[0] == '.' || !sftp_inbox_name_ok(name))
			continue;
		if (!(attrs.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) ||
		    !LIBSSH2_SFTP_S_ISREG(attrs.permissions) ||
		    !(attrs.flags & LIBSSH2_SFTP_ATTR_SIZE))
			continue;
		if (nfiles >= PULL_MAX_FILES)
			break;
		struct remote_file *nf = realloc(files, (nfiles + 1) * sizeof(*nf));
		if (nf == NULL)
			break;
		files = nf;
		files[nfiles].name = strdup(name);
		files[nfiles].size = attrs.filesize;
		files[nfiles].mtime_ns = (attrs.flags & LIBSSH2_SFTP_ATTR_ACMODTIME)
		    ? (int64_t)attrs.mtime * 1000000000LL : 0;
		if (files[nfiles].name)
			nfiles++;
	}
	libssh2_sftp_closedir(dir);
	res->listed = (unsigned)nfiles;
	for (i = 0; i < nfiles && res->new_count < SFTP_PULL_MAX_NEW; i++) {
		if (fetch_one(&c, r, partner_id, st, &files[i], res, err) != 0) {
			/* The connection is likely gone: the rest waits for
			 * the next poll. */
			res->failed += (unsigned)(nfiles - i);
			rc = -1;
			break;
		}
	}
	for (i = 0; i < nfiles; i++)
		free(files[i].name);
	free(files);
	conn_close(&c);
	return rc;
}
