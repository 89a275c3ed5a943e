/*
 * fuzz_jparse - libFuzzer target for the JSON parser of the canonical ->
 * EDI path, checked against jansson.
 *
 * Every input goes through jparse and through jansson's json_loadb with
 * the same options (flags 0: an object or array at the top, nothing
 * after it). Both must accept or both refuse; when both accept, the
 * trees must be equal, member order included (compared as jansson's
 * compact, order-preserving text of each). A first input byte 'A'
 * parses any top-level value (JPARSE_ANY / JSON_DECODE_ANY) instead.
 * An input holding a NUL byte is never JSON (not whitespace, and raw in
 * a string it is a control character): jparse must refuse it, and
 * jansson is not asked, because it takes "[1\0]" for [1].
 *
 *   ./tests/fuzz/fuzz_jparse -max_total_time=60
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jparse.h"

static jtree_arena *arena;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned flags = 0;
	size_t jflags = 0;
	if (arena == NULL && (arena = jtree_arena_new()) == NULL)
		abort();
	jtree_arena_reset(arena);
	if (size > 0 && data[0] == 'A') {
		flags = JPARSE_ANY;
		jflags = JSON_DECODE_ANY;
		data++;
		size--;
	}
	jparse_error e;
	json_error_t je;
	jtree *t = jparse(arena, (const char *)data, size, 0, flags, NULL, &e);
	if (memchr(data, 0, size) != NULL) {
		if (t != NULL)
			abort();
		return 0;
	}
	json_t *j = json_loadb((const char *)data, size, jflags, &je);
	if ((t == NULL) != (j == NULL)) {
		fprintf(stderr, "fuzz_jparse: jparse %s (%s at %zu), jansson %s (%s at %d)\n",
		    t ? "accepts" : "refuses", t ? "" : e.text, e.offset,
		    j ? "accepts" : "refuses", j ? "" : je.text, j ? 0 : je.position);
		abort();
	}
	if (t == NULL) {
		if (e.offset > size || e.line == 0 || e.column == 0 || e.text[0] == '\0')
			abort();
		return 0;
	}
	json_t *mine = jtree_to_json(t);
	if (mine == NULL)
		abort();
	size_t dflags = JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY;
	char *a = json_dumps(mine, dflags), *b = json_dumps(j, dflags);
	if (a == NULL || b == NULL || strcmp(a, b) != 0 || !json_equal(mine, j)) {
		fprintf(stderr, "fuzz_jparse: trees differ\n  jparse:  %.200s\n  jansson: %.200s\n",
		    a ? a : "(null)", b ? b : "(null)");
		abort();
	}
	free(a);
	free(b);
	json_decref(mine);
	json_decref(j);
	return 0;
}
