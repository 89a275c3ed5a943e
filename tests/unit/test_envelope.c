/*
 * test_envelope - envelope checks against hand-written fixtures.
 *
 * Every broken fixture in tests/fixtures/{x12,edifact} is named after the
 * acknowledgment code it must produce; the table below says, from the
 * standards and by counting the fixture's segments by hand, which code and
 * which segment / element / component position the first problem has.
 * Valid fixtures must produce no problem at all and the counts written
 * here.
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

#define MAX_SEEN 32

typedef struct seen_error {
	char label[48];
	char tag[4];
	envelope_level level;
	edi_severity severity;
	envelope_position position;
} seen_error;

typedef struct outcome {
	size_t error_count;     /* severity ERROR */
	size_t warning_count;
	size_t seen;
	seen_error errors[MAX_SEEN];
	size_t interchanges, groups, sets, sets_accepted;
	envelope_interchange first_interchange;
	envelope_group first_group;
	envelope_set first_set;
} outcome;

static void
on_error(void *ctx, const envelope_error *e)
{
	outcome *o = ctx;

	if (e->severity == EDI_SEVERITY_ERROR)
		o->error_count++;
	else
		o->warning_count++;
	if (o->seen < MAX_SEEN) {
		seen_error *s = &o->errors[o->seen++];

		envelope_error_label(e, s->label, sizeof(s->label));
		memcpy(s->tag, e->tag, sizeof(s->tag));
		s->level = e->level;
		s->severity = e->severity;
		s->position = e->position;
	}
}

static void
on_set_end(void *ctx, const envelope_interchange *ich, const envelope_group *grp,
    const envelope_set *set)
{
	outcome *o = ctx;

	if (o->sets++ == 0)
		o->first_set = *set;
	if (set->accepted)
		o->sets_accepted++;
}

static void
on_group_end(void *ctx, const envelope_interchange *ich, const envelope_group *grp)
{
	outcome *o = ctx;

	if (o->groups++ == 0)
		o->first_group = *grp;
}

static void
on_interchange_end(void *ctx, const envelope_interchange *ich)
{
	outcome *o = ctx;

	if (o->interchanges++ == 0)
		o->first_interchange = *ich;
}

static char *
fixture_path(const char *name)
{
	const char *top = getenv("top_srcdir");
	static char path[4096];

	snprintf(path, sizeof(path), "%s/tests/fixtures/%s", top ? top : ".", name);
	return path;
}

static void
run_fixture(const char *name, outcome *o)
{
	envelope_callbacks ecb = {
		.error = on_error,
		.set_end = on_set_end,
		.group_end = on_group_end,
		.interchange_end = on_interchange_end,
	};
	edi_reader_callbacks rcb;
	char buf[4096];
	size_t n;
	FILE *f;
	envelope *env;
	edi_reader *reader;

	memset(o, 0, sizeof(*o));
	f = fopen(fixture_path(name), "rb");
	if (!f)
		fail_msg("cannot open fixture %s", fixture_path(name));
	env = envelope_new(&ecb, o);
	assert_non_null(env);
	envelope_reader_callbacks(&rcb);
	reader = edi_reader_new(&rcb, env, NULL);
	assert_non_null(reader);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		assert_int_equal(edi_reader_feed(reader, buf, n), EDI_ERR_NONE);
	fclose(f);
	assert_int_equal(edi_reader_finish(reader), EDI_ERR_NONE);
	envelope_finish(env);
	assert_int_equal(envelope_error_count(env), o->error_count);
	edi_reader_free(reader);
	envelope_free(env);
}

/* ------------------------------------------------------------------ */

typedef struct bad_case {
	const char *fixture;
	const char *label;     /* the first problem's code */
	const char *tag;       /* the segment named in the problem */
	uint64_t segment;      /* its 1-based segment index in the file */
	unsigned element;
	unsigned component;
} bad_case;

/*
 * X12 fixtures are the 9-segment interchange
 *   1 ISA  2 GS  3 ST  4 BEG  5 PO1  6 CTT  7 SE*5  8 GE*1  9 IEA*1
 * with one change each; EDIFACT ones the 5-segment interchange
 *   1 UNB  2 UNH  3 BGM  4 UNT+3  5 UNZ+1
 * or, with a group, 1 UNB 2 UNG 3 UNH 4 BGM 5 UNT 6 UNE 7 UNZ.
 */
static const bad_case bad_cases[] = {
	{ "x12/bad_ta1_001_control_mismatch.edi", "TA1-001", "IEA", 9, 2, 0 },
	{ "x12/bad_ta1_004_segment_terminator.edi", "TA1-004", "ISA", 1, 16, 0 },
	{ "x12/bad_ta1_005_sender_qualifier.edi", "TA1-005", "ISA", 1, 5, 0 },
	{ "x12/bad_ta1_006_sender_id_blank.edi", "TA1-006", "ISA", 1, 6, 0 },
	{ "x12/bad_ta1_007_receiver_qualifier.edi", "TA1-007", "ISA", 1, 7, 0 },
	{ "x12/bad_ta1_008_receiver_id_blank.edi", "TA1-008", "ISA", 1, 8, 0 },
	{ "x12/bad_ta1_010_authorization_qualifier.edi", "TA1-010", "ISA", 1, 1, 0 },
	{ "x12/bad_ta1_011_authorization_width.edi", "TA1-011", "ISA", 1, 2, 0 },
	{ "x12/bad_ta1_012_security_qualifier.edi", "TA1-012", "ISA", 1, 3, 0 },
	{ "x12/bad_ta1_013_security_width.edi", "TA1-013", "ISA", 1, 4, 0 },
	{ "x12/bad_ta1_014_date.edi", "TA1-014", "ISA", 1, 9, 0 },
	{ "x12/bad_ta1_015_time.edi", "TA1-015", "ISA", 1, 10, 0 },
	{ "x12/bad_ta1_016_standards_id.edi", "TA1-016", "ISA", 1, 11, 0 },
	{ "x12/bad_ta1_017_version.edi", "TA1-017", "ISA", 1, 12, 0 },
	{ "x12/bad_ta1_018_control_number.edi", "TA1-018", "ISA", 1, 13, 0 },
	{ "x12/bad_ta1_019_ack_requested.edi", "TA1-019", "ISA", 1, 14, 0 },
	{ "x12/bad_ta1_020_test_indicator.edi", "TA1-020", "ISA", 1, 15, 0 },
	{ "x12/bad_ta1_027_component_separator.edi", "TA1-027", "ISA", 1, 16, 0 },
	{ "x12/bad_ta1_021_group_count.edi", "TA1-021", "IEA", 9, 1, 0 },
	{ "x12/bad_ta1_022_ge_without_gs.edi", "TA1-022", "GE", 9, 0, 0 },
	{ "x12/bad_ta1_022_st_outside_group.edi", "TA1-022", "ST", 2, 0, 0 },
	{ "x12/bad_ta1_023_missing_iea.edi", "TA1-023", "IEA", 9, 0, 0 },
	{ "x12/bad_ta1_023_isa_in_open_interchange.edi", "TA1-023", "IEA", 9, 0, 0 },
	{ "x12/bad_ta1_024_segment_outside_set.edi", "TA1-024", "REF", 3, 0, 0 },
	{ "x12/bad_ta1_024_gs_date.edi", "TA1-024", "GS", 2, 4, 0 },
	{ "x12/bad_ak9_2_version.edi", "AK9-2", "GS", 2, 8, 0 },
	{ "x12/bad_ak9_3_missing_ge.edi", "AK9-3", "GE", 8, 0, 0 },
	{ "x12/bad_ak9_4_control_mismatch.edi", "AK9-4", "GE", 8, 2, 0 },
	{ "x12/bad_ak9_5_set_count.edi", "AK9-5", "GE", 8, 1, 0 },
	{ "x12/bad_ak9_6_control_syntax.edi", "AK9-6", "GS", 2, 6, 0 },
	{ "x12/bad_ak5_2_missing_se.edi", "AK5-2", "SE", 7, 0, 0 },
	{ "x12/bad_ak5_3_control_mismatch.edi", "AK5-3", "SE", 7, 2, 0 },
	{ "x12/bad_ak5_4_segment_count.edi", "AK5-4", "SE", 7, 1, 0 },
	{ "x12/bad_ak5_6_set_identifier.edi", "AK5-6", "ST", 3, 1, 0 },
	{ "x12/bad_ak5_7_control_number.edi", "AK5-7", "ST", 3, 2, 0 },
	{ "edifact/bad_contrl_2_syntax_version.edi", "CONTRL-2", "UNB", 1, 1, 2 },
	{ "edifact/bad_contrl_12_date.edi", "CONTRL-12", "UNB", 1, 4, 1 },
	{ "edifact/bad_contrl_12_time.edi", "CONTRL-12", "UNB", 1, 4, 2 },
	{ "edifact/bad_contrl_12_date_syntax4.edi", "CONTRL-12", "UNB", 1, 4, 1 },
	{ "edifact/bad_contrl_13_missing_unt.edi", "CONTRL-13", "UNT", 4, 0, 0 },
	{ "edifact/bad_contrl_13_missing_unz.edi", "CONTRL-13", "UNZ", 5, 0, 0 },
	{ "edifact/bad_contrl_13_missing_une.edi", "CONTRL-13", "UNE", 6, 0, 0 },
	{ "edifact/bad_contrl_13_missing_sender.edi", "CONTRL-13", "UNB", 1, 2, 1 },
	{ "edifact/bad_contrl_13_una_without_unb.edi", "CONTRL-13", "UNB", 2, 0, 0 },
	{ "edifact/bad_contrl_16_too_many_elements.edi", "CONTRL-16", "UNB", 1, 12, 0 },
	{ "edifact/bad_contrl_28_unt_reference.edi", "CONTRL-28", "UNT", 4, 2, 1 },
	{ "edifact/bad_contrl_28_unz_reference.edi", "CONTRL-28", "UNZ", 5, 2, 1 },
	{ "edifact/bad_contrl_28_une_reference.edi", "CONTRL-28", "UNE", 6, 2, 1 },
	{ "edifact/bad_contrl_29_unt_count.edi", "CONTRL-29", "UNT", 4, 1, 1 },
	{ "edifact/bad_contrl_29_unz_count.edi", "CONTRL-29", "UNZ", 5, 1, 1 },
	{ "edifact/bad_contrl_29_une_count.edi", "CONTRL-29", "UNE", 6, 1, 1 },
	{ "edifact/bad_contrl_30_groups_and_messages_mixed.edi", "CONTRL-30", "UNG", 5, 0, 0 },
	{ "edifact/bad_contrl_33_segment_outside_message.edi", "CONTRL-33", "BGM", 2, 0, 0 },
	{ "edifact/bad_contrl_39_control_reference_too_long.edi", "CONTRL-39", "UNB", 1, 5, 1 },
};

static void
test_each_broken_fixture_reports_its_code_at_its_position(void **state)
{
	size_t i, k;
	outcome *o = malloc(sizeof(*o));

	assert_non_null(o);
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const bad_case *c = &bad_cases[i];
		const seen_error *e;

		run_fixture(c->fixture, o);
		/* The reader may have said something first (a malformed ISA);
		 * the envelope's own first problem is the one under test. */
		for (k = 0; k < o->seen; k++)
			if (strncmp(o->errors[k].label, "TA1-", 4) == 0 ||
			    strncmp(o->errors[k].label, "AK", 2) == 0 ||
			    strncmp(o->errors[k].label, "CONTRL-", 7) == 0)
				break;
		if (k == o->seen)
			fail_msg("%s: no envelope problem reported", c->fixture);
		e = &o->errors[k];
		if (strcmp(e->label, c->label) != 0 || strcmp(e->tag, c->tag) != 0 ||
		    e->position.segment_index != c->segment ||
		    e->position.element != c->element ||
		    e->position.component != c->component ||
		    e->severity != EDI_SEVERITY_ERROR)
			fail_msg("%s: expected %s at %s (segment %llu, element %u, "
			    "component %u), got %s at %s (segment %llu, element %u, "
			    "component %u)", c->fixture, c->label, c->tag,
			    (unsigned long long)c->segment, c->element, c->component,
			    e->label, e->tag,
			    (unsigned long long)e->position.segment_index,
			    e->position.element, e->position.component);
		/* One segment per line in every broken fixture, so the line is
		 * the segment index, except for a trailer found missing at the
		 * end of the input: it is reported on the last line. */
		if (e->position.line != c->segment &&
		    e->position.line + 1 != c->segment)
			fail_msg("%s: line %llu for segment %llu", c->fixture,
			    (unsigned long long)e->position.line,
			    (unsigned long long)c->segment);
	}
	free(o);
}

typedef struct good_case {
	const char *fixture;
	size_t interchanges, groups, sets;
} good_case;

static const good_case good_cases[] = {
	{ "x12/valid_850_4010.edi", 1, 1, 1 },
	{ "x12/valid_856_4010.edi", 1, 1, 1 },
	{ "x12/valid_810_5010.edi", 1, 1, 1 },
	{ "x12/valid_multi_interchange_5010.edi", 2, 3, 4 },
	{ "x12/valid_ta1_isb_before_gs.edi", 2, 1, 1 },
	{ "edifact/valid_orders_d96a_una.edi", 1, 0, 1 },
	{ "edifact/valid_desadv_d96a_no_una.edi", 1, 0, 1 },
	{ "edifact/valid_invoic_d01b_groups.edi", 1, 1, 2 },
	{ "edifact/valid_multi_interchange_one_line.edi", 2, 0, 3 },
	{ "edifact/valid_custom_una.edi", 1, 0, 1 },
	{ "mixed/valid_x12_then_edifact.edi", 3, 2, 3 },
};

static void
test_valid_fixtures_have_no_problem_and_expected_counts(void **state)
{
	size_t i;
	outcome *o = malloc(sizeof(*o));

	assert_non_null(o);
	for (i = 0; i < sizeof(good_cases) / sizeof(good_cases[0]); i++) {
		const good_case *c = &good_cases[i];

		run_fixture(c->fixture, o);
		if (o->seen > 0)
			fail_msg("%s: unexpected %s at segment %llu", c->fixture,
			    o->errors[0].label,
			    (unsigned long long)o->errors[0].position.segment_index);
		if (o->interchanges != c->interchanges || o->groups != c->groups ||
		    o->sets != c->sets || o->sets_accepted != c->sets)
			fail_msg("%s: expected %zu/%zu/%zu interchanges/groups/sets, "
			    "got %zu/%zu/%zu (%zu accepted)", c->fixture,
			    c->interchanges, c->groups, c->sets, o->interchanges,
			    o->groups, o->sets, o->sets_accepted);
	}
	free(o);
}

static void
test_x12_results_carry_envelope_identifiers(void **state)
{
	outcome *o = malloc(sizeof(*o));
	const envelope_interchange *ich;

	assert_non_null(o);
	run_fixture("x12/valid_850_4010.edi", o);
	ich = &o->first_interchange;
	assert_int_equal(ich->standard, EDI_STANDARD_X12);
	assert_string_equal(ich->sender_qualifier, "ZZ");
	assert_string_equal(ich->sender_id, "ACMEBUYER");
	assert_string_equal(ich->receiver_id, "EDIGATEDEMO");
	assert_string_equal(ich->control_number, "000000101");
	assert_string_equal(ich->version, "00401");
	assert_string_equal(ich->date, "261123");
	assert_string_equal(ich->time, "1015");
	assert_string_equal(ich->test_indicator, "P");
	assert_int_equal(ich->delimiters.element, '*');
	assert_int_equal(ich->delimiters.component, '>');
	assert_true(ich->has_trailer);
	assert_int_equal(ich->declared_count, 1);
	assert_int_equal(ich->group_count, 1);
	assert_true(ich->accepted);
	assert_int_equal(ich->start.segment_index, 1);
	assert_int_equal(ich->end.segment_index, 14);

	assert_string_equal(o->first_group.functional_id, "PO");
	assert_string_equal(o->first_group.control_number, "101");
	assert_string_equal(o->first_group.version, "004010");
	assert_string_equal(o->first_group.date, "20261123");
	assert_int_equal(o->first_group.set_count, 1);

	assert_string_equal(o->first_set.type, "850");
	assert_string_equal(o->first_set.control_number, "0001");
	assert_int_equal(o->first_set.segment_count, 10);
	assert_int_equal(o->first_set.declared_count, 10);
	assert_int_equal(o->first_set.start.segment_index, 3);
	assert_int_equal(o->first_set.end.segment_index, 12);
	assert_true(o->first_set.accepted);
	free(o);
}

static void
test_edifact_results_carry_envelope_identifiers(void **state)
{
	outcome *o = malloc(sizeof(*o));
	const envelope_interchange *ich;

	assert_non_null(o);
	run_fixture("edifact/valid_orders_d96a_una.edi", o);
	ich = &o->first_interchange;
	assert_int_equal(ich->standard, EDI_STANDARD_EDIFACT);
	assert_string_equal(ich->syntax_id, "UNOC");
	assert_string_equal(ich->version, "3");
	assert_string_equal(ich->sender_id, "5412345000013");
	assert_string_equal(ich->sender_qualifier, "14");
	assert_string_equal(ich->control_number, "ORD0001");
	assert_int_equal(ich->message_count, 1);
	/* The interchange starts at its UNA. */
	assert_int_equal(ich->start.segment_index, 1);
	assert_int_equal(ich->end.segment_index, 13);
	assert_string_equal(o->first_set.type, "ORDERS");
	assert_string_equal(o->first_set.version, "D96A");
	assert_string_equal(o->first_set.agency, "UN");
	assert_string_equal(o->first_set.association, "EAN008");
	assert_int_equal(o->first_set.segment_count, 10);
	free(o);

	o = malloc(sizeof(*o));
	assert_non_null(o);
	run_fixture("edifact/valid_custom_una.edi", o);
	assert_int_equal(o->first_interchange.delimiters.element, '*');
	assert_int_equal(o->first_interchange.delimiters.component, '=');
	assert_string_equal(o->first_interchange.version, "3");
	free(o);

	o = malloc(sizeof(*o));
	assert_non_null(o);
	run_fixture("edifact/valid_invoic_d01b_groups.edi", o);
	assert_string_equal(o->first_group.functional_id, "INVOIC");
	assert_string_equal(o->first_group.control_number, "G1");
	assert_string_equal(o->first_group.version, "D01B");
	assert_int_equal(o->first_group.set_count, 2);
	assert_string_equal(o->first_interchange.test_indicator, "1");
	assert_string_equal(o->first_interchange.ack_requested, "1");
	free(o);
}

static void
test_missing_trailers_close_every_open_level(void **state)
{
	outcome *o = malloc(sizeof(*o));

	assert_non_null(o);
	/* IEA lost: the next ISA closes the first interchange, and the
	 * second one is still checked on its own. */
	run_fixture("x12/bad_ta1_023_isa_in_open_interchange.edi", o);
	assert_int_equal(o->error_count, 1);
	assert_int_equal(o->interchanges, 2);
	assert_int_equal(o->sets, 2);
	assert_int_equal(o->sets_accepted, 2);
	free(o);

	o = malloc(sizeof(*o));
	assert_non_null(o);
	/* UNT lost: the message is closed missing UNT when UNZ arrives, the
	 * UNZ count then matches one message. */
	run_fixture("edifact/bad_contrl_13_missing_unt.edi", o);
	assert_int_equal(o->error_count, 1);
	assert_int_equal(o->errors[0].level, ENVELOPE_LEVEL_SET);
	assert_int_equal(o->sets, 1);
	assert_int_equal(o->sets_accepted, 0);
	assert_true(o->first_interchange.accepted);
	free(o);
}

static void
test_segments_outside_a_set_are_reported_once_per_run(void **state)
{
	outcome *o = malloc(sizeof(*o));

	assert_non_null(o);
	/* ST without GS: the ST is reported, its BEG and SE are the same
	 * run and are not reported again. */
	run_fixture("x12/bad_ta1_022_st_outside_group.edi", o);
	assert_int_equal(o->error_count, 1);
	assert_int_equal(o->errors[0].level, ENVELOPE_LEVEL_INTERCHANGE);
	free(o);
}

static void
test_group_version_of_another_release_is_only_a_warning(void **state)
{
	envelope_callbacks ecb = { .error = on_error };
	edi_reader_callbacks rcb;
	outcome *o = calloc(1, sizeof(*o));
	envelope *env;
	edi_reader *reader;
	static const char text[] =
	    "ISA*00*          *00*          *ZZ*ACMEBUYER      *ZZ*EDIGATEDEMO    "
	    "*261123*1015*U*00401*000000001*0*P*>~"
	    "GS*PO*ACMEBUYER*EDIGATEDEMO*20261123*1015*1*X*003010~"
	    "ST*850*0001~BEG*00*SA*PO1**261123~SE*3*0001~GE*1*1~IEA*1*000000001~";

	assert_non_null(o);
	env = envelope_new(&ecb, o);
	envelope_reader_callbacks(&rcb);
	reader = edi_reader_new(&rcb, env, NULL);
	edi_reader_feed(reader, text, sizeof(text) - 1);
	edi_reader_finish(reader);
	envelope_finish(env);
	assert_int_equal(o->error_count, 0);
	assert_int_equal(o->warning_count, 1);
	assert_string_equal(o->errors[0].label, "AK9-2");
	assert_int_equal(o->errors[0].severity, EDI_SEVERITY_WARNING);
	assert_int_equal(envelope_warning_count(env), 1);
	edi_reader_free(reader);
	envelope_free(env);
	free(o);
}

static void
test_reader_header_problem_belongs_to_the_interchange(void **state)
{
	outcome *o = malloc(sizeof(*o));
	const envelope_errors *list;

	assert_non_null(o);
	/* ISA02 one character short: the reader says ISA_LENGTH before it
	 * delivers the ISA, the envelope adds TA1 011; both are the
	 * interchange's, which is therefore rejected. */
	run_fixture("x12/bad_ta1_011_authorization_width.edi", o);
	list = &o->first_interchange.errors;
	assert_int_equal(list->count, 2);
	assert_int_equal(list->list[0].vocabulary, ENVELOPE_VOCAB_READER);
	assert_int_equal(list->list[0].reader_code, EDI_ERR_ISA_LENGTH);
	assert_int_equal(list->list[0].level, ENVELOPE_LEVEL_INTERCHANGE);
	assert_int_equal(list->list[1].vocabulary, ENVELOPE_VOCAB_TA1);
	assert_string_equal(list->list[1].code, "011");
	assert_int_equal(list->fatal, 2);
	assert_false(o->first_interchange.accepted);
	/* The sets inside are still checked and are fine. */
	assert_int_equal(o->sets_accepted, 1);
	free(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_broken_fixture_reports_its_code_at_its_position),
		cmocka_unit_test(test_valid_fixtures_have_no_problem_and_expected_counts),
		cmocka_unit_test(test_x12_results_carry_envelope_identifiers),
		cmocka_unit_test(test_edifact_results_carry_envelope_identifiers),
		cmocka_unit_test(test_missing_trailers_close_every_open_level),
		cmocka_unit_test(test_segments_outside_a_set_are_reported_once_per_run),
		cmocka_unit_test(test_group_version_of_another_release_is_only_a_warning),
		cmocka_unit_test(test_reader_header_problem_belongs_to_the_interchange),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
