/*
 * fuzz_as2_unwrap - libFuzzer target for the AS2 layer walk.
 *
 * WHAT IT PROVES
 *   Whatever Content-Type, transfer encoding and body a partner sends,
 *   as2_unwrap takes the layers off (compressed data, multipart/signed
 *   split, MIME entities nested in any order) without crashing, reading
 *   out of bounds, undefined behaviour or unbounded memory. The input's
 *   first line is the Content-Type, its second the transfer encoding
 *   (empty: binary), the rest the body. There are no keys, so encrypted
 *   and signed layers go as far as a stranger's message would.
 *
 * BUILD
 *   make fuzz (tests/local.mk has the rules).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "as2_unwrap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *
line(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
	char *s = malloc(n + 1);

	if (s == NULL)
		return NULL;
	memcpy(s, *p, n);
	s[n] = '\0';
	*p += nl ? n + 1 : n;
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	struct as2_unwrap_keys keys = { NULL, NULL, 0 };
	struct as2_unwrapped u;
	char *ctype = line(&p, end), *cte = line(&p, end);

	if (ctype && cte) {
		memset(&u, 0, sizeof(u));
		as2_unwrap(&u, &keys, 1u << 20, ctype, cte[0] ? cte : NULL, p,
		    (size_t)(end - p));
		as2_unwrapped_free(&u);
	}
	free(ctype);
	free(cte);
	return 0;
}
