/*
 * Tests for gateway/workers.c (jobs run on pool threads, done() on the
 * loop thread, bounded queue, cancellation) and the reload protocol of
 * gateway/daemon.c (all hooks commit, or none do and nothing changes).
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
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>

#include "daemon.h"
#include "log.h"
#include "workers.h"

/* ---- workers ---------------------------------------------------------- */

struct job {
	pthread_t loop_thread;
	pthread_t ran_on;
	int ran, done, cancelled, done_on_loop;
	unsigned sleep_us;
	int *remaining;
	struct event_base *base;
};

static void
job_work(void *arg)
{
	struct job *j = arg;

	if (j->sleep_us)
		usleep(j->sleep_us);
	j->ran_on = pthread_self();
	j->ran = 1;
}

static void
job_done(void *arg, int cancelled)
{
	struct job *j = arg;

	j->done++;
	j->cancelled = cancelled;
	j->done_on_loop = pthread_equal(pthread_self(), j->loop_thread);
	if (j->remaining && --*j->remaining == 0 && j->base)
		event_base_loopexit(j->base, NULL);
}

static void
test_jobs_run_on_pool_threads_and_finish_on_the_loop(void **state)
{
	struct event_base *base = event_base_new();
	struct workers *w = workers_new(base, 3, 100);
	struct job jobs[20];
	struct timeval limit = { 10, 0 };
	int remaining = 20, i;

	assert_non_null(w);
	assert_int_equal(workers_threads(w), 3);
	memset(jobs, 0, sizeof(jobs));
	for (i = 0; i < 20; i++) {
		jobs[i].loop_thread = pthread_self();
		jobs[i].remaining = &remaining;
		jobs[i].base = base;
		jobs[i].sleep_us = 1000;
		assert_int_equal(workers_submit(w, job_work, job_done, &jobs[i]),
		    0);
	}
	event_base_loopexit(base, &limit);  /* a hang fails, not blocks */
	event_base_dispatch(base);
	assert_int_equal(remaining, 0);
	assert_int_equal(workers_busy(w), 0);
	for (i = 0; i < 20; i++) {
		assert_int_equal(jobs[i].ran, 1);
		assert_int_equal(jobs[i].done, 1);
		assert_int_equal(jobs[i].cancelled, 0);
		assert_int_equal(jobs[i].done_on_loop, 1);
		assert_false(pthread_equal(jobs[i].ran_on, pthread_self()));
	}
	workers_free(w);
	event_base_free(base);
}

struct gate {
	pthread_mutex_t lock;
	volatile int started;
};

static void
block_work(void *arg)
{
	struct gate *g = arg;

	__atomic_store_n(&g->started, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&g->lock);
	pthread_mutex_unlock(&g->lock);
}

static void
test_full_queue_refuses_and_free_cancels_waiting_jobs(void **state)
{
	struct event_base *base = event_base_new();
	struct workers *w = workers_new(base, 1, 2);
	struct gate gate = { PTHREAD_MUTEX_INITIALIZER, 0 };
	struct job a, b, c;
	int i;

	assert_non_null(w);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	a.loop_thread = b.loop_thread = c.loop_thread = pthread_self();
	/* The only thread blocks on the gate, so later jobs stay queued. */
	pthread_mutex_lock(&gate.lock);
	assert_int_equal(workers_submit(w, block_work, NULL, &gate), 0);
	for (i = 0; i < 10000 && !__atomic_load_n(&gate.started,
	    __ATOMIC_SEQ_CST); i++)
		usleep(1000);  /* until the thread has taken it off the queue */
	assert_true(gate.started);
	assert_int_equal(workers_submit(w, job_work, job_done, &a), 0);
	assert_int_equal(workers_submit(w, job_work, job_done, &b), 0);
	assert_int_equal(workers_submit(w, job_work, job_done, &c), -1);
	assert_int_equal(workers_busy(w), 3);
	assert_int_equal(c.done, 0);
	pthread_mutex_unlock(&gate.lock);
	/* Free cancels what has not started; every done() runs once. */
	workers_free(w);
	assert_int_equal(a.done + b.done, 2);
	assert_int_equal(a.ran + a.cancelled, 1);
	assert_int_equal(b.ran + b.cancelled, 1);
	assert_int_equal(a.done_on_loop, 1);
	event_base_free(base);
}

/* ---- reload ----------------------------------------------------------- */

struct hook_state {
	int prepared, committed, aborted, fail;
	char seen_level[16];
};

static int
hook_prepare(void *ctx, const struct config *cfg, void **pending, char *err,
    size_t errsize)
{
	struct hook_state *h = ctx;

	h->prepared++;
	if (h->fail) {
		snprintf(err, errsize, "partners/acme.xml:3: bad as2_id");
		return -1;
	}
	snprintf(h->seen_level, sizeof(h->seen_level), "%s",
	    log_level_name((enum log_level)cfg->log_level));
	*pending = h;
	return 0;
}

static void
hook_commit(void *ctx, void *pending)
{
	struct hook_state *h = ctx;

	assert_ptr_equal(pending, h);
	h->committed++;
}

static void
hook_abort(void *ctx, void *pending)
{
	((struct hook_state *)ctx)->aborted++;
}

static const struct daemon_reload_hook hook = {
	"test", hook_prepare, hook_commit, hook_abort
};

static char conf_path[64];

static void
write_conf(const char *level, const char *extra)
{
	FILE *f = fopen(conf_path, "w");

	assert_non_null(f);
	fprintf(f, "state_dir = /nonexistent\nallow_root = yes\n"
	    "log_level = %s\n%s\n[listen.api]\naddress = 127.0.0.1:1\n",
	    level, extra);
	fclose(f);
}

static struct daemon *
new_daemon(void)
{
	struct config *cfg;
	struct config_error cerr;
	struct daemon *d;
	char err[512];

	assert_int_equal(config_load(conf_path, &cfg, &cerr), 0);
	d = daemon_new(cfg, err, sizeof(err));
	assert_non_null(d);
	return d;
}

static int
setup_conf(void **state)
{
	int fd;

	snprintf(conf_path, sizeof(conf_path), "/tmp/edigate-test-XXXXXX");
	fd = mkstemp(conf_path);
	if (fd < 0)
		return -1;
	close(fd);
	log_init(fopen("/dev/null", "w"), LOG_LEVEL_ERROR);
	return 0;
}

static int
teardown_conf(void **state)
{
	unlink(conf_path);
	return 0;
}

static void
test_reload_commits_every_hook_and_applies_the_file(void **state)
{
	struct hook_state a = { 0 }, b = { 0 };
	struct daemon *d;

	write_conf("warn", "");
	d = new_daemon();
	assert_int_equal(daemon_reload_hook_add(d, &hook, &a), 0);
	assert_int_equal(daemon_reload_hook_add(d, &hook, &b), 0);
	write_conf("debug", "");
	assert_int_equal(daemon_reload(d), 0);
	assert_int_equal(a.committed + b.committed, 2);
	assert_int_equal(a.aborted + b.aborted, 0);
	assert_string_equal(a.seen_level, "debug");
	assert_int_equal(daemon_config(d)->log_level, LOG_LEVEL_DEBUG);
	daemon_free(d);
}

static void
test_invalid_file_reaches_no_hook_and_keeps_the_config(void **state)
{
	struct hook_state a = { 0 };
	struct daemon *d;

	write_conf("warn", "");
	d = new_daemon();
	daemon_reload_hook_add(d, &hook, &a);
	write_conf("debug", "workers = none");
	assert_int_equal(daemon_reload(d), -1);
	assert_int_equal(a.prepared, 0);
	assert_int_equal(daemon_config(d)->log_level, LOG_LEVEL_WARN);
	daemon_free(d);
}

static void
test_one_failing_hook_aborts_the_others_and_keeps_the_config(void **state)
{
	struct hook_state a = { 0 }, b = { 0 }, c = { 0 };
	struct daemon *d;

	write_conf("warn", "");
	d = new_daemon();
	b.fail = 1;
	daemon_reload_hook_add(d, &hook, &a);
	daemon_reload_hook_add(d, &hook, &b);
	daemon_reload_hook_add(d, &hook, &c);
	write_conf("debug", "");
	assert_int_equal(daemon_reload(d), -1);
	assert_int_equal(a.prepared, 1);
	assert_int_equal(a.aborted, 1);
	assert_int_equal(c.prepared, 0);
	assert_int_equal(a.committed + b.committed + c.committed, 0);
	assert_int_equal(daemon_config(d)->log_level, LOG_LEVEL_WARN);
	daemon_free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_jobs_run_on_pool_threads_and_finish_on_the_loop),
		cmocka_unit_test(
		    test_full_queue_refuses_and_free_cancels_waiting_jobs),
		cmocka_unit_test(test_reload_commits_every_hook_and_applies_the_file),
		cmocka_unit_test(
		    test_invalid_file_reaches_no_hook_and_keeps_the_config),
		cmocka_unit_test(
		    test_one_failing_hook_aborts_the_others_and_keeps_the_config),
	};

	return cmocka_run_group_tests(tests, setup_conf, teardown_conf);
}
