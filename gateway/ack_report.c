/*
 * ack_report - the acknowledgment compliance report. See ack_report.h.
 */
#define _GNU_SOURCE /* open_memstream, strdup, gmtime_r */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ack_report.h"
#include "report_text.h"

static int
fail(struct store_error *err, enum store_status code, const char *msg)
{
	if (err) {
		err->code = code;
		snprintf(err->message, sizeof err->message, "%s", msg);
	}
	return code;
}

/* ---- building ------------------------------------------------------------ */

struct build {
	struct ack_report *r;
	size_t rows_cap, unmatched_cap;
	int nomem;
};

static int
take_row(void *ud, const struct store_ack_expectation *e)
{
	struct build *b = ud;
	struct ack_report *r = b->r;
	if (r->row_count == b->rows_cap) {
		size_t cap = b->rows_cap ? b->rows_cap * 2 : 64;
		struct ack_report_row *n = realloc(r->rows, cap * sizeof *n);
		if (!n) {
			b->nomem = 1;
			return 1;
		}
		r->rows = n;
		b->rows_cap = cap;
	}
	memset(&r->rows[r->row_count], 0, sizeof *r->rows);
	r->rows[r->row_count++].e = *e;
	return 0;
}

struct set_build {
	struct ack_report_row *row;
	size_t cap;
	int nomem;
};

static int
take_set(void *ud, const struct store_ack_set_result *s)
{
	struct set_build *b = ud;
	struct ack_report_row *row = b->row;
	if (row->set_count == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4;
		struct ack_report_set *n = realloc(row->sets, cap * sizeof *n);
		if (!n) {
			b->nomem = 1;
			return 1;
		}
		row->sets = n;
		b->cap = cap;
	}
	struct ack_report_set *x = &row->sets[row->set_count];
	snprintf(x->set_control, sizeof x->set_control, "%s", s->set_control);
	snprintf(x->set_type, sizeof x->set_type, "%s", s->set_type);
	snprintf(x->code, sizeof x->code, "%s", s->code);
	x->detail_json = strdup(s->detail_json ? s->detail_json : "{}");
	if (!x->detail_json) {
		b->nomem = 1;
		return 1;
	}
	row->set_count++;
	return 0;
}

static int
take_unmatched(void *ud, const struct store_ack_unmatched_row *u)
{
	struct build *b = ud;
	struct ack_report *r = b->r;
	if (r->unmatched_count == b->unmatched_cap) {
		size_t cap = b->unmatched_cap ? b->unmatched_cap * 2 : 16;
		struct ack_report_unmatched *n = realloc(r->unmatched, cap * sizeof *n);
		if (!n) {
			b->nomem = 1;
			return 1;
		}
		r->unmatched = n;
		b->unmatched_cap = cap;
	}
	struct ack_report_unmatched *x = &r->unmatched[r->unmatched_count];
	x->u = *u;
	x->detail = strdup(u->detail_json ? u->detail_json : "{}");
	if (!x->detail) {
		b->nomem = 1;
		return 1;
	}
	x->u.detail_json = x->detail;
	r->unmatched_count++;
	return 0;
}

static int
cmp_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

int64_t
ack_report_percentile(int64_t *values, size_t n, unsigned p)
{
	if (n == 0 || p == 0)
		return 0;
	if (p > 100)
		p = 100;
	if (n > 1)
		qsort(values, n, sizeof *values, cmp_int64);
	size_t rank = (p * n + 99) / 100; /* ceil(p/100 * n), at least 1 */
	return values[rank - 1];
}

static struct ack_report_partner *
partner_entry(struct ack_report *r, const char *id, size_t *cap)
{
	for (size_t i = 0; i < r->partner_count; i++)
		if (strcmp(r->partners[i].partner, id) == 0)
			return &r->partners[i];
	if (r->partner_count == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		struct ack_report_partner *n = realloc(r->partners, ncap * sizeof *n);
		if (!n)
			return NULL;
		r->partners = n;
		*cap = ncap;
	}
	struct ack_report_partner *p = &r->partners[r->partner_count++];
	memset(p, 0, sizeof *p);
	snprintf(p->partner, sizeof p->partner, "%s", id);
	return p;
}

static int
cmp_partner(const void *a, const void *b)
{
	return strcmp(((const struct ack_report_partner *)a)->partner,
	              ((const struct ack_report_partner *)b)->partner);
}

/* Fills the per-partner figures from the rows and unmatched acks. */
static int
summarise(struct ack_report *r)
{
	size_t cap = 0;
	int64_t *lat = r->row_count ? malloc(r->row_count * sizeof *lat) : NULL;
	if (r->row_count && !lat)
		return -1;
	for (size_t i = 0; i < r->row_count; i++)
		if (!partner_entry(r, r->rows[i].e.partner, &cap))
			goto nomem;
	for (size_t i = 0; i < r->unmatched_count; i++) {
		struct ack_report_partner *p = partner_entry(r, r->unmatched[i].u.partner, &cap);
		if (!p)
			goto nomem;
		p->unmatched++;
	}
	for (size_t k = 0; k < r->partner_count; k++) {
		struct ack_report_partner *p = &r->partners[k];
		size_t n = 0;
		int64_t sum = 0;
		for (size_t i = 0; i < r->row_count; i++) {
			const struct store_ack_expectation *e = &r->rows[i].e;
			if (strcmp(e->partner, p->partner) != 0)
				continue;
			p->sent++;
			switch (e->state) {
			case STORE_ACK_PENDING:
				p->pending++;
				break;
			case STORE_ACK_OVERDUE:
				p->overdue++;
				break;
			case STORE_ACK_ACCEPTED:
				p->accepted++;
				break;
			case STORE_ACK_ACCEPTED_WITH_ERRORS:
				p->accepted_with_errors++;
				break;
			case STORE_ACK_PARTIALLY_ACCEPTED:
				p->partially_accepted++;
				break;
			case STORE_ACK_REJECTED:
				p->rejected++;
				break;
			}
			if (e->acked_us) {
				if (e->acked_us <= e->deadline_us)
					p->within_sla++;
				else
					p->late++;
				lat[n++] = e->acked_us - e->created_us;
				sum += e->acked_us - e->created_us;
			}
		}
		p->acknowledged = (int64_t)n;
		p->mean_latency_us = n ? sum / (int64_t)n : 0;
		p->p95_latency_us = ack_report_percentile(lat, n, 95);
	}
	free(lat);
	if (r->partner_count > 1)
		qsort(r->partners, r->partner_count, sizeof *r->partners,
		    cmp_partner);
	return 0;
nomem:
	free(lat);
	return -1;
}

int
ack_report_build(struct store *st, const char *partner, int64_t since_us,
                 int64_t until_us, int64_t now_us, struct ack_report *out,
                 struct store_error *err)
{
	struct build b = { .r = out };
	struct store_ack_filter f = { .partner = partner && *partner ? partner : NULL,
		                      .since_us = since_us, .until_us = until_us };
	int rc;
	memset(out, 0, sizeof *out);
	out->generated_us = now_us ? now_us : store_now_us();
	out->since_us = since_us;
	out->until_us = until_us;
	snprintf(out->partner_filter, sizeof out->partner_filter, "%s", f.partner ? f.partner : "");
	rc = store_ack_foreach(st, &f, take_row, &b, err);
	if (!rc && !b.nomem)
		rc = store_ack_unmatched_foreach(st, &f, take_unmatched, &b, err);
	/* Set results are read after the walk: a callback must not query. */
	for (size_t i = 0; !rc && !b.nomem && i < out->row_count; i++) {
		struct ack_report_row *row = &out->rows[i];
		if (!row->e.acked_us)
			continue;
		struct set_build sb = { .row = row };
		rc = store_ack_sets_foreach(st, row->e.id, take_set, &sb, err);
		if (sb.nomem)
			b.nomem = 1;
	}
	if (!rc && !b.nomem && summarise(out))
		b.nomem = 1;
	if (b.nomem)
		rc = fail(err, STORE_ENOMEM, "out of memory");
	if (rc)
		ack_report_free(out);
	return rc;
}

void
ack_report_free(struct ack_report *r)
{
	for (size_t i = 0; i < r->row_count; i++) {
		for (size_t k = 0; k < r->rows[i].set_count; k++)
			free(r->rows[i].sets[k].detail_json);
		free(r->rows[i].sets);
	}
	for (size_t i = 0; i < r->unmatched_count; i++)
		free(r->unmatched[i].detail);
	free(r->rows);
	free(r->unmatched);
	free(r->partners);
	memset(r, 0, sizeof *r);
}

/* ---- formatting ------------------------------------------------------------ */

void
ack_report_seconds(int64_t us, char out[32])
{
	const char *sign = us < 0 ? "-" : "";
	uint64_t a = us < 0 ? (uint64_t)0 - (uint64_t)us : (uint64_t)us;
	snprintf(out, 32, "%s%" PRIu64 ".%03" PRIu64, sign, a / 1000000, a % 1000000 / 1000);
}

void
ack_report_time(int64_t us, char out[32])
{
	report_text_time(us, out);
}

static const char *
reason_of(const struct ack_report_unmatched *u, char *buf, size_t cap)
{
	json_t *o = json_loads(u->detail, 0, NULL);
	const char *s = json_string_value(json_object_get(o, "reason"));
	snprintf(buf, cap, "%s", s ? s : "");
	json_decref(o);
	return buf;
}

/* ---- JSON ---------------------------------------------------------------- */

static json_t *
time_or_null(int64_t us)
{
	char t[32];
	if (!us)
		return json_null();
	ack_report_time(us, t);
	return json_string(t);
}

int
ack_report_write_json(FILE *out, const struct ack_report *r)
{
	json_t *doc = json_object(), *parts = json_array(), *rows = json_array(),
	       *unm = json_array();
	json_object_set_new(doc, "report", json_string("acks"));
	json_object_set_new(doc, "generated_at", time_or_null(r->generated_us));
	json_object_set_new(doc, "since", time_or_null(r->since_us));
	json_object_set_new(doc, "until", time_or_null(r->until_us));
	json_object_set_new(doc, "partner", *r->partner_filter ? json_string(r->partner_filter)
	                                                       : json_null());
	for (size_t i = 0; i < r->partner_count; i++) {
		const struct ack_report_partner *p = &r->partners[i];
		json_array_append_new(parts, json_pack(
			"{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o}",
			"partner", p->partner, "sent", (json_int_t)p->sent, "within_sla",
			(json_int_t)p->within_sla, "late", (json_int_t)p->late, "accepted",
			(json_int_t)p->accepted, "accepted_with_errors",
			(json_int_t)p->accepted_with_errors, "partially_accepted",
			(json_int_t)p->partially_accepted, "rejected", (json_int_t)p->rejected,
			"pending", (json_int_t)p->pending, "overdue", (json_int_t)p->overdue,
			"unmatched", (json_int_t)p->unmatched, "acknowledged",
			(json_int_t)p->acknowledged, "mean_latency_us",
			p->acknowledged ? json_integer(p->mean_latency_us) : json_null(),
			"p95_latency_us",
			p->acknowledged ? json_integer(p->p95_latency_us) : json_null()));
	}
	for (size_t i = 0; i < r->row_count; i++) {
		const struct store_ack_expectation *e = &r->rows[i].e;
		json_t *sets = json_array();
		for (size_t k = 0; k < r->rows[i].set_count; k++) {
			const struct ack_report_set *s = &r->rows[i].sets[k];
			json_t *d = json_loads(s->detail_json, 0, NULL);
			json_array_append_new(sets, json_pack("{s:s, s:s, s:s, s:o}", "set",
			                                      s->set_control, "type", s->set_type,
			                                      "code", s->code, "detail",
			                                      d ? d : json_object()));
		}
		json_array_append_new(rows, json_pack(
			"{s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:o, s:s, s:o, s:o, s:b,"
			" s:o, s:s, s:o, s:o, s:o}",
			"expectation", (json_int_t)e->id, "partner", e->partner, "ack_type",
			e->ack_type, "interchange", e->interchange_control, "group",
			e->group_control, "functional_id", e->functional_id, "sets",
			(json_int_t)e->set_count, "sent_at", time_or_null(e->created_us),
			"deadline", time_or_null(e->deadline_us), "state",
			store_ack_state_name(e->state), "acked_at", time_or_null(e->acked_us),
			"latency_us",
			e->acked_us ? json_integer(e->acked_us - e->created_us) : json_null(),
			"late", e->acked_us > e->deadline_us, "overdue_at",
			time_or_null(e->overdue_us), "ack_code", e->ack_code, "message_id",
			e->message_id ? json_integer(e->message_id) : json_null(),
			"ack_message_id",
			e->ack_message_id ? json_integer(e->ack_message_id) : json_null(),
			"set_results", sets));
	}
	for (size_t i = 0; i < r->unmatched_count; i++) {
		const struct store_ack_unmatched_row *u = &r->unmatched[i].u;
		json_t *d = json_loads(r->unmatched[i].detail, 0, NULL);
		json_array_append_new(unm, json_pack(
			"{s:I, s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "unmatched", (json_int_t)u->id,
			"partner", u->partner, "ack_type", u->ack_type, "interchange",
			u->interchange_control, "group", u->group_control, "received_at",
			time_or_null(u->received_us), "ack_message_id",
			u->ack_message_id ? json_integer(u->ack_message_id) : json_null(),
			"detail", d ? d : json_object()));
	}
	json_object_set_new(doc, "partners", parts);
	json_object_set_new(doc, "expectations", rows);
	json_object_set_new(doc, "unmatched", unm);
	int rc = json_dumpf(doc, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (rc || fputc('\n', out) == EOF)
		return -1;
	return ferror(out) ? -1 : 0;
}

/* ---- CSV ------------------------------------------------------------------ */

static void
csv_field(FILE *out, const char *s, int last)
{
	report_text_csv(out, s, last);
}

static void
csv_int(FILE *out, int64_t v, int last)
{
	char b[24];
	snprintf(b, sizeof b, "%" PRId64, v);
	csv_field(out, b, last);
}

static void
csv_seconds(FILE *out, int64_t us, int have, int last)
{
	char b[32] = "";
	if (have)
		ack_report_seconds(us, b);
	csv_field(out, b, last);
}

static void
csv_time(FILE *out, int64_t us, int last)
{
	char b[32];
	ack_report_time(us, b);
	csv_field(out, b, last);
}

int
ack_report_write_csv(FILE *out, const struct ack_report *r)
{
	fputs("partner,sent,within_sla,late,accepted,accepted_with_errors,"
	      "partially_accepted,rejected,pending,overdue,unmatched,acknowledged,"
	      "mean_latency_s,p95_latency_s\r\n", out);
	for (size_t i = 0; i < r->partner_count; i++) {
		const struct ack_report_partner *p = &r->partners[i];
		csv_field(out, p->partner, 0);
		int64_t v[] = { p->sent, p->within_sla, p->late, p->accepted,
			        p->accepted_with_errors, p->partially_accepted, p->rejected,
			        p->pending, p->overdue, p->unmatched, p->acknowledged };
		for (size_t k = 0; k < sizeof v / sizeof v[0]; k++)
			csv_int(out, v[k], 0);
		csv_seconds(out, p->mean_latency_us, p->acknowledged > 0, 0);
		csv_seconds(out, p->p95_latency_us, p->acknowledged > 0, 1);
	}
	fputs("\r\nexpectation,partner,ack_type,interchange,group,functional_id,sets,"
	      "sent_at,deadline,state,acked_at,latency_s,late,overdue_at,ack_code,"
	      "message_id,ack_message_id,set_results\r\n", out);
	for (size_t i = 0; i < r->row_count; i++) {
		const struct store_ack_expectation *e = &r->rows[i].e;
		csv_int(out, e->id, 0);
		csv_field(out, e->partner, 0);
		csv_field(out, e->ack_type, 0);
		csv_field(out, e->interchange_control, 0);
		csv_field(out, e->group_control, 0);
		csv_field(out, e->functional_id, 0);
		csv_int(out, e->set_count, 0);
		csv_time(out, e->created_us, 0);
		csv_time(out, e->deadline_us, 0);
		csv_field(out, store_ack_state_name(e->state), 0);
		csv_time(out, e->acked_us, 0);
		csv_seconds(out, e->acked_us - e->created_us, e->acked_us != 0, 0);
		csv_field(out, e->acked_us > e->deadline_us ? "yes" : "no", 0);
		csv_time(out, e->overdue_us, 0);
		csv_field(out, e->ack_code, 0);
		if (e->message_id)
			csv_int(out, e->message_id, 0);
		else
			csv_field(out, "", 0);
		if (e->ack_message_id)
			csv_int(out, e->ack_message_id, 0);
		else
			csv_field(out, "", 0);
		/* "0001 856 A; 0002 856 R {detail}": the detail only where
		 * there is something to say. */
		char *sets = NULL;
		size_t slen = 0;
		FILE *m = open_memstream(&sets, &slen);
		if (!m)
			return -1;
		for (size_t k = 0; k < r->rows[i].set_count; k++) {
			const struct ack_report_set *s = &r->rows[i].sets[k];
			fprintf(m, "%s%s %s %s", k ? "; " : "", s->set_control, s->set_type,
			        s->code);
			if (strcmp(s->detail_json, "{}") != 0)
				fprintf(m, " %s", s->detail_json);
		}
		fclose(m);
		csv_field(out, sets ? sets : "", 1);
		free(sets);
	}
	fputs("\r\nunmatched,partner,ack_type,interchange,group,received_at,"
	      "ack_message_id,reason\r\n", out);
	for (size_t i = 0; i < r->unmatched_count; i++) {
		const struct store_ack_unmatched_row *u = &r->unmatched[i].u;
		char reason[256];
		csv_int(out, u->id, 0);
		csv_field(out, u->partner, 0);
		csv_field(out, u->ack_type, 0);
		csv_field(out, u->interchange_control, 0);
		csv_field(out, u->group_control, 0);
		csv_time(out, u->received_us, 0);
		if (u->ack_message_id)
			csv_int(out, u->ack_message_id, 0);
		else
			csv_field(out, "", 0);
		csv_field(out, reason_of(&r->unmatched[i], reason, sizeof reason), 1);
	}
	return ferror(out) ? -1 : 0;
}

/* ---- HTML ----------------------------------------------------------------- */

static void
html_text(FILE *out, const char *s)
{
	report_text_html(out, s);
}

/* "2 h 05 min 07 s" for a person; "" when there is no value. */
static void
html_duration(FILE *out, int64_t us, int have)
{
	char b[64] = "";
	if (have) {
		int64_t s = us / 1000000;
		if (s >= 3600)
			snprintf(b, sizeof b, "%" PRId64 " h %02" PRId64 " min %02" PRId64 " s",
			         s / 3600, s % 3600 / 60, s % 60);
		else if (s >= 60)
			snprintf(b, sizeof b, "%" PRId64 " min %02" PRId64 " s", s / 60, s % 60);
		else {
			ack_report_seconds(us, b);
			strcat(b, " s");
		}
	}
	fputs("<td class=\"n\">", out);
	html_text(out, b);
	fputs("</td>", out);
}

static const char html_style[] =
	"body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em;"
	"color:#1d232a;background:#fff}"
	"h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:2em}"
	"p.meta{color:#555;margin-top:0}"
	"table{border-collapse:collapse;margin:.5em 0;font-size:.9em}"
	"th,td{border:1px solid #c9ced4;padding:.3em .6em;text-align:left;"
	"vertical-align:top}"
	"th{background:#eef1f4}td.n{text-align:right;font-variant-numeric:tabular-nums}"
	"tr.accepted td.s{background:#e3f4e6}"
	"tr.accepted-with-errors td.s{background:#fff4d6}"
	"tr.partially-accepted td.s{background:#ffe3c2}"
	"tr.rejected td.s{background:#fbd8d8}tr.overdue td.s{background:#f4c4c4;"
	"font-weight:bold}tr.pending td.s{background:#eef1f4}"
	"ul.sets{margin:0;padding-left:1.1em}code{font-size:.85em;word-break:break-all}";

int
ack_report_write_html(FILE *out, const struct ack_report *r)
{
	char t1[32], t2[32], t3[32];
	ack_report_time(r->generated_us, t1);
	ack_report_time(r->since_us, t2);
	ack_report_time(r->until_us, t3);
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
	      "<title>edigate acknowledgment report</title>\n<style>", out);
	fputs(html_style, out);
	fputs("</style>\n</head>\n<body>\n<h1>Acknowledgment report</h1>\n<p class=\"meta\">",
	      out);
	fputs("Generated ", out);
	html_text(out, t1);
	fputs(". Groups sent from ", out);
	html_text(out, *t2 ? t2 : "the beginning");
	fputs(" until ", out);
	html_text(out, *t3 ? t3 : "now");
	fputs(". Partner: ", out);
	html_text(out, *r->partner_filter ? r->partner_filter : "all");
	fputs(".</p>\n", out);

	fputs("<h2>Per partner</h2>\n<table>\n<thead><tr><th>Partner</th><th>Sent</th>"
	      "<th>Within SLA</th><th>Late</th><th>Accepted</th><th>Accepted with errors</th>"
	      "<th>Partially accepted</th><th>Rejected</th><th>Pending</th><th>Overdue</th>"
	      "<th>Unmatched acks</th><th>Mean latency</th><th>p95 latency</th></tr></thead>\n"
	      "<tbody>\n", out);
	for (size_t i = 0; i < r->partner_count; i++) {
		const struct ack_report_partner *p = &r->partners[i];
		fputs("<tr>", out);
		report_text_html_cell(out, p->partner);
		report_text_html_num(out, p->sent);
		report_text_html_num(out, p->within_sla);
		report_text_html_num(out, p->late);
		report_text_html_num(out, p->accepted);
		report_text_html_num(out, p->accepted_with_errors);
		report_text_html_num(out, p->partially_accepted);
		report_text_html_num(out, p->rejected);
		report_text_html_num(out, p->pending);
		report_text_html_num(out, p->overdue);
		report_text_html_num(out, p->unmatched);
		html_duration(out, p->mean_latency_us, p->acknowledged > 0);
		html_duration(out, p->p95_latency_us, p->acknowledged > 0);
		fputs("</tr>\n", out);
	}
	if (r->partner_count == 0)
		fputs("<tr><td colspan=\"13\">Nothing was sent in this period.</td></tr>\n", out);
	fputs("</tbody>\n</table>\n", out);

	fputs("<h2>Expectations</h2>\n<table>\n<thead><tr><th>#</th><th>Partner</th>"
	      "<th>Ack</th><th>Interchange</th><th>Group</th><th>Sets</th><th>Sent</th>"
	      "<th>Deadline</th><th>State</th><th>Acknowledged</th><th>Latency</th>"
	      "<th>Overdue since</th><th>Code</th><th>Set results</th></tr></thead>\n"
	      "<tbody>\n", out);
	for (size_t i = 0; i < r->row_count; i++) {
		const struct store_ack_expectation *e = &r->rows[i].e;
		char grp[64];
		snprintf(grp, sizeof grp, "%s%s%s", e->group_control,
		         *e->functional_id ? " " : "", e->functional_id);
		fprintf(out, "<tr class=\"%s\">", store_ack_state_name(e->state));
		report_text_html_num(out, e->id);
		report_text_html_cell(out, e->partner);
		report_text_html_cell(out, e->ack_type);
		report_text_html_cell(out, e->interchange_control);
		report_text_html_cell(out, grp);
		report_text_html_num(out, e->set_count);
		report_text_html_time(out, e->created_us);
		report_text_html_time(out, e->deadline_us);
		fputs("<td class=\"s\">", out);
		html_text(out, store_ack_state_name(e->state));
		if (e->acked_us > e->deadline_us)
			fputs(" (late)", out);
		fputs("</td>", out);
		report_text_html_time(out, e->acked_us);
		html_duration(out, e->acked_us - e->created_us, e->acked_us != 0);
		report_text_html_time(out, e->overdue_us);
		report_text_html_cell(out, e->ack_code);
		fputs("<td>", out);
		if (r->rows[i].set_count) {
			fputs("<ul class=\"sets\">", out);
			for (size_t k = 0; k < r->rows[i].set_count; k++) {
				const struct ack_report_set *s = &r->rows[i].sets[k];
				fputs("<li>", out);
				html_text(out, s->set_type);
				fputs(" ", out);
				html_text(out, s->set_control);
				fputs(": ", out);
				html_text(out, s->code);
				if (strcmp(s->detail_json, "{}") != 0) {
					fputs(" <code>", out);
					html_text(out, s->detail_json);
					fputs("</code>", out);
				}
				fputs("</li>", out);
			}
			fputs("</ul>", out);
		}
		fputs("</td></tr>\n", out);
	}
	if (r->row_count == 0)
		fputs("<tr><td colspan=\"14\">None.</td></tr>\n", out);
	fputs("</tbody>\n</table>\n", out);

	fputs("<h2>Acknowledgments that matched nothing</h2>\n<table>\n<thead><tr><th>#</th>"
	      "<th>Partner</th><th>Ack</th><th>Interchange</th><th>Group</th>"
	      "<th>Received</th><th>Reason</th></tr></thead>\n<tbody>\n", out);
	for (size_t i = 0; i < r->unmatched_count; i++) {
		const struct store_ack_unmatched_row *u = &r->unmatched[i].u;
		char reason[256];
		fputs("<tr>", out);
		report_text_html_num(out, u->id);
		report_text_html_cell(out, u->partner);
		report_text_html_cell(out, u->ack_type);
		report_text_html_cell(out, u->interchange_control);
		report_text_html_cell(out, u->group_control);
		report_text_html_time(out, u->received_us);
		report_text_html_cell(out, reason_of(&r->unmatched[i], reason, sizeof reason));
		fputs("</tr>\n", out);
	}
	if (r->unmatched_count == 0)
		fputs("<tr><td colspan=\"7\">None.</td></tr>\n", out);
	fputs("</tbody>\n</table>\n</body>\n</html>\n", out);
	return ferror(out) ? -1 : 0;
}
