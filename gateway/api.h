/*
 * api - the REST API for the ERP, the WMS and operations (prefix api_),
 * under /api/v1 on every listener whose routes include it. The reference
 * is docs/api.md and deploy/openapi.yaml.
 *
 * OWNS
 *   Authentication (bearer tokens from [token.NAME] sections, stored as
 *   SHA-256 hashes, compared in constant time), scopes (systems, partners,
 *   read/write/ops), per-token rate limits (token bucket; 429 with
 *   Retry-After), body size limits ([api] max_body_size; 413), JSON
 *   Schema validation of posted canonical documents (422 naming the JSON
 *   path), Idempotency-Key handling (same key and body: the first answer
 *   again; another body: 409), and the JSON views of documents, partners,
 *   acknowledgments and dead letters.
 *
 * INVARIANTS
 *   - A posted document is in the spool and the store, routed (its
 *     deliveries queued) and its answer recorded under its idempotency key
 *     before the 202 goes out.
 *   - A token's plain text is never stored or logged; only its hash is in
 *     the configuration.
 *
 * THREADS
 *   Handlers run on the loop thread: authentication, scope, rate limit
 *   and body size there; the store work of POST /documents (schema,
 *   idempotency, spool, message, routing) runs on the daemon's worker
 *   pool with each worker thread's own store connection, and the answer
 *   goes out from the loop when the job is done (503 with Retry-After
 *   when the worker queue is full). The GET and ops handlers still read
 *   the store on the loop thread with the API's connection.
 *
 * NEVER
 *   Answers 5xx for a client's mistake, or exits on any request.
 */
#ifndef EDIGATE_API_H
#define EDIGATE_API_H

#include <stddef.h>

struct daemon;
struct route;
struct api;

/*
 * Reads [api] and [token.*] from the daemon's configuration, opens its
 * store connection and the canonical schemas, and registers /api/v1 with
 * the daemon (call before daemon_run, after privileges were dropped).
 * r routes posted documents. NULL with "file:line: what" in err.
 */
struct api *api_new(struct daemon *d, struct route *r, char *err,
    size_t errsize);
void api_free(struct api *a);

/* Lowercase hex SHA-256 of a token, as [token.NAME] hash wants it
 * (`printf %s TOKEN | sha256sum` gives the same). out holds 65 bytes. */
void api_token_hash(const char *token, char out[65]);

#endif
