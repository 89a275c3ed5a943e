/*
 * fuzz_hash - the order-sensitive hash every fuzz target folds its events
 * into, so that passes over the same input in different chunkings can be
 * compared with one integer. Header only: each target is one translation
 * unit and libFuzzer links nothing else of ours.
 *
 * NEVER
 *   Skips a byte of a slice it is given: reading every byte is what lets
 *   AddressSanitizer catch a slice that points outside the input.
 */
#ifndef EDIGATE_FUZZ_HASH_H
#define EDIGATE_FUZZ_HASH_H

#include <stddef.h>
#include <stdint.h>

#define FUZZ_HASH_START 0xcbf29ce484222325ULL

/* FNV-1a over 64-bit words with an avalanche step: cheap and sensitive to
 * order, which is what comparing two event sequences needs. */
static inline void
fuzz_hash_mix(uint64_t *h, uint64_t v)
{
	*h ^= v;
	*h *= 0x100000001b3ULL;
	*h ^= *h >> 29;
}

/* Mixes a slice as one value (its length and its bytes' hash). */
static inline void
fuzz_hash_bytes(uint64_t *h, const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t b = FUZZ_HASH_START;
	size_t i;

	for (i = 0; i < len; i++) {
		b ^= p[i];
		b *= 0x100000001b3ULL;
	}
	fuzz_hash_mix(h, len);
	fuzz_hash_mix(h, b);
}

/* Mixes every byte on its own: the result does not depend on how a byte
 * stream was cut into calls, for callbacks that deliver data in pieces
 * whose sizes depend on the chunking. */
static inline void
fuzz_hash_stream(uint64_t *h, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i;

	for (i = 0; i < len; i++)
		fuzz_hash_mix(h, p[i]);
}

#endif
