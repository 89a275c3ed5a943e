/*
 * log - structured logs for edigated: one JSON object per line on stderr.
 *
 * OWNS
 *   The log level threshold, the output stream and the correlation id
 *   generator. Every line is {"ts":..,"level":..,"msg":.., <fields>} with ts
 *   in RFC 3339 UTC with milliseconds, so a log shipper can parse it
 *   without a pattern and grep can still find a correlation id.
 *
 * INVARIANTS
 *   - A line is formatted whole in memory and written with one call under
 *     the stream lock, so lines from worker threads never interleave.
 *   - Every string (message, keys, values) is escaped as JSON; bytes that
 *     are not valid UTF-8 are written as \u00XX of the byte, so a partner's
 *     garbage in a header value cannot break the line format.
 *   - Lines longer than LOG_LINE_MAX are cut inside a value and marked
 *     "truncated":true; the line stays valid JSON.
 *
 * NEVER
 *   Allocates per line, exits, or blocks on anything but the stream write.
 */
#ifndef EDIGATE_LOG_H
#define EDIGATE_LOG_H

#include <stdio.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG
};

#define LOG_LINE_MAX 8192

/* ULID-style: 48-bit millisecond time then 80 random bits, Crockford
 * base32, 26 characters. Sorts by time, unique without coordination. */
#define LOG_CORRELATION_ID_LEN 26

/* The stream (stderr when NULL) and the threshold; may be called again at
 * any time (SIGHUP changes the level). */
void log_init(FILE *stream, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* "error", "warn", "info", "debug" -> level; -1 for anything else. */
int log_level_parse(const char *name);
const char *log_level_name(enum log_level level);

/* Writes one line when level passes the threshold. The variable part is
 * key, value pairs of strings ending with NULL; a NULL value skips its
 * key. Example:
 *   log_write(LOG_LEVEL_INFO, "request", "correlation_id", cid,
 *       "remote", addr, NULL);
 */
void log_write(enum log_level level, const char *msg, ...)
    __attribute__((sentinel));
#define log_error(...) log_write(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_write(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_write(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_write(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* Formats one line into buf (NUL-terminated, with the final newline) and
 * returns its length; what log_write() writes. For tests and for callers
 * that ship lines elsewhere. ts_ms is milliseconds since 1970. */
size_t log_format(char *buf, size_t size, long long ts_ms,
    enum log_level level, const char *msg, const char *const *fields,
    size_t nfields);

/* Fills out with a new correlation id and a NUL. Thread-safe. */
void log_correlation_id_new(char out[LOG_CORRELATION_ID_LEN + 1]);

/* 1 when s looks like a correlation id we accept from a client: 1 to 64
 * characters of [A-Za-z0-9._-]. Anything else is replaced by a new id,
 * so a client cannot inject text into our logs through it. */
int log_correlation_id_valid(const char *s);

#endif
