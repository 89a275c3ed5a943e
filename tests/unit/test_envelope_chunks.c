/*
 * test_envelope_chunks - the envelope results do not depend on how the
 * input is cut.
 *
 * Every fixture under tests/fixtures and every file of the public sample
 * corpus ($EDIGATE_CORPUS, default $top_srcdir/../shared/corpus) is fed
 * through reader + envelope whole and one byte at a time; the transcripts
 * of everything reported (problems with positions, every set, group and
 * interchange with all its fields) must be identical. One test case per
 * file; without the corpus folder only the fixtures are checked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "edi_reader.h"
#include "envelope.h"
#include "test_util.h"

typedef struct transcript {
	char *text;
	size_t len, cap;
} transcript;

static void appendf(transcript *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
appendf(transcript *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->text == NULL) {
		t->cap = 4096;
		t->text = malloc(t->cap);
		assert_non_null(t->text);
	}
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->text + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		assert_true(n >= 0);
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		t->cap = t->cap * 2 + (size_t)n + 256;
		t->text = realloc(t->text, t->cap);
		assert_non_null(t->text);
	}
}

static void
append_position(transcript *t, const envelope_position *p)
{
	appendf(t, "@%llu/%llu/%llu/%u/%u", (unsigned long long)p->offset,
	    (unsigned long long)p->line, (unsigned long long)p->segment_index,
	    p->element, p->component);
}

static void
append_errors(transcript *t, const envelope_errors *list)
{
	size_t i;

	appendf(t, " errors=%zu/%zu/%zu", list->count, list->dropped, list->fatal);
	for (i = 0; i < list->count; i++) {
		appendf(t, " [%d %s", (int)list->list[i].vocabulary,
		    list->list[i].code);
		append_position(t, &list->list[i].position);
		appendf(t, "]");
	}
}

static void
on_error(void *ctx, const envelope_error *e)
{
	transcript *t = ctx;
	char label[48];

	envelope_error_label(e, label, sizeof(label));
	appendf(t, "error %s %s %d %d ", label, e->tag, (int)e->level,
	    (int)e->severity);
	append_position(t, &e->position);
	appendf(t, " %s\n", e->message);
}

static void
on_set_end(void *ctx, const envelope_interchange *ich, const envelope_group *grp,
    const envelope_set *s)
{
	transcript *t = ctx;

	appendf(t, "set %zu %s %s %s %s %s %d %llu %llu %d in-group=%d ",
	    s->number, s->type, s->control_number, s->version, s->agency,
	    s->association, s->has_trailer,
	    (unsigned long long)s->declared_count,
	    (unsigned long long)s->segment_count, s->accepted, grp != NULL);
	append_position(t, &s->start);
	append_position(t, &s->end);
	append_errors(t, &s->errors);
	appendf(t, "\n");
}

static void
on_group_end(void *ctx, const envelope_interchange *ich, const envelope_group *g)
{
	transcript *t = ctx;

	appendf(t, "group %zu %s %s:%s %s:%s %s %s %s %s %s %d %llu %llu %llu %d ",
	    g->number, g->functional_id, g->app_sender, g->app_sender_qualifier,
	    g->app_receiver, g->app_receiver_qualifier, g->date, g->time,
	    g->control_number, g->agency, g->version, g->has_trailer,
	    (unsigned long long)g->declared_count,
	    (unsigned long long)g->set_count,
	    (unsigned long long)g->sets_accepted, g->accepted);
	append_position(t, &g->start);
	append_position(t, &g->end);
	append_errors(t, &g->errors);
	appendf(t, "\n");
}

static void
on_interchange_end(void *ctx, const envelope_interchange *i)
{
	transcript *t = ctx;
	const edi_delimiters *d = &i->delimiters;

	appendf(t, "interchange %zu %d [%d %d %d %d %d %.*s] %s %s %s:%s %s:%s "
	    "%s %s %s %s %s %d %llu %llu %llu %llu %llu %d ",
	    i->number, (int)i->standard, d->element, d->component,
	    d->repetition, d->release, d->decimal, (int)d->terminator_len,
	    d->terminator, i->syntax_id, i->version, i->sender_qualifier,
	    i->sender_id, i->receiver_qualifier, i->receiver_id, i->date,
	    i->time, i->control_number, i->ack_requested, i->test_indicator,
	    i->has_trailer, (unsigned long long)i->declared_count,
	    (unsigned long long)i->group_count,
	    (unsigned long long)i->message_count,
	    (unsigned long long)i->set_count,
	    (unsigned long long)i->sets_accepted, i->accepted);
	append_position(t, &i->start);
	append_position(t, &i->end);
	append_errors(t, &i->errors);
	appendf(t, "\n");
}

static void
run(const char *data, size_t len, size_t chunk, transcript *t)
{
	envelope_callbacks ecb = {
		.error = on_error,
		.set_end = on_set_end,
		.group_end = on_group_end,
		.interchange_end = on_interchange_end,
	};
	edi_reader_callbacks rcb;
	envelope *env = envelope_new(&ecb, t);
	edi_reader *reader;
	size_t off;

	assert_non_null(env);
	envelope_reader_callbacks(&rcb);
	reader = edi_reader_new(&rcb, env, NULL);
	assert_non_null(reader);
	for (off = 0; off < len; off += chunk)
		edi_reader_feed(reader, data + off,
		    len - off < chunk ? len - off : chunk);
	edi_reader_finish(reader);
	envelope_finish(env);
	appendf(t, "end %llu %llu %llu\n",
	    (unsigned long long)envelope_error_count(env),
	    (unsigned long long)envelope_warning_count(env),
	    (unsigned long long)envelope_interchange_count(env));
	edi_reader_free(reader);
	envelope_free(env);
}

static void
test_file_gives_same_results_whole_and_byte_by_byte(void **state)
{
	const char *path = *state;
	transcript whole = { 0 }, bytes = { 0 };
	size_t len;
	char *data = test_read_file(path, &len);

	assert_non_null(data);

	run(data, len, len ? len : 1, &whole);
	run(data, len, 1, &bytes);
	if (whole.len != bytes.len || memcmp(whole.text, bytes.text, whole.len) != 0)
		fail_msg("%s: results differ\n--- whole\n%.*s--- byte by byte\n%.*s",
		    path, (int)whole.len, whole.text, (int)bytes.len, bytes.text);
	free(whole.text);
	free(bytes.text);
	free(data);
}

int
main(void)
{
	const char *corpus = test_corpus_dir();
	char dir[4096];
	char **paths = NULL;
	struct CMUnitTest *tests;
	size_t count, i;
	int rc;

	snprintf(dir, sizeof(dir), "%s/tests/fixtures", test_srcdir());
	count = test_list_files(dir, ".edi", &paths, 0);
	/* cmocka 1.1 prints a skipped case as "not ok ... # SKIP", which the
	 * TAP driver counts as a failure; an absent corpus is said in a TAP
	 * comment instead. */
	if (corpus)
		count = test_list_files(corpus, ".edi", &paths, count);
	else
		printf("# corpus folder absent: only fixtures are checked\n");
	tests = calloc(count ? count : 1, sizeof(*tests));
	if (!tests)
		return 1;
	for (i = 0; i < count; i++) {
		tests[i].name = paths[i];
		tests[i].test_func =
		    test_file_gives_same_results_whole_and_byte_by_byte;
		tests[i].initial_state = paths[i];
	}
	rc = _cmocka_run_group_tests("test_envelope_chunks", tests, count,
	    NULL, NULL);
	free(tests);
	test_free_list(paths, count);
	return rc;
}
