/*
 * spool - content-addressed payload files.
 *
 * OWNS
 *   The bytes of every message edigate receives or sends. A payload is
 *   named by the lowercase hex SHA-256 of its content and lives at
 *   DIR/ab/cd/abcd...(64 hex) so no directory grows past 65536 entries.
 *   Writers stream: the caller feeds chunks of any size, the writer hashes
 *   as it goes and keeps no copy, so a multi-GB payload needs flat memory.
 *
 * DURABILITY
 *   spool_writer_commit() writes to DIR/tmp/, fsyncs the file, renames it to
 *   its final name, then fsyncs every directory it touched. Only after it
 *   returns SPOOL_OK may the metadata that names the hash be committed, and
 *   only after that may anyone be told "stored". A crash before the rename
 *   leaves a file in DIR/tmp/ (spool_sweep_tmp() removes those); a crash
 *   after it leaves a complete payload nobody references yet, which is
 *   harmless because the name is its content.
 *
 * INVARIANTS
 *   A file under its final name always holds exactly the bytes whose hash
 *   is its name. Readers recompute the hash and report SPOOL_ECORRUPT when
 *   the disk disagrees, instead of handing out wrong bytes silently.
 *
 * NEVER
 *   Exposes a partly written file under a final name (a second write of the
 *   same content renames identical bytes over it atomically), keeps a
 *   payload in memory, or trusts a hash string from outside without
 *   checking it is 64 lowercase hex digits.
 */
#ifndef EDIGATE_SPOOL_H
#define EDIGATE_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#define SPOOL_HASH_HEX 64 /* characters of a hash, without the NUL */

enum spool_status {
	SPOOL_OK = 0,
	SPOOL_EINVAL,   /* bad argument, e.g. a malformed hash */
	SPOOL_ENOENT,   /* no payload with that hash */
	SPOOL_EIO,      /* the operating system refused; errno text in msg */
	SPOOL_ECORRUPT, /* the bytes on disk do not hash to their name */
	SPOOL_ENOMEM
};

struct spool_error {
	enum spool_status code;
	char message[256];
};

struct spool;
struct spool_writer;
struct spool_reader;

/* Opens (creating if needed) the spool rooted at dir. */
int spool_open(struct spool **out, const char *dir, struct spool_error *err);
void spool_close(struct spool *sp);
const char *spool_dir(const struct spool *sp);

/* Removes temporary files left by writers that died before committing:
 * those not modified for min_age_s seconds, so a writer still streaming a
 * large payload in another process keeps its file. */
int spool_sweep_tmp(struct spool *sp, unsigned min_age_s, unsigned *removed,
                    struct spool_error *err);

/* Streaming write. spool_writer_new() allocates; commit or abort frees. */
int spool_writer_new(struct spool *sp, struct spool_writer **out,
                     struct spool_error *err);
int spool_writer_feed(struct spool_writer *w, const void *buf, size_t len,
                      struct spool_error *err);
/* Makes the payload durable under its final name and frees the writer,
 * whatever the outcome. hash_out receives 64 hex digits and a NUL. */
int spool_writer_commit(struct spool_writer *w, char hash_out[SPOOL_HASH_HEX + 1],
                        uint64_t *size_out, struct spool_error *err);
void spool_writer_abort(struct spool_writer *w);

/* One-shot write of a buffer; same durability as the streaming writer. */
int spool_put(struct spool *sp, const void *buf, size_t len,
              char hash_out[SPOOL_HASH_HEX + 1], struct spool_error *err);

/*
 * Group commit. The _unsynced variants write, rename and create
 * directories like their synced twins but fsync nothing; the payload is
 * durable only once a spool_sync() that started after they returned has
 * returned SPOOL_OK. The rule above becomes: no metadata naming the hash
 * is committed before that spool_sync(). A crash before it may leave a
 * file under its final name with other bytes (readers report
 * SPOOL_ECORRUPT); nothing durable names it, and writing the same
 * content again replaces it.
 */
int spool_writer_commit_unsynced(struct spool_writer *w,
                                 char hash_out[SPOOL_HASH_HEX + 1],
                                 uint64_t *size_out, struct spool_error *err);
int spool_put_unsynced(struct spool *sp, const void *buf, size_t len,
                       char hash_out[SPOOL_HASH_HEX + 1],
                       struct spool_error *err);
/* Makes everything written to the spool's file system so far durable
 * (syncfs(2)): files, renames, new directories. */
int spool_sync(struct spool *sp, struct spool_error *err);

/* True when hash is 64 lowercase hex digits. */
int spool_hash_valid(const char *hash);

/* Size of a stored payload, without reading it. */
int spool_stat(struct spool *sp, const char *hash, uint64_t *size_out,
               struct spool_error *err);

/* Streaming read. spool_reader_read() returns SPOOL_OK with *got == 0 at
 * the end, after checking the hash: a mismatch is SPOOL_ECORRUPT then, so a
 * consumer must not act on the bytes before the end was reached cleanly. */
int spool_reader_open(struct spool *sp, const char *hash,
                      struct spool_reader **out, struct spool_error *err);
int spool_reader_read(struct spool_reader *r, void *buf, size_t cap,
                      size_t *got, struct spool_error *err);
void spool_reader_close(struct spool_reader *r);

/* Reads a whole payload into a malloc'd buffer (caller frees), verified.
 * For small payloads only; large ones go through the streaming reader. */
int spool_read_all(struct spool *sp, const char *hash, void **buf_out,
                   size_t *len_out, struct spool_error *err);

/* Rehashes a stored payload: SPOOL_OK, SPOOL_ENOENT or SPOOL_ECORRUPT. */
int spool_verify(struct spool *sp, const char *hash, struct spool_error *err);

/* Path of a payload (whether or not it exists) into buf. */
int spool_path(const struct spool *sp, const char *hash, char *buf, size_t cap);

#endif
