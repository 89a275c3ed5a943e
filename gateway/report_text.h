/*
 * report_text - the escaping every edigate report shares: HTML text and
 * attribute values, RFC 4180 CSV fields, and the frame of a
 * self-contained HTML page.
 *
 * OWNS
 *   How partner-supplied text reaches a report file: HTML entity-escaped,
 *   CSV quoted when it must be.
 *
 * NEVER
 *   Writes a byte of its input unescaped into HTML, emits scripts or
 *   external references in a page, or allocates.
 */
#ifndef EDIGATE_REPORT_TEXT_H
#define EDIGATE_REPORT_TEXT_H

#include <stdint.h>
#include <stdio.h>

/* &, <, >, " and ' as entities; safe in text and quoted attributes. */
void report_text_html(FILE *out, const char *s);
/* s as one CSV field, quoted when it holds a comma, quote, CR or LF,
 * followed by "," or, when last, by CRLF. */
void report_text_csv(FILE *out, const char *s, int last);
/* "<!DOCTYPE html>" up to "<body>": charset, the escaped title, and style
 * (trusted CSS, never partner data) inline. */
void report_text_page_begin(FILE *out, const char *title, const char *style);
void report_text_page_end(FILE *out);

/* us (microseconds since 1970) as "YYYY-MM-DDTHH:MM:SSZ"; "" for 0. */
void report_text_time(int64_t us, char out[32]);
/* Table cells: escaped text, a number (class "n"), a time. */
void report_text_html_cell(FILE *out, const char *s);
void report_text_html_num(FILE *out, int64_t v);
void report_text_html_time(FILE *out, int64_t us);

/* "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM[:SS[.ffffff]]" with an optional "Z"
 * or "+00:00", as UTC, into microseconds since 1970. 0 on success, -1
 * when s is not such a time. */
int report_text_parse_utc(const char *s, int64_t *us_out);

#endif
