/*
 * metrics - a registry of counters, gauges and histograms with labels,
 * rendered in the Prometheus text exposition format (version 0.0.4).
 *
 * OWNS
 *   The metric families registered with it and all their series. A module
 *   registers its families once at start-up (metrics_counter() and
 *   friends return a handle it keeps) and then updates series by label
 *   values from any thread.
 *
 * INVARIANTS
 *   - Thread-safe: one mutex per registry guards every family and series;
 *     updates are a lookup and an add, so contention stays small.
 *   - Output order is registration order for families and first-use order
 *     for series, so the text is stable and testable.
 *   - A family holds at most METRICS_MAX_SERIES series. Labels can come
 *     from partners (partner ids, message types); past the limit further
 *     new label combinations are dropped and counted in
 *     edigate_metrics_series_dropped_total, so memory stays bounded.
 *   - Names must match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
 *     [a-zA-Z_][a-zA-Z0-9_]*; registering an invalid or duplicate name
 *     returns NULL. Label values are escaped (\\, \", \n) on output.
 *
 * NEVER
 *   Aborts on a bad name or label count (it returns an error), or takes a
 *   lock while calling out of the module.
 */
#ifndef EDIGATE_METRICS_H
#define EDIGATE_METRICS_H

#include <stddef.h>

#define METRICS_MAX_LABELS 8
#define METRICS_MAX_SERIES 10000
#define METRICS_MAX_BUCKETS 32

struct metrics;
struct metrics_family;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* Registers a family. labels is a NULL-terminated list of label names, or
 * NULL for none. Returns the handle, or NULL for an invalid or duplicate
 * name. The registry keeps copies of the strings. */
struct metrics_family *metrics_counter(struct metrics *m, const char *name,
    const char *help, const char *const *labels);
struct metrics_family *metrics_gauge(struct metrics *m, const char *name,
    const char *help, const char *const *labels);
/* bounds: strictly increasing upper bounds, without +Inf (added). */
struct metrics_family *metrics_histogram(struct metrics *m, const char *name,
    const char *help, const char *const *labels, const double *bounds,
    size_t nbounds);

/* Updates the series with these label values (one per label name of the
 * family, in order; NULL when the family has no labels). Return 0, or -1
 * for a wrong family type, a negative counter increment, or a dropped
 * series. */
int metrics_counter_add(struct metrics_family *f, const char *const *values,
    double v);
int metrics_gauge_set(struct metrics_family *f, const char *const *values,
    double v);
int metrics_gauge_add(struct metrics_family *f, const char *const *values,
    double v);
int metrics_histogram_observe(struct metrics_family *f,
    const char *const *values, double v);

/* Drops every series of the family (a gauge whose label set is rebuilt,
 * e.g. the certificates of a reloaded partner set). */
void metrics_family_clear(struct metrics_family *f);

/* The whole registry as exposition text; malloc'ed, NUL-terminated, *len
 * (when not NULL) excludes the NUL. NULL when out of memory. */
char *metrics_render(struct metrics *m, size_t *len);

/* The content type to send with metrics_render() output. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
