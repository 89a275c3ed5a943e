/*
 * Tests for gateway/configfile.c: values, defaults, and that every error
 * names the exact file and line.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "configfile.h"
#include "log.h"

static struct config *
parse_ok(const char *text)
{
	struct config *cfg = NULL;
	struct config_error err;
	char msg[1200];

	if (config_parse("/etc/edigate/edigate.conf", text, strlen(text), &cfg,
	    &err) != 0) {
		config_error_format(&err, msg, sizeof(msg));
		fail_msg("unexpected error: %s", msg);
	}
	return cfg;
}

/* Parses text that must fail; returns "file:line: message". */
static void
parse_err(const char *text, char *out, size_t size)
{
	struct config *cfg = NULL;
	struct config_error err;

	assert_int_equal(config_parse("site.conf", text, strlen(text), &cfg,
	    &err), -1);
	assert_null(cfg);
	config_error_format(&err, out, size);
}

#define MINIMAL "state_dir = /var/lib/edigate\n" \
	"[listen.api]\naddress = 127.0.0.1:8080\n"

static void
test_minimal_file_gets_documented_defaults(void **state)
{
	struct config *c = parse_ok(MINIMAL);

	assert_string_equal(c->state_dir, "/var/lib/edigate");
	assert_string_equal(c->partners_dir, "/var/lib/edigate/partners");
	assert_string_equal(c->maps_dir, "/var/lib/edigate/maps");
	assert_string_equal(c->store_url, "/var/lib/edigate/edigate.db");
	assert_null(c->user);
	assert_int_equal(c->allow_root, 0);
	assert_int_equal(c->workers, 2);
	assert_int_equal(c->queue_size, 1024);
	assert_int_equal(c->log_level, LOG_LEVEL_INFO);
	assert_int_equal(c->shutdown_grace_ms, 30000);
	assert_int_equal(c->max_body_size, 64 * 1024 * 1024);
	assert_int_equal(c->max_header_size, 64 * 1024);
	assert_int_equal(c->read_timeout_ms, 60000);
	assert_int_equal(c->write_timeout_ms, 60000);
	assert_int_equal(c->nlisteners, 1);
	assert_string_equal(c->listeners[0].name, "api");
	assert_string_equal(c->listeners[0].host, "127.0.0.1");
	assert_int_equal(c->listeners[0].port, 8080);
	assert_int_equal(c->listeners[0].https, 0);
	assert_int_equal(c->listeners[0].min_tls_version, 12);
	assert_int_equal(c->listeners[0].line, 2);
	config_free(c);
}

/* Payloads need a spool; PostgreSQL keeps none itself. */
static void
test_spool_dir_defaults_under_state_dir_on_postgresql_only(void **state)
{
	struct config *c = parse_ok(MINIMAL);

	assert_null(c->spool_dir); /* SQLite: the store puts it beside its file */
	config_free(c);
	c = parse_ok(MINIMAL "[store]\nurl = postgresql://edigate@db/edigate\n");
	assert_string_equal(c->spool_dir, "/var/lib/edigate/spool");
	config_free(c);
	c = parse_ok(MINIMAL "[store]\nurl = postgres://db/edigate\n"
	    "spool_dir = shared/spool\n");
	assert_string_equal(c->spool_dir, "/etc/edigate/shared/spool");
	config_free(c);
	c = parse_ok(MINIMAL "[store]\nspool_dir = /mnt/spool\n");
	assert_string_equal(c->spool_dir, "/mnt/spool");
	config_free(c);
	(void)state;
}

static void
test_every_setting_is_read(void **state)
{
	struct config *c = parse_ok(
	    "# general\n"
	    "state_dir = /srv/edi\n"
	    "partners_dir = partners\n"
	    "maps_dir = /opt/maps\n"
	    "user = edigate\n"
	    "group = edi\n"
	    "allow_root = no\n"
	    "workers = 8\n"
	    "queue_size = 50\n"
	    "log_level = debug\n"
	    "shutdown_grace = 1500ms\n"
	    "debug_endpoints = yes\n"
	    "\n"
	    "[store]\n"
	    "url = postgresql://edigate@db/edigate\n"
	    "[limits]\n"
	    "max_body_size = 2G\n"
	    "max_header_size = 16K\n"
	    "read_timeout = 2m\n"
	    "write_timeout = 45s\n"
	    "[tls]\n"
	    "certificate = /etc/edigate/tls/cert.pem\n"
	    "key = tls/key.pem\n"
	    "ciphers = ECDHE+AESGCM\n"
	    "min_tls_version = 1.3\n"
	    "[listen.as2]\n"
	    "address = [::1]:4443   # AS2 over TLS\n"
	    "protocol = https\n"
	    "ciphers = \"ECDHE+CHACHA20 #x\"\n"
	    "[listen.api]\n"
	    "address = 0.0.0.0:8080\n"
	    "routes = /api/v1 /healthz\n");

	assert_string_equal(c->partners_dir, "/etc/edigate/partners");
	assert_string_equal(c->maps_dir, "/opt/maps");
	assert_string_equal(c->user, "edigate");
	assert_string_equal(c->group, "edi");
	assert_int_equal(c->workers, 8);
	assert_int_equal(c->queue_size, 50);
	assert_int_equal(c->log_level, LOG_LEVEL_DEBUG);
	assert_int_equal(c->shutdown_grace_ms, 1500);
	assert_int_equal(c->debug_endpoints, 1);
	assert_string_equal(c->store_url, "postgresql://edigate@db/edigate");
	assert_true(c->max_body_size == 2ULL * 1024 * 1024 * 1024);
	assert_int_equal(c->max_header_size, 16384);
	assert_int_equal(c->read_timeout_ms, 120000);
	assert_int_equal(c->write_timeout_ms, 45000);
	assert_int_equal(c->nlisteners, 2);
	assert_string_equal(c->listeners[0].host, "::1");
	assert_int_equal(c->listeners[0].port, 4443);
	assert_int_equal(c->listeners[0].https, 1);
	assert_string_equal(c->listeners[0].certificate,
	    "/etc/edigate/tls/cert.pem");
	assert_string_equal(c->listeners[0].key, "/etc/edigate/tls/key.pem");
	/* The listener's own value wins over [tls]; quotes keep the #. */
	assert_string_equal(c->listeners[0].ciphers, "ECDHE+CHACHA20 #x");
	assert_int_equal(c->listeners[0].min_tls_version, 13);
	assert_int_equal(c->listeners[0].line, 26);
	assert_string_equal(c->listeners[1].host, "0.0.0.0");
	assert_null(c->listeners[0].routes);
	assert_string_equal(c->listeners[1].routes, "/api/v1 /healthz");
	config_free(c);
}

static void
test_unknown_key_names_file_line_and_section(void **state)
{
	char msg[1200];

	parse_err("state_dir = /x\n\n[limits]\nmax_body = 1M\n", msg,
	    sizeof(msg));
	assert_string_equal(msg,
	    "site.conf:4: unknown key \"max_body\" in [limits]");
	parse_err(MINIMAL "tls = yes\n", msg, sizeof(msg));
	assert_string_equal(msg,
	    "site.conf:4: unknown key \"tls\" in [listen.api]");
}

static void
test_unknown_section_is_rejected_at_its_line(void **state)
{
	char msg[1200];

	parse_err("state_dir = /x\n[listener.api]\n", msg, sizeof(msg));
	assert_string_equal(msg, "site.conf:2: unknown section [listener.api] "
	    "(expected [store], [limits], [tls], [listen.NAME], [as2], [sftp], "
	    "[api], [delivery], [route], [webhook.NAME], [route.NAME], "
	    "[token.NAME], [inbound], [reconcile] or [recovery])");
}

static void
test_module_sections_keep_their_keys_and_lines(void **state)
{
	struct config *c = parse_ok(MINIMAL
	    "[webhook.erp]\nurl = http://127.0.0.1:9/hook # the ERP\n"
	    "secret = \"a # b\"\n[api]\nmax_body_size = 1M\n");
	const struct config_section *w = config_section_find(c, "webhook.erp");

	assert_non_null(w);
	assert_int_equal(w->line, 4);
	assert_int_equal(w->nentries, 2);
	assert_string_equal(config_section_entry(w, "url")->value,
	    "http://127.0.0.1:9/hook");
	assert_int_equal(config_section_entry(w, "url")->line, 5);
	assert_string_equal(config_section_entry(w, "secret")->value, "a # b");
	assert_null(config_section_entry(w, "timeout"));
	assert_non_null(config_section_find(c, "api"));
	assert_null(config_section_find(c, "webhook.wms"));
	config_free(c);
}

static void
test_module_section_errors_name_the_line(void **state)
{
	char msg[1200];

	parse_err(MINIMAL "[route.a]\nmatch = x\nmatch = y\n", msg,
	    sizeof(msg));
	assert_string_equal(msg, "site.conf:6: match: already set at line 5");
	parse_err(MINIMAL "[webhook.]\n", msg, sizeof(msg));
	assert_true(strstr(msg, "site.conf:4: unknown section [webhook.]")
	    == msg);
	parse_err(MINIMAL "[route.a]\n[route.a]\n", msg, sizeof(msg));
	assert_string_equal(msg, "site.conf:5: [route.a]: section already "
	    "defined at line 4");
	parse_err(MINIMAL "[token.A B]\n", msg, sizeof(msg));
	assert_string_equal(msg, "site.conf:4: [token.A B]: section names use "
	    "a-z, 0-9, _, - and .");
}

static void
test_as2_path_defaults_to_slash_as2(void **state)
{
	struct config *c = parse_ok(MINIMAL);

	assert_string_equal(c->as2_path, "/as2");
	assert_int_equal(c->as2_max_decompressed, 1024UL * 1024 * 1024);
	config_free(c);
	c = parse_ok(MINIMAL "[as2]\npath = /edi/as2\n"
	    "max_decompressed_size = 10M\n");
	assert_string_equal(c->as2_path, "/edi/as2");
	assert_int_equal(c->as2_max_decompressed, 10UL * 1024 * 1024);
	config_free(c);
}

static void
test_as2_certificate_and_mdn_wait_settings(void **state)
{
	struct config *c = parse_ok(MINIMAL);

	(void)state;
	assert_int_equal(c->as2_cert_warning_days, 30);
	assert_int_equal(c->as2_cert_check_interval_ms, 24u * 3600 * 1000);
	assert_int_equal(c->as2_mdn_wait_ms, 24u * 3600 * 1000);
	config_free(c);
	c = parse_ok(MINIMAL "[as2]\ncertificate_warning_days = 45\n"
	    "certificate_check_interval = 6h\nmdn_wait = 2d\n");
	assert_int_equal(c->as2_cert_warning_days, 45);
	assert_int_equal(c->as2_cert_check_interval_ms, 6u * 3600 * 1000);
	assert_int_equal(c->as2_mdn_wait_ms, 2u * 86400 * 1000);
	config_free(c);
}

static void
test_as2_path_must_be_an_absolute_path(void **state)
{
	char msg[1200];

	parse_err(MINIMAL "[as2]\npath = as2\n", msg, sizeof(msg));
	assert_string_equal(msg, "site.conf: [as2] path: \"as2\" must start "
	    "with / and hold no blank, ? or # (at most 100 characters)");
}

static void
test_bad_values_name_the_key_and_value(void **state)
{
	char msg[1200];

	parse_err("state_dir = /x\nworkers = many\n", msg, sizeof(msg));
	assert_string_equal(msg, "site.conf:2: workers: expected a whole "
	    "number from 1 to 256, found \"many\"");
	parse_err("state_dir = /x\nworkers = 0\n", msg, sizeof(msg));
	assert_string_equal(msg, "site.conf:2: workers: expected a whole "
	    "number from 1 to 256, found \"0\"");
	parse_err("state_dir = /x\nallow_root = maybe\n", msg, sizeof(msg));
	assert_string_equal(msg, "site.conf:2: allow_root: expected yes or "
	    "no, found \"maybe\"");
	parse_err("state_dir = /x\n[limits]\nmax_body_size = 10MB\n", msg,
	    sizeof(msg));
	assert_string_equal(msg, "site.conf:3: max_body_size: expected a size "
	    "in bytes with an optional K, M or G suffix, found \"10MB\"");
	parse_err("state_dir = /x\n[limits]\nread_timeout = 5w\n", msg,
	    sizeof(msg));
	assert_string_equal(msg, "site.conf:3: read_timeout: expected a "
	    "duration (seconds, or with a ms, s, m, h or d suffix), found "
	    "\"5w\"");
	parse_err("state_dir = /x\n[as2]\nmdn_wait = 31d\n", msg,
	    sizeof(msg));
	assert_string_equal(msg, "site.conf:3: mdn_wait: 31d is out of "
	    "range (1000ms to 2592000000ms)");
	parse_err("state_dir = /x\nlog_level = verbose\n", msg, sizeof(msg));
	assert_string_equal(msg, "site.conf:2: log_level: expected error, "
	    "warn, info or debug, found \"verbose\"");
	parse_err("state_dir = /x\n[tls]\nmin_tls_version = 1.0\n", msg,
	    sizeof(msg));
	assert_string_equal(msg, "site.conf:3: min_tls_version: expected 1.2 "
	    "or 1.3, found \"1.0\" (older TLS versions are not offered)");
	parse_err("state_dir = /x\n[listen.a]\nprotocol = ftp\n", msg,
	    sizeof(msg));
	assert_string_equal(msg, "site.conf:3: protocol: expected http or "
	    "https, found \"ftp\"");
	parse_err("state_dir = /x\n[listen.a]\nroutes = /as2 healthz\n", msg,
	    sizeof(msg));
	assert_string_equal(msg, "site.conf:3: routes: expected path prefixes "
	    "starting with /, found \"healthz\"");
	parse_err("state_dir =\n", msg, sizeof(msg));
	assert_string_equal(msg, "site.conf:1: state_dir: a value is required");
}

static void
test_bad_addresses_are_explained(void **state)
{
	char msg[1200];

	parse_err("state_dir = /x\n[listen.a]\naddress = 8080\n", msg,
	    sizeof(msg));
	assert_string_equal(msg, "site.conf:3: address: expected HOST:PORT "
	    "(IPv6 as [ADDR]:PORT), found \"8080\"");
	parse_err("state_dir = /x\n[listen.a]\naddress = 127.0.0.1:70000\n",
	    msg, sizeof(msg));
	assert_string_equal(msg, "site.conf:3: address: port must be 1 to "
	    "65535, found \"70000\"");
	parse_err("state_dir = /x\n[listen.a]\naddress = ::1:80\n", msg,
	    sizeof(msg));
	assert_string_equal(msg, "site.conf:3: address: expected HOST:PORT "
	    "(IPv6 as [ADDR]:PORT), found \"::1:80\"");
	parse_err("state_dir = /x\n[listen.a]\naddress = :80\n", msg,
	    sizeof(msg));
	assert_string_equal(msg, "site.conf:3: address: the host is missing in "
	    "\":80\" (use 0.0.0.0 or [::] for all addresses)");
}

static void
test_duplicate_key_points_at_first_line(void **state)
{
	char msg[1200];

	parse_err("state_dir = /x\n# again\nstate_dir = /y\n", msg, sizeof(msg));
	assert_string_equal(msg, "site.conf:3: state_dir: already set at line 1");
	parse_err(MINIMAL "[listen.api]\naddress = 127.0.0.1:8081\n", msg,
	    sizeof(msg));
	assert_string_equal(msg,
	    "site.conf:4: [listen.api]: listener already defined at line 2");
}

static void
test_missing_required_values_are_reported(void **state)
{
	char msg[1200];

	parse_err("[listen.api]\naddress = 127.0.0.1:80\n", msg, sizeof(msg));
	assert_string_equal(msg, "site.conf: state_dir: required, not set (the "
	    "directory edigated keeps its store and spool in)");
	parse_err("state_dir = /x\n", msg, sizeof(msg));
	assert_string_equal(msg, "site.conf: no listener: add a [listen.NAME] "
	    "section with an address");
	parse_err("state_dir = /x\n\n[listen.as2]\nprotocol = http\n", msg,
	    sizeof(msg));
	assert_string_equal(msg, "site.conf:3: [listen.as2]: address is "
	    "required");
	parse_err("state_dir = /x\n[listen.as2]\naddress = 127.0.0.1:443\n"
	    "protocol = https\ncertificate = /c.pem\n", msg, sizeof(msg));
	assert_string_equal(msg, "site.conf:2: [listen.as2]: protocol https "
	    "needs certificate and key (here or in [tls])");
}

static void
test_syntax_errors_quote_the_line(void **state)
{
	char msg[1200];

	parse_err("state_dir /x\n", msg, sizeof(msg));
	assert_string_equal(msg,
	    "site.conf:1: expected key = value, found \"state_dir /x\"");
	parse_err("state_dir = /x\n[store\n", msg, sizeof(msg));
	assert_string_equal(msg, "site.conf:2: expected [section], found "
	    "\"[store\"");
	parse_err("state_dir = \"/x\n", msg, sizeof(msg));
	assert_string_equal(msg, "site.conf:1: state_dir: unterminated quoted "
	    "value");
	parse_err("state_dir = /x\n[listen.AS2]\n", msg, sizeof(msg));
	assert_string_equal(msg, "site.conf:2: [listen.AS2]: listener names "
	    "use a-z, 0-9, _ and -");
}

static void
test_crlf_and_missing_final_newline_are_accepted(void **state)
{
	struct config *c = parse_ok("state_dir = /x\r\n[listen.a]\r\n"
	    "address = 127.0.0.1:1\r\nprotocol = http");

	assert_string_equal(c->state_dir, "/x");
	assert_int_equal(c->listeners[0].port, 1);
	config_free(c);
}

static void
test_load_reports_missing_file(void **state)
{
	struct config *c;
	struct config_error err;
	char msg[1200];

	assert_int_equal(config_load("/nonexistent/edigate.conf", &c, &err), -1);
	config_error_format(&err, msg, sizeof(msg));
	assert_string_equal(msg, "/nonexistent/edigate.conf: cannot open: No "
	    "such file or directory");
}

static void
test_shipped_example_is_valid(void **state)
{
	char path[4096];
	struct config *c;
	struct config_error err;
	char msg[1200];

	snprintf(path, sizeof(path), "%s/deploy/edigate.conf",
	    getenv("top_srcdir") ? getenv("top_srcdir") : ".");
	if (config_load(path, &c, &err) != 0) {
		config_error_format(&err, msg, sizeof(msg));
		fail_msg("%s", msg);
	}
	assert_true(c->nlisteners >= 2);
	config_free(c);
}

/* Every mutation of the example parses or fails cleanly; ASan and the
 * sanitizer builds turn any overrun into a failure here. */
static void
test_mutated_files_never_crash(void **state)
{
	static const char alphabet[] = "=#[]\"\n\r\t :.-_/aZ09KMGs\0\xff";
	char path[4096], *text, *copy;
	size_t len, i, lines;
	unsigned seed = 12345;
	int round, k, ok = 0;
	FILE *f;
	struct config *c;
	struct config_error err;

	snprintf(path, sizeof(path), "%s/deploy/edigate.conf",
	    getenv("top_srcdir") ? getenv("top_srcdir") : ".");
	f = fopen(path, "rb");
	assert_non_null(f);
	text = malloc(1 << 16);
	len = fread(text, 1, 1 << 16, f);
	fclose(f);
	copy = malloc(len + 1);
	/* Errors point into the file: at most its number of lines. */
	for (i = 0, lines = 1; i < len; i++)
		lines += text[i] == '\n';
	for (round = 0; round < 3000; round++) {
		memcpy(copy, text, len);
		for (k = 0; k < 1 + round % 5; k++) {
			seed = seed * 1103515245u + 12345u;
			i = (seed >> 8) % len;
			seed = seed * 1103515245u + 12345u;
			copy[i] = alphabet[(seed >> 8) % (sizeof(alphabet) - 1)];
		}
		if (config_parse("m.conf", copy, len - (round % 7), &c,
		    &err) == 0) {
			ok++;
			config_free(c);
		} else
			assert_true(err.line <= lines && err.message[0] != '\0');
	}
	assert_true(ok > 0);
	free(copy);
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_file_gets_documented_defaults),
		cmocka_unit_test(test_every_setting_is_read),
		cmocka_unit_test(test_unknown_key_names_file_line_and_section),
		cmocka_unit_test(test_unknown_section_is_rejected_at_its_line),
		cmocka_unit_test(test_module_sections_keep_their_keys_and_lines),
		cmocka_unit_test(test_module_section_errors_name_the_line),
		cmocka_unit_test(test_as2_path_defaults_to_slash_as2),
		cmocka_unit_test(test_as2_certificate_and_mdn_wait_settings),
		cmocka_unit_test(test_as2_path_must_be_an_absolute_path),
		cmocka_unit_test(test_bad_values_name_the_key_and_value),
		cmocka_unit_test(test_bad_addresses_are_explained),
		cmocka_unit_test(test_duplicate_key_points_at_first_line),
		cmocka_unit_test(test_missing_required_values_are_reported),
		cmocka_unit_test(test_syntax_errors_quote_the_line),
		cmocka_unit_test(test_crlf_and_missing_final_newline_are_accepted),
		cmocka_unit_test(test_load_reports_missing_file),
		cmocka_unit_test(test_spool_dir_defaults_under_state_dir_on_postgresql_only),
		cmocka_unit_test(test_shipped_example_is_valid),
		cmocka_unit_test(test_mutated_files_never_crash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
