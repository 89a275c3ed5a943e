/*
 * Tests for the pure parts of gateway/deliver.h: idempotency keys, webhook
 * signatures, backoff, circuit breaker, status classes. Expected digests
 * were computed independently with Python's hashlib/hmac from the formats
 * documented in deliver.h.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include <cmocka.h>

#include <jansson.h>

#include "deliver.h"

#define DOC "{\"type\":\"invoice\"}"

static void
test_idempotency_key_follows_documented_netstrings(void **state)
{
	char key[DELIVER_KEY_MAX + 1];

	deliver_idempotency_key("acme-retail", "000000101", "101", "0001",
	    "webhook:erp", DOC, strlen(DOC), key);
	assert_string_equal(key, "edg-8b331443fdd529e7840d6927c855ff545059289c"
	    "36b774071b9074d507e46485");
	/* Documents from the API have no envelope: NULL counts as "". */
	deliver_idempotency_key("erp", NULL, "", NULL, "partner:acme-retail",
	    DOC, strlen(DOC), key);
	assert_string_equal(key, "edg-10130d16bedbe926fa44f26c60a21e4dd14b6cda"
	    "b0aeca22a37836bfad434c16");
}

static void
test_idempotency_key_changes_with_each_input(void **state)
{
	char a[DELIVER_KEY_MAX + 1], b[DELIVER_KEY_MAX + 1];

	deliver_idempotency_key("s", "1", "2", "3", "t", "x", 1, a);
	deliver_idempotency_key("s", "1", "2", "3", "t", "y", 1, b);
	assert_string_not_equal(a, b);
	deliver_idempotency_key("s", "1", "2", "4", "t", "x", 1, b);
	assert_string_not_equal(a, b);
	/* Netstrings keep field boundaries: "1"+"23" is not "12"+"3". */
	deliver_idempotency_key("s", "1", "23", "", "t", "x", 1, a);
	deliver_idempotency_key("s", "12", "3", "", "t", "x", 1, b);
	assert_string_not_equal(a, b);
	assert_int_equal(strlen(a), 68);
}

static void
test_signature_is_hmac_of_timestamp_dot_body(void **state)
{
	char sig[128];

	deliver_signature("whsec_test", 1700000000, "{\"a\":1}", 7, sig,
	    sizeof(sig));
	assert_string_equal(sig, "t=1700000000,v1=38877139021993b830af32feea6e1"
	    "8a8da83eb2f6e49ee50bd9e4cf4ca4d3789");
}

static void
test_signature_check_accepts_fresh_and_refuses_stale_or_altered(void **state)
{
	char sig[128];
	const char *body = "{\"a\":1}";

	deliver_signature("whsec_test", 1700000000, body, 7, sig, sizeof(sig));
	assert_true(deliver_signature_check("whsec_test", sig, body, 7,
	    1700000100, 300));
	/* Replayed later than the tolerance. */
	assert_false(deliver_signature_check("whsec_test", sig, body, 7,
	    1700000400, 300));
	/* Other body, other secret, mangled header. */
	assert_false(deliver_signature_check("whsec_test", sig, "{\"a\":2}", 7,
	    1700000000, 300));
	assert_false(deliver_signature_check("other", sig, body, 7,
	    1700000000, 300));
	assert_false(deliver_signature_check("whsec_test", "t=1700000000", body,
	    7, 1700000000, 300));
	assert_false(deliver_signature_check("whsec_test", "", body, 7,
	    1700000000, 300));
	assert_false(deliver_signature_check("whsec_test", NULL, body, 7,
	    1700000000, 300));
}

static void
test_backoff_doubles_to_the_ceiling_and_jitter_only_shortens(void **state)
{
	/* base 1 s, max 60 s, no jitter: 1, 2, 4, 8, 16, 32, 60, 60 s. */
	assert_int_equal(deliver_backoff_us(1, 1000000, 60000000, 0, 0), 1000000);
	assert_int_equal(deliver_backoff_us(2, 1000000, 60000000, 0, 0), 2000000);
	assert_int_equal(deliver_backoff_us(6, 1000000, 60000000, 0, 0), 32000000);
	assert_int_equal(deliver_backoff_us(7, 1000000, 60000000, 0, 0), 60000000);
	assert_int_equal(deliver_backoff_us(1000, 1000000, 60000000, 0, 0),
	    60000000);
	/* jitter 0.5 with draw 0.5 takes a quarter off: 4 s -> 3 s. */
	assert_int_equal(deliver_backoff_us(3, 1000000, 60000000, 0.5, 0.5),
	    3000000);
	/* attempt 0 or negative counts as the first. */
	assert_int_equal(deliver_backoff_us(0, 1000000, 60000000, 0, 0), 1000000);
}

static void
test_breaker_opens_after_threshold_and_probes_once(void **state)
{
	struct deliver_breaker b;

	memset(&b, 0, sizeof(b));
	assert_true(deliver_breaker_allow(&b, 0, 10));
	deliver_breaker_record(&b, 0, 1, 3);
	deliver_breaker_record(&b, 0, 2, 3);
	assert_int_equal(b.state, DELIVER_BREAKER_CLOSED);
	deliver_breaker_record(&b, 0, 3, 3);
	assert_int_equal(b.state, DELIVER_BREAKER_OPEN);
	assert_false(deliver_breaker_allow(&b, 12, 10));
	/* Open time over: one probe, the next caller waits for its result. */
	assert_true(deliver_breaker_allow(&b, 13, 10));
	assert_int_equal(b.state, DELIVER_BREAKER_HALF_OPEN);
	assert_false(deliver_breaker_allow(&b, 13, 10));
	/* The probe fails: open again from now. */
	deliver_breaker_record(&b, 0, 14, 3);
	assert_int_equal(b.state, DELIVER_BREAKER_OPEN);
	assert_false(deliver_breaker_allow(&b, 20, 10));
	assert_true(deliver_breaker_allow(&b, 24, 10));
	deliver_breaker_record(&b, 1, 25, 3);
	assert_int_equal(b.state, DELIVER_BREAKER_CLOSED);
	assert_int_equal(b.failures, 0);
	assert_true(deliver_breaker_allow(&b, 25, 10));
}

static void
test_status_classes(void **state)
{
	assert_int_equal(deliver_outcome_of_status(200), DELIVER_OK);
	assert_int_equal(deliver_outcome_of_status(204), DELIVER_OK);
	assert_int_equal(deliver_outcome_of_status(0), DELIVER_RETRY);
	assert_int_equal(deliver_outcome_of_status(408), DELIVER_RETRY);
	assert_int_equal(deliver_outcome_of_status(429), DELIVER_RETRY);
	assert_int_equal(deliver_outcome_of_status(500), DELIVER_RETRY);
	assert_int_equal(deliver_outcome_of_status(503), DELIVER_RETRY);
	assert_int_equal(deliver_outcome_of_status(400), DELIVER_PERMANENT);
	assert_int_equal(deliver_outcome_of_status(404), DELIVER_PERMANENT);
	assert_int_equal(deliver_outcome_of_status(422), DELIVER_PERMANENT);
	assert_int_equal(deliver_outcome_of_status(301), DELIVER_PERMANENT);
}

static void
test_cloudevent_envelope_carries_the_document(void **state)
{
	/* 2026-11-23T10:00:00.123456Z */
	char *s = deliver_cloudevent("edg-1", "acme-retail", "order",
	    "acme-retail", "corr-7", 1795428000123456LL,
	    "{\"type\":\"order\",\"order_number\":\"PO1\"}", 37);
	json_t *e = json_loads(s, 0, NULL);

	assert_non_null(e);
	assert_string_equal(json_string_value(json_object_get(e, "specversion")),
	    "1.0");
	assert_string_equal(json_string_value(json_object_get(e, "id")), "edg-1");
	assert_string_equal(json_string_value(json_object_get(e, "source")),
	    "/edigate/acme-retail");
	assert_string_equal(json_string_value(json_object_get(e, "type")),
	    "com.edigate.order");
	assert_string_equal(json_string_value(json_object_get(e, "time")),
	    "2026-11-23T10:00:00.123456Z");
	assert_string_equal(json_string_value(json_object_get(e,
	    "correlationid")), "corr-7");
	assert_string_equal(json_string_value(json_object_get(json_object_get(e,
	    "data"), "order_number")), "PO1");
	json_decref(e);
	free(s);
	/* Bytes that are not JSON travel as data_base64: "EDI" -> "RURJ". */
	s = deliver_cloudevent("k", "", "order", NULL, NULL, 0, "EDI", 3);
	e = json_loads(s, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(e, "data_base64")),
	    "RURJ");
	assert_string_equal(json_string_value(json_object_get(e, "source")),
	    "/edigate/edigate");
	json_decref(e);
	free(s);
}

static void
test_attempt_count_survives_foreign_claims_and_resets_on_replay(void **state)
{
	assert_int_equal(deliver_attempts_of("", 0), 0);
	assert_int_equal(deliver_attempts_of(NULL, 3), 0);
	assert_int_equal(deliver_attempts_of("HTTP 503", 3), 0);
	/* Our count stays 2 although other workers claimed it 5 times. */
	assert_int_equal(deliver_attempts_of("[2] HTTP 503", 7), 2);
	/* A replay reset the store's counter below ours: start over. */
	assert_int_equal(deliver_attempts_of("[4] HTTP 400", 1), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idempotency_key_follows_documented_netstrings),
		cmocka_unit_test(test_idempotency_key_changes_with_each_input),
		cmocka_unit_test(test_signature_is_hmac_of_timestamp_dot_body),
		cmocka_unit_test(test_signature_check_accepts_fresh_and_refuses_stale_or_altered),
		cmocka_unit_test(test_backoff_doubles_to_the_ceiling_and_jitter_only_shortens),
		cmocka_unit_test(test_breaker_opens_after_threshold_and_probes_once),
		cmocka_unit_test(test_status_classes),
		cmocka_unit_test(test_cloudevent_envelope_carries_the_document),
		cmocka_unit_test(test_attempt_count_survives_foreign_claims_and_resets_on_replay),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
