/*
 * spool - content-addressed payload files. See spool.h for the contract.
 */
#define _GNU_SOURCE /* asprintf, mkostemp, timegm */
#include "config.h"

#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

/* Small writes (one byte at a time from a slow socket) are gathered so the
 * number of system calls does not depend on the caller's chunking. */
#define SPOOL_BUF 65536

struct spool {
	char *dir;
	char *tmpdir;
};

struct spool_writer {
	struct spool *sp;
	int fd;
	char tmp_path[PATH_MAX];
	EVP_MD_CTX *md;
	uint64_t size;
	size_t fill;
	int nosync;   /* spool_writer_commit_unsynced: spool_sync() follows */
	unsigned char buf[SPOOL_BUF];
};

struct spool_reader {
	int fd;
	EVP_MD_CTX *md;
	char hash[SPOOL_HASH_HEX + 1];
	int done;
};

static int
fail(struct spool_error *err, enum spool_status code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof err->message, fmt, ap);
		va_end(ap);
	}
	return code;
}

static int
fail_errno(struct spool_error *err, const char *what, const char *path)
{
	int e = errno;
	return fail(err, e == ENOENT ? SPOOL_ENOENT : SPOOL_EIO, "%s %s: %s",
	            what, path, strerror(e));
}

static void
hex_digest(const unsigned char *d, char out[SPOOL_HASH_HEX + 1])
{
	static const char hexd[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hexd[d[i] >> 4];
		out[2 * i + 1] = hexd[d[i] & 15];
	}
	out[SPOOL_HASH_HEX] = '\0';
}

int
spool_hash_valid(const char *hash)
{
	if (!hash)
		return 0;
	for (int i = 0; i < SPOOL_HASH_HEX; i++) {
		char c = hash[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return 0;
	}
	return hash[SPOOL_HASH_HEX] == '\0';
}

/* A rename or a new directory entry is durable only once the directory
 * itself has been fsynced (POSIX leaves it to the file system otherwise). */
static int
fsync_dir(const char *path, struct spool_error *err)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return fail_errno(err, "open directory", path);
	if (fsync(fd) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return fail_errno(err, "fsync directory", path);
	}
	close(fd);
	return SPOOL_OK;
}

/* mkdir that also makes the new entry durable in its parent. */
static int
ensure_dir(const char *path, const char *parent, struct spool_error *err)
{
	if (mkdir(path, 0750) == 0)
		return fsync_dir(parent, err);
	if (errno != EEXIST)
		return fail_errno(err, "mkdir", path);
	return SPOOL_OK;
}

static int
mkdir_p(const char *path, struct spool_error *err)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof tmp)
		return fail(err, SPOOL_EINVAL, "spool directory path too long");
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0750) != 0 && errno != EEXIST)
			return fail_errno(err, "mkdir", tmp);
		*p = '/';
	}
	if (mkdir(tmp, 0750) != 0 && errno != EEXIST)
		return fail_errno(err, "mkdir", tmp);
	return SPOOL_OK;
}

int
spool_open(struct spool **out, const char *dir, struct spool_error *err)
{
	*out = NULL;
	if (!dir || !*dir)
		return fail(err, SPOOL_EINVAL, "empty spool directory");
	int rc = mkdir_p(dir, err);
	if (rc)
		return rc;
	struct spool *sp = calloc(1, sizeof *sp);
	if (!sp)
		return fail(err, SPOOL_ENOMEM, "out of memory");
	sp->dir = strdup(dir);
	if (sp->dir && asprintf(&sp->tmpdir, "%s/tmp", dir) < 0)
		sp->tmpdir = NULL;
	if (!sp->dir || !sp->tmpdir) {
		spool_close(sp);
		return fail(err, SPOOL_ENOMEM, "out of memory");
	}
	rc = ensure_dir(sp->tmpdir, sp->dir, err);
	if (rc) {
		spool_close(sp);
		return rc;
	}
	*out = sp;
	return SPOOL_OK;
}

void
spool_close(struct spool *sp)
{
	if (!sp)
		return;
	free(sp->dir);
	free(sp->tmpdir);
	free(sp);
}

const char *
spool_dir(const struct spool *sp)
{
	return sp->dir;
}

int
spool_path(const struct spool *sp, const char *hash, char *buf, size_t cap)
{
	if (!spool_hash_valid(hash))
		return SPOOL_EINVAL;
	int n = snprintf(buf, cap, "%s/%.2s/%.2s/%s", sp->dir, hash, hash + 2, hash);
	if (n < 0 || (size_t)n >= cap)
		return SPOOL_EINVAL;
	return SPOOL_OK;
}

int
spool_sweep_tmp(struct spool *sp, unsigned min_age_s, unsigned *removed,
                struct spool_error *err)
{
	unsigned count = 0;
	time_t now = time(NULL);
	DIR *d = opendir(sp->tmpdir);
	if (!d)
		return fail_errno(err, "opendir", sp->tmpdir);
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    now - st.st_mtime < (time_t)min_age_s)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			count++;
	}
	closedir(d);
	if (removed)
		*removed = count;
	return count ? fsync_dir(sp->tmpdir, err) : SPOOL_OK;
}

int
spool_writer_new(struct spool *sp, struct spool_writer **out,
                 struct spool_error *err)
{
	*out = NULL;
	struct spool_writer *w = malloc(sizeof *w);
	if (!w)
		return fail(err, SPOOL_ENOMEM, "out of memory");
	w->sp = sp;
	w->size = 0;
	w->fill = 0;
	w->nosync = 0;
	int n = snprintf(w->tmp_path, sizeof w->tmp_path, "%s/w.XXXXXX", sp->tmpdir);
	if (n < 0 || (size_t)n >= sizeof w->tmp_path) {
		free(w);
		return fail(err, SPOOL_EINVAL, "spool directory path too long");
	}
	w->fd = mkostemp(w->tmp_path, O_CLOEXEC);
	if (w->fd < 0) {
		int rc = fail_errno(err, "create", w->tmp_path);
		free(w);
		return rc;
	}
	w->md = EVP_MD_CTX_new();
	if (!w->md || EVP_DigestInit_ex(w->md, EVP_sha256(), NULL) != 1) {
		spool_writer_abort(w);
		return fail(err, SPOOL_ENOMEM, "cannot initialise SHA-256");
	}
	*out = w;
	return SPOOL_OK;
}

static int
write_all(int fd, const unsigned char *p, size_t len, const char *path,
          struct spool_error *err)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return fail_errno(err, "write", path);
		}
		p += n;
		len -= (size_t)n;
	}
	return SPOOL_OK;
}

static int
writer_flush(struct spool_writer *w, struct spool_error *err)
{
	int rc = write_all(w->fd, w->buf, w->fill, w->tmp_path, err);
	w->fill = 0;
	return rc;
}

int
spool_writer_feed(struct spool_writer *w, const void *buf, size_t len,
                  struct spool_error *err)
{
	const unsigned char *p = buf;
	if (len == 0)
		return SPOOL_OK;
	if (EVP_DigestUpdate(w->md, p, len) != 1)
		return fail(err, SPOOL_EIO, "SHA-256 update failed");
	w->size += len;
	if (w->fill + len <= SPOOL_BUF) {
		memcpy(w->buf + w->fill, p, len);
		w->fill += len;
		return SPOOL_OK;
	}
	int rc = writer_flush(w, err);
	if (rc)
		return rc;
	if (len >= SPOOL_BUF)
		return write_all(w->fd, p, len, w->tmp_path, err);
	memcpy(w->buf, p, len);
	w->fill = len;
	return SPOOL_OK;
}

void
spool_writer_abort(struct spool_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0) {
		close(w->fd);
		unlink(w->tmp_path);
	}
	EVP_MD_CTX_free(w->md);
	free(w);
}

int
spool_writer_commit(struct spool_writer *w, char hash_out[SPOOL_HASH_HEX + 1],
                    uint64_t *size_out, struct spool_error *err)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;
	char hash[SPOOL_HASH_HEX + 1];
	char d1[PATH_MAX], d2[PATH_MAX], final[PATH_MAX];
	struct spool *sp = w->sp;
	int rc = writer_flush(w, err);
	if (rc)
		goto out;
	if (!w->nosync && fsync(w->fd) != 0) {
		rc = fail_errno(err, "fsync", w->tmp_path);
		goto out;
	}
	if (close(w->fd) != 0) {
		w->fd = -1;
		rc = fail_errno(err, "close", w->tmp_path);
		unlink(w->tmp_path);
		goto out;
	}
	w->fd = -2; /* closed, temp file still present */
	if (EVP_DigestFinal_ex(w->md, digest, &dlen) != 1 || dlen != 32) {
		rc = fail(err, SPOOL_EIO, "SHA-256 final failed");
		goto out;
	}
	hex_digest(digest, hash);
	snprintf(d1, sizeof d1, "%s/%.2s", sp->dir, hash);
	snprintf(d2, sizeof d2, "%s/%.2s/%.2s", sp->dir, hash, hash + 2);
	if ((size_t)snprintf(final, sizeof final, "%s/%s", d2, hash) >= sizeof final) {
		rc = fail(err, SPOOL_EINVAL, "spool directory path too long");
		goto out;
	}
	if (chmod(w->tmp_path, 0640) != 0) {
		rc = fail_errno(err, "chmod", w->tmp_path);
		goto out;
	}
	if (w->nosync) {
		/* The fan-out directories exist for all but the first files
		 * of a prefix: try the rename first, create them only when it
		 * says they are missing (their entries reach the disk with the
		 * spool_sync() that follows). */
		if (rename(w->tmp_path, final) != 0) {
			if (errno != ENOENT ||
			    (mkdir(d1, 0750) != 0 && errno != EEXIST) ||
			    (mkdir(d2, 0750) != 0 && errno != EEXIST)) {
				rc = fail_errno(err, "rename into", final);
				goto out;
			}
			if (rename(w->tmp_path, final) != 0) {
				rc = fail_errno(err, "rename into", final);
				goto out;
			}
		}
	} else {
		if ((rc = ensure_dir(d1, sp->dir, err)) ||
		    (rc = ensure_dir(d2, d1, err)))
			goto out;
		if (rename(w->tmp_path, final) != 0) {
			rc = fail_errno(err, "rename into", final);
			goto out;
		}
	}
	w->fd = -1; /* nothing left to clean up */
	if (!w->nosync && ((rc = fsync_dir(d2, err)) ||
	    (rc = fsync_dir(sp->tmpdir, err))))
		goto out;
	memcpy(hash_out, hash, sizeof hash);
	if (size_out)
		*size_out = w->size;
out:
	if (w->fd == -2)
		unlink(w->tmp_path);
	else if (w->fd >= 0) {
		close(w->fd);
		unlink(w->tmp_path);
	}
	w->fd = -1;
	spool_writer_abort(w);
	return rc;
}

int
spool_put(struct spool *sp, const void *buf, size_t len,
          char hash_out[SPOOL_HASH_HEX + 1], struct spool_error *err)
{
	struct spool_writer *w;
	int rc = spool_writer_new(sp, &w, err);
	if (rc)
		return rc;
	rc = spool_writer_feed(w, buf, len, err);
	if (rc) {
		spool_writer_abort(w);
		return rc;
	}
	return spool_writer_commit(w, hash_out, NULL, err);
}

int
spool_stat(struct spool *sp, const char *hash, uint64_t *size_out,
           struct spool_error *err)
{
	char path[PATH_MAX];
	struct stat st;
	if (spool_path(sp, hash, path, sizeof path))
		return fail(err, SPOOL_EINVAL, "malformed payload hash");
	if (stat(path, &st) != 0)
		return fail_errno(err, "stat", path);
	if (size_out)
		*size_out = (uint64_t)st.st_size;
	return SPOOL_OK;
}

int
spool_reader_open(struct spool *sp, const char *hash,
                  struct spool_reader **out, struct spool_error *err)
{
	char path[PATH_MAX];
	*out = NULL;
	if (spool_path(sp, hash, path, sizeof path))
		return fail(err, SPOOL_EINVAL, "malformed payload hash");
	struct spool_reader *r = calloc(1, sizeof *r);
	if (!r)
		return fail(err, SPOOL_ENOMEM, "out of memory");
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		int rc = fail_errno(err, "open", path);
		free(r);
		return rc;
	}
	r->md = EVP_MD_CTX_new();
	if (!r->md || EVP_DigestInit_ex(r->md, EVP_sha256(), NULL) != 1) {
		spool_reader_close(r);
		return fail(err, SPOOL_ENOMEM, "cannot initialise SHA-256");
	}
	memcpy(r->hash, hash, SPOOL_HASH_HEX + 1);
	*out = r;
	return SPOOL_OK;
}

int
spool_reader_read(struct spool_reader *r, void *buf, size_t cap, size_t *got,
                  struct spool_error *err)
{
	*got = 0;
	if (r->done)
		return SPOOL_OK;
	ssize_t n;
	do
		n = read(r->fd, buf, cap);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return fail_errno(err, "read payload", r->hash);
	if (n > 0) {
		EVP_DigestUpdate(r->md, buf, (size_t)n);
		*got = (size_t)n;
		return SPOOL_OK;
	}
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;
	char hash[SPOOL_HASH_HEX + 1];
	r->done = 1;
	if (EVP_DigestFinal_ex(r->md, digest, &dlen) != 1 || dlen != 32)
		return fail(err, SPOOL_EIO, "SHA-256 final failed");
	hex_digest(digest, hash);
	if (strcmp(hash, r->hash) != 0)
		return fail(err, SPOOL_ECORRUPT,
		            "payload %s is corrupt: its content hashes to %s",
		            r->hash, hash);
	return SPOOL_OK;
}

void
spool_reader_close(struct spool_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	EVP_MD_CTX_free(r->md);
	free(r);
}

int
spool_read_all(struct spool *sp, const char *hash, void **buf_out,
               size_t *len_out, struct spool_error *err)
{
	struct spool_reader *r;
	uint64_t size;
	*buf_out = NULL;
	*len_out = 0;
	int rc = spool_stat(sp, hash, &size, err);
	if (rc)
		return rc;
	if (size > SIZE_MAX - 1)
		return fail(err, SPOOL_ENOMEM, "payload too large to read whole");
	if ((rc = spool_reader_open(sp, hash, &r, err)))
		return rc;
	size_t cap = (size_t)size + 1, len = 0, got;
	unsigned char *buf = malloc(cap);
	if (!buf) {
		spool_reader_close(r);
		return fail(err, SPOOL_ENOMEM, "out of memory");
	}
	for (;;) {
		if (len == cap) {
			/* The file grew after stat: a corrupt spool, not ours to
			 * follow without bound. */
			rc = fail(err, SPOOL_ECORRUPT, "payload %s changed size", hash);
			break;
		}
		rc = spool_reader_read(r, buf + len, cap - len, &got, err);
		if (rc || got == 0)
			break;
		len += got;
	}
	spool_reader_close(r);
	if (rc) {
		free(buf);
		return rc;
	}
	*buf_out = buf;
	*len_out = len;
	return SPOOL_OK;
}

int
spool_verify(struct spool *sp, const char *hash, struct spool_error *err)
{
	struct spool_reader *r;
	unsigned char buf[SPOOL_BUF];
	size_t got;
	int rc = spool_reader_open(sp, hash, &r, err);
	if (rc)
		return rc;
	do
		rc = spool_reader_read(r, buf, sizeof buf, &got, err);
	while (!rc && got > 0);
	spool_reader_close(r);
	return rc;
}

/* ---- group commit --------------------------------------------------------
 * Writers that commit many small payloads at once (AS2 receive under load)
 * write them without fsync and then make all of them durable with one
 * spool_sync(): one journal commit for the whole batch instead of three
 * fsyncs per payload. */

int
spool_writer_commit_unsynced(struct spool_writer *w,
                             char hash_out[SPOOL_HASH_HEX + 1],
                             uint64_t *size_out, struct spool_error *err)
{
	w->nosync = 1;
	return spool_writer_commit(w, hash_out, size_out, err);
}

int
spool_put_unsynced(struct spool *sp, const void *buf, size_t len,
                   char hash_out[SPOOL_HASH_HEX + 1], struct spool_error *err)
{
	struct spool_writer *w;
	int rc = spool_writer_new(sp, &w, err);
	if (rc)
		return rc;
	rc = spool_writer_feed(w, buf, len, err);
	if (rc) {
		spool_writer_abort(w);
		return rc;
	}
	return spool_writer_commit_unsynced(w, hash_out, NULL, err);
}

int
spool_sync(struct spool *sp, struct spool_error *err)
{
	int fd = open(sp->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return fail_errno(err, "open directory", sp->dir);
	/* syncfs writes back every dirty file and directory of the file
	 * system and commits its journal; since Linux 5.8 it also reports
	 * write-back errors. */
	if (syncfs(fd) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return fail_errno(err, "syncfs", sp->dir);
	}
	close(fd);
	return SPOOL_OK;
}
