# translators/: the EDI core library. No network, no database.
noinst_LIBRARIES += translators/libtranslators.a
translators_libtranslators_a_SOURCES = \
	translators/edi_reader.c translators/edi_reader.h
translators_libtranslators_a_CFLAGS = $(AM_CFLAGS)

# Maps: the loader, the engine (both directions) and the envelope driver.
translators_libtranslators_a_SOURCES += \
	translators/map.c translators/map.h \
	translators/map_value.c translators/map_value.h \
	translators/map_in.c translators/map_out.c translators/map_xlate.h \
	translators/xlate.c translators/xlate.h
translators_libtranslators_a_CFLAGS += $(LIBXML_CFLAGS) $(JANSSON_CFLAGS)
MAP_LIBS = translators/libtranslators.a $(LIBXML_LIBS) $(JANSSON_LIBS)
