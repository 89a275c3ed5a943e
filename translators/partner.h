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
	partner_xref *xrefs;
	size_t xref_count;
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

#endif
