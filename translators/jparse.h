/*
 * jparse - JSON text (RFC 8259) into a jtree, for canonical documents on
 * their way to EDI.
 *
 * OWNS
 *   The strict grammar: UTF-8 validated everywhere, escapes decoded
 *   (surrogate pairs joined, lone surrogates refused), numbers checked.
 *   An integer without fraction or exponent becomes a JTREE_INTEGER (it
 *   must fit a long long); any other number stays a JTREE_REAL holding
 *   its exact text, so an amount is never rounded. A repeated key
 *   replaces the earlier value in place. The decisions are jansson's
 *   json_loadb (flags 0) on every input, which fuzz_jparse checks: the
 *   same inputs accepted and rejected (\u0000 in a string, integers out
 *   of range and reals beyond double included), equal trees when both
 *   accept.
 *
 * INVARIANTS
 *   Nesting is bounded (JPARSE_MAX_DEPTH arrays/objects), so recursion
 *   is too; the text length is bounded by the caller's max_bytes; work
 *   is linear in the input (repeated keys are found through a hash once
 *   an object grows). Every node lives in the caller's arena.
 *
 * FAILURE
 *   NULL with err filled: byte offset, 1-based line and column (in
 *   bytes) of the first byte that does not fit, and a message.
 *
 * NEVER
 *   Reads past text + len, needs a NUL terminator, or keeps a pointer
 *   into text.
 */
#ifndef EDIGATE_JPARSE_H
#define EDIGATE_JPARSE_H

#include <stddef.h>

#include "jtree.h"

/* jansson's JSON_PARSER_MAX_DEPTH, so both decide alike. */
#define JPARSE_MAX_DEPTH 2048

enum {
	/* Stop after the first value (trailing bytes are the caller's):
	 * *consumed then says where the next document starts. */
	JPARSE_STOP_AFTER_VALUE = 1,
	/* Any value at the top, not only an object or an array. */
	JPARSE_ANY = 2
};

typedef struct jparse_error {
	size_t offset;
	unsigned long line, column;
	char text[96];
} jparse_error;

/* Parses text[0..len). max_bytes of 0 means no limit beyond len. With
 * JPARSE_STOP_AFTER_VALUE, *consumed (may be NULL) gets the offset just
 * after the value. */
jtree *jparse(jtree_arena *a, const char *text, size_t len, size_t max_bytes,
    unsigned flags, size_t *consumed, jparse_error *err);

#endif
