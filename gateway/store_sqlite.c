/*
 * store_sqlite - the embedded SQLite backend of the store.
 *
 * One database file in the state directory, journal_mode=WAL so readers do
 * not block the writer, synchronous=FULL so a commit is on disk when it
 * returns (a crash or power cut never loses what was reported stored);
 * a connection switched to deferred durability (store.h, group commit)
 * runs synchronous=NORMAL and relies on store_sync() before it reports.
 * Write transactions are BEGIN IMMEDIATE: the write lock is taken up front
 * and other processes wait (busy timeout) instead of failing on upgrade.
 */
#define _GNU_SOURCE /* asprintf, mkostemp, timegm */
#include "config.h"

#include "store_db.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

struct store_cursor {
	struct store *st;
	sqlite3_stmt *stmt;
	int done;
};

static sqlite3 *
db_of(struct store *st)
{
	return st->db;
}

static int
sq_fail(struct store *st, struct store_error *err, const char *what)
{
	return store_fail(err, STORE_EBACKEND, "sqlite: %s: %s", what,
	                  sqlite3_errmsg(db_of(st)));
}

static int
sq_exec_script(struct store *st, const char *sql, struct store_error *err)
{
	char *msg = NULL;
	if (sqlite3_exec(db_of(st), sql, NULL, NULL, &msg) != SQLITE_OK) {
		store_fail(err, STORE_EBACKEND, "sqlite: %s", msg ? msg : "error");
		sqlite3_free(msg);
		return STORE_EBACKEND;
	}
	return STORE_OK;
}

static int
sq_begin(struct store *st, struct store_error *err)
{
	if (sqlite3_exec(db_of(st), "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return sq_fail(st, err, "begin");
	return STORE_OK;
}

static int
sq_commit(struct store *st, struct store_error *err)
{
	if (sqlite3_exec(db_of(st), "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		int rc = sq_fail(st, err, "commit");
		sqlite3_exec(db_of(st), "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	return STORE_OK;
}

static void
sq_rollback(struct store *st)
{
	sqlite3_exec(db_of(st), "ROLLBACK", NULL, NULL, NULL);
}

static int
sq_query(struct store *st, const char *sql, const struct store_param *p, int n,
         struct store_cursor **out, struct store_error *err)
{
	sqlite3_stmt *stmt;
	*out = NULL;
	if (sqlite3_prepare_v2(db_of(st), sql, -1, &stmt, NULL) != SQLITE_OK)
		return sq_fail(st, err, "prepare");
	for (int i = 0; i < n; i++) {
		char name[16];
		snprintf(name, sizeof name, "$%d", i + 1);
		int idx = sqlite3_bind_parameter_index(stmt, name);
		if (idx == 0)
			continue; /* parameter not used by this dialect's text */
		int rc;
		switch (p[i].type) {
		case STORE_P_TEXT:
			rc = sqlite3_bind_text(stmt, idx, p[i].text, -1, SQLITE_TRANSIENT);
			break;
		case STORE_P_INT:
			rc = sqlite3_bind_int64(stmt, idx, p[i].num);
			break;
		default:
			rc = sqlite3_bind_null(stmt, idx);
			break;
		}
		if (rc != SQLITE_OK) {
			sqlite3_finalize(stmt);
			return sq_fail(st, err, "bind");
		}
	}
	struct store_cursor *c = calloc(1, sizeof *c);
	if (!c) {
		sqlite3_finalize(stmt);
		return store_fail(err, STORE_ENOMEM, "out of memory");
	}
	c->st = st;
	c->stmt = stmt;
	*out = c;
	return STORE_OK;
}

static int
sq_next(struct store_cursor *c, struct store_error *err)
{
	if (c->done)
		return 0;
	int rc = sqlite3_step(c->stmt);
	if (rc == SQLITE_ROW)
		return 1;
	c->done = 1;
	if (rc == SQLITE_DONE)
		return 0;
	if (rc == SQLITE_CONSTRAINT)
		return -store_fail(err, STORE_ECONFLICT, "sqlite: %s",
		                   sqlite3_errmsg(db_of(c->st)));
	return -sq_fail(c->st, err, "step");
}

static const char *
sq_text(struct store_cursor *c, int col)
{
	const unsigned char *t = sqlite3_column_text(c->stmt, col);
	return t ? (const char *)t : "";
}

static int64_t
sq_int64(struct store_cursor *c, int col)
{
	return sqlite3_column_int64(c->stmt, col);
}

static int
sq_is_null(struct store_cursor *c, int col)
{
	return sqlite3_column_type(c->stmt, col) == SQLITE_NULL;
}

static void
sq_close(struct store_cursor *c)
{
	if (!c)
		return;
	sqlite3_finalize(c->stmt);
	free(c);
}

static int
sq_lock_migrations(struct store *st, int lock, struct store_error *err)
{
	return STORE_OK;
}

static void
sq_disconnect(struct store *st)
{
	sqlite3_close_v2(db_of(st));
	st->db = NULL;
}

static const struct store_db_ops sqlite_ops = {
	.name = "sqlite",
	.exec_script = sq_exec_script,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.query = sq_query,
	.next = sq_next,
	.text = sq_text,
	.int64 = sq_int64,
	.is_null = sq_is_null,
	.close = sq_close,
	.lock_migrations = sq_lock_migrations,
	.disconnect = sq_disconnect,
};

static int
make_parent_dirs(const char *path, struct store_error *err)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);
	if (n >= sizeof tmp)
		return store_fail(err, STORE_EINVAL, "database path too long");
	memcpy(tmp, path, n + 1);
	char *slash = strrchr(tmp, '/');
	if (!slash || slash == tmp)
		return STORE_OK;
	*slash = '\0';
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0750) != 0 && errno != EEXIST)
			return store_fail(err, STORE_EIO, "mkdir %s: %s", tmp, strerror(errno));
		*p = '/';
	}
	if (mkdir(tmp, 0750) != 0 && errno != EEXIST)
		return store_fail(err, STORE_EIO, "mkdir %s: %s", tmp, strerror(errno));
	return STORE_OK;
}

/*
 * Switching a database to WAL needs an exclusive lock, and SQLite asks
 * for it while already holding the shared lock it read the header with.
 * Waiting there could deadlock two such connections, so SQLite does not
 * call the busy handler: when processes open a fresh store at once, all
 * but the first get "database is locked" at once, busy timeout or not.
 * So we wait ourselves, within the busy timeout. Once one of them has
 * switched (the mode is kept in the file), the others find WAL there.
 */
static int
sq_enter_wal(struct store *st, const char *path, struct store_error *err)
{
	long waited_ms = 0, pause_ms = 1;
	for (;;) {
		char *msg = NULL;
		int rc = sqlite3_exec(db_of(st), "PRAGMA journal_mode=WAL", NULL, NULL, &msg);
		if (rc == SQLITE_OK) {
			sqlite3_free(msg);
			break;
		}
		if ((rc & 0xff) != SQLITE_BUSY || waited_ms >= st->busy_timeout_ms) {
			store_fail(err, STORE_EBACKEND, "sqlite: %s: journal_mode=WAL: %s", path,
			           msg ? msg : sqlite3_errstr(rc));
			sqlite3_free(msg);
			return STORE_EBACKEND;
		}
		sqlite3_free(msg);
		sqlite3_sleep((int)pause_ms);
		waited_ms += pause_ms;
		if (pause_ms < 64)
			pause_ms *= 2;
	}
	return STORE_OK;
}

int
store_sqlite_connect(struct store *st, const char *path, struct store_error *err)
{
	sqlite3 *db = NULL;
	int rc = make_parent_dirs(path, err);
	if (rc)
		return rc;
	if (sqlite3_open_v2(path, &db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	                        SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK) {
		rc = store_fail(err, STORE_EBACKEND, "sqlite: open %s: %s", path,
		                db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close_v2(db);
		return rc;
	}
	st->db = db;
	st->ops = &sqlite_ops;
	st->for_update = "";
	sqlite3_busy_timeout(db, st->busy_timeout_ms);
	if ((rc = sq_enter_wal(st, path, err)))
		return rc;
	rc = sq_exec_script(st,
	                    "PRAGMA synchronous=FULL;"
	                    "PRAGMA foreign_keys=ON;",
	                    err);
	if (rc)
		return rc;
	sqlite3_stmt *stmt;
	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL) == SQLITE_OK) {
		int wal = sqlite3_step(stmt) == SQLITE_ROW &&
		          strcmp((const char *)sqlite3_column_text(stmt, 0), "wal") == 0;
		sqlite3_finalize(stmt);
		if (!wal)
			return store_fail(err, STORE_EBACKEND,
			                  "sqlite: %s cannot use WAL journaling", path);
	}
	return STORE_OK;
}

/* ---- group commit (store.h) ------------------------------------------- */

int
store_sqlite_set_synchronous(struct store *st, int full, struct store_error *err)
{
	/* In WAL mode NORMAL keeps every commit atomic and ordered; only the
	 * fsync of the WAL moves to the next checkpoint or store_sync(). */
	return sq_exec_script(st, full ? "PRAGMA synchronous=FULL;"
	                               : "PRAGMA synchronous=NORMAL;", err);
}

int
store_sqlite_sync(struct store *st, dev_t *dev_out, struct store_error *err)
{
	const char *path = sqlite3_db_filename(st->db, "main");
	struct stat sb;
	int fd;

	char dir[PATH_MAX];
	const char *slash;

	if (path == NULL || path[0] == '\0')
		return STORE_OK; /* in memory: nothing to make durable */
	/* Never open (and close) the database file itself: closing any
	 * descriptor of it drops this process's POSIX locks on it, which
	 * SQLite's other connections hold. Its directory is on the same
	 * file system. */
	slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if ((size_t)(slash - path) >= sizeof(dir))
		return store_fail(err, STORE_EINVAL, "database path too long");
	else
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 :
		         (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return store_fail(err, STORE_EIO, "open %s: %s", dir, strerror(errno));
	/* The file system of the database holds its WAL too: one syncfs
	 * covers every commit of every connection made before it. */
	if (syncfs(fd) != 0) {
		int e = errno;
		close(fd);
		return store_fail(err, STORE_EIO, "syncfs %s: %s", dir, strerror(e));
	}
	if (dev_out && fstat(fd, &sb) == 0)
		*dev_out = sb.st_dev;
	close(fd);
	return STORE_OK;
}
