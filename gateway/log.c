/*
 * log - JSON lines on stderr and correlation ids. See log.h.
 */
#include "config.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>

#include "log.h"

static FILE *log_stream;
static atomic_int log_threshold = LOG_LEVEL_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void
log_init(FILE *stream, enum log_level level)
{
	log_stream = stream;
	atomic_store(&log_threshold, (int)level);
}

void
log_set_level(enum log_level level)
{
	atomic_store(&log_threshold, (int)level);
}

enum log_level
log_get_level(void)
{
	return (enum log_level)atomic_load(&log_threshold);
}

int
log_level_parse(const char *name)
{
	int i;

	for (i = 0; i < 4; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

const char *
log_level_name(enum log_level level)
{
	if ((int)level < 0 || level > LOG_LEVEL_DEBUG)
		return "info";
	return level_names[level];
}

/* Output cursor that never overruns: once full it only counts. */
struct cursor {
	char *buf;
	size_t size;   /* usable bytes, excluding room kept for the tail */
	size_t len;
	int full;
};

static void
put(struct cursor *c, const char *p, size_t n)
{
	if (c->full || c->len + n > c->size) {
		c->full = 1;
		return;
	}
	memcpy(c->buf + c->len, p, n);
	c->len += n;
}

/* Length of the valid UTF-8 sequence at p, or 0 when it is not one. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static void
put_string(struct cursor *c, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, l;
	char esc[8];

	put(c, "\"", 1);
	while (i < n && !c->full) {
		unsigned char ch = p[i];

		if (ch == '"' || ch == '\\') {
			esc[0] = '\\';
			esc[1] = (char)ch;
			put(c, esc, 2);
			i++;
		} else if (ch < 0x20 || ch == 0x7f) {
			const char *named = ch == '\n' ? "\\n" : ch == '\r' ?
			    "\\r" : ch == '\t' ? "\\t" : NULL;
			if (named)
				put(c, named, 2);
			else {
				snprintf(esc, sizeof(esc), "\\u%04x", ch);
				put(c, esc, 6);
			}
			i++;
		} else if ((l = utf8_len(p + i, n - i)) == 0) {
			snprintf(esc, sizeof(esc), "\\u%04x", ch);
			put(c, esc, 6);
			i++;
		} else {
			put(c, s + i, l);
			i += l;
		}
	}
	if (!c->full)
		put(c, "\"", 1);
}

size_t
log_format(char *buf, size_t size, long long ts_ms, enum log_level level,
    const char *msg, const char *const *fields, size_t nfields)
{
	/* Room always kept for the closing: "\"," "\"truncated\":true}\n" */
	static const char tail_trunc[] = "\"truncated\":true}\n";
	struct cursor c;
	char ts[64];
	struct tm tm;
	time_t secs = (time_t)(ts_ms / 1000);
	size_t i, keep = sizeof(tail_trunc) + 2, mark;

	if (size < 128) {
		if (size > 0)
			buf[0] = '\0';
		return 0;
	}
	c.buf = buf;
	c.size = size - keep - 1;
	c.len = 0;
	c.full = 0;

	gmtime_r(&secs, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(ts_ms % 1000));
	put(&c, "{\"ts\":\"", 7);
	put(&c, ts, strlen(ts));
	put(&c, "\",\"level\":\"", 11);
	put(&c, log_level_name(level), strlen(log_level_name(level)));
	put(&c, "\",\"msg\":", 8);
	put_string(&c, msg ? msg : "");
	for (i = 0; i + 1 < nfields; i += 2) {
		if (fields[i + 1] == NULL)
			continue;
		mark = c.len;
		put(&c, ",", 1);
		put_string(&c, fields[i]);
		put(&c, ":", 1);
		put_string(&c, fields[i + 1]);
		if (c.full) {
			c.len = mark;
			break;
		}
	}
	if (c.full) {
		/* Cut inside the string we were writing: close it validly. */
		c.size += keep;
		c.full = 0;
		put(&c, ",", 1);
		put(&c, tail_trunc, sizeof(tail_trunc) - 1);
	} else {
		c.size += keep;
		put(&c, "}\n", 2);
	}
	buf[c.len] = '\0';
	return c.len;
}

void
log_write(enum log_level level, const char *msg, ...)
{
	const char *fields[64];
	size_t n = 0;
	char line[LOG_LINE_MAX];
	struct timeval tv;
	va_list ap;
	const char *k;
	size_t len;
	FILE *out;

	if ((int)level > atomic_load(&log_threshold))
		return;
	va_start(ap, msg);
	while (n + 2 <= sizeof(fields) / sizeof(fields[0]) &&
	    (k = va_arg(ap, const char *)) != NULL) {
		fields[n++] = k;
		fields[n++] = va_arg(ap, const char *);
	}
	va_end(ap);
	gettimeofday(&tv, NULL);
	len = log_format(line, sizeof(line),
	    (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000, level, msg,
	    fields, n);
	out = log_stream ? log_stream : stderr;
	flockfile(out);
	fwrite(line, 1, len, out);
	fflush(out);
	funlockfile(out);
}

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

void
log_correlation_id_new(char out[LOG_CORRELATION_ID_LEN + 1])
{
	unsigned char b[16];
	struct timeval tv;
	uint64_t ms;
	size_t got = 0;
	ssize_t r;
	int i, bit;

	gettimeofday(&tv, NULL);
	ms = (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
	for (i = 0; i < 6; i++)
		b[i] = (unsigned char)(ms >> (40 - 8 * i));
	while (got < 10) {
		r = getrandom(b + 6 + got, 10 - got, 0);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got < 10) {
		/* No entropy source: fall back to time and address bits so
		 * ids stay distinct, though no longer unguessable. */
		uint64_t x = ms ^ ((uint64_t)tv.tv_usec << 20) ^
		    (uint64_t)(uintptr_t)out;
		for (i = 6 + (int)got; i < 16; i++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			b[i] = (unsigned char)(x >> 56);
		}
	}
	/* 128 bits as 26 base32 digits: the first digit holds 3 bits. */
	for (i = 0; i < LOG_CORRELATION_ID_LEN; i++) {
		int v = 0, start = i == 0 ? 0 : 3 + (i - 1) * 5;
		int width = i == 0 ? 3 : 5;

		for (bit = 0; bit < width; bit++) {
			int pos = start + bit;
			v = (v << 1) | ((b[pos / 8] >> (7 - pos % 8)) & 1);
		}
		out[i] = crockford[v];
	}
	out[LOG_CORRELATION_ID_LEN] = '\0';
}

int
log_correlation_id_valid(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return 0;
	for (; s[n]; n++) {
		char ch = s[n];
		if (n >= 64 || !((ch >= 'a' && ch <= 'z') ||
		    (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    ch == '.' || ch == '_' || ch == '-'))
			return 0;
	}
	return n > 0;
}
