/*
 * partner - trading partner profiles (partners/<id>.xml).
 *
 * OWNS
 *   Loading a profile, checking it against partners/partner.xsd and the
 *   rules a schema cannot express (override files that exist and are valid
 *   maps, no message listed twice), and answering the questions the
 *   translator asks: which override applies to this message, how outbound
 *   EDI is delimited, which acknowledgment is expected, how the partner's
 *   codes translate to ours.
 *
 * ERRORS
 *   partner_load() returns NULL and malloc'd "file:line: message" lines.
 *
 * NEVER
 *   Reads keys or certificates, or opens connections: the transport
 *   settings are kept for the AS2/SFTP modules, which check them.
 */
#ifndef EDIGATE_PARTNER_H
#define EDIGATE_PARTNER_H

#include <stddef.h>

#include "map.h"

typedef struct partner_message {
	int inbound;
	map_standard standard;
	char *version;
	char *type;
	char *override_path; /* resolved against the profile's folder, or NULL */
} partner_message;

typedef struct partner_xref {
	char kind[12];       /* "sku", "uom", "location" */
	char *theirs;
	char *ours;
} partner_xref;

/* SFTP transport: <transport><sftp> (docs/sftp.md). */
typedef enum partner_sftp_upload {
	PARTNER_SFTP_RENAME,  /* uploaded under a temporary name, then renamed */
	PARTNER_SFTP_CLOSE,   /* complete when the writer closes it */
	PARTNER_SFTP_STABLE   /* complete when unchanged for stable_seconds */
} partner_sftp_upload;

/* A partner's server we push to or pull from. Paths are resolved against
 * the profile's folder; the files are read only when connecting. */
typedef struct partner_sftp_remote {
	char *host;
	unsigned port;
	char *user;
	char *key_file;             /* exactly one of key_file and password_file */
	char *key_passphrase_file;  /* or NULL */
	char *password_file;
	char *remote_dir;
	char *temp_prefix;          /* push: upload as prefix+name, then rename */
	char host_key_type[24];     /* "ssh-ed25519"... with host_key_base64 */
	char *host_key_base64;      /* or NULL */
	char *host_key_fingerprint; /* "SHA256:..." or NULL; one of the two is set */
	unsigned poll_seconds;      /* pull */
	int after_move;             /* pull: 1 move to move_to, 0 delete */
	char *move_to;
	int line;
} partner_sftp_remote;

typedef struct partner_sftp {
	int inbound;                /* an <inbound> element is present */
	char user[33];              /* login on our sshd (default edi-ID) */
	partner_sftp_upload upload;
	char temp_suffix[17];
	unsigned stable_seconds;
	char **keys;                /* authorized public keys, one line each */
	size_t key_count;
	partner_sftp_remote *push;  /* NULL when absent */
	partner_sftp_remote *pull;
	int line;
} partner_sftp;

/* <transport><as2>: how the partner talks AS2 with us (RFC 4130). Paths
 * are resolved against the profile's folder; the files are opened by the
 * AS2 module, not here. */
typedef struct partner_as2 {
	char *id;               /* the partner's AS2 name (AS2-From it sends) */
	char *our_id;           /* our AS2 name towards it (its AS2-To); NULL:
	                           any name this daemon answers to */
	char *url;              /* where we POST to it; NULL: we only receive */
	char **their_certs;     /* PEM files: verify its signatures, encrypt to
	                           it; several during a rotation */
	size_t their_cert_count;
	char **our_certs;       /* PEM certificate + key pairs: decrypt what it
	                           sends, sign our MDNs and messages */
	char **our_keys;
	size_t our_count;
	int require_signed;     /* unsigned message: authentication-failed */
	int require_encrypted;  /* plain message: decryption-failed */
	char mdn_signing[16];   /* "as-requested", "always", "never" */
	int async_mdn;          /* an asynchronous MDN may be asked for */
	char ack_transport[16]; /* transport for 997/999/CONTRL; "" as arrived */
	/* outbound (what we send it) */
	char sign[16];          /* digest: "sha256" ..., "" unsigned */
	char encrypt[16];       /* cipher: "aes256-cbc" ..., "" unencrypted */
	int compress;
	char request_mdn[8];    /* "sync", "async", "none" */
	char mdn_micalg[16];    /* digest asked for a signed MDN; "" unsigned */
	/* sending: retries, timeout, async MDN URL (docs/as2-send.md) */
	char *receipt_url;      /* our URL for its async MDNs; NULL: none */
	unsigned retry_attempts;        /* deliveries tried before "failed" */
	unsigned retry_delay_ms;        /* first wait, doubled per attempt */
	unsigned retry_max_delay_ms;    /* the longest wait */
	unsigned timeout_ms;            /* one POST, MDN included */
	char *tls_ca;           /* CA file for its HTTPS server; NULL: system */
	unsigned line;          /* of the <as2> element */
} partner_as2;

typedef struct partner {
	char *id;
	char *name;
	char *file;
	char isa_qualifier[3], isa_id[16], gs_id[16];
	char unb_id[36], unb_qualifier[8], syntax[5];
	partner_message *messages;
	size_t message_count;
	char element, component, repetition, release, terminator;
	char line_style[5];  /* "none", "lf", "crlf" */
	char ack[8];         /* "997", "999", "CONTRL", "none", "" */
	int ta1;
	unsigned sla_hours;
	/* <acknowledgment duplicate-window>, as written ("30d", "off",
	 * "forever"); "" = the daemon's window. */
	char duplicate_window[16];
	partner_xref *xrefs;
	size_t xref_count;
	partner_sftp *sftp;  /* NULL: no SFTP transport */
	partner_as2 *as2;    /* NULL: no AS2 with this partner */
} partner;

/* xsd_path is partners/partner.xsd; maps (may be NULL) checks overrides. */
partner *partner_load(const char *xsd_path, map_loader *maps, const char *path,
    char **errors);
void partner_free(partner *p);

/* The message entry for a standard/version/type, NULL when not listed.
 * X12 versions compare on their first six characters (004010VICS). */
const partner_message *partner_find_message(const partner *p, int inbound,
    map_standard standard, const char *version, const char *type);

/* Our value for the partner's (kind "sku", "uom", "location"), or NULL. */
const char *partner_xref_ours(const partner *p, const char *kind, const char *theirs);
/* The partner's value for ours, or NULL (the first entry wins). */
const char *partner_xref_theirs(const partner *p, const char *kind, const char *ours);

/* Applies the cross-reference tables to a canonical document (json_t *),
 * inbound (the partner's codes -> ours) or outbound (ours -> the
 * partner's): every string under an "item" object is a SKU; "unit",
 * "unit_ordered", "size_unit", "weight_unit" and "volume_unit" are units;
 * a party's "id", "store_number" and "location" are locations. meta and
 * unmapped are left alone. Values without an entry stay as they are.
 * Returns the number of values changed. */
struct json_t;
size_t partner_xref_apply(const partner *p, struct json_t *doc, int inbound);

/* The same on an arena tree (jtree.h): the same values change, in
 * place; the new strings come from a. */
struct jtree;
struct jtree_arena;
size_t partner_xref_apply_jtree(const partner *p, struct jtree_arena *a,
    struct jtree *doc, int inbound);

#endif
