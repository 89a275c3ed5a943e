/*
 * xlate - from a stream of segments to canonical documents.
 *
 * OWNS
 *   Following the envelopes (ISA/GS/ST/SE, UNB/UNG/UNH/UNT) around the
 *   body segments the map engine translates: choosing the map for each
 *   transaction set or message from its standard, version and type
 *   (maps/x12/<message>.<version>.xml, maps/edifact/<MESSAGE>.<version>.xml,
 *   loaded once and cached), filling the document's "meta" (partner,
 *   control numbers, envelope ids, delimiters, correlation id, received-at)
 *   and handing each finished document to a callback.
 *
 *   With a partner profile, its inbound overrides choose the maps and
 *   its cross-reference tables turn the partner's SKUs, units and
 *   locations into ours in every document delivered.
 *
 *   The envelope checks themselves (counts, matching control numbers)
 *   belong to the envelope module; xlate reads what it needs and trusts
 *   nothing it reads: a missing map or an envelope out of order is
 *   reported per message, never fatal.
 *
 * NEVER
 *   Opens anything but map files, or keeps segments after the callback.
 */
#ifndef EDIGATE_XLATE_H
#define EDIGATE_XLATE_H

#include <jansson.h>

#include "edi_reader.h"
#include "map.h"
#include "map_xlate.h"

typedef struct xlate_maps xlate_maps;

/* maps_dir holds x12/ and edifact/. The loader stays the caller's. */
xlate_maps *xlate_maps_new(const char *maps_dir, map_loader *loader);
void xlate_maps_free(xlate_maps *maps);
/* The map for a message, loaded on first use; NULL and *errors (malloc'd)
 * when there is none or it is invalid. An EDIFACT version whose S009 0052
 * is not "D" (DESADV:0:96A, version "096A") falls back to the "D" map of
 * the same release. */
const map *xlate_maps_find(xlate_maps *maps, map_standard standard,
    const char *version, const char *message, char **errors);

/* A map or override file by its path (a partner's outbound override),
 * cached like the others. */
const map *xlate_maps_find_file(xlate_maps *maps, const char *path, char **errors);

/* Inbound overrides of this partner apply from now on (NULL: none).
 * The profile must outlive the maps. */
struct partner;
void xlate_maps_use_partner(xlate_maps *maps, const struct partner *p);

/* One translated message. In the default tree mode doc is the caller's
 * to keep (json_incref) or let go. In text mode (xlate_set_text) doc is
 * NULL and text holds the document as compact JSON (no newline), valid
 * during the callback: exactly what json_dumps(doc, JSON_COMPACT |
 * JSON_PRESERVE_ORDER) gives for the tree. A tree's meta "envelope"
 * and "delimiters" are one JSON value shared by every document of the
 * interchange (or group): change them only in a copy (json_deep_copy),
 * or replace the key rather than edit what it holds. issues are the guide's
 * findings. error is set (and doc and text NULL) when the message could
 * not be translated at all. */
typedef struct xlate_result {
	json_t *doc;
	const char *text;
	size_t text_len;
	const map_issue *issues;
	size_t issue_count;
	const char *error;
	uint64_t line;       /* line of the ST/UNH */
} xlate_result;

typedef void (*xlate_fn)(void *ctx, const xlate_result *result);

typedef struct xlate xlate;

/* partner may be NULL; received_at is an ISO 8601 time stamp or NULL. */
xlate *xlate_new(xlate_maps *maps, const char *partner_id,
    const char *received_at, xlate_fn fn, void *ctx);
void xlate_free(xlate *x);

/* Text mode on (1) or off (0, the default). Text is the fast path: the
 * document goes from the engine's arena straight to JSON text, with no
 * jansson tree in between (a partner's cross-references apply to the
 * arena tree, in either mode). */
void xlate_set_text(xlate *x, int on);

/* Feed every segment of the stream (the reader's segment callback may
 * call this directly). Returns 0. */
int xlate_segment(xlate *x, const edi_segment *segment);

#endif
