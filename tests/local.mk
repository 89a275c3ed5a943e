# tests/: unit tests (cmocka, TAP), script tests, fixtures.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_edi_reader
TESTS += tests/unit/test_edi_reader
endif
tests_unit_test_edi_reader_SOURCES = tests/unit/test_edi_reader.c tests/unit/test_util.c tests/unit/test_util.h
tests_unit_test_edi_reader_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_edi_reader_LDADD = translators/libtranslators.a $(CMOCKA_LIBS)

EXTRA_DIST += tests/fixtures

# The store and the spool. test_store runs here on SQLite and, through
# tests/integration/store_pg.sh, once more on a throwaway PostgreSQL.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_store tests/unit/test_spool
TESTS += tests/unit/test_store tests/integration/store_pg.sh tests/unit/test_spool
endif
tests_unit_test_store_SOURCES = tests/unit/test_store.c
tests_unit_test_store_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(SQLITE_CFLAGS) \
	$(LIBPQ_CFLAGS) $(JANSSON_CFLAGS) $(OPENSSL_CFLAGS)
tests_unit_test_store_LDADD = $(STORE_LIBS) $(CMOCKA_LIBS)
tests_unit_test_spool_SOURCES = tests/unit/test_spool.c
tests_unit_test_spool_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(OPENSSL_CFLAGS)
tests_unit_test_spool_LDADD = $(STORE_LIBS) $(CMOCKA_LIBS)
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_cmd_store
TESTS += tests/unit/test_cmd_store
endif
tests_unit_test_cmd_store_SOURCES = tests/unit/test_cmd_store.c gateway/cmd_store.c
tests_unit_test_cmd_store_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(SQLITE_CFLAGS) \
	$(JANSSON_CFLAGS) $(OPENSSL_CFLAGS)
tests_unit_test_cmd_store_LDADD = $(STORE_LIBS) $(CMOCKA_LIBS)
dist_noinst_SCRIPTS += tests/integration/pg_cluster.sh tests/integration/store_pg.sh

# Maps: loader, engine both ways, guide, round trips.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_map
TESTS += tests/unit/test_map
endif
tests_unit_test_map_SOURCES = tests/unit/test_map.c tests/unit/test_util.c tests/unit/test_util.h
tests_unit_test_map_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(JANSSON_CFLAGS) $(LIBXML_CFLAGS)
tests_unit_test_map_LDADD = $(MAP_LIBS) $(CMOCKA_LIBS)

# Map engine throughput: make tests/bench/bench_map && tests/bench/bench_map maps 100
EXTRA_PROGRAMS = tests/bench/bench_map
tests_bench_bench_map_SOURCES = tests/bench/bench_map.c
tests_bench_bench_map_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(LIBXML_CFLAGS)
tests_bench_bench_map_LDADD = $(MAP_LIBS)
CLEANFILES += tests/bench/bench_map
TESTS += tests/integration/canonical_schema.sh
dist_noinst_SCRIPTS += tests/integration/canonical_schema.sh
TESTS += tests/integration/cli_maps.sh
dist_noinst_SCRIPTS += tests/integration/cli_maps.sh

# The daemon frame: configuration file, metrics text, router and log lines;
# tests/integration/daemon.sh runs edigated itself on loopback.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_configfile tests/unit/test_metrics \
	tests/unit/test_router tests/unit/test_daemon
TESTS += tests/unit/test_configfile tests/unit/test_metrics \
	tests/unit/test_router tests/unit/test_daemon
endif
TESTS += tests/integration/daemon.sh tests/integration/daemon_pg.sh
dist_noinst_SCRIPTS += tests/integration/daemon.sh tests/integration/daemon_pg.sh
tests_unit_test_configfile_SOURCES = tests/unit/test_configfile.c
tests_unit_test_configfile_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_configfile_LDADD = $(DAEMON_LIBS) $(CMOCKA_LIBS)
tests_unit_test_metrics_SOURCES = tests/unit/test_metrics.c
tests_unit_test_metrics_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(PTHREAD_CFLAGS)
tests_unit_test_metrics_LDADD = $(DAEMON_LIBS) $(CMOCKA_LIBS)
tests_unit_test_router_SOURCES = tests/unit/test_router.c
tests_unit_test_router_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_router_LDADD = $(DAEMON_LIBS) $(CMOCKA_LIBS)
tests_unit_test_daemon_SOURCES = tests/unit/test_daemon.c
tests_unit_test_daemon_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(LIBEVENT_CFLAGS) \
	$(PTHREAD_CFLAGS)
tests_unit_test_daemon_LDADD = $(DAEMON_LIBS) $(CMOCKA_LIBS)

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_envelope tests/unit/test_envelope_chunks
TESTS += tests/unit/test_envelope tests/unit/test_envelope_chunks
endif
tests_unit_test_envelope_SOURCES = tests/unit/test_envelope.c
tests_unit_test_envelope_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_envelope_LDADD = translators/libtranslators.a $(CMOCKA_LIBS)
tests_unit_test_envelope_chunks_SOURCES = tests/unit/test_envelope_chunks.c tests/unit/test_util.c tests/unit/test_util.h
tests_unit_test_envelope_chunks_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_envelope_chunks_LDADD = translators/libtranslators.a $(CMOCKA_LIBS)
TESTS += tests/integration/conformance.sh
dist_noinst_SCRIPTS += tests/integration/conformance.sh
TESTS += tests/integration/validate_cli.sh
dist_noinst_SCRIPTS += tests/integration/validate_cli.sh

# AS2 message security, against the openssl command line as the peer.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_as2_cms
TESTS += tests/unit/test_as2_cms
endif
tests_unit_test_as2_cms_SOURCES = tests/unit/test_as2_cms.c
tests_unit_test_as2_cms_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(OPENSSL_CFLAGS)
tests_unit_test_as2_cms_LDADD = $(AS2_LIBS) $(CMOCKA_LIBS)
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_as2_mdn
TESTS += tests/unit/test_as2_mdn
endif
tests_unit_test_as2_mdn_SOURCES = tests/unit/test_as2_mdn.c
tests_unit_test_as2_mdn_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(OPENSSL_CFLAGS)
tests_unit_test_as2_mdn_LDADD = $(AS2_LIBS) $(CMOCKA_LIBS)
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_mime
TESTS += tests/unit/test_mime
endif
tests_unit_test_mime_SOURCES = tests/unit/test_mime.c
tests_unit_test_mime_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_mime_LDADD = $(AS2_LIBS) $(CMOCKA_LIBS)
EXTRA_DIST += tests/fuzz/fuzz_map.c docs/maps.md


if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_edi_writer
TESTS += tests/unit/test_edi_writer
endif
tests_unit_test_edi_writer_SOURCES = tests/unit/test_edi_writer.c tests/unit/test_util.c tests/unit/test_util.h
tests_unit_test_edi_writer_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_edi_writer_LDADD = translators/libtranslators.a $(CMOCKA_LIBS)
TESTS += tests/integration/rewrite.sh
dist_noinst_SCRIPTS += tests/integration/rewrite.sh
