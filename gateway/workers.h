/*
 * workers - a fixed pool of threads for CPU-heavy work (translation,
 * validation, signing), so the event loop keeps answering meanwhile.
 *
 * OWNS
 *   The threads, a bounded job queue, and the hand-back of finished jobs
 *   to the event loop through a pipe watched by a libevent event.
 *
 * CONTRACT
 *   - work(arg) runs on a pool thread. It must not touch libevent objects
 *     (requests, buffers of the loop) or anything else owned by the loop
 *     thread; it gets what it needs through arg.
 *   - done(arg, cancelled) then runs on the event-loop thread, exactly
 *     once per accepted job, in completion order. That is where a handler
 *     sends its reply. cancelled is 1 when the pool was freed before the
 *     job ran; work() was not called then.
 *   - workers_submit() refuses (returns -1) when the queue holds
 *     queue_size jobs: the caller answers 503 rather than queueing without
 *     bound. Nothing is submitted then and neither callback runs.
 *   - workers_busy() counts accepted jobs whose done() has not run yet;
 *     shutdown waits for it to reach 0 (bounded by the grace period).
 *   - Per-thread resources (a store connection: store.h allows one thread
 *     per connection) are opened lazily by work() and kept in a
 *     pthread_key_t whose destructor closes them: workers_free() joins the
 *     threads, which runs the destructors.
 *
 * NEVER
 *   Runs done() on a pool thread, or work() on the loop thread.
 */
#ifndef EDIGATE_WORKERS_H
#define EDIGATE_WORKERS_H

#include <stddef.h>

struct event_base;
struct workers;

typedef void (*workers_work_fn)(void *arg);
typedef void (*workers_done_fn)(void *arg, int cancelled);

/* Starts nthreads threads. NULL on failure (errno set). */
struct workers *workers_new(struct event_base *base, unsigned nthreads,
    size_t queue_size);

int workers_submit(struct workers *w, workers_work_fn work,
    workers_done_fn done, void *arg);

size_t workers_busy(const struct workers *w);
unsigned workers_threads(const struct workers *w);

/* Lets running jobs finish, cancels queued ones (their done() runs with
 * cancelled = 1), runs every pending done(), joins the threads, frees. */
void workers_free(struct workers *w);

/* For an exit that cannot wait (the shutdown grace period is over):
 * cancels queued jobs (their done() runs with cancelled = 1) but neither
 * waits for running jobs nor frees the pool, which their threads still
 * use; their done() never runs. Only the process exit may follow. */
void workers_abandon(struct workers *w);

#endif
