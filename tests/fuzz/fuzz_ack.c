/*
 * fuzz_ack - libFuzzer target for the acknowledgment reader: inbound TA1,
 * 997, 999 and CONTRL, through the EDI reader, into the ack model, then
 * out again as canonical JSON and as a 997/999/CONTRL interchange.
 *
 * WHAT IT PROVES
 *   For any input: no crash, no sanitizer report, bounded memory; every
 *   string of every document is NUL-terminated inside its array, element
 *   and segment error lists stay within their caps; and chunking changes
 *   nothing: fed whole and split at a position derived from the first
 *   byte, the documents hash the same. Writing a document back (ack_write)
 *   may refuse a value, but never crashes. A difference is a crash through
 *   __builtin_trap().
 *
 * NEVER
 *   Depends on anything but the public headers.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "ack.h"
#include "edi_reader.h"
#include "edi_writer.h"

typedef struct fuzz_trace {
	uint64_t hash;
	uint64_t docs;
	int write;
} fuzz_trace;

static void
mix(fuzz_trace *t, uint64_t v)
{
	t->hash ^= v;
	t->hash *= 0x100000001b3ULL;
	t->hash ^= t->hash >> 29;
}

static void
mix_field(fuzz_trace *t, const char *s, size_t cap)
{
	const char *end = memchr(s, '\0', cap);
	if (end == NULL)
		__builtin_trap();
	for (const char *p = s; p < end; p++)
		mix(t, (unsigned char)*p);
	mix(t, (uint64_t)(end - s));
}

#define FIELD(t, f) mix_field((t), (f), sizeof(f))

static void
mix_set(fuzz_trace *t, const ack_set_result *s)
{
	FIELD(t, s->id);
	FIELD(t, s->control_number);
	FIELD(t, s->implementation);
	FIELD(t, s->version);
	FIELD(t, s->release);
	FIELD(t, s->agency);
	FIELD(t, s->association);
	FIELD(t, s->status_code);
	FIELD(t, s->service_tag);
	mix(t, s->status);
	if (s->code_count > ACK_MAX_CODES || s->segment_count > ACK_MAX_SEGMENT_ERRORS)
		__builtin_trap();
	for (size_t i = 0; i < s->code_count; i++)
		FIELD(t, s->codes[i]);
	for (size_t i = 0; i < s->segment_count; i++) {
		const ack_segment_error *e = &s->segments[i];
		FIELD(t, e->tag);
		FIELD(t, e->loop_id);
		FIELD(t, e->code);
		FIELD(t, e->context.name);
		FIELD(t, e->context.reference);
		mix(t, e->position);
		if (e->element_count > ACK_MAX_ELEMENT_ERRORS)
			__builtin_trap();
		for (size_t j = 0; j < e->element_count; j++) {
			FIELD(t, e->elements[j].code);
			FIELD(t, e->elements[j].reference);
			FIELD(t, e->elements[j].bad_data);
			mix(t, e->elements[j].element);
			mix(t, e->elements[j].component);
		}
	}
}

static void
on_document(void *ctx, const ack_document *doc)
{
	fuzz_trace *t = ctx;
	const ack_interchange_result *r = &doc->result;

	t->docs++;
	mix(t, doc->kind);
	FIELD(t, doc->sender_id);
	FIELD(t, doc->interchange_control);
	FIELD(t, doc->set_control);
	FIELD(t, doc->problem);
	FIELD(t, doc->carrier_version);
	mix(t, doc->problem_count);
	FIELD(t, r->control_number);
	FIELD(t, r->status_code);
	FIELD(t, r->note_code);
	for (size_t i = 0; i < r->group_count; i++) {
		const ack_group_result *g = &r->groups[i];
		FIELD(t, g->functional_id);
		FIELD(t, g->control_number);
		FIELD(t, g->status_code);
		mix(t, g->sets_included);
		for (size_t j = 0; j < g->set_count; j++)
			mix_set(t, &g->sets[j]);
	}
	for (size_t i = 0; i < r->message_count; i++)
		mix_set(t, &r->messages[i]);

	if (!t->write)
		return;
	json_t *arr = json_array();
	if (arr) {
		ack_document_to_json(doc, arr);
		json_decref(arr);
	}
	/* Writing back what was read: any value may be refused. */
	edi_writer *w = edi_writer_new(NULL, NULL);
	if (!w)
		return;
	ack_envelope env;
	ack_envelope_from_inbound(&env, r);
	ack_plan plan = { doc->kind == ACK_KIND_CONTRL ? ACK_KIND_CONTRL
	    : doc->kind == ACK_KIND_999 ? ACK_KIND_999 : ACK_KIND_997,
	    doc->kind == ACK_KIND_TA1 };
	if (r->standard == EDI_STANDARD_X12 || r->standard == EDI_STANDARD_EDIFACT)
		(void)ack_write(w, r, plan, &env);
	edi_writer_free(w);
}

static uint64_t
run(const uint8_t *data, size_t size, size_t split, int write)
{
	fuzz_trace t = { 0xcbf29ce484222325ULL, 0, write };
	ack_reader *ar = ack_reader_new(on_document, &t);
	edi_reader_callbacks cb;
	ack_reader_reader_callbacks(&cb);
	edi_reader *rd = ar ? edi_reader_new(&cb, ar, NULL) : NULL;
	if (!rd) {
		ack_reader_free(ar);
		return 0;
	}
	if (split > size)
		split = size;
	edi_reader_feed(rd, data, split);
	edi_reader_feed(rd, data + split, size - split);
	edi_reader_finish(rd);
	ack_reader_finish(ar);
	edi_reader_free(rd);
	ack_reader_free(ar);
	mix(&t, t.docs);
	return t.hash;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t whole = run(data, size, size, 1);
	size_t split = size ? (size_t)data[0] * size / 256 : 0;
	if (run(data, size, split, 0) != whole)
		__builtin_trap();
	return 0;
}
