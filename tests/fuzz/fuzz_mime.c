/*
 * fuzz_mime - libFuzzer target for the MIME and AS2 header parsing.
 *
 * WHAT IT PROVES
 *   For any input: no crash, no out-of-bounds access, no undefined
 *   behaviour, bounded memory, and that chunking does not change results.
 *   The input is read as a header block followed by a body, the way an AS2
 *   request arrives. The body is split as a multipart (boundary from the
 *   Content-Type when there is one, else "b"), as multipart/signed, and
 *   decoded with every transfer encoding; each is fed whole, in two pieces
 *   cut where the second byte of the input says, and (for short inputs)
 *   one byte at a time. The events and status of each pass fold into a
 *   hash; a difference is a crash through __builtin_trap(). Every header
 *   value also goes through the Content-Type, Disposition-Notification-
 *   Options, Receipt-Delivery-Option and AS2 name parsers.
 *
 * BUILD
 *   make fuzz (tests/local.mk has the rules).
 *
 * NEVER
 *   Compares error message texts, or depends on anything but
 *   gateway/mime.h.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_hash.h"
#include "mime.h"

#define FUZZ_BYTEWISE_MAX 2048

typedef struct trace {
	uint64_t hash;
} trace;

#define mix(t, v) fuzz_hash_mix(&(t)->hash, (v))
#define mix_bytes(t, p, n) fuzz_hash_stream(&(t)->hash, (p), (n))

static int
on_part(void *ctx, mime_part_event ev, unsigned index, const char *data,
    size_t len)
{
	trace *t = ctx;

	/* DATA events may come in any number of pieces: hash bytes only */
	if (ev != MIME_PART_DATA)
		mix(t, 0x1000u + ev * 0x100u + index);
	mix_bytes(t, data, len);
	return 0;
}

static int
on_bytes(void *ctx, const void *data, size_t len)
{
	trace *t = ctx;

	mix_bytes(t, data, len);
	return 0;
}

typedef mime_status (*feed_fn)(void *obj, const void *data, size_t len);

/* Feeds data whole (mode 0), cut in two at cut (1), or bytewise (2). */
static mime_status
feed(void *obj, feed_fn fn, const uint8_t *data, size_t len, int mode,
    size_t cut)
{
	mime_status st = MIME_OK;
	size_t i;

	if (mode == 0)
		return fn(obj, data, len);
	if (mode == 1) {
		cut = len ? cut % (len + 1) : 0;
		if ((st = fn(obj, data, cut)) != MIME_OK)
			return st;
		return fn(obj, data + cut, len - cut);
	}
	for (i = 0; i < len && st == MIME_OK; i++)
		st = fn(obj, data + i, 1);
	return st;
}

static mime_status
mp_feed(void *m, const void *d, size_t n)
{
	return n ? mime_multipart_feed(m, d, n, NULL) : MIME_OK;
}

static mime_status
signed_feed(void *s, const void *d, size_t n)
{
	return n ? mime_signed_feed(s, d, n, NULL) : MIME_OK;
}

static mime_status
dec_feed(void *d, const void *p, size_t n)
{
	return n ? mime_decoder_feed(d, p, n, NULL) : MIME_OK;
}

static uint64_t
run_multipart(const char *boundary, const uint8_t *body, size_t len,
    int mode, size_t cut)
{
	trace t = { FUZZ_HASH_START };
	mime_multipart m;
	mime_status st;

	st = mime_multipart_init(&m, boundary, 16, on_part, &t, NULL);
	if (st == MIME_OK)
		st = feed(&m, mp_feed, body, len, mode, cut);
	if (st == MIME_OK)
		st = mime_multipart_finish(&m, NULL);
	mix(&t, st);
	return t.hash;
}

static uint64_t
run_signed(const mime_content_type *ct, const uint8_t *body, size_t len,
    int mode, size_t cut)
{
	trace t = { FUZZ_HASH_START };
	mime_signed s;
	mime_status st;

	st = mime_signed_init(&s, ct, on_bytes, &t, 4096, NULL);
	if (st == MIME_OK)
		st = feed(&s, signed_feed, body, len, mode, cut);
	if (st == MIME_OK)
		st = mime_signed_finish(&s, NULL);
	mix(&t, st);
	if (st == MIME_OK)
		mix_bytes(&t, s.signature, s.signature_len);
	mime_signed_free(&s);
	return t.hash;
}

static uint64_t
run_decoder(mime_cte cte, const uint8_t *body, size_t len, int mode,
    size_t cut)
{
	trace t = { FUZZ_HASH_START };
	mime_decoder d;
	mime_status st;

	mime_decoder_init(&d, cte, on_bytes, &t);
	st = feed(&d, dec_feed, body, len, mode, cut);
	if (st == MIME_OK)
		st = mime_decoder_finish(&d, NULL);
	/* Before an error, how much decoded output was flushed depends on
	 * the chunking; only the verdict must not. */
	if (st != MIME_OK)
		t.hash = 0;
	mix(&t, st);
	return t.hash;
}

static void
parse_values(const mime_headers *h)
{
	char name[MIME_AS2_NAME_MAX + 1], url[256], out[300];
	mime_content_type ct;
	mime_micalg_style style;
	mime_dno dno;
	size_t i;

	for (i = 0; i < h->count; i++) {
		const char *v = h->fields[i].value;

		if (mime_content_type_parse(v, &ct, NULL) == MIME_OK) {
			(void)mime_content_type_param(&ct, "boundary");
			mime_content_type_free(&ct);
		}
		if (mime_dno_parse(v, &dno, NULL) == MIME_OK)
			(void)mime_dno_choose_micalg(&dno, ~0u, &style);
		(void)mime_receipt_delivery_parse(v, url, sizeof(url), NULL);
		if (mime_as2_name_parse(v, name, NULL) == MIME_OK &&
		    mime_as2_name_format(name, out, sizeof(out), NULL) != MIME_OK)
			__builtin_trap();   /* a parsed name must format */
		(void)mime_cte_parse(v);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mime_limits lim = { 4096, 32 };
	mime_headers h;
	mime_content_type ct;
	const char *ctv, *boundary = "b";
	const uint8_t *body;
	size_t cut, at = 0, len;
	int have_ct = 0, modes, mode;
	mime_cte cte;
	uint64_t ref;

	if (size < 2)
		return 0;
	cut = data[1];
	data += 2;
	size -= 2;
	modes = size <= FUZZ_BYTEWISE_MAX ? 3 : 2;

	mime_headers_init(&h, &lim);
	if (mime_headers_parse(&h, data, size, &at, NULL) == MIME_OK) {
		parse_values(&h);
		ctv = mime_headers_get(&h, "Content-Type");
		if (ctv != NULL && mime_content_type_parse(ctv, &ct, NULL) ==
		    MIME_OK) {
			have_ct = 1;
			if (mime_content_type_param(&ct, "boundary") != NULL)
				boundary = mime_content_type_param(&ct,
				    "boundary");
		}
	} else {
		at = 0;
	}
	body = data + at;
	len = size - at;

	ref = run_multipart(boundary, body, len, 0, cut);
	for (mode = 1; mode < modes; mode++)
		if (run_multipart(boundary, body, len, mode, cut) != ref)
			__builtin_trap();
	if (have_ct && mime_content_type_is(&ct, "multipart", "signed")) {
		ref = run_signed(&ct, body, len, 0, cut);
		for (mode = 1; mode < modes; mode++)
			if (run_signed(&ct, body, len, mode, cut) != ref)
				__builtin_trap();
	}
	for (cte = MIME_CTE_7BIT; cte <= MIME_CTE_UNKNOWN; cte++) {
		ref = run_decoder(cte, body, len, 0, cut);
		for (mode = 1; mode < modes; mode++)
			if (run_decoder(cte, body, len, mode, cut) != ref)
				__builtin_trap();
	}
	if (have_ct)
		mime_content_type_free(&ct);
	mime_headers_free(&h);
	return 0;
}
