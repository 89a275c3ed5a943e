# tests/: unit tests (cmocka, TAP), script tests, fixtures.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_edi_reader
TESTS += tests/unit/test_edi_reader
endif
tests_unit_test_edi_reader_SOURCES = tests/unit/test_edi_reader.c tests/unit/test_util.c tests/unit/test_util.h
tests_unit_test_edi_reader_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_edi_reader_LDADD = translators/libtranslators.a $(CMOCKA_LIBS)

EXTRA_DIST += tests/fixtures

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
