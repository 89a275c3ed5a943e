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
 *
 * Within one process the connections to one database file first queue on
 * a writer gate of their own (wgate below) and only then ask SQLite for
 * its write lock: SQLite's busy handler polls with sleeps of 1 to 100 ms,
 * so worker threads contending for the lock slept far longer than the
 * transactions they waited for lasted. Other processes still meet the
 * busy timeout as before.
 *
 * A connection that promises durable commits (the default; store.h) does
 * not let SQLite fsync the WAL inside COMMIT, where the write lock is held
 * and every other writer queues behind the disk: it commits with
 * synchronous=NORMAL, lets the next writer in, and then waits for an
 * fdatasync of the WAL shared with every connection that committed
 * meanwhile (group_sync.h) before the commit returns. The WAL is append-
 * only until a checkpoint (which SQLite syncs itself), so that sync covers
 * this commit and all before it. A commit still returns only once it is on
 * disk.
 *
 * Statements are prepared once per connection and kept (stmt cache below):
 * the store runs the same few dozen SQL texts over and over, and parsing
 * them again for every call cost more than running them.
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
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "group_sync.h"

/* The writer gate of one database file, shared by this process's
 * connections to it. Not a mutex: a transaction may in principle end on
 * another thread than the one that began it, and a thread that begins a
 * second transaction while holding the gate must time out (as it would on
 * SQLite's lock), not deadlock or fail on ownership checks. */
struct wgate {
	dev_t dev;
	ino_t ino;
	int refs;
	int busy;
	pthread_cond_t freed;
	struct wgate *next;
	/* Durable commits: the WAL's fdatasync, shared (group_sync). */
	char *wal_path;
	int wal_fd;              /* only the round's leader touches it */
	struct group_sync *walsync;
};

static pthread_mutex_t wgate_lock = PTHREAD_MUTEX_INITIALIZER;
static struct wgate *wgates;

#define SQ_CACHE 64 /* statements kept per connection */

struct sq_slot {
	char *sql;
	sqlite3_stmt *stmt;
	int busy;   /* a cursor uses it now */
};

struct sq_conn {
	sqlite3 *db;
	struct wgate *gate;   /* NULL: in memory, or the file could not be stat'ed */
	int gate_held;
	int full;             /* commits durable on return (not deferred) */
	int committed;        /* a commit since the last WAL sync (commit hook) */
	struct sq_slot cache[SQ_CACHE];
	int ncache;
};

struct store_cursor {
	struct store *st;
	sqlite3_stmt *stmt;
	struct sq_slot *slot; /* NULL: not cached, finalized on close */
	int done;
};

static struct sq_conn *
conn_of(struct store *st)
{
	return st->db;
}

static sqlite3 *
db_of(struct store *st)
{
	return conn_of(st)->db;
}

static int
fsync_parent_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, rc;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if ((size_t)(slash - path) >= sizeof(dir))
		return -1;
	else
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* The group_sync function: fdatasync of the WAL. Never opens the database
 * file itself (closing a descriptor of it would drop SQLite's POSIX locks);
 * SQLite holds no locks on the WAL. The descriptor is kept, and replaced
 * when the WAL was recreated; a new one's directory entry is synced too. */
static int
wal_sync(void *ctx, char *err, size_t errsize)
{
	struct wgate *g = ctx;
	struct stat a, b;

	if (g->wal_fd >= 0 && (fstat(g->wal_fd, &a) != 0 || stat(g->wal_path, &b) != 0 ||
	                       a.st_ino != b.st_ino || a.st_dev != b.st_dev)) {
		close(g->wal_fd);
		g->wal_fd = -1;
	}
	if (g->wal_fd < 0) {
		int fd = open(g->wal_path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			snprintf(err, errsize, "open %s: %s", g->wal_path, strerror(errno));
			return -1;
		}
		if (fsync_parent_dir(g->wal_path) != 0) {
			snprintf(err, errsize, "fsync the directory of %s: %s", g->wal_path,
			         strerror(errno));
			close(fd);
			return -1;
		}
		g->wal_fd = fd;
	}
	if (fdatasync(g->wal_fd) != 0) {
		snprintf(err, errsize, "fdatasync %s: %s", g->wal_path, strerror(errno));
		return -1;
	}
	return 0;
}

static void
wgate_free(struct wgate *g)
{
	group_sync_free(g->walsync);
	if (g->wal_fd >= 0)
		close(g->wal_fd);
	free(g->wal_path);
	pthread_cond_destroy(&g->freed);
	free(g);
}

static struct wgate *
wgate_get(const char *path)
{
	struct stat sb;
	struct wgate *g;

	if (path == NULL || path[0] == '\0' || stat(path, &sb) != 0)
		return NULL;
	pthread_mutex_lock(&wgate_lock);
	for (g = wgates; g; g = g->next)
		if (g->dev == sb.st_dev && g->ino == sb.st_ino)
			break;
	if (g == NULL && (g = calloc(1, sizeof(*g))) != NULL) {
		g->dev = sb.st_dev;
		g->ino = sb.st_ino;
		g->wal_fd = -1;
		pthread_cond_init(&g->freed, NULL);
		if (asprintf(&g->wal_path, "%s-wal", path) < 0) {
			g->wal_path = NULL;
			wgate_free(g);
			g = NULL;
		} else if ((g->walsync = group_sync_new(wal_sync, g)) == NULL) {
			wgate_free(g);
			g = NULL;
		} else {
			g->next = wgates;
			wgates = g;
		}
	}
	if (g)
		g->refs++;
	pthread_mutex_unlock(&wgate_lock);
	return g;
}

static void
wgate_put(struct wgate *g)
{
	struct wgate **pp;

	if (g == NULL)
		return;
	pthread_mutex_lock(&wgate_lock);
	if (--g->refs == 0) {
		for (pp = &wgates; *pp; pp = &(*pp)->next)
			if (*pp == g) {
				*pp = g->next;
				break;
			}
		wgate_free(g);
	}
	pthread_mutex_unlock(&wgate_lock);
}

/* Waits at most timeout_ms for the gate. 0, or -1 on timeout. */
static int
wgate_enter(struct wgate *g, int timeout_ms)
{
	struct timespec until;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&wgate_lock);
	while (g->busy && rc == 0)
		if (pthread_cond_timedwait(&g->freed, &wgate_lock, &until) == ETIMEDOUT &&
		    g->busy)
			rc = -1;
	if (rc == 0)
		g->busy = 1;
	pthread_mutex_unlock(&wgate_lock);
	return rc;
}

static void
wgate_leave(struct wgate *g)
{
	pthread_mutex_lock(&wgate_lock);
	g->busy = 0;
	pthread_cond_signal(&g->freed);
	pthread_mutex_unlock(&wgate_lock);
}

static void
gate_release(struct sq_conn *c)
{
	if (c->gate_held) {
		c->gate_held = 0;
		wgate_leave(c->gate);
	}
}

static int
sq_fail(struct store *st, struct store_error *err, const char *what)
{
	return store_fail(err, STORE_EBACKEND, "sqlite: %s: %s", what,
	                  sqlite3_errmsg(db_of(st)));
}

static int
commit_hook(void *ctx)
{
	((struct sq_conn *)ctx)->committed = 1;
	return 0;
}

/* After any statement: a commit made on a durable connection returns only
 * once a WAL sync that started after it has finished. */
static int
sq_durable(struct store *st, struct store_error *err)
{
	struct sq_conn *c = conn_of(st);
	char msg[512];

	if (!c->committed || !sqlite3_get_autocommit(c->db))
		return STORE_OK;
	c->committed = 0;
	if (!c->full || c->gate == NULL)
		return STORE_OK;
	if (group_sync_wait(c->gate->walsync, msg, sizeof(msg)) != 0)
		return store_fail(err, STORE_EIO, "sqlite: commit not durable: %s", msg);
	return STORE_OK;
}

static int
sq_exec_script(struct store *st, const char *sql, struct store_error *err)
{
	char *msg = NULL;
	if (sqlite3_exec(db_of(st), sql, NULL, NULL, &msg) != SQLITE_OK) {
		store_fail(err, STORE_EBACKEND, "sqlite: %s", msg ? msg : "error");
		sqlite3_free(msg);
		sq_durable(st, NULL);
		return STORE_EBACKEND;
	}
	return sq_durable(st, err);
}

static int
sq_begin(struct store *st, struct store_error *err)
{
	struct sq_conn *c = conn_of(st);

	if (c->gate && !c->gate_held) {
		if (wgate_enter(c->gate, st->busy_timeout_ms) != 0)
			return store_fail(err, STORE_EBACKEND,
			                  "sqlite: begin: database is locked "
			                  "(another transaction of this process)");
		c->gate_held = 1;
	}
	if (sqlite3_exec(db_of(st), "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		int rc = sq_fail(st, err, "begin");
		if (sqlite3_get_autocommit(db_of(st)))
			gate_release(c);
		return rc;
	}
	return STORE_OK;
}

static int
sq_commit(struct store *st, struct store_error *err)
{
	struct sq_conn *c = conn_of(st);
	int rc = STORE_OK;

	if (sqlite3_exec(db_of(st), "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		rc = sq_fail(st, err, "commit");
		sqlite3_exec(db_of(st), "ROLLBACK", NULL, NULL, NULL);
	}
	if (sqlite3_get_autocommit(db_of(st)))
		gate_release(c);
	if (rc == STORE_OK)
		rc = sq_durable(st, err);
	return rc;
}

static void
sq_rollback(struct store *st)
{
	sqlite3_exec(db_of(st), "ROLLBACK", NULL, NULL, NULL);
	if (sqlite3_get_autocommit(db_of(st)))
		gate_release(conn_of(st));
}

/* A cached statement goes back to its slot, reset (which also ends the
 * read transaction it may hold); any other is finalized. */
static void
sq_release_stmt(sqlite3_stmt *stmt, struct sq_slot *slot)
{
	if (slot == NULL) {
		sqlite3_finalize(stmt);
		return;
	}
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	slot->busy = 0;
}

static int
sq_query(struct store *st, const char *sql, const struct store_param *p, int n,
         struct store_cursor **out, struct store_error *err)
{
	struct sq_conn *conn = conn_of(st);
	sqlite3_stmt *stmt = NULL;
	struct sq_slot *slot = NULL;
	int i;

	*out = NULL;
	for (i = 0; i < conn->ncache; i++)
		if (!conn->cache[i].busy && (conn->cache[i].sql == sql ||
		    strcmp(conn->cache[i].sql, sql) == 0)) {
			slot = &conn->cache[i];
			stmt = slot->stmt;
			break;
		}
	if (stmt == NULL) {
		if (sqlite3_prepare_v2(db_of(st), sql, -1, &stmt, NULL) != SQLITE_OK)
			return sq_fail(st, err, "prepare");
		/* Kept unless the cache is full or this text is in use by
		 * another cursor right now (then it is a one-off). */
		if (conn->ncache < SQ_CACHE) {
			for (i = 0; i < conn->ncache; i++)
				if (strcmp(conn->cache[i].sql, sql) == 0)
					break;
			if (i == conn->ncache && (conn->cache[i].sql = strdup(sql)) != NULL) {
				slot = &conn->cache[conn->ncache++];
				slot->stmt = stmt;
			}
		}
	}
	if (slot)
		slot->busy = 1;
	for (i = 0; i < n; i++) {
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
			rc = sq_fail(st, err, "bind");
			sq_release_stmt(stmt, slot);
			return rc;
		}
	}
	struct store_cursor *c = calloc(1, sizeof *c);
	if (!c) {
		sq_release_stmt(stmt, slot);
		return store_fail(err, STORE_ENOMEM, "out of memory");
	}
	c->st = st;
	c->stmt = stmt;
	c->slot = slot;
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
	if (rc == SQLITE_DONE) {
		/* A write outside a transaction committed on its own. */
		if (sq_durable(c->st, err) != STORE_OK)
			return -STORE_EIO;
		return 0;
	}
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
	sq_release_stmt(c->stmt, c->slot);
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
	struct sq_conn *c = conn_of(st);

	for (int i = 0; i < c->ncache; i++) {
		sqlite3_finalize(c->cache[i].stmt);
		free(c->cache[i].sql);
	}
	if (c->gate_held && !sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	gate_release(c);
	sqlite3_close_v2(c->db);
	wgate_put(c->gate);
	free(c);
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
	struct sq_conn *conn;
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
	conn = calloc(1, sizeof(*conn));
	if (conn == NULL) {
		sqlite3_close_v2(db);
		return store_fail(err, STORE_ENOMEM, "out of memory");
	}
	conn->db = db;
	st->db = conn;
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
	conn->full = 1;
	conn->gate = wgate_get(sqlite3_db_filename(db, "main"));
	if (conn->gate != NULL) {
		/* Durable commits through the shared WAL sync (see the top). */
		sqlite3_commit_hook(db, commit_hook, conn);
		if ((rc = sq_exec_script(st, "PRAGMA synchronous=NORMAL;", err)))
			return rc;
	}
	return STORE_OK;
}

/* ---- group commit (store.h) ------------------------------------------- */

int
store_sqlite_set_synchronous(struct store *st, int full, struct store_error *err)
{
	struct sq_conn *c = conn_of(st);

	/* In WAL mode NORMAL keeps every commit atomic and ordered; only the
	 * fsync of the WAL moves to the next checkpoint or store_sync(). A
	 * connection with a gate runs NORMAL anyway and syncs after COMMIT
	 * when full (sq_durable). */
	c->full = full;
	if (c->gate != NULL)
		return STORE_OK;
	return sq_exec_script(st, full ? "PRAGMA synchronous=FULL;"
	                               : "PRAGMA synchronous=NORMAL;", err);
}

int
store_sqlite_sync(struct store *st, dev_t *dev_out, struct store_error *err)
{
	const char *path = sqlite3_db_filename(db_of(st), "main");
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
