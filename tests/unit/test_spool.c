/*
 * test_spool - content-addressed payload files: names, durability steps
 * visible from outside (no temporary left behind), streaming, corruption.
 * Expected digests are the FIPS 180-2 SHA-256 examples.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "spool.h"

#define SHA_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/* FIPS 180-2 B.2: "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq" */
#define MSG_448 "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
#define SHA_448 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
/* FIPS 180-2 B.3: one million 'a'. */
#define SHA_MILLION_A "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"

struct fx {
	char dir[128];
	struct spool *sp;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	struct spool_error err;
	snprintf(f->dir, sizeof f->dir, "/tmp/edigate-spool-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(spool_open(&f->sp, f->dir, &err), SPOOL_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[200];
	spool_close(f->sp);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	int rc = system(cmd);
	free(f);
	return rc == 0 ? 0 : -1;
}

static int
tmp_count(const struct fx *f)
{
	char cmd[200];
	snprintf(cmd, sizeof cmd, "ls -A '%s/tmp' | wc -l", f->dir);
	FILE *p = popen(cmd, "r");
	int n = -1;
	if (fscanf(p, "%d", &n) != 1)
		n = -1;
	pclose(p);
	return n;
}

static void
test_payload_is_named_by_its_sha256_in_two_level_fanout(void **state)
{
	struct fx *f = *state;
	struct spool_error err;
	char hash[65], path[512], expected[512];
	struct stat st;
	assert_int_equal(spool_put(f->sp, "abc", 3, hash, &err), SPOOL_OK);
	assert_string_equal(hash, SHA_ABC);
	snprintf(expected, sizeof expected, "%s/ba/78/" SHA_ABC, f->dir);
	assert_int_equal(spool_path(f->sp, hash, path, sizeof path), SPOOL_OK);
	assert_string_equal(path, expected);
	assert_int_equal(stat(expected, &st), 0);
	assert_int_equal(st.st_size, 3);
	assert_int_equal(tmp_count(f), 0);
	assert_int_equal(spool_put(f->sp, "", 0, hash, &err), SPOOL_OK);
	assert_string_equal(hash, SHA_EMPTY);
	assert_int_equal(spool_put(f->sp, MSG_448, strlen(MSG_448), hash, &err), SPOOL_OK);
	assert_string_equal(hash, SHA_448);
}

static void
test_chunking_does_not_change_the_hash(void **state)
{
	struct fx *f = *state;
	struct spool_error err;
	struct spool_writer *w;
	char hash[65];
	uint64_t size;
	/* One byte at a time... */
	assert_int_equal(spool_writer_new(f->sp, &w, &err), SPOOL_OK);
	for (size_t i = 0; i < strlen(MSG_448); i++)
		assert_int_equal(spool_writer_feed(w, &MSG_448[i], 1, &err), SPOOL_OK);
	assert_int_equal(spool_writer_commit(w, hash, &size, &err), SPOOL_OK);
	assert_string_equal(hash, SHA_448);
	assert_int_equal(size, 56);
	/* ...and a million 'a' in uneven chunks larger than the buffer. */
	static char chunk[300000];
	memset(chunk, 'a', sizeof chunk);
	assert_int_equal(spool_writer_new(f->sp, &w, &err), SPOOL_OK);
	size_t left = 1000000, step = 7;
	while (left > 0) {
		size_t n = step < left ? step : left;
		assert_int_equal(spool_writer_feed(w, chunk, n, &err), SPOOL_OK);
		left -= n;
		step = step * 3 + 1;
		if (step > sizeof chunk)
			step = 13;
	}
	assert_int_equal(spool_writer_commit(w, hash, &size, &err), SPOOL_OK);
	assert_string_equal(hash, SHA_MILLION_A);
	assert_int_equal(size, 1000000);
	assert_int_equal(spool_verify(f->sp, hash, &err), SPOOL_OK);
}

static void
test_reading_back_returns_the_bytes(void **state)
{
	struct fx *f = *state;
	struct spool_error err;
	char hash[65];
	void *buf;
	size_t len;
	assert_int_equal(spool_put(f->sp, MSG_448, 56, hash, &err), SPOOL_OK);
	assert_int_equal(spool_read_all(f->sp, hash, &buf, &len, &err), SPOOL_OK);
	assert_int_equal(len, 56);
	assert_memory_equal(buf, MSG_448, 56);
	free(buf);
	/* Writing the same content again is harmless and keeps one file. */
	assert_int_equal(spool_put(f->sp, MSG_448, 56, hash, &err), SPOOL_OK);
	assert_string_equal(hash, SHA_448);
	assert_int_equal(tmp_count(f), 0);
}

static void
test_corrupted_payload_is_reported_not_returned(void **state)
{
	struct fx *f = *state;
	struct spool_error err;
	char hash[65], path[512];
	void *buf;
	size_t len;
	assert_int_equal(spool_put(f->sp, "abc", 3, hash, &err), SPOOL_OK);
	spool_path(f->sp, hash, path, sizeof path);
	int fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "x", 1, 1), 1);
	close(fd);
	assert_int_equal(spool_verify(f->sp, hash, &err), SPOOL_ECORRUPT);
	assert_non_null(strstr(err.message, SHA_ABC));
	assert_int_equal(spool_read_all(f->sp, hash, &buf, &len, &err), SPOOL_ECORRUPT);
	assert_null(buf);
}

static void
test_missing_and_malformed_hashes(void **state)
{
	struct fx *f = *state;
	struct spool_error err;
	void *buf;
	size_t len;
	assert_int_equal(spool_verify(f->sp, SHA_ABC, &err), SPOOL_ENOENT);
	assert_int_equal(spool_read_all(f->sp, "../../etc/passwd", &buf, &len, &err),
	                 SPOOL_EINVAL);
	assert_false(spool_hash_valid("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
	assert_false(spool_hash_valid(SHA_ABC "0"));
	assert_false(spool_hash_valid("ba78"));
	assert_true(spool_hash_valid(SHA_ABC));
}

static void
test_aborted_writer_leaves_nothing(void **state)
{
	struct fx *f = *state;
	struct spool_error err;
	struct spool_writer *w;
	assert_int_equal(spool_writer_new(f->sp, &w, &err), SPOOL_OK);
	assert_int_equal(spool_writer_feed(w, "partial", 7, &err), SPOOL_OK);
	assert_int_equal(tmp_count(f), 1);
	spool_writer_abort(w);
	assert_int_equal(tmp_count(f), 0);
}

static void
test_sweep_removes_only_stale_temporaries(void **state)
{
	struct fx *f = *state;
	struct spool_error err;
	struct spool_writer *w;
	char path[256];
	unsigned removed;
	/* A writer that died long ago, and one still at work. */
	snprintf(path, sizeof path, "%s/tmp/w.dead01", f->dir);
	FILE *fp = fopen(path, "w");
	fputs("half", fp);
	fclose(fp);
	struct timespec old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
	assert_int_equal(spool_writer_new(f->sp, &w, &err), SPOOL_OK);
	assert_int_equal(spool_sweep_tmp(f->sp, 3600, &removed, &err), SPOOL_OK);
	assert_int_equal(removed, 1);
	assert_int_equal(tmp_count(f), 1);
	spool_writer_abort(w);
}

static long
max_rss_kib(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static void
test_large_payload_streams_in_flat_memory(void **state)
{
	struct fx *f = *state;
	struct spool_error err;
	struct spool_writer *w;
	struct spool_reader *r;
	static unsigned char chunk[1 << 20];
	char hash[65];
	uint64_t size;
	for (size_t i = 0; i < sizeof chunk; i++)
		chunk[i] = (unsigned char)(i * 31 + 7);
	long before = max_rss_kib();
	assert_int_equal(spool_writer_new(f->sp, &w, &err), SPOOL_OK);
	for (int i = 0; i < 192; i++)
		assert_int_equal(spool_writer_feed(w, chunk, sizeof chunk, &err), SPOOL_OK);
	assert_int_equal(spool_writer_commit(w, hash, &size, &err), SPOOL_OK);
	assert_int_equal(size, 192u << 20);
	assert_int_equal(spool_reader_open(f->sp, hash, &r, &err), SPOOL_OK);
	size_t got;
	uint64_t total = 0;
	do {
		assert_int_equal(spool_reader_read(r, chunk, sizeof chunk, &got, &err), SPOOL_OK);
		total += got;
	} while (got > 0);
	spool_reader_close(r);
	assert_int_equal(total, 192u << 20);
	/* 192 MiB went through; memory grew by far less than one copy. */
	assert_true(max_rss_kib() - before < 16 * 1024);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_payload_is_named_by_its_sha256_in_two_level_fanout,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunking_does_not_change_the_hash, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_reading_back_returns_the_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupted_payload_is_reported_not_returned,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_and_malformed_hashes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aborted_writer_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep_removes_only_stale_temporaries, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_large_payload_streams_in_flat_memory, setup,
		                                teardown),
	};
	return cmocka_run_group_tests_name("spool", tests, NULL, NULL);
}
