/*
 * as2_mdn - AS2 receipts: Message Disposition Notifications (RFC 3798 as
 * profiled by RFC 4130 section 7).
 *
 * OWNS
 *   Writing an MDN: a multipart/report; report-type=disposition-
 *   notification with a human-readable text/plain part and a
 *   message/disposition-notification part (Reporting-UA,
 *   Original-Recipient, Final-Recipient, Original-Message-ID, Disposition,
 *   Received-Content-MIC), sent unsigned or wrapped in multipart/signed.
 *   Reading an MDN a partner sent us: verifying its signature against the
 *   partner's certificates, and extracting disposition, modifier,
 *   Original-Message-ID and MIC, so an asynchronous MDN can be matched to
 *   its message by Original-Message-ID whichever node receives it.
 *
 * MEMORY
 *   MDNs are small. Building returns one malloc'd body; parsing works on a
 *   body the caller has already bounded (the daemon caps MDN size) and
 *   copies what it extracts into fixed-size fields of as2_mdn.
 *
 * ERRORS
 *   as2_status as in as2_cms.h: a bad or missing signature where one is
 *   required is AS2_ERR_AUTHENTICATION or AS2_ERR_INTEGRITY; a receipt
 *   that is not a well-formed multipart/report is AS2_ERR_FORMAT.
 *
 * NEVER
 *   Writes a header value containing CR or LF (header injection from a
 *   Message-ID or AS2 name is refused), sends anything, or decides which
 *   disposition a message deserves: the caller says.
 */
#ifndef EDIGATE_AS2_MDN_H
#define EDIGATE_AS2_MDN_H

#include "as2_cms.h"

typedef enum as2_disposition {
	AS2_DISPOSITION_PROCESSED = 0,     /* processed */
	AS2_DISPOSITION_ERROR,             /* processed/error: modifier */
	AS2_DISPOSITION_WARNING,           /* processed/warning: modifier */
	AS2_DISPOSITION_FAILED,            /* failed/failure: modifier */
	AS2_DISPOSITION_OTHER              /* anything else (parse only) */
} as2_disposition;

typedef struct as2_mdn {
	char reporting_ua[128];
	char original_recipient[MIME_AS2_NAME_MAX + 1];  /* AS2 name */
	char final_recipient[MIME_AS2_NAME_MAX + 1];     /* AS2 name */
	char original_message_id[256];  /* as sent, with its <> */
	as2_disposition disposition;
	/* For ERROR: "authentication-failed", "decryption-failed",
	 * "integrity-check-failed", "unexpected-processing-error" (see
	 * as2_status_disposition), or any text a partner sends. */
	char modifier[128];
	char mic[AS2_MIC_MAX];          /* Received-Content-MIC, "" if none */
	char text[1024];                /* the human-readable part */
	/* parse only */
	char disposition_field[256];    /* the Disposition value as sent */
	int was_signed;                 /* and its signature verified */
	int signer_index;               /* which partner certificate */
} as2_mdn;

/* How to sign an MDN; NULL for an unsigned one. */
typedef struct as2_mdn_signing {
	X509 *cert;
	EVP_PKEY *key;
	STACK_OF(X509) *chain;
	mime_micalg alg;              /* from the sender's signed-receipt-micalg */
	mime_micalg_style style;      /* and its spelling */
} as2_mdn_signing;

/* Builds the MDN. *content_type (the HTTP Content-Type) and *body are
 * malloc'd. text empty: a standard sentence for the disposition. */
as2_status as2_mdn_build(const as2_mdn *mdn, const as2_mdn_signing *signing,
    char **content_type, unsigned char **body, size_t *body_len,
    as2_error *err);

/* Parses a received MDN. A multipart/signed MDN is verified against
 * partner_certs (valid at now, 0: the current time); an unsigned one is
 * refused with AS2_ERR_AUTHENTICATION when require_signed is set. */
as2_status as2_mdn_parse(const char *content_type, const void *body,
    size_t len, STACK_OF(X509) *partner_certs, time_t now,
    int require_signed, as2_mdn *mdn, as2_error *err);

const char *as2_disposition_name(as2_disposition disposition);

#endif
