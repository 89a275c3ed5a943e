/*
 * xlate_out - canonical documents to one complete interchange; see
 * xlate_out.h.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edi_builder.h"
#include "jparse.h"
#include "map_xlate.h"
#include "partner.h"
#include "xlate_out.h"

static const struct {
	const char *doc, *x12, *edifact, *functional_id;
} messages[] = {
	{"order", "850", "ORDERS", "PO"},
	{"order_response", "855", "ORDRSP", "PR"},
	{"shipment", "856", "DESADV", "SH"},
	{"invoice", "810", "INVOIC", "IN"},
	{"warehouse_order", "940", NULL, "OW"},
	{"warehouse_shipment", "945", NULL, "SW"},
};

const char *
xlate_out_message_for(map_standard standard, const char *doc_type)
{
	for (size_t i = 0; doc_type && i < sizeof(messages) / sizeof(messages[0]); i++)
		if (strcmp(messages[i].doc, doc_type) == 0)
			return standard == MAP_X12 ? messages[i].x12 : messages[i].edifact;
	return NULL;
}

static const char *
functional_id_for(const char *message)
{
	for (size_t i = 0; i < sizeof(messages) / sizeof(messages[0]); i++)
		if (strcmp(messages[i].x12, message) == 0)
			return messages[i].functional_id;
	return NULL;
}

/* The document's fields as the walk reads them: a wrong type reads as
 * absent. Strings in a jtree end with a NUL. */
static const jtree *
get(const jtree *o, const char *key)
{
	return jtree_object_getn(o, key, strlen(key));
}

static const char *
str(const jtree *o, const char *key)
{
	const jtree *v = get(o, key);
	return v && v->kind == JTREE_STRING ? v->u.string.ptr : NULL;
}

static char
delim(const jtree *d, const char *key, char dflt)
{
	const char *s = str(d, key);
	return s && strlen(s) == 1 ? s[0] : dflt;
}

static edi_line_style
line_style_of(const char *name)
{
	if (name && strcmp(name, "crlf") == 0)
		return EDI_LINE_CRLF;
	if (name && strcmp(name, "lf") == 0)
		return EDI_LINE_LF;
	return EDI_LINE_NONE;
}

/* The delimiters of the interchange: the partner's, else those the first
 * document came with, else the usual ones. */
static void
choose_delimiters(edi_delimiters *d, const xlate_out_options *opt, const jtree *meta,
    int x12_repetition)
{
	const partner *p = opt->partner;
	const jtree *md = NULL;
	const char *mstd = str(meta, "standard");
	if (p == NULL && mstd && strcmp(mstd, opt->standard == MAP_X12 ? "x12" : "edifact") == 0)
		md = get(meta, "delimiters");
	edi_line_style line = EDI_LINE_NONE;
	if (p)
		line = line_style_of(p->line_style);
	else if (md) {
		const char *suffix = str(md, "line_suffix");
		line = suffix && strcmp(suffix, "\r\n") == 0 ? EDI_LINE_CRLF
		    : suffix && strcmp(suffix, "\n") == 0 ? EDI_LINE_LF : EDI_LINE_NONE;
	} else if (opt->standard == MAP_X12)
		line = EDI_LINE_LF;
	if (opt->standard == MAP_X12) {
		char element = p && p->element ? p->element : delim(md, "element", '*');
		char component = p && p->component ? p->component : delim(md, "component", '>');
		char terminator = p && p->terminator ? p->terminator : delim(md, "terminator", '~');
		char repetition = p ? p->repetition : delim(md, "repetition", 0);
		/* ISA11 is a repetition separator from 00402 on. */
		if (x12_repetition && repetition == 0)
			repetition = element != '^' && component != '^' && terminator != '^' ? '^' : '!';
		if (!x12_repetition)
			repetition = 0;
		edi_writer_x12_delimiters(d, element, component, terminator, repetition, line);
	} else {
		char una[6] = {
			p && p->component ? p->component : delim(md, "component", ':'),
			p && p->element ? p->element : delim(md, "element", '+'),
			'.',
			p ? (p->release ? p->release : ' ') : delim(md, "release", '?'),
			p ? (p->repetition ? p->repetition : ' ') : delim(md, "repetition", ' '),
			p && p->terminator ? p->terminator : delim(md, "terminator", '\''),
		};
		if (p == NULL)
			una[2] = delim(md, "decimal", '.');
		edi_writer_edifact_delimiters(d, una, line);
	}
}

/* A control number: from the callback, else from the meta. */
static int
control(const xlate_out_options *opt, xlate_control_kind kind, const jtree *meta,
    const char *key, unsigned long *value, char *err, size_t errlen, size_t doc)
{
	if (opt->control)
		return opt->control(opt->control_ctx, kind, value) == 0 ? 0
		    : (snprintf(err, errlen, "document %zu: no control number", doc), -1);
	const char *s = str(meta, key);
	char *end = NULL;
	unsigned long v = s ? strtoul(s, &end, 10) : 0;
	if (s == NULL || *s == '\0' || *end != '\0' || v == 0) {
		snprintf(err, errlen, "document %zu: no %s control number in meta; give one",
		    doc, key);
		return -1;
	}
	*value = v;
	return 0;
}

typedef struct target {
	const char *message;
	char version[24];     /* the map's: 004010, D96A */
	char full_version[24]; /* GS08 as the document had it (004010VICS) */
	const char *functional_id;
	const char *association;
} target;

/* snprintf(dst, cap, "%.*s", max, src) without the format machinery:
 * this runs once per document. */
static void
copy_str(char *dst, size_t cap, const char *src, size_t max)
{
	size_t n = strnlen(src, max < cap - 1 ? max : cap - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int
choose_target(const xlate_out_options *opt, const jtree *doc, target *t, char *err,
    size_t errlen, size_t k)
{
	const jtree *meta = get(doc, "meta");
	const char *type = str(doc, "type");
	const char *want = opt->standard == MAP_X12 ? "x12" : "edifact";
	const char *mstd = str(meta, "standard");
	memset(t, 0, sizeof(*t));
	if (mstd && strcmp(mstd, want) == 0 && str(meta, "message") && str(meta, "version")) {
		t->message = str(meta, "message");
		copy_str(t->full_version, sizeof(t->full_version), str(meta, "version"), SIZE_MAX);
		t->association = str(meta, "association");
		const jtree *env = get(meta, "envelope");
		t->functional_id = str(env, "functional_id");
	} else {
		t->message = xlate_out_message_for(opt->standard, type);
		if (t->message == NULL) {
			snprintf(err, errlen, "document %zu: a %s document has no %s message",
			    k, type ? type : "(untyped)", want);
			return -1;
		}
		const char *v = opt->standard == MAP_X12 ? "004010" : "D96A";
		const partner *p = opt->partner;
		for (size_t i = 0; p && i < p->message_count; i++)
			if (!p->messages[i].inbound && p->messages[i].standard == opt->standard
			    && strcmp(p->messages[i].type, t->message) == 0)
				v = p->messages[i].version;
		copy_str(t->full_version, sizeof(t->full_version), v, SIZE_MAX);
	}
	if (t->functional_id == NULL && opt->standard == MAP_X12)
		t->functional_id = functional_id_for(t->message);
	if (opt->standard == MAP_X12 && t->functional_id == NULL) {
		snprintf(err, errlen, "document %zu: no functional group for %s", k, t->message);
		return -1;
	}
	copy_str(t->version, sizeof(t->version), t->full_version,
	    opt->standard == MAP_X12 ? 6 : 15);
	return 0;
}

static const map *
target_map(xlate_maps *maps, const xlate_out_options *opt, const target *t,
    char *err, size_t errlen, size_t k)
{
	const partner *p = opt->partner;
	const partner_message *pm = p ? partner_find_message(p, 0, opt->standard,
	    t->version, t->message) : NULL;
	char *e = NULL;
	const map *m = pm && pm->override_path
	    ? xlate_maps_find_file(maps, pm->override_path, &e)
	    : xlate_maps_find(maps, opt->standard, t->version, t->message, &e);
	if (m == NULL)
		snprintf(err, errlen, "document %zu: %s", k, e ? e : "no map");
	free(e);
	return m;
}

static int
writer_failed(edi_writer *w, char *err, size_t errlen, size_t k)
{
	const edi_write_error *we = edi_writer_error(w);
	if (we == NULL)
		return 0;
	snprintf(err, errlen, "document %zu: %s", k, we->message);
	return 1;
}

/* The document as this interchange writes it, in scratch: unmapped only
 * when it holds segments of the target standard, meta.delimiters saying
 * the decimal mark written, the partner's codes for ours. The document
 * itself is shared, not changed: members are copied only on the way to
 * what changes (all of it when cross-references apply). */
static jtree *
prepare(jtree_arena *scratch, const jtree *doc, const xlate_out_options *opt,
    char decimal)
{
	const partner *p = opt->partner;
	int xref = p && p->xref_count;
	jtree *copy = xref ? jtree_copy(scratch, doc) : jtree_object_shallow_copy(scratch, doc);
	if (copy == NULL)
		return NULL;
	const char *dstd = str(get(doc, "meta"), "standard");
	if (dstd == NULL || strcmp(dstd, opt->standard == MAP_X12 ? "x12" : "edifact") != 0)
		jtree_object_del(copy, "unmapped");
	const jtree *m = get(copy, "meta");
	jtree *cm = jtree_is_object(m) ? (xref ? (jtree *)m : jtree_object_shallow_copy(scratch, m))
	    : jtree_object(scratch);
	jtree *cd = jtree_object(scratch);
	char dm[1] = {decimal ? decimal : '.'};
	jtree_object_set(scratch, cd, "decimal", jtree_string(scratch, dm, 1));
	jtree_object_set(scratch, cm, "delimiters", cd);
	jtree_object_set(scratch, copy, "meta", cm);
	if (xref)
		partner_xref_apply_jtree(p, scratch, copy, 0);
	return jtree_arena_failed(scratch) ? NULL : copy;
}

/* An interchange being written, one document at a time: what the
 * envelope took from the first document is copied here, since the
 * caller's arena holding it may be reset before the next one. */
struct xlate_out {
	xlate_maps *maps;
	const xlate_out_options *opt;
	edi_writer *w;
	edi_builder *b;
	jtree_arena *scratch;  /* one document's prepared copy */
	edi_delimiters d;
	int x12;
	char *send_gs, *recv_gs;
	char *functional_id;   /* of the open group */
	char full_version[24];
	int group_open;
	/* The map of the last document: the next one is nearly always of the
	 * same message and version (the maps stay loaded in maps). */
	const map *last_map;
	char last_version[24], last_message[16];
	size_t k;              /* documents written */
	int failed;
	char *err;
	size_t errlen;
};

static char *
dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Starts the interchange from its first document (its meta gives the
 * envelope when there is no partner). */
static int
begin(xlate_out *x, const jtree *doc0)
{
	const xlate_out_options *opt = x->opt;
	char *err = x->err;
	size_t errlen = x->errlen;
	const jtree *meta0 = get(doc0, "meta");
	const jtree *env0 = get(meta0, "envelope");
	const partner *p = opt->partner;
	int x12 = x->x12;
	const char *mstd = str(meta0, "standard");
	int same_std = mstd && strcmp(mstd, x12 ? "x12" : "edifact") == 0;

	/* Who sends and who receives. */
	const char *recv, *recv_q, *recv_gs;
	if (p) {
		recv = x12 ? p->isa_id : p->unb_id;
		recv_q = x12 ? p->isa_qualifier : p->unb_qualifier;
		recv_gs = p->gs_id;
		if (*recv == '\0') {
			snprintf(err, errlen, "partner %s has no %s identity", p->id,
			    x12 ? "X12" : "EDIFACT");
			return -1;
		}
	} else {
		recv = str(env0, "receiver");
		recv_q = str(env0, "receiver_qualifier");
		recv_gs = str(env0, "group_receiver");
	}
	const char *send = opt->sender, *send_q = opt->sender_qualifier;
	const char *send_gs = opt->sender;
	if (send == NULL && p == NULL) {
		send = str(env0, "sender");
		send_q = str(env0, "sender_qualifier");
		send_gs = str(env0, "group_sender");
	} else if (send == NULL && same_std && str(env0, "receiver")) {
		/* An answer to what the partner sent us: we were its receiver. */
		send = str(env0, "receiver");
		send_q = str(env0, "receiver_qualifier");
		send_gs = str(env0, "group_receiver");
	}
	if (send == NULL || recv == NULL || *send == '\0' || *recv == '\0') {
		snprintf(err, errlen, "no %s identity: give a partner and our sender id",
		    send == NULL || *send == '\0' ? "sender" : "receiver");
		return -1;
	}
	if (x12 && (send_q == NULL || *send_q == '\0'))
		send_q = "ZZ";
	if (x12 && (recv_q == NULL || *recv_q == '\0'))
		recv_q = "ZZ";
	if (send_gs == NULL || *send_gs == '\0')
		send_gs = send;
	if (recv_gs == NULL || *recv_gs == '\0')
		recv_gs = recv;

	target t0;
	if (choose_target(opt, doc0, &t0, err, errlen, 1) < 0)
		return -1;
	choose_delimiters(&x->d, opt, meta0, x12 && strncmp(t0.version, "00402", 5) >= 0);
	x->send_gs = dup_or_null(send_gs);
	x->recv_gs = dup_or_null(recv_gs);
	if (x->send_gs == NULL || x->recv_gs == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	edi_writer *w = x->w;
	edi_builder *b = x->b;
	unsigned long icn;
	char num[32];
	if (edi_writer_set_delimiters(w, &x->d) != EDI_WRITE_OK) {
		writer_failed(w, err, errlen, 1);
		return -1;
	}
	if (control(opt, XLATE_CONTROL_INTERCHANGE, meta0, "interchange", &icn, err, errlen, 1) < 0)
		return -1;
	if (x12) {
		char isa12[6];
		snprintf(isa12, sizeof(isa12), "%.5s", t0.version);
		edi_x12_interchange isa = {
			.sender_qualifier = send_q, .sender_id = send,
			.receiver_qualifier = recv_q, .receiver_id = recv,
			.date = opt->date, .time = opt->time, .version = isa12,
			.control_number = icn, .ack_requested = p ? p->ta1 : 0,
			.test = opt->test,
		};
		edi_builder_x12_interchange(b, &isa);
	} else {
		snprintf(num, sizeof(num), "%lu", icn);
		edi_edifact_interchange unb = {
			.syntax_id = p && p->syntax[0] ? p->syntax : "UNOC", .syntax_version = 3,
			.sender_id = send, .sender_qualifier = send_q && *send_q ? send_q : NULL,
			.receiver_id = recv, .receiver_qualifier = recv_q && *recv_q ? recv_q : NULL,
			.date = opt->date, .time = opt->time, .control_reference = num,
			.test = opt->test,
			/* The service string advice costs nine bytes and spares
			 * the partner a guess. */
			.una = EDI_UNA_ALWAYS,
		};
		edi_builder_edifact_interchange(b, &unb);
	}
	return writer_failed(w, err, errlen, 1) ? -1 : 0;
}

/* One document: its group (X12), header, body and trailer. */
static int
add(xlate_out *x, const jtree *doc)
{
	const xlate_out_options *opt = x->opt;
	char *err = x->err;
	size_t errlen = x->errlen;
	edi_writer *w = x->w;
	edi_builder *b = x->b;
	int x12 = x->x12;
	size_t k = x->k++;
	char num[32];
	if (k == 0 && begin(x, doc) < 0)
		return -1;
	const jtree *meta = get(doc, "meta");
	target t;
	if (!jtree_is_object(doc) || choose_target(opt, doc, &t, err, errlen, k + 1) < 0) {
		if (!jtree_is_object(doc))
			snprintf(err, errlen, "document %zu: not a JSON object", k + 1);
		return -1;
	}
	const map *m;
	if (x->last_map && strcmp(t.version, x->last_version) == 0
	    && strcmp(t.message, x->last_message) == 0)
		m = x->last_map;
	else {
		m = target_map(x->maps, opt, &t, err, errlen, k + 1);
		if (m == NULL)
			return -1;
		x->last_map = NULL;
		if (strlen(t.message) < sizeof(x->last_message)) {
			memcpy(x->last_version, t.version, sizeof(x->last_version));
			memcpy(x->last_message, t.message, strlen(t.message) + 1);
			x->last_map = m;
		}
	}
	if (x12 && (!x->group_open || strcmp(t.functional_id, x->functional_id) != 0
	    || strcmp(t.full_version, x->full_version) != 0)) {
		if (x->group_open)
			edi_builder_end_group(b);
		unsigned long gcn;
		if (control(opt, XLATE_CONTROL_GROUP, meta, "group", &gcn, err, errlen, k + 1) < 0)
			return -1;
		edi_x12_group gs = {
			.functional_id = t.functional_id, .sender_code = x->send_gs,
			.receiver_code = x->recv_gs, .control_number = gcn,
			.version = t.full_version,
		};
		edi_builder_x12_group(b, &gs);
		x->group_open = 1;
		free(x->functional_id);
		if ((x->functional_id = strdup(t.functional_id)) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		memcpy(x->full_version, t.full_version, sizeof(x->full_version));
	}
	unsigned long scn;
	if (control(opt, XLATE_CONTROL_SET, meta, "set", &scn, err, errlen, k + 1) < 0)
		return -1;
	if (x12) {
		snprintf(num, sizeof(num), "%04lu", scn);
		edi_builder_x12_set(b, t.message, num, NULL);
	} else {
		char v[2] = {t.version[0], 0};
		snprintf(num, sizeof(num), "%lu", scn);
		edi_edifact_message unh = {
			.reference = num, .type = t.message, .version = v,
			.release = t.version + 1, .association = t.association,
		};
		edi_builder_edifact_message(b, &unh);
	}
	if (writer_failed(w, err, errlen, k + 1))
		return -1;
	jtree_arena_reset(x->scratch);
	jtree *copy = prepare(x->scratch, doc, opt, x->d.decimal);
	if (copy == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	char merr[256];
	long segs = map_out_jtree(m, copy, map_out_writer_sink, w, merr, sizeof(merr));
	if (segs < 0) {
		if (!writer_failed(w, err, errlen, k + 1))
			snprintf(err, errlen, "document %zu: %s", k + 1, merr);
		return -1;
	}
	edi_builder_end_message(b);
	return writer_failed(w, err, errlen, k + 1) ? -1 : 0;
}

xlate_out *
xlate_out_new(xlate_maps *maps, const xlate_out_options *opt, edi_writer_sink sink,
    void *sink_ctx, char *err, size_t errlen)
{
	xlate_out *x = calloc(1, sizeof(*x));
	if (x == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	x->maps = maps;
	x->opt = opt;
	x->x12 = opt->standard == MAP_X12;
	x->err = err;
	x->errlen = errlen;
	x->w = edi_writer_new(sink, sink_ctx);
	x->b = x->w ? edi_builder_new(x->w) : NULL;
	x->scratch = x->b ? jtree_arena_new() : NULL;
	if (x->scratch == NULL) {
		xlate_out_free(x);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	return x;
}

int
xlate_out_add(xlate_out *x, const jtree *doc)
{
	if (x->failed)
		return -1;
	if (add(x, doc) < 0)
		x->failed = 1;
	return x->failed ? -1 : 0;
}

int
xlate_out_finish(xlate_out *x)
{
	if (x->failed)
		return -1;
	if (x->k == 0) {
		snprintf(x->err, x->errlen, "no documents");
		x->failed = 1;
		return -1;
	}
	if (x->group_open)
		edi_builder_end_group(x->b);
	edi_builder_end_interchange(x->b);
	edi_writer_flush(x->w);
	if (writer_failed(x->w, x->err, x->errlen, x->k)) {
		x->failed = 1;
		return -1;
	}
	return 0;
}

void
xlate_out_free(xlate_out *x)
{
	if (x == NULL)
		return;
	jtree_arena_free(x->scratch);
	edi_builder_free(x->b);
	edi_writer_free(x->w);
	free(x->send_gs);
	free(x->recv_gs);
	free(x->functional_id);
	free(x);
}

int
xlate_out_interchange_jtree(xlate_maps *maps, const jtree *docs,
    const xlate_out_options *opt, edi_writer_sink sink, void *sink_ctx, char *err,
    size_t errlen)
{
	size_t n = jtree_array_size(docs);
	if (n == 0) {
		snprintf(err, errlen, "no documents");
		return -1;
	}
	xlate_out *x = xlate_out_new(maps, opt, sink, sink_ctx, err, errlen);
	if (x == NULL)
		return -1;
	int rc = 0;
	for (size_t k = 0; k < n && rc == 0; k++)
		rc = xlate_out_add(x, jtree_array_get(docs, k));
	if (rc == 0)
		rc = xlate_out_finish(x);
	xlate_out_free(x);
	return rc;
}

int
xlate_out_interchange(xlate_maps *maps, json_t *docs, const xlate_out_options *opt,
    edi_writer_sink sink, void *sink_ctx, char *err, size_t errlen)
{
	jtree_arena *a = jtree_arena_new();
	jtree *t = a ? jtree_array(a) : NULL;
	for (size_t i = 0; t && i < json_array_size(docs); i++) {
		jtree *d = jtree_from_json(a, json_array_get(docs, i));
		if (d == NULL) {
			if (!jtree_arena_failed(a)) {
				snprintf(err, errlen, "document %zu: document nested too deeply", i + 1);
				jtree_arena_free(a);
				return -1;
			}
			t = NULL;
			break;
		}
		jtree_array_append(a, t, d);
	}
	if (t == NULL || jtree_arena_failed(a)) {
		jtree_arena_free(a);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int rc = xlate_out_interchange_jtree(maps, t, opt, sink, sink_ctx, err, errlen);
	jtree_arena_free(a);
	return rc;
}

/* The next JSON value of text from *off (whitespace before it skipped):
 * jparse's tree, or jansson's where jparse refuses (its message, and its
 * reading of the one input where the two differ: a NUL after a value).
 * 1 with *v set, 0 at the end, -1 with e filled. */
static int
next_value(jtree_arena *a, const char *text, size_t len, size_t *off, jtree **v,
    json_error_t *e)
{
	size_t o = *off;
	while (o < len && (text[o] == ' ' || text[o] == '\n' || text[o] == '\r'
	    || text[o] == '\t'))
		o++;
	*off = o;
	if (o >= len)
		return 0;
	size_t used = 0;
	jparse_error pe;
	jtree *j = jparse(a, text + o, len - o, 0, JPARSE_STOP_AFTER_VALUE, &used, &pe);
	if (j == NULL && !jtree_arena_failed(a)) {
		json_t *jj = json_loadb(text + o, len - o, JSON_DISABLE_EOF_CHECK, e);
		if (jj == NULL)
			return -1;
		j = jtree_from_json(a, jj);
		used = (size_t)e->position;
		json_decref(jj);
	}
	if (j == NULL || used == 0) {
		memset(e, 0, sizeof(*e));
		snprintf(e->text, sizeof(e->text), "out of memory");
		return -1;
	}
	*v = j;
	*off = o + used;
	return 1;
}

int
xlate_out_text(xlate_maps *maps, const char *text, size_t len,
    const xlate_out_options *opt, edi_writer_sink sink, void *sink_ctx, char *err,
    size_t errlen, json_error_t *parse_error)
{
	jtree_arena *a = jtree_arena_new();
	xlate_out *x = a ? xlate_out_new(maps, opt, sink, sink_ctx, err, errlen) : NULL;
	if (x == NULL) {
		jtree_arena_free(a);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	size_t off = 0;
	int r, rc = 0;
	jtree *v;
	/* One value at a time, the arena reset for each: memory follows the
	 * largest value, not the file. After a document that cannot be
	 * written the rest is still parsed: a text that does not parse is
	 * reported as such, wherever it fails. */
	while ((r = next_value(a, text, len, &off, &v, parse_error)) > 0) {
		if (jtree_is_array(v))
			for (size_t i = 0; rc == 0 && i < v->u.array.size; i++)
				rc = xlate_out_add(x, v->u.array.items[i]);
		else if (rc == 0)
			rc = xlate_out_add(x, v);
		jtree_arena_reset(a);
	}
	if (r < 0)
		rc = -2;
	else if (rc == 0)
		rc = xlate_out_finish(x);
	xlate_out_free(x);
	jtree_arena_free(a);
	return rc;
}

int
xlate_out_text_parses(const char *text, size_t len, json_error_t *parse_error)
{
	jtree_arena *a = jtree_arena_new();
	if (a == NULL) {
		memset(parse_error, 0, sizeof(*parse_error));
		snprintf(parse_error->text, sizeof(parse_error->text), "out of memory");
		return -1;
	}
	size_t off = 0;
	int r;
	jtree *v;
	while ((r = next_value(a, text, len, &off, &v, parse_error)) > 0)
		jtree_arena_reset(a);
	jtree_arena_free(a);
	return r;
}
