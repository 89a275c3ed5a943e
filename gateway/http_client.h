/*
 * http_client - asynchronous HTTP/1.1 requests from edigated's event loop
 * (prefix http_client_): AS2 messages to partners, asynchronous MDNs,
 * webhooks to the ERP and the WMS.
 *
 * OWNS
 *   One connection per request (no pooling: partners are many and slow,
 *   and a fresh connection gives a clean error class every time), built on
 *   libevent's evhttp_connection; HTTPS through bufferevent_openssl with
 *   the peer certificate verified against the CA file (or the system
 *   store) and the host name (or IP address) of the URL checked against
 *   it, SNI sent; optional client certificate. The request body comes from
 *   memory or from a file (streamed, for large AS2 messages). The response
 *   (status, headers, body up to a limit) goes to one callback on the loop
 *   thread.
 *
 * INVARIANTS
 *   - For every http_client_send() that returned a call, done() runs
 *     exactly once, on the loop thread, never inside http_client_send()
 *     itself; unless http_client_cancel() came first (then never).
 *     http_client_free() completes each pending call with
 *     HTTP_CLIENT_CANCELLED so callers can release their context.
 *   - A result of HTTP_CLIENT_OK means a complete response with a 2xx
 *     status. HTTP_CLIENT_ERR_STATUS is a complete response with another
 *     status: status, headers and body are filled in as for OK.
 *   - Memory per call is bounded: response headers by max_header_size,
 *     the body by max_body_size (a larger one fails with
 *     HTTP_CLIENT_ERR_TOO_LARGE, the rest is not read).
 *   - Certificate checks cannot be switched off: an https URL whose peer
 *     does not verify fails with HTTP_CLIENT_ERR_TLS.
 *
 * TIMEOUTS
 *   connect_timeout_ms bounds TCP connect plus the TLS handshake;
 *   timeout_ms bounds the whole exchange from http_client_send() to the
 *   last byte of the response (a partner computing a synchronous MDN for
 *   a large message needs a generous one). Either running out gives
 *   HTTP_CLIENT_ERR_TIMEOUT. 0 takes the defaults below.
 *
 * The process must ignore SIGPIPE (edigated and edigate do): a peer that
 * closes while we write is an error result, not a signal.
 *
 * NEVER
 *   Follows redirects, retries (the caller's delivery queue decides that),
 *   blocks the loop (names are resolved with evdns), or logs: it reports.
 */
#ifndef EDIGATE_HTTP_CLIENT_H
#define EDIGATE_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

struct event_base;

#define HTTP_CLIENT_DEFAULT_CONNECT_TIMEOUT_MS 10000
#define HTTP_CLIENT_DEFAULT_TIMEOUT_MS 300000
#define HTTP_CLIENT_DEFAULT_MAX_BODY (1024 * 1024)
#define HTTP_CLIENT_DEFAULT_MAX_HEADER (64 * 1024)

enum http_client_result {
	HTTP_CLIENT_OK = 0,          /* complete response, status 2xx */
	HTTP_CLIENT_ERR_STATUS,      /* complete response, other status */
	HTTP_CLIENT_ERR_ARGUMENT,    /* bad URL, method or option */
	HTTP_CLIENT_ERR_RESOLVE,     /* host name did not resolve */
	HTTP_CLIENT_ERR_CONNECT,     /* TCP connect refused or unreachable */
	HTTP_CLIENT_ERR_TLS,         /* handshake or certificate check failed */
	HTTP_CLIENT_ERR_TIMEOUT,     /* connect or total timeout ran out */
	HTTP_CLIENT_ERR_PROTOCOL,    /* malformed response, or closed early */
	HTTP_CLIENT_ERR_TOO_LARGE,   /* response body over max_body_size */
	HTTP_CLIENT_ERR_IO,          /* the body file could not be read */
	HTTP_CLIENT_ERR_NOMEM,
	HTTP_CLIENT_CANCELLED        /* http_client_free() with the call open */
};

/* "ok", "status", "argument", "resolve", "connect", "tls", "timeout",
 * "protocol", "too-large", "io", "nomem", "cancelled": stable names for
 * logs, events and metrics labels. */
const char *http_client_result_name(enum http_client_result r);

struct http_client_header {
	const char *name;
	const char *value;
};

/* TLS material for https URLs. All paths are PEM files; NULL fields take
 * the system default trust store / no client certificate. The client
 * loads each distinct combination once and keeps it until
 * http_client_free(). */
struct http_client_tls {
	const char *ca_file;         /* trust anchors; NULL: system store */
	const char *cert_file;       /* client certificate (chain) */
	const char *key_file;        /* its private key */
};

struct http_client_options {
	/* TLS used when a request names none. NULL: system store, no client
	 * certificate. The strings are copied. */
	const struct http_client_tls *tls;
	/* User-Agent sent when a request sets none; NULL: "edigate". */
	const char *user_agent;
};

struct http_client_request {
	const char *method;          /* "GET", "POST", "PUT", "DELETE", ... */
	const char *url;             /* http://host[:port]/path?query */
	/* Extra headers. Host, Content-Length and Connection are the
	 * client's; a header value holding CR or LF is refused. */
	const struct http_client_header *headers;
	size_t nheaders;
	/* Body from memory (copied before http_client_send returns) ... */
	const void *body;
	size_t body_len;
	/* ... or, when body_file is not NULL, the whole file, streamed. */
	const char *body_file;
	unsigned connect_timeout_ms; /* 0: default */
	unsigned timeout_ms;         /* 0: default */
	size_t max_body_size;        /* response body; 0: default */
	size_t max_header_size;      /* response headers; 0: default */
	const struct http_client_tls *tls; /* NULL: the client's default */
};

struct http_client_response {
	enum http_client_result result;
	/* What went wrong, for logs and events: "connect to 127.0.0.1:4080:
	 * Connection refused", "certificate verify failed: hostname
	 * mismatch", "HTTP 503 Service Unavailable". "" when OK. */
	char message[256];
	int status;                  /* 0 when no response arrived */
	const char *reason;          /* status text; "" when none */
	const struct http_client_header *headers; /* in arrival order */
	size_t nheaders;
	/* The body, NUL-terminated (the NUL is not counted); NULL with
	 * body_len 0 when there was none. */
	const unsigned char *body;
	size_t body_len;
	int64_t elapsed_us;          /* from send to completion */
};

/* Called once per call, on the loop thread. resp and everything it points
 * to live until done returns: copy what you keep. done may start new
 * calls, cancel other ones, or free nothing else. */
typedef void (*http_client_done_fn)(const struct http_client_response *resp,
    void *ctx);

struct http_client;
struct http_client_call;

/* NULL on failure (TLS defaults unusable, out of memory) with a message. */
struct http_client *http_client_new(struct event_base *base,
    const struct http_client_options *opts, char *err, size_t errsize);
/* Completes every open call with HTTP_CLIENT_CANCELLED, then frees. */
void http_client_free(struct http_client *c);

/* Starts a request. NULL when it cannot even start (bad URL or method,
 * header with CR/LF, unreadable body file, TLS files unusable): err says
 * why and done is never called. */
struct http_client_call *http_client_send(struct http_client *c,
    const struct http_client_request *req, http_client_done_fn done,
    void *ctx, char *err, size_t errsize);

/* Abandons an open call: its connection closes and done is not called.
 * Only valid before done ran. */
void http_client_cancel(struct http_client_call *call);

/* The value of the first header called name (case-insensitive); NULL. */
const char *http_client_response_header(const struct http_client_response *r,
    const char *name);

/* Number of calls not yet completed. */
size_t http_client_pending(const struct http_client *c);

#endif
