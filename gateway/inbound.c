/*
 * inbound - the pipeline after a transport stored a payload. See
 * inbound.h.
 *
 * One pass over the payload feeds the reader's segments to two consumers
 * at once: the acknowledgment collector (envelope and guide checks, one
 * result per interchange) and the translator (one canonical document per
 * set). The documents are held until the end of the stream, because
 * whether a set was accepted is known only when its interchange closes.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ack.h"
#include "ack_track.h"
#include "edi_reader.h"
#include "edi_writer.h"
#include "inbound.h"
#include "log.h"
#include "map.h"
#include "partner.h"
#include "partner_set.h"
#include "store.h"
#include "workers.h"
#include "xlate.h"

#define INBOUND_MAX_HOOKS 8
#define INBOUND_READ_CHUNK 65536

struct ack_hook {
	char transport[16];
	inbound_ack_fn fn;
	void *ctx;
};

struct route_hook {
	inbound_route_fn fn;
	void *ctx;
};

struct inbound {
	struct workers *w;
	char *store_url, *spool_dir, *maps_dir;
	int64_t duplicate_window_us;
	char claim_owner[65];            /* this process, in the claims */
	int64_t claim_lease_us;
	struct partner_set *ps;          /* loop thread */
	struct route_hook routes[INBOUND_MAX_HOOKS];
	size_t nroutes;
	struct ack_hook acks[INBOUND_MAX_HOOKS];
	size_t nacks;
	pthread_key_t key;
};

/* What each thread keeps between jobs: its store connection and its map
 * cache, rebuilt when the partner set changed (overrides may differ). */
struct thread_ctx {
	struct store *st;
	map_loader *loader;
	xlate_maps *maps;
	const struct partner_set *maps_for;
};

static void
thread_ctx_free(void *arg)
{
	struct thread_ctx *t = arg;
	if (t == NULL)
		return;
	if (t->st)
		store_close(t->st);
	xlate_maps_free(t->maps);
	if (t->loader)
		map_loader_free(t->loader);
	free(t);
}

static struct thread_ctx *
thread_ctx_get(struct inbound *in)
{
	struct thread_ctx *t = pthread_getspecific(in->key);
	if (t == NULL) {
		t = calloc(1, sizeof(*t));
		if (t == NULL)
			return NULL;
		pthread_setspecific(in->key, t);
	}
	return t;
}

static xlate_maps *
thread_maps(struct inbound *in, struct thread_ctx *t,
    const struct partner_set *ps, char *err, size_t errsize)
{
	if (t->maps && t->maps_for == ps)
		return t->maps;
	xlate_maps_free(t->maps);
	t->maps = NULL;
	if (t->loader == NULL) {
		char xsd[4096], *lerr = NULL;
		snprintf(xsd, sizeof(xsd), "%s/map.xsd", in->maps_dir);
		t->loader = map_loader_new(xsd, &lerr);
		if (t->loader == NULL) {
			snprintf(err, errsize, "%s", lerr ? lerr :
			    "cannot load map.xsd");
			free(lerr);
			return NULL;
		}
		free(lerr);
	}
	t->maps = xlate_maps_new(in->maps_dir, t->loader);
	t->maps_for = ps;
	if (t->maps == NULL)
		snprintf(err, errsize, "out of memory");
	return t->maps;
}

const char *
inbound_status_name(enum inbound_status s)
{
	switch (s) {
	case INBOUND_OK: return "ok";
	case INBOUND_ALREADY: return "already";
	case INBOUND_EINVAL: return "invalid";
	case INBOUND_EPARTNER: return "unknown-partner";
	case INBOUND_ESTORE: return "store";
	case INBOUND_ENOMEM: return "nomem";
	case INBOUND_EBUSY: return "busy";
	}
	return "unknown";
}

void
inbound_default_owner(char *out, size_t size)
{
	char host[48] = "";

	if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	/* The pid and start time make a restarted process a new owner: the
	 * claims of the one that died are left to run out, not renewed. */
	snprintf(out, size, "%.40s:%ld:%lld", host, (long)getpid(),
	    (long long)time(NULL));
}

const char *
inbound_claim_owner(const struct inbound *in)
{
	return in->claim_owner;
}

void
inbound_set_claim_lease(struct inbound *in, int64_t lease_us)
{
	/* A reload sets it while workers claim messages. */
	if (lease_us > 0)
		__atomic_store_n(&in->claim_lease_us, lease_us,
		    __ATOMIC_RELAXED);
}

int64_t
inbound_claim_lease_us(const struct inbound *in)
{
	return __atomic_load_n(&in->claim_lease_us, __ATOMIC_RELAXED);
}

struct inbound *
inbound_new(struct workers *w, const struct inbound_options *opts,
    char *err, size_t errsize)
{
	struct inbound *in = calloc(1, sizeof(*in));

	if (in == NULL) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	in->w = w;
	in->duplicate_window_us = opts->duplicate_window_us ?
	    opts->duplicate_window_us : INBOUND_DUPLICATE_WINDOW_DEFAULT_US;
	in->claim_lease_us = opts->claim_lease_us > 0 ? opts->claim_lease_us :
	    INBOUND_CLAIM_LEASE_DEFAULT_US;
	if (opts->claim_owner && opts->claim_owner[0])
		snprintf(in->claim_owner, sizeof(in->claim_owner), "%s",
		    opts->claim_owner);
	else
		inbound_default_owner(in->claim_owner, sizeof(in->claim_owner));
	in->store_url = opts->store_url ? strdup(opts->store_url) : NULL;
	in->spool_dir = opts->spool_dir ? strdup(opts->spool_dir) : NULL;
	in->maps_dir = strdup(opts->maps_dir ? opts->maps_dir : "maps");
	if (in->maps_dir == NULL || pthread_key_create(&in->key,
	    thread_ctx_free) != 0) {
		snprintf(err, errsize, "out of memory");
		free(in->store_url);
		free(in->spool_dir);
		free(in->maps_dir);
		free(in);
		return NULL;
	}
	return in;
}

int
inbound_parse_window(const char *text, int64_t *out)
{
	static const struct { char unit; int64_t us; } units[] = {
		{ 's', 1000000LL }, { 'm', 60000000LL },
		{ 'h', 3600000000LL }, { 'd', 86400000000LL },
	};
	char *end;
	long long n;
	int64_t scale = 1000000LL;

	if (text == NULL)
		return -1;
	if (strcmp(text, "off") == 0) {
		*out = INBOUND_DUPLICATES_OFF;
		return 0;
	}
	if (strcmp(text, "forever") == 0) {
		*out = INBOUND_DUPLICATES_FOREVER;
		return 0;
	}
	if (!isdigit((unsigned char)text[0]))
		return -1;
	errno = 0;
	n = strtoll(text, &end, 10);
	if (errno != 0 || n <= 0)
		return -1;
	if (*end) {
		size_t i;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (end[0] == units[i].unit && end[1] == '\0')
				break;
		if (i == sizeof(units) / sizeof(units[0]))
			return -1;
		scale = units[i].us;
	}
	/* Beyond a hundred years it is forever anyway. */
	if (n > (long long)(36500LL * 86400000000LL / scale))
		return -1;
	*out = (int64_t)n * scale;
	return 0;
}

void
inbound_free(struct inbound *in)
{
	if (in == NULL)
		return;
	/* The calling thread's own context (inbound_process from a CLI). */
	thread_ctx_free(pthread_getspecific(in->key));
	pthread_setspecific(in->key, NULL);
	pthread_key_delete(in->key);
	partner_set_unref(in->ps);
	free(in->store_url);
	free(in->spool_dir);
	free(in->maps_dir);
	free(in);
}

void
inbound_set_partners(struct inbound *in, struct partner_set *ps)
{
	struct partner_set *old = in->ps;
	in->ps = partner_set_ref(ps);
	partner_set_unref(old);
}

int
inbound_route_register(struct inbound *in, inbound_route_fn fn, void *ctx)
{
	if (in->nroutes >= INBOUND_MAX_HOOKS)
		return -1;
	in->routes[in->nroutes].fn = fn;
	in->routes[in->nroutes].ctx = ctx;
	in->nroutes++;
	return 0;
}

int
inbound_ack_transport_register(struct inbound *in, const char *transport,
    inbound_ack_fn fn, void *ctx)
{
	size_t i;
	for (i = 0; i < in->nacks; i++)
		if (strcmp(in->acks[i].transport, transport) == 0)
			break;
	if (i == in->nacks) {
		if (in->nacks >= INBOUND_MAX_HOOKS || strlen(transport) >= 16)
			return -1;
		in->nacks++;
	}
	snprintf(in->acks[i].transport, sizeof(in->acks[i].transport), "%s",
	    transport);
	in->acks[i].fn = fn;
	in->acks[i].ctx = ctx;
	return 0;
}

/* ---- one run ---------------------------------------------------------- */

struct run {
	struct inbound *in;
	struct store *st;
	const partner *p;
	struct store_message m;
	struct inbound_result *res;
	xlate *x;
	ack_collector *col;
	ack_interchange_result *results;
	size_t nresults;
	json_t **docs;
	/* The interchange (index into results) each document came from:
	 * control numbers may repeat inside one file. */
	size_t *doc_result;
	size_t ndocs;
	int nomem;
	/* Interchanges (group -1) and groups refused as duplicates. */
	struct dup_mark {
		size_t result;
		long group;
	} *dups;
	size_t ndups;
	/* Stored in the transaction, handed to hooks after its commit. */
	struct pending_ack {
		int64_t id;
		char type[8];
		char transport[STORE_NAME_MAX + 1];
	} *acks;
	size_t nacks;
	struct pending_doc {
		int64_t id;
		size_t index;          /* into docs */
		char key[64];
		char type[STORE_NAME_MAX + 1];
	} *pdocs;
	size_t npdocs;
	/* The partner's own acks (TA1, 997, 999, CONTRL) close what we
	 * sent: seen while reading, reconciled from the kept payload. */
	int has_acks;
	int in_ack_set;        /* the open ST/UNH is a 997, 999 or CONTRL */
	char *payload;
	size_t payload_len;
	int payload_dropped;
};

static void
event(struct run *r, int64_t message_id, const char *kind, json_t *detail)
{
	struct store_error serr;
	char *text = detail ? json_dumps(detail, JSON_COMPACT |
	    JSON_SORT_KEYS) : NULL;

	if (store_event_append(r->st, message_id, r->m.correlation_id, kind,
	    text, NULL, &serr) != STORE_OK)
		log_warn("cannot record an inbound event", "correlation_id",
		    r->m.correlation_id, "kind", kind, "error", serr.message,
		    NULL);
	free(text);
	json_decref(detail);
}

static void
on_ack_result(void *ctx, const ack_interchange_result *res)
{
	struct run *r = ctx;
	ack_interchange_result *t = realloc(r->results,
	    (r->nresults + 1) * sizeof(*t));
	if (t == NULL || ack_result_copy(&t[r->nresults], res) != 0) {
		if (t)
			r->results = t;
		r->nomem = 1;
		return;
	}
	r->results = t;
	r->nresults++;
}

static void
on_document(void *ctx, const xlate_result *x)
{
	struct run *r = ctx;
	json_t **t;
	size_t *ri;

	if (x->error) {
		/* A partner's 997/999/CONTRL has no document map: it is read
		 * by reconcile_acks, not translated. */
		if (r->in_ack_set)
			return;
		event(r, r->m.id, "inbound.translate-failed", json_pack(
		    "{s:I, s:s}", "line", (json_int_t)x->line, "error",
		    x->error));
		return;
	}
	t = realloc(r->docs, (r->ndocs + 1) * sizeof(*t));
	if (t == NULL) {
		r->nomem = 1;
		return;
	}
	r->docs = t;
	ri = realloc(r->doc_result, (r->ndocs + 1) * sizeof(*ri));
	if (ri == NULL) {
		r->nomem = 1;
		return;
	}
	r->doc_result = ri;
	/* A document ends before its interchange's trailer, which is when
	 * the collector hands over the interchange's result. */
	r->doc_result[r->ndocs] = r->nresults;
	r->docs[r->ndocs++] = json_incref(x->doc);
}

/* Acks are small; a payload larger than this is not kept for them. */
#define INBOUND_ACK_PAYLOAD_MAX (16u << 20)

static void
keep_payload(struct run *r, const unsigned char *data, size_t len)
{
	char *n;

	if (r->payload_dropped)
		return;
	if (r->payload_len + len > INBOUND_ACK_PAYLOAD_MAX ||
	    (n = realloc(r->payload, r->payload_len + len)) == NULL) {
		free(r->payload);
		r->payload = NULL;
		r->payload_len = 0;
		r->payload_dropped = 1;
		return;
	}
	memcpy(n + r->payload_len, data, len);
	r->payload = n;
	r->payload_len += len;
}

/*
 * The partner's TA1/997/999/CONTRL close the expectations of what we sent
 * (ack_track.h): after the run's commit, since each ack is its own
 * transaction there. An ack that matches nothing is recorded as unmatched
 * by ack_track, never dropped.
 */
static void
reconcile_acks(struct run *r)
{
	struct ack_track_file_summary sum;
	struct store_error serr;

	if (!r->has_acks)
		return;
	if (r->payload == NULL) {
		event(r, r->m.id, "inbound.acks-failed", json_pack("{s:s}",
		    "error", "the payload is too large to read its acks"));
		return;
	}
	memset(&sum, 0, sizeof(sum));
	if (ack_track_reconcile_file(r->st, r->p->id, r->payload,
	    r->payload_len, r->m.id, 0, NULL, NULL, &sum, &serr) != STORE_OK) {
		event(r, r->m.id, "inbound.acks-failed", json_pack("{s:s}",
		    "error", serr.message));
		return;
	}
	event(r, r->m.id, "inbound.acks", json_pack("{s:i, s:i, s:i}",
	    "acks", sum.documents, "matched", sum.matched, "unmatched",
	    sum.unmatched));
}

static int
on_segment(void *ctx, const edi_segment *seg)
{
	struct run *r = ctx;
	const edi_slice *e = seg->elements;
	int is_st = e[0].len == 2 && !memcmp(e[0].ptr, "ST", 2);
	int is_unh = e[0].len == 3 && !memcmp(e[0].ptr, "UNH", 3);

	if (is_st || is_unh)
		r->in_ack_set = is_st ? seg->element_count > 1 &&
		    e[1].len == 3 && (!memcmp(e[1].ptr, "997", 3) ||
		    !memcmp(e[1].ptr, "999", 3)) : seg->element_count > 2 &&
		    e[2].len >= 6 && !memcmp(e[2].ptr, "CONTRL", 6);
	if (r->in_ack_set || (seg->element_count > 1 && e[0].len == 3 &&
	    !memcmp(e[0].ptr, "TA1", 3)))
		r->has_acks = 1;
	ack_collector_segment(r->col, seg);
	xlate_segment(r->x, seg);
	return 0;
}

static void
on_reader_error(void *ctx, const edi_error *e)
{
	struct run *r = ctx;
	ack_collector_reader_error(r->col, e);
}

struct membuf {
	char *p;
	size_t n;
};

static int
writer_sink(void *ctx, const char *data, size_t len)
{
	struct membuf *b = ctx;
	char *t = realloc(b->p, b->n + len + 1);
	if (t == NULL)
		return -1;
	memcpy(t + b->n, data, len);
	b->n += len;
	t[b->n] = '\0';
	b->p = t;
	return 0;
}

/* The interchange (index into results) document index came from, whose
 * control number its meta names; SIZE_MAX when none is. */
static size_t
doc_interchange(const struct run *r, size_t index, const char *icn)
{
	size_t ri = r->doc_result[index];

	if (ri < r->nresults && strcmp(r->results[ri].control_number, icn) == 0)
		return ri;
	for (size_t i = 0; i < r->nresults; i++)
		if (strcmp(r->results[i].control_number, icn) == 0)
			return i;
	return SIZE_MAX;
}

/* The set result for a document of interchange ri with the group and set
 * control numbers given (set numbers are unique only within a group). */
static const ack_set_result *
find_set(const struct run *r, size_t ri, const char *group, const char *set)
{
	const ack_interchange_result *ir;

	if (ri >= r->nresults)
		return NULL;
	ir = &r->results[ri];
	for (size_t g = 0; g < ir->group_count; g++) {
		if (*group && strcmp(ir->groups[g].control_number, group) != 0)
			continue;
		for (size_t s = 0; s < ir->groups[g].set_count; s++)
			if (strcmp(ir->groups[g].sets[s].control_number, set) == 0)
				return &ir->groups[g].sets[s];
	}
	for (size_t s = 0; s < ir->message_count; s++)
		if (strcmp(ir->messages[s].control_number, set) == 0)
			return &ir->messages[s];
	return NULL;
}

static int
interchange_rejected(const struct run *r, size_t ri)
{
	return ri < r->nresults && r->results[ri].status == ACK_STATUS_REJECTED;
}

static int
set_accepted(const ack_set_result *s)
{
	return s == NULL || s->status == ACK_STATUS_ACCEPTED ||
	    s->status == ACK_STATUS_ACCEPTED_WITH_ERRORS ||
	    s->status == ACK_STATUS_NONE;
}

/* Whether a set of the interchange and group named was refused as a
 * duplicate: then nothing of it is stored or routed. */
static int
in_duplicate(const struct run *r, size_t ri, const char *group)
{
	for (size_t i = 0; i < r->ndups; i++) {
		if (r->dups[i].result != ri)
			continue;
		if (r->dups[i].group < 0 || strcmp(r->results[ri].groups[
		    r->dups[i].group].control_number, group) == 0)
			return 1;
	}
	return 0;
}

static int
group_duplicate(const struct run *r, size_t result, size_t group)
{
	for (size_t i = 0; i < r->ndups; i++)
		if (r->dups[i].result == result && (r->dups[i].group < 0 ||
		    r->dups[i].group == (long)group))
			return 1;
	return 0;
}

/*
 * The message an earlier run of this message stored under a duplicate
 * key, from that run's event on the original (kind, with field = value
 * in its detail and the stored id in id_field). 0 when none says so.
 */
struct earlier {
	const char *kind, *field, *value, *id_field;
	int64_t id;
};

static int
earlier_cb(void *ud, const struct store_event *ev)
{
	struct earlier *e = ud;
	json_t *d;

	if (strcmp(ev->kind, e->kind) != 0 || ev->detail == NULL)
		return 0;
	d = json_loads(ev->detail, 0, NULL);
	if (d && json_string_value(json_object_get(d, e->field)) &&
	    strcmp(json_string_value(json_object_get(d, e->field)),
	    e->value) == 0)
		e->id = json_integer_value(json_object_get(d, e->id_field));
	json_decref(d);
	return 0;
}

static int64_t
earlier_stored(struct run *r, const char *kind, const char *field,
    const char *value, const char *id_field)
{
	struct earlier e = { kind, field, value, id_field, 0 };
	struct store_event_filter f;
	struct store_error serr;

	memset(&f, 0, sizeof(f));
	f.message_id = r->m.id;
	if (store_event_foreach(r->st, &f, earlier_cb, &e, &serr) != STORE_OK)
		return 0;
	return e.id;
}

/*
 * Stores a payload as a new message, once: key names what it is ("<source
 * id>/set/<n>", "<source id>/ack/<interchange>") and is recorded beside
 * it in the caller's transaction, so a run repeated after a crash stores
 * nothing twice. 0 stored, 1 stored by an earlier run, -1 failed.
 */
static int
put_message(struct run *r, struct store_message *m, const void *data,
    size_t len, const char *key, json_t *detail)
{
	struct spool_error perr;
	struct store_error serr;
	char *text = detail ? json_dumps(detail, JSON_COMPACT |
	    JSON_SORT_KEYS) : NULL;
	int rc = 0, dup = 0;
	int64_t first_id = 0, first_us = 0;

	if (store_duplicate_check(r->st, r->m.partner, "inbound", key,
	    store_now_us(), 0, r->m.id, &dup, &first_id, &first_us, &serr)
	    != STORE_OK) {
		snprintf(r->res->error, sizeof(r->res->error), "store: %.400s",
		    serr.message);
		rc = -1;
	} else if (dup) {
		rc = 1;
	} else if (spool_put(store_spool(r->st), data, len, m->payload_hash,
	    &perr) != SPOOL_OK) {
		snprintf(r->res->error, sizeof(r->res->error), "spool: %s",
		    perr.message);
		rc = -1;
	} else {
		m->size = (int64_t)len;
		if (store_message_put(r->st, m, text, &serr) != STORE_OK) {
			snprintf(r->res->error, sizeof(r->res->error),
			    "store: %.400s", serr.message);
			rc = -1;
		}
	}
	free(text);
	json_decref(detail);
	return rc;
}

static void
send_ack(struct run *r, size_t index)
{
	const ack_interchange_result *ir = &r->results[index];
	ack_plan plan = ack_choose(ir, r->p->ack, r->p->ta1);
	ack_envelope env;
	int64_t icn, gcn, scn;
	struct store_error serr;
	struct membuf out = { NULL, 0 };
	unsigned repeat = 0;
	char key[96];
	edi_writer *w;
	edi_write_status ws;
	struct store_message am;
	int rc;
	const char *transport;
	const char *type;
	unsigned nsets = (unsigned)(ir->group_count ? ir->group_count : 1);

	if (plan.kind == ACK_KIND_NONE && !plan.ta1)
		return;
	type = plan.kind != ACK_KIND_NONE ? ack_kind_name(plan.kind) : "TA1";
	ack_envelope_from_inbound(&env, ir);
	if (store_control_next(r->st, r->p->id, STORE_CONTROL_INTERCHANGE,
	    &icn, &serr) != STORE_OK ||
	    store_control_next(r->st, r->p->id, STORE_CONTROL_GROUP, &gcn,
	    &serr) != STORE_OK ||
	    store_control_take(r->st, r->p->id, STORE_CONTROL_SET, nsets, &scn,
	    &serr) != STORE_OK) {
		event(r, r->m.id, "inbound.ack-failed", json_pack("{s:s, s:s}",
		    "type", type, "error", serr.message));
		return;
	}
	env.interchange_control = (unsigned long)icn;
	env.group_control = (unsigned long)gcn;
	env.set_control = (unsigned long)scn;
	w = edi_writer_new(writer_sink, &out);
	if (w == NULL) {
		r->nomem = 1;
		return;
	}
	ws = ack_write(w, ir, plan, &env);
	if (ws == EDI_WRITE_OK)
		ws = edi_writer_flush(w);
	edi_writer_free(w);
	if (ws != EDI_WRITE_OK || out.p == NULL) {
		event(r, r->m.id, "inbound.ack-failed", json_pack("{s:s, s:s}",
		    "type", type, "error", "the acknowledgment could not be "
		    "written"));
		free(out.p);
		return;
	}
	transport = r->p->as2 && r->p->as2->ack_transport[0] ?
	    r->p->as2->ack_transport : r->m.transport;
	memset(&am, 0, sizeof(am));
	am.direction = STORE_OUT;
	snprintf(am.partner, sizeof(am.partner), "%s", r->p->id);
	snprintf(am.transport, sizeof(am.transport), "%s", transport);
	snprintf(am.message_type, sizeof(am.message_type), "%s", type);
	snprintf(am.state, sizeof(am.state), "queued");
	snprintf(am.correlation_id, sizeof(am.correlation_id), "%s",
	    r->m.correlation_id);
	snprintf(am.interchange_control, sizeof(am.interchange_control),
	    "%09lld", (long long)icn);
	snprintf(am.group_control, sizeof(am.group_control), "%lld",
	    (long long)gcn);
	/* An interchange number used again inside the file (answered as a
	 * duplicate) gets an ack of its own: its key says which use. */
	for (size_t j = 0; j < index; j++)
		repeat += strcmp(r->results[j].control_number,
		    ir->control_number) == 0;
	if (repeat)
		snprintf(key, sizeof(key), "%lld/ack/%s/%u", (long long)r->m.id,
		    ir->control_number, repeat);
	else
		snprintf(key, sizeof(key), "%lld/ack/%s", (long long)r->m.id,
		    ir->control_number);
	rc = put_message(r, &am, out.p, out.n, key, json_pack("{s:I, s:s}",
	    "acknowledges", (json_int_t)r->m.id, "interchange",
	    ir->control_number));
	free(out.p);
	if (rc < 0)
		return;
	/* 1: an earlier run stored this ack and may have died before
	 * handing it over. The ack that goes out is that stored one (its
	 * control numbers, not the ones just drawn); the senders take a
	 * message once (as2_send_queue_message is keyed by message id). */
	if (rc == 1 && (am.id = repeat ? earlier_stored(r, "inbound.ack",
	    "key", key, "ack_message_id") : earlier_stored(r, "inbound.ack",
	    "interchange", ir->control_number, "ack_message_id")) == 0)
		return;
	r->res->ack_message_id = am.id;
	snprintf(r->res->ack_type, sizeof(r->res->ack_type), "%s", type);
	if (rc == 0)
		event(r, r->m.id, "inbound.ack", json_pack(
		    "{s:I, s:s, s:s, s:s, s:s, s:s}", "ack_message_id",
		    (json_int_t)am.id, "type", type, "transport", transport,
		    "status", ack_status_name(ir->status), "interchange",
		    ir->control_number, "key", key));
	{
		struct pending_ack *t = realloc(r->acks,
		    (r->nacks + 1) * sizeof(*t));
		if (t == NULL) {
			r->nomem = 1;
			return;
		}
		r->acks = t;
		t[r->nacks].id = am.id;
		snprintf(t[r->nacks].type, sizeof(t[r->nacks].type), "%s", type);
		snprintf(t[r->nacks].transport, sizeof(t[r->nacks].transport),
		    "%s", transport);
		r->nacks++;
	}
}

/* After the commit: the ack goes to the sender of its transport. */
static void
hand_ack(struct run *r, const struct pending_ack *pa)
{
	for (size_t i = 0; i < r->in->nacks; i++) {
		struct inbound_ack a;
		char err[256] = "";
		if (strcmp(r->in->acks[i].transport, pa->transport) != 0)
			continue;
		a.message_id = pa->id;
		a.source_message_id = r->m.id;
		a.partner = r->p;
		a.ack_type = pa->type;
		a.transport = pa->transport;
		a.correlation_id = r->m.correlation_id;
		if (r->in->acks[i].fn(r->in->acks[i].ctx, r->st, &a, err,
		    sizeof(err)) == 0)
			event(r, pa->id, "inbound.ack-sent", json_pack("{s:s}",
			    "transport", pa->transport));
		else
			event(r, pa->id, "inbound.ack-failed", json_pack(
			    "{s:s, s:s}", "transport", pa->transport, "error",
			    err));
		return;
	}
	/* Nobody sends acks over this transport (yet): the ack waits in the
	 * store, state queued, for a resend. */
	event(r, pa->id, "inbound.ack-held", json_pack("{s:s, s:s}",
	    "transport", pa->transport, "reason", "no sender registered for "
	    "this transport"));
}

/* The document's meta names the partner profile, the correlation id of
 * the message it came in (what the ERP sees in X-Correlation-Id and in
 * every event) and when that arrived. The translator shares one meta
 * among the documents of an interchange, so each gets its own copy. */
static void
own_meta(struct run *r, json_t *doc)
{
	json_t *meta = json_copy(json_object_get(doc, "meta"));
	time_t t = (time_t)(r->m.created_us / 1000000);
	struct tm tm;
	char at[32];

	if (meta == NULL)
		return;
	json_object_set_new(meta, "partner", json_string(r->p->id));
	json_object_set_new(meta, "correlation_id",
	    json_string(r->m.correlation_id));
	if (gmtime_r(&t, &tm) && strftime(at, sizeof(at),
	    "%Y-%m-%dT%H:%M:%SZ", &tm))
		json_object_set_new(meta, "received_at", json_string(at));
	json_object_set_new(doc, "meta", meta);
}

static void
store_document(struct run *r, json_t *doc, size_t index)
{
	own_meta(r, doc);
	json_t *meta = json_object_get(doc, "meta");
	const char *type = json_string_value(json_object_get(doc, "type"));
	const char *message = json_string_value(json_object_get(meta,
	    "message"));
	const char *standard = json_string_value(json_object_get(meta,
	    "standard"));
	const char *icn = json_string_value(json_object_get(meta,
	    "interchange"));
	const char *gcn = json_string_value(json_object_get(meta, "group"));
	const char *scn = json_string_value(json_object_get(meta, "set"));
	const ack_set_result *sr;
	size_t ri;
	int accepted;
	struct store_message dm;
	char key[64], dupkey[64];
	char *text;
	int rc;

	/* A repeated interchange or group was answered as such; what it
	 * holds is the first message's business, not stored twice. */
	ri = doc_interchange(r, index, icn ? icn : "");
	if (in_duplicate(r, ri, gcn ? gcn : ""))
		return;
	sr = find_set(r, ri, gcn ? gcn : "", scn ? scn : "");
	/* A set of an interchange rejected at its envelope (TA1 R, UCI 4)
	 * was not accepted, whatever its own check said. */
	accepted = set_accepted(sr) && !interchange_rejected(r, ri);

	memset(&dm, 0, sizeof(dm));
	dm.direction = STORE_IN;
	snprintf(dm.partner, sizeof(dm.partner), "%s", r->p->id);
	snprintf(dm.transport, sizeof(dm.transport), "%s", r->m.transport);
	snprintf(dm.message_type, sizeof(dm.message_type), "%s",
	    type ? type : "unknown");
	snprintf(dm.state, sizeof(dm.state), "%s", accepted ? "stored" :
	    "rejected");
	snprintf(dm.correlation_id, sizeof(dm.correlation_id), "%s",
	    r->m.correlation_id);
	snprintf(dm.interchange_control, sizeof(dm.interchange_control), "%s",
	    icn ? icn : "");
	snprintf(dm.group_control, sizeof(dm.group_control), "%s",
	    gcn ? gcn : "");
	snprintf(dm.set_control, sizeof(dm.set_control), "%s", scn ? scn : "");
	snprintf(key, sizeof(key), "%lld/%zu", (long long)r->m.id, index + 1);
	text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (text == NULL) {
		r->nomem = 1;
		return;
	}
	snprintf(dupkey, sizeof(dupkey), "%lld/set/%zu", (long long)r->m.id,
	    index + 1);
	rc = put_message(r, &dm, text, strlen(text), dupkey, json_pack(
	    "{s:I, s:s, s:s, s:s}", "source_message_id", (json_int_t)r->m.id,
	    "idempotency_key", key, "message", message ? message : "",
	    "standard", standard ? standard : ""));
	free(text);
	if (rc < 0)
		return;
	/* 1: an earlier run stored it and may have died before routing it;
	 * it goes to the route hooks again, which take an idempotency key
	 * once (route.h), so what was routed is not routed twice. */
	if (rc == 1 && (dm.id = earlier_stored(r, "inbound.document",
	    "idempotency_key", key, "document_message_id")) == 0)
		return;
	if (rc == 0) {
		r->res->documents++;
		event(r, r->m.id, "inbound.document", json_pack(
		    "{s:I, s:s, s:s, s:s, s:b}", "document_message_id",
		    (json_int_t)dm.id, "type", dm.message_type, "set",
		    dm.set_control, "idempotency_key", key, "accepted",
		    accepted));
	}
	if (!accepted)
		return;
	{
		struct pending_doc *t = realloc(r->pdocs,
		    (r->npdocs + 1) * sizeof(*t));
		if (t == NULL) {
			r->nomem = 1;
			return;
		}
		r->pdocs = t;
		t[r->npdocs].id = dm.id;
		t[r->npdocs].index = index;
		snprintf(t[r->npdocs].key, sizeof(t[r->npdocs].key), "%s", key);
		snprintf(t[r->npdocs].type, sizeof(t[r->npdocs].type), "%s",
		    dm.message_type);
		r->npdocs++;
	}
}

/* After the commit: every route hook gets the document. */
static void
hand_document(struct run *r, const struct pending_doc *pd)
{
	json_t *doc = r->docs[pd->index];
	json_t *meta = json_object_get(doc, "meta");
	const char *message = json_string_value(json_object_get(meta,
	    "message"));
	const char *standard = json_string_value(json_object_get(meta,
	    "standard"));
	int all = 1;

	for (size_t i = 0; i < r->in->nroutes; i++) {
		struct inbound_document d = {
			.message_id = pd->id, .source_message_id = r->m.id,
			.partner = r->p->id, .document_type = pd->type,
			.message_type = message ? message : "",
			.standard = standard ? standard : "",
			.correlation_id = r->m.correlation_id,
			.idempotency_key = pd->key, .doc = doc
		};
		char err[256] = "";
		if (r->in->routes[i].fn(r->in->routes[i].ctx, r->st, &d, err,
		    sizeof(err)) == 0)
			event(r, pd->id, "inbound.routed", NULL);
		else {
			all = 0;
			event(r, pd->id, "inbound.route-failed", json_pack(
			    "{s:s}", "error", err));
		}
	}
	if (all && r->in->nroutes)
		r->res->routed++;
}

/* Whether the message that first used a number carried the same bytes:
 * a file sent again under another name or AS2 Message-ID. */
static int
same_content(struct run *r, int64_t first_id)
{
	struct store_message fm;
	struct store_error serr;
	return first_id && store_message_get(r->st, first_id, &fm, &serr) ==
	    STORE_OK && strcmp(fm.payload_hash, r->m.payload_hash) == 0;
}

/* Whether an interchange's control numbers take part in the duplicate
 * check: acknowledgments and envelope rejections do not (ack_track.h). */
static int
dup_counted(const ack_interchange_result *ir)
{
	return !ir->only_ta1 && !ir->only_acks &&
	    ir->status != ACK_STATUS_REJECTED;
}

static int
dup_group_counted(const ack_group_result *g)
{
	return g->status != ACK_STATUS_REJECTED &&
	    strcmp(g->functional_id, "FA") != 0;
}

static void
dup_add(struct run *r, struct ack_track_duplicates *d, const char *level,
    const char *kind, const char *control, const char *ack_code, long group)
{
	struct ack_track_duplicate *x;

	if (d->count == ACK_TRACK_MAX_DUPLICATES) {
		d->dropped++;
		return;
	}
	x = &d->list[d->count++];
	memset(x, 0, sizeof(*x));
	snprintf(x->level, sizeof(x->level), "%s", level);
	snprintf(x->kind, sizeof(x->kind), "%s", kind);
	snprintf(x->control, sizeof(x->control), "%s", control);
	snprintf(x->ack_code, sizeof(x->ack_code), "%s", ack_code);
	x->first_message_id = r->m.id;
	x->first_seen_us = r->m.created_us;
	x->group_index = group;
}

/*
 * Numbers repeated inside this one file. The store keeps a file as one
 * message and a sighting by the message itself means the file is being
 * processed again after a crash, so the store cannot see these: results[i]
 * is held against the interchanges before it in the file (and its groups
 * also against its own earlier groups). Same answers as for a repeat from
 * an earlier file; a rerun finds the same ones, as the order is the
 * file's.
 */
static void
file_repeats(struct run *r, size_t i, struct ack_track_duplicates *d)
{
	const ack_interchange_result *ir = &r->results[i];
	int x12 = ir->standard == EDI_STANDARD_X12;

	if (!dup_counted(ir))
		return;
	for (size_t k = 0; k < d->count; k++)
		if (d->list[k].group_index < 0)
			return; /* the whole interchange is refused already */
	for (size_t j = 0; j < i && ir->control_number[0]; j++) {
		const ack_interchange_result *e = &r->results[j];
		if (!dup_counted(e) || e->standard != ir->standard ||
		    strcmp(e->control_number, ir->control_number) != 0)
			continue;
		/* Its groups are not looked at, as for any repeated
		 * interchange: the whole of it is refused. */
		d->count = 0;
		dup_add(r, d, "interchange", x12 ? "isa13" : "unb0020",
		    ir->control_number, x12 ? "025" : "26", -1);
		return;
	}
	for (size_t g = 0; g < ir->group_count; g++) {
		const ack_group_result *gr = &ir->groups[g];
		int found = 0;

		if (!dup_group_counted(gr) || !gr->control_number[0])
			continue;
		for (size_t k = 0; k < d->count; k++)
			if (d->list[k].group_index == (long)g)
				found = 1;
		for (size_t j = 0; j <= i && !found; j++) {
			const ack_interchange_result *e = &r->results[j];
			size_t end = j == i ? g : e->group_count;
			if (!dup_counted(e) || e->standard != ir->standard)
				continue;
			for (size_t h = 0; h < end && !found; h++)
				found = dup_group_counted(&e->groups[h]) &&
				    strcmp(e->groups[h].control_number,
				    gr->control_number) == 0;
			if (found)
				dup_add(r, d, "group", x12 ? "gs06" :
				    "ung0048", gr->control_number,
				    x12 ? "" : "26", (long)g);
		}
	}
}

/*
 * Looks up the control numbers of results[i] (in the run's transaction,
 * so the sightings commit with the answer) and marks what repeats: the
 * result then carries the rejection the ack writes. -1 on a store error.
 */
static int
check_duplicates(struct run *r, size_t i)
{
	ack_interchange_result *ir = &r->results[i];
	struct ack_track_duplicates d;
	struct store_error serr;
	int64_t window = r->in->duplicate_window_us;

	/* The partner profile may agree another time frame (partner.xsd
	 * checked its form). */
	if (r->p->duplicate_window[0] &&
	    inbound_parse_window(r->p->duplicate_window, &window) != 0)
		window = r->in->duplicate_window_us;
	if (window == INBOUND_DUPLICATES_OFF)
		return 0;
	if (ack_track_check_interchange(r->st, r->m.partner, ir, r->m.id, 0,
	    window == INBOUND_DUPLICATES_FOREVER ? 0 : window, &d, &serr)
	    != STORE_OK) {
		snprintf(r->res->error, sizeof(r->res->error), "store: %.400s",
		    serr.message);
		return -1;
	}
	file_repeats(r, i, &d);
	for (size_t k = 0; k < d.count; k++) {
		const struct ack_track_duplicate *x = &d.list[k];
		struct dup_mark *t = realloc(r->dups, (r->ndups + 1) *
		    sizeof(*t));
		time_t secs = (time_t)(x->first_seen_us / 1000000);
		struct tm tm;
		char at[32] = "";

		if (t == NULL) {
			r->nomem = 1;
			return -1;
		}
		r->dups = t;
		t[r->ndups].result = i;
		t[r->ndups].group = x->group_index;
		r->ndups++;
		if (x->group_index < 0) {
			ack_result_mark_duplicate(ir);
		} else {
			ack_plan plan = ack_choose(ir, r->p->ack, r->p->ta1);
			ack_group_mark_duplicate(ir, (size_t)x->group_index,
			    plan.kind);
		}
		r->res->duplicates++;
		if (gmtime_r(&secs, &tm))
			strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
		event(r, r->m.id, "inbound.duplicate", json_pack(
		    "{s:s, s:s, s:s, s:I, s:s, s:o, s:b, s:s}", "level",
		    x->level, "kind", x->kind, "control", x->control,
		    "first_message_id", (json_int_t)x->first_message_id,
		    "first_seen", at, "window_seconds",
		    window == INBOUND_DUPLICATES_FOREVER ? json_null() :
		    json_integer((json_int_t)(window / 1000000)),
		    "same_content", same_content(r, x->first_message_id),
		    "answer", x->group_index < 0 ? ir->note_code :
		    (ir->groups[x->group_index].code_count ?
		    ir->groups[x->group_index].codes[0] : "")));
	}
	return 0;
}

static void
set_final(struct run *r, const char *state, json_t *detail)
{
	struct store_error serr;
	char *text = detail ? json_dumps(detail, JSON_COMPACT |
	    JSON_SORT_KEYS) : NULL;
	if (store_message_set_state(r->st, r->m.id, "processing", state, text,
	    &serr) != STORE_OK)
		log_warn("cannot record the end of inbound processing",
		    "correlation_id", r->m.correlation_id, "error",
		    serr.message, NULL);
	snprintf(r->res->final_state, sizeof(r->res->final_state), "%s",
	    state);
	free(text);
	json_decref(detail);
}

static enum inbound_status
process(struct inbound *in, struct store *st, struct partner_set *ps,
    int64_t id, struct inbound_result *res)
{
	struct run r;
	struct store_error serr;
	struct spool_error perr;
	struct spool_reader *sr = NULL;
	struct thread_ctx *t;
	xlate_maps *maps;
	edi_reader *reader = NULL;
	edi_reader_callbacks cb = { .segment = on_segment,
	    .error = on_reader_error };
	ack_collector_options co;
	char received[32], err[512];
	unsigned char *chunk = NULL;
	time_t secs;
	struct tm tm;
	int rc;

	memset(res, 0, sizeof(*res));
	memset(&r, 0, sizeof(r));
	r.in = in;
	r.st = st;
	r.res = res;
	if ((rc = store_message_get(st, id, &r.m, &serr)) != STORE_OK) {
		snprintf(res->error, sizeof(res->error), "%s", serr.message);
		return res->status = rc == STORE_ENOTFOUND ? INBOUND_EINVAL :
		    INBOUND_ESTORE;
	}
	if (r.m.direction != STORE_IN) {
		snprintf(res->error, sizeof(res->error), "message %lld is "
		    "outbound", (long long)id);
		return res->status = INBOUND_EINVAL;
	}
	rc = store_message_claim(st, id, in->claim_owner,
	    inbound_claim_lease_us(in),
	    &serr);
	if (rc == STORE_ECONFLICT) {
		snprintf(res->error, sizeof(res->error), "message %lld is %s, "
		    "not received", (long long)id, r.m.state);
		return res->status = INBOUND_ALREADY;
	}
	if (rc != STORE_OK) {
		snprintf(res->error, sizeof(res->error), "%s", serr.message);
		return res->status = INBOUND_ESTORE;
	}
	/* Fault injection for the crash tests: a run that stops here holds
	 * its claim, so the test can kill the node mid-processing. */
	{
		const char *stall = getenv("EDIGATE_TEST_INBOUND_STALL");
		if (stall && atoi(stall) > 0)
			sleep((unsigned)atoi(stall));
	}
	r.p = partner_set_find(ps, r.m.partner);
	if (r.p == NULL) {
		snprintf(res->error, sizeof(res->error), "partner %s has no "
		    "profile", r.m.partner);
		set_final(&r, "failed", json_pack("{s:s}", "error",
		    res->error));
		return res->status = INBOUND_EPARTNER;
	}
	event(&r, id, "inbound.started", NULL);
	t = thread_ctx_get(in);
	maps = t ? thread_maps(in, t, ps, err, sizeof(err)) : NULL;
	if (maps == NULL) {
		snprintf(res->error, sizeof(res->error), "maps: %.400s",
		    t ? err : "out of memory");
		set_final(&r, "failed", json_pack("{s:s}", "error",
		    res->error));
		return res->status = INBOUND_ENOMEM;
	}
	xlate_maps_use_partner(maps, r.p);
	secs = (time_t)(r.m.created_us / 1000000);
	strftime(received, sizeof(received), "%Y-%m-%dT%H:%M:%SZ",
	    gmtime_r(&secs, &tm));
	memset(&co, 0, sizeof(co));
	co.maps = maps;
	r.col = ack_collector_new(&co, on_ack_result, &r);
	r.x = xlate_new(maps, r.p->id, received, on_document, &r);
	reader = edi_reader_new(&cb, &r, NULL);
	chunk = malloc(INBOUND_READ_CHUNK);
	if (r.col == NULL || r.x == NULL || reader == NULL || chunk == NULL) {
		snprintf(res->error, sizeof(res->error), "out of memory");
		res->status = INBOUND_ENOMEM;
		goto failed;
	}
	if (store_spool(st) == NULL || spool_reader_open(store_spool(st),
	    r.m.payload_hash, &sr, &perr) != SPOOL_OK) {
		snprintf(res->error, sizeof(res->error), "spool: %s",
		    store_spool(st) ? perr.message : "no spool");
		res->status = INBOUND_ESTORE;
		goto failed;
	}
	for (;;) {
		size_t got;
		if (spool_reader_read(sr, chunk, INBOUND_READ_CHUNK, &got,
		    &perr) != SPOOL_OK) {
			snprintf(res->error, sizeof(res->error), "spool: %s",
			    perr.message);
			res->status = INBOUND_ESTORE;
			goto failed;
		}
		if (got == 0)
			break;
		keep_payload(&r, chunk, got);
		edi_reader_feed(reader, chunk, got);
	}
	edi_reader_finish(reader);
	ack_collector_finish(r.col);
	if (r.nomem) {
		snprintf(res->error, sizeof(res->error), "out of memory");
		res->status = INBOUND_ENOMEM;
		goto failed;
	}
	/* Everything the run stores is one transaction: one commit (one
	 * fsync) instead of one per event, and a crash leaves all or
	 * nothing of it. */
	if (store_tx_begin(st, &serr) != STORE_OK) {
		snprintf(res->error, sizeof(res->error), "store: %.400s",
		    serr.message);
		res->status = INBOUND_ESTORE;
		goto failed;
	}
	for (size_t i = 0; i < r.nresults; i++) {
		const ack_interchange_result *ir = &r.results[i];
		unsigned sets = 0, accepted = 0, duplicate = 0;
		if (check_duplicates(&r, i) != 0) {
			store_tx_rollback(st);
			if (r.nomem)
				snprintf(res->error, sizeof(res->error),
				    "out of memory");
			res->status = r.nomem ? INBOUND_ENOMEM : INBOUND_ESTORE;
			goto failed;
		}
		for (size_t g = 0; g < ir->group_count; g++)
			for (size_t s = 0; s < ir->groups[g].set_count; s++) {
				sets++;
				if (group_duplicate(&r, i, g))
					duplicate++;
				else
					accepted += set_accepted(
					    &ir->groups[g].sets[s]);
			}
		for (size_t s = 0; s < ir->message_count; s++) {
			sets++;
			if (group_duplicate(&r, i, SIZE_MAX))
				duplicate++;
			else
				accepted += set_accepted(&ir->messages[s]);
		}
		res->interchanges++;
		res->sets += sets;
		res->sets_duplicate += duplicate;
		res->sets_accepted += ir->status == ACK_STATUS_REJECTED ? 0 :
		    accepted;
		event(&r, id, "inbound.envelope", json_pack(
		    "{s:s, s:s, s:s, s:i, s:i, s:s}", "interchange",
		    ir->control_number, "standard", ir->standard == EDI_STANDARD_X12 ?
		    "x12" : "edifact", "status", ack_status_name(ir->status),
		    "sets", sets, "accepted", accepted, "note",
		    ir->note_code));
		send_ack(&r, i);
	}
	for (size_t i = 0; i < r.ndocs; i++)
		store_document(&r, r.docs[i], i);
	if (r.nomem || store_tx_commit(st, &serr) != STORE_OK) {
		store_tx_rollback(st);
		snprintf(res->error, sizeof(res->error), "%s", r.nomem ?
		    "out of memory" : serr.message);
		res->status = r.nomem ? INBOUND_ENOMEM : INBOUND_ESTORE;
		goto failed;
	}
	reconcile_acks(&r);
	for (size_t i = 0; i < r.nacks; i++)
		hand_ack(&r, &r.acks[i]);
	for (size_t i = 0; i < r.npdocs; i++)
		hand_document(&r, &r.pdocs[i]);
	/* The end state and its summary in one commit. */
	if (store_tx_begin(st, &serr) != STORE_OK)
		log_warn("inbound: no transaction for the end state",
		    "error", serr.message, NULL);
	if (res->interchanges == 0)
		set_final(&r, "failed", json_pack("{s:s}", "error",
		    "no X12 or EDIFACT interchange in the payload"));
	else if (res->sets_accepted == 0 && res->duplicates > 0 &&
	    res->sets_duplicate == res->sets)
		set_final(&r, "duplicate", json_pack("{s:i}", "duplicates",
		    res->duplicates));
	else if (res->sets_accepted == 0)
		set_final(&r, "rejected", NULL);
	else if (res->sets_accepted < res->sets)
		set_final(&r, "partially-accepted", NULL);
	else
		set_final(&r, "processed", NULL);
	event(&r, id, "inbound.done", json_pack(
	    "{s:s, s:i, s:i, s:i, s:i, s:i}", "state", res->final_state,
	    "sets", res->sets, "accepted", res->sets_accepted, "duplicates",
	    res->duplicates, "documents", res->documents, "routed",
	    res->routed));
	if (store_tx_commit(st, &serr) != STORE_OK) {
		store_tx_rollback(st);
		log_warn("inbound: end state not recorded", "error",
		    serr.message, NULL);
	}
	res->status = INBOUND_OK;
	goto out;
failed:
	set_final(&r, "failed", json_pack("{s:s}", "error", res->error));
out:
	if (sr)
		spool_reader_close(sr);
	free(chunk);
	edi_reader_free(reader);
	xlate_free(r.x);
	ack_collector_free(r.col);
	for (size_t i = 0; i < r.nresults; i++)
		ack_result_clear(&r.results[i]);
	free(r.results);
	for (size_t i = 0; i < r.ndocs; i++)
		json_decref(r.docs[i]);
	free(r.docs);
	free(r.doc_result);
	free(r.acks);
	free(r.pdocs);
	free(r.payload);
	free(r.dups);
	return res->status;
}

enum inbound_status
inbound_process(struct inbound *in, struct store *st, int64_t message_id,
    struct inbound_result *res)
{
	return process(in, st, in->ps, message_id, res);
}

/* ---- jobs ------------------------------------------------------------- */

struct job {
	struct inbound *in;
	struct partner_set *ps;
	int64_t id;
	inbound_done_fn done;
	void *ctx;
	struct inbound_result res;
};

static void
job_work(void *arg)
{
	struct job *j = arg;
	struct thread_ctx *t = thread_ctx_get(j->in);
	struct store_error serr;

	if (t == NULL) {
		j->res.status = INBOUND_ENOMEM;
		return;
	}
	struct store_options so = { .spool_dir = j->in->spool_dir };
	if (t->st == NULL && store_open(&t->st, j->in->store_url, &so, &serr)
	    != STORE_OK) {
		t->st = NULL;
		snprintf(j->res.error, sizeof(j->res.error), "%s",
		    serr.message);
		j->res.status = INBOUND_ESTORE;
		return;
	}
	process(j->in, t->st, j->ps, j->id, &j->res);
}

static void
job_done(void *arg, int cancelled)
{
	struct job *j = arg;
	char id[24];

	snprintf(id, sizeof(id), "%lld", (long long)j->id);
	if (cancelled)
		j->res.status = INBOUND_EBUSY;
	if (j->res.status == INBOUND_OK)
		log_info("inbound message processed", "message_id", id,
		    "state", j->res.final_state, "ack", j->res.ack_type[0] ?
		    j->res.ack_type : NULL, NULL);
	else if (j->res.status != INBOUND_ALREADY)
		log_warn("inbound message not processed", "message_id", id,
		    "status", inbound_status_name(j->res.status), "error",
		    j->res.error, NULL);
	if (j->done)
		j->done(j->ctx, j->id, j->res.status);
	partner_set_unref(j->ps);
	free(j);
}

enum inbound_status
inbound_submit(struct inbound *in, int64_t message_id, inbound_done_fn done,
    void *ctx)
{
	struct job *j;

	if (in->w == NULL)
		return INBOUND_EINVAL;
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return INBOUND_ENOMEM;
	j->in = in;
	j->ps = partner_set_ref(in->ps);
	j->id = message_id;
	j->done = done;
	j->ctx = ctx;
	if (workers_submit(in->w, job_work, job_done, j) != 0) {
		partner_set_unref(j->ps);
		free(j);
		return INBOUND_EBUSY;
	}
	return INBOUND_OK;
}
