/*
 * ack_write - an ack_interchange_result as a TA1, 997, 999 or CONTRL
 * interchange, through edi_builder (envelopes, counts) and edi_writer
 * (delimiters, line style).
 *
 * X12 (X12.5 / X12.6, 997 and 999 implementation guides 005010X230 and
 * 005010X231A1): ISA [TA1] GS*FA ST*997|999 AK1 {AK2 {AK3|IK3 [CTX]
 * {AK4|IK4}} AK5|IK5} AK9 SE GE IEA. AK401/IK401 is the composite C030
 * (element:component[:repetition]); AK103, AK203 and ST03 appear from
 * 005010 on.
 *
 * EDIFACT (ISO 9735-4 CONTRL): UNB UNH UCI {UCM {UCS {UCD}}} or UCI
 * {UCF {UCM {UCS {UCD}}}} UNT UNZ. S009 of the CONTRL is D:3:UN under
 * syntax 3 and 4:1:UN under syntax 4. S011 0098 counts the segment tag
 * as position 1, so a data element the model numbers n (the X12 way,
 * first element after the tag = 1) is written as n + 1.
 *
 * A copy of bad data (AK404) that would read back differently (it holds
 * a delimiter of the ack or a control character) is left out, as X12
 * asks ("in no case shall a value be used for AK404 that would generate
 * a syntax error").
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ack.h"
#include "edi_builder.h"

static int
num(char *buf, size_t cap, unsigned long n)
{
	return snprintf(buf, cap, "%lu", n);
}

static edi_write_status
el_num(edi_writer *w, unsigned long n)
{
	char buf[24];
	num(buf, sizeof(buf), n);
	return edi_writer_element(w, buf);
}

static edi_write_status
comp_num(edi_writer *w, unsigned long n)
{
	char buf[24];
	num(buf, sizeof(buf), n);
	return edi_writer_component(w, buf);
}

/* 1 when value can be written with d and read back the same. */
static int
writable(const char *value, const edi_delimiters *d)
{
	for (const char *p = value; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch < 0x20 || ch == 0x7f)
			return 0;
		if (*p == d->element || *p == d->component ||
		    (d->repetition && *p == d->repetition) ||
		    (d->release && *p == d->release))
			return 0;
		for (unsigned i = 0; i < d->terminator_len; i++)
			if (*p == d->terminator[i])
				return 0;
	}
	return 1;
}

static void
codes_elements(edi_writer *w, char codes[][4], size_t count)
{
	for (size_t i = 0; i < count; i++)
		edi_writer_element(w, codes[i]);
}

/* --------------------------------------------------------------- X12 */

static void
write_ta1(edi_writer *w, const ack_interchange_result *r)
{
	edi_writer_begin(w, "TA1");
	edi_writer_element(w, r->control_number);
	edi_writer_element(w, r->date);
	edi_writer_element(w, r->time);
	edi_writer_element(w, r->status_code[0] ? r->status_code : "A");
	edi_writer_element(w, r->note_code[0] ? r->note_code : "000");
	edi_writer_end(w);
}

static void
write_x12_set(edi_writer *w, const ack_set_result *s, int is999, int v5)
{
	const edi_delimiters *d = edi_writer_delimiters(w);

	edi_writer_begin(w, "AK2");
	edi_writer_element(w, s->id);
	edi_writer_element(w, s->control_number);
	if (v5)
		edi_writer_element(w, s->implementation);
	edi_writer_end(w);
	for (size_t i = 0; i < s->segment_count; i++) {
		const ack_segment_error *e = &s->segments[i];
		edi_writer_begin(w, is999 ? "IK3" : "AK3");
		edi_writer_element(w, e->tag);
		el_num(w, e->position);
		edi_writer_element(w, e->loop_id);
		edi_writer_element(w, e->code);
		edi_writer_end(w);
		if (is999 && e->context.name[0] &&
		    writable(e->context.name, d) &&
		    writable(e->context.reference, d)) {
			edi_writer_begin(w, "CTX");
			edi_writer_element(w, e->context.name);
			edi_writer_component(w, e->context.reference);
			if (e->context.tag[0]) {
				edi_writer_element(w, e->context.tag);
				el_num(w, e->context.position);
				edi_writer_element(w, e->context.loop_id);
				if (e->context.element) {
					el_num(w, e->context.element);
					if (e->context.component)
						comp_num(w, e->context.component);
				}
			}
			edi_writer_end(w);
		}
		for (size_t j = 0; j < e->element_count; j++) {
			const ack_element_error *el = &e->elements[j];
			edi_writer_begin(w, is999 ? "IK4" : "AK4");
			el_num(w, el->element);
			if (el->component || (is999 && el->repetition))
				comp_num(w, el->component);
			if (is999 && el->repetition)
				comp_num(w, el->repetition);
			edi_writer_element(w, el->reference);
			edi_writer_element(w, el->code);
			if (el->bad_data[0] && writable(el->bad_data, d))
				edi_writer_element(w, el->bad_data);
			edi_writer_end(w);
		}
	}
	edi_writer_begin(w, is999 ? "IK5" : "AK5");
	edi_writer_element(w, s->status_code[0] ? s->status_code : "A");
	codes_elements(w, (char (*)[4])s->codes, s->code_count);
	edi_writer_end(w);
}

static edi_write_status
write_x12(edi_writer *w, edi_builder *b, const ack_interchange_result *r,
    ack_plan plan, const ack_envelope *env)
{
	int v5 = strncmp(env->x12_version, "00501", 5) >= 0;
	int is999 = plan.kind == ACK_KIND_999;
	const char *impl = is999 ? "005010X231A1" : v5 ? "005010X230" : NULL;
	edi_x12_interchange isa = {
		.sender_qualifier = env->sender_qualifier,
		.sender_id = env->sender_id,
		.receiver_qualifier = env->receiver_qualifier,
		.receiver_id = env->receiver_id,
		.date = env->date,
		.time = env->time,
		.version = env->x12_version,
		.control_number = env->interchange_control,
		.test = env->test,
	};
	edi_builder_x12_interchange(b, &isa);
	if (plan.ta1)
		write_ta1(w, r);

	size_t groups = 0;
	if (plan.kind == ACK_KIND_997 || plan.kind == ACK_KIND_999)
		for (size_t i = 0; i < r->group_count; i++)
			if (strcmp(r->groups[i].functional_id, "FA") != 0)
				groups++;
	if (groups) {
		edi_x12_group gs = {
			.functional_id = "FA",
			.sender_code = env->group_sender,
			.receiver_code = env->group_receiver,
			.control_number = env->group_control,
			.version = impl ? impl : "004010",
		};
		edi_builder_x12_group(b, &gs);
		unsigned long set_control = env->set_control;
		for (size_t i = 0; i < r->group_count; i++) {
			const ack_group_result *g = &r->groups[i];
			if (strcmp(g->functional_id, "FA") == 0)
				continue;
			char ctl[16];
			snprintf(ctl, sizeof(ctl), "%04lu", set_control++);
			edi_builder_x12_set(b, is999 ? "999" : "997", ctl, impl);
			edi_writer_begin(w, "AK1");
			edi_writer_element(w, g->functional_id);
			edi_writer_element(w, g->control_number);
			if (v5 || is999)
				edi_writer_element(w, g->version);
			edi_writer_end(w);
			for (size_t j = 0; j < g->set_count; j++)
				write_x12_set(w, &g->sets[j], is999, v5 || is999);
			edi_writer_begin(w, "AK9");
			edi_writer_element(w, g->status_code[0] ? g->status_code : "A");
			el_num(w, g->sets_included);
			el_num(w, g->sets_received);
			el_num(w, g->sets_accepted);
			codes_elements(w, (char (*)[4])g->codes, g->code_count);
			edi_writer_end(w);
			edi_builder_end_message(b);
		}
		edi_builder_end_group(b);
	}
	return edi_builder_end_interchange(b);
}

/* ------------------------------------------------------------ EDIFACT */

/* 0013 and S011 of UCI, UCF, UCM: where in the service segment. */
static void
service_position(edi_writer *w, const char *tag, unsigned element)
{
	if (!tag[0])
		return;
	edi_writer_element(w, tag);
	if (element)
		el_num(w, element + 1);
}

static void
write_ucm(edi_writer *w, const ack_set_result *s)
{
	edi_writer_begin(w, "UCM");
	edi_writer_element(w, s->control_number);
	edi_writer_element(w, s->id);
	edi_writer_component(w, s->version);
	edi_writer_component(w, s->release);
	edi_writer_component(w, s->agency);
	edi_writer_component(w, s->association);
	edi_writer_element(w, s->status_code[0] ? s->status_code : "7");
	edi_writer_element(w, s->code_count ? s->codes[0] : "");
	service_position(w, s->service_tag, s->service_element);
	edi_writer_end(w);
	for (size_t i = 0; i < s->segment_count; i++) {
		const ack_segment_error *e = &s->segments[i];
		edi_writer_begin(w, "UCS");
		el_num(w, e->position);
		edi_writer_element(w, e->code);
		edi_writer_end(w);
		for (size_t j = 0; j < e->element_count; j++) {
			const ack_element_error *el = &e->elements[j];
			edi_writer_begin(w, "UCD");
			edi_writer_element(w, el->code);
			el_num(w, el->element + 1);
			if (el->component)
				comp_num(w, el->component);
			edi_writer_end(w);
		}
	}
}

static edi_write_status
write_contrl(edi_writer *w, edi_builder *b, const ack_interchange_result *r,
    const ack_envelope *env)
{
	char ref[24];
	unsigned sv = env->syntax_version ? env->syntax_version : 3;

	num(ref, sizeof(ref), env->interchange_control);
	edi_edifact_interchange unb = {
		.syntax_id = env->syntax_id[0] ? env->syntax_id : "UNOA",
		.syntax_version = sv,
		.sender_id = env->sender_id,
		.sender_qualifier = env->sender_qualifier[0] ? env->sender_qualifier : NULL,
		.receiver_id = env->receiver_id,
		.receiver_qualifier = env->receiver_qualifier[0]
		    ? env->receiver_qualifier : NULL,
		.date = env->date,
		.time = env->time,
		.control_reference = ref,
		.test = env->test,
	};
	edi_builder_edifact_interchange(b, &unb);
	char mref[24];
	num(mref, sizeof(mref), env->set_control);
	edi_edifact_message unh = {
		.reference = mref,
		.type = "CONTRL",
		.version = sv >= 4 ? "4" : "D",
		.release = sv >= 4 ? "1" : "3",
	};
	edi_builder_edifact_message(b, &unh);

	edi_writer_begin(w, "UCI");
	edi_writer_element(w, r->control_number);
	edi_writer_element(w, r->sender_id);
	edi_writer_component(w, r->sender_qualifier);
	edi_writer_element(w, r->receiver_id);
	edi_writer_component(w, r->receiver_qualifier);
	edi_writer_element(w, r->status_code[0] ? r->status_code : "7");
	edi_writer_element(w, r->note_code);
	service_position(w, r->service_tag, r->service_element);
	edi_writer_end(w);

	/* A rejected interchange was not opened: nothing below it. */
	if (r->status != ACK_STATUS_REJECTED) {
		for (size_t i = 0; i < r->message_count; i++)
			write_ucm(w, &r->messages[i]);
		for (size_t i = 0; i < r->group_count; i++) {
			const ack_group_result *g = &r->groups[i];
			edi_writer_begin(w, "UCF");
			edi_writer_element(w, g->control_number);
			edi_writer_element(w, g->app_sender);
			edi_writer_component(w, g->app_sender_qualifier);
			edi_writer_element(w, g->app_receiver);
			edi_writer_component(w, g->app_receiver_qualifier);
			edi_writer_element(w, g->status_code[0] ? g->status_code : "7");
			edi_writer_element(w, g->code_count ? g->codes[0] : "");
			service_position(w, g->service_tag, g->service_element);
			edi_writer_end(w);
			for (size_t j = 0; j < g->set_count; j++)
				write_ucm(w, &g->sets[j]);
		}
	}
	edi_builder_end_message(b);
	return edi_builder_end_interchange(b);
}

edi_write_status
ack_write(edi_writer *w, const ack_interchange_result *r, ack_plan plan,
    const ack_envelope *env)
{
	const edi_write_error *prior = edi_writer_error(w);
	if (prior)
		return prior->code;
	if (plan.kind == ACK_KIND_NONE && !plan.ta1)
		return EDI_WRITE_OK;
	int x12 = plan.kind == ACK_KIND_997 || plan.kind == ACK_KIND_999 ||
	    (plan.kind == ACK_KIND_NONE && plan.ta1);
	if (!x12 && plan.kind != ACK_KIND_CONTRL)
		return edi_writer_fail(w, EDI_WRITE_BAD_VALUE,
		    "acknowledgment kind %s cannot be written alone",
		    ack_kind_name(plan.kind));
	edi_delimiters d = env->delimiters;
	d.standard = x12 ? EDI_STANDARD_X12 : EDI_STANDARD_EDIFACT;
	edi_write_status st = edi_writer_set_delimiters(w, &d);
	if (st != EDI_WRITE_OK)
		return st;
	edi_builder *b = edi_builder_new(w);
	if (!b)
		return edi_writer_fail(w, EDI_WRITE_NO_MEMORY, "out of memory");
	st = x12 ? write_x12(w, b, r, plan, env) : write_contrl(w, b, r, env);
	edi_builder_free(b);
	if (st == EDI_WRITE_OK)
		st = edi_writer_flush(w);
	const edi_write_error *e = edi_writer_error(w);
	return e ? e->code : st;
}
