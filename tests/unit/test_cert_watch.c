/*
 * Tests for gateway/cert_watch.c: how a certificate's validity window is
 * judged against the warning period, what the check logs, and that a
 * gauge family can be emptied for a reloaded certificate list. Times are
 * written by hand (Unix seconds).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cert_watch.h"
#include "log.h"
#include "metrics.h"

#define DAY 86400LL
#define NOW 1795435200LL   /* 2026-11-23T12:00:00Z */

static struct cert_watch_entry
entry(long long not_before, long long not_after)
{
	struct cert_watch_entry e;
	memset(&e, 0, sizeof(e));
	snprintf(e.partner, sizeof(e.partner), "acme");
	snprintf(e.role, sizeof(e.role), "theirs");
	snprintf(e.serial, sizeof(e.serial), "01");
	e.not_before = (time_t)not_before;
	e.not_after = (time_t)not_after;
	return e;
}

static void
test_certificate_far_from_expiry_is_valid(void **state)
{
	struct cert_watch_entry e = entry(NOW - DAY, NOW + 400 * DAY);
	(void)state;
	assert_int_equal(cert_watch_classify(&e, NOW, 30 * DAY),
	    CERT_WATCH_VALID);
}

static void
test_certificate_within_30_days_is_expiring(void **state)
{
	struct cert_watch_entry e = entry(NOW - DAY, NOW + 10 * DAY);
	struct cert_watch_entry edge = entry(NOW - DAY, NOW + 30 * DAY);
	struct cert_watch_entry past = entry(NOW - DAY, NOW + 30 * DAY + 1);
	(void)state;
	assert_int_equal(cert_watch_classify(&e, NOW, 30 * DAY),
	    CERT_WATCH_EXPIRING);
	assert_int_equal(cert_watch_classify(&edge, NOW, 30 * DAY),
	    CERT_WATCH_EXPIRING);
	assert_int_equal(cert_watch_classify(&past, NOW, 30 * DAY),
	    CERT_WATCH_VALID);
}

static void
test_certificate_past_not_after_is_expired(void **state)
{
	struct cert_watch_entry e = entry(NOW - 400 * DAY, NOW - 1);
	struct cert_watch_entry at = entry(NOW - 400 * DAY, NOW);
	(void)state;
	assert_int_equal(cert_watch_classify(&e, NOW, 30 * DAY),
	    CERT_WATCH_EXPIRED);
	assert_int_equal(cert_watch_classify(&at, NOW, 30 * DAY),
	    CERT_WATCH_EXPIRED);
}

static void
test_next_certificate_of_a_rotation_is_not_yet_valid(void **state)
{
	struct cert_watch_entry e = entry(NOW + DAY, NOW + 400 * DAY);
	(void)state;
	assert_int_equal(cert_watch_classify(&e, NOW, 30 * DAY),
	    CERT_WATCH_NOT_YET_VALID);
}

static void
test_zero_warning_days_warns_only_about_expired(void **state)
{
	struct cert_watch_entry e = entry(NOW - DAY, NOW + 1);
	(void)state;
	assert_int_equal(cert_watch_classify(&e, NOW, 0), CERT_WATCH_VALID);
}

static void
test_log_writes_one_line_per_expiring_or_expired_certificate(void **state)
{
	struct cert_watch_entry list[4];
	char buf[8192];
	FILE *f = fmemopen(buf, sizeof(buf), "w");
	size_t logged;
	(void)state;

	list[0] = entry(NOW - DAY, NOW + 400 * DAY);   /* valid */
	list[1] = entry(NOW - DAY, NOW + 9 * DAY + 3600);  /* 9 days left */
	list[2] = entry(NOW - 400 * DAY, NOW - DAY);   /* expired */
	list[3] = entry(NOW + DAY, NOW + 30 * DAY);    /* not yet valid */
	assert_non_null(f);
	log_init(f, LOG_LEVEL_INFO);
	logged = cert_watch_log(list, 4, NOW, 30 * DAY);
	fflush(f);
	log_init(stderr, LOG_LEVEL_ERROR);
	fclose(f);
	assert_int_equal(logged, 2);
	assert_non_null(strstr(buf, "\"level\":\"warn\",\"msg\":\"certificate "
	    "expires soon\""));
	assert_non_null(strstr(buf, "\"days_left\":\"9\""));
	assert_non_null(strstr(buf, "\"not_after\":\"2026-12-02T13:00:00Z\""));
	assert_non_null(strstr(buf, "\"level\":\"error\",\"msg\":\"certificate "
	    "expired\""));
	assert_non_null(strstr(buf, "\"not_after\":\"2026-11-22T12:00:00Z\""));
}

static void
test_cleared_gauge_family_renders_no_series(void **state)
{
	static const char *const labels[] = { "serial", NULL };
	struct metrics *m = metrics_new();
	struct metrics_family *g = metrics_gauge(m, "x_seconds", "X.", labels);
	const char *a[] = { "01" }, *b[] = { "02" };
	char *text;
	(void)state;

	assert_int_equal(metrics_gauge_set(g, a, 5), 0);
	metrics_family_clear(g);
	assert_int_equal(metrics_gauge_set(g, b, 7), 0);
	text = metrics_render(m, NULL);
	assert_non_null(text);
	assert_null(strstr(text, "x_seconds{serial=\"01\"}"));
	assert_non_null(strstr(text, "x_seconds{serial=\"02\"} 7\n"));
	free(text);
	metrics_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_certificate_far_from_expiry_is_valid),
		cmocka_unit_test(test_certificate_within_30_days_is_expiring),
		cmocka_unit_test(test_certificate_past_not_after_is_expired),
		cmocka_unit_test(
		    test_next_certificate_of_a_rotation_is_not_yet_valid),
		cmocka_unit_test(test_zero_warning_days_warns_only_about_expired),
		cmocka_unit_test(
		    test_log_writes_one_line_per_expiring_or_expired_certificate),
		cmocka_unit_test(test_cleared_gauge_family_renders_no_series),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
