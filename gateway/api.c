/*
 * api - the REST API. See api.h, docs/api.md and deploy/openapi.yaml.
 *
 * Every request goes through the same gate in this order: route known
 * (404/405), token (401), scope (403), rate limit (429), body size (413);
 * then the handler. Errors are {"error": ..., "correlation_id": ...}
 * plus "path" for a document that fails its schema or a data quality rule.
 */
#define _GNU_SOURCE /* strptime, timegm */
#include "config.h"

#include <sys/queue.h>

#include <ctype.h>
#include <pthread.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "api.h"
#include "configfile.h"
#include "daemon.h"
#include "jschema.h"
#include "log.h"
#include "route.h"
#include "store.h"
#include "workers.h"

#define API_PREFIX "/api/v1"
#define API_MAX_TOKENS 64
#define API_MAX_SCOPE 16
#define API_DEFAULT_BODY (1024 * 1024)
#define API_PAGE_DEFAULT 50
#define API_PAGE_MAX 500

enum access { ACCESS_READ = 1, ACCESS_WRITE = 2, ACCESS_OPS = 4 };

struct api_token {
	char name[65];
	char hash[65];
	char *systems[API_MAX_SCOPE];   /* first one names the sender */
	size_t nsystems;
	char *partners[API_MAX_SCOPE];  /* "*" for all */
	size_t npartners;
	int access;
	double rate;                    /* requests per second */
	double burst;
	double tokens;                  /* bucket level */
	int64_t refilled_us;
};

struct api {
	struct daemon *d;
	struct route *route;
	struct store *st;
	jschema_set *schemas;
	char *partners_dir;
	size_t max_body;
	struct token_set *tokens;
};

struct token_set {
	struct api_token t[API_MAX_TOKENS];
	size_t n;
};

void
api_token_hash(const char *token, char out[65])
{
	unsigned char d[SHA256_DIGEST_LENGTH];
	size_t i;

	SHA256((const unsigned char *)token, strlen(token), d);
	for (i = 0; i < sizeof(d); i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* ---- configuration ----------------------------------------------------- */

static int
cfgfail(char *err, size_t errsize, const struct config *cfg, unsigned line,
    const char *what, const char *value)
{
	snprintf(err, errsize, "%s:%u: %s%s%s%s", cfg->path, line, what,
	    value ? " \"" : "", value ? value : "", value ? "\"" : "");
	return -1;
}

static int
split(const char *value, char **out, size_t max, size_t *n)
{
	const char *p = value;

	*n = 0;
	while (*p) {
		size_t len;
		p += strspn(p, " \t,");
		if (!*p)
			break;
		len = strcspn(p, " \t,");
		if (*n >= max || (out[*n] = strndup(p, len)) == NULL)
			return -1;
		(*n)++;
		p += len;
	}
	return 0;
}

static int
parse_size(const char *v, size_t *out)
{
	char *end;
	unsigned long long n = strtoull(v, &end, 10);

	if (end == v)
		return -1;
	if (*end == 'K' || *end == 'k')
		n *= 1024, end++;
	else if (*end == 'M' || *end == 'm')
		n *= 1024 * 1024, end++;
	if (*end != '\0' || n < 1024 || n > 1024ULL * 1024 * 1024)
		return -1;
	*out = (size_t)n;
	return 0;
}

static int
load_token(struct api_token *t, const struct config *cfg,
    const struct config_section *s, char *err, size_t errsize)
{
	size_t i, n;

	snprintf(t->name, sizeof(t->name), "%s", s->name + 6);
	t->rate = 10;
	t->burst = 20;
	t->access = ACCESS_READ;
	for (i = 0; i < s->nentries; i++) {
		const struct config_entry *e = &s->entries[i];
		if (!strcmp(e->key, "hash")) {
			const char *h = e->value;
			if (!strncmp(h, "sha256:", 7))
				h += 7;
			for (n = 0; h[n] && isxdigit((unsigned char)h[n]); n++)
				;
			if (n != 64 || h[n] != '\0')
				return cfgfail(err, errsize, cfg, e->line, "hash: "
				    "expected sha256:<64 hex digits> (edigate "
				    "api-token), found", e->value);
			for (n = 0; n < 64; n++)
				t->hash[n] = (char)tolower((unsigned char)h[n]);
			t->hash[64] = '\0';
		} else if (!strcmp(e->key, "systems")) {
			if (split(e->value, t->systems, API_MAX_SCOPE,
			    &t->nsystems))
				return cfgfail(err, errsize, cfg, e->line,
				    "systems: at most 16 names", NULL);
		} else if (!strcmp(e->key, "partners")) {
			if (split(e->value, t->partners, API_MAX_SCOPE,
			    &t->npartners))
				return cfgfail(err, errsize, cfg, e->line,
				    "partners: at most 16 ids (or *)", NULL);
		} else if (!strcmp(e->key, "access")) {
			char *w[4];
			size_t k;
			t->access = 0;
			if (split(e->value, w, 4, &n))
				return cfgfail(err, errsize, cfg, e->line,
				    "access: expected read, write and/or ops",
				    NULL);
			for (k = 0; k < n; k++) {
				if (!strcmp(w[k], "read"))
					t->access |= ACCESS_READ;
				else if (!strcmp(w[k], "write"))
					t->access |= ACCESS_WRITE;
				else if (!strcmp(w[k], "ops"))
					t->access |= ACCESS_OPS;
				else {
					cfgfail(err, errsize, cfg, e->line,
					    "access: expected read, write and/or "
					    "ops, found", w[k]);
					for (; k < n; k++)
						free(w[k]);
					return -1;
				}
				free(w[k]);
			}
		} else if (!strcmp(e->key, "rate") || !strcmp(e->key, "burst")) {
			char *end;
			double v = strtod(e->value, &end);
			if (end == e->value || *end || !(v > 0) || v > 1e6)
				return cfgfail(err, errsize, cfg, e->line,
				    "expected a positive number, found",
				    e->value);
			if (e->key[0] == 'r')
				t->rate = v;
			else
				t->burst = v;
		} else
			return cfgfail(err, errsize, cfg, e->line, "unknown key in "
			    "a [token.NAME] section (expected hash, systems, "
			    "partners, access, rate, burst):", e->key);
	}
	if (t->hash[0] == '\0')
		return cfgfail(err, errsize, cfg, s->line, "a [token.NAME] "
		    "section needs hash = sha256:...", NULL);
	if (t->burst < 1)
		t->burst = 1;
	t->tokens = t->burst;
	return 0;
}

static void
token_clear(struct api_token *t)
{
	size_t i;

	for (i = 0; i < t->nsystems; i++)
		free(t->systems[i]);
	for (i = 0; i < t->npartners; i++)
		free(t->partners[i]);
	memset(t, 0, sizeof(*t));
}

/* ---- replies ----------------------------------------------------------- */

static void
reply_json(struct daemon_request *r, int status, json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);

	json_decref(o);
	if (s == NULL) {
		daemon_reply_error(r, 500, "out of memory");
		return;
	}
	daemon_reply(r, status, "application/json", s, strlen(s));
	free(s);
}

static void
reply_problem(struct daemon_request *r, int status, const char *msg,
    const char *path)
{
	json_t *o = json_object();

	json_object_set_new(o, "error", json_string(msg));
	if (path && path[0])
		json_object_set_new(o, "path", json_string(path));
	json_object_set_new(o, "correlation_id",
	    json_string(daemon_request_correlation_id(r)));
	reply_json(r, status, o);
}

/* ---- auth, scope, rate ------------------------------------------------- */

static struct api_token *
authenticate(struct api *a, struct daemon_request *r)
{
	const char *h = daemon_request_header(r, "Authorization");
	char hash[65];
	struct api_token *found = NULL;
	size_t i;

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	if (*h == '\0' || strlen(h) > 512)
		return NULL;
	api_token_hash(h, hash);
	/* Every hash is compared, so the time does not say which matched. */
	for (i = 0; i < a->tokens->n; i++)
		if (CRYPTO_memcmp(hash, a->tokens->t[i].hash, 64) == 0)
			found = &a->tokens->t[i];
	return found;
}

static int
partner_allowed(const struct api_token *t, const char *partner)
{
	size_t i;

	for (i = 0; i < t->npartners; i++)
		if (!strcmp(t->partners[i], "*") ||
		    (partner && !strcmp(t->partners[i], partner)))
			return 1;
	return 0;
}

/* 0 when a request may go; else the seconds to wait. */
static unsigned
rate_take(struct api_token *t, int64_t now_us)
{
	double elapsed = (double)(now_us - t->refilled_us) / 1e6;

	if (t->refilled_us == 0)
		elapsed = 0;
	t->tokens += elapsed * t->rate;
	if (t->tokens > t->burst)
		t->tokens = t->burst;
	t->refilled_us = now_us;
	if (t->tokens >= 1) {
		t->tokens -= 1;
		return 0;
	}
	return (unsigned)ceil((1 - t->tokens) / t->rate);
}

/* ---- helpers ----------------------------------------------------------- */

static char *
body_text(struct daemon_request *r, size_t *len)
{
	struct evbuffer *b = daemon_request_body(r);
	size_t n = b ? evbuffer_get_length(b) : 0;
	char *s = malloc(n + 1);

	if (s == NULL)
		return NULL;
	if (n)
		evbuffer_copyout(b, s, n);
	s[n] = '\0';
	*len = n;
	return s;
}

static const char *
query_get(struct evkeyvalq *q, const char *key)
{
	return evhttp_find_header(q, key);
}

static int64_t
parse_time_param(const char *s)
{
	struct tm tm;
	char *end;

	if (s == NULL || *s == '\0')
		return 0;
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end == NULL) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, "%Y-%m-%d", &tm);
	}
	if (end == NULL || (*end && strcmp(end, "Z")))
		return -1;
	return (int64_t)timegm(&tm) * 1000000;
}

static void
iso_time(int64_t us, char out[32])
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *
message_json(const struct store_message *m)
{
	json_t *o = json_object();
	char t[32];

	json_object_set_new(o, "id", json_integer(m->id));
	json_object_set_new(o, "direction", json_string(m->direction == STORE_IN
	    ? "in" : "out"));
	json_object_set_new(o, "partner", json_string(m->partner));
	json_object_set_new(o, "transport", json_string(m->transport));
	json_object_set_new(o, "type", json_string(m->message_type));
	json_object_set_new(o, "state", json_string(m->state));
	json_object_set_new(o, "correlation_id", json_string(m->correlation_id));
	json_object_set_new(o, "size", json_integer(m->size));
	if (m->interchange_control[0])
		json_object_set_new(o, "interchange",
		    json_string(m->interchange_control));
	if (m->group_control[0])
		json_object_set_new(o, "group", json_string(m->group_control));
	if (m->set_control[0])
		json_object_set_new(o, "set", json_string(m->set_control));
	iso_time(m->created_us, t);
	json_object_set_new(o, "created_at", json_string(t));
	iso_time(m->updated_us, t);
	json_object_set_new(o, "updated_at", json_string(t));
	return o;
}

static int
parse_id(const char *s, int64_t *id)
{
	char *end;
	long long v;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	v = strtoll(s, &end, 10);
	if (*end != '\0' || v <= 0)
		return -1;
	*id = v;
	return 0;
}

/* ---- POST /api/v1/documents -------------------------------------------- */

static const char *const doc_types[] = {
	"order", "order_response", "shipment", "invoice", "warehouse_order",
	"warehouse_shipment", "functional_ack", NULL
};

/* ---- POST on the worker pool ------------------------------------------ */

/*
 * A POST's answer, built on a worker and sent on the loop. The token is a
 * deep copy: a reload may free the token set while the job runs.
 */
#define API_OUT_HEADERS 4
struct api_out {
	struct api *a;
	struct daemon_request *r;      /* loop thread only */
	struct store *st;              /* the worker's connection */
	struct api_token token;
	char key[STORE_IDEM_KEY_MAX + 1];
	char corr[STORE_CORRELATION_MAX + 1];
	char *text;
	size_t len;
	int status;
	char *ctype, *body;
	size_t body_len;
	char *hname[API_OUT_HEADERS], *hvalue[API_OUT_HEADERS];
	size_t nh;
};

static struct api_out *
out_new(struct api *a, struct daemon_request *r, const struct api_token *t,
    const char *key, char *text, size_t len)
{
	struct api_out *o = calloc(1, sizeof(*o));
	size_t i;
	int bad = 0;

	if (o == NULL)
		return NULL;
	o->a = a;
	o->r = r;
	o->token = *t;
	for (i = 0; i < t->nsystems; i++)
		bad |= (o->token.systems[i] = strdup(t->systems[i])) == NULL;
	for (i = 0; i < t->npartners; i++)
		bad |= (o->token.partners[i] = strdup(t->partners[i])) == NULL;
	snprintf(o->key, sizeof(o->key), "%s", key);
	snprintf(o->corr, sizeof(o->corr), "%s",
	    daemon_request_correlation_id(r));
	if (bad) {
		o->text = NULL;
		token_clear(&o->token);
		free(o);
		return NULL;
	}
	o->text = text;
	o->len = len;
	return o;
}

static void
out_free(struct api_out *o)
{
	size_t i;

	token_clear(&o->token);
	free(o->text);
	free(o->ctype);
	free(o->body);
	for (i = 0; i < o->nh; i++) {
		free(o->hname[i]);
		free(o->hvalue[i]);
	}
	free(o);
}

static void
out_header(struct api_out *o, const char *name, const char *value)
{
	if (o->nh < API_OUT_HEADERS) {
		o->hname[o->nh] = strdup(name);
		o->hvalue[o->nh++] = strdup(value);
	}
}

static void
out_reply(struct api_out *o, int status, const char *ctype, const char *body,
    size_t len)
{
	o->status = status;
	free(o->ctype);
	free(o->body);
	o->ctype = strdup(ctype);
	o->body = malloc(len + 1);
	if (o->body) {
		memcpy(o->body, body, len);
		o->body[len] = '\0';
	}
	o->body_len = len;
}

static void
out_problem(struct api_out *o, int status, const char *msg, const char *path)
{
	json_t *j = json_object();
	char *s;

	json_object_set_new(j, "error", json_string(msg));
	if (path && path[0])
		json_object_set_new(j, "path", json_string(path));
	json_object_set_new(j, "correlation_id", json_string(o->corr));
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	if (s == NULL)
		out_reply(o, 500, "text/plain", "out of memory", 13);
	else
		out_reply(o, status, "application/json", s, strlen(s));
	free(s);
}

/* Each worker thread's store connection, closed when the thread ends. */
static pthread_key_t api_store_key;
static pthread_once_t api_store_once = PTHREAD_ONCE_INIT;

static void
api_store_close(void *st)
{
	store_close(st);
}

static void
api_store_key_make(void)
{
	(void)pthread_key_create(&api_store_key, api_store_close);
}

static struct store *
thread_store(struct api *a, struct store_error *se)
{
	struct store *st;

	pthread_once(&api_store_once, api_store_key_make);
	if ((st = pthread_getspecific(api_store_key)) != NULL)
		return st;
	if (store_open(&st, daemon_config(a->d)->store_url, NULL, se) !=
	    STORE_OK)
		return NULL;
	(void)pthread_setspecific(api_store_key, st);
	return st;
}

static void post_store_work(struct api_out *o);

static void
post_work(void *arg)
{
	struct api_out *o = arg;
	struct store_error se;

	if ((o->st = thread_store(o->a, &se)) == NULL) {
		log_error("api: no store connection", "error", se.message,
		    "correlation_id", o->corr, NULL);
		out_problem(o, 503, "the store is not available; retry", NULL);
		return;
	}
	post_store_work(o);
}

static void
post_done(void *arg, int cancelled)
{
	struct api_out *o = arg;
	size_t i;

	if (cancelled)
		daemon_reply_error(o->r, 503, "shutting down");
	else if (o->body == NULL || o->ctype == NULL)
		daemon_reply_error(o->r, 500, "out of memory");
	else {
		for (i = 0; i < o->nh; i++)
			if (o->hname[i] && o->hvalue[i])
				daemon_request_add_header(o->r, o->hname[i],
				    o->hvalue[i]);
		daemon_reply(o->r, o->status, o->ctype, o->body, o->body_len);
	}
	out_free(o);
}

static void
finish_idem(struct api_out *o, const char *scope, const char *key, int status,
    json_t *body, int64_t id)
{
	struct store_error se;
	char *s = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);

	if (s && store_idempotency_finish(o->st, scope, key, status, s, &se))
		log_error("idempotency answer not stored", "error", se.message,
		    "correlation_id", o->corr, NULL);
	json_decref(body);
	if (id > 0) {
		char loc[64];
		snprintf(loc, sizeof(loc), API_PREFIX "/documents/%" PRId64, id);
		out_header(o, "Location", loc);
	}
	if (s == NULL)
		out_reply(o, 500, "text/plain", "out of memory", 13);
	else
		out_reply(o, status, "application/json", s, strlen(s));
	free(s);
}

/*
 * The store work of a POST, on a worker thread with that thread's own
 * store connection (store.h: one connection per thread): parsing, schema,
 * idempotency, spool, message, routing. Its answer is recorded in o and
 * sent by post_done() on the loop.
 */
static void
post_store_work(struct api_out *o)
{
	const char *key = o->key;
	char scope[80], hash[SPOOL_HASH_HEX + 1], schema[300], *text = o->text, *prev = NULL;
	const char *type, *partner, *corr;
	struct jschema_error je;
	struct store_error se;
	struct spool_error spe;
	enum store_idem_outcome oc;
	struct store_message m;
	struct route_document doc;
	struct route_result res;
	json_error_t jerr;
	json_t *root, *meta, *out;
	size_t len = o->len, i;
	int status = 0;
	const struct api_token *t = &o->token;
	struct api *a = o->a;

	o->text = NULL;    /* the code below frees it */
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		char msg[300];
		snprintf(msg, sizeof(msg), "malformed JSON at line %d column "
		    "%d: %s", jerr.line, jerr.column, jerr.text);
		free(text);
		out_problem(o, 400, msg, NULL);
		return;
	}
	type = json_string_value(json_object_get(root, "type"));
	for (i = 0; doc_types[i] && (type == NULL || strcmp(doc_types[i], type));
	    i++)
		;
	if (!json_is_object(root) || type == NULL || doc_types[i] == NULL) {
		json_decref(root);
		free(text);
		out_problem(o, 422, "expected a canonical document: \"type\" "
		    "one of order, order_response, shipment, invoice, "
		    "warehouse_order, warehouse_shipment, functional_ack",
		    "$.type");
		return;
	}
	snprintf(schema, sizeof(schema), "%s.schema.json", type);
	if (jschema_validate(a->schemas, schema, root, &je) != 0) {
		char msg[600];
		snprintf(msg, sizeof(msg), "%s: %s", je.path, je.message);
		json_decref(root);
		free(text);
		out_problem(o, 422, msg, je.path);
		return;
	}
	meta = json_object_get(root, "meta");
	partner = json_string_value(json_object_get(meta, "partner"));
	if (!partner_allowed(t, partner)) {
		json_decref(root);
		free(text);
		out_problem(o, 403, partner ? "this token may not send "
		    "documents for this partner" : "meta.partner is required "
		    "and must be a partner of this token", partner ? NULL :
		    "$.meta.partner");
		return;
	}
	corr = json_string_value(json_object_get(meta, "correlation_id"));
	if (corr == NULL || corr[0] == '\0' || strlen(corr) >
	    STORE_CORRELATION_MAX)
		corr = o->corr;

	snprintf(scope, sizeof(scope), "api:%s", t->name);
	store_sha256_hex(text, len, hash);
	if (store_idempotency_begin(o->st, scope, key, hash, &oc, &status,
	    &prev, &se) != 0) {
		json_decref(root);
		free(text);
		log_error("idempotency check failed", "error", se.message, NULL);
		out_problem(o, 503, "the store is not available; retry", NULL);
		return;
	}
	if (oc == STORE_IDEM_REPLAY) {
		json_t *pj = prev ? json_loads(prev, 0, NULL) : NULL;
		json_int_t id = json_integer_value(json_object_get(pj, "id"));
		if (id > 0) {
			char loc[64];
			snprintf(loc, sizeof(loc), API_PREFIX "/documents/%"
			    JSON_INTEGER_FORMAT, id);
			out_header(o, "Location", loc);
		}
		out_header(o, "Idempotent-Replayed", "true");
		out_reply(o, status, "application/json", prev,
		    prev ? strlen(prev) : 0);
		json_decref(pj);
		free(prev);
		json_decref(root);
		free(text);
		return;
	}
	free(prev);
	if (oc == STORE_IDEM_CONFLICT || oc == STORE_IDEM_IN_PROGRESS) {
		json_decref(root);
		free(text);
		out_problem(o, 409, oc == STORE_IDEM_CONFLICT ?
		    "this Idempotency-Key was used with another body" :
		    "a request with this Idempotency-Key is still in progress",
		    NULL);
		return;
	}

	memset(&m, 0, sizeof(m));
	m.direction = STORE_IN;
	snprintf(m.partner, sizeof(m.partner), "%s", partner);
	snprintf(m.transport, sizeof(m.transport), "api");
	snprintf(m.message_type, sizeof(m.message_type), "%s", type);
	snprintf(m.state, sizeof(m.state), "received");
	snprintf(m.correlation_id, sizeof(m.correlation_id), "%s", corr);
	m.size = (int64_t)len;
	if (spool_put(store_spool(o->st), text, len, m.payload_hash, &spe) != 0 ||
	    store_message_put(o->st, &m, NULL, &se) != 0) {
		json_decref(root);
		free(text);
		log_error("document not stored", "error", se.message, NULL);
		out_problem(o, 503, "the store is not available; retry", NULL);
		return;
	}
	memset(&doc, 0, sizeof(doc));
	doc.origin = ROUTE_FROM_SYSTEM;
	doc.partner = partner;
	doc.system = t->nsystems ? t->systems[0] : t->name;
	doc.document_type = type;
	doc.json = text;
	doc.json_len = len;
	doc.message_id = m.id;
	doc.correlation_id = m.correlation_id;
	route_document(a->route, o->st, &doc, &res);
	free(text);
	json_decref(root);

	out = json_object();
	json_object_set_new(out, "id", json_integer(m.id));
	json_object_set_new(out, "correlation_id", json_string(m.correlation_id));
	if (res.status == ROUTE_OK) {
		json_t *ta = json_array();
		(void)store_message_set_state(o->st, m.id, "received", "routed",
		    NULL, &se);
		for (i = 0; i < res.ntargets; i++) {
			json_t *e = json_object();
			json_object_set_new(e, "kind", json_string(
			    res.targets[i].kind == ROUTE_TARGET_WEBHOOK ?
			    "webhook" : "partner"));
			json_object_set_new(e, "name",
			    json_string(res.targets[i].name));
			if (res.targets[i].edi_message[0])
				json_object_set_new(e, "edi", json_string(
				    res.targets[i].edi_message));
			json_object_set_new(e, "delivery_id",
			    json_integer(res.targets[i].delivery_id));
			if (res.targets[i].outbound_message_id)
				json_object_set_new(e, "message_id", json_integer(
				    res.targets[i].outbound_message_id));
			json_array_append_new(ta, e);
		}
		json_object_set_new(out, "state", json_string("routed"));
		json_object_set_new(out, "targets", ta);
		json_object_set_new(out, "location", json_sprintf(API_PREFIX
		    "/documents/%" PRId64, m.id));
		finish_idem(o, scope, key, 202, out, m.id);
		return;
	}
	if (res.status == ROUTE_ESTORE) {
		/* Not recorded under the key: a retry can succeed. */
		json_decref(out);
		out_problem(o, 503, "the store failed while routing; retry",
		    NULL);
		return;
	}
	(void)store_message_set_state(o->st, m.id, "received", "rejected", NULL,
	    &se);
	json_object_set_new(out, "state", json_string("rejected"));
	json_object_set_new(out, "error", json_string(res.message));
	if (res.path[0])
		json_object_set_new(out, "path", json_string(res.path));
	json_object_set_new(out, "correlation_id", json_string(m.correlation_id));
	finish_idem(o, scope, key, 422, out, m.id);
}

static void
post_document(struct api *a, struct daemon_request *r, struct api_token *t)
{
	const char *key = daemon_request_header(r, "Idempotency-Key");
	char *text;
	size_t len, i;
	struct api_out *o;

	if (!(t->access & ACCESS_WRITE)) {
		reply_problem(r, 403, "this token may not write (access)", NULL);
		return;
	}
	if (key == NULL || key[0] == '\0' || strlen(key) > STORE_IDEM_KEY_MAX) {
		reply_problem(r, 400, "an Idempotency-Key header (1 to 255 "
		    "characters) is required", NULL);
		return;
	}
	for (i = 0; key[i]; i++)
		if ((unsigned char)key[i] < 0x21 || (unsigned char)key[i] > 0x7e) {
			reply_problem(r, 400, "Idempotency-Key: printable ASCII "
			    "without blanks only", NULL);
			return;
		}
	if ((text = body_text(r, &len)) == NULL) {
		daemon_reply_error(r, 500, "out of memory");
		return;
	}
	if (len > a->max_body) {
		free(text);
		reply_problem(r, 413, "the document is larger than [api] "
		    "max_body_size", NULL);
		return;
	}
	if ((o = out_new(a, r, t, key, text, len)) == NULL) {
		free(text);
		daemon_reply_error(r, 500, "out of memory");
		return;
	}
	if (workers_submit(daemon_workers(a->d), post_work, post_done, o) != 0) {
		out_free(o);
		daemon_request_add_header(r, "Retry-After", "1");
		reply_problem(r, 503, "too busy; retry", NULL);
	}
}

/* ---- GET /api/v1/documents[/{id}] -------------------------------------- */

struct events_ctx {
	json_t *events;
	json_t *produced;   /* outbound message ids from route.decided */
};

static int
collect_event(void *ud, const struct store_event *ev)
{
	struct events_ctx *c = ud;
	json_t *e = json_object(), *d = json_loads(ev->detail, 0, NULL);
	char t[32];

	iso_time(ev->time_us, t);
	json_object_set_new(e, "id", json_integer(ev->id));
	json_object_set_new(e, "time", json_string(t));
	json_object_set_new(e, "kind", json_string(ev->kind));
	json_object_set_new(e, "detail", d ? d : json_object());
	json_array_append_new(c->events, e);
	if (d && !strcmp(ev->kind, "route.decided")) {
		json_t *targets = json_object_get(d, "targets"), *tg;
		size_t i;
		json_array_foreach(targets, i, tg)
			if (json_integer_value(json_object_get(tg, "message_id")))
				json_array_append(c->produced,
				    json_object_get(tg, "message_id"));
	}
	return 0;
}

static json_t *
payload_text(struct api *a, const struct store_message *m)
{
	void *buf = NULL;
	size_t len = 0;
	json_t *s;

	if (m->size > 256 * 1024 || spool_read_all(store_spool(a->st),
	    m->payload_hash, &buf, &len, NULL) != SPOOL_OK)
		return json_null();
	s = json_stringn(buf, len);
	free(buf);
	return s ? s : json_null();
}

static void
get_document(struct api *a, struct daemon_request *r, struct api_token *t,
    int64_t id)
{
	struct store_message m, om;
	struct store_error se;
	struct store_event_filter f;
	struct events_ctx c;
	json_t *o, *edi, *v;
	size_t i;

	if (store_message_get(a->st, id, &m, &se) != STORE_OK) {
		reply_problem(r, 404, "no such document", NULL);
		return;
	}
	if (!partner_allowed(t, m.partner)) {
		reply_problem(r, 403, "this token may not read documents of "
		    "this partner", NULL);
		return;
	}
	o = message_json(&m);
	c.events = json_array();
	c.produced = json_array();
	memset(&f, 0, sizeof(f));
	f.message_id = id;
	(void)store_event_foreach(a->st, &f, collect_event, &c, &se);
	json_object_set_new(o, "events", c.events);
	v = payload_text(a, &m);
	if (!strcmp(m.transport, "api")) {
		json_t *body = json_is_string(v) ? json_loads(
		    json_string_value(v), 0, NULL) : NULL;
		json_object_set_new(o, "document", body ? body : json_null());
		json_decref(v);
	} else
		json_object_set_new(o, "edi", v);
	edi = json_array();
	json_array_foreach(c.produced, i, v) {
		struct store_ack_expectation ack;
		json_t *e;
		if (store_message_get(a->st, json_integer_value(v), &om, &se) !=
		    STORE_OK)
			continue;
		e = message_json(&om);
		json_object_set_new(e, "payload", payload_text(a, &om));
		if (store_ack_find(a->st, om.partner, "997",
		    om.interchange_control, om.group_control, &ack, &se) ==
		    STORE_OK)
			json_object_set_new(e, "ack", json_string(
			    store_ack_state_name(ack.state)));
		else
			json_object_set_new(e, "ack", json_string("none"));
		json_array_append_new(edi, e);
	}
	json_decref(c.produced);
	json_object_set_new(o, "produced", edi);
	reply_json(r, 200, o);
}

struct list_ctx {
	json_t *items;
	const char *type;
	struct api_token *t;
	unsigned limit;
	int64_t last_id;
	int more;
};

static int
collect_message(void *ud, const struct store_message *m)
{
	struct list_ctx *c = ud;

	c->last_id = m->id;
	if (c->type && strcmp(c->type, m->message_type))
		return 0;
	if (!partner_allowed(c->t, m->partner))
		return 0;
	if (json_array_size(c->items) >= c->limit) {
		c->more = 1;
		return 1;
	}
	json_array_append_new(c->items, message_json(m));
	return 0;
}

static void
list_documents(struct api *a, struct daemon_request *r, struct api_token *t,
    struct evkeyvalq *q)
{
	struct store_message_filter f;
	struct store_error se;
	struct list_ctx c;
	const char *s;
	json_t *o;
	int64_t after = 0;

	memset(&f, 0, sizeof(f));
	memset(&c, 0, sizeof(c));
	c.limit = API_PAGE_DEFAULT;
	if ((s = query_get(q, "limit")) != NULL) {
		int64_t n;
		if (parse_id(s, &n) || n > API_PAGE_MAX) {
			reply_problem(r, 400, "limit: 1 to 500", NULL);
			return;
		}
		c.limit = (unsigned)n;
	}
	if ((s = query_get(q, "after")) != NULL && parse_id(s, &after)) {
		reply_problem(r, 400, "after: a document id", NULL);
		return;
	}
	if ((f.since_us = parse_time_param(query_get(q, "since"))) < 0) {
		reply_problem(r, 400, "since: expected YYYY-MM-DD or "
		    "YYYY-MM-DDTHH:MM:SSZ", NULL);
		return;
	}
	f.partner = query_get(q, "partner");
	f.state = query_get(q, "state");
	f.after_id = after;
	c.type = query_get(q, "type");
	c.t = t;
	c.items = json_array();
	/* Type and scope filter here, so page through the store until the
	 * page is full or the rows run out. */
	do {
		c.last_id = 0;
		f.limit = 200;
		if (store_message_list(a->st, &f, collect_message, &c, &se) < 0) {
			json_decref(c.items);
			reply_problem(r, 503, "the store is not available", NULL);
			return;
		}
		f.after_id = c.last_id;
	} while (!c.more && c.last_id != 0 &&
	    json_array_size(c.items) < c.limit);
	o = json_object();
	json_object_set_new(o, "items", c.items);
	if (c.more && json_array_size(c.items)) {
		json_int_t last = json_integer_value(json_object_get(
		    json_array_get(c.items, json_array_size(c.items) - 1), "id"));
		json_object_set_new(o, "next_after", json_integer(last));
	} else
		json_object_set_new(o, "next_after", json_null());
	reply_json(r, 200, o);
}

/* ---- partners ---------------------------------------------------------- */

static int
plain_id(const char *s)
{
	size_t i;

	if (s == NULL || !s[0] || strlen(s) > 64)
		return 0;
	for (i = 0; s[i]; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '_'
		    || s[i] == '.') || (s[i] == '.' && i == 0))
			return 0;
	return 1;
}

#include <dirent.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* The partner's XML attributes we show, read without the map loader: the
 * listing must not depend on every map being valid. */
static json_t *
partner_json(struct api *a, const char *id, int detail)
{
	char path[4096], *text, *p;
	FILE *f;
	long n;
	json_t *o = json_object();

	json_object_set_new(o, "id", json_string(id));
	snprintf(path, sizeof(path), "%s/%s.xml", a->partners_dir, id);
	if ((f = fopen(path, "r")) == NULL)
		return o;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	if (n <= 0 || n > 1024 * 1024 || (text = malloc((size_t)n + 1)) == NULL) {
		fclose(f);
		return o;
	}
	n = (long)fread(text, 1, (size_t)n, f);
	text[n] = '\0';
	fclose(f);
	if ((p = strstr(text, " name=\"")) != NULL) {
		char *e = strchr(p + 7, '"');
		if (e)
			json_object_set_new(o, "name", json_stringn(p + 7,
			    (size_t)(e - p - 7)));
	}
	if (detail) {
		json_t *msgs = json_array();
		char *q = text;
		while ((q = strstr(q, "<message ")) != NULL) {
			char *end = strchr(q, '>');
			char dir[8] = "", type[16] = "", ver[16] = "", std[16] = "";
			char *x;
			if (end == NULL)
				break;
			*end = '\0';
			if ((x = strstr(q, "direction=\"")))
				sscanf(x + 11, "%7[^\"]", dir);
			if ((x = strstr(q, "type=\"")))
				sscanf(x + 6, "%15[^\"]", type);
			if ((x = strstr(q, "version=\"")))
				sscanf(x + 9, "%15[^\"]", ver);
			if ((x = strstr(q, "standard=\"")))
				sscanf(x + 10, "%15[^\"]", std);
			json_array_append_new(msgs, json_pack("{s:s,s:s,s:s,s:s}",
			    "direction", dir, "standard", std, "version", ver,
			    "type", type));
			q = end + 1;
		}
		json_object_set_new(o, "messages", msgs);
		/* A profile may name a certificate (the AS2 transport's
		 * certificate="FILE", relative to the profile). */
		if ((p = strstr(text, "certificate=\"")) != NULL) {
			char cert[1024] = "", cpath[4096];
			X509 *x = NULL;
			FILE *cf;
			sscanf(p + 13, "%1023[^\"]", cert);
			snprintf(cpath, sizeof(cpath), "%s%s%s", cert[0] == '/' ?
			    "" : a->partners_dir, cert[0] == '/' ? "" : "/",
			    cert);
			json_object_set_new(o, "certificate", json_string(cert));
			if ((cf = fopen(cpath, "r")) != NULL) {
				x = PEM_read_X509(cf, NULL, NULL, NULL);
				fclose(cf);
			}
			if (x) {
				struct tm tm;
				char t[32];
				if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm)) {
					strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ",
					    &tm);
					json_object_set_new(o,
					    "certificate_expires_at",
					    json_string(t));
				}
				X509_free(x);
			} else
				json_object_set_new(o, "certificate_expires_at",
				    json_null());
		}
	}
	free(text);
	return o;
}

static int
str_cmp(const void *x, const void *y)
{
	return strcmp(json_string_value(*(json_t *const *)x),
	    json_string_value(*(json_t *const *)y));
}

static void
list_partners(struct api *a, struct daemon_request *r, struct api_token *t)
{
	DIR *d = opendir(a->partners_dir);
	struct dirent *de;
	json_t *ids = json_array(), *items = json_array(), *v;
	size_t i;

	while (d && (de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		char id[128];
		if (n < 5 || n > 100 || strcmp(de->d_name + n - 4, ".xml") ||
		    strchr(de->d_name, '.') != de->d_name + n - 4)
			continue;
		snprintf(id, sizeof(id), "%.*s", (int)(n - 4), de->d_name);
		if (plain_id(id) && partner_allowed(t, id))
			json_array_append_new(ids, json_string(id));
	}
	if (d)
		closedir(d);
	/* Sorted for a stable listing. */
	if (json_array_size(ids) > 1) {
		json_t **arr = calloc(json_array_size(ids), sizeof(*arr));
		size_t n = json_array_size(ids);
		for (i = 0; arr && i < n; i++)
			arr[i] = json_array_get(ids, i);
		if (arr) {
			if (n > 1)
				qsort(arr, n, sizeof(*arr), str_cmp);
			for (i = 0; i < n; i++)
				json_array_append_new(items, partner_json(a,
				    json_string_value(arr[i]), 0));
		}
		free(arr);
	} else
		json_array_foreach(ids, i, v)
			json_array_append_new(items, partner_json(a,
			    json_string_value(v), 0));
	json_decref(ids);
	reply_json(r, 200, json_pack("{s:o}", "items", items));
}

static void
get_partner(struct api *a, struct daemon_request *r, struct api_token *t,
    const char *id)
{
	char path[4096];
	FILE *f;

	if (!plain_id(id)) {
		reply_problem(r, 404, "no such partner", NULL);
		return;
	}
	if (!partner_allowed(t, id)) {
		reply_problem(r, 403, "this token may not read this partner",
		    NULL);
		return;
	}
	snprintf(path, sizeof(path), "%s/%s.xml", a->partners_dir, id);
	if ((f = fopen(path, "r")) == NULL) {
		reply_problem(r, 404, "no such partner", NULL);
		return;
	}
	fclose(f);
	reply_json(r, 200, partner_json(a, id, 1));
}

/* ---- acknowledgments --------------------------------------------------- */

struct ack_ctx {
	json_t *items;
	struct api_token *t;
};

static int
collect_ack(void *ud, const struct store_ack_expectation *e)
{
	struct ack_ctx *c = ud;
	json_t *o;
	char t[32];

	if (!partner_allowed(c->t, e->partner) ||
	    json_array_size(c->items) >= 1000)
		return 0;
	o = json_object();
	json_object_set_new(o, "id", json_integer(e->id));
	json_object_set_new(o, "message_id", json_integer(e->message_id));
	json_object_set_new(o, "partner", json_string(e->partner));
	json_object_set_new(o, "ack_type", json_string(e->ack_type));
	json_object_set_new(o, "interchange", json_string(e->interchange_control));
	json_object_set_new(o, "group", json_string(e->group_control));
	json_object_set_new(o, "functional_id", json_string(e->functional_id));
	json_object_set_new(o, "state", json_string(store_ack_state_name(
	    e->state)));
	iso_time(e->created_us, t);
	json_object_set_new(o, "sent_at", json_string(t));
	iso_time(e->deadline_us, t);
	json_object_set_new(o, "due_at", json_string(t));
	if (e->acked_us) {
		iso_time(e->acked_us, t);
		json_object_set_new(o, "acked_at", json_string(t));
		json_object_set_new(o, "code", json_string(e->ack_code));
	}
	json_array_append_new(c->items, o);
	return 0;
}

static void
list_acks(struct api *a, struct daemon_request *r, struct api_token *t,
    struct evkeyvalq *q)
{
	struct store_ack_filter f;
	struct store_error se;
	struct ack_ctx c;

	memset(&f, 0, sizeof(f));
	f.partner = query_get(q, "partner");
	if ((f.since_us = parse_time_param(query_get(q, "since"))) < 0) {
		reply_problem(r, 400, "since: expected YYYY-MM-DD or "
		    "YYYY-MM-DDTHH:MM:SSZ", NULL);
		return;
	}
	c.items = json_array();
	c.t = t;
	if (store_ack_foreach(a->st, &f, collect_ack, &c, &se) < 0) {
		json_decref(c.items);
		reply_problem(r, 503, "the store is not available", NULL);
		return;
	}
	reply_json(r, 200, json_pack("{s:o}", "items", c.items));
}

/* ---- dead letters, replay, resend -------------------------------------- */

/*
 * The store has no index of deliveries by state, but every dead letter
 * is an event ("delivery.dead", written by deliver.c) on the message: the
 * list walks those events (since= bounds the walk, default 30 days) and
 * keeps the deliveries that are still dead.
 */
struct dead_ctx {
	struct api *a;
	json_t *items;
	json_t *seen;
	const char *endpoint;
	struct api_token *t;
};

static int
collect_dead(void *ud, const struct store_event *ev)
{
	struct dead_ctx *c = ud;
	struct store_delivery del;
	struct store_message m;
	struct store_error se;
	json_t *d, *o;
	json_int_t id;
	char key[32], t[32];

	if (strcmp(ev->kind, "delivery.dead"))
		return 0;
	d = json_loads(ev->detail, 0, NULL);
	id = json_integer_value(json_object_get(d, "delivery_id"));
	json_decref(d);
	snprintf(key, sizeof(key), "%" JSON_INTEGER_FORMAT, id);
	if (id <= 0 || json_object_get(c->seen, key))
		return 0;
	json_object_set_new(c->seen, key, json_true());
	if (store_delivery_get(c->a->st, id, &del, &se) != STORE_OK ||
	    del.state != STORE_DELIVERY_DEAD)
		return 0;
	if (c->endpoint && strcmp(c->endpoint, del.endpoint))
		return 0;
	if (store_message_get(c->a->st, del.message_id, &m, &se) == STORE_OK &&
	    !partner_allowed(c->t, m.partner))
		return 0;
	if (json_array_size(c->items) >= 1000)
		return 1;
	o = json_object();
	json_object_set_new(o, "id", json_integer(del.id));
	json_object_set_new(o, "message_id", json_integer(del.message_id));
	json_object_set_new(o, "endpoint", json_string(del.endpoint));
	json_object_set_new(o, "idempotency_key",
	    json_string(del.idempotency_key));
	json_object_set_new(o, "attempts", json_integer(del.attempts));
	json_object_set_new(o, "last_error", json_string(del.last_error));
	json_object_set_new(o, "correlation_id", json_string(ev->correlation_id));
	iso_time(del.updated_us, t);
	json_object_set_new(o, "dead_at", json_string(t));
	json_array_append_new(c->items, o);
	return 0;
}

static int
collect_dead_letters(struct api *a, struct api_token *t, struct evkeyvalq *q,
    json_t **items)
{
	struct store_event_filter f;
	struct store_error se;
	struct dead_ctx c;
	int64_t since = parse_time_param(query_get(q, "since"));

	if (since < 0)
		return -1;
	memset(&f, 0, sizeof(f));
	f.since_us = since ? since : store_now_us() -
	    (int64_t)30 * 86400 * 1000000;
	c.a = a;
	c.items = json_array();
	c.seen = json_object();
	c.endpoint = query_get(q, "endpoint");
	c.t = t;
	(void)store_event_foreach(a->st, &f, collect_dead, &c, &se);
	json_decref(c.seen);
	*items = c.items;
	return 0;
}

static void
list_dead_letters(struct api *a, struct daemon_request *r, struct api_token *t,
    struct evkeyvalq *q)
{
	json_t *items;

	if (collect_dead_letters(a, t, q, &items)) {
		reply_problem(r, 400, "since: expected YYYY-MM-DD or "
		    "YYYY-MM-DDTHH:MM:SSZ", NULL);
		return;
	}
	reply_json(r, 200, json_pack("{s:o}", "items", items));
}

static int
replay_one(struct api *a, struct daemon_request *r, int64_t id)
{
	struct store_delivery del;
	struct store_error se;
	char detail[128];

	if (store_delivery_get(a->st, id, &del, &se) != STORE_OK)
		return 404;
	if (del.state != STORE_DELIVERY_DEAD)
		return 409;
	if (store_delivery_replay(a->st, id, store_now_us(), &se) != STORE_OK)
		return 503;
	snprintf(detail, sizeof(detail), "{\"delivery_id\":%" PRId64 "}", id);
	(void)store_event_append(a->st, del.message_id, NULL,
	    "delivery.replayed", detail, NULL, &se);
	log_info("dead letter replayed", "delivery", detail,
	    "correlation_id", daemon_request_correlation_id(r), NULL);
	return 202;
}

static void
replay_dead_letter(struct api *a, struct daemon_request *r,
    struct api_token *t, int64_t id)
{
	struct store_delivery del;
	struct store_message m;
	struct store_error se;
	int status;

	if (store_delivery_get(a->st, id, &del, &se) == STORE_OK &&
	    store_message_get(a->st, del.message_id, &m, &se) == STORE_OK &&
	    !partner_allowed(t, m.partner)) {
		reply_problem(r, 403, "this token may not replay deliveries of "
		    "this partner", NULL);
		return;
	}
	status = replay_one(a, r, id);
	if (status == 202)
		reply_json(r, 202, json_pack("{s:I,s:s}", "id", (json_int_t)id,
		    "state", "queued"));
	else
		reply_problem(r, status, status == 404 ? "no such delivery" :
		    status == 409 ? "the delivery is not dead" :
		    "the store is not available", NULL);
}

static void
replay_by_filter(struct api *a, struct daemon_request *r, struct api_token *t,
    struct evkeyvalq *q)
{
	json_t *items, *v, *ids = json_array();
	size_t i;

	if (collect_dead_letters(a, t, q, &items)) {
		json_decref(ids);
		reply_problem(r, 400, "since: expected YYYY-MM-DD or "
		    "YYYY-MM-DDTHH:MM:SSZ", NULL);
		return;
	}
	json_array_foreach(items, i, v) {
		json_int_t id = json_integer_value(json_object_get(v, "id"));
		if (replay_one(a, r, id) == 202)
			json_array_append_new(ids, json_integer(id));
	}
	json_decref(items);
	reply_json(r, 202, json_pack("{s:o}", "replayed", ids));
}

static void
resend_message(struct api *a, struct daemon_request *r, struct api_token *t,
    int64_t id)
{
	struct store_message m;
	struct store_error se;
	char endpoint[128], key[128];
	int64_t did;
	int existed;

	if (store_message_get(a->st, id, &m, &se) != STORE_OK) {
		reply_problem(r, 404, "no such message", NULL);
		return;
	}
	if (!partner_allowed(t, m.partner)) {
		reply_problem(r, 403, "this token may not resend messages of "
		    "this partner", NULL);
		return;
	}
	if (m.direction != STORE_OUT) {
		reply_problem(r, 409, "only outbound messages can be resent",
		    NULL);
		return;
	}
	/* A resend is a new delivery of the same bytes on purpose: its key
	 * is new, so the partner side sees a second transmission. */
	snprintf(endpoint, sizeof(endpoint), "partner:%s", m.partner);
	snprintf(key, sizeof(key), "resend-%" PRId64 "-%" PRId64, id,
	    store_now_us());
	if (store_delivery_enqueue(a->st, id, endpoint, key, store_now_us(),
	    &did, &existed, &se) != STORE_OK) {
		reply_problem(r, 503, "the store is not available", NULL);
		return;
	}
	{
		char detail[96];
		snprintf(detail, sizeof(detail), "{\"delivery_id\":%" PRId64 "}",
		    did);
		(void)store_event_append(a->st, id, m.correlation_id,
		    "message.resend", detail, NULL, &se);
	}
	reply_json(r, 202, json_pack("{s:I,s:I,s:s}", "message_id",
	    (json_int_t)id, "delivery_id", (json_int_t)did, "state", "queued"));
}

/* ---- dispatch ---------------------------------------------------------- */

static void
handle(struct daemon_request *r, void *ctx)
{
	struct api *a = ctx;
	const char *method = daemon_request_method(r);
	const char *path = daemon_request_path(r);
	const char *query = daemon_request_query(r);
	const char *rest, *seg2;
	struct api_token *t;
	struct evkeyvalq q;
	int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	int post = !strcmp(method, "POST");
	unsigned wait;
	int64_t id;
	char first[64], second[64], third[64];

	if (strncmp(path, API_PREFIX, strlen(API_PREFIX)) != 0) {
		reply_problem(r, 404, "no such resource", NULL);
		return;
	}
	rest = path + strlen(API_PREFIX);
	first[0] = second[0] = third[0] = '\0';
	if (*rest == '/') {
		rest++;
		seg2 = strchr(rest, '/');
		snprintf(first, sizeof(first), "%.*s", seg2 ? (int)(seg2 -
		    rest) : (int)strlen(rest), rest);
		if (seg2) {
			const char *seg3 = strchr(seg2 + 1, '/');
			snprintf(second, sizeof(second), "%.*s", seg3 ?
			    (int)(seg3 - seg2 - 1) : (int)strlen(seg2 + 1),
			    seg2 + 1);
			if (seg3)
				snprintf(third, sizeof(third), "%s", seg3 + 1);
		}
	}

	if ((t = authenticate(a, r)) == NULL) {
		daemon_request_add_header(r, "WWW-Authenticate",
		    "Bearer realm=\"edigate\"");
		reply_problem(r, 401, "a valid bearer token is required", NULL);
		return;
	}
	if ((wait = rate_take(t, store_now_us())) != 0) {
		char ra[16];
		snprintf(ra, sizeof(ra), "%u", wait);
		daemon_request_add_header(r, "Retry-After", ra);
		reply_problem(r, 429, "rate limit of this token exceeded", NULL);
		return;
	}
	if (get && !(t->access & ACCESS_READ)) {
		reply_problem(r, 403, "this token may not read (access)", NULL);
		return;
	}
	TAILQ_INIT(&q);
	if (query && evhttp_parse_query_str(query, &q) != 0) {
		reply_problem(r, 400, "malformed query string", NULL);
		return;
	}

	if (!strcmp(first, "documents") && second[0] == '\0') {
		if (post)
			post_document(a, r, t);
		else if (get)
			list_documents(a, r, t, &q);
		else
			reply_problem(r, 405, "GET or POST", NULL);
	} else if (!strcmp(first, "documents") && third[0] == '\0') {
		if (!get)
			reply_problem(r, 405, "GET only", NULL);
		else if (parse_id(second, &id))
			reply_problem(r, 404, "no such document", NULL);
		else
			get_document(a, r, t, id);
	} else if (!strcmp(first, "partners") && third[0] == '\0') {
		if (!get)
			reply_problem(r, 405, "GET only", NULL);
		else if (second[0] == '\0')
			list_partners(a, r, t);
		else
			get_partner(a, r, t, second);
	} else if (!strcmp(first, "acknowledgments") && second[0] == '\0') {
		if (!get)
			reply_problem(r, 405, "GET only", NULL);
		else
			list_acks(a, r, t, &q);
	} else if (!strcmp(first, "dead-letters")) {
		if (post && !(t->access & ACCESS_OPS))
			reply_problem(r, 403, "replay needs the ops access",
			    NULL);
		else if (second[0] == '\0' && get)
			list_dead_letters(a, r, t, &q);
		else if (!strcmp(second, "replay") && third[0] == '\0' && post)
			replay_by_filter(a, r, t, &q);
		else if (!strcmp(third, "replay") && post &&
		    parse_id(second, &id) == 0)
			replay_dead_letter(a, r, t, id);
		else if (second[0] == '\0' || !strcmp(third, "replay") ||
		    !strcmp(second, "replay"))
			reply_problem(r, 405, "method not allowed here", NULL);
		else
			reply_problem(r, 404, "no such resource", NULL);
	} else if (!strcmp(first, "messages") && !strcmp(third, "resend")) {
		if (!post)
			reply_problem(r, 405, "POST only", NULL);
		else if (!(t->access & ACCESS_OPS))
			reply_problem(r, 403, "resend needs the ops access", NULL);
		else if (parse_id(second, &id))
			reply_problem(r, 404, "no such message", NULL);
		else
			resend_message(a, r, t, id);
	} else
		reply_problem(r, 404, "no such resource", NULL);
	evhttp_clear_headers(&q);
}

/* ---- life cycle -------------------------------------------------------- */

static void
tokens_free(struct token_set *ts)
{
	size_t i;

	if (ts == NULL)
		return;
	for (i = 0; i < ts->n; i++)
		token_clear(&ts->t[i]);
	free(ts);
}

static struct token_set *
tokens_load(const struct config *cfg, char *err, size_t errsize)
{
	struct token_set *ts = calloc(1, sizeof(*ts));
	size_t i;

	if (ts == NULL) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	for (i = 0; i < cfg->nsections; i++) {
		if (strncmp(cfg->sections[i].name, "token.", 6))
			continue;
		if (ts->n >= API_MAX_TOKENS) {
			cfgfail(err, errsize, cfg, cfg->sections[i].line,
			    "at most 64 [token.NAME] sections", NULL);
			tokens_free(ts);
			return NULL;
		}
		if (load_token(&ts->t[ts->n++], cfg, &cfg->sections[i], err,
		    errsize)) {
			tokens_free(ts);
			return NULL;
		}
	}
	return ts;
}

/* SIGHUP: tokens can be added, revoked or rotated without a restart. A
 * token that stays keeps its rate-limit bucket. Loop thread only, like
 * the handlers, so no lock is needed. */
static int
tokens_prepare(void *ctx, const struct config *cfg, void **pending,
    char *err, size_t errsize)
{
	(void)ctx;
	*pending = tokens_load(cfg, err, errsize);
	return *pending == NULL;
}

static void
tokens_commit(void *ctx, void *pending)
{
	struct api *a = ctx;
	struct token_set *ts = pending;
	size_t i, j;

	for (i = 0; i < ts->n; i++)
		for (j = 0; j < a->tokens->n; j++)
			if (!strcmp(ts->t[i].name, a->tokens->t[j].name)) {
				ts->t[i].tokens = a->tokens->t[j].tokens;
				ts->t[i].refilled_us = a->tokens->t[j].refilled_us;
				if (ts->t[i].tokens > ts->t[i].burst)
					ts->t[i].tokens = ts->t[i].burst;
			}
	tokens_free(a->tokens);
	a->tokens = ts;
}

static void
tokens_abort(void *ctx, void *pending)
{
	(void)ctx;
	tokens_free(pending);
}

struct api *
api_new(struct daemon *d, struct route *route, char *err, size_t errsize)
{
	const struct config *cfg = daemon_config(d);
	const struct config_section *s = config_section_find(cfg, "api");
	struct api *a = calloc(1, sizeof(*a));
	struct store_error se;
	char dir[4096];
	const char *schemas = NULL;
	size_t i;

	if (a == NULL) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	a->d = d;
	a->route = route;
	a->max_body = API_DEFAULT_BODY;
	for (i = 0; s && i < s->nentries; i++) {
		const struct config_entry *e = &s->entries[i];
		if (!strcmp(e->key, "max_body_size")) {
			if (parse_size(e->value, &a->max_body)) {
				cfgfail(err, errsize, cfg, e->line, "max_body_size: "
				    "expected a size from 1K to 1G, found",
				    e->value);
				goto fail;
			}
		} else if (!strcmp(e->key, "schemas"))
			schemas = e->value;
		else {
			cfgfail(err, errsize, cfg, e->line, "unknown key in [api] "
			    "(expected max_body_size, schemas):", e->key);
			goto fail;
		}
	}
	if ((a->tokens = tokens_load(cfg, err, errsize)) == NULL)
		goto fail;
	if (schemas && schemas[0] != '/' && strrchr(cfg->path, '/'))
		snprintf(dir, sizeof(dir), "%.*s/%s", (int)(strrchr(cfg->path,
		    '/') - cfg->path), cfg->path, schemas);
	else
		snprintf(dir, sizeof(dir), "%s", schemas ? schemas : "");
	if (!schemas)
		snprintf(dir, sizeof(dir), "%s/canonical", cfg->maps_dir);
	if ((a->schemas = jschema_set_load(dir, err, errsize)) == NULL)
		goto fail;
	if ((a->partners_dir = strdup(cfg->partners_dir)) == NULL) {
		snprintf(err, errsize, "out of memory");
		goto fail;
	}
	if (store_open(&a->st, cfg->store_url, NULL, &se) != STORE_OK) {
		snprintf(err, errsize, "store %s: %s", cfg->store_url,
		    se.message);
		goto fail;
	}
	static const struct daemon_reload_hook hook = {
		"api-tokens", tokens_prepare, tokens_commit, tokens_abort
	};
	if (daemon_route_add(d, NULL, API_PREFIX, handle, a) != 0 ||
	    daemon_reload_hook_add(d, &hook, a) != 0) {
		snprintf(err, errsize, "cannot register " API_PREFIX);
		goto fail;
	}
	return a;
fail:
	api_free(a);
	return NULL;
}

void
api_free(struct api *a)
{
	if (a == NULL)
		return;
	tokens_free(a->tokens);
	jschema_set_free(a->schemas);
	store_close(a->st);
	free(a->partners_dir);
	free(a);
}
