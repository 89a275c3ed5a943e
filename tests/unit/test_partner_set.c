/*
 * Partner profiles with <transport><as2>, loaded as a set: lookups by id
 * and AS2 name, the defaults partner.xsd documents, and the errors a set
 * is refused with (file:line).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "partner.h"
#include "partner_set.h"

static char dir[128];
static char xsd[4096];

static void
write_file(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

#define PROFILE(id, as2) \
	"<?xml version=\"1.0\"?>\n" \
	"<partner id=\"" id "\" name=\"Test\">\n" \
	"  <identity><x12 isa-qualifier=\"ZZ\" isa-id=\"" id "\" gs-id=\"" id "\"/></identity>\n" \
	"  <messages><message direction=\"in\" standard=\"x12\" version=\"004010\" type=\"850\"/></messages>\n" \
	"  <transport>\n" as2 "  </transport>\n" \
	"</partner>\n"

static int
setup(void **state)
{
	const char *top = getenv("top_srcdir");

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/edigate-partner-set-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(xsd, sizeof(xsd), "%s/partners/partner.xsd", top ? top : ".");
	return 0;
}

static int
teardown(void **state)
{
	char cmd[512];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_as2_settings_are_read_with_their_documented_defaults(void **state)
{
	struct partner_set *ps;
	const partner *p;
	char *err = NULL, expect[512];

	(void)state;
	write_file("acme.xml", PROFILE("acme",
	    "    <as2 id=\"ACME AS2\">\n"
	    "      <their-certificate file=\"certs/acme.pem\"/>\n"
	    "      <their-certificate file=\"/etc/acme-next.pem\"/>\n"
	    "      <our-certificate file=\"ours.pem\" key=\"ours.key\"/>\n"
	    "    </as2>\n"));
	ps = partner_set_load(dir, xsd, NULL, &err);
	assert_non_null(ps);
	assert_null(err);
	assert_int_equal(partner_set_count(ps), 1);
	p = partner_set_find_as2(ps, "ACME AS2");
	assert_non_null(p);
	assert_ptr_equal(p, partner_set_find(ps, "acme"));
	assert_null(partner_set_find_as2(ps, "acme as2"));   /* case matters */
	assert_string_equal(p->as2->id, "ACME AS2");
	assert_null(p->as2->our_id);
	assert_int_equal(p->as2->require_signed, 1);
	assert_int_equal(p->as2->require_encrypted, 0);
	assert_int_equal(p->as2->async_mdn, 1);
	assert_string_equal(p->as2->mdn_signing, "as-requested");
	assert_string_equal(p->as2->request_mdn, "sync");
	assert_string_equal(p->as2->ack_transport, "");
	assert_int_equal(p->as2->their_cert_count, 2);
	snprintf(expect, sizeof(expect), "%s/certs/acme.pem", dir);
	assert_string_equal(p->as2->their_certs[0], expect);
	assert_string_equal(p->as2->their_certs[1], "/etc/acme-next.pem");
	assert_int_equal(p->as2->our_count, 1);
	snprintf(expect, sizeof(expect), "%s/ours.key", dir);
	assert_string_equal(p->as2->our_keys[0], expect);
	assert_int_equal(p->as2->line, 6);
	partner_set_unref(ps);
}

static void
test_two_profiles_with_one_as2_name_are_refused(void **state)
{
	struct partner_set *ps;
	char *err = NULL, expect[512];

	(void)state;
	write_file("aa.xml", PROFILE("aa",
	    "    <as2 id=\"SAME\"><their-certificate file=\"x.pem\"/></as2>\n"));
	write_file("bb.xml", PROFILE("bb",
	    "    <as2 id=\"SAME\"><their-certificate file=\"y.pem\"/></as2>\n"));
	ps = partner_set_load(dir, xsd, NULL, &err);
	assert_null(ps);
	assert_non_null(err);
	snprintf(expect, sizeof(expect), "%s/bb.xml:6: AS2 name \"SAME\" is also "
	    "used by %s/aa.xml\n", dir, dir);
	assert_string_equal(err, expect);
	free(err);
}

static void
test_required_encryption_without_our_key_names_the_line(void **state)
{
	struct partner_set *ps;
	char *err = NULL, expect[512];

	(void)state;
	write_file("cc.xml", PROFILE("cc",
	    "    <as2 id=\"C\" require-encrypted=\"true\">\n"
	    "      <their-certificate file=\"c.pem\"/>\n"
	    "    </as2>\n"));
	ps = partner_set_load(dir, xsd, NULL, &err);
	assert_null(ps);
	snprintf(expect, sizeof(expect), "%s/cc.xml:6: as2 require-encrypted="
	    "\"true\" needs an <our-certificate> to decrypt with\n", dir);
	assert_string_equal(err, expect);
	free(err);
}

static void
test_as2_without_partner_certificate_fails_the_schema(void **state)
{
	struct partner_set *ps;
	char *err = NULL;

	(void)state;
	write_file("dd.xml", PROFILE("dd", "    <as2 id=\"D\"/>\n"));
	ps = partner_set_load(dir, xsd, NULL, &err);
	assert_null(ps);
	assert_non_null(err);
	assert_non_null(strstr(err, "/dd.xml:6: "));
	free(err);
}

static void
test_missing_folder_is_an_empty_set(void **state)
{
	struct partner_set *ps;
	char *err = NULL, missing[512];

	(void)state;
	snprintf(missing, sizeof(missing), "%s/none", dir);
	ps = partner_set_load(missing, xsd, NULL, &err);
	assert_non_null(ps);
	assert_int_equal(partner_set_count(ps), 0);
	assert_null(partner_set_find_as2(ps, "ANY"));
	partner_set_unref(ps);
}

static void
test_a_reference_keeps_the_set_alive(void **state)
{
	struct partner_set *ps, *ref;
	char *err = NULL;

	(void)state;
	write_file("ee.xml", PROFILE("ee",
	    "    <as2 id=\"E\"><their-certificate file=\"e.pem\"/></as2>\n"));
	ps = partner_set_load(dir, xsd, NULL, &err);
	assert_non_null(ps);
	ref = partner_set_ref(ps);
	partner_set_unref(ps);
	assert_non_null(partner_set_find_as2(ref, "E"));
	partner_set_unref(ref);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_as2_settings_are_read_with_their_documented_defaults,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_two_profiles_with_one_as2_name_are_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_required_encryption_without_our_key_names_the_line,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_as2_without_partner_certificate_fails_the_schema,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_folder_is_an_empty_set,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_reference_keeps_the_set_alive,
		    setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
