/*
 * xlate_out - canonical documents to one complete interchange.
 *
 * OWNS
 *   Choosing, for each canonical document, the message type and version
 *   to write (the document's meta when it names the target standard, else
 *   the partner's outbound message list, else 004010 / D96A), writing its
 *   body through the map engine, and wrapping the bodies in an envelope
 *   with the edi_builder: ISA/GS/ST..SE/GE/IEA or UNA/UNB/UNH..UNT/UNZ.
 *   Consecutive documents of the same message and version share a group
 *   (X12); EDIFACT messages go straight into the interchange.
 *
 *   Identities, delimiters and line style come from the partner profile
 *   when one is given, otherwise from the first document's meta, so a file
 *   edigate translated comes back as EDI without a profile. Control
 *   numbers come from a callback (the store's per-partner counters, or a
 *   number given on the command line); without one, from the meta.
 *
 *   With a partner, its cross-reference tables turn our SKUs, units and
 *   locations back into the partner's (partner_xref_apply_jtree) on a copy
 *   of each document in a scratch arena reset per document.
 *
 *   The documents are arena trees (jtree.h): read from text with jparse
 *   (xlate_out_text, xlate_out_add), or copied from the jansson trees the gateway's
 *   callers hold (xlate_out_interchange).
 *
 * ERRORS
 *   Returns 0, or -1 with a message in err naming the document (1-based)
 *   and what was missing or did not fit. Bytes already handed to the sink
 *   then form an incomplete interchange the caller discards.
 *
 * NEVER
 *   Changes the documents it is given, or picks a control number itself.
 */
#ifndef EDIGATE_XLATE_OUT_H
#define EDIGATE_XLATE_OUT_H

#include <jansson.h>

#include "edi_writer.h"
#include "jtree.h"
#include "map.h"
#include "xlate.h"

struct partner;

typedef enum xlate_control_kind {
	XLATE_CONTROL_INTERCHANGE = 0, /* ISA13, UNB 0020 */
	XLATE_CONTROL_GROUP,           /* GS06 */
	XLATE_CONTROL_SET              /* ST02, UNH 0062 */
} xlate_control_kind;

/* Hands out the next control number of a kind; 0 on success. */
typedef int (*xlate_control_fn)(void *ctx, xlate_control_kind kind,
    unsigned long *value);

typedef struct xlate_out_options {
	map_standard standard;           /* the target */
	const struct partner *partner;   /* NULL: envelope from meta */
	const char *sender;              /* our id; NULL: from meta */
	const char *sender_qualifier;    /* NULL: from meta, else "ZZ" (X12) */
	const char *date;                /* CCYYMMDD */
	const char *time;                /* HHMM */
	xlate_control_fn control;        /* NULL: numbers from meta */
	void *control_ctx;
	int test;                        /* ISA15 T / UNB 0035 1 */
} xlate_out_options;

/* docs is an array of canonical documents (copied into an arena tree,
 * then as xlate_out_interchange_jtree). */
int xlate_out_interchange(xlate_maps *maps, json_t *docs,
    const xlate_out_options *opt, edi_writer_sink sink, void *sink_ctx,
    char *err, size_t errlen);
/* The same from an arena tree array (jparse's). */
int xlate_out_interchange_jtree(xlate_maps *maps, const jtree *docs,
    const xlate_out_options *opt, edi_writer_sink sink, void *sink_ctx,
    char *err, size_t errlen);

/* The same, one document at a time, for callers that read documents
 * one by one and reset their arena in between: xlate_out_new, then
 * xlate_out_add per document (nothing of it is kept after the call),
 * then xlate_out_finish, and xlate_out_free in any case. A failed add
 * fails the interchange (err says why; the bytes written are to be
 * discarded); err and opt must live until xlate_out_free. */
typedef struct xlate_out xlate_out;
xlate_out *xlate_out_new(xlate_maps *maps, const xlate_out_options *opt,
    edi_writer_sink sink, void *sink_ctx, char *err, size_t errlen);
int xlate_out_add(xlate_out *x, const jtree *doc);
int xlate_out_finish(xlate_out *x);
void xlate_out_free(xlate_out *x);

/* Canonical documents as text, what `edigate translate --to` reads: JSON
 * objects (or arrays of them, whose items count one by one) one after
 * another, whitespace between, read with jparse one value at a time into
 * an arena reset per value. Returns 0; -1 with err when a document
 * cannot be written; -2 when the text does not parse, with parse_error
 * filled as jansson's json_loadb (JSON_DISABLE_EOF_CHECK) fills it for
 * the value that fails (its line counts from that value's start): the
 * words users of the command have always read. A text that does not
 * parse is reported as such even when an earlier document failed. */
int xlate_out_text(xlate_maps *maps, const char *text, size_t len,
    const xlate_out_options *opt, edi_writer_sink sink, void *sink_ctx,
    char *err, size_t errlen, json_error_t *parse_error);
/* Whether text parses as xlate_out_text reads it: 0, or -1 with
 * parse_error filled the same way. For a caller whose control numbers
 * must not be spent on a text that turns out not to parse. */
int xlate_out_text_parses(const char *text, size_t len, json_error_t *parse_error);

/* The message type a canonical document type becomes in a standard
 * ("shipment" -> "856" / "DESADV"), NULL when there is none. */
const char *xlate_out_message_for(map_standard standard, const char *doc_type);

#endif
