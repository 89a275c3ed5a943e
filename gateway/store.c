/*
 * store - the store's logic, written once over store_db.h. See store.h for
 * the contract and the audit chain's canonical form.
 */
#define _GNU_SOURCE /* asprintf, mkostemp, timegm */
#include "config.h"

#include "store_db.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

int
store_fail(struct store_error *err, enum store_status code, const char *fmt, ...)
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

int64_t
store_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
store_sha256_hex(const void *buf, size_t len, char out[SPOOL_HASH_HEX + 1])
{
	static const char hexd[] = "0123456789abcdef";
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;
	EVP_Digest(buf, len, d, &dlen, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++) {
		out[2 * i] = hexd[d[i] >> 4];
		out[2 * i + 1] = hexd[d[i] & 15];
	}
	out[SPOOL_HASH_HEX] = '\0';
}

/* ---- small helpers ---------------------------------------------------- */

static int
check_text(struct store_error *err, const char *what, const char *s, size_t max,
           int allow_empty)
{
	if (!s)
		return allow_empty ? STORE_OK
		                   : store_fail(err, STORE_EINVAL, "%s is missing", what);
	size_t n = strnlen(s, max + 1);
	if (n > max)
		return store_fail(err, STORE_EINVAL, "%s is longer than %zu bytes", what, max);
	if (n == 0 && !allow_empty)
		return store_fail(err, STORE_EINVAL, "%s is empty", what);
	return STORE_OK;
}

/* States and kinds end up in reports and metrics labels: keep them plain. */
static int
check_name(struct store_error *err, const char *what, const char *s, size_t max)
{
	int rc = check_text(err, what, s, max, 0);
	if (rc)
		return rc;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '_' || *p == '-' || *p == '.'))
			return store_fail(err, STORE_EINVAL,
			                  "%s \"%s\" may only hold a-z 0-9 _ - .", what, s);
	return STORE_OK;
}

static void
copy_text(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

#define COPY(dst, src) copy_text((dst), sizeof(dst), (src))

/* Time-ordered 26-character ULID (Crockford base32): sorts by creation and
 * needs no coordination between nodes. */
static void
new_correlation_id(char out[27])
{
	static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
	unsigned char bytes[16];
	uint64_t ms = (uint64_t)(store_now_us() / 1000);
	for (int i = 5; i >= 0; i--) {
		bytes[i] = (unsigned char)(ms & 0xff);
		ms >>= 8;
	}
	if (RAND_bytes(bytes + 6, 10) != 1) {
		/* Fall back on the clock and address entropy rather than fail a
		 * receive: uniqueness within a node still holds via time. */
		uint64_t x = (uint64_t)store_now_us() ^ (uint64_t)(uintptr_t)out;
		for (int i = 6; i < 16; i++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			bytes[i] = (unsigned char)(x >> 56);
		}
	}
	/* 128 bits as 26 base32 digits, most significant first. */
	for (int i = 25; i >= 0; i--) {
		int bit = (25 - i) * 5; /* bit offset from the least significant end */
		unsigned v = 0;
		for (int b = 0; b < 5; b++) {
			int pos = bit + b;
			if (pos >= 128)
				break;
			if (bytes[15 - pos / 8] & (1u << (pos % 8)))
				v |= 1u << b;
		}
		out[i] = b32[v];
	}
	out[26] = '\0';
}

/*
 * Every operation runs in its own transaction, or, inside a caller's
 * store_tx_begin(), in a savepoint: a failed operation then undoes only
 * itself and the caller's transaction goes on.
 */
static int
tx_begin(struct store *st, struct store_error *err)
{
	if (st->user_tx)
		return st->ops->exec_script(st, "SAVEPOINT store_op", err);
	return st->ops->begin(st, err);
}

static int
tx_commit(struct store *st, struct store_error *err)
{
	if (st->user_tx)
		return st->ops->exec_script(st, "RELEASE SAVEPOINT store_op", err);
	return st->ops->commit(st, err);
}

static int
tx_abort(struct store *st, int rc)
{
	if (st->user_tx)
		st->ops->exec_script(st, "ROLLBACK TO SAVEPOINT store_op;"
		                         " RELEASE SAVEPOINT store_op", NULL);
	else
		st->ops->rollback(st);
	return rc;
}

int
store_tx_begin(struct store *st, struct store_error *err)
{
	if (st->user_tx)
		return store_fail(err, STORE_EINVAL, "a transaction is already open");
	int rc = st->ops->begin(st, err);
	if (!rc)
		st->user_tx = 1;
	return rc;
}

int
store_tx_commit(struct store *st, struct store_error *err)
{
	if (!st->user_tx)
		return store_fail(err, STORE_EINVAL, "no transaction is open");
	st->user_tx = 0;
	return st->ops->commit(st, err);
}

void
store_tx_rollback(struct store *st)
{
	if (!st->user_tx)
		return;
	st->user_tx = 0;
	st->ops->rollback(st);
}

/* Runs a statement and discards its rows. *rows (may be NULL) counts them,
 * which with RETURNING tells how many rows changed in both dialects. */
static int
db_exec(struct store *st, const char *sql, const struct store_param *p, int n,
        int64_t *rows, struct store_error *err)
{
	struct store_cursor *c;
	int rc = st->ops->query(st, sql, p, n, &c, err);
	if (rc)
		return rc;
	int64_t count = 0;
	int r;
	while ((r = st->ops->next(c, err)) > 0)
		count++;
	st->ops->close(c);
	if (r < 0)
		return -r;
	if (rows)
		*rows = count;
	return STORE_OK;
}

/* Runs a query expected to return at most one row and hands it to fn.
 * Returns STORE_ENOTFOUND when there is none. */
typedef void (*row_fn)(struct store *st, struct store_cursor *c, void *out);

static int
db_one(struct store *st, const char *sql, const struct store_param *p, int n,
       row_fn fn, void *out, struct store_error *err)
{
	struct store_cursor *c;
	int rc = st->ops->query(st, sql, p, n, &c, err);
	if (rc)
		return rc;
	int r = st->ops->next(c, err);
	if (r > 0 && fn)
		fn(st, c, out);
	st->ops->close(c);
	if (r < 0)
		return -r;
	if (r == 0)
		return store_fail(err, STORE_ENOTFOUND, "not found");
	return STORE_OK;
}

static void
row_int0(struct store *st, struct store_cursor *c, void *out)
{
	*(int64_t *)out = st->ops->int64(c, 0);
}

/* ---- detail JSON -------------------------------------------------------- */

/*
 * Parses the caller's detail (an object or NULL), lets the store's own keys
 * win over the caller's, and returns the compact sorted text to store.
 * Steals base.
 */
static int
detail_text(const char *detail_json, json_t *base, char **out,
            struct store_error *err)
{
	json_t *obj;
	*out = NULL;
	if (detail_json && *detail_json) {
		json_error_t jerr;
		obj = json_loads(detail_json, JSON_REJECT_DUPLICATES, &jerr);
		if (!obj) {
			json_decref(base);
			return store_fail(err, STORE_EINVAL, "detail is not JSON: %s (column %d)",
			                  jerr.text, jerr.column);
		}
		if (!json_is_object(obj)) {
			json_decref(obj);
			json_decref(base);
			return store_fail(err, STORE_EINVAL, "detail must be a JSON object");
		}
	} else {
		obj = json_object();
	}
	if (base) {
		json_object_update(obj, base);
		json_decref(base);
	}
	*out = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(obj);
	if (!*out)
		return store_fail(err, STORE_ENOMEM, "cannot serialise detail");
	return STORE_OK;
}

/* ---- the audit chain ---------------------------------------------------- */

static void
digest_netstring(EVP_MD_CTX *md, const char *s, size_t n)
{
	char len[24];
	int k = snprintf(len, sizeof len, "%zu:", n);
	EVP_DigestUpdate(md, len, (size_t)k);
	EVP_DigestUpdate(md, s, n);
	EVP_DigestUpdate(md, ",", 1);
}

static void
digest_int(EVP_MD_CTX *md, int64_t v, int empty_if_zero)
{
	char num[24] = "";
	if (!(empty_if_zero && v == 0))
		snprintf(num, sizeof num, "%" PRId64, v);
	digest_netstring(md, num, strlen(num));
}

void
store_event_hash(const struct store_event *ev, const char *prev_hash,
                 char out[SPOOL_HASH_HEX + 1])
{
	static const char hexd[] = "0123456789abcdef";
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	EVP_DigestUpdate(md, prev_hash, strlen(prev_hash));
	digest_netstring(md, "edigate-event-1", 15);
	digest_int(md, ev->id, 0);
	digest_int(md, ev->time_us, 0);
	digest_int(md, ev->message_id, 1);
	digest_netstring(md, ev->correlation_id, strlen(ev->correlation_id));
	digest_netstring(md, ev->kind, strlen(ev->kind));
	digest_netstring(md, ev->detail, strlen(ev->detail));
	EVP_DigestFinal_ex(md, d, &dlen);
	EVP_MD_CTX_free(md);
	for (unsigned i = 0; i < 32; i++) {
		out[2 * i] = hexd[d[i] >> 4];
		out[2 * i + 1] = hexd[d[i] & 15];
	}
	out[SPOOL_HASH_HEX] = '\0';
}

struct head {
	int64_t last_id;
	char last_hash[SPOOL_HASH_HEX + 1];
};

static void
row_head(struct store *st, struct store_cursor *c, void *out)
{
	struct head *h = out;
	h->last_id = st->ops->int64(c, 0);
	COPY(h->last_hash, st->ops->text(c, 1));
}

/*
 * Appends one event inside the caller's transaction. The head row lock
 * (or SQLite's write lock) is held until that transaction ends, which is
 * what keeps concurrent appenders in one line. Call it last in a
 * transaction so the lock is held briefly. Steals base.
 */
static int
event_append_tx(struct store *st, int64_t message_id, const char *correlation_id,
                const char *kind, const char *detail_json, json_t *base,
                int64_t *id_out, struct store_error *err)
{
	char *detail;
	char sql[1024];
	struct head h;
	int rc = detail_text(detail_json, base, &detail, err);
	if (rc)
		return rc;
	snprintf(sql, sizeof sql,
	         "SELECT last_id, last_hash FROM audit_head WHERE singleton = 1%s",
	         st->for_update);
	rc = db_one(st, sql, NULL, 0, row_head, &h, err);
	if (rc == STORE_ENOTFOUND)
		rc = store_fail(err, STORE_ESCHEMA, "the audit chain head is missing");
	if (rc) {
		free(detail);
		return rc;
	}
	struct store_event ev = { .id = h.last_id + 1, .time_us = store_now_us(),
	                          .message_id = message_id, .detail = detail };
	COPY(ev.correlation_id, correlation_id ? correlation_id : "");
	COPY(ev.kind, kind);
	store_event_hash(&ev, h.last_hash, ev.hash);
	struct store_param p[] = {
		P_INT(ev.id), P_INT(ev.time_us),
		message_id ? P_INT(message_id) : P_NULL,
		P_TEXT(ev.correlation_id), P_TEXT(ev.kind), P_TEXT(detail),
		P_TEXT(h.last_hash), P_TEXT(ev.hash),
	};
	rc = db_exec(st,
	             "INSERT INTO events (id, time_us, message_id, correlation_id,"
	             " kind, detail, prev_hash, hash)"
	             " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
	             p, 8, NULL, err);
	free(detail);
	if (rc)
		return rc;
	struct store_param q[] = { P_INT(ev.id), P_TEXT(ev.hash) };
	rc = db_exec(st, "UPDATE audit_head SET last_id = $1, last_hash = $2"
	                 " WHERE singleton = 1",
	             q, 2, NULL, err);
	if (!rc && id_out)
		*id_out = ev.id;
	return rc;
}

static void
row_text0(struct store *st, struct store_cursor *c, void *out)
{
	copy_text(out, STORE_CORRELATION_MAX + 1, st->ops->text(c, 0));
}

/* The correlation id events about message_id carry ("" when none). */
static int
message_correlation(struct store *st, int64_t message_id,
                    char out[STORE_CORRELATION_MAX + 1], struct store_error *err)
{
	out[0] = '\0';
	if (message_id == 0)
		return STORE_OK;
	struct store_param p[] = { P_INT(message_id) };
	int rc = db_one(st, "SELECT correlation_id FROM messages WHERE id = $1", p, 1,
	                row_text0, out, err);
	return rc == STORE_ENOTFOUND ? STORE_OK : rc;
}

int
store_event_append(struct store *st, int64_t message_id,
                   const char *correlation_id, const char *kind,
                   const char *detail_json, int64_t *id_out,
                   struct store_error *err)
{
	char corr[STORE_CORRELATION_MAX + 1];
	int rc;
	if ((rc = check_name(err, "event kind", kind, STORE_KIND_MAX)) ||
	    (rc = check_text(err, "correlation id", correlation_id,
	                     STORE_CORRELATION_MAX, 1)))
		return rc;
	if ((rc = tx_begin(st, err)))
		return rc;
	if (correlation_id && *correlation_id)
		COPY(corr, correlation_id);
	else if ((rc = message_correlation(st, message_id, corr, err)))
		return tx_abort(st, rc);
	rc = event_append_tx(st, message_id, corr, kind, detail_json, NULL, id_out, err);
	if (rc)
		return tx_abort(st, rc);
	return tx_commit(st, err);
}

#define EVENT_COLS "id, time_us, message_id, correlation_id, kind, detail, prev_hash, hash"

static void
event_from_row(struct store *st, struct store_cursor *c, struct store_event *ev)
{
	ev->id = st->ops->int64(c, 0);
	ev->time_us = st->ops->int64(c, 1);
	ev->message_id = st->ops->is_null(c, 2) ? 0 : st->ops->int64(c, 2);
	COPY(ev->correlation_id, st->ops->text(c, 3));
	COPY(ev->kind, st->ops->text(c, 4));
	ev->detail = st->ops->text(c, 5);
	COPY(ev->prev_hash, st->ops->text(c, 6));
	COPY(ev->hash, st->ops->text(c, 7));
}

int
store_event_foreach(struct store *st, const struct store_event_filter *f,
                    store_event_cb cb, void *ud, struct store_error *err)
{
	struct store_event_filter none = { 0 };
	struct store_cursor *c;
	if (!f)
		f = &none;
	struct store_param p[] = {
		P_INT(f->since_us), P_INT(f->until_us ? f->until_us : INT64_MAX),
		P_INT(f->message_id),
		f->correlation_id ? P_TEXT(f->correlation_id) : P_TEXT(""),
	};
	/* Columns before literals: PostgreSQL types a parameter by its first
	 * use, and "$3 = 0" would make a BIGINT message id an INTEGER. */
	int rc = st->ops->query(st,
	                        "SELECT " EVENT_COLS " FROM events"
	                        " WHERE time_us >= $1 AND time_us < $2"
	                        " AND (message_id = $3 OR $3 = 0)"
	                        " AND (correlation_id = $4 OR $4 = '')"
	                        " ORDER BY id",
	                        p, 4, &c, err);
	if (rc)
		return rc;
	int r;
	while ((r = st->ops->next(c, err)) > 0) {
		struct store_event ev;
		event_from_row(st, c, &ev);
		int stop = cb(ud, &ev);
		if (stop) {
			st->ops->close(c);
			return stop;
		}
	}
	st->ops->close(c);
	return r < 0 ? -r : STORE_OK;
}

int
store_audit_verify(struct store *st, struct store_audit_result *res,
                   struct store_error *err)
{
	struct head h;
	struct store_cursor *c;
	memset(res, 0, sizeof *res);
	/* The head first: events appended while we walk have larger ids and
	 * are left for the next run, so a busy system verifies cleanly. */
	int rc = db_one(st, "SELECT last_id, last_hash FROM audit_head WHERE singleton = 1",
	                NULL, 0, row_head, &h, err);
	if (rc == STORE_ENOTFOUND) {
		res->broken_id = 1;
		snprintf(res->problem, sizeof res->problem,
		         "the chain head row (audit_head) was removed");
		return STORE_OK;
	}
	if (rc)
		return rc;
	struct store_param p[] = { P_INT(h.last_id) };
	rc = st->ops->query(st, "SELECT " EVENT_COLS " FROM events WHERE id <= $1 ORDER BY id",
	                    p, 1, &c, err);
	if (rc)
		return rc;
	char prev[SPOOL_HASH_HEX + 1] = ZERO_HASH;
	int64_t expect = 1;
	int r;
	while ((r = st->ops->next(c, err)) > 0) {
		struct store_event ev;
		char computed[SPOOL_HASH_HEX + 1];
		event_from_row(st, c, &ev);
		res->events_checked++;
		if (ev.id != expect) {
			res->broken_id = expect;
			if (expect == 1)
				snprintf(res->problem, sizeof res->problem,
				         "event %" PRId64 " is missing: the chain starts at event %" PRId64,
				         expect, ev.id);
			else
				snprintf(res->problem, sizeof res->problem,
				         "event %" PRId64 " is missing: event %" PRId64
				         " is followed by event %" PRId64,
				         expect, expect - 1, ev.id);
			break;
		}
		if (strcmp(ev.prev_hash, prev) != 0) {
			res->broken_id = ev.id;
			snprintf(res->problem, sizeof res->problem,
			         "event %" PRId64 ": prev_hash %s does not match the hash of"
			         " event %" PRId64 " (%s)",
			         ev.id, ev.prev_hash, ev.id - 1, prev);
			break;
		}
		store_event_hash(&ev, ev.prev_hash, computed);
		if (strcmp(computed, ev.hash) != 0) {
			res->broken_id = ev.id;
			snprintf(res->problem, sizeof res->problem,
			         "event %" PRId64 " (%s): its content (time, message, correlation"
			         " id, kind or detail) does not match its hash: stored %s,"
			         " computed %s",
			         ev.id, ev.kind, ev.hash, computed);
			break;
		}
		COPY(prev, ev.hash);
		expect++;
	}
	st->ops->close(c);
	if (r < 0)
		return -r;
	if (res->broken_id)
		return STORE_OK;
	if (expect - 1 != h.last_id) {
		res->broken_id = expect;
		snprintf(res->problem, sizeof res->problem,
		         "event %" PRId64 " is missing: the chain ends at event %" PRId64
		         " but its head records event %" PRId64,
		         expect, expect - 1, h.last_id);
		return STORE_OK;
	}
	if (strcmp(prev, h.last_hash) != 0) {
		res->broken_id = h.last_id;
		snprintf(res->problem, sizeof res->problem,
		         "event %" PRId64 ": its hash %s differs from the chain head's %s",
		         h.last_id, prev, h.last_hash);
		return STORE_OK;
	}
	res->intact = 1;
	return STORE_OK;
}

/* ---- migrations -------------------------------------------------------- */

static const struct store_migration *
migrations_of(const struct store *st, int *count)
{
	if (st->backend == STORE_BACKEND_POSTGRESQL) {
		*count = store_pg_migration_count;
		return store_pg_migrations;
	}
	*count = store_sqlite_migration_count;
	return store_sqlite_migrations;
}

static int
current_version(struct store *st, int64_t *version, struct store_error *err)
{
	/* Whether schema_migrations exists differs by catalog; asking the
	 * table itself and treating "no such table" as 0 needs no dialect. */
	int64_t v = 0;
	const char *probe = st->backend == STORE_BACKEND_POSTGRESQL
	                        ? "SELECT count(*) FROM pg_tables WHERE schemaname ="
	                          " current_schema() AND tablename = 'schema_migrations'"
	                        : "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
	                          " AND name = 'schema_migrations'";
	int rc = db_one(st, probe, NULL, 0, row_int0, &v, err);
	if (rc)
		return rc;
	if (v == 0) {
		*version = 0;
		return STORE_OK;
	}
	return db_one(st, "SELECT coalesce(max(version), 0) FROM schema_migrations",
	              NULL, 0, row_int0, version, err);
}

struct applied {
	int found;
	char checksum[SPOOL_HASH_HEX + 1];
};

static void
row_applied(struct store *st, struct store_cursor *c, void *out)
{
	struct applied *a = out;
	a->found = 1;
	COPY(a->checksum, st->ops->text(c, 0));
}

static int
migrate_locked(struct store *st, int *applied, struct store_error *err)
{
	int count;
	const struct store_migration *m = migrations_of(st, &count);
	int64_t have;
	int rc = st->ops->exec_script(st,
	                              "CREATE TABLE IF NOT EXISTS schema_migrations ("
	                              " version INTEGER PRIMARY KEY,"
	                              " name TEXT NOT NULL,"
	                              " checksum TEXT NOT NULL,"
	                              " applied_us BIGINT NOT NULL)",
	                              err);
	if (rc || (rc = current_version(st, &have, err)))
		return rc;
	if (have > m[count - 1].version)
		return store_fail(err, STORE_ESCHEMA,
		                  "the database schema is version %" PRId64
		                  ", newer than this edigate knows (%d)",
		                  have, m[count - 1].version);
	for (int i = 0; i < count; i++) {
		char sum[SPOOL_HASH_HEX + 1];
		struct applied a = { 0 };
		store_sha256_hex(m[i].sql, strlen(m[i].sql), sum);
		if ((rc = tx_begin(st, err)))
			return rc;
		struct store_param p[] = { P_INT(m[i].version) };
		rc = db_one(st, "SELECT checksum FROM schema_migrations WHERE version = $1",
		            p, 1, row_applied, &a, err);
		if (rc && rc != STORE_ENOTFOUND)
			return tx_abort(st, rc);
		if (a.found) {
			tx_abort(st, 0);
			if (strcmp(a.checksum, sum) != 0)
				return store_fail(err, STORE_ESCHEMA,
				                  "migration %d (%s) was applied from different SQL"
				                  " than this edigate carries",
				                  m[i].version, m[i].name);
			continue;
		}
		if ((rc = st->ops->exec_script(st, m[i].sql, err))) {
			char why[sizeof err->message];
			COPY(why, err ? err->message : "");
			tx_abort(st, rc);
			return store_fail(err, STORE_ESCHEMA, "migration %d (%s) failed: %s",
			                  m[i].version, m[i].name, why);
		}
		struct store_param q[] = { P_INT(m[i].version), P_TEXT(m[i].name),
			                   P_TEXT(sum), P_INT(store_now_us()) };
		rc = db_exec(st, "INSERT INTO schema_migrations (version, name, checksum,"
		                 " applied_us) VALUES ($1, $2, $3, $4)",
		             q, 4, NULL, err);
		if (rc)
			return tx_abort(st, rc);
		if ((rc = tx_commit(st, err)))
			return rc;
		if (applied)
			(*applied)++;
	}
	return STORE_OK;
}

int
store_migrate(struct store *st, int *applied, struct store_error *err)
{
	if (applied)
		*applied = 0;
	if (st->user_tx)
		return store_fail(err, STORE_EINVAL, "migrations cannot run inside a transaction");
	int rc = st->ops->lock_migrations(st, 1, err);
	if (rc)
		return rc;
	rc = migrate_locked(st, applied, err);
	st->ops->lock_migrations(st, 0, NULL);
	return rc;
}

/* ---- open / close ------------------------------------------------------ */

static int
has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static char *default_spool_dir;

int
store_set_default_spool(const char *dir, struct store_error *err)
{
	char *copy = NULL;

	if (dir && !(copy = strdup(dir)))
		return store_fail(err, STORE_ENOMEM, "out of memory");
	free(default_spool_dir);
	default_spool_dir = copy;
	return STORE_OK;
}

int
store_open(struct store **out, const char *url_or_path,
           const struct store_options *opts, struct store_error *err)
{
	struct store_options none = { 0 };
	*out = NULL;
	if (!opts)
		opts = &none;
	if (!url_or_path || !*url_or_path)
		return store_fail(err, STORE_EINVAL, "no store given");
	struct store *st = calloc(1, sizeof *st);
	if (!st)
		return store_fail(err, STORE_ENOMEM, "out of memory");
	st->busy_timeout_ms = opts->busy_timeout_ms > 0 ? opts->busy_timeout_ms : 30000;
	int rc;
	const char *sd = opts->spool_dir ? opts->spool_dir : default_spool_dir;
	char *spool_dir = sd ? strdup(sd) : NULL;
	if (has_prefix(url_or_path, "postgresql://") || has_prefix(url_or_path, "postgres://")) {
		st->backend = STORE_BACKEND_POSTGRESQL;
		rc = store_pg_connect(st, url_or_path, err);
	} else {
		const char *path = url_or_path;
		if (has_prefix(path, "sqlite://"))
			path += 9;
		else if (has_prefix(path, "sqlite:"))
			path += 7;
		st->backend = STORE_BACKEND_SQLITE;
		rc = store_sqlite_connect(st, path, err);
		if (!rc && !spool_dir) {
			const char *slash = strrchr(path, '/');
			int dn = slash ? (int)(slash - path) : 1;
			if (asprintf(&spool_dir, "%.*s/spool", dn, slash ? path : ".") < 0)
				spool_dir = NULL;
		}
	}
	if (!rc && spool_dir) {
		struct spool_error serr;
		if (spool_open(&st->spool, spool_dir, &serr))
			rc = store_fail(err, STORE_EIO, "spool: %s", serr.message);
	}
	free(spool_dir);
	if (!rc && !opts->no_migrate)
		rc = store_migrate(st, NULL, err);
	if (rc) {
		store_close(st);
		return rc;
	}
	*out = st;
	return STORE_OK;
}

void
store_close(struct store *st)
{
	if (!st)
		return;
	if (st->db)
		st->ops->disconnect(st);
	spool_close(st->spool);
	free(st);
}

enum store_backend
store_backend(const struct store *st)
{
	return st->backend;
}

const char *
store_backend_name(const struct store *st)
{
	return st->backend == STORE_BACKEND_POSTGRESQL ? "postgresql" : "sqlite";
}

struct spool *
store_spool(struct store *st)
{
	return st->spool;
}

int
store_info(struct store *st, struct store_info *info, struct store_error *err)
{
	static const struct {
		const char *sql;
		size_t off;
	} counts[] = {
		{ "SELECT count(*) FROM messages", offsetof(struct store_info, messages) },
		{ "SELECT count(*) FROM events", offsetof(struct store_info, events) },
		{ "SELECT last_id FROM audit_head", offsetof(struct store_info, audit_last_id) },
		{ "SELECT count(*) FROM deliveries WHERE state = 'queued'",
		  offsetof(struct store_info, deliveries_queued) },
		{ "SELECT count(*) FROM deliveries WHERE state = 'dead'",
		  offsetof(struct store_info, deliveries_dead) },
		{ "SELECT count(*) FROM ack_expectations WHERE state = 'pending'",
		  offsetof(struct store_info, acks_pending) },
		{ "SELECT count(*) FROM ack_expectations WHERE state = 'overdue'",
		  offsetof(struct store_info, acks_overdue) },
	};
	int count;
	const struct store_migration *m = migrations_of(st, &count);
	int64_t version;
	memset(info, 0, sizeof *info);
	info->backend = store_backend_name(st);
	info->schema_latest = m[count - 1].version;
	int rc = current_version(st, &version, err);
	if (rc)
		return rc;
	info->schema_version = (int)version;
	if (version == 0)
		return STORE_OK;
	for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
		int64_t *slot = (int64_t *)((char *)info + counts[i].off);
		rc = db_one(st, counts[i].sql, NULL, 0, row_int0, slot, err);
		if (rc)
			return rc;
	}
	return STORE_OK;
}

/* ---- messages ----------------------------------------------------------- */

#define MESSAGE_COLS                                                          \
	"id, direction, partner, transport, message_type, payload_hash, size,"  \
	" state, correlation_id, interchange_control, group_control,"           \
	" set_control, created_us, updated_us"

static void
message_from_row(struct store *st, struct store_cursor *c, void *out)
{
	struct store_message *m = out;
	m->id = st->ops->int64(c, 0);
	m->direction = strcmp(st->ops->text(c, 1), "out") == 0 ? STORE_OUT : STORE_IN;
	COPY(m->partner, st->ops->text(c, 2));
	COPY(m->transport, st->ops->text(c, 3));
	COPY(m->message_type, st->ops->text(c, 4));
	COPY(m->payload_hash, st->ops->text(c, 5));
	m->size = st->ops->int64(c, 6);
	COPY(m->state, st->ops->text(c, 7));
	COPY(m->correlation_id, st->ops->text(c, 8));
	COPY(m->interchange_control, st->ops->text(c, 9));
	COPY(m->group_control, st->ops->text(c, 10));
	COPY(m->set_control, st->ops->text(c, 11));
	m->created_us = st->ops->int64(c, 12);
	m->updated_us = st->ops->int64(c, 13);
}

static int
check_message(const struct store_message *m, struct store_error *err)
{
	int rc;
	if ((rc = check_text(err, "partner", m->partner, STORE_PARTNER_MAX, 0)) ||
	    (rc = check_name(err, "transport", m->transport, STORE_NAME_MAX)) ||
	    (rc = check_text(err, "message type", m->message_type, STORE_NAME_MAX, 1)) ||
	    (rc = check_text(err, "correlation id", m->correlation_id,
	                     STORE_CORRELATION_MAX, 1)) ||
	    (rc = check_text(err, "interchange control number", m->interchange_control,
	                     STORE_CONTROL_TEXT_MAX, 1)) ||
	    (rc = check_text(err, "group control number", m->group_control,
	                     STORE_CONTROL_TEXT_MAX, 1)) ||
	    (rc = check_text(err, "set control number", m->set_control,
	                     STORE_CONTROL_TEXT_MAX, 1)))
		return rc;
	if (m->state[0] && (rc = check_name(err, "state", m->state, STORE_NAME_MAX)))
		return rc;
	if (m->direction != STORE_IN && m->direction != STORE_OUT)
		return store_fail(err, STORE_EINVAL, "direction must be in or out");
	if (!spool_hash_valid(m->payload_hash))
		return store_fail(err, STORE_EINVAL, "payload hash is not 64 lowercase hex digits");
	if (m->size < 0)
		return store_fail(err, STORE_EINVAL, "negative size");
	return STORE_OK;
}

int
store_message_put(struct store *st, struct store_message *m,
                  const char *detail_json, struct store_error *err)
{
	int rc = check_message(m, err);
	if (rc)
		return rc;
	if (!st->spool)
		return store_fail(err, STORE_ENOSPOOL, "no spool is attached to this store");
	/* The payload must already be durable: never commit a reference to
	 * bytes that are not (completely) there. */
	uint64_t on_disk;
	struct spool_error serr;
	if (spool_stat(st->spool, m->payload_hash, &on_disk, &serr))
		return store_fail(err, STORE_ENOSPOOL, "payload %s: %s", m->payload_hash,
		                  serr.message);
	if ((int64_t)on_disk != m->size)
		return store_fail(err, STORE_ENOSPOOL,
		                  "payload %s holds %" PRIu64 " bytes, the message says %" PRId64,
		                  m->payload_hash, on_disk, m->size);
	if (!m->state[0])
		COPY(m->state, "stored");
	if (!m->correlation_id[0])
		new_correlation_id(m->correlation_id);
	m->created_us = m->updated_us = store_now_us();
	if ((rc = tx_begin(st, err)))
		return rc;
	struct store_param p[] = {
		P_TEXT(m->direction == STORE_OUT ? "out" : "in"), P_TEXT(m->partner),
		P_TEXT(m->transport), P_TEXT(m->message_type), P_TEXT(m->payload_hash),
		P_INT(m->size), P_TEXT(m->state), P_TEXT(m->correlation_id),
		P_TEXT(m->interchange_control), P_TEXT(m->group_control),
		P_TEXT(m->set_control), P_INT(m->created_us),
	};
	rc = db_one(st,
	            "INSERT INTO messages (direction, partner, transport, message_type,"
	            " payload_hash, size, state, correlation_id, interchange_control,"
	            " group_control, set_control, created_us, updated_us)"
	            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)"
	            " RETURNING id",
	            p, 12, row_int0, &m->id, err);
	if (rc)
		return tx_abort(st, rc);
	json_t *base = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s}",
	                         "direction", m->direction == STORE_OUT ? "out" : "in",
	                         "partner", m->partner, "transport", m->transport,
	                         "type", m->message_type, "payload", m->payload_hash,
	                         "size", (json_int_t)m->size, "state", m->state);
	rc = event_append_tx(st, m->id, m->correlation_id, "message.stored", detail_json,
	                     base, NULL, err);
	if (rc)
		return tx_abort(st, rc);
	return tx_commit(st, err);
}

int
store_message_get(struct store *st, int64_t id, struct store_message *out,
                  struct store_error *err)
{
	struct store_param p[] = { P_INT(id) };
	int rc = db_one(st, "SELECT " MESSAGE_COLS " FROM messages WHERE id = $1", p, 1,
	                message_from_row, out, err);
	if (rc == STORE_ENOTFOUND)
		store_fail(err, rc, "message %" PRId64 " not found", id);
	return rc;
}

int
store_message_set_state(struct store *st, int64_t id, const char *expected_state,
                        const char *new_state, const char *detail_json,
                        struct store_error *err)
{
	struct store_message m;
	char sql[1024];
	int rc = check_name(err, "state", new_state, STORE_NAME_MAX);
	if (rc)
		return rc;
	if ((rc = tx_begin(st, err)))
		return rc;
	snprintf(sql, sizeof sql, "SELECT " MESSAGE_COLS " FROM messages WHERE id = $1%s",
	         st->for_update);
	struct store_param p[] = { P_INT(id) };
	rc = db_one(st, sql, p, 1, message_from_row, &m, err);
	if (rc == STORE_ENOTFOUND)
		store_fail(err, rc, "message %" PRId64 " not found", id);
	if (rc)
		return tx_abort(st, rc);
	if (expected_state && strcmp(m.state, expected_state) != 0)
		return tx_abort(st, store_fail(err, STORE_ECONFLICT,
		                               "message %" PRId64 " is %s, not %s", id,
		                               m.state, expected_state));
	struct store_param q[] = { P_INT(id), P_TEXT(new_state), P_INT(store_now_us()) };
	rc = db_exec(st, "UPDATE messages SET state = $2, updated_us = $3 WHERE id = $1",
	             q, 3, NULL, err);
	if (rc)
		return tx_abort(st, rc);
	rc = event_append_tx(st, id, m.correlation_id, "message.state", detail_json,
	                     json_pack("{s:s, s:s}", "from", m.state, "to", new_state),
	                     NULL, err);
	if (rc)
		return tx_abort(st, rc);
	return tx_commit(st, err);
}

/* ---- processing claims -------------------------------------------------- */

int
store_message_claim(struct store *st, int64_t id, const char *owner,
                    int64_t lease_us, struct store_error *err)
{
	struct store_message m;
	char sql[1024];
	int64_t rows = 0, now = store_now_us();
	int rc = check_text(err, "owner", owner, STORE_PARTNER_MAX, 0);
	if (rc)
		return rc;
	if ((rc = tx_begin(st, err)))
		return rc;
	snprintf(sql, sizeof sql, "SELECT " MESSAGE_COLS " FROM messages WHERE id = $1");
	struct store_param p[] = { P_INT(id) };
	rc = db_one(st, sql, p, 1, message_from_row, &m, err);
	if (rc == STORE_ENOTFOUND)
		store_fail(err, rc, "message %" PRId64 " not found", id);
	if (rc)
		return tx_abort(st, rc);
	/* The state condition in the UPDATE itself is what makes the claim
	 * atomic: of two nodes, the second finds no "received" row. */
	struct store_param q[] = { P_INT(id), P_TEXT(owner), P_INT(now), P_INT(now + lease_us) };
	rc = db_exec(st, "UPDATE messages SET state = 'processing', claim_owner = $2,"
	             " claim_until_us = $4, updated_us = $3"
	             " WHERE id = $1 AND state = 'received' RETURNING id",
	             q, 4, &rows, err);
	if (rc)
		return tx_abort(st, rc);
	if (rows == 0)
		return tx_abort(st, store_fail(err, STORE_ECONFLICT,
		                               "message %" PRId64 " is %s, not received", id,
		                               m.state));
	rc = event_append_tx(st, id, m.correlation_id, "message.state", NULL,
	                     json_pack("{s:s, s:s, s:s}", "from", "received", "to",
	                               "processing", "owner", owner),
	                     NULL, err);
	if (rc)
		return tx_abort(st, rc);
	return tx_commit(st, err);
}

int
store_message_renew_claims(struct store *st, const char *owner, int64_t lease_us,
                           int64_t *count, struct store_error *err)
{
	int64_t rows = 0, now = store_now_us();
	int rc = check_text(err, "owner", owner, STORE_PARTNER_MAX, 0);
	if (rc)
		return rc;
	struct store_param p[] = { P_TEXT(owner), P_INT(now + lease_us) };
	rc = db_exec(st, "UPDATE messages SET claim_until_us = $2"
	             " WHERE state = 'processing' AND claim_owner = $1 RETURNING id",
	             p, 2, &rows, err);
	if (rc == STORE_OK && count)
		*count = rows;
	return rc;
}

struct claim_row {
	char owner[STORE_PARTNER_MAX + 1];
	int64_t until_us;
	char state[STORE_NAME_MAX + 1];
	char correlation_id[STORE_CORRELATION_MAX + 1];
};

static void
claim_from_row(struct store *st, struct store_cursor *c, void *out)
{
	struct claim_row *r = out;
	const char *s;
	s = st->ops->is_null(c, 0) ? "" : st->ops->text(c, 0);
	snprintf(r->owner, sizeof r->owner, "%s", s ? s : "");
	r->until_us = st->ops->int64(c, 1);
	s = st->ops->text(c, 2);
	snprintf(r->state, sizeof r->state, "%s", s ? s : "");
	s = st->ops->is_null(c, 3) ? "" : st->ops->text(c, 3);
	snprintf(r->correlation_id, sizeof r->correlation_id, "%s", s ? s : "");
}

int
store_message_release_claim(struct store *st, int64_t id, int64_t before_us,
                            const char *detail_json, struct store_error *err)
{
	struct claim_row r;
	char sql[512];
	int rc;
	if ((rc = tx_begin(st, err)))
		return rc;
	/* SKIP LOCKED: a row another node is changing right now (claiming,
	 * finishing, releasing) is not ours to judge; the next sweep sees it
	 * settled. */
	snprintf(sql, sizeof sql,
	         "SELECT claim_owner, coalesce(claim_until_us, 0), state, correlation_id"
	         " FROM messages WHERE id = $1%s",
	         st->backend == STORE_BACKEND_POSTGRESQL ? " FOR UPDATE SKIP LOCKED" : "");
	struct store_param p[] = { P_INT(id) };
	rc = db_one(st, sql, p, 1, claim_from_row, &r, err);
	if (rc == STORE_ENOTFOUND) {
		int64_t n = 0;
		struct store_param e[] = { P_INT(id) };
		tx_abort(st, 0);
		if (db_exec(st, "SELECT id FROM messages WHERE id = $1", e, 1, &n, err) == STORE_OK &&
		    n > 0)
			return store_fail(err, STORE_ECONFLICT,
			                  "message %" PRId64 " is being changed by another node", id);
		return store_fail(err, STORE_ENOTFOUND, "message %" PRId64 " not found", id);
	}
	if (rc)
		return tx_abort(st, rc);
	if (strcmp(r.state, "processing") != 0)
		return tx_abort(st, store_fail(err, STORE_ECONFLICT,
		                               "message %" PRId64 " is %s, not processing", id,
		                               r.state));
	if (r.until_us >= before_us)
		return tx_abort(st, store_fail(err, STORE_ECONFLICT,
		                               "message %" PRId64 " is claimed by %s for %" PRId64
		                               " s more", id, r.owner,
		                               (r.until_us - store_now_us()) / 1000000));
	int64_t rows = 0;
	struct store_param q[] = { P_INT(id), P_INT(store_now_us()), P_INT(before_us) };
	rc = db_exec(st, "UPDATE messages SET state = 'received', claim_owner = NULL,"
	             " claim_until_us = NULL, updated_us = $2 WHERE id = $1"
	             " AND state = 'processing' AND coalesce(claim_until_us, 0) < $3"
	             " RETURNING id",
	             q, 3, &rows, err);
	if (rc)
		return tx_abort(st, rc);
	if (rows == 0)
		return tx_abort(st, store_fail(err, STORE_ECONFLICT,
		                               "message %" PRId64 " changed meanwhile", id));
	rc = event_append_tx(st, id, r.correlation_id, "message.state", detail_json,
	                     json_pack("{s:s, s:s, s:s}", "from", "processing", "to",
	                               "received", "owner", r.owner),
	                     NULL, err);
	if (rc)
		return tx_abort(st, rc);
	return tx_commit(st, err);
}

int
store_message_stale_claims(struct store *st, int64_t before_us, unsigned limit,
                           int64_t *ids, size_t *n, struct store_error *err)
{
	struct store_cursor *c;
	*n = 0;
	if (limit == 0)
		return store_fail(err, STORE_EINVAL, "limit must be at least 1");
	struct store_param p[] = { P_INT(before_us), P_INT((int64_t)limit), P_TEXT("in") };
	size_t got = 0;
	int r, rc = st->ops->query(st,
	                           "SELECT id FROM messages WHERE state = 'processing'"
	                           " AND direction = $3"
	                           " AND coalesce(claim_until_us, 0) < $1 ORDER BY id LIMIT $2",
	                           p, 3, &c, err);
	if (rc)
		return rc;
	while ((r = st->ops->next(c, err)) > 0)
		if (got < limit)
			ids[got++] = st->ops->int64(c, 0);
	st->ops->close(c);
	*n = got;
	return r < 0 ? -r : STORE_OK;
}

int
store_message_claim_get(struct store *st, int64_t id, char *owner, size_t ownersize,
                        int64_t *until_us, struct store_error *err)
{
	struct claim_row r;
	struct store_param p[] = { P_INT(id) };
	int rc = db_one(st, "SELECT claim_owner, coalesce(claim_until_us, 0), state,"
	                " correlation_id FROM messages WHERE id = $1",
	                p, 1, claim_from_row, &r, err);
	if (rc == STORE_ENOTFOUND)
		return store_fail(err, rc, "message %" PRId64 " not found", id);
	if (rc)
		return rc;
	if (owner)
		snprintf(owner, ownersize, "%s", r.owner);
	if (until_us)
		*until_us = r.until_us;
	return STORE_OK;
}

int
store_message_list(struct store *st, const struct store_message_filter *f,
                   store_message_cb cb, void *ud, struct store_error *err)
{
	struct store_message_filter none = { 0 };
	struct store_cursor *c;
	if (!f)
		f = &none;
	struct store_param p[] = {
		P_TEXT(f->partner ? f->partner : ""), P_TEXT(f->state ? f->state : ""),
		P_INT(f->since_us), P_INT(f->until_us ? f->until_us : INT64_MAX),
		P_INT(f->after_id), P_INT(f->limit ? (int64_t)f->limit : INT64_MAX),
	};
	int rc = st->ops->query(st,
	                        "SELECT " MESSAGE_COLS " FROM messages"
	                        " WHERE (partner = $1 OR $1 = '') AND (state = $2 OR $2 = '')"
	                        " AND created_us >= $3 AND created_us < $4 AND id > $5"
	                        " ORDER BY id LIMIT $6",
	                        p, 6, &c, err);
	if (rc)
		return rc;
	int r;
	while ((r = st->ops->next(c, err)) > 0) {
		struct store_message m;
		message_from_row(st, c, &m);
		int stop = cb(ud, &m);
		if (stop) {
			st->ops->close(c);
			return stop;
		}
	}
	st->ops->close(c);
	return r < 0 ? -r : STORE_OK;
}

/* ---- control numbers ---------------------------------------------------- */

static const char *
control_kind_name(enum store_control_kind kind)
{
	switch (kind) {
	case STORE_CONTROL_INTERCHANGE:
		return "interchange";
	case STORE_CONTROL_GROUP:
		return "group";
	case STORE_CONTROL_SET:
		return "set";
	}
	return NULL;
}

int
store_control_take(struct store *st, const char *partner,
                   enum store_control_kind kind, unsigned count, int64_t *first,
                   struct store_error *err)
{
	const char *kname = control_kind_name(kind);
	int rc = check_text(err, "partner", partner, STORE_PARTNER_MAX, 0);
	if (rc)
		return rc;
	if (!kname)
		return store_fail(err, STORE_EINVAL, "unknown control number kind");
	if (count == 0 || count > STORE_CONTROL_MAX)
		return store_fail(err, STORE_EINVAL, "cannot take %u control numbers", count);
	if ((rc = tx_begin(st, err)))
		return rc;
	/* One statement reads and advances the counter under its row lock:
	 * two processes or nodes can never be handed the same number. */
	int64_t last;
	struct store_param p[] = { P_TEXT(partner), P_TEXT(kname), P_INT(count) };
	rc = db_one(st,
	            "INSERT INTO control_numbers (partner, kind, last_value)"
	            " VALUES ($1, $2, $3)"
	            " ON CONFLICT (partner, kind) DO UPDATE"
	            " SET last_value = control_numbers.last_value + excluded.last_value"
	            " RETURNING last_value",
	            p, 3, row_int0, &last, err);
	if (rc)
		return tx_abort(st, rc);
	if (last > STORE_CONTROL_MAX)
		return tx_abort(st, store_fail(err, STORE_EEXHAUSTED,
		                               "%s control numbers for %s are used up"
		                               " (maximum %lld)",
		                               kname, partner, STORE_CONTROL_MAX));
	if ((rc = tx_commit(st, err)))
		return rc;
	*first = last - count + 1;
	return STORE_OK;
}

int
store_control_next(struct store *st, const char *partner,
                   enum store_control_kind kind, int64_t *value,
                   struct store_error *err)
{
	return store_control_take(st, partner, kind, 1, value, err);
}

int
store_control_seed(struct store *st, const char *partner,
                   enum store_control_kind kind, int64_t last_used,
                   struct store_error *err)
{
	const char *kname = control_kind_name(kind);
	int rc = check_text(err, "partner", partner, STORE_PARTNER_MAX, 0);
	if (rc)
		return rc;
	if (!kname)
		return store_fail(err, STORE_EINVAL, "unknown control number kind");
	if (last_used < 0 || last_used > STORE_CONTROL_MAX)
		return store_fail(err, STORE_EINVAL, "control number out of range");
	struct store_param p[] = { P_TEXT(partner), P_TEXT(kname), P_INT(last_used) };
	if ((rc = tx_begin(st, err)))
		return rc;
	rc = db_exec(st,
	             "INSERT INTO control_numbers (partner, kind, last_value)"
	             " VALUES ($1, $2, $3)"
	             " ON CONFLICT (partner, kind) DO UPDATE"
	             " SET last_value = excluded.last_value"
	             " WHERE control_numbers.last_value < excluded.last_value",
	             p, 3, NULL, err);
	if (rc)
		return tx_abort(st, rc);
	return tx_commit(st, err);
}

/* ---- acknowledgments ---------------------------------------------------- */

static const char *const ack_state_names[] = {
	[STORE_ACK_PENDING] = "pending",
	[STORE_ACK_ACCEPTED] = "accepted",
	[STORE_ACK_ACCEPTED_WITH_ERRORS] = "accepted-with-errors",
	[STORE_ACK_PARTIALLY_ACCEPTED] = "partially-accepted",
	[STORE_ACK_REJECTED] = "rejected",
	[STORE_ACK_OVERDUE] = "overdue",
};

const char *
store_ack_state_name(enum store_ack_state s)
{
	if ((unsigned)s >= sizeof ack_state_names / sizeof ack_state_names[0])
		return "unknown";
	return ack_state_names[s];
}

int
store_ack_state_parse(const char *name, enum store_ack_state *out)
{
	for (unsigned i = 0; i < sizeof ack_state_names / sizeof ack_state_names[0]; i++)
		if (name && strcmp(name, ack_state_names[i]) == 0) {
			*out = (enum store_ack_state)i;
			return STORE_OK;
		}
	return STORE_EINVAL;
}

static int
check_ack_type(const char *t, struct store_error *err)
{
	if (t && (!strcmp(t, "997") || !strcmp(t, "999") || !strcmp(t, "TA1") ||
	          !strcmp(t, "CONTRL")))
		return STORE_OK;
	return store_fail(err, STORE_EINVAL, "ack type must be 997, 999, TA1 or CONTRL");
}

#define ACK_COLS                                                               \
	"id, message_id, partner, ack_type, interchange_control, group_control,"  \
	" functional_id, set_count, created_us, deadline_us, state, overdue_us,"  \
	" acked_us, ack_message_id, ack_code, updated_us"

static void
ack_from_row(struct store *st, struct store_cursor *c, void *out)
{
	struct store_ack_expectation *e = out;
	e->id = st->ops->int64(c, 0);
	e->message_id = st->ops->is_null(c, 1) ? 0 : st->ops->int64(c, 1);
	COPY(e->partner, st->ops->text(c, 2));
	COPY(e->ack_type, st->ops->text(c, 3));
	COPY(e->interchange_control, st->ops->text(c, 4));
	COPY(e->group_control, st->ops->text(c, 5));
	COPY(e->functional_id, st->ops->text(c, 6));
	e->set_count = st->ops->int64(c, 7);
	e->created_us = st->ops->int64(c, 8);
	e->deadline_us = st->ops->int64(c, 9);
	if (store_ack_state_parse(st->ops->text(c, 10), &e->state))
		e->state = STORE_ACK_PENDING;
	e->overdue_us = st->ops->is_null(c, 11) ? 0 : st->ops->int64(c, 11);
	e->acked_us = st->ops->is_null(c, 12) ? 0 : st->ops->int64(c, 12);
	e->ack_message_id = st->ops->is_null(c, 13) ? 0 : st->ops->int64(c, 13);
	COPY(e->ack_code, st->ops->text(c, 14));
	e->updated_us = st->ops->int64(c, 15);
}

int
store_ack_expect(struct store *st, struct store_ack_expectation *e,
                 struct store_error *err)
{
	int rc;
	char corr[STORE_CORRELATION_MAX + 1];
	if ((rc = check_text(err, "partner", e->partner, STORE_PARTNER_MAX, 0)) ||
	    (rc = check_ack_type(e->ack_type, err)) ||
	    (rc = check_text(err, "interchange control number", e->interchange_control,
	                     STORE_CONTROL_TEXT_MAX, 0)) ||
	    (rc = check_text(err, "group control number", e->group_control,
	                     STORE_CONTROL_TEXT_MAX, 1)) ||
	    (rc = check_text(err, "functional id", e->functional_id,
	                     sizeof e->functional_id - 1, 1)))
		return rc;
	if (e->created_us < 0)
		return store_fail(err, STORE_EINVAL, "negative send time");
	e->updated_us = store_now_us();
	if (e->created_us == 0)
		e->created_us = e->updated_us;
	e->state = STORE_ACK_PENDING;
	e->overdue_us = e->acked_us = e->ack_message_id = 0;
	e->ack_code[0] = '\0';
	if ((rc = tx_begin(st, err)))
		return rc;
	struct store_param p[] = {
		e->message_id ? P_INT(e->message_id) : P_NULL, P_TEXT(e->partner),
		P_TEXT(e->ack_type), P_TEXT(e->interchange_control),
		P_TEXT(e->group_control), P_TEXT(e->functional_id), P_INT(e->set_count),
		P_INT(e->created_us), P_INT(e->deadline_us), P_INT(e->updated_us),
	};
	rc = db_one(st,
	            "INSERT INTO ack_expectations (message_id, partner, ack_type,"
	            " interchange_control, group_control, functional_id, set_count,"
	            " created_us, deadline_us, state, updated_us)"
	            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10)"
	            " RETURNING id",
	            p, 10, row_int0, &e->id, err);
	if (rc == STORE_ECONFLICT)
		store_fail(err, rc, "%s is already expected from %s for interchange %s group %s",
		           e->ack_type, e->partner, e->interchange_control, e->group_control);
	if (rc || (rc = message_correlation(st, e->message_id, corr, err)))
		return tx_abort(st, rc);
	json_t *base = json_pack("{s:I, s:s, s:s, s:s, s:s, s:I}", "expectation",
	                         (json_int_t)e->id, "partner", e->partner, "ack_type",
	                         e->ack_type, "interchange", e->interchange_control,
	                         "group", e->group_control, "deadline_us",
	                         (json_int_t)e->deadline_us);
	rc = event_append_tx(st, e->message_id, corr, "ack.expected", NULL, base, NULL, err);
	if (rc)
		return tx_abort(st, rc);
	return tx_commit(st, err);
}

int
store_ack_get(struct store *st, int64_t id, struct store_ack_expectation *out,
              struct store_error *err)
{
	struct store_param p[] = { P_INT(id) };
	int rc = db_one(st, "SELECT " ACK_COLS " FROM ack_expectations WHERE id = $1", p, 1,
	                ack_from_row, out, err);
	if (rc == STORE_ENOTFOUND)
		store_fail(err, rc, "acknowledgment expectation %" PRId64 " not found", id);
	return rc;
}

int
store_ack_find(struct store *st, const char *partner, const char *ack_type,
               const char *interchange_control, const char *group_control,
               struct store_ack_expectation *out, struct store_error *err)
{
	struct store_param p[] = { P_TEXT(partner ? partner : ""),
		                   P_TEXT(ack_type ? ack_type : ""),
		                   P_TEXT(interchange_control ? interchange_control : ""),
		                   P_TEXT(group_control ? group_control : "") };
	int rc = db_one(st,
	                "SELECT " ACK_COLS " FROM ack_expectations WHERE partner = $1"
	                " AND ack_type = $2 AND interchange_control = $3"
	                " AND group_control = $4",
	                p, 4, ack_from_row, out, err);
	if (rc == STORE_ENOTFOUND)
		store_fail(err, rc, "no %s expected from %s for interchange %s group %s",
		           ack_type, partner, interchange_control, group_control);
	return rc;
}

int
store_ack_find_group(struct store *st, const char *partner, const char *ack_type,
                     const char *group_control, struct store_ack_expectation *out,
                     struct store_error *err)
{
	struct store_param p[] = { P_TEXT(partner ? partner : ""),
		                   P_TEXT(ack_type ? ack_type : ""),
		                   P_TEXT(group_control ? group_control : "") };
	int rc = db_one(st,
	                "SELECT " ACK_COLS " FROM ack_expectations WHERE partner = $1"
	                " AND ack_type = $2 AND group_control = $3"
	                " ORDER BY CASE WHEN state IN ('pending', 'overdue') THEN 0"
	                " ELSE 1 END, id DESC LIMIT 1",
	                p, 3, ack_from_row, out, err);
	if (rc == STORE_ENOTFOUND)
		store_fail(err, rc, "no %s expected from %s for group %s", ack_type,
		           partner, group_control);
	return rc;
}

int
store_ack_resolve(struct store *st, int64_t expectation_id,
                  enum store_ack_state state, const char *ack_code,
                  int64_t ack_message_id, int64_t acked_us,
                  const struct store_ack_set_result *sets, size_t nsets,
                  struct store_error *err)
{
	struct store_ack_expectation e;
	char sql[1024], corr[STORE_CORRELATION_MAX + 1];
	int rc;
	if (state == STORE_ACK_PENDING || state == STORE_ACK_OVERDUE ||
	    (unsigned)state > STORE_ACK_OVERDUE)
		return store_fail(err, STORE_EINVAL, "an ack resolves to accepted,"
		                  " accepted-with-errors, partially-accepted or rejected");
	if ((rc = check_text(err, "ack code", ack_code, sizeof e.ack_code - 1, 1)))
		return rc;
	if (acked_us == 0)
		acked_us = store_now_us(); /* 0 would read as "no ack yet" */
	for (size_t i = 0; i < nsets; i++)
		if ((rc = check_text(err, "set control number", sets[i].set_control,
		                     STORE_CONTROL_TEXT_MAX, 0)) ||
		    (rc = check_text(err, "set type", sets[i].set_type,
		                     sizeof sets[i].set_type - 1, 1)) ||
		    (rc = check_text(err, "set ack code", sets[i].code,
		                     sizeof sets[i].code - 1, 0)))
			return rc;
	if ((rc = tx_begin(st, err)))
		return rc;
	snprintf(sql, sizeof sql, "SELECT " ACK_COLS " FROM ack_expectations WHERE id = $1%s",
	         st->for_update);
	struct store_param p[] = { P_INT(expectation_id) };
	rc = db_one(st, sql, p, 1, ack_from_row, &e, err);
	if (rc == STORE_ENOTFOUND)
		store_fail(err, rc, "acknowledgment expectation %" PRId64 " not found",
		           expectation_id);
	if (rc)
		return tx_abort(st, rc);
	if (e.state != STORE_ACK_PENDING && e.state != STORE_ACK_OVERDUE)
		return tx_abort(st, store_fail(err, STORE_ECONFLICT,
		                               "acknowledgment expectation %" PRId64
		                               " is already %s",
		                               expectation_id, store_ack_state_name(e.state)));
	/* overdue_us is deliberately left alone: a late ack closes the
	 * expectation but the report must still show it was overdue. */
	struct store_param q[] = {
		P_INT(expectation_id), P_TEXT(store_ack_state_name(state)),
		P_TEXT(ack_code ? ack_code : ""),
		ack_message_id ? P_INT(ack_message_id) : P_NULL, P_INT(acked_us),
		P_INT(store_now_us()),
	};
	rc = db_exec(st,
	             "UPDATE ack_expectations SET state = $2, ack_code = $3,"
	             " ack_message_id = $4, acked_us = $5, updated_us = $6 WHERE id = $1",
	             q, 6, NULL, err);
	if (rc)
		return tx_abort(st, rc);
	json_t *jsets = json_array();
	for (size_t i = 0; i < nsets; i++) {
		char *detail;
		if ((rc = detail_text(sets[i].detail_json, NULL, &detail, err))) {
			json_decref(jsets);
			return tx_abort(st, rc);
		}
		struct store_param s[] = { P_INT(expectation_id), P_TEXT(sets[i].set_control),
			                   P_TEXT(sets[i].set_type), P_TEXT(sets[i].code),
			                   P_TEXT(detail) };
		rc = db_exec(st,
		             "INSERT INTO ack_set_results (expectation_id, set_control,"
		             " set_type, code, detail) VALUES ($1, $2, $3, $4, $5)",
		             s, 5, NULL, err);
		free(detail);
		if (rc == STORE_ECONFLICT)
			store_fail(err, rc, "set %s appears twice in the ack",
			           sets[i].set_control);
		if (rc) {
			json_decref(jsets);
			return tx_abort(st, rc);
		}
		json_array_append_new(jsets, json_pack("{s:s, s:s, s:s}", "set",
		                                       sets[i].set_control, "type",
		                                       sets[i].set_type, "code", sets[i].code));
	}
	if ((rc = message_correlation(st, e.message_id, corr, err))) {
		json_decref(jsets);
		return tx_abort(st, rc);
	}
	json_t *base = json_pack("{s:I, s:s, s:s, s:b, s:b, s:o}", "expectation",
	                         (json_int_t)expectation_id, "state",
	                         store_ack_state_name(state), "ack_code",
	                         ack_code ? ack_code : "", "late", acked_us > e.deadline_us,
	                         "was_overdue", e.overdue_us != 0, "sets", jsets);
	if (ack_message_id)
		json_object_set_new(base, "ack_message", json_integer(ack_message_id));
	rc = event_append_tx(st, e.message_id, corr, "ack.resolved", NULL, base, NULL, err);
	if (rc)
		return tx_abort(st, rc);
	return tx_commit(st, err);
}

struct overdue_row {
	int64_t id, message_id, deadline_us;
};

int
store_ack_mark_overdue(struct store *st, int64_t now_us, unsigned *count,
                       struct store_error *err)
{
	struct store_cursor *c;
	struct overdue_row *rows = NULL;
	size_t n = 0, cap = 0;
	int rc, r;
	if (count)
		*count = 0;
	if ((rc = tx_begin(st, err)))
		return rc;
	struct store_param p[] = { P_INT(now_us) };
	rc = st->ops->query(st,
	                    "UPDATE ack_expectations SET state = 'overdue', overdue_us = $1,"
	                    " updated_us = $1 WHERE state = 'pending' AND deadline_us < $1"
	                    " RETURNING id, message_id, deadline_us",
	                    p, 1, &c, err);
	if (rc)
		return tx_abort(st, rc);
	/* Rows are gathered first because the events need the connection. */
	while ((r = st->ops->next(c, err)) > 0) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct overdue_row *nr = realloc(rows, ncap * sizeof *rows);
			if (!nr) {
				r = -store_fail(err, STORE_ENOMEM, "out of memory");
				break;
			}
			rows = nr;
			cap = ncap;
		}
		rows[n].id = st->ops->int64(c, 0);
		rows[n].message_id = st->ops->is_null(c, 1) ? 0 : st->ops->int64(c, 1);
		rows[n].deadline_us = st->ops->int64(c, 2);
		n++;
	}
	st->ops->close(c);
	if (r < 0) {
		free(rows);
		return tx_abort(st, -r);
	}
	for (size_t i = 0; i < n; i++) {
		char corr[STORE_CORRELATION_MAX + 1];
		if ((rc = message_correlation(st, rows[i].message_id, corr, err)))
			break;
		json_t *base = json_pack("{s:I, s:I}", "expectation", (json_int_t)rows[i].id,
		                         "deadline_us", (json_int_t)rows[i].deadline_us);
		if ((rc = event_append_tx(st, rows[i].message_id, corr, "ack.overdue", NULL,
		                          base, NULL, err)))
			break;
	}
	free(rows);
	if (rc)
		return tx_abort(st, rc);
	if ((rc = tx_commit(st, err)))
		return rc;
	if (count)
		*count = (unsigned)n;
	return STORE_OK;
}

int
store_ack_unmatched(struct store *st, int64_t ack_message_id, const char *partner,
                    const char *ack_type, const char *interchange_control,
                    const char *group_control, int64_t received_us,
                    const char *detail_json, int64_t *id_out,
                    struct store_error *err)
{
	char corr[STORE_CORRELATION_MAX + 1];
	char *detail;
	int64_t id;
	int rc;
	if ((rc = check_text(err, "partner", partner, STORE_PARTNER_MAX, 0)) ||
	    (rc = check_text(err, "ack type", ack_type, 7, 0)) ||
	    (rc = check_text(err, "interchange control number", interchange_control,
	                     STORE_CONTROL_TEXT_MAX, 1)) ||
	    (rc = check_text(err, "group control number", group_control,
	                     STORE_CONTROL_TEXT_MAX, 1)))
		return rc;
	if ((rc = detail_text(detail_json, NULL, &detail, err)))
		return rc;
	if ((rc = tx_begin(st, err))) {
		free(detail);
		return rc;
	}
	struct store_param p[] = {
		ack_message_id ? P_INT(ack_message_id) : P_NULL, P_TEXT(partner),
		P_TEXT(ack_type), P_TEXT(interchange_control ? interchange_control : ""),
		P_TEXT(group_control ? group_control : ""), P_INT(received_us),
		P_TEXT(detail),
	};
	rc = db_one(st,
	            "INSERT INTO ack_unmatched (ack_message_id, partner, ack_type,"
	            " interchange_control, group_control, received_us, detail)"
	            " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
	            p, 7, row_int0, &id, err);
	if (rc || (rc = message_correlation(st, ack_message_id, corr, err))) {
		free(detail);
		return tx_abort(st, rc);
	}
	json_t *base = json_pack("{s:I, s:s, s:s, s:s, s:s}", "unmatched", (json_int_t)id,
	                         "partner", partner, "ack_type", ack_type, "interchange",
	                         interchange_control ? interchange_control : "", "group",
	                         group_control ? group_control : "");
	rc = event_append_tx(st, ack_message_id, corr, "ack.unmatched", detail, base, NULL,
	                     err);
	free(detail);
	if (rc)
		return tx_abort(st, rc);
	if ((rc = tx_commit(st, err)))
		return rc;
	if (id_out)
		*id_out = id;
	return STORE_OK;
}

int
store_ack_foreach(struct store *st, const struct store_ack_filter *f,
                  store_ack_cb cb, void *ud, struct store_error *err)
{
	struct store_ack_filter none = { 0 };
	struct store_cursor *c;
	if (!f)
		f = &none;
	struct store_param p[] = { P_TEXT(f->partner ? f->partner : ""),
		                   P_INT(f->since_us),
		                   P_INT(f->until_us ? f->until_us : INT64_MAX) };
	int rc = st->ops->query(st,
	                        "SELECT " ACK_COLS " FROM ack_expectations"
	                        " WHERE (partner = $1 OR $1 = '') AND created_us >= $2"
	                        " AND created_us < $3 ORDER BY id",
	                        p, 3, &c, err);
	if (rc)
		return rc;
	int r;
	while ((r = st->ops->next(c, err)) > 0) {
		struct store_ack_expectation e;
		ack_from_row(st, c, &e);
		int stop = cb(ud, &e);
		if (stop) {
			st->ops->close(c);
			return stop;
		}
	}
	st->ops->close(c);
	return r < 0 ? -r : STORE_OK;
}

int
store_ack_sets_foreach(struct store *st, int64_t expectation_id,
                       store_ack_set_cb cb, void *ud, struct store_error *err)
{
	struct store_cursor *c;
	struct store_param p[] = { P_INT(expectation_id) };
	int rc = st->ops->query(st,
	                        "SELECT set_control, set_type, code, detail FROM ack_set_results"
	                        " WHERE expectation_id = $1 ORDER BY set_control",
	                        p, 1, &c, err);
	if (rc)
		return rc;
	int r;
	while ((r = st->ops->next(c, err)) > 0) {
		struct store_ack_set_result s;
		COPY(s.set_control, st->ops->text(c, 0));
		COPY(s.set_type, st->ops->text(c, 1));
		COPY(s.code, st->ops->text(c, 2));
		s.detail_json = st->ops->text(c, 3);
		int stop = cb(ud, &s);
		if (stop) {
			st->ops->close(c);
			return stop;
		}
	}
	st->ops->close(c);
	return r < 0 ? -r : STORE_OK;
}

int
store_ack_unmatched_foreach(struct store *st, const struct store_ack_filter *f,
                            store_ack_unmatched_cb cb, void *ud,
                            struct store_error *err)
{
	struct store_ack_filter none = { 0 };
	struct store_cursor *c;
	if (!f)
		f = &none;
	struct store_param p[] = { P_TEXT(f->partner ? f->partner : ""),
		                   P_INT(f->since_us),
		                   P_INT(f->until_us ? f->until_us : INT64_MAX) };
	int rc = st->ops->query(st,
	                        "SELECT id, ack_message_id, partner, ack_type,"
	                        " interchange_control, group_control, received_us, detail"
	                        " FROM ack_unmatched WHERE (partner = $1 OR $1 = '')"
	                        " AND received_us >= $2 AND received_us < $3 ORDER BY id",
	                        p, 3, &c, err);
	if (rc)
		return rc;
	int r;
	while ((r = st->ops->next(c, err)) > 0) {
		struct store_ack_unmatched_row u;
		u.id = st->ops->int64(c, 0);
		u.ack_message_id = st->ops->is_null(c, 1) ? 0 : st->ops->int64(c, 1);
		COPY(u.partner, st->ops->text(c, 2));
		COPY(u.ack_type, st->ops->text(c, 3));
		COPY(u.interchange_control, st->ops->text(c, 4));
		COPY(u.group_control, st->ops->text(c, 5));
		u.received_us = st->ops->int64(c, 6);
		u.detail_json = st->ops->text(c, 7);
		int stop = cb(ud, &u);
		if (stop) {
			st->ops->close(c);
			return stop;
		}
	}
	st->ops->close(c);
	return r < 0 ? -r : STORE_OK;
}

/* ---- idempotency keys ---------------------------------------------------- */

struct idem_row {
	char request_hash[SPOOL_HASH_HEX + 1];
	int has_response;
	int status;
	char *body;
};

static void
row_idem(struct store *st, struct store_cursor *c, void *out)
{
	struct idem_row *r = out;
	COPY(r->request_hash, st->ops->text(c, 0));
	r->has_response = !st->ops->is_null(c, 1);
	r->status = (int)st->ops->int64(c, 1);
	r->body = r->has_response ? strdup(st->ops->text(c, 2)) : NULL;
}

int
store_idempotency_begin(struct store *st, const char *scope, const char *key,
                        const char *request_hash, enum store_idem_outcome *outcome,
                        int *status, char **body, struct store_error *err)
{
	int rc;
	int64_t inserted;
	*body = NULL;
	*status = 0;
	if ((rc = check_text(err, "idempotency scope", scope, STORE_PARTNER_MAX, 0)) ||
	    (rc = check_text(err, "idempotency key", key, STORE_IDEM_KEY_MAX, 0)))
		return rc;
	if (!spool_hash_valid(request_hash))
		return store_fail(err, STORE_EINVAL, "request hash is not a SHA-256 hex digest");
	if ((rc = tx_begin(st, err)))
		return rc;
	struct store_param p[] = { P_TEXT(scope), P_TEXT(key), P_TEXT(request_hash),
		                   P_INT(store_now_us()) };
	rc = db_exec(st,
	             "INSERT INTO idempotency_keys (scope, key, request_hash, created_us)"
	             " VALUES ($1, $2, $3, $4) ON CONFLICT (scope, key) DO NOTHING"
	             " RETURNING 1",
	             p, 4, &inserted, err);
	if (rc)
		return tx_abort(st, rc);
	if (inserted) {
		if ((rc = tx_commit(st, err)))
			return rc;
		*outcome = STORE_IDEM_NEW;
		return STORE_OK;
	}
	struct idem_row row = { 0 };
	rc = db_one(st,
	            "SELECT request_hash, response_status, response_body"
	            " FROM idempotency_keys WHERE scope = $1 AND key = $2",
	            p, 2, row_idem, &row, err);
	tx_abort(st, 0);
	if (rc)
		return rc;
	if (strcmp(row.request_hash, request_hash) != 0) {
		free(row.body);
		*outcome = STORE_IDEM_CONFLICT;
	} else if (!row.has_response) {
		*outcome = STORE_IDEM_IN_PROGRESS;
	} else {
		*outcome = STORE_IDEM_REPLAY;
		*status = row.status;
		*body = row.body;
	}
	return STORE_OK;
}

int
store_idempotency_finish(struct store *st, const char *scope, const char *key,
                         int status, const char *body, struct store_error *err)
{
	int rc;
	int64_t changed;
	if ((rc = tx_begin(st, err)))
		return rc;
	struct store_param p[] = { P_TEXT(scope ? scope : ""), P_TEXT(key ? key : ""),
		                   P_INT(status), P_TEXT(body ? body : ""),
		                   P_INT(store_now_us()) };
	rc = db_exec(st,
	             "UPDATE idempotency_keys SET response_status = $3,"
	             " response_body = $4, completed_us = $5"
	             " WHERE scope = $1 AND key = $2 AND response_status IS NULL"
	             " RETURNING 1",
	             p, 5, &changed, err);
	if (rc)
		return tx_abort(st, rc);
	if (changed == 0)
		return tx_abort(st, store_fail(err, STORE_ECONFLICT,
		                               "idempotency key %s is unknown or already answered",
		                               key));
	return tx_commit(st, err);
}

/* ---- duplicate detection -------------------------------------------------- */

struct dup_row {
	int64_t seen_us, message_id;
};

static void
row_dup(struct store *st, struct store_cursor *c, void *out)
{
	struct dup_row *d = out;
	d->seen_us = st->ops->int64(c, 0);
	d->message_id = st->ops->is_null(c, 1) ? 0 : st->ops->int64(c, 1);
}

int
store_duplicate_check(struct store *st, const char *sender, const char *kind,
                      const char *control, int64_t now_us, int64_t window_us,
                      int64_t message_id, int *duplicate,
                      int64_t *first_message_id, int64_t *first_seen_us,
                      struct store_error *err)
{
	int rc;
	int64_t fresh;
	*duplicate = 0;
	if ((rc = check_text(err, "sender", sender, STORE_PARTNER_MAX, 0)) ||
	    (rc = check_name(err, "duplicate kind", kind, STORE_NAME_MAX)) ||
	    (rc = check_text(err, "control number", control, STORE_IDEM_KEY_MAX, 0)))
		return rc;
	int64_t window_start = window_us > 0 ? now_us - window_us : INT64_MIN;
	if ((rc = tx_begin(st, err)))
		return rc;
	/* Insert, or take over a sighting that fell out of the window; a row
	 * comes back only then. No row back means a duplicate. */
	struct store_param p[] = { P_TEXT(sender), P_TEXT(kind), P_TEXT(control),
		                   P_INT(now_us), message_id ? P_INT(message_id) : P_NULL,
		                   P_INT(window_start) };
	rc = db_exec(st,
	             "INSERT INTO duplicate_keys (sender, kind, control, seen_us, message_id)"
	             " VALUES ($1, $2, $3, $4, $5)"
	             " ON CONFLICT (sender, kind, control) DO UPDATE"
	             " SET seen_us = excluded.seen_us, message_id = excluded.message_id"
	             " WHERE duplicate_keys.seen_us < $6 RETURNING seen_us",
	             p, 6, &fresh, err);
	if (rc)
		return tx_abort(st, rc);
	if (!fresh) {
		struct dup_row d;
		rc = db_one(st,
		            "SELECT seen_us, message_id FROM duplicate_keys"
		            " WHERE sender = $1 AND kind = $2 AND control = $3",
		            p, 3, row_dup, &d, err);
		if (rc)
			return tx_abort(st, rc);
		*duplicate = 1;
		if (first_message_id)
			*first_message_id = d.message_id;
		if (first_seen_us)
			*first_seen_us = d.seen_us;
	}
	return tx_commit(st, err);
}

/* ---- delivery queue --------------------------------------------------------- */

static const char *const delivery_state_names[] = {
	[STORE_DELIVERY_QUEUED] = "queued",
	[STORE_DELIVERY_CLAIMED] = "claimed",
	[STORE_DELIVERY_DELIVERED] = "delivered",
	[STORE_DELIVERY_DEAD] = "dead",
};

const char *
store_delivery_state_name(enum store_delivery_state s)
{
	if ((unsigned)s >= sizeof delivery_state_names / sizeof delivery_state_names[0])
		return "unknown";
	return delivery_state_names[s];
}

#define DELIVERY_COLS                                                          \
	"id, message_id, endpoint, idempotency_key, state, attempts,"            \
	" next_attempt_us, claimed_by, lease_until_us, last_error, created_us,"  \
	" updated_us"

static void
delivery_from_row(struct store *st, struct store_cursor *c, void *out)
{
	struct store_delivery *d = out;
	d->id = st->ops->int64(c, 0);
	d->message_id = st->ops->is_null(c, 1) ? 0 : st->ops->int64(c, 1);
	COPY(d->endpoint, st->ops->text(c, 2));
	COPY(d->idempotency_key, st->ops->text(c, 3));
	const char *s = st->ops->text(c, 4);
	d->state = STORE_DELIVERY_QUEUED;
	for (unsigned i = 0; i < 4; i++)
		if (strcmp(s, delivery_state_names[i]) == 0)
			d->state = (enum store_delivery_state)i;
	d->attempts = (int)st->ops->int64(c, 5);
	d->next_attempt_us = st->ops->int64(c, 6);
	COPY(d->claimed_by, st->ops->text(c, 7));
	d->lease_until_us = st->ops->int64(c, 8);
	COPY(d->last_error, st->ops->text(c, 9));
	d->created_us = st->ops->int64(c, 10);
	d->updated_us = st->ops->int64(c, 11);
}

static int
delivery_event(struct store *st, const struct store_delivery *d, const char *kind,
               json_t *extra, struct store_error *err)
{
	char corr[STORE_CORRELATION_MAX + 1];
	int rc = message_correlation(st, d->message_id, corr, err);
	if (rc) {
		json_decref(extra);
		return rc;
	}
	json_t *base = json_pack("{s:I, s:s, s:s, s:i}", "delivery", (json_int_t)d->id,
	                         "endpoint", d->endpoint, "idempotency_key",
	                         d->idempotency_key, "attempts", d->attempts);
	if (extra) {
		json_object_update(base, extra);
		json_decref(extra);
	}
	return event_append_tx(st, d->message_id, corr, kind, NULL, base, NULL, err);
}

int
store_delivery_enqueue(struct store *st, int64_t message_id, const char *endpoint,
                       const char *idempotency_key, int64_t not_before_us,
                       int64_t *id_out, int *existed, struct store_error *err)
{
	return store_delivery_enqueue_ordered(st, message_id, endpoint,
	                                      idempotency_key, NULL, not_before_us,
	                                      id_out, existed, err);
}

int
store_delivery_enqueue_ordered(struct store *st, int64_t message_id,
                               const char *endpoint, const char *idempotency_key,
                               const char *order_key, int64_t not_before_us,
                               int64_t *id_out, int *existed,
                               struct store_error *err)
{
	int rc;
	struct store_delivery d;
	if (existed)
		*existed = 0;
	if (order_key == NULL)
		order_key = "";
	if ((rc = check_text(err, "endpoint", endpoint, STORE_ENDPOINT_MAX, 0)) ||
	    (rc = check_text(err, "idempotency key", idempotency_key,
	                     STORE_IDEM_KEY_MAX, 0)) ||
	    (rc = check_text(err, "order key", order_key, STORE_ORDER_KEY_MAX, 1)))
		return rc;
	if ((rc = tx_begin(st, err)))
		return rc;
	int64_t now = store_now_us();
	struct store_param p[] = { message_id ? P_INT(message_id) : P_NULL,
		                   P_TEXT(endpoint), P_TEXT(idempotency_key),
		                   P_INT(not_before_us), P_INT(now), P_TEXT(order_key) };
	rc = db_one(st,
	            "INSERT INTO deliveries (message_id, endpoint, idempotency_key, state,"
	            " next_attempt_us, created_us, updated_us, order_key)"
	            " VALUES ($1, $2, $3, 'queued', $4, $5, $5, $6)"
	            " ON CONFLICT (idempotency_key) DO NOTHING RETURNING " DELIVERY_COLS,
	            p, 6, delivery_from_row, &d, err);
	if (rc == STORE_ENOTFOUND) {
		struct store_param q[] = { P_TEXT(idempotency_key) };
		rc = db_one(st, "SELECT id FROM deliveries WHERE idempotency_key = $1", q, 1,
		            row_int0, &d.id, err);
		tx_abort(st, 0);
		if (rc)
			return rc;
		if (existed)
			*existed = 1;
		if (id_out)
			*id_out = d.id;
		return STORE_OK;
	}
	if (rc || (rc = delivery_event(st, &d, "delivery.queued",
	                               json_pack("{s:I}", "due_us", (json_int_t)not_before_us),
	                               err)))
		return tx_abort(st, rc);
	if ((rc = tx_commit(st, err)))
		return rc;
	if (id_out)
		*id_out = d.id;
	return STORE_OK;
}

static int
delivery_claim(struct store *st, const char *worker, const char *prefix,
               int64_t now_us, int64_t lease_us, struct store_delivery *out,
               struct store_error *err)
{
	char sql[1024];
	int rc;
	if ((rc = check_text(err, "worker", worker, STORE_PARTNER_MAX, 0)) ||
	    (prefix && (rc = check_text(err, "endpoint prefix", prefix,
	                                STORE_ENDPOINT_MAX, 0))))
		return rc;
	/* A claimed row whose lease ran out belongs to a worker that died:
	 * it is due again, so a crashed node's work is picked up elsewhere. */
	snprintf(sql, sizeof sql,
	         "UPDATE deliveries SET state = 'claimed', claimed_by = $1,"
	         " lease_until_us = $3, attempts = attempts + 1, updated_us = $2"
	         " WHERE id = (SELECT id FROM deliveries d"
	         " WHERE ((state = 'queued' AND next_attempt_us <= $2)"
	         " OR (state = 'claimed' AND lease_until_us < $2))%s"
	         /* In order per business key: an earlier delivery with
	          * the same key that is not yet delivered or dead holds
	          * this one back (0003_delivery_order.sql). */
	         " AND (d.order_key = '' OR NOT EXISTS (SELECT 1 FROM"
	         " deliveries e WHERE e.order_key = d.order_key AND e.id < d.id"
	         " AND e.state IN ('queued', 'claimed')))"
	         " ORDER BY next_attempt_us, id LIMIT 1%s)"
	         " RETURNING " DELIVERY_COLS,
	         prefix ? " AND substr(endpoint, 1, length(CAST($4 AS TEXT)))"
	                  " = CAST($4 AS TEXT)" : "",
	         st->backend == STORE_BACKEND_POSTGRESQL ? " FOR UPDATE SKIP LOCKED" : "");
	if ((rc = tx_begin(st, err)))
		return rc;
	struct store_param p[] = { P_TEXT(worker), P_INT(now_us), P_INT(now_us + lease_us),
		                   P_TEXT(prefix ? prefix : "") };
	rc = db_one(st, sql, p, prefix ? 4 : 3, delivery_from_row, out, err);
	if (rc == STORE_ENOTFOUND) {
		tx_abort(st, 0);
		return store_fail(err, rc, "no delivery is due");
	}
	if (rc || (rc = delivery_event(st, out, "delivery.claimed",
	                               json_pack("{s:s}", "worker", worker), err)))
		return tx_abort(st, rc);
	return tx_commit(st, err);
}

int
store_delivery_claim(struct store *st, const char *worker, int64_t now_us,
                     int64_t lease_us, struct store_delivery *out,
                     struct store_error *err)
{
	return delivery_claim(st, worker, NULL, now_us, lease_us, out, err);
}

int
store_delivery_claim_prefix(struct store *st, const char *worker,
                            const char *endpoint_prefix, int64_t now_us,
                            int64_t lease_us, struct store_delivery *out,
                            struct store_error *err)
{
	return delivery_claim(st, worker, endpoint_prefix, now_us, lease_us, out,
	                      err);
}

/* Locks a delivery and checks worker still holds its claim. */
static int
delivery_held(struct store *st, int64_t id, const char *worker,
              struct store_delivery *d, struct store_error *err)
{
	char sql[1024];
	snprintf(sql, sizeof sql, "SELECT " DELIVERY_COLS " FROM deliveries WHERE id = $1%s",
	         st->for_update);
	struct store_param p[] = { P_INT(id) };
	int rc = db_one(st, sql, p, 1, delivery_from_row, d, err);
	if (rc == STORE_ENOTFOUND)
		return store_fail(err, rc, "delivery %" PRId64 " not found", id);
	if (rc)
		return rc;
	if (d->state != STORE_DELIVERY_CLAIMED || strcmp(d->claimed_by, worker ? worker : ""))
		return store_fail(err, STORE_ECONFLICT,
		                  "delivery %" PRId64 " is not claimed by %s (it is %s%s%s)", id,
		                  worker ? worker : "", store_delivery_state_name(d->state),
		                  d->claimed_by[0] ? " by " : "", d->claimed_by);
	return STORE_OK;
}

int
store_delivery_done(struct store *st, int64_t id, const char *worker,
                    struct store_error *err)
{
	struct store_delivery d;
	int rc = tx_begin(st, err);
	if (rc)
		return rc;
	if ((rc = delivery_held(st, id, worker, &d, err)))
		return tx_abort(st, rc);
	struct store_param p[] = { P_INT(id), P_INT(store_now_us()) };
	rc = db_exec(st,
	             "UPDATE deliveries SET state = 'delivered', lease_until_us = 0,"
	             " updated_us = $2 WHERE id = $1",
	             p, 2, NULL, err);
	if (rc || (rc = delivery_event(st, &d, "delivery.delivered", NULL, err)))
		return tx_abort(st, rc);
	return tx_commit(st, err);
}

int
store_delivery_fail(struct store *st, int64_t id, const char *worker,
                    const char *error, int64_t next_attempt_us, int max_attempts,
                    int *dead, struct store_error *err)
{
	struct store_delivery d;
	char why[256];
	int rc = tx_begin(st, err);
	if (rc)
		return rc;
	if ((rc = delivery_held(st, id, worker, &d, err)))
		return tx_abort(st, rc);
	int is_dead = d.attempts >= max_attempts;
	COPY(why, error ? error : "");
	struct store_param p[] = { P_INT(id), P_TEXT(is_dead ? "dead" : "queued"),
		                   P_INT(next_attempt_us), P_TEXT(why),
		                   P_INT(store_now_us()) };
	rc = db_exec(st,
	             "UPDATE deliveries SET state = $2, next_attempt_us = $3,"
	             " last_error = $4, claimed_by = '', lease_until_us = 0,"
	             " updated_us = $5 WHERE id = $1",
	             p, 5, NULL, err);
	if (rc || (rc = delivery_event(st, &d, is_dead ? "delivery.dead" : "delivery.retry",
	                               json_pack("{s:s, s:I}", "error", why, "next_attempt_us",
	                                         (json_int_t)next_attempt_us),
	                               err)))
		return tx_abort(st, rc);
	if ((rc = tx_commit(st, err)))
		return rc;
	if (dead)
		*dead = is_dead;
	return STORE_OK;
}

int
store_delivery_replay(struct store *st, int64_t id, int64_t now_us,
                      struct store_error *err)
{
	struct store_delivery d;
	int rc = tx_begin(st, err);
	if (rc)
		return rc;
	struct store_param p[] = { P_INT(id), P_INT(now_us), P_INT(store_now_us()) };
	rc = db_one(st,
	            "UPDATE deliveries SET state = 'queued', attempts = 0,"
	            " next_attempt_us = $2, claimed_by = '', lease_until_us = 0,"
	            " updated_us = $3 WHERE id = $1 AND state IN ('dead', 'delivered')"
	            " RETURNING " DELIVERY_COLS,
	            p, 3, delivery_from_row, &d, err);
	if (rc == STORE_ENOTFOUND)
		store_fail(err, STORE_ECONFLICT,
		           "delivery %" PRId64 " does not exist or is still queued or claimed", id);
	if (rc == STORE_ENOTFOUND)
		rc = STORE_ECONFLICT;
	if (rc || (rc = delivery_event(st, &d, "delivery.replayed", NULL, err)))
		return tx_abort(st, rc);
	return tx_commit(st, err);
}

int
store_delivery_get(struct store *st, int64_t id, struct store_delivery *out,
                   struct store_error *err)
{
	struct store_param p[] = { P_INT(id) };
	int rc = db_one(st, "SELECT " DELIVERY_COLS " FROM deliveries WHERE id = $1", p, 1,
	                delivery_from_row, out, err);
	if (rc == STORE_ENOTFOUND)
		store_fail(err, rc, "delivery %" PRId64 " not found", id);
	return rc;
}

/* ---- group commit (store.h) ------------------------------------------- */

int
store_set_deferred_durability(struct store *st, int on, struct store_error *err)
{
	if (st->backend != STORE_BACKEND_SQLITE)
		return STORE_OK;
	return store_sqlite_set_synchronous(st, !on, err);
}

int
store_sync(struct store *st, struct store_error *err)
{
	struct spool_error serr;
	struct stat sb;
	int same_fs = 0;

	if (st->backend == STORE_BACKEND_SQLITE) {
		dev_t dev = 0;
		int rc = store_sqlite_sync(st, &dev, err);
		if (rc)
			return rc;
		/* One syncfs when the spool shares the database's file
		 * system (the default: <state_dir>/spool). */
		same_fs = dev != 0 && st->spool &&
		          stat(spool_dir(st->spool), &sb) == 0 && sb.st_dev == dev;
	}
	if (st->spool && !same_fs && spool_sync(st->spool, &serr) != SPOOL_OK)
		return store_fail(err, STORE_EIO, "spool: %s", serr.message);
	return STORE_OK;
}
