/*
 * Tests for gateway/metrics.c: the Prometheus text format, written out by
 * hand from the exposition format specification (text format 0.0.4).
 */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "metrics.h"

static void
test_counter_and_gauge_text(void **state)
{
	static const char *const labels[] = { "direction", "partner", "type",
	    NULL };
	struct metrics *m = metrics_new();
	struct metrics_family *msgs = metrics_counter(m,
	    "edigate_messages_total", "Messages by partner and type.", labels);
	struct metrics_family *up = metrics_gauge(m, "edigate_up",
	    "1 when up.", NULL);
	const char *in850[] = { "in", "acme", "850" };
	const char *out856[] = { "out", "acme", "856" };
	char *text;
	size_t len;

	assert_non_null(msgs);
	assert_non_null(up);
	assert_int_equal(metrics_counter_add(msgs, in850, 1), 0);
	assert_int_equal(metrics_counter_add(msgs, out856, 2), 0);
	assert_int_equal(metrics_counter_add(msgs, in850, 1), 0);
	assert_int_equal(metrics_gauge_set(up, NULL, 1), 0);
	assert_int_equal(metrics_gauge_add(up, NULL, -0.5), 0);
	text = metrics_render(m, &len);
	assert_string_equal(text,
	    "# HELP edigate_messages_total Messages by partner and type.\n"
	    "# TYPE edigate_messages_total counter\n"
	    "edigate_messages_total{direction=\"in\",partner=\"acme\","
	    "type=\"850\"} 2\n"
	    "edigate_messages_total{direction=\"out\",partner=\"acme\","
	    "type=\"856\"} 2\n"
	    "# HELP edigate_up 1 when up.\n"
	    "# TYPE edigate_up gauge\n"
	    "edigate_up 0.5\n");
	assert_int_equal(len, strlen(text));
	free(text);
	metrics_free(m);
}

static void
test_histogram_buckets_are_cumulative_with_sum_and_count(void **state)
{
	static const char *const labels[] = { "route", NULL };
	static const double bounds[] = { 0.1, 0.5, 2.5 };
	struct metrics *m = metrics_new();
	struct metrics_family *h = metrics_histogram(m, "req_seconds",
	    "Request time.", labels, bounds, 3);
	const char *as2[] = { "/as2" };
	char *text;

	assert_non_null(h);
	metrics_histogram_observe(h, as2, 0.05);
	metrics_histogram_observe(h, as2, 0.1);   /* le is inclusive */
	metrics_histogram_observe(h, as2, 1.25);
	metrics_histogram_observe(h, as2, 7);
	text = metrics_render(m, NULL);
	assert_string_equal(text,
	    "# HELP req_seconds Request time.\n"
	    "# TYPE req_seconds histogram\n"
	    "req_seconds_bucket{route=\"/as2\",le=\"0.1\"} 2\n"
	    "req_seconds_bucket{route=\"/as2\",le=\"0.5\"} 2\n"
	    "req_seconds_bucket{route=\"/as2\",le=\"2.5\"} 3\n"
	    "req_seconds_bucket{route=\"/as2\",le=\"+Inf\"} 4\n"
	    "req_seconds_sum{route=\"/as2\"} 8.4\n"
	    "req_seconds_count{route=\"/as2\"} 4\n");
	free(text);
	metrics_free(m);
}

static void
test_label_values_and_help_are_escaped(void **state)
{
	static const char *const labels[] = { "partner", NULL };
	struct metrics *m = metrics_new();
	struct metrics_family *c = metrics_counter(m, "x_total",
	    "Line one\nback\\slash \"quoted\"", labels);
	const char *v[] = { "a\"b\\c\nd" };
	char *text;

	metrics_counter_add(c, v, 3);
	text = metrics_render(m, NULL);
	assert_string_equal(text,
	    "# HELP x_total Line one\\nback\\\\slash \"quoted\"\n"
	    "# TYPE x_total counter\n"
	    "x_total{partner=\"a\\\"b\\\\c\\nd\"} 3\n");
	free(text);
	metrics_free(m);
}

static void
test_invalid_registrations_and_updates_are_refused(void **state)
{
	static const char *const bad_label[] = { "1abc", NULL };
	static const char *const le[] = { "le", NULL };
	static const double unsorted[] = { 1, 0.5 };
	static const double ok[] = { 1 };
	struct metrics *m = metrics_new();
	struct metrics_family *c, *g;

	assert_null(metrics_counter(m, "9starts_with_digit", "", NULL));
	assert_null(metrics_counter(m, "has-dash", "", NULL));
	assert_null(metrics_counter(m, "fine", "", bad_label));
	assert_null(metrics_histogram(m, "h", "", le, ok, 1));
	assert_null(metrics_histogram(m, "h", "", NULL, unsorted, 2));
	c = metrics_counter(m, "c_total", "", NULL);
	assert_non_null(c);
	assert_null(metrics_gauge(m, "c_total", "", NULL));
	assert_int_equal(metrics_counter_add(c, NULL, -1), -1);
	assert_int_equal(metrics_gauge_set(c, NULL, 1), -1);
	g = metrics_gauge(m, "g", "", bad_label + 1);
	assert_non_null(g);
	metrics_free(m);
}

static void
test_empty_registry_renders_empty_text(void **state)
{
	struct metrics *m = metrics_new();
	size_t len = 99;
	char *text = metrics_render(m, &len);

	assert_string_equal(text, "");
	assert_int_equal(len, 0);
	free(text);
	metrics_free(m);
}

static void
test_series_limit_drops_and_counts(void **state)
{
	static const char *const labels[] = { "id", NULL };
	struct metrics *m = metrics_new();
	struct metrics_family *c = metrics_counter(m, "c_total", "h", labels);
	char id[32], *text;
	const char *v[] = { id };
	int i;

	for (i = 0; i < METRICS_MAX_SERIES; i++) {
		snprintf(id, sizeof(id), "%d", i);
		assert_int_equal(metrics_counter_add(c, v, 1), 0);
	}
	snprintf(id, sizeof(id), "one-too-many");
	assert_int_equal(metrics_counter_add(c, v, 1), -1);
	text = metrics_render(m, NULL);
	assert_non_null(strstr(text,
	    "\nedigate_metrics_series_dropped_total 1\n"));
	assert_null(strstr(text, "one-too-many"));
	free(text);
	metrics_free(m);
}

struct race {
	struct metrics_family *c;
};

static void *
add_many(void *p)
{
	struct race *r = p;
	const char *v[] = { "acme" };
	int i;

	for (i = 0; i < 20000; i++)
		metrics_counter_add(r->c, v, 1);
	return NULL;
}

static void
test_concurrent_updates_are_not_lost(void **state)
{
	static const char *const labels[] = { "partner", NULL };
	struct metrics *m = metrics_new();
	struct race r = { metrics_counter(m, "n_total", "h", labels) };
	pthread_t t[4];
	char *text;
	int i;

	for (i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, add_many, &r);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	text = metrics_render(m, NULL);
	assert_string_equal(text, "# HELP n_total h\n# TYPE n_total counter\n"
	    "n_total{partner=\"acme\"} 80000\n");
	free(text);
	metrics_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter_and_gauge_text),
		cmocka_unit_test(
		    test_histogram_buckets_are_cumulative_with_sum_and_count),
		cmocka_unit_test(test_label_values_and_help_are_escaped),
		cmocka_unit_test(test_invalid_registrations_and_updates_are_refused),
		cmocka_unit_test(test_empty_registry_renders_empty_text),
		cmocka_unit_test(test_series_limit_drops_and_counts),
		cmocka_unit_test(test_concurrent_updates_are_not_lost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
