/*
 * test_cmd_store - `edigate store` and `edigate audit` as an operator and
 * an auditor use them. The export is re-verified here the way an auditor
 * would, from the format documented in the command's help, without the
 * store's code.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "commands.h"
#include "store.h"

struct fx {
	char dir[128];
	char db[200];
	char out[200];
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/edigate-cli-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof f->db, "%s/edigate.db", f->dir);
	snprintf(f->out, sizeof f->out, "%s/stdout", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[200];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	int rc = system(cmd);
	free(f);
	return rc == 0 ? 0 : -1;
}

/* Runs a command with its stdout in f->out; returns its exit status. */
static int
run(struct fx *f, int (*cmd)(int, char **), ...)
{
	char *argv[16];
	int argc = 0;
	va_list ap;
	va_start(ap, cmd);
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	FILE *o = fopen(f->out, "w");
	dup2(fileno(o), STDOUT_FILENO);
	int rc = cmd(argc, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	fclose(o);
	return rc;
}

static char *
output(struct fx *f)
{
	static char buf[8192];
	FILE *o = fopen(f->out, "r");
	size_t n = fread(buf, 1, sizeof buf - 1, o);
	fclose(o);
	buf[n] = '\0';
	return buf;
}

static void
add_events(struct fx *f, int n)
{
	struct store *st;
	struct store_error err;
	assert_int_equal(store_open(&st, f->db, NULL, &err), STORE_OK);
	for (int i = 0; i < n; i++)
		assert_int_equal(store_event_append(st, 0, "C-1", "note", "{\"who\":\"ops\"}", NULL,
		                                    &err), STORE_OK);
	store_close(st);
}

static void
test_store_migrate_then_info(void **state)
{
	struct fx *f = *state;
	assert_int_equal(run(f, cmd_store, "store", "migrate", "--store", f->db, NULL), 0);
	assert_non_null(strstr(output(f), "applied 4 migrations; schema version 4 (sqlite)"));
	assert_int_equal(run(f, cmd_store, "store", "migrate", "--store", f->db, NULL), 0);
	assert_non_null(strstr(output(f), "applied 0 migrations; schema version 4"));
	assert_int_equal(run(f, cmd_store, "store", "info", "--store", f->db, NULL), 0);
	char *o = output(f);
	assert_non_null(strstr(o, "backend:            sqlite"));
	assert_non_null(strstr(o, "schema version:     4 (this edigate: 4)\n"));
	assert_non_null(strstr(o, "messages:           0"));
}

static void
test_store_info_shows_an_unmigrated_store(void **state)
{
	struct fx *f = *state;
	assert_int_equal(run(f, cmd_store, "store", "info", "--store", f->db, NULL), 0);
	assert_non_null(strstr(output(f), "schema version:     0 (this edigate: 4) - run"));
}

static void
test_store_rejects_unknown_subcommands(void **state)
{
	struct fx *f = *state;
	assert_int_equal(run(f, cmd_store, "store", "drop", "--store", f->db, NULL), 2);
	assert_int_equal(run(f, cmd_store, "store", NULL), 2);
	assert_int_equal(run(f, cmd_audit, "audit", "verify", "--since", "2026-01-01", NULL), 2);
}

static void
test_store_requeue_hands_back_a_claim_only_once_it_ran_out_or_forced(void **state)
{
	struct fx *f = *state;
	struct store *st;
	struct store_error err;
	struct spool_error serr;
	struct store_message m = { .direction = STORE_IN };
	const char *body = "ISA*requeue~";
	assert_int_equal(store_open(&st, f->db, NULL, &err), STORE_OK);
	assert_int_equal(spool_put(store_spool(st), body, strlen(body), m.payload_hash, &serr),
	                 SPOOL_OK);
	m.size = (int64_t)strlen(body);
	strcpy(m.partner, "acme");
	strcpy(m.transport, "as2");
	strcpy(m.message_type, "850");
	strcpy(m.state, "received");
	assert_int_equal(store_message_put(st, &m, NULL, &err), STORE_OK);
	assert_int_equal(store_message_claim(st, m.id, "node-a:1:1", 3600LL * 1000000, &err),
	                 STORE_OK);
	char id[24];
	snprintf(id, sizeof id, "%lld", (long long)m.id);
	/* node-a may still be working on it. */
	assert_int_equal(run(f, cmd_store, "store", "requeue", "--store", f->db, id, NULL), 2);
	assert_int_equal(run(f, cmd_store, "store", "requeue", "--store", f->db, "--force", id,
	                     NULL), 0);
	char want[96];
	snprintf(want, sizeof want, "message %s is received again (was claimed by node-a:1:1)",
	         id);
	assert_non_null(strstr(output(f), want));
	struct store_message got;
	assert_int_equal(store_message_get(st, m.id, &got, &err), STORE_OK);
	assert_string_equal(got.state, "received");
	/* Not processing any more: nothing to hand back. */
	assert_int_equal(run(f, cmd_store, "store", "requeue", "--store", f->db, id, NULL), 2);
	assert_int_equal(run(f, cmd_store, "store", "requeue", "--store", f->db, "x1", NULL), 2);
	assert_int_equal(run(f, cmd_store, "store", "requeue", "--store", f->db, NULL), 2);
	store_close(st);
}

static void
test_audit_verify_exit_status_follows_the_chain(void **state)
{
	struct fx *f = *state;
	sqlite3 *db;
	add_events(f, 4);
	assert_int_equal(run(f, cmd_audit, "audit", "verify", "--store", f->db, NULL), 0);
	assert_non_null(strstr(output(f), "audit chain intact: 4 events verified"));
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TRIGGER events_no_update;"
	                                  "UPDATE events SET kind = 'other' WHERE id = 2",
	                              NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(run(f, cmd_audit, "audit", "verify", "--store", f->db, NULL), 1);
	assert_non_null(strstr(output(f), "audit chain BROKEN at event 2:"));
}

static void
hex(const unsigned char *d, char out[65])
{
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

/* What an auditor does with an export: recompute every hash from the
 * documented form and follow prev_hash from line to line. */
static int
auditor_verifies(const char *path, int *lines)
{
	FILE *in = fopen(path, "r");
	char line[8192], prev[65] = "";
	*lines = 0;
	while (fgets(line, sizeof line, in)) {
		json_error_t jerr;
		json_t *o = json_loads(line, 0, &jerr);
		if (!o)
			return -1;
		char buf[8192];
		const char *corr = json_string_value(json_object_get(o, "correlation_id"));
		const char *kind = json_string_value(json_object_get(o, "kind"));
		const char *detail = json_string_value(json_object_get(o, "detail"));
		const char *ph = json_string_value(json_object_get(o, "prev_hash"));
		const char *h = json_string_value(json_object_get(o, "hash"));
		json_t *mid = json_object_get(o, "message_id");
		char id[24], t[24], m[24] = "";
		snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(o, "id")));
		snprintf(t, sizeof t, "%lld",
		         (long long)json_integer_value(json_object_get(o, "time_us")));
		if (json_is_integer(mid))
			snprintf(m, sizeof m, "%lld", (long long)json_integer_value(mid));
		int n = snprintf(buf, sizeof buf, "%s15:edigate-event-1,%zu:%s,%zu:%s,%zu:%s,%zu:%s,"
		                 "%zu:%s,%zu:%s,",
		                 ph, strlen(id), id, strlen(t), t, strlen(m), m, strlen(corr), corr,
		                 strlen(kind), kind, strlen(detail), detail);
		unsigned char d[32];
		unsigned dlen;
		char computed[65];
		EVP_Digest(buf, (size_t)n, d, &dlen, EVP_sha256(), NULL);
		hex(d, computed);
		int ok = strcmp(computed, h) == 0 && (!prev[0] || strcmp(prev, ph) == 0);
		snprintf(prev, sizeof prev, "%s", h);
		json_decref(o);
		if (!ok)
			return -1;
		(*lines)++;
	}
	fclose(in);
	return 0;
}

static void
test_audit_export_can_be_reverified_by_an_auditor(void **state)
{
	struct fx *f = *state;
	char path[256];
	int lines;
	add_events(f, 5);
	snprintf(path, sizeof path, "%s/export.jsonl", f->dir);
	assert_int_equal(run(f, cmd_audit, "audit", "export", "--store", f->db, "--since",
	                     "2020-01-01", "--until", "2100-01-01T00:00:00Z", "--output", path,
	                     NULL), 0);
	assert_int_equal(auditor_verifies(path, &lines), 0);
	assert_int_equal(lines, 5);
	/* A period with nothing in it exports nothing. */
	assert_int_equal(run(f, cmd_audit, "audit", "export", "--store", f->db, "--until",
	                     "2020-01-01", "--output", path, NULL), 0);
	assert_int_equal(auditor_verifies(path, &lines), 0);
	assert_int_equal(lines, 0);
	assert_int_equal(run(f, cmd_audit, "audit", "export", "--store", f->db, "--since",
	                     "yesterday", NULL), 2);
}

/* One RFC 4180 record without line breaks inside fields (the export's
 * detail is compact JSON, whose strings escape them): fields into f. */
static int
csv_split(char *line, char *f[], int max)
{
	int n = 0;
	char *p = line, *w;
	line[strcspn(line, "\r\n")] = '\0';
	while (n < max) {
		f[n++] = w = p;
		if (*p == '"') {
			p++;
			for (;;) {
				if (*p == '\0')
					return -1;
				if (*p == '"' && p[1] == '"') {
					*w++ = '"';
					p += 2;
				} else if (*p == '"') {
					p++;
					break;
				} else {
					*w++ = *p++;
				}
			}
		} else {
			while (*p && *p != ',')
				*w++ = *p++;
		}
		if (*p == '\0') {
			*w = '\0';
			return n;
		}
		if (*p != ',')
			return -1;
		*w = '\0';
		p++;
	}
	return -1;
}

static void
test_audit_export_as_csv_can_be_reverified_too(void **state)
{
	struct fx *f = *state;
	char path[256], line[8192], prev[65] = "";
	char *fl[9];
	int rows = 0;
	add_events(f, 3);
	snprintf(path, sizeof path, "%s/export.csv", f->dir);
	assert_int_equal(run(f, cmd_audit, "audit", "export", "--store", f->db, "--format", "csv",
	                     "--output", path, NULL), 0);
	FILE *in = fopen(path, "r");
	assert_non_null(fgets(line, sizeof line, in));
	assert_string_equal(line, "id,time,time_us,message_id,correlation_id,kind,detail,"
	                          "prev_hash,hash\r\n");
	while (fgets(line, sizeof line, in)) {
		assert_int_equal(csv_split(line, fl, 9), 9);
		/* The detail of add_events, {"who":"ops"}, comes back exact. */
		assert_string_equal(fl[6], "{\"who\":\"ops\"}");
		assert_string_equal(fl[3], "");
		char buf[8192];
		int n = snprintf(buf, sizeof buf, "%s15:edigate-event-1,%zu:%s,%zu:%s,0:,%zu:%s,"
		                 "%zu:%s,%zu:%s,",
		                 fl[7], strlen(fl[0]), fl[0], strlen(fl[2]), fl[2], strlen(fl[4]),
		                 fl[4], strlen(fl[5]), fl[5], strlen(fl[6]), fl[6]);
		unsigned char d[32];
		unsigned dlen;
		char computed[65];
		EVP_Digest(buf, (size_t)n, d, &dlen, EVP_sha256(), NULL);
		hex(d, computed);
		assert_string_equal(computed, fl[8]);
		if (prev[0])
			assert_string_equal(prev, fl[7]);
		snprintf(prev, sizeof prev, "%s", fl[8]);
		rows++;
	}
	fclose(in);
	assert_int_equal(rows, 3);
	assert_int_equal(run(f, cmd_audit, "audit", "export", "--store", f->db, "--format", "xml",
	                     NULL), 2);
	assert_int_equal(run(f, cmd_audit, "audit", "verify", "--store", f->db, "--format", "csv",
	                     NULL), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_migrate_then_info, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_store_requeue_hands_back_a_claim_only_once_it_ran_out_or_forced, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_store_info_shows_an_unmigrated_store, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_store_rejects_unknown_subcommands, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_audit_verify_exit_status_follows_the_chain,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_export_can_be_reverified_by_an_auditor,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_export_as_csv_can_be_reverified_too,
		                                setup, teardown),
	};
	return cmocka_run_group_tests_name("edigate store/audit", tests, NULL, NULL);
}
