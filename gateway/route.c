/*
 * route - rules, data quality and queuing of canonical documents. See
 * route.h; the rule syntax is in docs/routing.md.
 *
 * The rule table is built once per configuration and never changed; the
 * struct route holds the current one under a mutex and a reference count
 * lets a document finish with the table it started with across a reload.
 * Producing EDI uses the map loader, which is single-threaded: one mutex
 * serialises that part.
 */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ack_track.h"
#include "configfile.h"
#include "deliver.h"
#include "edi_builder.h"
#include "edi_writer.h"
#include "map.h"
#include "map_xlate.h"
#include "partner.h"
#include "route.h"
#include "store.h"
#include "xlate.h"
#include "xlate_out.h"

#define RULE_TARGETS 8
#define RULE_CHECKS 16

struct route_check {
	char *kind;            /* NULL: required field; else xref kind */
	char *path;
};

#define ROUTE_ORDERED_MAX 64

struct route_rule {
	char name[ROUTE_NAME_MAX + 1];
	unsigned line;
	char *type;            /* NULL: any */
	char *partner;         /* NULL: any */
	int origin;            /* -1 any, else enum route_origin */
	char *match_path;      /* NULL: no content condition */
	char *match_value;
	char *targets[RULE_TARGETS];
	size_t ntargets;
	struct route_check checks[RULE_CHECKS];
	size_t nchecks;
	int ordered;           /* -1: as [route] ordered says; 0 no; 1 yes */
};

struct route_table {
	int refs;
	struct route_rule *rules;
	size_t nrules;
	char erp[ROUTE_NAME_MAX + 1];
	char wms[ROUTE_NAME_MAX + 1];
	char wms_partner[ROUTE_NAME_MAX + 1];
	char isa_qualifier[3];
	char isa_id[16];
	char gs_id[16];
	char unb_id[36];               /* our UNB sender (default isa_id) */
	char unb_qualifier[8];         /* its qualifier ("" none) */
	int test;
	char transport[16];            /* default transport of partners */
	char **tp_ids;                 /* transport.ID overrides */
	char **tp_names;
	size_t ntp;
	char **webhooks;       /* names of [webhook.*] */
	size_t nwebhooks;
	char *ordered[ROUTE_ORDERED_MAX]; /* [route] ordered: partner ids, "*" */
	size_t nordered;
};

struct route {
	pthread_mutex_t mu;
	struct route_table *table;
	char *maps_dir;
	char *partners_dir;
	pthread_mutex_t edi_mu;
	map_loader *loader;
	xlate_maps *maps;
};

const char *
route_status_name(enum route_status s)
{
	switch (s) {
	case ROUTE_OK: return "ok";
	case ROUTE_ENOROUTE: return "no-route";
	case ROUTE_EREJECTED: return "rejected";
	case ROUTE_EINVAL: return "invalid";
	case ROUTE_ETRANSLATE: return "translate-failed";
	case ROUTE_ESTORE: return "store-failed";
	case ROUTE_ENOMEM: return "no-memory";
	}
	return "?";
}

/* ---- the rule table ---------------------------------------------------- */

static void
table_free(struct route_table *t)
{
	size_t i, j;

	if (t == NULL)
		return;
	for (i = 0; i < t->nrules; i++) {
		struct route_rule *r = &t->rules[i];
		free(r->type);
		free(r->partner);
		free(r->match_path);
		free(r->match_value);
		for (j = 0; j < r->ntargets; j++)
			free(r->targets[j]);
		for (j = 0; j < r->nchecks; j++) {
			free(r->checks[j].kind);
			free(r->checks[j].path);
		}
	}
	for (i = 0; i < t->ntp; i++) {
		free(t->tp_ids[i]);
		free(t->tp_names[i]);
	}
	free(t->tp_ids);
	free(t->tp_names);
	for (i = 0; i < t->nordered; i++)
		free(t->ordered[i]);
	for (i = 0; i < t->nwebhooks; i++)
		free(t->webhooks[i]);
	free(t->webhooks);
	free(t->rules);
	free(t);
}

static int
cfail(char *err, size_t errsize, const char *file, unsigned line,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int
cfail(char *err, size_t errsize, const char *file, unsigned line,
    const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, errsize, "%s:%u: ", file, line);

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < errsize)
		vsnprintf(err + n, errsize - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static int
plain_name(const char *s)
{
	size_t i;

	if (s[0] == '\0' || strlen(s) > ROUTE_NAME_MAX)
		return 0;
	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_' || s[i] == '-' || s[i] == '.'))
			return 0;
	return 1;
}

static int
has_webhook(const struct route_table *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->nwebhooks; i++)
		if (!strcmp(t->webhooks[i], name))
			return 1;
	return 0;
}

/* Splits value on blanks into up to max malloc'd words. */
static int
words(const char *value, char **out, size_t max, size_t *n)
{
	const char *p = value;

	*n = 0;
	while (*p) {
		size_t len;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		len = strcspn(p, " \t");
		if (*n >= max)
			return -1;
		if ((out[*n] = strndup(p, len)) == NULL)
			return -1;
		(*n)++;
		p += len;
	}
	return 0;
}

static const char *const known_types[] = {
	"order", "order_response", "shipment", "invoice", "warehouse_order",
	"warehouse_shipment", "functional_ack", NULL
};

static int
known_type(const char *t)
{
	size_t i;

	for (i = 0; known_types[i]; i++)
		if (!strcmp(known_types[i], t))
			return 1;
	return 0;
}

static int
parse_rule(struct route_table *t, const struct config *cfg,
    const struct config_section *sec, struct route_rule *r, char *err,
    size_t errsize)
{
	size_t i, j;

	snprintf(r->name, sizeof(r->name), "%s", sec->name + 6);
	r->line = sec->line;
	r->origin = -1;
	r->ordered = -1;
	for (i = 0; i < sec->nentries; i++) {
		const struct config_entry *e = &sec->entries[i];
		if (!strcmp(e->key, "type")) {
			if (!known_type(e->value))
				return cfail(err, errsize, cfg->path, e->line,
				    "type: expected a canonical document type "
				    "(order, order_response, shipment, invoice, "
				    "warehouse_order, warehouse_shipment, "
				    "functional_ack), found \"%s\"", e->value);
			r->type = strdup(e->value);
		} else if (!strcmp(e->key, "partner")) {
			if (!plain_name(e->value))
				return cfail(err, errsize, cfg->path, e->line,
				    "partner: expected a partner id, found "
				    "\"%s\"", e->value);
			r->partner = strdup(e->value);
		} else if (!strcmp(e->key, "from")) {
			if (!strcmp(e->value, "partner"))
				r->origin = ROUTE_FROM_PARTNER;
			else if (!strcmp(e->value, "system"))
				r->origin = ROUTE_FROM_SYSTEM;
			else
				return cfail(err, errsize, cfg->path, e->line,
				    "from: expected partner or system, found "
				    "\"%s\"", e->value);
		} else if (!strcmp(e->key, "match")) {
			const char *eq = strchr(e->value, '=');
			char *path, *val;
			if (eq == NULL)
				return cfail(err, errsize, cfg->path, e->line,
				    "match: expected PATH = VALUE, found \"%s\"",
				    e->value);
			path = strndup(e->value, (size_t)(eq - e->value));
			val = strdup(eq + 1);
			if (path == NULL || val == NULL) {
				free(path);
				free(val);
				return cfail(err, errsize, cfg->path, e->line,
				    "out of memory");
			}
			/* Blanks around '=' are for reading only. */
			while (*path && path[strlen(path) - 1] == ' ')
				path[strlen(path) - 1] = '\0';
			r->match_path = path;
			memmove(val, val + strspn(val, " "),
			    strlen(val + strspn(val, " ")) + 1);
			r->match_value = val;
			if (r->match_path[0] == '\0')
				return cfail(err, errsize, cfg->path, e->line,
				    "match: the path is empty");
		} else if (!strcmp(e->key, "to")) {
			if (words(e->value, r->targets, RULE_TARGETS,
			    &r->ntargets) || r->ntargets == 0)
				return cfail(err, errsize, cfg->path, e->line,
				    "to: expected 1 to %d targets "
				    "(webhook:NAME, partner:ID or partner)",
				    RULE_TARGETS);
			for (j = 0; j < r->ntargets; j++) {
				const char *tg = r->targets[j];
				if (!strcmp(tg, "partner"))
					continue;
				if (!strncmp(tg, "partner:", 8) &&
				    plain_name(tg + 8))
					continue;
				if (!strncmp(tg, "webhook:", 8) &&
				    has_webhook(t, tg + 8))
					continue;
				return cfail(err, errsize, cfg->path, e->line,
				    "to: \"%s\" is neither webhook:NAME of a "
				    "[webhook.NAME] section, partner:ID nor "
				    "partner", tg);
			}
		} else if (!strcmp(e->key, "ordered")) {
			if (strcmp(e->value, "yes") && strcmp(e->value, "no"))
				return cfail(err, errsize, cfg->path, e->line,
				    "ordered: expected yes or no, found \"%s\"",
				    e->value);
			r->ordered = e->value[0] == 'y';
		} else if (!strcmp(e->key, "require") ||
		    !strcmp(e->key, "xref")) {
			char *w[RULE_CHECKS];
			size_t n, k;
			int xref = e->key[0] == 'x';
			if (words(e->value, w, RULE_CHECKS - r->nchecks, &n))
				return cfail(err, errsize, cfg->path, e->line,
				    "%s: at most %d checks per rule", e->key,
				    RULE_CHECKS);
			for (k = 0; k < n; k++) {
				struct route_check *c = &r->checks[r->nchecks++];
				char *colon = strchr(w[k], ':');
				if (!xref) {
					c->path = w[k];
					continue;
				}
				if (colon == NULL || (strncmp(w[k], "sku:", 4) &&
				    strncmp(w[k], "uom:", 4) &&
				    strncmp(w[k], "location:", 9))) {
					for (; k < n; k++)
						free(w[k]);
					return cfail(err, errsize, cfg->path,
					    e->line, "xref: expected KIND:PATH "
					    "with KIND sku, uom or location");
				}
				c->kind = strndup(w[k], (size_t)(colon - w[k]));
				c->path = strdup(colon + 1);
				free(w[k]);
			}
		} else
			return cfail(err, errsize, cfg->path, e->line,
			    "unknown key \"%s\" in [%s] (expected type, "
			    "partner, from, match, to, require, xref)",
			    e->key, sec->name);
	}
	if (r->ntargets == 0 && r->nchecks == 0)
		return cfail(err, errsize, cfg->path, sec->line,
		    "[%s]: a rule needs `to` (targets) or checks (`require`, "
		    "`xref`)", sec->name);
	return 0;
}

static void
copy_setting(const struct config_section *s, const char *key, char *out,
    size_t size, const char *dflt)
{
	const struct config_entry *e = config_section_entry(s, key);

	snprintf(out, size, "%s", e ? e->value : dflt);
}

static struct route_table *
table_build(const struct config *cfg, char *err, size_t errsize)
{
	struct route_table *t = calloc(1, sizeof(*t));
	const struct config_section *g = config_section_find(cfg, "route");
	size_t i;

	if (t == NULL) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	t->refs = 1;
	for (i = 0; i < cfg->nsections; i++) {
		const struct config_section *s = &cfg->sections[i];
		char **nw;
		if (strncmp(s->name, "webhook.", 8))
			continue;
		nw = realloc(t->webhooks, (t->nwebhooks + 1) * sizeof(*nw));
		if (nw == NULL || (nw[t->nwebhooks] = strdup(s->name + 8)) ==
		    NULL) {
			t->webhooks = nw ? nw : t->webhooks;
			table_free(t);
			snprintf(err, errsize, "out of memory");
			return NULL;
		}
		t->webhooks = nw;
		t->nwebhooks++;
	}
	for (i = 0; g && i < g->nentries; i++) {
		const struct config_entry *e = &g->entries[i];
		static const char *const keys[] = { "erp", "wms",
		    "wms_partner", "isa_qualifier", "isa_id", "gs_id", "test",
		    "unb_id", "unb_qualifier", NULL };
		size_t k;
		if (!strcmp(e->key, "transport") ||
		    !strncmp(e->key, "transport.", 10)) {
			char **ni, **nn;
			if (strcmp(e->value, "as2") && strcmp(e->value, "sftp")) {
				cfail(err, errsize, cfg->path, e->line, "%s: "
				    "expected as2 or sftp, found \"%s\"", e->key,
				    e->value);
				table_free(t);
				return NULL;
			}
			if (e->key[9] == '\0') {
				snprintf(t->transport, sizeof(t->transport),
				    "%s", e->value);
				continue;
			}
			ni = realloc(t->tp_ids, (t->ntp + 1) * sizeof(*ni));
			if (ni)
				t->tp_ids = ni;
			nn = ni ? realloc(t->tp_names, (t->ntp + 1) *
			    sizeof(*nn)) : NULL;
			if (nn)
				t->tp_names = nn;
			if (ni == NULL || nn == NULL ||
			    (ni[t->ntp] = strdup(e->key + 10)) == NULL ||
			    (nn[t->ntp] = strdup(e->value)) == NULL) {
				if (ni && nn)
					free(ni[t->ntp]);
				table_free(t);
				snprintf(err, errsize, "out of memory");
				return NULL;
			}
			t->ntp++;
			continue;
		}
		if (!strcmp(e->key, "ordered")) {
			if (words(e->value, t->ordered, ROUTE_ORDERED_MAX,
			    &t->nordered)) {
				cfail(err, errsize, cfg->path, e->line,
				    "ordered: at most %d partner ids",
				    ROUTE_ORDERED_MAX);
				table_free(t);
				return NULL;
			}
			continue;
		}
		for (k = 0; keys[k] && strcmp(keys[k], e->key); k++)
			;
		if (keys[k] == NULL) {
			cfail(err, errsize, cfg->path, e->line, "unknown key "
			    "\"%s\" in [route] (expected erp, wms, wms_partner, "
			    "isa_qualifier, isa_id, gs_id, test, transport, "
			    "transport.ID, ordered, unb_id, unb_qualifier)", e->key);
			table_free(t);
			return NULL;
		}
		if ((k <= 2 && !plain_name(e->value)) ||
		    (k == 3 && strlen(e->value) != 2) ||
		    (k >= 4 && k <= 5 && (e->value[0] == '\0' ||
		    strlen(e->value) > 15))) {
			cfail(err, errsize, cfg->path, e->line, "%s: \"%s\" is "
			    "not a valid value", e->key, e->value);
			table_free(t);
			return NULL;
		}
	}
	if (t->transport[0] == '\0')
		snprintf(t->transport, sizeof(t->transport), "as2");
	copy_setting(g, "erp", t->erp, sizeof(t->erp), "erp");
	copy_setting(g, "wms", t->wms, sizeof(t->wms), "wms");
	copy_setting(g, "wms_partner", t->wms_partner, sizeof(t->wms_partner),
	    "");
	copy_setting(g, "isa_qualifier", t->isa_qualifier,
	    sizeof(t->isa_qualifier), "ZZ");
	copy_setting(g, "isa_id", t->isa_id, sizeof(t->isa_id), "EDIGATE");
	copy_setting(g, "gs_id", t->gs_id, sizeof(t->gs_id), t->isa_id);
	copy_setting(g, "unb_id", t->unb_id, sizeof(t->unb_id), t->isa_id);
	copy_setting(g, "unb_qualifier", t->unb_qualifier,
	    sizeof(t->unb_qualifier), "");
	t->test = config_section_entry(g, "test") &&
	    !strcmp(config_section_entry(g, "test")->value, "yes");
	for (i = 0; i < cfg->nsections; i++) {
		const struct config_section *s = &cfg->sections[i];
		struct route_rule *nr;
		if (strncmp(s->name, "route.", 6))
			continue;
		nr = realloc(t->rules, (t->nrules + 1) * sizeof(*nr));
		if (nr == NULL) {
			table_free(t);
			snprintf(err, errsize, "out of memory");
			return NULL;
		}
		t->rules = nr;
		memset(&nr[t->nrules], 0, sizeof(*nr));
		if (parse_rule(t, cfg, s, &nr[t->nrules++], err, errsize)) {
			table_free(t);
			return NULL;
		}
	}
	return t;
}

struct route *
route_new(const struct config *cfg, char *err, size_t errsize)
{
	struct route *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&r->mu, NULL);
	pthread_mutex_init(&r->edi_mu, NULL);
	r->maps_dir = strdup(cfg->maps_dir);
	r->partners_dir = strdup(cfg->partners_dir);
	if (r->maps_dir == NULL || r->partners_dir == NULL ||
	    (r->table = table_build(cfg, err, errsize)) == NULL) {
		route_free(r);
		return NULL;
	}
	return r;
}

static void
table_release(struct route *r, struct route_table *t)
{
	int last;

	pthread_mutex_lock(&r->mu);
	last = --t->refs == 0;
	pthread_mutex_unlock(&r->mu);
	if (last)
		table_free(t);
}

static struct route_table *
table_acquire(struct route *r)
{
	struct route_table *t;

	pthread_mutex_lock(&r->mu);
	t = r->table;
	t->refs++;
	pthread_mutex_unlock(&r->mu);
	return t;
}

void
route_free(struct route *r)
{
	if (r == NULL)
		return;
	if (r->table)
		table_release(r, r->table);
	xlate_maps_free(r->maps);
	map_loader_free(r->loader);
	free(r->maps_dir);
	free(r->partners_dir);
	pthread_mutex_destroy(&r->mu);
	pthread_mutex_destroy(&r->edi_mu);
	free(r);
}

void *
route_prepare(struct route *r, const struct config *cfg, char *err,
    size_t errsize)
{
	(void)r;
	return table_build(cfg, err, errsize);
}

void
route_commit(struct route *r, void *prepared)
{
	struct route_table *old;

	pthread_mutex_lock(&r->mu);
	old = r->table;
	r->table = prepared;
	pthread_mutex_unlock(&r->mu);
	table_release(r, old);
}

void
route_discard(void *prepared)
{
	table_free(prepared);
}

/* ---- JSON paths -------------------------------------------------------- */

/*
 * Paths are dotted keys with optional [N] (one element) or [] (every
 * element): "parties.ship_from.ids[0].value", "lines[].unit". walk()
 * calls found() for every value reached and missing() for every place
 * where the path stops (a key that is absent, an index out of range),
 * with the concrete path ("lines[2].unit") each time. A nonzero return
 * stops the walk and is returned.
 */
typedef int (*path_fn)(void *ctx, const char *where, json_t *v);

static int
walk(json_t *v, const char *p, char *where, size_t wlen, size_t wsize,
    path_fn found, path_fn missing, void *ctx)
{
	size_t klen;
	char key[128];
	int rc;

	if (*p == '.')
		p++;
	if (*p == '\0')
		return found ? found(ctx, where, v) : 0;
	if (*p == '[') {
		const char *close = strchr(p, ']');
		size_t i;
		if (close == NULL)
			return missing ? missing(ctx, where, NULL) : 0;
		if (!json_is_array(v)) {
			return missing ? missing(ctx, where, NULL) : 0;
		}
		if (close == p + 1) {
			for (i = 0; i < json_array_size(v); i++) {
				int n = snprintf(where + wlen, wsize - wlen,
				    "[%zu]", i);
				size_t nl = n > 0 && wlen + (size_t)n < wsize ?
				    wlen + (size_t)n : wlen;
				rc = walk(json_array_get(v, i), close + 1, where,
				    nl, wsize, found, missing, ctx);
				where[wlen] = '\0';
				if (rc)
					return rc;
			}
			return 0;
		}
		i = (size_t)strtoul(p + 1, NULL, 10);
		snprintf(where + wlen, wsize - wlen, "[%zu]", i);
		if (i >= json_array_size(v)) {
			rc = missing ? missing(ctx, where, NULL) : 0;
			where[wlen] = '\0';
			return rc;
		}
		rc = walk(json_array_get(v, i), close + 1, where,
		    strlen(where), wsize, found, missing, ctx);
		where[wlen] = '\0';
		return rc;
	}
	klen = strcspn(p, ".[");
	if (klen >= sizeof(key))
		klen = sizeof(key) - 1;
	memcpy(key, p, klen);
	key[klen] = '\0';
	snprintf(where + wlen, wsize - wlen, "%s%s", wlen ? "." : "", key);
	if (!json_is_object(v) || json_object_get(v, key) == NULL ||
	    json_is_null(json_object_get(v, key))) {
		rc = missing ? missing(ctx, where, NULL) : 0;
		where[wlen] = '\0';
		return rc;
	}
	rc = walk(json_object_get(v, key), p + klen, where, strlen(where),
	    wsize, found, missing, ctx);
	where[wlen] = '\0';
	return rc;
}

struct match_ctx {
	const char *value;
};

static int
match_found(void *ctx, const char *where, json_t *v)
{
	struct match_ctx *m = ctx;

	(void)where;
	return json_is_string(v) && !strcmp(json_string_value(v), m->value);
}

static int
rule_matches(const struct route_rule *r, const struct route_document *doc,
    json_t *root)
{
	char where[256] = "";
	struct match_ctx m;

	if (r->type && strcmp(r->type, doc->document_type))
		return 0;
	if (r->partner && (doc->partner == NULL ||
	    strcmp(r->partner, doc->partner)))
		return 0;
	if (r->origin >= 0 && r->origin != (int)doc->origin)
		return 0;
	if (r->match_path == NULL)
		return 1;
	m.value = r->match_value;
	return walk(root, r->match_path, where, 0, sizeof(where), match_found,
	    NULL, &m) == 1;
}

/* ---- deciding ---------------------------------------------------------- */

static int
add_target(struct route_result *res, enum route_target_kind kind,
    const char *name, const char *type)
{
	struct route_target *t;

	if (res->ntargets >= ROUTE_TARGETS_MAX || name == NULL ||
	    name[0] == '\0')
		return -1;
	t = &res->targets[res->ntargets++];
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	snprintf(t->name, sizeof(t->name), "%s", name);
	snprintf(t->document_type, sizeof(t->document_type), "%s", type);
	return 0;
}

/* The X12 transaction set a document becomes for a partner. */
static const char *
x12_set_for(const char *type)
{
	if (!strcmp(type, "order_response")) return "855";
	if (!strcmp(type, "invoice")) return "810";
	if (!strcmp(type, "warehouse_shipment") || !strcmp(type, "shipment"))
		return "856";
	if (!strcmp(type, "warehouse_order")) return "940";
	if (!strcmp(type, "order")) return "850";
	return NULL;
}

static int
decide(const struct route_table *t, const struct route_document *doc,
    json_t *root, struct route_result *res, const struct route_rule **rule)
{
	const char *type = doc->document_type;
	size_t i, j;

	*rule = NULL;
	for (i = 0; i < t->nrules; i++) {
		const struct route_rule *r = &t->rules[i];
		if (!rule_matches(r, doc, root))
			continue;
		if (r->ntargets == 0) {
			/* Checks only: keep looking for the targets. */
			if (*rule == NULL)
				*rule = r;
			continue;
		}
		*rule = r;
		snprintf(res->rule, sizeof(res->rule), "%s", r->name);
		for (j = 0; j < r->ntargets; j++) {
			const char *tg = r->targets[j];
			int rc;
			if (!strcmp(tg, "partner"))
				rc = add_target(res, ROUTE_TARGET_PARTNER,
				    doc->partner, type);
			else if (!strncmp(tg, "partner:", 8))
				rc = add_target(res, ROUTE_TARGET_PARTNER,
				    tg + 8, type);
			else
				rc = add_target(res, ROUTE_TARGET_WEBHOOK,
				    tg + 8, type);
			if (rc) {
				snprintf(res->message, sizeof(res->message),
				    "rule [route.%s]: the document names no "
				    "partner (meta.partner)", r->name);
				return res->status = ROUTE_EINVAL;
			}
		}
		break;
	}
	if (res->ntargets == 0) {
		int fromp = doc->origin == ROUTE_FROM_PARTNER, rc = 0;
		snprintf(res->rule, sizeof(res->rule), "default");
		if (fromp && (!strcmp(type, "order") ||
		    !strcmp(type, "shipment") || !strcmp(type, "invoice") ||
		    !strcmp(type, "order_response") ||
		    !strcmp(type, "functional_ack") ||
		    !strcmp(type, "warehouse_shipment")))
			rc = add_target(res, ROUTE_TARGET_WEBHOOK, t->erp, type);
		else if (!fromp && (!strcmp(type, "order_response") ||
		    !strcmp(type, "invoice") || !strcmp(type, "shipment")))
			rc = add_target(res, ROUTE_TARGET_PARTNER, doc->partner,
			    type);
		else if (!fromp && !strcmp(type, "warehouse_order"))
			rc = t->wms_partner[0] ?
			    add_target(res, ROUTE_TARGET_PARTNER,
			    t->wms_partner, type) :
			    add_target(res, ROUTE_TARGET_WEBHOOK, t->wms, type);
		else if (!fromp && !strcmp(type, "warehouse_shipment")) {
			rc = add_target(res, ROUTE_TARGET_WEBHOOK, t->erp,
			    "shipment");
			if (rc == 0)
				rc = add_target(res, ROUTE_TARGET_PARTNER,
				    doc->partner, "shipment");
		} else {
			snprintf(res->message, sizeof(res->message), "no rule "
			    "and no default flow for a %s from %s", type,
			    fromp ? "a partner" : "a system");
			return res->status = ROUTE_ENOROUTE;
		}
		if (rc) {
			snprintf(res->message, sizeof(res->message), "the "
			    "document names no partner (meta.partner)");
			snprintf(res->path, sizeof(res->path), "$.meta.partner");
			return res->status = ROUTE_EINVAL;
		}
	}
	for (i = 0; i < res->ntargets; i++) {
		struct route_target *tg = &res->targets[i];
		if (tg->kind == ROUTE_TARGET_WEBHOOK &&
		    !has_webhook(t, tg->name)) {
			snprintf(res->message, sizeof(res->message), "the target "
			    "webhook \"%s\" has no [webhook.%s] section",
			    tg->name, tg->name);
			return res->status = ROUTE_ENOROUTE;
		}
		if (tg->kind == ROUTE_TARGET_PARTNER) {
			const char *set = x12_set_for(tg->document_type);
			if (set == NULL) {
				snprintf(res->message, sizeof(res->message),
				    "a %s cannot be sent to a partner as EDI",
				    tg->document_type);
				return res->status = ROUTE_ENOROUTE;
			}
			snprintf(tg->edi_message, sizeof(tg->edi_message), "%s",
			    set);
		}
	}
	return res->status = ROUTE_OK;
}

static json_t *
parse_doc(const struct route_document *doc, struct route_result *res)
{
	json_error_t je;
	json_t *root;

	memset(res, 0, sizeof(*res));
	if (doc->json == NULL || doc->document_type == NULL) {
		snprintf(res->message, sizeof(res->message), "no document");
		res->status = ROUTE_EINVAL;
		return NULL;
	}
	root = json_loadb(doc->json, doc->json_len, 0, &je);
	if (root == NULL || !json_is_object(root)) {
		snprintf(res->message, sizeof(res->message), "not a JSON "
		    "object: %s", root ? "another JSON value" : je.text);
		json_decref(root);
		res->status = ROUTE_EINVAL;
		return NULL;
	}
	return root;
}

int
route_decide(struct route *r, const struct route_document *doc,
    struct route_result *res)
{
	struct route_table *t;
	const struct route_rule *rule;
	json_t *root = parse_doc(doc, res);

	if (root == NULL)
		return res->status;
	t = table_acquire(r);
	decide(t, doc, root, res, &rule);
	table_release(r, t);
	json_decref(root);
	return res->status;
}

/* ---- data quality ------------------------------------------------------ */

struct check_ctx {
	struct route_result *res;
	const struct route_check *check;
	const partner *p;
	int outbound;          /* values are ours: look them up as ours */
};

static int
required_missing(void *ctx, const char *where, json_t *v)
{
	struct check_ctx *c = ctx;

	(void)v;
	snprintf(c->res->path, sizeof(c->res->path), "$.%s", where);
	snprintf(c->res->message, sizeof(c->res->message), "required by the "
	    "data quality rules, missing");
	return 1;
}

static int
required_found(void *ctx, const char *where, json_t *v)
{
	struct check_ctx *c = ctx;

	if (json_is_string(v) && json_string_length(v) == 0) {
		snprintf(c->res->path, sizeof(c->res->path), "$.%s", where);
		snprintf(c->res->message, sizeof(c->res->message), "required "
		    "by the data quality rules, empty");
		return 1;
	}
	return 0;
}

static int
xref_found(void *ctx, const char *where, json_t *v)
{
	struct check_ctx *c = ctx;
	const char *s = json_string_value(v);
	size_t i;

	if (s == NULL)
		return 0;
	for (i = 0; c->p && i < c->p->xref_count; i++) {
		const partner_xref *x = &c->p->xrefs[i];
		if (strcmp(x->kind, c->check->kind))
			continue;
		if (!strcmp(c->outbound ? x->ours : x->theirs, s))
			return 0;
	}
	snprintf(c->res->path, sizeof(c->res->path), "$.%s", where);
	snprintf(c->res->message, sizeof(c->res->message), "%s \"%s\" has no "
	    "cross-reference in the profile of partner %s", c->check->kind, s,
	    c->p ? c->p->id : "(no profile)");
	return 1;
}

/* Loads partners_dir/<id>.xml, or NULL (no profile, or invalid). */
static partner *
load_partner(struct route *r, const char *id, char *err, size_t errsize)
{
	char path[4096], xsd[4096];
	char *perr = NULL;
	partner *p;

	if (!plain_name(id)) {
		snprintf(err, errsize, "\"%s\" is not a partner id", id);
		return NULL;
	}
	if (r->loader == NULL) {
		snprintf(xsd, sizeof(xsd), "%s/map.xsd", r->maps_dir);
		r->loader = map_loader_new(xsd, &perr);
		if (r->loader == NULL) {
			snprintf(err, errsize, "%.400s", perr ? perr : xsd);
			free(perr);
			return NULL;
		}
		r->maps = xlate_maps_new(r->maps_dir, r->loader);
	}
	snprintf(path, sizeof(path), "%s/%s.xml", r->partners_dir, id);
	snprintf(xsd, sizeof(xsd), "%s/partner.xsd", r->partners_dir);
	p = partner_load(xsd, r->loader, path, &perr);
	if (p == NULL) {
		snprintf(err, errsize, "partner %s: %s", id,
		    perr ? perr : "no valid profile");
		free(perr);
	}
	return p;
}

/* ---- EDI for partner targets ------------------------------------------- */

struct buf {
	char *data;
	size_t len, cap;
};

static int
buf_sink(void *ctx, const char *data, size_t len)
{
	struct buf *b = ctx;

	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *nd;
		while (cap < b->len + len + 1)
			cap *= 2;
		if ((nd = realloc(b->data, cap)) == NULL)
			return -1;
		b->data = nd;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

static const char *
functional_id(const char *set)
{
	if (!strcmp(set, "810")) return "IN";
	if (!strcmp(set, "855")) return "PR";
	if (!strcmp(set, "856")) return "SH";
	if (!strcmp(set, "940")) return "OW";
	if (!strcmp(set, "850")) return "PO";
	return "ZZ";
}

/*
 * Produces one X12 interchange (ISA/GS/ST ... SE/GE/IEA) holding doc for
 * partner p, with control numbers taken from the store. Called with
 * edi_mu held (the map loader is single-threaded).
 */
static int
produce_x12(struct route *r, const struct route_table *t, struct store *st,
    const partner *p, const char *set, json_t *doc, struct buf *out,
    char control[3][16], char *err, size_t errsize)
{
	const partner_message *pm = NULL;
	const map *m;
	char *merr = NULL, date[9], hhmm[5];
	edi_delimiters d;
	edi_writer *w = NULL;
	edi_builder *b = NULL;
	edi_x12_interchange isa;
	edi_x12_group gs;
	int64_t icn, gcn, scn;
	struct store_error se;
	size_t i;
	time_t now = time(NULL);
	struct tm tm;
	int rc = -1;

	for (i = 0; i < p->message_count; i++)
		if (!p->messages[i].inbound && p->messages[i].standard == MAP_X12
		    && !strcmp(p->messages[i].type, set))
			pm = &p->messages[i];
	if (pm == NULL) {
		snprintf(err, errsize, "partner %s does not receive X12 %s "
		    "(no <message direction=\"out\" type=\"%s\"> in its "
		    "profile)", p->id, set, set);
		return -1;
	}
	m = xlate_maps_find(r->maps, MAP_X12, pm->version, set, &merr);
	if (m == NULL) {
		snprintf(err, errsize, "no map for X12 %s %s: %s", set,
		    pm->version, merr ? merr : "");
		free(merr);
		return -1;
	}
	if (store_control_next(st, p->id, STORE_CONTROL_INTERCHANGE, &icn, &se)
	    || store_control_next(st, p->id, STORE_CONTROL_GROUP, &gcn, &se) ||
	    store_control_next(st, p->id, STORE_CONTROL_SET, &scn, &se)) {
		snprintf(err, errsize, "control numbers: %.400s", se.message);
		return -2;
	}
	snprintf(control[0], 16, "%09lld", (long long)icn);
	snprintf(control[1], 16, "%lld", (long long)gcn);
	snprintf(control[2], 16, "%04lld", (long long)scn);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%Y%m%d", &tm);
	strftime(hhmm, sizeof(hhmm), "%H%M", &tm);
	edi_writer_x12_delimiters(&d, p->element ? p->element : '*',
	    p->component ? p->component : '>', p->terminator ? p->terminator :
	    '~', p->repetition ? p->repetition :
	    (strncmp(pm->version, "005", 3) ? 0 : '^'),
	    !strcmp(p->line_style, "crlf") ? EDI_LINE_CRLF :
	    !strcmp(p->line_style, "lf") ? EDI_LINE_LF : EDI_LINE_NONE);
	if ((w = edi_writer_new(buf_sink, out)) == NULL ||
	    (b = edi_builder_new(w)) == NULL)
		goto done;
	memset(&isa, 0, sizeof(isa));
	isa.sender_qualifier = t->isa_qualifier;
	isa.sender_id = t->isa_id;
	isa.receiver_qualifier = p->isa_qualifier;
	isa.receiver_id = p->isa_id;
	isa.date = date;
	isa.time = hhmm;
	isa.version = strncmp(pm->version, "005", 3) ? "00401" : "00501";
	isa.control_number = (unsigned long)icn;
	isa.test = t->test;
	memset(&gs, 0, sizeof(gs));
	gs.functional_id = functional_id(set);
	gs.sender_code = t->gs_id;
	gs.receiver_code = p->gs_id[0] ? p->gs_id : p->isa_id;
	gs.control_number = (unsigned long)gcn;
	gs.version = pm->version;
	if (edi_writer_set_delimiters(w, &d) != EDI_WRITE_OK ||
	    edi_builder_x12_interchange(b, &isa) != EDI_WRITE_OK ||
	    edi_builder_x12_group(b, &gs) != EDI_WRITE_OK ||
	    edi_builder_x12_set(b, set, control[2], NULL) != EDI_WRITE_OK) {
		snprintf(err, errsize, "envelope for %s: %s", p->id,
		    edi_writer_error(w)->message);
		goto done;
	}
	if (map_out_document(m, doc, map_out_writer_sink, w, err, errsize) < 0)
		goto done;
	if (edi_builder_end_message(b) != EDI_WRITE_OK ||
	    edi_builder_end_group(b) != EDI_WRITE_OK ||
	    edi_builder_end_interchange(b) != EDI_WRITE_OK ||
	    edi_writer_flush(w) != EDI_WRITE_OK) {
		snprintf(err, errsize, "envelope for %s: %s", p->id,
		    edi_writer_error(w)->message);
		goto done;
	}
	rc = 0;
done:
	edi_builder_free(b);
	edi_writer_free(w);
	return rc;
}

/* ---- the WMS's shipment advice as a shipment ----------------------------- */

static void
copy_key(json_t *to, const char *tokey, json_t *from, const char *fromkey)
{
	json_t *v = json_object_get(from, fromkey);

	if (v != NULL)
		json_object_set(to, tokey, v);
}

/*
 * The WMS reports a shipment as a warehouse_shipment (945: one shipping
 * order, lines with what left the dock); the ERP and the retailer expect a
 * shipment (856: shipment / order / pack / item). The retailer's order is
 * the warehouse order's order_number; each line with an SSCC becomes a
 * pack of its own, lines without one hang under the order directly.
 * Returns a new reference.
 */
static json_t *
shipment_from_warehouse(json_t *ws)
{
	json_t *sh = json_object(), *order = json_object();
	json_t *packs = json_array(), *items = json_array(), *orders, *v;
	json_t *lines = json_object_get(ws, "lines");
	static const char *const line_keys[] = { "line_number", "item",
	    "quantity_shipped", "unit", "quantity_ordered", "description",
	    "lot", NULL };
	size_t i, k;

	json_object_set_new(sh, "type", json_string("shipment"));
	copy_key(sh, "meta", ws, "meta");
	json_object_set_new(sh, "purpose", json_string("original"));
	copy_key(sh, "shipment_id", ws, "shipment_id");
	if (json_object_get(sh, "shipment_id") == NULL)
		copy_key(sh, "shipment_id", ws, "shipping_order_number");
	copy_key(sh, "shipment_date", ws, "ship_date");
	if (json_object_get(sh, "shipment_date") == NULL &&
	    (v = json_object_get(json_object_get(ws, "dates"),
	    "shipped_date")) != NULL)
		json_object_set(sh, "shipment_date", v);
	/* The 945's status (complete, partial) is no 856 line status code. */
	copy_key(sh, "parties", ws, "parties");
	copy_key(sh, "references", ws, "references");
	copy_key(sh, "totals", ws, "totals");
	copy_key(order, "order_number", ws, "order_number");
	if (json_object_get(order, "order_number") == NULL)
		copy_key(order, "order_number", ws, "depositor_order_number");
	json_array_foreach(lines, i, v) {
		json_t *item = json_object(), *sscc;
		for (k = 0; line_keys[k]; k++)
			copy_key(item, line_keys[k], v, line_keys[k]);
		sscc = json_object_get(v, "sscc");
		if (json_is_string(sscc)) {
			json_t *pack = json_object(), *pi = json_array();
			/* An SSCC labels one logistic unit: one package
			 * (EDIFACT carries the SSCC under its PAC). */
			json_object_set_new(pack, "packaging", json_pack(
			    "[{s:s}]", "package_count", "1"));
			json_object_set(pack, "sscc", sscc);
			json_array_append_new(pi, item);
			json_object_set_new(pack, "items", pi);
			json_array_append_new(packs, pack);
		} else
			json_array_append_new(items, item);
	}
	if (json_array_size(packs))
		json_object_set(order, "packs", packs);
	if (json_array_size(items))
		json_object_set(order, "items", items);
	json_decref(packs);
	json_decref(items);
	orders = json_array();
	json_array_append_new(orders, order);
	json_object_set_new(sh, "orders", orders);
	return sh;
}

/* Control numbers for xlate_out from the store's per-partner counters. */
struct edifact_controls {
	struct store *st;
	const char *partner;
	char (*control)[16];
	int failed;
	char error[256];
};

static int
next_edifact_control(void *ctx, xlate_control_kind kind, unsigned long *value)
{
	struct edifact_controls *c = ctx;
	struct store_error se;
	int64_t v;
	enum store_control_kind sk = kind == XLATE_CONTROL_INTERCHANGE ?
	    STORE_CONTROL_INTERCHANGE : kind == XLATE_CONTROL_GROUP ?
	    STORE_CONTROL_GROUP : STORE_CONTROL_SET;
	int slot = kind == XLATE_CONTROL_INTERCHANGE ? 0 :
	    kind == XLATE_CONTROL_GROUP ? 1 : 2;

	if (store_control_next(c->st, c->partner, sk, &v, &se)) {
		c->failed = 1;
		snprintf(c->error, sizeof(c->error), "control numbers: %.200s",
		    se.message);
		return -1;
	}
	*value = (unsigned long)v;
	snprintf(c->control[slot], 16, "%lld", (long long)v);
	return 0;
}

/*
 * Produces one EDIFACT interchange (UNA/UNB/UNH ... UNT/UNZ) holding doc
 * for partner p through xlate_out: the message (ORDRSP, DESADV, INVOIC)
 * and version come from the partner's outbound message list. Called with
 * edi_mu held. -2 when the store failed.
 */
static int
produce_edifact(struct route *r, const struct route_table *t,
    struct store *st, const partner *p, json_t *doc, struct buf *out,
    char control[3][16], char *err, size_t errsize)
{
	struct edifact_controls c = { st, p->id, control, 0, "" };
	edi_writer_memory mem = { 0 };
	json_t *docs = json_array();
	char date[9], hhmm[5];
	time_t now = time(NULL);
	struct tm tm;
	int rc;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%Y%m%d", &tm);
	strftime(hhmm, sizeof(hhmm), "%H%M", &tm);
	xlate_out_options opt = {
		.standard = MAP_EDIFACT,
		.partner = p,
		.sender = t->unb_id,
		.sender_qualifier = t->unb_qualifier[0] ? t->unb_qualifier :
		    NULL,
		.date = date,
		.time = hhmm,
		.control = next_edifact_control,
		.control_ctx = &c,
		.test = t->test,
	};
	control[0][0] = control[1][0] = control[2][0] = '\0';
	json_array_append(docs, doc);
	rc = xlate_out_interchange(r->maps, docs, &opt,
	    edi_writer_memory_sink, &mem, err, errsize);
	json_decref(docs);
	if (rc == 0 && buf_sink(out, mem.data ? mem.data : "", mem.len) != 0) {
		snprintf(err, errsize, "out of memory");
		rc = -1;
	}
	edi_writer_memory_free(&mem);
	if (c.failed) {
		snprintf(err, errsize, "%s", c.error);
		return -2;
	}
	return rc < 0 ? -1 : 0;
}

/* ---- queuing ----------------------------------------------------------- */

static void
event_detail(const struct route_result *res, char *out, size_t size)
{
	json_t *o = json_object(), *a = json_array();
	char *s;
	size_t i;

	json_object_set_new(o, "rule", json_string(res->rule));
	json_object_set_new(o, "status", json_string(route_status_name(
	    res->status)));
	for (i = 0; i < res->ntargets; i++) {
		const struct route_target *t = &res->targets[i];
		json_t *e = json_object();
		json_object_set_new(e, "kind", json_string(
		    t->kind == ROUTE_TARGET_WEBHOOK ? "webhook" : "partner"));
		json_object_set_new(e, "name", json_string(t->name));
		json_object_set_new(e, "document_type",
		    json_string(t->document_type));
		if (t->edi_message[0])
			json_object_set_new(e, "edi", json_string(
			    t->edi_message));
		json_object_set_new(e, "delivery_id",
		    json_integer(t->delivery_id));
		if (t->outbound_message_id)
			json_object_set_new(e, "message_id",
			    json_integer(t->outbound_message_id));
		json_array_append_new(a, e);
	}
	json_object_set_new(o, "targets", a);
	if (res->path[0])
		json_object_set_new(o, "path", json_string(res->path));
	if (res->message[0])
		json_object_set_new(o, "error", json_string(res->message));
	s = json_dumps(o, JSON_COMPACT);
	snprintf(out, size, "%s", s ? s : "{}");
	free(s);
	json_decref(o);
}

static int
run_checks(struct route *r, const struct route_rule *rule,
    const struct route_document *doc, json_t *root, struct route_result *res)
{
	partner *p = NULL;
	char where[256], err[512];
	size_t i;
	int rc = 0;

	if (rule == NULL || rule->nchecks == 0)
		return 0;
	for (i = 0; i < rule->nchecks && rc == 0; i++) {
		const struct route_check *c = &rule->checks[i];
		struct check_ctx ctx = { res, c, NULL,
		    doc->origin == ROUTE_FROM_SYSTEM };
		where[0] = '\0';
		if (c->kind == NULL) {
			rc = walk(root, c->path, where, 0, sizeof(where),
			    required_found, required_missing, &ctx);
			continue;
		}
		if (p == NULL && doc->partner) {
			pthread_mutex_lock(&r->edi_mu);
			p = load_partner(r, doc->partner, err, sizeof(err));
			pthread_mutex_unlock(&r->edi_mu);
		}
		ctx.p = p;
		rc = walk(root, c->path, where, 0, sizeof(where), xref_found,
		    NULL, &ctx);
	}
	partner_free(p);
	if (rc) {
		res->status = ROUTE_EREJECTED;
		res->ntargets = 0;
	}
	return rc;
}

/*
 * Stores what one target receives as its own message (the EDI interchange
 * for a partner, the canonical document for a webhook) so a delivery
 * always points at the exact bytes to send, and queues its delivery.
 */
static int
queue_one(struct route *r, const struct route_table *t, struct store *st,
    const struct route_document *doc, json_t *root, struct route_target *tg,
    const char *endpoint, const char *key, const char *order_key,
    struct buf *edi, struct route_result *res)
{
	struct store_message m;
	struct store_error se;
	struct spool_error spe;
	struct buf out = { NULL, 0, 0 };
	char control[3][16], err[512] = "", detail[256], *conv_text = NULL;
	const char *bytes = doc->json;
	size_t len = doc->json_len;
	json_t *conv = NULL;

	if (!strcmp(doc->document_type, "warehouse_shipment") &&
	    !strcmp(tg->document_type, "shipment")) {
		conv = shipment_from_warehouse(root);
		root = conv;
		if (tg->kind == ROUTE_TARGET_WEBHOOK) {
			conv_text = json_dumps(conv, JSON_COMPACT |
			    JSON_PRESERVE_ORDER);
			if (conv_text == NULL) {
				json_decref(conv);
				return res->status = ROUTE_ENOMEM;
			}
			bytes = conv_text;
			len = strlen(conv_text);
		}
	}

	memset(&m, 0, sizeof(m));
	m.direction = STORE_OUT;
	snprintf(m.partner, sizeof(m.partner), "%s", doc->partner ?
	    doc->partner : "");
	snprintf(m.state, sizeof(m.state), "queued");
	snprintf(m.correlation_id, sizeof(m.correlation_id), "%s",
	    doc->correlation_id ? doc->correlation_id : "");
	if (tg->kind == ROUTE_TARGET_PARTNER) {
		partner *p;
		int rc;

		pthread_mutex_lock(&r->edi_mu);
		p = load_partner(r, tg->name, err, sizeof(err));
		/* A partner with only an EDIFACT identity gets EDIFACT. */
		if (p && p->isa_id[0] == '\0' && p->unb_id[0]) {
			const char *msg = xlate_out_message_for(MAP_EDIFACT,
			    tg->document_type);
			if (msg == NULL) {
				snprintf(err, sizeof(err), "a %s cannot be sent "
				    "as EDIFACT", tg->document_type);
				rc = -1;
			} else {
				snprintf(tg->edi_message,
				    sizeof(tg->edi_message), "%s", msg);
				rc = produce_edifact(r, t, st, p, root, &out,
				    control, err, sizeof(err));
			}
		} else
			rc = p ? produce_x12(r, t, st, p, tg->edi_message,
			    root, &out, control, err, sizeof(err)) : -1;
		pthread_mutex_unlock(&r->edi_mu);
		partner_free(p);
		if (rc) {
			free(out.data);
			json_decref(conv);
			snprintf(res->message, sizeof(res->message), "%s", err);
			return res->status = rc == -2 ? ROUTE_ESTORE :
			    ROUTE_ETRANSLATE;
		}
		snprintf(m.partner, sizeof(m.partner), "%s", tg->name);
		snprintf(m.transport, sizeof(m.transport), "edi");
		snprintf(m.message_type, sizeof(m.message_type), "%s",
		    tg->edi_message);
		snprintf(m.interchange_control, sizeof(m.interchange_control),
		    "%s", control[0]);
		snprintf(m.group_control, sizeof(m.group_control), "%s",
		    control[1]);
		snprintf(m.set_control, sizeof(m.set_control), "%s",
		    control[2]);
		bytes = out.data;
		len = out.len;
	} else {
		snprintf(m.transport, sizeof(m.transport), "webhook");
		snprintf(m.message_type, sizeof(m.message_type), "%s",
		    tg->document_type);
	}
	m.size = (int64_t)len;
	json_decref(conv);
	if (store_spool(st) == NULL || spool_put(store_spool(st), bytes, len,
	    m.payload_hash, &spe) != 0) {
		free(out.data);
		free(conv_text);
		snprintf(res->message, sizeof(res->message), "spool: %s",
		    store_spool(st) ? spe.message : "no spool");
		return res->status = ROUTE_ESTORE;
	}
	free(conv_text);
	/* The caller records the ack expectations of the interchange once
	 * the transaction is committed. */
	if (edi != NULL && out.data != NULL) {
		free(edi->data);
		*edi = out;
	} else
		free(out.data);
	snprintf(detail, sizeof(detail), "{\"source_message_id\":%lld,"
	    "\"endpoint\":\"%s\"}", (long long)doc->message_id, endpoint);
	if (store_message_put(st, &m, detail, &se) != STORE_OK ||
	    store_delivery_enqueue_ordered(st, m.id, endpoint, key, order_key,
	    store_now_us(), &tg->delivery_id, &tg->existed, &se) != STORE_OK) {
		snprintf(res->message, sizeof(res->message), "%s", se.message);
		return res->status = ROUTE_ESTORE;
	}
	tg->outbound_message_id = m.id;
	return ROUTE_OK;
}

static const char *
transport_of(const struct route_table *t, const char *id)
{
	size_t i;

	for (i = 0; i < t->ntp; i++)
		if (!strcmp(t->tp_ids[i], id))
			return t->tp_names[i];
	return t->transport;
}

/*
 * The business key documents are kept in order by: the order number
 * (order, order_response, invoice, warehouse documents) or the first
 * order of a shipment. NULL when the document has none.
 */
static const char *
business_key(json_t *root)
{
	const char *k = json_string_value(json_object_get(root,
	    "order_number"));

	if (k == NULL || k[0] == '\0')
		k = json_string_value(json_object_get(json_array_get(
		    json_object_get(root, "orders"), 0), "order_number"));
	return k && k[0] ? k : NULL;
}

/* Whether doc keeps business-key order: the deciding rule's ordered =,
 * else [route] ordered (partner ids or "*"). */
static int
is_ordered(const struct route_table *t, const struct route_rule *rule,
    const struct route_document *doc)
{
	size_t i;

	if (rule && rule->ordered >= 0)
		return rule->ordered;
	for (i = 0; i < t->nordered; i++)
		if (!strcmp(t->ordered[i], "*") || (doc->partner &&
		    !strcmp(t->ordered[i], doc->partner)))
			return 1;
	return 0;
}

static int
queue_targets(struct route *r, const struct route_table *t, struct store *st,
    const struct route_document *doc, json_t *root, struct buf *edi,
    int ordered, struct route_result *res)
{
	struct store_error se;
	const char *bkey = ordered ? business_key(root) : NULL;
	size_t i;

	for (i = 0; i < res->ntargets; i++) {
		struct route_target *tg = &res->targets[i];
		char endpoint[ROUTE_NAME_MAX + 16], key[DELIVER_KEY_MAX + 1];
		char hash[SPOOL_HASH_HEX + 1], *prev = NULL, body[96];
		char okey[STORE_ORDER_KEY_MAX + 1];
		enum store_idem_outcome oc;
		int status = 0;

		/* The key names the target, not the transport, so moving a
		 * partner from SFTP to AS2 does not make old documents new. */
		snprintf(endpoint, sizeof(endpoint), "%s:%s",
		    tg->kind == ROUTE_TARGET_WEBHOOK ? "webhook" : "partner",
		    tg->name);
		deliver_idempotency_key(doc->origin == ROUTE_FROM_PARTNER ?
		    doc->partner : doc->system, doc->interchange_control,
		    doc->group_control, doc->set_control, endpoint, doc->json,
		    doc->json_len, key);
		if (tg->kind == ROUTE_TARGET_PARTNER)
			snprintf(endpoint, sizeof(endpoint), "%s:%s",
			    transport_of(t, tg->name), tg->name);
		/* The same document routed again must not take new control
		 * numbers nor store a second copy: the key remembers what
		 * the first routing queued. */
		store_sha256_hex(doc->json, doc->json_len, hash);
		if (store_idempotency_begin(st, "route", key, hash, &oc,
		    &status, &prev, &se) != 0) {
			snprintf(res->message, sizeof(res->message), "%s",
			    se.message);
			return res->status = ROUTE_ESTORE;
		}
		if (oc == STORE_IDEM_REPLAY && prev) {
			long long d = 0, mm = 0;
			sscanf(prev, "{\"delivery_id\":%lld,\"message_id\":%lld}",
			    &d, &mm);
			free(prev);
			tg->delivery_id = d;
			tg->outbound_message_id = mm;
			tg->existed = 1;
			continue;
		}
		free(prev);
		if (bkey)
			snprintf(okey, sizeof(okey), "%s|%s|%s", endpoint,
			    doc->partner ? doc->partner : "", bkey);
		if (queue_one(r, t, st, doc, root, tg, endpoint, key,
		    bkey ? okey : NULL, &edi[i], res) != ROUTE_OK)
			return res->status;
		snprintf(body, sizeof(body), "{\"delivery_id\":%lld,"
		    "\"message_id\":%lld}", (long long)tg->delivery_id,
		    (long long)tg->outbound_message_id);
		if (store_idempotency_finish(st, "route", key, 200, body,
		    &se) != 0) {
			snprintf(res->message, sizeof(res->message), "%s",
			    se.message);
			return res->status = ROUTE_ESTORE;
		}
	}
	return ROUTE_OK;
}

/*
 * Every interchange we send expects its functional ack (997/999/CONTRL,
 * the partner's SLA): recorded here, after the routing transaction, for
 * the interchanges this routing produced (a repeat produced none). A
 * failure to record is logged as an event and does not undo the routing:
 * the document is queued and will be sent; only the ack watch is missing.
 */
static void
expect_acks(struct route *r, struct store *st, const struct route_result *res,
    const struct buf *edi)
{
	struct ack_track_profile prof;
	struct ack_track_expect_summary sum;
	struct store_error se;
	char err[512], detail[700];
	size_t i;

	for (i = 0; i < res->ntargets; i++) {
		const struct route_target *tg = &res->targets[i];
		partner *p;
		if (tg->kind != ROUTE_TARGET_PARTNER || tg->existed ||
		    edi[i].data == NULL)
			continue;
		pthread_mutex_lock(&r->edi_mu);
		p = load_partner(r, tg->name, err, sizeof(err));
		pthread_mutex_unlock(&r->edi_mu);
		if (p == NULL)
			continue;
		ack_track_profile_from_partner(&prof, p);
		partner_free(p);
		if (ack_track_expect(st, &prof, tg->outbound_message_id,
		    edi[i].data, edi[i].len, 0, &sum, &se) != 0) {
			json_t *o = json_pack("{s:s}", "error", se.message);
			char *d = o ? json_dumps(o, JSON_COMPACT) : NULL;
			snprintf(detail, sizeof(detail), "%s", d ? d : "{}");
			free(d);
			json_decref(o);
			(void)store_event_append(st, tg->outbound_message_id,
			    NULL, "ack.expect-failed", detail, NULL, &se);
		}
	}
}

int
route_document(struct route *r, struct store *st,
    const struct route_document *doc, struct route_result *res)
{
	struct route_table *t;
	const struct route_rule *rule = NULL;
	struct store_error se;
	struct buf edi[ROUTE_TARGETS_MAX];
	char detail[4096];
	json_t *root = parse_doc(doc, res);
	size_t i;

	if (root == NULL)
		return res->status;
	memset(edi, 0, sizeof(edi));
	t = table_acquire(r);
	if (decide(t, doc, root, res, &rule) == ROUTE_OK &&
	    run_checks(r, rule, doc, root, res) == 0) {
		if (store_tx_begin(st, &se) != 0) {
			snprintf(res->message, sizeof(res->message), "%s",
			    se.message);
			res->status = ROUTE_ESTORE;
		} else if (queue_targets(r, t, st, doc, root, edi,
		    is_ordered(t, rule, doc), res) != ROUTE_OK) {
			store_tx_rollback(st);
			/* The targets were not queued: do not report them. */
			res->ntargets = 0;
		} else {
			event_detail(res, detail, sizeof(detail));
			if (store_event_append(st, doc->message_id,
			    doc->correlation_id, "route.decided", detail, NULL,
			    &se) != 0 || store_tx_commit(st, &se) != 0) {
				store_tx_rollback(st);
				snprintf(res->message, sizeof(res->message),
				    "%s", se.message);
				res->status = ROUTE_ESTORE;
				res->ntargets = 0;
			} else
				expect_acks(r, st, res, edi);
		}
	}
	for (i = 0; i < ROUTE_TARGETS_MAX; i++)
		free(edi[i].data);
	if (res->status != ROUTE_OK && res->status != ROUTE_ESTORE) {
		event_detail(res, detail, sizeof(detail));
		(void)store_event_append(st, doc->message_id,
		    doc->correlation_id, "route.rejected", detail, NULL, &se);
	}
	table_release(r, t);
	json_decref(root);
	return res->status;
}

int
route_hook(void *ctx, struct store *st, const struct route_document *doc,
    struct route_result *res)
{
	return route_document(ctx, st, doc, res);
}
