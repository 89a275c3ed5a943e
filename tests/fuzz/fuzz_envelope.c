/*
 * fuzz_envelope - libFuzzer target for the reader and the envelope
 * validator together, the way edigate validate and the gateway use them.
 *
 * WHAT IT PROVES
 *   For any input: no crash, no sanitizer report, bounded memory, every
 *   string the envelope hands out is NUL-terminated inside its array and
 *   every problem list stays within ENVELOPE_MAX_ERRORS, and the chunking
 *   of the input changes nothing: fed whole, split in two at a position
 *   derived from the first byte, and (for short inputs) byte by byte, the
 *   sequence of problems and of closed sets, groups and interchanges hashes
 *   the same. A difference is a crash through __builtin_trap().
 *
 * NEVER
 *   Compares message texts, or depends on anything but the public headers
 *   translators/edi_reader.h and translators/envelope.h.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "edi_reader.h"
#include "envelope.h"
#include "fuzz_hash.h"

#define FUZZ_BYTEWISE_MAX 2048

typedef struct fuzz_trace {
	uint64_t hash;
	uint64_t events;
} fuzz_trace;

#define fuzz_mix(t, v) fuzz_hash_mix(&(t)->hash, (v))

/* Mixes a fixed-size string field, trapping when it is not terminated. */
static void
fuzz_mix_field(fuzz_trace *t, const char *s, size_t cap)
{
	const char *end = memchr(s, '\0', cap);
	size_t i;

	if (end == NULL)
		__builtin_trap();
	for (i = 0; s + i < end; i++)
		fuzz_mix(t, (unsigned char)s[i]);
	fuzz_mix(t, i);
}

#define FUZZ_FIELD(t, f) fuzz_mix_field((t), (f), sizeof(f))

static void
fuzz_mix_position(fuzz_trace *t, const envelope_position *p)
{
	fuzz_mix(t, p->offset);
	fuzz_mix(t, p->line);
	fuzz_mix(t, p->segment_index);
	fuzz_mix(t, p->element);
	fuzz_mix(t, p->component);
}

static void
fuzz_mix_error(fuzz_trace *t, const envelope_error *e)
{
	char label[64];

	if (e->code == NULL || memchr(e->message, '\0', sizeof e->message) == NULL)
		__builtin_trap();
	envelope_error_label(e, label, sizeof label);
	if (memchr(label, '\0', sizeof label) == NULL)
		__builtin_trap();
	fuzz_mix(t, (uint64_t)e->vocabulary);
	fuzz_mix(t, (uint64_t)e->level);
	fuzz_mix(t, (uint64_t)e->severity);
	fuzz_mix_field(t, e->code, strlen(e->code) + 1);
	fuzz_mix(t, (uint64_t)e->reader_code);
	FUZZ_FIELD(t, e->tag);
	fuzz_mix_position(t, &e->position);
}

static void
fuzz_mix_errors(fuzz_trace *t, const envelope_errors *list)
{
	size_t i;

	if (list->count > ENVELOPE_MAX_ERRORS)
		__builtin_trap();
	fuzz_mix(t, list->count);
	fuzz_mix(t, list->dropped);
	fuzz_mix(t, list->fatal);
	for (i = 0; i < list->count; i++)
		fuzz_mix_error(t, &list->list[i]);
}

static void
fuzz_on_error(void *ctx, const envelope_error *e)
{
	fuzz_trace *t = ctx;

	t->events++;
	fuzz_mix(t, 0xe770);
	fuzz_mix_error(t, e);
}

static void
fuzz_mix_interchange(fuzz_trace *t, const envelope_interchange *x)
{
	fuzz_mix(t, x->number);
	fuzz_mix(t, (uint64_t)x->standard);
	FUZZ_FIELD(t, x->syntax_id);
	FUZZ_FIELD(t, x->version);
	FUZZ_FIELD(t, x->sender_qualifier);
	FUZZ_FIELD(t, x->sender_id);
	FUZZ_FIELD(t, x->receiver_qualifier);
	FUZZ_FIELD(t, x->receiver_id);
	FUZZ_FIELD(t, x->date);
	FUZZ_FIELD(t, x->time);
	FUZZ_FIELD(t, x->control_number);
	FUZZ_FIELD(t, x->ack_requested);
	FUZZ_FIELD(t, x->test_indicator);
	fuzz_mix(t, (uint64_t)x->has_trailer);
	fuzz_mix(t, x->declared_count);
	fuzz_mix(t, x->group_count);
	fuzz_mix(t, x->message_count);
	fuzz_mix(t, x->set_count);
	fuzz_mix(t, x->sets_accepted);
	fuzz_mix_position(t, &x->start);
	fuzz_mix_position(t, &x->end);
	fuzz_mix(t, (uint64_t)x->accepted);
	fuzz_mix_errors(t, &x->errors);
}

static void
fuzz_mix_group(fuzz_trace *t, const envelope_group *g)
{
	fuzz_mix(t, g->number);
	FUZZ_FIELD(t, g->functional_id);
	FUZZ_FIELD(t, g->app_sender);
	FUZZ_FIELD(t, g->app_sender_qualifier);
	FUZZ_FIELD(t, g->app_receiver);
	FUZZ_FIELD(t, g->app_receiver_qualifier);
	FUZZ_FIELD(t, g->date);
	FUZZ_FIELD(t, g->time);
	FUZZ_FIELD(t, g->control_number);
	FUZZ_FIELD(t, g->agency);
	FUZZ_FIELD(t, g->version);
	fuzz_mix(t, (uint64_t)g->has_trailer);
	fuzz_mix(t, g->declared_count);
	fuzz_mix(t, g->set_count);
	fuzz_mix(t, g->sets_accepted);
	fuzz_mix_position(t, &g->start);
	fuzz_mix_position(t, &g->end);
	fuzz_mix(t, (uint64_t)g->accepted);
	fuzz_mix_errors(t, &g->errors);
}

static void
fuzz_on_set_end(void *ctx, const envelope_interchange *x,
    const envelope_group *g, const envelope_set *s)
{
	fuzz_trace *t = ctx;

	t->events++;
	fuzz_mix(t, 0x5e7);
	fuzz_mix(t, x->number);
	fuzz_mix(t, g != NULL ? g->number : 0);
	fuzz_mix(t, s->number);
	FUZZ_FIELD(t, s->type);
	FUZZ_FIELD(t, s->control_number);
	FUZZ_FIELD(t, s->version);
	FUZZ_FIELD(t, s->agency);
	FUZZ_FIELD(t, s->association);
	fuzz_mix(t, (uint64_t)s->has_trailer);
	fuzz_mix(t, s->declared_count);
	fuzz_mix(t, s->segment_count);
	fuzz_mix_position(t, &s->start);
	fuzz_mix_position(t, &s->end);
	fuzz_mix(t, (uint64_t)s->accepted);
	fuzz_mix_errors(t, &s->errors);
}

static void
fuzz_on_group_end(void *ctx, const envelope_interchange *x,
    const envelope_group *g)
{
	fuzz_trace *t = ctx;

	t->events++;
	fuzz_mix(t, 0x6e0);
	fuzz_mix(t, x->number);
	fuzz_mix_group(t, g);
}

static void
fuzz_on_interchange_end(void *ctx, const envelope_interchange *x)
{
	fuzz_trace *t = ctx;

	t->events++;
	fuzz_mix(t, 0x1c);
	fuzz_mix_interchange(t, x);
}

static void
fuzz_run(const uint8_t *data, size_t size, size_t cut, size_t step,
    fuzz_trace *t)
{
	static const envelope_callbacks ecb = { fuzz_on_error, fuzz_on_set_end,
	    fuzz_on_group_end, fuzz_on_interchange_end };
	edi_reader_callbacks rcb;
	edi_reader *r;
	envelope *env;
	size_t pos;

	memset(t, 0, sizeof *t);
	t->hash = FUZZ_HASH_START;
	env = envelope_new(&ecb, t);
	if (env == NULL)
		return;
	envelope_reader_callbacks(&rcb);
	r = edi_reader_new(&rcb, env, NULL);
	if (r == NULL) {
		envelope_free(env);
		return;
	}
	if (step > 0) {
		for (pos = 0; pos < size; pos += step)
			edi_reader_feed(r, data + pos,
			    size - pos < step ? size - pos : step);
	} else {
		edi_reader_feed(r, data, cut);
		edi_reader_feed(r, data + cut, size - cut);
	}
	edi_reader_finish(r);
	envelope_finish(env);
	fuzz_mix(t, t->events);
	fuzz_mix(t, envelope_error_count(env));
	fuzz_mix(t, envelope_warning_count(env));
	fuzz_mix(t, envelope_interchange_count(env));
	edi_reader_free(r);
	envelope_free(env);
}

static void
fuzz_same(const fuzz_trace *a, const fuzz_trace *b)
{
	if (a->hash != b->hash || a->events != b->events)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_trace whole, split, bytewise;
	size_t cut;

	fuzz_run(data, size, size, 0, &whole);
	cut = size > 0 ? (size_t)((uint64_t)data[0] * size / 255) : 0;
	fuzz_run(data, size, cut, 0, &split);
	fuzz_same(&whole, &split);
	if (size <= FUZZ_BYTEWISE_MAX) {
		fuzz_run(data, size, 0, 1, &bytewise);
		fuzz_same(&whole, &bytewise);
	}
	return 0;
}
