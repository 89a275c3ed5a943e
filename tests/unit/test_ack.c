/*
 * test_ack - acknowledgments: what edigate answers to an interchange (TA1,
 * 997, 999, CONTRL) and what it reads from a partner's.
 *
 * Expected acknowledgments are written out here by hand from the
 * standards (X12 997/999 and TA1: AK304, AK403, AK502, AK901 and TA105
 * code lists; ISO 9735-4 CONTRL: 0083 action and 0085 syntax error codes),
 * not produced by the code under test. Every ack is written with the
 * envelope ack_envelope_from_inbound() gives (ids swapped), dated
 * 2026-11-23 12:00, control numbers 1.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "ack.h"
#include "edi_reader.h"
#include "edi_writer.h"
#include "map.h"
#include "test_util.h"
#include "xlate.h"

/* ------------------------------------------------------------ helpers */

struct collect {
	ack_interchange_result results[4];
	size_t count;
};

static void
keep_result(void *ctx, const ack_interchange_result *r)
{
	struct collect *c = ctx;
	if (c->count < 4)
		assert_int_equal(ack_result_copy(&c->results[c->count++], r), 0);
}

static void
collect_clear(struct collect *c)
{
	for (size_t i = 0; i < c->count; i++)
		ack_result_clear(&c->results[i]);
	c->count = 0;
}

static char *
fixture_path(const char *name)
{
	static char path[4096];
	snprintf(path, sizeof(path), "%s/tests/fixtures/ack/%s", test_srcdir(), name);
	return path;
}

/* Reads bytes through a collector; guide: with tests/fixtures/ack/maps. */
static void
collect_bytes(const char *data, size_t len, int guide, struct collect *out)
{
	char xsd[4096], dir[4096];
	char *err = NULL;
	map_loader *loader = NULL;
	xlate_maps *maps = NULL;

	memset(out, 0, sizeof(*out));
	if (guide) {
		snprintf(xsd, sizeof(xsd), "%s/maps/map.xsd", test_srcdir());
		snprintf(dir, sizeof(dir), "%s/tests/fixtures/ack/maps", test_srcdir());
		loader = map_loader_new(xsd, &err);
		assert_non_null(loader);
		maps = xlate_maps_new(dir, loader);
		assert_non_null(maps);
	}
	ack_collector_options opt = { .maps = maps };
	ack_collector *c = ack_collector_new(&opt, keep_result, out);
	assert_non_null(c);
	edi_reader_callbacks cb;
	ack_collector_reader_callbacks(&cb);
	edi_reader *rd = edi_reader_new(&cb, c, NULL);
	assert_non_null(rd);
	edi_reader_feed(rd, data, len);
	edi_reader_finish(rd);
	ack_collector_finish(c);
	edi_reader_free(rd);
	ack_collector_free(c);
	xlate_maps_free(maps);
	map_loader_free(loader);
}

static void
collect_file(const char *name, int guide, struct collect *out)
{
	size_t len;
	char *data = test_read_file(fixture_path(name), &len);
	assert_non_null(data);
	collect_bytes(data, len, guide, out);
	free(data);
}

/* The ack edigate writes for r with the given profile settings. */
static char *
write_ack(const ack_interchange_result *r, const char *preferred, int ta1)
{
	edi_writer_memory m = { 0 };
	edi_writer *w = edi_writer_new(edi_writer_memory_sink, &m);
	ack_envelope env;

	assert_non_null(w);
	ack_envelope_from_inbound(&env, r);
	memcpy(env.date, "20261123", 9);
	memcpy(env.time, "1200", 5);
	ack_plan plan = ack_choose(r, preferred, ta1);
	edi_write_status st = ack_write(w, r, plan, &env);
	if (st != EDI_WRITE_OK)
		fail_msg("ack_write: %s", edi_writer_error(w)->message);
	edi_writer_free(w);
	char *text = m.data ? m.data : strdup("");
	return text;
}

static char *
ack_of(const char *fixture, int guide)
{
	struct collect c;
	collect_file(fixture, guide, &c);
	assert_int_equal(c.count, 1);
	char *text = write_ack(&c.results[0], NULL, 0);
	collect_clear(&c);
	return text;
}

static void
expect_ack(const char *fixture, int guide, const char *expected)
{
	char *text = ack_of(fixture, guide);
	assert_string_equal(text, expected);
	free(text);
}

#define ISA_4010 "ISA*00*          *00*          *ZZ*EDIGATEDEMO    " \
	"*ZZ*ACMEBUYER      *261123*1200*U*00401*000000001*0*P*>~\n"
#define GS_4010 "GS*FA*EDIGATEDEMO*ACMEBUYER*20261123*1200*1*X*004010~\n"
#define END_4010 "GE*1*1~\nIEA*1*000000001~\n"

/* --------------------------------------------------------- 997 content */

static void
test_clean_850_gets_997_with_everything_accepted(void **state)
{
	(void)state;
	expect_ack("clean_850_4010.edi", 1, ISA_4010 GS_4010
	    "ST*997*0001~\n"
	    "AK1*PO*101~\n"
	    "AK2*850*0001~\n"
	    "AK5*A~\n"
	    "AK9*A*1*1*1~\n"
	    "SE*6*0001~\n" END_4010);
}

static void
test_se01_count_wrong_rejects_the_set_with_ak502_4(void **state)
{
	(void)state;
	/* AK502 4: number of included segments does not match actual count. */
	expect_ack("se_count_wrong.edi", 1, ISA_4010 GS_4010
	    "ST*997*0001~\n"
	    "AK1*PO*101~\n"
	    "AK2*850*0001~\n"
	    "AK5*R*4~\n"
	    "AK9*R*1*1*0~\n"
	    "SE*6*0001~\n" END_4010);
}

static void
test_st_se_control_mismatch_rejects_the_set_with_ak502_3(void **state)
{
	(void)state;
	/* AK502 3: control number in header and trailer do not match. */
	expect_ack("st_se_mismatch.edi", 1, ISA_4010 GS_4010
	    "ST*997*0001~\n"
	    "AK1*PO*101~\n"
	    "AK2*850*0001~\n"
	    "AK5*R*3~\n"
	    "AK9*R*1*1*0~\n"
	    "SE*6*0001~\n" END_4010);
}

static void
test_missing_mandatory_element_is_ak4_code_1_at_its_position(void **state)
{
	(void)state;
	/* BEG02 empty: AK3 BEG at position 2 (ST = 1), 8 "segment has data
	 * element errors"; AK4 element 2, 1 "mandatory data element missing";
	 * AK5 R 5 "one or more segments in error". */
	expect_ack("missing_element.edi", 1, ISA_4010 GS_4010
	    "ST*997*0001~\n"
	    "AK1*PO*101~\n"
	    "AK2*850*0001~\n"
	    "AK3*BEG*2**8~\n"
	    "AK4*2**1~\n"
	    "AK5*R*5~\n"
	    "AK9*R*1*1*0~\n"
	    "SE*8*0001~\n" END_4010);
}

static void
test_invalid_code_is_ak4_code_7_with_a_copy_of_the_bad_data(void **state)
{
	(void)state;
	expect_ack("invalid_code.edi", 1, ISA_4010 GS_4010
	    "ST*997*0001~\n"
	    "AK1*PO*101~\n"
	    "AK2*850*0001~\n"
	    "AK3*BEG*2**8~\n"
	    "AK4*1**7*99~\n"
	    "AK5*R*5~\n"
	    "AK9*R*1*1*0~\n"
	    "SE*8*0001~\n" END_4010);
}

static void
test_too_long_element_is_ak4_code_5_with_a_copy_of_the_bad_data(void **state)
{
	(void)state;
	/* BEG03 is AN 1/22; the 23 characters come back in AK404. */
	expect_ack("too_long.edi", 1, ISA_4010 GS_4010
	    "ST*997*0001~\n"
	    "AK1*PO*101~\n"
	    "AK2*850*0001~\n"
	    "AK3*BEG*2**8~\n"
	    "AK4*3**5*PO1234567890123456789012~\n"
	    "AK5*R*5~\n"
	    "AK9*R*1*1*0~\n"
	    "SE*8*0001~\n" END_4010);
}

static void
test_group_with_one_of_two_sets_rejected_is_partially_accepted(void **state)
{
	(void)state;
	/* AK9 P: 2 included, 2 received, 1 accepted. */
	expect_ack("two_sets_one_rejected.edi", 1, ISA_4010 GS_4010
	    "ST*997*0001~\n"
	    "AK1*PO*101~\n"
	    "AK2*850*0001~\n"
	    "AK5*A~\n"
	    "AK2*850*0002~\n"
	    "AK5*R*4~\n"
	    "AK9*P*2*2*1~\n"
	    "SE*8*0001~\n" END_4010);
}

/* ------------------------------------------------------------------ TA1 */

static void
test_isa13_iea02_mismatch_gets_only_a_ta1_rejected_001(void **state)
{
	(void)state;
	/* TA104 R, TA105 001 "interchange control number in header and
	 * trailer do not match"; a rejected interchange gets no 997. */
	expect_ack("isa_iea_mismatch.edi", 1,
	    "ISA*00*          *00*          *ZZ*EDIGATEDEMO    "
	    "*ZZ*ACMEBUYER      *261123*1200*U*00401*000000001*0*P*>~\n"
	    "TA1*000000101*261123*1015*R*001~\n"
	    "IEA*0*000000001~\n");
}

static void
test_isa14_1_gets_a_ta1_accepted_before_the_997(void **state)
{
	(void)state;
	expect_ack("ta1_requested.edi", 1, ISA_4010
	    "TA1*000000101*261123*1015*A*000~\n" GS_4010
	    "ST*997*0001~\n"
	    "AK1*PO*101~\n"
	    "AK2*850*0001~\n"
	    "AK5*A~\n"
	    "AK9*A*1*1*1~\n"
	    "SE*6*0001~\n" END_4010);
}

static void
test_duplicate_interchange_gets_ta1_rejected_025_and_no_997(void **state)
{
	(void)state;
	struct collect c;
	collect_file("clean_850_4010.edi", 0, &c);
	ack_result_mark_duplicate(&c.results[0]);
	/* TA105 025: duplicate interchange control number. */
	char *text = write_ack(&c.results[0], "997", 0);
	assert_string_equal(text,
	    "ISA*00*          *00*          *ZZ*EDIGATEDEMO    "
	    "*ZZ*ACMEBUYER      *261123*1200*U*00401*000000001*0*P*>~\n"
	    "TA1*000000101*261123*1015*R*025~\n"
	    "IEA*0*000000001~\n");
	free(text);
	collect_clear(&c);
	/* UCI 4 with 0085 26, duplicate detected, in UNB 0020. */
	collect_file("orders_unt_count.edi", 0, &c);
	ack_result_mark_duplicate(&c.results[0]);
	text = write_ack(&c.results[0], NULL, 0);
	assert_string_equal(text,
	    "UNB+UNOC:3+RECEIVER1:ZZ+SENDER1:ZZ+261123:1200+1'\n"
	    "UNH+1+CONTRL:D:3:UN'\n"
	    "UCI+ICR1+SENDER1:ZZ+RECEIVER1:ZZ+4+26+UNB+6'\n"
	    "UNT+3+1'\n"
	    "UNZ+1+1'\n");
	free(text);
	collect_clear(&c);
}

static void
test_duplicate_group_is_rejected_with_every_set_in_the_997(void **state)
{
	(void)state;
	struct collect c;
	collect_file("clean_850_4010.edi", 0, &c);
	ack_group_mark_duplicate(&c.results[0], 0, ACK_KIND_997);
	/* 004010 element 716 has no code for a repeated group number: AK9 R
	 * with none accepted and no AK905; the set AK5 R. */
	char *text = write_ack(&c.results[0], "997", 0);
	assert_string_equal(text, ISA_4010 GS_4010
	    "ST*997*0001~\n"
	    "AK1*PO*101~\n"
	    "AK2*850*0001~\n"
	    "AK5*R~\n"
	    "AK9*R*1*1*0~\n"
	    "SE*6*0001~\n" END_4010);
	free(text);
	collect_clear(&c);
	/* In a 999 (always 005010): AK905 19, functional group control
	 * number not unique. */
	collect_file("clean_850_4010.edi", 0, &c);
	ack_group_mark_duplicate(&c.results[0], 0, ACK_KIND_999);
	text = write_ack(&c.results[0], "999", 0);
	assert_non_null(strstr(text, "AK1*PO*101*004010~\n"
	    "AK2*850*0001~\n"
	    "IK5*R~\n"
	    "AK9*R*1*1*0*19~\n"));
	free(text);
	collect_clear(&c);
	/* An index past the groups changes nothing. */
	collect_file("clean_850_4010.edi", 0, &c);
	ack_group_mark_duplicate(&c.results[0], 1, ACK_KIND_997);
	assert_int_equal(c.results[0].groups[0].status, ACK_STATUS_ACCEPTED);
	collect_clear(&c);
}

static void
test_duplicate_edifact_group_gets_ucf_4_26_in_ung(void **state)
{
	(void)state;
	struct collect c;
	size_t len;
	char path[4096];
	snprintf(path, sizeof(path), "%s/tests/fixtures/edifact/"
	    "valid_invoic_d01b_groups.edi", test_srcdir());
	char *data = test_read_file(path, &len);
	assert_non_null(data);
	collect_bytes(data, len, 0, &c);
	free(data);
	ack_group_mark_duplicate(&c.results[0], 0, ACK_KIND_CONTRL);
	/* UCI 7 (the interchange is fine), UCF 4 with 0085 26 (duplicate
	 * detected) in UNG 0048: S011 6, the tag counting 1. No UCM: the
	 * group's rejection covers its messages. */
	char *text = write_ack(&c.results[0], NULL, 0);
	assert_non_null(strstr(text, "UCI+INV0001+SENDER1:ZZZ+RECEIVER1:ZZZ+7'"
	    "\nUCF+G1+SENDER1:ZZZ+RECEIVER1:ZZZ+4+26+UNG+6'\nUNT+4+1'"));
	free(text);
	collect_clear(&c);
}

static void
test_999_for_004010_is_enveloped_as_005010(void **state)
{
	(void)state;
	struct collect c;
	collect_file("clean_850_4010.edi", 0, &c);
	char *text = write_ack(&c.results[0], "999", 0);
	assert_non_null(strstr(text, "*^*00501*000000001*0*P*>~\n"
	    "GS*FA*EDIGATEDEMO*ACMEBUYER*20261123*1200*1*X*005010X231A1~\n"
	    "ST*999*0001*005010X231A1~\n"
	    "AK1*PO*101*004010~\n"));
	free(text);
	collect_clear(&c);
}

static void
test_bad_inbound_delimiters_are_answered_in_the_default_ones(void **state)
{
	(void)state;
	struct collect c;
	size_t len;
	char path[4096];
	snprintf(path, sizeof(path), "%s/tests/fixtures/x12/"
	    "bad_ta1_027_component_separator.edi", test_srcdir());
	char *data = test_read_file(path, &len);
	assert_non_null(data);
	collect_bytes(data, len, 0, &c);
	free(data);
	assert_int_equal(c.count, 1);
	/* TA105 027: invalid component element separator; the TA1 goes out
	 * with '*', '>' and '~'. */
	char *text = write_ack(&c.results[0], NULL, 0);
	assert_non_null(strstr(text, "*00401*000000001*0*P*>~\n"
	    "TA1*000000001*261123*1015*R*027~\n"
	    "IEA*0*000000001~\n"));
	free(text);
	collect_clear(&c);
}

static void
test_collector_gives_the_same_ack_whatever_the_chunks(void **state)
{
	(void)state;
	size_t len;
	char *data = test_read_file(fixture_path("two_sets_one_rejected.edi"), &len);
	assert_non_null(data);
	struct collect whole, bytes;
	collect_bytes(data, len, 1, &whole);
	/* Byte by byte through the same path. */
	char xsd[4096], dir[4096], *err = NULL;
	snprintf(xsd, sizeof(xsd), "%s/maps/map.xsd", test_srcdir());
	snprintf(dir, sizeof(dir), "%s/tests/fixtures/ack/maps", test_srcdir());
	map_loader *loader = map_loader_new(xsd, &err);
	xlate_maps *maps = xlate_maps_new(dir, loader);
	ack_collector_options opt = { .maps = maps };
	memset(&bytes, 0, sizeof(bytes));
	ack_collector *col = ack_collector_new(&opt, keep_result, &bytes);
	edi_reader_callbacks cb;
	ack_collector_reader_callbacks(&cb);
	edi_reader *rd = edi_reader_new(&cb, col, NULL);
	for (size_t i = 0; i < len; i++)
		edi_reader_feed(rd, data + i, 1);
	edi_reader_finish(rd);
	ack_collector_finish(col);
	edi_reader_free(rd);
	ack_collector_free(col);
	xlate_maps_free(maps);
	map_loader_free(loader);
	free(data);
	assert_int_equal(whole.count, 1);
	assert_int_equal(bytes.count, 1);
	char *a = write_ack(&whole.results[0], NULL, 0);
	char *b = write_ack(&bytes.results[0], NULL, 0);
	assert_string_equal(a, b);
	free(a);
	free(b);
	collect_clear(&whole);
	collect_clear(&bytes);
}

static void
test_interchange_of_only_a_ta1_gets_nothing(void **state)
{
	(void)state;
	struct collect c;
	collect_file("only_ta1.edi", 0, &c);
	assert_int_equal(c.count, 1);
	assert_true(c.results[0].only_ta1);
	/* Not even when the partner asks for TA1s on everything. */
	ack_plan plan = ack_choose(&c.results[0], "997", 1);
	assert_int_equal(plan.kind, ACK_KIND_NONE);
	assert_int_equal(plan.ta1, 0);
	char *text = write_ack(&c.results[0], "997", 1);
	assert_string_equal(text, "");
	free(text);
	collect_clear(&c);
}

static void
test_group_of_997s_gets_no_997(void **state)
{
	(void)state;
	struct collect c;
	collect_file("only_997.edi", 0, &c);
	assert_int_equal(c.count, 1);
	assert_true(c.results[0].only_acks);
	ack_plan plan = ack_choose(&c.results[0], "997", 0);
	assert_int_equal(plan.kind, ACK_KIND_NONE);
	assert_int_equal(plan.ta1, 0);
	collect_clear(&c);
}

static void
test_fa_group_next_to_a_po_group_gets_no_ak1_of_its_own(void **state)
{
	(void)state;
	expect_ack("fa_and_po_groups.edi", 1, ISA_4010 GS_4010
	    "ST*997*0001~\n"
	    "AK1*PO*103~\n"
	    "AK2*850*0001~\n"
	    "AK5*A~\n"
	    "AK9*A*1*1*1~\n"
	    "SE*6*0001~\n" END_4010);
}

static void
test_contrl_gets_no_contrl(void **state)
{
	(void)state;
	struct collect c;
	collect_file("only_contrl.edi", 0, &c);
	assert_int_equal(c.count, 1);
	assert_true(c.results[0].only_acks);
	ack_plan plan = ack_choose(&c.results[0], "CONTRL", 0);
	assert_int_equal(plan.kind, ACK_KIND_NONE);
	collect_clear(&c);
}

static void
test_partner_profile_chooses_the_ack_type(void **state)
{
	(void)state;
	struct collect c;
	collect_file("clean_850_4010.edi", 0, &c);
	ack_plan plan = ack_choose(&c.results[0], NULL, 0);
	assert_int_equal(plan.kind, ACK_KIND_997);
	assert_int_equal(plan.ta1, 0);
	plan = ack_choose(&c.results[0], "999", 1);
	assert_int_equal(plan.kind, ACK_KIND_999);
	assert_int_equal(plan.ta1, 1);
	plan = ack_choose(&c.results[0], "none", 0);
	assert_int_equal(plan.kind, ACK_KIND_NONE);
	collect_clear(&c);
	collect_file("invalid_code_5010.edi", 0, &c);
	plan = ack_choose(&c.results[0], NULL, 0);
	assert_int_equal(plan.kind, ACK_KIND_999);
	collect_clear(&c);
}

/* ------------------------------------------------------------------ 999 */

static void
test_005010_gets_999_with_ik3_ctx_and_ik4(void **state)
{
	(void)state;
	/* 005010X231A1: ISA12 00501 with a repetition separator in ISA11,
	 * ST03 and GS08 name the guide, AK103 the acknowledged version; CTX
	 * after IK3 names the business unit (C998: BEG03 and the PO). */
	expect_ack("invalid_code_5010.edi", 1,
	    "ISA*00*          *00*          *ZZ*EDIGATEDEMO    "
	    "*ZZ*ACMEBUYER      *261123*1200*^*00501*000000001*0*P*>~\n"
	    "GS*FA*EDIGATEDEMO*ACMEBUYER*20261123*1200*1*X*005010X231A1~\n"
	    "ST*999*0001*005010X231A1~\n"
	    "AK1*PO*501*005010~\n"
	    "AK2*850*0001~\n"
	    "IK3*BEG*2**8~\n"
	    "CTX*BEG03>PO501~\n"
	    "IK4*1**7*99~\n"
	    "IK5*R*5~\n"
	    "AK9*R*1*1*0~\n"
	    "SE*9*0001~\n"
	    "GE*1*1~\n"
	    "IEA*1*000000001~\n");
}

/* --------------------------------------------------------------- CONTRL */

static void
test_orders_with_wrong_unt_count_gets_contrl_ucm_4_29(void **state)
{
	(void)state;
	/* ISO 9735 syntax 3: CONTRL:D:3:UN; UCI 7 (interchange acknowledged,
	 * messages unless rejected below), UCM 4 (rejected) with 0085 29
	 * "control count does not match number of instances received", in
	 * service segment UNT, data element 0074 at S011 position 2 (the tag
	 * counts as 1). */
	/* The default service characters need no UNA. */
	expect_ack("orders_unt_count.edi", 0,
	    "UNB+UNOC:3+RECEIVER1:ZZ+SENDER1:ZZ+261123:1200+1'\n"
	    "UNH+1+CONTRL:D:3:UN'\n"
	    "UCI+ICR1+SENDER1:ZZ+RECEIVER1:ZZ+7'\n"
	    "UCM+1+ORDERS:D:96A:UN+4+29+UNT+2'\n"
	    "UNT+4+1'\n"
	    "UNZ+1+1'\n");
}

static void
test_rejected_group_lists_no_accepted_message_under_it(void **state)
{
	(void)state;
	struct collect c;
	size_t len;
	char path[4096];
	snprintf(path, sizeof(path), "%s/tests/fixtures/edifact/"
	    "bad_contrl_29_une_count.edi", test_srcdir());
	char *data = test_read_file(path, &len);
	assert_non_null(data);
	collect_bytes(data, len, 0, &c);
	free(data);
	assert_int_equal(c.count, 1);
	/* UCF 4 (this level and all lower levels rejected), 29 in UNE 0060
	 * (S011 position 2); its message needs no UCM of its own. */
	char *text = write_ack(&c.results[0], NULL, 0);
	assert_non_null(strstr(text, "UCI+ICR1+SENDER1:ZZ+RECEIVER1:ZZ+7'"
	    "UCF+G1+SENDER1:ZZ+RECEIVER1:ZZ+4+29+UNE+2'UNT+4+1'"));
	free(text);
	collect_clear(&c);
}

/* ----------------------------------------------------------------- read */

struct docs {
	ack_document list[8];
	size_t count;
};

static void
keep_doc(void *ctx, const ack_document *doc)
{
	struct docs *d = ctx;
	if (d->count >= 8)
		return;
	ack_document *out = &d->list[d->count++];
	*out = *doc;
	assert_int_equal(ack_result_copy(&out->result, &doc->result), 0);
}

static void
docs_clear(struct docs *d)
{
	for (size_t i = 0; i < d->count; i++)
		ack_result_clear(&d->list[i].result);
	d->count = 0;
}

static void
read_bytes(const char *data, size_t len, struct docs *d)
{
	memset(d, 0, sizeof(*d));
	ack_reader *ar = ack_reader_new(keep_doc, d);
	assert_non_null(ar);
	edi_reader_callbacks cb;
	ack_reader_reader_callbacks(&cb);
	edi_reader *rd = edi_reader_new(&cb, ar, NULL);
	assert_non_null(rd);
	/* One byte at a time: the reader must not care how input comes. */
	for (size_t i = 0; i < len; i++)
		edi_reader_feed(rd, data + i, 1);
	edi_reader_finish(rd);
	ack_reader_finish(ar);
	edi_reader_free(rd);
	ack_reader_free(ar);
}

static void
read_text(const char *text, struct docs *d)
{
	read_bytes(text, strlen(text), d);
}

static void
test_read_997_with_segment_and_element_errors(void **state)
{
	(void)state;
	struct docs d;
	read_text("ISA*00*          *00*          *ZZ*ACME           *ZZ*EDIGATEDEMO    "
	    "*261124*0900*U*00401*000000777*0*P*>~"
	    "GS*FA*ACME*EDIGATEDEMO*20261124*0900*77*X*004010~"
	    "ST*997*0001~"
	    "AK1*SH*12~"
	    "AK2*856*0001~"
	    "AK5*A~"
	    "AK2*856*0002~"
	    "AK3*TD5*4*HL*8~"
	    "AK4*2>1*66*7*XX~"
	    "AK3*REF*9**3~"
	    "AK5*R*5~"
	    "AK9*P*2*2*1~"
	    "SE*11*0001~GE*1*77~IEA*1*000000777~", &d);
	assert_int_equal(d.count, 1);
	const ack_document *doc = &d.list[0];
	assert_int_equal(doc->kind, ACK_KIND_997);
	assert_int_equal(doc->problem_count, 0);
	assert_string_equal(doc->sender_id, "ACME");
	assert_string_equal(doc->interchange_control, "000000777");
	assert_string_equal(doc->group_control, "77");
	assert_string_equal(doc->set_control, "0001");
	assert_int_equal(doc->result.group_count, 1);
	const ack_group_result *g = &doc->result.groups[0];
	assert_string_equal(g->functional_id, "SH");
	assert_string_equal(g->control_number, "12");
	assert_int_equal(g->status, ACK_STATUS_PARTIALLY_ACCEPTED);
	assert_int_equal(g->sets_included, 2);
	assert_int_equal(g->sets_received, 2);
	assert_int_equal(g->sets_accepted, 1);
	assert_int_equal(g->set_count, 2);
	assert_int_equal(g->sets[0].status, ACK_STATUS_ACCEPTED);
	const ack_set_result *s = &g->sets[1];
	assert_string_equal(s->id, "856");
	assert_string_equal(s->control_number, "0002");
	assert_int_equal(s->status, ACK_STATUS_REJECTED);
	assert_int_equal(s->code_count, 1);
	assert_string_equal(s->codes[0], "5");
	assert_int_equal(s->segment_count, 2);
	assert_string_equal(s->segments[0].tag, "TD5");
	assert_int_equal(s->segments[0].position, 4);
	assert_string_equal(s->segments[0].loop_id, "HL");
	assert_string_equal(s->segments[0].code, "8");
	assert_int_equal(s->segments[0].element_count, 1);
	const ack_element_error *el = &s->segments[0].elements[0];
	assert_int_equal(el->element, 2);
	assert_int_equal(el->component, 1);
	assert_string_equal(el->reference, "66");
	assert_string_equal(el->code, "7");
	assert_string_equal(el->bad_data, "XX");
	assert_string_equal(s->segments[1].tag, "REF");
	assert_string_equal(s->segments[1].code, "3");
	assert_int_equal(s->segments[1].element_count, 0);
	/* Looked up the way tracking looks: GS06 12, ST02 0002. */
	const ack_group_result *found = ack_find_group(&doc->result, "12");
	assert_ptr_equal(found, g);
	assert_ptr_equal(ack_find_set(found, "0002"), s);
	assert_null(ack_find_set(found, "0003"));
	assert_null(ack_find_group(&doc->result, "13"));
	docs_clear(&d);
}

static void
test_read_999_keeps_the_business_unit_context(void **state)
{
	(void)state;
	struct docs d;
	read_text("ISA*00*          *00*          *ZZ*ACME           *ZZ*EDIGATEDEMO    "
	    "*261124*0900*^*00501*000000778*0*P*:~"
	    "GS*FA*ACME*EDIGATEDEMO*20261124*0900*78*X*005010X231A1~"
	    "ST*999*0001*005010X231A1~"
	    "AK1*PO*501*005010~"
	    "AK2*850*0001*005010~"
	    "IK3*PO1*7*PO1*8~"
	    "CTX*SITUATIONAL TRIGGER*PO1*7~"
	    "CTX*BEG03:PO501~"
	    "IK4*3:0:2*355*7*ZZ~"
	    "IK5*R*5~"
	    "AK9*R*1*1*0~"
	    "SE*10*0001~GE*1*78~IEA*1*000000778~", &d);
	assert_int_equal(d.count, 1);
	const ack_document *doc = &d.list[0];
	assert_int_equal(doc->kind, ACK_KIND_999);
	assert_int_equal(doc->problem_count, 0);
	assert_string_equal(doc->carrier_version, "005010X231A1");
	const ack_group_result *g = &doc->result.groups[0];
	assert_string_equal(g->version, "005010");
	assert_int_equal(g->status, ACK_STATUS_REJECTED);
	const ack_set_result *s = &g->sets[0];
	assert_string_equal(s->implementation, "005010");
	const ack_segment_error *e = &s->segments[0];
	assert_string_equal(e->context.name, "BEG03");
	assert_string_equal(e->context.reference, "PO501");
	assert_int_equal(e->elements[0].element, 3);
	assert_int_equal(e->elements[0].component, 0);
	assert_int_equal(e->elements[0].repetition, 2);
	assert_string_equal(e->elements[0].bad_data, "ZZ");
	docs_clear(&d);
}

static void
test_read_ta1(void **state)
{
	(void)state;
	struct docs d;
	read_text("ISA*00*          *00*          *ZZ*ACME           *ZZ*EDIGATEDEMO    "
	    "*261124*0900*U*00401*000000779*0*P*>~"
	    "TA1*000000101*261123*1015*R*001~"
	    "IEA*0*000000779~", &d);
	assert_int_equal(d.count, 1);
	const ack_document *doc = &d.list[0];
	assert_int_equal(doc->kind, ACK_KIND_TA1);
	assert_int_equal(doc->problem_count, 0);
	assert_string_equal(doc->result.control_number, "000000101");
	assert_string_equal(doc->result.date, "261123");
	assert_string_equal(doc->result.time, "1015");
	assert_int_equal(doc->result.status, ACK_STATUS_REJECTED);
	assert_string_equal(doc->result.note_code, "001");
	docs_clear(&d);
}

static void
test_read_contrl_with_group_segment_and_element_errors(void **state)
{
	(void)state;
	struct docs d;
	read_text("UNA:+.? 'UNB+UNOC:3+RECEIVER1:ZZ+SENDER1:ZZ+261124:0900+9'"
	    "UNH+1+CONTRL:D:3:UN'"
	    "UCI+ICR1+SENDER1:ZZ+RECEIVER1:ZZ+7'"
	    "UCF+G1+SENDER1:ZZ+RECEIVER1:ZZ+7'"
	    "UCM+1+ORDERS:D:96A:UN+4'"
	    "UCS+3'"
	    "UCD+12+2:1'"
	    "UCM+2+ORDERS:D:96A:UN+7'"
	    "UNT+8+1'UNZ+1+9'", &d);
	assert_int_equal(d.count, 1);
	const ack_document *doc = &d.list[0];
	assert_int_equal(doc->kind, ACK_KIND_CONTRL);
	assert_int_equal(doc->problem_count, 0);
	assert_string_equal(doc->carrier_version, "D:3");
	const ack_interchange_result *r = &doc->result;
	assert_string_equal(r->control_number, "ICR1");
	assert_string_equal(r->sender_id, "SENDER1");
	assert_string_equal(r->sender_qualifier, "ZZ");
	assert_int_equal(r->status, ACK_STATUS_ACCEPTED);
	assert_int_equal(r->group_count, 1);
	const ack_group_result *g = &r->groups[0];
	assert_string_equal(g->control_number, "G1");
	assert_int_equal(g->set_count, 2);
	const ack_set_result *s = &g->sets[0];
	assert_string_equal(s->id, "ORDERS");
	assert_string_equal(s->version, "D");
	assert_string_equal(s->release, "96A");
	assert_int_equal(s->status, ACK_STATUS_REJECTED);
	assert_int_equal(s->segment_count, 1);
	assert_int_equal(s->segments[0].position, 3);
	assert_int_equal(s->segments[0].element_count, 1);
	/* S011 0098 2 is the first data element after the tag. */
	assert_int_equal(s->segments[0].elements[0].element, 1);
	assert_int_equal(s->segments[0].elements[0].component, 1);
	assert_string_equal(s->segments[0].elements[0].code, "12");
	assert_int_equal(g->sets[1].status, ACK_STATUS_ACCEPTED);
	docs_clear(&d);
}

static void
test_read_ak4_without_ak3_is_a_problem_not_a_guess(void **state)
{
	(void)state;
	struct docs d;
	read_text("ISA*00*          *00*          *ZZ*ACME           *ZZ*EDIGATEDEMO    "
	    "*261124*0900*U*00401*000000780*0*P*>~"
	    "GS*FA*ACME*EDIGATEDEMO*20261124*0900*80*X*004010~"
	    "ST*997*0001~AK1*PO*1~AK2*850*0001~AK4*1**7~AK5*R*5~AK9*R*1*1*0~"
	    "SE*7*0001~GE*1*80~IEA*1*000000780~", &d);
	assert_int_equal(d.count, 1);
	assert_int_equal(d.list[0].problem_count, 1);
	assert_non_null(strstr(d.list[0].problem, "without a segment error"));
	assert_int_equal(d.list[0].result.groups[0].sets[0].segment_count, 0);
	docs_clear(&d);
}

static void
test_read_skips_sets_that_are_no_acks(void **state)
{
	(void)state;
	struct docs d;
	size_t len;
	char *data = test_read_file(fixture_path("clean_850_4010.edi"), &len);
	assert_non_null(data);
	read_bytes(data, len, &d);
	assert_int_equal(d.count, 0);
	free(data);
}

/* --------------------------------------------------------------- corpus */

static const char *
corpus_file(const char *name)
{
	static char path[4096];
	const char *dir = test_corpus_dir();
	if (!dir)
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static int
read_corpus(const char *name, struct docs *d)
{
	const char *path = corpus_file(name);
	size_t len;
	char *data = path ? test_read_file(path, &len) : NULL;
	if (!data)
		return 0;
	read_bytes(data, len, d);
	free(data);
	return 1;
}

static void
test_read_corpus_997(void **state)
{
	(void)state;
	struct docs d;
	if (!read_corpus("staedi__simple997.edi", &d))
		skip();
	assert_int_equal(d.count, 1);
	assert_int_equal(d.list[0].problem_count, 0);
	const ack_group_result *g = &d.list[0].result.groups[0];
	assert_string_equal(g->functional_id, "HC");
	assert_string_equal(g->control_number, "000001");
	assert_int_equal(g->status, ACK_STATUS_REJECTED);
	const ack_set_result *s = &g->sets[0];
	assert_string_equal(s->control_number, "0021");
	assert_string_equal(s->segments[0].tag, "NM1");
	assert_int_equal(s->segments[0].position, 8);
	assert_int_equal(s->segments[0].elements[0].element, 8);
	assert_string_equal(s->segments[0].elements[0].code, "7");
	assert_string_equal(s->segments[0].elements[0].bad_data, "MI");
	docs_clear(&d);
}

static void
test_read_corpus_999(void **state)
{
	(void)state;
	struct docs d;
	if (!read_corpus("staedi__simple999.edi", &d))
		skip();
	assert_int_equal(d.count, 1);
	assert_int_equal(d.list[0].problem_count, 0);
	const ack_group_result *g = &d.list[0].result.groups[0];
	assert_int_equal(g->status, ACK_STATUS_PARTIALLY_ACCEPTED);
	assert_int_equal(g->set_count, 3);
	assert_int_equal(g->sets[0].status, ACK_STATUS_ACCEPTED);
	assert_string_equal(g->sets[1].segments[0].context.name, "CLM01");
	assert_string_equal(g->sets[1].segments[0].context.reference, "123456789");
	/* The business unit wins over the situational trigger before it. */
	assert_string_equal(g->sets[2].segments[0].context.reference, "987654321");
	assert_string_equal(g->sets[2].segments[0].code, "3");
	docs_clear(&d);
}

static void
test_read_corpus_ta1_and_malformed_acks(void **state)
{
	(void)state;
	struct docs d;
	if (!read_corpus("uhin__TA1.edi", &d))
		skip();
	assert_int_equal(d.count, 1);
	assert_int_equal(d.list[0].kind, ACK_KIND_TA1);
	assert_string_equal(d.list[0].result.note_code, "024");
	docs_clear(&d);
	/* Known bad: a non-numeric AK402 and a functional id out of GS01's
	 * code set; an AK1/AK9-less 997. */
	assert_true(read_corpus("staedi__invalid997.edi", &d));
	assert_int_equal(d.count, 1);
	assert_true(d.list[0].problem_count >= 2);
	docs_clear(&d);
	assert_true(read_corpus("staedi__empty997.edi", &d));
	assert_int_equal(d.count, 1);
	assert_true(d.list[0].problem_count >= 1);
	docs_clear(&d);
}

static void
test_corpus_acks_do_not_depend_on_chunks(void **state)
{
	(void)state;
	const char *dir = test_corpus_dir();
	if (!dir)
		skip();
	char **paths = NULL;
	size_t n = test_list_files(dir, ".edi", &paths, 0);
	for (size_t i = 0; i < n; i++) {
		size_t len;
		char *data = test_read_file(paths[i], &len);
		if (!data)
			continue;
		struct collect whole, halves;
		collect_bytes(data, len, 1, &whole);
		/* Two chunks, split in the middle. */
		memset(&halves, 0, sizeof(halves));
		ack_collector *col = ack_collector_new(NULL, keep_result, &halves);
		edi_reader_callbacks cb;
		ack_collector_reader_callbacks(&cb);
		edi_reader *rd = edi_reader_new(&cb, col, NULL);
		edi_reader_feed(rd, data, len / 2);
		edi_reader_feed(rd, data + len / 2, len - len / 2);
		edi_reader_finish(rd);
		ack_collector_finish(col);
		edi_reader_free(rd);
		ack_collector_free(col);
		free(data);
		assert_int_equal(whole.count, halves.count);
		for (size_t k = 0; k < whole.count; k++) {
			/* Envelope statuses agree with or without the guide. */
			assert_int_equal(whole.results[k].status,
			    halves.results[k].status);
			assert_string_equal(whole.results[k].note_code,
			    halves.results[k].note_code);
			assert_int_equal(whole.results[k].group_count,
			    halves.results[k].group_count);
		}
		collect_clear(&whole);
		collect_clear(&halves);
	}
	test_free_list(paths, n);
}

/* ----------------------------------------------------------- round trip */

static void
assert_sets_equal(const ack_set_result *a, const ack_set_result *b, int x12)
{
	assert_string_equal(a->id, b->id);
	assert_string_equal(a->control_number, b->control_number);
	assert_int_equal(a->status, b->status);
	assert_string_equal(a->status_code, b->status_code);
	assert_int_equal(a->code_count, b->code_count);
	for (size_t i = 0; i < a->code_count; i++)
		assert_string_equal(a->codes[i], b->codes[i]);
	assert_int_equal(a->segment_count, b->segment_count);
	for (size_t i = 0; i < a->segment_count; i++) {
		const ack_segment_error *x = &a->segments[i], *y = &b->segments[i];
		if (x12) {
			assert_string_equal(x->tag, y->tag);
			assert_string_equal(x->loop_id, y->loop_id);
		}
		assert_int_equal(x->position, y->position);
		assert_string_equal(x->code, y->code);
		assert_int_equal(x->element_count, y->element_count);
		for (size_t j = 0; j < x->element_count; j++) {
			assert_int_equal(x->elements[j].element, y->elements[j].element);
			assert_int_equal(x->elements[j].component, y->elements[j].component);
			assert_string_equal(x->elements[j].code, y->elements[j].code);
			if (x12)
				assert_string_equal(x->elements[j].bad_data,
				    y->elements[j].bad_data);
		}
	}
}

static void
round_trip_x12(const char *fixture, ack_kind kind)
{
	struct collect c;
	struct docs d;
	collect_file(fixture, 1, &c);
	const ack_interchange_result *r = &c.results[0];
	char *text = write_ack(r, ack_kind_name(kind), 0);
	read_text(text, &d);
	free(text);
	assert_int_equal(d.count, 1);
	assert_int_equal(d.list[0].kind, kind);
	assert_int_equal(d.list[0].problem_count, 0);
	const ack_group_result *a = &r->groups[0], *b = &d.list[0].result.groups[0];
	assert_string_equal(a->functional_id, b->functional_id);
	assert_string_equal(a->control_number, b->control_number);
	assert_int_equal(a->status, b->status);
	assert_int_equal(a->sets_included, b->sets_included);
	assert_int_equal(a->sets_received, b->sets_received);
	assert_int_equal(a->sets_accepted, b->sets_accepted);
	assert_int_equal(a->set_count, b->set_count);
	for (size_t i = 0; i < a->set_count; i++)
		assert_sets_equal(&a->sets[i], &b->sets[i], 1);
	docs_clear(&d);
	collect_clear(&c);
}

static void
test_round_trip_997(void **state)
{
	(void)state;
	round_trip_x12("invalid_code.edi", ACK_KIND_997);
	round_trip_x12("two_sets_one_rejected.edi", ACK_KIND_997);
	round_trip_x12("too_long.edi", ACK_KIND_997);
}

static void
test_round_trip_999(void **state)
{
	(void)state;
	round_trip_x12("invalid_code_5010.edi", ACK_KIND_999);
}

static void
test_round_trip_ta1(void **state)
{
	(void)state;
	struct collect c;
	struct docs d;
	collect_file("isa_iea_mismatch.edi", 0, &c);
	char *text = write_ack(&c.results[0], NULL, 0);
	read_text(text, &d);
	free(text);
	assert_int_equal(d.count, 1);
	assert_int_equal(d.list[0].kind, ACK_KIND_TA1);
	assert_string_equal(d.list[0].result.control_number,
	    c.results[0].control_number);
	assert_int_equal(d.list[0].result.status, c.results[0].status);
	assert_string_equal(d.list[0].result.note_code, c.results[0].note_code);
	docs_clear(&d);
	collect_clear(&c);
}

static void
test_round_trip_contrl(void **state)
{
	(void)state;
	struct collect c;
	struct docs d;
	collect_file("orders_unt_count.edi", 0, &c);
	const ack_interchange_result *r = &c.results[0];
	char *text = write_ack(r, NULL, 0);
	read_text(text, &d);
	free(text);
	assert_int_equal(d.count, 1);
	const ack_interchange_result *b = &d.list[0].result;
	assert_int_equal(d.list[0].problem_count, 0);
	assert_string_equal(b->control_number, r->control_number);
	assert_int_equal(b->status, r->status);
	assert_int_equal(b->message_count, r->message_count);
	assert_sets_equal(&r->messages[0], &b->messages[0], 0);
	assert_string_equal(b->messages[0].service_tag, "UNT");
	assert_int_equal(b->messages[0].service_element,
	    r->messages[0].service_element);
	docs_clear(&d);
	collect_clear(&c);
}

/* ----------------------------------------------------------------- JSON */

static void
test_json_is_a_canonical_functional_ack(void **state)
{
	(void)state;
	struct collect c;
	struct docs d;
	collect_file("invalid_code.edi", 1, &c);
	char *text = write_ack(&c.results[0], NULL, 0);
	read_text(text, &d);
	free(text);
	json_t *arr = json_array();
	assert_int_equal(ack_document_to_json(&d.list[0], arr), 0);
	assert_int_equal(json_array_size(arr), 1);
	json_t *o = json_array_get(arr, 0);
	assert_string_equal(json_string_value(json_object_get(o, "type")),
	    "functional_ack");
	assert_string_equal(json_string_value(json_object_get(o, "status")),
	    "rejected");
	json_t *ackd = json_object_get(o, "acknowledged");
	assert_string_equal(json_string_value(json_object_get(ackd, "group")), "101");
	json_t *set = json_array_get(json_object_get(o, "sets"), 0);
	assert_string_equal(json_string_value(json_object_get(set, "set")), "0001");
	json_t *err = json_array_get(json_object_get(set, "errors"), 0);
	assert_int_equal(json_integer_value(json_object_get(err, "position")), 2);
	assert_string_equal(json_string_value(json_object_get(err, "tag")), "BEG");
	assert_int_equal(json_integer_value(json_object_get(err, "segment_code")), 8);
	assert_int_equal(json_integer_value(json_object_get(err, "element")), 1);
	assert_int_equal(json_integer_value(json_object_get(err, "element_code")), 7);
	assert_string_equal(json_string_value(json_object_get(err, "value")), "99");
	json_t *meta = json_object_get(o, "meta");
	assert_string_equal(json_string_value(json_object_get(meta, "message")), "997");
	json_decref(arr);
	docs_clear(&d);
	collect_clear(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_850_gets_997_with_everything_accepted),
		cmocka_unit_test(test_se01_count_wrong_rejects_the_set_with_ak502_4),
		cmocka_unit_test(test_st_se_control_mismatch_rejects_the_set_with_ak502_3),
		cmocka_unit_test(test_missing_mandatory_element_is_ak4_code_1_at_its_position),
		cmocka_unit_test(test_invalid_code_is_ak4_code_7_with_a_copy_of_the_bad_data),
		cmocka_unit_test(test_too_long_element_is_ak4_code_5_with_a_copy_of_the_bad_data),
		cmocka_unit_test(test_group_with_one_of_two_sets_rejected_is_partially_accepted),
		cmocka_unit_test(test_isa13_iea02_mismatch_gets_only_a_ta1_rejected_001),
		cmocka_unit_test(test_isa14_1_gets_a_ta1_accepted_before_the_997),
		cmocka_unit_test(test_duplicate_interchange_gets_ta1_rejected_025_and_no_997),
		cmocka_unit_test(test_duplicate_group_is_rejected_with_every_set_in_the_997),
		cmocka_unit_test(test_duplicate_edifact_group_gets_ucf_4_26_in_ung),
		cmocka_unit_test(test_999_for_004010_is_enveloped_as_005010),
		cmocka_unit_test(test_bad_inbound_delimiters_are_answered_in_the_default_ones),
		cmocka_unit_test(test_collector_gives_the_same_ack_whatever_the_chunks),
		cmocka_unit_test(test_interchange_of_only_a_ta1_gets_nothing),
		cmocka_unit_test(test_group_of_997s_gets_no_997),
		cmocka_unit_test(test_fa_group_next_to_a_po_group_gets_no_ak1_of_its_own),
		cmocka_unit_test(test_contrl_gets_no_contrl),
		cmocka_unit_test(test_partner_profile_chooses_the_ack_type),
		cmocka_unit_test(test_005010_gets_999_with_ik3_ctx_and_ik4),
		cmocka_unit_test(test_orders_with_wrong_unt_count_gets_contrl_ucm_4_29),
		cmocka_unit_test(test_rejected_group_lists_no_accepted_message_under_it),
		cmocka_unit_test(test_read_997_with_segment_and_element_errors),
		cmocka_unit_test(test_read_999_keeps_the_business_unit_context),
		cmocka_unit_test(test_read_ta1),
		cmocka_unit_test(test_read_contrl_with_group_segment_and_element_errors),
		cmocka_unit_test(test_read_ak4_without_ak3_is_a_problem_not_a_guess),
		cmocka_unit_test(test_read_skips_sets_that_are_no_acks),
		cmocka_unit_test(test_read_corpus_997),
		cmocka_unit_test(test_read_corpus_999),
		cmocka_unit_test(test_read_corpus_ta1_and_malformed_acks),
		cmocka_unit_test(test_corpus_acks_do_not_depend_on_chunks),
		cmocka_unit_test(test_round_trip_997),
		cmocka_unit_test(test_round_trip_999),
		cmocka_unit_test(test_round_trip_ta1),
		cmocka_unit_test(test_round_trip_contrl),
		cmocka_unit_test(test_json_is_a_canonical_functional_ack),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
