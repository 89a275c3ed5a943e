/*
 * test_recover - the [recovery] settings and one sweep (recover.h) on a
 * real SQLite store: renewal of the node's own claims, release of claims
 * whose lease ran out, and inbound messages left "received".
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "configfile.h"
#include "inbound.h"
#include "recover.h"
#include "spool.h"
#include "store.h"

#define SEC_US 1000000LL

static struct config *
parse(const char *text)
{
	struct config *cfg = NULL;
	struct config_error err;
	char msg[1200];

	if (config_parse("site.conf", text, strlen(text), &cfg, &err) != 0) {
		config_error_format(&err, msg, sizeof(msg));
		fail_msg("unexpected error: %s", msg);
	}
	return cfg;
}

#define MINIMAL "state_dir = /var/lib/edigate\n" \
	"[listen.api]\naddress = 127.0.0.1:8080\n"

static void
test_recovery_defaults_are_a_30s_sweep_and_a_5min_lease(void **state)
{
	struct config *c = parse(MINIMAL);
	struct recover_options o;
	char err[512];

	(void)state;
	assert_int_equal(recover_configure(c, &o, err, sizeof(err)), 0);
	assert_int_equal(o.interval_us, 30 * SEC_US);
	assert_int_equal(o.lease_us, 300 * SEC_US);
	config_free(c);
}

static void
test_recovery_settings_are_read_with_units(void **state)
{
	struct config *c = parse(MINIMAL "[recovery]\ninterval = 2m\nlease = 1h\n");
	struct recover_options o;
	char err[512];

	(void)state;
	assert_int_equal(recover_configure(c, &o, err, sizeof(err)), 0);
	assert_int_equal(o.interval_us, 120 * SEC_US);
	assert_int_equal(o.lease_us, 3600 * SEC_US);
	config_free(c);
	c = parse(MINIMAL "[recovery]\ninterval = off\n");
	assert_int_equal(recover_configure(c, &o, err, sizeof(err)), 0);
	assert_int_equal(o.interval_us, 0);
	config_free(c);
}

static void
test_recovery_errors_name_file_and_line(void **state)
{
	struct recover_options o;
	char err[512];
	struct config *c = parse(MINIMAL "[recovery]\nlease = soon\n");

	(void)state;
	assert_int_equal(recover_configure(c, &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "site.conf:5: lease must be a duration"));
	config_free(c);
	c = parse(MINIMAL "[recovery]\nintervall = 1s\n");
	assert_int_equal(recover_configure(c, &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "site.conf:5: unknown key \"intervall\""));
	config_free(c);
	/* A lease the owner cannot renew in time would hand away live work. */
	c = parse(MINIMAL "[recovery]\ninterval = 1m\nlease = 60s\n");
	assert_int_equal(recover_configure(c, &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "site.conf:4: [recovery] lease must be longer than "
	    "interval"));
	config_free(c);
}

struct fx {
	char dir[64];
	struct store *st;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct store_error err;
	char db[128];

	snprintf(f->dir, sizeof(f->dir), "/tmp/edigate-recover-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(db, sizeof(db), "%s/edigate.db", f->dir);
	if (store_open(&f->st, db, NULL, &err) != STORE_OK)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	store_close(f->st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static int64_t
inbound_message(struct fx *f, const char *state)
{
	struct store_message m = { .direction = STORE_IN };
	struct store_error err;
	struct spool_error serr;
	const char *body = "ISA*sweep~";

	assert_int_equal(spool_put(store_spool(f->st), body, strlen(body),
	    m.payload_hash, &serr), SPOOL_OK);
	m.size = (int64_t)strlen(body);
	strcpy(m.partner, "acme");
	strcpy(m.transport, "as2");
	strcpy(m.message_type, "850");
	snprintf(m.state, sizeof(m.state), "%s", state);
	assert_int_equal(store_message_put(f->st, &m, NULL, &err), STORE_OK);
	return m.id;
}

static void
test_sweep_renews_its_own_claims_and_hands_back_dead_ones(void **state)
{
	struct fx *f = *state;
	struct store_error err;
	int64_t ids[8], renewed = -1;
	size_t n = 99;
	int64_t mine = inbound_message(f, "received");
	int64_t dead = inbound_message(f, "received");

	/* Both claims end in one second. */
	assert_int_equal(store_message_claim(f->st, mine, "node-a:1:1", SEC_US,
	    &err), STORE_OK);
	assert_int_equal(store_message_claim(f->st, dead, "node-b:2:2", SEC_US,
	    &err), STORE_OK);
	/* Node A sweeps as if a minute had passed: its own claim is renewed
	 * (for an hour) first, node B's has run out. */
	assert_int_equal(recover_sweep(f->st, "node-a:1:1", 3600 * SEC_US,
	    store_now_us() + 60 * SEC_US, 0, 8, ids, &n, &renewed, &err),
	    STORE_OK);
	assert_int_equal(renewed, 1);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], dead);
	struct store_message m;
	assert_int_equal(store_message_get(f->st, dead, &m, &err), STORE_OK);
	assert_string_equal(m.state, "received");
	assert_int_equal(store_message_get(f->st, mine, &m, &err), STORE_OK);
	assert_string_equal(m.state, "processing");
	/* The next sweep has nothing left to hand back. */
	assert_int_equal(recover_sweep(f->st, "node-a:1:1", 3600 * SEC_US,
	    store_now_us() + 60 * SEC_US, 0, 8, ids, &n, NULL, &err),
	    STORE_OK);
	assert_int_equal(n, 0);
}

static void
test_sweep_resubmits_inbound_messages_received_for_an_interval(void **state)
{
	struct fx *f = *state;
	struct store_error err;
	int64_t ids[8];
	size_t n = 99;
	int64_t waiting = inbound_message(f, "received");
	struct store_message out = { .direction = STORE_OUT };

	(void)inbound_message(f, "processed");
	/* Just stored: its transport submits it itself. */
	assert_int_equal(recover_sweep(f->st, NULL, SEC_US, store_now_us(),
	    store_now_us() - 30 * SEC_US, 8, ids, &n, NULL, &err), STORE_OK);
	assert_int_equal(n, 0);
	/* Half a minute later it is nobody's: the sweep submits it. */
	assert_int_equal(recover_sweep(f->st, NULL, SEC_US, store_now_us(),
	    store_now_us() + 30 * SEC_US, 8, ids, &n, NULL, &err), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], waiting);
	(void)out;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_recovery_defaults_are_a_30s_sweep_and_a_5min_lease),
		cmocka_unit_test(test_recovery_settings_are_read_with_units),
		cmocka_unit_test(test_recovery_errors_name_file_and_line),
		cmocka_unit_test_setup_teardown(
		    test_sweep_renews_its_own_claims_and_hands_back_dead_ones,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_sweep_resubmits_inbound_messages_received_for_an_interval,
		    setup, teardown),
	};
	return cmocka_run_group_tests_name("recover", tests, NULL, NULL);
}
