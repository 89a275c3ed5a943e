/*
 * cert_watch - the expiry of every AS2 certificate the partner profiles
 * name, as metrics and as warnings in the log (prefix cert_watch_).
 *
 * OWNS
 *   - The list of certificates of the loaded partner set: each partner's
 *     <their-certificate> files (role "theirs") and our
 *     <our-certificate> files towards it (role "ours"), every certificate
 *     of a PEM file that holds several, with serial, SHA-256 fingerprint
 *     and validity window. Rebuilt at start and on every reload.
 *   - The gauges edigate_certificate_expiry_seconds (seconds until
 *     notAfter, negative once expired) and
 *     edigate_certificate_not_after_timestamp_seconds, labelled partner,
 *     role, file, serial, fingerprint; refreshed every minute.
 *   - The check that logs a warning for each certificate that expires
 *     within [as2] certificate_warning_days (default 30) and an error for
 *     each expired one: at start, after every reload and every
 *     [as2] certificate_check_interval (default 24h).
 *
 * INVARIANTS
 *   The gauges name exactly the certificates of the partner set in force:
 *   a reload that removes a certificate removes its series.
 *
 * NEVER
 *   Reads private keys, refuses a reload or a start because a certificate
 *   expired (which certificate signs or verifies is the AS2 modules'
 *   choice), or blocks the loop on anything but reading small PEM files.
 */
#ifndef EDIGATE_CERT_WATCH_H
#define EDIGATE_CERT_WATCH_H

#include <stddef.h>
#include <time.h>

struct daemon;
struct partner_set;

#define CERT_WATCH_SERIAL_MAX 64   /* hex digits kept of a serial number */

struct cert_watch_entry {
	char partner[65];
	char role[8];              /* "theirs", "ours" */
	char file[512];
	char serial[CERT_WATCH_SERIAL_MAX + 1];  /* uppercase hex */
	char fingerprint[65];      /* SHA-256 of the DER, lowercase hex */
	char subject[256];
	time_t not_before, not_after;
};

enum cert_watch_state {
	CERT_WATCH_VALID = 0,
	CERT_WATCH_EXPIRING,       /* notAfter within warn_seconds */
	CERT_WATCH_EXPIRED,        /* notAfter before now */
	CERT_WATCH_NOT_YET_VALID   /* notBefore after now (a rotation's next) */
};

/* Lists the certificates of every AS2 partner of ps into *out (malloc'd,
 * *n entries; free() it). A file that cannot be read is reported as
 * "file: reason" lines in err (the rest is still listed) and the return
 * value is -1; 0 when every file was read. */
int cert_watch_scan(const struct partner_set *ps,
    struct cert_watch_entry **out, size_t *n, char *err, size_t errsize);

enum cert_watch_state cert_watch_classify(const struct cert_watch_entry *e,
    time_t now, long long warn_seconds);

/* Logs one warning or error per expiring or expired entry; returns how
 * many were logged. */
size_t cert_watch_log(const struct cert_watch_entry *e, size_t n,
    time_t now, long long warn_seconds);

struct cert_watch;

/* Registers the gauges and a reload hook on d, lists the certificates of
 * the configured partners, sets the gauges and runs the first check.
 * NULL with err on failure (a gauge that cannot be registered, no
 * timer); unreadable certificates are logged, not fatal. */
struct cert_watch *cert_watch_new(struct daemon *d, char *err,
    size_t errsize);
void cert_watch_free(struct cert_watch *w);

#endif
