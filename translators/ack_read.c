/*
 * ack_read - inbound TA1, 997, 999 and CONTRL into the ack model, and the
 * model as canonical JSON.
 *
 * The reader follows the carrier's envelope only as far as it needs ids
 * and control numbers (the envelope module checks the framing, if the
 * caller wants that); everything else it meets outside a 997/999 set or
 * a CONTRL message is skipped. Inside one, each segment fills the model
 * in the order the standard gives it (AK1 AK2 AK3 AK4 AK5 AK9; UCI UCF
 * UCM UCS UCD), and a segment out of that order or a value that is not
 * what the element allows becomes a problem of the document (the first
 * one's text is kept, all are counted) instead of a guess.
 *
 * CONTRL S011 0098 counts the segment tag as position 1; the model
 * numbers data elements the X12 way (first after the tag = 1), so 1 is
 * taken off when read.
 *
 * Memory per document is bounded by the same caps the collector applies
 * (ACK_MAX_SEGMENT_ERRORS, ACK_MAX_ELEMENT_ERRORS) and by ACK_READ_MAX_SETS
 * sets or messages per document; the rest is counted as dropped.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ack.h"

#define ACK_READ_MAX_SETS 1000000
#define ACK_READ_MAX_GROUPS 10000

struct ack_reader {
	ack_document_fn fn;
	void *ctx;
	/* The carrier. */
	char sender_qualifier[5], sender_id[36];
	char receiver_qualifier[5], receiver_id[36];
	char interchange_control[15];
	char group_control[15];
	char group_version[13];
	/* The document being read. */
	int open;
	int skipping;        /* inside a set that is no ack */
	ack_document doc;
	long group;          /* index into doc.result.groups, -1 none */
	long set;            /* index into the current set list, -1 none */
	long seg;            /* index into the set's segments, -1 none */
	int in_group;        /* CONTRL: UCM goes under the last UCF */
};

static void
copy(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strlen(src) : 0;
	if (n >= cap)
		n = cap - 1;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

static void
problem(ack_reader *ar, const edi_segment *seg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
problem(ack_reader *ar, const edi_segment *seg, const char *fmt, ...)
{
	if (ar->doc.problem_count++ > 0)
		return;
	char msg[128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(ar->doc.problem, sizeof(ar->doc.problem), "line %llu: %s",
	    (unsigned long long)(seg ? seg->line : ar->doc.line), msg);
}

/* Element n, component k (1-based; 0 = the element whole), unescaped,
 * trailing spaces of fixed-width X12 ids removed by the caller. */
static void
get(const edi_segment *seg, size_t n, size_t k, char *out, size_t cap)
{
	edi_slice s = { NULL, 0 };
	if (n < seg->element_count)
		s = k == 0 || (seg->flags & EDI_SEGMENT_RAW)
		    ? seg->elements[n] : edi_segment_component(seg, n, 1, k);
	size_t len = edi_unescape(s, seg->delimiters->release, out, cap - 1);
	if (len > cap - 1)
		len = cap - 1;
	out[len] = '\0';
}

static void
rtrim(char *s)
{
	size_t n = strlen(s);
	while (n > 0 && s[n - 1] == ' ')
		s[--n] = '\0';
}

/* A number of 1-9 digits, or -1. Empty gives 0 when optional. */
static long
number(const char *s, int optional)
{
	if (*s == '\0')
		return optional ? 0 : -1;
	long v = 0;
	size_t i = 0;
	for (; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 9)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static long
get_number(ack_reader *ar, const edi_segment *seg, const char *name, size_t n,
    size_t k, int optional)
{
	char buf[16];
	get(seg, n, k, buf, sizeof(buf));
	long v = number(buf, optional);
	if (v < 0) {
		problem(ar, seg, "%s '%s' is not a number", name, buf);
		return 0;
	}
	return v;
}

static ack_status
x12_status(ack_reader *ar, const edi_segment *seg, const char *name,
    const char *code, int group)
{
	if (strlen(code) == 1 && strchr(group ? "AEPRMWX" : "AEMRWX", code[0]))
		return (ack_status)code[0];
	problem(ar, seg, "%s '%s' is not an acknowledgment code", name, code);
	return ACK_STATUS_NONE;
}

/* --------------------------------------------------------- the document */

static void
doc_begin(ack_reader *ar, ack_kind kind, const edi_segment *seg)
{
	ack_result_clear(&ar->doc.result);
	memset(&ar->doc, 0, sizeof(ar->doc));
	ar->doc.kind = kind;
	copy(ar->doc.sender_qualifier, sizeof(ar->doc.sender_qualifier),
	    ar->sender_qualifier);
	copy(ar->doc.sender_id, sizeof(ar->doc.sender_id), ar->sender_id);
	copy(ar->doc.receiver_qualifier, sizeof(ar->doc.receiver_qualifier),
	    ar->receiver_qualifier);
	copy(ar->doc.receiver_id, sizeof(ar->doc.receiver_id), ar->receiver_id);
	copy(ar->doc.interchange_control, sizeof(ar->doc.interchange_control),
	    ar->interchange_control);
	copy(ar->doc.group_control, sizeof(ar->doc.group_control),
	    ar->group_control);
	copy(ar->doc.carrier_version, sizeof(ar->doc.carrier_version),
	    ar->group_version);
	ar->doc.line = seg->line;
	ar->doc.result.standard = seg->delimiters->standard;
	ar->doc.result.delimiters = *seg->delimiters;
	ar->open = 1;
	ar->group = -1;
	ar->set = -1;
	ar->seg = -1;
	ar->in_group = 0;
}

static void
doc_end(ack_reader *ar)
{
	const ack_interchange_result *r = &ar->doc.result;
	if (ar->doc.kind == ACK_KIND_997 || ar->doc.kind == ACK_KIND_999) {
		if (r->group_count == 0)
			problem(ar, NULL, "%s without AK1", ack_kind_name(ar->doc.kind));
		else if (r->groups[0].status == ACK_STATUS_NONE &&
		    !r->groups[0].status_code[0])
			problem(ar, NULL, "%s without AK9", ack_kind_name(ar->doc.kind));
	} else if (ar->doc.kind == ACK_KIND_CONTRL && !r->status_code[0]) {
		problem(ar, NULL, "CONTRL without UCI");
	}
	if (ar->fn)
		ar->fn(ar->ctx, &ar->doc);
	ack_result_clear(&ar->doc.result);
	ar->open = 0;
}

static ack_group_result *
cur_group(ack_reader *ar)
{
	return ar->group >= 0 ? &ar->doc.result.groups[ar->group] : NULL;
}

static ack_set_result *
cur_set(ack_reader *ar)
{
	if (ar->set < 0)
		return NULL;
	ack_group_result *g = cur_group(ar);
	if (ar->doc.kind == ACK_KIND_CONTRL && !ar->in_group)
		return &ar->doc.result.messages[ar->set];
	return g ? &g->sets[ar->set] : NULL;
}

static ack_segment_error *
cur_seg(ack_reader *ar)
{
	ack_set_result *s = cur_set(ar);
	return s && ar->seg >= 0 ? &s->segments[ar->seg] : NULL;
}

static ack_group_result *
new_group(ack_reader *ar, const edi_segment *seg)
{
	ack_interchange_result *r = &ar->doc.result;
	if (r->group_count >= ACK_READ_MAX_GROUPS) {
		problem(ar, seg, "more than %d groups", ACK_READ_MAX_GROUPS);
		return NULL;
	}
	ack_group_result *p = realloc(r->groups, (r->group_count + 1) * sizeof(*p));
	if (!p) {
		problem(ar, seg, "out of memory");
		return NULL;
	}
	r->groups = p;
	memset(&p[r->group_count], 0, sizeof(*p));
	ar->group = (long)r->group_count++;
	ar->set = -1;
	ar->seg = -1;
	return &p[ar->group];
}

static ack_set_result *
new_set(ack_reader *ar, const edi_segment *seg, ack_set_result **arr,
    size_t *count)
{
	if (*count >= ACK_READ_MAX_SETS) {
		problem(ar, seg, "more than %d sets", ACK_READ_MAX_SETS);
		return NULL;
	}
	ack_set_result *p = realloc(*arr, (*count + 1) * sizeof(*p));
	if (!p) {
		problem(ar, seg, "out of memory");
		return NULL;
	}
	*arr = p;
	memset(&p[*count], 0, sizeof(*p));
	ar->set = (long)(*count)++;
	ar->seg = -1;
	return &p[ar->set];
}

static ack_segment_error *
new_seg(ack_reader *ar, const edi_segment *seg)
{
	ack_set_result *s = cur_set(ar);
	if (!s) {
		problem(ar, seg, "segment error outside a set response");
		return NULL;
	}
	if (s->segment_count >= ACK_MAX_SEGMENT_ERRORS) {
		s->segments_dropped++;
		ar->seg = -1;
		return NULL;
	}
	ack_segment_error *p = realloc(s->segments,
	    (s->segment_count + 1) * sizeof(*p));
	if (!p) {
		problem(ar, seg, "out of memory");
		return NULL;
	}
	s->segments = p;
	memset(&p[s->segment_count], 0, sizeof(*p));
	ar->seg = (long)s->segment_count++;
	return &p[ar->seg];
}

static ack_element_error *
new_element(ack_reader *ar, const edi_segment *seg)
{
	ack_segment_error *e = cur_seg(ar);
	if (!e) {
		ack_set_result *s = cur_set(ar);
		if (!(s && s->segments_dropped))
			problem(ar, seg, "element error without a segment error");
		return NULL;
	}
	if (e->element_count >= ACK_MAX_ELEMENT_ERRORS) {
		e->elements_dropped++;
		return NULL;
	}
	ack_element_error *p = realloc(e->elements,
	    (e->element_count + 1) * sizeof(*p));
	if (!p) {
		problem(ar, seg, "out of memory");
		return NULL;
	}
	e->elements = p;
	memset(&p[e->element_count], 0, sizeof(*p));
	return &p[e->element_count++];
}

static void
get_codes(const edi_segment *seg, size_t from, char codes[ACK_MAX_CODES][4],
    size_t *count)
{
	*count = 0;
	for (size_t n = from; n < from + ACK_MAX_CODES && n < seg->element_count; n++) {
		char buf[4];
		get(seg, n, 0, buf, sizeof(buf));
		if (buf[0])
			copy(codes[(*count)++], 4, buf);
	}
}

/* ------------------------------------------------------------------ X12 */

static void
x12_segment(ack_reader *ar, const edi_segment *seg, const char *tag)
{
	int is999 = ar->doc.kind == ACK_KIND_999;
	char buf[100];

	if (strcmp(tag, "AK1") == 0) {
		if (ar->doc.result.group_count) {
			problem(ar, seg, "a second AK1");
			return;
		}
		ack_group_result *g = new_group(ar, seg);
		if (!g)
			return;
		get(seg, 1, 0, g->functional_id, sizeof(g->functional_id));
		get(seg, 2, 0, g->control_number, sizeof(g->control_number));
		get(seg, 3, 0, g->version, sizeof(g->version));
		if (strlen(g->functional_id) != 2 ||
		    strspn(g->functional_id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 2)
			problem(ar, seg, "AK101 '%s' is not a functional identifier",
			    g->functional_id);
		if (number(g->control_number, 0) < 0)
			problem(ar, seg, "AK102 '%s' is not a group control number",
			    g->control_number);
	} else if (strcmp(tag, "AK2") == 0) {
		ack_group_result *g = cur_group(ar);
		if (!g) {
			problem(ar, seg, "AK2 before AK1");
			return;
		}
		ack_set_result *s = new_set(ar, seg, &g->sets, &g->set_count);
		if (!s)
			return;
		get(seg, 1, 0, s->id, sizeof(s->id));
		get(seg, 2, 0, s->control_number, sizeof(s->control_number));
		get(seg, 3, 0, s->implementation, sizeof(s->implementation));
	} else if (strcmp(tag, is999 ? "IK3" : "AK3") == 0) {
		ack_segment_error *e = new_seg(ar, seg);
		if (!e)
			return;
		get(seg, 1, 0, e->tag, sizeof(e->tag));
		e->position = (unsigned)get_number(ar, seg, "AK302", 2, 0, 0);
		get(seg, 3, 0, e->loop_id, sizeof(e->loop_id));
		get(seg, 4, 0, e->code, sizeof(e->code));
	} else if (strcmp(tag, "CTX") == 0) {
		ack_segment_error *e = cur_seg(ar);
		/* The business unit ("CLM01", "BEG03") is what reconciliation
		 * wants; it wins over a situational trigger. */
		if (!e || (e->context.name[0] &&
		    strcmp(e->context.name, "SITUATIONAL TRIGGER") != 0))
			return;
		memset(&e->context, 0, sizeof(e->context));
		ack_context *x = &e->context;
		get(seg, 1, 1, x->name, sizeof(x->name));
		get(seg, 1, 2, x->reference, sizeof(x->reference));
		get(seg, 2, 0, x->tag, sizeof(x->tag));
		x->position = (unsigned)get_number(ar, seg, "CTX03", 3, 0, 1);
		get(seg, 4, 0, x->loop_id, sizeof(x->loop_id));
		x->element = (unsigned)get_number(ar, seg, "CTX05-1", 5, 1, 1);
		x->component = (unsigned)get_number(ar, seg, "CTX05-2", 5, 2, 1);
	} else if (strcmp(tag, is999 ? "IK4" : "AK4") == 0) {
		ack_element_error *el = new_element(ar, seg);
		if (!el)
			return;
		el->element = (unsigned)get_number(ar, seg, "AK401-1", 1, 1, 0);
		el->component = (unsigned)get_number(ar, seg, "AK401-2", 1, 2, 1);
		el->repetition = (unsigned)get_number(ar, seg, "AK401-3", 1, 3, 1);
		get(seg, 2, 0, buf, sizeof(buf));
		if (number(buf, 1) < 0 || strlen(buf) > 4)
			problem(ar, seg, "AK402 '%s' is not a data element number", buf);
		else
			copy(el->reference, sizeof(el->reference), buf);
		get(seg, 3, 0, el->code, sizeof(el->code));
		get(seg, 4, 0, el->bad_data, sizeof(el->bad_data));
		if (!el->code[0])
			problem(ar, seg, "AK403 missing");
	} else if (strcmp(tag, is999 ? "IK5" : "AK5") == 0) {
		ack_set_result *s = cur_set(ar);
		if (!s) {
			problem(ar, seg, "%s without AK2", tag);
			return;
		}
		get(seg, 1, 0, buf, sizeof(buf));
		copy(s->status_code, sizeof(s->status_code), buf);
		s->status = x12_status(ar, seg, tag, buf, 0);
		get_codes(seg, 2, s->codes, &s->code_count);
		ar->seg = -1;
	} else if (strcmp(tag, "AK9") == 0) {
		ack_group_result *g = cur_group(ar);
		if (!g) {
			problem(ar, seg, "AK9 before AK1");
			return;
		}
		get(seg, 1, 0, buf, sizeof(buf));
		copy(g->status_code, sizeof(g->status_code), buf);
		g->status = x12_status(ar, seg, "AK901", buf, 1);
		g->sets_included = (uint64_t)get_number(ar, seg, "AK902", 2, 0, 0);
		g->sets_received = (uint64_t)get_number(ar, seg, "AK903", 3, 0, 0);
		g->sets_accepted = (uint64_t)get_number(ar, seg, "AK904", 4, 0, 0);
		get_codes(seg, 5, g->codes, &g->code_count);
		ar->set = -1;
		ar->seg = -1;
	} else {
		problem(ar, seg, "segment %s does not belong in a %s", tag,
		    ack_kind_name(ar->doc.kind));
	}
}

static void
read_ta1(ack_reader *ar, const edi_segment *seg)
{
	char buf[8];
	doc_begin(ar, ACK_KIND_TA1, seg);
	ack_interchange_result *r = &ar->doc.result;
	get(seg, 1, 0, r->control_number, sizeof(r->control_number));
	get(seg, 2, 0, r->date, sizeof(r->date));
	get(seg, 3, 0, r->time, sizeof(r->time));
	get(seg, 4, 0, buf, sizeof(buf));
	copy(r->status_code, sizeof(r->status_code), buf);
	if (strlen(buf) == 1 && strchr("AER", buf[0]))
		r->status = (ack_status)buf[0];
	else
		problem(ar, seg, "TA104 '%s' is not A, E or R", buf);
	get(seg, 5, 0, r->note_code, sizeof(r->note_code));
	if (number(r->control_number, 0) < 0)
		problem(ar, seg, "TA101 '%s' is not a control number",
		    r->control_number);
	doc_end(ar);
}

/* -------------------------------------------------------------- EDIFACT */

static void
service_position(ack_reader *ar, const edi_segment *seg, size_t n,
    char tag[4], unsigned *element)
{
	get(seg, n, 0, tag, 4);
	long v = get_number(ar, seg, "S011 0098", n + 1, 1, 1);
	*element = v > 0 ? (unsigned)(v - 1) : 0;
}

static void
contrl_segment(ack_reader *ar, const edi_segment *seg, const char *tag)
{
	ack_interchange_result *r = &ar->doc.result;
	char buf[8];

	if (strcmp(tag, "UCI") == 0) {
		get(seg, 1, 0, r->control_number, sizeof(r->control_number));
		get(seg, 2, 1, r->sender_id, sizeof(r->sender_id));
		get(seg, 2, 2, r->sender_qualifier, sizeof(r->sender_qualifier));
		get(seg, 3, 1, r->receiver_id, sizeof(r->receiver_id));
		get(seg, 3, 2, r->receiver_qualifier, sizeof(r->receiver_qualifier));
		get(seg, 4, 0, buf, sizeof(buf));
		copy(r->status_code, sizeof(r->status_code), buf);
		r->status = ack_status_from_contrl(buf);
		if (r->status == ACK_STATUS_NONE)
			problem(ar, seg, "UCI 0083 '%s' is not an action code", buf);
		get(seg, 5, 0, r->note_code, sizeof(r->note_code));
		service_position(ar, seg, 6, r->service_tag, &r->service_element);
		if (!r->control_number[0])
			problem(ar, seg, "UCI without interchange control reference");
	} else if (strcmp(tag, "UCF") == 0) {
		ack_group_result *g = new_group(ar, seg);
		if (!g)
			return;
		ar->in_group = 1;
		get(seg, 1, 0, g->control_number, sizeof(g->control_number));
		get(seg, 2, 1, g->app_sender, sizeof(g->app_sender));
		get(seg, 2, 2, g->app_sender_qualifier, sizeof(g->app_sender_qualifier));
		get(seg, 3, 1, g->app_receiver, sizeof(g->app_receiver));
		get(seg, 3, 2, g->app_receiver_qualifier,
		    sizeof(g->app_receiver_qualifier));
		get(seg, 4, 0, buf, sizeof(buf));
		copy(g->status_code, sizeof(g->status_code), buf);
		g->status = ack_status_from_contrl(buf);
		if (g->status == ACK_STATUS_NONE)
			problem(ar, seg, "UCF 0083 '%s' is not an action code", buf);
		get(seg, 5, 0, buf, sizeof(buf));
		if (buf[0])
			copy(g->codes[g->code_count++], 4, buf);
		service_position(ar, seg, 6, g->service_tag, &g->service_element);
	} else if (strcmp(tag, "UCM") == 0) {
		ack_set_result *s;
		if (ar->in_group) {
			ack_group_result *g = cur_group(ar);
			s = new_set(ar, seg, &g->sets, &g->set_count);
		} else {
			s = new_set(ar, seg, &r->messages, &r->message_count);
		}
		if (!s)
			return;
		get(seg, 1, 0, s->control_number, sizeof(s->control_number));
		get(seg, 2, 1, s->id, sizeof(s->id));
		get(seg, 2, 2, s->version, sizeof(s->version));
		get(seg, 2, 3, s->release, sizeof(s->release));
		get(seg, 2, 4, s->agency, sizeof(s->agency));
		get(seg, 2, 5, s->association, sizeof(s->association));
		get(seg, 3, 0, buf, sizeof(buf));
		copy(s->status_code, sizeof(s->status_code), buf);
		s->status = ack_status_from_contrl(buf);
		if (s->status == ACK_STATUS_NONE)
			problem(ar, seg, "UCM 0083 '%s' is not an action code", buf);
		get(seg, 4, 0, buf, sizeof(buf));
		if (buf[0])
			copy(s->codes[s->code_count++], 4, buf);
		service_position(ar, seg, 5, s->service_tag, &s->service_element);
	} else if (strcmp(tag, "UCS") == 0) {
		ack_segment_error *e = new_seg(ar, seg);
		if (!e)
			return;
		e->position = (unsigned)get_number(ar, seg, "UCS 0096", 1, 0, 0);
		get(seg, 2, 0, e->code, sizeof(e->code));
	} else if (strcmp(tag, "UCD") == 0) {
		ack_element_error *el = new_element(ar, seg);
		if (!el)
			return;
		get(seg, 1, 0, el->code, sizeof(el->code));
		long v = get_number(ar, seg, "UCD 0098", 2, 1, 0);
		el->element = v > 0 ? (unsigned)(v - 1) : 0;
		el->component = (unsigned)get_number(ar, seg, "UCD 0104", 2, 2, 1);
		el->repetition = (unsigned)get_number(ar, seg, "UCD 0136", 2, 3, 1);
	} else {
		problem(ar, seg, "segment %s does not belong in a CONTRL", tag);
	}
}

/* ------------------------------------------------------------ interface */

ack_reader *
ack_reader_new(ack_document_fn fn, void *ctx)
{
	ack_reader *ar = calloc(1, sizeof(*ar));
	if (!ar)
		return NULL;
	ar->fn = fn;
	ar->ctx = ctx;
	return ar;
}

void
ack_reader_free(ack_reader *ar)
{
	if (!ar)
		return;
	ack_result_clear(&ar->doc.result);
	free(ar);
}

void
ack_reader_reader_callbacks(edi_reader_callbacks *out)
{
	out->segment = ack_reader_segment;
	out->error = ack_reader_reader_error;
}

int
ack_reader_segment(void *ctx, const edi_segment *seg)
{
	ack_reader *ar = ctx;
	char tag[4];

	if (seg->element_count == 0)
		return 0;
	get(seg, 0, 0, tag, sizeof(tag));

	if (strcmp(tag, "ISA") == 0 || strcmp(tag, "UNB") == 0) {
		if (ar->open) {
			problem(ar, seg, "interchange ends inside the acknowledgment");
			doc_end(ar);
		}
		ar->skipping = 0;
		ar->group_control[0] = ar->group_version[0] = '\0';
		int x12 = tag[0] == 'I';
		get(seg, x12 ? 5 : 2, x12 ? 0 : 2, ar->sender_qualifier,
		    sizeof(ar->sender_qualifier));
		get(seg, x12 ? 6 : 2, x12 ? 0 : 1, ar->sender_id,
		    sizeof(ar->sender_id));
		get(seg, x12 ? 7 : 3, x12 ? 0 : 2, ar->receiver_qualifier,
		    sizeof(ar->receiver_qualifier));
		get(seg, x12 ? 8 : 3, x12 ? 0 : 1, ar->receiver_id,
		    sizeof(ar->receiver_id));
		get(seg, x12 ? 13 : 5, 0, ar->interchange_control,
		    sizeof(ar->interchange_control));
		rtrim(ar->sender_qualifier);
		rtrim(ar->sender_id);
		rtrim(ar->receiver_qualifier);
		rtrim(ar->receiver_id);
		return 0;
	}
	if (strcmp(tag, "GS") == 0 || strcmp(tag, "UNG") == 0) {
		get(seg, tag[0] == 'G' ? 6 : 5, 0, ar->group_control,
		    sizeof(ar->group_control));
		if (tag[0] == 'G')
			get(seg, 8, 0, ar->group_version, sizeof(ar->group_version));
		return 0;
	}
	if (strcmp(tag, "GE") == 0 || strcmp(tag, "UNE") == 0) {
		ar->group_control[0] = ar->group_version[0] = '\0';
		return 0;
	}
	if (strcmp(tag, "TA1") == 0 && !ar->open && !ar->skipping) {
		read_ta1(ar, seg);
		return 0;
	}
	if (strcmp(tag, "ST") == 0 || strcmp(tag, "UNH") == 0) {
		if (ar->open) {
			problem(ar, seg, "%s inside the acknowledgment", tag);
			doc_end(ar);
		}
		char type[8];
		int x12 = tag[0] == 'S';
		get(seg, x12 ? 1 : 2, x12 ? 0 : 1, type, sizeof(type));
		ack_kind k = ack_kind_from_name(type);
		if ((x12 && (k == ACK_KIND_997 || k == ACK_KIND_999)) ||
		    (!x12 && k == ACK_KIND_CONTRL)) {
			doc_begin(ar, k, seg);
			get(seg, x12 ? 2 : 1, 0, ar->doc.set_control,
			    sizeof(ar->doc.set_control));
			if (!x12) {
				char v[4], r[4];
				get(seg, 2, 2, v, sizeof(v));
				get(seg, 2, 3, r, sizeof(r));
				snprintf(ar->doc.carrier_version,
				    sizeof(ar->doc.carrier_version), "%s:%s", v, r);
			}
			ar->skipping = 0;
		} else {
			ar->skipping = 1;
		}
		return 0;
	}
	if (strcmp(tag, "SE") == 0 || strcmp(tag, "UNT") == 0) {
		if (ar->open)
			doc_end(ar);
		ar->skipping = 0;
		return 0;
	}
	if (strcmp(tag, "IEA") == 0 || strcmp(tag, "UNZ") == 0 ||
	    strcmp(tag, "UNA") == 0) {
		if (ar->open) {
			problem(ar, seg, "%s inside the acknowledgment", tag);
			doc_end(ar);
		}
		ar->skipping = 0;
		return 0;
	}
	if (!ar->open)
		return 0;
	if (ar->doc.kind == ACK_KIND_CONTRL)
		contrl_segment(ar, seg, tag);
	else
		x12_segment(ar, seg, tag);
	return 0;
}

void
ack_reader_reader_error(void *ctx, const edi_error *error)
{
	ack_reader *ar = ctx;
	if (ar->open && error->severity == EDI_SEVERITY_ERROR)
		problem(ar, NULL, "%s: %s", edi_error_code_name(error->code),
		    error->message);
}

void
ack_reader_finish(ack_reader *ar)
{
	if (ar->open) {
		problem(ar, NULL, "input ends inside the acknowledgment");
		doc_end(ar);
	}
	ar->skipping = 0;
}

/* ----------------------------------------------------------------- JSON */

static int
set_str(json_t *o, const char *key, const char *value)
{
	if (!value || !value[0])
		return 0;
	return json_object_set_new(o, key, json_string(value));
}

static void
set_int_code(json_t *o, const char *key, const char *code)
{
	long v = number(code, 0);
	if (v >= 0)
		json_object_set_new(o, key, json_integer(v));
}

static json_t *
meta_json(const ack_document *doc)
{
	json_t *m = json_object();
	json_t *env = json_object();
	int x12 = doc->result.standard != EDI_STANDARD_EDIFACT;
	json_object_set_new(m, "standard", json_string(x12 ? "x12" : "edifact"));
	json_object_set_new(m, "version", json_string(doc->carrier_version));
	json_object_set_new(m, "message", json_string(ack_kind_name(doc->kind)));
	json_object_set_new(m, "interchange", json_string(doc->interchange_control));
	set_str(m, "group", doc->group_control);
	json_object_set_new(m, "set", json_string(doc->set_control));
	set_str(env, "sender", doc->sender_id);
	set_str(env, "sender_qualifier", doc->sender_qualifier);
	set_str(env, "receiver", doc->receiver_id);
	set_str(env, "receiver_qualifier", doc->receiver_qualifier);
	json_object_set_new(m, "envelope", env);
	return m;
}

static const char *
set_status(ack_status s)
{
	switch (s) {
	case ACK_STATUS_ACCEPTED:
		return "accepted";
	case ACK_STATUS_ACCEPTED_WITH_ERRORS:
		return "accepted_with_errors";
	case ACK_STATUS_NONE:
	case ACK_STATUS_RECEIVED:
		return NULL;
	default:
		return "rejected";
	}
}

static json_t *
sets_json(const ack_set_result *sets, size_t count, size_t *accepted,
    size_t *rejected)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < count; i++) {
		const ack_set_result *s = &sets[i];
		json_t *o = json_object();
		set_str(o, "set", s->control_number);
		set_str(o, "message", s->id);
		const char *st = set_status(s->status);
		if (st) {
			json_object_set_new(o, "status", json_string(st));
			if (strcmp(st, "rejected") == 0)
				(*rejected)++;
			else
				(*accepted)++;
		}
		json_t *errs = json_array();
		for (size_t j = 0; j < s->segment_count; j++) {
			const ack_segment_error *e = &s->segments[j];
			size_t n = e->element_count ? e->element_count : 1;
			for (size_t k = 0; k < n; k++) {
				json_t *eo = json_object();
				json_object_set_new(eo, "position",
				    json_integer(e->position));
				set_str(eo, "tag", e->tag);
				set_str(eo, "loop", e->loop_id);
				set_int_code(eo, "segment_code", e->code);
				if (e->element_count) {
					const ack_element_error *el = &e->elements[k];
					json_object_set_new(eo, "element",
					    json_integer(el->element));
					if (el->component)
						json_object_set_new(eo, "component",
						    json_integer(el->component));
					set_int_code(eo, "element_code", el->code);
					set_str(eo, "value", el->bad_data);
				}
				json_array_append_new(errs, eo);
			}
		}
		if (json_array_size(errs))
			json_object_set_new(o, "errors", errs);
		else
			json_decref(errs);
		json_array_append_new(arr, o);
	}
	return arr;
}

static const char *
overall(ack_status s, size_t accepted, size_t rejected)
{
	if (s == ACK_STATUS_PARTIALLY_ACCEPTED)
		return "partially_accepted";
	if (s == ACK_STATUS_ACCEPTED_WITH_ERRORS)
		return "accepted_with_errors";
	if (s == ACK_STATUS_ACCEPTED || s == ACK_STATUS_RECEIVED) {
		/* CONTRL 7 with some messages rejected below it. */
		if (rejected && accepted)
			return "partially_accepted";
		if (rejected)
			return "rejected";
		return "accepted";
	}
	return "rejected";
}

static json_t *
functional_ack(const ack_document *doc, const ack_group_result *g,
    const ack_set_result *sets, size_t set_count, ack_status status)
{
	json_t *o = json_object();
	size_t accepted = 0, rejected = 0;
	json_object_set_new(o, "type", json_string("functional_ack"));
	json_object_set_new(o, "meta", meta_json(doc));
	json_t *ackd = json_object();
	if (g) {
		set_str(ackd, "functional_id", g->functional_id);
		set_str(ackd, "group", g->control_number);
		set_str(ackd, "version", g->version);
	}
	if (doc->kind == ACK_KIND_CONTRL)
		set_str(ackd, "interchange", doc->result.control_number);
	json_object_set_new(o, "acknowledged", ackd);
	json_t *arr = sets_json(sets, set_count, &accepted, &rejected);
	json_object_set_new(o, "status",
	    json_string(overall(status, accepted, rejected)));
	json_object_set_new(o, "sets", arr);
	if (g && doc->kind != ACK_KIND_CONTRL) {
		json_t *c = json_object();
		json_object_set_new(c, "sets_included", json_integer((json_int_t)g->sets_included));
		json_object_set_new(c, "sets_received", json_integer((json_int_t)g->sets_received));
		json_object_set_new(c, "sets_accepted", json_integer((json_int_t)g->sets_accepted));
		json_object_set_new(o, "counts", c);
	}
	return o;
}

int
ack_document_to_json(const ack_document *doc, struct json_t *array)
{
	const ack_interchange_result *r = &doc->result;

	if (doc->kind == ACK_KIND_TA1) {
		json_t *o = json_object();
		json_object_set_new(o, "type", json_string("interchange_ack"));
		json_object_set_new(o, "meta", meta_json(doc));
		json_t *a = json_object();
		set_str(a, "interchange", r->control_number);
		set_str(a, "date", r->date);
		set_str(a, "time", r->time);
		json_object_set_new(o, "acknowledged", a);
		json_object_set_new(o, "status", json_string(
		    r->status == ACK_STATUS_NONE ? "rejected"
		    : ack_status_name(r->status)));
		set_str(o, "note_code", r->note_code);
		set_str(o, "problem", doc->problem);
		return json_array_append_new(array, o);
	}
	if (doc->kind == ACK_KIND_CONTRL) {
		if (r->group_count == 0 || r->message_count)
			json_array_append_new(array, functional_ack(doc, NULL,
			    r->messages, r->message_count, r->status));
		for (size_t i = 0; i < r->group_count; i++)
			json_array_append_new(array, functional_ack(doc,
			    &r->groups[i], r->groups[i].sets,
			    r->groups[i].set_count,
			    r->status == ACK_STATUS_REJECTED
			    ? ACK_STATUS_REJECTED : r->groups[i].status));
		return 0;
	}
	for (size_t i = 0; i < r->group_count; i++)
		json_array_append_new(array, functional_ack(doc, &r->groups[i],
		    r->groups[i].sets, r->groups[i].set_count,
		    r->groups[i].status));
	return 0;
}
