/*
 * ack_build - the collector: from the reader's segments to one
 * ack_interchange_result per inbound interchange.
 *
 * The envelope module does the framing checks and already carries the
 * acknowledgment codes (TA105, AK905, AK502, CONTRL 0085); the map engine
 * (the guide) checks each set against its map and carries the AK304 /
 * AK403 / UCS / UCD codes. The collector runs both over the same segments
 * and turns their findings into the model. The guide's issues say where
 * the bad data is but not what it was, so the collector copies the
 * element from the segment while it is still in hand (AK404 / IK404).
 *
 * Order matters at the edges of a set: the envelope closes a set at its
 * SE / UNT, or at whatever shows the trailer is missing (the next ST,
 * GE, IEA), and reports it from inside envelope_segment(). So the guide
 * sees an SE / UNT before the envelope does, and every other segment
 * after: a set_end callback then always finds the guide of the set it
 * closes.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ack.h"
#include "envelope.h"
#include "map.h"
#include "map_xlate.h"
#include "xlate.h"

#define BAD_DATA_CAP 100 /* AK404 is 1/99 */

typedef struct guide {
	int active;
	int ended;
	const map *m;
	jtree *doc;       /* in the engine's arena */
	unsigned position;
	size_t issues_seen;
	char bad[MAP_IN_MAX_ISSUES][BAD_DATA_CAP];
	/* The business unit of the set for 999 CTX ("BEG03", PO number). */
	const char *business_tag;
	unsigned business_element;
	char business_name[8];
	char business_ref[36];
} guide;

struct ack_collector {
	ack_result_fn fn;
	void *ctx;
	xlate_maps *maps;
	envelope *env;
	map_in *in;
	guide g;
	edi_standard standard;
	char gs_version[13];          /* GS08 of the open group */
	/* The interchange being built. */
	ack_interchange_result r;
	uint64_t ta1_segments;
	uint64_t messages_seen;       /* ST / UNH */
	uint64_t contrl_messages;
	ack_set_result *pending;      /* sets of the open group */
	size_t pending_count, pending_cap;
	int failed;                   /* memory ran out: result incomplete */
};

/* Copies src into dst, cut to fit (fields are bounded as the standards
 * bound them). */
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
copy_slice(char *dst, size_t cap, edi_slice s, char release)
{
	size_t n = edi_unescape(s, release, dst, cap - 1);
	if (n > cap - 1)
		n = cap - 1;
	dst[n] = '\0';
}

/* The set types whose business unit a 999 CTX names, and where it is. */
static const struct business_id {
	const char *set;
	const char *tag;
	unsigned element;
	const char *name;
} business_ids[] = {
	{ "850", "BEG", 3, "BEG03" },
	{ "855", "BAK", 3, "BAK03" },
	{ "856", "BSN", 2, "BSN02" },
	{ "810", "BIG", 2, "BIG02" },
	{ "940", "W05", 2, "W0502" },
	{ "945", "W06", 2, "W0602" },
	{ "837", "CLM", 1, "CLM01" },
};

/* ---------------------------------------------------------------- guide */

static void
guide_stop(ack_collector *c)
{
	memset(&c->g, 0, sizeof(c->g));
}

static void
tag_of(const edi_segment *seg, char out[4])
{
	copy_slice(out, 4, seg->elements[0], 0);
}

static void
guide_start(ack_collector *c, const edi_segment *seg, const char *tag)
{
	guide_stop(c);
	if (!c->maps || !c->in)
		return;
	char version[16] = "", message[8] = "";
	map_standard std;
	char rel = seg->delimiters->release;
	if (strcmp(tag, "ST") == 0) {
		std = MAP_X12;
		copy_slice(message, sizeof(message), seg->element_count > 1
		    ? seg->elements[1] : (edi_slice){ 0, 0 }, 0);
		/* GS08 "004010VICS" is version 004010 with an industry code. */
		snprintf(version, sizeof(version), "%.6s", c->gs_version);
	} else {
		std = MAP_EDIFACT;
		char v[4], r[4];
		copy_slice(message, sizeof(message),
		    edi_segment_component(seg, 2, 1, 1), rel);
		copy_slice(v, sizeof(v), edi_segment_component(seg, 2, 1, 2), rel);
		copy_slice(r, sizeof(r), edi_segment_component(seg, 2, 1, 3), rel);
		snprintf(version, sizeof(version), "%s%s", v, r);
	}
	if (!message[0] || !version[0])
		return;
	char *err = NULL;
	const map *m = xlate_maps_find(c->maps, std, version, message, &err);
	free(err);
	if (!m)
		return;
	c->g.doc = map_in_new_document(c->in);
	if (!c->g.doc)
		return;
	c->g.m = m;
	c->g.active = 1;
	c->g.position = 1;
	map_in_begin(c->in, m, c->g.doc);
	if (std == MAP_X12) {
		for (size_t i = 0; i < sizeof(business_ids) / sizeof(business_ids[0]); i++) {
			if (strcmp(business_ids[i].set, message) == 0) {
				c->g.business_tag = business_ids[i].tag;
				c->g.business_element = business_ids[i].element;
				copy(c->g.business_name, sizeof(c->g.business_name),
				    business_ids[i].name);
			}
		}
	}
}

/* Copies the data the new issues point at while the segment is here. */
static void
guide_scan(ack_collector *c, const edi_segment *seg)
{
	size_t n = 0;
	const map_issue *issues = map_in_issues(c->in, &n);
	for (size_t i = c->g.issues_seen; i < n; i++) {
		const map_issue *is = &issues[i];
		c->g.bad[i][0] = '\0';
		if (!seg || is->element == 0 || is->position != c->g.position ||
		    is->element >= seg->element_count)
			continue;
		edi_slice s = is->component
		    ? edi_segment_component(seg, is->element, 1, is->component)
		    : seg->elements[is->element];
		copy_slice(c->g.bad[i], BAD_DATA_CAP, s, seg->delimiters->release);
	}
	c->g.issues_seen = n;
}

static void
guide_segment(ack_collector *c, const edi_segment *seg, const char *tag)
{
	if (!c->g.active || c->g.ended)
		return;
	c->g.position++;
	if (strcmp(tag, "SE") == 0 || strcmp(tag, "UNT") == 0) {
		map_in_end(c->in, c->g.position);
		c->g.ended = 1;
		guide_scan(c, NULL);
		return;
	}
	if (c->g.business_tag && !c->g.business_ref[0] &&
	    strcmp(tag, c->g.business_tag) == 0 &&
	    c->g.business_element < seg->element_count)
		copy_slice(c->g.business_ref, sizeof(c->g.business_ref),
		    seg->elements[c->g.business_element], 0);
	map_in_segment(c->in, seg, c->g.position);
	guide_scan(c, seg);
}

/* The loop a segment of this tag belongs to, "" at the top level. */
static int
find_loop(const map_node *loop, const char *tag, int top, const char **id)
{
	for (size_t i = 0; i < loop->child_count; i++) {
		const map_node *n = loop->children[i];
		if (n->kind == MAP_NODE_SEGMENT) {
			if (strcmp(n->tag_text, tag) == 0) {
				*id = top ? "" : loop->id;
				return 1;
			}
		} else if (find_loop(n, tag, 0, id)) {
			return 1;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- model */

static int
add_code(char codes[ACK_MAX_CODES][4], size_t *count, const char *code)
{
	for (size_t i = 0; i < *count; i++)
		if (strcmp(codes[i], code) == 0)
			return 0;
	if (*count >= ACK_MAX_CODES)
		return 0;
	copy(codes[(*count)++], 4, code);
	return 1;
}

static ack_segment_error *
new_segment_error(ack_set_result *s)
{
	if (s->segment_count >= ACK_MAX_SEGMENT_ERRORS) {
		s->segments_dropped++;
		return NULL;
	}
	ack_segment_error *p = realloc(s->segments,
	    (s->segment_count + 1) * sizeof(*p));
	if (!p)
		return NULL;
	s->segments = p;
	p = &s->segments[s->segment_count++];
	memset(p, 0, sizeof(*p));
	return p;
}

static ack_element_error *
new_element_error(ack_segment_error *e)
{
	if (e->element_count >= ACK_MAX_ELEMENT_ERRORS) {
		e->elements_dropped++;
		return NULL;
	}
	ack_element_error *p = realloc(e->elements,
	    (e->element_count + 1) * sizeof(*p));
	if (!p)
		return NULL;
	e->elements = p;
	p = &e->elements[e->element_count++];
	memset(p, 0, sizeof(*p));
	return p;
}

/* The guide's issues as AK3/AK4 (IK3/IK4, UCS/UCD). */
static void
guide_results(ack_collector *c, ack_set_result *s)
{
	size_t n = 0;
	const map_issue *issues = map_in_issues(c->in, &n);
	int x12 = c->g.m->standard == MAP_X12;
	ack_segment_error *last = NULL;

	for (size_t i = 0; i < n; i++) {
		const map_issue *is = &issues[i];
		int element_code = x12 ? map_issue_x12_element_code(is->kind)
		    : (is->element ? map_issue_edifact_code(is->kind) : 0);
		ack_segment_error *e = last;
		/* Element issues of one segment share its AK3 / UCS. */
		int same = element_code && e && e->position == is->position &&
		    strcmp(e->tag, is->tag) == 0 &&
		    (x12 ? strcmp(e->code, "8") == 0 : e->code[0] == '\0');
		if (!same) {
			e = new_segment_error(s);
			if (!e) {
				last = NULL;
				continue;
			}
			copy(e->tag, sizeof(e->tag), is->tag);
			e->position = is->position;
			const char *loop = "";
			find_loop(&c->g.m->root, is->tag, 1, &loop);
			copy(e->loop_id, sizeof(e->loop_id), loop);
			if (element_code)
				copy(e->code, sizeof(e->code), x12 ? "8" : "");
			else
				snprintf(e->code, sizeof(e->code), "%d", x12
				    ? map_issue_x12_segment_code(is->kind)
				    : map_issue_edifact_code(is->kind));
			if (c->g.business_ref[0]) {
				copy(e->context.name, sizeof(e->context.name),
				    c->g.business_name);
				copy(e->context.reference,
				    sizeof(e->context.reference),
				    c->g.business_ref);
			}
			last = e;
		}
		if (!element_code)
			continue;
		ack_element_error *el = new_element_error(e);
		if (!el)
			continue;
		el->element = is->element;
		el->component = is->component;
		snprintf(el->code, sizeof(el->code), "%d", element_code);
		copy(el->bad_data, sizeof(el->bad_data), c->g.bad[i]);
	}
	if (map_in_issue_total(c->in) > n)
		s->segments_dropped += map_in_issue_total(c->in) - n;
}

static void
split_version(const char *v, ack_set_result *s)
{
	size_t len = strlen(v);
	if (len == 0)
		return;
	size_t vlen = len >= 4 ? len - 3 : 1;
	if (vlen > 3)
		vlen = 3;
	snprintf(s->version, sizeof(s->version), "%.*s", (int)vlen, v);
	copy(s->release, sizeof(s->release), v + vlen);
}

static void
on_set_end(void *ctx, const envelope_interchange *ic, const envelope_group *grp,
    const envelope_set *set)
{
	ack_collector *c = ctx;
	ack_set_result s;
	int x12 = ic->standard == EDI_STANDARD_X12;
	int fatal = 0, warning = 0;

	memset(&s, 0, sizeof(s));
	copy(s.id, sizeof(s.id), set->type);
	copy(s.control_number, sizeof(s.control_number), set->control_number);
	if (x12) {
		copy(s.implementation, sizeof(s.implementation), set->version);
	} else {
		split_version(set->version, &s);
		copy(s.agency, sizeof(s.agency), set->agency);
		copy(s.association, sizeof(s.association), set->association);
	}
	c->messages_seen++;
	if (strcmp(set->type, "CONTRL") == 0)
		c->contrl_messages++;

	for (size_t i = 0; i < set->errors.count; i++) {
		const envelope_error *e = &set->errors.list[i];
		if (e->severity == EDI_SEVERITY_ERROR)
			fatal = 1;
		else
			warning = 1;
		if (x12 && e->vocabulary == ENVELOPE_VOCAB_AK5) {
			add_code(s.codes, &s.code_count, e->code);
		} else if (!x12 && e->vocabulary == ENVELOPE_VOCAB_CONTRL &&
		    s.code_count == 0) {
			add_code(s.codes, &s.code_count, e->code);
			copy(s.service_tag, sizeof(s.service_tag), e->tag);
			s.service_element = e->position.element;
		}
	}
	if (set->errors.fatal)
		fatal = 1;
	if (c->g.active) {
		if (!c->g.ended) {
			map_in_end(c->in, c->g.position + 1);
			guide_scan(c, NULL);
		}
		guide_results(c, &s);
		guide_stop(c);
	}
	if (s.segment_count || s.segments_dropped) {
		fatal = 1;
		if (x12)
			add_code(s.codes, &s.code_count, "5");
	}
	s.status = fatal ? ACK_STATUS_REJECTED : warning
	    ? ACK_STATUS_ACCEPTED_WITH_ERRORS : ACK_STATUS_ACCEPTED;
	if (x12)
		snprintf(s.status_code, sizeof(s.status_code), "%c", s.status);
	else
		copy(s.status_code, sizeof(s.status_code),
		    ack_status_contrl_code(s.status));

	ack_set_result **arr = grp ? &c->pending : &c->r.messages;
	size_t *count = grp ? &c->pending_count : &c->r.message_count;
	ack_set_result *p = realloc(*arr, (*count + 1) * sizeof(**arr));
	if (!p) {
		c->failed = 1;
		for (size_t i = 0; i < s.segment_count; i++)
			free(s.segments[i].elements);
		free(s.segments);
		return;
	}
	*arr = p;
	p[(*count)++] = s;
}

static void
on_group_end(void *ctx, const envelope_interchange *ic, const envelope_group *grp)
{
	ack_collector *c = ctx;
	int x12 = ic->standard == EDI_STANDARD_X12;
	ack_group_result g;
	int fatal = 0;

	memset(&g, 0, sizeof(g));
	copy(g.functional_id, sizeof(g.functional_id), grp->functional_id);
	copy(g.control_number, sizeof(g.control_number), grp->control_number);
	copy(g.version, sizeof(g.version), grp->version);
	copy(g.app_sender, sizeof(g.app_sender), grp->app_sender);
	copy(g.app_sender_qualifier, sizeof(g.app_sender_qualifier),
	    grp->app_sender_qualifier);
	copy(g.app_receiver, sizeof(g.app_receiver), grp->app_receiver);
	copy(g.app_receiver_qualifier, sizeof(g.app_receiver_qualifier),
	    grp->app_receiver_qualifier);
	for (size_t i = 0; i < grp->errors.count; i++) {
		const envelope_error *e = &grp->errors.list[i];
		if (e->severity == EDI_SEVERITY_ERROR)
			fatal = 1;
		if (x12 && e->vocabulary == ENVELOPE_VOCAB_AK9) {
			add_code(g.codes, &g.code_count, e->code);
		} else if (!x12 && e->vocabulary == ENVELOPE_VOCAB_CONTRL &&
		    g.code_count == 0) {
			add_code(g.codes, &g.code_count, e->code);
			copy(g.service_tag, sizeof(g.service_tag), e->tag);
			g.service_element = e->position.element;
		}
	}
	if (grp->errors.fatal)
		fatal = 1;
	g.sets = c->pending;
	g.set_count = c->pending_count;
	c->pending = NULL;
	c->pending_count = 0;
	g.sets_received = g.set_count;
	g.sets_included = grp->has_trailer ? grp->declared_count : g.set_count;
	for (size_t i = 0; i < g.set_count; i++)
		if (g.sets[i].status == ACK_STATUS_ACCEPTED ||
		    g.sets[i].status == ACK_STATUS_ACCEPTED_WITH_ERRORS)
			g.sets_accepted++;
	int with_errors = 0;
	for (size_t i = 0; i < g.set_count; i++)
		if (g.sets[i].status == ACK_STATUS_ACCEPTED_WITH_ERRORS)
			with_errors = 1;
	/* AK901: R when the group itself is in error or no set got
	 * through, P when some did, E/A when all did. */
	if (fatal || (g.set_count > 0 && g.sets_accepted == 0))
		g.status = ACK_STATUS_REJECTED;
	else if (g.sets_accepted < g.set_count)
		g.status = ACK_STATUS_PARTIALLY_ACCEPTED;
	else
		g.status = with_errors ? ACK_STATUS_ACCEPTED_WITH_ERRORS
		    : ACK_STATUS_ACCEPTED;
	if (x12)
		snprintf(g.status_code, sizeof(g.status_code), "%c", g.status);
	else
		copy(g.status_code, sizeof(g.status_code),
		    ack_status_contrl_code(g.status));
	if (c->r.group_count == 0) {
		copy(c->r.group_version, sizeof(c->r.group_version), grp->version);
		copy(c->r.group_sender, sizeof(c->r.group_sender), grp->app_sender);
		copy(c->r.group_receiver, sizeof(c->r.group_receiver),
		    grp->app_receiver);
	}
	ack_group_result *p = realloc(c->r.groups,
	    (c->r.group_count + 1) * sizeof(*p));
	if (!p) {
		c->failed = 1;
		for (size_t i = 0; i < g.set_count; i++) {
			for (size_t j = 0; j < g.sets[i].segment_count; j++)
				free(g.sets[i].segments[j].elements);
			free(g.sets[i].segments);
		}
		free(g.sets);
		return;
	}
	c->r.groups = p;
	p[c->r.group_count++] = g;
}

static void
reset_interchange(ack_collector *c)
{
	ack_result_clear(&c->r);
	for (size_t i = 0; i < c->pending_count; i++) {
		for (size_t j = 0; j < c->pending[i].segment_count; j++)
			free(c->pending[i].segments[j].elements);
		free(c->pending[i].segments);
	}
	free(c->pending);
	c->pending = NULL;
	c->pending_count = 0;
	c->ta1_segments = 0;
	c->messages_seen = 0;
	c->contrl_messages = 0;
	c->failed = 0;
}

static void
on_interchange_end(void *ctx, const envelope_interchange *ic)
{
	ack_collector *c = ctx;
	ack_interchange_result *r = &c->r;
	int x12 = ic->standard == EDI_STANDARD_X12;
	int fatal = 0, warning = 0;

	r->standard = ic->standard;
	r->delimiters = ic->delimiters;
	copy(r->control_number, sizeof(r->control_number), ic->control_number);
	copy(r->date, sizeof(r->date), ic->date);
	copy(r->time, sizeof(r->time), ic->time);
	copy(r->version, sizeof(r->version), ic->version);
	copy(r->syntax_id, sizeof(r->syntax_id), ic->syntax_id);
	copy(r->sender_qualifier, sizeof(r->sender_qualifier), ic->sender_qualifier);
	copy(r->sender_id, sizeof(r->sender_id), ic->sender_id);
	copy(r->receiver_qualifier, sizeof(r->receiver_qualifier),
	    ic->receiver_qualifier);
	copy(r->receiver_id, sizeof(r->receiver_id), ic->receiver_id);
	r->ack_requested = strcmp(ic->ack_requested, "1") == 0;
	r->test = x12 ? strcmp(ic->test_indicator, "T") == 0
	    : strcmp(ic->test_indicator, "1") == 0;

	const envelope_error *first_fatal = NULL, *first_warning = NULL;
	for (size_t i = 0; i < ic->errors.count; i++) {
		const envelope_error *e = &ic->errors.list[i];
		if (e->vocabulary != (x12 ? ENVELOPE_VOCAB_TA1
		    : ENVELOPE_VOCAB_CONTRL))
			continue;
		if (e->severity == EDI_SEVERITY_ERROR) {
			fatal = 1;
			if (!first_fatal)
				first_fatal = e;
		} else {
			warning = 1;
			if (!first_warning)
				first_warning = e;
		}
	}
	const envelope_error *shown = first_fatal ? first_fatal : first_warning;
	r->envelope_errors = fatal || warning;
	r->status = fatal ? ACK_STATUS_REJECTED : warning
	    ? ACK_STATUS_ACCEPTED_WITH_ERRORS : ACK_STATUS_ACCEPTED;
	if (x12) {
		snprintf(r->status_code, sizeof(r->status_code), "%c", r->status);
		copy(r->note_code, sizeof(r->note_code), shown ? shown->code : "000");
	} else {
		copy(r->status_code, sizeof(r->status_code),
		    ack_status_contrl_code(r->status));
		copy(r->note_code, sizeof(r->note_code), shown ? shown->code : "");
		if (shown) {
			copy(r->service_tag, sizeof(r->service_tag), shown->tag);
			r->service_element = shown->position.element;
		}
	}
	r->only_ta1 = c->ta1_segments > 0 && c->messages_seen == 0 &&
	    r->group_count == 0;
	if (x12) {
		int all_fa = r->group_count > 0;
		for (size_t i = 0; i < r->group_count; i++)
			if (strcmp(r->groups[i].functional_id, "FA") != 0)
				all_fa = 0;
		r->only_acks = all_fa;
	} else {
		r->only_acks = c->messages_seen > 0 &&
		    c->contrl_messages == c->messages_seen;
	}
	if (c->fn && !c->failed)
		c->fn(c->ctx, r);
	reset_interchange(c);
}

/* ------------------------------------------------------------ interface */

ack_collector *
ack_collector_new(const ack_collector_options *options, ack_result_fn fn,
    void *ctx)
{
	ack_collector *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->fn = fn;
	c->ctx = ctx;
	if (options)
		c->maps = options->maps;
	envelope_callbacks cb = {
		.set_end = on_set_end,
		.group_end = on_group_end,
		.interchange_end = on_interchange_end,
	};
	c->env = envelope_new(&cb, c);
	if (c->maps)
		c->in = map_in_new();
	if (!c->env || (c->maps && !c->in)) {
		ack_collector_free(c);
		return NULL;
	}
	return c;
}

void
ack_collector_free(ack_collector *c)
{
	if (!c)
		return;
	guide_stop(c);
	reset_interchange(c);
	if (c->env)
		envelope_free(c->env);
	if (c->in)
		map_in_free(c->in);
	free(c);
}

void
ack_collector_reader_callbacks(edi_reader_callbacks *out)
{
	out->segment = ack_collector_segment;
	out->error = ack_collector_reader_error;
}

int
ack_collector_segment(void *ctx, const edi_segment *seg)
{
	ack_collector *c = ctx;
	char tag[4] = "";

	if (seg->element_count > 0)
		tag_of(seg, tag);
	int trailer = strcmp(tag, "SE") == 0 || strcmp(tag, "UNT") == 0;
	if (trailer)
		guide_segment(c, seg, tag);
	envelope_segment(c->env, seg);
	if (trailer)
		return 0;
	if (strcmp(tag, "ST") == 0 || strcmp(tag, "UNH") == 0) {
		guide_start(c, seg, tag);
	} else if (strcmp(tag, "GS") == 0) {
		c->gs_version[0] = '\0';
		if (seg->element_count > 8)
			copy_slice(c->gs_version, sizeof(c->gs_version),
			    seg->elements[8], 0);
	} else if (strcmp(tag, "TA1") == 0) {
		c->ta1_segments++;
	} else if (strcmp(tag, "ISA") == 0 || strcmp(tag, "UNB") == 0 ||
	    strcmp(tag, "GE") == 0 || strcmp(tag, "IEA") == 0 ||
	    strcmp(tag, "UNE") == 0 || strcmp(tag, "UNZ") == 0 ||
	    strcmp(tag, "UNG") == 0 || strcmp(tag, "UNA") == 0) {
		/* Envelope segments are no part of a set's body. */
	} else {
		guide_segment(c, seg, tag);
	}
	return 0;
}

void
ack_collector_reader_error(void *ctx, const edi_error *error)
{
	ack_collector *c = ctx;
	envelope_reader_error(c->env, error);
}

void
ack_collector_finish(ack_collector *c)
{
	envelope_finish(c->env);
	guide_stop(c);
}
