/*
 * test_ack_track - acknowledgment tracking: expectations from outbound
 * interchanges, reconciliation of inbound acks into states, duplicates,
 * the overdue check and the report's figures.
 *
 * Run unchanged against both store backends, as test_store is:
 * EDIGATE_TEST_STORE unset uses a SQLite file per test; a postgresql://
 * URL makes every test create and drop its own database on that server
 * (tests/integration/ack_track_pg.sh starts a throwaway cluster).
 *
 * The ack documents are written here field by field from the standards
 * (X12 997 AK1/AK2/AK3/AK4/AK5/AK9, TA1, EDIFACT CONTRL UCI/UCM), not
 * produced by the ack reader, so a state is checked against what the
 * standard says the codes mean.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "ack_report.h"
#include "ack_track.h"
#include "store.h"

/* 2026-11-23T10:00:00Z */
#define T0 1795435200000000LL
#define HOUR ACK_TRACK_HOUR_US
#define SEC 1000000LL

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
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
}

static int counter;

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof *fx);
	struct store_error err;
	snprintf(fx->dir, sizeof fx->dir, "/tmp/edigate-acktrack-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->spool, sizeof fx->spool, "%s/spool", fx->dir);
	if (pg_base()) {
		char sql[128];
		fx->pg = 1;
		snprintf(fx->dbname, sizeof fx->dbname, "edigate_acktrack_%d_%d", (int)getpid(),
		         ++counter);
		snprintf(sql, sizeof sql, "CREATE DATABASE %s", fx->dbname);
		pg_admin(sql);
		url_with_db(pg_base(), fx->dbname, fx->url, sizeof fx->url);
	} else {
		snprintf(fx->url, sizeof fx->url, "%s/edigate.db", fx->dir);
	}
	struct store_options o = { .spool_dir = fx->spool };
	if (store_open(&fx->st, fx->url, &o, &err))
		fail_msg("store_open %s: %s", fx->url, err.message);
	*state = fx;
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

/* ---- interchanges ------------------------------------------------------- */

/* An ISA of exactly 106 characters (X12.5: fixed width). */
static void
isa(char *out, size_t cap, const char *control, const char *ack_requested)
{
	snprintf(out, cap,
	         "ISA*00*          *00*          *ZZ*EDIGATEDEMO    *ZZ*ACMERETAIL     "
	         "*261123*1000*U*00401*%s*%s*P*>~\n",
	         control, ack_requested);
	assert_int_equal(strchr(out, '\n') - out, 106);
}

/* Interchange 000000905: group 905 (004010) with two 856s, group 906
 * (005010) with one 856. */
static char *
two_groups(const char *ack_requested)
{
	static char buf[2048];
	char head[128];
	isa(head, sizeof head, "000000905", ack_requested);
	snprintf(buf, sizeof buf, "%s%s", head,
	         "GS*SH*EDIGATEDEMO*ACMERETAIL*20261123*1000*905*X*004010~\n"
	         "ST*856*0001~\nBSN*00*SHIP1*20261123*1000~\nSE*3*0001~\n"
	         "ST*856*0002~\nBSN*00*SHIP2*20261123*1000~\nSE*3*0002~\n"
	         "GE*2*905~\n"
	         "GS*SH*EDIGATEDEMO*ACMERETAIL*20261123*1000*906*X*005010~\n"
	         "ST*856*0001~\nBSN*00*SHIP3*20261123*1000~\nSE*3*0001~\n"
	         "GE*1*906~\n"
	         "IEA*2*000000905~\n");
	return buf;
}

static const char desadv[] =
	"UNB+UNOC:3+5790000000001:14+7350012345678:14+261123:1000+700++++1'"
	"UNH+1+DESADV:D:96A:UN'BGM+351+SHIP1+9'UNT+3+1'"
	"UNH+2+DESADV:D:96A:UN'BGM+351+SHIP2+9'UNT+3+2'"
	"UNZ+2+700'";

static const char contrl_only[] =
	"UNB+UNOC:3+5790000000001:14+7350012345678:14+261123:1000+701++++1'"
	"UNH+1+CONTRL:D:3:UN'UCI+55+7350012345678:14+5790000000001:14+7'UNT+3+1'"
	"UNZ+1+701'";

static struct ack_track_profile
profile(const char *ack, int ta1, unsigned sla)
{
	struct ack_track_profile p = { .ta1 = ta1, .sla_hours = sla };
	strcpy(p.partner, "acme");
	strcpy(p.ack, ack);
	return p;
}

static void
expect_ok(struct fixture *fx, const struct ack_track_profile *p, const char *buf,
          int64_t sent, struct ack_track_expect_summary *sum)
{
	struct store_error err;
	if (ack_track_expect(fx->st, p, 0, buf, strlen(buf), sent, sum, &err))
		fail_msg("ack_track_expect: %s", err.message);
}

static struct store_ack_expectation
find(struct fixture *fx, const char *type, const char *interchange, const char *group)
{
	struct store_ack_expectation e;
	struct store_error err;
	if (store_ack_find(fx->st, "acme", type, interchange, group, &e, &err))
		fail_msg("store_ack_find %s %s %s: %s", type, interchange, group, err.message);
	return e;
}

/* ---- expectations --------------------------------------------------------- */

static void
test_each_group_expects_its_x12_ack_within_the_sla(void **state)
{
	struct fixture *fx = *state;
	struct ack_track_profile p = profile("", 0, 24);
	struct ack_track_expect_summary sum;
	expect_ok(fx, &p, two_groups("0"), T0, &sum);
	assert_int_equal(sum.interchanges, 1);
	assert_int_equal(sum.groups, 2);
	assert_int_equal(sum.expectations, 2);
	assert_string_equal(sum.interchange_control, "000000905");
	assert_string_equal(sum.message_type, "856");
	/* GS08 004010 answers with a 997, 005010 with a 999. */
	struct store_ack_expectation e = find(fx, "997", "000000905", "905");
	assert_int_equal(e.created_us, T0);
	assert_int_equal(e.deadline_us, T0 + 24 * HOUR);
	assert_int_equal(e.set_count, 2);
	assert_string_equal(e.functional_id, "SH");
	assert_int_equal(e.state, STORE_ACK_PENDING);
	e = find(fx, "999", "000000905", "906");
	assert_int_equal(e.set_count, 1);
}

static void
test_profile_ack_type_wins_over_the_version(void **state)
{
	struct fixture *fx = *state;
	struct ack_track_profile p = profile("997", 0, 48);
	struct ack_track_expect_summary sum;
	expect_ok(fx, &p, two_groups("0"), T0, &sum);
	struct store_ack_expectation e = find(fx, "997", "000000905", "906");
	assert_int_equal(e.deadline_us, T0 + 48 * HOUR);
}

static void
test_ta1_is_expected_when_isa14_asks_a_partner_that_sends_them(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	struct store_ack_expectation e;
	struct ack_track_profile p = profile("997", 1, 24);
	struct ack_track_expect_summary sum;
	expect_ok(fx, &p, two_groups("1"), T0, &sum);
	assert_int_equal(sum.expectations, 3);
	e = find(fx, "TA1", "000000905", "");
	assert_int_equal(e.set_count, 3);
	/* ISA14 "0": the partner sends no TA1 when all is well. */
	char buf[2048];
	strcpy(buf, two_groups("0"));
	memcpy(strstr(buf, "000000905"), "000000906", 9);
	memcpy(strstr(buf, "IEA*2*000000905") + 6, "000000906", 9);
	expect_ok(fx, &p, buf, T0, &sum);
	assert_int_equal(sum.expectations, 2);
	assert_int_equal(store_ack_find(fx->st, "acme", "TA1", "000000906", "", &e, &err),
	                 STORE_ENOTFOUND);
}

static void
test_edifact_interchange_expects_one_contrl_and_contrl_expects_nothing(void **state)
{
	struct fixture *fx = *state;
	struct ack_track_profile p = profile("CONTRL", 0, 48);
	struct ack_track_expect_summary sum;
	expect_ok(fx, &p, desadv, T0, &sum);
	assert_int_equal(sum.expectations, 1);
	struct store_ack_expectation e = find(fx, "CONTRL", "700", "");
	assert_int_equal(e.set_count, 2);
	assert_int_equal(e.deadline_us, T0 + 48 * HOUR);
	expect_ok(fx, &p, contrl_only, T0, &sum);
	assert_int_equal(sum.expectations, 0);
	assert_int_equal(sum.skipped, 1);
}

static void
test_functional_ack_groups_and_partners_without_acks_expect_nothing(void **state)
{
	struct fixture *fx = *state;
	char buf[1024], head[128];
	struct ack_track_expect_summary sum;
	isa(head, sizeof head, "000000907", "0");
	snprintf(buf, sizeof buf, "%s%s", head,
	         "GS*FA*EDIGATEDEMO*ACMERETAIL*20261123*1000*907*X*004010~\n"
	         "ST*997*0001~\nAK1*PO*101~\nAK9*A*1*1*1~\nSE*4*0001~\nGE*1*907~\n"
	         "IEA*1*000000907~\n");
	struct ack_track_profile p = profile("997", 0, 24);
	expect_ok(fx, &p, buf, T0, &sum);
	assert_int_equal(sum.expectations, 0);
	assert_int_equal(sum.skipped, 1);
	p = profile("none", 0, 24);
	expect_ok(fx, &p, two_groups("0"), T0, &sum);
	assert_int_equal(sum.expectations, 0);
	assert_int_equal(sum.skipped, 2);
}

static int
count_rows(void *ud, const struct store_ack_expectation *e)
{
	(void)e;
	(*(int *)ud)++;
	return 0;
}

static int
expectations(struct fixture *fx)
{
	struct store_error err;
	int n = 0;
	assert_int_equal(store_ack_foreach(fx->st, NULL, count_rows, &n, &err), STORE_OK);
	return n;
}

static void
test_broken_or_repeated_outbound_interchange_records_nothing(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	struct ack_track_profile p = profile("997", 0, 24);
	struct ack_track_expect_summary sum;
	char buf[2048];
	strcpy(buf, two_groups("0"));
	/* GE01 says 3 sets where there are 2: AK905 5 in the partner's 997. */
	memcpy(strstr(buf, "GE*2*905"), "GE*3*905", 8);
	assert_int_equal(ack_track_expect(fx->st, &p, 0, buf, strlen(buf), T0, &sum, &err),
	                 STORE_EINVAL);
	assert_non_null(strstr(err.message, "not well formed"));
	assert_int_equal(expectations(fx), 0);
	assert_int_equal(ack_track_expect(fx->st, &p, 0, "", 0, T0, &sum, &err), STORE_EINVAL);
	/* The same groups twice: a conflict, and the second call adds none. */
	expect_ok(fx, &p, two_groups("0"), T0, &sum);
	assert_int_equal(ack_track_expect(fx->st, &p, 0, two_groups("0"),
	                                  strlen(two_groups("0")), T0, &sum, &err),
	                 STORE_ECONFLICT);
	assert_int_equal(expectations(fx), 2);
}

/* ---- acks, written by hand ------------------------------------------------- */

struct doc {
	ack_document d;
	ack_group_result group;
	ack_set_result sets[4];
	ack_segment_error seg;
	ack_element_error el;
};

/* A 997 answering group `group`: AK9 code, AK5 codes of sets 0001.. */
static void
make_997(struct doc *x, const char *group, const char *ak901, const char *ak501s)
{
	memset(x, 0, sizeof *x);
	x->d.kind = ACK_KIND_997;
	strcpy(x->d.interchange_control, "000004001");
	strcpy(x->d.group_control, "4001");
	strcpy(x->d.set_control, "0001");
	x->d.line = 3;
	strcpy(x->group.functional_id, "SH");
	strcpy(x->group.control_number, group);
	strcpy(x->group.status_code, ak901);
	x->group.status = (ack_status)ak901[0];
	for (size_t i = 0; ak501s[i]; i++) {
		ack_set_result *s = &x->sets[i];
		strcpy(s->id, "856");
		snprintf(s->control_number, sizeof s->control_number, "%04zu", i + 1);
		s->status_code[0] = ak501s[i];
		s->status = (ack_status)ak501s[i];
		x->group.set_count++;
	}
	x->group.sets = x->sets;
	x->d.result.standard = EDI_STANDARD_X12;
	x->d.result.groups = &x->group;
	x->d.result.group_count = 1;
}

static struct ack_track_outcome
reconcile(struct fixture *fx, struct doc *x, int64_t at)
{
	struct ack_track_outcome out;
	struct store_error err;
	if (ack_track_reconcile(fx->st, "acme", &x->d, 0, at, &out, &err))
		fail_msg("ack_track_reconcile: %s", err.message);
	return out;
}

static void
sent_two_groups(struct fixture *fx)
{
	struct ack_track_profile p = profile("997", 0, 24);
	struct ack_track_expect_summary sum;
	expect_ok(fx, &p, two_groups("0"), T0, &sum);
}

static void
test_ak9_accepted_closes_the_group_as_accepted(void **state)
{
	struct fixture *fx = *state;
	struct doc x;
	sent_two_groups(fx);
	/* AK1*SH*905~AK2*856*0001~AK5*A~AK2*856*0002~AK5*A~AK9*A*2*2*2~ */
	make_997(&x, "905", "A", "AA");
	struct ack_track_outcome o = reconcile(fx, &x, T0 + 2 * HOUR);
	assert_true(o.matched);
	assert_int_equal(o.state, STORE_ACK_ACCEPTED);
	assert_false(o.late);
	struct store_ack_expectation e = find(fx, "997", "000000905", "905");
	assert_int_equal(e.id, o.expectation_id);
	assert_int_equal(e.state, STORE_ACK_ACCEPTED);
	assert_string_equal(e.ack_code, "A");
	assert_int_equal(e.acked_us, T0 + 2 * HOUR);
	assert_int_equal(e.overdue_us, 0);
	/* The other group still waits. */
	assert_int_equal(find(fx, "997", "000000905", "906").state, STORE_ACK_PENDING);
}

struct sets_seen {
	int n;
	char text[4][400];
};

static int
collect_set(void *ud, const struct store_ack_set_result *r)
{
	struct sets_seen *s = ud;
	snprintf(s->text[s->n++], sizeof s->text[0], "%s %s %s %s", r->set_control, r->set_type,
	         r->code, r->detail_json);
	return 0;
}

static void
test_ak9_partial_with_one_856_rejected_keeps_which_and_why(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	struct doc x;
	sent_two_groups(fx);
	/* AK2*856*0002~AK3*HL*3**8~AK4*3*735*7*S~AK5*R*5~AK9*P*2*2*1~ */
	make_997(&x, "905", "P", "AR");
	strcpy(x.sets[1].codes[0], "5");
	x.sets[1].code_count = 1;
	strcpy(x.seg.tag, "HL");
	x.seg.position = 3;
	strcpy(x.seg.code, "8");
	x.el.element = 3;
	strcpy(x.el.reference, "735");
	strcpy(x.el.code, "7");
	strcpy(x.el.bad_data, "S");
	x.seg.elements = &x.el;
	x.seg.element_count = 1;
	x.sets[1].segments = &x.seg;
	x.sets[1].segment_count = 1;
	struct ack_track_outcome o = reconcile(fx, &x, T0 + HOUR);
	assert_int_equal(o.state, STORE_ACK_PARTIALLY_ACCEPTED);
	struct store_ack_expectation e = find(fx, "997", "000000905", "905");
	assert_int_equal(e.state, STORE_ACK_PARTIALLY_ACCEPTED);
	assert_string_equal(e.ack_code, "P");
	struct sets_seen s = { 0 };
	assert_int_equal(store_ack_sets_foreach(fx->st, e.id, collect_set, &s, &err), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.text[0], "0001 856 A {}");
	assert_string_equal(s.text[1],
	                    "0002 856 R {\"codes\":[\"5\"],\"errors\":[{\"code\":\"8\","
	                    "\"elements\":[{\"bad_data\":\"S\",\"code\":\"7\",\"element\":3,"
	                    "\"reference\":\"735\"}],\"position\":3,\"segment\":\"HL\"}]}");
}

static void
test_ak9_rejected_and_accepted_with_errors(void **state)
{
	struct fixture *fx = *state;
	struct doc x;
	sent_two_groups(fx);
	/* AK9*R*2*2*0: both 856s rejected. */
	make_997(&x, "905", "R", "RR");
	assert_int_equal(reconcile(fx, &x, T0 + HOUR).state, STORE_ACK_REJECTED);
	assert_int_equal(find(fx, "997", "000000905", "905").state, STORE_ACK_REJECTED);
	/* AK9*E: accepted, but errors were noted (AK5*E). */
	make_997(&x, "906", "E", "E");
	assert_int_equal(reconcile(fx, &x, T0 + HOUR).state, STORE_ACK_ACCEPTED_WITH_ERRORS);
	assert_int_equal(find(fx, "997", "000000905", "906").state,
	                 STORE_ACK_ACCEPTED_WITH_ERRORS);
}

static void
test_ack_codes_mean_what_the_standards_say(void **state)
{
	(void)state;
	/* X12 element 715 (AK901/IK901) and 717 (AK501/IK501). */
	assert_int_equal(ack_track_state_of(ACK_KIND_997, "A"), STORE_ACK_ACCEPTED);
	assert_int_equal(ack_track_state_of(ACK_KIND_997, "E"), STORE_ACK_ACCEPTED_WITH_ERRORS);
	assert_int_equal(ack_track_state_of(ACK_KIND_999, "P"), STORE_ACK_PARTIALLY_ACCEPTED);
	assert_int_equal(ack_track_state_of(ACK_KIND_997, "R"), STORE_ACK_REJECTED);
	assert_int_equal(ack_track_state_of(ACK_KIND_997, "M"), STORE_ACK_REJECTED);
	assert_int_equal(ack_track_state_of(ACK_KIND_999, "W"), STORE_ACK_REJECTED);
	assert_int_equal(ack_track_state_of(ACK_KIND_999, "X"), STORE_ACK_REJECTED);
	assert_int_equal(ack_track_state_of(ACK_KIND_997, "Q"), STORE_ACK_PENDING);
	assert_int_equal(ack_track_state_of(ACK_KIND_997, ""), STORE_ACK_PENDING);
	/* TA104 (I17): A, E, R only. */
	assert_int_equal(ack_track_state_of(ACK_KIND_TA1, "A"), STORE_ACK_ACCEPTED);
	assert_int_equal(ack_track_state_of(ACK_KIND_TA1, "E"), STORE_ACK_ACCEPTED_WITH_ERRORS);
	assert_int_equal(ack_track_state_of(ACK_KIND_TA1, "R"), STORE_ACK_REJECTED);
	assert_int_equal(ack_track_state_of(ACK_KIND_TA1, "P"), STORE_ACK_PENDING);
	/* CONTRL 0083: 7 acknowledged, 4 rejected, 8 received. */
	assert_int_equal(ack_track_state_of(ACK_KIND_CONTRL, "7"), STORE_ACK_ACCEPTED);
	assert_int_equal(ack_track_state_of(ACK_KIND_CONTRL, "4"), STORE_ACK_REJECTED);
	assert_int_equal(ack_track_state_of(ACK_KIND_CONTRL, "8"), STORE_ACK_ACCEPTED);
	assert_int_equal(ack_track_state_of(ACK_KIND_CONTRL, "A"), STORE_ACK_PENDING);
}

static void
test_late_ack_closes_the_group_and_keeps_the_overdue_fact(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	struct doc x;
	unsigned n;
	sent_two_groups(fx);
	/* The deadline is T0 + 24 h; the check at T0 + 25 h finds both. */
	assert_int_equal(ack_track_overdue(fx->st, T0 + 24 * HOUR, &n, &err), STORE_OK);
	assert_int_equal(n, 0);
	assert_int_equal(ack_track_overdue(fx->st, T0 + 25 * HOUR, &n, &err), STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(find(fx, "997", "000000905", "905").state, STORE_ACK_OVERDUE);
	make_997(&x, "905", "A", "AA");
	struct ack_track_outcome o = reconcile(fx, &x, T0 + 30 * HOUR);
	assert_true(o.matched);
	assert_true(o.late);
	struct store_ack_expectation e = find(fx, "997", "000000905", "905");
	assert_int_equal(e.state, STORE_ACK_ACCEPTED);
	assert_int_equal(e.overdue_us, T0 + 25 * HOUR);
	assert_int_equal(e.acked_us, T0 + 30 * HOUR);
}

static int
count_unmatched(void *ud, const struct store_ack_unmatched_row *u)
{
	char *out = ud;
	snprintf(out, 400, "%s %s %s %s", u->ack_type, u->interchange_control, u->group_control,
	         u->detail_json);
	return 0;
}

static void
test_ack_matching_nothing_is_recorded_as_unmatched(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	struct doc x;
	char seen[400] = "";
	sent_two_groups(fx);
	make_997(&x, "777", "A", "A");
	struct ack_track_outcome o = reconcile(fx, &x, T0 + HOUR);
	assert_false(o.matched);
	assert_true(o.unmatched_id > 0);
	assert_string_equal(o.reason, "no 997 was expected from acme for group 777");
	assert_int_equal(store_ack_unmatched_foreach(fx->st, NULL, count_unmatched, seen, &err),
	                 0);
	assert_string_equal(seen, "997  777 {\"ack_interchange\":\"000004001\",\"ack_set\":\"0001\","
	                          "\"reason\":\"no 997 was expected from acme for group 777\","
	                          "\"status\":\"A\"}");
	/* A second ack for a group already closed matches nothing either. */
	make_997(&x, "905", "A", "AA");
	assert_true(reconcile(fx, &x, T0 + HOUR).matched);
	o = reconcile(fx, &x, T0 + 2 * HOUR);
	assert_false(o.matched);
	assert_non_null(strstr(o.reason, "is already accepted"));
	assert_int_equal(find(fx, "997", "000000905", "905").acked_us, T0 + HOUR);
	/* A 997 without AK1 names no group: kept with the reader's problem. */
	memset(&x, 0, sizeof x);
	x.d.kind = ACK_KIND_997;
	strcpy(x.d.problem, "997 without AK1");
	x.d.problem_count = 1;
	o = reconcile(fx, &x, T0 + 3 * HOUR);
	assert_false(o.matched);
	assert_true(o.unmatched_id > 0);
	assert_string_equal(o.reason, "not an acknowledgment edigate can match: 997 without AK1");
	/* A group status no standard defines: kept, not guessed. */
	make_997(&x, "906", "Q", "");
	o = reconcile(fx, &x, T0 + 3 * HOUR);
	assert_false(o.matched);
	assert_string_equal(o.reason, "the 997 carries no status edigate knows ('Q')");
	assert_int_equal(find(fx, "997", "000000905", "906").state, STORE_ACK_PENDING);
}

static void
test_a_999_answers_a_group_that_expected_a_997(void **state)
{
	struct fixture *fx = *state;
	struct doc x;
	sent_two_groups(fx);
	make_997(&x, "905", "A", "AA");
	x.d.kind = ACK_KIND_999;
	struct ack_track_outcome o = reconcile(fx, &x, T0 + HOUR);
	assert_true(o.matched);
	assert_int_equal(find(fx, "997", "000000905", "905").state, STORE_ACK_ACCEPTED);
}

static void
test_ta1_rejecting_the_interchange_closes_its_groups(void **state)
{
	struct fixture *fx = *state;
	struct ack_track_profile p = profile("997", 1, 24);
	struct ack_track_expect_summary sum;
	expect_ok(fx, &p, two_groups("1"), T0, &sum);
	/* TA1*000000905*261123*1000*R*022~ */
	struct doc x;
	memset(&x, 0, sizeof x);
	x.d.kind = ACK_KIND_TA1;
	strcpy(x.d.interchange_control, "000004002");
	strcpy(x.d.result.control_number, "000000905");
	strcpy(x.d.result.status_code, "R");
	strcpy(x.d.result.note_code, "022");
	struct ack_track_outcome o = reconcile(fx, &x, T0 + HOUR);
	assert_true(o.matched);
	assert_int_equal(o.state, STORE_ACK_REJECTED);
	assert_int_equal(o.closed_by_ta1, 2);
	assert_int_equal(find(fx, "TA1", "000000905", "").state, STORE_ACK_REJECTED);
	assert_int_equal(find(fx, "997", "000000905", "905").state, STORE_ACK_REJECTED);
	assert_int_equal(find(fx, "997", "000000905", "906").state, STORE_ACK_REJECTED);
}

static void
test_contrl_accepting_the_interchange_and_rejecting_a_message_is_partial(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	struct ack_track_profile p = profile("CONTRL", 0, 48);
	struct ack_track_expect_summary sum;
	expect_ok(fx, &p, desadv, T0, &sum);
	/* UCI+700+...+7'UCM+1+DESADV:D:96A:UN+7'UCM+2+DESADV:D:96A:UN+4+12' */
	struct doc x;
	memset(&x, 0, sizeof x);
	x.d.kind = ACK_KIND_CONTRL;
	strcpy(x.d.result.control_number, "700");
	strcpy(x.d.result.status_code, "7");
	for (int i = 0; i < 2; i++) {
		strcpy(x.sets[i].id, "DESADV");
		snprintf(x.sets[i].control_number, sizeof x.sets[i].control_number, "%d", i + 1);
		strcpy(x.sets[i].status_code, i ? "4" : "7");
	}
	strcpy(x.sets[1].codes[0], "12");
	x.sets[1].code_count = 1;
	x.d.result.messages = x.sets;
	x.d.result.message_count = 2;
	struct ack_track_outcome o = reconcile(fx, &x, T0 + HOUR);
	assert_int_equal(o.state, STORE_ACK_PARTIALLY_ACCEPTED);
	struct store_ack_expectation e = find(fx, "CONTRL", "700", "");
	assert_string_equal(e.ack_code, "7");
	struct sets_seen s = { 0 };
	assert_int_equal(store_ack_sets_foreach(fx->st, e.id, collect_set, &s, &err), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.text[0], "1 DESADV 7 {}");
	assert_string_equal(s.text[1], "2 DESADV 4 {\"codes\":[\"12\"]}");
}

static void
test_contrl_listing_only_the_rejected_message_is_partial(void **state)
{
	struct fixture *fx = *state;
	struct ack_track_profile p = profile("CONTRL", 0, 48);
	struct ack_track_expect_summary sum;
	struct doc x;
	expect_ok(fx, &p, desadv, T0, &sum);
	/* UCI+700+...+7'UCM+2+DESADV:D:96A:UN+4+12': message 1, not
	 * listed, is accepted with the interchange. */
	memset(&x, 0, sizeof x);
	x.d.kind = ACK_KIND_CONTRL;
	strcpy(x.d.result.control_number, "700");
	strcpy(x.d.result.status_code, "7");
	strcpy(x.sets[0].id, "DESADV");
	strcpy(x.sets[0].control_number, "2");
	strcpy(x.sets[0].status_code, "4");
	x.d.result.messages = x.sets;
	x.d.result.message_count = 1;
	assert_int_equal(reconcile(fx, &x, T0 + HOUR).state, STORE_ACK_PARTIALLY_ACCEPTED);
	/* UCI 0083 "4": the whole interchange is rejected. */
	char other[sizeof desadv];
	strcpy(other, desadv);
	memcpy(strstr(other, "+700+"), "+701+", 5);
	memcpy(strstr(other, "UNZ+2+700"), "UNZ+2+701", 9);
	expect_ok(fx, &p, other, T0, &sum);
	memset(&x, 0, sizeof x);
	x.d.kind = ACK_KIND_CONTRL;
	strcpy(x.d.result.control_number, "701");
	strcpy(x.d.result.status_code, "4");
	assert_int_equal(reconcile(fx, &x, T0 + HOUR).state, STORE_ACK_REJECTED);
}

static int count_outcome_calls;

static void
on_outcome(void *ud, const ack_document *doc, const struct ack_track_outcome *o)
{
	(void)ud;
	(void)doc;
	(void)o;
	count_outcome_calls++;
}

static void
test_a_file_of_acks_is_read_and_reconciled_document_by_document(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	struct ack_track_file_summary sum;
	char head[128], buf[2048];
	sent_two_groups(fx);
	/* Two 997s in one group: 905 partially accepted, 777 never sent. */
	isa(head, sizeof head, "000004001", "0");
	memcpy(strstr(head, "EDIGATEDEMO    *ZZ*ACMERETAIL     "),
	       "ACMERETAIL     *ZZ*EDIGATEDEMO    ", 34);
	snprintf(buf, sizeof buf, "%s%s", head,
	         "GS*FA*ACMERETAIL*EDIGATEDEMO*20261123*1200*4001*X*004010~\n"
	         "ST*997*0001~\nAK1*SH*905~\nAK2*856*0001~\nAK5*A~\nAK2*856*0002~\n"
	         "AK3*HL*3**8~\nAK4*3*735*7*S~\nAK5*R*5~\nAK9*P*2*2*1~\nSE*10*0001~\n"
	         "ST*997*0002~\nAK1*SH*777~\nAK9*A*1*1*1~\nSE*4*0002~\n"
	         "GE*2*4001~\nIEA*1*000004001~\n");
	count_outcome_calls = 0;
	assert_int_equal(ack_track_reconcile_file(fx->st, "acme", buf, strlen(buf), 0,
	                                          T0 + HOUR, on_outcome, NULL, &sum, &err),
	                 STORE_OK);
	assert_int_equal(sum.documents, 2);
	assert_int_equal(sum.matched, 1);
	assert_int_equal(sum.unmatched, 1);
	assert_int_equal(count_outcome_calls, 2);
	struct store_ack_expectation e = find(fx, "997", "000000905", "905");
	assert_int_equal(e.state, STORE_ACK_PARTIALLY_ACCEPTED);
	struct sets_seen s = { 0 };
	assert_int_equal(store_ack_sets_foreach(fx->st, e.id, collect_set, &s, &err), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.text[0], "0001 856 A {}");
	assert_non_null(strstr(s.text[1], "0002 856 R {\"codes\":[\"5\"],"));
	assert_non_null(strstr(s.text[1], "\"segment\":\"HL\""));
}

/* ---- duplicates ------------------------------------------------------------ */

static void
test_duplicate_interchange_within_the_window_names_the_first_message(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	struct ack_track_duplicates d;
	const char *buf = two_groups("0");
	int64_t window = 24 * HOUR;
	assert_int_equal(ack_track_check_duplicates(fx->st, "acme", buf, strlen(buf), 11, T0,
	                                            window, &d, &err), STORE_OK);
	assert_int_equal(d.checked, 3);
	assert_int_equal(d.count, 0);
	/* The same file an hour later: ISA13 and both GS06 repeat. */
	assert_int_equal(ack_track_check_duplicates(fx->st, "acme", buf, strlen(buf), 12,
	                                            T0 + HOUR, window, &d, &err), STORE_OK);
	assert_int_equal(d.count, 3);
	assert_string_equal(d.list[0].level, "group");
	assert_string_equal(d.list[0].kind, "gs06");
	assert_string_equal(d.list[0].control, "905");
	assert_int_equal(d.list[0].first_message_id, 11);
	assert_string_equal(d.list[2].level, "interchange");
	assert_string_equal(d.list[2].kind, "isa13");
	assert_string_equal(d.list[2].control, "000000905");
	assert_string_equal(d.list[2].ack_code, "025"); /* TA105: duplicate ISA13 */
	assert_int_equal(d.list[2].first_message_id, 11);
	assert_int_equal(d.list[2].first_seen_us, T0);
	/* Another sender may use the same numbers. */
	assert_int_equal(ack_track_check_duplicates(fx->st, "globex", buf, strlen(buf), 13,
	                                            T0 + HOUR, window, &d, &err), STORE_OK);
	assert_int_equal(d.count, 0);
}

static void
test_repeat_outside_the_window_is_not_a_duplicate(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	struct ack_track_duplicates d;
	int64_t window = 24 * HOUR;
	assert_int_equal(ack_track_check_duplicates(fx->st, "nordic", desadv, strlen(desadv), 21,
	                                            T0, window, &d, &err), STORE_OK);
	assert_int_equal(d.checked, 1);
	assert_int_equal(ack_track_check_duplicates(fx->st, "nordic", desadv, strlen(desadv), 22,
	                                            T0 + 23 * HOUR, window, &d, &err), STORE_OK);
	assert_int_equal(d.count, 1);
	assert_string_equal(d.list[0].kind, "unb0020");
	assert_string_equal(d.list[0].ack_code, "26"); /* CONTRL 0085: duplicate detected */
	assert_int_equal(d.list[0].first_message_id, 21);
	assert_int_equal(ack_track_check_duplicates(fx->st, "nordic", desadv, strlen(desadv), 23,
	                                            T0 + 25 * HOUR, window, &d, &err), STORE_OK);
	assert_int_equal(d.count, 0);
}

/* ---- the report ------------------------------------------------------------ */

static void
test_p95_is_the_nearest_rank(void **state)
{
	(void)state;
	/* n = 20: rank ceil(0.95 * 20) = 19, the 19th smallest. */
	int64_t v[20];
	for (int i = 0; i < 20; i++)
		v[i] = (20 - i) * SEC;
	assert_int_equal(ack_report_percentile(v, 20, 95), 19 * SEC);
	/* n = 3: rank ceil(2.85) = 3, the largest. */
	int64_t w[3] = { 5, 1, 3 };
	assert_int_equal(ack_report_percentile(w, 3, 95), 5);
	/* n = 21: rank ceil(19.95) = 20. */
	int64_t u[21];
	for (int i = 0; i < 21; i++)
		u[i] = i + 1;
	assert_int_equal(ack_report_percentile(u, 21, 95), 20);
	assert_int_equal(ack_report_percentile(u, 0, 95), 0);
	int64_t one = 42;
	assert_int_equal(ack_report_percentile(&one, 1, 95), 42);
}

/* One group per call, sent at T0 + i hours, group number 100 + i. */
static int64_t
expect_group(struct fixture *fx, const char *partner, int i)
{
	struct store_error err;
	struct store_ack_expectation e = { .created_us = T0 + i * HOUR,
		                           .deadline_us = T0 + i * HOUR + 24 * HOUR,
		                           .set_count = 1 };
	strcpy(e.partner, partner);
	strcpy(e.ack_type, "997");
	snprintf(e.interchange_control, sizeof e.interchange_control, "%09d", 100 + i);
	snprintf(e.group_control, sizeof e.group_control, "%d", 100 + i);
	strcpy(e.functional_id, "SH");
	if (store_ack_expect(fx->st, &e, &err))
		fail_msg("store_ack_expect: %s", err.message);
	return e.id;
}

static void
resolve(struct fixture *fx, int64_t id, enum store_ack_state s, int64_t at)
{
	struct store_error err;
	if (store_ack_resolve(fx->st, id, s, "A", 0, at, NULL, 0, &err))
		fail_msg("store_ack_resolve: %s", err.message);
}

static void
test_report_counts_per_partner(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	unsigned n;
	/* acme: 6 groups sent at T0+0h .. T0+5h, SLA 24 h.
	 *   0: accepted after 1 h       within SLA, latency 1 h
	 *   1: accepted after 2 h       within SLA, latency 2 h
	 *   2: rejected after 3 h       within SLA, latency 3 h
	 *   3: overdue, then accepted after 30 h: late, latency 30 h
	 *   4: no ack, deadline T0+28h
	 *   5: no ack, deadline T0+29h
	 * Report at T0 + 28.5 h: 4 is overdue, 5 still pending.
	 * Latencies 1, 2, 3, 30 h: mean 9 h; p95 rank ceil(3.8) = 4: 30 h. */
	int64_t id[6];
	for (int i = 0; i < 6; i++)
		id[i] = expect_group(fx, "acme", i);
	expect_group(fx, "globex", 10);
	resolve(fx, id[0], STORE_ACK_ACCEPTED, T0 + 1 * HOUR);
	resolve(fx, id[1], STORE_ACK_ACCEPTED, T0 + 3 * HOUR);
	resolve(fx, id[2], STORE_ACK_REJECTED, T0 + 5 * HOUR);
	assert_int_equal(ack_track_overdue(fx->st, T0 + 27 * HOUR + HOUR / 2, &n, &err), 0);
	assert_int_equal(n, 1); /* group 3, deadline T0 + 27 h */
	resolve(fx, id[3], STORE_ACK_ACCEPTED, T0 + 33 * HOUR);
	assert_int_equal(store_ack_unmatched(fx->st, 0, "acme", "997", "", "555", T0 + HOUR,
	                                     NULL, NULL, &err), 0);
	int64_t now = T0 + 28 * HOUR + HOUR / 2;
	assert_int_equal(ack_track_overdue(fx->st, now, &n, &err), 0);
	assert_int_equal(n, 1); /* group 4 */
	struct ack_report r;
	assert_int_equal(ack_report_build(fx->st, NULL, 0, 0, now, &r, &err), STORE_OK);
	assert_int_equal(r.partner_count, 2);
	assert_int_equal(r.row_count, 7);
	assert_int_equal(r.unmatched_count, 1);
	const struct ack_report_partner *a = &r.partners[0];
	assert_string_equal(a->partner, "acme");
	assert_int_equal(a->sent, 6);
	assert_int_equal(a->within_sla, 3);
	assert_int_equal(a->late, 1);
	assert_int_equal(a->accepted, 3);
	assert_int_equal(a->rejected, 1);
	assert_int_equal(a->pending, 1);
	assert_int_equal(a->overdue, 1);
	assert_int_equal(a->unmatched, 1);
	assert_int_equal(a->acknowledged, 4);
	assert_int_equal(a->mean_latency_us, 9 * HOUR);
	assert_int_equal(a->p95_latency_us, 30 * HOUR);
	const struct ack_report_partner *g = &r.partners[1];
	assert_string_equal(g->partner, "globex");
	assert_int_equal(g->sent, 1);
	assert_int_equal(g->pending, 1);
	assert_int_equal(g->acknowledged, 0);
	ack_report_free(&r);
	/* The period bounds the send time: groups 2..4 of acme. */
	assert_int_equal(ack_report_build(fx->st, "acme", T0 + 2 * HOUR, T0 + 5 * HOUR, now, &r,
	                                  &err), STORE_OK);
	assert_int_equal(r.partner_count, 1);
	assert_int_equal(r.partners[0].sent, 3);
	assert_int_equal(r.partners[0].late, 1);
	assert_int_equal(r.partners[0].unmatched, 0); /* received at T0 + 1 h */
	ack_report_free(&r);
}

static void
test_report_escapes_partner_data_in_every_format(void **state)
{
	struct fixture *fx = *state;
	struct store_error err;
	struct ack_report r;
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(store_ack_unmatched(fx->st, 0, "acme", "997", "", "1",
	                                     T0, "{\"reason\":\"<b>\\\"x\\\",&</b>\"}", NULL,
	                                     &err), 0);
	assert_int_equal(ack_report_build(fx->st, NULL, 0, 0, T0, &r, &err), STORE_OK);
	FILE *m = open_memstream(&text, &len);
	assert_int_equal(ack_report_write_html(m, &r), 0);
	fclose(m);
	assert_non_null(strstr(text, "<td>&lt;b&gt;&quot;x&quot;,&amp;&lt;/b&gt;</td>"));
	assert_null(strstr(text, "<b>"));
	assert_null(strstr(text, "<script"));
	free(text);
	m = open_memstream(&text, &len);
	assert_int_equal(ack_report_write_csv(m, &r), 0);
	fclose(m);
	assert_non_null(strstr(text, ",\"<b>\"\"x\"\",&</b>\"\r\n"));
	free(text);
	ack_report_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_each_group_expects_its_x12_ack_within_the_sla),
		T(test_profile_ack_type_wins_over_the_version),
		T(test_ta1_is_expected_when_isa14_asks_a_partner_that_sends_them),
		T(test_edifact_interchange_expects_one_contrl_and_contrl_expects_nothing),
		T(test_functional_ack_groups_and_partners_without_acks_expect_nothing),
		T(test_broken_or_repeated_outbound_interchange_records_nothing),
		T(test_ak9_accepted_closes_the_group_as_accepted),
		T(test_ak9_partial_with_one_856_rejected_keeps_which_and_why),
		T(test_ak9_rejected_and_accepted_with_errors),
		cmocka_unit_test(test_ack_codes_mean_what_the_standards_say),
		T(test_late_ack_closes_the_group_and_keeps_the_overdue_fact),
		T(test_ack_matching_nothing_is_recorded_as_unmatched),
		T(test_a_999_answers_a_group_that_expected_a_997),
		T(test_ta1_rejecting_the_interchange_closes_its_groups),
		T(test_contrl_accepting_the_interchange_and_rejecting_a_message_is_partial),
		T(test_contrl_listing_only_the_rejected_message_is_partial),
		T(test_a_file_of_acks_is_read_and_reconciled_document_by_document),
		T(test_duplicate_interchange_within_the_window_names_the_first_message),
		T(test_repeat_outside_the_window_is_not_a_duplicate),
		cmocka_unit_test(test_p95_is_the_nearest_rank),
		T(test_report_counts_per_partner),
		T(test_report_escapes_partner_data_in_every_format),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
