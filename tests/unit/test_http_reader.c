/*
 * test_http_reader - HTTP/1.1 request framing (RFC 9112): every request
 * is fed whole and split at every byte, and both give the same result.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http_reader.h"

struct seen {
	int heads;
	char method[16], target[128];
	char body[4096];
	size_t body_len;
};

static int
on_head(void *ctx, struct http_reader *r)
{
	struct seen *s = ctx;
	s->heads++;
	snprintf(s->method, sizeof(s->method), "%s", r->method);
	snprintf(s->target, sizeof(s->target), "%s", r->target);
	return 0;
}

static int
on_body(void *ctx, const void *data, size_t len)
{
	struct seen *s = ctx;
	assert_true(s->body_len + len <= sizeof(s->body));
	memcpy(s->body + s->body_len, data, len);
	s->body_len += len;
	return 0;
}

static const struct http_reader_callbacks cbs = { on_head, on_body };

/* Feeds text in pieces of step bytes (0: whole) until DONE or ERROR;
 * returns the bytes consumed. */
static size_t
feed(struct http_reader *r, const char *text, size_t len, size_t step)
{
	size_t off = 0;

	while (off < len && r->state != HTTP_READER_DONE &&
	    r->state != HTTP_READER_ERROR) {
		size_t n = step ? (len - off < step ? len - off : step) :
		    len - off;
		size_t used = http_reader_feed(r, text + off, n);
		off += used;
		if (used < n)
			break;
	}
	return off;
}

/* Runs text whole and byte by byte; both must end in state with the
 * same body, consuming the same bytes. */
static void
check_both(const char *text, enum http_reader_state state, int status,
    const char *body, size_t *consumed)
{
	size_t len = strlen(text);
	size_t used[2];

	for (int pass = 0; pass < 2; pass++) {
		struct http_reader r;
		struct seen s;
		memset(&s, 0, sizeof(s));
		http_reader_init(&r, 256, 100, &cbs, &s);
		used[pass] = feed(&r, text, len, pass ? 1 : 0);
		assert_int_equal(r.state, state);
		if (state == HTTP_READER_ERROR)
			assert_int_equal(r.status, status);
		else {
			assert_int_equal(s.heads, 1);
			assert_int_equal(s.body_len, strlen(body));
			assert_memory_equal(s.body, body, s.body_len);
		}
		http_reader_free(&r);
	}
	assert_int_equal(used[0], used[1]);
	if (consumed)
		*consumed = used[0];
}

static void
test_content_length_body_is_passed_through(void **state)
{
	(void)state;
	check_both("POST /as2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"
	    "hello", HTTP_READER_DONE, 0, "hello", NULL);
}

static void
test_chunked_body_loses_its_framing(void **state)
{
	(void)state;
	check_both("POST /as2 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5;ext=1\r\nhello\r\nA\r\n, world!!!\r\n0\r\nX-Trailer: y\r\n\r\n",
	    HTTP_READER_DONE, 0, "hello, world!!!", NULL);
}

static void
test_request_without_body_is_done_after_the_head(void **state)
{
	size_t used;
	const char *two = "GET /healthz HTTP/1.1\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n";

	(void)state;
	check_both(two, HTTP_READER_DONE, 0, "", &used);
	/* The pipelined second request stays with the caller. */
	assert_int_equal(used, strlen("GET /healthz HTTP/1.1\r\n\r\n"));
}

static void
test_method_target_and_fields_are_split(void **state)
{
	struct http_reader r;
	struct seen s;
	const char *t = "\r\nPOST /as2?x=1 HTTP/1.1\r\nAS2-From:  \"ACME AS2\" \r\n"
	    "Expect: 100-continue\r\nContent-Length: 0\r\n\r\n";

	(void)state;
	memset(&s, 0, sizeof(s));
	http_reader_init(&r, 1024, 100, &cbs, &s);
	feed(&r, t, strlen(t), 0);
	assert_int_equal(r.state, HTTP_READER_DONE);
	assert_string_equal(s.method, "POST");
	assert_string_equal(s.target, "/as2?x=1");
	assert_string_equal(http_reader_field(&r, "as2-from"), "\"ACME AS2\"");
	assert_int_equal(r.expect_continue, 1);
	assert_int_equal(r.keep_alive, 1);
	http_reader_free(&r);
}

static void
test_connection_close_and_http10_end_keep_alive(void **state)
{
	struct http_reader r;
	const char *a = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
	const char *b = "GET / HTTP/1.0\r\n\r\n";

	(void)state;
	http_reader_init(&r, 1024, 100, NULL, NULL);
	feed(&r, a, strlen(a), 0);
	assert_int_equal(r.keep_alive, 0);
	http_reader_reset(&r);
	feed(&r, b, strlen(b), 0);
	assert_int_equal(r.state, HTTP_READER_DONE);
	assert_int_equal(r.keep_alive, 0);
	http_reader_free(&r);
}

static void
test_body_over_the_limit_is_413_before_any_byte(void **state)
{
	(void)state;
	check_both("POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\nxxxx",
	    HTTP_READER_ERROR, 413, NULL, NULL);
}

static void
test_chunked_body_over_the_limit_is_413(void **state)
{
	(void)state;
	check_both("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "60\r\n" "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n10\r\n",
	    HTTP_READER_ERROR, 413, NULL, NULL);
}

static void
test_head_over_the_limit_is_431(void **state)
{
	char big[600];

	(void)state;
	snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX: %0500d\r\n\r\n", 0);
	check_both(big, HTTP_READER_ERROR, 431, NULL, NULL);
}

static void
test_length_with_transfer_encoding_is_refused(void **state)
{
	(void)state;
	check_both("POST / HTTP/1.1\r\nContent-Length: 3\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", HTTP_READER_ERROR, 400,
	    NULL, NULL);
}

static void
test_two_different_lengths_are_refused(void **state)
{
	(void)state;
	check_both("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4"
	    "\r\n\r\n", HTTP_READER_ERROR, 400, NULL, NULL);
}

static void
test_other_transfer_codings_are_501(void **state)
{
	(void)state;
	check_both("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	    HTTP_READER_ERROR, 501, NULL, NULL);
}

static void
test_malformed_requests_are_400(void **state)
{
	static const char *const bad[] = {
		"GET\r\n\r\n",
		"GET / HTTP/2.0\r\n\r\n",
		"GET /\x01 HTTP/1.1\r\n\r\n",
		"G(T / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nNoColon\r\n\r\n",
		"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: \r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
		"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_both(bad[i], HTTP_READER_ERROR, 400, NULL, NULL);
}

static void
test_huge_chunk_size_does_not_overflow(void **state)
{
	(void)state;
	check_both("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "fffffffffffffffffff\r\n", HTTP_READER_ERROR, 413, NULL, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_length_body_is_passed_through),
		cmocka_unit_test(test_chunked_body_loses_its_framing),
		cmocka_unit_test(test_request_without_body_is_done_after_the_head),
		cmocka_unit_test(test_method_target_and_fields_are_split),
		cmocka_unit_test(test_connection_close_and_http10_end_keep_alive),
		cmocka_unit_test(test_body_over_the_limit_is_413_before_any_byte),
		cmocka_unit_test(test_chunked_body_over_the_limit_is_413),
		cmocka_unit_test(test_head_over_the_limit_is_431),
		cmocka_unit_test(test_length_with_transfer_encoding_is_refused),
		cmocka_unit_test(test_two_different_lengths_are_refused),
		cmocka_unit_test(test_other_transfer_codings_are_501),
		cmocka_unit_test(test_malformed_requests_are_400),
		cmocka_unit_test(test_huge_chunk_size_does_not_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
