/*
 * ack - the parts of the acknowledgment model every direction shares:
 * freeing and copying results, names of kinds and statuses, the choice
 * of what to send (see RULES in ack.h) and the default envelope.
 * Building is in ack_build.c, writing in ack_write.c, reading and JSON
 * in ack_read.c.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ack.h"
#include "partner.h"

static void copy(char *dst, size_t cap, const char *src);

static void
set_clear(ack_set_result *s)
{
	for (size_t i = 0; i < s->segment_count; i++)
		free(s->segments[i].elements);
	free(s->segments);
	s->segments = NULL;
	s->segment_count = 0;
}

static void
group_clear(ack_group_result *g)
{
	for (size_t i = 0; i < g->set_count; i++)
		set_clear(&g->sets[i]);
	free(g->sets);
	g->sets = NULL;
	g->set_count = 0;
}

void
ack_result_clear(ack_interchange_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->group_count; i++)
		group_clear(&r->groups[i]);
	free(r->groups);
	for (size_t i = 0; i < r->message_count; i++)
		set_clear(&r->messages[i]);
	free(r->messages);
	memset(r, 0, sizeof(*r));
}

static void *
dup_array(const void *src, size_t n, size_t size)
{
	if (n == 0)
		return NULL;
	void *p = malloc(n * size);
	if (p)
		memcpy(p, src, n * size);
	return p;
}

static int
set_copy(ack_set_result *out, const ack_set_result *s)
{
	*out = *s;
	out->segments = NULL;
	out->segment_count = 0;
	if (s->segment_count == 0)
		return 0;
	out->segments = dup_array(s->segments, s->segment_count,
	    sizeof(*s->segments));
	if (!out->segments)
		return -1;
	for (size_t i = 0; i < s->segment_count; i++)
		out->segments[i].elements = NULL;
	out->segment_count = s->segment_count;
	for (size_t i = 0; i < s->segment_count; i++) {
		const ack_segment_error *e = &s->segments[i];
		if (e->element_count == 0)
			continue;
		out->segments[i].elements = dup_array(e->elements,
		    e->element_count, sizeof(*e->elements));
		if (!out->segments[i].elements) {
			out->segments[i].element_count = 0;
			return -1;
		}
	}
	return 0;
}

static int
sets_copy(ack_set_result **out, size_t *count, const ack_set_result *sets,
    size_t n)
{
	*out = NULL;
	*count = 0;
	if (n == 0)
		return 0;
	*out = calloc(n, sizeof(**out));
	if (!*out)
		return -1;
	for (size_t i = 0; i < n; i++) {
		*count = i + 1;
		if (set_copy(&(*out)[i], &sets[i]) < 0)
			return -1;
	}
	return 0;
}

int
ack_result_copy(ack_interchange_result *out, const ack_interchange_result *r)
{
	*out = *r;
	out->groups = NULL;
	out->group_count = 0;
	out->messages = NULL;
	out->message_count = 0;
	if (r->group_count) {
		out->groups = calloc(r->group_count, sizeof(*out->groups));
		if (!out->groups)
			goto fail;
		for (size_t i = 0; i < r->group_count; i++) {
			ack_group_result *g = &out->groups[i];
			*g = r->groups[i];
			g->sets = NULL;
			g->set_count = 0;
			out->group_count = i + 1;
			if (sets_copy(&g->sets, &g->set_count, r->groups[i].sets,
			    r->groups[i].set_count) < 0)
				goto fail;
		}
	}
	if (sets_copy(&out->messages, &out->message_count, r->messages,
	    r->message_count) < 0)
		goto fail;
	return 0;
fail:
	ack_result_clear(out);
	return -1;
}

void
ack_result_mark_duplicate(ack_interchange_result *r)
{
	int x12 = r->standard == EDI_STANDARD_X12;
	r->status = ACK_STATUS_REJECTED;
	r->envelope_errors = 1;
	copy(r->status_code, sizeof(r->status_code), x12 ? "R" : "4");
	copy(r->note_code, sizeof(r->note_code), x12 ? "025" : "26");
	/* UNB 0020 is where the duplicate shows. */
	copy(r->service_tag, sizeof(r->service_tag), x12 ? "" : "UNB");
	r->service_element = x12 ? 0 : 5;
}

void
ack_group_mark_duplicate(ack_interchange_result *r, size_t gi, ack_kind ack)
{
	int x12 = r->standard == EDI_STANDARD_X12;
	ack_group_result *g;

	if (gi >= r->group_count)
		return;
	g = &r->groups[gi];
	g->status = ACK_STATUS_REJECTED;
	copy(g->status_code, sizeof(g->status_code), x12 ? "R" : "4");
	g->sets_accepted = 0;
	g->code_count = 0;
	memset(g->codes, 0, sizeof(g->codes));
	if (x12) {
		/* Element 716 code 19 exists from 005010 on; a 999 is always
		 * written as 005010. */
		if (ack == ACK_KIND_999 || strncmp(g->version, "005010", 6) >= 0)
			copy(g->codes[g->code_count++], 4, "19");
		for (size_t i = 0; i < g->set_count; i++) {
			g->sets[i].status = ACK_STATUS_REJECTED;
			copy(g->sets[i].status_code,
			    sizeof(g->sets[i].status_code), "R");
		}
	} else {
		copy(g->codes[g->code_count++], 4, "26");
		/* UNG 0048: the fifth data element (the tag counts as 1 in
		 * S011, which the writer adds). */
		copy(g->service_tag, sizeof(g->service_tag), "UNG");
		g->service_element = 5;
	}
}

const ack_group_result *
ack_find_group(const ack_interchange_result *r, const char *control_number)
{
	for (size_t i = 0; i < r->group_count; i++)
		if (strcmp(r->groups[i].control_number, control_number) == 0)
			return &r->groups[i];
	return NULL;
}

const ack_set_result *
ack_find_set(const ack_group_result *g, const char *control_number)
{
	for (size_t i = 0; i < g->set_count; i++)
		if (strcmp(g->sets[i].control_number, control_number) == 0)
			return &g->sets[i];
	return NULL;
}

const ack_set_result *
ack_find_message(const ack_interchange_result *r, const char *control_number)
{
	for (size_t i = 0; i < r->message_count; i++)
		if (strcmp(r->messages[i].control_number, control_number) == 0)
			return &r->messages[i];
	return NULL;
}

const char *
ack_kind_name(ack_kind kind)
{
	switch (kind) {
	case ACK_KIND_TA1: return "TA1";
	case ACK_KIND_997: return "997";
	case ACK_KIND_999: return "999";
	case ACK_KIND_CONTRL: return "CONTRL";
	default: return "none";
	}
}

ack_kind
ack_kind_from_name(const char *name)
{
	if (!name)
		return ACK_KIND_NONE;
	if (strcmp(name, "TA1") == 0)
		return ACK_KIND_TA1;
	if (strcmp(name, "997") == 0)
		return ACK_KIND_997;
	if (strcmp(name, "999") == 0)
		return ACK_KIND_999;
	if (strcmp(name, "CONTRL") == 0)
		return ACK_KIND_CONTRL;
	return ACK_KIND_NONE;
}

const char *
ack_status_name(ack_status status)
{
	switch (status) {
	case ACK_STATUS_ACCEPTED: return "accepted";
	case ACK_STATUS_ACCEPTED_WITH_ERRORS: return "accepted_with_errors";
	case ACK_STATUS_PARTIALLY_ACCEPTED: return "partially_accepted";
	case ACK_STATUS_REJECTED: return "rejected";
	case ACK_STATUS_MAC_FAILED: return "rejected_mac_failed";
	case ACK_STATUS_ASSURANCE_FAILED: return "rejected_assurance_failed";
	case ACK_STATUS_CONTENT_FAILED: return "rejected_content_failed";
	case ACK_STATUS_RECEIVED: return "received";
	default: return "unknown";
	}
}

const char *
ack_status_contrl_code(ack_status status)
{
	switch (status) {
	case ACK_STATUS_ACCEPTED:
	case ACK_STATUS_ACCEPTED_WITH_ERRORS:
	case ACK_STATUS_PARTIALLY_ACCEPTED:
		return "7";
	case ACK_STATUS_RECEIVED:
		return "8";
	case ACK_STATUS_NONE:
		return "";
	default:
		return "4";
	}
}

ack_status
ack_status_from_contrl(const char *code)
{
	if (!code)
		return ACK_STATUS_NONE;
	/* 0083: 1 acknowledged (all levels), 2 acknowledged with errors, 3
	 * one or more rejected at the next lower level, 4 rejected, 5 UNB/UNZ
	 * accepted, 6 UNB/UNZ rejected, 7 acknowledged unless lower levels
	 * say otherwise, 8 received. */
	if (strcmp(code, "1") == 0 || strcmp(code, "5") == 0 ||
	    strcmp(code, "7") == 0)
		return ACK_STATUS_ACCEPTED;
	if (strcmp(code, "2") == 0)
		return ACK_STATUS_ACCEPTED_WITH_ERRORS;
	if (strcmp(code, "3") == 0)
		return ACK_STATUS_PARTIALLY_ACCEPTED;
	if (strcmp(code, "4") == 0 || strcmp(code, "6") == 0)
		return ACK_STATUS_REJECTED;
	if (strcmp(code, "8") == 0)
		return ACK_STATUS_RECEIVED;
	return ACK_STATUS_NONE;
}

/* ------------------------------------------------------------- choosing */

ack_plan
ack_choose(const ack_interchange_result *r, const char *preferred,
    int partner_ta1)
{
	ack_plan plan = { ACK_KIND_NONE, 0 };

	/* An interchange of TA1s only is itself an answer. */
	if (r->only_ta1)
		return plan;
	if (r->standard == EDI_STANDARD_X12) {
		plan.ta1 = r->ack_requested || r->envelope_errors || partner_ta1;
		/* A rejected interchange was not opened: its groups get no
		 * functional ack, the TA1 says why. */
		if (r->status == ACK_STATUS_REJECTED)
			return plan;
		if (preferred && strcmp(preferred, "none") == 0)
			return plan;
		if (r->only_acks || r->group_count == 0)
			return plan;
		ack_kind k = ack_kind_from_name(preferred);
		if (k == ACK_KIND_997 || k == ACK_KIND_999) {
			plan.kind = k;
			return plan;
		}
		/* By version: 999 from 005010 on (GS08, else ISA12). */
		const char *v = r->group_version[0] ? r->group_version : r->version;
		int v5 = r->group_version[0] ? strncmp(v, "005010", 6) >= 0
		    : strncmp(v, "00501", 5) >= 0;
		plan.kind = v5 ? ACK_KIND_999 : ACK_KIND_997;
		return plan;
	}
	if (r->standard == EDI_STANDARD_EDIFACT) {
		if (r->only_acks)
			return plan;
		if (preferred && strcmp(preferred, "none") == 0)
			return plan;
		plan.kind = ACK_KIND_CONTRL;
	}
	return plan;
}

/* ------------------------------------------------------------- envelope */

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

void
ack_envelope_from_inbound(ack_envelope *env, const ack_interchange_result *r)
{
	memset(env, 0, sizeof(*env));
	env->delimiters = r->delimiters;
	copy(env->sender_qualifier, sizeof(env->sender_qualifier),
	    r->receiver_qualifier);
	copy(env->sender_id, sizeof(env->sender_id), r->receiver_id);
	copy(env->receiver_qualifier, sizeof(env->receiver_qualifier),
	    r->sender_qualifier);
	copy(env->receiver_id, sizeof(env->receiver_id), r->sender_id);
	copy(env->group_sender, sizeof(env->group_sender), r->group_receiver);
	copy(env->group_receiver, sizeof(env->group_receiver), r->group_sender);
	if (!env->group_sender[0])
		copy(env->group_sender, sizeof(env->group_sender), env->sender_id);
	if (!env->group_receiver[0])
		copy(env->group_receiver, sizeof(env->group_receiver),
		    env->receiver_id);
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(env->date, sizeof(env->date), "%Y%m%d", &tm);
	strftime(env->time, sizeof(env->time), "%H%M", &tm);
	if (r->standard == EDI_STANDARD_X12) {
		const char *v = r->group_version[0] ? r->group_version : "";
		int v5 = v[0] ? strncmp(v, "005010", 6) >= 0
		    : strncmp(r->version, "00501", 5) >= 0;
		copy(env->x12_version, sizeof(env->x12_version),
		    v5 ? "00501" : "00401");
		/* 00401 has no repetition separator; 00501 needs one. */
		if (!v5)
			env->delimiters.repetition = 0;
		else if (!env->delimiters.repetition)
			env->delimiters.repetition = '^';
	} else {
		copy(env->syntax_id, sizeof(env->syntax_id),
		    r->syntax_id[0] ? r->syntax_id : "UNOA");
		env->syntax_version = (unsigned)atoi(r->version);
		if (env->syntax_version < 1 || env->syntax_version > 4)
			env->syntax_version = 3;
	}
	/* Delimiters the inbound got wrong (the reason for a TA1 004 or 027)
	 * cannot carry the answer: the standard defaults do. */
	char why[128];
	if (!edi_writer_check_delimiters(&env->delimiters, why, sizeof(why))) {
		edi_line_style line = r->delimiters.suffix_len == 2 ? EDI_LINE_CRLF
		    : r->delimiters.suffix_len == 1 ? EDI_LINE_LF : EDI_LINE_NONE;
		if (r->standard == EDI_STANDARD_X12)
			edi_writer_x12_delimiters(&env->delimiters, '*', '>', '~',
			    strncmp(env->x12_version, "00501", 5) >= 0 ? '^' : 0,
			    line);
		else
			edi_writer_edifact_delimiters(&env->delimiters, ":+.? '",
			    line);
	}
	env->interchange_control = 1;
	env->group_control = 1;
	env->set_control = 1;
	env->test = r->test;
}

void
ack_envelope_apply_partner(ack_envelope *env, const ack_interchange_result *r,
    const partner *p)
{
	if (r->standard == EDI_STANDARD_X12) {
		if (p->isa_id[0]) {
			copy(env->receiver_qualifier, sizeof(env->receiver_qualifier),
			    p->isa_qualifier);
			copy(env->receiver_id, sizeof(env->receiver_id), p->isa_id);
		}
		if (p->gs_id[0])
			copy(env->group_receiver, sizeof(env->group_receiver), p->gs_id);
		if (p->element)
			env->delimiters.element = p->element;
		if (p->component)
			env->delimiters.component = p->component;
		if (p->repetition && env->delimiters.repetition)
			env->delimiters.repetition = p->repetition;
		if (p->terminator) {
			env->delimiters.terminator[0] = p->terminator;
			env->delimiters.terminator_len = 1;
		}
	} else {
		if (p->unb_id[0]) {
			copy(env->receiver_id, sizeof(env->receiver_id), p->unb_id);
			copy(env->receiver_qualifier, sizeof(env->receiver_qualifier),
			    p->unb_qualifier);
		}
		if (p->syntax[0])
			copy(env->syntax_id, sizeof(env->syntax_id), p->syntax);
		if (p->element)
			env->delimiters.element = p->element;
		if (p->component)
			env->delimiters.component = p->component;
		if (p->release)
			env->delimiters.release = p->release;
		if (p->terminator) {
			env->delimiters.terminator[0] = p->terminator;
			env->delimiters.terminator_len = 1;
		}
	}
	if (strcmp(p->line_style, "none") == 0)
		edi_writer_set_line_style(&env->delimiters, EDI_LINE_NONE);
	else if (strcmp(p->line_style, "lf") == 0)
		edi_writer_set_line_style(&env->delimiters, EDI_LINE_LF);
	else if (strcmp(p->line_style, "crlf") == 0)
		edi_writer_set_line_style(&env->delimiters, EDI_LINE_CRLF);
}

