/*
 * daemon - the frame of edigated: event loop, listeners, HTTP(S), routing,
 * worker pool, metrics, health, reload and shutdown. Transports and the
 * API plug into it; it knows nothing of AS2, the store or EDI.
 *
 * LIFE CYCLE (edigated.c drives it)
 *   daemon_new(cfg)           event base, metrics, workers, built-in routes
 *   daemon_route_add(...)     modules register their handlers and hooks
 *   daemon_listen(d)          binds every listener, loads TLS keys (as root)
 *   daemon_drop_privileges(d) setgid/setuid to the configured user
 *   daemon_run(d)             the loop, until SIGTERM/SIGINT; returns 0
 *   daemon_free(d)
 *
 * REQUESTS
 *   Every request gets a correlation id (the client's X-Correlation-Id when
 *   it is well-formed, else a new one), echoed in the X-Correlation-Id
 *   response header and in every log line about it. A handler owns its
 *   struct daemon_request until it calls one of the daemon_reply*
 *   functions, exactly once; it may reply later (e.g. from a worker job's
 *   done callback on the loop thread). After the reply the request is gone.
 *   The body has been read completely (up to max_body_size) before the
 *   handler runs.
 *   Built-in: GET /healthz, GET /metrics on every listener. Only with
 *   debug_endpoints = yes, for the test suite: /debug/delay?ms=N (a worker
 *   job that sleeps), /debug/echo (body length), /debug/bytes?n=N (a large
 *   response).
 *
 * STREAMING LISTENERS (stream_bodies = yes in [listen.NAME])
 *   Requests are read by http_reader.h instead of evhttp, so a body is
 *   handled as it arrives: up to [limits] body_in_memory in memory, a
 *   larger one written to an anonymous file in state_dir chunk by chunk
 *   (daemon_request_body_file), so a request of several GB needs no more
 *   memory than a small one. Same routes, handlers, correlation ids,
 *   metrics and limits; Content-Length and chunked bodies, Expect:
 *   100-continue, keep-alive. A body over max_body_size gets 413, a head
 *   over max_header_size 431, a malformed request 400, each with
 *   Connection: close; read_timeout applies between reads of a request
 *   (not while its handler runs), write_timeout to the response.
 *
 * LIMITS (from [limits])
 *   Larger bodies get 413 before the handler runs (from the Content-Length,
 *   before the body is read); a request line plus headers over
 *   max_header_size gets 400; a connection idle longer than read_timeout
 *   while a request is read is closed, as is one that accepts no bytes of
 *   a response for write_timeout. These answers come from libevent itself:
 *   they carry no X-Correlation-Id and are not in the request metrics.
 *   There is no total deadline for receiving a request: a client that
 *   sends one byte per read_timeout keeps its connection (bounded in
 *   memory by the size limits).
 *
 * RELOAD (SIGHUP)
 *   The configuration file is read again. If it is invalid the error is
 *   logged with file:line and nothing changes. Otherwise every reload hook
 *   prepares its new data from the new configuration; if one fails (it
 *   reports file:line in its message) every prepared hook is aborted and
 *   nothing changes; else all commit, and log level and limits take the
 *   new values. Listeners, user and workers need a restart (logged).
 *
 * SHUTDOWN (SIGTERM, SIGINT)
 *   Listening sockets close at once; requests being handled and worker
 *   jobs finish, up to shutdown_grace; then the loop ends and daemon_run
 *   returns 0. Responses written during the drain carry Connection: close.
 *   When the grace period ran out, daemon_cut_short() says so: jobs still
 *   running are abandoned and the caller ends the process. A second
 *   signal ends the loop at once.
 *
 * SYSTEMD
 *   With $NOTIFY_SOCKET set: READY=1 when serving, RELOADING=1 and READY=1
 *   around a reload, STOPPING=1 at shutdown (Type=notify).
 *
 * THREADS
 *   Everything here runs on the loop thread except metrics updates, which
 *   are thread-safe, and worker jobs (workers.h).
 *
 * NEVER
 *   Exits on anything a client sends; a handler's client error is answered
 *   and logged.
 */
#ifndef EDIGATE_DAEMON_H
#define EDIGATE_DAEMON_H

#include <stddef.h>
#include <stdint.h>

#include "configfile.h"
#include "metrics.h"
#include "workers.h"

struct daemon;
struct daemon_request;
struct event_base;
struct evbuffer;
struct evhttp_request;

typedef void (*daemon_handler_fn)(struct daemon_request *r, void *ctx);

/* Takes ownership of cfg. NULL on failure, with a message in err. */
struct daemon *daemon_new(struct config *cfg, char *err, size_t errsize);
int daemon_listen(struct daemon *d, char *err, size_t errsize);
int daemon_drop_privileges(struct daemon *d, char *err, size_t errsize);
/* Loads every https listener's certificate, key and cipher settings the
 * way daemon_listen() does, without binding (edigated -t). */
int daemon_check_tls(const struct config *cfg, char *err, size_t errsize);
int daemon_run(struct daemon *d);
/* 1 when the shutdown grace period ran out with work still running: the
 * caller should end the process (_exit) rather than free what worker
 * threads may still touch. daemon_free() stays safe either way. */
int daemon_cut_short(const struct daemon *d);
void daemon_free(struct daemon *d);

struct event_base *daemon_base(struct daemon *d);
struct metrics *daemon_metrics(struct daemon *d);
struct workers *daemon_workers(struct daemon *d);
/* The configuration in force; replaced on a successful reload, so do not
 * keep the pointer past the current callback. */
const struct config *daemon_config(struct daemon *d);

/* Metric families every module shares. */
struct daemon_std_metrics {
	/* edigate_messages_total{direction="in"|"out",partner,type} */
	struct metrics_family *messages;
	/* edigate_http_requests_total{listener,route,method,status} */
	struct metrics_family *http_requests;
	/* edigate_http_request_duration_seconds{listener,route} */
	struct metrics_family *http_duration;
};
const struct daemon_std_metrics *daemon_std_metrics(struct daemon *d);

/* Routes method (NULL: any) and path prefix (router.h rules) to fn on
 * every listener whose `routes` setting lists that prefix (or that has
 * none). Call before daemon_run. 0, or -1 (table full, bad or duplicate
 * prefix). */
int daemon_route_add(struct daemon *d, const char *method,
    const char *prefix, daemon_handler_fn fn, void *ctx);

/* Health: each check returns 0 when healthy, else nonzero with a short
 * reason in detail. /healthz answers 200 when all pass, 503 otherwise,
 * with {"status","version","uptime_seconds","checks":{name:"ok"|reason}}.
 * Checks run on the loop thread and must be quick. */
typedef int (*daemon_health_fn)(void *ctx, char *detail, size_t size);
int daemon_health_add(struct daemon *d, const char *name,
    daemon_health_fn fn, void *ctx);

/* Reload hooks (see RELOAD). prepare builds new data from cfg without
 * touching what is in use and stores it in *pending; on failure it writes
 * "file:line: what" into err and returns nonzero. commit swaps pending in;
 * abort frees it. Hooks run on the loop thread in registration order. */
struct daemon_reload_hook {
	const char *name;
	int (*prepare)(void *ctx, const struct config *cfg, void **pending,
	    char *err, size_t errsize);
	void (*commit)(void *ctx, void *pending);
	void (*abort)(void *ctx, void *pending);
};
int daemon_reload_hook_add(struct daemon *d,
    const struct daemon_reload_hook *hook, void *ctx);
/* What SIGHUP does; 0 when the new set is in force. */
int daemon_reload(struct daemon *d);

/* Request accessors; strings live as long as the request. */
struct evhttp_request *daemon_request_http(struct daemon_request *r);
struct daemon *daemon_request_daemon(struct daemon_request *r);
const char *daemon_request_correlation_id(const struct daemon_request *r);
const char *daemon_request_listener(const struct daemon_request *r);
const char *daemon_request_remote(const struct daemon_request *r);
const char *daemon_request_method(const struct daemon_request *r);
const char *daemon_request_path(const struct daemon_request *r);
const char *daemon_request_query(const struct daemon_request *r);
const char *daemon_request_header(struct daemon_request *r, const char *name);
struct evbuffer *daemon_request_body(struct daemon_request *r);
/* On a listener with stream_bodies = yes, a body larger than [limits]
 * body_in_memory arrives in an anonymous file (already unlinked) and
 * never in memory: this hands the descriptor to the caller, who closes
 * it, with the body's length in *len. -1 when the body is in memory
 * (then daemon_request_body has it). daemon_request_body on a body in a
 * file gives a buffer that reads the file when pulled up. */
int daemon_request_body_file(struct daemon_request *r, uint64_t *len);
/* Adds a response header (before the reply). */
void daemon_request_add_header(struct daemon_request *r, const char *name,
    const char *value);

/* Replies and releases r. body may be NULL for an empty body. */
void daemon_reply(struct daemon_request *r, int status,
    const char *content_type, const void *body, size_t len);
/* Same, moving the contents out of buf (which the caller still owns). */
void daemon_reply_buffer(struct daemon_request *r, int status,
    const char *content_type, struct evbuffer *buf);
/* {"error": message, "correlation_id": ...} with the status. */
void daemon_reply_error(struct daemon_request *r, int status,
    const char *message);

#endif
