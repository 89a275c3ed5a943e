#define _GNU_SOURCE /* gmtime_r */
#include "config.h"

#include "reconcile.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "report_text.h"

#define HOUR_US ((int64_t)3600 * 1000000)

static const char *const kind_names[RECONCILE_KIND_COUNT] = {
	"order", "order_response", "shipment", "invoice"
};

const char *
reconcile_kind_name(enum reconcile_kind k)
{
	return (unsigned)k < RECONCILE_KIND_COUNT ? kind_names[k] : "unknown";
}

int
reconcile_kind_of(const char *t)
{
	static const char *const names[][3] = {
		{ "850", "ORDERS", "order" },
		{ "855", "ORDRSP", "order_response" },
		{ "856", "DESADV", "shipment" },
		{ "810", "INVOIC", "invoice" },
	};
	for (int k = 0; k < RECONCILE_KIND_COUNT; k++)
		for (int i = 0; i < 3; i++)
			if (strcmp(t, names[k][i]) == 0)
				return k;
	return -1;
}

const char *
reconcile_reason_name(enum reconcile_reason r)
{
	switch (r) {
	case RECONCILE_NO_RESPONSE:
		return "no-response";
	case RECONCILE_NO_SHIPMENT:
		return "no-shipment";
	case RECONCILE_NO_INVOICE:
		return "no-invoice";
	case RECONCILE_NO_ACK:
		return "no-ack";
	}
	return "unknown";
}

/* ---- building ------------------------------------------------------------- */

/* Canonical type names are lowercase words; EDI ones digits or capitals. */
static int
is_canonical_type(const char *t)
{
	return *t >= 'a' && *t <= 'z';
}

static int
cmp_doc(const void *a, const void *b)
{
	const struct reconcile_doc *x = *(const struct reconcile_doc *const *)a;
	const struct reconcile_doc *y = *(const struct reconcile_doc *const *)b;
	int c = strcmp(x->partner, y->partner);
	if (!c)
		c = strcmp(x->order_number, y->order_number);
	if (!c)
		c = (int)x->kind - (int)y->kind;
	if (!c)
		c = x->created_us < y->created_us ? -1 : x->created_us > y->created_us;
	if (!c)
		c = x->message_id < y->message_id ? -1 : x->message_id > y->message_id;
	return c;
}

struct builder {
	struct reconcile_report *r;
	size_t pcap, ecap;
};

static struct reconcile_partner *
partner_of(struct builder *b, const char *id)
{
	struct reconcile_report *r = b->r;
	/* Chains arrive sorted by partner: the entry is the last or new. */
	if (r->partner_count && strcmp(r->partners[r->partner_count - 1].partner, id) == 0)
		return &r->partners[r->partner_count - 1];
	if (r->partner_count == b->pcap) {
		size_t cap = b->pcap ? b->pcap * 2 : 8;
		void *p = realloc(r->partners, cap * sizeof *r->partners);
		if (!p)
			return NULL;
		r->partners = p;
		b->pcap = cap;
	}
	struct reconcile_partner *p = &r->partners[r->partner_count++];
	memset(p, 0, sizeof *p);
	snprintf(p->partner, sizeof p->partner, "%s", id);
	return p;
}

static int
add_exception(struct builder *b, const struct reconcile_doc *from,
              enum reconcile_reason reason, enum reconcile_kind kind,
              int64_t since, int64_t due)
{
	struct reconcile_report *r = b->r;
	if (r->exception_count == b->ecap) {
		size_t cap = b->ecap ? b->ecap * 2 : 16;
		void *p = realloc(r->exceptions, cap * sizeof *r->exceptions);
		if (!p)
			return -1;
		r->exceptions = p;
		b->ecap = cap;
	}
	struct reconcile_exception *e = &r->exceptions[r->exception_count++];
	memset(e, 0, sizeof *e);
	snprintf(e->partner, sizeof e->partner, "%s", from->partner);
	snprintf(e->order_number, sizeof e->order_number, "%s", from->order_number);
	snprintf(e->message_type, sizeof e->message_type, "%s", from->message_type);
	e->reason = reason;
	e->kind = kind;
	e->message_id = from->message_id;
	e->since_us = since;
	e->due_us = due;
	return 0;
}

/* One chain: docs[0..n) share partner and order number, sorted by kind
 * then time. */
static int
chain(struct builder *b, const struct reconcile_doc *const *docs, size_t n)
{
	const struct reconcile_options *o = &b->r->opts;
	const struct reconcile_doc *first[RECONCILE_KIND_COUNT] = { 0 };
	const struct reconcile_doc *edi[RECONCILE_KIND_COUNT] = { 0 };
	for (size_t i = 0; i < n; i++) {
		enum reconcile_kind k = docs[i]->kind;
		if (!first[k])
			first[k] = docs[i];
		if (!edi[k] && !is_canonical_type(docs[i]->message_type))
			edi[k] = docs[i];
	}
	/* Times run from the earliest document; a row names the EDI message
	 * the partner knows when there is one, not its canonical twin. */
	const struct reconcile_doc *order = first[RECONCILE_ORDER];
	const struct reconcile_doc *order_ref = edi[RECONCILE_ORDER] ? edi[RECONCILE_ORDER] : order;
	if (!order || (o->since_us && order->created_us < o->since_us) ||
	    (o->until_us && order->created_us >= o->until_us))
		return 0;
	struct reconcile_partner *p = partner_of(b, order->partner);
	if (!p)
		return -1;
	size_t before = b->r->exception_count;
	int64_t t0 = order->created_us;
	p->orders++;
	p->responded += first[RECONCILE_RESPONSE] != NULL;
	p->shipped += first[RECONCILE_SHIPMENT] != NULL;
	p->invoiced += first[RECONCILE_INVOICE] != NULL;
	if (!first[RECONCILE_RESPONSE] && t0 + o->response_us <= o->now_us) {
		if (add_exception(b, order_ref, RECONCILE_NO_RESPONSE, RECONCILE_RESPONSE, t0,
		                  t0 + o->response_us))
			return -1;
		p->no_response++;
	}
	if (!first[RECONCILE_SHIPMENT] && t0 + o->ship_us <= o->now_us) {
		if (add_exception(b, order_ref, RECONCILE_NO_SHIPMENT, RECONCILE_SHIPMENT, t0,
		                  t0 + o->ship_us))
			return -1;
		p->no_shipment++;
	}
	const struct reconcile_doc *ship = first[RECONCILE_SHIPMENT];
	if (ship && !first[RECONCILE_INVOICE] &&
	    ship->created_us + o->invoice_us <= o->now_us) {
		if (add_exception(b, edi[RECONCILE_SHIPMENT] ? edi[RECONCILE_SHIPMENT] : ship,
		                  RECONCILE_NO_INVOICE, RECONCILE_INVOICE,
		                  ship->created_us, ship->created_us + o->invoice_us))
			return -1;
		p->no_invoice++;
	}
	for (size_t i = 0; i < n; i++) {
		const struct reconcile_doc *d = docs[i];
		if (d->ack_required && !d->ack_done && d->ack_due_us <= o->now_us) {
			if (add_exception(b, d, RECONCILE_NO_ACK, d->kind, d->created_us,
			                  d->ack_due_us))
				return -1;
			p->no_ack++;
		}
	}
	int all = 1;
	for (int k = 0; k < RECONCILE_KIND_COUNT; k++)
		all &= first[k] != NULL;
	p->complete += all && b->r->exception_count == before;
	return 0;
}

int
reconcile_build(const struct reconcile_doc *docs, size_t n,
                const struct reconcile_options *o, struct reconcile_report *out)
{
	memset(out, 0, sizeof *out);
	out->opts = *o;
	if (o->partner)
		snprintf(out->partner_filter, sizeof out->partner_filter, "%s", o->partner);
	out->opts.partner = NULL; /* not kept: the caller owns it */
	const struct reconcile_doc **v = malloc((n ? n : 1) * sizeof *v);
	if (!v)
		return -1;
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned)docs[i].kind >= RECONCILE_KIND_COUNT || !*docs[i].order_number)
			continue;
		if (*out->partner_filter && strcmp(docs[i].partner, out->partner_filter) != 0)
			continue;
		v[m++] = &docs[i];
	}
	if (m > 1)
		qsort(v, m, sizeof *v, cmp_doc);
	struct builder b = { .r = out };
	for (size_t i = 0; i < m;) {
		size_t j = i + 1;
		while (j < m && strcmp(v[j]->partner, v[i]->partner) == 0 &&
		       strcmp(v[j]->order_number, v[i]->order_number) == 0)
			j++;
		if (chain(&b, v + i, j - i)) {
			free(v);
			reconcile_report_free(out);
			return -1;
		}
		i = j;
	}
	free(v);
	return 0;
}

void
reconcile_report_free(struct reconcile_report *r)
{
	free(r->partners);
	free(r->exceptions);
	r->partners = NULL;
	r->exceptions = NULL;
	r->partner_count = r->exception_count = 0;
}

/* ---- collecting from the store ------------------------------------------- */

struct row {
	int64_t id;
	enum store_direction dir;
	int kind;                 /* reconcile_kind, or -1 for an ack */
	int canonical;
	char partner[STORE_PARTNER_MAX + 1];
	char type[STORE_NAME_MAX + 1];
	char corr[STORE_CORRELATION_MAX + 1];
	char hash[SPOOL_HASH_HEX + 1];
	int64_t size;
	int64_t created_us;
};

struct rows {
	struct row *v;
	size_t n, cap;
	int nomem;
};

static int
is_ack_type(const char *t)
{
	return !strcmp(t, "997") || !strcmp(t, "999") || !strcmp(t, "CONTRL");
}

static int
take_message(void *ud, const struct store_message *m)
{
	struct rows *rs = ud;
	int kind = reconcile_kind_of(m->message_type);
	if (kind < 0 && !(m->direction == STORE_OUT && is_ack_type(m->message_type)))
		return 0;
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 64;
		void *p = realloc(rs->v, cap * sizeof *rs->v);
		if (!p) {
			rs->nomem = 1;
			return 1;
		}
		rs->v = p;
		rs->cap = cap;
	}
	struct row *r = &rs->v[rs->n++];
	memset(r, 0, sizeof *r);
	r->id = m->id;
	r->dir = m->direction;
	r->kind = kind;
	r->canonical = kind >= 0 && is_canonical_type(m->message_type);
	memcpy(r->partner, m->partner, sizeof r->partner);
	memcpy(r->type, m->message_type, sizeof r->type);
	memcpy(r->corr, m->correlation_id, sizeof r->corr);
	memcpy(r->hash, m->payload_hash, sizeof r->hash);
	r->size = m->size;
	r->created_us = m->created_us;
	return 0;
}

struct expect {
	int64_t message_id, deadline_us;
	int open;
};

struct expects {
	struct expect *v;
	size_t n, cap;
	int nomem;
};

static int
take_expect(void *ud, const struct store_ack_expectation *e)
{
	struct expects *x = ud;
	if (!e->message_id)
		return 0;
	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 64;
		void *p = realloc(x->v, cap * sizeof *x->v);
		if (!p) {
			x->nomem = 1;
			return 1;
		}
		x->v = p;
		x->cap = cap;
	}
	x->v[x->n].message_id = e->message_id;
	x->v[x->n].deadline_us = e->deadline_us;
	x->v[x->n].open = e->state == STORE_ACK_PENDING || e->state == STORE_ACK_OVERDUE;
	x->n++;
	return 0;
}

struct docs {
	struct reconcile_doc *v;
	size_t n, cap;
};

static struct reconcile_doc *
new_doc(struct docs *d, const struct row *r, const char *order)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		void *p = realloc(d->v, cap * sizeof *d->v);
		if (!p)
			return NULL;
		d->v = p;
		d->cap = cap;
	}
	struct reconcile_doc *doc = &d->v[d->n++];
	memset(doc, 0, sizeof *doc);
	doc->kind = (enum reconcile_kind)r->kind;
	snprintf(doc->partner, sizeof doc->partner, "%s", r->partner);
	snprintf(doc->order_number, sizeof doc->order_number, "%s", order);
	doc->message_id = r->id;
	snprintf(doc->message_type, sizeof doc->message_type, "%s", r->type);
	doc->created_us = r->created_us;
	return doc;
}

/* Canonical payloads larger than this are not order documents anyone
 * posts; they are skipped rather than read whole. */
#define CANONICAL_MAX (8u << 20)

/* The order numbers of a canonical payload, as a JSON array (new ref),
 * or NULL when it holds none or is not JSON. */
static json_t *
order_numbers(struct store *st, const struct row *r)
{
	void *buf;
	size_t len;
	struct spool_error serr;
	if (!store_spool(st) || r->size > (int64_t)CANONICAL_MAX ||
	    spool_read_all(store_spool(st), r->hash, &buf, &len, &serr))
		return NULL;
	json_t *doc = json_loadb(buf, len, 0, NULL);
	free(buf);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return NULL;
	}
	json_t *list = json_array();
	json_t *on = json_object_get(doc, "order_number");
	if (json_is_string(on) && json_string_length(on) > 0)
		json_array_append(list, on);
	json_t *orders = json_object_get(doc, "orders"), *o;
	size_t i;
	json_array_foreach(orders, i, o) {
		on = json_object_get(o, "order_number");
		if (json_is_string(on) && json_string_length(on) > 0)
			json_array_append(list, on);
	}
	json_decref(doc);
	if (json_array_size(list) == 0) {
		json_decref(list);
		return NULL;
	}
	return list;
}

int
reconcile_collect(struct store *st, const char *partner, int64_t ack_us,
                  struct reconcile_doc **docs_out, size_t *n_out,
                  struct store_error *err)
{
	struct rows rs = { 0 };
	struct expects xs = { 0 };
	struct docs d = { 0 };
	struct store_message_filter mf = { .partner = partner && *partner ? partner : NULL };
	struct store_ack_filter af = { .partner = mf.partner };
	/* order numbers by correlation id and kind: {"corr": {"order": [..]}} */
	json_t *by_corr = json_object();
	/* correlation ids an outbound 997/999/CONTRL carries */
	json_t *acks_sent = json_object();
	int rc = -1;
	*docs_out = NULL;
	*n_out = 0;
	if (!by_corr || !acks_sent)
		goto nomem;
	if (store_message_list(st, &mf, take_message, &rs, err) && !rs.nomem)
		goto out;
	if (store_ack_foreach(st, &af, take_expect, &xs, err) && !xs.nomem)
		goto out;
	if (rs.nomem || xs.nomem)
		goto nomem;
	for (size_t i = 0; i < rs.n; i++)
		if (rs.v[i].kind < 0 && *rs.v[i].corr)
			json_object_set_new(acks_sent, rs.v[i].corr, json_true());
	for (size_t i = 0; i < rs.n; i++) {
		if (!rs.v[i].canonical)
			continue;
		json_t *list = order_numbers(st, &rs.v[i]);
		if (!list)
			continue;
		json_t *c = json_object_get(by_corr, rs.v[i].corr);
		if (!c) {
			c = json_object();
			json_object_set_new(by_corr, rs.v[i].corr, c);
		}
		const char *kn = reconcile_kind_name((enum reconcile_kind)rs.v[i].kind);
		if (!json_object_get(c, kn))
			json_object_set(c, kn, list);
		if (!json_object_get(c, "any"))
			json_object_set(c, "any", list);
		for (size_t k = 0; k < json_array_size(list); k++)
			if (!new_doc(&d, &rs.v[i], json_string_value(json_array_get(list, k)))) {
				json_decref(list);
				goto nomem;
			}
		json_decref(list);
	}
	for (size_t i = 0; i < rs.n; i++) {
		const struct row *r = &rs.v[i];
		if (r->canonical || r->kind < 0)
			continue;
		json_t *c = json_object_get(by_corr, r->corr);
		json_t *list = json_object_get(c, reconcile_kind_name((enum reconcile_kind)r->kind));
		if (!list)
			list = json_object_get(c, "any");
		int ack_done = 0;
		int64_t due = r->created_us + ack_us;
		if (r->dir == STORE_IN)
			ack_done = json_object_get(acks_sent, r->corr) != NULL;
		int required = r->dir == STORE_IN;
		if (r->dir == STORE_OUT) {
			for (size_t k = 0; k < xs.n; k++) {
				if (xs.v[k].message_id != r->id)
					continue;
				required = 1;
				ack_done = !xs.v[k].open;
				due = xs.v[k].deadline_us;
				if (xs.v[k].open)
					break; /* one open group is enough to be missing */
			}
		}
		/* No canonical document with its correlation id: its order number
		 * is unknown, so it joins no chain. */
		for (size_t k = 0; k < json_array_size(list); k++) {
			struct reconcile_doc *doc =
			    new_doc(&d, r, json_string_value(json_array_get(list, k)));
			if (!doc)
				goto nomem;
			doc->ack_required = required;
			doc->ack_done = ack_done;
			doc->ack_due_us = due;
		}
	}
	*docs_out = d.v;
	*n_out = d.n;
	d.v = NULL;
	rc = 0;
	goto out;
nomem:
	err->code = STORE_ENOMEM;
	snprintf(err->message, sizeof err->message, "out of memory collecting documents");
out:
	json_decref(by_corr);
	json_decref(acks_sent);
	free(rs.v);
	free(xs.v);
	free(d.v);
	return rc;
}

/* ---- writing --------------------------------------------------------------- */

/* "2026-11-23T10:00:00Z"; "" for 0. */
/* Whole hours late, rounded down: what a person chases by. */
static int64_t
hours_late(const struct reconcile_report *r, const struct reconcile_exception *e)
{
	return (r->opts.now_us - e->due_us) / HOUR_US;
}

static void
csv_int(FILE *out, int64_t v, int last)
{
	char b[24];
	snprintf(b, sizeof b, "%" PRId64, v);
	report_text_csv(out, b, last);
}

static void
csv_time(FILE *out, int64_t us, int last)
{
	char b[32];
	report_text_time(us, b);
	report_text_csv(out, b, last);
}

int
reconcile_write_csv(FILE *out, const struct reconcile_report *r)
{
	fputs("partner,orders,responded,shipped,invoiced,complete,no_response,"
	      "no_shipment,no_invoice,no_ack\r\n", out);
	for (size_t i = 0; i < r->partner_count; i++) {
		const struct reconcile_partner *p = &r->partners[i];
		report_text_csv(out, p->partner, 0);
		int64_t v[] = { p->orders, p->responded, p->shipped, p->invoiced, p->complete,
			        p->no_response, p->no_shipment, p->no_invoice, p->no_ack };
		for (size_t k = 0; k < sizeof v / sizeof v[0]; k++)
			csv_int(out, v[k], k + 1 == sizeof v / sizeof v[0]);
	}
	fputs("\r\npartner,order_number,exception,document,message_id,message_type,"
	      "since,due,hours_late\r\n", out);
	for (size_t i = 0; i < r->exception_count; i++) {
		const struct reconcile_exception *e = &r->exceptions[i];
		report_text_csv(out, e->partner, 0);
		report_text_csv(out, e->order_number, 0);
		report_text_csv(out, reconcile_reason_name(e->reason), 0);
		report_text_csv(out, reconcile_kind_name(e->kind), 0);
		csv_int(out, e->message_id, 0);
		report_text_csv(out, e->message_type, 0);
		csv_time(out, e->since_us, 0);
		csv_time(out, e->due_us, 0);
		csv_int(out, hours_late(r, e), 1);
	}
	return ferror(out) ? -1 : 0;
}

static json_t *
json_time(int64_t us)
{
	char b[32];
	report_text_time(us, b);
	return *b ? json_string(b) : json_null();
}

int
reconcile_write_json(FILE *out, const struct reconcile_report *r)
{
	json_t *root = json_pack("{s:o, s:o, s:o, s:o, s:{s:I, s:I, s:I}}",
	    "generated", json_time(r->opts.now_us),
	    "since", json_time(r->opts.since_us),
	    "until", json_time(r->opts.until_us),
	    "partner", *r->partner_filter ? json_string(r->partner_filter) : json_null(),
	    "sla_hours",
	    "response", (json_int_t)(r->opts.response_us / HOUR_US),
	    "shipment", (json_int_t)(r->opts.ship_us / HOUR_US),
	    "invoice", (json_int_t)(r->opts.invoice_us / HOUR_US));
	json_t *ps = json_array(), *es = json_array();
	if (!root || !ps || !es) {
		json_decref(root);
		json_decref(ps);
		json_decref(es);
		return -1;
	}
	json_object_set_new(root, "partners", ps);
	json_object_set_new(root, "exceptions", es);
	for (size_t i = 0; i < r->partner_count; i++) {
		const struct reconcile_partner *p = &r->partners[i];
		json_array_append_new(ps, json_pack(
		    "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		    "partner", p->partner, "orders", (json_int_t)p->orders,
		    "responded", (json_int_t)p->responded, "shipped", (json_int_t)p->shipped,
		    "invoiced", (json_int_t)p->invoiced, "complete", (json_int_t)p->complete,
		    "no_response", (json_int_t)p->no_response,
		    "no_shipment", (json_int_t)p->no_shipment,
		    "no_invoice", (json_int_t)p->no_invoice, "no_ack", (json_int_t)p->no_ack));
	}
	for (size_t i = 0; i < r->exception_count; i++) {
		const struct reconcile_exception *e = &r->exceptions[i];
		json_array_append_new(es, json_pack(
		    "{s:s, s:s, s:s, s:s, s:I, s:s, s:o, s:o, s:I}",
		    "partner", e->partner, "order_number", e->order_number,
		    "exception", reconcile_reason_name(e->reason),
		    "document", reconcile_kind_name(e->kind),
		    "message_id", (json_int_t)e->message_id, "message_type", e->message_type,
		    "since", json_time(e->since_us), "due", json_time(e->due_us),
		    "hours_late", (json_int_t)hours_late(r, e)));
	}
	int rc = json_dumpf(root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (rc || fputc('\n', out) == EOF)
		return -1;
	return ferror(out) ? -1 : 0;
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
	"td.bad{background:#fbd8d8}";

int
reconcile_write_html(FILE *out, const struct reconcile_report *r)
{
	char t1[32], t2[32], t3[32];
	report_text_time(r->opts.now_us, t1);
	report_text_time(r->opts.since_us, t2);
	report_text_time(r->opts.until_us, t3);
	report_text_page_begin(out, "edigate order reconciliation", html_style);
	fputs("<h1>Order reconciliation</h1>\n<p class=\"meta\">As of ", out);
	report_text_html(out, t1);
	fputs(". Orders received from ", out);
	report_text_html(out, *t2 ? t2 : "the beginning");
	fputs(" until ", out);
	report_text_html(out, *t3 ? t3 : "now");
	fputs(". Partner: ", out);
	report_text_html(out, *r->partner_filter ? r->partner_filter : "all");
	fprintf(out, ". SLAs: response %" PRId64 " h, shipment %" PRId64 " h, invoice %"
	        PRId64 " h after shipment.</p>\n", (int64_t)(r->opts.response_us / HOUR_US),
	        (int64_t)(r->opts.ship_us / HOUR_US), (int64_t)(r->opts.invoice_us / HOUR_US));

	fputs("<h2>Per partner</h2>\n<table>\n<thead><tr><th>Partner</th><th>Orders</th>"
	      "<th>Responded</th><th>Shipped</th><th>Invoiced</th><th>Complete</th>"
	      "<th>No response</th><th>No shipment</th><th>No invoice</th>"
	      "<th>Missing ack</th></tr></thead>\n<tbody>\n", out);
	for (size_t i = 0; i < r->partner_count; i++) {
		const struct reconcile_partner *p = &r->partners[i];
		fputs("<tr>", out);
		report_text_html_cell(out, p->partner);
		report_text_html_num(out, p->orders);
		report_text_html_num(out, p->responded);
		report_text_html_num(out, p->shipped);
		report_text_html_num(out, p->invoiced);
		report_text_html_num(out, p->complete);
		report_text_html_num(out, p->no_response);
		report_text_html_num(out, p->no_shipment);
		report_text_html_num(out, p->no_invoice);
		report_text_html_num(out, p->no_ack);
		fputs("</tr>\n", out);
	}
	if (r->partner_count == 0)
		fputs("<tr><td colspan=\"10\">No orders in this period.</td></tr>\n", out);
	fputs("</tbody>\n</table>\n", out);

	fputs("<h2>Exceptions</h2>\n<table>\n<thead><tr><th>Partner</th><th>Order</th>"
	      "<th>Exception</th><th>Document</th><th>Message</th><th>Type</th>"
	      "<th>Since</th><th>Due</th><th>Hours late</th></tr></thead>\n<tbody>\n", out);
	for (size_t i = 0; i < r->exception_count; i++) {
		const struct reconcile_exception *e = &r->exceptions[i];
		fputs("<tr>", out);
		report_text_html_cell(out, e->partner);
		report_text_html_cell(out, e->order_number);
		fputs("<td class=\"bad\">", out);
		report_text_html(out, reconcile_reason_name(e->reason));
		fputs("</td>", out);
		report_text_html_cell(out, reconcile_kind_name(e->kind));
		report_text_html_num(out, e->message_id);
		report_text_html_cell(out, e->message_type);
		report_text_html_time(out, e->since_us);
		report_text_html_time(out, e->due_us);
		report_text_html_num(out, hours_late(r, e));
		fputs("</tr>\n", out);
	}
	if (r->exception_count == 0)
		fputs("<tr><td colspan=\"9\">None: every order is on time.</td></tr>\n", out);
	fputs("</tbody>\n</table>\n", out);
	report_text_page_end(out);
	return ferror(out) ? -1 : 0;
}
