# gateway/: the CLI edigate (and later the daemon edigated).
bin_PROGRAMS += gateway/edigate
gateway_edigate_SOURCES = \
	gateway/edigate.c gateway/commands.h \
	gateway/cmd_dump.c gateway/json_text.c gateway/json_text.h
gateway_edigate_CFLAGS = $(AM_CFLAGS)
gateway_edigate_LDADD = translators/libtranslators.a
gateway_edigate_SOURCES += gateway/cmd_rewrite.c
