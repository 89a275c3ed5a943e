/*
 * test_store - the store's behaviour, run unchanged against both backends.
 *
 * EDIGATE_TEST_STORE selects the backend: unset or "sqlite" uses a SQLite
 * file in a fresh temporary directory per test; a postgresql:// URL (of a
 * maintenance database such as "postgres") makes every test create and
 * drop its own database on that server. tests/integration/store_pg.sh
 * starts a throwaway cluster and runs this program against it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "store.h"

struct fixture {
	char dir[256];
	char url[1024];
	char spool[300];
	char dbname[64];
	int pg;
	struct store *st;
};

static const char *
pg_base(void)
{
	const char *e = getenv("EDIGATE_TEST_STORE");
	if (e && (strncmp(e, "postgresql://", 13) == 0 || strncmp(e, "postgres://", 11) == 0))
		return e;
	return NULL;
}

/* base with its database name replaced by db. */
static void
url_with_db(const char *base, const char *db, char *out, size_t cap)
{
	const char *p = strstr(base, "://") + 3;
	const char *path = strchr(p, '/');
	const char *q = strchr(p, '?');
	if (!path || (q && path > q))
		path = q ? q : p + strlen(p);
	const char *rest = strchr(path, '?');
	if (!rest)
		rest = "";
	snprintf(out, cap, "%.*s/%s%s", (int)(path - base), base, db, rest);
}

static void
pg_admin(const char *sql)
{
	PGconn *c = PQconnectdb(pg_base());
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
}

/* Runs SQL on the store's database behind the store's back, the way
 * someone with database access would. */
static void
raw_sql(const struct fixture *fx, const char *sql)
{
	if (fx->pg) {
		PGconn *c = PQconnectdb(fx->url);
		assert_int_equal(PQstatus(c), CONNECTION_OK);
		PGresult *r = PQexec(c, sql);
		if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
			fail_msg("%s: %s", sql, PQresultErrorMessage(r));
		PQclear(r);
		PQfinish(c);
	} else {
		sqlite3 *db;
		char *msg = NULL;
		assert_int_equal(sqlite3_open(fx->url, &db), SQLITE_OK);
		if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
			fail_msg("%s: %s", sql, msg);
		sqlite3_close(db);
	}
}

/* Like raw_sql but expects the database to refuse. */
static int
raw_sql_fails(const struct fixture *fx, const char *sql)
{
	int failed;
	if (fx->pg) {
		PGconn *c = PQconnectdb(fx->url);
		PGresult *r = PQexec(c, sql);
		failed = PQresultStatus(r) == PGRES_FATAL_ERROR;
		PQclear(r);
		PQfinish(c);
	} else {
		sqlite3 *db;
		assert_int_equal(sqlite3_open(fx->url, &db), SQLITE_OK);
		failed = sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK;
		sqlite3_close(db);
	}
	return failed;
}

static struct store *
open_store(struct fixture *fx, int no_migrate)
{
	struct store_options o = { .spool_dir = fx->spool, .no_migrate = no_migrate };
	struct store_error err;
	struct store *st = NULL;
	if (store_open(&st, fx->url, &o, &err) != STORE_OK)
		fail_msg("store_open %s: %s", fx->url, err.message);
	return st;
}

static int counter;

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof *fx);
	snprintf(fx->dir, sizeof fx->dir, "/tmp/edigate-store-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->spool, sizeof fx->spool, "%s/spool", fx->dir);
	if (pg_base()) {
		char sql[128];
		fx->pg = 1;
		snprintf(fx->dbname, sizeof fx->dbname, "edigate_test_%d_%d", (int)getpid(),
		         ++counter);
		snprintf(sql, sizeof sql, "CREATE DATABASE %s", fx->dbname);
		pg_admin(sql);
		url_with_db(pg_base(), fx->dbname, fx->url, sizeof fx->url);
	} else {
		snprintf(fx->url, sizeof fx->url, "%s/state/edigate.db", fx->dir);
	}
	*state = fx;
	return 0;
}

static int
setup_open(void **state)
{
	setup(state);
	struct fixture *fx = *state;
	fx->st = open_store(fx, 0);
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[400];
	store_close(fx->st);
	if (fx->pg) {
		snprintf(cmd, sizeof cmd, "DROP DATABASE IF EXISTS %s WITH (FORCE)", fx->dbname);
		pg_admin(cmd);
	}
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		return -1;
	free(fx);
	return 0;
}

/* A message whose payload is really in the spool. */
static int64_t
put_message(struct fixture *fx, struct store *st, const char *body, const char *partner)
{
	struct store_message m = { .direction = STORE_IN };
	struct store_error err;
	struct spool_error serr;
	if (spool_put(store_spool(st), body, strlen(body), m.payload_hash, &serr))
		fail_msg("spool_put: %s", serr.message);
	m.size = (int64_t)strlen(body);
	strcpy(m.partner, partner);
	strcpy(m.transport, "as2");
	strcpy(m.message_type, "850");
	strcpy(m.interchange_control, "000000101");
	if (store_message_put(st, &m, "{\"as2_message_id\":\"<1@acme>\"}", &err))
		fail_msg("store_message_put: %s", err.message);
	return m.id;
}

static struct store_audit_result
verify(struct store *st)
{
	struct store_audit_result res;
	struct store_error err;
	if (store_audit_verify(st, &res, &err))
		fail_msg("store_audit_verify: %s", err.message);
	return res;
}

/* ---- migrations ---------------------------------------------------------- */

static void
test_migrations_apply_once_and_are_idempotent(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	struct store_info info;
	int applied = -1;
	fx->st = open_store(fx, 1);
	assert_int_equal(store_info(fx->st, &info, &err), STORE_OK);
	assert_int_equal(info.schema_version, 0);
	assert_int_equal(info.schema_latest, 4);
	assert_int_equal(store_migrate(fx->st, &applied, &err), STORE_OK);
	assert_int_equal(applied, 4);
	assert_int_equal(store_migrate(fx->st, &applied, &err), STORE_OK);
	assert_int_equal(applied, 0);
	store_close(fx->st);
	/* A restart applies nothing and finds the same version. */
	fx->st = open_store(fx, 0);
	assert_int_equal(store_migrate(fx->st, &applied, &err), STORE_OK);
	assert_int_equal(applied, 0);
	assert_int_equal(store_info(fx->st, &info, &err), STORE_OK);
	assert_int_equal(info.schema_version, 4);
	assert_int_equal(info.messages, 0);
	assert_int_equal(info.events, 0);
}

static void
test_altered_migration_is_refused(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	struct store *st = NULL;
	raw_sql(fx, "UPDATE schema_migrations SET checksum = 'x' WHERE version = 1");
	struct store_options o = { .spool_dir = fx->spool };
	assert_int_equal(store_open(&st, fx->url, &o, &err), STORE_ESCHEMA);
	assert_null(st);
	assert_non_null(strstr(err.message, "migration 1"));
}

static void
test_newer_schema_is_refused(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	struct store *st = NULL;
	raw_sql(fx, "INSERT INTO schema_migrations VALUES (99, 'future', 'x', 0)");
	struct store_options o = { .spool_dir = fx->spool };
	assert_int_equal(store_open(&st, fx->url, &o, &err), STORE_ESCHEMA);
	assert_non_null(strstr(err.message, "newer"));
}

static void
test_processes_opening_a_fresh_store_at_once_migrate_it_once(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	struct store_info info;
	pid_t pids[4];
	/* The race is in the first moments of a new file, so SQLite gets
	 * several fresh files in a row; the last one is the fixture's. */
	int rounds = fx->pg ? 1 : 10;
	for (int round = 0; round < rounds; round++) {
		char url[sizeof fx->url];
		if (round == rounds - 1)
			snprintf(url, sizeof url, "%s", fx->url);
		else
			snprintf(url, sizeof url, "%s/round%d/edigate.db", fx->dir, round);
		for (int r = 0; r < 4; r++) {
			pids[r] = fork();
			assert_true(pids[r] >= 0);
			if (pids[r] == 0) {
				struct store *st;
				struct store_options o = { .spool_dir = fx->spool };
				if (store_open(&st, url, &o, &err)) {
					fprintf(stderr, "open: %s\n", err.message);
					_exit(3);
				}
				store_close(st);
				_exit(0);
			}
		}
		for (int r = 0; r < 4; r++) {
			int status;
			waitpid(pids[r], &status, 0);
			assert_true(WIFEXITED(status));
			assert_int_equal(WEXITSTATUS(status), 0);
		}
	}
	fx->st = open_store(fx, 1);
	assert_int_equal(store_info(fx->st, &info, &err), STORE_OK);
	assert_int_equal(info.schema_version, 4);
	assert_int_equal(info.audit_last_id, 0);
}

/* ---- messages ------------------------------------------------------------ */

static void
test_message_without_payload_in_spool_is_refused(void **state)
{
	struct fixture *fx = *state;
	struct store_message m = { .direction = STORE_IN, .size = 3 };
	struct store_error err;
	strcpy(m.partner, "acme");
	strcpy(m.transport, "as2");
	/* SHA-256("abc"), FIPS 180-2 appendix B.1; never written here. */
	strcpy(m.payload_hash, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(store_message_put(fx->st, &m, NULL, &err), STORE_ENOSPOOL);
	struct spool_error serr;
	char hash[65];
	assert_int_equal(spool_put(store_spool(fx->st), "abc", 3, hash, &serr), SPOOL_OK);
	assert_string_equal(hash, m.payload_hash);
	m.size = 4; /* a size that disagrees with the spool is refused too */
	assert_int_equal(store_message_put(fx->st, &m, NULL, &err), STORE_ENOSPOOL);
	m.size = 3;
	assert_int_equal(store_message_put(fx->st, &m, NULL, &err), STORE_OK);
	assert_true(m.id > 0);
	assert_string_equal(m.state, "stored");
	assert_int_equal(strlen(m.correlation_id), 26);
}

/* edigated gives every connection, in every module, the one spool of
 * [store] spool_dir: without it a PostgreSQL store could hold no payload,
 * and nodes sharing a database must read each other's payloads. */
static void
test_default_spool_serves_stores_opened_without_one(void **state)
{
	struct fixture *fx = *state;
	struct store *a = NULL, *b = NULL, *c = NULL;
	struct store_options none = { 0 };
	struct store_error err;
	struct spool_error serr;
	uint64_t size = 0;
	char hash[SPOOL_HASH_HEX + 1];

	assert_int_equal(store_set_default_spool(fx->spool, &err), STORE_OK);
	assert_int_equal(store_open(&a, fx->url, NULL, &err), STORE_OK);
	assert_int_equal(store_open(&b, fx->url, &none, &err), STORE_OK);
	assert_non_null(store_spool(a));
	assert_int_equal(spool_put(store_spool(a), "abc", 3, hash, &serr), SPOOL_OK);
	/* SHA-256("abc"), FIPS 180-2 appendix B.1 */
	assert_string_equal(hash, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(spool_stat(store_spool(b), hash, &size, &serr), SPOOL_OK);
	assert_int_equal(size, 3);
	assert_int_equal(spool_stat(store_spool(fx->st), hash, &size, &serr), SPOOL_OK);
	assert_int_equal(store_set_default_spool(NULL, &err), STORE_OK);
	assert_int_equal(store_open(&c, fx->url, NULL, &err), STORE_OK);
	if (fx->pg)
		assert_null(store_spool(c)); /* PostgreSQL holds no payloads */
	else
		assert_non_null(store_spool(c)); /* beside the SQLite file */
	store_close(a);
	store_close(b);
	store_close(c);
}

static void
test_message_round_trips_and_records_an_event(void **state)
{
	struct fixture *fx = *state;
	struct store_message m;
	struct store_error err;
	int64_t id = put_message(fx, fx->st, "ISA*00*...~", "acme");
	assert_int_equal(store_message_get(fx->st, id, &m, &err), STORE_OK);
	assert_int_equal(m.direction, STORE_IN);
	assert_string_equal(m.partner, "acme");
	assert_string_equal(m.transport, "as2");
	assert_string_equal(m.message_type, "850");
	assert_string_equal(m.interchange_control, "000000101");
	assert_int_equal(m.size, 11);
	assert_string_equal(m.state, "stored");
	assert_int_equal(store_message_get(fx->st, id + 100, &m, &err), STORE_ENOTFOUND);
	struct store_info info;
	assert_int_equal(store_info(fx->st, &info, &err), STORE_OK);
	assert_int_equal(info.messages, 1);
	assert_int_equal(info.events, 1);
	if (!fx->pg) {
		/* WAL is a property of the file: any reader sees it. */
		sqlite3 *db;
		sqlite3_stmt *stmt;
		assert_int_equal(sqlite3_open(fx->url, &db), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL),
		                 SQLITE_OK);
		assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "wal");
		sqlite3_finalize(stmt);
		sqlite3_close(db);
	}
}

struct collected {
	int n;
	char kinds[16][STORE_KIND_MAX + 1];
	char details[16][512];
	int64_t ids[16];
};

static int
collect_event(void *ud, const struct store_event *ev)
{
	struct collected *c = ud;
	if (c->n < 16) {
		strcpy(c->kinds[c->n], ev->kind);
		snprintf(c->details[c->n], sizeof c->details[c->n], "%s", ev->detail);
		c->ids[c->n] = ev->id;
	}
	c->n++;
	return 0;
}

static void
test_state_change_is_an_event_and_checks_the_expected_state(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	struct store_message m;
	int64_t id = put_message(fx, fx->st, "payload", "acme");
	assert_int_equal(store_message_set_state(fx->st, id, "stored", "translated",
	                                         "{\"documents\":1}", &err),
	                 STORE_OK);
	assert_int_equal(store_message_set_state(fx->st, id, "stored", "rejected", NULL, &err),
	                 STORE_ECONFLICT);
	assert_int_equal(store_message_get(fx->st, id, &m, &err), STORE_OK);
	assert_string_equal(m.state, "translated");
	assert_int_equal(store_message_set_state(fx->st, id, NULL, "Bad State!", NULL, &err),
	                 STORE_EINVAL);
	struct collected c = { 0 };
	struct store_event_filter f = { .message_id = id };
	assert_int_equal(store_event_foreach(fx->st, &f, collect_event, &c, &err), STORE_OK);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.kinds[0], "message.stored");
	assert_string_equal(c.kinds[1], "message.state");
	/* Stored compact with sorted keys: the canonical text the hash covers. */
	assert_string_equal(c.details[1], "{\"documents\":1,\"from\":\"stored\",\"to\":\"translated\"}");
	/* Message ids are 64-bit on both backends. */
	struct collected none = { 0 };
	f.message_id = 5000000000LL;
	assert_int_equal(store_event_foreach(fx->st, &f, collect_event, &none, &err), STORE_OK);
	assert_int_equal(none.n, 0);
}

static void
test_event_detail_must_be_a_json_object(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	assert_int_equal(store_event_append(fx->st, 0, "C1", "note", "[1,2]", NULL, &err),
	                 STORE_EINVAL);
	assert_int_equal(store_event_append(fx->st, 0, "C1", "note", "{bad", NULL, &err),
	                 STORE_EINVAL);
	assert_int_equal(store_event_append(fx->st, 0, "C1", "note", "{ \"b\": 1, \"a\": \"x\" }",
	                                    NULL, &err),
	                 STORE_OK);
	struct collected c = { 0 };
	assert_int_equal(store_event_foreach(fx->st, NULL, collect_event, &c, &err), STORE_OK);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.details[0], "{\"a\":\"x\",\"b\":1}");
}

struct listed {
	int n;
	int64_t last;
};

static int
count_message(void *ud, const struct store_message *m)
{
	struct listed *l = ud;
	l->n++;
	l->last = m->id;
	return 0;
}

static void
test_message_list_filters_and_pages(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	int64_t a = put_message(fx, fx->st, "one", "acme");
	put_message(fx, fx->st, "two", "globex");
	int64_t c = put_message(fx, fx->st, "three", "acme");
	struct listed l = { 0 };
	struct store_message_filter f = { .partner = "acme" };
	assert_int_equal(store_message_list(fx->st, &f, count_message, &l, &err), STORE_OK);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.last, c);
	struct listed l2 = { 0 };
	struct store_message_filter g = { .limit = 1, .after_id = a };
	assert_int_equal(store_message_list(fx->st, &g, count_message, &l2, &err), STORE_OK);
	assert_int_equal(l2.n, 1);
	assert_int_equal(l2.last, a + 1);
}

static int
count_messages(struct store *st)
{
	struct listed l = { 0 };
	struct store_error err;
	assert_int_equal(store_message_list(st, NULL, count_message, &l, &err), STORE_OK);
	return l.n;
}

static void
test_grouped_calls_commit_or_roll_back_together(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	int dup;
	assert_int_equal(store_tx_begin(fx->st, &err), STORE_OK);
	assert_int_equal(store_tx_begin(fx->st, &err), STORE_EINVAL);
	int64_t id = put_message(fx, fx->st, "ISA*1~", "acme");
	assert_int_equal(store_duplicate_check(fx->st, "ACME", "isa13", "000000001",
	                                       store_now_us(), 0, id, &dup, NULL, NULL, &err), 0);
	store_tx_rollback(fx->st);
	assert_int_equal(count_messages(fx->st), 0);
	assert_int_equal(verify(fx->st).events_checked, 0);

	assert_int_equal(store_tx_begin(fx->st, &err), STORE_OK);
	id = put_message(fx, fx->st, "ISA*1~", "acme");
	/* A failing call undoes only itself; the group goes on. */
	assert_int_equal(store_message_set_state(fx->st, id, "translated", "delivered", NULL,
	                                         &err), STORE_ECONFLICT);
	assert_int_equal(store_duplicate_check(fx->st, "ACME", "isa13", "000000001",
	                                       store_now_us(), 0, id, &dup, NULL, NULL, &err), 0);
	assert_int_equal(dup, 0);
	assert_int_equal(store_tx_commit(fx->st, &err), STORE_OK);
	assert_int_equal(count_messages(fx->st), 1);
	assert_int_equal(store_duplicate_check(fx->st, "ACME", "isa13", "000000001",
	                                       store_now_us(), 0, 0, &dup, NULL, NULL, &err), 0);
	assert_int_equal(dup, 1);
	struct store_audit_result res = verify(fx->st);
	assert_true(res.intact);
	assert_int_equal(res.events_checked, 1);
}

static void
test_store_reconnects_after_the_server_dropped_it(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	int64_t v;
	assert_int_equal(store_control_next(fx->st, "acme", STORE_CONTROL_GROUP, &v, &err), 0);
	char sql[256];
	snprintf(sql, sizeof sql,
	         "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
	         " WHERE datname = '%s' AND pid <> pg_backend_pid()",
	         fx->dbname);
	pg_admin(sql);
	usleep(100000);
	if (store_control_next(fx->st, "acme", STORE_CONTROL_GROUP, &v, &err))
		fail_msg("after the server dropped the connection: %s", err.message);
	assert_int_equal(v, 2);
}

/* ---- processing claims ------------------------------------------------- */

#define HOUR_US (3600LL * 1000000)
#define CLAIM_RACERS 4

static int64_t
received_message(struct fixture *fx)
{
	struct store_error err;
	int64_t id = put_message(fx, fx->st, "ISA*claim~", "acme");
	assert_int_equal(store_message_set_state(fx->st, id, NULL, "received", NULL, &err),
	                 STORE_OK);
	return id;
}

static void
assert_state(struct fixture *fx, int64_t id, const char *want)
{
	struct store_message m;
	struct store_error err;
	assert_int_equal(store_message_get(fx->st, id, &m, &err), STORE_OK);
	assert_string_equal(m.state, want);
}

static void
test_claim_takes_a_received_message_for_one_owner_only(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	char owner[80];
	int64_t until = 0, before = store_now_us();
	int64_t id = received_message(fx);
	assert_int_equal(store_message_claim(fx->st, id, "node-a:1:1", HOUR_US, &err),
	                 STORE_OK);
	assert_state(fx, id, "processing");
	/* Another node, on its own connection, finds it taken. */
	struct store *other = open_store(fx, 1);
	assert_int_equal(store_message_claim(other, id, "node-b:2:2", HOUR_US, &err),
	                 STORE_ECONFLICT);
	assert_non_null(strstr(err.message, "not received"));
	assert_int_equal(store_message_claim_get(other, id, owner, sizeof owner, &until, &err),
	                 STORE_OK);
	assert_string_equal(owner, "node-a:1:1");
	assert_true(until >= before + HOUR_US);
	assert_true(until <= store_now_us() + HOUR_US);
	store_close(other);
	/* A message not "received" (here: stored) cannot be claimed. */
	int64_t stored = put_message(fx, fx->st, "ISA*stored~", "acme");
	assert_int_equal(store_message_claim(fx->st, stored, "node-a:1:1", HOUR_US, &err),
	                 STORE_ECONFLICT);
	assert_int_equal(store_message_claim(fx->st, 999999, "node-a:1:1", HOUR_US, &err),
	                 STORE_ENOTFOUND);
}

static void
test_processes_claiming_one_message_at_once_have_one_winner(void **state)
{
	struct fixture *fx = *state;
	pid_t pids[CLAIM_RACERS];
	int64_t id = received_message(fx);
	for (int r = 0; r < CLAIM_RACERS; r++) {
		pids[r] = fork();
		assert_true(pids[r] >= 0);
		if (pids[r] == 0) {
			struct store *st;
			struct store_error err;
			struct store_options o = { .spool_dir = fx->spool };
			char owner[32];
			if (store_open(&st, fx->url, &o, &err))
				_exit(3);
			snprintf(owner, sizeof owner, "node-%d:%d:1", r, (int)getpid());
			int rc = store_message_claim(st, id, owner, HOUR_US, &err);
			store_close(st);
			_exit(rc == STORE_OK ? 0 : rc == STORE_ECONFLICT ? 1 : 4);
		}
	}
	int won = 0, lost = 0;
	for (int r = 0; r < CLAIM_RACERS; r++) {
		int status;
		assert_int_equal(waitpid(pids[r], &status, 0), pids[r]);
		assert_true(WIFEXITED(status));
		if (WEXITSTATUS(status) == 0)
			won++;
		else if (WEXITSTATUS(status) == 1)
			lost++;
	}
	assert_int_equal(won, 1);
	assert_int_equal(lost, CLAIM_RACERS - 1);
	assert_state(fx, id, "processing");
	assert_int_equal(verify(fx->st).intact, 1);
}

struct kinds {
	int state_events;
	char last_detail[512];
};

static int
count_state_events(void *ud, const struct store_event *ev)
{
	struct kinds *k = ud;
	if (strcmp(ev->kind, "message.state") == 0) {
		k->state_events++;
		snprintf(k->last_detail, sizeof k->last_detail, "%s", ev->detail);
	}
	return 0;
}

static void
test_claim_is_released_only_after_its_lease_ran_out(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	int64_t ids[8];
	size_t n = 99;
	int64_t now = store_now_us();
	int64_t id = received_message(fx);
	assert_int_equal(store_message_claim(fx->st, id, "node-a:1:1", HOUR_US, &err),
	                 STORE_OK);
	/* The lease runs: nothing is stale, and a release is refused. */
	assert_int_equal(store_message_stale_claims(fx->st, now, 8, ids, &n, &err), STORE_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_message_release_claim(fx->st, id, now, NULL, &err),
	                 STORE_ECONFLICT);
	assert_non_null(strstr(err.message, "claimed by node-a:1:1"));
	assert_state(fx, id, "processing");
	/* Two hours later it has run out. */
	assert_int_equal(store_message_stale_claims(fx->st, now + 2 * HOUR_US, 8, ids, &n, &err),
	                 STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], id);
	assert_int_equal(store_message_release_claim(fx->st, id, now + 2 * HOUR_US,
	                                             "{\"reason\":\"lease expired\"}", &err),
	                 STORE_OK);
	assert_state(fx, id, "received");
	char owner[80] = "x";
	int64_t until = 1;
	assert_int_equal(store_message_claim_get(fx->st, id, owner, sizeof owner, &until, &err),
	                 STORE_OK);
	assert_string_equal(owner, "");
	assert_int_equal(until, 0);
	/* A second sweep (another node) finds nothing more to release. */
	assert_int_equal(store_message_release_claim(fx->st, id, now + 2 * HOUR_US, NULL, &err),
	                 STORE_ECONFLICT);
	assert_non_null(strstr(err.message, "not processing"));
	/* received -> processing (claim), processing -> received (release):
	 * the release names the owner it took the message from. */
	struct kinds k = { 0 };
	struct store_event_filter f = { .message_id = id };
	assert_int_equal(store_event_foreach(fx->st, &f, count_state_events, &k, &err), STORE_OK);
	assert_int_equal(k.state_events, 3);
	assert_non_null(strstr(k.last_detail, "\"owner\":\"node-a:1:1\""));
	assert_non_null(strstr(k.last_detail, "\"reason\":\"lease expired\""));
	assert_non_null(strstr(k.last_detail, "\"to\":\"received\""));
	/* And it can be claimed again. */
	assert_int_equal(store_message_claim(fx->st, id, "node-b:2:2", HOUR_US, &err),
	                 STORE_OK);
	assert_int_equal(verify(fx->st).intact, 1);
}

static void
test_renewal_keeps_only_the_owners_claims_alive(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	int64_t ids[8], renewed = -1;
	size_t n = 0;
	int64_t mine = received_message(fx), theirs = received_message(fx);
	/* Both leases end one second from now. */
	assert_int_equal(store_message_claim(fx->st, mine, "node-a:1:1", 1000000, &err), STORE_OK);
	assert_int_equal(store_message_claim(fx->st, theirs, "node-b:2:2", 1000000, &err),
	                 STORE_OK);
	assert_int_equal(store_message_renew_claims(fx->st, "node-a:1:1", HOUR_US, &renewed, &err),
	                 STORE_OK);
	assert_int_equal(renewed, 1);
	/* A minute later only node-b's claim ran out. */
	assert_int_equal(store_message_stale_claims(fx->st, store_now_us() + 60 * 1000000LL, 8,
	                                            ids, &n, &err),
	                 STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], theirs);
	/* A message that finished is no claim to renew. */
	assert_int_equal(store_message_set_state(fx->st, mine, "processing", "processed", NULL,
	                                         &err),
	                 STORE_OK);
	assert_int_equal(store_message_renew_claims(fx->st, "node-a:1:1", HOUR_US, &renewed, &err),
	                 STORE_OK);
	assert_int_equal(renewed, 0);
}

static void
test_forced_release_takes_a_running_claim_and_old_rows_count_as_expired(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	int64_t ids[8];
	size_t n = 0;
	int64_t id = received_message(fx);
	assert_int_equal(store_message_claim(fx->st, id, "node-a:1:1", HOUR_US, &err), STORE_OK);
	assert_int_equal(store_message_release_claim(fx->st, id, INT64_MAX,
	                                             "{\"reason\":\"operator requeue\"}", &err),
	                 STORE_OK);
	assert_state(fx, id, "received");
	/* "processing" without a claim (left by an edigate before schema 3)
	 * has no lease to wait for. */
	int64_t old = received_message(fx);
	assert_int_equal(store_message_set_state(fx->st, old, "received", "processing", NULL, &err),
	                 STORE_OK);
	assert_int_equal(store_message_stale_claims(fx->st, store_now_us(), 8, ids, &n, &err),
	                 STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], old);
	assert_int_equal(store_message_release_claim(fx->st, old, store_now_us(), NULL, &err),
	                 STORE_OK);
	assert_state(fx, old, "received");
}

/* ---- control numbers --------------------------------------------------- */

static void
test_control_numbers_start_at_one_per_partner_and_kind(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	int64_t v;
	assert_int_equal(store_control_next(fx->st, "acme", STORE_CONTROL_INTERCHANGE, &v, &err), 0);
	assert_int_equal(v, 1);
	assert_int_equal(store_control_next(fx->st, "acme", STORE_CONTROL_INTERCHANGE, &v, &err), 0);
	assert_int_equal(v, 2);
	assert_int_equal(store_control_next(fx->st, "acme", STORE_CONTROL_GROUP, &v, &err), 0);
	assert_int_equal(v, 1);
	assert_int_equal(store_control_next(fx->st, "globex", STORE_CONTROL_INTERCHANGE, &v, &err), 0);
	assert_int_equal(v, 1);
	assert_int_equal(store_control_take(fx->st, "acme", STORE_CONTROL_SET, 5, &v, &err), 0);
	assert_int_equal(v, 1);
	assert_int_equal(store_control_next(fx->st, "acme", STORE_CONTROL_SET, &v, &err), 0);
	assert_int_equal(v, 6);
	/* Seeding moves forward only. */
	assert_int_equal(store_control_seed(fx->st, "acme", STORE_CONTROL_INTERCHANGE, 100, &err), 0);
	assert_int_equal(store_control_seed(fx->st, "acme", STORE_CONTROL_INTERCHANGE, 50, &err), 0);
	assert_int_equal(store_control_next(fx->st, "acme", STORE_CONTROL_INTERCHANGE, &v, &err), 0);
	assert_int_equal(v, 101);
}

static void
test_control_numbers_never_wrap(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	int64_t v;
	assert_int_equal(store_control_seed(fx->st, "acme", STORE_CONTROL_INTERCHANGE,
	                                    999999998, &err), 0);
	assert_int_equal(store_control_next(fx->st, "acme", STORE_CONTROL_INTERCHANGE, &v, &err), 0);
	assert_int_equal(v, 999999999);
	assert_int_equal(store_control_next(fx->st, "acme", STORE_CONTROL_INTERCHANGE, &v, &err),
	                 STORE_EEXHAUSTED);
	assert_int_equal(store_control_next(fx->st, "acme", STORE_CONTROL_INTERCHANGE, &v, &err),
	                 STORE_EEXHAUSTED);
}

#define RACERS 4
#define TAKES 150

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static void
test_processes_taking_control_numbers_at_once_never_share_one(void **state)
{
	struct fixture *fx = *state;
	int fds[2];
	pid_t pids[RACERS];
	assert_int_equal(pipe(fds), 0);
	for (int r = 0; r < RACERS; r++) {
		pids[r] = fork();
		assert_true(pids[r] >= 0);
		if (pids[r] == 0) {
			/* Each process has its own connection, as separate nodes do. */
			struct store *st;
			struct store_error err;
			struct store_options o = { .spool_dir = fx->spool };
			close(fds[0]);
			if (store_open(&st, fx->url, &o, &err))
				_exit(3);
			for (int i = 0; i < TAKES; i++) {
				int64_t v;
				if (store_control_next(st, "acme", STORE_CONTROL_INTERCHANGE, &v, &err))
					_exit(4);
				if (write(fds[1], &v, sizeof v) != sizeof v)
					_exit(5);
			}
			store_close(st);
			_exit(0);
		}
	}
	close(fds[1]);
	int64_t *got = calloc(RACERS * TAKES + 1, sizeof *got);
	size_t n = 0;
	int64_t v;
	while (read(fds[0], &v, sizeof v) == sizeof v && n <= RACERS * TAKES)
		got[n++] = v;
	close(fds[0]);
	for (int r = 0; r < RACERS; r++) {
		int status;
		assert_int_equal(waitpid(pids[r], &status, 0), pids[r]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(n, RACERS * TAKES);
	qsort(got, n, sizeof *got, cmp_i64);
	/* Exactly 1..600: no number twice, none skipped. */
	for (size_t i = 0; i < n; i++)
		assert_int_equal(got[i], (int64_t)i + 1);
	free(got);
}

/* ---- crash safety ------------------------------------------------------------ */

static int
read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	while (n + 1 < cap) {
		ssize_t k = read(fd, buf + n, 1);
		if (k <= 0)
			return -1;
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = '\0';
	return (int)n;
}

static void
test_kill_between_spool_write_and_commit_leaves_no_message(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	int fds[2];
	char line[128];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *st;
		struct spool_error serr;
		char hash[65];
		struct store_options o = { .spool_dir = fx->spool };
		close(fds[0]);
		if (store_open(&st, fx->url, &o, &err) ||
		    spool_put(store_spool(st), "half a message", 14, hash, &serr))
			_exit(3);
		dprintf(fds[1], "%s\n", hash);
		pause(); /* the metadata commit would come next */
		_exit(0);
	}
	close(fds[1]);
	assert_int_equal(read_line(fds[0], line, sizeof line), 64);
	kill(pid, SIGKILL);
	int status;
	waitpid(pid, &status, 0);
	close(fds[0]);
	assert_true(WIFSIGNALED(status));
	struct store *st = open_store(fx, 0);
	struct listed l = { 0 };
	assert_int_equal(store_message_list(st, NULL, count_message, &l, &err), STORE_OK);
	assert_int_equal(l.n, 0);
	/* The payload is complete under its name: harmless, and reusable by a
	 * retry of the same upload. */
	assert_int_equal(spool_verify(store_spool(st), line, NULL), SPOOL_OK);
	assert_true(verify(st).intact);
	store_close(st);
}

struct stored {
	int64_t id;
	char hash[65];
};

static void
test_kill_during_a_stream_of_stores_loses_nothing_reported(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	int fds[2];
	char line[160];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *st;
		struct store_options o = { .spool_dir = fx->spool };
		close(fds[0]);
		if (store_open(&st, fx->url, &o, &err))
			_exit(3);
		for (unsigned i = 0;; i++) {
			char body[64];
			struct store_message m = { .direction = STORE_IN };
			struct spool_error serr;
			snprintf(body, sizeof body, "ISA*payload*%u~", i);
			if (spool_put(store_spool(st), body, strlen(body), m.payload_hash, &serr))
				_exit(4);
			m.size = (int64_t)strlen(body);
			strcpy(m.partner, "acme");
			strcpy(m.transport, "sftp");
			if (store_message_put(st, &m, NULL, &err))
				_exit(5);
			/* Only now may the sender be told "stored". */
			dprintf(fds[1], "%" PRId64 " %s\n", m.id, m.payload_hash);
		}
	}
	close(fds[1]);
	struct stored reported[64];
	int n = 0;
	while (n < 40 && read_line(fds[0], line, sizeof line) > 0) {
		assert_int_equal(sscanf(line, "%" SCNd64 " %64s", &reported[n].id, reported[n].hash), 2);
		n++;
	}
	/* Let it run on into the middle of another write, then kill it. */
	usleep(3000);
	kill(pid, SIGKILL);
	int status;
	waitpid(pid, &status, 0);
	close(fds[0]);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(n, 40);

	struct store *st = open_store(fx, 0);
	for (int i = 0; i < n; i++) {
		struct store_message m;
		assert_int_equal(store_message_get(st, reported[i].id, &m, &err), STORE_OK);
		assert_string_equal(m.payload_hash, reported[i].hash);
		assert_int_equal(spool_verify(store_spool(st), m.payload_hash, NULL), SPOOL_OK);
	}
	/* Every committed message, reported or not, has its whole payload. */
	struct store_message_filter f = { 0 };
	int64_t after = 0;
	int total = 0;
	for (;;) {
		struct listed l = { 0 };
		f.after_id = after;
		f.limit = 1;
		assert_int_equal(store_message_list(st, &f, count_message, &l, &err), STORE_OK);
		if (l.n == 0)
			break;
		struct store_message m;
		assert_int_equal(store_message_get(st, l.last, &m, &err), STORE_OK);
		assert_int_equal(spool_verify(store_spool(st), m.payload_hash, NULL), SPOOL_OK);
		after = l.last;
		total++;
	}
	assert_true(total >= n);
	struct store_audit_result res = verify(st);
	assert_true(res.intact);
	assert_int_equal(res.events_checked, total);
	unsigned removed;
	assert_int_equal(spool_sweep_tmp(store_spool(st), 0, &removed, NULL), SPOOL_OK);
	store_close(st);
}

/* ---- audit chain -------------------------------------------------------------- */

static void
test_event_hash_follows_the_documented_canonical_form(void **state)
{
	/* Written out by hand from store.h: prev_hash, then netstrings. */
	static const char input[] =
		"0000000000000000000000000000000000000000000000000000000000000000"
		"15:edigate-event-1,1:7,16:1763892000000000,2:42,4:C-01,14:message.stored,"
		"9:{\"a\":\"b\"},";
	unsigned char d[32];
	unsigned dlen;
	char expected[65];
	EVP_Digest(input, sizeof input - 1, d, &dlen, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		sprintf(expected + 2 * i, "%02x", d[i]);
	struct store_event ev = { .id = 7, .time_us = 1763892000000000, .message_id = 42,
		                  .detail = "{\"a\":\"b\"}" };
	strcpy(ev.correlation_id, "C-01");
	strcpy(ev.kind, "message.stored");
	char got[65];
	store_event_hash(&ev, "0000000000000000000000000000000000000000000000000000000000000000",
	                 got);
	assert_string_equal(got, expected);
	/* No message: an empty netstring. */
	static const char input2[] =
		"1111111111111111111111111111111111111111111111111111111111111111"
		"15:edigate-event-1,1:1,1:5,0:,0:,4:note,2:{},";
	EVP_Digest(input2, sizeof input2 - 1, d, &dlen, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		sprintf(expected + 2 * i, "%02x", d[i]);
	struct store_event ev2 = { .id = 1, .time_us = 5, .detail = "{}" };
	strcpy(ev2.kind, "note");
	store_event_hash(&ev2, "1111111111111111111111111111111111111111111111111111111111111111",
	                 got);
	assert_string_equal(got, expected);
}

static void
make_events(struct fixture *fx, int n)
{
	struct store_error err;
	for (int i = 0; i < n; i++) {
		char detail[64];
		snprintf(detail, sizeof detail, "{\"n\":%d}", i + 1);
		assert_int_equal(store_event_append(fx->st, 0, "C-audit", "note", detail, NULL, &err),
		                 STORE_OK);
	}
}

static void
test_events_refuse_update_and_delete(void **state)
{
	struct fixture *fx = *state;
	make_events(fx, 2);
	assert_true(raw_sql_fails(fx, "UPDATE events SET detail = '{}' WHERE id = 1"));
	assert_true(raw_sql_fails(fx, "DELETE FROM events WHERE id = 1"));
	assert_true(verify(fx->st).intact);
}

static void
drop_append_only_guard(struct fixture *fx)
{
	/* Someone with DDL rights can remove the guard; the chain still
	 * tells. */
	if (fx->pg)
		raw_sql(fx, "ALTER TABLE events DISABLE TRIGGER events_append_only");
	else
		raw_sql(fx, "DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete");
}

static void
test_audit_verify_names_an_edited_event(void **state)
{
	struct fixture *fx = *state;
	make_events(fx, 5);
	struct store_audit_result res = verify(fx->st);
	assert_true(res.intact);
	assert_int_equal(res.events_checked, 5);
	drop_append_only_guard(fx);
	raw_sql(fx, "UPDATE events SET detail = '{\"n\":333}' WHERE id = 3");
	res = verify(fx->st);
	assert_false(res.intact);
	assert_int_equal(res.broken_id, 3);
	assert_non_null(strstr(res.problem, "event 3"));
	assert_non_null(strstr(res.problem, "does not match its hash"));
}

static void
test_audit_verify_names_an_event_rehashed_after_editing(void **state)
{
	struct fixture *fx = *state;
	make_events(fx, 4);
	drop_append_only_guard(fx);
	/* A forger who also rewrites the hash breaks the next link. */
	raw_sql(fx, "UPDATE events SET hash = "
	            "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' WHERE id = 2");
	struct store_audit_result res = verify(fx->st);
	assert_false(res.intact);
	assert_int_equal(res.broken_id, 2);
}

static void
test_audit_verify_names_a_deleted_event(void **state)
{
	struct fixture *fx = *state;
	make_events(fx, 5);
	drop_append_only_guard(fx);
	raw_sql(fx, "DELETE FROM events WHERE id = 2");
	struct store_audit_result res = verify(fx->st);
	assert_false(res.intact);
	assert_int_equal(res.broken_id, 2);
	assert_non_null(strstr(res.problem, "event 2 is missing"));
}

static void
test_audit_verify_notices_the_last_event_deleted(void **state)
{
	struct fixture *fx = *state;
	make_events(fx, 3);
	drop_append_only_guard(fx);
	raw_sql(fx, "DELETE FROM events WHERE id = 3");
	struct store_audit_result res = verify(fx->st);
	assert_false(res.intact);
	assert_int_equal(res.broken_id, 3);
	assert_non_null(strstr(res.problem, "event 3 is missing"));
}

static void
test_concurrent_appenders_keep_one_chain(void **state)
{
	struct fixture *fx = *state;
	pid_t pids[3];
	for (int r = 0; r < 3; r++) {
		pids[r] = fork();
		assert_true(pids[r] >= 0);
		if (pids[r] == 0) {
			struct store *st;
			struct store_error err;
			struct store_options o = { .spool_dir = fx->spool };
			if (store_open(&st, fx->url, &o, &err))
				_exit(3);
			for (int i = 0; i < 40; i++)
				if (store_event_append(st, 0, "C", "note", NULL, NULL, &err))
					_exit(4);
			store_close(st);
			_exit(0);
		}
	}
	for (int r = 0; r < 3; r++) {
		int status;
		waitpid(pids[r], &status, 0);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	struct store_audit_result res = verify(fx->st);
	assert_true(res.intact);
	assert_int_equal(res.events_checked, 120);
}

/* Threads of one process, each with its own connection as store.h asks,
 * writing at once: every append and every transaction succeeds (writers
 * wait for each other instead of failing), none is lost, and the chain
 * stays whole. */
struct appender {
	const struct fixture *fx;
	int failures;
};

static void *
append_thread(void *arg)
{
	struct appender *a = arg;
	struct store *st;
	struct store_error err;
	struct store_options o = { .spool_dir = a->fx->spool };

	if (store_open(&st, a->fx->url, &o, &err)) {
		a->failures = 1000;
		return NULL;
	}
	for (int i = 0; i < 30; i++) {
		if (store_event_append(st, 0, "T", "note", NULL, NULL, &err))
			a->failures++;
		/* A caller's transaction with two events in it. */
		if (store_tx_begin(st, &err) ||
		    store_event_append(st, 0, "T", "note", NULL, NULL, &err) ||
		    store_event_append(st, 0, "T", "note", NULL, NULL, &err)) {
			store_tx_rollback(st);
			a->failures++;
		} else if (store_tx_commit(st, &err))
			a->failures++;
	}
	store_close(st);
	return NULL;
}

static void
test_threads_writing_at_once_all_succeed_and_keep_one_chain(void **state)
{
	struct fixture *fx = *state;
	pthread_t t[4];
	struct appender a[4];

	for (int i = 0; i < 4; i++) {
		a[i].fx = fx;
		a[i].failures = 0;
		assert_int_equal(pthread_create(&t[i], NULL, append_thread, &a[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(a[i].failures, 0);
	}
	struct store_audit_result res = verify(fx->st);
	assert_true(res.intact);
	assert_int_equal(res.events_checked, 4 * 30 * 3);
}

/* ---- idempotency ----------------------------------------------------------------- */

static void
test_idempotency_key_replays_same_body_and_refuses_another(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	enum store_idem_outcome out;
	int status;
	char *body;
	char h1[65], h2[65];
	store_sha256_hex("{\"order\":1}", 11, h1);
	store_sha256_hex("{\"order\":2}", 11, h2);
	assert_int_equal(store_idempotency_begin(fx->st, "api:erp", "K-1", h1, &out, &status,
	                                         &body, &err), STORE_OK);
	assert_int_equal(out, STORE_IDEM_NEW);
	assert_int_equal(store_idempotency_begin(fx->st, "api:erp", "K-1", h1, &out, &status,
	                                         &body, &err), STORE_OK);
	assert_int_equal(out, STORE_IDEM_IN_PROGRESS);
	assert_int_equal(store_idempotency_finish(fx->st, "api:erp", "K-1", 202,
	                                          "{\"id\":17}", &err), STORE_OK);
	assert_int_equal(store_idempotency_begin(fx->st, "api:erp", "K-1", h1, &out, &status,
	                                         &body, &err), STORE_OK);
	assert_int_equal(out, STORE_IDEM_REPLAY);
	assert_int_equal(status, 202);
	assert_string_equal(body, "{\"id\":17}");
	free(body);
	assert_int_equal(store_idempotency_begin(fx->st, "api:erp", "K-1", h2, &out, &status,
	                                         &body, &err), STORE_OK);
	assert_int_equal(out, STORE_IDEM_CONFLICT);
	assert_null(body);
	/* The same key from another client is another key. */
	assert_int_equal(store_idempotency_begin(fx->st, "api:wms", "K-1", h2, &out, &status,
	                                         &body, &err), STORE_OK);
	assert_int_equal(out, STORE_IDEM_NEW);
	assert_int_equal(store_idempotency_finish(fx->st, "api:erp", "K-1", 500, "x", &err),
	                 STORE_ECONFLICT);
}

/* ---- duplicates -------------------------------------------------------------------- */

static void
test_duplicate_interchange_within_the_window_is_detected(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	int dup;
	int64_t first_id, first_seen;
	const int64_t day = 86400LL * 1000000;
	int64_t t0 = 1763892000000000;
	assert_int_equal(store_duplicate_check(fx->st, "ACME", "isa13", "000000101", t0, day,
	                                       11, &dup, &first_id, &first_seen, &err), 0);
	assert_int_equal(dup, 0);
	assert_int_equal(store_duplicate_check(fx->st, "ACME", "isa13", "000000101",
	                                       t0 + 3600000000LL, day, 12, &dup, &first_id,
	                                       &first_seen, &err), 0);
	assert_int_equal(dup, 1);
	assert_int_equal(first_id, 11);
	assert_int_equal(first_seen, t0);
	/* Another sender, or another kind, is not a duplicate. */
	assert_int_equal(store_duplicate_check(fx->st, "GLOBEX", "isa13", "000000101", t0, day,
	                                       13, &dup, NULL, NULL, &err), 0);
	assert_int_equal(dup, 0);
	assert_int_equal(store_duplicate_check(fx->st, "ACME", "gs06", "000000101", t0, day,
	                                       14, &dup, NULL, NULL, &err), 0);
	assert_int_equal(dup, 0);
	/* Outside the window the number may come back (counters do wrap at
	 * partners), and the new sighting replaces the old. */
	assert_int_equal(store_duplicate_check(fx->st, "ACME", "isa13", "000000101",
	                                       t0 + 2 * day, day, 15, &dup, NULL, NULL, &err), 0);
	assert_int_equal(dup, 0);
	assert_int_equal(store_duplicate_check(fx->st, "ACME", "isa13", "000000101",
	                                       t0 + 2 * day + 1, 0, 16, &dup, &first_id, NULL,
	                                       &err), 0);
	assert_int_equal(dup, 1);
	assert_int_equal(first_id, 15);
}

/* ---- acknowledgments ---------------------------------------------------------------- */

static int64_t
expect_997(struct fixture *fx, int64_t msg, const char *group, int64_t deadline)
{
	struct store_error err;
	struct store_ack_expectation e = { .message_id = msg, .set_count = 2,
		                           .deadline_us = deadline };
	strcpy(e.partner, "acme");
	strcpy(e.ack_type, "997");
	strcpy(e.interchange_control, "000000007");
	strcpy(e.group_control, group);
	strcpy(e.functional_id, "SH");
	if (store_ack_expect(fx->st, &e, &err))
		fail_msg("store_ack_expect: %s", err.message);
	assert_int_equal(e.state, STORE_ACK_PENDING);
	return e.id;
}

static int
collect_set(void *ud, const struct store_ack_set_result *r)
{
	struct collected *c = ud;
	snprintf(c->details[c->n], sizeof c->details[c->n], "%s %s %s %s", r->set_control,
	         r->set_type, r->code, r->detail_json);
	c->n++;
	return 0;
}

static void
test_ack_expectation_is_resolved_with_set_results(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	struct store_ack_expectation e;
	int64_t msg = put_message(fx, fx->st, "ISA*856~", "acme");
	int64_t id = expect_997(fx, msg, "7", store_now_us() + 3600000000LL);
	struct store_ack_expectation dup = { .deadline_us = 1 };
	strcpy(dup.partner, "acme");
	strcpy(dup.ack_type, "997");
	strcpy(dup.interchange_control, "000000007");
	strcpy(dup.group_control, "7");
	assert_int_equal(store_ack_expect(fx->st, &dup, &err), STORE_ECONFLICT);
	assert_int_equal(store_ack_find(fx->st, "acme", "997", "000000007", "7", &e, &err), 0);
	assert_int_equal(e.id, id);
	assert_int_equal(e.message_id, msg);
	assert_string_equal(e.functional_id, "SH");
	/* AK5 codes: A accepted, R rejected (X12 997 AK501). */
	struct store_ack_set_result sets[2] = {
		{ .set_control = "0001", .set_type = "856", .code = "A" },
		{ .set_control = "0002", .set_type = "856", .code = "R",
		  .detail_json = "{\"AK304\":\"8\",\"segment\":\"HL\"}" },
	};
	int64_t ack_at = store_now_us();
	if (store_ack_resolve(fx->st, id, STORE_ACK_PARTIALLY_ACCEPTED, "P", 0, ack_at, sets, 2,
	                      &err))
		fail_msg("store_ack_resolve: %s", err.message);
	assert_int_equal(store_ack_get(fx->st, id, &e, &err), 0);
	assert_int_equal(e.state, STORE_ACK_PARTIALLY_ACCEPTED);
	assert_string_equal(e.ack_code, "P");
	assert_int_equal(e.acked_us, ack_at);
	assert_int_equal(e.overdue_us, 0);
	struct collected c = { 0 };
	assert_int_equal(store_ack_sets_foreach(fx->st, id, collect_set, &c, &err), 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.details[0], "0001 856 A {}");
	assert_string_equal(c.details[1], "0002 856 R {\"AK304\":\"8\",\"segment\":\"HL\"}");
	/* A second ack for a closed group is a conflict for the caller to
	 * record as unmatched. */
	assert_int_equal(store_ack_resolve(fx->st, id, STORE_ACK_ACCEPTED, "A", 0, ack_at, NULL,
	                                   0, &err), STORE_ECONFLICT);
	assert_int_equal(store_ack_resolve(fx->st, id, STORE_ACK_OVERDUE, "A", 0, ack_at, NULL,
	                                   0, &err), STORE_EINVAL);
}

static void
test_late_ack_closes_but_keeps_the_overdue_fact(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	struct store_ack_expectation e;
	int64_t now = store_now_us();
	int64_t late = expect_997(fx, 0, "8", now - 1000);
	int64_t on_time = expect_997(fx, 0, "9", now + 3600000000LL);
	unsigned n;
	assert_int_equal(store_ack_mark_overdue(fx->st, now, &n, &err), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_ack_mark_overdue(fx->st, now, &n, &err), STORE_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_ack_get(fx->st, late, &e, &err), 0);
	assert_int_equal(e.state, STORE_ACK_OVERDUE);
	assert_int_equal(e.overdue_us, now);
	assert_int_equal(store_ack_get(fx->st, on_time, &e, &err), 0);
	assert_int_equal(e.state, STORE_ACK_PENDING);
	assert_int_equal(store_ack_resolve(fx->st, late, STORE_ACK_ACCEPTED, "A", 0, now + 5,
	                                   NULL, 0, &err), STORE_OK);
	assert_int_equal(store_ack_get(fx->st, late, &e, &err), 0);
	assert_int_equal(e.state, STORE_ACK_ACCEPTED);
	assert_int_equal(e.overdue_us, now);
	struct collected c = { 0 };
	assert_int_equal(store_event_foreach(fx->st, NULL, collect_event, &c, &err), 0);
	assert_int_equal(c.n, 4);
	assert_string_equal(c.kinds[2], "ack.overdue");
	assert_string_equal(c.kinds[3], "ack.resolved");
	assert_non_null(strstr(c.details[3], "\"late\":true"));
	assert_non_null(strstr(c.details[3], "\"was_overdue\":true"));
}

static int
count_ack(void *ud, const struct store_ack_expectation *e)
{
	(*(int *)ud)++;
	return 0;
}

static void
test_unmatched_ack_is_recorded_not_dropped(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	int64_t id;
	assert_int_equal(store_ack_unmatched(fx->st, 0, "acme", "997", "000000555", "555",
	                                     store_now_us(), "{\"AK901\":\"A\"}", &id, &err), 0);
	assert_true(id > 0);
	struct collected c = { 0 };
	assert_int_equal(store_event_foreach(fx->st, NULL, collect_event, &c, &err), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.kinds[0], "ack.unmatched");
	assert_non_null(strstr(c.details[0], "\"AK901\":\"A\""));
	int count = 0;
	expect_997(fx, 0, "1", 1);
	struct store_ack_filter f = { .partner = "acme" };
	assert_int_equal(store_ack_foreach(fx->st, &f, count_ack, &count, &err), 0);
	assert_int_equal(count, 1);
	f.partner = "globex";
	count = 0;
	assert_int_equal(store_ack_foreach(fx->st, &f, count_ack, &count, &err), 0);
	assert_int_equal(count, 0);
}

static void
test_ack_expectation_keeps_the_given_send_time(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	struct store_ack_expectation e = { .created_us = 1795435200000000LL,
		                           .deadline_us = 1795521600000000LL };
	strcpy(e.partner, "acme");
	strcpy(e.ack_type, "997");
	strcpy(e.interchange_control, "000000010");
	strcpy(e.group_control, "10");
	assert_int_equal(store_ack_expect(fx->st, &e, &err), STORE_OK);
	struct store_ack_expectation got;
	assert_int_equal(store_ack_get(fx->st, e.id, &got, &err), STORE_OK);
	assert_int_equal(got.created_us, 1795435200000000LL);
	e.created_us = -1;
	strcpy(e.group_control, "11");
	assert_int_equal(store_ack_expect(fx->st, &e, &err), STORE_EINVAL);
}

static void
test_ack_group_lookup_prefers_the_open_expectation(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	struct store_ack_expectation e;
	int64_t deadline = store_now_us() + 3600000000LL;
	int64_t first = expect_997(fx, 0, "42", deadline);
	assert_int_equal(store_ack_resolve(fx->st, first, STORE_ACK_ACCEPTED, "A", 0, 0,
	                                   NULL, 0, &err), STORE_OK);
	/* The same group number again in another interchange (an imported
	 * history): the one still waiting for its ack is the match. */
	struct store_ack_expectation again = { .deadline_us = deadline };
	strcpy(again.partner, "acme");
	strcpy(again.ack_type, "997");
	strcpy(again.interchange_control, "000000099");
	strcpy(again.group_control, "42");
	assert_int_equal(store_ack_expect(fx->st, &again, &err), STORE_OK);
	assert_int_equal(store_ack_find_group(fx->st, "acme", "997", "42", &e, &err), 0);
	assert_int_equal(e.id, again.id);
	assert_string_equal(e.interchange_control, "000000099");
	assert_int_equal(store_ack_resolve(fx->st, again.id, STORE_ACK_REJECTED, "R", 0, 0,
	                                   NULL, 0, &err), STORE_OK);
	/* Both closed: the newest. */
	assert_int_equal(store_ack_find_group(fx->st, "acme", "997", "42", &e, &err), 0);
	assert_int_equal(e.id, again.id);
	assert_int_equal(store_ack_find_group(fx->st, "acme", "999", "42", &e, &err),
	                 STORE_ENOTFOUND);
	assert_int_equal(store_ack_find_group(fx->st, "globex", "997", "42", &e, &err),
	                 STORE_ENOTFOUND);
}

static int
collect_unmatched(void *ud, const struct store_ack_unmatched_row *u)
{
	struct collected *c = ud;
	snprintf(c->details[c->n], sizeof c->details[c->n], "%s %s %s %s %" PRId64 " %s",
	         u->partner, u->ack_type, u->interchange_control, u->group_control,
	         u->received_us, u->detail_json);
	c->n++;
	return 0;
}

static void
test_unmatched_acks_are_listed_by_partner_and_time(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	assert_int_equal(store_ack_unmatched(fx->st, 0, "acme", "997", "", "555", 1000,
	                                     "{\"AK901\":\"A\"}", NULL, &err), 0);
	assert_int_equal(store_ack_unmatched(fx->st, 0, "globex", "TA1", "000000777", "", 2000,
	                                     NULL, NULL, &err), 0);
	assert_int_equal(store_ack_unmatched(fx->st, 0, "acme", "999", "", "556", 3000, NULL,
	                                     NULL, &err), 0);
	struct collected c = { 0 };
	assert_int_equal(store_ack_unmatched_foreach(fx->st, NULL, collect_unmatched, &c, &err),
	                 0);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.details[0], "acme 997  555 1000 {\"AK901\":\"A\"}");
	assert_string_equal(c.details[1], "globex TA1 000000777  2000 {}");
	struct store_ack_filter f = { .partner = "acme", .since_us = 1001 };
	memset(&c, 0, sizeof c);
	assert_int_equal(store_ack_unmatched_foreach(fx->st, &f, collect_unmatched, &c, &err), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.details[0], "acme 999  556 3000 {}");
	f.since_us = 0;
	f.until_us = 1000;
	memset(&c, 0, sizeof c);
	assert_int_equal(store_ack_unmatched_foreach(fx->st, &f, collect_unmatched, &c, &err), 0);
	assert_int_equal(c.n, 0);
}

/* ---- delivery queue -------------------------------------------------------------------- */

static void
test_delivery_retries_dies_and_replays(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	struct store_delivery d;
	int64_t id, again;
	int existed, dead;
	int64_t now = store_now_us();
	int64_t msg = put_message(fx, fx->st, "{\"type\":\"order\"}", "acme");
	assert_int_equal(store_delivery_enqueue(fx->st, msg, "erp", "acme-850-1", now + 1000000,
	                                        &id, &existed, &err), 0);
	assert_int_equal(existed, 0);
	assert_int_equal(store_delivery_enqueue(fx->st, msg, "erp", "acme-850-1", now, &again,
	                                        &existed, &err), 0);
	assert_int_equal(existed, 1);
	assert_int_equal(again, id);
	/* Not due yet. */
	assert_int_equal(store_delivery_claim(fx->st, "w1", now, 30000000, &d, &err),
	                 STORE_ENOTFOUND);
	now += 2000000;
	assert_int_equal(store_delivery_claim(fx->st, "w1", now, 30000000, &d, &err), 0);
	assert_int_equal(d.id, id);
	assert_int_equal(d.attempts, 1);
	assert_int_equal(d.state, STORE_DELIVERY_CLAIMED);
	assert_string_equal(d.endpoint, "erp");
	assert_int_equal(store_delivery_fail(fx->st, id, "w1", "HTTP 503", now + 1000, 2, &dead,
	                                     &err), 0);
	assert_int_equal(dead, 0);
	assert_int_equal(store_delivery_claim(fx->st, "w1", now, 30000000, &d, &err),
	                 STORE_ENOTFOUND);
	assert_int_equal(store_delivery_claim(fx->st, "w1", now + 1000, 30000000, &d, &err), 0);
	assert_int_equal(d.attempts, 2);
	assert_int_equal(store_delivery_fail(fx->st, id, "w1", "HTTP 503", now + 2000, 2, &dead,
	                                     &err), 0);
	assert_int_equal(dead, 1);
	assert_int_equal(store_delivery_get(fx->st, id, &d, &err), 0);
	assert_int_equal(d.state, STORE_DELIVERY_DEAD);
	assert_string_equal(d.last_error, "HTTP 503");
	assert_int_equal(store_delivery_claim(fx->st, "w1", now + 1000000000, 1, &d, &err),
	                 STORE_ENOTFOUND);
	assert_int_equal(store_delivery_replay(fx->st, id, now, &err), 0);
	assert_int_equal(store_delivery_claim(fx->st, "w2", now, 30000000, &d, &err), 0);
	assert_int_equal(d.attempts, 1);
	assert_string_equal(d.idempotency_key, "acme-850-1");
	assert_int_equal(store_delivery_done(fx->st, id, "w1", &err), STORE_ECONFLICT);
	assert_int_equal(store_delivery_done(fx->st, id, "w2", &err), 0);
	assert_int_equal(store_delivery_done(fx->st, id, "w2", &err), STORE_ECONFLICT);
	assert_int_equal(store_delivery_get(fx->st, id, &d, &err), 0);
	assert_int_equal(d.state, STORE_DELIVERY_DELIVERED);
	assert_true(verify(fx->st).intact);
}

static void
test_expired_lease_is_claimed_by_another_worker(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	struct store_delivery d;
	int64_t id, now = store_now_us();
	assert_int_equal(store_delivery_enqueue(fx->st, 0, "wms", "k", now, &id, NULL, &err), 0);
	assert_int_equal(store_delivery_claim(fx->st, "node-a", now, 1000000, &d, &err), 0);
	assert_int_equal(store_delivery_claim(fx->st, "node-b", now + 10, 1000000, &d, &err),
	                 STORE_ENOTFOUND);
	assert_int_equal(store_delivery_claim(fx->st, "node-b", now + 2000000, 1000000, &d, &err),
	                 0);
	assert_string_equal(d.claimed_by, "node-b");
	assert_int_equal(d.attempts, 2);
	assert_int_equal(store_delivery_done(fx->st, id, "node-a", &err), STORE_ECONFLICT);
}

static void
test_ordered_delivery_waits_while_an_earlier_one_of_its_key_is_pending(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	struct store_delivery d;
	int64_t first, second, other, now = store_now_us();
	int dead = 0;
	assert_int_equal(store_delivery_enqueue_ordered(fx->st, 0, "webhook:erp", "k1",
	                                                "webhook:erp|acme|PO1", now, &first,
	                                                NULL, &err), 0);
	assert_int_equal(store_delivery_enqueue_ordered(fx->st, 0, "webhook:erp", "k2",
	                                                "webhook:erp|acme|PO1", now, &second,
	                                                NULL, &err), 0);
	assert_int_equal(store_delivery_enqueue_ordered(fx->st, 0, "webhook:erp", "k3",
	                                                "webhook:erp|acme|PO2", now, &other,
	                                                NULL, &err), 0);
	/* The first fails and waits for its retry: the second of PO1 may
	 * not overtake it, PO2 goes on. */
	assert_int_equal(store_delivery_claim(fx->st, "w", now, 1000000, &d, &err), 0);
	assert_int_equal(d.id, first);
	assert_int_equal(store_delivery_fail(fx->st, first, "w", "503", now + 5000000, 3, &dead,
	                                     &err), 0);
	assert_int_equal(dead, 0);
	assert_int_equal(store_delivery_claim(fx->st, "w", now + 10, 1000000, &d, &err), 0);
	assert_int_equal(d.id, other);
	assert_int_equal(store_delivery_done(fx->st, other, "w", &err), 0);
	assert_int_equal(store_delivery_claim(fx->st, "w", now + 20, 1000000, &d, &err),
	                 STORE_ENOTFOUND);
	/* Due again, the first goes before the second. */
	assert_int_equal(store_delivery_claim(fx->st, "w", now + 6000000, 1000000, &d, &err), 0);
	assert_int_equal(d.id, first);
	assert_int_equal(store_delivery_done(fx->st, first, "w", &err), 0);
	assert_int_equal(store_delivery_claim(fx->st, "w", now + 6000010, 1000000, &d, &err), 0);
	assert_int_equal(d.id, second);
}

static void
test_dead_delivery_no_longer_holds_its_key_back(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	struct store_delivery d;
	int64_t first, second, now = store_now_us();
	int dead = 0;
	assert_int_equal(store_delivery_enqueue_ordered(fx->st, 0, "as2:acme", "k1",
	                                                "as2:acme|acme|PO1", now, &first, NULL,
	                                                &err), 0);
	assert_int_equal(store_delivery_enqueue_ordered(fx->st, 0, "as2:acme", "k2",
	                                                "as2:acme|acme|PO1", now, &second, NULL,
	                                                &err), 0);
	assert_int_equal(store_delivery_claim(fx->st, "w", now, 1000000, &d, &err), 0);
	assert_int_equal(d.id, first);
	assert_int_equal(store_delivery_fail(fx->st, first, "w", "400", now, 1, &dead, &err), 0);
	assert_int_equal(dead, 1);
	assert_int_equal(store_delivery_claim(fx->st, "w", now + 10, 1000000, &d, &err), 0);
	assert_int_equal(d.id, second);
}

#define JOBS 60

static void
test_workers_claiming_at_once_never_take_the_same_delivery(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	int64_t now = store_now_us();
	for (int i = 0; i < JOBS; i++) {
		char key[32];
		snprintf(key, sizeof key, "job-%d", i);
		assert_int_equal(store_delivery_enqueue(fx->st, 0, "erp", key, now, NULL, NULL, &err),
		                 0);
	}
	int fds[2];
	pid_t pids[3];
	assert_int_equal(pipe(fds), 0);
	for (int r = 0; r < 3; r++) {
		pids[r] = fork();
		assert_true(pids[r] >= 0);
		if (pids[r] == 0) {
			struct store *st;
			struct store_options o = { .spool_dir = fx->spool };
			char worker[16];
			close(fds[0]);
			snprintf(worker, sizeof worker, "w%d", r);
			if (store_open(&st, fx->url, &o, &err))
				_exit(3);
			for (;;) {
				struct store_delivery d;
				int rc = store_delivery_claim(st, worker, now, 600000000, &d, &err);
				if (rc == STORE_ENOTFOUND)
					break;
				if (rc || store_delivery_done(st, d.id, worker, &err))
					_exit(4);
				if (write(fds[1], &d.id, sizeof d.id) != sizeof d.id)
					_exit(5);
			}
			store_close(st);
			_exit(0);
		}
	}
	close(fds[1]);
	int64_t got[JOBS + 8];
	size_t n = 0;
	int64_t v;
	while (n < JOBS + 8 && read(fds[0], &v, sizeof v) == sizeof v)
		got[n++] = v;
	close(fds[0]);
	for (int r = 0; r < 3; r++) {
		int status;
		waitpid(pids[r], &status, 0);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(n, JOBS);
	qsort(got, n, sizeof *got, cmp_i64);
	for (size_t i = 1; i < n; i++)
		assert_true(got[i] != got[i - 1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migrations_apply_once_and_are_idempotent,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_processes_opening_a_fresh_store_at_once_migrate_it_once, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_default_spool_serves_stores_opened_without_one, setup_open,
		    teardown),
		cmocka_unit_test_setup_teardown(test_altered_migration_is_refused, setup_open,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_is_refused, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_message_without_payload_in_spool_is_refused,
		                                setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_message_round_trips_and_records_an_event,
		                                setup_open, teardown),
		cmocka_unit_test_setup_teardown(
			test_state_change_is_an_event_and_checks_the_expected_state, setup_open,
			teardown),
		cmocka_unit_test_setup_teardown(test_event_detail_must_be_a_json_object,
		                                setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_message_list_filters_and_pages, setup_open,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_grouped_calls_commit_or_roll_back_together,
		                                setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_claim_takes_a_received_message_for_one_owner_only,
		                                setup_open, teardown),
		cmocka_unit_test_setup_teardown(
			test_processes_claiming_one_message_at_once_have_one_winner, setup_open,
			teardown),
		cmocka_unit_test_setup_teardown(test_claim_is_released_only_after_its_lease_ran_out,
		                                setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_renewal_keeps_only_the_owners_claims_alive,
		                                setup_open, teardown),
		cmocka_unit_test_setup_teardown(
			test_forced_release_takes_a_running_claim_and_old_rows_count_as_expired,
			setup_open, teardown),
		cmocka_unit_test_setup_teardown(
			test_control_numbers_start_at_one_per_partner_and_kind, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_control_numbers_never_wrap, setup_open,
		                                teardown),
		cmocka_unit_test_setup_teardown(
			test_processes_taking_control_numbers_at_once_never_share_one, setup_open,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_kill_between_spool_write_and_commit_leaves_no_message, setup_open,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_kill_during_a_stream_of_stores_loses_nothing_reported, setup_open,
			teardown),
		cmocka_unit_test(test_event_hash_follows_the_documented_canonical_form),
		cmocka_unit_test_setup_teardown(test_events_refuse_update_and_delete, setup_open,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_audit_verify_names_an_edited_event, setup_open,
		                                teardown),
		cmocka_unit_test_setup_teardown(
			test_audit_verify_names_an_event_rehashed_after_editing, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_audit_verify_names_a_deleted_event, setup_open,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_audit_verify_notices_the_last_event_deleted,
		                                setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_appenders_keep_one_chain,
		                                setup_open, teardown),
		cmocka_unit_test_setup_teardown(
			test_threads_writing_at_once_all_succeed_and_keep_one_chain, setup_open,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_idempotency_key_replays_same_body_and_refuses_another, setup_open,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_duplicate_interchange_within_the_window_is_detected, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_ack_expectation_is_resolved_with_set_results,
		                                setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_late_ack_closes_but_keeps_the_overdue_fact,
		                                setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_ack_expectation_keeps_the_given_send_time,
		                                setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_ack_group_lookup_prefers_the_open_expectation,
		                                setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_unmatched_acks_are_listed_by_partner_and_time,
		                                setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_unmatched_ack_is_recorded_not_dropped,
		                                setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_delivery_retries_dies_and_replays, setup_open,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_expired_lease_is_claimed_by_another_worker,
		                                setup_open, teardown),
		cmocka_unit_test_setup_teardown(
			test_ordered_delivery_waits_while_an_earlier_one_of_its_key_is_pending,
			setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_dead_delivery_no_longer_holds_its_key_back,
		                                setup_open, teardown),
		cmocka_unit_test_setup_teardown(
			test_workers_claiming_at_once_never_take_the_same_delivery, setup_open,
			teardown),
		/* PostgreSQL only, kept last (SQLite has no connection to lose). */
		cmocka_unit_test_setup_teardown(test_store_reconnects_after_the_server_dropped_it,
		                                setup_open, teardown),
	};
	size_t n = sizeof tests / sizeof tests[0];
	if (!pg_base())
		return _cmocka_run_group_tests("store (sqlite)", tests, n - 1, NULL, NULL);
	return _cmocka_run_group_tests("store (postgresql)", tests, n, NULL, NULL);
}
