/*
 * Tests for gateway/router.c (prefix routing) and gateway/log.c (line
 * format and correlation ids): the two pure parts of the daemon frame.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "log.h"
#include "router.h"

static int h_as2, h_any, h_root;

static void
test_prefix_matches_only_at_segment_boundary(void **state)
{
	struct router r;
	const struct router_route *rt;

	router_init(&r);
	assert_int_equal(router_add(&r, "POST", "/as2", &h_as2, NULL), 0);
	assert_int_equal(router_match(&r, "POST", "/as2", &rt, NULL, 0),
	    ROUTER_FOUND);
	assert_ptr_equal(rt->handler, &h_as2);
	assert_int_equal(router_match(&r, "POST", "/as2/acme", &rt, NULL, 0),
	    ROUTER_FOUND);
	assert_int_equal(router_match(&r, "POST", "/as2x", &rt, NULL, 0),
	    ROUTER_NOT_FOUND);
	assert_int_equal(router_match(&r, "POST", "/", &rt, NULL, 0),
	    ROUTER_NOT_FOUND);
}

static void
test_longest_prefix_and_exact_method_win(void **state)
{
	struct router r;
	const struct router_route *rt;

	router_init(&r);
	assert_int_equal(router_add(&r, NULL, "/", &h_root, NULL), 0);
	assert_int_equal(router_add(&r, NULL, "/api/v1/", &h_any, NULL), 0);
	assert_int_equal(router_add(&r, "GET", "/api/v1", &h_as2, NULL), 0);
	assert_int_equal(router_match(&r, "GET", "/api/v1/documents", &rt,
	    NULL, 0), ROUTER_FOUND);
	assert_ptr_equal(rt->handler, &h_as2);
	assert_int_equal(router_match(&r, "POST", "/api/v1/documents", &rt,
	    NULL, 0), ROUTER_FOUND);
	assert_ptr_equal(rt->handler, &h_any);
	assert_int_equal(router_match(&r, "GET", "/other", &rt, NULL, 0),
	    ROUTER_FOUND);
	assert_ptr_equal(rt->handler, &h_root);
}

static void
test_wrong_method_lists_allowed_ones(void **state)
{
	struct router r;
	const struct router_route *rt;
	char allow[64];

	router_init(&r);
	router_add(&r, "GET", "/healthz", &h_root, NULL);
	router_add(&r, "HEAD", "/healthz", &h_root, NULL);
	assert_int_equal(router_match(&r, "POST", "/healthz", &rt, allow,
	    sizeof(allow)), ROUTER_METHOD_NOT_ALLOWED);
	assert_null(rt);
	assert_string_equal(allow, "GET, HEAD");
}

static void
test_bad_and_duplicate_routes_are_refused(void **state)
{
	struct router r;

	router_init(&r);
	assert_int_equal(router_add(&r, "GET", "as2", &h_as2, NULL), -1);
	assert_int_equal(router_add(&r, "GET", "/as2", NULL, NULL), -1);
	assert_int_equal(router_add(&r, "GET", "/as2", &h_as2, NULL), 0);
	assert_int_equal(router_add(&r, "GET", "/as2/", &h_any, NULL), -1);
	assert_int_equal(router_add(&r, "POST", "/as2", &h_any, NULL), 0);
}

static void
test_log_line_is_one_escaped_json_object(void **state)
{
	char buf[512];
	const char *fields[] = { "correlation_id", "01ABC", "remote", NULL,
	    "partner", "ac\"me\n\x01\xff" };
	/* 2026-11-23T10:00:00.123Z */
	long long ts = 1795428000123LL;
	size_t n = log_format(buf, sizeof(buf), ts, LOG_LEVEL_WARN,
	    "bad \\ thing", fields, 6);

	assert_string_equal(buf, "{\"ts\":\"2026-11-23T10:00:00.123Z\","
	    "\"level\":\"warn\",\"msg\":\"bad \\\\ thing\","
	    "\"correlation_id\":\"01ABC\","
	    "\"partner\":\"ac\\\"me\\n\\u0001\\u00ff\"}\n");
	assert_int_equal(n, strlen(buf));
}

static void
test_overlong_log_line_is_cut_but_stays_json(void **state)
{
	char buf[200], big[1000];
	const char *fields[] = { "a", "short", "b", big };

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_format(buf, sizeof(buf), 0, LOG_LEVEL_INFO, "m", fields, 4);
	assert_string_equal(buf, "{\"ts\":\"1970-01-01T00:00:00.000Z\","
	    "\"level\":\"info\",\"msg\":\"m\",\"a\":\"short\","
	    "\"truncated\":true}\n");
}

static void
test_correlation_ids_are_ulids_and_distinct(void **state)
{
	char a[LOG_CORRELATION_ID_LEN + 1], b[LOG_CORRELATION_ID_LEN + 1];
	size_t i;

	log_correlation_id_new(a);
	log_correlation_id_new(b);
	assert_int_equal(strlen(a), 26);
	assert_string_not_equal(a, b);
	/* 48-bit time: the first digit is 0 until the year 10889. */
	assert_int_equal(a[0], '0');
	for (i = 0; i < 26; i++)
		assert_non_null(strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ", a[i]));
	assert_true(log_correlation_id_valid(a));
	assert_true(log_correlation_id_valid("order-42.retry_1"));
	assert_false(log_correlation_id_valid(""));
	assert_false(log_correlation_id_valid("has space"));
	assert_false(log_correlation_id_valid("quote\"injection"));
	assert_false(log_correlation_id_valid(
	    "0123456789012345678901234567890123456789012345678901234567890123x"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefix_matches_only_at_segment_boundary),
		cmocka_unit_test(test_longest_prefix_and_exact_method_win),
		cmocka_unit_test(test_wrong_method_lists_allowed_ones),
		cmocka_unit_test(test_bad_and_duplicate_routes_are_refused),
		cmocka_unit_test(test_log_line_is_one_escaped_json_object),
		cmocka_unit_test(test_overlong_log_line_is_cut_but_stays_json),
		cmocka_unit_test(test_correlation_ids_are_ulids_and_distinct),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
