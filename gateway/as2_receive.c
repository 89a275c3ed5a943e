/*
 * as2_receive - AS2 receive in edigated. See as2_receive.h.
 *
 * The request is taken apart on the loop thread (headers copied, body
 * moved into a buffer of the job's own), everything else happens in one
 * worker job: partner lookup, unwrap, store, MDN. The job's done callback
 * replies and hands the stored message to the inbound pipeline.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>
#include <openssl/rand.h>

#include "as2_cms.h"
#include "as2_mdn.h"
#include "as2_receive.h"
#include "as2_stream.h"
#include "as2_unwrap.h"
#include "configfile.h"
#include "daemon.h"
#include "group_sync.h"
#include "http_client.h"
#include "inbound.h"
#include "log.h"
#include "metrics.h"
#include "mime.h"
#include "partner.h"
#include "partner_set.h"
#include "store.h"

#define AS2_HEADER_MAX 1024      /* longest header value we keep */
#define AS2_MICALGS (MIME_MICALG_BIT(MIME_MICALG_SHA1) | \
	MIME_MICALG_BIT(MIME_MICALG_SHA224) | \
	MIME_MICALG_BIT(MIME_MICALG_SHA256) | \
	MIME_MICALG_BIT(MIME_MICALG_SHA384) | \
	MIME_MICALG_BIT(MIME_MICALG_SHA512))

/* ---- credentials ------------------------------------------------------ */

struct as2_peer {
	const partner *p;
	STACK_OF(X509) *theirs;
	as2_identity *ours;
	size_t nours;
};

/* One partner set with its credentials; replaced whole on reload. */
struct as2_state {
	int refs;
	struct partner_set *ps;
	struct as2_peer *peers;
	size_t npeers;
};

static struct as2_state *
state_ref(struct as2_state *s)
{
	__atomic_add_fetch(&s->refs, 1, __ATOMIC_ACQ_REL);
	return s;
}

static void
state_unref(struct as2_state *s)
{
	if (s == NULL || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL))
		return;
	for (size_t i = 0; i < s->npeers; i++) {
		struct as2_peer *pe = &s->peers[i];
		sk_X509_pop_free(pe->theirs, X509_free);
		for (size_t k = 0; k < pe->nours; k++) {
			X509_free(pe->ours[k].cert);
			EVP_PKEY_free(pe->ours[k].key);
		}
		free(pe->ours);
	}
	free(s->peers);
	partner_set_unref(s->ps);
	free(s);
}

static void
errf(char *err, size_t errsize, const char *file, unsigned line,
    const char *what, const char *detail)
{
	size_t n = strlen(err);
	if (n < errsize)
		snprintf(err + n, errsize - n, "%s:%u: %s: %s\n", file, line,
		    what, detail);
}

static struct as2_state *
state_load(const struct config *cfg, char *err, size_t errsize)
{
	struct as2_state *s;
	char *perr = NULL;
	as2_error aerr;

	err[0] = '\0';
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	s->refs = 1;
	s->ps = partner_set_load(cfg->partners_dir, NULL, cfg->maps_dir, &perr);
	if (s->ps == NULL) {
		snprintf(err, errsize, "%s", perr ? perr : "partners: cannot load");
		free(perr);
		free(s);
		return NULL;
	}
	s->peers = calloc(partner_set_count(s->ps) + 1, sizeof(*s->peers));
	if (s->peers == NULL) {
		snprintf(err, errsize, "out of memory");
		state_unref(s);
		return NULL;
	}
	for (size_t i = 0; i < partner_set_count(s->ps); i++) {
		const partner *p = partner_set_at(s->ps, i);
		struct as2_peer *pe;
		if (p->as2 == NULL)
			continue;
		pe = &s->peers[s->npeers++];
		pe->p = p;
		for (size_t k = 0; k < p->as2->their_cert_count; k++)
			if (as2_load_certs(p->as2->their_certs[k], &pe->theirs,
			    &aerr) != AS2_OK)
				errf(err, errsize, p->file, p->as2->line,
				    p->as2->their_certs[k], aerr.message);
		pe->ours = calloc(p->as2->our_count + 1, sizeof(*pe->ours));
		if (pe->ours == NULL)
			continue;
		for (size_t k = 0; k < p->as2->our_count; k++) {
			as2_identity *id = &pe->ours[pe->nours];
			if (as2_load_cert(p->as2->our_certs[k], &id->cert,
			    &aerr) != AS2_OK) {
				errf(err, errsize, p->file, p->as2->line,
				    p->as2->our_certs[k], aerr.message);
				continue;
			}
			if (as2_load_key(p->as2->our_keys[k], &id->key,
			    &aerr) != AS2_OK) {
				errf(err, errsize, p->file, p->as2->line,
				    p->as2->our_keys[k], aerr.message);
				X509_free(id->cert);
				continue;
			}
			if (X509_check_private_key(id->cert, id->key) != 1) {
				errf(err, errsize, p->file, p->as2->line,
				    p->as2->our_keys[k],
				    "the key does not belong to the certificate");
				X509_free(id->cert);
				EVP_PKEY_free(id->key);
				continue;
			}
			pe->nours++;
		}
	}
	if (err[0] != '\0') {
		size_t n = strlen(err);
		if (n && err[n - 1] == '\n')
			err[n - 1] = '\0';
		state_unref(s);
		return NULL;
	}
	return s;
}

static const struct as2_peer *
state_find(const struct as2_state *s, const char *as2_name)
{
	for (size_t i = 0; i < s->npeers; i++)
		if (strcmp(s->peers[i].p->as2->id, as2_name) == 0)
			return &s->peers[i];
	return NULL;
}

/* ---- the module ------------------------------------------------------- */

struct as2_receive {
	struct daemon *d;
	struct inbound *in;
	struct as2_state *state;       /* loop thread */
	char *store_url;
	char *spool_dir;               /* [store] spool_dir, or NULL */
	size_t max_decompressed;
	size_t unwrap_in_memory;       /* larger bodies unwrap from a file */
	pthread_key_t store_key;
	int key_made;
	struct metrics_family *received; /* edigate_as2_received_total */
	struct metrics_family *async;    /* edigate_as2_async_mdn_total */
	struct http_client *http;        /* asynchronous MDNs */
	struct async_mdn *pending;       /* being sent or waiting to retry */
	unsigned async_attempts, async_retry_ms, async_timeout_ms;
	/* Group commit: jobs write without fsync and share one store_sync()
	 * before they answer (see rx_durable). */
	struct group_sync *durable;
	struct metrics_family *syncs;    /* edigate_as2_durable_syncs_total */
	struct metrics_family *sync_waits; /* ..._sync_waits_total */
};

static void
close_store(void *st)
{
	store_close(st);
}

/* The worker thread's own store connection (store.h: one per thread). */
static struct store *
thread_store(struct as2_receive *rx, char *err, size_t errsize)
{
	struct store *st = pthread_getspecific(rx->store_key);
	struct store_error serr;

	if (st != NULL)
		return st;
	struct store_options so = { .spool_dir = rx->spool_dir };

	if (store_open(&st, rx->store_url, &so, &serr) != STORE_OK) {
		snprintf(err, errsize, "store: %.400s", serr.message);
		return NULL;
	}
	/* Commits on this connection become durable through rx_durable,
	 * shared by every job that committed meanwhile. */
	if (store_set_deferred_durability(st, 1, &serr) != STORE_OK) {
		snprintf(err, errsize, "store: %.400s", serr.message);
		store_close(st);
		return NULL;
	}
	pthread_setspecific(rx->store_key, st);
	return st;
}

/* The sync function of the group commit: runs on one waiting worker for
 * all of them. */
static int
durable_sync(void *ctx, char *err, size_t errsize)
{
	struct as2_receive *rx = ctx;
	struct store_error serr;
	struct store *st = thread_store(rx, err, errsize);

	if (st == NULL)
		return -1;
	if (rx->syncs)
		metrics_counter_add(rx->syncs, NULL, 1);
	if (store_sync(st, &serr) != STORE_OK) {
		snprintf(err, errsize, "%.400s", serr.message);
		return -1;
	}
	return 0;
}

/* Returns once everything this thread wrote to the spool and committed
 * to the store is durable: the MDN may be sent. */
static int
rx_durable(struct as2_receive *rx, char *err, size_t errsize)
{
	if (rx->sync_waits)
		metrics_counter_add(rx->sync_waits, NULL, 1);
	return group_sync_wait(rx->durable, err, errsize);
}

/* ---- the job ---------------------------------------------------------- */

struct rx_job {
	struct as2_receive *rx;
	struct daemon_request *req;
	struct as2_state *state;
	char cid[STORE_CORRELATION_MAX + 1];
	/* request */
	char *as2_from_raw, *as2_to_raw, *message_id, *dnt, *dno, *rdo;
	char *content_type, *cte, *disposition, *as2_version;
	struct evbuffer *body;
	int body_fd;                       /* -1, or the body in a file */
	uint64_t body_len;
	/* answer */
	int status;
	char *resp_type;
	unsigned char *resp_body;
	size_t resp_len;
	char from[MIME_AS2_NAME_MAX + 1];  /* their name */
	char to[MIME_AS2_NAME_MAX + 1];    /* ours */
	int mdn;                           /* the answer is an MDN */
	char async_url[1024];              /* "": synchronous MDN */
	int64_t mdn_message_id;            /* message the MDN belongs to */
	int64_t submit_id;                 /* for the inbound pipeline */
	int wrote;                         /* committed without a sync yet */
	char partner_id[STORE_PARTNER_MAX + 1];
	char message_type[STORE_NAME_MAX + 1];
	char outcome[64];                  /* for logs and metrics */
	char reason[512];
};

static char *
header_copy(struct daemon_request *r, const char *name)
{
	const char *v = daemon_request_header(r, name);
	if (v == NULL)
		return NULL;
	return strndup(v, AS2_HEADER_MAX);
}

static void
job_free(struct rx_job *j)
{
	free(j->as2_from_raw);
	free(j->as2_to_raw);
	free(j->message_id);
	free(j->dnt);
	free(j->dno);
	free(j->rdo);
	free(j->content_type);
	free(j->cte);
	free(j->disposition);
	free(j->as2_version);
	if (j->body)
		evbuffer_free(j->body);
	if (j->body_fd >= 0)
		close(j->body_fd);
	free(j->resp_type);
	free(j->resp_body);
	state_unref(j->state);
	free(j);
}

/* ---- MDN -------------------------------------------------------------- */

/* Our identity that signs: the valid one issued last (a rotation). */
static const as2_identity *
signing_identity(const struct as2_peer *peer)
{
	const as2_identity *best = NULL;
	for (size_t i = 0; peer && i < peer->nours; i++) {
		const as2_identity *id = &peer->ours[i];
		if (X509_cmp_current_time(X509_get0_notBefore(id->cert)) > 0 ||
		    X509_cmp_current_time(X509_get0_notAfter(id->cert)) < 0)
			continue;
		if (best == NULL || ASN1_TIME_compare(
		    X509_get0_notBefore(best->cert),
		    X509_get0_notBefore(id->cert)) < 0)
			best = id;
	}
	return best ? best : (peer && peer->nours ? &peer->ours[0] : NULL);
}

/*
 * Builds the MDN into the job's answer. mic may be empty. A signed MDN
 * is made when the sender asked for one (or the profile says always) and
 * we have a key for this partner; otherwise unsigned.
 */
static int
build_mdn(struct rx_job *j, const struct as2_peer *peer,
    as2_disposition disp, const char *modifier, const char *mic,
    const char *text)
{
	as2_mdn m;
	as2_mdn_signing sg, *sgp = NULL;
	mime_dno dno;
	mime_error merr;
	as2_error aerr;
	int want = 0;
	const as2_identity *id;

	memset(&m, 0, sizeof(m));
	snprintf(m.reporting_ua, sizeof(m.reporting_ua), "edigate %s",
	    PACKAGE_VERSION);
	snprintf(m.original_recipient, sizeof(m.original_recipient), "%s",
	    j->to);
	snprintf(m.final_recipient, sizeof(m.final_recipient), "%s", j->to);
	snprintf(m.original_message_id, sizeof(m.original_message_id), "%s",
	    j->message_id ? j->message_id : "");
	m.disposition = disp;
	snprintf(m.modifier, sizeof(m.modifier), "%s", modifier ? modifier :
	    "");
	snprintf(m.mic, sizeof(m.mic), "%s", mic ? mic : "");
	snprintf(m.text, sizeof(m.text), "%s", text ? text : "");

	memset(&dno, 0, sizeof(dno));
	if (j->dno && mime_dno_parse(j->dno, &dno, &merr) == MIME_OK)
		want = mime_dno_wants_signed(&dno);
	if (peer && peer->p->as2) {
		if (strcmp(peer->p->as2->mdn_signing, "always") == 0)
			want = 1;
		else if (strcmp(peer->p->as2->mdn_signing, "never") == 0)
			want = 0;
	}
	id = want ? signing_identity(peer) : NULL;
	if (id != NULL) {
		memset(&sg, 0, sizeof(sg));
		sg.cert = id->cert;
		sg.key = id->key;
		sg.alg = mime_dno_choose_micalg(&dno, AS2_MICALGS, &sg.style);
		if (sg.alg == MIME_MICALG_NONE) {
			sg.alg = MIME_MICALG_SHA256;
			sg.style = MIME_MICALG_STYLE_DASH;
		}
		sgp = &sg;
	}
	free(j->resp_type);
	free(j->resp_body);
	j->resp_type = NULL;
	j->resp_body = NULL;
	if (as2_mdn_build(&m, sgp, &j->resp_type, &j->resp_body, &j->resp_len,
	    &aerr) != AS2_OK) {
		log_error("cannot build an MDN", "correlation_id", j->cid,
		    "error", aerr.message, NULL);
		return -1;
	}
	j->mdn = 1;
	j->status = 200;
	return 0;
}

/* The MIC in the algorithm the sender asked for (signed-receipt-micalg),
 * else the signature's, else SHA-1 (RFC 4130 section 7.3.1). */
static int
compute_mic(struct rx_job *j, const struct as2_unwrapped *u,
    const struct as2_streamed *su, char *out, size_t cap)
{
	mime_dno dno;
	mime_error merr;
	mime_micalg alg = MIME_MICALG_NONE;
	/* RFC 4130 writes "sha1"; a signer's own spelling wins. */
	mime_micalg_style style = u->is_signed ? u->sign_style :
	    MIME_MICALG_STYLE_PLAIN;
	as2_mic mic;
	as2_error aerr;

	if (j->dno && mime_dno_parse(j->dno, &dno, &merr) == MIME_OK)
		alg = mime_dno_choose_micalg(&dno, AS2_MICALGS, &style);
	if (alg == MIME_MICALG_NONE)
		alg = u->is_signed && u->sign_alg != MIME_MICALG_NONE ?
		    u->sign_alg : MIME_MICALG_SHA1;
	if (as2_mic_init(&mic, alg, &aerr) != AS2_OK)
		return -1;
	if (su != NULL) {
		if (as2_stream_read(&su->mic_source, as2_mic_sink, &mic) != 0) {
			as2_mic_free(&mic);
			return -1;
		}
	} else
		as2_mic_update(&mic, u->mic_source.p, u->mic_source.len);
	if (as2_mic_final(&mic, style, out, cap, &aerr) != AS2_OK) {
		as2_mic_free(&mic);
		return -1;
	}
	as2_mic_free(&mic);
	return 0;
}

/* ---- store ------------------------------------------------------------ */

static const char *
detect_type(const unsigned char *p, size_t len)
{
	size_t i = 0;
	while (i < len && (p[i] == ' ' || p[i] == '\r' ||
	    p[i] == '\n' || p[i] == '\t'))
		i++;
	if (len - i >= 3 && memcmp(p + i, "ISA", 3) == 0)
		return "x12";
	if (len - i >= 3 && (memcmp(p + i, "UNA", 3) == 0 ||
	    memcmp(p + i, "UNB", 3) == 0))
		return "edifact";
	return "binary";
}

/* The type of a payload in a file, from its first bytes (leading white
 * space included, as detect_type skips it). */
static const char *
detect_type_slice(const struct as2_slice *s)
{
	unsigned char head[4096];
	long n = as2_stream_peek(s, head, sizeof(head));
	return detect_type(head, n > 0 ? (size_t)n : 0);
}

struct writer_sink {
	struct spool_writer *w;
	struct spool_error *err;
};

static int
writer_sink(void *ctx, const void *data, size_t len)
{
	struct writer_sink *ws = ctx;
	return spool_writer_feed(ws->w, data, len, ws->err) != SPOOL_OK;
}

/* Streams the bytes of s into the spool: flat memory for any size.
 * Unless synced, the file is durable only after the next rx_durable. */
static int
spool_put_slice(struct spool *sp, const struct as2_slice *s, int synced,
    char hash[SPOOL_HASH_HEX + 1], struct spool_error *err)
{
	struct spool_writer *w;
	struct writer_sink ws;
	uint64_t size;

	if (spool_writer_new(sp, &w, err) != SPOOL_OK)
		return -1;
	ws.w = w;
	ws.err = err;
	if (as2_stream_read(s, writer_sink, &ws) != 0) {
		if (err->message[0] == '\0')
			snprintf(err->message, sizeof(err->message),
			    "cannot read the body file: %s", strerror(errno));
		spool_writer_abort(w);
		return -1;
	}
	return (synced ? spool_writer_commit(w, hash, &size, err) :
	    spool_writer_commit_unsynced(w, hash, &size, err)) == SPOOL_OK ?
	    0 : -1;
}

/* The raw request body into the spool, wherever it lives. */
static int
spool_put_raw(struct rx_job *j, struct spool *sp, int synced,
    char hash[SPOOL_HASH_HEX + 1], struct spool_error *err)
{
	if (j->body_fd >= 0) {
		struct as2_slice raw = { j->body_fd, 0, j->body_len };
		memset(err, 0, sizeof(*err));
		return spool_put_slice(sp, &raw, synced, hash, err);
	}
	{
		unsigned char *raw = evbuffer_pullup(j->body, -1);
		size_t len = evbuffer_get_length(j->body);
		const unsigned char *p = raw ? raw : (unsigned char *)"";
		return (synced ? spool_put(sp, p, len, hash, err) :
		    spool_put_unsynced(sp, p, len, hash, err)) == SPOOL_OK ?
		    0 : -1;
	}
}

static uint64_t
raw_len(const struct rx_job *j)
{
	return j->body_fd >= 0 ? j->body_len :
	    (uint64_t)evbuffer_get_length(j->body);
}

/* Moves a body held in memory to an anonymous file in the spool's
 * temporary directory, so the rest of the job streams: the buffer is
 * freed at once. */
static int
spill_body(struct rx_job *j, struct spool *sp)
{
	char dir[4096];
	int fd;
	uint64_t len = evbuffer_get_length(j->body);

	snprintf(dir, sizeof(dir), "%s/tmp", spool_dir(sp));
	fd = as2_stream_tmpfile(dir);
	if (fd < 0)
		return -1;
	while (evbuffer_get_length(j->body) > 0)
		if (evbuffer_write(j->body, fd) < 0 && errno != EINTR) {
			close(fd);
			return -1;
		}
	evbuffer_free(j->body);
	j->body = NULL;
	j->body_fd = fd;
	j->body_len = len;
	return 0;
}

/* The "as2.mdn" event naming the kept MDN (hash from mdn_keep). */
static int
mdn_event(struct rx_job *j, struct store *st, int64_t message_id,
    const char *disposition, const char *hash)
{
	struct store_error serr;
	json_t *d;
	char *text;
	int rc = 0;

	d = json_pack("{s:s, s:s, s:s, s:s, s:I}", "mdn_hash", hash,
	    "content_type", j->resp_type, "disposition", disposition,
	    "delivery", j->async_url[0] ? "async" : "sync", "size",
	    (json_int_t)j->resp_len);
	j->mdn_message_id = message_id;
	text = d ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (text == NULL || store_event_append(st, message_id, j->cid,
	    "as2.mdn", text, NULL, &serr) != STORE_OK) {
		log_warn("cannot record the MDN", "correlation_id", j->cid,
		    NULL);
		rc = -1;
	}
	free(text);
	json_decref(d);
	return rc;
}

/* Puts the MDN we send in the spool: non-repudiation, and the answer to
 * a duplicate, byte for byte. Unsynced: rx_durable follows before the
 * metadata naming it is committed. */
static int
mdn_keep(struct rx_job *j, struct store *st, char hash[SPOOL_HASH_HEX + 1])
{
	struct spool_error perr;

	j->wrote = 1;
	if (store_spool(st) == NULL || spool_put_unsynced(store_spool(st),
	    j->resp_body, j->resp_len, hash, &perr) != SPOOL_OK) {
		log_warn("cannot keep the MDN", "correlation_id", j->cid, NULL);
		return -1;
	}
	return 0;
}

static void
record_mdn(struct rx_job *j, struct store *st, int64_t message_id,
    const char *disposition)
{
	char hash[SPOOL_HASH_HEX + 1];
	char err[256];

	/* The kept MDN is durable before the event that names it. */
	if (mdn_keep(j, st, hash) == 0 && rx_durable(j->rx, err,
	    sizeof(err)) == 0)
		mdn_event(j, st, message_id, disposition, hash);
}

struct find_event {
	const char *kind;
	json_t *detail;     /* of the last event of that kind */
};

static int
find_event_cb(void *ud, const struct store_event *ev)
{
	struct find_event *f = ud;
	if (strcmp(ev->kind, f->kind) == 0) {
		json_decref(f->detail);
		f->detail = json_loads(ev->detail, 0, NULL);
	}
	return 0;
}

static json_t *
find_event(struct store *st, int64_t message_id, const char *kind)
{
	struct store_event_filter flt = { .message_id = message_id };
	struct find_event f = { kind, NULL };
	struct store_error serr;

	if (store_event_foreach(st, &flt, find_event_cb, &f, &serr)
	    != STORE_OK) {
		json_decref(f.detail);
		return NULL;
	}
	return f.detail;
}

/* The answer to a duplicate: the first MDN again, or a new processed
 * one from the first message's MIC when none was recorded. */
static void
answer_duplicate(struct rx_job *j, struct store *st,
    const struct as2_peer *peer, int64_t first_id)
{
	json_t *ev = find_event(st, first_id, "as2.mdn");
	const char *hash, *ctype;
	void *data = NULL;
	size_t len = 0;
	struct spool_error perr;

	snprintf(j->outcome, sizeof(j->outcome), "duplicate");
	snprintf(j->reason, sizeof(j->reason), "Message-ID %s was received "
	    "before as message %lld", j->message_id, (long long)first_id);
	if (j->dnt == NULL) {
		j->status = 200;
		json_decref(ev);
		return;
	}
	hash = json_string_value(json_object_get(ev, "mdn_hash"));
	ctype = json_string_value(json_object_get(ev, "content_type"));
	if (hash && ctype && store_spool(st) && spool_read_all(store_spool(st),
	    hash, &data, &len, &perr) == SPOOL_OK) {
		free(j->resp_type);
		free(j->resp_body);
		j->resp_type = strdup(ctype);
		j->resp_body = data;
		j->resp_len = len;
		j->status = 200;
		j->mdn = 1;
		j->mdn_message_id = first_id;
		json_decref(ev);
		return;
	}
	json_decref(ev);
	ev = find_event(st, first_id, "message.stored");
	const char *mic = json_string_value(json_object_get(ev, "mic"));
	if (build_mdn(j, peer, AS2_DISPOSITION_PROCESSED, NULL, mic, NULL) == 0)
		record_mdn(j, st, first_id, "processed");
	json_decref(ev);
}

/* Keeps what a partner sent that failed its checks: raw body, state
 * "refused", and why. Returns the message id or 0. */
static int64_t
store_refused(struct rx_job *j, struct store *st, const struct as2_peer *peer,
    const char *disposition)
{
	struct store_message m;
	struct store_error serr;
	struct spool_error perr;
	uint64_t len = raw_len(j);
	json_t *d;
	char *text;

	memset(&m, 0, sizeof(m));
	/* Synced: the refusal is committed at once below. */
	if (store_spool(st) == NULL || spool_put_raw(j, store_spool(st), 1,
	    m.payload_hash, &perr) != 0)
		return 0;
	m.direction = STORE_IN;
	snprintf(m.partner, sizeof(m.partner), "%s", peer->p->id);
	snprintf(m.transport, sizeof(m.transport), "as2");
	snprintf(m.message_type, sizeof(m.message_type), "as2");
	snprintf(m.state, sizeof(m.state), "refused");
	snprintf(m.correlation_id, sizeof(m.correlation_id), "%s", j->cid);
	m.size = (int64_t)len;
	d = json_pack("{s:s, s:s, s:s, s:s, s:s}", "as2_message_id",
	    j->message_id, "as2_from", j->from, "as2_to", j->to,
	    "disposition", disposition, "reason", j->reason);
	text = d ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(d);
	j->wrote = 1;
	if (store_message_put(st, &m, text, &serr) != STORE_OK) {
		log_error("cannot keep a refused AS2 message",
		    "correlation_id", j->cid, "error", serr.message, NULL);
		free(text);
		return 0;
	}
	free(text);
	return m.id;
}

static void
refuse_unknown(struct rx_job *j, struct store *st, const char *why)
{
	json_t *d;
	char *text;
	struct store_error serr;

	snprintf(j->outcome, sizeof(j->outcome), "unknown-partner");
	snprintf(j->reason, sizeof(j->reason), "%s", why);
	/* Never post to a URL a stranger names: its answer is in the
	 * response. */
	j->async_url[0] = '\0';
	if (st != NULL) {
		d = json_pack("{s:s, s:s, s:s, s:s}", "as2_message_id",
		    j->message_id, "as2_from", j->from, "as2_to", j->to,
		    "reason", why);
		text = d ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(d);
		if (text) {
			char err[256];
			/* Recorded (durably) before the refusal goes out. */
			if (store_event_append(st, 0, j->cid, "as2.refused",
			    text, NULL, &serr) == STORE_OK &&
			    rx_durable(j->rx, err, sizeof(err)) != 0)
				log_warn("refusal not durable", "correlation_id",
				    j->cid, "error", err, NULL);
		}
		free(text);
	}
	if (j->dnt == NULL || build_mdn(j, NULL, AS2_DISPOSITION_ERROR,
	    "authentication-failed", NULL, why) != 0) {
		j->status = 403;
		j->mdn = 0;
	}
}

static void
rx_work(void *arg)
{
	struct rx_job *j = arg;
	struct as2_receive *rx = j->rx;
	struct store *st;
	const struct as2_peer *peer;
	struct as2_unwrapped u;
	struct as2_streamed su, *sup = NULL;   /* set: unwrapped from a file */
	char mic[AS2_MIC_MAX] = "";
	char err[512];
	mime_error merr;

	memset(&u, 0, sizeof(u));
	memset(&su, 0, sizeof(su));
	snprintf(j->outcome, sizeof(j->outcome), "error");
	if (j->as2_from_raw == NULL || j->as2_to_raw == NULL ||
	    j->message_id == NULL) {
		j->status = 400;
		snprintf(j->reason, sizeof(j->reason), "AS2-From, AS2-To and "
		    "Message-ID are required (RFC 4130 section 6)");
		snprintf(j->outcome, sizeof(j->outcome), "bad-request");
		return;
	}
	if (mime_as2_name_parse(j->as2_from_raw, j->from, &merr) != MIME_OK ||
	    mime_as2_name_parse(j->as2_to_raw, j->to, &merr) != MIME_OK) {
		j->status = 400;
		snprintf(j->reason, sizeof(j->reason), "AS2-From/AS2-To: %s",
		    merr.message);
		snprintf(j->outcome, sizeof(j->outcome), "bad-request");
		return;
	}
	if (strlen(j->message_id) > 250 || strpbrk(j->message_id, "\r\n")) {
		j->status = 400;
		snprintf(j->reason, sizeof(j->reason), "Message-ID is longer "
		    "than 250 characters");
		snprintf(j->outcome, sizeof(j->outcome), "bad-request");
		return;
	}
	st = thread_store(rx, err, sizeof(err));
	peer = state_find(j->state, j->from);
	if (peer == NULL) {
		char why[400];
		snprintf(why, sizeof(why), "AS2-From \"%s\" is not a partner "
		    "of this system", j->from);
		refuse_unknown(j, st, why);
		return;
	}
	if (peer->p->as2->our_id && strcmp(peer->p->as2->our_id, j->to) != 0) {
		char why[400];
		snprintf(why, sizeof(why), "AS2-To \"%s\" is not our name for "
		    "partner \"%s\"", j->to, j->from);
		refuse_unknown(j, st, why);
		return;
	}
	if (j->rdo != NULL && j->dnt != NULL && peer->p->as2->async_mdn &&
	    rx->http != NULL) {
		if (mime_receipt_delivery_parse(j->rdo, j->async_url,
		    sizeof(j->async_url), &merr) != MIME_OK) {
			/* No usable address: the receipt goes in the
			 * response, where the sender can at least see it. */
			j->async_url[0] = '\0';
			snprintf(j->reason, sizeof(j->reason),
			    "Receipt-Delivery-Option: %s", merr.message);
			if (build_mdn(j, peer, AS2_DISPOSITION_ERROR,
			    "unexpected-processing-error", NULL, j->reason)
			    != 0)
				j->status = 400;
			snprintf(j->outcome, sizeof(j->outcome),
			    "bad-request");
			return;
		}
	}
	if (st == NULL) {
		snprintf(j->reason, sizeof(j->reason), "%s", err);
		goto store_failed;
	}

	/* A large body is unwrapped from a file, layer by layer, with flat
	 * memory (as2_stream.h); a small one in memory. Both walks follow
	 * the same rules, so the outcome does not depend on the size. */
	if (j->body_fd < 0 && store_spool(st) != NULL &&
	    evbuffer_get_length(j->body) > rx->unwrap_in_memory &&
	    spill_body(j, store_spool(st)) != 0)
		log_warn("cannot move a large AS2 body to a file; unwrapping "
		    "it in memory", "correlation_id", j->cid, "error",
		    strerror(errno), NULL);
	{
		struct as2_unwrap_keys keys = { peer->theirs, peer->ours,
		    peer->nours };
		const char *ctype = j->content_type ? j->content_type :
		    "application/octet-stream";
		int unwrapped;

		if (j->body_fd >= 0) {
			char dir[4096];
			sup = &su;
			snprintf(dir, sizeof(dir), "%s/tmp",
			    store_spool(st) ? spool_dir(store_spool(st)) :
			    "/tmp");
			unwrapped = as2_stream_unwrap(&su, &keys,
			    rx->max_decompressed, dir, ctype, j->cte,
			    j->body_fd, j->body_len) == 0;
			/* The flags and the outcome, where the code below
			 * reads them; the bytes stay in su's files. */
			u.is_signed = su.is_signed;
			u.is_encrypted = su.is_encrypted;
			u.is_compressed = su.is_compressed;
			u.sign_alg = su.sign_alg;
			u.sign_style = su.sign_style;
			u.cipher = su.cipher;
			memcpy(u.filename, su.filename, sizeof(u.filename));
			memcpy(u.payload_type, su.payload_type,
			    sizeof(u.payload_type));
			u.fail = su.fail;
			memcpy(u.reason, su.reason, sizeof(u.reason));
		} else {
			size_t rawlen = evbuffer_get_length(j->body);
			unsigned char *raw = evbuffer_pullup(j->body, -1);

			if (rawlen && raw == NULL) {
				snprintf(j->reason, sizeof(j->reason),
				    "out of memory");
				goto store_failed;
			}
			unwrapped = as2_unwrap(&u, &keys, rx->max_decompressed,
			    ctype, j->cte, raw, rawlen) == 0;
		}
		if (unwrapped) {
			if (peer->p->as2->require_encrypted && !u.is_encrypted) {
				u.fail = AS2_ERR_DECRYPTION;
				snprintf(u.reason, sizeof(u.reason), "the partner "
				    "profile requires encrypted messages; this "
				    "one is not");
			} else if (peer->p->as2->require_signed &&
			    !u.is_signed) {
				u.fail = AS2_ERR_AUTHENTICATION;
				snprintf(u.reason, sizeof(u.reason), "the partner "
				    "profile requires signed messages; this one "
				    "is not");
			}
		}
	}
	if (u.fail != AS2_OK) {
		const char *disp = as2_status_disposition(u.fail);
		int64_t id;

		if (u.fail == AS2_ERR_FORMAT || u.fail == AS2_ERR_UNSUPPORTED ||
		    u.fail == AS2_ERR_LIMIT || u.fail == AS2_ERR_NOMEM)
			disp = "unexpected-processing-error";
		snprintf(j->outcome, sizeof(j->outcome), "%s", disp);
		snprintf(j->reason, sizeof(j->reason), "%s", u.reason);
		id = store_refused(j, st, peer, disp);
		if (j->dnt && build_mdn(j, peer, AS2_DISPOSITION_ERROR, disp,
		    NULL, u.reason) == 0) {
			if (id)
				record_mdn(j, st, id, disp);
		} else {
			j->status = u.fail == AS2_ERR_FORMAT ||
			    u.fail == AS2_ERR_UNSUPPORTED ? 400 :
			    u.fail == AS2_ERR_LIMIT ? 413 :
			    u.fail == AS2_ERR_NOMEM ? 503 : 403;
		}
		goto out;
	}
	if (compute_mic(j, &u, sup, mic, sizeof(mic)) != 0)
		mic[0] = '\0';

	{
		struct store_message m;
		struct store_error serr;
		struct spool_error perr;
		char raw_hash[SPOOL_HASH_HEX + 1];
		uint64_t rawlen = raw_len(j);
		uint64_t payload_len = sup ? su.payload.len : u.payload.len;
		int dup = 0, same, kept = -1;
		int64_t first_id = 0, first_us = 0;
		char mdn_hash[SPOOL_HASH_HEX + 1];
		json_t *d;
		char *text;

		memset(&m, 0, sizeof(m));
		if (store_spool(st) == NULL) {
			snprintf(j->reason, sizeof(j->reason), "the store has "
			    "no spool for payloads");
			goto store_failed;
		}
		/* A plain message is its own raw body: one file, one fsync. */
		if (sup)
			same = su.payload.fd == j->body_fd &&
			    su.payload.off == 0 && su.payload.len == rawlen;
		else {
			unsigned char *raw = evbuffer_pullup(j->body, -1);
			same = rawlen == u.payload.len && (rawlen == 0 ||
			    memcmp(raw, u.payload.p, rawlen) == 0);
		}
		/* Unsynced: one rx_durable below covers these files, the
		 * MDN's and those of every job writing meanwhile. */
		j->wrote = 1;
		memset(&perr, 0, sizeof(perr));
		if ((sup ? spool_put_slice(store_spool(st), &su.payload, 0,
		    m.payload_hash, &perr) != 0 : spool_put_unsynced(
		    store_spool(st), u.payload.p ? u.payload.p :
		    (unsigned char *)"", u.payload.len, m.payload_hash, &perr)
		    != SPOOL_OK) || (!same && spool_put_raw(j, store_spool(st),
		    0, raw_hash, &perr) != 0)) {
			snprintf(j->reason, sizeof(j->reason), "spool: %s",
			    perr.message);
			goto store_failed;
		}
		if (same)
			memcpy(raw_hash, m.payload_hash, sizeof(raw_hash));
		m.direction = STORE_IN;
		snprintf(m.partner, sizeof(m.partner), "%s", peer->p->id);
		snprintf(m.transport, sizeof(m.transport), "as2");
		snprintf(m.message_type, sizeof(m.message_type), "%s",
		    sup ? detect_type_slice(&su.payload) :
		    detect_type(u.payload.p, u.payload.len));
		snprintf(m.state, sizeof(m.state), "received");
		snprintf(m.correlation_id, sizeof(m.correlation_id), "%s",
		    j->cid);
		m.size = (int64_t)payload_len;
		d = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:s, s:s,"
		    " s:I, s:s}", "as2_message_id", j->message_id,
		    "as2_from", j->from, "as2_to", j->to, "mic", mic,
		    "signed", u.is_signed, "encrypted", u.is_encrypted,
		    "compressed", u.is_compressed, "filename", u.filename,
		    "raw_hash", raw_hash, "raw_size", (json_int_t)rawlen,
		    "content_type", u.payload_type);
		text = d ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(d);
		if (text == NULL) {
			snprintf(j->reason, sizeof(j->reason), "out of memory");
			goto store_failed;
		}
		/* The MDN is made and kept now, recorded in the same
		 * transaction as the message, and sent only after the
		 * commit. */
		if (j->dnt != NULL && build_mdn(j, peer,
		    AS2_DISPOSITION_PROCESSED, NULL, mic, NULL) == 0)
			kept = mdn_keep(j, st, mdn_hash);
		/* The payload files are durable before any commit names them
		 * (spool.h); the commit itself is made durable after it. */
		if (rx_durable(rx, err, sizeof(err)) != 0) {
			free(text);
			snprintf(j->reason, sizeof(j->reason), "sync: %.400s",
			    err);
			goto store_failed;
		}
		/* The message and its duplicate key in one step: a resend
		 * after a crash is either a duplicate of a committed
		 * message or a first delivery, never both. */
		if (store_tx_begin(st, &serr) != STORE_OK ||
		    store_message_put(st, &m, text, &serr) != STORE_OK ||
		    store_duplicate_check(st, peer->p->id, "as2-message-id",
		    j->message_id, store_now_us(), 0, m.id, &dup, &first_id,
		    &first_us, &serr) != STORE_OK) {
			store_tx_rollback(st);
			free(text);
			snprintf(j->reason, sizeof(j->reason), "store: %.400s",
			    serr.message);
			goto store_failed;
		}
		free(text);
		if (dup) {
			store_tx_rollback(st);
			answer_duplicate(j, st, peer, first_id);
			goto out;
		}
		if (kept == 0)
			mdn_event(j, st, m.id, "processed", mdn_hash);
		if (store_tx_commit(st, &serr) != STORE_OK) {
			snprintf(j->reason, sizeof(j->reason), "store: %.400s",
			    serr.message);
			goto store_failed;
		}
		/* Durable before it is acknowledged: no MDN, no 200, and no
		 * hand-over to the pipeline before the sync that covers
		 * this commit. */
		if (rx_durable(rx, err, sizeof(err)) != 0) {
			j->wrote = 0;
			snprintf(j->reason, sizeof(j->reason), "sync: %.400s",
			    err);
			goto store_failed;
		}
		j->wrote = 0;
		j->submit_id = m.id;
		snprintf(j->partner_id, sizeof(j->partner_id), "%s", m.partner);
		snprintf(j->message_type, sizeof(j->message_type), "%s",
		    m.message_type);
		snprintf(j->outcome, sizeof(j->outcome), "processed");
		snprintf(j->reason, sizeof(j->reason), "stored as message "
		    "%lld (%llu bytes)", (long long)m.id,
		    (unsigned long long)payload_len);
		/* Stored. Without an MDN (none asked for, or it could not
		 * be made) the answer is a plain 200. */
		j->status = 200;
	}
	goto out;

store_failed:
	j->mdn = 0;     /* a processed MDN made before the commit is void */
	snprintf(j->outcome, sizeof(j->outcome), "store-failed");
	log_error("AS2 message not stored", "correlation_id", j->cid,
	    "error", j->reason, NULL);
	if (j->dnt == NULL || build_mdn(j, peer, AS2_DISPOSITION_ERROR,
	    "unexpected-processing-error", NULL,
	    "The message could not be stored; please send it again later.")
	    != 0) {
		j->status = 503;
		j->mdn = 0;
	}
out:
	/* Whatever was committed on the way to this answer (a refused
	 * message, a duplicate's MDN, an event) is durable before it. */
	if (j->wrote && rx_durable(rx, err, sizeof(err)) != 0) {
		log_error("AS2 answer not durable", "correlation_id", j->cid,
		    "error", err, NULL);
		j->mdn = 0;
		j->status = 503;
		snprintf(j->outcome, sizeof(j->outcome), "store-failed");
	}
	as2_unwrapped_free(&u);
	as2_stream_free(&su);
}

/* ---- asynchronous MDNs ---------------------------------------------- */

/*
 * An MDN posted to the sender's Receipt-Delivery-Option URL (RFC 4130
 * section 7.2), retried with doubling delays up to [as2]
 * async_mdn_attempts, from the loop thread. The outcome is an event on
 * the message ("as2.mdn-delivered" or "as2.mdn-undeliverable"), written
 * by a worker job so the loop never waits for the store.
 */
struct async_mdn {
	struct as2_receive *rx;
	struct async_mdn *prev, *next;
	char *url, *ctype;
	unsigned char *body;
	size_t len;
	char from[MIME_AS2_NAME_MAX + 1], to[MIME_AS2_NAME_MAX + 1];
	char cid[STORE_CORRELATION_MAX + 1];
	char mid[160];
	int64_t message_id;
	unsigned attempt;
	struct event *timer;
	struct http_client_call *call;
	char last_error[256];
};

struct async_event {
	struct as2_receive *rx;
	int64_t message_id;
	char cid[STORE_CORRELATION_MAX + 1];
	char kind[32];
	char *detail;
};

static void
async_event_work(void *arg)
{
	struct async_event *e = arg;
	struct store_error serr;
	char err[512];
	struct store *st = thread_store(e->rx, err, sizeof(err));

	if (st == NULL || store_event_append(st, e->message_id, e->cid,
	    e->kind, e->detail, NULL, &serr) != STORE_OK)
		log_warn("cannot record the asynchronous MDN outcome",
		    "correlation_id", e->cid, "kind", e->kind, NULL);
}

static void
async_event_done(void *arg, int cancelled)
{
	struct async_event *e = arg;
	(void)cancelled;
	free(e->detail);
	free(e);
}

static void
async_record(struct async_mdn *a, const char *kind)
{
	struct async_event *e = calloc(1, sizeof(*e));
	json_t *d;

	if (e == NULL || a->message_id == 0) {
		free(e);
		return;
	}
	e->rx = a->rx;
	e->message_id = a->message_id;
	snprintf(e->cid, sizeof(e->cid), "%s", a->cid);
	snprintf(e->kind, sizeof(e->kind), "%s", kind);
	d = json_pack("{s:s, s:i, s:s}", "url", a->url, "attempts",
	    (int)a->attempt, "error", a->last_error);
	e->detail = d ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(d);
	if (workers_submit(daemon_workers(a->rx->d), async_event_work,
	    async_event_done, e) != 0)
		async_event_done(e, 1);
}

static void
async_free(struct async_mdn *a)
{
	if (a->prev)
		a->prev->next = a->next;
	else
		a->rx->pending = a->next;
	if (a->next)
		a->next->prev = a->prev;
	if (a->timer)
		event_free(a->timer);
	free(a->url);
	free(a->ctype);
	free(a->body);
	free(a);
}

static void async_send(struct async_mdn *a);

static void
async_count(struct async_mdn *a, const char *outcome)
{
	const char *labels[3] = { a->from, outcome, NULL };
	if (a->rx->async)
		metrics_counter_add(a->rx->async, labels, 1);
}

/* After a failed attempt: wait and try again, or give up. */
static void
async_retry(struct async_mdn *a)
{
	struct timeval tv;
	uint64_t ms = a->rx->async_retry_ms;

	if (a->attempt >= a->rx->async_attempts) {
		log_error("asynchronous MDN undeliverable", "correlation_id",
		    a->cid, "url", a->url, "error", a->last_error, NULL);
		async_count(a, "undeliverable");
		async_record(a, "as2.mdn-undeliverable");
		async_free(a);
		return;
	}
	for (unsigned i = 1; i < a->attempt && ms < 3600000; i++)
		ms *= 2;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	log_warn("asynchronous MDN not delivered; retrying",
	    "correlation_id", a->cid, "url", a->url, "error", a->last_error,
	    NULL);
	evtimer_add(a->timer, &tv);
}

static void
async_done(const struct http_client_response *resp, void *ctx)
{
	struct async_mdn *a = ctx;

	a->call = NULL;
	if (resp->result == HTTP_CLIENT_CANCELLED) {
		async_free(a);
		return;
	}
	if (resp->result == HTTP_CLIENT_OK) {
		log_info("asynchronous MDN delivered", "correlation_id", a->cid,
		    "url", a->url, NULL);
		a->last_error[0] = '\0';
		async_count(a, "delivered");
		async_record(a, "as2.mdn-delivered");
		async_free(a);
		return;
	}
	snprintf(a->last_error, sizeof(a->last_error), "%s: %.200s",
	    http_client_result_name(resp->result), resp->message);
	async_retry(a);
}

static void
async_send(struct async_mdn *a)
{
	struct http_client_header h[6];
	struct http_client_request req;
	char our[MIME_AS2_NAME_MAX * 2 + 3], theirs[sizeof(our)];
	char err[256];
	mime_error merr;

	a->attempt++;
	if (mime_as2_name_format(a->to, our, sizeof(our), &merr) != MIME_OK ||
	    mime_as2_name_format(a->from, theirs, sizeof(theirs), &merr)
	    != MIME_OK) {
		snprintf(a->last_error, sizeof(a->last_error), "AS2 names");
		a->attempt = a->rx->async_attempts;
		async_retry(a);
		return;
	}
	h[0] = (struct http_client_header){ "AS2-Version", "1.2" };
	h[1] = (struct http_client_header){ "AS2-From", our };
	h[2] = (struct http_client_header){ "AS2-To", theirs };
	h[3] = (struct http_client_header){ "Message-ID", a->mid };
	h[4] = (struct http_client_header){ "Content-Type", a->ctype };
	h[5] = (struct http_client_header){ "MIME-Version", "1.0" };
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = a->url;
	req.headers = h;
	req.nheaders = 6;
	req.body = a->body;
	req.body_len = a->len;
	req.timeout_ms = a->rx->async_timeout_ms;
	a->call = http_client_send(a->rx->http, &req, async_done, a, err,
	    sizeof(err));
	if (a->call == NULL) {
		snprintf(a->last_error, sizeof(a->last_error), "%s", err);
		async_retry(a);
	}
}

static void
async_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	async_send(arg);
}

/* Takes the MDN out of the job and starts sending it. */
static void
async_start(struct as2_receive *rx, struct rx_job *j)
{
	struct async_mdn *a = calloc(1, sizeof(*a));
	unsigned char rnd[4];

	if (a == NULL || rx->http == NULL) {
		log_error("asynchronous MDN dropped", "correlation_id", j->cid,
		    "error", rx->http ? "out of memory" : "no HTTP client",
		    NULL);
		free(a);
		return;
	}
	a->rx = rx;
	a->url = strdup(j->async_url);
	a->ctype = j->resp_type;
	a->body = j->resp_body;
	a->len = j->resp_len;
	j->resp_type = NULL;
	j->resp_body = NULL;
	snprintf(a->from, sizeof(a->from), "%s", j->from);
	snprintf(a->to, sizeof(a->to), "%s", j->to);
	snprintf(a->cid, sizeof(a->cid), "%s", j->cid);
	RAND_bytes(rnd, sizeof(rnd));
	snprintf(a->mid, sizeof(a->mid), "<%s.%02x%02x%02x%02x@edigate>",
	    j->cid, rnd[0], rnd[1], rnd[2], rnd[3]);
	a->message_id = j->mdn_message_id;
	a->timer = evtimer_new(daemon_base(rx->d), async_timer, a);
	a->next = rx->pending;
	if (rx->pending)
		rx->pending->prev = a;
	rx->pending = a;
	if (a->url == NULL || a->timer == NULL) {
		log_error("asynchronous MDN dropped", "correlation_id", j->cid,
		    "error", "out of memory", NULL);
		async_free(a);
		return;
	}
	async_send(a);
}

static void
rx_done(void *arg, int cancelled)
{
	struct rx_job *j = arg;
	struct as2_receive *rx = j->rx;
	const char *labels[3];

	if (cancelled) {
		daemon_reply_error(j->req, 503, "shutting down");
		job_free(j);
		return;
	}
	labels[0] = j->from[0] ? j->from : "-";
	labels[1] = j->outcome;
	labels[2] = NULL;
	if (rx->received)
		metrics_counter_add(rx->received, labels, 1);
	if (j->submit_id) {
		const char *mv[4] = { "in", j->partner_id, j->message_type,
		    NULL };
		metrics_counter_add(daemon_std_metrics(rx->d)->messages, mv, 1);
	}
	log_info("AS2 message", "correlation_id", j->cid, "as2_from", j->from,
	    "as2_to", j->to, "message_id", j->message_id, "outcome",
	    j->outcome, "detail", j->reason, NULL);
	if (j->mdn) {
		char our[MIME_AS2_NAME_MAX * 2 + 3], theirs[sizeof(our)];
		char mid[128];
		unsigned char rnd[8];
		mime_error merr;

		if (mime_as2_name_format(j->to, our, sizeof(our), &merr)
		    == MIME_OK && mime_as2_name_format(j->from, theirs,
		    sizeof(theirs), &merr) == MIME_OK) {
			daemon_request_add_header(j->req, "AS2-From", our);
			daemon_request_add_header(j->req, "AS2-To", theirs);
		}
		RAND_bytes(rnd, sizeof(rnd));
		snprintf(mid, sizeof(mid), "<%s.%02x%02x%02x%02x@edigate>",
		    j->cid, rnd[0], rnd[1], rnd[2], rnd[3]);
		if (j->async_url[0]) {
			static const char note[] =
			    "received; the MDN follows asynchronously\n";
			daemon_reply(j->req, 200, "text/plain", note,
			    sizeof(note) - 1);
			async_start(rx, j);
		} else {
			daemon_request_add_header(j->req, "AS2-Version", "1.2");
			daemon_request_add_header(j->req, "Message-ID", mid);
			daemon_request_add_header(j->req, "MIME-Version",
			    "1.0");
			daemon_reply(j->req, 200, j->resp_type, j->resp_body,
			    j->resp_len);
		}
	} else if (j->status == 200) {
		daemon_reply(j->req, 200, "text/plain", "stored\n", 7);
	} else {
		daemon_reply_error(j->req, j->status ? j->status : 500,
		    j->reason[0] ? j->reason : "not processed");
	}
	if (j->submit_id && rx->in)
		if (inbound_submit(rx->in, j->submit_id, NULL, NULL)
		    != INBOUND_OK)
			log_warn("inbound pipeline busy; the message stays "
			    "received", "correlation_id", j->cid, NULL);
	job_free(j);
}

static void
rx_handle(struct daemon_request *r, void *ctx)
{
	struct as2_receive *rx = ctx;
	struct rx_job *j = calloc(1, sizeof(*j));

	if (j == NULL) {
		daemon_reply_error(r, 503, "out of memory");
		return;
	}
	j->rx = rx;
	j->req = r;
	j->body_fd = -1;
	j->state = state_ref(rx->state);
	snprintf(j->cid, sizeof(j->cid), "%s",
	    daemon_request_correlation_id(r));
	j->as2_from_raw = header_copy(r, "AS2-From");
	j->as2_to_raw = header_copy(r, "AS2-To");
	j->message_id = header_copy(r, "Message-ID");
	j->dnt = header_copy(r, "Disposition-Notification-To");
	j->dno = header_copy(r, "Disposition-Notification-Options");
	j->rdo = header_copy(r, "Receipt-Delivery-Option");
	j->content_type = header_copy(r, "Content-Type");
	j->cte = header_copy(r, "Content-Transfer-Encoding");
	j->disposition = header_copy(r, "Content-Disposition");
	j->as2_version = header_copy(r, "AS2-Version");
	/* A large body on a streaming listener is in a file already; the
	 * job takes the descriptor. */
	j->body_fd = daemon_request_body_file(r, &j->body_len);
	/* Else the body moves (no copy) into a buffer only this job
	 * touches. */
	j->body = evbuffer_new();
	if (j->body == NULL || evbuffer_add_buffer(j->body,
	    daemon_request_body(r)) != 0) {
		daemon_reply_error(r, 503, "out of memory");
		job_free(j);
		return;
	}
	if (workers_submit(daemon_workers(rx->d), rx_work, rx_done, j) != 0) {
		daemon_reply_error(r, 503, "busy; try again later");
		job_free(j);
	}
}

/* ---- reload ----------------------------------------------------------- */

static int
reload_prepare(void *ctx, const struct config *cfg, void **pending,
    char *err, size_t errsize)
{
	(void)ctx;
	*pending = state_load(cfg, err, errsize);
	return *pending ? 0 : -1;
}

static void
reload_commit(void *ctx, void *pending)
{
	struct as2_receive *rx = ctx;
	struct as2_state *old = rx->state;

	rx->state = pending;
	if (rx->in)
		inbound_set_partners(rx->in, rx->state->ps);
	state_unref(old);
}

static void
reload_abort(void *ctx, void *pending)
{
	(void)ctx;
	state_unref(pending);
}

struct as2_receive *
as2_receive_new(struct daemon *d, struct inbound *in, char *err,
    size_t errsize)
{
	static const struct daemon_reload_hook hook = {
		"partners", reload_prepare, reload_commit, reload_abort
	};
	static const char *const labels[] = { "partner", "outcome", NULL };
	const struct config *cfg = daemon_config(d);
	struct as2_receive *rx = calloc(1, sizeof(*rx));

	if (rx == NULL) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	rx->d = d;
	rx->in = in;
	rx->max_decompressed = cfg->as2_max_decompressed;
	rx->unwrap_in_memory = cfg->as2_unwrap_in_memory;
	rx->store_url = strdup(cfg->store_url);
	if (rx->store_url == NULL ||
	    pthread_key_create(&rx->store_key, close_store) != 0) {
		snprintf(err, errsize, "out of memory");
		free(rx->store_url);
		free(rx);
		return NULL;
	}
	rx->key_made = 1;
	/* The configured spool ([store] spool_dir; on PostgreSQL it defaults
	 * to <state_dir>/spool), so every module of every node reads the
	 * payloads this one writes. NULL: SQLite's, beside the database. */
	if (cfg->spool_dir != NULL &&
	    (rx->spool_dir = strdup(cfg->spool_dir)) == NULL) {
		snprintf(err, errsize, "out of memory");
		as2_receive_free(rx);
		return NULL;
	}
	rx->durable = group_sync_new(durable_sync, rx);
	if (rx->durable == NULL) {
		snprintf(err, errsize, "out of memory");
		as2_receive_free(rx);
		return NULL;
	}
	rx->state = state_load(cfg, err, errsize);
	if (rx->state == NULL) {
		as2_receive_free(rx);
		return NULL;
	}
	if (in)
		inbound_set_partners(in, rx->state->ps);
	rx->received = metrics_counter(daemon_metrics(d),
	    "edigate_as2_received_total",
	    "AS2 messages received, by partner AS2 name and outcome", labels);
	rx->async = metrics_counter(daemon_metrics(d),
	    "edigate_as2_async_mdn_total",
	    "Asynchronous MDNs, by partner AS2 name and outcome", labels);
	/* waits / syncs is the batch size of the group commit. */
	rx->syncs = metrics_counter(daemon_metrics(d),
	    "edigate_as2_durable_syncs_total",
	    "Durable syncs (store and spool) run for AS2 receive", NULL);
	rx->sync_waits = metrics_counter(daemon_metrics(d),
	    "edigate_as2_durable_sync_waits_total",
	    "AS2 receive steps that waited for a durable sync", NULL);
	rx->async_attempts = cfg->as2_async_mdn_attempts;
	rx->async_retry_ms = cfg->as2_async_mdn_retry_ms;
	rx->async_timeout_ms = cfg->as2_async_mdn_timeout_ms;
	{
		struct http_client_options ho = { NULL, "edigate" };
		char herr[256];
		rx->http = http_client_new(daemon_base(d), &ho, herr,
		    sizeof(herr));
		if (rx->http == NULL)
			log_warn("no HTTP client: asynchronous MDNs are "
			    "answered synchronously", "error", herr, NULL);
	}
	if (daemon_route_add(d, "POST", cfg->as2_path, rx_handle, rx) != 0 ||
	    daemon_reload_hook_add(d, &hook, rx) != 0) {
		snprintf(err, errsize, "cannot register the AS2 route %s",
		    cfg->as2_path);
		as2_receive_free(rx);
		return NULL;
	}
	return rx;
}

void
as2_receive_stop(struct as2_receive *rx)
{
	if (rx == NULL)
		return;
	while (rx->pending) {
		struct async_mdn *a = rx->pending;
		if (a->call) {
			http_client_cancel(a->call);
			a->call = NULL;
		}
		log_warn("asynchronous MDN abandoned at shutdown",
		    "correlation_id", a->cid, "url", a->url, NULL);
		async_free(a);
	}
	if (rx->http) {
		http_client_free(rx->http);
		rx->http = NULL;
	}
}

void
as2_receive_free(struct as2_receive *rx)
{
	if (rx == NULL)
		return;
	as2_receive_stop(rx);
	state_unref(rx->state);
	/* The worker threads have been joined by now, which ran the key's
	 * destructor on their connections. */
	if (rx->key_made)
		pthread_key_delete(rx->store_key);
	group_sync_free(rx->durable);
	free(rx->spool_dir);
	free(rx->store_url);
	free(rx);
}

int
as2_receive_check(const struct config *cfg, char *err, size_t errsize)
{
	struct as2_state *s = state_load(cfg, err, errsize);
	if (s == NULL)
		return -1;
	state_unref(s);
	return 0;
}
