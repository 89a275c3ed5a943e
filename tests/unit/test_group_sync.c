/*
 * Tests for the group commit: gateway/group_sync.c (many waiters, one
 * sync, failures reach the waiters they were meant to cover), the spool's
 * unsynced writes and spool_sync, and a SQLite store with deferred
 * durability (commits visible to another connection at once, store_sync
 * succeeding).
 */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "group_sync.h"
#include "spool.h"
#include "store.h"

/* A sync function that records, when it starts, how many writes had
 * finished: a waiter is covered when a completed round saw its write. */
struct fake_disk {
	pthread_mutex_t lock;
	unsigned writes;          /* finished writes */
	unsigned durable;         /* writes seen by the last completed round */
	unsigned calls;
	unsigned concurrent, max_concurrent;
	int fail_next;
	useconds_t delay_us;
};

static int
fake_sync(void *ctx, char *err, size_t errsize)
{
	struct fake_disk *d = ctx;
	unsigned seen;
	int fail;

	pthread_mutex_lock(&d->lock);
	seen = d->writes;
	d->calls++;
	if (++d->concurrent > d->max_concurrent)
		d->max_concurrent = d->concurrent;
	fail = d->fail_next;
	d->fail_next = 0;
	pthread_mutex_unlock(&d->lock);
	usleep(d->delay_us);
	pthread_mutex_lock(&d->lock);
	d->concurrent--;
	if (!fail && seen > d->durable)
		d->durable = seen;
	pthread_mutex_unlock(&d->lock);
	if (fail) {
		snprintf(err, errsize, "EIO on the fake disk");
		return -1;
	}
	return 0;
}

struct writer {
	struct fake_disk *disk;
	struct group_sync *g;
	int rc;
	int covered;
};

static void *
write_then_wait(void *arg)
{
	struct writer *w = arg;
	char err[64];
	unsigned mine;

	pthread_mutex_lock(&w->disk->lock);
	mine = ++w->disk->writes;
	pthread_mutex_unlock(&w->disk->lock);
	w->rc = group_sync_wait(w->g, err, sizeof(err));
	pthread_mutex_lock(&w->disk->lock);
	w->covered = w->disk->durable >= mine;
	pthread_mutex_unlock(&w->disk->lock);
	return NULL;
}

static void
test_one_waiter_runs_the_sync_once(void **state)
{
	struct fake_disk d = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct group_sync *g = group_sync_new(fake_sync, &d);
	struct writer w = { &d, g, -1, 0 };
	uint64_t rounds, waits;

	(void)state;
	write_then_wait(&w);
	assert_int_equal(w.rc, 0);
	assert_true(w.covered);
	assert_int_equal(d.calls, 1);
	group_sync_stats(g, &rounds, &waits);
	assert_int_equal(rounds, 1);
	assert_int_equal(waits, 1);
	group_sync_free(g);
}

static void
test_concurrent_waiters_share_rounds_and_are_all_covered(void **state)
{
	enum { N = 32 };
	struct fake_disk d = { .lock = PTHREAD_MUTEX_INITIALIZER,
	    .delay_us = 20000 };
	struct group_sync *g = group_sync_new(fake_sync, &d);
	struct writer w[N];
	pthread_t t[N];

	(void)state;
	for (int i = 0; i < N; i++) {
		w[i] = (struct writer){ &d, g, -1, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, write_then_wait,
		    &w[i]), 0);
	}
	for (int i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < N; i++) {
		assert_int_equal(w[i].rc, 0);
		assert_true(w[i].covered);
	}
	/* 32 waiters, a 20 ms sync: far fewer rounds than waiters, and
	 * never two syncs at once. */
	assert_true(d.calls < N);
	assert_int_equal(d.max_concurrent, 1);
	group_sync_free(g);
}

static void
test_failed_sync_fails_its_waiters_and_the_next_round_succeeds(void **state)
{
	struct fake_disk d = { .lock = PTHREAD_MUTEX_INITIALIZER,
	    .fail_next = 1 };
	struct group_sync *g = group_sync_new(fake_sync, &d);
	char err[64] = "";
	struct writer w = { &d, g, 0, 0 };

	(void)state;
	assert_int_equal(group_sync_wait(g, err, sizeof(err)), -1);
	assert_string_equal(err, "EIO on the fake disk");
	write_then_wait(&w);
	assert_int_equal(w.rc, 0);
	assert_true(w.covered);
	assert_int_equal(d.calls, 2);
	group_sync_free(g);
}

static void
test_unsynced_spool_put_names_the_content_and_reads_back(void **state)
{
	char dir[] = "/tmp/edigate-gsync-XXXXXX";
	struct spool *sp;
	struct spool_error e;
	char h1[SPOOL_HASH_HEX + 1], h2[SPOOL_HASH_HEX + 1];
	void *buf = NULL;
	size_t len = 0;
	char cmd[128];

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(spool_open(&sp, dir, &e), SPOOL_OK);
	assert_int_equal(spool_put_unsynced(sp, "abc", 3, h1, &e), SPOOL_OK);
	/* SHA-256("abc"), FIPS 180-2 appendix B.1. */
	assert_string_equal(h1, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(spool_put(sp, "abc", 3, h2, &e), SPOOL_OK);
	assert_string_equal(h1, h2);
	assert_int_equal(spool_sync(sp, &e), SPOOL_OK);
	assert_int_equal(spool_read_all(sp, h1, &buf, &len, &e), SPOOL_OK);
	assert_int_equal(len, 3);
	assert_memory_equal(buf, "abc", 3);
	free(buf);
	spool_close(sp);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void
test_deferred_sqlite_commit_is_visible_and_syncs(void **state)
{
	char dir[] = "/tmp/edigate-gsync-XXXXXX";
	char path[128], cmd[128];
	struct store *a, *b;
	struct store_error e;
	struct store_message m, got;
	struct spool_error se;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/edigate.db", dir);
	assert_int_equal(store_open(&a, path, NULL, &e), STORE_OK);
	assert_int_equal(store_open(&b, path, NULL, &e), STORE_OK);
	assert_int_equal(store_set_deferred_durability(a, 1, &e), STORE_OK);
	memset(&m, 0, sizeof(m));
	assert_int_equal(spool_put_unsynced(store_spool(a), "ISA", 3,
	    m.payload_hash, &se), SPOOL_OK);
	m.direction = STORE_IN;
	snprintf(m.partner, sizeof(m.partner), "acme");
	snprintf(m.transport, sizeof(m.transport), "as2");
	snprintf(m.message_type, sizeof(m.message_type), "x12");
	snprintf(m.state, sizeof(m.state), "received");
	m.size = 3;
	assert_int_equal(store_tx_begin(a, &e), STORE_OK);
	assert_int_equal(store_message_put(a, &m, NULL, &e), STORE_OK);
	assert_int_equal(store_tx_commit(a, &e), STORE_OK);
	assert_int_equal(store_sync(a, &e), STORE_OK);
	/* Another connection (another thread, process) sees it at once. */
	assert_int_equal(store_message_get(b, m.id, &got, &e), STORE_OK);
	assert_string_equal(got.state, "received");
	assert_int_equal(store_set_deferred_durability(a, 0, &e), STORE_OK);
	store_close(a);
	store_close(b);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_waiter_runs_the_sync_once),
		cmocka_unit_test(
		    test_concurrent_waiters_share_rounds_and_are_all_covered),
		cmocka_unit_test(
		    test_failed_sync_fails_its_waiters_and_the_next_round_succeeds),
		cmocka_unit_test(
		    test_unsynced_spool_put_names_the_content_and_reads_back),
		cmocka_unit_test(test_deferred_sqlite_commit_is_visible_and_syncs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
