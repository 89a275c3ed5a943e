#include "config.h"

#include "report_text.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

void
report_text_html(FILE *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&#39;", out);
			break;
		default:
			fputc(*s, out);
		}
	}
}

void
report_text_csv(FILE *out, const char *s, int last)
{
	if (strpbrk(s, ",\"\r\n")) {
		fputc('"', out);
		for (; *s; s++) {
			if (*s == '"')
				fputc('"', out);
			fputc(*s, out);
		}
		fputc('"', out);
	} else {
		fputs(s, out);
	}
	fputs(last ? "\r\n" : ",", out);
}

void
report_text_page_begin(FILE *out, const char *title, const char *style)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
	      "<title>", out);
	report_text_html(out, title);
	fputs("</title>\n<style>", out);
	fputs(style, out);
	fputs("</style>\n</head>\n<body>\n", out);
}

void
report_text_page_end(FILE *out)
{
	fputs("</body>\n</html>\n", out);
}

/* "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM[:SS[.ffffff]]" with an optional "Z"
 * or "+00:00", as UTC, into microseconds since 1970. 0 on success. */
int
report_text_parse_utc(const char *s, int64_t *us_out)
{
	struct tm tm = { 0 };
	long frac = 0;
	int fdigits = 0, n = 0;
	const char *p = s;
	if (!s || strlen(s) < 10 ||
	    sscanf(p, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &n) != 3 ||
	    n != 10)
		return -1;
	p += 10;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		if (sscanf(p + 1, "%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &n) != 2 || n != 5)
			return -1;
		p += 1 + n;
		if (*p == ':') {
			if (sscanf(p + 1, "%2d%n", &tm.tm_sec, &n) != 1 || n != 2)
				return -1;
			p += 3;
			if (*p == '.') {
				p++;
				while (*p >= '0' && *p <= '9') {
					if (fdigits < 6) {
						frac = frac * 10 + (*p - '0');
						fdigits++;
					}
					p++;
				}
				if (fdigits == 0)
					return -1;
				for (; fdigits < 6; fdigits++)
					frac *= 10;
			}
		}
		if (*p == 'Z' || *p == 'z')
			p++;
		else if (strcmp(p, "+00:00") == 0)
			p += 6;
	}
	if (*p != '\0')
		return -1;
	if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*us_out = (int64_t)t * 1000000 + frac;
	return 0;
}

void
report_text_time(int64_t us, char out[32])
{
	struct tm tm;
	time_t t = (time_t)(us / 1000000);

	out[0] = '\0';
	if (us && gmtime_r(&t, &tm))
		strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void
report_text_html_cell(FILE *out, const char *s)
{
	fputs("<td>", out);
	report_text_html(out, s);
	fputs("</td>", out);
}

void
report_text_html_num(FILE *out, int64_t v)
{
	fprintf(out, "<td class=\"n\">%" PRId64 "</td>", v);
}

void
report_text_html_time(FILE *out, int64_t us)
{
	char b[32];

	report_text_time(us, b);
	report_text_html_cell(out, b);
}
