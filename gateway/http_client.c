/*
 * http_client - see http_client.h.
 *
 * libevent's evhttp reports a failed client request in three ways: the
 * error callback with a reason (timeout, EOF, bad header, body too long,
 * cancelled), with errno restored to the socket error; the request
 * callback with a request whose response code is 0 (connect refused or
 * connect timeout, without the error callback); or the request callback
 * with NULL after the error callback. We collect what each says into the
 * call and classify once, when the call completes.
 */
#include "config.h"

#include "http_client.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <sys/queue.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct tls_ctx {
	struct tls_ctx *next;
	char *ca_file, *cert_file, *key_file;
	SSL_CTX *ctx;
};

struct http_client {
	struct event_base *base;
	struct evdns_base *dns;
	char *user_agent;
	struct http_client_tls deflt;   /* strings owned */
	struct tls_ctx *tls;
	struct http_client_call *calls; /* open and finishing calls */
	size_t pending;
};

struct http_client_call {
	struct http_client *client;
	struct http_client_call *prev, *next;
	struct evhttp_connection *evcon;
	struct evhttp_request *req;
	struct bufferevent *bev;
	SSL *ssl;                       /* owned by bev */
	struct event *connect_timer, *total_timer, *finish_ev;
	http_client_done_fn done;
	void *ctx;
	char host[128];
	unsigned port;
	int https;
	unsigned connect_timeout_ms, timeout_ms;
	int64_t start_us;
	int completed;                  /* done ran (or must not run) */
	int user_cancelled;
	int tls_started;
	/* what the failure paths told us */
	int got_error_cb;
	enum evhttp_request_error error_kind;
	int saved_errno;
	enum http_client_result forced; /* our own timers, or free */
	char forced_msg[200];
};

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

const char *
http_client_result_name(enum http_client_result r)
{
	switch (r) {
	case HTTP_CLIENT_OK: return "ok";
	case HTTP_CLIENT_ERR_STATUS: return "status";
	case HTTP_CLIENT_ERR_ARGUMENT: return "argument";
	case HTTP_CLIENT_ERR_RESOLVE: return "resolve";
	case HTTP_CLIENT_ERR_CONNECT: return "connect";
	case HTTP_CLIENT_ERR_TLS: return "tls";
	case HTTP_CLIENT_ERR_TIMEOUT: return "timeout";
	case HTTP_CLIENT_ERR_PROTOCOL: return "protocol";
	case HTTP_CLIENT_ERR_TOO_LARGE: return "too-large";
	case HTTP_CLIENT_ERR_IO: return "io";
	case HTTP_CLIENT_ERR_NOMEM: return "nomem";
	case HTTP_CLIENT_CANCELLED: return "cancelled";
	}
	return "unknown";
}

static char *
dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int
same(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static void
ssl_errors(char *buf, size_t size)
{
	unsigned long e = ERR_get_error();

	if (e == 0) {
		snprintf(buf, size, "unknown TLS error");
		return;
	}
	ERR_error_string_n(e, buf, size);
	ERR_clear_error();
}

/* The SSL_CTX for one combination of TLS files, made on first use. */
static SSL_CTX *
tls_ctx_get(struct http_client *c, const struct http_client_tls *t,
    char *err, size_t errsize)
{
	struct tls_ctx *tc;
	const char *ca = t ? t->ca_file : NULL;
	const char *cert = t ? t->cert_file : NULL;
	const char *key = t ? t->key_file : NULL;
	char why[200];
	SSL_CTX *ctx;

	for (tc = c->tls; tc; tc = tc->next)
		if (same(tc->ca_file, ca) && same(tc->cert_file, cert) &&
		    same(tc->key_file, key))
			return tc->ctx;
	if ((cert == NULL) != (key == NULL)) {
		snprintf(err, errsize, "TLS client certificate and key must "
		    "be given together");
		return NULL;
	}
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		ssl_errors(why, sizeof why);
		snprintf(err, errsize, "TLS context: %s", why);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (ca ? SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1
	    : SSL_CTX_set_default_verify_paths(ctx) != 1) {
		ssl_errors(why, sizeof why);
		snprintf(err, errsize, "TLS CA file %s: %s",
		    ca ? ca : "(system)", why);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (cert) {
		if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
			ssl_errors(why, sizeof why);
			snprintf(err, errsize, "TLS client certificate %s: %s",
			    cert, why);
			SSL_CTX_free(ctx);
			return NULL;
		}
		if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM)
		    != 1 || SSL_CTX_check_private_key(ctx) != 1) {
			ssl_errors(why, sizeof why);
			snprintf(err, errsize, "TLS client key %s: %s", key,
			    why);
			SSL_CTX_free(ctx);
			return NULL;
		}
	}
	tc = calloc(1, sizeof *tc);
	if (!tc) {
		SSL_CTX_free(ctx);
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	tc->ca_file = dup_or_null(ca);
	tc->cert_file = dup_or_null(cert);
	tc->key_file = dup_or_null(key);
	tc->ctx = ctx;
	tc->next = c->tls;
	c->tls = tc;
	return ctx;
}

struct http_client *
http_client_new(struct event_base *base,
    const struct http_client_options *opts, char *err, size_t errsize)
{
	struct http_client *c = calloc(1, sizeof *c);

	if (!c) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	c->base = base;
	c->user_agent = strdup(opts && opts->user_agent ? opts->user_agent
	    : "edigate");
	if (opts && opts->tls) {
		c->deflt.ca_file = dup_or_null(opts->tls->ca_file);
		c->deflt.cert_file = dup_or_null(opts->tls->cert_file);
		c->deflt.key_file = dup_or_null(opts->tls->key_file);
	}
	/* Loopback literals never reach evdns; names go through it so a
	 * slow resolver cannot stall the loop. No resolv.conf (containers)
	 * leaves evdns with its own default, which is fine for literals. */
	c->dns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (c->dns) {
		evdns_base_resolv_conf_parse(c->dns, DNS_OPTIONS_ALL,
		    "/etc/resolv.conf");
		evdns_base_load_hosts(c->dns, NULL);
	}
	if (!c->user_agent || !c->dns) {
		snprintf(err, errsize, "out of memory");
		http_client_free(c);
		return NULL;
	}
	/* Fail at start-up rather than on the first https request. */
	if ((c->deflt.ca_file || c->deflt.cert_file) &&
	    !tls_ctx_get(c, &c->deflt, err, errsize)) {
		http_client_free(c);
		return NULL;
	}
	return c;
}

static void call_unlink_free(struct http_client_call *call);

void
http_client_free(struct http_client *c)
{
	struct tls_ctx *tc, *tn;

	if (!c)
		return;
	while (c->calls) {
		struct http_client_call *call = c->calls;

		if (!call->completed && call->req) {
			call->forced = HTTP_CLIENT_CANCELLED;
			snprintf(call->forced_msg, sizeof call->forced_msg,
			    "client shut down");
			evhttp_cancel_request(call->req);
		}
		call_unlink_free(call);
	}
	for (tc = c->tls; tc; tc = tn) {
		tn = tc->next;
		SSL_CTX_free(tc->ctx);
		free(tc->ca_file);
		free(tc->cert_file);
		free(tc->key_file);
		free(tc);
	}
	if (c->dns)
		evdns_base_free(c->dns, 0);
	free((void *)c->deflt.ca_file);
	free((void *)c->deflt.cert_file);
	free((void *)c->deflt.key_file);
	free(c->user_agent);
	free(c);
}

size_t
http_client_pending(const struct http_client *c)
{
	return c ? c->pending : 0;
}

const char *
http_client_response_header(const struct http_client_response *r,
    const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

static void
call_unlink_free(struct http_client_call *call)
{
	struct http_client *c = call->client;

	if (call->prev)
		call->prev->next = call->next;
	else
		c->calls = call->next;
	if (call->next)
		call->next->prev = call->prev;
	if (!call->completed && c->pending > 0)
		c->pending--;
	if (call->connect_timer)
		event_free(call->connect_timer);
	if (call->total_timer)
		event_free(call->total_timer);
	if (call->finish_ev)
		event_free(call->finish_ev);
	/* Frees the bufferevent, the SSL object and the socket with it. */
	if (call->evcon)
		evhttp_connection_free(call->evcon);
	free(call);
}

static void
finish_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	call_unlink_free(arg);
}

/* Marks the call complete and frees its connection from a fresh loop
 * turn: libevent still uses the request and connection when our
 * callbacks return. */
static void
call_retire(struct http_client_call *call)
{
	static const struct timeval zero = {0, 0};

	if (!call->completed) {
		call->completed = 1;
		if (call->client->pending > 0)
			call->client->pending--;
	}
	call->req = NULL;
	if (call->connect_timer)
		event_del(call->connect_timer);
	if (call->total_timer)
		event_del(call->total_timer);
	if (call->finish_ev)
		event_add(call->finish_ev, &zero);
}

static int
is_connect_errno(int e)
{
	return e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH ||
	    e == ETIMEDOUT || e == EADDRNOTAVAIL || e == EAFNOSUPPORT;
}

/* Fills result and message for a request that got no response. */
static void
classify_failure(struct http_client_call *call,
    struct http_client_response *resp)
{
	char why[200] = "";
	int dns_err;

	if (call->forced != HTTP_CLIENT_OK) {
		resp->result = call->forced;
		snprintf(resp->message, sizeof resp->message, "%s",
		    call->forced_msg);
		return;
	}
	dns_err = call->bev ? bufferevent_socket_get_dns_error(call->bev) : 0;
	if (dns_err) {
		resp->result = HTTP_CLIENT_ERR_RESOLVE;
		snprintf(resp->message, sizeof resp->message,
		    "resolve %s: %s", call->host, evutil_gai_strerror(dns_err));
		return;
	}
	if (call->https && call->ssl) {
		long vr = SSL_get_verify_result(call->ssl);
		unsigned long oe = bufferevent_get_openssl_error(call->bev);

		if (vr != X509_V_OK && call->tls_started) {
			resp->result = HTTP_CLIENT_ERR_TLS;
			snprintf(resp->message, sizeof resp->message,
			    "TLS with %s:%u: certificate verify failed: %s",
			    call->host, call->port,
			    X509_verify_cert_error_string(vr));
			return;
		}
		if (oe) {
			ERR_error_string_n(oe, why, sizeof why);
			resp->result = HTTP_CLIENT_ERR_TLS;
			snprintf(resp->message, sizeof resp->message,
			    "TLS with %s:%u: %s", call->host, call->port, why);
			return;
		}
		if (call->tls_started && !SSL_is_init_finished(call->ssl)) {
			resp->result = HTTP_CLIENT_ERR_TLS;
			snprintf(resp->message, sizeof resp->message,
			    "TLS with %s:%u: handshake did not complete",
			    call->host, call->port);
			return;
		}
	}
	if (call->got_error_cb) {
		switch (call->error_kind) {
		case EVREQ_HTTP_TIMEOUT:
			resp->result = HTTP_CLIENT_ERR_TIMEOUT;
			snprintf(resp->message, sizeof resp->message,
			    "%s:%u: no response within %u ms", call->host,
			    call->port, call->timeout_ms);
			return;
		case EVREQ_HTTP_DATA_TOO_LONG:
			resp->result = HTTP_CLIENT_ERR_TOO_LARGE;
			snprintf(resp->message, sizeof resp->message,
			    "%s:%u: response larger than the limit",
			    call->host, call->port);
			return;
		case EVREQ_HTTP_INVALID_HEADER:
			resp->result = HTTP_CLIENT_ERR_PROTOCOL;
			snprintf(resp->message, sizeof resp->message,
			    "%s:%u: malformed or oversized response header",
			    call->host, call->port);
			return;
		default:
			break;
		}
		if (!call->tls_started && is_connect_errno(call->saved_errno)) {
			resp->result = HTTP_CLIENT_ERR_CONNECT;
			snprintf(resp->message, sizeof resp->message,
			    "connect to %s:%u: %s", call->host, call->port,
			    strerror(call->saved_errno));
			return;
		}
		resp->result = HTTP_CLIENT_ERR_PROTOCOL;
		snprintf(resp->message, sizeof resp->message,
		    "%s:%u: connection closed before a complete response%s%s",
		    call->host, call->port, call->saved_errno ? ": " : "",
		    call->saved_errno ? strerror(call->saved_errno) : "");
		return;
	}
	/* The request callback without the error callback: libevent's
	 * connect-failure path (refused, or its connect timer). */
	resp->result = HTTP_CLIENT_ERR_CONNECT;
	snprintf(resp->message, sizeof resp->message, "connect to %s:%u "
	    "failed%s%s", call->host, call->port,
	    is_connect_errno(call->saved_errno) ? ": " : "",
	    is_connect_errno(call->saved_errno)
	    ? strerror(call->saved_errno) : "");
}

static void
complete(struct http_client_call *call, struct evhttp_request *req)
{
	struct http_client_response resp;
	struct http_client_header *hdrs = NULL;
	unsigned char *body = NULL;

	if (call->completed)
		return;
	memset(&resp, 0, sizeof resp);
	resp.reason = "";
	if (req && evhttp_request_get_response_code(req) > 0 &&
	    call->forced == HTTP_CLIENT_OK) {
		struct evkeyvalq *in = evhttp_request_get_input_headers(req);
		struct evkeyval *kv;
		struct evbuffer *buf = evhttp_request_get_input_buffer(req);
		size_t n = 0, len = buf ? evbuffer_get_length(buf) : 0;
		const char *reason;

		resp.status = evhttp_request_get_response_code(req);
		reason = evhttp_request_get_response_code_line(req);
		resp.reason = reason ? reason : "";
		TAILQ_FOREACH(kv, in, next)
			n++;
		hdrs = calloc(n ? n : 1, sizeof *hdrs);
		body = malloc(len + 1);
		if (!hdrs || !body) {
			resp.result = HTTP_CLIENT_ERR_NOMEM;
			snprintf(resp.message, sizeof resp.message,
			    "out of memory for the response");
		} else {
			n = 0;
			TAILQ_FOREACH(kv, in, next) {
				hdrs[n].name = kv->key;
				hdrs[n].value = kv->value;
				n++;
			}
			resp.headers = hdrs;
			resp.nheaders = n;
			if (len) {
				evbuffer_copyout(buf, body, len);
				body[len] = 0;
				resp.body = body;
				resp.body_len = len;
			}
			if (resp.status >= 200 && resp.status <= 299) {
				resp.result = HTTP_CLIENT_OK;
			} else {
				resp.result = HTTP_CLIENT_ERR_STATUS;
				snprintf(resp.message, sizeof resp.message,
				    "HTTP %d %s", resp.status, resp.reason);
			}
		}
	} else {
		classify_failure(call, &resp);
	}
	resp.elapsed_us = now_us() - call->start_us;
	call_retire(call);
	if (!call->user_cancelled)
		call->done(&resp, call->ctx);
	free(hdrs);
	free(body);
}

static void
request_cb(struct evhttp_request *req, void *arg)
{
	struct http_client_call *call = arg;

	if (req == NULL || evhttp_request_get_response_code(req) == 0)
		call->saved_errno = call->saved_errno ? call->saved_errno
		    : errno;
	complete(call, req);
}

static void
error_cb(enum evhttp_request_error kind, void *arg)
{
	struct http_client_call *call = arg;

	call->got_error_cb = 1;
	call->error_kind = kind;
	call->saved_errno = EVUTIL_SOCKET_ERROR();
	/* A cancel does not run the request callback: complete here. */
	if (kind == EVREQ_HTTP_REQUEST_CANCEL)
		complete(call, NULL);
}

static void
force_fail(struct http_client_call *call, enum http_client_result r,
    const char *msg)
{
	if (call->completed || !call->req)
		return;
	call->forced = r;
	snprintf(call->forced_msg, sizeof call->forced_msg, "%s", msg);
	evhttp_cancel_request(call->req);
}

static int
is_connected(struct http_client_call *call)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	evutil_socket_t fd;

	if (call->https)
		return call->ssl && SSL_is_init_finished(call->ssl);
	fd = call->bev ? bufferevent_getfd(call->bev) : -1;
	return fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &sl) == 0;
}

static void
connect_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_client_call *call = arg;
	char msg[200];

	(void)fd;
	(void)what;
	if (is_connected(call))
		return;
	snprintf(msg, sizeof msg, "%s %s:%u: not established within %u ms",
	    call->https ? "TLS connection to" : "connect to", call->host,
	    call->port, call->connect_timeout_ms);
	force_fail(call, HTTP_CLIENT_ERR_TIMEOUT, msg);
}

static void
total_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_client_call *call = arg;
	char msg[200];

	(void)fd;
	(void)what;
	snprintf(msg, sizeof msg, "%s:%u: no complete response within %u ms",
	    call->host, call->port, call->timeout_ms);
	force_fail(call, HTTP_CLIENT_ERR_TIMEOUT, msg);
}

static void
ssl_info_cb(const SSL *ssl, int where, int ret)
{
	struct http_client_call *call = SSL_get_app_data(ssl);

	(void)ret;
	if (call && (where & SSL_CB_HANDSHAKE_START))
		call->tls_started = 1;
}

static int
method_of(const char *m, enum evhttp_cmd_type *out)
{
	static const struct { const char *name; enum evhttp_cmd_type t; } tab[] = {
		{"GET", EVHTTP_REQ_GET}, {"POST", EVHTTP_REQ_POST},
		{"PUT", EVHTTP_REQ_PUT}, {"DELETE", EVHTTP_REQ_DELETE},
		{"HEAD", EVHTTP_REQ_HEAD}, {"PATCH", EVHTTP_REQ_PATCH},
		{"OPTIONS", EVHTTP_REQ_OPTIONS},
	};

	for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
		if (m && strcmp(m, tab[i].name) == 0) {
			*out = tab[i].t;
			return 0;
		}
	return -1;
}

static int
has_crlf(const char *s)
{
	return s && strpbrk(s, "\r\n") != NULL;
}

static int
is_ip_literal(const char *h)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, h, buf) == 1 ||
	    inet_pton(AF_INET6, h, buf) == 1;
}

struct http_client_call *
http_client_send(struct http_client *c, const struct http_client_request *rq,
    http_client_done_fn done, void *ctx, char *err, size_t errsize)
{
	struct http_client_call *call = NULL;
	struct evhttp_uri *uri = NULL;
	enum evhttp_cmd_type method;
	const char *scheme, *host, *path, *query;
	struct evkeyvalq *out;
	struct evbuffer *obuf;
	char target[4096], hostport[300];
	int port, fd = -1;
	SSL_CTX *sctx = NULL;

	if (!c || !rq || !done || !rq->url) {
		snprintf(err, errsize, "missing argument");
		return NULL;
	}
	if (method_of(rq->method, &method) != 0) {
		snprintf(err, errsize, "unsupported method %s",
		    rq->method ? rq->method : "(null)");
		return NULL;
	}
	for (size_t i = 0; i < rq->nheaders; i++)
		if (!rq->headers[i].name || !rq->headers[i].value ||
		    !rq->headers[i].name[0] || has_crlf(rq->headers[i].name) ||
		    has_crlf(rq->headers[i].value) ||
		    strchr(rq->headers[i].name, ':')) {
			snprintf(err, errsize, "header %zu is empty or holds "
			    "CR, LF or ':' in its name", i + 1);
			return NULL;
		}
	uri = evhttp_uri_parse(rq->url);
	if (!uri || !(scheme = evhttp_uri_get_scheme(uri)) ||
	    !(host = evhttp_uri_get_host(uri)) || !host[0]) {
		snprintf(err, errsize, "not an absolute http(s) URL: %.200s",
		    rq->url);
		goto fail;
	}
	call = calloc(1, sizeof *call);
	if (!call) {
		snprintf(err, errsize, "out of memory");
		goto fail;
	}
	call->client = c;
	call->done = done;
	call->ctx = ctx;
	call->start_us = now_us();
	if (strcasecmp(scheme, "https") == 0)
		call->https = 1;
	else if (strcasecmp(scheme, "http") != 0) {
		snprintf(err, errsize, "unsupported URL scheme %s", scheme);
		goto fail;
	}
	/* evhttp keeps the brackets of an IPv6 literal. */
	if (host[0] == '[') {
		size_t hl = strlen(host);

		if (hl < 3 || hl - 2 >= sizeof call->host || host[hl - 1] != ']') {
			snprintf(err, errsize, "bad host in URL");
			goto fail;
		}
		memcpy(call->host, host + 1, hl - 2);
		call->host[hl - 2] = 0;
	} else {
		if (strlen(host) >= sizeof call->host) {
			snprintf(err, errsize, "host name too long");
			goto fail;
		}
		strcpy(call->host, host);
	}
	port = evhttp_uri_get_port(uri);
	if (port < 0)
		port = call->https ? 443 : 80;
	if (port == 0 || port > 65535) {
		snprintf(err, errsize, "bad port in URL");
		goto fail;
	}
	call->port = (unsigned)port;
	path = evhttp_uri_get_path(uri);
	query = evhttp_uri_get_query(uri);
	if (snprintf(target, sizeof target, "%s%s%s",
	    path && path[0] ? path : "/", query ? "?" : "",
	    query ? query : "") >= (int)sizeof target) {
		snprintf(err, errsize, "URL too long");
		goto fail;
	}
	if ((port == 443 && call->https) || (port == 80 && !call->https))
		snprintf(hostport, sizeof hostport, "%s", host);
	else
		snprintf(hostport, sizeof hostport, "%s:%d", host, port);
	call->connect_timeout_ms = rq->connect_timeout_ms ? rq->connect_timeout_ms
	    : HTTP_CLIENT_DEFAULT_CONNECT_TIMEOUT_MS;
	call->timeout_ms = rq->timeout_ms ? rq->timeout_ms
	    : HTTP_CLIENT_DEFAULT_TIMEOUT_MS;
	if (rq->body_file) {
		fd = open(rq->body_file, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			snprintf(err, errsize, "body file %s: %s",
			    rq->body_file, strerror(errno));
			goto fail;
		}
	}

	if (call->https) {
		sctx = tls_ctx_get(c, rq->tls ? rq->tls : &c->deflt, err,
		    errsize);
		if (!sctx)
			goto fail;
		call->ssl = SSL_new(sctx);
		if (!call->ssl) {
			snprintf(err, errsize, "TLS: out of memory");
			goto fail;
		}
		SSL_set_app_data(call->ssl, call);
		SSL_set_info_callback(call->ssl, ssl_info_cb);
		if (is_ip_literal(call->host)) {
			X509_VERIFY_PARAM *vp = SSL_get0_param(call->ssl);

			X509_VERIFY_PARAM_set1_ip_asc(vp, call->host);
		} else {
			SSL_set_tlsext_host_name(call->ssl, call->host);
			SSL_set_hostflags(call->ssl,
			    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
			SSL_set1_host(call->ssl, call->host);
		}
		call->bev = bufferevent_openssl_socket_new(c->base, -1,
		    call->ssl, BUFFEREVENT_SSL_CONNECTING,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		if (!call->bev) {
			SSL_free(call->ssl);
			call->ssl = NULL;
			snprintf(err, errsize, "TLS: out of memory");
			goto fail;
		}
		/* Many servers close without close_notify after a complete,
		 * length-delimited response; that is not an error. */
		bufferevent_openssl_set_allow_dirty_shutdown(call->bev, 1);
	} else {
		call->bev = bufferevent_socket_new(c->base, -1,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		if (!call->bev) {
			snprintf(err, errsize, "out of memory");
			goto fail;
		}
	}
	call->evcon = evhttp_connection_base_bufferevent_new(c->base, c->dns,
	    call->bev, call->host, (unsigned short)port);
	if (!call->evcon) {
		bufferevent_free(call->bev);
		call->bev = NULL;
		call->ssl = NULL;
		snprintf(err, errsize, "out of memory");
		goto fail;
	}
	{
		/* The connection's own timer covers connect and idle
		 * reads/writes; ours enforce the documented two limits. */
		struct timeval tv = {call->timeout_ms / 1000,
		    (call->timeout_ms % 1000) * 1000};

		evhttp_connection_set_timeout_tv(call->evcon, &tv);
	}
	evhttp_connection_set_retries(call->evcon, 0);
	evhttp_connection_set_max_body_size(call->evcon,
	    rq->max_body_size ? rq->max_body_size : HTTP_CLIENT_DEFAULT_MAX_BODY);
	evhttp_connection_set_max_headers_size(call->evcon,
	    rq->max_header_size ? rq->max_header_size
	    : HTTP_CLIENT_DEFAULT_MAX_HEADER);

	call->req = evhttp_request_new(request_cb, call);
	call->connect_timer = evtimer_new(c->base, connect_timer_cb, call);
	call->total_timer = evtimer_new(c->base, total_timer_cb, call);
	call->finish_ev = evtimer_new(c->base, finish_cb, call);
	if (!call->req || !call->connect_timer || !call->total_timer ||
	    !call->finish_ev) {
		snprintf(err, errsize, "out of memory");
		goto fail;
	}
	evhttp_request_set_error_cb(call->req, error_cb);
	out = evhttp_request_get_output_headers(call->req);
	evhttp_add_header(out, "Host", hostport);
	{
		int has_ua = 0;

		for (size_t i = 0; i < rq->nheaders; i++) {
			if (strcasecmp(rq->headers[i].name, "Host") == 0 ||
			    strcasecmp(rq->headers[i].name, "Content-Length") == 0 ||
			    strcasecmp(rq->headers[i].name, "Connection") == 0)
				continue;
			if (strcasecmp(rq->headers[i].name, "User-Agent") == 0)
				has_ua = 1;
			evhttp_add_header(out, rq->headers[i].name,
			    rq->headers[i].value);
		}
		if (!has_ua)
			evhttp_add_header(out, "User-Agent", c->user_agent);
	}
	evhttp_add_header(out, "Connection", "close");
	obuf = evhttp_request_get_output_buffer(call->req);
	if (fd >= 0) {
		struct stat st;

		if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
			snprintf(err, errsize, "body file %s: not a regular file",
			    rq->body_file);
			goto fail;
		}
		if (st.st_size > 0) {
			if (evbuffer_add_file(obuf, fd, 0, st.st_size) != 0) {
				snprintf(err, errsize, "body file %s: cannot "
				    "queue it", rq->body_file);
				goto fail;
			}
			fd = -1;  /* the buffer owns it now */
		}
	} else if (rq->body_len) {
		if (evbuffer_add(obuf, rq->body, rq->body_len) != 0) {
			snprintf(err, errsize, "out of memory");
			goto fail;
		}
	}
	if ((method == EVHTTP_REQ_POST || method == EVHTTP_REQ_PUT ||
	    method == EVHTTP_REQ_PATCH) &&
	    evbuffer_get_length(obuf) == 0)
		evhttp_add_header(out, "Content-Length", "0");
	if (evhttp_make_request(call->evcon, call->req, method, target) != 0) {
		/* evhttp freed the request. */
		call->req = NULL;
		snprintf(err, errsize, "cannot start the request to %s:%u",
		    call->host, call->port);
		goto fail;
	}
	{
		struct timeval ct = {call->connect_timeout_ms / 1000,
		    (call->connect_timeout_ms % 1000) * 1000};
		struct timeval tt = {call->timeout_ms / 1000,
		    (call->timeout_ms % 1000) * 1000};

		evtimer_add(call->connect_timer, &ct);
		evtimer_add(call->total_timer, &tt);
	}
	if (fd >= 0)
		close(fd);
	evhttp_uri_free(uri);
	call->next = c->calls;
	if (c->calls)
		c->calls->prev = call;
	c->calls = call;
	c->pending++;
	return call;

fail:
	if (fd >= 0)
		close(fd);
	if (uri)
		evhttp_uri_free(uri);
	if (call) {
		if (call->req)
			evhttp_request_free(call->req);
		if (call->connect_timer)
			event_free(call->connect_timer);
		if (call->total_timer)
			event_free(call->total_timer);
		if (call->finish_ev)
			event_free(call->finish_ev);
		if (call->evcon)
			evhttp_connection_free(call->evcon);
		else if (call->ssl && !call->bev)
			SSL_free(call->ssl);
		free(call);
	}
	return NULL;
}

void
http_client_cancel(struct http_client_call *call)
{
	if (!call || call->completed)
		return;
	call->user_cancelled = 1;
	call->forced = HTTP_CLIENT_CANCELLED;
	snprintf(call->forced_msg, sizeof call->forced_msg, "cancelled");
	if (call->req)
		evhttp_cancel_request(call->req);
	else
		call_retire(call);
}
