/*
 * fuzz_jschema - libFuzzer target for the canonical JSON Schema validator.
 *
 * The input is parsed as a JSON document (what POST /api/v1/documents
 * receives) and validated against every shipped canonical schema; with
 * FUZZ_TARGET=schema the input is loaded as a schema instead and, when
 * accepted, validates a few fixed documents. Nothing may crash, leak or
 * recurse without bound.
 *
 *   EDIGATE_MAPS=maps ./tests/fuzz/fuzz_jschema -max_total_time=60
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jschema.h"

static jschema_set *shipped;
static int schema_target;

static const char *const names[] = {
	"order.schema.json", "order_response.schema.json",
	"shipment.schema.json", "invoice.schema.json",
	"warehouse_order.schema.json", "warehouse_shipment.schema.json",
	"functional_ack.schema.json"
};

#ifndef FUZZ_MAPS_DIR
#define FUZZ_MAPS_DIR "maps"
#endif

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jschema_error e;
	json_error_t je;
	char err[512];
	size_t i;

	if (shipped == NULL && !schema_target) {
		char dir[1024];
		const char *maps = getenv("EDIGATE_MAPS");
		const char *t = getenv("FUZZ_TARGET");
		schema_target = t && !strcmp(t, "schema");
		/* The source tree's maps unless EDIGATE_MAPS names others,
		 * so the target runs from any directory (deploy/test.sh runs
		 * it in build/). */
		snprintf(dir, sizeof(dir), "%s/canonical", maps ? maps :
		    FUZZ_MAPS_DIR);
		if (!schema_target &&
		    (shipped = jschema_set_load(dir, err, sizeof(err))) == NULL) {
			fprintf(stderr, "fuzz_jschema: %s\n", err);
			abort();
		}
	}
	if (schema_target) {
		static const char *const docs[] = {
			"{}", "[1,\"a\",null]", "{\"a\":{\"b\":[true,1.5]}}", "\"x\"",
		};
		jschema_set *s = jschema_set_from_text("f.schema.json",
		    (const char *)data, size, err, sizeof(err));
		if (s == NULL)
			return 0;
		for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
			json_t *d = json_loads(docs[i], JSON_DECODE_ANY, &je);
			(void)jschema_validate(s, "f.schema.json", d, &e);
			json_decref(d);
		}
		jschema_set_free(s);
		return 0;
	}
	json_t *doc = json_loadb((const char *)data, size,
	    JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
	if (doc == NULL)
		return 0;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		(void)jschema_validate(shipped, names[i], doc, &e);
	json_decref(doc);
	return 0;
}
