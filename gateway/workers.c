/*
 * workers - thread pool with hand-back to the event loop. See workers.h.
 *
 * A pipe rather than event_active() from the threads: event_active() from
 * another thread needs libevent's locking enabled for the whole base,
 * which costs every event in the daemon; a one-byte write costs only the
 * finished job. The pipe is non-blocking; a full pipe already means the
 * loop will wake up, so a failed write is harmless.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "workers.h"

struct job {
	struct job *next;
	workers_work_fn work;
	workers_done_fn done;
	void *arg;
	int cancelled;
};

struct workers {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *queue, **queue_tail;  /* waiting */
	struct job *finished, **finished_tail;
	size_t queued, queue_size, busy;
	int stopping;
	pthread_t *threads;
	unsigned nthreads;
	int pipefd[2];
	struct event *ev;
};

static void
wake_loop(struct workers *w)
{
	char c = 1;
	ssize_t r;

	do
		r = write(w->pipefd[1], &c, 1);
	while (r < 0 && errno == EINTR);
}

static void *
worker_main(void *p)
{
	struct workers *w = p;
	struct job *j;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (w->queue == NULL && !w->stopping)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->queue == NULL)
			break;
		j = w->queue;
		w->queue = j->next;
		if (w->queue == NULL)
			w->queue_tail = &w->queue;
		w->queued--;
		pthread_mutex_unlock(&w->lock);

		j->work(j->arg);

		pthread_mutex_lock(&w->lock);
		j->next = NULL;
		*w->finished_tail = j;
		w->finished_tail = &j->next;
		wake_loop(w);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Loop thread: run done() for everything finished so far. */
static void
drain(struct workers *w)
{
	struct job *list, *j;

	pthread_mutex_lock(&w->lock);
	list = w->finished;
	w->finished = NULL;
	w->finished_tail = &w->finished;
	pthread_mutex_unlock(&w->lock);
	while ((j = list) != NULL) {
		list = j->next;
		if (j->done)
			j->done(j->arg, j->cancelled);
		pthread_mutex_lock(&w->lock);
		w->busy--;
		pthread_mutex_unlock(&w->lock);
		free(j);
	}
}

static void
on_pipe(evutil_socket_t fd, short what, void *p)
{
	char buf[256];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	drain(p);
}

struct workers *
workers_new(struct event_base *base, unsigned nthreads, size_t queue_size)
{
	struct workers *w;
	unsigned i;
	int e;

	if (nthreads == 0 || queue_size == 0) {
		errno = EINVAL;
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->queue_tail = &w->queue;
	w->finished_tail = &w->finished;
	w->queue_size = queue_size;
	w->pipefd[0] = w->pipefd[1] = -1;
	if (pipe(w->pipefd) != 0)
		goto fail;
	for (i = 0; i < 2; i++)
		if (fcntl(w->pipefd[i], F_SETFL, O_NONBLOCK) != 0 ||
		    fcntl(w->pipefd[i], F_SETFD, FD_CLOEXEC) != 0)
			goto fail;
	w->ev = event_new(base, w->pipefd[0], EV_READ | EV_PERSIST, on_pipe, w);
	if (w->ev == NULL || event_add(w->ev, NULL) != 0)
		goto fail;
	w->threads = calloc(nthreads, sizeof(pthread_t));
	if (w->threads == NULL)
		goto fail;
	for (i = 0; i < nthreads; i++) {
		e = pthread_create(&w->threads[i], NULL, worker_main, w);
		if (e != 0) {
			errno = e;
			break;
		}
		w->nthreads++;
	}
	if (w->nthreads == nthreads)
		return w;
	e = errno;
	workers_free(w);
	errno = e;
	return NULL;
fail:
	e = errno;
	if (w->ev)
		event_free(w->ev);
	if (w->pipefd[0] >= 0)
		close(w->pipefd[0]);
	if (w->pipefd[1] >= 0)
		close(w->pipefd[1]);
	free(w->threads);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w);
	errno = e;
	return NULL;
}

int
workers_submit(struct workers *w, workers_work_fn work, workers_done_fn done,
    void *arg)
{
	struct job *j;

	if (w == NULL || work == NULL)
		return -1;
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return -1;
	j->work = work;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&w->lock);
	if (w->stopping || w->queued >= w->queue_size) {
		pthread_mutex_unlock(&w->lock);
		free(j);
		return -1;
	}
	*w->queue_tail = j;
	w->queue_tail = &j->next;
	w->queued++;
	w->busy++;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

size_t
workers_busy(const struct workers *w)
{
	size_t n;

	pthread_mutex_lock((pthread_mutex_t *)&w->lock);
	n = w->busy;
	pthread_mutex_unlock((pthread_mutex_t *)&w->lock);
	return n;
}

unsigned
workers_threads(const struct workers *w)
{
	return w->nthreads;
}

/* Moves every queued job to the finished list as cancelled. */
static void
cancel_queued(struct workers *w)
{
	struct job *j;

	pthread_mutex_lock(&w->lock);
	w->stopping = 1;
	/* Queued jobs never run: move them to finished as cancelled. */
	while ((j = w->queue) != NULL) {
		w->queue = j->next;
		j->next = NULL;
		j->cancelled = 1;
		*w->finished_tail = j;
		w->finished_tail = &j->next;
	}
	w->queue_tail = &w->queue;
	w->queued = 0;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

void
workers_abandon(struct workers *w)
{
	if (w == NULL)
		return;
	cancel_queued(w);
	/* Cancelled and already finished jobs are answered now; a job still
	 * running may land on the list later and is never looked at. */
	drain(w);
	if (w->ev)
		event_del(w->ev);
}

void
workers_free(struct workers *w)
{
	unsigned i;

	if (w == NULL)
		return;
	cancel_queued(w);
	for (i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	drain(w);
	if (w->ev)
		event_free(w->ev);
	close(w->pipefd[0]);
	close(w->pipefd[1]);
	free(w->threads);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w);
}
