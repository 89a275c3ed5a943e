/*
 * Tests for gateway/http_client.c against a real evhttp server on
 * 127.0.0.1 in the same process: plain and TLS (a CA and server
 * certificates made with the openssl command line), bodies from memory
 * and from a file, every error class the client reports.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <sys/queue.h>
#include <event2/keyvalq_struct.h>

#include <openssl/ssl.h>

#include "http_client.h"

struct server {
	struct event_base *base;
	struct evhttp *http;
	unsigned port;
	SSL_CTX *ssl;
	struct evhttp_request *held;     /* /hang: never answered */
	char last_body[256];
	char last_ctype[128];
	char last_method[8];
	int requests;
};

struct result {
	int calls;
	enum http_client_result result;
	int status;
	char message[256];
	char body[4096];
	size_t body_len;
	char header[128];
	struct event_base *base;
};

static char tmpdir[256];

static void
handler(struct evhttp_request *req, void *arg)
{
	struct server *s = arg;
	const char *uri = evhttp_request_get_uri(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct evbuffer *out = evbuffer_new();
	const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Content-Type");
	size_t n = evbuffer_get_length(in);

	s->requests++;
	if (n >= sizeof s->last_body)
		n = sizeof s->last_body - 1;
	evbuffer_copyout(in, s->last_body, n);
	s->last_body[n] = 0;
	snprintf(s->last_ctype, sizeof s->last_ctype, "%s", ct ? ct : "");
	snprintf(s->last_method, sizeof s->last_method, "%s",
	    evhttp_request_get_command(req) == EVHTTP_REQ_POST ? "POST" : "GET");
	if (strncmp(uri, "/hang", 5) == 0) {
		s->held = req;
		evbuffer_free(out);
		return;
	}
	if (strncmp(uri, "/big", 4) == 0) {
		static char chunk[1024];

		memset(chunk, 'x', sizeof chunk);
		for (int i = 0; i < 64; i++)
			evbuffer_add(out, chunk, sizeof chunk);
		evhttp_send_reply(req, 200, "OK", out);
	} else if (strncmp(uri, "/missing", 8) == 0) {
		evbuffer_add_printf(out, "no such thing");
		evhttp_send_reply(req, 404, "Not Found", out);
	} else {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "X-Seen-Length", "yes");
		evbuffer_add_printf(out, "got %zu bytes", evbuffer_get_length(in));
		evhttp_send_reply(req, 200, "OK", out);
	}
	evbuffer_free(out);
}

static struct bufferevent *
ssl_bevcb(struct event_base *base, void *arg)
{
	struct server *s = arg;

	return bufferevent_openssl_socket_new(base, -1, SSL_new(s->ssl),
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
}

static void
server_start(struct server *s, struct event_base *base, const char *cert,
    const char *key)
{
	struct evhttp_bound_socket *bs;
	struct sockaddr_in sin;
	socklen_t sl = sizeof sin;

	memset(s, 0, sizeof *s);
	s->base = base;
	s->http = evhttp_new(base);
	assert_non_null(s->http);
	evhttp_set_gencb(s->http, handler, s);
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	if (cert) {
		s->ssl = SSL_CTX_new(TLS_server_method());
		assert_int_equal(SSL_CTX_use_certificate_chain_file(s->ssl, cert), 1);
		assert_int_equal(SSL_CTX_use_PrivateKey_file(s->ssl, key,
		    SSL_FILETYPE_PEM), 1);
		evhttp_set_bevcb(s->http, ssl_bevcb, s);
	}
	bs = evhttp_bind_socket_with_handle(s->http, "127.0.0.1", 0);
	assert_non_null(bs);
	assert_int_equal(getsockname(evhttp_bound_socket_get_fd(bs),
	    (struct sockaddr *)&sin, &sl), 0);
	s->port = ntohs(sin.sin_port);
}

static void
server_stop(struct server *s)
{
	if (s->held)
		evhttp_send_reply(s->held, 500, "Late", NULL);
	evhttp_free(s->http);
	if (s->ssl)
		SSL_CTX_free(s->ssl);
}

static void
done_cb(const struct http_client_response *resp, void *ctx)
{
	struct result *r = ctx;
	const char *h = http_client_response_header(resp, "x-seen-length");

	r->calls++;
	r->result = resp->result;
	r->status = resp->status;
	snprintf(r->message, sizeof r->message, "%s", resp->message);
	r->body_len = resp->body_len;
	if (resp->body_len < sizeof r->body) {
		if (resp->body_len)
			memcpy(r->body, resp->body, resp->body_len);
		r->body[resp->body_len] = 0;
	}
	snprintf(r->header, sizeof r->header, "%s", h ? h : "");
	event_base_loopexit(r->base, NULL);
}

static struct event_base *g_base;

/* Runs one request to completion (or 10 s of loop time). */
static void
send_and_wait(struct http_client *c, const struct http_client_request *rq,
    struct result *r)
{
	char err[256];
	struct timeval guard = {10, 0};

	memset(r, 0, sizeof *r);
	r->base = g_base;
	assert_non_null(http_client_send(c, rq, done_cb, r, err, sizeof err));
	assert_int_equal(r->calls, 0);   /* never inside send */
	event_base_loopexit(g_base, &guard);
	event_base_dispatch(g_base);
	assert_int_equal(r->calls, 1);
}

static int
setup(void **state)
{
	(void)state;
	g_base = event_base_new();
	return g_base ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	event_base_free(g_base);
	return 0;
}

static void
test_post_from_memory_returns_status_headers_and_body(void **state)
{
	struct server s;
	struct http_client *c;
	struct result r;
	char err[256], url[128];
	struct http_client_header h[] = {{"Content-Type", "application/edi-x12"}};
	struct http_client_request rq = {0};

	(void)state;
	server_start(&s, g_base, NULL, NULL);
	c = http_client_new(g_base, NULL, err, sizeof err);
	assert_non_null(c);
	snprintf(url, sizeof url, "http://127.0.0.1:%u/in", s.port);
	rq.method = "POST";
	rq.url = url;
	rq.headers = h;
	rq.nheaders = 1;
	rq.body = "ISA*00~";
	rq.body_len = 7;
	send_and_wait(c, &rq, &r);
	assert_int_equal(r.result, HTTP_CLIENT_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "got 7 bytes");
	assert_string_equal(r.header, "yes");
	assert_string_equal(s.last_body, "ISA*00~");
	assert_string_equal(s.last_ctype, "application/edi-x12");
	assert_string_equal(s.last_method, "POST");
	assert_int_equal(http_client_pending(c), 0);
	http_client_free(c);
	server_stop(&s);
}

static void
test_post_streams_the_body_from_a_file(void **state)
{
	struct server s;
	struct http_client *c;
	struct result r;
	char err[256], url[128], path[300];
	struct http_client_request rq = {0};
	FILE *f;

	(void)state;
	snprintf(path, sizeof path, "%s/body.txt", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("UNB+UNOA:1+SENDER+RECEIVER'", f);
	fclose(f);
	server_start(&s, g_base, NULL, NULL);
	c = http_client_new(g_base, NULL, err, sizeof err);
	snprintf(url, sizeof url, "http://127.0.0.1:%u/file", s.port);
	rq.method = "POST";
	rq.url = url;
	rq.body_file = path;
	send_and_wait(c, &rq, &r);
	assert_int_equal(r.result, HTTP_CLIENT_OK);
	assert_string_equal(r.body, "got 27 bytes");
	assert_string_equal(s.last_body, "UNB+UNOA:1+SENDER+RECEIVER'");
	http_client_free(c);
	server_stop(&s);
}

static void
test_non_2xx_is_a_status_error_with_the_body(void **state)
{
	struct server s;
	struct http_client *c;
	struct result r;
	char err[256], url[128];
	struct http_client_request rq = {0};

	(void)state;
	server_start(&s, g_base, NULL, NULL);
	c = http_client_new(g_base, NULL, err, sizeof err);
	snprintf(url, sizeof url, "http://127.0.0.1:%u/missing", s.port);
	rq.method = "GET";
	rq.url = url;
	send_and_wait(c, &rq, &r);
	assert_int_equal(r.result, HTTP_CLIENT_ERR_STATUS);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.body, "no such thing");
	assert_non_null(strstr(r.message, "404"));
	http_client_free(c);
	server_stop(&s);
}

static unsigned
closed_port(void)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	port = ntohs(sin.sin_port);
	close(fd);   /* bound, never listened: connects are refused */
	return port;
}

static void
test_refused_connection_is_a_connect_error(void **state)
{
	struct http_client *c;
	struct result r;
	char err[256], url[128];
	struct http_client_request rq = {0};

	(void)state;
	c = http_client_new(g_base, NULL, err, sizeof err);
	snprintf(url, sizeof url, "http://127.0.0.1:%u/", closed_port());
	rq.method = "POST";
	rq.url = url;
	rq.body = "x";
	rq.body_len = 1;
	send_and_wait(c, &rq, &r);
	assert_int_equal(r.result, HTTP_CLIENT_ERR_CONNECT);
	assert_int_equal(r.status, 0);
	http_client_free(c);
}

static void
test_server_that_never_answers_times_out(void **state)
{
	struct server s;
	struct http_client *c;
	struct result r;
	char err[256], url[128];
	struct http_client_request rq = {0};

	(void)state;
	server_start(&s, g_base, NULL, NULL);
	c = http_client_new(g_base, NULL, err, sizeof err);
	snprintf(url, sizeof url, "http://127.0.0.1:%u/hang", s.port);
	rq.method = "GET";
	rq.url = url;
	rq.timeout_ms = 300;
	send_and_wait(c, &rq, &r);
	assert_int_equal(r.result, HTTP_CLIENT_ERR_TIMEOUT);
	assert_int_equal(s.requests, 1);
	http_client_free(c);
	server_stop(&s);
}

static void
test_response_over_the_limit_is_refused(void **state)
{
	struct server s;
	struct http_client *c;
	struct result r;
	char err[256], url[128];
	struct http_client_request rq = {0};

	(void)state;
	server_start(&s, g_base, NULL, NULL);
	c = http_client_new(g_base, NULL, err, sizeof err);
	snprintf(url, sizeof url, "http://127.0.0.1:%u/big", s.port);
	rq.method = "GET";
	rq.url = url;
	rq.max_body_size = 4096;
	send_and_wait(c, &rq, &r);
	assert_int_equal(r.result, HTTP_CLIENT_ERR_TOO_LARGE);
	/* and within a larger limit it arrives whole */
	rq.max_body_size = 128 * 1024;
	send_and_wait(c, &rq, &r);
	assert_int_equal(r.result, HTTP_CLIENT_OK);
	assert_int_equal(r.body_len, 64 * 1024);
	http_client_free(c);
	server_stop(&s);
}

static void
test_bad_arguments_fail_at_once_without_callback(void **state)
{
	struct http_client *c;
	struct result r = {0};
	char err[256];
	struct http_client_header bad[] = {{"X-Evil", "a\r\nInjected: 1"}};
	struct http_client_request rq = {0};

	(void)state;
	c = http_client_new(g_base, NULL, err, sizeof err);
	rq.method = "POST";
	rq.url = "ftp://127.0.0.1/";
	assert_null(http_client_send(c, &rq, done_cb, &r, err, sizeof err));
	rq.url = "not a url";
	assert_null(http_client_send(c, &rq, done_cb, &r, err, sizeof err));
	rq.url = "http://127.0.0.1:1/";
	rq.headers = bad;
	rq.nheaders = 1;
	assert_null(http_client_send(c, &rq, done_cb, &r, err, sizeof err));
	rq.nheaders = 0;
	rq.method = "BREW";
	assert_null(http_client_send(c, &rq, done_cb, &r, err, sizeof err));
	rq.method = "POST";
	rq.body_file = "/nonexistent/edigate-body";
	assert_null(http_client_send(c, &rq, done_cb, &r, err, sizeof err));
	assert_int_equal(r.calls, 0);
	assert_int_equal(http_client_pending(c), 0);
	http_client_free(c);
}

static void
test_cancelled_call_never_calls_back(void **state)
{
	struct server s;
	struct http_client *c;
	struct result r = {0};
	char err[256], url[128];
	struct http_client_request rq = {0};
	struct http_client_call *call;
	struct timeval t = {0, 200000};

	(void)state;
	server_start(&s, g_base, NULL, NULL);
	c = http_client_new(g_base, NULL, err, sizeof err);
	snprintf(url, sizeof url, "http://127.0.0.1:%u/hang", s.port);
	rq.method = "GET";
	rq.url = url;
	call = http_client_send(c, &rq, done_cb, &r, err, sizeof err);
	assert_non_null(call);
	event_base_loopexit(g_base, &t);
	event_base_dispatch(g_base);
	assert_int_equal(s.requests, 1);
	http_client_cancel(call);
	event_base_loopexit(g_base, &t);
	event_base_dispatch(g_base);
	assert_int_equal(r.calls, 0);
	assert_int_equal(http_client_pending(c), 0);
	http_client_free(c);
	server_stop(&s);
}

static void
test_free_completes_open_calls_as_cancelled(void **state)
{
	struct server s;
	struct http_client *c;
	struct result r = {0};
	char err[256], url[128];
	struct http_client_request rq = {0};
	struct timeval t = {0, 200000};

	(void)state;
	server_start(&s, g_base, NULL, NULL);
	c = http_client_new(g_base, NULL, err, sizeof err);
	snprintf(url, sizeof url, "http://127.0.0.1:%u/hang", s.port);
	rq.method = "GET";
	rq.url = url;
	assert_non_null(http_client_send(c, &rq, done_cb, &r, err, sizeof err));
	event_base_loopexit(g_base, &t);
	event_base_dispatch(g_base);
	http_client_free(c);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.result, HTTP_CLIENT_CANCELLED);
	server_stop(&s);
}

/* ---- TLS ---------------------------------------------------------------- */

static int have_pki;

static int
sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* A CA, a server certificate for 127.0.0.1 and localhost, one for
 * another name only, and a client certificate, all signed by the CA. */
static void
make_pki(void)
{
	const char *d = tmpdir;

	if (sh("cd %s && "
	    "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key "
	    "-out ca.pem -days 2 -subj /CN=edigate-test-ca 2>/dev/null && "
	    "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > good.ext && "
	    "printf 'subjectAltName=DNS:other.example\\n' > wrong.ext && "
	    "for n in good wrong client; do "
	    "openssl req -newkey rsa:2048 -nodes -keyout $n.key -out $n.csr "
	    "-subj /CN=$n 2>/dev/null && "
	    "openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key "
	    "-CAcreateserial -days 2 -out $n.pem "
	    "$( [ -f $n.ext ] && echo -extfile $n.ext ) 2>/dev/null || exit 1; "
	    "done", d) == 0)
		have_pki = 1;
}

static void
test_https_with_our_ca_and_matching_ip_is_accepted(void **state)
{
	struct server s;
	struct http_client *c;
	struct result r;
	char err[256], url[128], cert[300], key[300], ca[300];
	struct http_client_tls tls = {0};
	struct http_client_request rq = {0};

	(void)state;
	if (!have_pki)
		skip();
	snprintf(cert, sizeof cert, "%s/good.pem", tmpdir);
	snprintf(key, sizeof key, "%s/good.key", tmpdir);
	snprintf(ca, sizeof ca, "%s/ca.pem", tmpdir);
	server_start(&s, g_base, cert, key);
	tls.ca_file = ca;
	c = http_client_new(g_base, &(struct http_client_options){.tls = &tls},
	    err, sizeof err);
	assert_non_null(c);
	snprintf(url, sizeof url, "https://127.0.0.1:%u/tls", s.port);
	rq.method = "POST";
	rq.url = url;
	rq.body = "hello";
	rq.body_len = 5;
	send_and_wait(c, &rq, &r);
	assert_int_equal(r.result, HTTP_CLIENT_OK);
	assert_string_equal(r.body, "got 5 bytes");
	http_client_free(c);
	server_stop(&s);
}

static void
test_https_with_wrong_host_name_is_refused(void **state)
{
	struct server s;
	struct http_client *c;
	struct result r;
	char err[256], url[128], cert[300], key[300], ca[300];
	struct http_client_tls tls = {0};
	struct http_client_request rq = {0};

	(void)state;
	if (!have_pki)
		skip();
	snprintf(cert, sizeof cert, "%s/wrong.pem", tmpdir);
	snprintf(key, sizeof key, "%s/wrong.key", tmpdir);
	snprintf(ca, sizeof ca, "%s/ca.pem", tmpdir);
	server_start(&s, g_base, cert, key);
	tls.ca_file = ca;
	c = http_client_new(g_base, &(struct http_client_options){.tls = &tls},
	    err, sizeof err);
	snprintf(url, sizeof url, "https://127.0.0.1:%u/tls", s.port);
	rq.method = "POST";
	rq.url = url;
	rq.body = "hello";
	rq.body_len = 5;
	send_and_wait(c, &rq, &r);
	assert_int_equal(r.result, HTTP_CLIENT_ERR_TLS);
	assert_non_null(strstr(r.message, "mismatch"));
	assert_int_equal(s.requests, 0);
	http_client_free(c);
	server_stop(&s);
}

static void
test_https_without_our_ca_is_refused(void **state)
{
	struct server s;
	struct http_client *c;
	struct result r;
	char err[256], url[128], cert[300], key[300];
	struct http_client_request rq = {0};

	(void)state;
	if (!have_pki)
		skip();
	snprintf(cert, sizeof cert, "%s/good.pem", tmpdir);
	snprintf(key, sizeof key, "%s/good.key", tmpdir);
	server_start(&s, g_base, cert, key);
	c = http_client_new(g_base, NULL, err, sizeof err);  /* system store */
	snprintf(url, sizeof url, "https://127.0.0.1:%u/tls", s.port);
	rq.method = "GET";
	rq.url = url;
	send_and_wait(c, &rq, &r);
	assert_int_equal(r.result, HTTP_CLIENT_ERR_TLS);
	assert_int_equal(s.requests, 0);
	http_client_free(c);
	server_stop(&s);
}

static void
test_https_client_certificate_is_presented(void **state)
{
	struct server s;
	struct http_client *c;
	struct result r;
	char err[256], url[128], cert[300], key[300], ca[300];
	char ccert[300], ckey[300];
	struct http_client_tls tls = {0}, with_cert = {0};
	struct http_client_request rq = {0};

	(void)state;
	if (!have_pki)
		skip();
	snprintf(cert, sizeof cert, "%s/good.pem", tmpdir);
	snprintf(key, sizeof key, "%s/good.key", tmpdir);
	snprintf(ca, sizeof ca, "%s/ca.pem", tmpdir);
	snprintf(ccert, sizeof ccert, "%s/client.pem", tmpdir);
	snprintf(ckey, sizeof ckey, "%s/client.key", tmpdir);
	server_start(&s, g_base, cert, key);
	SSL_CTX_set_verify(s.ssl, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_load_verify_locations(s.ssl, ca, NULL);
	tls.ca_file = ca;
	c = http_client_new(g_base, &(struct http_client_options){.tls = &tls},
	    err, sizeof err);
	snprintf(url, sizeof url, "https://127.0.0.1:%u/mtls", s.port);
	rq.method = "GET";
	rq.url = url;
	/* without: the server refuses (TLS 1.3 reports it after the
	 * handshake, on the first read) */
	send_and_wait(c, &rq, &r);
	assert_int_not_equal(r.result, HTTP_CLIENT_OK);
	assert_int_equal(s.requests, 0);
	with_cert.ca_file = ca;
	with_cert.cert_file = ccert;
	with_cert.key_file = ckey;
	rq.tls = &with_cert;
	send_and_wait(c, &rq, &r);
	assert_int_equal(r.result, HTTP_CLIENT_OK);
	assert_int_equal(s.requests, 1);
	http_client_free(c);
	server_stop(&s);
}

static void
test_unusable_tls_files_fail_at_creation(void **state)
{
	char err[256];
	struct http_client_tls tls = {.ca_file = "/nonexistent/ca.pem"};

	(void)state;
	assert_null(http_client_new(g_base,
	    &(struct http_client_options){.tls = &tls}, err, sizeof err));
	assert_non_null(strstr(err, "/nonexistent/ca.pem"));
}

static void
test_result_names_are_stable(void **state)
{
	(void)state;
	assert_string_equal(http_client_result_name(HTTP_CLIENT_OK), "ok");
	assert_string_equal(http_client_result_name(HTTP_CLIENT_ERR_CONNECT),
	    "connect");
	assert_string_equal(http_client_result_name(HTTP_CLIENT_ERR_TLS), "tls");
	assert_string_equal(http_client_result_name(HTTP_CLIENT_ERR_TIMEOUT),
	    "timeout");
	assert_string_equal(http_client_result_name(HTTP_CLIENT_ERR_STATUS),
	    "status");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_post_from_memory_returns_status_headers_and_body),
		cmocka_unit_test(test_post_streams_the_body_from_a_file),
		cmocka_unit_test(test_non_2xx_is_a_status_error_with_the_body),
		cmocka_unit_test(test_refused_connection_is_a_connect_error),
		cmocka_unit_test(test_server_that_never_answers_times_out),
		cmocka_unit_test(test_response_over_the_limit_is_refused),
		cmocka_unit_test(test_bad_arguments_fail_at_once_without_callback),
		cmocka_unit_test(test_cancelled_call_never_calls_back),
		cmocka_unit_test(test_free_completes_open_calls_as_cancelled),
		cmocka_unit_test(test_https_with_our_ca_and_matching_ip_is_accepted),
		cmocka_unit_test(test_https_with_wrong_host_name_is_refused),
		cmocka_unit_test(test_https_without_our_ca_is_refused),
		cmocka_unit_test(test_https_client_certificate_is_presented),
		cmocka_unit_test(test_unusable_tls_files_fail_at_creation),
		cmocka_unit_test(test_result_names_are_stable),
	};
	const char *t = getenv("TMPDIR");
	int rc;

	snprintf(tmpdir, sizeof tmpdir, "%s/edigate-http-XXXXXX",
	    t && t[0] ? t : "/tmp");
	if (!mkdtemp(tmpdir))
		return 1;
	/* as in edigated: a peer closing early is an error, not a signal */
	signal(SIGPIPE, SIG_IGN);
	make_pki();
	rc = cmocka_run_group_tests(tests, setup, teardown);
	sh("rm -rf '%s'", tmpdir);
	return rc;
}
