# gateway/: the CLI edigate (and later the daemon edigated).
bin_PROGRAMS += gateway/edigate
gateway_edigate_SOURCES = \
	gateway/edigate.c gateway/commands.h \
	gateway/cmd_dump.c gateway/json_text.c gateway/json_text.h
gateway_edigate_CFLAGS = $(AM_CFLAGS)
gateway_edigate_LDADD = translators/libtranslators.a

# The store: messages, audit events, control numbers, acks, idempotency,
# duplicates, delivery queue (SQLite and PostgreSQL) and the payload spool.
noinst_LIBRARIES += gateway/libstore.a
gateway_libstore_a_SOURCES = \
	gateway/store.c gateway/store.h gateway/store_db.h \
	gateway/store_sqlite.c gateway/store_pg.c \
	gateway/spool.c gateway/spool.h
nodist_gateway_libstore_a_SOURCES = gateway/store_schema.c
gateway_libstore_a_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS) $(LIBPQ_CFLAGS) \
	$(JANSSON_CFLAGS) $(OPENSSL_CFLAGS)
STORE_LIBS = gateway/libstore.a $(SQLITE_LIBS) $(LIBPQ_LIBS) $(JANSSON_LIBS) \
	$(OPENSSL_LIBS)

STORE_SQL_SQLITE = deploy/sql/sqlite/0001_initial.sql
STORE_SQL_POSTGRESQL = deploy/sql/postgresql/0001_initial.sql
STORE_SQL_SQLITE += deploy/sql/sqlite/0002_ack_tracking.sql
STORE_SQL_POSTGRESQL += deploy/sql/postgresql/0002_ack_tracking.sql
gateway/store_schema.c: $(STORE_SQL_SQLITE:%=$(srcdir)/%) \
		$(STORE_SQL_POSTGRESQL:%=$(srcdir)/%) $(srcdir)/deploy/sql/embed.sh
	$(AM_V_GEN)$(MKDIR_P) gateway && \
	$(SHELL) $(srcdir)/deploy/sql/embed.sh \
		--sqlite $(STORE_SQL_SQLITE:%=$(srcdir)/%) \
		--postgresql $(STORE_SQL_POSTGRESQL:%=$(srcdir)/%) > $@.tmp && \
	mv $@.tmp $@
CLEANFILES += gateway/store_schema.c

# The SQL is compiled in; the installed copies are for DBAs to read.
storesqlitedir = $(pkgdatadir)/sql/sqlite
storesqlite_DATA = $(STORE_SQL_SQLITE)
storepgdir = $(pkgdatadir)/sql/postgresql
storepg_DATA = $(STORE_SQL_POSTGRESQL)

gateway_edigate_SOURCES += gateway/cmd_store.c
gateway_edigate_CFLAGS += $(SQLITE_CFLAGS) $(LIBPQ_CFLAGS) $(JANSSON_CFLAGS) \
	$(OPENSSL_CFLAGS) -DEDIGATE_STATEDIR='"$(localstatedir)/lib/edigate"'
gateway_edigate_LDADD += $(STORE_LIBS)

# translate and map check
gateway_edigate_SOURCES += gateway/cmd_translate.c
gateway_edigate_CFLAGS += $(LIBXML_CFLAGS)
gateway_edigate_LDADD += $(LIBXML_LIBS) $(JANSSON_LIBS)

# The daemon edigated: event loop, listeners, router, worker pool, metrics,
# JSON logs, configuration file.
noinst_LIBRARIES += gateway/libdaemon.a
gateway_libdaemon_a_SOURCES = \
	gateway/configfile.c gateway/configfile.h \
	gateway/log.c gateway/log.h \
	gateway/metrics.c gateway/metrics.h \
	gateway/router.c gateway/router.h \
	gateway/workers.c gateway/workers.h \
	gateway/daemon.c gateway/daemon.h
gateway_libdaemon_a_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(OPENSSL_CFLAGS) \
	$(PTHREAD_CFLAGS)
DAEMON_LIBS = gateway/libdaemon.a $(LIBEVENT_LIBS) $(OPENSSL_LIBS) \
	$(PTHREAD_LIBS) -lm

bin_PROGRAMS += gateway/edigated
gateway_edigated_SOURCES = gateway/edigated.c
gateway_edigated_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(OPENSSL_CFLAGS)
gateway_edigated_LDADD = $(DAEMON_LIBS) $(STORE_LIBS)

gateway_edigate_SOURCES += gateway/cmd_validate.c
gateway_edigate_CFLAGS += $(JANSSON_CFLAGS)
gateway_edigate_LDADD += $(JANSSON_LIBS)

# AS2 message security: MIME parsing, CMS (sign, verify, encrypt, decrypt,
# compress) and MDNs. A library the daemon links; no network code.
noinst_LIBRARIES += gateway/libas2.a
gateway_libas2_a_SOURCES = \
	gateway/mime.c gateway/mime.h \
	gateway/as2_cms.c gateway/as2_cms.h \
	gateway/as2_mdn.c gateway/as2_mdn.h
gateway_libas2_a_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS) $(ZLIB_CFLAGS)
AS2_LIBS = gateway/libas2.a $(OPENSSL_LIBS) $(ZLIB_LIBS)

gateway_edigate_SOURCES += gateway/cmd_rewrite.c

# The ERP/WMS bridge: routing of canonical documents, webhook delivery
# from the store's queue, the REST API.
noinst_LIBRARIES += gateway/libbridge.a
gateway_libbridge_a_SOURCES = \
	gateway/route.h gateway/route.c gateway/deliver.h gateway/deliver_sign.c \
	gateway/api.h gateway/api.c gateway/deliver.c
gateway_libbridge_a_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(OPENSSL_CFLAGS) \
	$(JANSSON_CFLAGS) $(SQLITE_CFLAGS) $(LIBPQ_CFLAGS) $(LIBXML_CFLAGS)
BRIDGE_LIBS = gateway/libbridge.a

# AS2 send: build, sign, encrypt, post, follow to the MDN; the delivery
# worker and POST /as2/mdn in edigated; `edigate send` and `resend`.
noinst_LIBRARIES += gateway/libas2send.a
gateway_libas2send_a_SOURCES = gateway/as2_send.c gateway/as2_send.h
gateway_libas2send_a_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS) $(JANSSON_CFLAGS) \
	$(LIBEVENT_CFLAGS) $(LIBXML_CFLAGS)
AS2SEND_LIBS = gateway/libas2send.a $(INBOUND_LIBS) $(AS2_LIBS) \
	$(DAEMON_LIBS) $(STORE_LIBS) $(JANSSON_LIBS)
gateway_edigated_LDADD += $(AS2SEND_LIBS)
gateway_edigated_CFLAGS += $(JANSSON_CFLAGS)
gateway_edigate_SOURCES += gateway/cmd_as2.c
gateway_edigate_LDADD += $(AS2SEND_LIBS)

# ack: the acknowledgments for a file, or an inbound ack as JSON.
gateway_edigate_SOURCES += gateway/cmd_ack.c

# Acknowledgment tracking: expectations for what is sent, reconciliation of
# inbound TA1/997/999/CONTRL, duplicates, the overdue check and the report.
noinst_LIBRARIES += gateway/libacktrack.a
gateway_libacktrack_a_SOURCES = \
	gateway/ack_track.c gateway/ack_track.h \
	gateway/ack_report.c gateway/ack_report.h \
	gateway/report_text.c gateway/report_text.h
gateway_libacktrack_a_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(LIBXML_CFLAGS)
ACKTRACK_LIBS = gateway/libacktrack.a translators/libtranslators.a $(STORE_LIBS)
gateway_edigate_SOURCES += gateway/cmd_acks.c
gateway_edigate_LDADD += gateway/libacktrack.a translators/libtranslators.a \
	$(STORE_LIBS) $(LIBXML_LIBS) $(JANSSON_LIBS)
# edigated runs the overdue check periodically.
gateway_edigated_LDADD += gateway/libacktrack.a translators/libtranslators.a \
	$(STORE_LIBS) $(JANSSON_LIBS)
# SFTP: the sshd configuration for partners' uploads (sftp-config), the
# inbox watcher of edigated, push and pull with libssh2.
noinst_LIBRARIES += gateway/libsftp.a
gateway_libsftp_a_SOURCES = \
	gateway/sftp_config.c gateway/sftp_config.h \
	gateway/sftp_inbox.c gateway/sftp_inbox.h \
	gateway/sftp_client.c gateway/sftp_client.h \
	gateway/sftp_service.c gateway/sftp_service.h \
	gateway/sftp_deliver.c gateway/sftp_deliver.h
gateway_libsftp_a_CFLAGS = $(AM_CFLAGS) $(LIBXML_CFLAGS) $(LIBEVENT_CFLAGS) \
	$(JANSSON_CFLAGS) $(PTHREAD_CFLAGS) $(LIBSSH2_CFLAGS) $(OPENSSL_CFLAGS)
SFTP_LIBS = gateway/libsftp.a translators/libtranslators.a $(LIBXML_LIBS) \
	$(JANSSON_LIBS) $(LIBSSH2_LIBS) $(OPENSSL_LIBS)
gateway_edigate_SOURCES += gateway/cmd_sftp.c
gateway_edigate_LDADD += $(SFTP_LIBS) $(DAEMON_LIBS)
gateway_edigated_LDADD += $(SFTP_LIBS) $(DAEMON_LIBS)

# The inbound pipeline every transport hands stored payloads to
# (validate, acknowledge, translate, store canonical, route) and the
# loaded partner profiles the daemon's modules look partners up in.
noinst_LIBRARIES += gateway/libinbound.a
gateway_libinbound_a_SOURCES = \
	gateway/partner_set.c gateway/partner_set.h \
	gateway/inbound.c gateway/inbound.h
gateway_libinbound_a_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(LIBXML_CFLAGS) \
	$(OPENSSL_CFLAGS) $(SQLITE_CFLAGS) $(LIBPQ_CFLAGS) $(PTHREAD_CFLAGS)
# Recovery of messages a dead node left "processing" (claims, leases).
gateway_libinbound_a_SOURCES += gateway/recover.c gateway/recover.h
gateway_libinbound_a_CFLAGS += $(LIBEVENT_CFLAGS)
INBOUND_LIBS = gateway/libinbound.a gateway/libacktrack.a \
	translators/libtranslators.a \
	$(LIBXML_LIBS) $(JANSSON_LIBS)
EXTRA_DIST += docs/sftp.md

# AS2 receive in edigated: the POST handler, unwrap, MDN.
gateway_edigated_SOURCES += gateway/as2_receive.c gateway/as2_receive.h
gateway_libas2_a_SOURCES += gateway/as2_unwrap.c gateway/as2_unwrap.h
gateway_libas2_a_SOURCES += gateway/as2_stream.c gateway/as2_stream.h
gateway_edigated_CFLAGS += $(JANSSON_CFLAGS) $(LIBXML_CFLAGS)
gateway_edigated_LDADD += $(INBOUND_LIBS) $(AS2_LIBS) gateway/libdaemon.a \
	$(STORE_LIBS) $(LIBEVENT_LIBS) $(PTHREAD_LIBS)

# The outbound HTTP client (AS2 send, async MDNs, webhooks).
gateway_libdaemon_a_SOURCES += gateway/http_client.c gateway/http_client.h
# edigated runs the bridge: routing needs the maps, the API and the webhook
# worker the store and the HTTP client.
gateway_edigated_LDADD += $(BRIDGE_LIBS) $(AS2SEND_LIBS) $(STORE_LIBS) $(MAP_LIBS) $(DAEMON_LIBS)
gateway_edigated_CFLAGS += $(LIBXML_CFLAGS)
# receive: the inbound path on files in hand, without a network.
gateway_edigate_SOURCES += gateway/cmd_receive.c gateway/cmd_send_doc.c
gateway_edigate_LDADD += $(INBOUND_LIBS) gateway/libacktrack.a $(STORE_LIBS)
EXTRA_DIST += docs/receive.md

# Order reconciliation (report reconcile) and the escaping all reports share.
gateway_libacktrack_a_SOURCES += gateway/reconcile.c gateway/reconcile.h
gateway_edigate_SOURCES += gateway/cmd_reconcile.c

# Streaming listeners (stream_bodies = yes): our own HTTP/1.1 request reader.
gateway_libdaemon_a_SOURCES += gateway/http_reader.c gateway/http_reader.h
# Certificate expiry of the AS2 partners: gauges and log warnings.
gateway_libinbound_a_SOURCES += gateway/cert_watch.c gateway/cert_watch.h
gateway_libinbound_a_CFLAGS += $(LIBEVENT_CFLAGS)
# Group commit: one durable sync shared by concurrent requests (also the
# SQLite store's shared WAL sync, hence in libstore).
gateway_libstore_a_SOURCES += gateway/group_sync.c gateway/group_sync.h
# Routing records the ack expectations of the interchanges it produces.
gateway_edigated_LDADD += gateway/libacktrack.a translators/libtranslators.a \
	$(STORE_LIBS) $(LIBXML_LIBS) $(JANSSON_LIBS)
# The inbound pipeline reconciles a partner's acks (gateway/libacktrack.a).
INBOUND_LIBS += gateway/libacktrack.a translators/libtranslators.a $(STORE_LIBS) \
	$(LIBXML_LIBS) $(JANSSON_LIBS)
# Deliveries kept in order per business key.
STORE_SQL_SQLITE += deploy/sql/sqlite/0003_delivery_order.sql
STORE_SQL_POSTGRESQL += deploy/sql/postgresql/0003_delivery_order.sql
STORE_SQL_SQLITE += deploy/sql/sqlite/0004_processing_claim.sql
STORE_SQL_POSTGRESQL += deploy/sql/postgresql/0004_processing_claim.sql
# The reconciliation job of edigated ([reconcile] interval).
gateway_edigated_SOURCES += gateway/reconcile_job.c gateway/reconcile_job.h
gateway_edigated_LDADD += gateway/libacktrack.a $(STORE_LIBS) $(JANSSON_LIBS)
