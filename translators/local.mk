# translators/: the EDI core library. No network, no database.
noinst_LIBRARIES += translators/libtranslators.a
translators_libtranslators_a_SOURCES = \
	translators/edi_reader.c translators/edi_reader.h
translators_libtranslators_a_CFLAGS = $(AM_CFLAGS)
translators_libtranslators_a_SOURCES += translators/envelope.c translators/envelope.h
translators_libtranslators_a_SOURCES += \
	translators/edi_writer.c translators/edi_writer.h \
	translators/edi_builder.c translators/edi_builder.h \
	translators/edi_rewrite.c translators/edi_rewrite.h
