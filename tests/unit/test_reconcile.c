/*
 * Order chain reconciliation over hand-built documents: the SLAs (2 days
 * to respond, 5 to ship, 3 from shipment to invoice) and ack deadlines
 * decide which rows are exceptions. All times are hours after T0 =
 * 2026-11-23T00:00:00Z (1795392000 s since 1970).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "reconcile.h"

#define HOUR 3600000000LL
#define DAY (24 * HOUR)
#define T0 1795392000000000LL

static struct reconcile_doc
doc(enum reconcile_kind k, const char *partner, const char *order, int64_t id,
    const char *type, int64_t hours, int ack_done, int64_t ack_due_hours)
{
	struct reconcile_doc d;
	memset(&d, 0, sizeof d);
	d.kind = k;
	snprintf(d.partner, sizeof d.partner, "%s", partner);
	snprintf(d.order_number, sizeof d.order_number, "%s", order);
	d.message_id = id;
	snprintf(d.message_type, sizeof d.message_type, "%s", type);
	d.created_us = T0 + hours * HOUR;
	d.ack_required = 1;
	d.ack_done = ack_done;
	d.ack_due_us = T0 + ack_due_hours * HOUR;
	return d;
}

static struct reconcile_options
opts(int64_t now_hours)
{
	struct reconcile_options o = {
		.now_us = T0 + now_hours * HOUR,
		.response_us = 2 * DAY,
		.ship_us = 5 * DAY,
		.invoice_us = 3 * DAY,
	};
	return o;
}

/* 850 at 0 h, 855 at 20 h, 856 at 72 h, 810 at 96 h, all acked. */
static size_t
complete_chain(struct reconcile_doc *v, const char *partner, const char *order,
               int64_t base_id, int64_t offset_hours)
{
	v[0] = doc(RECONCILE_ORDER, partner, order, base_id, "850", offset_hours, 1,
	           offset_hours + 24);
	v[1] = doc(RECONCILE_RESPONSE, partner, order, base_id + 1, "855",
	           offset_hours + 20, 1, offset_hours + 44);
	v[2] = doc(RECONCILE_SHIPMENT, partner, order, base_id + 2, "856",
	           offset_hours + 72, 1, offset_hours + 96);
	v[3] = doc(RECONCILE_INVOICE, partner, order, base_id + 3, "810",
	           offset_hours + 96, 1, offset_hours + 120);
	return 4;
}

static void
test_complete_chain_has_no_exception(void **state)
{
	(void)state;
	struct reconcile_doc v[4];
	struct reconcile_report r;
	struct reconcile_options o = opts(30 * 24);
	complete_chain(v, "acme-retail", "PO1001", 1, 0);
	assert_int_equal(reconcile_build(v, 4, &o, &r), 0);
	assert_int_equal(r.partner_count, 1);
	assert_string_equal(r.partners[0].partner, "acme-retail");
	assert_int_equal(r.partners[0].orders, 1);
	assert_int_equal(r.partners[0].responded, 1);
	assert_int_equal(r.partners[0].shipped, 1);
	assert_int_equal(r.partners[0].invoiced, 1);
	assert_int_equal(r.partners[0].complete, 1);
	assert_int_equal(r.exception_count, 0);
	reconcile_report_free(&r);
}

static void
test_order_without_response_past_two_days_is_late(void **state)
{
	(void)state;
	struct reconcile_doc v[1] = {
		doc(RECONCILE_ORDER, "acme-retail", "PO1002", 7, "850", 0, 1, 24),
	};
	struct reconcile_report r;
	/* 47 h: nothing due yet. */
	struct reconcile_options o = opts(47);
	assert_int_equal(reconcile_build(v, 1, &o, &r), 0);
	assert_int_equal(r.partners[0].orders, 1);
	assert_int_equal(r.exception_count, 0);
	reconcile_report_free(&r);
	/* 50 h: the response was due at 48 h; the shipment only at 120 h. */
	o = opts(50);
	assert_int_equal(reconcile_build(v, 1, &o, &r), 0);
	assert_int_equal(r.exception_count, 1);
	assert_int_equal(r.exceptions[0].reason, RECONCILE_NO_RESPONSE);
	assert_string_equal(reconcile_reason_name(r.exceptions[0].reason), "no-response");
	assert_string_equal(r.exceptions[0].order_number, "PO1002");
	assert_int_equal(r.exceptions[0].message_id, 7);
	assert_true(r.exceptions[0].due_us == T0 + 48 * HOUR);
	assert_int_equal(r.partners[0].no_response, 1);
	assert_int_equal(r.partners[0].no_shipment, 0);
	assert_int_equal(r.partners[0].complete, 0);
	reconcile_report_free(&r);
	/* 121 h: the shipment is late too. */
	o = opts(121);
	assert_int_equal(reconcile_build(v, 1, &o, &r), 0);
	assert_int_equal(r.exception_count, 2);
	assert_int_equal(r.partners[0].no_shipment, 1);
	assert_true(r.exceptions[1].due_us == T0 + 120 * HOUR);
	reconcile_report_free(&r);
}

static void
test_shipment_without_invoice_is_late_after_three_days(void **state)
{
	(void)state;
	struct reconcile_doc v[4];
	struct reconcile_report r;
	complete_chain(v, "acme-retail", "PO1003", 1, 0);
	/* No invoice: the 856 left at 72 h, the invoice is due at 144 h. */
	struct reconcile_options o = opts(143);
	assert_int_equal(reconcile_build(v, 3, &o, &r), 0);
	assert_int_equal(r.exception_count, 0);
	reconcile_report_free(&r);
	o = opts(144);
	assert_int_equal(reconcile_build(v, 3, &o, &r), 0);
	assert_int_equal(r.exception_count, 1);
	assert_int_equal(r.exceptions[0].reason, RECONCILE_NO_INVOICE);
	assert_int_equal(r.exceptions[0].kind, RECONCILE_INVOICE);
	assert_int_equal(r.exceptions[0].message_id, 3); /* the 856 */
	assert_true(r.exceptions[0].since_us == T0 + 72 * HOUR);
	assert_int_equal(r.partners[0].shipped, 1);
	assert_int_equal(r.partners[0].invoiced, 0);
	assert_int_equal(r.partners[0].no_invoice, 1);
	reconcile_report_free(&r);
}

static void
test_document_without_its_997_past_the_deadline_is_late(void **state)
{
	(void)state;
	struct reconcile_doc v[4];
	struct reconcile_report r;
	complete_chain(v, "acme-retail", "PO1004", 1, 0);
	v[2].ack_done = 0; /* the 856's 997 never came; due at 96 h */
	struct reconcile_options o = opts(95);
	assert_int_equal(reconcile_build(v, 4, &o, &r), 0);
	assert_int_equal(r.exception_count, 0);
	assert_int_equal(r.partners[0].complete, 1);
	reconcile_report_free(&r);
	o = opts(200);
	assert_int_equal(reconcile_build(v, 4, &o, &r), 0);
	assert_int_equal(r.exception_count, 1);
	assert_int_equal(r.exceptions[0].reason, RECONCILE_NO_ACK);
	assert_int_equal(r.exceptions[0].kind, RECONCILE_SHIPMENT);
	assert_string_equal(r.exceptions[0].message_type, "856");
	assert_int_equal(r.partners[0].no_ack, 1);
	assert_int_equal(r.partners[0].complete, 0);
	reconcile_report_free(&r);
	/* A document that needs no ack (a canonical copy) is never late. */
	v[2].ack_required = 0;
	assert_int_equal(reconcile_build(v, 4, &o, &r), 0);
	assert_int_equal(r.exception_count, 0);
	reconcile_report_free(&r);
}

static void
test_partner_filter_keeps_only_that_partner(void **state)
{
	(void)state;
	struct reconcile_doc v[6];
	struct reconcile_report r;
	complete_chain(v, "acme-retail", "PO1", 1, 0);
	v[4] = doc(RECONCILE_ORDER, "globex", "PO1", 20, "ORDERS", 0, 0, 24);
	v[5] = doc(RECONCILE_ORDER, "globex", "PO2", 21, "ORDERS", 0, 1, 24);
	struct reconcile_options o = opts(30 * 24);
	assert_int_equal(reconcile_build(v, 6, &o, &r), 0);
	assert_int_equal(r.partner_count, 2);
	assert_string_equal(r.partners[1].partner, "globex");
	/* The same order number at another partner is another chain. */
	assert_int_equal(r.partners[0].orders, 1);
	assert_int_equal(r.partners[1].orders, 2);
	reconcile_report_free(&r);
	o.partner = "globex";
	assert_int_equal(reconcile_build(v, 6, &o, &r), 0);
	assert_int_equal(r.partner_count, 1);
	assert_string_equal(r.partners[0].partner, "globex");
	/* PO1: response, shipment, ack; PO2: response, shipment. */
	assert_int_equal(r.exception_count, 5);
	for (size_t i = 0; i < r.exception_count; i++)
		assert_string_equal(r.exceptions[i].partner, "globex");
	assert_int_equal(r.partners[0].no_ack, 1);
	reconcile_report_free(&r);
}

static void
test_time_window_selects_orders_by_arrival(void **state)
{
	(void)state;
	struct reconcile_doc v[3];
	struct reconcile_report r;
	v[0] = doc(RECONCILE_ORDER, "acme-retail", "OLD", 1, "850", 0, 1, 24);
	v[1] = doc(RECONCILE_ORDER, "acme-retail", "NEW", 2, "850", 48, 1, 72);
	/* A response in the window to an order before it does not count. */
	v[2] = doc(RECONCILE_RESPONSE, "acme-retail", "OLD", 3, "855", 50, 1, 74);
	struct reconcile_options o = opts(30 * 24);
	o.since_us = T0 + 24 * HOUR;
	o.until_us = T0 + 72 * HOUR;
	assert_int_equal(reconcile_build(v, 3, &o, &r), 0);
	assert_int_equal(r.partner_count, 1);
	assert_int_equal(r.partners[0].orders, 1);
	assert_int_equal(r.partners[0].responded, 0);
	assert_int_equal(r.exception_count, 2);
	assert_string_equal(r.exceptions[0].order_number, "NEW");
	assert_string_equal(r.exceptions[1].order_number, "NEW");
	reconcile_report_free(&r);
	/* until is exclusive. */
	o.until_us = T0 + 48 * HOUR;
	assert_int_equal(reconcile_build(v, 3, &o, &r), 0);
	assert_int_equal(r.partner_count, 0);
	assert_int_equal(r.exception_count, 0);
	reconcile_report_free(&r);
}

static void
test_message_types_classify_into_chain_steps(void **state)
{
	(void)state;
	assert_int_equal(reconcile_kind_of("850"), RECONCILE_ORDER);
	assert_int_equal(reconcile_kind_of("ORDERS"), RECONCILE_ORDER);
	assert_int_equal(reconcile_kind_of("order"), RECONCILE_ORDER);
	assert_int_equal(reconcile_kind_of("ORDRSP"), RECONCILE_RESPONSE);
	assert_int_equal(reconcile_kind_of("DESADV"), RECONCILE_SHIPMENT);
	assert_int_equal(reconcile_kind_of("invoice"), RECONCILE_INVOICE);
	assert_int_equal(reconcile_kind_of("997"), -1);
	assert_int_equal(reconcile_kind_of(""), -1);
}

static void
test_html_escapes_partner_data(void **state)
{
	(void)state;
	struct reconcile_doc v[1] = {
		doc(RECONCILE_ORDER, "acme-retail", "<b>&\"x'", 1, "850", 0, 1, 24),
	};
	struct reconcile_report r;
	struct reconcile_options o = opts(100);
	char *buf = NULL;
	size_t len = 0;
	assert_int_equal(reconcile_build(v, 1, &o, &r), 0);
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(reconcile_write_html(f, &r), 0);
	fclose(f);
	assert_non_null(strstr(buf, "&lt;b&gt;&amp;&quot;x&#39;"));
	assert_null(strstr(buf, "<b>"));
	free(buf);
	reconcile_report_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_complete_chain_has_no_exception),
		cmocka_unit_test(test_order_without_response_past_two_days_is_late),
		cmocka_unit_test(test_shipment_without_invoice_is_late_after_three_days),
		cmocka_unit_test(test_document_without_its_997_past_the_deadline_is_late),
		cmocka_unit_test(test_partner_filter_keeps_only_that_partner),
		cmocka_unit_test(test_time_window_selects_orders_by_arrival),
		cmocka_unit_test(test_message_types_classify_into_chain_steps),
		cmocka_unit_test(test_html_escapes_partner_data),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
