/*
 * cert_watch - certificate expiry as metrics and log warnings. See
 * cert_watch.h.
 *
 * Everything runs on the loop thread: the list is read at start and in
 * the reload hook (a few small PEM files), the timer only does
 * arithmetic on the list in memory.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cert_watch.h"
#include "configfile.h"
#include "daemon.h"
#include "log.h"
#include "metrics.h"
#include "partner.h"
#include "partner_set.h"

/* How often the gauges are brought up to date: "seconds until" must not
 * go stale between two daily checks. */
#define CERT_WATCH_REFRESH_MS 60000u

static void
append(char *err, size_t errsize, const char *fmt, const char *a,
    const char *b)
{
	size_t n = strlen(err);
	if (n < errsize)
		snprintf(err + n, errsize - n, fmt, a, b);
}

static int
asn1_to_time(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	*out = timegm(&tm);
	return 0;
}

static int
describe(X509 *x, struct cert_watch_entry *e)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	BIGNUM *bn;
	char *hex;

	if (asn1_to_time(X509_get0_notBefore(x), &e->not_before) != 0 ||
	    asn1_to_time(X509_get0_notAfter(x), &e->not_after) != 0)
		return -1;
	if (X509_digest(x, EVP_sha256(), md, &mdlen) != 1 || mdlen != 32)
		return -1;
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(e->fingerprint + 2 * i, 3, "%02x", md[i]);
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	hex = bn ? BN_bn2hex(bn) : NULL;
	snprintf(e->serial, sizeof(e->serial), "%s", hex ? hex : "");
	OPENSSL_free(hex);
	BN_free(bn);
	X509_NAME_oneline(X509_get_subject_name(x), e->subject,
	    sizeof(e->subject));
	return 0;
}

/* Appends every certificate of a PEM file; -1 when the file cannot be
 * read or holds none. */
static int
scan_file(const char *partner_id, const char *role, const char *file,
    struct cert_watch_entry **list, size_t *n, size_t *cap, char *err,
    size_t errsize)
{
	BIO *in = BIO_new_file(file, "r");
	X509 *x;
	size_t before = *n;

	if (in == NULL) {
		append(err, errsize, "%s: %s\n", file, "cannot be read");
		return -1;
	}
	while ((x = PEM_read_bio_X509(in, NULL, NULL, NULL)) != NULL) {
		struct cert_watch_entry *e;
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 8;
			void *p = realloc(*list, nc * sizeof(**list));
			if (p == NULL) {
				X509_free(x);
				break;
			}
			*list = p;
			*cap = nc;
		}
		e = &(*list)[*n];
		memset(e, 0, sizeof(*e));
		snprintf(e->partner, sizeof(e->partner), "%s", partner_id);
		snprintf(e->role, sizeof(e->role), "%s", role);
		snprintf(e->file, sizeof(e->file), "%s", file);
		if (describe(x, e) == 0)
			(*n)++;
		X509_free(x);
	}
	BIO_free(in);
	/* PEM_read_bio_X509 ends every file with "no start line". */
	ERR_clear_error();
	if (*n == before) {
		append(err, errsize, "%s: %s\n", file,
		    "holds no readable certificate");
		return -1;
	}
	return 0;
}

int
cert_watch_scan(const struct partner_set *ps, struct cert_watch_entry **out,
    size_t *n, char *err, size_t errsize)
{
	struct cert_watch_entry *list = NULL;
	size_t cap = 0;
	int rc = 0;

	*n = 0;
	if (errsize)
		err[0] = '\0';
	for (size_t i = 0; ps && i < partner_set_count(ps); i++) {
		const partner *p = partner_set_at(ps, i);
		if (p->as2 == NULL)
			continue;
		for (size_t k = 0; k < p->as2->their_cert_count; k++)
			if (scan_file(p->id, "theirs", p->as2->their_certs[k],
			    &list, n, &cap, err, errsize) != 0)
				rc = -1;
		for (size_t k = 0; k < p->as2->our_count; k++)
			if (scan_file(p->id, "ours", p->as2->our_certs[k],
			    &list, n, &cap, err, errsize) != 0)
				rc = -1;
	}
	*out = list;
	return rc;
}

enum cert_watch_state
cert_watch_classify(const struct cert_watch_entry *e, time_t now,
    long long warn_seconds)
{
	if ((long long)e->not_after <= (long long)now)
		return CERT_WATCH_EXPIRED;
	if ((long long)e->not_before > (long long)now)
		return CERT_WATCH_NOT_YET_VALID;
	if ((long long)e->not_after - (long long)now <= warn_seconds)
		return CERT_WATCH_EXPIRING;
	return CERT_WATCH_VALID;
}

static void
format_time(time_t t, char *buf, size_t cap)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

size_t
cert_watch_log(const struct cert_watch_entry *e, size_t n, time_t now,
    long long warn_seconds)
{
	size_t logged = 0;

	for (size_t i = 0; i < n; i++) {
		enum cert_watch_state s = cert_watch_classify(&e[i], now,
		    warn_seconds);
		char when[32], days[32];
		long long left = (long long)e[i].not_after - (long long)now;

		if (s != CERT_WATCH_EXPIRED && s != CERT_WATCH_EXPIRING)
			continue;
		format_time(e[i].not_after, when, sizeof(when));
		/* Whole days, rounded down: "expires in 9 days" on day 9.5. */
		snprintf(days, sizeof(days), "%lld", left / 86400);
		if (s == CERT_WATCH_EXPIRED)
			log_error("certificate expired", "partner",
			    e[i].partner, "role", e[i].role, "file", e[i].file,
			    "serial", e[i].serial, "fingerprint",
			    e[i].fingerprint, "subject", e[i].subject,
			    "not_after", when, NULL);
		else
			log_warn("certificate expires soon", "partner",
			    e[i].partner, "role", e[i].role, "file", e[i].file,
			    "serial", e[i].serial, "fingerprint",
			    e[i].fingerprint, "subject", e[i].subject,
			    "not_after", when, "days_left", days, NULL);
		logged++;
	}
	return logged;
}

/* ---- in edigated ------------------------------------------------------ */

struct cert_list {
	struct cert_watch_entry *e;
	size_t n;
	long long warn_seconds;    /* of the configuration that listed it */
	unsigned check_ms;
};

struct cert_watch {
	struct daemon *d;
	struct metrics_family *expiry;     /* seconds until notAfter */
	struct metrics_family *not_after;  /* notAfter as a Unix time */
	struct event *timer;
	struct cert_list list;
	long long warn_seconds;
	unsigned check_ms;
	time_t last_check;
};

static struct cert_list *
list_load(const struct config *cfg, char *err, size_t errsize)
{
	struct cert_list *l = calloc(1, sizeof(*l));
	struct partner_set *ps;
	char *perr = NULL;
	char ferr[2048];

	if (l == NULL) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	l->warn_seconds = (long long)cfg->as2_cert_warning_days * 86400;
	l->check_ms = cfg->as2_cert_check_interval_ms;
	ps = partner_set_load(cfg->partners_dir, NULL, cfg->maps_dir, &perr);
	if (ps == NULL) {
		snprintf(err, errsize, "%s", perr ? perr : "partners: cannot "
		    "load");
		free(perr);
		free(l);
		return NULL;
	}
	if (cert_watch_scan(ps, &l->e, &l->n, ferr, sizeof(ferr)) != 0) {
		size_t k = strlen(ferr);
		if (k && ferr[k - 1] == '\n')
			ferr[k - 1] = '\0';
		/* The AS2 modules refuse such a set themselves; here it is
		 * only less to watch. */
		log_warn("certificates not watched", "error", ferr, NULL);
	}
	partner_set_unref(ps);
	return l;
}

static void
gauges_set(struct cert_watch *w, time_t now)
{
	for (size_t i = 0; i < w->list.n; i++) {
		const struct cert_watch_entry *e = &w->list.e[i];
		const char *v[] = { e->partner, e->role, e->file, e->serial,
		    e->fingerprint };
		metrics_gauge_set(w->expiry, v,
		    (double)((long long)e->not_after - (long long)now));
		metrics_gauge_set(w->not_after, v, (double)e->not_after);
	}
}

static void
check_now(struct cert_watch *w, time_t now)
{
	w->last_check = now;
	cert_watch_log(w->list.e, w->list.n, now, w->warn_seconds);
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
	struct cert_watch *w = arg;
	time_t now = time(NULL);

	(void)fd;
	(void)what;
	gauges_set(w, now);
	if ((long long)(now - w->last_check) * 1000 >= (long long)w->check_ms)
		check_now(w, now);
}

static int
reload_prepare(void *ctx, const struct config *cfg, void **pending,
    char *err, size_t errsize)
{
	(void)ctx;
	*pending = list_load(cfg, err, errsize);
	return *pending ? 0 : -1;
}

static void
reload_commit(void *ctx, void *pending)
{
	struct cert_watch *w = ctx;
	struct cert_list *l = pending;
	time_t now = time(NULL);

	free(w->list.e);
	w->list = *l;
	w->warn_seconds = l->warn_seconds;
	/* The timer keeps its period; a new interval counts from now. */
	w->check_ms = l->check_ms;
	free(l);
	metrics_family_clear(w->expiry);
	metrics_family_clear(w->not_after);
	gauges_set(w, now);
	check_now(w, now);
}

static void
reload_abort(void *ctx, void *pending)
{
	struct cert_list *l = pending;
	(void)ctx;
	if (l) {
		free(l->e);
		free(l);
	}
}

struct cert_watch *
cert_watch_new(struct daemon *d, char *err, size_t errsize)
{
	static const char *const labels[] = { "partner", "role", "file",
	    "serial", "fingerprint", NULL };
	static const struct daemon_reload_hook hook = { "certificates",
	    reload_prepare, reload_commit, reload_abort };
	const struct config *cfg = daemon_config(d);
	struct cert_watch *w = calloc(1, sizeof(*w));
	struct cert_list *l;
	struct timeval every;
	unsigned ms;

	if (w == NULL) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	w->d = d;
	w->expiry = metrics_gauge(daemon_metrics(d),
	    "edigate_certificate_expiry_seconds", "Seconds until the "
	    "certificate's notAfter (negative: expired)", labels);
	w->not_after = metrics_gauge(daemon_metrics(d),
	    "edigate_certificate_not_after_timestamp_seconds", "The "
	    "certificate's notAfter as a Unix time", labels);
	if (w->expiry == NULL || w->not_after == NULL) {
		snprintf(err, errsize, "cannot register the certificate "
		    "metrics");
		free(w);
		return NULL;
	}
	if ((l = list_load(cfg, err, errsize)) == NULL) {
		free(w);
		return NULL;
	}
	w->list = *l;
	w->warn_seconds = l->warn_seconds;
	w->check_ms = l->check_ms;
	free(l);
	ms = w->check_ms < CERT_WATCH_REFRESH_MS ? w->check_ms :
	    CERT_WATCH_REFRESH_MS;
	every.tv_sec = ms / 1000;
	every.tv_usec = (ms % 1000) * 1000;
	w->timer = event_new(daemon_base(d), -1, EV_PERSIST, tick, w);
	if (w->timer == NULL || event_add(w->timer, &every) != 0 ||
	    daemon_reload_hook_add(d, &hook, w) != 0) {
		snprintf(err, errsize, "cannot set up the certificate check");
		cert_watch_free(w);
		return NULL;
	}
	gauges_set(w, time(NULL));
	check_now(w, time(NULL));
	return w;
}

void
cert_watch_free(struct cert_watch *w)
{
	if (w == NULL)
		return;
	if (w->timer)
		event_free(w->timer);
	free(w->list.e);
	free(w);
}
