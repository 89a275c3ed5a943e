/*
 * report_text - the text conventions edigate's reports and exports share,
 * so that every command reads times and writes CSV the same way.
 *
 * NEVER
 *   Interprets a time in a local time zone: everything is UTC.
 */
#ifndef EDIGATE_REPORT_TEXT_H
#define EDIGATE_REPORT_TEXT_H

#include <stdint.h>
#include <stdio.h>

/* "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM[:SS[.ffffff]]" with an optional "Z"
 * or "+00:00", as UTC, into microseconds since 1970. 0 on success, -1
 * when s is not such a time. */
int report_text_parse_utc(const char *s, int64_t *us_out);

/* One CSV field (RFC 4180: quoted when it holds a comma, quote, CR or
 * LF), then "," or, for the last field of a row, CRLF. */
void report_text_csv_field(FILE *out, const char *s, int last);

#endif
