/*
 * group_sync - many threads, one durable sync (group commit; prefix
 * group_sync_).
 *
 * OWNS
 *   The hand-off between threads that each need "everything I wrote so
 *   far is on disk" before they acknowledge: the first to ask runs the
 *   sync function; whoever asks while it runs waits for the next round,
 *   which one of them runs for all of them. Under load one sync (an
 *   fsync, a syncfs) serves a whole batch of requests instead of one.
 *
 * CONTRACT
 *   group_sync_wait() returns 0 only after a call of the sync function
 *   that started after group_sync_wait() was entered has returned 0: the
 *   caller's writes, finished before it called, are covered. A failed
 *   round fails every waiter it was meant to cover (they must not
 *   acknowledge). Any thread may call it; the sync function runs on one
 *   of the waiting threads, never on two at once.
 *
 * NEVER
 *   Reports success for a write a finished sync may not have covered, or
 *   holds its lock while the sync function runs.
 */
#ifndef EDIGATE_GROUP_SYNC_H
#define EDIGATE_GROUP_SYNC_H

#include <stddef.h>
#include <stdint.h>

/* 0 on success; else nonzero with a message in err. */
typedef int (*group_sync_fn)(void *ctx, char *err, size_t errsize);

struct group_sync;

struct group_sync *group_sync_new(group_sync_fn fn, void *ctx);
void group_sync_free(struct group_sync *g);

/* Waits for a covering sync (see CONTRACT). 0, or -1 with err filled. */
int group_sync_wait(struct group_sync *g, char *err, size_t errsize);

/* Rounds run and waits served so far: waits / rounds is the batch size. */
void group_sync_stats(struct group_sync *g, uint64_t *rounds,
    uint64_t *waits);

#endif
