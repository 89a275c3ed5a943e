/*
 * deliver - the webhook worker: claims "webhook:" deliveries, posts them
 * with http_client, and records the outcome. See deliver.h.
 *
 * Store calls run on the loop thread with this module's own connection:
 * they are single-row statements. A request in flight holds its claim
 * (the lease is longer than any webhook timeout), so no other worker
 * sends the same delivery meanwhile.
 */
#include "config.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "configfile.h"
#include "daemon.h"
#include "deliver.h"
#include "http_client.h"
#include "log.h"
#include "store.h"
#include "workers.h"

#define DELIVER_MAX_WEBHOOKS 64
#define DELIVER_MAX_INFLIGHT 16
#define DELIVER_FOREIGN_DELAY_US 200000
#define DELIVER_ENDPOINT_PREFIX "webhook:"

struct webhook {
	char name[65];
	char *url;
	char *secret;
	char *ca_file;
	unsigned timeout_ms;
	struct deliver_breaker breaker;
};

struct deliver {
	struct daemon *d;
	struct store *st;
	struct http_client *http;
	struct event *timer;
	char worker[STORE_PARTNER_MAX + 1];
	struct webhook hooks[DELIVER_MAX_WEBHOOKS];
	size_t nhooks;
	unsigned poll_ms;
	int64_t lease_us;
	int max_attempts;
	int64_t base_backoff_us;
	int64_t max_backoff_us;
	double jitter;
	int breaker_failures;
	int64_t breaker_open_us;
	size_t inflight;
	struct metrics_family *m_deliveries;
	/* The store round on the worker pool (see tick): one at a time. */
	int round_running;
	int closing;           /* deliver_free() ran while a round was out */
	struct job *outcomes;  /* finished on the loop, to record */
	struct job *round_outcomes; /* being recorded by the round */
	struct job *claimed;   /* claimed by the round, to send */
	size_t inflight_at_round;
};

enum outcome_kind {
	OUTCOME_NONE,          /* claimed, not sent yet */
	OUTCOME_DONE,          /* 2xx */
	OUTCOME_FAIL,          /* retry, or dead when permanent or out of tries */
	OUTCOME_GIVE_BACK      /* not sent (breaker): due again at due_us */
};

struct job {
	struct deliver *dl;
	struct webhook *hook;
	struct store_delivery del;
	struct store_message msg;
	int attempt;
	struct job *next;
	/* Filled by the round (worker) for a claimed delivery. */
	char *body;            /* the CloudEvent, NULL when it failed */
	char why[300];
	/* Filled on the loop, recorded by the next round. */
	enum outcome_kind kind;
	int permanent;
	int status;
	int64_t due_us;
	int dead;              /* set by the round: it went to dead letters */
};

/* W3C traceparent: the trace id follows the correlation id (SHA-256,
 * first 16 bytes), so every delivery of one business document shares a
 * trace; the parent id is fresh per attempt. */
static void
traceparent(const char *correlation_id, char out[64])
{
	unsigned char d[SHA256_DIGEST_LENGTH], span[8];
	size_t i, o = 0;

	SHA256((const unsigned char *)correlation_id, strlen(correlation_id), d);
	if (RAND_bytes(span, sizeof(span)) != 1)
		memset(span, 0x5a, sizeof(span));
	o += (size_t)snprintf(out, 64, "00-");
	for (i = 0; i < 16; i++)
		o += (size_t)snprintf(out + o, 64 - o, "%02x", d[i]);
	out[o++] = '-';
	for (i = 0; i < 8; i++)
		o += (size_t)snprintf(out + o, 64 - o, "%02x", span[i]);
	snprintf(out + o, 64 - o, "-01");
}

/* ---- configuration ----------------------------------------------------- */

static int
cfgerr(char *err, size_t errsize, const struct config *cfg, unsigned line,
    const char *key, const char *value, const char *want)
{
	snprintf(err, errsize, "%s:%u: %s: expected %s, found \"%s\"", cfg->path,
	    line, key, want, value);
	return -1;
}

/* "30s", "500ms", "2m", plain seconds. */
static int
duration_us(const char *v, int64_t *out)
{
	char *end;
	double n = strtod(v, &end);

	if (end == v || n < 0)
		return -1;
	if (!strcmp(end, "ms"))
		n /= 1000;
	else if (!strcmp(end, "m"))
		n *= 60;
	else if (strcmp(end, "s") && *end)
		return -1;
	if (n > 86400 * 7)
		return -1;
	*out = (int64_t)(n * 1e6);
	return 0;
}

static int
load_webhook(struct webhook *w, const struct config *cfg,
    const struct config_section *s, char *err, size_t errsize)
{
	size_t i;

	snprintf(w->name, sizeof(w->name), "%s", s->name + 8);
	w->timeout_ms = 30000;
	for (i = 0; i < s->nentries; i++) {
		const struct config_entry *e = &s->entries[i];
		if (!strcmp(e->key, "url")) {
			if (strncmp(e->value, "http://", 7) &&
			    strncmp(e->value, "https://", 8))
				return cfgerr(err, errsize, cfg, e->line, "url",
				    e->value, "an http:// or https:// URL");
			w->url = strdup(e->value);
		} else if (!strcmp(e->key, "secret")) {
			if (strlen(e->value) < 16)
				return cfgerr(err, errsize, cfg, e->line,
				    "secret", "(hidden)", "at least 16 "
				    "characters");
			w->secret = strdup(e->value);
		} else if (!strcmp(e->key, "ca_file"))
			w->ca_file = strdup(e->value);
		else if (!strcmp(e->key, "timeout")) {
			int64_t us;
			if (duration_us(e->value, &us) || us < 100000 ||
			    us > 600000000)
				return cfgerr(err, errsize, cfg, e->line,
				    "timeout", e->value, "a duration from "
				    "100ms to 10m");
			w->timeout_ms = (unsigned)(us / 1000);
		} else {
			snprintf(err, errsize, "%s:%u: unknown key \"%s\" in "
			    "[%s] (expected url, secret, timeout, ca_file)",
			    cfg->path, e->line, e->key, s->name);
			return -1;
		}
	}
	if (w->url == NULL || w->secret == NULL) {
		snprintf(err, errsize, "%s:%u: [%s] needs url and secret",
		    cfg->path, s->line, s->name);
		return -1;
	}
	return 0;
}

static int
load_settings(struct deliver *dl, const struct config *cfg, char *err,
    size_t errsize)
{
	const struct config_section *s = config_section_find(cfg, "delivery");
	unsigned lease_line = 0;
	size_t i;

	dl->poll_ms = 500;
	dl->lease_us = 600 * 1000000LL;
	dl->max_attempts = 12;
	dl->base_backoff_us = 1000000;
	dl->max_backoff_us = 600 * 1000000LL;
	dl->jitter = 0.5;
	dl->breaker_failures = 5;
	dl->breaker_open_us = 30 * 1000000LL;
	for (i = 0; s && i < s->nentries; i++) {
		const struct config_entry *e = &s->entries[i];
		int64_t us;
		char *end;
		if (!strcmp(e->key, "lease")) {
			/* How long a claim outlives a node that died holding
			 * it; checked against the webhook timeouts below. */
			if (duration_us(e->value, &us) || us < 1000000 ||
			    us > 86400 * 1000000LL)
				return cfgerr(err, errsize, cfg, e->line, e->key,
				    e->value, "a duration from 1s to 24h");
			dl->lease_us = us;
			lease_line = e->line;
		} else if (!strcmp(e->key, "poll") ||
		    !strcmp(e->key, "base_backoff") ||
		    !strcmp(e->key, "max_backoff") ||
		    !strcmp(e->key, "breaker_open_for")) {
			if (duration_us(e->value, &us) || us < 1000)
				return cfgerr(err, errsize, cfg, e->line, e->key,
				    e->value, "a duration (e.g. 500ms, 30s, 10m)");
			if (!strcmp(e->key, "poll"))
				dl->poll_ms = (unsigned)(us / 1000);
			else if (!strcmp(e->key, "base_backoff"))
				dl->base_backoff_us = us;
			else if (!strcmp(e->key, "max_backoff"))
				dl->max_backoff_us = us;
			else
				dl->breaker_open_us = us;
		} else if (!strcmp(e->key, "max_attempts") ||
		    !strcmp(e->key, "breaker_failures")) {
			long n = strtol(e->value, &end, 10);
			if (end == e->value || *end || n < 1 || n > 1000)
				return cfgerr(err, errsize, cfg, e->line, e->key,
				    e->value, "a number from 1 to 1000");
			if (e->key[0] == 'm')
				dl->max_attempts = (int)n;
			else
				dl->breaker_failures = (int)n;
		} else if (!strcmp(e->key, "jitter")) {
			double j = strtod(e->value, &end);
			if (end == e->value || *end || j < 0 || j > 1)
				return cfgerr(err, errsize, cfg, e->line, e->key,
				    e->value, "a fraction from 0 to 1");
			dl->jitter = j;
		} else {
			snprintf(err, errsize, "%s:%u: unknown key \"%s\" in "
			    "[delivery] (expected poll, lease, max_attempts, "
			    "base_backoff, max_backoff, jitter, "
			    "breaker_failures, breaker_open_for)", cfg->path,
			    e->line, e->key);
			return -1;
		}
	}
	if (dl->max_backoff_us < dl->base_backoff_us)
		dl->max_backoff_us = dl->base_backoff_us;
	for (i = 0; i < cfg->nsections; i++) {
		if (strncmp(cfg->sections[i].name, "webhook.", 8))
			continue;
		if (dl->nhooks >= DELIVER_MAX_WEBHOOKS) {
			snprintf(err, errsize, "%s:%u: at most %d webhooks",
			    cfg->path, cfg->sections[i].line,
			    DELIVER_MAX_WEBHOOKS);
			return -1;
		}
		if (load_webhook(&dl->hooks[dl->nhooks++], cfg,
		    &cfg->sections[i], err, errsize))
			return -1;
		/* A request still in flight when its lease ran out could be
		 * sent a second time by another node meanwhile. */
		if ((int64_t)dl->hooks[dl->nhooks - 1].timeout_ms * 1000 >=
		    dl->lease_us) {
			snprintf(err, errsize, "%s:%u: [delivery] lease must be "
			    "longer than the timeout of [%s]", cfg->path,
			    lease_line ? lease_line : cfg->sections[i].line,
			    cfg->sections[i].name);
			return -1;
		}
	}
	return 0;
}

/* ---- the worker -------------------------------------------------------- */

static struct webhook *
find_hook(struct deliver *dl, const char *name)
{
	size_t i;

	for (i = 0; i < dl->nhooks; i++)
		if (!strcmp(dl->hooks[i].name, name))
			return &dl->hooks[i];
	return NULL;
}

static void
count(struct deliver *dl, const char *endpoint, const char *outcome)
{
	const char *labels[2] = { endpoint, outcome };

	if (dl->m_deliveries)
		metrics_counter_add(dl->m_deliveries, labels, 1);
}

static void
record_failure(struct deliver *dl, struct job *j, int permanent,
    const char *why)
{
	struct store_error se;
	char err[256], detail[512];
	int64_t next, now = store_now_us();
	int dead = 0;
	json_t *o;
	char *s;

	snprintf(err, sizeof(err), "[%d] %s", j->attempt, why);
	next = now + deliver_backoff_us(j->attempt, dl->base_backoff_us,
	    dl->max_backoff_us, dl->jitter, (double)(random() % 1000000) /
	    1e6);
	if (store_delivery_fail(dl->st, j->del.id, dl->worker, err, next,
	    permanent || j->attempt >= dl->max_attempts ? 1 : INT_MAX, &dead,
	    &se) != STORE_OK) {
		log_error("delivery outcome not recorded", "endpoint",
		    j->del.endpoint, "error", se.message, NULL);
		return;
	}
	o = json_pack("{s:I,s:s,s:i,s:s}", "delivery_id",
	    (json_int_t)j->del.id, "endpoint", j->del.endpoint, "attempt",
	    j->attempt, "error", why);
	if (!dead)
		json_object_set_new(o, "next_attempt_in_ms",
		    json_integer((next - now) / 1000));
	s = json_dumps(o, JSON_COMPACT);
	snprintf(detail, sizeof(detail), "%s", s ? s : "{}");
	free(s);
	json_decref(o);
	(void)store_event_append(dl->st, j->del.message_id, j->msg.correlation_id,
	    dead ? "delivery.dead" : "delivery.failed", detail, NULL, &se);
	if (dead) {
		(void)store_message_set_state(dl->st, j->del.message_id, NULL,
		    "dead", NULL, &se);
		log_warn("delivery dead-lettered", "endpoint", j->del.endpoint,
		    "error", why, "correlation_id", j->msg.correlation_id, NULL);
	} else
		log_info("delivery failed, will retry", "endpoint",
		    j->del.endpoint, "error", why, "correlation_id",
		    j->msg.correlation_id, NULL);
	j->dead = dead;
}

static void
push_outcome(struct deliver *dl, struct job *j, enum outcome_kind kind)
{
	j->kind = kind;
	j->next = dl->outcomes;
	dl->outcomes = j;
}

/* The answer is recorded by the next store round, off the loop thread. */
static void
on_response(const struct http_client_response *resp, void *ctx)
{
	struct job *j = ctx;
	struct deliver *dl = j->dl;
	enum deliver_outcome oc;

	dl->inflight--;
	if (resp->result == HTTP_CLIENT_CANCELLED) {
		/* Shutting down: the lease runs out and another claim sends
		 * it again under the same key. */
		free(j);
		return;
	}
	oc = resp->status ? deliver_outcome_of_status(resp->status) :
	    DELIVER_RETRY;
	if (resp->result != HTTP_CLIENT_OK && resp->result !=
	    HTTP_CLIENT_ERR_STATUS)
		oc = DELIVER_RETRY;
	deliver_breaker_record(&j->hook->breaker, oc == DELIVER_OK ||
	    oc == DELIVER_PERMANENT, store_now_us(), dl->breaker_failures);
	j->status = resp->status;
	if (oc == DELIVER_OK)
		push_outcome(dl, j, OUTCOME_DONE);
	else {
		snprintf(j->why, sizeof(j->why), "%s", resp->message[0] ?
		    resp->message : http_client_result_name(resp->result));
		j->permanent = oc == DELIVER_PERMANENT;
		push_outcome(dl, j, OUTCOME_FAIL);
	}
}

/* Worker thread: what the loop collected goes into the store. */
static void
record_outcome(struct deliver *dl, struct job *j)
{
	struct store_error se;
	char detail[512];

	if (j->kind == OUTCOME_GIVE_BACK) {
		int dead;
		(void)store_delivery_fail(dl->st, j->del.id, dl->worker,
		    j->del.last_error, j->due_us, INT_MAX, &dead, &se);
		return;
	}
	if (j->kind == OUTCOME_FAIL) {
		record_failure(dl, j, j->permanent, j->why);
		return;
	}
	if (store_delivery_done(dl->st, j->del.id, dl->worker, &se) !=
	    STORE_OK) {
		log_error("delivery outcome not recorded", "endpoint",
		    j->del.endpoint, "error", se.message, NULL);
		return;
	}
	snprintf(detail, sizeof(detail), "{\"delivery_id\":%" PRId64
	    ",\"endpoint\":\"%s\",\"status\":%d,\"attempt\":%d}",
	    j->del.id, j->del.endpoint, j->status, j->attempt);
	(void)store_event_append(dl->st, j->del.message_id,
	    j->msg.correlation_id, "delivery.done", detail, NULL, &se);
	(void)store_message_set_state(dl->st, j->del.message_id, NULL,
	    "delivered", NULL, &se);
}

static void
give_back(struct deliver *dl, const struct store_delivery *del,
    int64_t due_us)
{
	struct store_error se;
	int dead;

	(void)store_delivery_fail(dl->st, del->id, dl->worker, del->last_error,
	    due_us, INT_MAX, &dead, &se);
}

/* Worker thread: a claimed delivery's CloudEvent, or a recorded failure
 * (NULL) when it cannot be sent at all. */
static struct job *
prepare(struct deliver *dl, const struct store_delivery *del)
{
	struct job *j = calloc(1, sizeof(*j));
	struct store_error se;
	void *doc = NULL;
	size_t doclen = 0;

	if (j == NULL) {
		give_back(dl, del, store_now_us() + 1000000);
		return NULL;
	}
	j->dl = dl;
	j->del = *del;
	j->attempt = deliver_attempts_of(del->last_error, del->attempts) + 1;
	j->hook = find_hook(dl, del->endpoint + strlen(DELIVER_ENDPOINT_PREFIX));
	if (j->hook == NULL) {
		record_failure(dl, j, 0, "no [webhook] section for this "
		    "endpoint (removed from the configuration?)");
		free(j);
		return NULL;
	}
	if (store_message_get(dl->st, del->message_id, &j->msg, &se) != STORE_OK ||
	    spool_read_all(store_spool(dl->st), j->msg.payload_hash, &doc,
	    &doclen, NULL) != SPOOL_OK) {
		record_failure(dl, j, 1, "the document to deliver is missing "
		    "from the store");
		free(j);
		return NULL;
	}
	j->body = deliver_cloudevent(del->idempotency_key, j->msg.partner,
	    j->msg.message_type, j->msg.partner, j->msg.correlation_id,
	    store_now_us(), doc, doclen);
	free(doc);
	if (j->body == NULL) {
		give_back(dl, del, store_now_us() + 1000000);
		free(j);
		return NULL;
	}
	return j;
}

/* Loop thread: the request of a prepared delivery. */
static void
send_one(struct deliver *dl, struct job *j)
{
	struct http_client_header h[7];
	struct http_client_request req;
	struct http_client_tls tls;
	char sig[128], tp[64], errbuf[256];
	int64_t now = store_now_us();

	if (!deliver_breaker_allow(&j->hook->breaker, now, dl->breaker_open_us)) {
		/* Open circuit, or half-open with the probe still out: wait
		 * without spending an attempt, and never due in the past, or
		 * the next claim would find the same delivery again. */
		int64_t due = j->hook->breaker.opened_us + dl->breaker_open_us;
		if (due < now + (int64_t)dl->poll_ms * 1000)
			due = now + (int64_t)dl->poll_ms * 1000;
		free(j->body);
		j->body = NULL;
		j->due_us = due;
		push_outcome(dl, j, OUTCOME_GIVE_BACK);
		return;
	}
	deliver_signature(j->hook->secret, now / 1000000, j->body,
	    strlen(j->body), sig, sizeof(sig));
	traceparent(j->msg.correlation_id, tp);
	h[0].name = "Content-Type";
	h[0].value = "application/cloudevents+json";
	h[1].name = "X-Correlation-Id";
	h[1].value = j->msg.correlation_id;
	h[2].name = "traceparent";
	h[2].value = tp;
	h[3].name = "Idempotency-Key";
	h[3].value = j->del.idempotency_key;
	h[4].name = "X-Edigate-Signature";
	h[4].value = sig;
	h[5].name = "X-Edigate-Delivery";
	h[5].value = j->del.endpoint;
	h[6].name = "User-Agent";
	h[6].value = "edigate/" PACKAGE_VERSION;
	memset(&req, 0, sizeof(req));
	memset(&tls, 0, sizeof(tls));
	tls.ca_file = j->hook->ca_file;
	req.method = "POST";
	req.url = j->hook->url;
	req.headers = h;
	req.nheaders = 7;
	req.body = j->body;
	req.body_len = strlen(j->body);
	req.timeout_ms = j->hook->timeout_ms;
	req.connect_timeout_ms = j->hook->timeout_ms < 10000 ?
	    j->hook->timeout_ms : 10000;
	req.max_body_size = 64 * 1024;
	req.tls = j->hook->ca_file ? &tls : NULL;
	if (http_client_send(dl->http, &req, on_response, j, errbuf,
	    sizeof(errbuf)) == NULL) {
		free(j->body);
		j->body = NULL;
		deliver_breaker_record(&j->hook->breaker, 1, now,
		    dl->breaker_failures);
		snprintf(j->why, sizeof(j->why), "%s", errbuf);
		j->permanent = 1;
		push_outcome(dl, j, OUTCOME_FAIL);
		return;
	}
	free(j->body);
	j->body = NULL;
	dl->inflight++;
}

/*
 * The store round, on a worker (the loop never waits on the store for
 * webhooks): record the outcomes the loop collected since the last
 * round, then claim what may go out now and read each document. One
 * round at a time, so dl->st is used by one thread at a time.
 */
static void
round_work(void *arg)
{
	struct deliver *dl = arg;
	struct store_delivery del;
	struct store_error se;
	struct job *j;
	size_t budget = DELIVER_MAX_INFLIGHT - dl->inflight_at_round;

	for (j = dl->round_outcomes; j; j = j->next)
		record_outcome(dl, j);
	for (int claims = 0; claims < 4 * DELIVER_MAX_INFLIGHT && budget > 0;
	    claims++) {
		int rc = store_delivery_claim_prefix(dl->st, dl->worker,
		    DELIVER_ENDPOINT_PREFIX, store_now_us(), dl->lease_us, &del,
		    &se);
		if (rc == STORE_ENOTFOUND)
			break;
		if (rc != STORE_OK) {
			log_error("delivery: cannot claim", "error", se.message,
			    NULL);
			break;
		}
		if (strncmp(del.endpoint, DELIVER_ENDPOINT_PREFIX,
		    strlen(DELIVER_ENDPOINT_PREFIX)) != 0) {
			/* Another transport's entry: the oldest due is not
			 * ours, so stop this round and let its owner take
			 * it. */
			give_back(dl, &del, store_now_us() +
			    DELIVER_FOREIGN_DELAY_US);
			break;
		}
		if ((j = prepare(dl, &del)) != NULL) {
			j->next = dl->claimed;
			dl->claimed = j;
			budget--;
		}
	}
}

static void deliver_release(struct deliver *dl);

static void
round_done(void *arg, int cancelled)
{
	struct deliver *dl = arg;
	struct job *j, *next, *claimed = dl->claimed;

	dl->round_running = 0;
	dl->claimed = NULL;
	for (j = dl->round_outcomes; j; j = next) {
		next = j->next;
		if (!cancelled)
			count(dl, j->del.endpoint, j->kind == OUTCOME_DONE ?
			    "delivered" : j->kind == OUTCOME_GIVE_BACK ?
			    "deferred" : j->dead ? "dead" : "retry");
		free(j->body);
		free(j);
	}
	dl->round_outcomes = NULL;
	for (j = claimed; j; j = next) {
		next = j->next;
		j->next = NULL;
		if (cancelled || dl->closing) {
			/* The lease runs out; another claim sends it. */
			free(j->body);
			free(j);
		} else
			send_one(dl, j);
	}
	if (dl->closing)
		deliver_release(dl);
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
	struct deliver *dl = arg;

	(void)fd;
	(void)what;
	if (dl->round_running)
		return;
	dl->round_outcomes = dl->outcomes;
	dl->outcomes = NULL;
	dl->inflight_at_round = dl->inflight;
	if (dl->inflight >= DELIVER_MAX_INFLIGHT && dl->round_outcomes == NULL)
		return;
	dl->round_running = 1;
	if (workers_submit(daemon_workers(dl->d), round_work, round_done, dl)
	    != 0) {
		/* Queue full: try again next tick with the same outcomes. */
		dl->round_running = 0;
		dl->outcomes = dl->round_outcomes;
		dl->round_outcomes = NULL;
	}
}

struct deliver *
deliver_new(struct daemon *d, char *err, size_t errsize)
{
	const struct config *cfg = daemon_config(d);
	struct deliver *dl = calloc(1, sizeof(*dl));
	struct store_error se;
	struct http_client_options ho;
	char host[64] = "edigated";
	static const char *const labels[] = { "endpoint", "outcome", NULL };

	if (dl == NULL) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	dl->d = d;
	if (load_settings(dl, cfg, err, errsize))
		goto fail;
	gethostname(host, sizeof(host) - 1);
	snprintf(dl->worker, sizeof(dl->worker), "webhook@%.40s:%ld", host,
	    (long)getpid());
	if (store_open(&dl->st, cfg->store_url, NULL, &se) != STORE_OK) {
		snprintf(err, errsize, "store %s: %s", cfg->store_url, se.message);
		goto fail;
	}
	memset(&ho, 0, sizeof(ho));
	ho.user_agent = "edigate/" PACKAGE_VERSION;
	if ((dl->http = http_client_new(daemon_base(d), &ho, err, errsize)) ==
	    NULL)
		goto fail;
	dl->m_deliveries = metrics_counter(daemon_metrics(d),
	    "edigate_webhook_deliveries_total",
	    "Webhook delivery attempts by endpoint and outcome.", labels);
	srandom((unsigned)(store_now_us() ^ getpid()));
	return dl;
fail:
	deliver_free(dl);
	return NULL;
}

int
deliver_start(struct deliver *dl)
{
	struct timeval tv;

	tv.tv_sec = dl->poll_ms / 1000;
	tv.tv_usec = (dl->poll_ms % 1000) * 1000;
	dl->timer = event_new(daemon_base(dl->d), -1, EV_PERSIST, tick, dl);
	if (dl->timer == NULL || event_add(dl->timer, &tv) != 0)
		return -1;
	return 0;
}

static void
deliver_release(struct deliver *dl)
{
	struct job *j, *next;
	size_t i;

	for (j = dl->outcomes; j; j = next) {
		next = j->next;
		free(j->body);
		free(j);
	}
	store_close(dl->st);
	for (i = 0; i < dl->nhooks; i++) {
		free(dl->hooks[i].url);
		free(dl->hooks[i].secret);
		free(dl->hooks[i].ca_file);
	}
	free(dl);
}

void
deliver_free(struct deliver *dl)
{
	if (dl == NULL)
		return;
	if (dl->timer)
		event_free(dl->timer);
	dl->timer = NULL;
	if (dl->http)
		http_client_free(dl->http);
	dl->http = NULL;
	/* A store round still out frees the rest when it comes back (the
	 * workers are drained after this). */
	if (dl->round_running) {
		dl->closing = 1;
		return;
	}
	deliver_release(dl);
}
