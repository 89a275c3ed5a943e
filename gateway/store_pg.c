/*
 * store_pg - the PostgreSQL backend of the store (libpq).
 *
 * For production and for several edigated nodes sharing one database.
 * Parameters travel as text and rows are read in single-row mode, so an
 * export of millions of events keeps memory flat. Concurrency rests on
 * PostgreSQL's row locks: counters advance with INSERT ... ON CONFLICT DO
 * UPDATE ... RETURNING, the audit chain head is locked FOR UPDATE, the
 * delivery queue is claimed with FOR UPDATE SKIP LOCKED. Migrations take a
 * session advisory lock so two nodes starting together do not both apply
 * them.
 */
#define _GNU_SOURCE /* asprintf, mkostemp, timegm */
#include "config.h"

#include "store_db.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

/* Arbitrary but fixed: "edigate" migrations, shared by every node. */
#define PG_MIGRATION_LOCK 0x6564696761746531LL

struct store_cursor {
	struct store *st;
	PGresult *row;
	int done;
};

static PGconn *
conn_of(struct store *st)
{
	return st->db;
}

/* Chops the trailing newline libpq puts on its messages. */
static int
pg_fail(struct store_error *err, enum store_status code, const char *what,
        const char *msg)
{
	size_t n = msg ? strlen(msg) : 0;
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		n--;
	return store_fail(err, code, "postgresql: %s: %.*s", what, (int)n,
	                  msg ? msg : "");
}

static enum store_status
status_of(const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	/* Class 23: integrity constraint violation (unique, check, fk). */
	if (state && strncmp(state, "23", 2) == 0)
		return STORE_ECONFLICT;
	return STORE_EBACKEND;
}

static int
pg_simple(struct store *st, const char *sql, struct store_error *err)
{
	PGresult *res = PQexec(conn_of(st), sql);
	ExecStatusType s = PQresultStatus(res);
	int rc = STORE_OK;
	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
		rc = pg_fail(err, status_of(res), sql, PQresultErrorMessage(res));
	PQclear(res);
	return rc;
}

static int
pg_exec_script(struct store *st, const char *sql, struct store_error *err)
{
	return pg_simple(st, sql, err);
}

/*
 * A node outlives database restarts and failovers: a connection found
 * broken is re-established, but only between transactions, where nothing
 * in flight can be lost or half-applied by continuing on a new session.
 */
static void
reconnect_if_broken(struct store *st)
{
	if (!st->db_tx && PQstatus(conn_of(st)) == CONNECTION_BAD)
		PQreset(conn_of(st));
}

static int
pg_begin(struct store *st, struct store_error *err)
{
	reconnect_if_broken(st);
	int rc = pg_simple(st, "BEGIN", err);
	if (rc && PQstatus(conn_of(st)) == CONNECTION_BAD) {
		/* The server went away since the last call; BEGIN is where we
		 * learn it, with nothing in flight, so one retry is safe. */
		PQreset(conn_of(st));
		rc = pg_simple(st, "BEGIN", err);
	}
	if (!rc)
		st->db_tx = 1;
	return rc;
}

static int
pg_commit(struct store *st, struct store_error *err)
{
	PGresult *res = PQexec(conn_of(st), "COMMIT");
	int rc = STORE_OK;
	st->db_tx = 0;
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = pg_fail(err, status_of(res), "commit", PQresultErrorMessage(res));
	/* COMMIT of an aborted transaction answers ROLLBACK, not an error. */
	else if (strcmp(PQcmdStatus(res), "ROLLBACK") == 0)
		rc = store_fail(err, STORE_EBACKEND, "postgresql: transaction was rolled back");
	PQclear(res);
	return rc;
}

static void
pg_rollback(struct store *st)
{
	PQclear(PQexec(conn_of(st), "ROLLBACK"));
	st->db_tx = 0;
}

static int
pg_query(struct store *st, const char *sql, const struct store_param *p, int n,
         struct store_cursor **out, struct store_error *err)
{
	const char *values[32];
	char nums[32][24];
	*out = NULL;
	if (n > 32)
		return store_fail(err, STORE_EINVAL, "too many parameters");
	reconnect_if_broken(st);
	for (int i = 0; i < n; i++) {
		switch (p[i].type) {
		case STORE_P_TEXT:
			values[i] = p[i].text;
			break;
		case STORE_P_INT:
			snprintf(nums[i], sizeof nums[i], "%" PRId64, p[i].num);
			values[i] = nums[i];
			break;
		default:
			values[i] = NULL;
			break;
		}
	}
	if (!PQsendQueryParams(conn_of(st), sql, n, NULL, values, NULL, NULL, 0))
		return pg_fail(err, STORE_EBACKEND, "send", PQerrorMessage(conn_of(st)));
	PQsetSingleRowMode(conn_of(st));
	struct store_cursor *c = calloc(1, sizeof *c);
	if (!c) {
		PGresult *res;
		while ((res = PQgetResult(conn_of(st))) != NULL)
			PQclear(res);
		return store_fail(err, STORE_ENOMEM, "out of memory");
	}
	c->st = st;
	*out = c;
	return STORE_OK;
}

static void
drain(struct store_cursor *c)
{
	PGresult *res;
	while ((res = PQgetResult(conn_of(c->st))) != NULL)
		PQclear(res);
}

static int
pg_next(struct store_cursor *c, struct store_error *err)
{
	PQclear(c->row);
	c->row = NULL;
	if (c->done)
		return 0;
	PGresult *res = PQgetResult(conn_of(c->st));
	if (!res) {
		c->done = 1;
		return 0;
	}
	switch (PQresultStatus(res)) {
	case PGRES_SINGLE_TUPLE:
		c->row = res;
		return 1;
	case PGRES_TUPLES_OK:
	case PGRES_COMMAND_OK:
		PQclear(res);
		drain(c);
		c->done = 1;
		return 0;
	default: {
		int rc = pg_fail(err, status_of(res), "query", PQresultErrorMessage(res));
		PQclear(res);
		drain(c);
		c->done = 1;
		return -rc;
	}
	}
}

static const char *
pg_text(struct store_cursor *c, int col)
{
	return c->row ? PQgetvalue(c->row, 0, col) : "";
}

static int64_t
pg_col_int64(struct store_cursor *c, int col)
{
	return c->row ? strtoll(PQgetvalue(c->row, 0, col), NULL, 10) : 0;
}

static int
pg_is_null(struct store_cursor *c, int col)
{
	return !c->row || PQgetisnull(c->row, 0, col);
}

static void
pg_close(struct store_cursor *c)
{
	if (!c)
		return;
	PQclear(c->row);
	if (!c->done)
		drain(c);
	free(c);
}

static int
pg_lock_migrations(struct store *st, int lock, struct store_error *err)
{
	char sql[96];
	snprintf(sql, sizeof sql, "SELECT %s(%lld)",
	         lock ? "pg_advisory_lock" : "pg_advisory_unlock",
	         (long long)PG_MIGRATION_LOCK);
	return pg_simple(st, sql, err);
}

static void
quiet_notices(void *arg, const char *message)
{
}

static void
pg_disconnect(struct store *st)
{
	PQfinish(conn_of(st));
	st->db = NULL;
}

static const struct store_db_ops pg_ops = {
	.name = "postgresql",
	.exec_script = pg_exec_script,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.query = pg_query,
	.next = pg_next,
	.text = pg_text,
	.int64 = pg_col_int64,
	.is_null = pg_is_null,
	.close = pg_close,
	.lock_migrations = pg_lock_migrations,
	.disconnect = pg_disconnect,
};

int
store_pg_connect(struct store *st, const char *url, struct store_error *err)
{
	/* Session settings travel as connection options so that a reconnect
	 * (PQreset) gets them again. Settings in the URL come later and win. */
	const char *keys[] = { "options", "dbname", NULL };
	const char *values[] = { "-c client_min_messages=warning -c synchronous_commit=on"
	                         " -c TimeZone=UTC",
		                 url, NULL };
	PGconn *conn = PQconnectdbParams(keys, values, 1);
	if (!conn)
		return store_fail(err, STORE_ENOMEM, "out of memory");
	if (PQstatus(conn) != CONNECTION_OK) {
		int rc = pg_fail(err, STORE_EBACKEND, "connect", PQerrorMessage(conn));
		PQfinish(conn);
		return rc;
	}
	st->db = conn;
	st->ops = &pg_ops;
	st->for_update = " FOR UPDATE";
	/* Notices (e.g. "relation already exists, skipping") are not for the
	 * user's terminal; errors come back through results. */
	PQsetNoticeProcessor(conn, quiet_notices, NULL);
	return STORE_OK;
}
