/*
 * jschema - validates JSON documents (jansson values) against the JSON
 * Schemas of the canonical model in maps/canonical/ (prefix jschema_).
 *
 * Debian ships no maintained C library for JSON Schema 2020-12 that works
 * with jansson, so this module implements the subset our schemas use, and
 * refuses to load a schema that uses a validation keyword outside it (a
 * schema edit must not be silently ignored):
 *
 *   type (a name or an array of names; "integer" is a number without a
 *   fraction), properties, required, additionalProperties (false or a
 *   schema), items (one schema for every element), minItems, maxItems,
 *   enum, const, anyOf, minLength, maxLength (in code points), minimum,
 *   maximum, pattern, $ref to "#/$defs/NAME" or "FILE#/$defs/NAME" (another
 *   schema of the same folder), $defs.
 *   Annotations are ignored: $schema, $id, title, description, format,
 *   examples, $comment, default.
 *
 * PATTERNS
 *   Compiled as POSIX extended regular expressions (regcomp REG_EXTENDED),
 *   after replacing the ECMA-262 class escapes \d \w \s with their ASCII
 *   bracket expressions. Lookahead, backreferences and other ECMA-only
 *   syntax are refused at load time. Like JSON Schema, a pattern matches
 *   anywhere unless anchored.
 *
 * ERRORS
 *   The first failure only, with the JSON path of the offending value in
 *   the form $.lines[2].unit, and what was expected and found.
 *
 * NEVER
 *   Recurses without bound: documents deeper than JSCHEMA_MAX_DEPTH and
 *   $ref chains longer than that fail cleanly. Touches the network.
 */
#ifndef EDIGATE_JSCHEMA_H
#define EDIGATE_JSCHEMA_H

#include <stddef.h>

#include <jansson.h>

#define JSCHEMA_MAX_DEPTH 64

struct jschema_error {
	char path[256];     /* "$.lines[0].quantity"; "$" is the document */
	char message[256];
};

typedef struct jschema_set jschema_set;

/*
 * Loads every *.schema.json of dir. NULL on failure with "file: what" in
 * err (bad JSON, unsupported keyword, pattern that does not compile,
 * dangling $ref). Allocates; jschema_set_free releases.
 */
jschema_set *jschema_set_load(const char *dir, char *err, size_t errsize);
/* The same from one schema text held in memory, named name (what "$ref":
 * "name#/..." refers to). For tests and the fuzzer. */
jschema_set *jschema_set_from_text(const char *name, const char *text,
    size_t len, char *err, size_t errsize);
void jschema_set_free(jschema_set *set);

/* 1 when the set holds the schema file name ("invoice.schema.json"). */
int jschema_has(const jschema_set *set, const char *name);

/* 0 when doc is valid against schema file name; -1 with err otherwise
 * (also when there is no such schema). */
int jschema_validate(const jschema_set *set, const char *name,
    const json_t *doc, struct jschema_error *err);

#endif
