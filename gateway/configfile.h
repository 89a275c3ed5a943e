/*
 * configfile - edigated's configuration file, edigate.conf (prefix config_).
 *
 * (The module is not called config.h because that name belongs to the
 * header configure generates, which every source includes first.)
 *
 * FORMAT
 *   One setting per line: `key = value`. Blank lines and lines whose first
 *   non-blank character is `#` are ignored; ` #` (blank, then #) starts a
 *   comment after a value. A value may be written in double quotes to keep
 *   a `#` or surrounding blanks; there are no escapes inside quotes.
 *   `[name]` starts a section. Keys before the first section are general
 *   settings. Sections: [store], [limits], [tls] (defaults for every https
 *   listener), [as2] (AS2 receive) and any number of [listen.NAME] (one
 *   listener each; NAME is
 *   [a-z0-9_-]+ and appears in logs and metrics; its `routes` key may
 *   limit it to some route prefixes).
 *   Values: booleans yes/no (also true/false, on/off); sizes in bytes with
 *   an optional K, M or G suffix (powers of 1024); durations in seconds with
 *   an optional ms, s or m suffix; relative paths are taken from the
 *   directory holding the configuration file. deploy/edigate.conf documents
 *   every key.
 *
 * OWNS
 *   Parsing and checking the file into a struct config, and the defaults.
 *
 * INVARIANTS
 *   - A returned struct config is complete and checked: every required
 *     value is there, every listener has an address, every https listener
 *     a certificate and key (its own or from [tls]). Whether those files
 *     can be opened is checked by whoever opens them.
 *   - Every error names file and line (line 0: the file as a whole, e.g. a
 *     required key that is missing everywhere) and the key and value.
 *   - Parsing stops at the first error: one precise message is more useful
 *     than a cascade.
 *
 * NEVER
 *   Touches the network, opens certificate files, or exits.
 */
#ifndef EDIGATE_CONFIGFILE_H
#define EDIGATE_CONFIGFILE_H

#include <stddef.h>

#define CONFIG_DEFAULT_PATH "/etc/edigate/edigate.conf"

struct config_listener {
	char *name;            /* NAME of [listen.NAME] */
	char *host;            /* as written, without brackets for IPv6 */
	unsigned port;         /* 1..65535 */
	int https;             /* protocol = https */
	char *certificate;     /* PEM chain; own or inherited from [tls] */
	char *key;             /* PEM private key */
	char *ciphers;         /* OpenSSL cipher list for TLS <= 1.2 */
	char *ciphersuites;    /* OpenSSL TLS 1.3 cipher suites */
	int min_tls_version;   /* 12 or 13: TLS 1.2 or 1.3 */
	char *routes;          /* NULL: every route; else the route prefixes
	                          this listener serves, blank-separated */
	int stream_bodies;     /* request bodies read by our own HTTP reader,
	                          large ones straight to a file */
	unsigned line;         /* line of the section header */
};

/* One `key = value` of a module section. */
struct config_entry {
	char *key;
	char *value;           /* unquoted, comment removed */
	unsigned line;
};

struct config_section {
	char *name;            /* "webhook.erp", "api" */
	unsigned line;         /* line of the section header */
	struct config_entry *entries;
	size_t nentries;
};

struct config {
	char *path;            /* the file as given */
	char *state_dir;
	char *partners_dir;    /* default: <state_dir>/partners */
	char *maps_dir;        /* default: <state_dir>/maps */
	char *store_url;       /* default: <state_dir>/edigate.db (SQLite) */
	char *spool_dir;       /* [store] spool_dir; default: beside the SQLite
	                        * file, <state_dir>/spool on PostgreSQL */
	char *user;            /* NULL: keep running as we are */
	char *group;           /* NULL: the user's primary group */
	int allow_root;
	unsigned workers;      /* 1..256, default 2 */
	unsigned queue_size;   /* worker queue bound, default 1024 */
	int log_level;         /* enum log_level */
	int debug_endpoints;   /* /debug/ routes, for tests only */
	unsigned shutdown_grace_ms;
	/* [limits] */
	size_t max_body_size;  /* default 64M */
	size_t max_header_size;/* default 64K, headers and request line */
	unsigned read_timeout_ms;  /* idle time while reading a request */
	unsigned write_timeout_ms; /* idle time while writing a response */
	size_t body_in_memory; /* stream_bodies: larger bodies go to a file
	                          in state_dir, default 1M */
	struct config_listener *listeners;
	size_t nlisteners;
	/* [sftp] */
	char *sftp_root;       /* NULL: no SFTP inboxes watched */
	unsigned sftp_scan_interval_ms; /* inbox scan fallback, default 30s */
	unsigned sftp_push_attempts;    /* per push before giving up, default 5 */
	/* [as2] */
	char *as2_path;        /* route of AS2 receive, default /as2 */
	size_t as2_max_decompressed; /* decompressed payload limit, default 1G */
	size_t as2_unwrap_in_memory; /* larger bodies unwrap from a file, 1M */
	unsigned as2_async_mdn_attempts;   /* default 6 */
	unsigned as2_async_mdn_retry_ms;   /* first retry delay, doubling;
	                                      default 10 s */
	unsigned as2_async_mdn_timeout_ms; /* per attempt, default 60 s */
	unsigned as2_cert_warning_days;    /* warn this long before a
	                                      certificate expires, default 30 */
	unsigned as2_cert_check_interval_ms; /* expiry check, default 24h */
	unsigned as2_mdn_wait_ms;  /* sent, async MDN awaited: mdn-failed
	                              after this, default 24h */
	/* Sections other modules own ([api], [delivery], [webhook.NAME],
	 * [route.NAME], [token.NAME], [inbound]): kept as written, in file order; the
	 * owning module checks its keys and reports file:line itself. */
	struct config_section *sections;
	size_t nsections;
};

struct config_error {
	char file[512];
	unsigned line;         /* 0: the file as a whole */
	char message[512];
};

/* Reads and checks path. On success *out is a new config (config_free)
 * and 0 is returned; on failure -1 with err filled. */
int config_load(const char *path, struct config **out,
    struct config_error *err);

/* The same on text held in memory; file names it in errors and gives the
 * directory relative paths are resolved against. */
int config_parse(const char *file, const char *text, size_t len,
    struct config **out, struct config_error *err);

void config_free(struct config *cfg);

/* "file:line: message" (or "file: message" for line 0) into buf. */
void config_error_format(const struct config_error *err, char *buf,
    size_t size);

/* The listener named name, or NULL. */
const struct config_listener *config_listener_find(const struct config *cfg,
    const char *name);

/* The module section called name ("api", "webhook.erp"), or NULL. */
const struct config_section *config_section_find(const struct config *cfg,
    const char *name);
/* The entry for key in sec, or NULL (sec may be NULL). */
const struct config_entry *config_section_entry(
    const struct config_section *sec, const char *key);

#endif
