/*
 * fuzz_as2_stream - libFuzzer target comparing the two AS2 layer walks.
 *
 * WHAT IT PROVES
 *   For any Content-Type, transfer encoding and body (the input's first
 *   line, second line and the rest, as in fuzz_as2_unwrap), the walk over
 *   a body in a file (as2_stream) ends like the walk in memory
 *   (as2_unwrap): same failure code, same layer flags, the same payload
 *   bytes and the same bytes under the MIC, so a message's outcome never
 *   depends on its size. Neither crashes, reads out of bounds or
 *   leaks. No keys: encrypted and signed layers go as far as a
 *   stranger's message would. Temporary files go to $TMPDIR or /tmp.
 *
 * BUILD
 *   make fuzz (tests/local.mk has the rules).
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "as2_stream.h"
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

/* Does slice s hold exactly len bytes equal to want? */
static int
same_bytes(const struct as2_slice *s, const unsigned char *want, size_t len)
{
	unsigned char *got;
	long n;
	int eq;

	if (s->len != len)
		return 0;
	got = malloc(len + 1);
	if (got == NULL)
		return 1;
	n = as2_stream_peek(s, got, len);
	eq = n == (long)len && (len == 0 || memcmp(got, want, len) == 0);
	free(got);
	return eq;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	struct as2_unwrap_keys keys = { NULL, NULL, 0 };
	struct as2_unwrapped u;
	struct as2_streamed su;
	char *ctype = line(&p, end), *cte = line(&p, end);
	const char *tmpdir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	size_t len = (size_t)(end - p);
	int fd, a, b;

	if (ctype == NULL || cte == NULL)
		goto out;
	fd = memfd_create("body", MFD_CLOEXEC);
	if (fd < 0 || (len && write(fd, p, len) != (ssize_t)len)) {
		if (fd >= 0)
			close(fd);
		goto out;
	}
	memset(&u, 0, sizeof(u));
	memset(&su, 0, sizeof(su));
	a = as2_unwrap(&u, &keys, 1u << 20, ctype, cte[0] ? cte : NULL, p, len);
	b = as2_stream_unwrap(&su, &keys, 1u << 20, tmpdir, ctype,
	    cte[0] ? cte : NULL, fd, len);
	if (su.fail != AS2_ERR_IO && su.fail != AS2_ERR_NOMEM &&
	    u.fail != AS2_ERR_NOMEM) {
		if (a != b || u.fail != su.fail ||
		    u.is_signed != su.is_signed ||
		    u.is_encrypted != su.is_encrypted ||
		    u.is_compressed != su.is_compressed)
			abort();
		if (a == 0 && (strcmp(u.payload_type, su.payload_type) != 0 ||
		    strcmp(u.filename, su.filename) != 0 ||
		    !same_bytes(&su.payload, u.payload.p, u.payload.len) ||
		    !same_bytes(&su.mic_source, u.mic_source.p,
		    u.mic_source.len)))
			abort();
	}
	as2_unwrapped_free(&u);
	as2_stream_free(&su);
	close(fd);
out:
	free(ctype);
	free(cte);
	return 0;
}
