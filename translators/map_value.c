/*
 * map_value - element checks and conversions. See map_value.h.
 */
#include "map_value.h"

#include <string.h>

static int
digits(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return len > 0;
}

static int
num2(const char *s)
{
	return (s[0] - '0') * 10 + (s[1] - '0');
}

static int
valid_date(const char *s, size_t len)
{
	if (!digits(s, len) || (len != 8 && len != 6))
		return 0;
	const char *md = s + len - 4;
	int y = len == 8 ? num2(s) * 100 + num2(s + 2) : 2000 + num2(s);
	int m = num2(md), d = num2(md + 2);
	static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m < 1 || m > 12 || d < 1 || d > days[m - 1])
		return 0;
	if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return 0;
	return 1;
}

static int
valid_time(const char *s, size_t len)
{
	if (!digits(s, len) || len < 4 || len > 8 || len == 5)
		return 0;
	if (num2(s) > 23 || num2(s + 2) > 59)
		return 0;
	if (len >= 6 && num2(s + 4) > 59)
		return 0;
	return 1;
}

const char *
map_value_type_name(const map_value *v)
{
	static const char *n[] = {"N0", "N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8", "N9"};
	switch (v->type) {
	case MAP_TYPE_AN: return "AN";
	case MAP_TYPE_ID: return "ID";
	case MAP_TYPE_NUM: return v->decimals < 10 ? n[v->decimals] : "N";
	case MAP_TYPE_R: return "R";
	case MAP_TYPE_DT: return "DT";
	case MAP_TYPE_TM: return "TM";
	case MAP_TYPE_B: return "B";
	case MAP_TYPE_ALPHA: return "a";
	}
	return "?";
}

map_issue_kind
map_value_check(const map_value *v, const char *s, size_t len, char decimal)
{
	size_t counted = len;
	switch (v->type) {
	case MAP_TYPE_NUM: {
		size_t i = 0;
		if (len && s[0] == '-') {
			i = 1;
			counted--;
		}
		if (!digits(s + i, len - i))
			return MAP_ISSUE_BAD_CHARACTER;
		break;
	}
	case MAP_TYPE_R: {
		size_t i = 0, dots = 0, nd = 0;
		if (len && s[0] == '-') {
			i = 1;
			counted--;
		}
		for (; i < len; i++) {
			if (s[i] == '.' || s[i] == decimal) {
				dots++;
				counted--;
			} else if (s[i] >= '0' && s[i] <= '9') {
				nd++;
			} else {
				return MAP_ISSUE_BAD_CHARACTER;
			}
		}
		if (dots > 1 || nd == 0)
			return MAP_ISSUE_BAD_CHARACTER;
		break;
	}
	case MAP_TYPE_DT:
		if (!valid_date(s, len))
			return MAP_ISSUE_BAD_DATE;
		break;
	case MAP_TYPE_TM:
		if (!valid_time(s, len))
			return MAP_ISSUE_BAD_TIME;
		break;
	case MAP_TYPE_ALPHA:
		for (size_t i = 0; i < len; i++)
			if (s[i] >= '0' && s[i] <= '9')
				return MAP_ISSUE_BAD_CHARACTER;
		break;
	default:
		break;
	}
	if (counted < v->min)
		return MAP_ISSUE_TOO_SHORT;
	if (counted > v->max && v->type != MAP_TYPE_B)
		return MAP_ISSUE_TOO_LONG;
	if (v->codelist && v->codelist->closed
	    && map_code_by_edi(v->codelist, s, len) == NULL)
		return MAP_ISSUE_BAD_CODE;
	return 0;
}

static long
put(char *out, size_t cap, const char *s, size_t len)
{
	if (len > cap)
		return -1;
	memcpy(out, s, len);
	return (long)len;
}

long
map_value_to_canonical(const map_value *v, const char *s, size_t len,
    char *out, size_t cap, char decimal)
{
	if (v->codelist) {
		const map_code *c = map_code_by_edi(v->codelist, s, len);
		if (c && c->canonical)
			return put(out, cap, c->canonical, strlen(c->canonical));
		return put(out, cap, s, len);
	}
	switch (v->convert) {
	case MAP_CONVERT_DATE:
	case MAP_CONVERT_DATETIME: {
		/* datetime also takes a plain date (DTM format 102 or 203). */
		size_t dlen = v->convert == MAP_CONVERT_DATE || len == 8 ? len
		    : len >= 12 ? 8 : 0;
		if (!valid_date(s, dlen) || cap < 19)
			return -1;
		size_t o = 0;
		if (dlen == 6) {
			/* YYMMDD: the X12 century window, 00-49 is 20xx. */
			const char *c = num2(s) < 50 ? "20" : "19";
			memcpy(out, c, 2);
			o = 2;
		}
		memcpy(out + o, s, dlen - 4);
		o += dlen - 4;
		out[o++] = '-';
		memcpy(out + o, s + dlen - 4, 2);
		o += 2;
		out[o++] = '-';
		memcpy(out + o, s + dlen - 2, 2);
		o += 2;
		if (v->convert == MAP_CONVERT_DATE || len == 8)
			return (long)o;
		if (!valid_time(s + 8, len - 8) || (len - 8 != 4 && len - 8 != 6))
			return -1;
		out[o++] = 'T';
		s += 8;
		len -= 8;
	}
		__attribute__((fallthrough)); /* the time part */
	case MAP_CONVERT_TIME: {
		if (!valid_time(s, len) || (len != 4 && len != 6) || cap < 8)
			return -1;
		size_t o = v->convert == MAP_CONVERT_DATETIME ? 11 : 0;
		out[o++] = s[0];
		out[o++] = s[1];
		out[o++] = ':';
		out[o++] = s[2];
		out[o++] = s[3];
		if (len == 6) {
			out[o++] = ':';
			out[o++] = s[4];
			out[o++] = s[5];
		}
		return (long)o;
	}
	case MAP_CONVERT_DECIMAL:
		if (len > cap)
			return -1;
		for (size_t i = 0; i < len; i++)
			out[i] = s[i] == decimal ? '.' : s[i];
		return (long)len;
	default:
		break;
	}
	if (v->type == MAP_TYPE_NUM && v->decimals > 0) {
		/* Implied decimals: N2 "1234" is 12.34. */
		size_t i = 0, o = 0;
		if (len && s[0] == '-') {
			out[o++] = '-';
			i = 1;
		}
		if (!digits(s + i, len - i) || cap < len + v->decimals + 3)
			return -1;
		size_t nd = len - i, d = v->decimals;
		if (nd <= d) {
			out[o++] = '0';
			out[o++] = '.';
			for (size_t k = nd; k < d; k++)
				out[o++] = '0';
			memcpy(out + o, s + i, nd);
			return (long)(o + nd);
		}
		memcpy(out + o, s + i, nd - d);
		o += nd - d;
		out[o++] = '.';
		memcpy(out + o, s + i + nd - d, d);
		return (long)(o + d);
	}
	return put(out, cap, s, len);
}

long
map_value_to_edi(const map_value *v, const char *s, size_t len,
    char *out, size_t cap, char decimal)
{
	if (v->codelist) {
		const map_code *c = map_code_by_canonical(v->codelist, s, len);
		if (c)
			return put(out, cap, c->edi, strlen(c->edi));
		return put(out, cap, s, len);
	}
	switch (v->convert) {
	case MAP_CONVERT_DATE:
	case MAP_CONVERT_DATETIME: {
		if (len < 10 || s[4] != '-' || s[7] != '-' || cap < 14)
			return -1;
		size_t o = 0;
		int short_year = v->convert == MAP_CONVERT_DATE && v->max == 6;
		memcpy(out, s + (short_year ? 2 : 0), short_year ? 2 : 4);
		o = short_year ? 2 : 4;
		memcpy(out + o, s + 5, 2);
		memcpy(out + o + 2, s + 8, 2);
		o += 4;
		if (v->convert == MAP_CONVERT_DATE || len == 10)
			return len == 10 ? (long)o : -1;
		if (len != 16 && len != 19)
			return -1;
		for (size_t i = 11; i < len; i++)
			if (s[i] != ':')
				out[o++] = s[i];
		return (long)o;
	}
	case MAP_CONVERT_TIME: {
		if ((len != 5 && len != 8) || cap < 6)
			return -1;
		size_t o = 0;
		for (size_t i = 0; i < len; i++)
			if (s[i] != ':')
				out[o++] = s[i];
		return (long)o;
	}
	case MAP_CONVERT_DECIMAL:
		if (len > cap)
			return -1;
		for (size_t i = 0; i < len; i++)
			out[i] = s[i] == '.' ? decimal : s[i];
		return (long)len;
	default:
		break;
	}
	if (v->type == MAP_TYPE_NUM && v->decimals > 0) {
		const char *dot = memchr(s, '.', len);
		size_t intlen = dot ? (size_t)(dot - s) : len;
		size_t frac = dot ? len - intlen - 1 : 0;
		if (frac > v->decimals || cap < len + v->decimals)
			return -1;
		size_t o = 0, i = 0;
		if (len && s[0] == '-') {
			out[o++] = '-';
			i = 1;
		}
		/* Leading zeros of the integer part are not written (X12 N). */
		int any = 0;
		for (; i < intlen; i++) {
			if (s[i] == '0' && !any)
				continue;
			any = 1;
			out[o++] = s[i];
		}
		size_t k;
		for (k = 0; k < frac; k++) {
			char c = dot[1 + k];
			if (c == '0' && !any)
				continue;
			any = 1;
			out[o++] = c;
		}
		for (; k < v->decimals; k++) {
			if (!any)
				continue;
			out[o++] = '0';
		}
		if (!any)
			out[o++] = '0';
		return (long)o;
	}
	return put(out, cap, s, len);
}
