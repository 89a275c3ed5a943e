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
	translators/xlate.c translators/xlate.h \
	translators/partner.c translators/partner.h
translators_libtranslators_a_CFLAGS += $(LIBXML_CFLAGS) $(JANSSON_CFLAGS)
MAP_LIBS = translators/libtranslators.a $(LIBXML_LIBS) $(JANSSON_LIBS)

# Maps, schemas and demo partners are data the users edit; edigate finds
# them in $(pkgdatadir) when not run from the source tree.
nobase_dist_pkgdata_DATA = maps/map.xsd \
	maps/x12/850.004010.xml maps/x12/850.005010.xml maps/x12/856.004010.xml \
	maps/x12/810.004010.xml maps/x12/940.004010.xml maps/x12/855.004010.xml \
	maps/x12/945.004010.xml \
	maps/edifact/ORDERS.D96A.xml maps/edifact/ORDERS.D01B.xml \
	maps/canonical/common.schema.json maps/canonical/order.schema.json \
	maps/canonical/order_response.schema.json maps/canonical/shipment.schema.json \
	maps/canonical/invoice.schema.json maps/canonical/warehouse_order.schema.json \
	maps/canonical/warehouse_shipment.schema.json \
	maps/canonical/functional_ack.schema.json \
	partners/partner.xsd partners/acme-retail.xml partners/acme-retail.850.xml \
	partners/nordic-dist.xml

translators_libtranslators_a_SOURCES += translators/envelope.c translators/envelope.h
translators_libtranslators_a_SOURCES += \
	translators/edi_writer.c translators/edi_writer.h \
	translators/edi_builder.c translators/edi_builder.h \
	translators/edi_rewrite.c translators/edi_rewrite.h

# Acknowledgments: TA1, 997, 999, CONTRL built, written and read.
translators_libtranslators_a_SOURCES += translators/ack.h translators/ack.c \
	translators/ack_build.c translators/ack_write.c translators/ack_read.c
EXTRA_DIST += docs/acks.md
# canonical -> complete interchange (edigate translate --to)
translators_libtranslators_a_SOURCES += translators/xlate_out.c translators/xlate_out.h
nobase_dist_pkgdata_DATA += \
	maps/x12/855.005010.xml maps/x12/856.005010.xml maps/x12/810.005010.xml \
	maps/x12/940.005010.xml maps/x12/945.005010.xml \
	maps/edifact/ORDRSP.D96A.xml maps/edifact/ORDRSP.D01B.xml \
	maps/edifact/DESADV.D96A.xml maps/edifact/DESADV.D01B.xml \
	maps/edifact/INVOIC.D96A.xml maps/edifact/INVOIC.D01B.xml
# JSON Schema validation of canonical documents (the subset our schemas use).
translators_libtranslators_a_SOURCES += translators/jschema.c translators/jschema.h
# Canonical documents as arena trees written straight to JSON text.
translators_libtranslators_a_SOURCES += translators/jtree.c translators/jtree.h
# Strict JSON text into a jtree (canonical -> EDI without jansson).
translators_libtranslators_a_SOURCES += translators/jparse.c translators/jparse.h
