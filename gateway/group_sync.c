/*
 * group_sync - group commit. See group_sync.h.
 *
 * Tickets: every waiter takes the next number when it enters. A round
 * started when the last ticket handed out was T covers tickets 1..T, so a
 * waiter with ticket t is done once a successful round covering t has
 * finished (ok_upto >= t). A failed round covering t fails it
 * (fail_upto >= t), even if a later round succeeded meanwhile: the
 * caller then answers "not stored" and the sender tries again, which is
 * always safe.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group_sync.h"

struct group_sync {
	pthread_mutex_t lock;
	pthread_cond_t done;
	group_sync_fn fn;
	void *ctx;
	uint64_t ticket;     /* last handed out */
	uint64_t ok_upto;    /* covered by a successful round */
	uint64_t fail_upto;  /* covered by a failed round */
	int running;
	char last_error[256];
	uint64_t rounds, waits;
};

struct group_sync *
group_sync_new(group_sync_fn fn, void *ctx)
{
	struct group_sync *g = calloc(1, sizeof(*g));

	if (g == NULL)
		return NULL;
	if (pthread_mutex_init(&g->lock, NULL) != 0) {
		free(g);
		return NULL;
	}
	if (pthread_cond_init(&g->done, NULL) != 0) {
		pthread_mutex_destroy(&g->lock);
		free(g);
		return NULL;
	}
	g->fn = fn;
	g->ctx = ctx;
	return g;
}

void
group_sync_free(struct group_sync *g)
{
	if (g == NULL)
		return;
	pthread_cond_destroy(&g->done);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

int
group_sync_wait(struct group_sync *g, char *err, size_t errsize)
{
	uint64_t mine;
	int rc = 0;

	pthread_mutex_lock(&g->lock);
	mine = ++g->ticket;
	g->waits++;
	for (;;) {
		if (g->fail_upto >= mine) {
			if (errsize)
				snprintf(err, errsize, "%s", g->last_error);
			rc = -1;
			break;
		}
		if (g->ok_upto >= mine)
			break;
		if (g->running) {
			pthread_cond_wait(&g->done, &g->lock);
			continue;
		}
		/* Lead a round for everyone who has a ticket now. */
		{
			uint64_t upto = g->ticket;
			char e[256] = "";
			int frc;

			g->running = 1;
			g->rounds++;
			pthread_mutex_unlock(&g->lock);
			frc = g->fn(g->ctx, e, sizeof(e));
			pthread_mutex_lock(&g->lock);
			g->running = 0;
			if (frc == 0) {
				if (upto > g->ok_upto)
					g->ok_upto = upto;
			} else {
				if (upto > g->fail_upto)
					g->fail_upto = upto;
				snprintf(g->last_error, sizeof(g->last_error),
				    "%s", e[0] ? e : "sync failed");
			}
			pthread_cond_broadcast(&g->done);
		}
	}
	pthread_mutex_unlock(&g->lock);
	return rc;
}

void
group_sync_stats(struct group_sync *g, uint64_t *rounds, uint64_t *waits)
{
	pthread_mutex_lock(&g->lock);
	if (rounds)
		*rounds = g->rounds;
	if (waits)
		*waits = g->waits;
	pthread_mutex_unlock(&g->lock);
}
