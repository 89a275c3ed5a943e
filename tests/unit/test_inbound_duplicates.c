/*
 * test_inbound_duplicates - the inbound pipeline refuses an interchange or
 * a group whose control number the partner used before within the
 * duplicate window: the answer says so (TA1 025, AK9 R, CONTRL 26), the
 * original stays, and nothing is translated or routed twice.
 *
 * EDIGATE_TEST_STORE selects the backend like test_store: unset uses a
 * SQLite file per test; a postgresql:// URL (of a maintenance database)
 * makes every test create and drop its own database on that server.
 * tests/integration/inbound_duplicates_pg.sh starts a throwaway cluster
 * and runs this program against it.
 *
 * The expected acknowledgment segments are written by hand: TA105 025
 * "duplicate interchange control number" (X12 I18); AK905 19 "functional
 * group control number not unique" (X12 716, 005010 and later; 004010
 * has no such code, so the 997 says AK9 R without one); CONTRL 0085 26
 * "duplicate detected" (ISO 9735 service code list), with S011 0098 6:
 * UNB 0020 and UNG 0048 are the fifth data element, the tag counting 1.
 */
#define _GNU_SOURCE /* asprintf */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "inbound.h"
#include "partner_set.h"
#include "store.h"

#define DAY_US (86400LL * 1000000LL)

struct fixture {
	char dir[256];
	char url[1024];
	char spool[300];
	char dbname[64];
	int pg;
	struct store *st;
	struct partner_set *ps;
	struct inbound *in;
};

static int routed;
static int counter;
static char top[1024];

static const char *
pg_base(void)
{
	const char *e = getenv("EDIGATE_TEST_STORE");
	if (e && (strncmp(e, "postgresql://", 13) == 0 ||
	    strncmp(e, "postgres://", 11) == 0))
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
pg_exec(const char *url, const char *sql)
{
	PGconn *c = PQconnectdb(url);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
}

/* SQL behind the store's back, the way someone with database access
 * would run it: here to age a sighting. */
static void
raw_sql(const struct fixture *fx, const char *sql)
{
	if (fx->pg) {
		pg_exec(fx->url, sql);
	} else {
		sqlite3 *db;
		char *msg = NULL;
		assert_int_equal(sqlite3_open(fx->url, &db), SQLITE_OK);
		if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
			fail_msg("%s: %s", sql, msg);
		sqlite3_close(db);
	}
}

static int
route_hook(void *ctx, struct store *s, const struct inbound_document *d,
    char *err, size_t errsize)
{
	(void)ctx;
	(void)s;
	(void)d;
	(void)err;
	(void)errsize;
	routed++;
	return 0;
}

static void
write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static struct inbound *
new_inbound(struct fixture *fx, int64_t window_us)
{
	struct inbound_options opts;
	char maps[2048], err[512];
	struct inbound *in;

	memset(&opts, 0, sizeof(opts));
	snprintf(maps, sizeof(maps), "%s/maps", top);
	opts.maps_dir = maps;
	opts.duplicate_window_us = window_us;
	in = inbound_new(NULL, &opts, err, sizeof(err));
	if (in == NULL)
		fail_msg("inbound_new: %s", err);
	inbound_set_partners(in, fx->ps);
	assert_int_equal(inbound_route_register(in, route_hook, NULL), 0);
	return in;
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	const char *t = getenv("top_srcdir");
	char pdir[300], xsd[2048], *perr = NULL;
	struct store_options so;
	struct store_error serr;

	snprintf(top, sizeof(top), "%s", t ? t : ".");
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/edigate-dup-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->spool, sizeof(fx->spool), "%s/spool", fx->dir);
	snprintf(pdir, sizeof(pdir), "%s/partners", fx->dir);
	assert_int_equal(mkdir(pdir, 0700), 0);
	/* acme asks for 997s; beta names no ack, so it gets a 999 for
	 * 005010 and a CONTRL for EDIFACT. */
	write_file(pdir, "acme.xml",
	    "<?xml version=\"1.0\"?>\n"
	    "<partner id=\"acme\" name=\"ACME\">\n"
	    "  <identity><x12 isa-qualifier=\"ZZ\" isa-id=\"ACMEBUYER\" gs-id=\"ACMEBUYER\"/></identity>\n"
	    "  <messages><message direction=\"in\" standard=\"x12\" version=\"004010\" type=\"850\"/></messages>\n"
	    "  <acknowledgment type=\"997\"/>\n"
	    "</partner>\n");
	write_file(pdir, "beta.xml",
	    "<?xml version=\"1.0\"?>\n"
	    "<partner id=\"beta\" name=\"Beta\">\n"
	    "  <identity><x12 isa-qualifier=\"ZZ\" isa-id=\"ACMEBUYER\" gs-id=\"ACMEBUYER\"/></identity>\n"
	    "  <messages><message direction=\"in\" standard=\"x12\" version=\"005010\" type=\"850\"/></messages>\n"
	    "</partner>\n");
	/* gamma's profile agrees no duplicate check; delta's a day. */
	write_file(pdir, "gamma.xml",
	    "<?xml version=\"1.0\"?>\n"
	    "<partner id=\"gamma\" name=\"Gamma\">\n"
	    "  <identity><x12 isa-qualifier=\"ZZ\" isa-id=\"ACMEBUYER\" gs-id=\"ACMEBUYER\"/></identity>\n"
	    "  <messages><message direction=\"in\" standard=\"x12\" version=\"004010\" type=\"850\"/></messages>\n"
	    "  <acknowledgment type=\"997\" duplicate-window=\"off\"/>\n"
	    "</partner>\n");
	write_file(pdir, "delta.xml",
	    "<?xml version=\"1.0\"?>\n"
	    "<partner id=\"delta\" name=\"Delta\">\n"
	    "  <identity><x12 isa-qualifier=\"ZZ\" isa-id=\"ACMEBUYER\" gs-id=\"ACMEBUYER\"/></identity>\n"
	    "  <messages><message direction=\"in\" standard=\"x12\" version=\"004010\" type=\"850\"/></messages>\n"
	    "  <acknowledgment duplicate-window=\"1d\"/>\n"
	    "</partner>\n");
	snprintf(xsd, sizeof(xsd), "%s/partners/partner.xsd", top);
	fx->ps = partner_set_load(pdir, xsd, NULL, &perr);
	if (fx->ps == NULL)
		fail_msg("partners: %s", perr ? perr : "?");
	if (pg_base()) {
		char sql[128];
		fx->pg = 1;
		snprintf(fx->dbname, sizeof(fx->dbname), "edigate_dup_%d_%d",
		    (int)getpid(), ++counter);
		snprintf(sql, sizeof(sql), "CREATE DATABASE %s", fx->dbname);
		pg_exec(pg_base(), sql);
		url_with_db(pg_base(), fx->dbname, fx->url, sizeof(fx->url));
	} else {
		snprintf(fx->url, sizeof(fx->url), "%s/edigate.db", fx->dir);
	}
	memset(&so, 0, sizeof(so));
	so.spool_dir = fx->spool;
	if (store_open(&fx->st, fx->url, &so, &serr) != STORE_OK)
		fail_msg("store_open: %s", serr.message);
	fx->in = new_inbound(fx, 0);
	routed = 0;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[400];

	inbound_free(fx->in);
	partner_set_unref(fx->ps);
	store_close(fx->st);
	if (fx->pg) {
		snprintf(cmd, sizeof(cmd), "DROP DATABASE IF EXISTS %s WITH "
		    "(FORCE)", fx->dbname);
		pg_exec(pg_base(), cmd);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	free(fx);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- interchanges ------------------------------------------------------ */

/* An 850 for 004010 with ISA13, GS06, the order number and IEA01 (the
 * group count, "1" when right) given. */
static char *
x12_4010_count(const char *isa13, const char *gs06, const char *po,
    const char *iea01)
{
	char *s = NULL;
	int n = asprintf(&s,
	    "ISA*00*          *00*          *ZZ*ACMEBUYER      *ZZ*EDIGATEDEMO    "
	    "*261123*0930*U*00401*%s*0*P*>~\n"
	    "GS*PO*ACMEBUYER*EDIGATEDEMO*20261123*0930*%s*X*004010~\n"
	    "ST*850*0001~\n"
	    "BEG*00*SA*%s**20261123~\n"
	    "REF*DP*042~\n"
	    "DTM*002*20261201~\n"
	    "N1*ST*STORE 42*92*0042~\n"
	    "N3*100 MAIN ST~\n"
	    "N4*SPRINGFIELD*IL*62701*US~\n"
	    "PO1*1*12*EA*3.50**UP*012345678905*VN*SKU1~\n"
	    "PID*F****BLUE WIDGET~\n"
	    "CTT*1~\n"
	    "SE*11*0001~\n"
	    "GE*1*%s~\n"
	    "IEA*%s*%s~\n", isa13, gs06, po, gs06, iea01, isa13);
	assert_true(n > 0);
	return s;
}

static char *
x12_4010(const char *isa13, const char *gs06, const char *po)
{
	return x12_4010_count(isa13, gs06, po, "1");
}

/* The same for 005010. */
static char *
x12_5010(const char *isa13, const char *gs06, const char *po)
{
	char *s = NULL;
	int n = asprintf(&s,
	    "ISA*00*          *00*          *ZZ*ACMEBUYER      *ZZ*EDIGATEDEMO    "
	    "*261123*1015*^*00501*%s*0*P*>~\n"
	    "GS*PO*ACMEBUYER*EDIGATEDEMO*20261123*1015*%s*X*005010~\n"
	    "ST*850*0001~\n"
	    "BEG*00*SA*%s**20261123~\n"
	    "DTM*002*20261201~\n"
	    "N1*ST*STORE 42*92*0042~\n"
	    "PO1*1*12*EA*3.50**UP*012345678905~\n"
	    "CTT*1~\n"
	    "SE*7*0001~\n"
	    "GE*1*%s~\n"
	    "IEA*1*%s~\n", isa13, gs06, po, gs06, isa13);
	assert_true(n > 0);
	return s;
}

/* ORDERS D96A with UNB 0020 given. */
static char *
orders(const char *ref, const char *po)
{
	char *s = NULL;
	int n = asprintf(&s,
	    "UNA:+.? '\n"
	    "UNB+UNOC:3+5412345000013:14+4012345000009:14+261123:1015+%s'\n"
	    "UNH+1+ORDERS:D:96A:UN:EAN008'\n"
	    "BGM+220+%s+9'\n"
	    "DTM+137:20261123:102'\n"
	    "NAD+BY+5412345000013::9'\n"
	    "NAD+SU+4012345000009::9'\n"
	    "LIN+1++4000862141404:EN'\n"
	    "QTY+21:12'\n"
	    "UNS+S'\n"
	    "CNT+2:1'\n"
	    "UNT+10+1'\n"
	    "UNZ+1+%s'\n", ref, po, ref);
	assert_true(n > 0);
	return s;
}

/* INVOIC D01B in a group: UNB 0020 and UNG 0048 given. */
static char *
invoic(const char *ref, const char *group, const char *inv)
{
	char *s = NULL;
	int n = asprintf(&s,
	    "UNA:+.? '\n"
	    "UNB+UNOC:4+SENDER1:ZZZ+RECEIVER1:ZZZ+20261125:2359+%s'\n"
	    "UNG+INVOIC+SENDER1:ZZZ+RECEIVER1:ZZZ+20261125:2359+%s+UN+D:01B'\n"
	    "UNH+1+INVOIC:D:01B:UN:EAN010'\n"
	    "BGM+380+%s+9'\n"
	    "DTM+137:20261125:102'\n"
	    "NAD+SE+5412345000013::9'\n"
	    "LIN+1++4000862141404:SRV'\n"
	    "QTY+47:12'\n"
	    "MOA+203:42.00'\n"
	    "UNS+S'\n"
	    "MOA+77:42.00'\n"
	    "UNT+10+1'\n"
	    "UNE+1+%s'\n"
	    "UNZ+1+%s'\n", ref, group, inv, group, ref);
	assert_true(n > 0);
	return s;
}

/* ---- helpers ----------------------------------------------------------- */

/* Stores a payload the way a transport does: spool, then the message in
 * state received. Takes text. */
static int64_t
receive(struct fixture *fx, const char *partner, char *text)
{
	struct store_message m;
	struct store_error serr;
	struct spool_error perr;
	size_t len = strlen(text);

	memset(&m, 0, sizeof(m));
	assert_int_equal(spool_put(store_spool(fx->st), text, len,
	    m.payload_hash, &perr), SPOOL_OK);
	m.direction = STORE_IN;
	snprintf(m.partner, sizeof(m.partner), "%s", partner);
	snprintf(m.transport, sizeof(m.transport), "as2");
	snprintf(m.state, sizeof(m.state), "received");
	m.size = (int64_t)len;
	assert_int_equal(store_message_put(fx->st, &m, NULL, &serr), STORE_OK);
	free(text);
	return m.id;
}

static void
process(struct fixture *fx, struct inbound *in, int64_t id,
    struct inbound_result *res)
{
	assert_int_equal(inbound_process(in ? in : fx->in, fx->st, id, res),
	    INBOUND_OK);
}

static char *
payload_of(struct fixture *fx, int64_t id)
{
	struct store_message m;
	struct store_error serr;
	struct spool_error perr;
	void *buf;
	size_t len;
	char *s;

	assert_int_equal(store_message_get(fx->st, id, &m, &serr), STORE_OK);
	assert_int_equal(spool_read_all(store_spool(fx->st), m.payload_hash,
	    &buf, &len, &perr), SPOOL_OK);
	s = malloc(len + 1);
	memcpy(s, buf, len);
	s[len] = '\0';
	free(buf);
	return s;
}

static void
assert_state(struct fixture *fx, int64_t id, const char *state)
{
	struct store_message m;
	struct store_error serr;
	assert_int_equal(store_message_get(fx->st, id, &m, &serr), STORE_OK);
	assert_string_equal(m.state, state);
}

struct docs {
	int orders, invoices;
};

static int
count_doc(void *ud, const struct store_message *m)
{
	struct docs *d = ud;
	if (strcmp(m->message_type, "order") == 0)
		d->orders++;
	if (strcmp(m->message_type, "invoice") == 0)
		d->invoices++;
	return 0;
}

static struct docs
documents(struct fixture *fx)
{
	struct docs d = { 0, 0 };
	struct store_error serr;
	assert_int_equal(store_message_list(fx->st, NULL, count_doc, &d,
	    &serr), STORE_OK);
	return d;
}

struct find_event {
	const char *kind;
	int found;
	char detail[1024];
};

static int
find_event_cb(void *ud, const struct store_event *ev)
{
	struct find_event *f = ud;
	if (strcmp(ev->kind, f->kind) != 0)
		return 0;
	f->found++;
	snprintf(f->detail, sizeof(f->detail), "%s", ev->detail);
	return 0;
}

/* The detail of the last event of kind on message id; "" when none. */
static struct find_event
event_of(struct fixture *fx, int64_t id, const char *kind)
{
	struct find_event f;
	struct store_event_filter filter;
	struct store_error serr;

	memset(&f, 0, sizeof(f));
	memset(&filter, 0, sizeof(filter));
	f.kind = kind;
	filter.message_id = id;
	assert_int_equal(store_event_foreach(fx->st, &filter, find_event_cb,
	    &f, &serr), STORE_OK);
	return f;
}

/* ---- interchange level -------------------------------------------------- */

static void
test_repeated_isa13_with_other_bytes_gets_ta1_025_and_is_not_translated(
    void **state)
{
	struct fixture *fx = *state;
	struct inbound_result res;
	char expect[128];

	int64_t first = receive(fx, "acme", x12_4010("000000101", "101",
	    "PO12345"));
	process(fx, NULL, first, &res);
	assert_string_equal(res.final_state, "processed");
	assert_int_equal(res.documents, 1);
	assert_int_equal(routed, 1);

	/* Another order under the same interchange control number. */
	int64_t second = receive(fx, "acme", x12_4010("000000101", "102",
	    "PO99999"));
	process(fx, NULL, second, &res);
	assert_string_equal(res.final_state, "duplicate");
	assert_int_equal(res.duplicates, 1);
	assert_int_equal(res.sets_accepted, 0);
	assert_int_equal(res.documents, 0);
	assert_int_equal(routed, 1);
	assert_int_equal(documents(fx).orders, 1);
	/* TA1 R 025, and no 997: the interchange was not opened. */
	assert_string_equal(res.ack_type, "TA1");
	char *ack = payload_of(fx, res.ack_message_id);
	assert_non_null(strstr(ack, "\nTA1*000000101*261123*0930*R*025~\n"));
	assert_null(strstr(ack, "ST*997"));
	free(ack);
	/* The event names the first message; the original stays as it was. */
	struct find_event ev = event_of(fx, second, "inbound.duplicate");
	assert_int_equal(ev.found, 1);
	snprintf(expect, sizeof(expect), "\"first_message_id\":%lld",
	    (long long)first);
	assert_non_null(strstr(ev.detail, expect));
	assert_non_null(strstr(ev.detail, "\"kind\":\"isa13\""));
	assert_non_null(strstr(ev.detail, "\"control\":\"000000101\""));
	assert_non_null(strstr(ev.detail, "\"same_content\":false"));
	assert_non_null(strstr(ev.detail, "\"window_seconds\":7776000"));
	assert_state(fx, first, "processed");
	char *orig = payload_of(fx, first);
	assert_non_null(strstr(orig, "BEG*00*SA*PO12345**20261123~"));
	free(orig);
	/* The duplicate's own bytes are kept too. */
	char *dup = payload_of(fx, second);
	assert_non_null(strstr(dup, "BEG*00*SA*PO99999**20261123~"));
	free(dup);

	/* A third copy still names the first message. */
	int64_t third = receive(fx, "acme", x12_4010("000000101", "103",
	    "PO88888"));
	process(fx, NULL, third, &res);
	assert_string_equal(res.final_state, "duplicate");
	ev = event_of(fx, third, "inbound.duplicate");
	assert_non_null(strstr(ev.detail, expect));
	assert_int_equal(routed, 1);
}

static void
test_same_bytes_sent_again_under_another_name_are_a_duplicate(void **state)
{
	struct fixture *fx = *state;
	struct inbound_result res;

	/* A transport that keys on the file name or the AS2 Message-ID
	 * stores the same bytes twice; the pipeline still sees the repeat. */
	int64_t first = receive(fx, "acme", x12_4010("000000201", "201",
	    "PO201"));
	process(fx, NULL, first, &res);
	int64_t second = receive(fx, "acme", x12_4010("000000201", "201",
	    "PO201"));
	process(fx, NULL, second, &res);
	assert_string_equal(res.final_state, "duplicate");
	assert_string_equal(res.ack_type, "TA1");
	assert_non_null(strstr(event_of(fx, second, "inbound.duplicate").detail,
	    "\"same_content\":true"));
	assert_int_equal(routed, 1);
}

static void
test_numbers_are_per_partner(void **state)
{
	struct fixture *fx = *state;
	struct inbound_result res;

	int64_t a = receive(fx, "acme", x12_4010("000000301", "301", "PO301"));
	process(fx, NULL, a, &res);
	/* beta's own 000000301 is no repeat of acme's. */
	int64_t b = receive(fx, "beta", x12_5010("000000301", "301", "PO301"));
	process(fx, NULL, b, &res);
	assert_int_equal(res.duplicates, 0);
	assert_string_equal(res.final_state, "processed");
	assert_int_equal(routed, 2);
}

/* ---- group level ------------------------------------------------------- */

static void
test_repeated_gs06_in_a_new_interchange_gets_997_ak9_r(void **state)
{
	struct fixture *fx = *state;
	struct inbound_result res;

	int64_t first = receive(fx, "acme", x12_4010("000000401", "401",
	    "PO401"));
	process(fx, NULL, first, &res);
	assert_string_equal(res.final_state, "processed");
	int64_t second = receive(fx, "acme", x12_4010("000000402", "401",
	    "PO402"));
	process(fx, NULL, second, &res);
	assert_string_equal(res.final_state, "duplicate");
	assert_int_equal(res.duplicates, 1);
	assert_int_equal(res.sets_duplicate, 1);
	assert_string_equal(res.ack_type, "997");
	/* The group and its set rejected, none accepted; 004010's element
	 * 716 has no code for it, so AK905 stays empty. */
	char *ack = payload_of(fx, res.ack_message_id);
	assert_non_null(strstr(ack,
	    "AK1*PO*401~\n"
	    "AK2*850*0001~\n"
	    "AK5*R~\n"
	    "AK9*R*1*1*0~\n"));
	free(ack);
	assert_non_null(strstr(event_of(fx, second, "inbound.duplicate").detail,
	    "\"kind\":\"gs06\""));
	assert_int_equal(routed, 1);
	assert_int_equal(documents(fx).orders, 1);
}

static void
test_repeated_gs06_in_005010_gets_999_with_ak905_19(void **state)
{
	struct fixture *fx = *state;
	struct inbound_result res;

	int64_t first = receive(fx, "beta", x12_5010("000000501", "501",
	    "PO501"));
	process(fx, NULL, first, &res);
	assert_string_equal(res.final_state, "processed");
	int64_t second = receive(fx, "beta", x12_5010("000000502", "501",
	    "PO502"));
	process(fx, NULL, second, &res);
	assert_string_equal(res.final_state, "duplicate");
	assert_string_equal(res.ack_type, "999");
	char *ack = payload_of(fx, res.ack_message_id);
	assert_non_null(strstr(ack,
	    "AK1*PO*501*005010~\n"
	    "AK2*850*0001~\n"
	    "IK5*R~\n"
	    "AK9*R*1*1*0*19~\n"));
	free(ack);
	assert_int_equal(routed, 1);
}

/* ---- EDIFACT ----------------------------------------------------------- */

static void
test_repeated_unb0020_gets_contrl_uci_4_26(void **state)
{
	struct fixture *fx = *state;
	struct inbound_result res;

	int64_t first = receive(fx, "beta", orders("ORD0001", "PO1"));
	process(fx, NULL, first, &res);
	assert_string_equal(res.final_state, "processed");
	int64_t second = receive(fx, "beta", orders("ORD0001", "PO2"));
	process(fx, NULL, second, &res);
	assert_string_equal(res.final_state, "duplicate");
	assert_string_equal(res.ack_type, "CONTRL");
	char *ack = payload_of(fx, res.ack_message_id);
	/* UCI 0083 4 (rejected), 0085 26 in UNB 0020; nothing below it. */
	assert_non_null(strstr(ack, "UCI+ORD0001+5412345000013:14+"
	    "4012345000009:14+4+26+UNB+6'"));
	assert_null(strstr(ack, "UCM"));
	free(ack);
	assert_non_null(strstr(event_of(fx, second, "inbound.duplicate").detail,
	    "\"kind\":\"unb0020\""));
	assert_int_equal(routed, 1);
}

static void
test_repeated_ung0048_gets_contrl_ucf_4_26(void **state)
{
	struct fixture *fx = *state;
	struct inbound_result res;

	int64_t first = receive(fx, "beta", invoic("INV0001", "G1", "INV1"));
	process(fx, NULL, first, &res);
	assert_int_equal(res.duplicates, 0);
	int routed_first = routed;
	int invoices = documents(fx).invoices;
	int64_t second = receive(fx, "beta", invoic("INV0002", "G1", "INV2"));
	process(fx, NULL, second, &res);
	assert_int_equal(res.duplicates, 1);
	assert_string_equal(res.final_state, "duplicate");
	assert_string_equal(res.ack_type, "CONTRL");
	char *ack = payload_of(fx, res.ack_message_id);
	/* The interchange is fine (UCI 7); UCF 4 with 26 in UNG 0048
	 * rejects the group and every message in it. */
	assert_non_null(strstr(ack, "UCI+INV0002+SENDER1:ZZZ+RECEIVER1:ZZZ+7'"));
	assert_non_null(strstr(ack, "UCF+G1+SENDER1:ZZZ+RECEIVER1:ZZZ+4+26+"
	    "UNG+6'"));
	free(ack);
	assert_int_equal(routed, routed_first);
	assert_int_equal(documents(fx).invoices, invoices);
}

/* ---- the window -------------------------------------------------------- */

static void
test_number_older_than_the_window_is_accepted(void **state)
{
	struct fixture *fx = *state;
	struct inbound_result res;
	/* Any earlier sighting is outside a window of one microsecond. */
	struct inbound *tiny = new_inbound(fx, 1);

	int64_t first = receive(fx, "acme", x12_4010("000000601", "601",
	    "PO601"));
	process(fx, tiny, first, &res);
	usleep(1000);
	int64_t second = receive(fx, "acme", x12_4010("000000601", "601",
	    "PO602"));
	process(fx, tiny, second, &res);
	assert_int_equal(res.duplicates, 0);
	assert_string_equal(res.final_state, "processed");
	assert_int_equal(routed, 2);
	inbound_free(tiny);
}

static void
test_default_window_is_ninety_days(void **state)
{
	struct fixture *fx = *state;
	struct inbound_result res;

	int64_t first = receive(fx, "acme", x12_4010("000000701", "701",
	    "PO701"));
	process(fx, NULL, first, &res);
	/* Seen 89 days ago: still a duplicate. */
	raw_sql(fx, "UPDATE duplicate_keys SET seen_us = seen_us - "
	    "89 * 86400000000 WHERE kind IN ('isa13', 'gs06')");
	int64_t second = receive(fx, "acme", x12_4010("000000701", "702",
	    "PO702"));
	process(fx, NULL, second, &res);
	assert_string_equal(res.final_state, "duplicate");
	/* Seen 91 days ago: forgotten, processed like a new number. */
	raw_sql(fx, "UPDATE duplicate_keys SET seen_us = seen_us - "
	    "2 * 86400000000 WHERE kind IN ('isa13', 'gs06')");
	int64_t third = receive(fx, "acme", x12_4010("000000701", "703",
	    "PO703"));
	process(fx, NULL, third, &res);
	assert_int_equal(res.duplicates, 0);
	assert_string_equal(res.final_state, "processed");
	assert_int_equal(routed, 2);
}

static void
test_window_off_checks_nothing(void **state)
{
	struct fixture *fx = *state;
	struct inbound_result res;
	struct inbound *off = new_inbound(fx, INBOUND_DUPLICATES_OFF);

	process(fx, off, receive(fx, "acme", x12_4010("000000801", "801",
	    "PO801")), &res);
	process(fx, off, receive(fx, "acme", x12_4010("000000801", "801",
	    "PO802")), &res);
	assert_string_equal(res.final_state, "processed");
	assert_int_equal(routed, 2);
	inbound_free(off);
}

static void
test_partner_profile_window_wins_over_the_daemon_one(void **state)
{
	struct fixture *fx = *state;
	struct inbound_result res;

	/* gamma: duplicate-window="off" although the daemon checks 90 days. */
	process(fx, NULL, receive(fx, "gamma", x12_4010("000001101", "1101",
	    "PO1101")), &res);
	process(fx, NULL, receive(fx, "gamma", x12_4010("000001101", "1101",
	    "PO1102")), &res);
	assert_int_equal(res.duplicates, 0);
	assert_string_equal(res.final_state, "processed");
	assert_int_equal(routed, 2);
	/* delta: a day. Seen two days ago is new; an hour ago a duplicate. */
	process(fx, NULL, receive(fx, "delta", x12_4010("000001201", "1201",
	    "PO1201")), &res);
	raw_sql(fx, "UPDATE duplicate_keys SET seen_us = seen_us - "
	    "2 * 86400000000 WHERE sender = 'delta'");
	int64_t second = receive(fx, "delta", x12_4010("000001201", "1201",
	    "PO1202"));
	process(fx, NULL, second, &res);
	assert_string_equal(res.final_state, "processed");
	raw_sql(fx, "UPDATE duplicate_keys SET seen_us = seen_us - "
	    "3600000000 WHERE sender = 'delta'");
	int64_t third = receive(fx, "delta", x12_4010("000001201", "1201",
	    "PO1203"));
	process(fx, NULL, third, &res);
	assert_string_equal(res.final_state, "duplicate");
	/* The sighting that fell out of the window was taken over by the
	 * second message, which the repeat now names. */
	char expect[64];
	snprintf(expect, sizeof(expect), "\"first_message_id\":%lld,",
	    (long long)second);
	assert_non_null(strstr(event_of(fx, third, "inbound.duplicate").detail,
	    expect));
	assert_non_null(strstr(event_of(fx, third, "inbound.duplicate").detail,
	    "\"window_seconds\":86400"));
	assert_int_equal(routed, 4);
}

/* ---- what is not a duplicate ------------------------------------------ */

static void
test_rejected_interchange_may_come_again_under_its_number(void **state)
{
	struct fixture *fx = *state;
	struct inbound_result res;
	/* IEA01 2 for one group: TA1 R 021, nothing processed. */
	int64_t first = receive(fx, "acme", x12_4010_count("000000901", "901",
	    "PO901", "2"));
	process(fx, NULL, first, &res);
	assert_string_equal(res.final_state, "rejected");
	/* The corrected interchange under the same number goes through. */
	int64_t second = receive(fx, "acme", x12_4010("000000901", "901",
	    "PO901"));
	process(fx, NULL, second, &res);
	assert_int_equal(res.duplicates, 0);
	assert_string_equal(res.final_state, "processed");
	assert_int_equal(routed, 1);
}

static void
test_message_processed_again_is_not_its_own_duplicate(void **state)
{
	struct fixture *fx = *state;
	struct inbound_result res;
	struct store_error serr;

	int64_t id = receive(fx, "acme", x12_4010("000001001", "1001",
	    "PO1001"));
	process(fx, NULL, id, &res);
	/* What edigated does at start with a message a crash cut short. */
	assert_int_equal(store_message_set_state(fx->st, id, "processed",
	    "received", NULL, &serr), STORE_OK);
	process(fx, NULL, id, &res);
	assert_int_equal(res.duplicates, 0);
	assert_string_equal(res.final_state, "processed");
	assert_int_equal(documents(fx).orders, 1);
}

/* Every acknowledgment stored so far, one after the other. */
struct ack_list {
	int64_t ids[16];
	size_t n;
};

static int
collect_ack(void *ud, const struct store_message *m)
{
	struct ack_list *l = ud;
	if (m->direction == STORE_OUT && l->n < 16)
		l->ids[l->n++] = m->id;
	return 0;
}

static char *
all_acks(struct fixture *fx)
{
	struct ack_list l;
	struct store_error serr;
	char *all = strdup("");

	memset(&l, 0, sizeof(l));
	assert_int_equal(store_message_list(fx->st, NULL, collect_ack, &l,
	    &serr), STORE_OK);
	for (size_t i = 0; i < l.n; i++) {
		char *one = payload_of(fx, l.ids[i]), *t = NULL;
		assert_true(asprintf(&t, "%s%s", all, one) > 0);
		free(all);
		free(one);
		all = t;
	}
	return all;
}

/* Two interchanges of one file, concatenated. */
static char *
two_in_one(char *a, char *b)
{
	char *s = NULL;
	assert_true(asprintf(&s, "%s%s", a, b) > 0);
	free(a);
	free(b);
	return s;
}

static void
test_isa13_repeated_inside_one_file_gets_ta1_025(void **state)
{
	struct fixture *fx = *state;
	struct inbound_result res;
	struct store_error serr;

	int64_t id = receive(fx, "acme", two_in_one(
	    x12_4010("000001201", "1201", "PO1201"),
	    x12_4010("000001201", "1202", "PO1202")));
	process(fx, NULL, id, &res);
	/* The first interchange is processed, the second refused whole. */
	assert_int_equal(res.duplicates, 1);
	assert_int_equal(res.documents, 1);
	assert_int_equal(routed, 1);
	assert_int_equal(documents(fx).orders, 1);
	char *ack = all_acks(fx);
	assert_non_null(strstr(ack, "TA1*000001201*261123*0930*R*025~"));
	assert_non_null(strstr(ack, "AK1*PO*1201~"));
	assert_null(strstr(ack, "AK1*PO*1202~"));
	char expect[64];
	snprintf(expect, sizeof(expect), "\"first_message_id\":%lld",
	    (long long)id);
	struct find_event ev = event_of(fx, id, "inbound.duplicate");
	assert_int_equal(ev.found, 1);
	assert_non_null(strstr(ev.detail, "\"kind\":\"isa13\""));
	assert_non_null(strstr(ev.detail, expect));

	/* Processed again after a crash: the same answer, nothing twice. */
	assert_int_equal(store_message_set_state(fx->st, id,
	    res.final_state, "received", NULL, &serr), STORE_OK);
	process(fx, NULL, id, &res);
	assert_int_equal(res.duplicates, 1);
	assert_int_equal(documents(fx).orders, 1);
	char *again = all_acks(fx);
	assert_string_equal(again, ack);
	free(again);
	free(ack);
}

static void
test_gs06_repeated_inside_one_file_rejects_the_later_group(void **state)
{
	struct fixture *fx = *state;
	struct inbound_result res;

	int64_t id = receive(fx, "acme", two_in_one(
	    x12_4010("000001301", "1301", "PO1301"),
	    x12_4010("000001302", "1301", "PO1302")));
	process(fx, NULL, id, &res);
	assert_int_equal(res.duplicates, 1);
	assert_int_equal(res.sets_duplicate, 1);
	assert_int_equal(routed, 1);
	assert_int_equal(documents(fx).orders, 1);
	char *ack = all_acks(fx);
	/* One 997 per interchange: the first accepts, the second rejects. */
	assert_non_null(strstr(ack, "AK9*A*1*1*1~"));
	assert_non_null(strstr(ack, "AK9*R*1*1*0~"));
	free(ack);
	assert_non_null(strstr(event_of(fx, id, "inbound.duplicate").detail,
	    "\"kind\":\"gs06\""));
}

static void
test_distinct_numbers_in_one_file_are_no_duplicates(void **state)
{
	struct fixture *fx = *state;
	struct inbound_result res;

	int64_t id = receive(fx, "acme", two_in_one(
	    x12_4010("000001401", "1401", "PO1401"),
	    x12_4010("000001402", "1402", "PO1402")));
	process(fx, NULL, id, &res);
	assert_int_equal(res.duplicates, 0);
	assert_string_equal(res.final_state, "processed");
	assert_int_equal(routed, 2);
}

static void
test_window_is_read_from_text(void **state)
{
	int64_t w;
	(void)state;
	assert_int_equal(inbound_parse_window("90d", &w), 0);
	assert_true(w == 90 * DAY_US);
	assert_int_equal(inbound_parse_window("36h", &w), 0);
	assert_true(w == 36 * 3600000000LL);
	assert_int_equal(inbound_parse_window("15m", &w), 0);
	assert_true(w == 15 * 60000000LL);
	assert_int_equal(inbound_parse_window("45s", &w), 0);
	assert_true(w == 45000000LL);
	assert_int_equal(inbound_parse_window("45", &w), 0);
	assert_true(w == 45000000LL);
	assert_int_equal(inbound_parse_window("off", &w), 0);
	assert_true(w == INBOUND_DUPLICATES_OFF);
	assert_int_equal(inbound_parse_window("forever", &w), 0);
	assert_true(w == INBOUND_DUPLICATES_FOREVER);
	assert_int_equal(inbound_parse_window("", &w), -1);
	assert_int_equal(inbound_parse_window("0", &w), -1);
	assert_int_equal(inbound_parse_window("-1d", &w), -1);
	assert_int_equal(inbound_parse_window("d", &w), -1);
	assert_int_equal(inbound_parse_window("2w", &w), -1);
	assert_int_equal(inbound_parse_window("1dd", &w), -1);
	assert_int_equal(inbound_parse_window("99999999d", &w), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_repeated_isa13_with_other_bytes_gets_ta1_025_and_is_not_translated,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_same_bytes_sent_again_under_another_name_are_a_duplicate,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_numbers_are_per_partner,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_repeated_gs06_in_a_new_interchange_gets_997_ak9_r,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_repeated_gs06_in_005010_gets_999_with_ak905_19,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_repeated_unb0020_gets_contrl_uci_4_26, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_repeated_ung0048_gets_contrl_ucf_4_26, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_number_older_than_the_window_is_accepted, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_default_window_is_ninety_days,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_off_checks_nothing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_partner_profile_window_wins_over_the_daemon_one, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_rejected_interchange_may_come_again_under_its_number,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_message_processed_again_is_not_its_own_duplicate, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_isa13_repeated_inside_one_file_gets_ta1_025, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_gs06_repeated_inside_one_file_rejects_the_later_group,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_distinct_numbers_in_one_file_are_no_duplicates, setup,
		    teardown),
		cmocka_unit_test(test_window_is_read_from_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
