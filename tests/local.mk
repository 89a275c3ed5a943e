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
tests_unit_test_cmd_store_SOURCES = tests/unit/test_cmd_store.c gateway/cmd_store.c \
	gateway/report_text.c
tests_unit_test_cmd_store_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(SQLITE_CFLAGS) \
	$(JANSSON_CFLAGS) $(OPENSSL_CFLAGS)
tests_unit_test_cmd_store_LDADD = $(STORE_LIBS) $(CMOCKA_LIBS)
dist_noinst_SCRIPTS += tests/integration/pg_cluster.sh tests/integration/store_pg.sh \
	tests/integration/pg_unit.sh

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

# tests/bench/: the reader benchmark. `make bench` runs it (not a timed
# test); `make check` builds its programs so they never rot, and a smoke
# test checks the generated files read cleanly.
check_PROGRAMS += tests/bench/gen_edi tests/bench/memchr_scan \
	tests/bench/bench_reader tests/bench/bench_rusage
tests_bench_gen_edi_SOURCES = tests/bench/gen_edi.c
tests_bench_memchr_scan_SOURCES = tests/bench/memchr_scan.c
tests_bench_bench_rusage_SOURCES = tests/bench/bench_rusage.c
tests_bench_bench_reader_SOURCES = tests/bench/bench_reader.c
tests_bench_bench_reader_LDADD = translators/libtranslators.a
TESTS += tests/bench/test_bench_smoke.sh
EXTRA_DIST += tests/bench/run.sh tests/bench/test_bench_smoke.sh

BENCH_SIZES = 10M 100M 1G
bench: tests/bench/gen_edi$(EXEEXT) tests/bench/memchr_scan$(EXEEXT) \
	tests/bench/bench_reader$(EXEEXT) tests/bench/bench_rusage$(EXEEXT) \
	gateway/edigate$(EXEEXT)
	$(SHELL) $(srcdir)/tests/bench/run.sh --builddir '$(abs_top_builddir)' \
	  $(BENCH_SIZES)

# tests/fuzz/: libFuzzer targets, built with clang whatever CC is: the
# library sources get coverage instrumentation (fuzzer-no-link), the
# harness links libFuzzer's main. `make fuzz` builds, `make fuzz-run` runs
# each target FUZZ_SECONDS on a seed corpus made from tests/fixtures and
# tests/fuzz/regressions (inputs that once failed, kept forever).
FUZZ_CC = clang-14
FUZZ_CFLAGS = -g -O1 -fno-omit-frame-pointer \
	-fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CPPFLAGS = $(DEFS) $(DEFAULT_INCLUDES) $(AM_CPPFLAGS)
FUZZ_SECONDS = 30
# e.g. FUZZ_RUN_FLAGS='--corpus $$HOME/edigate-fuzz' keeps the corpus;
# FUZZ_OPTIONS='-jobs=2 -workers=2' is passed to libFuzzer.
FUZZ_RUN_FLAGS =
FUZZ_OPTIONS =
FUZZ_TARGETS = tests/fuzz/fuzz_reader tests/fuzz/fuzz_envelope \
	tests/fuzz/fuzz_mime tests/fuzz/fuzz_cms tests/fuzz/fuzz_map \
	tests/fuzz/fuzz_ack
FUZZ_HASH_H = $(srcdir)/tests/fuzz/fuzz_hash.h
FUZZ_READER_OBJECTS = tests/fuzz/edi_reader.fuzz.o
FUZZ_ENVELOPE_OBJECTS = $(FUZZ_READER_OBJECTS) tests/fuzz/envelope.fuzz.o
FUZZ_MIME_OBJECTS = tests/fuzz/mime.fuzz.o
FUZZ_CMS_OBJECTS = $(FUZZ_MIME_OBJECTS) tests/fuzz/as2_cms.fuzz.o
FUZZ_MAP_OBJECTS = $(FUZZ_READER_OBJECTS) tests/fuzz/edi_writer.fuzz.o \
	tests/fuzz/map.fuzz.o tests/fuzz/map_value.fuzz.o \
	tests/fuzz/map_in.fuzz.o tests/fuzz/map_out.fuzz.o tests/fuzz/xlate.fuzz.o \
	tests/fuzz/partner.fuzz.o

tests/fuzz/edi_reader.fuzz.o: $(srcdir)/translators/edi_reader.c \
	$(srcdir)/translators/edi_reader.h
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link \
	  -c -o $@ $(srcdir)/translators/edi_reader.c
tests/fuzz/fuzz_reader: $(srcdir)/tests/fuzz/fuzz_reader.c $(FUZZ_HASH_H) \
	$(srcdir)/translators/edi_reader.h $(FUZZ_READER_OBJECTS)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer \
	  -o $@ $(srcdir)/tests/fuzz/fuzz_reader.c $(FUZZ_READER_OBJECTS)

tests/fuzz/envelope.fuzz.o: $(srcdir)/translators/envelope.c \
	$(srcdir)/translators/envelope.h $(srcdir)/translators/edi_reader.h
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link \
	  -c -o $@ $(srcdir)/translators/envelope.c
tests/fuzz/fuzz_envelope: $(srcdir)/tests/fuzz/fuzz_envelope.c $(FUZZ_HASH_H) \
	$(srcdir)/translators/envelope.h $(srcdir)/translators/edi_reader.h \
	$(FUZZ_ENVELOPE_OBJECTS)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer \
	  -o $@ $(srcdir)/tests/fuzz/fuzz_envelope.c $(FUZZ_ENVELOPE_OBJECTS)

tests/fuzz/mime.fuzz.o: $(srcdir)/gateway/mime.c $(srcdir)/gateway/mime.h
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link \
	  -c -o $@ $(srcdir)/gateway/mime.c
tests/fuzz/as2_cms.fuzz.o: $(srcdir)/gateway/as2_cms.c \
	$(srcdir)/gateway/as2_cms.h $(srcdir)/gateway/mime.h
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(OPENSSL_CFLAGS) $(ZLIB_CFLAGS) \
	  $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link \
	  -c -o $@ $(srcdir)/gateway/as2_cms.c
tests/fuzz/fuzz_mime: $(srcdir)/tests/fuzz/fuzz_mime.c $(FUZZ_HASH_H) \
	$(srcdir)/gateway/mime.h $(FUZZ_MIME_OBJECTS)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer \
	  -o $@ $(srcdir)/tests/fuzz/fuzz_mime.c $(FUZZ_MIME_OBJECTS)
tests/fuzz/fuzz_cms: $(srcdir)/tests/fuzz/fuzz_cms.c \
	$(srcdir)/gateway/as2_cms.h $(FUZZ_CMS_OBJECTS)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(OPENSSL_CFLAGS) $(FUZZ_CFLAGS) \
	  -fsanitize=fuzzer -o $@ $(srcdir)/tests/fuzz/fuzz_cms.c \
	  $(FUZZ_CMS_OBJECTS) $(OPENSSL_LIBS) $(ZLIB_LIBS)

# The map engine's objects.
tests/fuzz/edi_writer.fuzz.o: $(srcdir)/translators/edi_writer.c
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(JANSSON_CFLAGS) $(LIBXML_CFLAGS) \
	  $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ \
	  $(srcdir)/translators/edi_writer.c
tests/fuzz/map.fuzz.o: $(srcdir)/translators/map.c
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(JANSSON_CFLAGS) $(LIBXML_CFLAGS) \
	  $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ \
	  $(srcdir)/translators/map.c
tests/fuzz/map_value.fuzz.o: $(srcdir)/translators/map_value.c
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(JANSSON_CFLAGS) $(LIBXML_CFLAGS) \
	  $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ \
	  $(srcdir)/translators/map_value.c
tests/fuzz/map_in.fuzz.o: $(srcdir)/translators/map_in.c
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(JANSSON_CFLAGS) $(LIBXML_CFLAGS) \
	  $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ \
	  $(srcdir)/translators/map_in.c
tests/fuzz/map_out.fuzz.o: $(srcdir)/translators/map_out.c
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(JANSSON_CFLAGS) $(LIBXML_CFLAGS) \
	  $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ \
	  $(srcdir)/translators/map_out.c
tests/fuzz/xlate.fuzz.o: $(srcdir)/translators/xlate.c
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(JANSSON_CFLAGS) $(LIBXML_CFLAGS) \
	  $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ \
	  $(srcdir)/translators/xlate.c
tests/fuzz/partner.fuzz.o: $(srcdir)/translators/partner.c
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(JANSSON_CFLAGS) $(LIBXML_CFLAGS) \
	  $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ \
	  $(srcdir)/translators/partner.c
tests/fuzz/fuzz_map: $(srcdir)/tests/fuzz/fuzz_map.c $(FUZZ_MAP_OBJECTS)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(JANSSON_CFLAGS) $(LIBXML_CFLAGS) \
	  -DFUZZ_MAPS_DIR='"$(abs_top_srcdir)/maps"' \
	  $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ \
	  $(srcdir)/tests/fuzz/fuzz_map.c $(FUZZ_MAP_OBJECTS) \
	  $(JANSSON_LIBS) $(LIBXML_LIBS)

fuzz: $(FUZZ_TARGETS)
# fuzz_map reads the shipped maps; in the short run it translates the EDI
# seeds (FUZZ_TARGET=load and =json fuzz map files and canonical JSON).
fuzz-run: fuzz
	EDIGATE_MAPS='$(abs_top_srcdir)/maps' FUZZ_TARGET=edi \
	$(SHELL) $(srcdir)/tests/fuzz/run.sh --seconds $(FUZZ_SECONDS) \
	  --seeds $(srcdir)/tests/fixtures --seeds $(srcdir)/tests/fuzz/regressions \
	  $(FUZZ_RUN_FLAGS) $(FUZZ_TARGETS) -- $(FUZZ_OPTIONS)
CLEANFILES += $(FUZZ_TARGETS) $(FUZZ_ENVELOPE_OBJECTS) $(FUZZ_CMS_OBJECTS) \
	$(FUZZ_MAP_OBJECTS) $(FUZZ_ACK_OBJECTS)
EXTRA_DIST += tests/fuzz/fuzz_reader.c tests/fuzz/fuzz_envelope.c \
	tests/fuzz/fuzz_mime.c tests/fuzz/fuzz_cms.c tests/fuzz/fuzz_map.c \
	tests/fuzz/fuzz_hash.h tests/fuzz/run.sh tests/fuzz/regressions
.PHONY: bench fuzz fuzz-run
print-fuzz-targets:
	@echo $(FUZZ_TARGETS)
.PHONY: print-fuzz-targets
# The unit test programs of TESTS (deploy/test.sh runs these in the
# release tarball's copy).
print-unit-tests:
	@for t in $(TESTS); do \
	  case $$t in tests/unit/*) printf '%s ' "$$t" ;; esac; \
	done; echo
.PHONY: print-unit-tests

# cmocka 1.1 prints a skipped case as "not ok N # SKIP", which the TAP
# driver counts as a failure: every test runs through a filter that makes
# it "ok N # SKIP" (a corpus that is absent must not fail the build).
LOG_COMPILER = $(SHELL) $(top_srcdir)/tests/tap_skip.sh
EXTRA_DIST += tests/tap_skip.sh

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

# SFTP: a private sshd with partner chroots, uploads with the sftp
# command line, edigated's inbox, push and pull with libssh2.
TESTS += tests/integration/sftp.sh
dist_noinst_SCRIPTS += tests/integration/sftp.sh
TESTS += tests/integration/sftp_out.sh
dist_noinst_SCRIPTS += tests/integration/sftp_out.sh
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_sftp
TESTS += tests/unit/test_sftp
endif
tests_unit_test_sftp_SOURCES = tests/unit/test_sftp.c
tests_unit_test_sftp_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(OPENSSL_CFLAGS)
tests_unit_test_sftp_LDADD = $(SFTP_LIBS) $(STORE_LIBS) $(DAEMON_LIBS) \
	$(CMOCKA_LIBS)
# AS2 receive in edigated against openssl cms + curl as the peer.
TESTS += tests/integration/as2_receive.sh
dist_noinst_SCRIPTS += tests/integration/as2_receive.sh

# The bridge: delivery helpers (keys, signatures, backoff, breaker).
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_deliver
TESTS += tests/unit/test_deliver
endif
tests_unit_test_deliver_SOURCES = tests/unit/test_deliver.c
tests_unit_test_deliver_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(OPENSSL_CFLAGS) $(JANSSON_CFLAGS)
tests_unit_test_deliver_LDADD = $(BRIDGE_LIBS) $(OPENSSL_LIBS) $(JANSSON_LIBS) $(CMOCKA_LIBS)

# JSON Schema validator.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_jschema
TESTS += tests/unit/test_jschema
endif
tests_unit_test_jschema_SOURCES = tests/unit/test_jschema.c tests/unit/test_util.c tests/unit/test_util.h
tests_unit_test_jschema_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(JANSSON_CFLAGS)
tests_unit_test_jschema_LDADD = $(MAP_LIBS) $(CMOCKA_LIBS)

# The JSON Schema validator reads what the API receives: a fuzz target.
FUZZ_TARGETS += tests/fuzz/fuzz_jschema
FUZZ_JSCHEMA_OBJECTS = tests/fuzz/jschema.fuzz.o
tests/fuzz/jschema.fuzz.o: $(srcdir)/translators/jschema.c \
	$(srcdir)/translators/jschema.h
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(JANSSON_CFLAGS) $(FUZZ_CFLAGS) \
	  -fsanitize=fuzzer-no-link -c -o $@ $(srcdir)/translators/jschema.c
tests/fuzz/fuzz_jschema: $(srcdir)/tests/fuzz/fuzz_jschema.c \
	$(srcdir)/translators/jschema.h $(FUZZ_JSCHEMA_OBJECTS)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(JANSSON_CFLAGS) $(FUZZ_CFLAGS) \
	  -DFUZZ_MAPS_DIR='"$(abs_top_srcdir)/maps"' \
	  -fsanitize=fuzzer -o $@ $(srcdir)/tests/fuzz/fuzz_jschema.c \
	  $(FUZZ_JSCHEMA_OBJECTS) $(JANSSON_LIBS)
CLEANFILES += $(FUZZ_JSCHEMA_OBJECTS)
EXTRA_DIST += tests/fuzz/fuzz_jschema.c

# Routing: rules, default flows, data quality, queuing in a real store.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_route
TESTS += tests/unit/test_route
endif
tests_unit_test_route_SOURCES = tests/unit/test_route.c tests/unit/test_util.c tests/unit/test_util.h
tests_unit_test_route_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(JANSSON_CFLAGS) $(LIBXML_CFLAGS)
tests_unit_test_route_LDADD = $(BRIDGE_LIBS) gateway/libdaemon.a $(STORE_LIBS) $(MAP_LIBS) \
	$(LIBEVENT_LIBS) $(PTHREAD_LIBS) $(CMOCKA_LIBS)
# The outbound HTTP client against a local evhttp server (plain and TLS).
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_http_client
TESTS += tests/unit/test_http_client
endif
tests_unit_test_http_client_SOURCES = tests/unit/test_http_client.c
tests_unit_test_http_client_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) \
	$(LIBEVENT_CFLAGS) $(OPENSSL_CFLAGS)
tests_unit_test_http_client_LDADD = $(DAEMON_LIBS) $(CMOCKA_LIBS)

# AS2 send against an independent peer (Python http.server + openssl).
TESTS += tests/integration/as2_send.sh
dist_noinst_SCRIPTS += tests/integration/as2_send.sh
EXTRA_DIST += tests/integration/as2_peer.py
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_as2_send
TESTS += tests/unit/test_as2_send
endif
tests_unit_test_as2_send_SOURCES = tests/unit/test_as2_send.c
tests_unit_test_as2_send_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(OPENSSL_CFLAGS)
tests_unit_test_as2_send_LDADD = $(AS2SEND_LIBS) $(CMOCKA_LIBS)
EXTRA_DIST += docs/as2-send.md

# Acknowledgments: TA1/997/999/CONTRL built, written and read.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_ack
TESTS += tests/unit/test_ack
endif
tests_unit_test_ack_SOURCES = tests/unit/test_ack.c tests/unit/test_util.c tests/unit/test_util.h
tests_unit_test_ack_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(JANSSON_CFLAGS) $(LIBXML_CFLAGS)
tests_unit_test_ack_LDADD = $(MAP_LIBS) $(CMOCKA_LIBS)
TESTS += tests/integration/ack_cli.sh
dist_noinst_SCRIPTS += tests/integration/ack_cli.sh

# The acknowledgment reader (and writing what it read back out).
FUZZ_ACK_OBJECTS = $(FUZZ_READER_OBJECTS) tests/fuzz/edi_writer.fuzz.o \
	tests/fuzz/edi_builder.fuzz.o tests/fuzz/ack.fuzz.o \
	tests/fuzz/ack_read.fuzz.o tests/fuzz/ack_write.fuzz.o
tests/fuzz/edi_builder.fuzz.o: $(srcdir)/translators/edi_builder.c \
	$(srcdir)/translators/edi_builder.h
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link \
	  -c -o $@ $(srcdir)/translators/edi_builder.c
tests/fuzz/ack.fuzz.o: $(srcdir)/translators/ack.c $(srcdir)/translators/ack.h
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link \
	  -c -o $@ $(srcdir)/translators/ack.c
tests/fuzz/ack_read.fuzz.o: $(srcdir)/translators/ack_read.c \
	$(srcdir)/translators/ack.h
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(JANSSON_CFLAGS) $(FUZZ_CFLAGS) \
	  -fsanitize=fuzzer-no-link -c -o $@ $(srcdir)/translators/ack_read.c
tests/fuzz/ack_write.fuzz.o: $(srcdir)/translators/ack_write.c \
	$(srcdir)/translators/ack.h
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link \
	  -c -o $@ $(srcdir)/translators/ack_write.c
tests/fuzz/fuzz_ack: $(srcdir)/tests/fuzz/fuzz_ack.c $(srcdir)/translators/ack.h \
	$(FUZZ_ACK_OBJECTS)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(JANSSON_CFLAGS) $(FUZZ_CFLAGS) \
	  -fsanitize=fuzzer -o $@ $(srcdir)/tests/fuzz/fuzz_ack.c \
	  $(FUZZ_ACK_OBJECTS) $(JANSSON_LIBS)
EXTRA_DIST += tests/fuzz/fuzz_ack.c

# Acknowledgment tracking on both store backends, and the report built by
# the CLI in all three formats.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_ack_track
TESTS += tests/unit/test_ack_track tests/integration/ack_track_pg.sh
endif
tests_unit_test_ack_track_SOURCES = tests/unit/test_ack_track.c
tests_unit_test_ack_track_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(LIBPQ_CFLAGS) \
	$(JANSSON_CFLAGS)
tests_unit_test_ack_track_LDADD = $(ACKTRACK_LIBS) $(CMOCKA_LIBS)
dist_noinst_SCRIPTS += tests/integration/ack_track_pg.sh
TESTS += tests/integration/ack_report.sh
dist_noinst_SCRIPTS += tests/integration/ack_report.sh
EXTRA_DIST += docs/acks-tracking.md
TESTS += tests/integration/translate_out.sh
dist_noinst_SCRIPTS += tests/integration/translate_out.sh

# Partner profiles as a set, with their <as2> settings.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_partner_set
TESTS += tests/unit/test_partner_set
endif
tests_unit_test_partner_set_SOURCES = tests/unit/test_partner_set.c
tests_unit_test_partner_set_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(LIBXML_CFLAGS)
tests_unit_test_partner_set_LDADD = $(INBOUND_LIBS) $(CMOCKA_LIBS)

EXTRA_DIST += docs/as2.md

# The inbound pipeline on a real SQLite store.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_inbound
TESTS += tests/unit/test_inbound
endif
tests_unit_test_inbound_SOURCES = tests/unit/test_inbound.c
tests_unit_test_inbound_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(JANSSON_CFLAGS)
tests_unit_test_inbound_LDADD = $(INBOUND_LIBS) $(STORE_LIBS) \
	gateway/libdaemon.a $(LIBEVENT_LIBS) $(PTHREAD_LIBS) $(CMOCKA_LIBS)

# The AS2 layer walk: payload, MIC bytes, failures.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_as2_unwrap
TESTS += tests/unit/test_as2_unwrap
endif
tests_unit_test_as2_unwrap_SOURCES = tests/unit/test_as2_unwrap.c
tests_unit_test_as2_unwrap_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(OPENSSL_CFLAGS)
tests_unit_test_as2_unwrap_LDADD = $(AS2_LIBS) $(CMOCKA_LIBS)

# The AS2 layer walk under libFuzzer (make fuzz builds it with the others).
FUZZ_TARGETS += tests/fuzz/fuzz_as2_unwrap
FUZZ_UNWRAP_OBJECTS = $(FUZZ_CMS_OBJECTS) tests/fuzz/as2_unwrap.fuzz.o
tests/fuzz/as2_unwrap.fuzz.o: $(srcdir)/gateway/as2_unwrap.c \
	$(srcdir)/gateway/as2_unwrap.h $(srcdir)/gateway/as2_cms.h
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(OPENSSL_CFLAGS) $(FUZZ_CFLAGS) \
	  -fsanitize=fuzzer-no-link -c -o $@ $(srcdir)/gateway/as2_unwrap.c
tests/fuzz/fuzz_as2_unwrap: $(srcdir)/tests/fuzz/fuzz_as2_unwrap.c \
	$(srcdir)/gateway/as2_unwrap.h $(FUZZ_UNWRAP_OBJECTS)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(OPENSSL_CFLAGS) $(FUZZ_CFLAGS) \
	  -fsanitize=fuzzer -o $@ $(srcdir)/tests/fuzz/fuzz_as2_unwrap.c \
	  $(FUZZ_UNWRAP_OBJECTS) $(OPENSSL_LIBS) $(ZLIB_LIBS)
fuzz: tests/fuzz/fuzz_as2_unwrap
CLEANFILES += tests/fuzz/as2_unwrap.fuzz.o
EXTRA_DIST += tests/fuzz/fuzz_as2_unwrap.c

# AS2 receive throughput against RSA-2048 (not a timed test): make bench-as2
bench-as2: gateway/edigated$(EXEEXT)
	top_srcdir='$(abs_top_srcdir)' $(SHELL) $(srcdir)/tests/bench/as2_bench.sh \
	  --builddir '$(abs_top_builddir)'
.PHONY: bench-as2
EXTRA_DIST += tests/bench/as2_bench.sh
# The ERP/WMS bridge end to end: API, routing, webhooks (tests/integration/
# webhook_receiver.py checks the signatures), openapi.yaml routes.
TESTS += tests/integration/bridge.sh
dist_noinst_SCRIPTS += tests/integration/bridge.sh tests/integration/webhook_receiver.py
EXTRA_DIST += docs/api.md docs/routing.md

# The walk-through of the README end to end: an 850 by AS2, the MDN, the
# 997 back to the retailer's AS2 server, the order at the ERP webhook.
TESTS += tests/integration/order_flow.sh
dist_noinst_SCRIPTS += tests/integration/order_flow.sh

# edigate receive and send: the inbound path and the ack loop without a network.
TESTS += tests/integration/receive_cli.sh
dist_noinst_SCRIPTS += tests/integration/receive_cli.sh

# edigate receive throughput on SQLite and PostgreSQL against validate and
# translate of the same files (not a timed test): make bench-receive
bench-receive: gateway/edigate$(EXEEXT)
	top_srcdir='$(abs_top_srcdir)' $(SHELL) $(srcdir)/tests/bench/bench_receive.sh \
	  --builddir '$(abs_top_builddir)' $(BENCH_N)
.PHONY: bench-receive
EXTRA_DIST += tests/bench/bench_receive.sh
# Order chain reconciliation: the rules over hand-built chains, and the
# report through the CLI over a store the seed helper fills.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_reconcile
TESTS += tests/unit/test_reconcile
endif
tests_unit_test_reconcile_SOURCES = tests/unit/test_reconcile.c
tests_unit_test_reconcile_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) -I$(srcdir)/gateway \
	$(JANSSON_CFLAGS)
tests_unit_test_reconcile_LDADD = $(ACKTRACK_LIBS) $(CMOCKA_LIBS)
check_PROGRAMS += tests/integration/reconcile_seed
tests_integration_reconcile_seed_SOURCES = tests/integration/reconcile_seed.c
tests_integration_reconcile_seed_CFLAGS = $(AM_CFLAGS) -I$(srcdir)/gateway
tests_integration_reconcile_seed_LDADD = $(STORE_LIBS)
TESTS += tests/integration/reconcile.sh
dist_noinst_SCRIPTS += tests/integration/reconcile.sh
EXTRA_DIST += docs/reconcile.md docs/cluster.md

# AS2 receive with every body unwrapped from a file (as2_stream).
TESTS += tests/integration/as2_receive_stream.sh
dist_noinst_SCRIPTS += tests/integration/as2_receive_stream.sh

# Large AS2 messages (200 MB) through a streaming listener with flat
# memory; skipped under ASan (see the script).
TESTS += tests/integration/as2_large.sh
dist_noinst_SCRIPTS += tests/integration/as2_large.sh

# 1 GB signed+encrypted AS2 message: MB/s and edigated's peak RSS beside
# openssl cms -decrypt of the same file (not a timed test):
# make bench-as2-large [AS2_LARGE_MB=1024]
AS2_LARGE_MB = 1024
bench-as2-large: gateway/edigated$(EXEEXT) tests/bench/bench_rusage$(EXEEXT)
	AS2_LARGE_MB=$(AS2_LARGE_MB) BENCH=1 top_srcdir='$(abs_top_srcdir)' \
	  top_builddir='$(abs_top_builddir)' \
	  $(SHELL) $(srcdir)/tests/integration/as2_large.sh
.PHONY: bench-as2-large

# HTTP/1.1 request framing of the streaming listeners.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_http_reader
TESTS += tests/unit/test_http_reader
endif
tests_unit_test_http_reader_SOURCES = tests/unit/test_http_reader.c
tests_unit_test_http_reader_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_http_reader_LDADD = gateway/libdaemon.a $(CMOCKA_LIBS)

# The HTTP/1.1 request reader under libFuzzer: whole against split input.
FUZZ_TARGETS += tests/fuzz/fuzz_http_reader
tests/fuzz/http_reader.fuzz.o: $(srcdir)/gateway/http_reader.c \
	$(srcdir)/gateway/http_reader.h
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link \
	  -c -o $@ $(srcdir)/gateway/http_reader.c
tests/fuzz/fuzz_http_reader: $(srcdir)/tests/fuzz/fuzz_http_reader.c \
	$(FUZZ_HASH_H) $(srcdir)/gateway/http_reader.h \
	tests/fuzz/http_reader.fuzz.o
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer \
	  -o $@ $(srcdir)/tests/fuzz/fuzz_http_reader.c \
	  tests/fuzz/http_reader.fuzz.o
fuzz: tests/fuzz/fuzz_http_reader
CLEANFILES += tests/fuzz/http_reader.fuzz.o
EXTRA_DIST += tests/fuzz/fuzz_http_reader.c

# The AS2 layer walk from a file against the walk in memory (libFuzzer).
FUZZ_TARGETS += tests/fuzz/fuzz_as2_stream
tests/fuzz/as2_stream.fuzz.o: $(srcdir)/gateway/as2_stream.c \
	$(srcdir)/gateway/as2_stream.h $(srcdir)/gateway/as2_unwrap.h \
	$(srcdir)/gateway/as2_cms.h
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(OPENSSL_CFLAGS) $(FUZZ_CFLAGS) \
	  -fsanitize=fuzzer-no-link -c -o $@ $(srcdir)/gateway/as2_stream.c
tests/fuzz/fuzz_as2_stream: $(srcdir)/tests/fuzz/fuzz_as2_stream.c \
	$(srcdir)/gateway/as2_stream.h $(FUZZ_UNWRAP_OBJECTS) \
	tests/fuzz/as2_stream.fuzz.o
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(OPENSSL_CFLAGS) $(FUZZ_CFLAGS) \
	  -fsanitize=fuzzer -o $@ $(srcdir)/tests/fuzz/fuzz_as2_stream.c \
	  $(FUZZ_UNWRAP_OBJECTS) tests/fuzz/as2_stream.fuzz.o \
	  $(OPENSSL_LIBS) $(ZLIB_LIBS)
fuzz: tests/fuzz/fuzz_as2_stream
CLEANFILES += tests/fuzz/as2_stream.fuzz.o
EXTRA_DIST += tests/fuzz/fuzz_as2_stream.c

# Several edigated nodes on one PostgreSQL and one spool (docs/cluster.md):
# AS2 to both, duplicates across nodes, webhooks once, a node killed
# while it holds delivery claims.
TESTS += tests/integration/multinode.sh
dist_noinst_SCRIPTS += tests/integration/multinode.sh
TESTS += tests/integration/nginx_conf.sh
dist_noinst_SCRIPTS += tests/integration/nginx_conf.sh
# Duplicate interchanges and groups in the inbound pipeline, on SQLite
# here and on a throwaway PostgreSQL through inbound_duplicates_pg.sh.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_inbound_duplicates
TESTS += tests/unit/test_inbound_duplicates \
	tests/integration/inbound_duplicates_pg.sh
endif
tests_unit_test_inbound_duplicates_SOURCES = \
	tests/unit/test_inbound_duplicates.c
tests_unit_test_inbound_duplicates_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) \
	$(JANSSON_CFLAGS) $(SQLITE_CFLAGS) $(LIBPQ_CFLAGS)
tests_unit_test_inbound_duplicates_LDADD = $(INBOUND_LIBS) $(STORE_LIBS) \
	gateway/libdaemon.a $(LIBEVENT_LIBS) $(PTHREAD_LIBS) $(CMOCKA_LIBS)
dist_noinst_SCRIPTS += tests/integration/inbound_duplicates_pg.sh
# A node killed (-9) mid-processing: another node on the same PostgreSQL
# recovers the message once its claim ran out; one 997, one webhook.
TESTS += tests/integration/inbound_recover_pg.sh
dist_noinst_SCRIPTS += tests/integration/inbound_recover_pg.sh
# Recovery settings and the sweep (gateway/recover.h) on SQLite.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_recover
TESTS += tests/unit/test_recover
endif
tests_unit_test_recover_SOURCES = tests/unit/test_recover.c
tests_unit_test_recover_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(JANSSON_CFLAGS)
tests_unit_test_recover_LDADD = $(INBOUND_LIBS) $(STORE_LIBS) $(DAEMON_LIBS) \
	gateway/libdaemon.a $(LIBEVENT_LIBS) $(PTHREAD_LIBS) $(CMOCKA_LIBS)
# The map engine builds its documents in a jtree arena.
FUZZ_MAP_OBJECTS += tests/fuzz/jtree.fuzz.o
tests/fuzz/jtree.fuzz.o: $(srcdir)/translators/jtree.c $(srcdir)/translators/jtree.h
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(JANSSON_CFLAGS) $(FUZZ_CFLAGS) \
	  -fsanitize=fuzzer-no-link -c -o $@ $(srcdir)/translators/jtree.c

# The arena JSON tree and its text (the EDI -> canonical fast path).
check_PROGRAMS += tests/unit/test_jtree
TESTS += tests/unit/test_jtree
tests_unit_test_jtree_SOURCES = tests/unit/test_jtree.c
tests_unit_test_jtree_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(JANSSON_CFLAGS)
tests_unit_test_jtree_LDADD = $(MAP_LIBS) $(CMOCKA_LIBS)
# AS2 certificates: rotation and expiry metrics/warnings.
TESTS += tests/integration/as2_certs.sh
dist_noinst_SCRIPTS += tests/integration/as2_certs.sh
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_cert_watch
TESTS += tests/unit/test_cert_watch
endif
tests_unit_test_cert_watch_SOURCES = tests/unit/test_cert_watch.c
tests_unit_test_cert_watch_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(LIBXML_CFLAGS) \
	$(LIBEVENT_CFLAGS) $(OPENSSL_CFLAGS)
tests_unit_test_cert_watch_LDADD = $(INBOUND_LIBS) $(DAEMON_LIBS) $(CMOCKA_LIBS)
# AS2 send: the wait for an asynchronous MDN.
TESTS += tests/integration/as2_mdn_wait.sh
dist_noinst_SCRIPTS += tests/integration/as2_mdn_wait.sh
# Group commit: group_sync, unsynced spool writes, deferred store commits.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_group_sync
TESTS += tests/unit/test_group_sync
endif
tests_unit_test_group_sync_SOURCES = tests/unit/test_group_sync.c
tests_unit_test_group_sync_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(PTHREAD_CFLAGS)
tests_unit_test_group_sync_LDADD = $(DAEMON_LIBS) $(STORE_LIBS) $(CMOCKA_LIBS)
# AS2 receive with group commit on the PostgreSQL store.
TESTS += tests/integration/as2_receive_pg.sh
dist_noinst_SCRIPTS += tests/integration/as2_receive_pg.sh
# Routing records ack expectations (gateway/libacktrack.a).
tests_unit_test_route_LDADD += gateway/libacktrack.a translators/libtranslators.a \
	$(STORE_LIBS) $(LIBXML_LIBS) $(JANSSON_LIBS)
# The whole order-to-cash loop: 850 in, 855/856/810 out by AS2, the
# retailer's 997s reconciled, ERP and WMS webhooks, report reconcile.
TESTS += tests/integration/order_to_cash.sh
dist_noinst_SCRIPTS += tests/integration/order_to_cash.sh
# Webhook and EDI deliveries in order per business key ([route] ordered).
TESTS += tests/integration/delivery_order.sh
dist_noinst_SCRIPTS += tests/integration/delivery_order.sh
# Documents posted for an EDIFACT partner go out as ORDRSP/DESADV/INVOIC.
TESTS += tests/integration/edifact_out.sh
dist_noinst_SCRIPTS += tests/integration/edifact_out.sh
# edigated's periodic reconciliation: exceptions in the log and /metrics.
TESTS += tests/integration/reconcile_job.sh
dist_noinst_SCRIPTS += tests/integration/reconcile_job.sh
# The ERP/WMS bridge under load (not a timed test): make bench-bridge
bench-bridge: gateway/edigated$(EXEEXT)
	python3 $(srcdir)/tests/bench/bench_bridge.py --builddir '$(abs_top_builddir)' \
	  --srcdir '$(abs_top_srcdir)' $(if $(BENCH_N),--count $(BENCH_N))
.PHONY: bench-bridge
EXTRA_DIST += tests/bench/bench_bridge.py

# Shared helpers the integration scripts source.
EXTRA_DIST += tests/integration/tap_lib.sh tests/integration/bridge_lib.sh
# The JSON parser of the canonical -> EDI path, cross-checked against
# jansson by its fuzz target.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_jparse
TESTS += tests/unit/test_jparse
tests_unit_test_jparse_SOURCES = tests/unit/test_jparse.c
tests_unit_test_jparse_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(JANSSON_CFLAGS)
tests_unit_test_jparse_LDADD = $(MAP_LIBS) $(CMOCKA_LIBS)
endif
FUZZ_TARGETS += tests/fuzz/fuzz_jparse
FUZZ_JPARSE_OBJECTS = tests/fuzz/jparse.fuzz.o tests/fuzz/jtree.fuzz.o
tests/fuzz/jparse.fuzz.o: $(srcdir)/translators/jparse.c \
	$(srcdir)/translators/jparse.h $(srcdir)/translators/jtree.h
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(JANSSON_CFLAGS) $(FUZZ_CFLAGS) \
	  -fsanitize=fuzzer-no-link -c -o $@ $(srcdir)/translators/jparse.c
tests/fuzz/fuzz_jparse: $(srcdir)/tests/fuzz/fuzz_jparse.c \
	$(srcdir)/translators/jparse.h $(FUZZ_JPARSE_OBJECTS)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(JANSSON_CFLAGS) $(FUZZ_CFLAGS) \
	  -fsanitize=fuzzer -o $@ $(srcdir)/tests/fuzz/fuzz_jparse.c \
	  $(FUZZ_JPARSE_OBJECTS) $(JANSSON_LIBS)
CLEANFILES += tests/fuzz/jparse.fuzz.o
EXTRA_DIST += tests/fuzz/fuzz_jparse.c
# Canonical -> EDI: jparse + map_out_jtree against json_loadb + map_out_document.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_map_jparse
TESTS += tests/unit/test_map_jparse
tests_unit_test_map_jparse_SOURCES = tests/unit/test_map_jparse.c tests/unit/test_util.c tests/unit/test_util.h
tests_unit_test_map_jparse_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(JANSSON_CFLAGS) $(LIBXML_CFLAGS)
tests_unit_test_map_jparse_LDADD = $(MAP_LIBS) $(CMOCKA_LIBS)
endif
# Cross-references on the arena tree; xlate_out from text against jansson.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_xref_jtree
TESTS += tests/unit/test_xref_jtree
tests_unit_test_xref_jtree_SOURCES = tests/unit/test_xref_jtree.c tests/unit/test_util.c tests/unit/test_util.h
tests_unit_test_xref_jtree_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(JANSSON_CFLAGS) $(LIBXML_CFLAGS)
tests_unit_test_xref_jtree_LDADD = $(MAP_LIBS) $(CMOCKA_LIBS)
endif
# map_out_format: release characters, X12 refusals, delimiters changing.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_map_format
TESTS += tests/unit/test_map_format
tests_unit_test_map_format_SOURCES = tests/unit/test_map_format.c
tests_unit_test_map_format_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(JANSSON_CFLAGS) $(LIBXML_CFLAGS)
tests_unit_test_map_format_LDADD = $(MAP_LIBS) $(CMOCKA_LIBS)
endif
