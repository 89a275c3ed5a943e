/*
 * daemon - event loop, listeners, HTTP(S), routing, health, metrics,
 * reload and shutdown. See daemon.h for the contract.
 *
 * One evhttp per listener: the TLS choice is made per evhttp (its bevcb),
 * and limits are set per evhttp too, so a listener is the natural unit.
 * All listeners share one router, one metrics registry and one pool.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "daemon.h"
#include "http_reader.h"
#include "log.h"
#include "router.h"

#define DAEMON_MAX_HEALTH 16
#define DAEMON_MAX_HOOKS 16

struct listener {
	struct daemon *d;
	char name[40];
	char address[300];     /* host:port as logged */
	char *host;
	unsigned port;
	int https;
	unsigned line;         /* config line, for errors */
	char *routes;          /* NULL: all; else " /a /b " to search */
	struct evhttp *http;
	struct evhttp_bound_socket *sock;
	SSL_CTX *ssl;
	/* stream_bodies = yes: our own HTTP reader instead of evhttp */
	int stream;
	struct evconnlistener *accept;
	struct rawconn *conns;
};

struct route_entry {
	daemon_handler_fn fn;
	void *ctx;
};

struct health_check {
	char name[40];
	daemon_health_fn fn;
	void *ctx;
};

struct hook_entry {
	struct daemon_reload_hook hook;
	void *ctx;
};

struct daemon {
	struct config *cfg;
	struct event_base *base;
	struct metrics *metrics;
	struct daemon_std_metrics std;
	struct metrics_family *m_inflight, *m_uptime, *m_build, *m_busy,
	    *m_reloads, *m_start;
	struct workers *workers;
	struct router router;
	struct route_entry routes[ROUTER_MAX_ROUTES];
	size_t nroutes;
	struct listener *listeners;
	size_t nlisteners;
	struct health_check health[DAEMON_MAX_HEALTH];
	size_t nhealth;
	struct hook_entry hooks[DAEMON_MAX_HOOKS];
	size_t nhooks;
	struct event *ev_hup, *ev_term, *ev_int, *ev_grace, *ev_drain;
	int stopping;
	int grace_over;        /* shutdown could not wait for everything */
	int exit_code;
	size_t inflight;       /* dispatched, response not yet written */
	struct timespec started;
};

struct daemon_request {
	struct daemon *d;
	struct evhttp_request *req;    /* NULL on a streaming listener */
	struct rawconn *raw;           /* the streaming listener's connection */
	struct evkeyvalq *in_headers, *out_headers;
	struct evbuffer *in_body, *out_body;
	int body_fd;                   /* -1, or the body in a file */
	uint64_t body_len;
	struct listener *listener;
	const char *method;
	char *path;
	char *query;
	const char *route;     /* matched prefix, or a fixed label */
	char cid[65];
	char remote[80];
	struct timespec start;
};

static double
seconds_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) +
	    (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static const char *
method_name(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_PATCH: return "PATCH";
	default: return "OTHER";
	}
}

/* ---- replies ---------------------------------------------------------- */

static void
check_drained(struct daemon *d)
{
	if (d->stopping && d->inflight == 0 &&
	    (d->workers == NULL || workers_busy(d->workers) == 0))
		event_base_loopexit(d->base, NULL);
}

/*
 * A request counts as in flight from dispatch until its response is
 * written (on_complete) or its connection is gone (the close callback),
 * whichever comes first; libevent calls only one of them when a client
 * vanishes or a write times out. The token is settled exactly once.
 */
struct inflight_token {
	struct daemon *d;
	struct evhttp_connection *conn;
};

static void
token_settle(struct inflight_token *t)
{
	struct daemon *d = t->d;

	if (d->inflight > 0)
		d->inflight--;
	free(t);
	check_drained(d);
}

static void
on_complete(struct evhttp_request *req, void *arg)
{
	struct inflight_token *t = arg;

	if (t->conn)
		evhttp_connection_set_closecb(t->conn, NULL, NULL);
	token_settle(t);
}

static void
on_connection_close(struct evhttp_connection *conn, void *arg)
{
	token_settle(arg);
}

static void
request_finish(struct daemon_request *r, int status)
{
	struct daemon *d = r->d;
	double secs = seconds_since(&r->start);
	char st[8], ms[32];
	const char *labels[4];

	snprintf(st, sizeof(st), "%d", status);
	snprintf(ms, sizeof(ms), "%.3f", secs * 1000.0);
	labels[0] = r->listener->name;
	labels[1] = r->route;
	labels[2] = r->method;
	labels[3] = st;
	metrics_counter_add(d->std.http_requests, labels, 1);
	metrics_histogram_observe(d->std.http_duration, labels, secs);
	log_write(status >= 500 ? LOG_LEVEL_WARN : LOG_LEVEL_INFO, "request",
	    "correlation_id", r->cid, "listener", r->listener->name,
	    "remote", r->remote, "method", r->method, "path", r->path,
	    "status", st, "duration_ms", ms, NULL);
	if (r->body_fd >= 0)
		close(r->body_fd);
	free(r->path);
	free(r->query);
	free(r);
}

static void raw_send(struct daemon_request *r, int status);

static void
send_and_release(struct daemon_request *r, int status)
{
	struct evhttp_request *req = r->req;

	if (r->raw) {
		raw_send(r, status);
		return;
	}

	/* When the client has gone, libevent frees req here; the connection's
	 * close callback has settled the in-flight count already. */
	request_finish(r, status);
	evhttp_send_reply(req, status, NULL, NULL);
}

static void
set_content_type(struct daemon_request *r, const char *content_type)
{
	struct evkeyvalq *h = r->out_headers;

	if (content_type) {
		evhttp_remove_header(h, "Content-Type");
		evhttp_add_header(h, "Content-Type", content_type);
	}
}

void
daemon_reply(struct daemon_request *r, int status, const char *content_type,
    const void *body, size_t len)
{
	set_content_type(r, content_type);
	if (body && len)
		evbuffer_add(r->out_body, body, len);
	send_and_release(r, status);
}

void
daemon_reply_buffer(struct daemon_request *r, int status,
    const char *content_type, struct evbuffer *buf)
{
	set_content_type(r, content_type);
	if (buf)
		evbuffer_add_buffer(r->out_body, buf);
	send_and_release(r, status);
}

/* JSON string body without a JSON library: messages are ours, but may
 * quote client input, so escape everything below 0x20 and the quotes. */
static void
add_json_string(struct evbuffer *b, const char *s)
{
	evbuffer_add(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			evbuffer_add_printf(b, "\\%c", c);
		else if (c < 0x20)
			evbuffer_add_printf(b, "\\u%04x", c);
		else
			evbuffer_add(b, s, 1);
	}
	evbuffer_add(b, "\"", 1);
}

void
daemon_reply_error(struct daemon_request *r, int status, const char *message)
{
	struct evbuffer *b = r->out_body;

	evbuffer_add_printf(b, "{\"error\":");
	add_json_string(b, message);
	evbuffer_add_printf(b, ",\"correlation_id\":\"%s\"}\n", r->cid);
	set_content_type(r, "application/json");
	send_and_release(r, status);
}

/* ---- accessors -------------------------------------------------------- */

struct evhttp_request *
daemon_request_http(struct daemon_request *r)
{
	return r->req;
}

struct daemon *
daemon_request_daemon(struct daemon_request *r)
{
	return r->d;
}

const char *
daemon_request_correlation_id(const struct daemon_request *r)
{
	return r->cid;
}

const char *
daemon_request_listener(const struct daemon_request *r)
{
	return r->listener->name;
}

const char *
daemon_request_remote(const struct daemon_request *r)
{
	return r->remote;
}

const char *
daemon_request_method(const struct daemon_request *r)
{
	return r->method;
}

const char *
daemon_request_path(const struct daemon_request *r)
{
	return r->path;
}

const char *
daemon_request_query(const struct daemon_request *r)
{
	return r->query;
}

const char *
daemon_request_header(struct daemon_request *r, const char *name)
{
	return evhttp_find_header(r->in_headers, name);
}

struct evbuffer *
daemon_request_body(struct daemon_request *r)
{
	/* A body in a file becomes a file segment of the buffer: read into
	 * memory only by a handler that pulls it up. */
	if (r->body_fd >= 0) {
		if (r->body_len == 0 || evbuffer_add_file(r->in_body,
		    r->body_fd, 0, (ev_off_t)r->body_len) != 0)
			close(r->body_fd);
		r->body_fd = -1;
	}
	return r->in_body;
}

int
daemon_request_body_file(struct daemon_request *r, uint64_t *len)
{
	int fd = r->body_fd;

	r->body_fd = -1;
	if (fd >= 0)
		*len = r->body_len;
	return fd;
}

void
daemon_request_add_header(struct daemon_request *r, const char *name,
    const char *value)
{
	evhttp_add_header(r->out_headers, name, value);
}

struct event_base *
daemon_base(struct daemon *d)
{
	return d->base;
}

struct metrics *
daemon_metrics(struct daemon *d)
{
	return d->metrics;
}

struct workers *
daemon_workers(struct daemon *d)
{
	return d->workers;
}

const struct config *
daemon_config(struct daemon *d)
{
	return d->cfg;
}

const struct daemon_std_metrics *
daemon_std_metrics(struct daemon *d)
{
	return &d->std;
}

/* ---- dispatch --------------------------------------------------------- */

static struct timeval
ms_to_tv(unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	return tv;
}

/*
 * libevent 2.1 has one timeout per connection for reading and writing
 * (evhttp_set_timeout_tv: our read_timeout). Before the response is
 * written, the connection's bufferevent gets the write timeout for its
 * write side; libevent keeps per-connection timeouts for the connection's
 * life, so later requests on it are read with read_timeout still.
 */
static void
set_connection_timeouts(struct daemon *d, struct evhttp_connection *conn)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
	struct timeval rd = ms_to_tv(d->cfg->read_timeout_ms);
	struct timeval wr = ms_to_tv(d->cfg->write_timeout_ms);

	if (bev)
		bufferevent_set_timeouts(bev, &rd, &wr);
}

/* routes = in [listen.NAME] limits a listener to some route prefixes. */
static int
listener_serves(const struct listener *l, const char *prefix)
{
	char needle[ROUTER_MAX_PREFIX + 3];

	if (l->routes == NULL)
		return 1;
	snprintf(needle, sizeof(needle), " %s ", prefix);
	return strstr(l->routes, needle) != NULL;
}

static void dispatch(struct daemon_request *r);

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct listener *l = arg;
	struct daemon *d = l->d;
	struct daemon_request *r;
	struct inflight_token *token;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	const char *cid;
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	char *peer = NULL;
	ev_uint16_t port = 0;

	r = calloc(1, sizeof(*r));
	if (r == NULL || (r->path = strdup(path && *path ? path : "/")) ==
	    NULL || (query && (r->query = strdup(query)) == NULL)) {
		if (r)
			free(r->path);
		free(r);
		evhttp_send_error(req, 503, NULL);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &r->start);
	r->d = d;
	r->req = req;
	r->listener = l;
	r->body_fd = -1;
	r->in_headers = evhttp_request_get_input_headers(req);
	r->out_headers = evhttp_request_get_output_headers(req);
	r->in_body = evhttp_request_get_input_buffer(req);
	r->out_body = evhttp_request_get_output_buffer(req);
	r->method = method_name(evhttp_request_get_command(req));
	cid = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "X-Correlation-Id");
	if (log_correlation_id_valid(cid))
		snprintf(r->cid, sizeof(r->cid), "%s", cid);
	else
		log_correlation_id_new(r->cid);
	if (conn)
		evhttp_connection_get_peer(conn, &peer, &port);
	snprintf(r->remote, sizeof(r->remote), "%s%s%s:%u",
	    peer && strchr(peer, ':') ? "[" : "", peer ? peer : "?",
	    peer && strchr(peer, ':') ? "]" : "", (unsigned)port);

	token = calloc(1, sizeof(*token));
	if (token == NULL) {
		free(r->path);
		free(r->query);
		free(r);
		evhttp_send_error(req, 503, NULL);
		return;
	}
	token->d = d;
	token->conn = conn;
	d->inflight++;
	evhttp_request_set_on_complete_cb(req, on_complete, token);
	if (conn) {
		set_connection_timeouts(d, conn);
		evhttp_connection_set_closecb(conn, on_connection_close, token);
	}
	dispatch(r);
}

/* Routing, common to both kinds of listener. */
static void
dispatch(struct daemon_request *r)
{
	struct daemon *d = r->d;
	struct listener *l = r->listener;
	const struct router_route *rt;
	char allow[128];
	enum router_result res;

	daemon_request_add_header(r, "X-Correlation-Id", r->cid);
	if (d->stopping)
		daemon_request_add_header(r, "Connection", "close");

	res = router_match(&d->router, r->method, r->path, &rt, allow,
	    sizeof(allow));
	if (res == ROUTER_NOT_FOUND) {
		r->route = "unmatched";
		daemon_reply_error(r, 404, "no such path");
		return;
	}
	if (res == ROUTER_METHOD_NOT_ALLOWED) {
		r->route = "unmatched";
		if (allow[0])
			daemon_request_add_header(r, "Allow", allow);
		daemon_reply_error(r, 405, "method not allowed for this path");
		return;
	}
	if (!listener_serves(l, rt->prefix)) {
		r->route = "unmatched";
		daemon_reply_error(r, 404, "no such path");
		return;
	}
	r->route = rt->prefix;
	((struct route_entry *)rt->handler)->fn(r,
	    ((struct route_entry *)rt->handler)->ctx);
}

int
daemon_route_add(struct daemon *d, const char *method, const char *prefix,
    daemon_handler_fn fn, void *ctx)
{
	struct route_entry *e;

	if (fn == NULL || d->nroutes >= ROUTER_MAX_ROUTES)
		return -1;
	e = &d->routes[d->nroutes];
	e->fn = fn;
	e->ctx = ctx;
	if (router_add(&d->router, method, prefix, e, NULL) != 0)
		return -1;
	d->nroutes++;
	return 0;
}

int
daemon_health_add(struct daemon *d, const char *name, daemon_health_fn fn,
    void *ctx)
{
	struct health_check *h;

	if (d->nhealth >= DAEMON_MAX_HEALTH || fn == NULL)
		return -1;
	h = &d->health[d->nhealth++];
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->fn = fn;
	h->ctx = ctx;
	return 0;
}

int
daemon_reload_hook_add(struct daemon *d, const struct daemon_reload_hook *hook,
    void *ctx)
{
	if (d->nhooks >= DAEMON_MAX_HOOKS || hook == NULL ||
	    hook->prepare == NULL || hook->commit == NULL)
		return -1;
	d->hooks[d->nhooks].hook = *hook;
	d->hooks[d->nhooks].ctx = ctx;
	d->nhooks++;
	return 0;
}

/* ---- streaming listeners ------------------------------------------------ */

/*
 * One connection of a stream_bodies listener. The reader runs while no
 * request is out with a handler; reading is paused from the end of a
 * request until its response is written, so a pipelined next request
 * waits in the input buffer and the read timeout never fires on a slow
 * handler. A client that leaves while its request is out marks the
 * connection gone; the reply then only frees it.
 */
struct rawconn {
	struct listener *l;
	struct rawconn *prev, *next;
	struct bufferevent *bev;
	struct http_reader rd;
	struct evkeyvalq headers;
	struct evbuffer *mem;          /* body in memory */
	int fd;                        /* body in a file, or -1 */
	uint64_t len;                  /* bytes in fd */
	struct daemon_request *r;      /* with a handler, not answered yet */
	int unsettled;                 /* response queued, not yet flushed */
	int close_after;               /* close once the output is flushed */
	int linger;                    /* 1 refused: drain the input first;
	                                  2 draining */
	uint64_t lingered;             /* bytes discarded while lingering */
	int gone;                      /* socket closed while r was out */
	char remote[80];
};

static void raw_read(struct bufferevent *bev, void *arg);

static void
raw_settle(struct rawconn *c)
{
	struct daemon *d = c->l->d;

	if (!c->unsettled)
		return;
	c->unsettled = 0;
	if (d->inflight > 0)
		d->inflight--;
	check_drained(d);
}

static void
raw_body_reset(struct rawconn *c)
{
	if (c->mem) {
		evbuffer_free(c->mem);
		c->mem = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->len = 0;
}

/* Closes the socket; the struct stays while a handler holds c->r. */
static void
raw_close(struct rawconn *c)
{
	if (c->bev) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	raw_settle(c);
	if (c->r) {
		c->gone = 1;
		return;
	}
	raw_body_reset(c);
	evhttp_clear_headers(&c->headers);
	http_reader_free(&c->rd);
	if (c->prev)
		c->prev->next = c->next;
	else
		c->l->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
}

static const char *
status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	default: return status < 300 ? "OK" : status < 500 ? "Client Error" :
	    "Server Error";
	}
}

static void
raw_write_response(struct rawconn *c, int status, struct evkeyvalq *headers,
    struct evbuffer *body, int head_only)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	struct evkeyval *h;
	size_t len = body ? evbuffer_get_length(body) : 0;
	char date[64];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status,
	    status_text(status), date);
	if (headers)
		TAILQ_FOREACH(h, headers, next)
			if (strcasecmp(h->key, "Content-Length") != 0 &&
			    strcasecmp(h->key, "Connection") != 0)
				evbuffer_add_printf(out, "%s: %s\r\n", h->key,
				    h->value);
	evbuffer_add_printf(out, "Content-Length: %zu\r\n%s\r\n", len,
	    c->close_after ? "Connection: close\r\n" : "");
	if (body && !head_only)
		evbuffer_add_buffer(out, body);
}

/* A request the reader refused: answered here, then the connection
 * closes (its framing can no longer be trusted). */
static void
raw_refuse(struct rawconn *c, int status, const char *why)
{
	struct evbuffer *b = evbuffer_new();

	log_write(LOG_LEVEL_INFO, "request refused", "listener", c->l->name,
	    "remote", c->remote, "reason", why, NULL);
	c->close_after = 1;
	c->linger = 1;
	bufferevent_disable(c->bev, EV_READ);
	if (b) {
		evbuffer_add_printf(b, "{\"error\":");
		add_json_string(b, why);
		evbuffer_add_printf(b, "}\n");
	}
	raw_write_response(c, status, NULL, b, 0);
	if (b)
		evbuffer_free(b);
}

static int
raw_on_head(void *ctx, struct http_reader *rd)
{
	struct rawconn *c = ctx;

	for (size_t i = 0; i < rd->nfields; i++)
		if (evhttp_add_header(&c->headers, rd->fields[i].name,
		    rd->fields[i].value) != 0)
			return -1;
	raw_body_reset(c);
	c->mem = evbuffer_new();
	if (c->mem == NULL)
		return -1;
	/* The 100 only once the limits are known to be met (the reader has
	 * checked Content-Length), so a refused body is never sent. */
	if (rd->expect_continue && (rd->chunked || rd->content_length > 0))
		bufferevent_write(c->bev, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	return 0;
}

static int
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Body bytes as they arrive. The write to the file happens on the loop
 * thread: it lands in the page cache at memory speed, but on a disk that
 * cannot keep up the kernel throttles it and the loop waits with it.
 */
static int
raw_on_body(void *ctx, const void *data, size_t len)
{
	struct rawconn *c = ctx;
	struct daemon *d = c->l->d;

	if (c->fd < 0 && evbuffer_get_length(c->mem) + len >
	    d->cfg->body_in_memory) {
		/* Over the in-memory size: what came so far and the rest go
		 * to an anonymous file; the buffer is freed. */
		int fd = -1;
#ifdef O_TMPFILE
		fd = open(d->cfg->state_dir, O_TMPFILE | O_RDWR | O_CLOEXEC,
		    0600);
#endif
		if (fd < 0) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/body-XXXXXX",
			    d->cfg->state_dir);
			fd = mkstemp(path);
			if (fd >= 0)
				unlink(path);
		}
		if (fd < 0) {
			log_warn("cannot open a file for a request body",
			    "listener", c->l->name, "error", strerror(errno),
			    NULL);
			return -1;
		}
		c->fd = fd;
		c->len = evbuffer_get_length(c->mem);
		if (c->len > 0 && write_all(fd, evbuffer_pullup(c->mem, -1),
		    (size_t)c->len) != 0)
			return -1;
		evbuffer_drain(c->mem, (size_t)c->len);
	}
	if (c->fd >= 0) {
		if (write_all(c->fd, data, len) != 0) {
			log_warn("cannot write a request body", "listener",
			    c->l->name, "error", strerror(errno), NULL);
			return -1;
		}
		c->len += len;
		return 0;
	}
	return evbuffer_add(c->mem, data, len);
}

static const struct http_reader_callbacks raw_callbacks = {
	raw_on_head, raw_on_body
};

/* A complete request: to the router, as a daemon_request. */
static void
raw_dispatch(struct rawconn *c)
{
	struct daemon *d = c->l->d;
	struct daemon_request *r;
	const char *target = c->rd.target, *q, *cid;

	bufferevent_disable(c->bev, EV_READ);
	/* Absolute form (RFC 9112 section 3.2.2): only the path counts. */
	if (strncasecmp(target, "http://", 7) == 0 ||
	    strncasecmp(target, "https://", 8) == 0) {
		const char *slash = strchr(strstr(target, "//") + 2, '/');
		target = slash ? slash : "/";
	}
	if (*target != '/') {
		raw_refuse(c, 400, "request target must be a path");
		return;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		raw_refuse(c, 503, "out of memory");
		return;
	}
	q = strchr(target, '?');
	r->path = q ? strndup(target, (size_t)(q - target)) : strdup(target);
	r->query = q ? strdup(q + 1) : NULL;
	r->out_headers = calloc(1, sizeof(*r->out_headers));
	r->out_body = evbuffer_new();
	if (r->path == NULL || (q && r->query == NULL) ||
	    r->out_headers == NULL || r->out_body == NULL) {
		free(r->path);
		free(r->query);
		free(r->out_headers);
		if (r->out_body)
			evbuffer_free(r->out_body);
		free(r);
		raw_refuse(c, 503, "out of memory");
		return;
	}
	TAILQ_INIT(r->out_headers);
	clock_gettime(CLOCK_MONOTONIC, &r->start);
	r->d = d;
	r->raw = c;
	r->listener = c->l;
	r->method = c->rd.method;
	r->in_headers = &c->headers;
	r->in_body = c->mem;
	r->body_fd = c->fd;
	r->body_len = c->len;
	c->fd = -1;            /* the request owns the file now */
	c->len = 0;
	cid = evhttp_find_header(&c->headers, "X-Correlation-Id");
	if (log_correlation_id_valid(cid))
		snprintf(r->cid, sizeof(r->cid), "%s", cid);
	else
		log_correlation_id_new(r->cid);
	snprintf(r->remote, sizeof(r->remote), "%s", c->remote);
	c->r = r;
	if (!c->rd.keep_alive || d->stopping)
		c->close_after = 1;
	d->inflight++;
	c->unsettled = 1;
	dispatch(r);
}

static void
raw_send(struct daemon_request *r, int status)
{
	struct rawconn *c = r->raw;
	struct evbuffer *body = r->out_body;
	struct evkeyvalq *headers = r->out_headers;
	int head_only = strcmp(r->method, "HEAD") == 0;

	/* request_finish logs with r's strings, which live in c's reader. */
	c->r = NULL;
	request_finish(r, status);
	if (c->gone)
		raw_close(c);
	else {
		if (c->l->d->stopping)
			c->close_after = 1;
		raw_write_response(c, status, headers, body, head_only);
		/* Next request (or close) once this response is flushed:
		 * raw_write runs then. */
		evhttp_clear_headers(&c->headers);
		raw_body_reset(c);
		http_reader_reset(&c->rd);
	}
	evhttp_clear_headers(headers);
	free(headers);
	evbuffer_free(body);
}

/*
 * A refused client may still be sending its body. Closing a socket with
 * unread input makes the kernel answer with a reset, which can destroy
 * the refusal before the client reads it; so, as HTTP servers do, the
 * write side is shut and the input read and thrown away until the client
 * closes, for a few seconds and a bounded number of bytes at most.
 */
#define RAW_LINGER_SECONDS 5
#define RAW_LINGER_MAX_BYTES (64u << 20)

static void raw_event(struct bufferevent *bev, short what, void *arg);

static void
raw_linger_read(struct bufferevent *bev, void *arg)
{
	struct rawconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	c->lingered += evbuffer_get_length(in);
	evbuffer_drain(in, evbuffer_get_length(in));
	if (c->lingered > RAW_LINGER_MAX_BYTES)
		raw_close(c);
}

static void
raw_linger(struct rawconn *c)
{
	struct timeval tv = { RAW_LINGER_SECONDS, 0 };
	evutil_socket_t fd = bufferevent_getfd(c->bev);

	if (fd < 0 || shutdown(fd, SHUT_WR) != 0) {
		raw_close(c);
		return;
	}
	c->linger = 2;
	bufferevent_setcb(c->bev, raw_linger_read, NULL, raw_event, c);
	bufferevent_set_timeouts(c->bev, &tv, NULL);
	bufferevent_enable(c->bev, EV_READ);
}

static void
raw_write(struct bufferevent *bev, void *arg)
{
	struct rawconn *c = arg;

	if (c->r || evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		return;
	raw_settle(c);
	if (c->close_after && c->linger == 1) {
		raw_linger(c);
		return;
	}
	if (c->close_after) {
		raw_close(c);
		return;
	}
	if (c->rd.state == HTTP_READER_HEAD && c->rd.head_len == 0 &&
	    !(bufferevent_get_enabled(bev) & EV_READ)) {
		bufferevent_enable(bev, EV_READ);
		/* A pipelined request may be waiting in the input already. */
		if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
			raw_read(bev, c);
	}
}

static void
raw_read(struct bufferevent *bev, void *arg)
{
	struct rawconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (c->r == NULL && !c->close_after &&
	    evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		size_t n;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		n = http_reader_feed(&c->rd, v.iov_base, v.iov_len);
		evbuffer_drain(in, n);
		if (c->rd.state == HTTP_READER_ERROR) {
			raw_refuse(c, c->rd.status, c->rd.message);
			return;
		}
		if (c->rd.state == HTTP_READER_DONE) {
			raw_dispatch(c);
			return;
		}
	}
}

static void
raw_event(struct bufferevent *bev, short what, void *arg)
{
	struct rawconn *c = arg;

	(void)bev;
	if ((what & BEV_EVENT_TIMEOUT) && c->linger != 2)
		log_write(LOG_LEVEL_INFO, "connection timed out", "listener",
		    c->l->name, "remote", c->remote, "while",
		    what & BEV_EVENT_READING ? "reading" : "writing", NULL);
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		raw_close(c);
}

static void
raw_accept(struct evconnlistener *lis, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct listener *l = arg;
	struct daemon *d = l->d;
	struct rawconn *c;
	struct timeval rd = ms_to_tv(d->cfg->read_timeout_ms);
	struct timeval wr = ms_to_tv(d->cfg->write_timeout_ms);
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	(void)lis;
	(void)salen;
	if (d->stopping || (c = calloc(1, sizeof(*c))) == NULL) {
		evutil_closesocket(fd);
		return;
	}
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		port = ntohs(s4->sin_port);
		snprintf(c->remote, sizeof(c->remote), "%s:%u", host, port);
	} else if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		port = ntohs(s6->sin6_port);
		snprintf(c->remote, sizeof(c->remote), "[%s]:%u", host, port);
	}
	c->l = l;
	c->fd = -1;
	TAILQ_INIT(&c->headers);
	http_reader_init(&c->rd, d->cfg->max_header_size,
	    d->cfg->max_body_size, &raw_callbacks, c);
	if (l->ssl) {
		SSL *ssl = SSL_new(l->ssl);
		c->bev = ssl ? bufferevent_openssl_socket_new(d->base, fd, ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE) : NULL;
		if (c->bev)
			bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
		else if (ssl)
			SSL_free(ssl);
	} else
		c->bev = bufferevent_socket_new(d->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		evutil_closesocket(fd);
		http_reader_free(&c->rd);
		free(c);
		return;
	}
	c->next = l->conns;
	if (l->conns)
		l->conns->prev = c;
	l->conns = c;
	bufferevent_setcb(c->bev, raw_read, raw_write, raw_event, c);
	bufferevent_set_timeouts(c->bev, &rd, &wr);
	bufferevent_enable(c->bev, EV_READ);
}

static int
raw_listen(struct listener *l, const char *host, char *err, size_t errsize)
{
	struct evutil_addrinfo hints, *ai = NULL;
	char port[8];
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = EVUTIL_AI_PASSIVE;
	snprintf(port, sizeof(port), "%u", l->port);
	rc = evutil_getaddrinfo(host, port, &hints, &ai);
	if (rc != 0 || ai == NULL) {
		snprintf(err, errsize, "%s: %s", host,
		    evutil_gai_strerror(rc));
		return -1;
	}
	l->accept = evconnlistener_new_bind(l->d->base, raw_accept, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    128, ai->ai_addr, (int)ai->ai_addrlen);
	evutil_freeaddrinfo(ai);
	if (l->accept == NULL) {
		snprintf(err, errsize, "%s", strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- built-in routes -------------------------------------------------- */

static void
handle_healthz(struct daemon_request *r, void *ctx)
{
	struct daemon *d = ctx;
	struct evbuffer *checks = evbuffer_new(), *out = evbuffer_new();
	char detail[256];
	size_t i;
	int ok = 1;

	if (checks == NULL || out == NULL) {
		if (checks)
			evbuffer_free(checks);
		if (out)
			evbuffer_free(out);
		daemon_reply(r, 503, "text/plain", "out of memory\n", 14);
		return;
	}
	for (i = 0; i < d->nhealth; i++) {
		detail[0] = '\0';
		if (d->health[i].fn(d->health[i].ctx, detail,
		    sizeof(detail)) != 0) {
			ok = 0;
			if (detail[0] == '\0')
				snprintf(detail, sizeof(detail), "failed");
		} else
			snprintf(detail, sizeof(detail), "ok");
		if (i)
			evbuffer_add(checks, ",", 1);
		add_json_string(checks, d->health[i].name);
		evbuffer_add(checks, ":", 1);
		add_json_string(checks, detail);
	}
	evbuffer_add_printf(out, "{\"status\":\"%s\",\"version\":\"%s\","
	    "\"uptime_seconds\":%lld,\"checks\":{", ok ? "ok" : "degraded",
	    PACKAGE_VERSION, (long long)seconds_since(&d->started));
	evbuffer_add_buffer(out, checks);
	evbuffer_add(out, "}}\n", 3);
	evbuffer_free(checks);
	daemon_reply_buffer(r, ok ? 200 : 503, "application/json", out);
	evbuffer_free(out);
}

static void
handle_metrics(struct daemon_request *r, void *ctx)
{
	struct daemon *d = ctx;
	char *text;
	size_t len;

	/* Values that are states, not events, are sampled at scrape time. */
	metrics_gauge_set(d->m_inflight, NULL, (double)d->inflight);
	metrics_gauge_set(d->m_busy, NULL, (double)workers_busy(d->workers));
	metrics_gauge_set(d->m_uptime, NULL,
	    (double)(long long)seconds_since(&d->started));
	text = metrics_render(d->metrics, &len);
	if (text == NULL) {
		daemon_reply_error(r, 503, "out of memory");
		return;
	}
	daemon_reply(r, 200, METRICS_CONTENT_TYPE, text, len);
	free(text);
}

/* /debug/delay?ms=N: a worker job that sleeps, so tests can hold a
 * request in flight and exercise the pool. /debug/echo: body length. */
struct delay_job {
	struct daemon_request *r;
	unsigned ms;
};

static void
delay_work(void *arg)
{
	struct delay_job *j = arg;
	struct timespec ts = { j->ms / 1000, (long)(j->ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void
delay_done(void *arg, int cancelled)
{
	struct delay_job *j = arg;
	char body[64];
	int n = snprintf(body, sizeof(body), "{\"slept_ms\":%u}\n", j->ms);

	if (cancelled)
		daemon_reply_error(j->r, 503, "shutting down");
	else
		daemon_reply(j->r, 200, "application/json", body, (size_t)n);
	free(j);
}

static void
handle_debug(struct daemon_request *r, void *ctx)
{
	struct daemon *d = ctx;
	struct delay_job *j;
	const char *q = r->query ? strstr(r->query, "ms=") : NULL;
	char body[64];
	int n;

	if (strcmp(r->path, "/debug/echo") == 0) {
		n = snprintf(body, sizeof(body), "{\"bytes\":%zu}\n",
		    evbuffer_get_length(daemon_request_body(r)));
		daemon_reply(r, 200, "application/json", body, (size_t)n);
		return;
	}
	if (strcmp(r->path, "/debug/bytes") == 0) {
		/* A large response, for write-timeout tests. */
		struct evbuffer *b = evbuffer_new();
		size_t want = q ? 0 : 0, i;
		const char *nq = r->query ? strstr(r->query, "n=") : NULL;
		static const char chunk[4096];

		want = nq ? strtoul(nq + 2, NULL, 10) : 1024;
		if (want > (size_t)256 << 20)
			want = (size_t)256 << 20;
		for (i = 0; b && i < want; i += sizeof(chunk))
			evbuffer_add(b, chunk, want - i < sizeof(chunk) ?
			    want - i : sizeof(chunk));
		if (b == NULL) {
			daemon_reply_error(r, 503, "out of memory");
			return;
		}
		daemon_reply_buffer(r, 200, "application/octet-stream", b);
		evbuffer_free(b);
		return;
	}
	if (strcmp(r->path, "/debug/delay") != 0) {
		daemon_reply_error(r, 404, "no such path");
		return;
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL) {
		daemon_reply_error(r, 503, "out of memory");
		return;
	}
	j->r = r;
	j->ms = q ? (unsigned)strtoul(q + 3, NULL, 10) : 1000;
	if (j->ms > 60000)
		j->ms = 60000;
	if (workers_submit(d->workers, delay_work, delay_done, j) != 0) {
		free(j);
		daemon_reply_error(r, 503, "worker queue full");
	}
}

/* ---- signals, reload, shutdown ---------------------------------------- */

/*
 * systemd's readiness protocol (sd_notify(3)), spoken directly: one
 * datagram to $NOTIFY_SOCKET. Without the variable this does nothing, so
 * edigated runs the same under Type=simple, Type=notify or no systemd.
 */
static void
notify_systemd(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	size_t n;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    (n = strlen(path)) >= sizeof(sa.sun_path))
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';   /* abstract namespace */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	    (struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) < 0)
		log_debug("sd_notify failed", "error", strerror(errno), NULL);
	close(fd);
}

static void
on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
	check_drained(arg);
}

static void
on_grace(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	char n[32];

	snprintf(n, sizeof(n), "%zu", d->inflight);
	log_warn("shutdown grace period over, closing unfinished requests",
	    "in_flight", n, NULL);
	d->grace_over = 1;
	event_base_loopexit(d->base, NULL);
}

static void
begin_shutdown(struct daemon *d, const char *why)
{
	struct timeval grace, tick = { 0, 50000 };
	char n[32];
	size_t i;

	if (d->stopping) {
		log_warn("second stop signal, exiting now", "signal", why, NULL);
		d->grace_over = 1;
		event_base_loopbreak(d->base);
		return;
	}
	d->stopping = 1;
	notify_systemd("STOPPING=1");
	for (i = 0; i < d->nlisteners; i++) {
		if (d->listeners[i].sock) {
			evhttp_del_accept_socket(d->listeners[i].http,
			    d->listeners[i].sock);
			d->listeners[i].sock = NULL;
		}
		if (d->listeners[i].accept) {
			evconnlistener_free(d->listeners[i].accept);
			d->listeners[i].accept = NULL;
		}
	}
	snprintf(n, sizeof(n), "%zu", d->inflight);
	log_info("shutting down: listeners closed, finishing requests",
	    "signal", why, "in_flight", n, NULL);
	grace.tv_sec = d->cfg->shutdown_grace_ms / 1000;
	grace.tv_usec = (d->cfg->shutdown_grace_ms % 1000) * 1000;
	d->ev_grace = evtimer_new(d->base, on_grace, d);
	d->ev_drain = event_new(d->base, -1, EV_PERSIST, on_drain_tick, d);
	if (d->ev_grace == NULL || d->ev_drain == NULL) {
		event_base_loopexit(d->base, NULL);
		return;
	}
	evtimer_add(d->ev_grace, &grace);
	event_add(d->ev_drain, &tick);
	check_drained(d);
}

static void
on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	begin_shutdown(arg, sig == SIGINT ? "SIGINT" : "SIGTERM");
}

static void
apply_limits(struct daemon *d)
{
	struct timeval tv;
	size_t i;

	tv.tv_sec = d->cfg->read_timeout_ms / 1000;
	tv.tv_usec = (d->cfg->read_timeout_ms % 1000) * 1000;
	for (i = 0; i < d->nlisteners; i++) {
		struct evhttp *h = d->listeners[i].http;
		if (h == NULL)
			continue;       /* a streaming listener reads cfg */
		/* An oversize body is read and thrown away before the 413,
		 * or the close would reset the connection under it. */
		evhttp_set_flags(h, EVHTTP_SERVER_LINGERING_CLOSE);
		evhttp_set_max_body_size(h, (ev_ssize_t)d->cfg->max_body_size);
		evhttp_set_max_headers_size(h,
		    (ev_ssize_t)d->cfg->max_header_size);
		evhttp_set_timeout_tv(h, &tv);
	}
	log_set_level((enum log_level)d->cfg->log_level);
}

static int
listeners_differ(const struct config *a, const struct config *b)
{
	size_t i;

	if (a->nlisteners != b->nlisteners)
		return 1;
	for (i = 0; i < a->nlisteners; i++) {
		const struct config_listener *x = &a->listeners[i];
		const struct config_listener *y =
		    config_listener_find(b, x->name);
		if (y == NULL || strcmp(x->host, y->host) || x->port != y->port ||
		    x->https != y->https)
			return 1;
	}
	return 0;
}

static int
str_differ(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a && strcmp(a, b));
}

int
daemon_reload(struct daemon *d)
{
	struct config *nc, *old;
	struct config_error cerr;
	char msg[1024];
	void *pending[DAEMON_MAX_HOOKS];
	size_t i, j;
	const char *failed[] = { "failed" }, *applied[] = { "applied" };

	if (config_load(d->cfg->path, &nc, &cerr) != 0) {
		config_error_format(&cerr, msg, sizeof(msg));
		log_error("reload refused: the configuration is invalid; the "
		    "running configuration stays", "error", msg, NULL);
		metrics_counter_add(d->m_reloads, failed, 1);
		return -1;
	}
	for (i = 0; i < d->nhooks; i++) {
		pending[i] = NULL;
		msg[0] = '\0';
		if (d->hooks[i].hook.prepare(d->hooks[i].ctx, nc, &pending[i],
		    msg, sizeof(msg)) != 0) {
			log_error("reload refused: the running set stays",
			    "hook", d->hooks[i].hook.name, "error", msg, NULL);
			for (j = 0; j < i; j++)
				if (d->hooks[j].hook.abort)
					d->hooks[j].hook.abort(d->hooks[j].ctx,
					    pending[j]);
			config_free(nc);
			metrics_counter_add(d->m_reloads, failed, 1);
			return -1;
		}
	}
	for (i = 0; i < d->nhooks; i++)
		d->hooks[i].hook.commit(d->hooks[i].ctx, pending[i]);
	if (listeners_differ(d->cfg, nc))
		log_warn("listener changes take effect at the next restart",
		    NULL);
	if (str_differ(d->cfg->user, nc->user) ||
	    str_differ(d->cfg->group, nc->group) ||
	    d->cfg->workers != nc->workers ||
	    d->cfg->queue_size != nc->queue_size ||
	    str_differ(d->cfg->store_url, nc->store_url) ||
	    str_differ(d->cfg->state_dir, nc->state_dir))
		log_warn("user, group, workers, queue_size, state_dir and the "
		    "store take effect at the next restart", NULL);
	old = d->cfg;
	d->cfg = nc;
	apply_limits(d);
	config_free(old);
	metrics_counter_add(d->m_reloads, applied, 1);
	log_info("configuration reloaded", "file", d->cfg->path, NULL);
	return 0;
}

static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	if (d->stopping)
		return;
	notify_systemd("RELOADING=1");
	daemon_reload(d);
	notify_systemd("READY=1");
}

/* ---- life cycle ------------------------------------------------------- */

static const double duration_bounds[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60
};

static int
register_metrics(struct daemon *d)
{
	static const char *const msg_labels[] = { "direction", "partner",
	    "type", NULL };
	static const char *const req_labels[] = { "listener", "route",
	    "method", "status", NULL };
	static const char *const dur_labels[] = { "listener", "route", NULL };
	static const char *const build_labels[] = { "version", NULL };
	static const char *const reload_labels[] = { "result", NULL };
	const char *version[] = { PACKAGE_VERSION };
	struct timespec now;

	d->m_build = metrics_gauge(d->metrics, "edigate_build_info",
	    "Always 1; the version label says which edigate is running.",
	    build_labels);
	d->m_start = metrics_gauge(d->metrics, "edigate_start_time_seconds",
	    "When edigated started, in seconds since 1970.", NULL);
	d->m_uptime = metrics_gauge(d->metrics, "edigate_uptime_seconds",
	    "Seconds since edigated started.", NULL);
	d->std.messages = metrics_counter(d->metrics, "edigate_messages_total",
	    "EDI messages received (direction=in) and sent (direction=out).",
	    msg_labels);
	d->std.http_requests = metrics_counter(d->metrics,
	    "edigate_http_requests_total",
	    "HTTP requests answered, by listener, route, method and status.",
	    req_labels);
	d->std.http_duration = metrics_histogram(d->metrics,
	    "edigate_http_request_duration_seconds",
	    "Time from a complete request to its reply.", dur_labels,
	    duration_bounds, sizeof(duration_bounds) / sizeof(double));
	d->m_inflight = metrics_gauge(d->metrics,
	    "edigate_http_requests_in_flight",
	    "Requests being handled or written right now.", NULL);
	d->m_busy = metrics_gauge(d->metrics, "edigate_worker_jobs",
	    "Worker pool jobs queued or running.", NULL);
	d->m_reloads = metrics_counter(d->metrics, "edigate_reloads_total",
	    "Configuration reloads (SIGHUP), by result.", reload_labels);
	if (!d->m_build || !d->m_start || !d->m_uptime || !d->std.messages ||
	    !d->std.http_requests || !d->std.http_duration ||
	    !d->m_inflight || !d->m_busy || !d->m_reloads)
		return -1;
	clock_gettime(CLOCK_REALTIME, &now);
	metrics_gauge_set(d->m_build, version, 1);
	metrics_gauge_set(d->m_start, NULL, (double)now.tv_sec);
	return 0;
}

/* libevent's own warnings (e.g. accept() failing for lack of file
 * descriptors) become JSON lines like ours instead of bare stderr text. */
static void
libevent_log(int severity, const char *msg)
{
	enum log_level level = severity >= EVENT_LOG_ERR ? LOG_LEVEL_ERROR :
	    severity == EVENT_LOG_WARN ? LOG_LEVEL_WARN :
	    severity == EVENT_LOG_MSG ? LOG_LEVEL_INFO : LOG_LEVEL_DEBUG;

	log_write(level, msg, "source", "libevent", NULL);
}

struct daemon *
daemon_new(struct config *cfg, char *err, size_t errsize)
{
	struct daemon *d;

	if (geteuid() == 0 && cfg->user == NULL && !cfg->allow_root) {
		snprintf(err, errsize, "%s: refusing to run as root without "
		    "user = NAME to switch to (or allow_root = yes)", cfg->path);
		config_free(cfg);
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		snprintf(err, errsize, "out of memory");
		config_free(cfg);
		return NULL;
	}
	d->cfg = cfg;
	clock_gettime(CLOCK_MONOTONIC, &d->started);
	router_init(&d->router);
	log_set_level((enum log_level)cfg->log_level);
	event_set_log_callback(libevent_log);
	d->base = event_base_new();
	d->metrics = metrics_new();
	if (d->base == NULL || d->metrics == NULL ||
	    register_metrics(d) != 0) {
		snprintf(err, errsize, "cannot set up the event loop or metrics");
		daemon_free(d);
		return NULL;
	}
	d->workers = workers_new(d->base, cfg->workers, cfg->queue_size);
	if (d->workers == NULL) {
		snprintf(err, errsize, "cannot start %u worker threads: %s",
		    cfg->workers, strerror(errno));
		daemon_free(d);
		return NULL;
	}
	if (daemon_route_add(d, "GET", "/healthz", handle_healthz, d) != 0 ||
	    daemon_route_add(d, "HEAD", "/healthz", handle_healthz, d) != 0 ||
	    daemon_route_add(d, "GET", "/metrics", handle_metrics, d) != 0 ||
	    (cfg->debug_endpoints &&
	    daemon_route_add(d, NULL, "/debug", handle_debug, d) != 0)) {
		snprintf(err, errsize, "cannot register the built-in routes");
		daemon_free(d);
		return NULL;
	}
	return d;
}

static struct bufferevent *
tls_bevcb(struct event_base *base, void *arg)
{
	struct listener *l = arg;
	SSL *ssl = SSL_new(l->ssl);
	struct bufferevent *bev;

	if (ssl == NULL)
		return NULL;
	bev = bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	/* Many clients close TLS without close_notify; that is no error
	 * for a request that was already answered. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

static void
ssl_error_text(char *buf, size_t size)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		snprintf(buf, size, "unknown TLS error");
	else
		ERR_error_string_n(e, buf, size);
	ERR_clear_error();
}

/* A TLS server context for one listener; errors name the config line. */
static SSL_CTX *
tls_context_new(const struct config *cfg, const struct config_listener *cl,
    char *err, size_t errsize)
{
	char why[256];
	const char *what;
	SSL_CTX *ctx;

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		what = "cannot create a TLS context";
		goto fail;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	if (!SSL_CTX_set_min_proto_version(ctx,
	    cl->min_tls_version == 13 ? TLS1_3_VERSION : TLS1_2_VERSION)) {
		what = "min_tls_version";
		goto fail;
	}
	if (cl->ciphers && !SSL_CTX_set_cipher_list(ctx, cl->ciphers)) {
		what = "ciphers";
		goto fail;
	}
	if (cl->ciphersuites &&
	    !SSL_CTX_set_ciphersuites(ctx, cl->ciphersuites)) {
		what = "ciphersuites";
		goto fail;
	}
	if (!SSL_CTX_use_certificate_chain_file(ctx, cl->certificate)) {
		what = "certificate";
		goto fail;
	}
	if (!SSL_CTX_use_PrivateKey_file(ctx, cl->key, SSL_FILETYPE_PEM)) {
		what = "key";
		goto fail;
	}
	if (!SSL_CTX_check_private_key(ctx)) {
		what = "key does not match certificate";
		goto fail;
	}
	return ctx;
fail:
	ssl_error_text(why, sizeof(why));
	snprintf(err, errsize, "%s:%u: [listen.%s] %s: %s", cfg->path,
	    cl->line, cl->name, what, why);
	SSL_CTX_free(ctx);
	return NULL;
}

int
daemon_check_tls(const struct config *cfg, char *err, size_t errsize)
{
	SSL_CTX *ctx;
	size_t i;

	for (i = 0; i < cfg->nlisteners; i++) {
		if (!cfg->listeners[i].https)
			continue;
		ctx = tls_context_new(cfg, &cfg->listeners[i], err, errsize);
		if (ctx == NULL)
			return -1;
		SSL_CTX_free(ctx);
	}
	return 0;
}

int
daemon_listen(struct daemon *d, char *err, size_t errsize)
{
	size_t i;
	char why[256];

	d->listeners = calloc(d->cfg->nlisteners, sizeof(*d->listeners));
	if (d->listeners == NULL) {
		snprintf(err, errsize, "out of memory");
		return -1;
	}
	for (i = 0; i < d->cfg->nlisteners; i++) {
		const struct config_listener *cl = &d->cfg->listeners[i];
		struct listener *l = &d->listeners[i];
		int v6 = strchr(cl->host, ':') != NULL;

		l->d = d;
		snprintf(l->name, sizeof(l->name), "%s", cl->name);
		snprintf(l->address, sizeof(l->address), "%s%s%s:%u",
		    v6 ? "[" : "", cl->host, v6 ? "]" : "", cl->port);
		l->port = cl->port;
		l->https = cl->https;
		l->line = cl->line;
		if (cl->routes) {
			/* " /a /b " with single blanks: one strstr per request. */
			size_t n = strlen(cl->routes), k = 0, j;
			l->routes = malloc(n + 3);
			if (l->routes == NULL) {
				snprintf(err, errsize, "out of memory");
				return -1;
			}
			l->routes[k++] = ' ';
			for (j = 0; j < n; j++) {
				char ch = cl->routes[j] == '\t' ? ' ' : cl->routes[j];
				if (ch != ' ' || l->routes[k - 1] != ' ')
					l->routes[k++] = ch;
			}
			if (l->routes[k - 1] != ' ')
				l->routes[k++] = ' ';
			l->routes[k] = '\0';
		}
		if (cl->stream_bodies) {
			d->nlisteners++;
			l->stream = 1;
			if (cl->https && (l->ssl = tls_context_new(d->cfg, cl,
			    err, errsize)) == NULL)
				return -1;
			if (raw_listen(l, cl->host, why, sizeof(why)) != 0) {
				snprintf(err, errsize, "%s:%u: [listen.%s] cannot "
				    "listen on %s: %s", d->cfg->path, l->line,
				    l->name, l->address, why);
				return -1;
			}
			continue;
		}
		l->http = evhttp_new(d->base);
		d->nlisteners++;
		if (l->http == NULL) {
			snprintf(err, errsize, "out of memory");
			return -1;
		}
		evhttp_set_allowed_methods(l->http, EVHTTP_REQ_GET |
		    EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
		    EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
		evhttp_set_gencb(l->http, on_request, l);
		if (cl->https) {
			l->ssl = tls_context_new(d->cfg, cl, err, errsize);
			if (l->ssl == NULL)
				return -1;
			evhttp_set_bevcb(l->http, tls_bevcb, l);
		}
		l->sock = evhttp_bind_socket_with_handle(l->http, cl->host,
		    (ev_uint16_t)cl->port);
		if (l->sock == NULL) {
			snprintf(err, errsize, "%s:%u: [listen.%s] cannot listen "
			    "on %s: %s", d->cfg->path, l->line, l->name,
			    l->address, strerror(errno));
			return -1;
		}
	}
	apply_limits(d);
	return 0;
}

int
daemon_drop_privileges(struct daemon *d, char *err, size_t errsize)
{
	const struct config *c = d->cfg;
	struct passwd *pw;
	struct group *gr;
	gid_t gid;

	if (c->user == NULL) {
		if (geteuid() == 0)
			log_warn("running as root (allow_root = yes)", NULL);
		return 0;
	}
	pw = getpwnam(c->user);
	if (pw == NULL) {
		snprintf(err, errsize, "%s: user %s: no such user", c->path,
		    c->user);
		return -1;
	}
	if (geteuid() != 0) {
		if (pw->pw_uid != geteuid())
			log_warn("not started as root: staying the current "
			    "user, user = is ignored", "user", c->user, NULL);
		return 0;
	}
	gid = pw->pw_gid;
	if (c->group) {
		gr = getgrnam(c->group);
		if (gr == NULL) {
			snprintf(err, errsize, "%s: group %s: no such group",
			    c->path, c->group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if (setgroups(1, &gid) != 0 || setgid(gid) != 0 ||
	    setuid(pw->pw_uid) != 0) {
		snprintf(err, errsize, "cannot switch to user %s: %s", c->user,
		    strerror(errno));
		return -1;
	}
	/* Proof that the switch cannot be undone. */
	if (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		snprintf(err, errsize, "could regain root after switching to "
		    "%s; refusing to run", c->user);
		return -1;
	}
	log_info("privileges dropped", "user", c->user,
	    "group", c->group, NULL);
	return 0;
}

int
daemon_run(struct daemon *d)
{
	size_t i;
	char threads[16];

	signal(SIGPIPE, SIG_IGN);
	d->ev_hup = evsignal_new(d->base, SIGHUP, on_hup, d);
	d->ev_term = evsignal_new(d->base, SIGTERM, on_stop_signal, d);
	d->ev_int = evsignal_new(d->base, SIGINT, on_stop_signal, d);
	if (!d->ev_hup || !d->ev_term || !d->ev_int ||
	    evsignal_add(d->ev_hup, NULL) || evsignal_add(d->ev_term, NULL) ||
	    evsignal_add(d->ev_int, NULL)) {
		log_error("cannot install signal handlers", NULL);
		return 1;
	}
	for (i = 0; i < d->nlisteners; i++)
		log_info("listening", "listener", d->listeners[i].name,
		    "address", d->listeners[i].address, "protocol",
		    d->listeners[i].https ? "https" : "http", NULL);
	snprintf(threads, sizeof(threads), "%u", workers_threads(d->workers));
	log_info("edigated started", "version", PACKAGE_VERSION, "workers",
	    threads, "config", d->cfg->path, NULL);
	notify_systemd("READY=1\nSTATUS=serving");
	event_base_dispatch(d->base);
	log_info("edigated stopped", NULL);
	return d->exit_code;
}

int
daemon_cut_short(const struct daemon *d)
{
	return d->grace_over;
}

void
daemon_free(struct daemon *d)
{
	size_t i;

	if (d == NULL)
		return;
	/* Workers first: the done() of a cancelled job answers its request,
	 * which needs the connections and the metrics still there. After the
	 * grace period, jobs still running are left to the process exit. */
	if (d->grace_over)
		workers_abandon(d->workers);
	else
		workers_free(d->workers);
	for (i = 0; i < d->nlisteners; i++) {
		struct listener *l = &d->listeners[i];
		if (l->accept)
			evconnlistener_free(l->accept);
		/* Connections whose request is still with an abandoned job
		 * stay to the process exit. */
		for (struct rawconn *c = l->conns, *n; c; c = n) {
			n = c->next;
			if (c->r == NULL)
				raw_close(c);
		}
		if (d->listeners[i].http)
			evhttp_free(d->listeners[i].http);
		if (d->listeners[i].ssl)
			SSL_CTX_free(d->listeners[i].ssl);
		free(d->listeners[i].routes);
	}
	free(d->listeners);
	if (d->ev_hup)
		event_free(d->ev_hup);
	if (d->ev_term)
		event_free(d->ev_term);
	if (d->ev_int)
		event_free(d->ev_int);
	if (d->ev_grace)
		event_free(d->ev_grace);
	if (d->ev_drain)
		event_free(d->ev_drain);
	/* Abandoned jobs may still count into the metrics until the exit. */
	if (!d->grace_over)
		metrics_free(d->metrics);
	if (d->base)
		event_base_free(d->base);
	config_free(d->cfg);
	free(d);
}
