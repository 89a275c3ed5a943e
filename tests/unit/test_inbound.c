/*
 * The inbound pipeline on a real SQLite store: a stored 850 becomes an
 * order document and a 997, both handed to their hooks; a rejected set
 * is stored but not routed; a message is processed once.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "inbound.h"
#include "partner_set.h"
#include "store.h"

static char dir[128];
static char top[1024];
static struct store *st;
static struct partner_set *ps;
static struct inbound *in;

/* What the hooks saw. */
static int routed;
static char routed_type[32], routed_message[16], routed_key[64];
static int64_t routed_source;
static int acked;
static char acked_type[8], acked_transport[16];
static int64_t acked_id;

static int
route_hook(void *ctx, struct store *s, const struct inbound_document *d,
    char *err, size_t errsize)
{
	(void)ctx;
	(void)s;
	(void)err;
	(void)errsize;
	routed++;
	snprintf(routed_type, sizeof(routed_type), "%s", d->document_type);
	snprintf(routed_message, sizeof(routed_message), "%s", d->message_type);
	snprintf(routed_key, sizeof(routed_key), "%s", d->idempotency_key);
	routed_source = d->source_message_id;
	return 0;
}

static int
ack_hook(void *ctx, struct store *s, const struct inbound_ack *a, char *err,
    size_t errsize)
{
	(void)ctx;
	(void)s;
	(void)err;
	(void)errsize;
	acked++;
	snprintf(acked_type, sizeof(acked_type), "%s", a->ack_type);
	snprintf(acked_transport, sizeof(acked_transport), "%s", a->transport);
	acked_id = a->message_id;
	return 0;
}

static void
write_file(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int
setup(void **state)
{
	const char *t = getenv("top_srcdir");
	char path[512], xsd[2048], maps[2048], err[512];
	char *perr = NULL;
	struct store_error serr;
	struct inbound_options opts;

	(void)state;
	snprintf(top, sizeof(top), "%s", t ? t : ".");
	snprintf(dir, sizeof(dir), "/tmp/edigate-inbound-XXXXXX");
	assert_non_null(mkdtemp(dir));
	write_file("acme.xml",
	    "<?xml version=\"1.0\"?>\n"
	    "<partner id=\"acme\" name=\"ACME\">\n"
	    "  <identity><x12 isa-qualifier=\"ZZ\" isa-id=\"ACMEBUYER\" gs-id=\"ACMEBUYER\"/></identity>\n"
	    "  <messages><message direction=\"in\" standard=\"x12\" version=\"004010\" type=\"850\"/></messages>\n"
	    "  <acknowledgment type=\"997\"/>\n"
	    "</partner>\n");
	snprintf(xsd, sizeof(xsd), "%s/partners/partner.xsd", top);
	ps = partner_set_load(dir, xsd, NULL, &perr);
	if (ps == NULL)
		fail_msg("partners: %s", perr ? perr : "?");
	snprintf(path, sizeof(path), "%s/edigate.db", dir);
	assert_int_equal(store_open(&st, path, NULL, &serr), STORE_OK);
	memset(&opts, 0, sizeof(opts));
	snprintf(maps, sizeof(maps), "%s/maps", top);
	opts.maps_dir = maps;
	in = inbound_new(NULL, &opts, err, sizeof(err));
	assert_non_null(in);
	inbound_set_partners(in, ps);
	assert_int_equal(inbound_route_register(in, route_hook, NULL), 0);
	assert_int_equal(inbound_ack_transport_register(in, "as2", ack_hook,
	    NULL), 0);
	routed = acked = 0;
	return 0;
}

static int
teardown(void **state)
{
	char cmd[256];

	(void)state;
	inbound_free(in);
	partner_set_unref(ps);
	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Stores a payload the way a transport does: spool, then the message in
 * state received. */
static int64_t
receive(const char *partner, const void *data, size_t len)
{
	struct store_message m;
	struct store_error serr;
	struct spool_error perr;

	memset(&m, 0, sizeof(m));
	assert_int_equal(spool_put(store_spool(st), data, len, m.payload_hash,
	    &perr), SPOOL_OK);
	m.direction = STORE_IN;
	snprintf(m.partner, sizeof(m.partner), "%s", partner);
	snprintf(m.transport, sizeof(m.transport), "as2");
	snprintf(m.message_type, sizeof(m.message_type), "x12");
	snprintf(m.state, sizeof(m.state), "received");
	m.size = (int64_t)len;
	assert_int_equal(store_message_put(st, &m, NULL, &serr), STORE_OK);
	return m.id;
}

static int64_t
receive_file(const char *partner, const char *rel)
{
	char path[2048];
	char *buf;
	long n;
	FILE *f;
	int64_t id;

	snprintf(path, sizeof(path), "%s/%s", top, rel);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	id = receive(partner, buf, (size_t)n);
	free(buf);
	return id;
}

static char *
payload_of(int64_t id)
{
	struct store_message m;
	struct store_error serr;
	struct spool_error perr;
	void *buf;
	size_t len;
	char *s;

	assert_int_equal(store_message_get(st, id, &m, &serr), STORE_OK);
	assert_int_equal(spool_read_all(store_spool(st), m.payload_hash, &buf,
	    &len, &perr), SPOOL_OK);
	s = malloc(len + 1);
	memcpy(s, buf, len);
	s[len] = '\0';
	free(buf);
	return s;
}

static void
test_accepted_850_becomes_an_order_and_a_997_for_the_hooks(void **state)
{
	struct inbound_result res;
	struct store_message m;
	struct store_error serr;
	int64_t id;
	char *ack, expect_key[64];

	(void)state;
	id = receive_file("acme", "tests/fixtures/demo/x12_850_order.edi");
	assert_int_equal(inbound_process(in, st, id, &res), INBOUND_OK);
	assert_string_equal(res.final_state, "processed");
	assert_int_equal(res.interchanges, 1);
	assert_int_equal(res.sets, 1);
	assert_int_equal(res.sets_accepted, 1);
	assert_int_equal(res.documents, 1);
	assert_int_equal(res.routed, 1);
	assert_string_equal(res.ack_type, "997");
	assert_int_equal(routed, 1);
	assert_string_equal(routed_type, "order");
	assert_string_equal(routed_message, "850");
	snprintf(expect_key, sizeof(expect_key), "%lld/1", (long long)id);
	assert_string_equal(routed_key, expect_key);
	assert_int_equal(routed_source, id);
	assert_int_equal(acked, 1);
	assert_string_equal(acked_type, "997");
	assert_string_equal(acked_transport, "as2");
	assert_int_equal(acked_id, res.ack_message_id);
	assert_int_equal(store_message_get(st, res.ack_message_id, &m, &serr),
	    STORE_OK);
	assert_int_equal(m.direction, STORE_OUT);
	assert_string_equal(m.message_type, "997");
	assert_string_equal(m.state, "queued");
	/* AK1 names the group (GS06 101), AK2 the set, AK5/AK9 accept it. */
	ack = payload_of(res.ack_message_id);
	assert_non_null(strstr(ack, "AK1*PO*101~"));
	assert_non_null(strstr(ack, "AK2*850*0001~"));
	assert_non_null(strstr(ack, "AK5*A~"));
	assert_non_null(strstr(ack, "AK9*A*1*1*1~"));
	free(ack);
	assert_int_equal(store_message_get(st, id, &m, &serr), STORE_OK);
	assert_string_equal(m.state, "processed");
}

static void
test_a_message_is_processed_only_once(void **state)
{
	struct inbound_result res;
	int64_t id;

	(void)state;
	id = receive_file("acme", "tests/fixtures/demo/x12_850_order.edi");
	assert_int_equal(inbound_process(in, st, id, &res), INBOUND_OK);
	assert_int_equal(inbound_process(in, st, id, &res), INBOUND_ALREADY);
	assert_int_equal(routed, 1);
	assert_int_equal(acked, 1);
}

static int
count_997(void *ud, const struct store_message *m)
{
	int *n = ud;
	if (m->direction == STORE_OUT && strcmp(m->message_type, "997") == 0)
		(*n)++;
	return 0;
}

static void
test_a_rerun_after_a_crash_hands_over_what_the_first_run_stored(void **state)
{
	struct inbound_result res;
	struct store_error serr;
	struct store_message_filter f = { 0 };
	int64_t id, first_ack;
	char first_key[64];
	int acks = 0;

	(void)state;
	id = receive_file("acme", "tests/fixtures/demo/x12_850_order.edi");
	assert_int_equal(inbound_process(in, st, id, &res), INBOUND_OK);
	first_ack = res.ack_message_id;
	snprintf(first_key, sizeof(first_key), "%s", routed_key);
	/* The node died after the commit, before its hooks ran or the end
	 * state was written; recovery handed the message back. */
	assert_int_equal(store_message_set_state(st, id, "processed",
	    "received", NULL, &serr), STORE_OK);
	assert_int_equal(inbound_process(in, st, id, &res), INBOUND_OK);
	assert_string_equal(res.final_state, "processed");
	/* Nothing stored twice; the hooks get the stored ack (its control
	 * numbers) and the same idempotency key, which they take once. */
	assert_int_equal(res.documents, 0);
	assert_int_equal(res.ack_message_id, first_ack);
	assert_int_equal(acked, 2);
	assert_int_equal(acked_id, first_ack);
	assert_int_equal(routed, 2);
	assert_string_equal(routed_key, first_key);
	assert_int_equal(store_message_list(st, &f, count_997, &acks, &serr),
	    STORE_OK);
	assert_int_equal(acks, 1);
}

static void
test_a_set_with_a_wrong_segment_count_is_rejected_not_routed(void **state)
{
	struct inbound_result res;
	int64_t id;
	char *ack;

	(void)state;
	id = receive_file("acme", "tests/fixtures/x12/bad_ak5_4_segment_count.edi");
	assert_int_equal(inbound_process(in, st, id, &res), INBOUND_OK);
	assert_string_equal(res.final_state, "rejected");
	assert_int_equal(res.sets_accepted, 0);
	assert_int_equal(routed, 0);
	assert_string_equal(res.ack_type, "997");
	/* AK5 R with code 4: number of included segments does not match. */
	ack = payload_of(res.ack_message_id);
	assert_non_null(strstr(ack, "AK5*R*4~"));
	free(ack);
}

struct kinds {
	int translate_failed, acks;
};

static int
count_kinds(void *ud, const struct store_event *ev)
{
	struct kinds *k = ud;

	k->translate_failed += strcmp(ev->kind, "inbound.translate-failed") == 0;
	k->acks += strcmp(ev->kind, "inbound.acks") == 0;
	return 0;
}

/* A partner's 997 is read for reconciliation; there is no document map
 * for it, and that is not a translation failure. */
static void
test_a_partners_997_is_reconciled_not_reported_untranslatable(void **state)
{
	struct inbound_result res;
	struct store_event_filter flt;
	struct store_error serr;
	struct kinds k = { 0, 0 };
	int64_t id;

	(void)state;
	id = receive_file("acme", "tests/fixtures/ack/only_997.edi");
	assert_int_equal(inbound_process(in, st, id, &res), INBOUND_OK);
	assert_int_equal(routed, 0);
	memset(&flt, 0, sizeof(flt));
	flt.message_id = id;
	assert_int_equal(store_event_foreach(st, &flt, count_kinds, &k, &serr),
	    STORE_OK);
	assert_int_equal(k.translate_failed, 0);
	assert_int_equal(k.acks, 1);
}

static void
test_a_partner_without_profile_fails_the_message(void **state)
{
	struct inbound_result res;
	int64_t id;

	(void)state;
	id = receive_file("nobody", "tests/fixtures/demo/x12_850_order.edi");
	assert_int_equal(inbound_process(in, st, id, &res), INBOUND_EPARTNER);
	assert_string_equal(res.final_state, "failed");
	assert_int_equal(routed, 0);
}

static void
test_a_payload_without_interchange_fails(void **state)
{
	struct inbound_result res;
	int64_t id;

	(void)state;
	id = receive("acme", "hello, not EDI\n", 15);
	assert_int_equal(inbound_process(in, st, id, &res), INBOUND_OK);
	assert_string_equal(res.final_state, "failed");
	assert_int_equal(res.interchanges, 0);
	assert_int_equal(res.ack_message_id, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_a_rerun_after_a_crash_hands_over_what_the_first_run_stored,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_accepted_850_becomes_an_order_and_a_997_for_the_hooks,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_partners_997_is_reconciled_not_reported_untranslatable,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_message_is_processed_only_once, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_set_with_a_wrong_segment_count_is_rejected_not_routed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_partner_without_profile_fails_the_message,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_payload_without_interchange_fails, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
