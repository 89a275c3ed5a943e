/*
 * router - method and path-prefix routing. See router.h.
 *
 * A linear scan: the table holds a few dozen routes at most and is read
 * once per request, far below the cost of parsing the request itself.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "router.h"

void
router_init(struct router *r)
{
	memset(r, 0, sizeof(*r));
}

int
router_add(struct router *r, const char *method, const char *prefix,
    void *handler, void *ctx)
{
	struct router_route *rt;
	size_t n, i;

	if (r->nroutes >= ROUTER_MAX_ROUTES || prefix == NULL ||
	    prefix[0] != '/' || handler == NULL)
		return -1;
	n = strlen(prefix);
	if (n >= ROUTER_MAX_PREFIX ||
	    (method && strlen(method) >= sizeof(rt->method)))
		return -1;
	while (n > 1 && prefix[n - 1] == '/')
		n--;
	for (i = 0; i < r->nroutes; i++) {
		rt = &r->routes[i];
		if (strlen(rt->prefix) == n && !strncmp(rt->prefix, prefix, n) &&
		    !strcmp(rt->method, method ? method : ""))
			return -1;
	}
	rt = &r->routes[r->nroutes++];
	snprintf(rt->method, sizeof(rt->method), "%s", method ? method : "");
	memcpy(rt->prefix, prefix, n);
	rt->prefix[n] = '\0';
	rt->handler = handler;
	rt->ctx = ctx;
	return 0;
}

static int
prefix_matches(const char *prefix, const char *path)
{
	size_t n = strlen(prefix);

	if (n == 1)
		return path[0] == '/';
	return strncmp(prefix, path, n) == 0 &&
	    (path[n] == '\0' || path[n] == '/');
}

enum router_result
router_match(const struct router *r, const char *method, const char *path,
    const struct router_route **route, char *allow, size_t allow_size)
{
	const struct router_route *best = NULL, *any = NULL;
	size_t i, bestlen = 0, len, used = 0;
	int path_found = 0;

	*route = NULL;
	if (allow && allow_size)
		allow[0] = '\0';
	/* Longest matching prefix first, whatever the method. */
	for (i = 0; i < r->nroutes; i++) {
		len = strlen(r->routes[i].prefix);
		if (prefix_matches(r->routes[i].prefix, path) &&
		    (!path_found || len > bestlen)) {
			path_found = 1;
			bestlen = len;
		}
	}
	if (!path_found)
		return ROUTER_NOT_FOUND;
	for (i = 0; i < r->nroutes; i++) {
		const struct router_route *rt = &r->routes[i];
		if (strlen(rt->prefix) != bestlen ||
		    !prefix_matches(rt->prefix, path))
			continue;
		if (rt->method[0] == '\0')
			any = rt;
		else if (!strcmp(rt->method, method))
			best = rt;
		else if (allow && used + strlen(rt->method) + 3 < allow_size)
			used += (size_t)snprintf(allow + used, allow_size - used,
			    "%s%s", used ? ", " : "", rt->method);
	}
	*route = best ? best : any;
	if (*route)
		return ROUTER_FOUND;
	return ROUTER_METHOD_NOT_ALLOWED;
}
