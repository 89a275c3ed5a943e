/*
 * router - which handler serves a request, by method and path prefix.
 *
 * OWNS
 *   The route table. It knows nothing of HTTP libraries: a route is a
 *   method (or NULL for any), a path prefix, a handler pointer and its
 *   context, all opaque to the router. daemon.c puts libevent around it.
 *
 * RULES
 *   - A prefix matches the path itself and anything below it at a '/'
 *     boundary: "/as2" matches "/as2", "/as2/" and "/as2/acme", never
 *     "/as2x". The prefix "/" matches every path.
 *   - The longest matching prefix wins; among routes with that prefix the
 *     one whose method equals the request's wins, then a NULL-method route.
 *   - When a prefix matches but no method does, the result is
 *     ROUTER_METHOD_NOT_ALLOWED and `allow` lists the methods that would
 *     have matched (for the Allow header of a 405).
 *   - The query string is not part of the path: the caller strips it.
 *
 * NEVER
 *   Calls a handler itself, or changes the table while matching (routes
 *   are added at start-up, before the event loop runs).
 */
#ifndef EDIGATE_ROUTER_H
#define EDIGATE_ROUTER_H

#include <stddef.h>

#define ROUTER_MAX_ROUTES 64
#define ROUTER_MAX_PREFIX 128

struct router_route {
	char method[16];              /* "" for any method */
	char prefix[ROUTER_MAX_PREFIX];
	void *handler;
	void *ctx;
};

struct router {
	struct router_route routes[ROUTER_MAX_ROUTES];
	size_t nroutes;
};

enum router_result {
	ROUTER_FOUND = 0,
	ROUTER_NOT_FOUND,
	ROUTER_METHOD_NOT_ALLOWED
};

void router_init(struct router *r);

/* Returns 0, or -1 for a full table, a prefix not starting with '/' or
 * too long, or a method/prefix pair that is already routed. A trailing
 * '/' on a prefix other than "/" is dropped. */
int router_add(struct router *r, const char *method, const char *prefix,
    void *handler, void *ctx);

/* Finds the route for method and path. allow (may be NULL) receives a
 * comma-separated method list on ROUTER_METHOD_NOT_ALLOWED. */
enum router_result router_match(const struct router *r, const char *method,
    const char *path, const struct router_route **route, char *allow,
    size_t allow_size);

#endif
