/*
 * json_text - writing JSON strings from EDI bytes, fast and always valid.
 *
 * EDI data has no declared character set we can trust: X12 says nothing,
 * EDIFACT's UNOA..UNOY are often wrong in practice. A byte sequence that is
 * valid UTF-8 is kept as it is; any other byte is read as ISO 8859-1 and
 * written as the UTF-8 of that code point. Output is therefore always valid
 * UTF-8 JSON, and pure ASCII input comes out unchanged.
 *
 * Output is buffered; the caller flushes (json_out_flush) before exit.
 */
#ifndef EDIGATE_JSON_TEXT_H
#define EDIGATE_JSON_TEXT_H

#include <stddef.h>
#include <stdio.h>

typedef struct json_out {
	FILE *file;
	size_t len;
	int failed;      /* a write failed (e.g. a closed pipe) */
	char buf[1 << 16];
} json_out;

void json_out_init(json_out *out, FILE *file);
void json_out_raw(json_out *out, const char *p, size_t n);
void json_out_char(json_out *out, char c);
/* Writes p[0..n) as a quoted JSON string, dropping every release char
 * that escapes the next byte when release is not 0. */
void json_out_string(json_out *out, const char *p, size_t n, char release);
int json_out_flush(json_out *out);

#endif
