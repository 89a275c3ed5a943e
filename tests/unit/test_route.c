/*
 * Tests for gateway/route.c: the default flows of the distributor, rules
 * by partner, type and content, data quality rejections with their JSON
 * path, and the queuing of webhook and partner (EDI) targets in a real
 * SQLite store with the shipped maps and demo partners.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <unistd.h>
#include <cmocka.h>

#include "configfile.h"
#include "deliver.h"
#include "route.h"
#include "store.h"
#include "test_util.h"

static char conf_text[12288];

static struct config *
conf(const char *extra)
{
	struct config *cfg = NULL;
	struct config_error err;
	char msg[1200], top[4096];

	if (realpath(test_srcdir(), top) == NULL)
		fail_msg("no source tree at %s", test_srcdir());
	snprintf(conf_text, sizeof(conf_text),
	    "state_dir = /tmp\nmaps_dir = %s/maps\npartners_dir = %s/partners\n"
	    "[listen.api]\naddress = 127.0.0.1:8080\n"
	    "[webhook.erp]\nurl = http://127.0.0.1:1/erp\n"
	    "[webhook.wms]\nurl = http://127.0.0.1:1/wms\n"
	    "[webhook.wms-east]\nurl = http://127.0.0.1:1/east\n"
	    "[route]\nisa_id = DISTRIB\n%s", top, top,
	    extra);
	if (config_parse("/etc/edigate/edigate.conf", conf_text,
	    strlen(conf_text), &cfg, &err) != 0) {
		config_error_format(&err, msg, sizeof(msg));
		fail_msg("%s", msg);
	}
	return cfg;
}

static struct route *
route_from(const char *extra)
{
	struct config *cfg = conf(extra);
	char err[512];
	struct route *r = route_new(cfg, err, sizeof(err));

	if (r == NULL)
		fail_msg("%s", err);
	config_free(cfg);
	return r;
}

static void
doc_init(struct route_document *d, enum route_origin o, const char *partner,
    const char *type, const char *json)
{
	memset(d, 0, sizeof(*d));
	d->origin = o;
	d->partner = partner;
	d->system = o == ROUTE_FROM_SYSTEM ? "erp" : NULL;
	d->document_type = type;
	d->json = json;
	d->json_len = strlen(json);
	d->correlation_id = "corr-1";
}

/* "webhook:erp partner:acme-retail(810)" */
static const char *
targets(const struct route_result *res)
{
	static char out[512];
	size_t i;

	out[0] = '\0';
	for (i = 0; i < res->ntargets; i++) {
		const struct route_target *t = &res->targets[i];
		snprintf(out + strlen(out), sizeof(out) - strlen(out),
		    "%s%s:%s%s%s%s", i ? " " : "",
		    t->kind == ROUTE_TARGET_WEBHOOK ? "webhook" : "partner",
		    t->name, t->edi_message[0] ? "(" : "", t->edi_message,
		    t->edi_message[0] ? ")" : "");
	}
	return out;
}

static void
test_default_flows_of_the_order_to_cash_loop(void **state)
{
	struct route *r = route_from("");
	struct route_document d;
	struct route_result res;
	static const struct {
		enum route_origin o;
		const char *type, *want;
	} cases[] = {
		{ ROUTE_FROM_PARTNER, "order", "webhook:erp" },
		{ ROUTE_FROM_SYSTEM, "order_response",
		    "partner:acme-retail(855)" },
		{ ROUTE_FROM_SYSTEM, "warehouse_order", "webhook:wms" },
		{ ROUTE_FROM_SYSTEM, "warehouse_shipment",
		    "webhook:erp partner:acme-retail(856)" },
		{ ROUTE_FROM_SYSTEM, "invoice", "partner:acme-retail(810)" },
		{ ROUTE_FROM_PARTNER, "functional_ack", "webhook:erp" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		doc_init(&d, cases[i].o, "acme-retail", cases[i].type, "{}");
		assert_int_equal(route_decide(r, &d, &res), ROUTE_OK);
		assert_string_equal(targets(&res), cases[i].want);
		assert_string_equal(res.rule, "default");
	}
	/* The 945 goes on to the ERP as a shipment. */
	doc_init(&d, ROUTE_FROM_SYSTEM, "acme-retail", "warehouse_shipment",
	    "{}");
	route_decide(r, &d, &res);
	assert_string_equal(res.targets[0].document_type, "shipment");
	/* An order from the ERP has no default flow. */
	doc_init(&d, ROUTE_FROM_SYSTEM, "acme-retail", "order", "{}");
	assert_int_equal(route_decide(r, &d, &res), ROUTE_ENOROUTE);
	assert_string_equal(res.message, "no rule and no default flow for a "
	    "order from a system");
	/* A partner target needs the partner. */
	doc_init(&d, ROUTE_FROM_SYSTEM, NULL, "invoice", "{}");
	assert_int_equal(route_decide(r, &d, &res), ROUTE_EINVAL);
	assert_string_equal(res.path, "$.meta.partner");
	route_free(r);
}

static void
test_wms_as_edi_partner_gets_a_940(void **state)
{
	struct route *r = route_from("wms_partner = nordic-dist\n");
	struct route_document d;
	struct route_result res;

	doc_init(&d, ROUTE_FROM_SYSTEM, "acme-retail", "warehouse_order", "{}");
	assert_int_equal(route_decide(r, &d, &res), ROUTE_OK);
	assert_string_equal(targets(&res), "partner:nordic-dist(940)");
	route_free(r);
}

static void
test_rules_by_content_partner_and_origin(void **state)
{
	struct route *r = route_from(
	    "[route.east]\ntype = warehouse_order\n"
	    "match = parties.ship_from.id = DC-EAST\nto = webhook:wms-east\n"
	    "[route.acme-orders]\npartner = acme-retail\nfrom = partner\n"
	    "type = order\nto = webhook:erp webhook:wms\n");
	struct route_document d;
	struct route_result res;

	doc_init(&d, ROUTE_FROM_SYSTEM, "acme-retail", "warehouse_order",
	    "{\"parties\":{\"ship_from\":{\"id\":\"DC-EAST\"}}}");
	assert_int_equal(route_decide(r, &d, &res), ROUTE_OK);
	assert_string_equal(targets(&res), "webhook:wms-east");
	assert_string_equal(res.rule, "east");
	doc_init(&d, ROUTE_FROM_SYSTEM, "acme-retail", "warehouse_order",
	    "{\"parties\":{\"ship_from\":{\"id\":\"DC-WEST\"}}}");
	route_decide(r, &d, &res);
	assert_string_equal(targets(&res), "webhook:wms");
	assert_string_equal(res.rule, "default");
	doc_init(&d, ROUTE_FROM_PARTNER, "acme-retail", "order", "{}");
	route_decide(r, &d, &res);
	assert_string_equal(targets(&res), "webhook:erp webhook:wms");
	doc_init(&d, ROUTE_FROM_PARTNER, "nordic-dist", "order", "{}");
	route_decide(r, &d, &res);
	assert_string_equal(targets(&res), "webhook:erp");
	route_free(r);
}

static void
test_bad_rules_name_file_and_line(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "[route.a]\ntype = memo\nto = webhook:erp\n",
		  "/etc/edigate/edigate.conf:15: type: expected a canonical "
		  "document type (order, order_response, shipment, invoice, "
		  "warehouse_order, warehouse_shipment, functional_ack), found "
		  "\"memo\"" },
		{ "[route.a]\nto = webhook:nowhere\n",
		  "/etc/edigate/edigate.conf:15: to: \"webhook:nowhere\" is "
		  "neither webhook:NAME of a [webhook.NAME] section, partner:ID "
		  "nor partner" },
		{ "[route.a]\nmatch = lines\nto = partner\n",
		  "/etc/edigate/edigate.conf:15: match: expected PATH = VALUE, "
		  "found \"lines\"" },
		{ "[route.a]\nxref = colour:lines[].unit\n",
		  "/etc/edigate/edigate.conf:15: xref: expected KIND:PATH with "
		  "KIND sku, uom or location" },
		{ "[route.a]\ntype = order\n",
		  "/etc/edigate/edigate.conf:14: [route.a]: a rule needs `to` "
		  "(targets) or checks (`require`, `xref`)" },
		{ "[route.a]\nvia = x\n",
		  "/etc/edigate/edigate.conf:15: unknown key \"via\" in "
		  "[route.a] (expected type, partner, from, match, to, require, "
		  "xref)" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config *cfg = conf(cases[i].text);
		char err[512];
		assert_null(route_new(cfg, err, sizeof(err)));
		assert_string_equal(err, cases[i].want);
		config_free(cfg);
	}
}

#define INVOICE \
	"{\"type\":\"invoice\",\"meta\":{\"partner\":\"acme-retail\"}," \
	"\"invoice_number\":\"INV-77\",\"invoice_date\":\"2026-11-23\"," \
	"\"lines\":[{\"line_number\":\"1\",\"quantity\":\"12\"," \
	"\"unit\":\"each\",\"unit_price\":\"3.50\"," \
	"\"item\":{\"vendor_part\":\"SKU1\"}}," \
	"{\"line_number\":\"2\",\"quantity\":\"1\",\"unit\":\"%s\"," \
	"\"unit_price\":\"9.00\",\"item\":{%s}}]}"

static void
test_data_quality_rejects_with_the_path(void **state)
{
	struct route *r = route_from(
	    "[route.acme-quality]\npartner = acme-retail\n"
	    "require = invoice_number lines[].item.vendor_part\n"
	    "xref = uom:lines[].unit\n");
	struct route_document d;
	struct route_result res;
	char json[1024];

	snprintf(json, sizeof(json), INVOICE, "each",
	    "\"vendor_part\":\"SKU1\"");
	doc_init(&d, ROUTE_FROM_SYSTEM, "acme-retail", "invoice", json);
	assert_int_equal(route_decide(r, &d, &res), ROUTE_OK);
	/* route_decide does not run checks; route_document does (below). */
	snprintf(json, sizeof(json), INVOICE, "each", "\"upc\":\"1\"");
	{
		struct store *st;
		struct store_error se;
		char dir[] = "/tmp/edigate-route-XXXXXX", db[256];
		assert_non_null(mkdtemp(dir));
		snprintf(db, sizeof(db), "%s/edigate.db", dir);
		assert_int_equal(store_open(&st, db, NULL, &se), STORE_OK);
		doc_init(&d, ROUTE_FROM_SYSTEM, "acme-retail", "invoice", json);
		assert_int_equal(route_document(r, st, &d, &res),
		    ROUTE_EREJECTED);
		assert_string_equal(res.path, "$.lines[1].item.vendor_part");
		assert_string_equal(res.message, "required by the data "
		    "quality rules, missing");
		assert_int_equal(res.ntargets, 0);
		snprintf(json, sizeof(json), INVOICE, "box",
		    "\"vendor_part\":\"SKU1\"");
		doc_init(&d, ROUTE_FROM_SYSTEM, "acme-retail", "invoice", json);
		assert_int_equal(route_document(r, st, &d, &res),
		    ROUTE_EREJECTED);
		assert_string_equal(res.path, "$.lines[1].unit");
		assert_string_equal(res.message, "uom \"box\" has no "
		    "cross-reference in the profile of partner acme-retail");
		store_close(st);
		snprintf(db, sizeof(db), "rm -rf '%s'", dir);
		assert_int_equal(system(db), 0);
	}
	route_free(r);
}

struct found {
	char endpoint[300];
	char key[300];
	int64_t message_id;
	int n;
};

static void
test_invoice_is_queued_as_an_810_once(void **state)
{
	struct route *r = route_from("");
	struct route_document d;
	struct route_result res, again;
	struct store *st;
	struct store_error se;
	struct store_message m;
	struct store_delivery del;
	char dir[] = "/tmp/edigate-route-XXXXXX", db[256], json[1024];
	char key[DELIVER_KEY_MAX + 1];
	void *edi;
	size_t len;
	int64_t next;

	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/edigate.db", dir);
	assert_int_equal(store_open(&st, db, NULL, &se), STORE_OK);
	snprintf(json, sizeof(json), INVOICE, "each", "\"vendor_part\":\"SKU1\"");
	doc_init(&d, ROUTE_FROM_SYSTEM, "acme-retail", "invoice", json);
	assert_int_equal(route_document(r, st, &d, &res), ROUTE_OK);
	assert_string_equal(targets(&res), "partner:acme-retail(810)");
	assert_int_equal(res.targets[0].existed, 0);
	assert_true(res.targets[0].outbound_message_id > 0);

	assert_int_equal(store_message_get(st,
	    res.targets[0].outbound_message_id, &m, &se), STORE_OK);
	assert_int_equal(m.direction, STORE_OUT);
	assert_string_equal(m.message_type, "810");
	assert_string_equal(m.correlation_id, "corr-1");
	assert_string_equal(m.interchange_control, "000000001");
	assert_string_equal(m.set_control, "0001");
	assert_int_equal(spool_read_all(store_spool(st), m.payload_hash, &edi,
	    &len, NULL), SPOOL_OK);
	edi = realloc(edi, len + 1);
	((char *)edi)[len] = '\0';
	/* Envelope from the profile (receiver ZZ ACMERETAIL, our DISTRIB),
	 * GS01 IN for an invoice, BIG with date then number (X12 810). */
	assert_non_null(strstr(edi, "ISA*00*          *00*          *ZZ*"
	    "DISTRIB        *ZZ*ACMERETAIL     *"));
	assert_non_null(strstr(edi, "\nGS*IN*DISTRIB*ACMERETAIL*"));
	assert_non_null(strstr(edi, "\nST*810*0001~"));
	assert_non_null(strstr(edi, "\nBIG*20261123*INV-77~"));
	assert_non_null(strstr(edi, "\nIEA*1*000000001~"));
	free(edi);

	assert_int_equal(store_delivery_get(st, res.targets[0].delivery_id,
	    &del, &se), STORE_OK);
	assert_string_equal(del.endpoint, "as2:acme-retail");
	assert_int_equal(del.message_id, res.targets[0].outbound_message_id);
	deliver_idempotency_key("erp", NULL, NULL, NULL, "partner:acme-retail",
	    json, strlen(json), key);
	assert_string_equal(del.idempotency_key, key);

	/* Routed again: the same delivery, no new interchange number. */
	assert_int_equal(route_document(r, st, &d, &again), ROUTE_OK);
	assert_int_equal(again.targets[0].existed, 1);
	assert_int_equal(again.targets[0].delivery_id,
	    res.targets[0].delivery_id);
	assert_int_equal(again.targets[0].outbound_message_id,
	    res.targets[0].outbound_message_id);
	assert_int_equal(store_control_next(st, "acme-retail",
	    STORE_CONTROL_INTERCHANGE, &next, &se), STORE_OK);
	assert_int_equal(next, 2);

	store_close(st);
	snprintf(db, sizeof(db), "rm -rf '%s'", dir);
	assert_int_equal(system(db), 0);
	route_free(r);
}

static void
test_webhook_target_gets_a_stored_copy_of_the_document(void **state)
{
	struct route *r = route_from("");
	struct route_document d;
	struct route_result res;
	struct store *st;
	struct store_error se;
	struct store_delivery del;
	char dir[] = "/tmp/edigate-route-XXXXXX", db[256];
	char key[DELIVER_KEY_MAX + 1];
	const char *json = "{\"type\":\"order\",\"order_number\":\"PO1\"}";

	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/edigate.db", dir);
	assert_int_equal(store_open(&st, db, NULL, &se), STORE_OK);
	doc_init(&d, ROUTE_FROM_PARTNER, "acme-retail", "order", json);
	d.message_id = 0;
	d.interchange_control = "000000101";
	d.group_control = "101";
	d.set_control = "0001";
	assert_int_equal(route_document(r, st, &d, &res), ROUTE_OK);
	assert_string_equal(targets(&res), "webhook:erp");
	assert_int_equal(store_delivery_get(st, res.targets[0].delivery_id,
	    &del, &se), STORE_OK);
	assert_string_equal(del.endpoint, "webhook:erp");
	assert_int_equal(del.message_id, res.targets[0].outbound_message_id);
	{
		struct store_message m;
		void *buf;
		size_t len;
		assert_int_equal(store_message_get(st, del.message_id, &m, &se),
		    STORE_OK);
		assert_string_equal(m.transport, "webhook");
		assert_string_equal(m.message_type, "order");
		assert_int_equal(m.direction, STORE_OUT);
		assert_int_equal(spool_read_all(store_spool(st), m.payload_hash,
		    &buf, &len, NULL), SPOOL_OK);
		assert_int_equal(len, strlen(json));
		assert_memory_equal(buf, json, len);
		free(buf);
	}
	deliver_idempotency_key("acme-retail", "000000101", "101", "0001",
	    "webhook:erp", json, strlen(json), key);
	assert_string_equal(del.idempotency_key, key);
	assert_int_equal(route_document(r, st, &d, &res), ROUTE_OK);
	assert_int_equal(res.targets[0].existed, 1);
	store_close(st);
	snprintf(db, sizeof(db), "rm -rf '%s'", dir);
	assert_int_equal(system(db), 0);
	route_free(r);
}

static void
test_claim_by_prefix_leaves_other_kinds_alone(void **state)
{
	struct store *st;
	struct store_error se;
	struct store_delivery d;
	char dir[] = "/tmp/edigate-route-XXXXXX", db[256];
	int64_t as2, hook;
	int existed;

	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/edigate.db", dir);
	/* EDIGATE_TEST_STORE runs this against PostgreSQL as well (a fresh
	 * database: the keys below must be new). */
	assert_int_equal(store_open(&st, getenv("EDIGATE_TEST_STORE") ?
	    getenv("EDIGATE_TEST_STORE") : db, NULL, &se), STORE_OK);
	assert_int_equal(store_delivery_enqueue(st, 0, "as2:acme-retail", "k1",
	    1, &as2, &existed, &se), STORE_OK);
	assert_int_equal(store_delivery_enqueue(st, 0, "webhook:erp", "k2", 2,
	    &hook, &existed, &se), STORE_OK);
	assert_int_equal(store_delivery_claim_prefix(st, "w", "webhook:",
	    store_now_us(), 1000000, &d, &se), STORE_OK);
	assert_int_equal(d.id, hook);
	assert_int_equal(store_delivery_claim_prefix(st, "w", "webhook:",
	    store_now_us(), 1000000, &d, &se), STORE_ENOTFOUND);
	/* The older AS2 entry was never touched. */
	assert_int_equal(store_delivery_get(st, as2, &d, &se), STORE_OK);
	assert_int_equal(d.attempts, 0);
	assert_int_equal(d.state, STORE_DELIVERY_QUEUED);
	store_close(st);
	snprintf(db, sizeof(db), "rm -rf '%s'", dir);
	assert_int_equal(system(db), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_flows_of_the_order_to_cash_loop),
		cmocka_unit_test(test_wms_as_edi_partner_gets_a_940),
		cmocka_unit_test(test_rules_by_content_partner_and_origin),
		cmocka_unit_test(test_bad_rules_name_file_and_line),
		cmocka_unit_test(test_data_quality_rejects_with_the_path),
		cmocka_unit_test(test_invoice_is_queued_as_an_810_once),
		cmocka_unit_test(test_webhook_target_gets_a_stored_copy_of_the_document),
		cmocka_unit_test(test_claim_by_prefix_leaves_other_kinds_alone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
