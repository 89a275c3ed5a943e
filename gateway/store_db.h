/*
 * store_db - the narrow SQL interface the store's backends implement.
 *
 * OWNS
 *   What differs between SQLite and PostgreSQL below the store: connecting,
 *   running a migration script, write transactions, and parameterised
 *   queries read row by row. Everything above (the store's logic and most
 *   of its SQL) is written once in store.c.
 *
 * CONVENTIONS
 *   SQL uses $1, $2, ... for parameters in both dialects. A cursor streams
 *   rows (PostgreSQL single-row mode), so at most one cursor is open per
 *   connection and it must be closed before the next query. Column values
 *   are read as text or int64 and are valid until the next db_next().
 *
 * NEVER
 *   Used outside gateway/store*.c.
 */
#ifndef EDIGATE_STORE_DB_H
#define EDIGATE_STORE_DB_H

#include <sys/types.h>

#include "store.h"

enum store_param_type {
	STORE_P_NULL,
	STORE_P_TEXT,
	STORE_P_INT
};

struct store_param {
	enum store_param_type type;
	const char *text;
	int64_t num;
};

#define P_TEXT(s) ((struct store_param){ STORE_P_TEXT, (s), 0 })
#define P_INT(n) ((struct store_param){ STORE_P_INT, NULL, (n) })
#define P_NULL ((struct store_param){ STORE_P_NULL, NULL, 0 })

struct store_cursor;

struct store_db_ops {
	const char *name;
	int (*exec_script)(struct store *st, const char *sql, struct store_error *err);
	/* A write transaction: SQLite takes the write lock at once
	 * (BEGIN IMMEDIATE) so two writers never deadlock on upgrade. */
	int (*begin)(struct store *st, struct store_error *err);
	int (*commit)(struct store *st, struct store_error *err);
	void (*rollback)(struct store *st);
	int (*query)(struct store *st, const char *sql, const struct store_param *p,
	             int n, struct store_cursor **out, struct store_error *err);
	/* 1: a row; 0: end; negative: -status, with err filled. */
	int (*next)(struct store_cursor *c, struct store_error *err);
	const char *(*text)(struct store_cursor *c, int col);
	int64_t (*int64)(struct store_cursor *c, int col);
	int (*is_null)(struct store_cursor *c, int col);
	void (*close)(struct store_cursor *c);
	/* Serialises migrations between processes (PostgreSQL advisory lock;
	 * SQLite relies on BEGIN IMMEDIATE). */
	int (*lock_migrations)(struct store *st, int lock, struct store_error *err);
	void (*disconnect)(struct store *st);
};

/* Shared handle layout; backend state hangs off db. */
struct store {
	const struct store_db_ops *ops;
	enum store_backend backend;
	void *db;
	struct spool *spool;
	int user_tx; /* inside store_tx_begin() */
	int db_tx;   /* the backend has a transaction open */
	/* Row locks for read-then-write: " FOR UPDATE" or "" (SQLite's write
	 * transaction already excludes other writers). */
	const char *for_update;
	int busy_timeout_ms;
};

int store_fail(struct store_error *err, enum store_status code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

int store_sqlite_connect(struct store *st, const char *path, struct store_error *err);
/* Group commit for SQLite (store.h): synchronous=FULL (1) or NORMAL (0)
 * on this connection, and syncfs(2) of the database's file system. */
int store_sqlite_set_synchronous(struct store *st, int full,
                                 struct store_error *err);
int store_sqlite_sync(struct store *st, dev_t *dev_out,
                      struct store_error *err);
int store_pg_connect(struct store *st, const char *url, struct store_error *err);

/* Migration scripts compiled in from deploy/sql/ (store_schema.c). */
struct store_migration {
	int version;
	const char *name;
	const char *sql;
};
extern const struct store_migration store_sqlite_migrations[];
extern const struct store_migration store_pg_migrations[];
extern const int store_sqlite_migration_count;
extern const int store_pg_migration_count;

#endif
