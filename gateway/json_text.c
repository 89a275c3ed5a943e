/*
 * json_text - writing JSON strings from EDI bytes (see json_text.h).
 */
#include "json_text.h"

#include <string.h>

void
json_out_init(json_out *out, FILE *file)
{
	out->file = file;
	out->len = 0;
	out->failed = 0;
}

int
json_out_flush(json_out *out)
{
	if (out->len > 0 && !out->failed &&
	    fwrite(out->buf, 1, out->len, out->file) != out->len)
		out->failed = 1;
	out->len = 0;
	if (!out->failed && fflush(out->file) != 0)
		out->failed = 1;
	return out->failed ? -1 : 0;
}

static void
make_room(json_out *out, size_t n)
{
	if (out->len + n > sizeof(out->buf)) {
		if (!out->failed && fwrite(out->buf, 1, out->len, out->file) !=
		    out->len)
			out->failed = 1;
		out->len = 0;
	}
}

void
json_out_raw(json_out *out, const char *p, size_t n)
{
	while (n > 0) {
		size_t room, take;
		make_room(out, n < 256 ? n : 256);
		room = sizeof(out->buf) - out->len;
		take = n < room ? n : room;
		memcpy(out->buf + out->len, p, take);
		out->len += take;
		p += take;
		n -= take;
	}
}

void
json_out_char(json_out *out, char c)
{
	make_room(out, 1);
	out->buf[out->len++] = c;
}

/* Length of a valid UTF-8 sequence at p, or 0. */
static size_t
utf8_sequence(const unsigned char *p, size_t n)
{
	size_t want, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		want = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		want = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		want = 4;
	else
		return 0;
	if (n < want)
		return 0;
	for (i = 1; i < want; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	/* Overlong forms, surrogates and code points past U+10FFFF. */
	if (p[0] == 0xe0 && p[1] < 0xa0)
		return 0;
	if (p[0] == 0xed && p[1] >= 0xa0)
		return 0;
	if (p[0] == 0xf0 && p[1] < 0x90)
		return 0;
	if (p[0] == 0xf4 && p[1] >= 0x90)
		return 0;
	return want;
}

void
json_out_string(json_out *out, const char *s, size_t n, char release)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	json_out_char(out, '"');
	while (i < n) {
		size_t run = i, seq;
		unsigned char c;

		/* Copy plain ASCII in one go. */
		while (run < n && p[run] >= 0x20 && p[run] < 0x80 &&
		    p[run] != '"' && p[run] != '\\' &&
		    (release == 0 || p[run] != (unsigned char)release))
			run++;
		if (run > i) {
			json_out_raw(out, s + i, run - i);
			i = run;
			if (i >= n)
				break;
		}
		c = p[i];
		if (release && c == (unsigned char)release && i + 1 < n) {
			i++;
			c = p[i];
			if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
				json_out_char(out, (char)c);
				i++;
				continue;
			}
		}
		make_room(out, 8);
		if (c == '"' || c == '\\') {
			out->buf[out->len++] = '\\';
			out->buf[out->len++] = (char)c;
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			const char *esc = c == '\n' ? "\\n" : c == '\r' ? "\\r" :
			    c == '\t' ? "\\t" : NULL;
			if (esc) {
				memcpy(out->buf + out->len, esc, 2);
				out->len += 2;
			} else {
				memcpy(out->buf + out->len, "\\u00", 4);
				out->buf[out->len + 4] = hex[c >> 4];
				out->buf[out->len + 5] = hex[c & 15];
				out->len += 6;
			}
			i++;
		} else if (c < 0x80) {
			out->buf[out->len++] = (char)c;
			i++;
		} else if ((seq = utf8_sequence(p + i, n - i)) > 0) {
			memcpy(out->buf + out->len, p + i, seq);
			out->len += seq;
			i += seq;
		} else {
			out->buf[out->len++] = (char)(0xc0 | (c >> 6));
			out->buf[out->len++] = (char)(0x80 | (c & 0x3f));
			i++;
		}
	}
	json_out_char(out, '"');
}
