/*
 * fuzz_reader - libFuzzer target for the streaming reader.
 *
 * WHAT IT PROVES
 *   For any input: no crash, no out-of-bounds access (every byte of every
 *   slice handed to the callback is read, so ASan sees a bad slice), no
 *   undefined behaviour, bounded memory, and the reader's central promise:
 *   the chunking of the input does not change what comes out. The input is
 *   fed whole, then split in two at a position derived from its first byte,
 *   and (for short inputs) one byte at a time. Each pass folds every
 *   segment, element, component and error into a rolling hash; any
 *   difference is a crash through __builtin_trap(), so libFuzzer keeps the
 *   input as an artifact.
 *
 *   The second byte chooses between the default limits and tiny ones, so
 *   the "segment too long" and "too many elements" paths are fuzzed too.
 *
 * NEVER
 *   Compares error message texts (they may name what was found, but the
 *   code and the position are the contract), or depends on anything but
 *   translators/edi_reader.h.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "edi_reader.h"
#include "fuzz_hash.h"

#define FUZZ_BYTEWISE_MAX 4096 /* byte-at-a-time pass only below this size */

typedef struct fuzz_trace {
	uint64_t hash;
	uint64_t segments;
	uint64_t errors;
} fuzz_trace;

#define fuzz_mix(t, v) fuzz_hash_mix(&(t)->hash, (v))
#define fuzz_mix_bytes(t, p, n) fuzz_hash_bytes(&(t)->hash, (p), (n))

/* 1 when part lies inside whole. Empty parts may carry any pointer (even
 * NULL, where arithmetic would be undefined), so they always fit. */
static int
fuzz_within(edi_slice part, edi_slice whole)
{
	uintptr_t p = (uintptr_t)part.ptr, w = (uintptr_t)whole.ptr;

	return part.len == 0 || (p >= w && p - w <= whole.len &&
	    part.len <= whole.len - (p - w));
}

static void
fuzz_mix_element(fuzz_trace *t, const edi_segment *seg, edi_slice el)
{
	const edi_delimiters *d = seg->delimiters;
	edi_splitter reps, comps;
	edi_slice rep, comp;
	char out[64];
	size_t n;

	if (seg->flags & EDI_SEGMENT_RAW)
		return;
	/* Take the element apart exactly as a map would, so the splitter and
	 * the unescaper see fuzzed slices too. */
	edi_split_init(&reps, el, d->repetition, d->release);
	for (;;) {
		if (d->repetition) {
			if (!edi_split_next(&reps, &rep))
				break;
		} else {
			rep = el;
		}
		if (!fuzz_within(rep, el))
			__builtin_trap();
		edi_split_init(&comps, rep, d->component, d->release);
		while (edi_split_next(&comps, &comp)) {
			if (!fuzz_within(comp, rep))
				__builtin_trap();
			n = edi_unescape(comp, d->release, out, sizeof out);
			if (n > comp.len)
				__builtin_trap();
			fuzz_mix(t, n);
			fuzz_mix_bytes(t, out, n < sizeof out ? n : sizeof out);
		}
		if (!d->repetition)
			break;
	}
}

static int
fuzz_on_segment(void *ctx, const edi_segment *seg)
{
	fuzz_trace *t = ctx;
	const edi_delimiters *d = seg->delimiters;
	size_t i;

	if (seg->element_count == 0 || seg->elements == NULL || d == NULL)
		__builtin_trap();
	t->segments++;
	fuzz_mix(t, 0x5e65);
	fuzz_mix(t, seg->element_count);
	fuzz_mix(t, seg->flags);
	fuzz_mix(t, seg->offset);
	fuzz_mix(t, seg->line);
	fuzz_mix(t, seg->index);
	fuzz_mix(t, seg->interchange);
	fuzz_mix(t, (uint64_t)d->standard);
	fuzz_mix(t, (unsigned char)d->element | (unsigned char)d->component << 8 |
	    (unsigned char)d->repetition << 16 |
	    (uint64_t)(unsigned char)d->release << 24);
	if (d->terminator_len > EDI_MAX_TERMINATOR || d->suffix_len > 2)
		__builtin_trap();
	fuzz_mix_bytes(t, d->terminator, d->terminator_len);
	for (i = 0; i < seg->element_count; i++) {
		fuzz_mix_bytes(t, seg->elements[i].ptr, seg->elements[i].len);
		if (i > 0)
			fuzz_mix_element(t, seg, seg->elements[i]);
	}
	return 0;
}

static void
fuzz_on_error(void *ctx, const edi_error *e)
{
	fuzz_trace *t = ctx;

	if (memchr(e->message, '\0', sizeof e->message) == NULL)
		__builtin_trap();
	if (edi_error_code_name(e->code) == NULL)
		__builtin_trap();
	t->errors++;
	fuzz_mix(t, 0xe770);
	fuzz_mix(t, (uint64_t)e->code);
	fuzz_mix(t, (uint64_t)e->severity);
	fuzz_mix(t, (uint64_t)e->standard);
	fuzz_mix(t, e->offset);
	fuzz_mix(t, e->line);
	fuzz_mix(t, e->segment_index);
	fuzz_mix(t, e->element);
	fuzz_mix(t, e->component);
}

/* Feeds data in chunks whose boundaries are the given cut points (ascending,
 * each <= size); step > 0 instead feeds step bytes at a time. */
static void
fuzz_run(const uint8_t *data, size_t size, const edi_reader_limits *limits,
    const size_t *cuts, size_t ncuts, size_t step, fuzz_trace *t)
{
	static const edi_reader_callbacks cb = { fuzz_on_segment, fuzz_on_error };
	edi_reader *r;
	size_t pos = 0, i;

	memset(t, 0, sizeof *t);
	t->hash = FUZZ_HASH_START;
	r = edi_reader_new(&cb, t, limits);
	if (r == NULL)
		return; /* out of memory: libFuzzer's rss limit reports it */
	if (step > 0) {
		for (pos = 0; pos < size; pos += step)
			edi_reader_feed(r, data + pos,
			    size - pos < step ? size - pos : step);
	} else {
		for (i = 0; i < ncuts; i++) {
			edi_reader_feed(r, data + pos, cuts[i] - pos);
			pos = cuts[i];
		}
		edi_reader_feed(r, data + pos, size - pos);
	}
	edi_reader_finish(r);
	if (edi_reader_segment_count(r) != t->segments ||
	    edi_reader_error_count(r) != t->errors ||
	    edi_reader_byte_count(r) != size)
		__builtin_trap();
	fuzz_mix(t, t->segments);
	fuzz_mix(t, t->errors);
	edi_reader_free(r);
}

static void
fuzz_same(const fuzz_trace *a, const fuzz_trace *b)
{
	if (a->hash != b->hash || a->segments != b->segments ||
	    a->errors != b->errors)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	edi_reader_limits tiny = { 64, 8 };
	const edi_reader_limits *limits = NULL;
	fuzz_trace whole, split, bytewise;
	size_t cut;

	if (size > 1 && (data[1] & 0x80) != 0)
		limits = &tiny;
	fuzz_run(data, size, limits, NULL, 0, 0, &whole);

	/* Scale the first byte over the whole input so every cut position is
	 * reachable, the empty first and last chunks included. */
	cut = size > 0 ? (size_t)((uint64_t)data[0] * size / 255) : 0;
	fuzz_run(data, size, limits, &cut, 1, 0, &split);
	fuzz_same(&whole, &split);

	if (size <= FUZZ_BYTEWISE_MAX) {
		fuzz_run(data, size, limits, NULL, 0, 1, &bytewise);
		fuzz_same(&whole, &bytewise);
	}
	return 0;
}
