/*
 * fuzz_http_reader - libFuzzer target for the HTTP/1.1 request reader of
 * the streaming listeners.
 *
 * WHAT IT PROVES
 *   Whatever bytes a client sends, http_reader frames them into requests
 *   without crashing, reading out of bounds, undefined behaviour or
 *   unbounded memory, and the outcome does not depend on how the bytes
 *   are split: the input is read whole and again in pieces whose size
 *   comes from its first byte, request after request (pipelining), and
 *   the two runs must agree on every request's state, status, body
 *   bytes and consumed length.
 *
 * BUILD
 *   make fuzz (tests/local.mk has the rules).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_hash.h"
#include "http_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	uint64_t hash;      /* of everything the callbacks saw */
	uint64_t body;
};

static int
on_head(void *ctx, struct http_reader *r)
{
	struct run *run = ctx;
	fuzz_hash_bytes(&run->hash, r->method, strlen(r->method));
	fuzz_hash_bytes(&run->hash, r->target, strlen(r->target));
	for (size_t i = 0; i < r->nfields; i++) {
		fuzz_hash_bytes(&run->hash, r->fields[i].name,
		    strlen(r->fields[i].name));
		fuzz_hash_bytes(&run->hash, r->fields[i].value,
		    strlen(r->fields[i].value));
	}
	return 0;
}

static int
on_body(void *ctx, const void *data, size_t len)
{
	struct run *run = ctx;
	fuzz_hash_stream(&run->body, data, len);
	return 0;
}

static const struct http_reader_callbacks cbs = { on_head, on_body };

/* Reads every request of data in pieces of step bytes (0: whole). */
static uint64_t
read_all(const uint8_t *data, size_t size, size_t step)
{
	struct http_reader r;
	struct run run = { 1, 1 };
	size_t off = 0;
	uint64_t out = 7;

	http_reader_init(&r, 512, 4096, &cbs, &run);
	while (off < size) {
		size_t n = step && size - off > step ? step : size - off;
		size_t used = http_reader_feed(&r, data + off, n);
		off += used;
		if (r.state == HTTP_READER_ERROR) {
			out = out * 31 + (uint64_t)r.status;
			break;
		}
		if (r.state == HTTP_READER_DONE) {
			out = out * 31 + run.hash * 7 + run.body + r.body_seen +
			    (uint64_t)r.keep_alive + off;
			run.hash = run.body = 1;
			http_reader_reset(&r);
		} else if (used < n)
			abort();        /* neither done nor failed: must eat all */
	}
	out = out * 31 + (uint64_t)r.state;
	http_reader_free(&r);
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t step;

	if (size == 0)
		return 0;
	step = (size_t)(data[0] % 17) + 1;
	if (read_all(data + 1, size - 1, 0) != read_all(data + 1, size - 1,
	    step))
		abort();
	return 0;
}
