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
check_PROGRAMS += tests/unit/test_edi_writer
TESTS += tests/unit/test_edi_writer
endif
tests_unit_test_edi_writer_SOURCES = tests/unit/test_edi_writer.c tests/unit/test_util.c tests/unit/test_util.h
tests_unit_test_edi_writer_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_edi_writer_LDADD = translators/libtranslators.a $(CMOCKA_LIBS)
TESTS += tests/integration/rewrite.sh
dist_noinst_SCRIPTS += tests/integration/rewrite.sh
