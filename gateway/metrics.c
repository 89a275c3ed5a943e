/*
 * metrics - counters, gauges, histograms; Prometheus text. See metrics.h.
 *
 * Series are kept in a singly linked list per family in first-use order.
 * Lookups are linear: families have a handful of series in practice (one
 * per partner and type, per route and status), and a hash would cost more
 * code than it saves at that size.
 */
#include "config.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

enum metrics_type { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM };

struct series {
	struct series *next;
	char **values;            /* nlabels strings */
	double value;             /* counter, gauge; histogram sum */
	unsigned long long count; /* histogram */
	unsigned long long *buckets; /* histogram, non-cumulative per bound */
};

struct metrics_family {
	struct metrics_family *next;
	struct metrics *registry;
	enum metrics_type type;
	char *name;
	char *help;
	char *labels[METRICS_MAX_LABELS];
	size_t nlabels;
	double bounds[METRICS_MAX_BUCKETS];
	size_t nbounds;
	struct series *series, **series_tail;
	size_t nseries;
};

struct metrics {
	pthread_mutex_t lock;
	struct metrics_family *families, **tail;
	unsigned long long dropped;
};

struct metrics *
metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	m->tail = &m->families;
	return m;
}

static void
series_free(struct series *s, size_t nlabels)
{
	size_t i;

	for (i = 0; i < nlabels; i++)
		free(s->values[i]);
	free(s->values);
	free(s->buckets);
	free(s);
}

void
metrics_free(struct metrics *m)
{
	struct metrics_family *f, *fn;
	struct series *s, *sn;
	size_t i;

	if (m == NULL)
		return;
	for (f = m->families; f; f = fn) {
		fn = f->next;
		for (s = f->series; s; s = sn) {
			sn = s->next;
			series_free(s, f->nlabels);
		}
		for (i = 0; i < f->nlabels; i++)
			free(f->labels[i]);
		free(f->name);
		free(f->help);
		free(f);
	}
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static int
valid_name(const char *s, int colon)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return 0;
	for (i = 0; s[i]; i++) {
		char c = s[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    c == '_' || (colon && c == ':') ||
		    (i > 0 && c >= '0' && c <= '9');
		if (!ok)
			return 0;
	}
	return 1;
}

static struct metrics_family *
family_new(struct metrics *m, enum metrics_type type, const char *name,
    const char *help, const char *const *labels)
{
	struct metrics_family *f, *g;
	size_t i;

	if (m == NULL || !valid_name(name, 1))
		return NULL;
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	f->registry = m;
	f->type = type;
	f->name = strdup(name);
	f->help = strdup(help ? help : "");
	f->series_tail = &f->series;
	for (i = 0; labels && labels[i]; i++) {
		if (i >= METRICS_MAX_LABELS || !valid_name(labels[i], 0) ||
		    (type == METRICS_HISTOGRAM && strcmp(labels[i], "le") == 0))
			goto fail;
		f->labels[i] = strdup(labels[i]);
		f->nlabels++;
		if (f->labels[i] == NULL)
			goto fail;
	}
	if (f->name == NULL || f->help == NULL)
		goto fail;
	pthread_mutex_lock(&m->lock);
	for (g = m->families; g; g = g->next)
		if (strcmp(g->name, name) == 0) {
			pthread_mutex_unlock(&m->lock);
			goto fail;
		}
	*m->tail = f;
	m->tail = &f->next;
	pthread_mutex_unlock(&m->lock);
	return f;
fail:
	for (i = 0; i < f->nlabels; i++)
		free(f->labels[i]);
	free(f->name);
	free(f->help);
	free(f);
	return NULL;
}

struct metrics_family *
metrics_counter(struct metrics *m, const char *name, const char *help,
    const char *const *labels)
{
	return family_new(m, METRICS_COUNTER, name, help, labels);
}

struct metrics_family *
metrics_gauge(struct metrics *m, const char *name, const char *help,
    const char *const *labels)
{
	return family_new(m, METRICS_GAUGE, name, help, labels);
}

struct metrics_family *
metrics_histogram(struct metrics *m, const char *name, const char *help,
    const char *const *labels, const double *bounds, size_t nbounds)
{
	struct metrics_family *f;
	size_t i;

	if (nbounds == 0 || nbounds > METRICS_MAX_BUCKETS || bounds == NULL)
		return NULL;
	for (i = 0; i < nbounds; i++)
		if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
			return NULL;
	/* Bounds are set before the family becomes visible to others. */
	f = family_new(m, METRICS_HISTOGRAM, name, help, labels);
	if (f == NULL)
		return NULL;
	pthread_mutex_lock(&m->lock);
	memcpy(f->bounds, bounds, nbounds * sizeof(double));
	f->nbounds = nbounds;
	pthread_mutex_unlock(&m->lock);
	return f;
}

/* Called with the lock held. */
static struct series *
series_get(struct metrics_family *f, const char *const *values)
{
	struct series *s;
	size_t i;

	for (i = 0; i < f->nlabels; i++)
		if (values == NULL || values[i] == NULL)
			return NULL;
	for (s = f->series; s; s = s->next) {
		for (i = 0; i < f->nlabels; i++)
			if (strcmp(s->values[i], values[i]) != 0)
				break;
		if (i == f->nlabels)
			return s;
	}
	if (f->nseries >= METRICS_MAX_SERIES) {
		f->registry->dropped++;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->values = calloc(f->nlabels ? f->nlabels : 1, sizeof(char *));
	if (f->type == METRICS_HISTOGRAM)
		s->buckets = calloc(f->nbounds, sizeof(unsigned long long));
	if (s->values == NULL ||
	    (f->type == METRICS_HISTOGRAM && s->buckets == NULL))
		goto fail;
	for (i = 0; i < f->nlabels; i++)
		if ((s->values[i] = strdup(values[i])) == NULL)
			goto fail;
	*f->series_tail = s;
	f->series_tail = &s->next;
	f->nseries++;
	return s;
fail:
	series_free(s, f->nlabels);
	return NULL;
}

static int
update(struct metrics_family *f, enum metrics_type type,
    const char *const *values, double v, int set)
{
	struct series *s;
	size_t i;

	if (f == NULL || f->type != type || isnan(v))
		return -1;
	if (type == METRICS_COUNTER && v < 0)
		return -1;
	pthread_mutex_lock(&f->registry->lock);
	s = series_get(f, values);
	if (s == NULL) {
		pthread_mutex_unlock(&f->registry->lock);
		return -1;
	}
	if (type == METRICS_HISTOGRAM) {
		for (i = 0; i < f->nbounds; i++)
			if (v <= f->bounds[i]) {
				s->buckets[i]++;
				break;
			}
		s->count++;
		s->value += v;
	} else if (set)
		s->value = v;
	else
		s->value += v;
	pthread_mutex_unlock(&f->registry->lock);
	return 0;
}

int
metrics_counter_add(struct metrics_family *f, const char *const *values,
    double v)
{
	return update(f, METRICS_COUNTER, values, v, 0);
}

int
metrics_gauge_set(struct metrics_family *f, const char *const *values,
    double v)
{
	return update(f, METRICS_GAUGE, values, v, 1);
}

int
metrics_gauge_add(struct metrics_family *f, const char *const *values,
    double v)
{
	return update(f, METRICS_GAUGE, values, v, 0);
}

int
metrics_histogram_observe(struct metrics_family *f, const char *const *values,
    double v)
{
	return update(f, METRICS_HISTOGRAM, values, v, 0);
}

void
metrics_family_clear(struct metrics_family *f)
{
	struct series *s, *next;

	if (f == NULL)
		return;
	pthread_mutex_lock(&f->registry->lock);
	for (s = f->series; s != NULL; s = next) {
		next = s->next;
		series_free(s, f->nlabels);
	}
	f->series = NULL;
	f->series_tail = &f->series;
	f->nseries = 0;
	pthread_mutex_unlock(&f->registry->lock);
}

/* Growable output buffer; a failed allocation poisons it. */
struct out {
	char *buf;
	size_t len, cap;
	int failed;
};

static void
out_put(struct out *o, const char *p, size_t n)
{
	char *nb;
	size_t ncap;

	if (o->failed)
		return;
	if (o->len + n + 1 > o->cap) {
		ncap = o->cap ? o->cap : 1024;
		while (o->len + n + 1 > ncap)
			ncap *= 2;
		nb = realloc(o->buf, ncap);
		if (nb == NULL) {
			o->failed = 1;
			return;
		}
		o->buf = nb;
		o->cap = ncap;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static void
out_str(struct out *o, const char *s)
{
	out_put(o, s, strlen(s));
}

/* Shortest text that reads back as the same double; integers without an
 * exponent or fraction, as Prometheus clients commonly write them. */
static void
format_number(char *buf, size_t size, double v)
{
	if (isnan(v))
		snprintf(buf, size, "NaN");
	else if (isinf(v))
		snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 9007199254740992.0)
		snprintf(buf, size, "%.0f", v);
	else {
		int prec;
		for (prec = 1; prec < 17; prec++) {
			snprintf(buf, size, "%.*g", prec, v);
			if (strtod(buf, NULL) == v)
				return;
		}
		snprintf(buf, size, "%.17g", v);
	}
}

static void
out_number(struct out *o, double v)
{
	char buf[64];

	format_number(buf, sizeof(buf), v);
	out_str(o, buf);
}

/* HELP text escapes \ and newline; label values also escape ". */
static void
out_escaped(struct out *o, const char *s, int quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			out_put(o, "\\\\", 2);
		else if (*s == '\n')
			out_put(o, "\\n", 2);
		else if (quote && *s == '"')
			out_put(o, "\\\"", 2);
		else
			out_put(o, s, 1);
	}
}

/* name{l1="v1",...[,le="x"]} */
static void
out_series_name(struct out *o, const struct metrics_family *f,
    const struct series *s, const char *suffix, const char *le)
{
	size_t i;
	int any = 0;

	out_str(o, f->name);
	out_str(o, suffix);
	for (i = 0; i < f->nlabels; i++) {
		out_str(o, any ? "," : "{");
		any = 1;
		out_str(o, f->labels[i]);
		out_str(o, "=\"");
		out_escaped(o, s->values[i], 1);
		out_str(o, "\"");
	}
	if (le) {
		out_str(o, any ? "," : "{");
		any = 1;
		out_str(o, "le=\"");
		out_str(o, le);
		out_str(o, "\"");
	}
	if (any)
		out_str(o, "}");
	out_str(o, " ");
}

static const char *const type_names[] = { "counter", "gauge", "histogram" };

char *
metrics_render(struct metrics *m, size_t *len)
{
	struct out o = { 0 };
	struct metrics_family *f;
	struct series *s;
	unsigned long long cumulative;
	char le[64];
	size_t i;

	pthread_mutex_lock(&m->lock);
	for (f = m->families; f; f = f->next) {
		out_str(&o, "# HELP ");
		out_str(&o, f->name);
		out_str(&o, " ");
		out_escaped(&o, f->help, 0);
		out_str(&o, "\n# TYPE ");
		out_str(&o, f->name);
		out_str(&o, " ");
		out_str(&o, type_names[f->type]);
		out_str(&o, "\n");
		for (s = f->series; s; s = s->next) {
			if (f->type != METRICS_HISTOGRAM) {
				out_series_name(&o, f, s, "", NULL);
				out_number(&o, s->value);
				out_str(&o, "\n");
				continue;
			}
			cumulative = 0;
			for (i = 0; i < f->nbounds; i++) {
				cumulative += s->buckets[i];
				format_number(le, sizeof(le), f->bounds[i]);
				out_series_name(&o, f, s, "_bucket", le);
				out_number(&o, (double)cumulative);
				out_str(&o, "\n");
			}
			out_series_name(&o, f, s, "_bucket", "+Inf");
			out_number(&o, (double)s->count);
			out_str(&o, "\n");
			out_series_name(&o, f, s, "_sum", NULL);
			out_number(&o, s->value);
			out_str(&o, "\n");
			out_series_name(&o, f, s, "_count", NULL);
			out_number(&o, (double)s->count);
			out_str(&o, "\n");
		}
	}
	if (m->dropped) {
		out_str(&o, "# HELP edigate_metrics_series_dropped_total Label "
		    "combinations refused because a family reached its series "
		    "limit.\n# TYPE edigate_metrics_series_dropped_total "
		    "counter\nedigate_metrics_series_dropped_total ");
		out_number(&o, (double)m->dropped);
		out_str(&o, "\n");
	}
	pthread_mutex_unlock(&m->lock);
	if (o.failed || o.buf == NULL) {
		if (!o.failed && o.buf == NULL) {
			o.buf = strdup("");
			if (o.buf) {
				if (len)
					*len = 0;
				return o.buf;
			}
		}
		free(o.buf);
		return NULL;
	}
	if (len)
		*len = o.len;
	return o.buf;
}
